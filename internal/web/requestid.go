package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
)

// RequestIDHeader carries the request id in both directions.
const RequestIDHeader = "X-Request-ID"

// maxRequestIDLen bounds a client-supplied request id.
const maxRequestIDLen = 128

type ctxKey int

const (
	requestIDKey ctxKey = iota
	loggerKey
	routeKey
)

// RequestID returns the id of the request ctx belongs to, or "" outside of
// the RequestIDs middleware.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// WithRequestID returns ctx carrying id; RequestID(ctx) returns it. Use it to
// carry a request's id into work it starts.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

// Logger returns the request-scoped logger: the server's logger, as given
// to RequestIDs, with the request_id attribute. Outside of the middleware it
// returns a logger that discards, so it is always safe to call.
func Logger(ctx context.Context) *slog.Logger {
	l := loggerFrom(ctx)
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	if id := RequestID(ctx); id != "" {
		return l.With(slog.String("request_id", id))
	}
	return l
}

// loggerFrom returns the server's logger stored in ctx, without the
// request_id attribute (internal log calls add it with requestAttrs).

func loggerFrom(ctx context.Context) *slog.Logger {
	l, _ := ctx.Value(loggerKey).(*slog.Logger)
	return l
}

// NewRequestID returns a random 128-bit id as 32 hex digits.
func NewRequestID() string {
	var b [16]byte
	// crypto/rand.Read never returns an error (it panics if the kernel's
	// source fails, which nothing here could recover from).
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// saneRequestID reports whether a client-supplied id may be reused: 1 to
// 128 characters of letters, digits and "-_.:/+=", so that it can go into
// logs and headers without escaping.
func saneRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-' || c == '_' || c == '.' || c == ':' || c == '/' || c == '+' || c == '=':
		default:
			return false
		}
	}
	return true
}

// RequestIDs is middleware giving every request an id: the client's
// X-Request-ID when it is sane, a fresh random one otherwise. The id is set
// on the response header, stored in the context (RequestID) and added as
// request_id to the request-scoped logger (Logger) derived from logger. A
// nil logger discards.
func RequestIDs(logger *slog.Logger) func(http.Handler) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := r.Header.Get(RequestIDHeader)
			if !saneRequestID(id) {
				id = NewRequestID()
			}
			w.Header().Set(RequestIDHeader, id)
			ctx := WithRequestID(r.Context(), id)
			ctx = context.WithValue(ctx, loggerKey, logger)
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}
