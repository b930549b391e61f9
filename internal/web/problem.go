package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/iprs/iprs/internal/apperr"
)

// ProblemContentType is the media type of every error body (RFC 9457).
const ProblemContentType = "application/problem+json"

// ProblemTypeBase prefixes every problem type URI. The URIs are stable
// identifiers a client may switch on; they are not meant to be fetched.
const ProblemTypeBase = "https://iprs.dev/problems/"

// StatusClientClosedRequest is the status recorded (in the access log and
// metrics) when the client went away before the answer was ready. Nothing
// reaches the client, which is gone.
const StatusClientClosedRequest = 499

// problemKind is one row of the table from error codes to HTTP answers.
type problemKind struct {
	status int
	slug   string
	title  string
}

// problemKinds is the one table mapping apperr codes to HTTP statuses.
// Every code not listed here is answered as apperr.Internal.
var problemKinds = map[apperr.Code]problemKind{
	apperr.Invalid:       {http.StatusBadRequest, "invalid", "Invalid request"},
	apperr.Unauthorized:  {http.StatusUnauthorized, "unauthorized", "Unauthorized"},
	apperr.Forbidden:     {http.StatusForbidden, "forbidden", "Forbidden"},
	apperr.NotFound:      {http.StatusNotFound, "not-found", "Not found"},
	apperr.Conflict:      {http.StatusConflict, "conflict", "Conflict"},
	apperr.Timeout:       {http.StatusRequestTimeout, "request-timeout", "Request timeout"},
	apperr.TooLarge:      {http.StatusRequestEntityTooLarge, "too-large", "Request body too large"},
	apperr.Unprocessable: {http.StatusUnprocessableEntity, "unprocessable", "Unprocessable request"},
	apperr.Unavailable:   {http.StatusServiceUnavailable, "unavailable", "Service unavailable"},
	apperr.Internal:      {http.StatusInternalServerError, "internal", "Internal server error"},
}

// methodNotAllowed is the row for a route that exists under another method;
// it has no apperr code because no layer below HTTP can produce it.
var methodNotAllowed = problemKind{http.StatusMethodNotAllowed, "method-not-allowed", "Method not allowed"}

// RetryAfterSeconds is the Retry-After of every 503 answer (and of the
// health check's): a client may try again after this many seconds. The
// pools reconnect by themselves, so a short wait is enough to notice the
// database is back.
const RetryAfterSeconds = "5"

// internalDetail is the only detail a client sees for a 500.
const internalDetail = "The server failed to handle the request. Quote the request_id when reporting it."

func kindOf(code apperr.Code) problemKind {
	if k, ok := problemKinds[code]; ok {
		return k
	}
	return problemKinds[apperr.Internal]
}

// StatusOf returns the HTTP status for an error: its apperr code looked up
// in the one table, 500 for anything else.
func StatusOf(err error) int {
	return kindOf(apperr.CodeOf(err)).status
}

// ProblemType returns the type URI of the problems answered for code.
func ProblemType(code apperr.Code) string {
	return ProblemTypeBase + kindOf(code).slug
}

// Problem is the RFC 9457 body of every 4xx and 5xx answer.
type Problem struct {
	Type      string              `json:"type"`
	Title     string              `json:"title"`
	Status    int                 `json:"status"`
	Detail    string              `json:"detail"`
	Errors    []apperr.FieldError `json:"errors,omitempty"`
	Instance  string              `json:"instance,omitempty"`
	RequestID string              `json:"request_id,omitempty"`
}

func newProblem(r *http.Request, k problemKind, detail string, fields []apperr.FieldError) Problem {
	p := Problem{
		Type:   ProblemTypeBase + k.slug,
		Title:  k.title,
		Status: k.status,
		Detail: detail,
		Errors: fields,
	}
	if r != nil {
		if r.URL != nil {
			p.Instance = r.URL.Path
		}
		p.RequestID = RequestID(r.Context())
	}
	return p
}

// ProblemFor builds the problem answered for err. Only an *apperr.Error of
// a client-visible code contributes its message and field problems; an
// internal error yields a generic detail so that nothing of the cause leaks.
func ProblemFor(r *http.Request, err error) Problem {
	e, ok := apperr.As(err)
	if !ok || kindOf(e.Code).status == http.StatusInternalServerError {
		return newProblem(r, problemKinds[apperr.Internal], internalDetail, nil)
	}
	detail := e.Message
	if detail == "" {
		detail = kindOf(e.Code).title
	}
	return newProblem(r, kindOf(e.Code), detail, e.Fields)
}

