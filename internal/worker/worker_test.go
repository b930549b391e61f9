package worker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/store/storetest"
	"github.com/iprs/iprs/internal/store/teststore"
)

func TestThreeWorkersPriceARunExactlyOnce(t *testing.T) {
	t.Parallel()
	for _, o := range teststore.Backends() {
		t.Run(o.Name, func(t *testing.T) {
			t.Parallel()
			testThreeWorkers(t, o.Open(t))
		})
	}
}

func testThreeWorkers(t *testing.T, st store.Store) {
	f := MustFixture(t, st, "RUN-MIXED", mixedBook(t, "P", 320), 4, 3)
	if len(f.tasks) != 12 {
		t.Fatalf("fixture has %d tasks, want 12 (3 product types × 4 buckets)", len(f.tasks))
	}
	reg := prometheus.NewRegistry()
	for i := 0; i < 3; i++ {
		opts := fastOptions(fmt.Sprintf("w%d", i))
		opts.Registry = reg
		opts.EngineVersion = "iprs-pricing/test-7"
		started(t, New(st, testLogger(t), opts))
	}
	run := waitRun(t, st, f.run.ID, 60*time.Second, store.RunCompleted, store.RunFailed)
	if run.Status != store.RunCompleted {
		t.Fatalf("run status %s (%s), want COMPLETED", run.Status, run.Error)
	}
	f.checkResults(t)

	tasks, err := st.RunTasks(context.Background(), f.run.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		if task.Status != store.TaskSucceeded || task.Attempts != 1 || task.EngineVersion != "iprs-pricing/test-7" {
			t.Errorf("task %d: %s after %d attempts by engine %q, want SUCCEEDED after 1 by iprs-pricing/test-7",
				task.ID, task.Status, task.Attempts, task.EngineVersion)
		}
	}
	if v, err := st.RunEngineVersions(context.Background(), f.run.ID); err != nil || len(v) != 1 || v[0] != "iprs-pricing/test-7" {
		t.Errorf("RunEngineVersions = %q, %v; want [iprs-pricing/test-7]", v, err)
	}
	if got := counterValue(t, reg, "iprs_worker_tasks_succeeded_total"); got != 12 {
		t.Errorf("succeeded counter = %v, want 12", got)
	}
	if got := counterValue(t, reg, "iprs_worker_positions_priced_total"); got != 320 {
		t.Errorf("positions counter = %v, want 320", got)
	}
	if got := counterValue(t, reg, "iprs_worker_tasks_claimed_total"); got != 12 {
		t.Errorf("claimed counter = %v, want 12", got)
	}
}

// counterValue sums the values of a counter family of the registry.
func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		sum := 0.0
		for _, m := range mf.GetMetric() {
			sum += m.GetCounter().GetValue()
		}
		return sum
	}
	t.Fatalf("metric %s is not registered", name)
	return 0
}

func TestCancelledWorkerReleasesItsTaskToAnother(t *testing.T) {
	t.Parallel()
	st := MustOpen(t)
	f := MustFixture(t, st, "RUN-RELEASE", mixedBook(t, "R", 40), 1, 3)

	// Worker A blocks inside its first task until its context ends.
	inTask := make(chan int64, 1)
	blocking := &hookStore{Store: st}
	blocking.taskPositions = func(ctx context.Context, task *store.Task, fn func(*store.Position) error) error {
		inTask <- task.ID
		<-ctx.Done()
		return fmt.Errorf("read positions: %w", ctx.Err())
	}
	optsA := fastOptions("worker-a")
	optsA.Concurrency = 1
	optsA.Grace = 50 * time.Millisecond
	stopA := started(t, New(blocking, testLogger(t), optsA))
	var taskID int64
	select {
	case taskID = <-inTask:
	case <-time.After(30 * time.Second):
		t.Fatal("worker A did not start a task")
	}
	stopA()

	task := storetest.MustTask(t, context.Background(), st, f.run.ID, taskID)
	if task.Status != store.TaskQueued || task.Attempts != 0 || task.LeaseExpiresAt != nil {
		t.Fatalf("after shutdown task %d is %s with %d attempts, lease %v; want QUEUED, 0 attempts, no lease",
			task.ID, task.Status, task.Attempts, task.LeaseExpiresAt)
	}

	started(t, New(st, testLogger(t), fastOptions("worker-b")))
	run := waitRun(t, st, f.run.ID, 60*time.Second, store.RunCompleted, store.RunFailed)
	if run.Status != store.RunCompleted {
		t.Fatalf("run %s: %s", run.Status, run.Error)
	}
	f.checkResults(t)
	task = storetest.MustTask(t, context.Background(), st, f.run.ID, taskID)
	if task.LeaseOwner != "worker-b" || task.Attempts != 1 {
		t.Errorf("task finished by %s after %d attempts, want worker-b after 1", task.LeaseOwner, task.Attempts)
	}
}

