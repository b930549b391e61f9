package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/web"
)

// rawServer serves a Mux through Serve (and so ProblemListener), with a
// small header bound.
func rawServer(t *testing.T) string {
	t.Helper()
	logger, _ := newLogger()
	m := web.NewMux(web.Config{Service: "marketdata", Prefix: "/mkt", Logger: logger})
	m.HandleFunc("GET /mkt/text", func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusBadRequest) // a handler's own text answer
		_, _ = io.WriteString(w, "400 Bad Request")
		return nil
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := web.NewServer("", m.Handler(), logger)
	srv.MaxHeaderBytes = 1024
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- web.Serve(ctx, srv, ln, time.Second) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}

// raw sends request as it is and reads the answer.
func raw(t *testing.T, addr, request string) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read answer to %q: %v", request[:min(len(request), 60)], err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

func TestNetHTTPOwnAnswersAreProblems(t *testing.T) {
	t.Parallel()
	addr := rawServer(t)
	for _, c := range []struct {
		name, request string
		status        int
		slug, detail  string
	}{
		{"header too large", "GET /mkt/health HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 8000) + "\r\n\r\n",
			431, "header-too-large", "Request header too large"},
		{"malformed request line", "NONSENSE\r\n\r\n", 400, "bad-request", "Bad request"},
		{"missing Host", "GET /mkt/health HTTP/1.1\r\n\r\n", 400, "bad-request", "missing required Host header"},
		{"two Hosts", "GET /mkt/health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "bad-request", "Bad request"},
		{"bad Content-Length", "POST /mkt/health HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", 400, "bad-request", "Bad request"},
		{"unknown transfer encoding", "POST /mkt/health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "not-implemented", "Unsupported transfer encoding"},
		{"HTTP/2.0 on HTTP/1", "GET /mkt/health HTTP/2.0\r\nHost: x\r\n\r\n", 505, "http-version-not-supported", "unsupported protocol version"},
		{"unknown expectation", "GET /mkt/health HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\n\r\n", 417, "expectation-failed", "100-continue"},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, body := raw(t, addr, c.request)
			if res.StatusCode != c.status || res.Header.Get("Content-Type") != web.ProblemContentType {
				t.Fatalf("%d %q: %s", res.StatusCode, res.Header.Get("Content-Type"), body)
			}
			var p web.Problem
			if err := json.Unmarshal(body, &p); err != nil {
				t.Fatalf("body %q: %v", body, err)
			}
			if p.Status != c.status || p.Type != web.ProblemTypeBase+c.slug || p.Title == "" || !strings.Contains(p.Detail, c.detail) {
				t.Fatalf("problem %+v", p)
			}
		})
	}
	// Answers of the handlers pass as they are, a text one included.
	res, body := raw(t, addr, "GET /mkt/text HTTP/1.1\r\nHost: x\r\n\r\n")
	if res.StatusCode != 400 || string(body) != "400 Bad Request" || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("handler text answer: %d %q %s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	res, body = raw(t, addr, "GET /mkt/health HTTP/1.1\r\nHost: x\r\n\r\n")
	if res.StatusCode != 200 || !strings.Contains(string(body), `"status":"ok"`) {
		t.Fatalf("health: %d %s", res.StatusCode, body)
	}
	// The mux's own 404 and 405 were problems already.
	res, _ = raw(t, addr, "GET /mkt/nothing HTTP/1.1\r\nHost: x\r\n\r\n")
	if res.StatusCode != 404 || res.Header.Get("Content-Type") != web.ProblemContentType {
		t.Fatalf("404: %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
}
