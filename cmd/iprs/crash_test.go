package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/client"
	"github.com/iprs/iprs/internal/config"
	"github.com/iprs/iprs/internal/gen"
	"github.com/iprs/iprs/internal/pricing"
	"github.com/iprs/iprs/internal/service"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/web"
	"github.com/iprs/iprs/internal/worker"
)

// crashLeaseSeconds is the task lease of the worker processes: the
// shortest the configuration allows, so that a killed worker's task comes
// free quickly.
const crashLeaseSeconds = 5

// crashWait bounds every wait of the crash test: a run to end, a worker to
// pick a task up or to exit.
const crashWait = 90 * time.Second

// TestWorkerProcessCrash runs real `iprs serve worker` processes against
// each store and takes them down in the middle of a task:
//
//   - SIGKILL: the killed worker's task stays RUNNING until its lease
//     expires; another worker process then claims it and finishes the run.
//     The run's results must be exactly the pricing engine's, one row per
//     position and scenario, and bit for bit those of a clean run over the
//     same inputs.
//   - SIGTERM: the worker must exit 0 within its grace period having
//     finished or released its task (never leaving it to expire), and the
//     run must still complete with the clean run's results.
//
// The API (marketdata, orchestrator, results) runs in the test process on
// the same database; only the workers are separate processes.
func TestWorkerProcessCrash(t *testing.T) {
	eachProcessStore(t, "the worker crash test (it builds the iprs binary and runs worker processes for a minute)", testWorkerProcessCrash)
}

// eachProcessStore builds the iprs binary and, on each test database
// (migrated by `iprs migrate`), serves the API in the test process and
// calls test with the binary, the database URL for worker processes, the
// store, a client of the API, a context bounded by 5×crashWait and a
// suffix for ids. With -short it skips, naming what as skipped.
func eachProcessStore(t *testing.T, what string, test func(t *testing.T, bin, dbURL string, st store.Store, c *client.Client, ctx context.Context, sfx string)) {
	if testing.Short() {
		t.Skip("-short: skipping " + what)
	}
	bin := buildIPRS(t)
	for _, tdb := range testDatabases(t) {
		t.Run(tdb.name, func(t *testing.T) {
			dbURL := databaseURL(t, tdb.db)
			migrateProcess(t, bin, dbURL)
			st, c := startAPI(t, tdb.db)
			ctx, cancel := context.WithTimeout(context.Background(), 5*crashWait)
			defer cancel()
			test(t, bin, dbURL, st, c, ctx, uniqueSuffix())
		})
	}
}

