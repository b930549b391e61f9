package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/web"
)

// logBuffer is a concurrency-safe writer capturing JSON log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// records returns the log lines, decoded.
func (b *logBuffer) records(tb testing.TB) []map[string]any {
	tb.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			tb.Fatalf("log line is not JSON: %q", line)
		}
		if n := strings.Count(line, `"request_id":`); n > 1 {
			tb.Errorf("log line has request_id %d times: %s", n, line)
		}
		out = append(out, rec)
	}
	return out
}

func newLogger() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// problemBody is the decoded problem of a response.
type problemBody struct {
	Type      string              `json:"type"`
	Title     string              `json:"title"`
	Status    int                 `json:"status"`
	Detail    string              `json:"detail"`
	Errors    []apperr.FieldError `json:"errors"`
	Instance  string              `json:"instance"`
	RequestID string              `json:"request_id"`
}

// MustProblem checks that res is a problem with status and decodes it.
func MustProblem(tb testing.TB, res *http.Response, status int) (problemBody, map[string]any) {
	tb.Helper()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatalf("read body: %v", err)
	}
	if res.StatusCode != status {
		tb.Fatalf("status = %d, want %d; body %s", res.StatusCode, status, body)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
		tb.Fatalf("Content-Type = %q, want application/problem+json; body %s", ct, body)
	}
	var p problemBody
	if err := json.Unmarshal(body, &p); err != nil {
		tb.Fatalf("decode problem %s: %v", body, err)
	}
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		tb.Fatalf("decode problem %s: %v", body, err)
	}
	if p.Status != status {
		tb.Errorf("problem status = %d, want %d", p.Status, status)
	}
	if p.Type == "" || p.Title == "" || p.Detail == "" {
		tb.Errorf("problem lacks type, title or detail: %s", body)
	}
	return p, raw
}

func serve(h http.Handler, req *http.Request) *http.Response {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func TestWriteErrorStatusTable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err    error
		status int
		slug   string
	}{
		{apperr.Errorf(apperr.Invalid, "bad"), 400, "invalid"},
		{apperr.Errorf(apperr.Unauthorized, "who"), 401, "unauthorized"},
		{apperr.Errorf(apperr.Forbidden, "needs the role publish"), 403, "forbidden"},
		{apperr.Errorf(apperr.NotFound, "no snapshot X"), 404, "not-found"},
		{fmt.Errorf("get run: %w", apperr.Errorf(apperr.Conflict, "run exists")), 409, "conflict"},
		{apperr.Errorf(apperr.Timeout, "stalled"), 408, "request-timeout"},
		{apperr.Errorf(apperr.TooLarge, "big"), 413, "too-large"},
		{apperr.Errorf(apperr.Unprocessable, "market lacks USD-OIS"), 422, "unprocessable"},
		{apperr.Errorf(apperr.Unavailable, "database unavailable"), 503, "unavailable"},
		{apperr.Errorf(apperr.Internal, "oops"), 500, "internal"},
		{apperr.Errorf(apperr.Code("mystery"), "?"), 500, "internal"},
		{errors.New("plain"), 500, "internal"},
	}
	for _, tt := range tests {
		t.Run(tt.slug+"/"+tt.err.Error(), func(t *testing.T) {
			t.Parallel()
			logger, _ := newLogger()
			req := httptest.NewRequest("GET", "/mkt/snapshots/X", nil)
			rec := httptest.NewRecorder()
			web.WriteError(rec, req, logger, tt.err)
			p, _ := MustProblem(t, rec.Result(), tt.status)
			if want := "https://iprs.dev/problems/" + tt.slug; p.Type != want {
				t.Errorf("type = %q, want %q", p.Type, want)
			}
			if p.Instance != "/mkt/snapshots/X" {
				t.Errorf("instance = %q", p.Instance)
			}
			if web.StatusOf(tt.err) != tt.status {
				t.Errorf("StatusOf = %d, want %d", web.StatusOf(tt.err), tt.status)
			}
			if tt.status < 500 {
				if ae, _ := apperr.As(tt.err); p.Detail != ae.Message {
					t.Errorf("detail = %q, want the message %q", p.Detail, ae.Message)
				}
			}
			if tt.status == 401 && rec.Result().Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}

func TestWriteErrorFieldsAndOmission(t *testing.T) {
	t.Parallel()
	req := httptest.NewRequest("POST", "/orch/runs", nil)

	rec := httptest.NewRecorder()
	web.WriteError(rec, req, nil, apperr.WithFields(apperr.Unprocessable, "the run cannot start", []apperr.FieldError{
		{Pointer: "/measures/1", Detail: "unknown measure XYZ"},
		{Pointer: "/scenarios/0", Detail: "unknown scenario"},
	}))
	p, _ := MustProblem(t, rec.Result(), 422)
	want := []apperr.FieldError{{Pointer: "/measures/1", Detail: "unknown measure XYZ"}, {Pointer: "/scenarios/0", Detail: "unknown scenario"}}
	if fmt.Sprint(p.Errors) != fmt.Sprint(want) {
		t.Errorf("errors = %+v, want %+v", p.Errors, want)
	}

	rec = httptest.NewRecorder()
	web.WriteError(rec, req, nil, apperr.Errorf(apperr.NotFound, "no run R"))
	_, raw := MustProblem(t, rec.Result(), 404)
	if _, ok := raw["errors"]; ok {
		t.Errorf("errors present without field problems: %v", raw)
	}
}

func TestInternalErrorDoesNotLeak(t *testing.T) {
	t.Parallel()
	logger, logs := newLogger()
	secret := `ERROR: duplicate key value violates unique constraint "runs_pkey" (SQLSTATE 23505) SELECT * FROM runs`
	h := web.Chain(web.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return fmt.Errorf("insert run: %w", errors.New(secret))
	}), web.RequestIDs(logger))
	req := httptest.NewRequest("POST", "/orch/runs", nil)
	req.Header.Set("X-Request-ID", "req-500")
	res := serve(h, req)
	p, raw := MustProblem(t, res, 500)
	body, _ := json.Marshal(raw)
	for _, leak := range []string{"SQLSTATE", "runs_pkey", "SELECT", "insert run", "goroutine"} {
		if strings.Contains(string(body), leak) {
			t.Errorf("500 body leaks %q: %s", leak, body)
		}
	}
	if p.RequestID != "req-500" {
		t.Errorf("request_id = %q, want req-500", p.RequestID)
	}
	var found bool
	for _, rec := range logs.records(t) {
		if rec["level"] == "ERROR" && strings.Contains(fmt.Sprint(rec["error"]), "runs_pkey") {
			found = true
			if rec["method"] != "POST" || rec["path"] != "/orch/runs" || rec["request_id"] != "req-500" {
				t.Errorf("error log lacks request details: %v", rec)
			}
		}
	}
	if !found {
		t.Errorf("real error not logged at error level:\n%s", logs.String())
	}
}

