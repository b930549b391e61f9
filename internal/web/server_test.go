package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/auth"
	"github.com/iprs/iprs/internal/web"
)

// fakeMetrics records observations.
type fakeMetrics struct {
	mu  sync.Mutex
	obs []string
}

func (f *fakeMetrics) ObserveRequest(method, route string, status int, _ time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.obs = append(f.obs, fmt.Sprintf("%s|%s|%d", method, route, status))
}

func (f *fakeMetrics) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "# metrics\n")
	})
}

func (f *fakeMetrics) observations() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.obs...)
}

type testService struct {
	handler http.Handler
	logs    *logBuffer
	metrics *fakeMetrics
}

func newTestService(t *testing.T, principals []auth.Principal, ping func(context.Context) error) testService {
	t.Helper()
	logger, logs := newLogger()
	metrics := &fakeMetrics{}
	m := web.NewMux(web.Config{
		Service: "marketdata", Version: "1.2.3", Prefix: "/mkt",
		Logger: logger, Principals: principals, Ping: ping, Metrics: metrics,
	})
	m.HandleFunc("GET /mkt/snapshots/{id}", func(w http.ResponseWriter, r *http.Request) error {
		id := r.PathValue("id")
		if id == "missing" {
			return apperr.Errorf(apperr.NotFound, "no snapshot %q", id)
		}
		return web.WriteJSON(w, http.StatusOK, map[string]string{
			"snapshot_id": id,
			"request_id":  web.RequestID(r.Context()),
			"route":       web.Route(r),
		})
	})
	m.HandleFunc("POST /mkt/snapshots", func(w http.ResponseWriter, r *http.Request) error {
		return web.WriteJSON(w, http.StatusCreated, map[string]string{"principal": auth.NameOf(r.Context())})
	})
	m.HandleFunc("POST /mkt/snapshots/{id}/publish", func(w http.ResponseWriter, r *http.Request) error {
		return web.WriteJSON(w, http.StatusOK, map[string]string{"principal": auth.NameOf(r.Context())})
	}, web.Role(auth.Publish))
	m.Handle("GET /mkt/panic", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic("secret panic value 0xdeadbeef")
	}))
	return testService{handler: m.Handler(), logs: logs, metrics: metrics}
}

func TestRoutesAndProblems(t *testing.T) {
	t.Parallel()
	s := newTestService(t, nil, nil)

	res := serve(s.handler, httptest.NewRequest("GET", "/mkt/snapshots/S1", nil))
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	var body map[string]string
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if body["snapshot_id"] != "S1" || body["route"] != "GET /mkt/snapshots/{id}" {
		t.Errorf("body = %v", body)
	}

	p, _ := MustProblem(t, serve(s.handler, httptest.NewRequest("GET", "/mkt/snapshots/missing", nil)), 404)
	if p.Detail != `no snapshot "missing"` {
		t.Errorf("detail = %q", p.Detail)
	}

	p, _ = MustProblem(t, serve(s.handler, httptest.NewRequest("GET", "/mkt/nothing/here", nil)), 404)
	if p.Type != "https://iprs.dev/problems/not-found" || p.Instance != "/mkt/nothing/here" {
		t.Errorf("404 problem = %+v", p)
	}

	res = serve(s.handler, httptest.NewRequest("DELETE", "/mkt/snapshots/S1", nil))
	p, _ = MustProblem(t, res, 405)
	if allow := res.Header.Get("Allow"); !strings.Contains(allow, "GET") || !strings.Contains(allow, "HEAD") {
		t.Errorf("Allow = %q, want GET and HEAD", allow)
	}
	if p.Type != "https://iprs.dev/problems/method-not-allowed" {
		t.Errorf("405 type = %q", p.Type)
	}
	res = serve(s.handler, httptest.NewRequest("PUT", "/mkt/snapshots", nil))
	MustProblem(t, res, 405)
	if allow := res.Header.Get("Allow"); allow != "POST" {
		t.Errorf("Allow = %q, want POST", allow)
	}

	// A path with NUL or invalid UTF-8 names nothing (no store holds such
	// a name): 404 before any handler sees it.
	for _, path := range []string{"/mkt/snapshots/a%00b", "/mkt/snapshots/%FF%FE"} {
		MustProblem(t, serve(s.handler, httptest.NewRequest("GET", path, nil)), 404)
	}

	// The mux's own redirects (path cleaning) pass through untouched.
	res = serve(s.handler, httptest.NewRequest("GET", "/mkt//snapshots/S1", nil))
	if res.StatusCode != http.StatusTemporaryRedirect && res.StatusCode != http.StatusMovedPermanently {
		t.Errorf("unclean path: status %d, want a redirect", res.StatusCode)
	}
}