func testWorkerProcessCrash(t *testing.T, bin, dbURL string, st store.Store, c *client.Client, ctx context.Context, sfx string) {

	// A book big enough that its loan tasks take a while to price and
	// write, so that a worker can be caught holding one.
	marketID := "MKT-CRASH-" + sfx
	gi := MustPushGenerated(t, c, marketID, gen.Options{NodeID: "BOOK-CRASH-" + sfx, AsOf: demoAsOf, Loans: 3000, Bonds: 60, FXForwards: 30, Seed: 29})
	runRequest := func(id string) map[string]any {
		return fullRunRequest(id, marketID, gi.Receipt.PositionSnapshotID, map[string]any{"hash_mod": 4})
	}

	// SIGKILL workers holding a task: one as soon as it has claimed it,
	// one a little later, while it prices or writes. Their tasks stay
	// RUNNING until the leases expire; then a third worker takes them over.
	killID := "RUN-CRASH-KILL-" + sfx
	killRun := submitRun(ctx, t, c, runRequest(killID))
	orphans := map[int64]*store.Task{}
	for i, delay := range []time.Duration{0, 60 * time.Millisecond, 0, 30 * time.Millisecond} {
		if i >= 2 && len(orphans) > 0 {
			break // the last two only stand in when both kills missed
		}
		a := startWorkerProcess(t, bin, dbURL, fmt.Sprintf("A%d", i+1))
		held := waitHolding(ctx, t, st, killID, a)
		time.Sleep(delay)
		a.kill(t)
		n := len(orphans)
		for _, tk := range runTasks(ctx, t, st, killID) {
			if tk.Status == "RUNNING" && ownerPID(tk.LeaseOwner) == a.pid() {
				if tk.Attempts != 1 || tk.LeaseExpiresAt == nil {
					t.Fatalf("killed worker %s's task %+v: want attempt 1 with a lease", a.name, tk)
				}
				orphans[tk.ID] = tk
				t.Logf("SIGKILL %s after %s: task %d (%s bucket %d, %d positions) orphaned, lease until %s", a.name, delay,
					tk.ID, tk.ProductType, tk.Bucket, tk.PositionCount, tk.LeaseExpiresAt.Format(time.RFC3339Nano))
			}
		}
		if len(orphans) == n {
			t.Logf("worker %s finished task %d before SIGKILL reached it", a.name, held.ID)
		}
	}
	if len(orphans) == 0 {
		t.Fatalf("run %s: every killed worker had finished its task before SIGKILL reached it", killID)
	}
	b := startWorkerProcess(t, bin, dbURL, "B")
	killRun = waitCompleted(ctx, t, c, killRun.RunID)
	for _, tk := range runTasks(ctx, t, st, killID) {
		orphan := orphans[tk.ID]
		switch {
		case tk.Status != "SUCCEEDED":
			t.Errorf("task %d ended %s: %s", tk.ID, tk.Status, tk.LastError)
		case orphan != nil:
			if tk.Attempts != 2 {
				t.Errorf("orphaned task %d took %d attempts, want 2 (the killed one and the takeover)", tk.ID, tk.Attempts)
			}
			if tk.FinishedAt == nil || tk.FinishedAt.Before(*orphan.LeaseExpiresAt) {
				t.Errorf("orphaned task %d finished at %v, before its lease expired at %v", tk.ID, tk.FinishedAt, orphan.LeaseExpiresAt)
			}
		case tk.Attempts != 1:
			t.Errorf("task %d took %d attempts, want 1", tk.ID, tk.Attempts)
		}
	}
	// Every task records the worker build's engine version (the worker
	// binary is built without -ldflags, so its version is this one's).
	if v, err := st.RunEngineVersions(ctx, killID); err != nil || len(v) != 1 || v[0] != engineVersion(version) {
		t.Errorf("RunEngineVersions(%s) = %q, %v; want [%s]", killID, v, err, engineVersion(version))
	}
	want := priceDirectly(t, gi.Market, gi.Book, killRun.Scenarios, killRun.Measures, demoAsOf)
	killed := exportedResults(t, c, killID)
	compareResults(t, killID+" against the engine", killed, want)
	checkSummary(t, c, killRun, want)

	// A clean run over the same inputs, priced by the surviving worker:
	// the crashed run's rows and summary must be the same, bit for bit.
	cleanID := "RUN-CRASH-CLEAN-" + sfx
	submitAndWait(t, c, runRequest(cleanID))
	clean := exportedResults(t, c, cleanID)
	compareResults(t, killID+" against clean run "+cleanID, killed, clean)
	compareSummaries(ctx, t, c, killID, cleanID)

	// SIGTERM: an idle worker exits at once; a busy one finishes or gives
	// back its task within its grace period, then exits 0.
	b.terminate(t, worker.DefaultGrace)
	termID := "RUN-CRASH-TERM-" + sfx
	termRun := submitRun(ctx, t, c, runRequest(termID))
	w := startWorkerProcess(t, bin, dbURL, "C")
	held := waitHolding(ctx, t, st, termID, w)
	w.terminate(t, worker.DefaultGrace)
	for _, tk := range runTasks(ctx, t, st, termID) {
		if ownerPID(tk.LeaseOwner) == w.pid() && tk.Status == "RUNNING" {
			t.Fatalf("worker C exited after SIGTERM still holding task %d (%+v): it must finish or release it", tk.ID, tk)
		}
		if tk.ID == held.ID {
			switch tk.Status {
			case "SUCCEEDED":
				t.Logf("SIGTERM: worker C finished task %d within its grace period", tk.ID)
			case "QUEUED":
				t.Logf("SIGTERM: worker C released task %d", tk.ID)
			default:
				t.Fatalf("task %d is %s after worker C stopped: want SUCCEEDED or QUEUED", tk.ID, tk.Status)
			}
		}
	}
	d := startWorkerProcess(t, bin, dbURL, "D")
	waitCompleted(ctx, t, c, termRun.RunID)
	for _, tk := range runTasks(ctx, t, st, termID) {
		// A released attempt is not counted, an expired one would be.
		if tk.Status != "SUCCEEDED" || tk.Attempts != 1 {
			t.Errorf("task %d: %s after %d attempts, want SUCCEEDED after 1 (%s)", tk.ID, tk.Status, tk.Attempts, tk.LastError)
		}
	}
	compareResults(t, termID+" against clean run "+cleanID, exportedResults(t, c, termID), clean)
	compareSummaries(ctx, t, c, termID, cleanID)
	d.terminate(t, worker.DefaultGrace)
}

