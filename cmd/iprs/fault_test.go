package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/client"
	"github.com/iprs/iprs/internal/config"
	"github.com/iprs/iprs/internal/gen"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/store/teststore"
)

// Parameters of the kill test (killWhileRunning): a worker is killed every
// killEvery (±50%), and a task's new holder at once; at most maxKills kills
// in a run and maxKillsPerTask while holding the same task (so that the
// run ends in a bounded time: each kill costs the task a lease,
// crashLeaseSeconds). Fewer than minKills kills of workers holding tasks
// fail the test as too weak.
const (
	killEvery       = 2 * time.Second
	maxKills        = 12
	maxKillsPerTask = 3
	minKills        = 3
	killWorkers     = 3
	killDelay       = 150 * time.Millisecond
)

// TestWorkersKilledEveryFewSeconds runs a valuation on real `iprs serve
// worker` processes, on each store, while a killer SIGKILLs a worker that
// holds a task of the run every few seconds and starts a new one in its
// place. The run asks for max_attempts 1, so a lease expiry counted as an
// attempt would fail it. It must complete, and then:
//
//   - every task SUCCEEDED with no failure, one claim per lease expiry plus
//     the one that succeeded, and no task lost more leases than it was
//     killed holding;
//   - every position priced exactly once under every scenario (the export
//     has no duplicate and no missing row), the progress counts agree with
//     the book and the tasks;
//   - the results are bit for bit the pricing engine's called directly, and
//     bit for bit those of an undisturbed run over the same inputs (rows
//     and summary).
func TestWorkersKilledEveryFewSeconds(t *testing.T) {
	eachProcessStore(t, "the worker kill test (it builds the iprs binary and kills worker processes for half a minute)", testWorkersKilled)
}

func testWorkersKilled(t *testing.T, bin, dbURL string, st store.Store, c *client.Client, ctx context.Context, sfx string) {

	// Loan tasks of about 3,300 loans under every scenario and stored
	// measure: long enough to be caught in on a quiet machine (tasks of a
	// few hundred loans ended before the killer saw their new holder, and
	// the test found the run too quick to attack), short enough for CI.
	marketID := "MKT-KILL-" + sfx
	gi := MustPushGenerated(t, c, marketID, gen.Options{NodeID: "BOOK-KILL-" + sfx, AsOf: demoAsOf, Loans: 20000, Bonds: 60, FXForwards: 30, Seed: 31})
	runRequest := func(id string) map[string]any {
		return fullRunRequest(id, marketID, gi.Receipt.PositionSnapshotID, map[string]any{"hash_mod": 6, "max_attempts": 1})
	}

	killID := "RUN-KILL-" + sfx
	killRun := submitRun(ctx, t, c, runRequest(killID))
	workers := make([]*workerProcess, killWorkers)
	for i := range workers {
		workers[i] = startWorkerProcess(t, bin, dbURL, fmt.Sprintf("W%d", i+1))
	}
	kills, idle := killWhileRunning(ctx, t, st, bin, dbURL, killID, workers)
	killRun = waitCompleted(ctx, t, c, killRun.RunID)
	if len(kills) == 0 {
		t.Fatalf("run %s completed before any worker could be killed holding one of its tasks", killID)
	}

	tasks := runTasks(ctx, t, st, killID)
	expired, positions := 0, int64(0)
	for _, tk := range tasks {
		positions += tk.PositionCount
		expired += tk.LeaseExpiries
		switch {
		case tk.Status != "SUCCEEDED":
			t.Errorf("task %d ended %s: %s", tk.ID, tk.Status, tk.LastError)
		case tk.Failures != 0:
			t.Errorf("task %d: %d failures reported (%s), want none: a killed worker reports nothing", tk.ID, tk.Failures, tk.LastError)
		case tk.LeaseExpiries > kills[tk.ID]:
			t.Errorf("task %d: %d lease expiries, but its holder was killed %d times", tk.ID, tk.LeaseExpiries, kills[tk.ID])
		case tk.Attempts != tk.LeaseExpiries+1:
			t.Errorf("task %d: %d attempts after %d lease expiries, want one more than the expiries", tk.ID, tk.Attempts, tk.LeaseExpiries)
		case tk.MaxAttempts != 1:
			t.Errorf("task %d: max attempts %d, the run asked for 1", tk.ID, tk.MaxAttempts)
		}
	}
	totalKills := 0
	for _, n := range kills {
		totalKills += n
	}
	if totalKills < minKills || expired == 0 {
		t.Errorf("%d kills (want at least %d) and %d leases expired (want some): the run was too quick to attack", totalKills, minKills, expired)
	}
	t.Logf("%d SIGKILLs of workers holding tasks (per task: %v) and %d of idle workers; %d leases expired; run of %d tasks completed with max_attempts 1", totalKills, kills, idle, expired, len(tasks))
	if want := gi.Receipt.PositionCount; positions != want || killRun.Progress.PositionsTotal != want || killRun.Progress.PositionsDone != want {
		t.Errorf("positions: book %d, tasks %d, progress %+v", want, positions, killRun.Progress)
	}
	if n := killRun.Progress.TasksByStatus["SUCCEEDED"]; n != int64(len(tasks)) || killRun.Progress.TasksTotal != int64(len(tasks)) {
		t.Errorf("progress %+v for %d tasks", killRun.Progress, len(tasks))
	}
	if v, err := st.RunEngineVersions(ctx, killID); err != nil || len(v) != 1 || v[0] != engineVersion(version) {
		t.Errorf("RunEngineVersions(%s) = %q, %v; want [%s]", killID, v, err, engineVersion(version))
	}

	// Exactly once: exportedResults fails on a row exported twice, and
	// compareResults on a missing or extra one.
	want := priceDirectly(t, gi.Market, gi.Book, killRun.Scenarios, killRun.Measures, demoAsOf)
	killed := exportedResults(t, c, killID)
	compareResults(t, killID+" against the engine", killed, want)
	checkSummary(t, c, killRun, want)

	cleanID := "RUN-KILL-CLEAN-" + sfx
	submitAndWait(t, c, runRequest(cleanID))
	compareResults(t, killID+" against clean run "+cleanID, killed, exportedResults(t, c, cleanID))
	compareSummaries(ctx, t, c, killID, cleanID)
}