func TestShutdownLetsATaskFinishWithinGrace(t *testing.T) {
	t.Parallel()
	st := MustOpen(t)
	f := MustFixture(t, st, "RUN-GRACE", mixedBook(t, "G", 12), 1, 3)

	inTask := make(chan struct{})
	proceed := make(chan struct{})
	var once sync.Once
	h := &hookStore{Store: st}
	h.taskPositions = func(ctx context.Context, task *store.Task, fn func(*store.Position) error) error {
		once.Do(func() { close(inTask) })
		<-proceed
		return st.TaskPositions(ctx, task, fn)
	}
	opts := fastOptions("graceful")
	opts.Concurrency = 1
	opts.Grace = 30 * time.Second
	stop := started(t, New(h, testLogger(t), opts))
	<-inTask
	done := make(chan struct{})
	go func() { stop(); close(done) }()
	// Run must wait for the task in flight rather than release it.
	select {
	case <-done:
		t.Fatal("Run returned while a task was in flight within its grace period")
	case <-time.After(100 * time.Millisecond):
	}
	close(proceed)
	<-done
	tasks, err := st.RunTasks(context.Background(), f.run.ID)
	if err != nil {
		t.Fatal(err)
	}
	succeeded := 0
	for _, task := range tasks {
		if task.Status == store.TaskSucceeded {
			succeeded++
		} else if task.Status != store.TaskQueued {
			t.Errorf("task %d is %s, want SUCCEEDED or untouched", task.ID, task.Status)
		}
	}
	if succeeded != 1 {
		t.Errorf("%d tasks succeeded, want exactly the one in flight at shutdown", succeeded)
	}
}

func TestExpiredLeaseIsReclaimedWithoutDuplicates(t *testing.T) {
	t.Parallel()
	for _, o := range teststore.Backends() {
		t.Run(o.Name, func(t *testing.T) {
			t.Parallel()
			testExpiredLease(t, o.Open(t))
		})
	}
}

func testExpiredLease(t *testing.T, st store.Store) {
	ctx := context.Background()
	f := MustFixture(t, st, "RUN-CRASH", mixedBook(t, "C", 60), 2, 3)

	// A worker claims a task and crashes: it never completes nor releases.
	crashed, err := st.TaskClaim(ctx, store.TaskClaimParams{Owner: "crashed-worker", Lease: 200 * time.Millisecond})
	if err != nil {
		t.Fatalf("claim by the worker that crashes: %v", err)
	}

	started(t, New(st, testLogger(t), fastOptions("survivor")))
	run := waitRun(t, st, f.run.ID, 60*time.Second, store.RunCompleted, store.RunFailed)
	if run.Status != store.RunCompleted {
		t.Fatalf("run %s: %s", run.Status, run.Error)
	}
	task := storetest.MustTask(t, ctx, st, f.run.ID, crashed.ID)
	if task.LeaseOwner != "survivor" || task.Attempts != 2 || task.Status != store.TaskSucceeded {
		t.Errorf("crashed task: %s by %s after %d attempts, want SUCCEEDED by survivor after 2",
			task.Status, task.LeaseOwner, task.Attempts)
	}
	// The crashed worker coming back cannot write its results any more.
	err = st.TaskComplete(ctx, store.TaskCompleteParams{ClaimRef: crashed.Ref(),
		Results: []*store.PositionResult{{RunID: f.run.ID, PositionSnapshotID: f.run.PositionSnapshotIDs[0],
			PositionID: f.positions[0].PositionID, ProductType: f.positions[0].ProductType, Values: []byte{0}}}})
	if apperr.CodeOf(err) != apperr.Conflict {
		t.Errorf("late TaskComplete by the crashed owner: %v, want Conflict", err)
	}
	f.checkResults(t)
}

