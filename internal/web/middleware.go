package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/auth"
)

// Middleware wraps a handler.
type Middleware func(http.Handler) http.Handler

// Chain applies middleware so that the first one listed is the outermost.
func Chain(h http.Handler, mw ...Middleware) http.Handler {
	for i := len(mw) - 1; i >= 0; i-- {
		h = mw[i](h)
	}
	return h
}

// HandlerFunc is a handler that reports failure by returning an error. As an
// http.Handler it answers a returned error with WriteError (using the
// request-scoped logger), unless the response was already started, in
// which case the error can only be logged.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// ServeHTTP implements http.Handler.
func (f HandlerFunc) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw, ok := w.(*statusWriter)
	if !ok {
		sw = newStatusWriter(w)
		w = sw
	}
	err := f(w, r)
	if err == nil {
		return
	}
	if !sw.wroteHeader {
		WriteError(w, r, nil, err)
		return
	}
	logger := loggerOr(r, nil)
	level := slog.LevelError
	if isClientGone(r, err) {
		level = slog.LevelDebug
	}
	logger.LogAttrs(r.Context(), level, "request failed after the response started",
		requestAttrs(r, slog.Int("status", sw.status), slog.String("error", err.Error()))...)
}

// statusWriter records the status and size of a response. It passes
// Flush through and unwraps for http.ResponseController.
type statusWriter struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
}

func newStatusWriter(w http.ResponseWriter) *statusWriter {
	return &statusWriter{ResponseWriter: w, status: http.StatusOK}
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader && code >= 200 {
		w.status = code
		w.wroteHeader = true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.wroteHeader = true
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Flush() {
	if !w.wroteHeader {
		w.wroteHeader = true
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// routeState is filled in while a request travels down the chain, so that
// outer middleware learns what inner layers found.
type routeState struct {
	pattern   string // the ServeMux pattern that matched, "" for none
	principal string // the principal Auth found, "" for none
}

func routeStateFrom(ctx context.Context) *routeState {
	s, _ := ctx.Value(routeKey).(*routeState)
	return s
}

// Route returns the pattern of the route serving the request ("GET
// /mkt/snapshots/{id}"), as recorded by a Mux, or "" when none matched.
func Route(r *http.Request) string {
	if r.Pattern != "" {
		return r.Pattern
	}
	if s := routeStateFrom(r.Context()); s != nil {
		return s.pattern
	}
	return ""
}

// recordRoute stores the matched pattern for the outer middleware.
func recordRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s := routeStateFrom(r.Context()); s != nil {
			s.pattern = r.Pattern
		}
		next.ServeHTTP(w, r)
	})
}

// Metrics receives one observation per finished request. route is the
// matched pattern ("GET /mkt/snapshots/{id}") or "" when no route matched.
type Metrics interface {
	ObserveRequest(method, route string, status int, elapsed time.Duration)
	// Handler serves the metrics in the Prometheus exposition format.
	Handler() http.Handler
}

// Observe is middleware that logs one access line per request and reports
// it to metrics (which may be nil). The line, at info level (debug for the
// health and metrics paths in quiet), has method, path, route, status,
// bytes, duration_ms, request_id and principal (the name Auth found; ""
// when the request was refused before, or needs none).
func Observe(logger *slog.Logger, metrics Metrics, quiet ...string) Middleware {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	quietSet := map[string]bool{}
	for _, p := range quiet {
		quietSet[p] = true
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			state := routeStateFrom(r.Context())
			if state == nil {
				state = &routeState{}
				r = r.WithContext(context.WithValue(r.Context(), routeKey, state))
			}
			sw := newStatusWriter(w)
			defer func() {
				elapsed := time.Since(start)
				if metrics != nil {
					metrics.ObserveRequest(r.Method, state.pattern, sw.status, elapsed)
				}
				level := slog.LevelInfo
				if quietSet[r.URL.Path] && sw.status < 400 {
					level = slog.LevelDebug
				}
				attrs := []slog.Attr{
					slog.String("method", r.Method),
					slog.String("path", r.URL.Path),
					slog.String("route", state.pattern),
					slog.Int("status", sw.status),
					slog.Int64("bytes", sw.bytes),
					slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
					slog.String("request_id", RequestID(r.Context())),
					slog.String("principal", state.principal),
				}
				logger.LogAttrs(r.Context(), level, "http request", attrs...)
			}()
			next.ServeHTTP(sw, r)
		})
	}
}