// killWhileRunning SIGKILLs worker processes of workers while the run is
// open, starting a new worker in the place of each, and returns the number
// of kills per task id the killed worker held and the number of kills of
// idle workers. Every killEvery or so (±50%) it kills a worker holding a
// task of the run — a random 0 to killDelay after first seeing it held, so
// that kills land right after the claim and during the work — or, when
// none holds one, an idle worker (between claims, or asleep; not in the
// first killEvery, while the workers start). A task whose
// worker was killed has its next holder killed as soon as it is seen, up
// to maxKillsPerTask times, so that one task loses its lease several times
// over. At most maxKills kills in all.
func killWhileRunning(ctx context.Context, t *testing.T, st store.Store, bin, dbURL, runID string, workers []*workerProcess) (kills map[int64]int, idle int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(11, 17))
	kills = map[int64]int{}
	total := 0
	begin := time.Now()
	next := begin
	seen := map[string]time.Time{} // "task/claim token" → first seen held
	delay := time.Duration(rng.Int64N(int64(killDelay)))
	// kill SIGKILLs workers[i] and counts, once it is dead, the tasks of
	// the run it held then: a claim can land between the killer's read of
	// the tasks and the signal, so what it aimed at is not proof of what a
	// kill cost. A dead worker's leases stay under its name until they
	// expire, so the read after the kill is exact.
	kill := func(i int, aim string) (held []int64) {
		w := workers[i]
		w.kill(t)
		total++
		for _, tk := range runTasks(ctx, t, st, runID) {
			if tk.Status == "RUNNING" && ownerPID(tk.LeaseOwner) == w.pid() {
				kills[tk.ID]++
				held = append(held, tk.ID)
				aim += fmt.Sprintf("; held task %d (claim %d) when killed, kill %d of that task", tk.ID, tk.ClaimToken, kills[tk.ID])
			}
		}
		t.Logf("SIGKILL %s (pid %d) %s", w.name, w.pid(), aim)
		workers[i] = startWorkerProcess(t, bin, dbURL, fmt.Sprintf("W%d", len(workers)+total))
		return held
	}
	for total < maxKills {
		if ctx.Err() != nil {
			t.Fatalf("run %s still open: %v", runID, ctx.Err())
		}
		time.Sleep(5 * time.Millisecond)
		var held []*store.Task
		holder := map[int64]int{} // task id → index in workers
		open := 0
		for _, tk := range runTasks(ctx, t, st, runID) {
			if tk.Status == "QUEUED" || tk.Status == "RUNNING" {
				open++
			}
			if tk.Status != "RUNNING" || kills[tk.ID] >= maxKillsPerTask {
				continue
			}
			for i, w := range workers {
				if ownerPID(tk.LeaseOwner) == w.pid() {
					held = append(held, tk)
					holder[tk.ID] = i
				}
			}
		}
		if open == 0 {
			break
		}
		// The task killed most often first.
		sort.Slice(held, func(i, j int) bool {
			if kills[held[i].ID] != kills[held[j].ID] {
				return kills[held[i].ID] > kills[held[j].ID]
			}
			return held[i].ID < held[j].ID
		})
		var tk *store.Task
		if len(held) > 0 {
			tk = held[0]
			claim := fmt.Sprintf("%d/%d", tk.ID, tk.ClaimToken)
			if _, ok := seen[claim]; !ok {
				seen[claim] = time.Now()
			}
			if kills[tk.ID] == 0 && (time.Now().Before(next) || time.Since(seen[claim]) < delay) {
				tk = nil // not yet
			}
		}
		switch {
		case tk != nil:
			kill(holder[tk.ID], fmt.Sprintf("seen holding task %d (%s bucket %d, claim %d, %d positions)",
				tk.ID, tk.ProductType, tk.Bucket, tk.ClaimToken, tk.PositionCount))
		case time.Now().After(next) && len(held) == 0 && time.Since(begin) > killEvery:
			if len(kill(rng.IntN(len(workers)), "seen holding no task")) == 0 {
				idle++
			}
		default:
			continue
		}
		next = time.Now().Add(killEvery/2 + time.Duration(rng.Int64N(int64(killEvery))))
		delay = time.Duration(rng.Int64N(int64(killDelay)))
	}
	return kills, idle
}