func TestCrashesDoNotUseUpAttempts(t *testing.T) {
	t.Parallel()
	for _, o := range teststore.Backends() {
		t.Run(o.Name, func(t *testing.T) {
			t.Parallel()
			testCrashesDoNotUseUpAttempts(t, o.Open(t))
		})
	}
}

// testCrashesDoNotUseUpAttempts: with max_attempts 1, two workers crash
// holding the same task (their leases expire); a third finishes it. Lease
// expiries are not failures, so the run completes.
func testCrashesDoNotUseUpAttempts(t *testing.T, st store.Store) {
	ctx := context.Background()
	f := MustFixture(t, st, "RUN-CRASHES", mixedBook(t, "K", 30), 1, 1)
	const lease = 100 * time.Millisecond
	var crashed *store.Task
	for i := range 2 {
		tk, err := st.TaskClaim(ctx, store.TaskClaimParams{Owner: "crashing-worker", Lease: lease})
		if err != nil {
			t.Fatalf("claim %d by the worker that crashes: %v", i+1, err)
		}
		if crashed != nil && tk.ID != crashed.ID {
			t.Fatalf("second crashed claim took task %d, want the expired task %d", tk.ID, crashed.ID)
		}
		crashed = tk
		time.Sleep(2 * lease) // the worker is gone; its lease expires
	}
	started(t, New(st, testLogger(t), fastOptions("survivor")))
	run := waitRun(t, st, f.run.ID, 60*time.Second, store.RunCompleted, store.RunFailed)
	if run.Status != store.RunCompleted {
		t.Fatalf("run %s (%s), want COMPLETED", run.Status, run.Error)
	}
	task := storetest.MustTask(t, ctx, st, f.run.ID, crashed.ID)
	if task.Status != store.TaskSucceeded || task.LeaseOwner != "survivor" || task.Attempts != 3 || task.LeaseExpiries != 2 || task.Failures != 0 {
		t.Errorf("crashed task: %s by %s after %d attempts, %d lease expiries, %d failures; want SUCCEEDED by survivor after 3, 2, 0",
			task.Status, task.LeaseOwner, task.Attempts, task.LeaseExpiries, task.Failures)
	}
	f.checkResults(t)
}