// fullRunRequest is a SANDBOX run request of every stored measure under
// every built-in scenario, at the demo as-of time.
func fullRunRequest(id, marketID, snapshotID string, execution map[string]any) map[string]any {
	return map[string]any{
		"run_id":               id,
		"run_type":             "SANDBOX",
		"as_of_time":           demoAsOf.Format(time.RFC3339),
		"market_snapshot_id":   marketID,
		"position_snapshot_id": snapshotID,
		"measures":             storedMeasures(),
		"scenarios":            pricing.ScenarioIDs(),
		"execution":            execution,
	}
}

// buildIPRS builds the iprs binary (without the race detector: the test
// exercises process crashes, not the binary's goroutines) into the test's
// temporary directory.
func buildIPRS(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the crash test builds the iprs binary and needs go on PATH: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "iprs")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", bin, ".")
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Logf("built %s in %s", bin, time.Since(start).Round(time.Millisecond))
	return bin
}

// databaseURL is db as a DATABASE_URL for a subprocess.
func databaseURL(t *testing.T, db config.Database) string {
	t.Helper()
	switch db.Driver {
	case config.DriverPostgres:
		return db.DSN
	case config.DriverSQLite:
		return "sqlite:" + db.Path
	}
	t.Fatalf("unsupported driver %q", db.Driver)
	return ""
}

// processEnv is the environment of an iprs subprocess: the test's own,
// less any IPRS setting, plus set.
func processEnv(set map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == config.EnvDatabaseURL || strings.HasPrefix(k, "IPRS_") {
			continue
		}
		env = append(env, kv)
	}
	for k, v := range set {
		env = append(env, k+"="+v)
	}
	return env
}

// migrateProcess applies the schema with `iprs migrate`.
func migrateProcess(t *testing.T, bin, dbURL string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), crashWait)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "migrate")
	cmd.Env = processEnv(map[string]string{config.EnvDatabaseURL: dbURL})
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "version") {
		t.Fatalf("iprs migrate: %v\n%s", err, out)
	}
}

// startAPI serves marketdata, orchestrator and results in the test process
// on the (migrated) database, routed by prefix as in dev mode, with no
// worker. It returns the store, for reading tasks, and a client.
func startAPI(t *testing.T, db config.Database) (store.Store, *client.Client) {
	t.Helper()
	st, url := startAPILogged(t, db, slog.New(slog.DiscardHandler))
	return st, client.New(url, "", nil)
}

// startAPILogged is startAPI logging to logger, returning the server's URL.
func startAPILogged(t *testing.T, db config.Database, logger *slog.Logger) (store.Store, string) {
	t.Helper()
	cfg, err := config.Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	st, err := openStore(context.Background(), db, cfg, false, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("close the store: %v", err)
		}
	})
	p := &platform{st: st, cfg: cfg, logger: logger, version: "test"}
	routes := map[string]http.Handler{}
	for _, spec := range service.All() {
		if spec.Prefix == "" {
			continue
		}
		h, err := p.handler(spec)
		if err != nil {
			t.Fatal(err)
		}
		routes[spec.Prefix] = h
	}
	srv := httptest.NewServer(web.ByPrefix(routes, http.NotFoundHandler()))
	t.Cleanup(srv.Close)
	return st, srv.URL
}