// Recover is middleware that turns a panic into a 500 problem. The panic
// value and stack go to the log only. http.ErrAbortHandler is re-raised so
// that net/http aborts the response as intended.
func Recover(logger *slog.Logger) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sw, ok := w.(*statusWriter)
			if !ok {
				sw = newStatusWriter(w)
				w = sw
			}
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				if v == http.ErrAbortHandler {
					panic(v)
				}
				l := loggerOr(r, logger)
				l.LogAttrs(r.Context(), slog.LevelError, "panic serving request",
					requestAttrs(r, slog.String("panic", fmt.Sprint(v)), slog.String("stack", string(debug.Stack())))...)
				if sw.wroteHeader {
					// Too late for a problem: cut the response short so the
					// client cannot mistake it for a complete one.
					panic(http.ErrAbortHandler)
				}
				WriteProblem(w, newProblem(r, problemKinds[apperr.Internal], internalDetail, nil))
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// Auth is middleware requiring "Authorization: Bearer <token>" with the
// token of one of principals on every request except those for HealthPath
// and the paths in exempt (a service's <prefix>/health, public pages); an
// exempt entry ending in "/*" ("/ui/*") covers every path under it. A
// missing or wrong token is a 401 problem with "WWW-Authenticate: Bearer".
// The token is looked up in an auth.Keyring (constant time, every token
// compared); the principal found is put in the request context
// (auth.FromContext) and reported to Observe for the access log. With no
// principals authentication is off: every request is auth.Anonymous(),
// with every role. Whether the principal may use the route is checked by
// the route itself (see Mux.Handle and RequireRole), once the mux has
// matched it.
func Auth(principals []auth.Principal, exempt ...string) Middleware {
	keys := auth.NewKeyring(principals)
	exemptSet := map[string]bool{HealthPath: true}
	var exemptTrees []string
	for _, p := range exempt {
		if tree, ok := strings.CutSuffix(p, "*"); ok && strings.HasSuffix(tree, "/") {
			exemptTrees = append(exemptTrees, tree)
			continue
		}
		exemptSet[p] = true
	}
	isExempt := func(path string) bool {
		if exemptSet[path] {
			return true
		}
		for _, tree := range exemptTrees {
			if strings.HasPrefix(path, tree) {
				return true
			}
		}
		return false
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if isExempt(r.URL.Path) {
				next.ServeHTTP(w, r)
				return
			}
			p := auth.Anonymous()
			if keys.Len() > 0 {
				token, ok := bearerToken(r)
				if !ok {
					w.Header().Set("WWW-Authenticate", `Bearer realm="iprs"`)
					WriteError(w, r, nil, apperr.Errorf(apperr.Unauthorized, "this route requires an Authorization: Bearer token"))
					return
				}
				if p, ok = keys.Lookup(token); !ok {
					w.Header().Set("WWW-Authenticate", `Bearer realm="iprs", error="invalid_token"`)
					WriteError(w, r, nil, apperr.Errorf(apperr.Unauthorized, "the bearer token is not valid"))
					return
				}
			}
			if s := routeStateFrom(r.Context()); s != nil {
				s.principal = p.Name()
			}
			next.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
		})
	}
}

// RequireRole is middleware refusing, with a 403 problem naming the role
// needed, a request whose principal (put in the context by Auth) lacks
// role. A request that passed no Auth is refused with a 401.
func RequireRole(role auth.Role) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, ok := auth.FromContext(r.Context())
			switch {
			case !ok:
				WriteError(w, r, nil, apperr.Errorf(apperr.Unauthorized, "this route requires an Authorization: Bearer token"))
			case !p.Has(role):
				WriteError(w, r, nil, apperr.Errorf(apperr.Forbidden,
					"%s %s needs the role %q; principal %q has the roles %s", r.Method, Route(r), role, p.Name(), roleNames(p)))
			default:
				next.ServeHTTP(w, r)
			}
		})
	}
}

func roleNames(p auth.Principal) string {
	if l := p.RoleList(); l != "" {
		return l
	}
	return "(none)"
}

// bearerToken extracts the token of an "Authorization: Bearer" header; the
// scheme is case-insensitive (RFC 9110 section 11.1).
func bearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// LimitBody is middleware bounding the request body to maxBytes. A body
// announced larger (Content-Length) is refused at once with 413; one that
// turns out larger while being read makes the read fail with
// *http.MaxBytesError, which DecodeJSON and BodyReadError turn into
// apperr.TooLarge (413). maxBytes <= 0 means no bound.
func LimitBody(maxBytes int64) Middleware {
	return func(next http.Handler) http.Handler {
		if maxBytes <= 0 {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > maxBytes {
				WriteError(w, r, nil, &apperr.Error{
					Code:    apperr.TooLarge,
					Message: fmt.Sprintf("the request body exceeds the limit of %d bytes for this route", maxBytes),
				})
				return
			}
			if r.Body != nil && r.Body != http.NoBody {
				r.Body = http.MaxBytesReader(w, r.Body, maxBytes)
			}
			next.ServeHTTP(w, r)
		})
	}
}

// IsTooLarge reports whether err comes from exceeding a LimitBody bound.
func IsTooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe) || apperr.CodeOf(err) == apperr.TooLarge
}
