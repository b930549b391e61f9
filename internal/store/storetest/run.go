package storetest

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/store"
)

// Lease is the lease of the suite's claims.
const Lease = time.Minute

// taskSpec builds n explicit tasks of one product type, buckets 0..n-1,
// position counts 1..n, available at avail.
func taskSpec(n int, productType string, avail time.Time, maxAttempts int) []*store.Task {
	tasks := make([]*store.Task, n)
	for i := range tasks {
		tasks[i] = &store.Task{ProductType: productType, Bucket: i, HashMod: n, MaxAttempts: maxAttempts,
			PositionCount: int64(i + 1), AvailableAt: avail}
	}
	return tasks
}

// simpleRun creates a run with n explicit FIXED_BOND tasks available at T0.
func (f *fixture) simpleRun(t *testing.T, name string, n, maxAttempts int) (*store.Run, []*store.Task) {
	t.Helper()
	return MustRun(t, f.ctx, f.s, RunOpts{
		Run:   &store.Run{ID: f.id(name), HashMod: max(n, 1), MaxAttempts: maxAttempts},
		Tasks: taskSpec(n, "FIXED_BOND", T0, maxAttempts),
	})
}

// The calls below first move the store's clock to now, then call the
// store: "claim at now", "complete at now", and so on.

func (f *fixture) claim(t *testing.T, owner string, now time.Time) *store.Task {
	t.Helper()
	f.clock.Set(now)
	return Claim(t, f.ctx, f.s, f.prefix, owner, Lease)
}

func (f *fixture) mustClaim(t *testing.T, owner string, now time.Time) *store.Task {
	t.Helper()
	f.clock.Set(now)
	return MustClaim(t, f.ctx, f.s, f.prefix, owner, Lease)
}

// complete completes task's claim with rows.
func (f *fixture) complete(task *store.Task, now time.Time, rows []*store.PositionResult, aggs ...store.TaskAggregate) error {
	f.clock.Set(now)
	return f.s.TaskComplete(f.ctx, store.TaskCompleteParams{ClaimRef: task.Ref(), Results: rows, Aggregates: aggs})
}

// fail records a failure of task's claim; a transient one is retried at
// retryAt.
func (f *fixture) fail(task *store.Task, now time.Time, msg string, permanent bool, retryAt time.Time) error {
	f.clock.Set(now)
	p := store.TaskFailParams{ClaimRef: task.Ref(), Error: msg, Permanent: permanent}
	if !retryAt.IsZero() {
		p.RetryAfter = retryAt.Sub(now)
	}
	return f.s.TaskFail(f.ctx, p)
}

// release gives task's claim back.
func (f *fixture) release(task *store.Task, now time.Time) error {
	f.clock.Set(now)
	return f.s.TaskRelease(f.ctx, task.Ref())
}

// renew renews task's claim until now+lease.
func (f *fixture) renew(task *store.Task, now time.Time, lease time.Duration) error {
	f.clock.Set(now)
	return f.s.TaskRenewLease(f.ctx, store.TaskRenewParams{ClaimRef: task.Ref(), Lease: lease})
}

// cancel cancels a run.
func (f *fixture) cancel(runID string, now time.Time) (*store.Run, error) {
	f.clock.Set(now)
	return f.s.RunCancel(f.ctx, runID)
}

func checkRunStatus(t *testing.T, f *fixture, id, want string) *store.Run {
	t.Helper()
	r := MustRunGet(t, f.ctx, f.s, id)
	if r.Status != want {
		t.Errorf("run %s status = %s, want %s (error %q)", id, r.Status, want, r.Error)
	}
	return r
}

func checkTaskStatus(t *testing.T, f *fixture, runID string, taskID int64, want string) *store.Task {
	t.Helper()
	task := MustTask(t, f.ctx, f.s, runID, taskID)
	if task.Status != want {
		t.Errorf("task %d status = %s, want %s", taskID, task.Status, want)
	}
	return task
}

