package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/auth"
)

// DefaultMaxBodyBytes bounds request bodies when Config.MaxBodyBytes is 0.
const DefaultMaxBodyBytes = 16 << 20

// Standard paths every service answers (see internal/service).
const (
	HealthPath  = "/health"
	MetricsPath = "/metrics"
)

// Config describes the service a Mux serves.
type Config struct {
	// Service is the service name ("marketdata"); it labels health answers.
	Service string
	// Version is the build version reported by health.
	Version string
	// Prefix is the path prefix of every route ("/mkt"); "" allows any path.
	Prefix string
	// Logger receives access lines, failures and panics. nil discards.
	Logger *slog.Logger
	// Principals, when not empty, are the callers and their bearer tokens:
	// every route but health then requires a token, and a route outside
	// the caller's roles is a 403. Empty: authentication is off.
	Principals []auth.Principal
	// MaxBodyBytes bounds every request body unless a route says otherwise
	// with MaxBody. 0 means DefaultMaxBodyBytes; negative means no bound.
	MaxBodyBytes int64
	// Ping checks the service's dependencies for health; nil checks nothing.
	Ping func(context.Context) error
	// Metrics, when not nil, observes every request and is served at
	// /metrics and <Prefix>/metrics.
	Metrics Metrics
}

// Mux collects a service's routes and builds its handler. Register routes
// with Handle or HandleFunc using Go 1.22 method patterns under the prefix
// ("GET /mkt/snapshots/{id}"), then call Handler once.
type Mux struct {
	cfg     Config
	mux     *http.ServeMux
	exempt  []string
	maxBody int64
	routes  []RouteInfo
}

// RouteInfo describes one registered route.
type RouteInfo struct {
	// Pattern is the ServeMux pattern ("POST /orch/runs/{id}/publish").
	Pattern string
	// Role is the role a caller needs; "" only for a Public route.
	Role auth.Role
	// Public routes (health, pages, the API description) need no token
	// at all.
	Public bool
}

// RouteOption adjusts one route.
type RouteOption func(*routeOptions)

type routeOptions struct {
	maxBody  int64
	set      bool
	role     auth.Role
	bodyIdle time.Duration
}

// MaxBody sets the body bound of a route (position uploads take a larger
// one than the default); n <= 0 removes the bound.
func MaxBody(n int64) RouteOption {
	return func(o *routeOptions) { o.maxBody, o.set = n, true }
}

// Role sets the role a route needs instead of the default of its method
// (DefaultRole): m.HandleFunc("POST /orch/runs/{id}/publish", h,
// web.Role(auth.Publish)).
func Role(r auth.Role) RouteOption {
	return func(o *routeOptions) { o.role = r }
}

// DefaultRole is the role a route needs unless it says otherwise with
// Role: read for GET and HEAD, write for every other method.
func DefaultRole(method string) auth.Role {
	if method == http.MethodGet || method == http.MethodHead {
		return auth.Read
	}
	return auth.Write
}

// StreamedBody lets a route's body take as long as it keeps arriving: the
// server's ReadTimeout, which bounds the whole of every other request, is
// replaced by a deadline that moves with each read, so that the body fails
// (apperr.Timeout, 408) only once nothing arrived for about idle (a position
// upload of a million loans streams for minutes; a stalled one is cut off).
// idle <= 0 means DefaultBodyIdleTimeout.
func StreamedBody(idle time.Duration) RouteOption {
	if idle <= 0 {
		idle = DefaultBodyIdleTimeout
	}
	return func(o *routeOptions) { o.bodyIdle = idle }
}

// NewMux returns a Mux with the health routes (GET /health and GET
// <Prefix>/health) and, with Config.Metrics, the metrics routes (GET
// /metrics and GET <Prefix>/metrics) already registered.
func NewMux(cfg Config) *Mux {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Prefix = strings.TrimSuffix(cfg.Prefix, "/")
	m := &Mux{cfg: cfg, mux: http.NewServeMux(), maxBody: cfg.MaxBodyBytes}
	if m.maxBody == 0 {
		m.maxBody = DefaultMaxBodyBytes
	}
	health := HealthHandler(cfg.Service, cfg.Version, cfg.Ping)
	m.registerPublic("GET "+HealthPath, health)
	m.exempt = append(m.exempt, HealthPath)
	if cfg.Prefix != "" {
		m.registerPublic("GET "+cfg.Prefix+HealthPath, health)
		m.exempt = append(m.exempt, cfg.Prefix+HealthPath)
	}
	if cfg.Metrics != nil {
		mh := cfg.Metrics.Handler()
		m.register("GET "+MetricsPath, mh, nil)
		if cfg.Prefix != "" {
			m.register("GET "+cfg.Prefix+MetricsPath, mh, nil)
		}
	}
	return m
}