// workerProcess is an `iprs serve worker` subprocess.
type workerProcess struct {
	name   string
	cmd    *exec.Cmd
	stderr *lockedBuffer
	exited chan struct{} // closed when the process has exited
	err    error         // cmd.Wait's answer, once exited is closed
}

// startWorkerProcess starts a worker with one task at a time and a short
// lease. At cleanup it is killed if still running, and its log is shown
// when the test failed.
func startWorkerProcess(t *testing.T, bin, dbURL, name string) *workerProcess {
	t.Helper()
	return startWorkerProcessAt(t, bin, dbURL, name, "127.0.0.1:0") // health and metrics on a port of the system's choosing
}

// startWorkerProcessAt is startWorkerProcess serving health and metrics
// on addr.
func startWorkerProcessAt(t *testing.T, bin, dbURL, name, addr string) *workerProcess {
	t.Helper()
	cmd := exec.Command(bin, "serve", "worker")
	cmd.Env = processEnv(map[string]string{
		config.EnvDatabaseURL:       dbURL,
		config.EnvLeaseSeconds:      strconv.Itoa(crashLeaseSeconds),
		config.EnvWorkerConcurrency: "1",
		config.EnvAddr:              addr,
		config.EnvLogFormat:         "text",
		config.EnvLogLevel:          "info",
	})
	w := &workerProcess{name: name, cmd: cmd, stderr: &lockedBuffer{}, exited: make(chan struct{})}
	cmd.Stdout = w.stderr
	cmd.Stderr = w.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start worker %s: %v", name, err)
	}
	go func() {
		w.err = cmd.Wait()
		close(w.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-w.exited:
		default:
			_ = cmd.Process.Kill()
			<-w.exited
		}
		if t.Failed() {
			t.Logf("worker %s (pid %d) exited with %v; its log:\n%s", name, w.pid(), w.err, w.stderr.String())
		}
	})
	return w
}

func (w *workerProcess) pid() int { return w.cmd.Process.Pid }

// kill sends SIGKILL and waits for the process to be gone.
func (w *workerProcess) kill(t *testing.T) {
	t.Helper()
	if err := w.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill worker %s: %v", w.name, err)
	}
	select {
	case <-w.exited:
	case <-time.After(crashWait):
		t.Fatalf("worker %s did not die after SIGKILL", w.name)
	}
}

// terminate sends SIGTERM and requires an exit with status 0 within grace
// (plus a margin for a loaded machine).
func (w *workerProcess) terminate(t *testing.T, grace time.Duration) {
	t.Helper()
	start := time.Now()
	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM worker %s: %v", w.name, err)
	}
	select {
	case <-w.exited:
	case <-time.After(grace + 10*time.Second):
		t.Fatalf("worker %s still running %s after SIGTERM", w.name, time.Since(start).Round(time.Millisecond))
	}
	if w.err != nil {
		t.Fatalf("worker %s exited with %v after SIGTERM, want status 0", w.name, w.err)
	}
	t.Logf("worker %s exited 0 %s after SIGTERM", w.name, time.Since(start).Round(time.Millisecond))
}

// ownerPID is the process id in a default lease owner,
// "<hostname>-<pid>-<hex>", or -1.
func ownerPID(owner string) int {
	parts := strings.Split(owner, "-")
	if len(parts) < 3 {
		return -1
	}
	pid, err := strconv.Atoi(parts[len(parts)-2])
	if err != nil {
		return -1
	}
	return pid
}