// WriteError answers err as an RFC 9457 problem. Client errors are answered
// with their message and field problems. An internal error (anything that is
// not an *apperr.Error of a client code) is logged at error level with the
// request's method, path and id, and answered with a short generic detail. A
// request whose client went away (its context was cancelled) is logged at
// debug level and gets no body. logger may be nil, in which case the
// server's logger from the request context is used; the request_id is added
// to every line, so pass the service's logger, not Logger(ctx).
func WriteError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	if err == nil {
		err = errors.New("web.WriteError called with a nil error")
	}
	logger = loggerOr(r, logger)
	if isClientGone(r, err) {
		logger.LogAttrs(ctxOf(r), slog.LevelDebug, "client closed request",
			requestAttrs(r, slog.String("error", err.Error()))...)
		w.WriteHeader(StatusClientClosedRequest)
		return
	}
	p := ProblemFor(r, err)
	switch {
	case p.Status == http.StatusServiceUnavailable:
		// A dependency is down. The layer that found it so logs the outage
		// once (store.Watch), not once per request; each refused request
		// has its access line.
		logger.LogAttrs(ctxOf(r), slog.LevelDebug, "request refused: service unavailable",
			requestAttrs(r, slog.Int("status", p.Status), slog.String("error", err.Error()))...)
	case p.Status >= 500:
		logger.LogAttrs(ctxOf(r), slog.LevelError, "request failed",
			requestAttrs(r, slog.Int("status", p.Status), slog.String("error", err.Error()))...)
	default:
		logger.LogAttrs(ctxOf(r), slog.LevelDebug, "request refused",
			requestAttrs(r, slog.Int("status", p.Status), slog.String("error", err.Error()))...)
	}
	if p.Status == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", RetryAfterSeconds)
	}
	if p.Status == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="iprs"`)
	}
	WriteProblem(w, p)
}

// WriteProblem writes p as application/problem+json with status p.Status.
func WriteProblem(w http.ResponseWriter, p Problem) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		// A Problem holds only strings and ints: this cannot fail, but if it
		// ever did the client still gets the status and a valid body.
		buf.Reset()
		fmt.Fprintf(&buf, "{\"type\":%q,\"title\":%q,\"status\":%d,\"detail\":%q}\n", p.Type, p.Title, p.Status, p.Title)
	}
	h := w.Header()
	h.Set("Content-Type", ProblemContentType)
	h.Set("X-Content-Type-Options", "nosniff")
	// Drop what a handler may have set for the answer it meant to give.
	h.Del("Content-Length")
	h.Del("Content-Disposition")
	h.Del("Content-Encoding")
	h.Del("ETag")
	h.Del("Last-Modified")
	w.WriteHeader(p.Status)
	_, _ = w.Write(buf.Bytes())
}

// isClientGone reports whether err is the cancellation of a request whose
// client disconnected, as opposed to a server-side timeout or failure.
func isClientGone(r *http.Request, err error) bool {
	if r == nil || !errors.Is(err, context.Canceled) {
		return false
	}
	return errors.Is(r.Context().Err(), context.Canceled)
}

func ctxOf(r *http.Request) context.Context {
	if r == nil {
		return context.Background()
	}
	return r.Context()
}

// requestAttrs returns the attributes that identify a request in the log,
// followed by extra.
func requestAttrs(r *http.Request, extra ...slog.Attr) []slog.Attr {
	attrs := make([]slog.Attr, 0, 3+len(extra))
	if r != nil {
		attrs = append(attrs, slog.String("method", r.Method))
		if r.URL != nil {
			attrs = append(attrs, slog.String("path", r.URL.Path))
		}
		if id := RequestID(r.Context()); id != "" {
			attrs = append(attrs, slog.String("request_id", id))
		}
	}
	return append(attrs, extra...)
}

func loggerOr(r *http.Request, logger *slog.Logger) *slog.Logger {
	if logger != nil {
		return logger
	}
	if r != nil {
		if l := loggerFrom(r.Context()); l != nil {
			return l
		}
	}
	return slog.New(slog.DiscardHandler)
}