// Handle registers h for pattern, which must name a method and a path under
// the prefix. The route needs the role of its method (DefaultRole) unless a
// Role option says otherwise: a caller without it gets a 403 before h
// runs (and before its body is read). It panics on a pattern that is
// malformed, outside the prefix or in conflict with another, as
// http.ServeMux does: these are programming errors.
func (m *Mux) Handle(pattern string, h http.Handler, opts ...RouteOption) {
	method, path, ok := strings.Cut(strings.TrimSpace(pattern), " ")
	if !ok || method == "" || !strings.HasPrefix(strings.TrimSpace(path), "/") {
		panic(fmt.Sprintf("web: pattern %q must be \"METHOD /path\"", pattern))
	}
	path = strings.TrimSpace(path)
	if p := m.cfg.Prefix; p != "" && path != p && !strings.HasPrefix(path, p+"/") {
		panic(fmt.Sprintf("web: pattern %q is outside the service prefix %q", pattern, p))
	}
	m.register(pattern, h, opts)
}

// HandleFunc registers an error-returning handler; see HandlerFunc.
func (m *Mux) HandleFunc(pattern string, h HandlerFunc, opts ...RouteOption) {
	m.Handle(pattern, h, opts...)
}

// Public registers a route that serves no data of its own (a static page,
// an API description, a redirect): it needs no bearer token and may lie
// outside the prefix. A pattern whose path ends in "/" covers its subtree,
// as with http.ServeMux, and so does its exemption from Auth (with the
// path without its slash, which the mux redirects into the tree). It panics on
// a malformed pattern, as Handle does.
func (m *Mux) Public(pattern string, h http.Handler) {
	method, path, ok := strings.Cut(strings.TrimSpace(pattern), " ")
	path = strings.TrimSpace(path)
	if !ok || method == "" || !strings.HasPrefix(path, "/") {
		panic(fmt.Sprintf("web: pattern %q must be \"METHOD /path\"", pattern))
	}
	m.registerPublic(pattern, h)
	switch {
	case strings.HasSuffix(path, "/{$}"):
		m.exempt = append(m.exempt, strings.TrimSuffix(path, "{$}"))
	case strings.HasSuffix(path, "/"):
		// The path without its slash too: the mux redirects it into the tree.
		m.exempt = append(m.exempt, path+"*", strings.TrimSuffix(path, "/"))
	default:
		m.exempt = append(m.exempt, path)
	}
}

func (m *Mux) register(pattern string, h http.Handler, opts []RouteOption) {
	method, _, _ := strings.Cut(strings.TrimSpace(pattern), " ")
	o := routeOptions{maxBody: m.maxBody, role: DefaultRole(method)}
	for _, opt := range opts {
		opt(&o)
	}
	if o.role == "" {
		panic(fmt.Sprintf("web: route %q has an empty role", pattern))
	}
	if o.bodyIdle > 0 {
		h = streamBody(o.bodyIdle)(h)
	}
	m.mux.Handle(pattern, recordRoute(RequireRole(o.role)(LimitBody(o.maxBody)(h))))
	m.routes = append(m.routes, RouteInfo{Pattern: strings.TrimSpace(pattern), Role: o.role})
}

// registerPublic registers a route that needs no token (health).
func (m *Mux) registerPublic(pattern string, h http.Handler) {
	m.mux.Handle(pattern, recordRoute(LimitBody(m.maxBody)(h)))
	m.routes = append(m.routes, RouteInfo{Pattern: strings.TrimSpace(pattern), Public: true})
}

// Routes lists the registered routes in registration order.
func (m *Mux) Routes() []RouteInfo { return slices.Clone(m.routes) }

// Handler returns the service's handler: request ids, access log and
// metrics, panic recovery, bearer auth (health exempt), then the routes,
// each checking its role,
// with unknown paths answered 404 and known paths under another method
// answered 405 (with Allow), both as problems.
func (m *Mux) Handler() http.Handler {
	quiet := append([]string{MetricsPath}, m.exempt...)
	if m.cfg.Prefix != "" {
		quiet = append(quiet, m.cfg.Prefix+MetricsPath)
	}
	return Chain(problemMux{m.mux},
		RequestIDs(m.cfg.Logger),
		Observe(m.cfg.Logger, m.cfg.Metrics, quiet...),
		Recover(m.cfg.Logger),
		Auth(m.cfg.Principals, m.exempt...),
	)
}

// problemMux answers the plain-text 404 and 405 of http.ServeMux as
// problems, leaving its redirects (path cleaning, trailing slash) alone.
type problemMux struct {
	mux *http.ServeMux
}