// outageLength is how long TestDatabaseStoppedMidRun keeps the database
// down.
const outageLength = 10 * time.Second

// TestDatabaseStoppedMidRun stops the PostgreSQL server for outageLength in
// the middle of a run: a private cluster of the test's own (never the
// shared server), the API services in the test process and two `iprs
// serve worker` processes on it. While the server is down every service
// answers health and routes with a 503 problem and Retry-After (no 500,
// no hang); the outage is logged once, not per request. When the server is
// back the services and workers recover by themselves — nothing is
// restarted — and the run completes with results bit for bit those of a
// run made before the outage and of the pricing engine.
func TestDatabaseStoppedMidRun(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the database outage test (it starts a PostgreSQL cluster and stops it for 10 s)")
	}
	cluster := teststore.NewCluster(t)
	bin := buildIPRS(t)
	dbURL := cluster.CreateDatabase("iprs")
	db, err := config.ParseDatabaseURL(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	migrateProcess(t, bin, dbURL)
	var logs lockedBuffer
	st, api := startAPILogged(t, db, slog.New(slog.NewTextHandler(&logs, nil)))
	c := client.New(api, "", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*crashWait)
	defer cancel()

	marketID := "MKT-OUTAGE"
	gi := MustPushGenerated(t, c, marketID, gen.Options{NodeID: "BOOK-OUTAGE", AsOf: demoAsOf, Loans: 1200, Bonds: 40, FXForwards: 20, Seed: 37})
	runRequest := func(id string) map[string]any {
		return fullRunRequest(id, marketID, gi.Receipt.PositionSnapshotID, map[string]any{"hash_mod": 8})
	}
	workerAddrs := []string{freeAddr(t), freeAddr(t)}
	workers := make([]*workerProcess, len(workerAddrs))
	for i, addr := range workerAddrs {
		workers[i] = startWorkerProcessAt(t, bin, dbURL, fmt.Sprintf("W%d", i+1), addr)
	}
	clean := submitAndWait(t, c, runRequest("RUN-BEFORE-OUTAGE"))

	// The run under test: the server stops once some of its tasks are
	// done and while others are still open.
	run := submitRun(ctx, t, c, runRequest("RUN-OUTAGE"))
	for {
		tasks := runTasks(ctx, t, st, run.RunID)
		done := 0
		for _, tk := range tasks {
			if tk.Status == "SUCCEEDED" {
				done++
			}
		}
		if done == len(tasks) {
			t.Fatalf("run %s finished before the outage could start: make its book bigger", run.RunID)
		}
		if done > 0 {
			t.Logf("stopping PostgreSQL with %d of %d tasks done", done, len(tasks))
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cluster.Stop("immediate")
	down := time.Now()

	// Health of every service, and routes that read and write.
	hc := &http.Client{Timeout: 30 * time.Second}
	mkt, err := json.Marshal(gen.MarketSnapshot("MKT-DURING-OUTAGE", demoAsOf))
	if err != nil {
		t.Fatal(err)
	}
	newRun, err := json.Marshal(runRequest("RUN-DURING-OUTAGE"))
	if err != nil {
		t.Fatal(err)
	}
	var book bytes.Buffer
	if _, err := gen.WritePositionSnapshot(&book, gen.Options{SnapshotID: "PS-DURING-OUTAGE", NodeID: "BOOK-OUTAGE", AsOf: demoAsOf, Loans: 50, Seed: 41}); err != nil {
		t.Fatal(err)
	}
	probes := []struct {
		method, url string
		body        []byte
	}{
		{"GET", api + "/mkt/health", nil},
		{"GET", api + "/orch/health", nil},
		{"GET", api + "/results/health", nil},
		{"GET", api + "/orch/runs/" + run.RunID, nil},
		{"GET", api + "/orch/runs/" + run.RunID + "/tasks", nil},
		{"GET", api + "/results/runs/" + clean.RunID + "/summary", nil},
		{"GET", api + "/mkt/snapshots/" + marketID, nil},
		{"POST", api + "/mkt/snapshots", mkt},
		{"POST", api + "/orch/runs", newRun},
		{"POST", api + "/orch/position-snapshots", book.Bytes()},
	}
	for _, addr := range workerAddrs {
		probes = append(probes, struct {
			method, url string
			body        []byte
		}{"GET", "http://" + addr + "/health", nil})
	}
	rounds, slowest := 0, time.Duration(0)
	for time.Since(down) < outageLength {
		for _, p := range probes {
			req, err := http.NewRequest(p.method, p.url, bytes.NewReader(p.body))
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			res, err := hc.Do(req)
			if err != nil {
				t.Fatalf("%s %s during the outage: %v", p.method, p.url, err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			slowest = max(slowest, time.Since(start))
			if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" ||
				!strings.HasPrefix(res.Header.Get("Content-Type"), "application/problem+json") {
				t.Fatalf("%s %s %s into the outage: %d, Retry-After %q, %s: %s", p.method, p.url, time.Since(down).Round(time.Millisecond),
					res.StatusCode, res.Header.Get("Retry-After"), res.Header.Get("Content-Type"), body)
			}
		}
		rounds++
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("%d rounds of %d probes during the outage, all 503 problems with Retry-After; slowest answer %s", rounds, len(probes), slowest.Round(time.Millisecond))
	if rounds < 3 {
		t.Errorf("only %d rounds of probes in %s: answers too slow", rounds, outageLength)
	}

	cluster.Start()
	up := time.Now()
	for _, p := range probes[:3] {
		waitHealthy(t, p.url)
	}
	for _, addr := range workerAddrs {
		waitHealthy(t, "http://"+addr+"/health")
	}
	t.Logf("every service healthy %s after the server came back", time.Since(up).Round(time.Millisecond))
	// What was refused during the outage left nothing behind.
	for _, path := range []string{"/mkt/snapshots/MKT-DURING-OUTAGE", "/orch/runs/RUN-DURING-OUTAGE", "/orch/position-snapshots/PS-DURING-OUTAGE"} {
		if _, err := c.Do(ctx, http.MethodGet, path, nil, "", nil); client.StatusOf(err) != http.StatusNotFound {
			t.Errorf("GET %s after the outage: %v, want 404: a refused create was stored", path, err)
		}
	}
	run = waitCompleted(ctx, t, c, run.RunID)
	for _, w := range workers {
		select {
		case <-w.exited:
			t.Errorf("worker %s exited (%v): it must ride out the outage", w.name, w.err)
		default:
		}
	}
	failures, expiries := 0, 0
	for _, tk := range runTasks(ctx, t, st, run.RunID) {
		if tk.Status != "SUCCEEDED" {
			t.Errorf("task %d ended %s: %s", tk.ID, tk.Status, tk.LastError)
		}
		failures += tk.Failures
		expiries += tk.LeaseExpiries
	}
	t.Logf("run %s completed; its tasks saw %d reported failures and %d expired leases", run.RunID, failures, expiries)
	want := priceDirectly(t, gi.Market, gi.Book, run.Scenarios, run.Measures, demoAsOf)
	got := exportedResults(t, c, run.RunID)
	compareResults(t, run.RunID+" against the engine", got, want)
	compareResults(t, run.RunID+" against "+clean.RunID, got, exportedResults(t, c, clean.RunID))
	compareSummaries(ctx, t, c, run.RunID, clean.RunID)

	// One line when the outage begins and one when it ends, however many
	// requests failed meanwhile; the 503s are not logged as failures.
	if n, m := strings.Count(logs.String(), `msg="database unreachable"`), strings.Count(logs.String(), `msg="database reachable again"`); n != 1 || m != 1 {
		t.Errorf("the API logged %d outage and %d recovery lines, want 1 each:\n%s", n, m, logs.String())
	}
	if strings.Contains(logs.String(), "level=ERROR msg=\"request failed\"") {
		t.Errorf("a 503 was logged as a failed request:\n%s", logs.String())
	}
	for _, w := range workers {
		if n := strings.Count(w.stderr.String(), `msg="database unreachable"`); n != 1 {
			t.Errorf("worker %s logged %d outage lines, want 1:\n%s", w.name, n, w.stderr.String())
		}
	}
}