func TestClientGoneIsNotAnError(t *testing.T) {
	t.Parallel()
	logger, logs := newLogger()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequest("GET", "/results/runs/R/summary", nil).WithContext(ctx)
	rec := httptest.NewRecorder()
	web.WriteError(rec, req, logger, fmt.Errorf("query summary: %w", context.Canceled))
	if rec.Code != web.StatusClientClosedRequest {
		t.Errorf("status = %d, want %d", rec.Code, web.StatusClientClosedRequest)
	}
	for _, r := range logs.records(t) {
		if r["level"] == "ERROR" {
			t.Errorf("client disconnect logged as an error: %v", r)
		}
	}

	// A cancellation that is not the client's (the request context is
	// alive) is a real failure.
	logger, logs = newLogger()
	rec = httptest.NewRecorder()
	web.WriteError(rec, httptest.NewRequest("GET", "/x", nil), logger, context.Canceled)
	if rec.Code != 500 || !strings.Contains(logs.String(), `"level":"ERROR"`) {
		t.Errorf("server-side cancellation: status %d, logs %s", rec.Code, logs.String())
	}
}

func TestWriteJSON(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	err := web.WriteJSON(rec, http.StatusCreated, map[string]any{"pv": 1.5, "html": "<a&b>"})
	if err != nil {
		t.Fatalf("WriteJSON: %v", err)
	}
	if rec.Code != 201 || rec.Header().Get("Content-Type") != "application/json" {
		t.Errorf("status %d, content type %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	if got := rec.Body.String(); got != `{"html":"<a&b>","pv":1.5}`+"\n" {
		t.Errorf("body = %q", got)
	}

	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		rec := httptest.NewRecorder()
		err := web.WriteJSON(rec, 200, struct {
			PV float64 `json:"pv"`
		}{bad})
		if err == nil {
			t.Errorf("WriteJSON accepted %v", bad)
		}
		if rec.Body.Len() != 0 || rec.Result().Header.Get("Content-Type") != "" {
			t.Errorf("WriteJSON wrote something for %v: %q", bad, rec.Body.String())
		}
		if web.StatusOf(err) != 500 {
			t.Errorf("StatusOf(%v) = %d, want 500", err, web.StatusOf(err))
		}
	}
}

