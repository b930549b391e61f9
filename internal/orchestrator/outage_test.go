package orchestrator_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/orchestrator"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/store/postgres"
	"github.com/iprs/iprs/internal/store/teststore"
	"github.com/iprs/iprs/internal/web"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// With PostgreSQL gone, every route that needs it answers 503 with
// Retry-After (not 500), the outage is logged once, and the service
// recovers by itself when the database is back.
func TestDatabaseOutageIs503(t *testing.T) {
	ctx := context.Background()
	url, proxy := teststore.ProxyURL(t, teststore.PostgresURL(t))
	db, err := postgres.Open(ctx, url, postgres.Options{Migrate: true, MaxConns: 4, QueryTimeout: 3 * time.Second})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	var logs lockedBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	st := store.Watch(db, postgres.Classify, logger)
	svc := orchestrator.New(st, logger, orchestrator.Options{EngineVersion: "t", SpoolDir: t.TempDir()})
	mux := web.NewMux(web.Config{Service: "orchestrator", Prefix: "/orch", Logger: logger, Ping: st.Ping})
	svc.Register(mux)
	srv := httptest.NewServer(mux.Handler())
	t.Cleanup(srv.Close)

	const upload = `{"as_of_time":"2026-01-23T00:00:00Z","portfolio_node_id":"BOOK-O","positions":[{"position_id":"B1","product_type":"FIXED_BOND","attributes":{"cashflows":[{"pay_date":"2026-07-23","amount":25}]}}]}`
	const run = `{"run_type":"SANDBOX","as_of_time":"2026-01-23T00:00:00Z","market_snapshot_id":"MKT","position_snapshot_id":"PS-1","measures":["PV"],"scenarios":["BASE"]}`
	routes := []struct{ method, path, body string }{
		{"GET", "/orch/health", ""},
		{"GET", "/orch/runs", ""},
		{"GET", "/orch/runs/R-1", ""},
		{"GET", "/orch/runs/R-1/tasks", ""},
		{"POST", "/orch/runs", run},
		{"POST", "/orch/runs/R-1/cancel", ""},
		{"POST", "/orch/position-snapshots", upload},
		{"GET", "/orch/position-snapshots/PS-1", ""},
		{"GET", "/orch/position-snapshots/PS-1/positions", ""},
	}
	call := func(method, path, body string) (int, http.Header, string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, res.Header, string(b)
	}
	if code, _, body := call("GET", "/orch/runs", ""); code != 200 {
		t.Fatalf("before: %d %s", code, body)
	}

	proxy.Stop()
	for round := 0; round < 2; round++ {
		for _, r := range routes {
			code, h, body := call(r.method, r.path, r.body)
			if code != http.StatusServiceUnavailable || h.Get("Retry-After") == "" || !strings.HasPrefix(h.Get("Content-Type"), "application/problem+json") {
				t.Fatalf("%s %s during the outage: %d Retry-After %q %s", r.method, r.path, code, h.Get("Retry-After"), body)
			}
			if strings.Contains(body, "127.0.0.1") || strings.Contains(body, "EOF") || strings.Contains(body, "dial") {
				t.Fatalf("%s %s: the problem shows the cause: %s", r.method, r.path, body)
			}
		}
	}
	if n := strings.Count(logs.String(), `msg="database unreachable"`); n != 1 {
		t.Fatalf("%d outage lines for %d refused requests, want 1:\n%s", n, 2*len(routes), logs.String())
	}
	if strings.Contains(logs.String(), "level=ERROR msg=\"request failed\"") {
		t.Fatalf("a 503 was logged as a failure:\n%s", logs.String())
	}

	proxy.Start()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, _, _ := call("GET", "/orch/health", "")
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("health still %d after the database came back", code)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, _, body := call("GET", "/orch/runs/R-1", ""); code != http.StatusNotFound {
		t.Fatalf("after: %d %s", code, body)
	}
	if code, _, body := call("POST", "/orch/position-snapshots", upload); code != http.StatusCreated {
		t.Fatalf("upload after: %d %s", code, body)
	}
	if n := strings.Count(logs.String(), `msg="database reachable again"`); n != 1 {
		t.Fatalf("%d recovery lines:\n%s", n, logs.String())
	}
}