func TestUnpriceablePositionKillsTaskAndFailsRun(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		bad    func(t *testing.T) *store.Position
		reason string
	}{
		{
			name: "does not parse",
			bad: func(t *testing.T) *store.Position {
				return storetest.Pos("BAD-1", "AMORT_LOAN", 1, `{"current_principal":1000,"last_payment_date":"2026-01-01","remaining_term_months":12,"next_payment_date":"2026-02-01"}`)
			},
			reason: "coupon_rate",
		},
		{
			name: "market lacks its FX spot",
			bad: func(t *testing.T) *store.Position {
				return storetest.Pos("BAD-1", "FX_FWD", 1, `{"notional_base":1000,"forward_rate":150,"maturity_date":"2026-06-01","fx_pair":"JPYUSD"}`)
			},
			reason: "JPYUSD",
		},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			st := MustOpen(t)
			ctx := context.Background()
			positions := append(mixedBook(t, "OK", 20), c.bad(t))
			f := MustFixture(t, st, fmt.Sprintf("RUN-BAD-%d", i), positions, 1, 3)
			reg := prometheus.NewRegistry()
			opts := fastOptions("w")
			opts.Registry = reg
			started(t, New(st, testLogger(t), opts))
			run := waitRun(t, st, f.run.ID, 60*time.Second, store.RunCompleted, store.RunFailed)
			if run.Status != store.RunFailed {
				t.Fatalf("run %s, want FAILED", run.Status)
			}
			if !strings.Contains(run.Error, "BAD-1") {
				t.Errorf("run error %q does not name the position", run.Error)
			}
			tasks, err := st.RunTasks(ctx, f.run.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, task := range tasks {
				if task.ProductType == positions[len(positions)-1].ProductType {
					if task.Status != store.TaskDead || task.Attempts != 1 {
						t.Errorf("bad task: %s after %d attempts, want DEAD after 1", task.Status, task.Attempts)
					}
					if !strings.HasPrefix(task.LastError, "position BAD-1: ") || !strings.Contains(task.LastError, c.reason) {
						t.Errorf("last_error %q, want \"position BAD-1: …%s…\"", task.LastError, c.reason)
					}
				} else if task.Status != store.TaskSucceeded {
					t.Errorf("task %s: %s, want SUCCEEDED", task.ProductType, task.Status)
				}
			}
			// No result of the dead task was written.
			for _, r := range allResults(t, st, f.run.ID) {
				if r.ProductType == positions[len(positions)-1].ProductType {
					t.Fatalf("result row %s of the dead task was written", r.PositionID)
				}
			}
			if got := counterValue(t, reg, "iprs_worker_tasks_dead_total"); got != 1 {
				t.Errorf("dead counter = %v, want 1", got)
			}
		})
	}
}

// errDatabase stands for a failure of the database.
var errDatabase = errors.New("database is locked")

func TestTransientFailuresAreRetriedThenSucceed(t *testing.T) {
	t.Parallel()
	st := MustOpen(t)
	f := MustFixture(t, st, "RUN-FLAKY", mixedBook(t, "F", 30), 1, 3)
	var failures atomic.Int32
	flaky := &hookStore{Store: st}
	flaky.taskComplete = func(ctx context.Context, p store.TaskCompleteParams) error {
		// The first two completions of the FX_FWD task fail.
		for _, r := range p.Results {
			if r.ProductType == "FX_FWD" && failures.Load() < 2 {
				failures.Add(1)
				return fmt.Errorf("commit results: %w", errDatabase)
			}
			break
		}
		return st.TaskComplete(ctx, p)
	}
	var backoffCalls []int
	var mu sync.Mutex
	opts := fastOptions("w")
	opts.Concurrency = 1
	opts.Backoff = func(attempt int) time.Duration {
		mu.Lock()
		backoffCalls = append(backoffCalls, attempt)
		mu.Unlock()
		return 20 * time.Millisecond
	}
	started(t, New(flaky, testLogger(t), opts))
	run := waitRun(t, st, f.run.ID, 60*time.Second, store.RunCompleted, store.RunFailed)
	if run.Status != store.RunCompleted {
		t.Fatalf("run %s (%s), want COMPLETED", run.Status, run.Error)
	}
	for _, task := range storetestTasks(t, st, f.run.ID) {
		want := 1
		if task.ProductType == "FX_FWD" {
			want = 3
		}
		if task.Status != store.TaskSucceeded || task.Attempts != want {
			t.Errorf("task %s: %s after %d attempts, want SUCCEEDED after %d", task.ProductType, task.Status, task.Attempts, want)
		}
	}
	mu.Lock()
	if fmt.Sprint(backoffCalls) != "[1 2]" {
		t.Errorf("backoff asked for attempts %v, want [1 2]", backoffCalls)
	}
	mu.Unlock()
	f.checkResults(t)
}