func TestHandlerFuncNaNBecomes500(t *testing.T) {
	t.Parallel()
	h := web.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return web.WriteJSON(w, 200, []float64{1, math.NaN()})
	})
	MustProblem(t, serve(h, httptest.NewRequest("GET", "/x", nil)), 500)
}

func TestHandlerFuncErrorAfterWrite(t *testing.T) {
	t.Parallel()
	logger, logs := newLogger()
	h := web.Chain(web.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Type", "text/csv")
		w.WriteHeader(200)
		_, _ = io.WriteString(w, "a,b\n")
		return errors.New("cursor broke mid-stream")
	}), web.RequestIDs(logger))
	res := serve(h, httptest.NewRequest("GET", "/export.csv", nil))
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || string(body) != "a,b\n" {
		t.Errorf("status %d body %q: the started response must not be appended to", res.StatusCode, body)
	}
	if !strings.Contains(logs.String(), "cursor broke mid-stream") {
		t.Errorf("error not logged: %s", logs.String())
	}
}

func TestProblemForWithoutRequest(t *testing.T) {
	t.Parallel()
	p := web.ProblemFor(nil, apperr.Errorf(apperr.Conflict, "exists"))
	if p.Status != 409 || p.Type != web.ProblemType(apperr.Conflict) || p.Detail != "exists" {
		t.Errorf("ProblemFor = %+v", p)
	}
	if web.ProblemType(apperr.NotFound) != "https://iprs.dev/problems/not-found" {
		t.Errorf("ProblemType(NotFound) = %q", web.ProblemType(apperr.NotFound))
	}
}

func TestRequestLogger(t *testing.T) {
	t.Parallel()
	logger, logs := newLogger()
	h := web.Chain(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		web.Logger(r.Context()).Info("pricing", slog.String("run_id", "R1"))
	}), web.RequestIDs(logger))
	req := httptest.NewRequest("GET", "/x", nil)
	req.Header.Set("X-Request-ID", "rid-7")
	serve(h, req)
	recs := logs.records(t)
	if len(recs) != 1 || recs[0]["request_id"] != "rid-7" || recs[0]["run_id"] != "R1" {
		t.Errorf("records = %v", recs)
	}
	// Outside the middleware the logger discards instead of failing.
	web.Logger(context.Background()).Info("nowhere")
}

func TestProblemDropsHeadersOfTheIntendedAnswer(t *testing.T) {
	t.Parallel()
	h := web.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Type", "text/csv")
		w.Header().Set("Content-Disposition", `attachment; filename="run.csv"`)
		w.Header().Set("Content-Length", "1234")
		return apperr.Errorf(apperr.NotFound, "no run R")
	})
	res := serve(h, httptest.NewRequest("GET", "/results/runs/R/export.csv", nil))
	MustProblem(t, res, 404)
	if cd := res.Header.Get("Content-Disposition"); cd != "" {
		t.Errorf("Content-Disposition = %q on a problem", cd)
	}
}

// A 503 (a dependency down) tells the client when to retry, and is not
// logged as a failure per request: the store's watcher logs the outage
// once.
func TestUnavailableRetryAfterAndQuiet(t *testing.T) {
	t.Parallel()
	logger, logs := newLogger()
	cause := errors.New("dial tcp 10.0.0.5:5432: connect: connection refused")
	h := web.Chain(web.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return fmt.Errorf("list runs: %w", &apperr.Error{Code: apperr.Unavailable, Message: "the database cannot be reached; retry later", Err: cause})
	}), web.RequestIDs(logger))
	for i := 0; i < 3; i++ {
		res := serve(h, httptest.NewRequest("GET", "/orch/runs", nil))
		if got := res.Header.Get("Retry-After"); got != web.RetryAfterSeconds {
			t.Fatalf("Retry-After %q", got)
		}
		p, raw := MustProblem(t, res, 503)
		body, _ := json.Marshal(raw)
		if p.Detail != "the database cannot be reached; retry later" || strings.Contains(string(body), "10.0.0.5") {
			t.Fatalf("problem %s", body)
		}
	}
	for _, r := range logs.records(t) {
		if r["level"] != "DEBUG" {
			t.Errorf("a 503 logged at %v: %v", r["level"], r)
		}
	}
	// The health check's 503 too.
	hres := serve(web.HealthHandler("orchestrator", "v", func(context.Context) error {
		return &apperr.Error{Code: apperr.Unavailable, Message: "x", Err: cause}
	}), httptest.NewRequest("GET", "/health", nil))
	if hres.StatusCode != 503 || hres.Header.Get("Retry-After") != web.RetryAfterSeconds {
		t.Fatalf("health: %d, Retry-After %q", hres.StatusCode, hres.Header.Get("Retry-After"))
	}
}