func TestHandlePanicsOutsidePrefix(t *testing.T) {
	t.Parallel()
	m := web.NewMux(web.Config{Service: "results", Prefix: "/results"})
	for _, pattern := range []string{"GET /mkt/x", "GET /resultsx", "/results/no-method", "GET"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Handle(%q) did not panic", pattern)
				}
			}()
			m.Handle(pattern, http.NotFoundHandler())
		}()
	}
	m.Handle("GET /results", http.NotFoundHandler()) // the prefix itself is fine
}

func TestPanicRecovery(t *testing.T) {
	t.Parallel()
	s := newTestService(t, nil, nil)
	res := serve(s.handler, httptest.NewRequest("GET", "/mkt/panic", nil))
	p, raw := MustProblem(t, res, 500)
	b, _ := json.Marshal(raw)
	if strings.Contains(string(b), "deadbeef") || strings.Contains(string(b), "goroutine") {
		t.Errorf("panic leaks into the body: %s", b)
	}
	if p.RequestID == "" || p.RequestID != res.Header.Get("X-Request-ID") {
		t.Errorf("request_id %q, header %q", p.RequestID, res.Header.Get("X-Request-ID"))
	}
	var logged bool
	for _, rec := range s.logs.records(t) {
		if rec["msg"] == "panic serving request" {
			logged = true
			if !strings.Contains(fmt.Sprint(rec["panic"]), "deadbeef") || !strings.Contains(fmt.Sprint(rec["stack"]), "goroutine") {
				t.Errorf("panic log lacks value or stack: %v", rec)
			}
		}
	}
	if !logged {
		t.Errorf("panic not logged:\n%s", s.logs.String())
	}
	// The service keeps serving.
	if res := serve(s.handler, httptest.NewRequest("GET", "/mkt/snapshots/S1", nil)); res.StatusCode != 200 {
		t.Errorf("after a panic: status %d", res.StatusCode)
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	s := newTestService(t, []auth.Principal{auth.New(auth.DefaultName, "alpha-token", auth.Roles()...), auth.New("beta", "beta-token", auth.Read)}, nil)
	get := func(path, auth string) *http.Response {
		req := httptest.NewRequest("GET", path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		return serve(s.handler, req)
	}
	for _, auth := range []string{"", "Bearer wrong", "Basic YWxwaGEtdG9rZW4=", "Bearer ", "alpha-token", "Bearer alpha-token2"} {
		res := get("/mkt/snapshots/S1", auth)
		MustProblem(t, res, 401)
		if !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("auth %q: WWW-Authenticate = %q", auth, res.Header.Get("WWW-Authenticate"))
		}
	}
	for _, auth := range []string{"Bearer alpha-token", "Bearer beta-token", "bearer beta-token"} {
		if res := get("/mkt/snapshots/S1", auth); res.StatusCode != 200 {
			t.Errorf("auth %q: status %d", auth, res.StatusCode)
		}
	}
	// Health is exempt, metrics and unknown routes are not.
	for _, path := range []string{"/health", "/mkt/health"} {
		if res := get(path, ""); res.StatusCode != 200 {
			t.Errorf("%s without a token: status %d", path, res.StatusCode)
		}
	}
	for _, path := range []string{"/metrics", "/mkt/metrics", "/mkt/unknown", "/mkt/health/x"} {
		MustProblem(t, get(path, ""), 401)
	}

	// Without tokens nothing is required.
	open := newTestService(t, nil, nil)
	if res := serve(open.handler, httptest.NewRequest("GET", "/mkt/snapshots/S1", nil)); res.StatusCode != 200 {
		t.Errorf("auth off: status %d", res.StatusCode)
	}
	res := serve(open.handler, httptest.NewRequest("POST", "/mkt/snapshots/S1/publish", nil))
	if body, _ := io.ReadAll(res.Body); res.StatusCode != 200 || !strings.Contains(string(body), `"principal":"anonymous"`) {
		t.Errorf("auth off: publish answered %d %s, want 200 as the anonymous principal", res.StatusCode, body)
	}
}

func TestRoles(t *testing.T) {
	t.Parallel()
	logger, logs := newLogger()
	m := web.NewMux(web.Config{Service: "orchestrator", Prefix: "/orch", Logger: logger, Metrics: &fakeMetrics{},
		Principals: []auth.Principal{
			auth.New("reader", "tok-reader", auth.Read),
			auth.New("writer", "tok-writer", auth.Write),
			auth.New("publisher", "tok-publisher", auth.Publish),
			auth.New("all", "tok-all", auth.Roles()...),
		}})
	reached := false
	ok := func(w http.ResponseWriter, r *http.Request) error {
		reached = true
		return web.WriteJSON(w, http.StatusOK, map[string]string{"principal": auth.NameOf(r.Context())})
	}
	m.HandleFunc("GET /orch/runs/{id}", ok)
	m.HandleFunc("POST /orch/runs", ok)
	m.HandleFunc("DELETE /orch/runs/{id}", ok)
	m.HandleFunc("POST /orch/runs/{id}/publish", ok, web.Role(auth.Publish))
	// A body the route may not read is refused before it is read.
	m.HandleFunc("PUT /orch/small", ok, web.MaxBody(1))
	h := m.Handler()

	wantRoutes := map[string]auth.Role{
		"GET /metrics": auth.Read, "GET /orch/metrics": auth.Read,
		"GET /orch/runs/{id}": auth.Read, "POST /orch/runs": auth.Write, "DELETE /orch/runs/{id}": auth.Write,
		"POST /orch/runs/{id}/publish": auth.Publish, "PUT /orch/small": auth.Write,
	}
	for _, rt := range m.Routes() {
		if rt.Public {
			if rt.Pattern != "GET /health" && rt.Pattern != "GET /orch/health" {
				t.Errorf("route %s is public", rt.Pattern)
			}
			continue
		}
		if want, known := wantRoutes[rt.Pattern]; !known || rt.Role != want {
			t.Errorf("route %s needs %q, want %q", rt.Pattern, rt.Role, want)
		}
		delete(wantRoutes, rt.Pattern)
	}
	if len(wantRoutes) != 0 {
		t.Errorf("routes not listed: %v", wantRoutes)
	}

	tests := []struct {
		method, path string
		allowed      []string // principals that get through
		role         auth.Role
	}{
		{"GET", "/orch/runs/R1", []string{"reader", "all"}, auth.Read},
		{"HEAD", "/orch/runs/R1", []string{"reader", "all"}, auth.Read},
		{"GET", "/orch/metrics", []string{"reader", "all"}, auth.Read},
		{"POST", "/orch/runs", []string{"writer", "all"}, auth.Write},
		{"DELETE", "/orch/runs/R1", []string{"writer", "all"}, auth.Write},
		{"POST", "/orch/runs/R1/publish", []string{"publisher", "all"}, auth.Publish},
	}
	for _, tt := range tests {
		for _, who := range []string{"reader", "writer", "publisher", "all"} {
			reached = false
			req := httptest.NewRequest(tt.method, tt.path, nil)
			req.Header.Set("Authorization", "Bearer tok-"+who)
			res := serve(h, req)
			if slices.Contains(tt.allowed, who) {
				if res.StatusCode != 200 {
					t.Errorf("%s %s as %s: status %d, want 200", tt.method, tt.path, who, res.StatusCode)
				}
				continue
			}
			if reached {
				t.Errorf("%s %s as %s: the handler ran", tt.method, tt.path, who)
			}
			if tt.method == "HEAD" {
				if res.StatusCode != 403 {
					t.Errorf("HEAD %s as %s: status %d, want 403", tt.path, who, res.StatusCode)
				}
				continue
			}
			p, _ := MustProblem(t, res, 403)
			if p.Type != "https://iprs.dev/problems/forbidden" || !strings.Contains(p.Detail, fmt.Sprintf("needs the role %q", tt.role)) ||
				!strings.Contains(p.Detail, fmt.Sprintf("principal %q", who)) || strings.Contains(p.Detail, "tok-") {
				t.Errorf("%s %s as %s: problem %+v, want a 403 naming role %s and the principal, not the token", tt.method, tt.path, who, p, tt.role)
			}
		}
	}

	// The role is checked before the body bound.
	req := httptest.NewRequest("PUT", "/orch/small", strings.NewReader("far more than one byte"))
	req.Header.Set("Authorization", "Bearer tok-reader")
	MustProblem(t, serve(h, req), 403)
	req = httptest.NewRequest("PUT", "/orch/small", strings.NewReader("far more than one byte"))
	req.Header.Set("Authorization", "Bearer tok-writer")
	MustProblem(t, serve(h, req), 413)

	// The access log names the principal, never the token.
	req = httptest.NewRequest("POST", "/orch/runs/R9/publish", nil)
	req.Header.Set("Authorization", "Bearer tok-publisher")
	req.Header.Set("X-Request-ID", "req-publish-1")
	if res := serve(h, req); res.StatusCode != 200 {
		t.Fatalf("publish: %d", res.StatusCode)
	}
	found := false
	for _, rec := range logs.records(t) {
		if rec["msg"] == "http request" && rec["request_id"] == "req-publish-1" {
			found = true
			if rec["principal"] != "publisher" {
				t.Errorf("access line principal = %v, want publisher: %v", rec["principal"], rec)
			}
		}
	}
	if !found {
		t.Error("no access line for the publish request")
	}
	if strings.Contains(logs.String(), "tok-") {
		t.Errorf("a token reached the log:\n%s", logs.String())
	}
}

func TestEmptyRoleIsRefusedAtRegistration(t *testing.T) {
	t.Parallel()
	m := web.NewMux(web.Config{Prefix: "/orch"})
	defer func() {
		if recover() == nil {
			t.Error("registering a route with an empty role did not panic")
		}
	}()
	m.HandleFunc("POST /orch/x", func(w http.ResponseWriter, r *http.Request) error { return nil }, web.Role(""))
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	s := newTestService(t, nil, nil)

	req := httptest.NewRequest("GET", "/mkt/snapshots/S1", nil)
	req.Header.Set("X-Request-ID", "client-id-42")
	res := serve(s.handler, req)
	var body map[string]string
	_ = json.NewDecoder(res.Body).Decode(&body)
	if res.Header.Get("X-Request-ID") != "client-id-42" || body["request_id"] != "client-id-42" {
		t.Errorf("header %q, context %q, want client-id-42", res.Header.Get("X-Request-ID"), body["request_id"])
	}
	var logged bool
	for _, rec := range s.logs.records(t) {
		if rec["msg"] == "http request" && rec["request_id"] == "client-id-42" {
			logged = true
		}
	}
	if !logged {
		t.Errorf("access log lacks the request id:\n%s", s.logs.String())
	}

	seen := map[string]bool{}
	for _, bad := range []string{"", "has space", "new\nline", strings.Repeat("x", 129), "<script>"} {
		req := httptest.NewRequest("GET", "/mkt/snapshots/S1", nil)
		if bad != "" {
			req.Header.Set("X-Request-ID", bad)
		}
		id := serve(s.handler, req).Header.Get("X-Request-ID")
		if id == bad || len(id) != 32 || seen[id] {
			t.Errorf("X-Request-ID %q: answered %q, want a fresh 32-hex id", bad, id)
		}
		seen[id] = true
	}
}

func TestAccessLogAndMetricsObservations(t *testing.T) {
	t.Parallel()
	s := newTestService(t, nil, nil)
	serve(s.handler, httptest.NewRequest("GET", "/mkt/snapshots/S1", nil))
	serve(s.handler, httptest.NewRequest("GET", "/mkt/snapshots/S2", nil))
	serve(s.handler, httptest.NewRequest("GET", "/mkt/snapshots/missing", nil))
	serve(s.handler, httptest.NewRequest("GET", "/mkt/panic", nil))
	serve(s.handler, httptest.NewRequest("GET", "/mkt/zzz", nil))
	serve(s.handler, httptest.NewRequest("PATCH", "/mkt/snapshots", nil))
	want := []string{
		"GET|GET /mkt/snapshots/{id}|200",
		"GET|GET /mkt/snapshots/{id}|200",
		"GET|GET /mkt/snapshots/{id}|404",
		"GET|GET /mkt/panic|500",
		"GET||404",
		"PATCH||405",
	}
	if got := s.metrics.observations(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("observations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var lines []map[string]any
	for _, rec := range s.logs.records(t) {
		if rec["msg"] == "http request" {
			lines = append(lines, rec)
		}
	}
	if len(lines) != 6 {
		t.Fatalf("%d access lines, want 6", len(lines))
	}
	first := lines[0]
	for _, key := range []string{"method", "path", "route", "status", "bytes", "duration_ms", "request_id"} {
		if _, ok := first[key]; !ok {
			t.Errorf("access line lacks %q: %v", key, first)
		}
	}
	if first["path"] != "/mkt/snapshots/S1" || first["status"] != float64(200) || first["bytes"].(float64) <= 0 {
		t.Errorf("access line = %v", first)
	}

	res := serve(s.handler, httptest.NewRequest("GET", "/metrics", nil))
	if b, _ := io.ReadAll(res.Body); res.StatusCode != 200 || string(b) != "# metrics\n" {
		t.Errorf("/metrics: %d %q", res.StatusCode, b)
	}
	if res := serve(s.handler, httptest.NewRequest("GET", "/mkt/metrics", nil)); res.StatusCode != 200 {
		t.Errorf("/mkt/metrics: %d", res.StatusCode)
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	s := newTestService(t, nil, func(ctx context.Context) error { return nil })
	for _, path := range []string{"/health", "/mkt/health"} {
		res := serve(s.handler, httptest.NewRequest("GET", path, nil))
		var body map[string]any
		_ = json.NewDecoder(res.Body).Decode(&body)
		if res.StatusCode != 200 || body["status"] != "ok" || body["service"] != "marketdata" || body["version"] != "1.2.3" {
			t.Errorf("%s: %d %v", path, res.StatusCode, body)
		}
	}

	down := newTestService(t, nil, func(ctx context.Context) error {
		return errors.New("dial tcp 10.0.0.5:5432: connection refused password=hunter2")
	})
	res := serve(down.handler, httptest.NewRequest("GET", "/health", nil))
	b, _ := io.ReadAll(res.Body)
	var body map[string]any
	_ = json.Unmarshal(b, &body)
	if res.StatusCode != 503 || body["status"] != "unavailable" || body["service"] != "marketdata" || body["type"] != "https://iprs.dev/problems/unavailable" {
		t.Errorf("down: %d %s", res.StatusCode, b)
	}
	if strings.Contains(string(b), "10.0.0.5") || strings.Contains(string(b), "hunter2") {
		t.Errorf("health body leaks the cause: %s", b)
	}
	if !strings.Contains(down.logs.String(), "connection refused") {
		t.Errorf("cause not logged: %s", down.logs.String())
	}

	// A ping that hangs is cut off by the health timeout.
	start := time.Now()
	hang := web.HealthHandler("worker", "v", func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	})
	rec := httptest.NewRecorder()
	hang.ServeHTTP(rec, httptest.NewRequest("GET", "/health", nil))
	if rec.Code != 503 || time.Since(start) > web.HealthTimeout+time.Second {
		t.Errorf("hanging ping: status %d after %v", rec.Code, time.Since(start))
	}
}

func TestServeGracefulShutdown(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	started := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		_, _ = io.WriteString(w, "done")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := web.NewServer("", h, nil)
	if srv.ReadHeaderTimeout <= 0 {
		t.Error("ReadHeaderTimeout not set")
	}
	served := make(chan error, 1)
	go func() { served <- web.Serve(ctx, srv, ln, 5*time.Second) }()

	got := make(chan string, 1)
	go func() {
		res, err := http.Get("http://" + ln.Addr().String() + "/")
		if err != nil {
			got <- "error: " + err.Error()
			return
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		got <- string(b)
	}()
	<-started
	cancel() // shutdown begins while the request is in flight
	time.Sleep(50 * time.Millisecond)
	select {
	case err := <-served:
		t.Fatalf("Serve returned %v before the request finished", err)
	default:
	}
	close(release)
	if body := <-got; body != "done" {
		t.Errorf("in-flight request got %q, want done", body)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve = %v, want nil after a graceful shutdown", err)
	}
}

func TestServeListenError(t *testing.T) {
	t.Parallel()
	err := web.Serve(context.Background(), web.NewServer("256.0.0.1:bad", http.NotFoundHandler(), nil), nil, 0)
	if err == nil || !strings.Contains(err.Error(), "256.0.0.1:bad") {
		t.Errorf("Serve on a bad address = %v", err)
	}
}

func TestByPrefix(t *testing.T) {
	t.Parallel()
	named := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, name) })
	}
	h := web.ByPrefix(map[string]http.Handler{
		"/mkt":     named("mkt"),
		"/orch/":   named("orch"),
		"/results": named("results"),
	}, named("fallback"))
	for path, want := range map[string]string{
		"/mkt":              "mkt",
		"/mkt/snapshots/X":  "mkt",
		"/orch/runs":        "orch",
		"/results/runs/R/x": "results",
		"/resultsx":         "fallback",
		"/health":           "fallback",
		"/metrics":          "fallback",
		"/":                 "fallback",
	} {
		res := serve(h, httptest.NewRequest("GET", path, nil))
		if b, _ := io.ReadAll(res.Body); string(b) != want {
			t.Errorf("%s went to %q, want %q", path, b, want)
		}
	}
}

