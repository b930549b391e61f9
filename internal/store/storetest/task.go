package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/store"
)

func testTask(t *testing.T, open Opener) {
	t.Run("ClaimSetsLeaseAndStartsRun", func(t *testing.T) {
		f := setup(t, open)
		tasks := taskSpec(3, "FIXED_BOND", T0, 3)
		tasks[0].AvailableAt = T0.Add(-time.Second)
		tasks[1].AvailableAt = T0.Add(-time.Minute) // oldest: claimed first
		r, _ := MustRun(t, f.ctx, f.s, RunOpts{Run: &store.Run{ID: f.id("run"), HashMod: 3}, Tasks: tasks})
		now := T0.Add(123456789 * time.Nanosecond)
		got := f.mustClaim(t, "worker-1", now)
		if got.ID != tasks[1].ID {
			t.Errorf("claimed task %d, want the oldest available %d", got.ID, tasks[1].ID)
		}
		if got.Status != store.TaskRunning || got.Attempts != 1 || got.LeaseOwner != "worker-1" || got.RunID != r.ID ||
			got.ProductType != "FIXED_BOND" || got.Bucket != 1 || got.HashMod != 3 || got.MaxAttempts != 3 || got.PositionCount != 2 {
			t.Errorf("claimed task = %+v", got)
		}
		checkTimePtr(t, "LeaseExpiresAt", got.LeaseExpiresAt, ptr(now.Add(Lease)))
		checkTimePtr(t, "StartedAt", got.StartedAt, &now)
		stored := checkTaskStatus(t, f, r.ID, got.ID, store.TaskRunning)
		checkTimePtr(t, "stored LeaseExpiresAt", stored.LeaseExpiresAt, ptr(now.Add(Lease)))
		run := checkRunStatus(t, f, r.ID, store.RunRunning)
		checkTimePtr(t, "run StartedAt", run.StartedAt, &now)

		next := f.mustClaim(t, "worker-2", now.Add(time.Second))
		if next.ID != tasks[0].ID {
			t.Errorf("second claim got task %d, want %d", next.ID, tasks[0].ID)
		}
		run = checkRunStatus(t, f, r.ID, store.RunRunning)
		checkTimePtr(t, "run StartedAt after a second claim", run.StartedAt, &now)
	})

	t.Run("ClaimRespectsAvailableAt", func(t *testing.T) {
		f := setup(t, open)
		r, tasks := MustRun(t, f.ctx, f.s, RunOpts{Run: &store.Run{ID: f.id("run"), HashMod: 1},
			Tasks: taskSpec(1, "FX_FWD", T0.Add(time.Hour), 3)})
		if task := f.claim(t, "w", T0.Add(time.Hour-time.Microsecond)); task != nil {
			t.Fatalf("claimed task %d before its AvailableAt", task.ID)
		}
		checkRunStatus(t, f, r.ID, store.RunQueued)
		if task := f.claim(t, "w", T0.Add(time.Hour)); task == nil || task.ID != tasks[0].ID {
			t.Fatalf("claim at AvailableAt = %v, want task %d", task, tasks[0].ID)
		}
		if task := f.claim(t, "w", T0.Add(time.Hour+Lease/2)); task != nil {
			t.Errorf("claimed task %d twice", task.ID)
		}
	})

	t.Run("ConcurrentClaimsTakeEachTaskOnce", func(t *testing.T) {
		f := setup(t, open)
		const nTasks, nWorkers = 60, 8
		_, tasks := MustRun(t, f.ctx, f.s, RunOpts{Run: &store.Run{ID: f.id("run"), HashMod: nTasks},
			Tasks: taskSpec(nTasks, "AMORT_LOAN", T0, 3)})
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			claimed = map[int64]string{}
			dups    []string
			errs    []error
		)
		for w := range nWorkers {
			owner := fmt.Sprintf("worker-%d", w)
			wg.Go(func() {
				for {
					task, err := f.s.TaskClaim(f.ctx, store.TaskClaimParams{Owner: owner, Lease: Lease})
					if errors.Is(err, apperr.ErrNotFound) {
						return
					}
					mu.Lock()
					if err != nil {
						errs = append(errs, err)
						mu.Unlock()
						return
					}
					if prev, dup := claimed[task.ID]; dup {
						dups = append(dups, fmt.Sprintf("task %d by %s and %s", task.ID, prev, owner))
					}
					claimed[task.ID] = owner
					if task.Attempts != 1 || task.LeaseOwner != owner {
						errs = append(errs, fmt.Errorf("task %d claimed by %s: attempts %d, owner %s", task.ID, owner, task.Attempts, task.LeaseOwner))
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(errs) > 0 || len(dups) > 0 {
			t.Fatalf("concurrent claims: errors %v, claimed twice %v", errs, dups)
		}
		if len(claimed) != nTasks {
			t.Errorf("%d tasks claimed, want %d", len(claimed), nTasks)
		}
		for _, task := range tasks {
			if _, ok := claimed[task.ID]; !ok {
				t.Errorf("task %d never claimed (a claimed task belongs to another run?)", task.ID)
			}
		}
	})

	t.Run("ExpiredLeaseIsReclaimed", func(t *testing.T) {
		f := setup(t, open)
		r, tasks := f.simpleRun(t, "run", 1, 3)
		first := f.mustClaim(t, "w1", T0)
		if first.ClaimToken != 1 {
			t.Errorf("first claim has token %d, want 1", first.ClaimToken)
		}
		if task := f.claim(t, "w2", T0.Add(Lease-time.Microsecond)); task != nil {
			t.Fatalf("claimed task %d while its lease holds", task.ID)
		}
		// The holder may renew a lease that expired while nobody claimed
		// it; the new lease counts from the store's now.
		if err := f.renew(first, T0.Add(Lease), Lease); err != nil {
			t.Fatalf("TaskRenewLease by the holder after expiry: %v", err)
		}
		checkTimePtr(t, "renewed LeaseExpiresAt", MustTask(t, f.ctx, f.s, r.ID, first.ID).LeaseExpiresAt, ptr(T0.Add(2*Lease)))
		if task := f.claim(t, "w2", T0.Add(2*Lease-time.Microsecond)); task != nil {
			t.Fatalf("claimed task %d while its renewed lease holds", task.ID)
		}
		now := T0.Add(2 * Lease)
		second := f.mustClaim(t, "w2", now)
		if second.ID != tasks[0].ID || second.Attempts != 2 || second.LeaseOwner != "w2" || second.ClaimToken != 2 {
			t.Fatalf("re-claim = %+v, want task %d attempt 2 owned by w2 with token 2", second, tasks[0].ID)
		}
		checkTimePtr(t, "LeaseExpiresAt", second.LeaseExpiresAt, ptr(now.Add(Lease)))
		checkTimePtr(t, "StartedAt", second.StartedAt, &now)

		// w1 lost its claim: every call with it is a Conflict and changes
		// nothing.
		rows := resultRowsFor(r.ID, "N", []string{"BASE"}, []*store.Position{Pos(f.prefix+"-p", "FIXED_BOND", 1, "")}, f.id("ps"))
		f.checkStaleClaim(t, r.ID, first, second, now.Add(time.Second), rows)
		if err := f.renew(second, now, 2*Lease); err != nil {
			t.Errorf("TaskRenewLease by the new owner: %v", err)
		}
		if err := f.renew(&store.Task{ID: 1 << 62, ClaimToken: 1}, now, Lease); !errors.Is(err, apperr.ErrNotFound) {
			t.Errorf("TaskRenewLease(unknown task): %v, want ErrNotFound", err)
		}
	})

	t.Run("StoreClockJudgesLeases", func(t *testing.T) {
		// Every lease time is the store's clock plus a duration the caller
		// gives: the caller's clock plays no part.
		f := setup(t, open)
		r, _ := f.simpleRun(t, "run", 1, 3)
		start := T0.Add(7 * time.Second)
		task := f.mustClaim(t, "w1", start)
		checkTimePtr(t, "StartedAt", task.StartedAt, &start)
		checkTimePtr(t, "LeaseExpiresAt", task.LeaseExpiresAt, ptr(start.Add(Lease)))
		checkTimePtr(t, "run StartedAt", MustRunGet(t, f.ctx, f.s, r.ID).StartedAt, &start)
		// A renewal counts from the store's now, not from the old expiry.
		renewed := start.Add(Lease / 2)
		if err := f.renew(task, renewed, 3*time.Second); err != nil {
			t.Fatalf("TaskRenewLease: %v", err)
		}
		checkTimePtr(t, "renewed LeaseExpiresAt", MustTask(t, f.ctx, f.s, r.ID, task.ID).LeaseExpiresAt, ptr(renewed.Add(3*time.Second)))
		// A cancel at the microsecond before expiry leaves the task to its
		// worker; at expiry it is abandoned.
		if got, err := f.cancel(r.ID, renewed.Add(3*time.Second-time.Microsecond)); err != nil || got.Status != store.RunCancelling {
			t.Fatalf("RunCancel before expiry = %v, %v; want CANCELLING", got, err)
		}
		checkTaskStatus(t, f, r.ID, task.ID, store.TaskRunning)
		end := renewed.Add(3 * time.Second)
		if got, err := f.cancel(r.ID, end); err != nil || got.Status != store.RunCancelled {
			t.Fatalf("RunCancel at expiry = %v, %v; want CANCELLED", got, err)
		}
		cancelled := checkTaskStatus(t, f, r.ID, task.ID, store.TaskCancelled)
		checkTimePtr(t, "task FinishedAt", cancelled.FinishedAt, &end)
		checkTimePtr(t, "run CompletedAt", MustRunGet(t, f.ctx, f.s, r.ID).CompletedAt, &end)

		// A retry waits RetryAfter from the store's now.
		r2, _ := f.simpleRun(t, "retry", 1, 3)
		t2 := f.mustClaim(t, "w2", T0)
		failedAt := T0.Add(time.Minute)
		f.clock.Set(failedAt)
		if err := f.s.TaskFail(f.ctx, store.TaskFailParams{ClaimRef: t2.Ref(), Error: "timeout", RetryAfter: 90 * time.Second}); err != nil {
			t.Fatalf("TaskFail: %v", err)
		}
		checkTime(t, "AvailableAt after a retry", checkTaskStatus(t, f, r2.ID, t2.ID, store.TaskQueued).AvailableAt, failedAt.Add(90*time.Second))
		if got := f.claim(t, "w3", failedAt.Add(90*time.Second-time.Microsecond)); got != nil {
			t.Fatalf("claimed task %d before its retry time", got.ID)
		}
		if got := f.claim(t, "w3", failedAt.Add(90*time.Second)); got == nil || got.ID != t2.ID {
			t.Fatalf("claim at the retry time = %v, want task %d", got, t2.ID)
		}
	})

	t.Run("SameNameTwoClaims", func(t *testing.T) {
		// Two workers with the same name (a restarted worker, or a
		// misconfigured pair): the name decides nothing, the claim does.
		f := setup(t, open)
		r, _ := f.simpleRun(t, "run", 1, 3)
		first := f.mustClaim(t, "twin", T0)
		second := f.mustClaim(t, "twin", T0.Add(Lease))
		if second.ID != first.ID || second.ClaimToken <= first.ClaimToken || second.LeaseOwner != "twin" {
			t.Fatalf("re-claim by the same name = %+v, want task %d with a token above %d", second, first.ID, first.ClaimToken)
		}
		rows := resultRowsFor(r.ID, "N", []string{"BASE"}, []*store.Position{Pos(f.prefix+"-p", "FIXED_BOND", 1, "")}, f.id("ps"))
		f.checkStaleClaim(t, r.ID, first, second, T0.Add(Lease+time.Second), rows)
		// The current claim still completes, with its rows.
		if err := f.complete(second, T0.Add(Lease+2*time.Second), rows); err != nil {
			t.Fatalf("TaskComplete by the current claim: %v", err)
		}
		if got, err := f.s.ResultList(f.ctx, store.ResultListParams{RunID: r.ID, Limit: 10}); err != nil || len(got) != len(rows) {
			t.Errorf("results after the current claim completed = %d, %v; want %d", len(got), err, len(rows))
		}
		checkRunStatus(t, f, r.ID, store.RunCompleted)
		// Once the task is done, neither claim may do anything to it.
		for name, err := range map[string]error{
			"TaskRenewLease": f.renew(second, T0.Add(Lease+3*time.Second), Lease),
			"TaskComplete":   f.complete(second, T0.Add(Lease+3*time.Second), nil),
			"TaskFail":       f.fail(second, T0.Add(Lease+3*time.Second), "x", true, time.Time{}),
			"TaskRelease":    f.release(second, T0.Add(Lease+3*time.Second)),
		} {
			if !errors.Is(err, apperr.ErrConflict) {
				t.Errorf("%s of a SUCCEEDED task: %v, want Conflict", name, err)
			}
		}
		checkTaskStatus(t, f, r.ID, first.ID, store.TaskSucceeded)
	})

	t.Run("CompleteWritesResultsAndSettlesRun", func(t *testing.T) {
		f := setup(t, open)
		positions := manyPositions(f.prefix, 12)
		MustPositionSnapshot(t, f.ctx, f.s, &store.PositionSnapshot{ID: f.id("ps")}, positions, 0)
		r, tasks := f.simpleRun(t, "run", 2, 3)
		t1 := f.mustClaim(t, "w1", T0)
		t2 := f.mustClaim(t, "w2", T0)
		rows1 := resultRowsFor(r.ID, "NODE-A", []string{"BASE", "SPREAD_25BP"}, positions[:6], f.id("ps"))
		rows2 := resultRowsFor(r.ID, "NODE-A", []string{"BASE", "SPREAD_25BP"}, positions[6:], f.id("ps"))

		// A failing write (the same key twice) leaves nothing behind.
		bad := append(slices.Clone(rows1), rows1[0])
		if err := f.complete(t1, T0, bad); err == nil {
			t.Fatal("TaskComplete with a duplicate result row succeeded")
		}
		if got, _ := f.s.ResultList(f.ctx, store.ResultListParams{RunID: r.ID, Limit: 100}); len(got) != 0 {
			t.Errorf("a failed TaskComplete left %d result rows", len(got))
		}
		checkTaskStatus(t, f, r.ID, t1.ID, store.TaskRunning)

		done1 := T0.Add(time.Second)
		if err := f.complete(t1, done1, rows1); err != nil {
			t.Fatalf("TaskComplete(t1): %v", err)
		}
		task := checkTaskStatus(t, f, r.ID, t1.ID, store.TaskSucceeded)
		checkTimePtr(t, "FinishedAt", task.FinishedAt, &done1)
		if task.LeaseExpiresAt != nil {
			t.Errorf("SUCCEEDED task keeps LeaseExpiresAt %v", task.LeaseExpiresAt)
		}
		run := checkRunStatus(t, f, r.ID, store.RunRunning)
		if run.CompletedAt != nil {
			t.Errorf("run with an open task has CompletedAt %v", run.CompletedAt)
		}
		p, err := f.s.RunProgress(f.ctx, r.ID)
		wantDone := tasks[0].PositionCount
		if t1.ID == tasks[1].ID {
			wantDone = tasks[1].PositionCount
		}
		if err != nil || p.TasksTotal != 2 || p.TasksByStatus[store.TaskSucceeded] != 1 || p.TasksByStatus[store.TaskRunning] != 1 ||
			p.TasksByStatus[store.TaskQueued] != 0 || p.PositionsDone != wantDone {
			t.Errorf("RunProgress = %+v, %v; want 1 succeeded, 1 running, %d positions done", p, err, wantDone)
		}
		if err := f.complete(t1, done1, rows1); !errors.Is(err, apperr.ErrConflict) {
			t.Errorf("completing a SUCCEEDED task again: %v, want Conflict", err)
		}

		done2 := T0.Add(2 * time.Second)
		if err := f.complete(t2, done2, rows2); err != nil {
			t.Fatalf("TaskComplete(t2): %v", err)
		}
		run = checkRunStatus(t, f, r.ID, store.RunCompleted)
		checkTimePtr(t, "run CompletedAt", run.CompletedAt, &done2)
		if run.Error != "" {
			t.Errorf("COMPLETED run has error %q", run.Error)
		}
		got, err := f.s.ResultList(f.ctx, store.ResultListParams{RunID: r.ID, Limit: 1000})
		if err != nil || len(got) != 12 {
			t.Fatalf("ResultList = %d rows, %v; want 12 positions", len(got), err)
		}
		p, err = f.s.RunProgress(f.ctx, r.ID)
		if err != nil || p.PositionsDone != tasks[0].PositionCount+tasks[1].PositionCount || p.TasksByStatus[store.TaskSucceeded] != 2 {
			t.Errorf("final RunProgress = %+v, %v", p, err)
		}
		if err := f.complete(&store.Task{ID: 1 << 62, ClaimToken: 1}, T0, nil); !errors.Is(err, apperr.ErrNotFound) {
			t.Errorf("TaskComplete(unknown task): %v, want ErrNotFound", err)
		}
	})

	t.Run("TransientFailuresRetryThenDie", func(t *testing.T) {
		f := setup(t, open)
		r, tasks := f.simpleRun(t, "run", 1, 3)
		now := T0
		for attempt := 1; attempt <= 3; attempt++ {
			task := f.mustClaim(t, "w", now)
			if task.ID != tasks[0].ID || task.Attempts != attempt {
				t.Fatalf("claim %d = task %d attempt %d", attempt, task.ID, task.Attempts)
			}
			retryAt := now.Add(time.Duration(attempt) * 10 * time.Second)
			msg := fmt.Sprintf("timeout on attempt %d", attempt)
			if err := f.fail(task, now.Add(time.Second), msg, false, retryAt); err != nil {
				t.Fatalf("TaskFail(attempt %d): %v", attempt, err)
			}
			stored := MustTask(t, f.ctx, f.s, r.ID, task.ID)
			if stored.LastError != msg {
				t.Errorf("LastError = %q, want %q", stored.LastError, msg)
			}
			if attempt < 3 {
				if stored.Status != store.TaskQueued || stored.LeaseExpiresAt != nil || stored.LeaseOwner != "" || stored.Attempts != attempt {
					t.Errorf("after transient failure %d: %+v, want QUEUED without lease", attempt, stored)
				}
				checkTime(t, "AvailableAt", stored.AvailableAt, retryAt)
				checkRunStatus(t, f, r.ID, store.RunRunning)
				if task := f.claim(t, "w", retryAt.Add(-time.Microsecond)); task != nil {
					t.Fatalf("claimed task %d before RetryAt", task.ID)
				}
				now = retryAt
				continue
			}
			if stored.Status != store.TaskDead {
				t.Errorf("after transient failure at MaxAttempts: %s, want DEAD", stored.Status)
			}
			checkTimePtr(t, "FinishedAt", stored.FinishedAt, ptr(now.Add(time.Second)))
			run := checkRunStatus(t, f, r.ID, store.RunFailed)
			checkTimePtr(t, "run CompletedAt", run.CompletedAt, ptr(now.Add(time.Second)))
			if !strings.Contains(run.Error, msg) {
				t.Errorf("run error %q does not carry the task's %q", run.Error, msg)
			}
		}
		if task := f.claim(t, "w", now.Add(time.Hour)); task != nil {
			t.Errorf("claimed task %d of a FAILED run", task.ID)
		}
	})

	t.Run("PermanentFailureDiesAtOnceRunFailsWhenOthersEnd", func(t *testing.T) {
		f := setup(t, open)
		r, _ := f.simpleRun(t, "run", 3, 5)
		a := f.mustClaim(t, "w1", T0)
		b := f.mustClaim(t, "w2", T0)
		msg := "position P-7: cashflow date 2026-02-30 does not parse"
		if err := f.fail(a, T0.Add(time.Second), msg, true, T0.Add(time.Minute)); err != nil {
			t.Fatalf("TaskFail(permanent): %v", err)
		}
		dead := checkTaskStatus(t, f, r.ID, a.ID, store.TaskDead)
		if dead.LastError != msg || dead.Attempts != 1 {
			t.Errorf("dead task = %+v, want LastError %q after 1 attempt", dead, msg)
		}
		// One task RUNNING and one QUEUED: the run goes on.
		checkRunStatus(t, f, r.ID, store.RunRunning)
		if err := f.complete(b, T0.Add(2*time.Second), nil); err != nil {
			t.Fatalf("TaskComplete: %v", err)
		}
		checkRunStatus(t, f, r.ID, store.RunRunning)
		c := f.mustClaim(t, "w3", T0.Add(3*time.Second))
		done := T0.Add(4 * time.Second)
		if err := f.complete(c, done, nil); err != nil {
			t.Fatalf("TaskComplete: %v", err)
		}
		run := checkRunStatus(t, f, r.ID, store.RunFailed)
		checkTimePtr(t, "CompletedAt", run.CompletedAt, &done)
		if !strings.Contains(run.Error, msg) {
			t.Errorf("run error %q does not carry %q", run.Error, msg)
		}
		p, err := f.s.RunProgress(f.ctx, r.ID)
		if err != nil || p.TasksByStatus[store.TaskDead] != 1 || p.TasksByStatus[store.TaskSucceeded] != 2 || p.TasksTotal != 3 {
			t.Errorf("RunProgress = %+v, %v", p, err)
		}
	})

	t.Run("ReleaseDoesNotCountAttempt", func(t *testing.T) {
		f := setup(t, open)
		r, _ := f.simpleRun(t, "run", 1, 1)
		task := f.mustClaim(t, "w1", T0)
		if err := f.release(task, T0.Add(time.Second/2)); err != nil {
			t.Fatalf("TaskRelease: %v", err)
		}
		stored := checkTaskStatus(t, f, r.ID, task.ID, store.TaskQueued)
		if stored.Attempts != 0 || stored.LeaseExpiresAt != nil || stored.LeaseOwner != "" {
			t.Errorf("released task = %+v, want 0 attempts and no lease", stored)
		}
		again := f.mustClaim(t, "w2", T0.Add(time.Second))
		if again.ID != task.ID || again.Attempts != 1 {
			t.Errorf("re-claim after release = task %d attempt %d, want %d attempt 1", again.ID, again.Attempts, task.ID)
		}
		// MaxAttempts is 1, so had the release counted, a transient
		// failure now would be the second attempt; it is the first, and
		// the last: DEAD.
		if err := f.fail(again, T0.Add(2*time.Second), "db gone", false, T0.Add(time.Minute)); err != nil {
			t.Fatalf("TaskFail: %v", err)
		}
		checkTaskStatus(t, f, r.ID, task.ID, store.TaskDead)
		checkRunStatus(t, f, r.ID, store.RunFailed)
	})

	t.Run("LeaseExpiriesAreNotFailures", func(t *testing.T) {
		// A crashed worker's lease expiry is not a failure of the task: it
		// does not use up MaxAttempts, which bounds the failures workers
		// report. Expiries have their own limit, MaxLeaseExpiries.
		f := setup(t, open)
		r, _ := f.simpleRun(t, "run", 1, 2)
		now := T0
		task := f.mustClaim(t, "w", now)
		// One reported failure: 1 of 2.
		now = now.Add(time.Second)
		if err := f.fail(task, now, "connection reset", false, now); err != nil {
			t.Fatalf("TaskFail: %v", err)
		}
		// Then MaxLeaseExpiries-1 crashes, each found by the next claim.
		task = f.mustClaim(t, "w", now)
		for expiries := 1; expiries < store.MaxLeaseExpiries; expiries++ {
			now = now.Add(Lease)
			again := f.mustClaim(t, "w", now)
			if again.ID != task.ID || again.LeaseExpiries != expiries || again.Failures != 1 || again.Attempts != expiries+2 ||
				again.ClaimToken != task.ClaimToken+1 || again.Status != store.TaskRunning {
				t.Fatalf("claim after expiry %d = %+v, want the task again with %d expiries, 1 failure, attempt %d",
					expiries, again, expiries, expiries+2)
			}
			task = again
		}
		checkRunStatus(t, f, r.ID, store.RunRunning)
		// A second reported failure is the 2nd of 2 whatever the attempts:
		// DEAD, with the worker's error.
		now = now.Add(time.Second)
		if err := f.fail(task, now, "connection reset again", false, now); err != nil {
			t.Fatalf("TaskFail: %v", err)
		}
		dead := checkTaskStatus(t, f, r.ID, task.ID, store.TaskDead)
		if dead.Failures != 2 || dead.LastError != "connection reset again" || dead.LeaseExpiries != store.MaxLeaseExpiries-1 {
			t.Errorf("task after its 2nd failure = %+v", dead)
		}
		checkRunStatus(t, f, r.ID, store.RunFailed)
	})

	t.Run("TooManyLeaseExpiriesAreDead", func(t *testing.T) {
		f := setup(t, open)
		r, _ := f.simpleRun(t, "run", 1, 3)
		now := T0
		task := f.mustClaim(t, "w0", now)
		for i := 1; i < store.MaxLeaseExpiries; i++ {
			now = now.Add(Lease)
			task = f.mustClaim(t, fmt.Sprintf("w%d", i), now)
		}
		if task.LeaseExpiries != store.MaxLeaseExpiries-1 || task.Failures != 0 {
			t.Fatalf("last claim = %+v, want %d expiries, no failure", task, store.MaxLeaseExpiries-1)
		}
		// One microsecond early: the lease holds, nothing changes.
		if got := f.claim(t, "late", now.Add(Lease-time.Microsecond)); got != nil {
			t.Fatalf("claimed task %d while its lease holds", got.ID)
		}
		checkTaskStatus(t, f, r.ID, task.ID, store.TaskRunning)
		// The MaxLeaseExpiries-th expiry: the next claim finds the task
		// DEAD, and the run FAILED at that claim's time.
		end := now.Add(Lease)
		if got := f.claim(t, "late", end); got != nil {
			t.Fatalf("re-claimed task %d past MaxLeaseExpiries", got.ID)
		}
		dead := checkTaskStatus(t, f, r.ID, task.ID, store.TaskDead)
		want := store.LeaseExpiredError(task.LeaseOwner, store.MaxLeaseExpiries)
		if dead.LastError != want || dead.LeaseExpiries != store.MaxLeaseExpiries || dead.Failures != 0 {
			t.Errorf("dead task: last error %q, %d expiries, %d failures; want %q, %d, 0",
				dead.LastError, dead.LeaseExpiries, dead.Failures, want, store.MaxLeaseExpiries)
		}
		checkTimePtr(t, "task FinishedAt", dead.FinishedAt, &end)
		run := checkRunStatus(t, f, r.ID, store.RunFailed)
		checkTimePtr(t, "CompletedAt", run.CompletedAt, &end)
		if !strings.Contains(run.Error, want) {
			t.Errorf("run error %q does not carry %q", run.Error, want)
		}
	})

	t.Run("QueueDepth", func(t *testing.T) {
		f := setup(t, open)
		depth := func(now time.Time) *store.QueueDepth {
			t.Helper()
			f.clock.Set(now)
			q, err := f.s.TaskQueueDepth(f.ctx)
			if err != nil {
				t.Fatalf("TaskQueueDepth: %v", err)
			}
			if !q.At.Equal(us(now)) {
				t.Errorf("TaskQueueDepth at %v, want the store's now %v", q.At, us(now))
			}
			return q
		}
		// A shared database may hold RUNNING tasks of runs cancelled by
		// earlier subtests (their workers never came back): count from
		// what is there. Queued tasks of cancelled runs are cancelled.
		base := depth(T0)
		if base.Queued != 0 || base.OldestWait != 0 {
			t.Fatalf("queue before the run: %+v, want no QUEUED task", base)
		}
		want := func(what string, q *store.QueueDepth, queued, running int64, wait time.Duration) {
			t.Helper()
			if q.Queued != queued || q.Running != base.Running+running || q.OldestWait != wait {
				t.Errorf("%s: queued %d running %d oldest wait %v, want %d, %d and %v",
					what, q.Queued, q.Running-base.Running, q.OldestWait, queued, running, wait)
			}
			if q.Open() != q.Queued+q.Running {
				t.Errorf("%s: Open() = %d, want %d", what, q.Open(), q.Queued+q.Running)
			}
		}

		tasks := taskSpec(3, "FIXED_BOND", T0, 3)
		tasks[0].AvailableAt = T0.Add(-time.Minute)
		tasks[1].AvailableAt = T0.Add(-10 * time.Second)
		tasks[2].AvailableAt = T0.Add(time.Hour) // waiting out a delay: queued, not waiting
		MustRun(t, f.ctx, f.s, RunOpts{Run: &store.Run{ID: f.id("run"), HashMod: 3}, Tasks: tasks})
		now := T0.Add(5 * time.Second)
		want("three queued", depth(now), 3, 0, 65*time.Second)

		first := f.mustClaim(t, "w1", now)
		want("the oldest claimed", depth(now), 2, 1, 15*time.Second)
		f.mustClaim(t, "w2", now)
		want("both available claimed", depth(now), 1, 2, 0)

		// Past the third task's AvailableAt: it waits; the two leases
		// expired unclaimed and still count as RUNNING.
		late := T0.Add(time.Hour + 30*time.Second)
		want("delay over", depth(late), 1, 2, 30*time.Second)

		if err := f.complete(first, late, nil); err != nil {
			t.Fatalf("complete: %v", err)
		}
		want("one completed", depth(late), 1, 1, 30*time.Second)
		if _, err := f.s.RunCancel(f.ctx, f.id("run")); err != nil {
			t.Fatalf("RunCancel: %v", err)
		}
		// The queued task is cancelled, and the expired running one with it.
		want("cancelled", depth(late), 0, 0, 0)
	})

	t.Run("EngineVersions", func(t *testing.T) {
		f := setup(t, open)
		r, tasks := f.simpleRun(t, "run", 4, 3)
		if v, err := f.s.RunEngineVersions(f.ctx, r.ID); err != nil || len(v) != 0 {
			t.Errorf("RunEngineVersions before any task succeeded = %q, %v; want none", v, err)
		}
		var held []*store.Task
		for i := range tasks {
			held = append(held, f.mustClaim(t, fmt.Sprintf("w%d", i), T0))
		}
		for i, v := range []string{"iprs-pricing/2.0", "iprs-pricing/10.0", "iprs-pricing/2.0"} {
			f.clock.Set(T0.Add(time.Second))
			if err := f.s.TaskComplete(f.ctx, store.TaskCompleteParams{ClaimRef: held[i].Ref(), EngineVersion: v}); err != nil {
				t.Fatalf("TaskComplete(%s): %v", v, err)
			}
			if got := MustTask(t, f.ctx, f.s, r.ID, held[i].ID).EngineVersion; got != v {
				t.Errorf("task %d EngineVersion = %q, want %q", held[i].ID, got, v)
			}
		}
		// The last task's worker stalls; its stale completion leaves no
		// version behind, and a task that dies has none.
		last := held[3]
		again := f.mustClaim(t, "w9", T0.Add(Lease))
		f.clock.Set(T0.Add(Lease + time.Second))
		if err := f.s.TaskComplete(f.ctx, store.TaskCompleteParams{ClaimRef: last.Ref(), EngineVersion: "stale"}); !errors.Is(err, apperr.ErrConflict) {
			t.Fatalf("stale TaskComplete: %v, want Conflict", err)
		}
		if err := f.fail(again, T0.Add(Lease+2*time.Second), "position P: no curve", true, time.Time{}); err != nil {
			t.Fatalf("TaskFail: %v", err)
		}
		if got := checkTaskStatus(t, f, r.ID, last.ID, store.TaskDead).EngineVersion; got != "" {
			t.Errorf("dead task EngineVersion = %q, want none", got)
		}
		got, err := f.s.RunEngineVersions(f.ctx, r.ID)
		if want := []string{"iprs-pricing/10.0", "iprs-pricing/2.0"}; err != nil || !slices.Equal(got, want) {
			t.Errorf("RunEngineVersions = %q, %v; want %q", got, err, want)
		}
		if _, err := f.s.RunEngineVersions(f.ctx, f.id("nope")); !errors.Is(err, apperr.ErrNotFound) {
			t.Errorf("RunEngineVersions(unknown run): %v, want ErrNotFound", err)
		}
	})

	t.Run("SettleRules", func(t *testing.T) {
		f := setup(t, open)
		// FAILED: the error names the first dead task (lowest id) and how
		// many died; a re-claimed task has no FinishedAt.
		r, tasks := f.simpleRun(t, "failed", 3, 2)
		a := f.mustClaim(t, "w1", T0)
		if err := f.fail(a, T0.Add(time.Second), "blip", false, T0.Add(2*time.Second)); err != nil {
			t.Fatalf("TaskFail: %v", err)
		}
		if q := checkTaskStatus(t, f, r.ID, a.ID, store.TaskQueued); q.FinishedAt != nil {
			t.Errorf("re-queued task has FinishedAt %v", q.FinishedAt)
		}
		var claimed []*store.Task
		for i := range 3 {
			task := f.mustClaim(t, fmt.Sprintf("w%d", i+2), T0.Add(3*time.Second))
			if task.FinishedAt != nil {
				t.Errorf("claimed task %d has FinishedAt %v", task.ID, task.FinishedAt)
			}
			claimed = append(claimed, task)
		}
		done := T0.Add(4 * time.Second)
		msgs := map[int64]string{}
		for i, task := range claimed {
			var err error
			if task.ID == tasks[1].ID {
				err = f.complete(task, done, nil)
			} else {
				msgs[task.ID] = fmt.Sprintf("position P%d: no curve", i)
				err = f.fail(task, done, msgs[task.ID], true, time.Time{})
			}
			if err != nil {
				t.Fatalf("finish task %d: %v", task.ID, err)
			}
		}
		run := checkRunStatus(t, f, r.ID, store.RunFailed)
		checkTimePtr(t, "FAILED run CompletedAt", run.CompletedAt, &done)
		want := fmt.Sprintf("2 tasks failed; first: task %d (FIXED_BOND, bucket 0) failed: %s", tasks[0].ID, msgs[tasks[0].ID])
		if run.Error != want {
			t.Errorf("FAILED run error = %q, want %q", run.Error, want)
		}

		// CANCELLED: a task that dies while its run is CANCELLING does not
		// make the run FAILED, and the run carries no error.
		r2, _ := f.simpleRun(t, "cancelled", 2, 3)
		b := f.mustClaim(t, "w1", T0)
		c := f.mustClaim(t, "w2", T0)
		if got, err := f.cancel(r2.ID, T0.Add(time.Second)); err != nil || got.Status != store.RunCancelling {
			t.Fatalf("RunCancel = %v, %v; want CANCELLING", got, err)
		}
		if err := f.fail(b, T0.Add(2*time.Second), "position X: bad date", true, time.Time{}); err != nil {
			t.Fatalf("TaskFail: %v", err)
		}
		checkTaskStatus(t, f, r2.ID, b.ID, store.TaskDead)
		checkRunStatus(t, f, r2.ID, store.RunCancelling)
		end := T0.Add(3 * time.Second)
		if err := f.release(c, end); err != nil {
			t.Fatalf("TaskRelease: %v", err)
		}
		run = checkRunStatus(t, f, r2.ID, store.RunCancelled)
		checkTimePtr(t, "CANCELLED run CompletedAt", run.CompletedAt, &end)
		if run.Error != "" {
			t.Errorf("CANCELLED run error = %q, want none", run.Error)
		}
	})

	t.Run("TaskPositions", func(t *testing.T) {
		f := setup(t, open)
		a := manyPositions(f.prefix+"a", 90)
		b := manyPositions(f.prefix+"b", 45)
		other := manyPositions(f.prefix+"o", 20)
		MustPositionSnapshot(t, f.ctx, f.s, &store.PositionSnapshot{ID: f.id("b"), PortfolioNodeID: "NB"}, b, 0)
		MustPositionSnapshot(t, f.ctx, f.s, &store.PositionSnapshot{ID: f.id("a"), PortfolioNodeID: "NA"}, a, 0)
		MustPositionSnapshot(t, f.ctx, f.s, &store.PositionSnapshot{ID: f.id("o")}, other, 0)
		// Odd, small power of two, and beyond 64 (drivers may index a
		// fine bucket of the hash).
		for _, mod := range []int{5, 8, 128, 1} {
			_, tasks := MustRun(t, f.ctx, f.s, RunOpts{Run: &store.Run{ID: f.id(fmt.Sprintf("run-%d", mod)), HashMod: mod,
				PositionSnapshotIDs: []string{f.id("b"), f.id("a")}}})
			checkTaskPositions(t, f, tasks, mod, a, b)
		}
	})
}

// checkStaleClaim checks that every call with the stale claim is a
// Conflict that changes nothing: the task stays RUNNING under current
// (same owner, attempts, token, lease), and no result row is written.
func (f *fixture) checkStaleClaim(t *testing.T, runID string, stale, current *store.Task, now time.Time, rows []*store.PositionResult) {
	t.Helper()
	before := MustTask(t, f.ctx, f.s, runID, current.ID)
	calls := []struct {
		name string
		call func() error
	}{
		{"TaskRenewLease", func() error { return f.renew(stale, now, time.Hour) }},
		{"TaskComplete", func() error { return f.complete(stale, now, rows) }},
		{"TaskFail transient", func() error { return f.fail(stale, now, "stale", false, now) }},
		{"TaskFail permanent", func() error { return f.fail(stale, now, "stale", true, time.Time{}) }},
		{"TaskRelease", func() error { return f.release(stale, now) }},
	}
	for _, c := range calls {
		if err := c.call(); !errors.Is(err, apperr.ErrConflict) {
			t.Errorf("%s with stale claim %d: %v, want Conflict", c.name, stale.ClaimToken, err)
		}
	}
	if got, err := f.s.ResultList(f.ctx, store.ResultListParams{RunID: runID, Limit: 10}); err != nil || len(got) != 0 {
		t.Errorf("results after a stale completion = %d, %v; want none", len(got), err)
	}
	after := MustTask(t, f.ctx, f.s, runID, current.ID)
	if after.Status != store.TaskRunning || after.LeaseOwner != before.LeaseOwner || after.Attempts != before.Attempts ||
		after.ClaimToken != current.ClaimToken || after.LastError != before.LastError {
		t.Errorf("after the stale calls: %+v, want it unchanged from %+v", after, before)
	}
	checkTimePtr(t, "LeaseExpiresAt after the stale calls", after.LeaseExpiresAt, before.LeaseExpiresAt)
	checkRunStatus(t, f, runID, store.RunRunning)
}

// checkTaskPositions checks that each task reads exactly its positions of
// a (node NA) and b (node NB), in that order.
func checkTaskPositions(t *testing.T, f *fixture, tasks []*store.Task, mod int, a, b []*store.Position) {
	t.Helper()
	seen := 0
	for _, task := range tasks {
		var want []*store.Position
		var nodes []string
		for _, s := range []struct {
			node string
			ps   []*store.Position
		}{{"NA", a}, {"NB", b}} {
			for _, p := range s.ps {
				if p.ProductType == task.ProductType && int(p.Hash%int64(mod)) == task.Bucket {
					want = append(want, p)
					nodes = append(nodes, s.node)
				}
			}
		}
		var got []*store.Position
		if err := f.s.TaskPositions(f.ctx, task, func(p *store.Position) error {
			got = append(got, p)
			return nil
		}); err != nil {
			t.Fatalf("TaskPositions(%d): %v", task.ID, err)
		}
		if int64(len(got)) != task.PositionCount || len(got) != len(want) {
			t.Errorf("task %s/%d: %d positions, want %d (PositionCount %d)", task.ProductType, task.Bucket, len(got), len(want), task.PositionCount)
			continue
		}
		for i := range got {
			checkPosition(t, got[i], want[i], nodes[i])
		}
		seen += len(got)
	}
	if seen != len(a)+len(b) {
		t.Errorf("hash mod %d: tasks cover %d positions, want %d", mod, seen, len(a)+len(b))
	}
}
