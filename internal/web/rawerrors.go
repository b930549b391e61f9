package web

import (
	"bytes"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// ProblemListener wraps ln so that the answers net/http gives by itself,
// before any handler runs, are RFC 9457 problems like every other error
// instead of plain text. Serve wraps its listener with it.
//
// net/http answers these without a handler: a request header over
// MaxHeaderBytes (431), a malformed request line or header, a missing or
// repeated Host, a bad Content-Length (400), a Transfer-Encoding it does
// not implement (501), an HTTP version it does not serve (505), and an
// Expect header other than 100-continue (417). It writes them straight to
// the connection (431, 400, 501, 505, as a status line, the header block
// "Content-Type: text/plain; charset=utf-8" and "Connection: close", and a
// text body; 417 with an empty body), so no handler, middleware or
// http.Server option can change them. The connection is the one place
// left: a write of exactly that shape is replaced by the same status with
// an application/problem+json body (type ProblemTypeBase + bad-request,
// header-too-large, not-implemented, http-version-not-supported or
// expectation-failed; detail net/http's own text, which holds no request
// data). Handler answers never have that shape (they carry Date and
// X-Request-ID headers), so they pass untouched.
//
// What stays as net/http writes it: nothing is answered to a client whose
// header does not arrive within ReadHeaderTimeout or that hangs up (the
// connection is closed), and a plain HTTP request to a TLS listener would
// get net/http's text 400 (IPRS listens without TLS: the load balancer
// terminates it).
func ProblemListener(ln net.Listener) net.Listener { return problemListener{ln} }

type problemListener struct{ net.Listener }

func (l problemListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &problemConn{Conn: c}, nil
}

// problemConn rewrites net/http's own plain-text error answers.
type problemConn struct{ net.Conn }

// plainErrorHeaders is the header block net/http writes with its own
// error answers (server.go, conn.serve).
const plainErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

func (c *problemConn) Write(p []byte) (int, error) {
	if out, ok := rewritePlainError(p); ok {
		if _, err := c.Conn.Write(out); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// CloseWrite half-closes the connection as net/http does after a 431.
func (c *problemConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// rawKinds are the problems of the answers net/http gives by itself.
var rawKinds = map[int]problemKind{
	http.StatusBadRequest:                  {http.StatusBadRequest, "bad-request", "Bad request"},
	http.StatusRequestHeaderFieldsTooLarge: {http.StatusRequestHeaderFieldsTooLarge, "header-too-large", "Request header too large"},
	http.StatusNotImplemented:              {http.StatusNotImplemented, "not-implemented", "Not implemented"},
	http.StatusHTTPVersionNotSupported:     {http.StatusHTTPVersionNotSupported, "http-version-not-supported", "HTTP version not supported"},
	http.StatusExpectationFailed:           {http.StatusExpectationFailed, "expectation-failed", "Expectation failed"},
}

// rewritePlainError returns the problem answer for p when p is one of
// net/http's own error answers, whole.
func rewritePlainError(p []byte) ([]byte, bool) {
	const prefix = "HTTP/1.1 "
	if len(p) < len(prefix)+4 || string(p[:len(prefix)]) != prefix || p[len(prefix)] != '4' && p[len(prefix)] != '5' {
		return nil, false
	}
	code, err := strconv.Atoi(string(p[len(prefix) : len(prefix)+3]))
	if err != nil {
		return nil, false
	}
	k, ok := rawKinds[code]
	if !ok {
		return nil, false
	}
	var detail string
	if code == http.StatusExpectationFailed {
		// Written through net/http's response writer: a status line and
		// its own headers, with no body.
		if !bytes.HasPrefix(p, []byte("HTTP/1.1 417 Expectation Failed\r\n")) || !bytes.HasSuffix(p, []byte("\r\nContent-Length: 0\r\n\r\n")) ||
			bytes.Contains(p, []byte("\r\nX-Request-Id:")) {
			return nil, false
		}
		detail = "only the expectation 100-continue is supported (the Expect header)"
	} else {
		i := bytes.Index(p, []byte(plainErrorHeaders))
		if i < 0 || bytes.Contains(p[:i], []byte("\r\n")) {
			return nil, false // not right after the status line
		}
		body := string(p[i+len(plainErrorHeaders):])
		// The body is "431 Request Header Fields Too Large", "400 Bad
		// Request: missing required Host header", "Unsupported transfer
		// encoding"…: keep what follows the status text.
		detail = body
		if rest, ok := strings.CutPrefix(body, strconv.Itoa(code)+" "+http.StatusText(code)); ok {
			detail = strings.TrimPrefix(rest, ": ")
		}
		if detail == "" {
			detail = k.title
		}
	}
	pb, err := MarshalJSON(Problem{Type: ProblemTypeBase + k.slug, Title: k.title, Status: code, Detail: detail})
	if err != nil {
		return nil, false
	}
	var b bytes.Buffer
	b.WriteString(prefix + strconv.Itoa(code) + " " + http.StatusText(code) + "\r\n")
	b.WriteString("Content-Type: " + ProblemContentType + "\r\n")
	b.WriteString("X-Content-Type-Options: nosniff\r\n")
	b.WriteString("Connection: close\r\n")
	b.WriteString("Content-Length: " + strconv.Itoa(len(pb)) + "\r\n\r\n")
	b.Write(pb)
	return b.Bytes(), true
}