// Over a real connection, an upload larger than its route's bound is
// answered 413 whether or not its length was announced.
func TestOversizeUploadOverTheWire(t *testing.T) {
	t.Parallel()
	m := web.NewMux(web.Config{Service: "orchestrator", Prefix: "/orch", MaxBodyBytes: 1 << 10})
	m.HandleFunc("POST /orch/position-snapshots", func(w http.ResponseWriter, r *http.Request) error {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			return web.BodyReadError(err)
		}
		return web.WriteJSON(w, http.StatusCreated, map[string]int64{"bytes": n})
	}, web.MaxBody(1<<20))
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()

	post := func(size int, announce bool) int {
		t.Helper()
		var body io.Reader = strings.NewReader(strings.Repeat("p", size))
		if !announce {
			body = io.MultiReader(body) // hides the length: chunked encoding
		}
		req, err := http.NewRequest("POST", srv.URL+"/orch/position-snapshots", body)
		if err != nil {
			t.Fatal(err)
		}
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatalf("POST %d bytes: %v", size, err)
		}
		defer res.Body.Close()
		_, _ = io.Copy(io.Discard, res.Body)
		return res.StatusCode
	}
	for _, announce := range []bool{true, false} {
		if got := post(512<<10, announce); got != 201 {
			t.Errorf("512 KiB (announced %v): status %d, want 201 (the route allows 1 MiB)", announce, got)
		}
		if got := post(2<<20, announce); got != 413 {
			t.Errorf("2 MiB (announced %v): status %d, want 413", announce, got)
		}
	}
}