func testRun(t *testing.T, open Opener) {
	// Runs make claimable tasks, and a claim takes any run's task: subtests
	// of the run, task and result groups do not run in parallel, so that
	// they can share one database.
	t.Run("CreateGetRoundTrip", func(t *testing.T) {
		f := setup(t, open)
		MustPositionSnapshot(t, f.ctx, f.s, &store.PositionSnapshot{ID: f.id("ps-b")}, manyPositions(f.prefix+"b", 40), 0)
		MustPositionSnapshot(t, f.ctx, f.s, &store.PositionSnapshot{ID: f.id("ps-a")}, manyPositions(f.prefix+"a", 30), 0)
		mkt := MustMarketSnapshot(t, f.ctx, f.s, &store.MarketSnapshot{ID: f.id("mkt")})
		in := &store.Run{
			ID: f.id("run"), RunType: "EOD_OFFICIAL", AsOfTime: T0, MarketSnapshotID: mkt.ID,
			PositionSnapshotIDs: []string{f.id("ps-b"), f.id("ps-a")},
			PortfolioNodeIDs:    []string{"NODE-Z", "NODE-A"}, ModelSetID: "MS-1",
			Measures: []string{"PV", "DV01"}, Scenarios: []string{"BASE", "RATES_PARALLEL_1BP"},
			HashMod: 3, MaxAttempts: 5, RequestHash: "rh-1", Request: []byte(`{"run_type":"EOD_OFFICIAL","measures":["PV","DV01"]}`),
			EngineVersion: "engine-7", PositionsTotal: 70, RequestedAt: T0.Add(time.Second),
		}
		buckets, err := f.s.PositionBuckets(f.ctx, []string{f.id("ps-a"), f.id("ps-b")}, 3)
		if err != nil {
			t.Fatal(err)
		}
		var tasks []*store.Task
		for i := len(buckets) - 1; i >= 0; i-- { // any order in, sorted out
			b := buckets[i]
			tasks = append(tasks, &store.Task{ProductType: b.ProductType, Bucket: b.Bucket, HashMod: 3, MaxAttempts: 5,
				PositionCount: b.Count, AvailableAt: T0.Add(2 * time.Second)})
		}
		stored, created, err := f.s.RunCreate(f.ctx, in, tasks)
		if err != nil || !created {
			t.Fatalf("RunCreate = created %v, err %v", created, err)
		}
		CancelAtCleanup(t, f.s, in.ID)
		got := MustRunGet(t, f.ctx, f.s, in.ID)
		for name, r := range map[string]*store.Run{"create": stored, "get": got} {
			if r.ID != in.ID || r.RunType != "EOD_OFFICIAL" || r.Status != store.RunQueued || r.MarketSnapshotID != mkt.ID ||
				r.ModelSetID != "MS-1" || r.HashMod != 3 || r.MaxAttempts != 5 || r.RequestHash != "rh-1" ||
				r.EngineVersion != "engine-7" || r.PositionsTotal != 70 || r.Error != "" || r.PublishHash != "" {
				t.Errorf("%s: run = %+v", name, r)
			}
			if want := []string{f.id("ps-a"), f.id("ps-b")}; !slices.Equal(r.PositionSnapshotIDs, want) {
				t.Errorf("%s: PositionSnapshotIDs = %v, want sorted %v", name, r.PositionSnapshotIDs, want)
			}
			if !slices.Equal(r.PortfolioNodeIDs, []string{"NODE-Z", "NODE-A"}) || !slices.Equal(r.Measures, in.Measures) ||
				!slices.Equal(r.Scenarios, in.Scenarios) {
				t.Errorf("%s: arrays = %v %v %v", name, r.PortfolioNodeIDs, r.Measures, r.Scenarios)
			}
			if !jsonEqual(t, r.Request, in.Request) {
				t.Errorf("%s: request = %s", name, r.Request)
			}
			checkTime(t, name+" AsOfTime", r.AsOfTime, T0)
			checkTime(t, name+" RequestedAt", r.RequestedAt, T0.Add(time.Second))
			if r.StartedAt != nil || r.CompletedAt != nil || r.PublishedAt != nil {
				t.Errorf("%s: times set on a new run: %v %v %v", name, r.StartedAt, r.CompletedAt, r.PublishedAt)
			}
		}
		ids := map[int64]bool{}
		for _, task := range tasks {
			if task.ID == 0 || ids[task.ID] || task.Status != store.TaskQueued || task.RunID != in.ID {
				t.Errorf("RunCreate left task %+v", task)
			}
			ids[task.ID] = true
		}
		listed, err := f.s.RunTasks(f.ctx, in.ID)
		if err != nil {
			t.Fatalf("RunTasks: %v", err)
		}
		if len(listed) != len(buckets) {
			t.Fatalf("RunTasks = %d tasks, want %d", len(listed), len(buckets))
		}
		for i, task := range listed {
			b := buckets[i] // buckets come ordered by product type then bucket
			if task.ProductType != b.ProductType || task.Bucket != b.Bucket || task.PositionCount != b.Count ||
				task.HashMod != 3 || task.MaxAttempts != 5 || task.Status != store.TaskQueued || task.Attempts != 0 ||
				task.LeaseOwner != "" || task.LeaseExpiresAt != nil || task.StartedAt != nil || task.FinishedAt != nil ||
				task.LastError != "" || task.RunID != in.ID || !ids[task.ID] {
				t.Errorf("RunTasks[%d] = %+v, want bucket %+v", i, task, b)
			}
			checkTime(t, "task AvailableAt", task.AvailableAt, T0.Add(2*time.Second))
		}
		p, err := f.s.RunProgress(f.ctx, in.ID)
		if err != nil {
			t.Fatalf("RunProgress: %v", err)
		}
		if p.TasksTotal != int64(len(buckets)) || p.PositionsTotal != 70 || p.PositionsDone != 0 || len(p.TasksByStatus) != 5 ||
			p.TasksByStatus[store.TaskQueued] != int64(len(buckets)) {
			t.Errorf("RunProgress = %+v", p)
		}
	})

	t.Run("UnknownIsNotFound", func(t *testing.T) {
		f := setup(t, open)
		id := f.id("nope")
		for name, err := range map[string]error{
			"RunGet":      second(f.s.RunGet(f.ctx, id)),
			"RunTasks":    second(f.s.RunTasks(f.ctx, id)),
			"RunProgress": second(f.s.RunProgress(f.ctx, id)),
			"RunCancel":   second(f.cancel(id, T0)),
			"RunPublish":  second(f.s.RunPublish(f.ctx, store.RunPublishParams{RunID: id, PublishHash: "h", PublishedAt: T0})),
		} {
			if !errors.Is(err, apperr.ErrNotFound) {
				t.Errorf("%s(unknown) err = %v, want ErrNotFound", name, err)
			}
		}
	})

	t.Run("IdempotentCreate", func(t *testing.T) {
		f := setup(t, open)
		first, _ := f.simpleRun(t, "run", 3, 3)
		again := &store.Run{ID: first.ID, RunType: "SANDBOX", AsOfTime: T0, MarketSnapshotID: first.MarketSnapshotID,
			Measures: []string{"PV"}, Scenarios: []string{"BASE"}, HashMod: 3, MaxAttempts: 3, RequestHash: first.RequestHash,
			Request: []byte(`{}`), EngineVersion: "test", RequestedAt: T0.Add(time.Hour)}
		stored, created, err := f.s.RunCreate(f.ctx, again, taskSpec(3, "FIXED_BOND", T0, 3))
		if err != nil || created {
			t.Fatalf("repeat RunCreate = created %v, err %v; want created=false", created, err)
		}
		checkTime(t, "repeat RequestedAt", stored.RequestedAt, T0)
		again.RequestHash = "another request"
		if _, created, err := f.s.RunCreate(f.ctx, again, taskSpec(3, "FIXED_BOND", T0, 3)); !errors.Is(err, apperr.ErrConflict) || created {
			t.Errorf("RunCreate with another request: created %v, err %v; want Conflict", created, err)
		}
		if tasks, err := f.s.RunTasks(f.ctx, first.ID); err != nil || len(tasks) != 3 {
			t.Errorf("RunTasks after repeats = %d, %v; want the 3 original tasks", len(tasks), err)
		}
	})

	t.Run("ConcurrentDuplicateSubmissions", func(t *testing.T) {
		f := setup(t, open)
		mkt := MustMarketSnapshot(t, f.ctx, f.s, &store.MarketSnapshot{ID: f.id("mkt")})
		const n = 8
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			created int
			errs    []error
		)
		for range n {
			wg.Go(func() {
				r := &store.Run{ID: f.id("dup"), RunType: "SANDBOX", AsOfTime: T0, MarketSnapshotID: mkt.ID,
					Measures: []string{"PV"}, Scenarios: []string{"BASE"}, HashMod: 4, MaxAttempts: 3, RequestHash: "same",
					Request: []byte(`{}`), EngineVersion: "test", RequestedAt: T0, PositionsTotal: 10}
				_, c, err := f.s.RunCreate(f.ctx, r, taskSpec(4, "FX_FWD", T0, 3))
				mu.Lock()
				defer mu.Unlock()
				if c {
					created++
				}
				if err != nil {
					errs = append(errs, err)
				}
			})
		}
		wg.Wait()
		CancelAtCleanup(t, f.s, f.id("dup"))
		if created != 1 || len(errs) != 0 {
			t.Errorf("%d concurrent duplicate submissions: %d created, errors %v; want exactly 1, none", n, created, errs)
		}
		if tasks, err := f.s.RunTasks(f.ctx, f.id("dup")); err != nil || len(tasks) != 4 {
			t.Errorf("RunTasks = %d, %v; want 4", len(tasks), err)
		}
	})

	t.Run("NoTasksCompletesAtOnce", func(t *testing.T) {
		f := setup(t, open)
		r, _ := MustRun(t, f.ctx, f.s, RunOpts{Run: &store.Run{ID: f.id("empty"), RequestedAt: T0}, Tasks: []*store.Task{}})
		if r.Status != store.RunCompleted {
			t.Errorf("run without tasks is %s, want COMPLETED", r.Status)
		}
		got := checkRunStatus(t, f, r.ID, store.RunCompleted)
		checkTimePtr(t, "StartedAt", got.StartedAt, ptr(T0))
		checkTimePtr(t, "CompletedAt", got.CompletedAt, ptr(T0))
	})

	t.Run("ListOrderPaginationAndStatus", func(t *testing.T) {
		f := setup(t, open)
		base := time.Date(2401, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(PositionHash(f.prefix)%1000000) * time.Minute)
		mkt := MustMarketSnapshot(t, f.ctx, f.s, &store.MarketSnapshot{ID: f.id("mkt")})
		for _, r := range []struct {
			name string
			at   time.Duration
		}{{"c", 0}, {"a", time.Hour}, {"e", time.Hour}, {"b", 2 * time.Hour}, {"d", time.Hour}} {
			MustRun(t, f.ctx, f.s, RunOpts{Run: &store.Run{ID: f.id(r.name), MarketSnapshotID: mkt.ID, RequestedAt: base.Add(r.at)},
				Tasks: taskSpec(1, "FX_FWD", T0, 3)})
		}
		// An explain and a verify in between: listed only by their kind.
		for _, r := range []struct{ name, kind string }{{"x", store.KindExplain}, {"v", store.KindVerify}, {"y", store.KindExplain}} {
			MustRun(t, f.ctx, f.s, RunOpts{Run: &store.Run{ID: f.id(r.name), Kind: r.kind, MarketSnapshotID: mkt.ID, RequestedAt: base.Add(90 * time.Minute)},
				Tasks: taskSpec(1, "FX_FWD", T0, 3)})
			if got := MustRunGet(t, f.ctx, f.s, f.id(r.name)); got.Kind != r.kind {
				t.Errorf("RunGet(%s).Kind = %q, want %q", r.name, got.Kind, r.kind)
			}
		}
		if got := MustRunGet(t, f.ctx, f.s, f.id("a")); got.Kind != store.KindValuation {
			t.Errorf("a run created without a kind has kind %q, want %q", got.Kind, store.KindValuation)
		}
		// e and c are cancelled (no task running: CANCELLED at once).
		for _, name := range []string{"e", "c"} {
			if _, err := f.cancel(f.id(name), T0); err != nil {
				t.Fatalf("RunCancel(%s): %v", name, err)
			}
		}
		list := func(status string, limit int, kind ...string) []string {
			var got []string
			p := store.RunListParams{Status: status, ListParams: store.ListParams{Limit: limit, AfterTime: base.Add(3 * time.Hour)}}
			if len(kind) > 0 {
				p.Kind = kind[0]
			}
			for pages := 0; ; pages++ {
				if pages > 1000 {
					t.Fatal("pagination does not end")
				}
				page, err := f.s.RunList(f.ctx, p)
				if err != nil {
					t.Fatalf("RunList(%+v): %v", p, err)
				}
				done := len(page) < limit
				for i, r := range page {
					if r.Kind != store.KindOf(&store.Run{Kind: p.Kind}) {
						t.Errorf("RunList(kind %q) returned a %s run", p.Kind, r.Kind)
					}
					if status != "" && r.Status != status {
						t.Errorf("RunList(status %s) returned a %s run", status, r.Status)
					}
					if i > 0 && (r.RequestedAt.After(page[i-1].RequestedAt) || (r.RequestedAt.Equal(page[i-1].RequestedAt) && r.ID >= page[i-1].ID)) {
						t.Errorf("RunList order: %s after %s", r.ID, page[i-1].ID)
					}
					if r.RequestedAt.Before(base) {
						done = true
					}
					if strings.HasPrefix(r.ID, f.prefix+"-") {
						got = append(got, strings.TrimPrefix(r.ID, f.prefix+"-"))
					}
				}
				if done {
					return got
				}
				p.AfterTime, p.AfterID = page[len(page)-1].RequestedAt, page[len(page)-1].ID
			}
		}
		for _, limit := range []int{1, 2, 3, 100} {
			if got, want := list("", limit), []string{"b", "e", "d", "a", "c"}; !slices.Equal(got, want) {
				t.Errorf("RunList(limit %d) = %v, want %v", limit, got, want)
			}
			if got, want := list(store.RunQueued, limit), []string{"b", "d", "a"}; !slices.Equal(got, want) {
				t.Errorf("RunList(QUEUED, limit %d) = %v, want %v", limit, got, want)
			}
			if got, want := list(store.RunCancelled, limit), []string{"e", "c"}; !slices.Equal(got, want) {
				t.Errorf("RunList(CANCELLED, limit %d) = %v, want %v", limit, got, want)
			}
			if got, want := list("", limit, store.KindExplain), []string{"y", "x"}; !slices.Equal(got, want) {
				t.Errorf("RunList(kind EXPLAIN, limit %d) = %v, want %v", limit, got, want)
			}
			if got, want := list(store.RunQueued, limit, store.KindVerify), []string{"v"}; !slices.Equal(got, want) {
				t.Errorf("RunList(QUEUED, kind VERIFY, limit %d) = %v, want %v", limit, got, want)
			}
		}
	})

	t.Run("CancelQueuedRun", func(t *testing.T) {
		f := setup(t, open)
		r, tasks := f.simpleRun(t, "run", 3, 3)
		now := T0.Add(5 * time.Minute)
		got, err := f.cancel(r.ID, now)
		if err != nil {
			t.Fatalf("RunCancel: %v", err)
		}
		if got.Status != store.RunCancelled {
			t.Errorf("cancelled QUEUED run is %s, want CANCELLED", got.Status)
		}
		checkTimePtr(t, "CompletedAt", got.CompletedAt, &now)
		for _, task := range tasks {
			tk := checkTaskStatus(t, f, r.ID, task.ID, store.TaskCancelled)
			checkTimePtr(t, "task FinishedAt", tk.FinishedAt, &now)
		}
		if task := f.claim(t, "w1", now.Add(time.Hour)); task != nil {
			t.Errorf("claimed task %d of a cancelled run", task.ID)
		}
		// Cancelling again changes nothing.
		again, err := f.cancel(r.ID, now.Add(time.Hour))
		if err != nil || again.Status != store.RunCancelled {
			t.Fatalf("second RunCancel = %v, %v; want CANCELLED, nil", again, err)
		}
		checkTimePtr(t, "CompletedAt after second cancel", again.CompletedAt, &now)
	})

	t.Run("CancelWithRunningTaskThenComplete", func(t *testing.T) {
		f := setup(t, open)
		r, _ := f.simpleRun(t, "run", 3, 3)
		running := f.mustClaim(t, "w1", T0)
		now := T0.Add(10 * time.Second)
		got, err := f.cancel(r.ID, now)
		if err != nil || got.Status != store.RunCancelling {
			t.Fatalf("RunCancel with a running task = %v, %v; want CANCELLING", got, err)
		}
		if got.CompletedAt != nil {
			t.Errorf("CANCELLING run has CompletedAt %v", got.CompletedAt)
		}
		p, err := f.s.RunProgress(f.ctx, r.ID)
		if err != nil || p.TasksByStatus[store.TaskRunning] != 1 || p.TasksByStatus[store.TaskCancelled] != 2 {
			t.Errorf("progress while cancelling = %+v, %v; want 1 running, 2 cancelled", p, err)
		}
		if task := f.claim(t, "w2", now); task != nil {
			t.Errorf("claimed task %d of a CANCELLING run", task.ID)
		}
		if err := f.renew(running, now, Lease); !errors.Is(err, apperr.ErrConflict) {
			t.Errorf("TaskRenewLease in a CANCELLING run: %v, want Conflict", err)
		}
		// Cancelling a CANCELLING run is harmless.
		if again, err := f.cancel(r.ID, now.Add(time.Second)); err != nil || again.Status != store.RunCancelling {
			t.Errorf("second RunCancel = %v, %v; want still CANCELLING", again, err)
		}
		done := now.Add(20 * time.Second)
		rows := resultRowsFor(r.ID, "NODE-A", []string{"BASE"}, []*store.Position{Pos(f.prefix+"-x", "FIXED_BOND", 1, "")}, f.id("ps"))
		if err := f.complete(running, done, rows); err != nil {
			t.Fatalf("TaskComplete in a CANCELLING run: %v", err)
		}
		final := checkRunStatus(t, f, r.ID, store.RunCancelled)
		checkTimePtr(t, "CompletedAt", final.CompletedAt, &done)
		checkTaskStatus(t, f, r.ID, running.ID, store.TaskSucceeded)
	})

	t.Run("CancelWithRunningTaskThenFail", func(t *testing.T) {
		f := setup(t, open)
		r, _ := f.simpleRun(t, "run", 2, 3)
		running := f.mustClaim(t, "w1", T0)
		if got, err := f.cancel(r.ID, T0.Add(time.Second)); err != nil || got.Status != store.RunCancelling {
			t.Fatalf("RunCancel = %v, %v; want CANCELLING", got, err)
		}
		// A transient failure would re-queue the task; in a CANCELLING run
		// it is cancelled instead, and the run ends.
		failed := T0.Add(2 * time.Second)
		if err := f.fail(running, failed, "connection reset", false, T0.Add(time.Minute)); err != nil {
			t.Fatalf("TaskFail: %v", err)
		}
		run := checkRunStatus(t, f, r.ID, store.RunCancelled)
		checkTimePtr(t, "CompletedAt", run.CompletedAt, &failed)
		task := checkTaskStatus(t, f, r.ID, running.ID, store.TaskCancelled)
		checkTimePtr(t, "task FinishedAt", task.FinishedAt, &failed)
	})

	t.Run("CancelWithRunningTaskThenRelease", func(t *testing.T) {
		f := setup(t, open)
		r, _ := f.simpleRun(t, "run", 2, 3)
		running := f.mustClaim(t, "w1", T0)
		if got, err := f.cancel(r.ID, T0.Add(time.Second)); err != nil || got.Status != store.RunCancelling {
			t.Fatalf("RunCancel = %v, %v; want CANCELLING", got, err)
		}
		released := T0.Add(2 * time.Second)
		if err := f.release(running, released); err != nil {
			t.Fatalf("TaskRelease: %v", err)
		}
		run := checkRunStatus(t, f, r.ID, store.RunCancelled)
		checkTimePtr(t, "CompletedAt", run.CompletedAt, &released)
		task := checkTaskStatus(t, f, r.ID, running.ID, store.TaskCancelled)
		checkTimePtr(t, "task FinishedAt", task.FinishedAt, &released)
	})

	t.Run("CancelAbandonedTasks", func(t *testing.T) {
		f := setup(t, open)
		// A task whose lease expired before the cancel is abandoned: the
		// run is CANCELLED at once.
		r1, _ := f.simpleRun(t, "expired", 1, 3)
		f.mustClaim(t, "w1", T0)
		got, err := f.cancel(r1.ID, T0.Add(Lease))
		if err != nil || got.Status != store.RunCancelled {
			t.Errorf("RunCancel after the lease expired = %v, %v; want CANCELLED", got, err)
		}

		// A CANCELLING run whose running task is then abandoned: cancelling
		// again after the lease expired ends it.
		r2, _ := f.simpleRun(t, "later", 1, 3)
		t2 := f.mustClaim(t, "w1", T0)
		if got, err := f.cancel(r2.ID, T0.Add(time.Second)); err != nil || got.Status != store.RunCancelling {
			t.Fatalf("RunCancel = %v, %v; want CANCELLING", got, err)
		}
		if got, err := f.cancel(r2.ID, T0.Add(Lease+time.Second)); err != nil || got.Status != store.RunCancelled {
			t.Errorf("RunCancel after the lease expired = %v, %v; want CANCELLED", got, err)
		}
		checkTaskStatus(t, f, r2.ID, t2.ID, store.TaskCancelled)

		// The same, settled by any worker's claim instead.
		r3, _ := f.simpleRun(t, "byclaim", 1, 3)
		t3 := f.mustClaim(t, "w1", T0)
		if got, err := f.cancel(r3.ID, T0.Add(time.Second)); err != nil || got.Status != store.RunCancelling {
			t.Fatalf("RunCancel = %v, %v; want CANCELLING", got, err)
		}
		if task := f.claim(t, "w2", T0.Add(Lease+time.Second)); task != nil {
			t.Errorf("claimed task %d of a CANCELLING run", task.ID)
		}
		checkRunStatus(t, f, r3.ID, store.RunCancelled)
		checkTaskStatus(t, f, r3.ID, t3.ID, store.TaskCancelled)
		// The lost owner's completion is refused, and writes nothing.
		err = f.complete(t3, T0.Add(2*Lease), resultRowsFor(r3.ID, "N", []string{"BASE"}, []*store.Position{Pos(f.prefix+"-late", "FIXED_BOND", 1, "")}, f.id("ps")))
		if !errors.Is(err, apperr.ErrConflict) {
			t.Errorf("TaskComplete of a cancelled task: %v, want Conflict", err)
		}
		if rows, err := f.s.ResultList(f.ctx, store.ResultListParams{RunID: r3.ID, Limit: 10}); err != nil || len(rows) != 0 {
			t.Errorf("results after a refused completion = %d, %v; want none", len(rows), err)
		}
	})

	t.Run("CancelOrPublishFinishedRunConflicts", func(t *testing.T) {
		f := setup(t, open)
		r, _ := f.simpleRun(t, "run", 1, 3)
		pub := store.RunPublishParams{RunID: r.ID, PublishHash: "ph", PublishedAt: T0.Add(time.Hour)}
		if _, err := f.s.RunPublish(f.ctx, pub); !errors.Is(err, apperr.ErrConflict) {
			t.Errorf("RunPublish of a QUEUED run: %v, want Conflict", err)
		}
		task := f.mustClaim(t, "w1", T0)
		if _, err := f.s.RunPublish(f.ctx, pub); !errors.Is(err, apperr.ErrConflict) {
			t.Errorf("RunPublish of a RUNNING run: %v, want Conflict", err)
		}
		if err := f.complete(task, T0.Add(time.Second), nil); err != nil {
			t.Fatalf("TaskComplete: %v", err)
		}
		checkRunStatus(t, f, r.ID, store.RunCompleted)
		if _, err := f.cancel(r.ID, T0.Add(time.Minute)); !errors.Is(err, apperr.ErrConflict) {
			t.Errorf("RunCancel of a COMPLETED run: %v, want Conflict", err)
		}
		got, err := f.s.RunPublish(f.ctx, pub)
		if err != nil || got.Status != store.RunPublished || got.PublishHash != "ph" {
			t.Fatalf("RunPublish = %+v, %v; want PUBLISHED with hash ph", got, err)
		}
		checkTimePtr(t, "PublishedAt", got.PublishedAt, ptr(T0.Add(time.Hour)))
		if stored := checkRunStatus(t, f, r.ID, store.RunPublished); stored.PublishHash != "ph" {
			t.Errorf("stored PublishHash = %q", stored.PublishHash)
		}
		if _, err := f.s.RunPublish(f.ctx, pub); !errors.Is(err, apperr.ErrConflict) {
			t.Errorf("RunPublish of a PUBLISHED run: %v, want Conflict", err)
		}
		if _, err := f.cancel(r.ID, T0.Add(time.Minute)); !errors.Is(err, apperr.ErrConflict) {
			t.Errorf("RunCancel of a PUBLISHED run: %v, want Conflict", err)
		}
	})
}

func second[T any](_ T, err error) error { return err }