// waitHolding polls the run's tasks until w holds one (RUNNING under its
// lease) and returns it.
func waitHolding(ctx context.Context, t *testing.T, st store.Store, runID string, w *workerProcess) *store.Task {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, crashWait)
	defer cancel()
	for {
		for _, tk := range runTasks(ctx, t, st, runID) {
			if tk.Status == "RUNNING" && ownerPID(tk.LeaseOwner) == w.pid() {
				return tk
			}
		}
		select {
		case <-w.exited:
			t.Fatalf("worker %s exited (%v) before it claimed a task of run %s", w.name, w.err, runID)
		case <-ctx.Done():
			t.Fatalf("worker %s never held a task of run %s: %v", w.name, runID, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func runTasks(ctx context.Context, t *testing.T, st store.Store, runID string) []*store.Task {
	t.Helper()
	tasks, err := st.RunTasks(ctx, runID)
	if err != nil {
		t.Fatalf("tasks of run %s: %v", runID, err)
	}
	if len(tasks) < 4 {
		t.Fatalf("run %s has %d tasks, want several", runID, len(tasks))
	}
	return tasks
}

func submitRun(ctx context.Context, t *testing.T, c *client.Client, req map[string]any) client.Run {
	t.Helper()
	run, created, err := c.SubmitRun(ctx, req)
	if err != nil {
		t.Fatalf("submit run: %v", err)
	}
	if !created {
		t.Fatalf("run %s was not created", run.RunID)
	}
	return run
}

// waitCompleted waits for the run to end and requires it COMPLETED with
// every position done.
func waitCompleted(ctx context.Context, t *testing.T, c *client.Client, runID string) client.Run {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, crashWait)
	defer cancel()
	done, err := c.WaitRun(ctx, runID, 50*time.Millisecond, nil)
	if err != nil {
		t.Fatalf("wait for run %s: %v", runID, err)
	}
	if done.Status != "COMPLETED" {
		why := "no error recorded"
		if done.Error != nil {
			why = *done.Error
		}
		t.Fatalf("run %s ended %s: %s", runID, done.Status, why)
	}
	if done.Progress.PositionsDone != done.Progress.PositionsTotal || done.Progress.PositionsTotal == 0 {
		t.Fatalf("run %s progress %+v", runID, done.Progress)
	}
	return done
}

// compareResults requires got and want to hold the same rows with the same
// values, bit for bit.
func compareResults(t *testing.T, what string, got, want map[string]map[string]float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d result rows, want %d", what, len(got), len(want))
	}
	bad := 0
	for key, w := range want {
		g, ok := got[key]
		switch {
		case !ok:
			t.Errorf("%s: no result for %s", what, key)
		case !sameValues(g, withoutCurrencyKeys(w)):
			t.Errorf("%s: %s is %v, want %v", what, key, g, w)
		default:
			continue
		}
		if bad++; bad == 10 {
			t.Fatalf("%s: stopping after %d differences", what, bad)
		}
	}
}

// compareSummaries requires two runs' summaries to be equal, bit for bit.
func compareSummaries(ctx context.Context, t *testing.T, c *client.Client, runID, cleanID string) {
	t.Helper()
	got, err := c.Summary(ctx, runID)
	if err != nil {
		t.Fatal(err)
	}
	want, err := c.Summary(ctx, cleanID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Scenarios) != len(want.Scenarios) {
		t.Errorf("summary of %s has %d scenarios, clean run %d", runID, len(got.Scenarios), len(want.Scenarios))
	}
	for sc, w := range want.Scenarios {
		g, ok := got.Scenarios[sc]
		if !ok {
			t.Errorf("summary of %s lacks scenario %s", runID, sc)
			continue
		}
		if g.PositionCount != w.PositionCount || !sameValues(flatten(g.Measures), flatten(w.Measures)) || !samePnL(g.PnL, w.PnL) {
			t.Errorf("summary %s/%s = %+v, clean run %+v", runID, sc, g, w)
		}
	}
}

func samePnL(a, b *float64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return math.Float64bits(*a) == math.Float64bits(*b)
}

// lockedBuffer collects a subprocess's output while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// flatten turns a summary's measures into numbers keyed as Figure.Flatten
// does.
func flatten(ms map[string]client.Figure) map[string]float64 {
	out := map[string]float64{}
	for m, f := range ms {
		f.Flatten(m, out)
	}
	return out
}