// A panic after the response started cannot become a problem: the
// connection is cut so the client cannot take the partial body as whole.
func TestPanicAfterResponseStarted(t *testing.T) {
	t.Parallel()
	logger, logs := newLogger()
	m := web.NewMux(web.Config{Service: "results", Prefix: "/results", Logger: logger})
	m.Handle("GET /results/runs/{id}/export.csv", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/csv")
		_, _ = io.WriteString(w, strings.Repeat("row\n", 10000))
		w.(http.Flusher).Flush()
		panic("lost the cursor")
	}))
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	res, err := srv.Client().Get(srv.URL + "/results/runs/R/export.csv")
	if err == nil {
		_, err = io.ReadAll(res.Body)
		res.Body.Close()
	}
	if err == nil {
		t.Error("the client read a complete response although the handler panicked midway")
	}
	deadline := time.Now().Add(2 * time.Second)
	for !strings.Contains(logs.String(), "lost the cursor") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "lost the cursor") {
		t.Errorf("panic not logged: %s", logs.String())
	}
}

func TestAuthStandalone(t *testing.T) {
	t.Parallel()
	h := web.Auth([]auth.Principal{auth.New("p", "tok", auth.Read)})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if auth.NameOf(r.Context()) == "p" || r.URL.Path == "/health" {
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	if res := serve(h, httptest.NewRequest("GET", "/health", nil)); res.StatusCode != 204 {
		t.Errorf("/health: status %d, want it exempt", res.StatusCode)
	}
	MustProblem(t, serve(h, httptest.NewRequest("GET", "/mkt/health", nil)), 401)
	req := httptest.NewRequest("GET", "/anything", nil)
	req.Header.Set("Authorization", "Bearer tok")
	if res := serve(h, req); res.StatusCode != 204 {
		t.Errorf("good token: status %d", res.StatusCode)
	}
}