func TestTransientFailuresUpToMaxAttemptsKillTheTask(t *testing.T) {
	t.Parallel()
	st := MustOpen(t)
	f := MustFixture(t, st, "RUN-DOWN", mixedBook(t, "D", 12), 1, 3)
	broken := &hookStore{Store: st}
	broken.taskComplete = func(ctx context.Context, p store.TaskCompleteParams) error {
		if p.Results[0].ProductType == "FIXED_BOND" {
			return fmt.Errorf("commit results: %w", errDatabase)
		}
		return st.TaskComplete(ctx, p)
	}
	started(t, New(broken, testLogger(t), fastOptions("w")))
	run := waitRun(t, st, f.run.ID, 60*time.Second, store.RunCompleted, store.RunFailed)
	if run.Status != store.RunFailed {
		t.Fatalf("run %s, want FAILED", run.Status)
	}
	for _, task := range storetestTasks(t, st, f.run.ID) {
		if task.ProductType != "FIXED_BOND" {
			continue
		}
		if task.Status != store.TaskDead || task.Attempts != 3 {
			t.Errorf("bond task: %s after %d attempts, want DEAD after 3", task.Status, task.Attempts)
		}
		if !strings.Contains(task.LastError, errDatabase.Error()) {
			t.Errorf("last_error %q does not carry the failure", task.LastError)
		}
	}
}

func TestCancelledRunStopsFurtherTasks(t *testing.T) {
	t.Parallel()
	st := MustOpen(t)
	f := MustFixture(t, st, "RUN-CANCEL", mixedBook(t, "X", 80), 3, 3)
	var completed atomic.Int32
	h := &hookStore{Store: st}
	h.taskComplete = func(ctx context.Context, p store.TaskCompleteParams) error {
		if err := st.TaskComplete(ctx, p); err != nil {
			return err
		}
		if completed.Add(1) == 1 {
			if _, err := st.RunCancel(ctx, f.run.ID); err != nil {
				t.Errorf("RunCancel: %v", err)
			}
		}
		return nil
	}
	opts := fastOptions("w")
	opts.Concurrency = 1
	started(t, New(h, testLogger(t), opts))
	waitRun(t, st, f.run.ID, 60*time.Second, store.RunCancelled)
	time.Sleep(50 * time.Millisecond) // a worker that kept claiming would act now
	succeeded := 0
	for _, task := range storetestTasks(t, st, f.run.ID) {
		switch task.Status {
		case store.TaskSucceeded:
			succeeded++
		case store.TaskCancelled:
		default:
			t.Errorf("task %d is %s, want SUCCEEDED or CANCELLED", task.ID, task.Status)
		}
	}
	if succeeded != 1 || completed.Load() != 1 {
		t.Errorf("%d tasks succeeded (%d completions), want 1", succeeded, completed.Load())
	}
}

func TestLeaseLostMidTaskAbandonsWithoutWriting(t *testing.T) {
	t.Parallel()
	st := MustOpen(t)
	ctx := context.Background()
	f := MustFixture(t, st, "RUN-LOST", mixedBook(t, "L", 8), 1, 3)
	inTask := make(chan struct{})
	var once sync.Once
	h := &hookStore{Store: st}
	h.taskPositions = func(ctx context.Context, task *store.Task, fn func(*store.Position) error) error {
		once.Do(func() { close(inTask) })
		<-ctx.Done() // only the loss of the lease ends this
		return ctx.Err()
	}
	var wrote atomic.Bool
	h.taskComplete = func(ctx context.Context, p store.TaskCompleteParams) error {
		wrote.Store(true)
		return st.TaskComplete(ctx, p)
	}
	opts := fastOptions("w")
	opts.Concurrency = 1
	opts.Lease = 150 * time.Millisecond
	started(t, New(h, testLogger(t), opts))
	<-inTask
	if _, err := st.RunCancel(ctx, f.run.ID); err != nil {
		t.Fatal(err)
	}
	run := waitRun(t, st, f.run.ID, 30*time.Second, store.RunCancelled)
	if run.Status != store.RunCancelled {
		t.Fatalf("run %s", run.Status)
	}
	if wrote.Load() {
		t.Error("the worker tried to complete a task whose run was cancelled")
	}
	if rows := allResults(t, st, f.run.ID); len(rows) != 0 {
		t.Errorf("%d result rows written, want none", len(rows))
	}
}

