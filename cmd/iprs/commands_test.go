package main

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/client"
	"github.com/iprs/iprs/internal/config"
)

// runIPRS runs the command line in-process with env as the environment.
func runIPRS(ctx context.Context, env map[string]string, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(ctx, args, func(k string) string { return env[k] }, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestServeRequiresDatabaseURL(t *testing.T) {
	t.Parallel()
	code, _, stderr := runIPRS(context.Background(), nil, "serve", "marketdata")
	if code == 0 || !strings.Contains(stderr, "DATABASE_URL") {
		t.Fatalf("exit %d, stderr %q: want a failure naming DATABASE_URL", code, stderr)
	}
	code, _, stderr = runIPRS(context.Background(), nil, "serve", "billing")
	if code == 0 || !strings.Contains(stderr, "billing") {
		t.Fatalf("exit %d, stderr %q: want an unknown service refused", code, stderr)
	}
}

func TestMigrateThenServe(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "iprs.db")}

	// serve refuses a database without the schema, naming the fix.
	code, _, stderr := runIPRS(context.Background(), env, "serve", "results")
	if code == 0 || !strings.Contains(stderr, "migrate") {
		t.Fatalf("serve on an empty database: exit %d, stderr %q", code, stderr)
	}
	for range 2 { // migrate twice: the second run changes nothing
		code, stdout, stderr := runIPRS(context.Background(), env, "migrate")
		if code != 0 || !strings.Contains(stdout, "version") {
			t.Fatalf("migrate: exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
	}

	srv := MustServe(t, env, "marketdata")
	resp, err := http.Get(srv.URL + "/mkt/snapshots")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /mkt/snapshots: %d", resp.StatusCode)
	}
	srv.Stop(t) // as SIGTERM does
}

// serveProcess is `iprs serve SERVICE` running in the test process.
type serveProcess struct {
	URL    string
	name   string
	cancel context.CancelFunc
	done   chan int
	once   sync.Once
}

// MustServe runs `iprs serve name` with env on a free port (IPRS_ADDR)
// until it answers GET /health, and stops it at cleanup if the test has
// not.
func MustServe(t *testing.T, env map[string]string, name string) *serveProcess {
	t.Helper()
	e := maps.Clone(env)
	addr := freeAddr(t)
	e["IPRS_ADDR"] = addr
	ctx, cancel := context.WithCancel(context.Background())
	s := &serveProcess{URL: "http://" + addr, name: name, cancel: cancel, done: make(chan int, 1)}
	go func() {
		code, _, _ := runIPRS(ctx, e, "serve", name)
		s.done <- code
	}()
	t.Cleanup(func() { s.Stop(t) })
	waitHealthy(t, s.URL+"/health")
	return s
}

// Stop cancels the service's context, as SIGTERM does, and requires it to
// exit 0 within 30 s. Later calls do nothing.
func (s *serveProcess) Stop(t *testing.T) {
	t.Helper()
	s.once.Do(func() {
		s.cancel()
		select {
		case code := <-s.done:
			if code != 0 {
				t.Errorf("serve %s exited %d after shutdown", s.name, code)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("serve %s did not stop after its context ended", s.name)
		}
	})
}

func TestDevRequiresTokensWhenConfigured(t *testing.T) {
	t.Parallel()
	db := config.Database{Driver: config.DriverSQLite, Path: filepath.Join(t.TempDir(), "iprs.db")}
	d := MustStartDev(t, db, map[string]string{"IPRS_API_TOKENS": "alpha, beta"})
	for _, path := range []string{"/health", "/mkt/health", "/orch/health", "/results/health"} {
		resp, err := http.Get(d.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s without a token: %d, want 200 (health is exempt)", path, resp.StatusCode)
		}
	}
	ctx := context.Background()
	if _, err := client.New(d.URL, "", nil).GetRun(ctx, "nope"); client.StatusOf(err) != http.StatusUnauthorized {
		t.Errorf("no token: %v, want 401", err)
	}
	if _, err := client.New(d.URL, "gamma", nil).GetRun(ctx, "nope"); client.StatusOf(err) != http.StatusUnauthorized {
		t.Errorf("wrong token: %v, want 401", err)
	}
	if _, err := client.New(d.URL, "beta", nil).GetRun(ctx, "nope"); client.StatusOf(err) != http.StatusNotFound {
		t.Errorf("good token: %v, want 404 for an unknown run", err)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func waitHealthy(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s never answered 200", url)
}

// TestClientCommands drives a running platform through the client commands
// as a user would: push both snapshots, submit and watch a run, inspect it,
// export it and publish it.
func TestClientCommands(t *testing.T) {
	t.Parallel()
	_, env, dir, mustRun := MustCLI(t)
	ctx := context.Background()
	book, market := filepath.Join(dir, "book.json"), filepath.Join(dir, "market.json")
	mustRun("gen", "--loans", "300", "--bonds", "5", "--fx-forwards", "5", "--id", "PS-CLI", "-o", book, "--market", market)
	if out := mustRun("push", "market", market); !strings.Contains(out, "MKT-20260123-1700Z stored") {
		t.Errorf("push market: %q", out)
	}
	if out := mustRun("push", "positions", book); !strings.Contains(out, "PS-CLI stored: 310 positions") {
		t.Errorf("push positions: %q", out)
	}
	if out := mustRun("push", "positions", book); !strings.Contains(out, "already stored") {
		t.Errorf("second push of the same snapshot: %q", out)
	}
	req := filepath.Join(dir, "run.json")
	if err := os.WriteFile(req, []byte(`{"run_id":"RUN-CLI","run_type":"SANDBOX","as_of_time":"2026-01-23T17:00:00Z",
		"market_snapshot_id":"MKT-20260123-1700Z","position_snapshot_id":"PS-CLI",
		"measures":["PV","DV01"],"scenarios":["BASE",{"scenario_set_id":"SPREAD_25BP"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := mustRun("run", "submit", req, "--watch"); !strings.Contains(out, "COMPLETED") {
		t.Errorf("run submit --watch: %q", out)
	}
	if out := mustRun("run", "summary", "RUN-CLI"); !strings.Contains(out, "SPREAD_25BP") || !strings.Contains(out, "310") {
		t.Errorf("run summary: %q", out)
	}
	if out := mustRun("run", "cube", "RUN-CLI", "--by", "product_type"); !strings.Contains(out, "AMORT_LOAN") || !strings.Contains(out, "FX_FWD") {
		t.Errorf("run cube: %q", out)
	}
	csvPath := filepath.Join(dir, "out.csv")
	mustRun("run", "export", "RUN-CLI", "--scenario", "BASE", "-o", csvPath)
	b, err := os.ReadFile(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(string(b), "\n"); lines != 311 { // header + 310 positions under BASE
		t.Errorf("export has %d lines, want 311", lines)
	}
	if out := mustRun("run", "publish", "RUN-CLI"); !strings.Contains(out, "PUBLISHED") {
		t.Errorf("run publish: %q", out)
	}
	code, _, stderr := runIPRS(ctx, env, "run", "status", "RUN-NOPE")
	if code == 0 || !strings.Contains(stderr, "404") {
		t.Errorf("status of an unknown run: exit %d, stderr %q", code, stderr)
	}

	// Retention: an unpublished completed run goes, the published one stays.
	req2 := filepath.Join(dir, "run2.json")
	if err := os.WriteFile(req2, []byte(`{"run_id":"RUN-CLI-2","run_type":"SANDBOX","as_of_time":"2026-01-23T17:00:00Z",
		"market_snapshot_id":"MKT-20260123-1700Z","position_snapshot_id":"PS-CLI","measures":["PV"],"scenarios":["BASE"]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun("run", "submit", req2, "--watch")
	if out := mustRun("purge", "--unpublished-older-than", "1d"); !strings.Contains(out, "deleted 0 run(s)") {
		t.Errorf("purge of day-old runs: %q", out)
	}
	if out := mustRun("purge", "--unpublished-older-than", "0s", "--dry-run"); !strings.Contains(out, "would delete RUN-CLI-2") || strings.Contains(out, "RUN-CLI\n") {
		t.Errorf("purge --dry-run: %q", out)
	}
	if out := mustRun("purge", "--unpublished-older-than", "0s"); !strings.Contains(out, "deleted RUN-CLI-2") || !strings.Contains(out, "deleted 1 run(s)") {
		t.Errorf("purge: %q", out)
	}
	if code, _, stderr := runIPRS(ctx, env, "run", "status", "RUN-CLI-2"); code == 0 || !strings.Contains(stderr, "404") {
		t.Errorf("status of the purged run: exit %d, stderr %q", code, stderr)
	}
	if out := mustRun("run", "status", "RUN-CLI"); !strings.Contains(out, "PUBLISHED") {
		t.Errorf("the published run after purge: %q", out)
	}
	for _, bad := range []string{"10", "5w", "-1d", "d"} {
		if code, _, stderr := runIPRS(ctx, env, "purge", "--unpublished-older-than", bad); code == 0 || !strings.Contains(stderr, "unpublished-older-than") {
			t.Errorf("purge --unpublished-older-than %s: exit %d, stderr %q", bad, code, stderr)
		}
	}
}

// MustCLI starts a dev platform on a fresh SQLite database and returns it,
// the environment that points the command line at it, a scratch directory,
// and a function that runs the command line there, failing the test on a
// non-zero exit and returning its standard output.
func MustCLI(t *testing.T) (d *devPlatform, env map[string]string, dir string, mustRun func(args ...string) string) {
	t.Helper()
	db := config.Database{Driver: config.DriverSQLite, Path: filepath.Join(t.TempDir(), "iprs.db")}
	d = MustStartDev(t, db, nil)
	env = map[string]string{"IPRS_URL": d.URL}
	mustRun = func(args ...string) string {
		t.Helper()
		code, stdout, stderr := runIPRS(context.Background(), env, args...)
		if code != 0 {
			t.Fatalf("iprs %v: exit %d\nstdout: %s\nstderr: %s", args, code, stdout, stderr)
		}
		return stdout
	}
	return d, env, t.TempDir(), mustRun
}

// TestServeOrchestratorPublishesQueueMetrics runs `iprs serve
// orchestrator` with IPRS_METRICS_NAMESPACE and reads its stdout: an
// Embedded Metric Format line of the (empty) task queue, JSON although
// the log format is text, and nothing else.
func TestServeOrchestratorPublishesQueueMetrics(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"DATABASE_URL":           "sqlite:" + filepath.Join(t.TempDir(), "iprs.db"),
		"IPRS_METRICS_NAMESPACE": "IPRS/test",
		"IPRS_LOG_FORMAT":        "text",
	}
	if code, _, stderr := runIPRS(context.Background(), env, "migrate"); code != 0 {
		t.Fatalf("migrate: exit %d: %s", code, stderr)
	}
	env["IPRS_ADDR"] = freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "orchestrator"}, func(k string) string { return env[k] }, strings.NewReader(""), &stdout, &stderr)
	}()
	waitHealthy(t, "http://"+env["IPRS_ADDR"]+"/health")
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(stdout.String(), "\n") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve orchestrator exited %d: %s", code, stderr.String())
	}
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	if len(lines) != 1 {
		t.Fatalf("stdout has %d lines, want one metrics line:\n%s", len(lines), stdout.String())
	}
	var got struct {
		QueueDepth, OldestQueuedTaskAge *float64
		Service                         string
		AWS                             struct {
			CloudWatchMetrics []struct{ Namespace string }
		} `json:"_aws"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
		t.Fatalf("metrics line is not JSON: %v\n%s", err, lines[0])
	}
	if got.QueueDepth == nil || *got.QueueDepth != 0 || got.OldestQueuedTaskAge == nil || *got.OldestQueuedTaskAge != 0 ||
		got.Service != "orchestrator" || len(got.AWS.CloudWatchMetrics) != 1 || got.AWS.CloudWatchMetrics[0].Namespace != "IPRS/test" {
		t.Errorf("metrics line %s: want an empty queue in IPRS/test from the orchestrator", lines[0])
	}
}
