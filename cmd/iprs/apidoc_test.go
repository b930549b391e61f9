package main

import (
	"context"
	"github.com/iprs/iprs/internal/web"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/apidoc"
	"github.com/iprs/iprs/internal/client"
	"github.com/iprs/iprs/internal/config"
	"github.com/iprs/iprs/internal/gen"
	"github.com/iprs/iprs/internal/pricing"
	"github.com/iprs/iprs/internal/service"
)

// serverRoutes returns every route the servers register, as "METHOD
// /path" with "/{$}" read as "/", and which server has it: the three API
// services, the worker and the `iprs dev` router's own routes.
func serverRoutes(t *testing.T) map[string][]string {
	t.Helper()
	cfg, err := config.Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	db := config.Database{Driver: config.DriverSQLite, Path: filepath.Join(t.TempDir(), "iprs.db")}
	st, err := openStore(context.Background(), db, cfg, true, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	p := &platform{st: st, cfg: cfg, logger: slog.New(slog.DiscardHandler), version: "test"}
	routes := map[string][]string{}
	add := func(server string, infos []web.RouteInfo) {
		for _, info := range infos {
			r := strings.Replace(info.Pattern, "/{$}", "/", 1)
			routes[r] = append(routes[r], server)
		}
	}
	for _, spec := range service.All() {
		if spec.Prefix == "" {
			m, _ := p.workerMux(nil)
			add(string(spec.Name), m.Routes())
			continue
		}
		m, err := p.mux(spec)
		if err != nil {
			t.Fatal(err)
		}
		add(string(spec.Name), m.Routes())
	}
	m, _ := p.workerMux(registerRoot)
	add("dev router", m.Routes())
	return routes
}

// TestAPIDescriptionCoversTheRoutes: every route a server answers is in
// the API description, and the description has no route that no server
// answers.
func TestAPIDescriptionCoversTheRoutes(t *testing.T) {
	t.Parallel()
	doc, err := apidoc.Parse()
	if err != nil {
		t.Fatal(err)
	}
	ops := doc.Operations()
	routes := serverRoutes(t)
	for r, servers := range routes {
		if !slices.Contains(ops, r) {
			t.Errorf("route %q (%s) is not described in internal/apidoc/openapi.json: add it there", r, strings.Join(servers, ", "))
		}
	}
	for _, op := range ops {
		if _, ok := routes[op]; !ok {
			t.Errorf("internal/apidoc/openapi.json describes %q, which no server answers", op)
		}
	}
	if len(ops) < 25 {
		t.Errorf("only %d operations described", len(ops))
	}
}

// TestAPIAnswersMatchDescription sends requests of every kind to a running
// platform and checks each answer's body against the schema the
// description gives for its status and media type.
func TestAPIAnswersMatchDescription(t *testing.T) {
	t.Parallel()
	doc, err := apidoc.Parse()
	if err != nil {
		t.Fatal(err)
	}
	db := config.Database{Driver: config.DriverSQLite, Path: filepath.Join(t.TempDir(), "iprs.db")}
	d := MustStartDev(t, db, nil)
	c := client.New(d.URL, "", nil)
	gi := MustPushGenerated(t, c, "MKT-DOC", gen.Options{SnapshotID: "PS-DOC", NodeID: "BOOK-DOC", AsOf: demoAsOf, Loans: 30, Bonds: 3, FXForwards: 3, Seed: 3})
	submitAndWait(t, c, map[string]any{
		"run_id": "RUN-DOC", "run_type": "SANDBOX", "as_of_time": demoAsOf.Format(time.RFC3339),
		"market_snapshot_id": "MKT-DOC", "position_snapshot_id": gi.Receipt.PositionSnapshotID,
		"measures": []string{"PV", "DV01", "FX_DELTA"}, "scenarios": pricing.ScenarioIDs(),
	})
	run := func(body string) io.Reader { return strings.NewReader(body) }
	for _, rq := range []struct {
		op, path string
		body     io.Reader
		status   int
	}{
		{"GET /health", "/health", nil, 200},
		{"GET /mkt/health", "/mkt/health", nil, 200},
		{"GET /orch/health", "/orch/health", nil, 200},
		{"GET /results/health", "/results/health", nil, 200},
		{"GET /mkt/snapshots", "/mkt/snapshots?limit=1", nil, 200},
		{"GET /mkt/snapshots/{id}", "/mkt/snapshots/MKT-DOC", nil, 200},
		{"GET /mkt/snapshots/{id}", "/mkt/snapshots/NOPE", nil, 404},
		{"POST /mkt/snapshots", "/mkt/snapshots", run(`{"snapshot_id":"X"}`), 400},
		{"POST /mkt/snapshots", "/mkt/snapshots", bytesReader(gi.Market), 200},
		{"GET /orch/position-snapshots/{id}", "/orch/position-snapshots/PS-DOC", nil, 200},
		{"GET /orch/position-snapshots/{id}/positions", "/orch/position-snapshots/PS-DOC/positions?limit=5", nil, 200},
		{"POST /orch/position-snapshots", "/orch/position-snapshots", bytesReader(gi.Book), 200},
		{"GET /orch/runs", "/orch/runs", nil, 200},
		{"GET /orch/runs", "/orch/runs?status=SOMETIMES", nil, 400},
		{"GET /orch/runs/{id}", "/orch/runs/RUN-DOC", nil, 200},
		{"GET /orch/runs/{id}/tasks", "/orch/runs/RUN-DOC/tasks", nil, 200},
		{"POST /orch/runs", "/orch/runs", run(`{"run_type":"SANDBOX","as_of_time":"2026-01-23T17:00:00Z","market_snapshot_id":"NOPE","position_snapshot_id":"PS-DOC","measures":["PV"],"scenarios":["BASE"]}`), 422},
		{"POST /orch/runs/{id}/cancel", "/orch/runs/RUN-DOC/cancel", nil, 409},
		{"POST /orch/runs/{id}/publish", "/orch/runs/RUN-DOC/publish", nil, 200},
		{"POST /orch/explains", "/orch/explains", run(`{"from_run_id":"RUN-DOC","to_run_id":"RUN-DOC"}`), 201},
		{"POST /orch/explains", "/orch/explains", run(`{"from_run_id":"RUN-DOC","to_run_id":"NOPE"}`), 404},
		{"POST /orch/explains", "/orch/explains", run(`{"from_run_id":"RUN-DOC"}`), 400},
		{"GET /orch/explains", "/orch/explains", nil, 200},
		{"GET /orch/explains/{id}", "/orch/explains/EXPLAIN-RUN-DOC-RUN-DOC", nil, 200},
		{"GET /orch/explains/{id}", "/orch/explains/RUN-DOC", nil, 404},
		{"POST /orch/explains/{id}/cancel", "/orch/explains/NOPE/cancel", nil, 404},
		{"GET /results/explains/{id}", "/results/explains/EXPLAIN-RUN-DOC-RUN-DOC?by=product_type", nil, 200},
		{"GET /results/explains/{id}", "/results/explains/EXPLAIN-RUN-DOC-RUN-DOC?by=colour", nil, 400},
		{"GET /orch/runs/{id}/verify", "/orch/runs/RUN-DOC/verify", nil, 404},
		{"POST /orch/runs/{id}/verify", "/orch/runs/RUN-DOC/verify", nil, 202},
		{"POST /orch/runs/{id}/verify", "/orch/runs/NOPE/verify", nil, 404},
		{"GET /orch/runs/{id}/verify", "/orch/runs/RUN-DOC/verify", nil, 200},
		{"GET /results/runs/{id}/summary", "/results/runs/RUN-DOC/summary", nil, 200},
		{"GET /results/runs/{id}/cube", "/results/runs/RUN-DOC/cube?measure=FX_DELTA&by=product_type&scenario=FX_SPOT_1PCT", nil, 200},
		{"GET /results/runs/{id}/cube", "/results/runs/RUN-DOC/cube?measure=PV&by=colour", nil, 400},
		{"GET /results/runs/{id}/positions", "/results/runs/RUN-DOC/positions?limit=7", nil, 200},
		{"GET /results/runs/{id}/positions/{position_id}", "/results/runs/RUN-DOC/positions/POS-LN00000001", nil, 200},
		{"GET /results/runs/{id}/positions/{position_id}", "/results/runs/RUN-DOC/positions/NOPE", nil, 404},
		{"GET /openapi.json", "/openapi.json", nil, 200},
	} {
		method, _, _ := strings.Cut(rq.op, " ")
		req, err := http.NewRequest(method, d.URL+rq.path, rq.body)
		if err != nil {
			t.Fatal(err)
		}
		if rq.body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != rq.status {
			t.Errorf("%s %s: %d, want %d: %s", method, rq.path, res.StatusCode, rq.status, body)
			continue
		}
		mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
		ref, ok := doc.ResponseSchema(rq.op, res.StatusCode, mt)
		if !ok {
			t.Errorf("%s %s: the description has no %s answer %d", method, rq.path, mt, res.StatusCode)
			continue
		}
		if err := doc.ValidateJSON(ref, body); err != nil {
			t.Errorf("%s %s → %d: the answer does not match %s: %v\n%.400s", method, rq.path, res.StatusCode, ref, err, body)
		}
	}
}

// TestExamplesUpload sends examples/ to a running platform through the
// command line, as the examples' README says, and values the run.
func TestExamplesUpload(t *testing.T) {
	t.Parallel()
	db := config.Database{Driver: config.DriverSQLite, Path: filepath.Join(t.TempDir(), "iprs.db")}
	d := MustStartDev(t, db, nil)
	env := map[string]string{"IPRS_URL": d.URL}
	ex := func(name string) string { return filepath.Join("..", "..", "examples", name) }
	for _, args := range [][]string{
		{"push", "market", ex("market.json")},
		{"push", "positions", ex("book.json")},
		{"run", "submit", ex("run.json"), "--watch"},
	} {
		code, stdout, stderr := runIPRS(context.Background(), env, args...)
		if code != 0 {
			t.Fatalf("iprs %v: exit %d\n%s%s", args, code, stdout, stderr)
		}
	}
	c := client.New(d.URL, "", nil)
	s, err := c.Summary(context.Background(), "RUN-EXAMPLE-20260123-EOD")
	if err != nil {
		t.Fatal(err)
	}
	if s.Status != "COMPLETED" || len(s.Scenarios) != 4 {
		t.Fatalf("example run: %+v", s)
	}
	for id, sc := range s.Scenarios {
		if sc.PositionCount != 4 {
			t.Errorf("%s: %d positions valued, want the book's 4", id, sc.PositionCount)
		}
	}
	// The market is clean: every curve and spot the book needs, no issue.
	raw, err := os.ReadFile(ex("market.json"))
	if err != nil {
		t.Fatal(err)
	}
	rec, _, err := c.PushMarketSnapshot(context.Background(), strings.NewReader(string(raw)))
	if err != nil || rec.DQStatus != "PASS" || string(rec.Issues) != "[]" {
		t.Errorf("examples/market.json: %v, dq %s, issues %s", err, rec.DQStatus, rec.Issues)
	}
}

func bytesReader(b []byte) io.Reader { return strings.NewReader(string(b)) }

// TestServeModePublicRoutes: in serve mode, results serves the dashboard
// and redirects / to it, and every API service serves the description,
// all without a token when tokens are set; the API itself still needs one.
func TestServeModePublicRoutes(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "iprs.db"), "IPRS_API_TOKENS": "tok"}
	if code, _, stderr := runIPRS(context.Background(), env, "migrate"); code != 0 {
		t.Fatalf("migrate: %s", stderr)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(url string) (int, string, string) {
		t.Helper()
		res, err := noRedirect.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		return res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Location")
	}
	results := MustServe(t, env, "results")
	for path, want := range map[string]int{"/ui/": 200, "/ui/js/app.js": 200, "/openapi.json": 200, "/": 302, "/results/runs/R/summary": 401} {
		if code, ct, loc := get(results.URL + path); code != want || (code == 302 && loc != "/ui/") {
			t.Errorf("results GET %s: %d %s %s, want %d", path, code, ct, loc, want)
		}
	}
	mkt := MustServe(t, env, "marketdata")
	for path, want := range map[string]int{"/openapi.json": 200, "/ui/": 401, "/mkt/snapshots": 401} {
		if code, _, _ := get(mkt.URL + path); code != want {
			t.Errorf("marketdata GET %s: %d, want %d", path, code, want)
		}
	}
}