func TestPanicIsAPermanentFailure(t *testing.T) {
	t.Parallel()
	st := MustOpen(t)
	f := MustFixture(t, st, "RUN-PANIC", mixedBook(t, "Q", 8), 1, 3)
	h := &hookStore{Store: st}
	h.taskPositions = func(ctx context.Context, task *store.Task, fn func(*store.Position) error) error {
		if task.ProductType == "FIXED_BOND" {
			var m map[string]int
			m["boom"] = 1 // a nil map write panics
		}
		return st.TaskPositions(ctx, task, fn)
	}
	started(t, New(h, testLogger(t), fastOptions("w")))
	run := waitRun(t, st, f.run.ID, 60*time.Second, store.RunCompleted, store.RunFailed)
	if run.Status != store.RunFailed {
		t.Fatalf("run %s, want FAILED", run.Status)
	}
	for _, task := range storetestTasks(t, st, f.run.ID) {
		if task.ProductType == "FIXED_BOND" && (task.Status != store.TaskDead || task.Attempts != 1 || !strings.Contains(task.LastError, "panic")) {
			t.Errorf("bond task %s after %d attempts, last_error %q; want DEAD after 1 with the panic", task.Status, task.Attempts, task.LastError)
		}
	}
}

func storetestTasks(t *testing.T, st store.Store, runID string) []*store.Task {
	t.Helper()
	tasks, err := st.RunTasks(context.Background(), runID)
	if err != nil {
		t.Fatal(err)
	}
	return tasks
}

func TestExponentialBackoff(t *testing.T) {
	t.Parallel()
	b := ExponentialBackoff(time.Second, 10*time.Second)
	for attempt, full := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second, 5: 10 * time.Second, 100: 10 * time.Second} {
		for i := 0; i < 50; i++ {
			d := b(attempt)
			if d < full/2 || d >= full {
				t.Fatalf("attempt %d: %v outside [%v, %v)", attempt, d, full/2, full)
			}
		}
	}
}

func TestEngineCacheBuildsOncePerRunAndEvicts(t *testing.T) {
	t.Parallel()
	var builds sync.Map
	var count atomic.Int32
	c := newEngineCache(2, func(ctx context.Context, runID string) (*runSetup, error) {
		count.Add(1)
		n, _ := builds.LoadOrStore(runID, new(atomic.Int32))
		n.(*atomic.Int32).Add(1)
		time.Sleep(5 * time.Millisecond)
		if runID == "bad" {
			return nil, errDatabase
		}
		return &runSetup{runID: runID}, nil
	})
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := c.get(context.Background(), "A")
			if err != nil || s.runID != "A" {
				t.Errorf("get A: %v %v", s, err)
			}
		}()
	}
	wg.Wait()
	if count.Load() != 1 {
		t.Fatalf("20 concurrent gets built %d times, want 1", count.Load())
	}
	if _, err := c.get(context.Background(), "bad"); !errors.Is(err, errDatabase) {
		t.Fatalf("failed build: %v", err)
	}
	if c.len() != 1 {
		t.Fatalf("a failed build was kept: %d entries", c.len())
	}
	c.get(context.Background(), "B")
	c.get(context.Background(), "C") // evicts A, the least recently used
	c.get(context.Background(), "A")
	if n, _ := builds.Load("A"); n.(*atomic.Int32).Load() != 2 {
		t.Fatalf("A built %d times, want 2 after eviction", n.(*atomic.Int32).Load())
	}
	if c.len() != 2 {
		t.Fatalf("cache holds %d runs, want 2", c.len())
	}
}