func (p problemMux) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.IndexByte(r.URL.Path, 0) >= 0 || !utf8.ValidString(r.URL.Path) {
		// No stored name holds NUL or invalid UTF-8 (PostgreSQL text cannot),
		// so such a path names nothing, on every store alike.
		WriteError(w, r, nil, apperr.Errorf(apperr.NotFound, "no resource has a name with the NUL character or invalid UTF-8: %q", r.URL.Path))
		return
	}
	if _, pattern := p.mux.Handler(r); pattern != "" {
		p.mux.ServeHTTP(w, r)
		return
	}
	rec := &headerRecorder{header: http.Header{}}
	p.mux.ServeHTTP(rec, r)
	switch rec.status {
	case http.StatusNotFound:
		WriteError(w, r, nil, apperr.Errorf(apperr.NotFound, "no route matches %s %s", r.Method, r.URL.Path))
	case http.StatusMethodNotAllowed:
		allow := rec.header.Get("Allow")
		w.Header().Set("Allow", allow)
		WriteProblem(w, newProblem(r, methodNotAllowed,
			fmt.Sprintf("%s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, allow), nil))
	default:
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		w.WriteHeader(rec.status)
		_, _ = w.Write(rec.body.Bytes())
	}
}

// headerRecorder captures the small answers http.ServeMux gives itself.
type headerRecorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (h *headerRecorder) Header() http.Header { return h.header }
func (h *headerRecorder) WriteHeader(code int) {
	if h.status == 0 {
		h.status = code
	}
}
func (h *headerRecorder) Write(b []byte) (int, error) {
	if h.status == 0 {
		h.status = http.StatusOK
	}
	return h.body.Write(b)
}

// Server timeouts (see NewServer).
const (
	// ReadHeaderTimeout bounds reading a request's header.
	ReadHeaderTimeout = 10 * time.Second
	// ReadTimeout bounds reading a whole request, header and body, on every
	// route but those with StreamedBody: a 16 MiB body arrives well within
	// it at 1 Mbit/s. A body that does not is answered 408.
	ReadTimeout = 3 * time.Minute
	// IdleTimeout bounds the wait for the next request on a kept-alive
	// connection.
	IdleTimeout = 120 * time.Second
	// DefaultBodyIdleTimeout is how long a StreamedBody may stall.
	DefaultBodyIdleTimeout = 30 * time.Second
	// MaxHeaderBytes bounds a request's header.
	MaxHeaderBytes = 1 << 20
)

// NewServer returns an *http.Server for h with the timeouts above: a
// bounded wait for request headers, whole requests (ReadTimeout; routes
// with StreamedBody instead fail when their body stalls) and idle
// connections, but no write deadline, since CSV exports may legitimately
// stream for minutes. Its error log goes to logger.
func NewServer(addr string, h http.Handler, logger *slog.Logger) *http.Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// DefaultShutdownTimeout is how long Serve waits for requests in flight.
const DefaultShutdownTimeout = 30 * time.Second

// Serve runs srv on ln (on srv.Addr when ln is nil), wrapped by
// ProblemListener, until ctx is done, then
// shuts it down gracefully: no new connections, requests in flight get up
// to shutdownTimeout (0 means DefaultShutdownTimeout) to finish, after
// which the remaining connections are closed. It returns nil after a
// shutdown caused by ctx, or the error that stopped the server.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, shutdownTimeout time.Duration) error {
	if shutdownTimeout <= 0 {
		shutdownTimeout = DefaultShutdownTimeout
	}
	if ln == nil {
		var err error
		ln, err = (&net.ListenConfig{}).Listen(ctx, "tcp", srv.Addr)
		if err != nil {
			return fmt.Errorf("listen on %q: %w", srv.Addr, err)
		}
	}
	ln = ProblemListener(ln)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		closeErr := srv.Close()
		return errors.Join(fmt.Errorf("shut down server on %s: %w", ln.Addr(), err), closeErr)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
	}
	return nil
}

// ByPrefix returns a handler that routes like the load balancer: a request
// whose path is a prefix ("/mkt") or lies under it ("/mkt/...") goes to
// that prefix's handler, the longest prefix winning; every other request
// (GET /health, GET /metrics, unknown paths) goes to fallback. It lets one
// listener serve several services' handlers, each built by its own Mux.
func ByPrefix(routes map[string]http.Handler, fallback http.Handler) http.Handler {
	type route struct {
		prefix string
		h      http.Handler
	}
	var rs []route
	for p, h := range routes {
		p = strings.TrimSuffix(p, "/")
		if p == "" || !strings.HasPrefix(p, "/") {
			panic(fmt.Sprintf("web: ByPrefix prefix %q must start with / and not be the root", p))
		}
		rs = append(rs, route{p, h})
	}
	// Longest prefix first, so "/results" does not swallow "/results-x/"
	// routes of another service and nested prefixes work.
	slices.SortFunc(rs, func(a, b route) int { return len(b.prefix) - len(a.prefix) })
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.Path
		for _, rt := range rs {
			if path == rt.prefix || strings.HasPrefix(path, rt.prefix+"/") {
				rt.h.ServeHTTP(w, r)
				return
			}
		}
		fallback.ServeHTTP(w, r)
	})
}
