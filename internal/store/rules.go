package store

import "fmt"

// The rules of a run's life: what becomes of a task that fails or is given
// back, and when and how a run settles. Both drivers read what the rules
// need under their locks and call these functions, so that they cannot
// differ; docs/state_machine.md states the same rules.

// RunOpen reports whether a run in this status still hands out work: its
// tasks may be claimed, and a task that fails transiently goes back to the
// queue. That is QUEUED and RUNNING.
func RunOpen(status string) bool {
	return status == RunQueued || status == RunRunning
}

// MaxLeaseExpiries is how many times a task's lease may expire before the
// task is DEAD. An expired lease means the worker died or stalled (a crash,
// a lost machine, a deploy that killed it): that says nothing about the
// task, so it does not count against MaxAttempts, which counts the
// failures workers report. But a task that takes its worker down every
// time (say it exhausts memory) would otherwise be handed out forever, so
// expiries have a limit of their own, fixed per task and well above what
// crashes and deploys produce: with the default 60 s lease, ten expiries
// are at least ten minutes of a task failing to finish anywhere.
const MaxLeaseExpiries = 10

// TaskAfterLeaseExpiry is what becomes of a RUNNING task whose lease
// expired, expiries counting this expiry: CANCELLED when its run is not
// open (QUEUED or RUNNING), DEAD at the MaxLeaseExpiries-th expiry, else
// QUEUED: it may be claimed again (a claim takes such a task at once,
// without it passing through QUEUED in the database).
func TaskAfterLeaseExpiry(runStatus string, expiries int) string {
	switch {
	case !RunOpen(runStatus):
		return TaskCancelled
	case expiries >= MaxLeaseExpiries:
		return TaskDead
	default:
		return TaskQueued
	}
}

// LeaseExpiredError is the LastError of a task that is DEAD because its
// lease expired for the expiries-th time, the last time held by owner.
func LeaseExpiredError(owner string, expiries int) string {
	return fmt.Sprintf("lease expired %d times, the last time held by %s: every worker that took the task died or stalled before finishing it", expiries, owner)
}

// TaskAfterFailure is the status of a RUNNING task after TaskFail: DEAD
// when the failure is permanent or is the task's maxAttempts-th failure
// reported by a worker (failures counts this one; expired leases are not
// failures); otherwise QUEUED again when its run is open, else CANCELLED
// (a run that is being cancelled takes no retries).
func TaskAfterFailure(runStatus string, permanent bool, failures, maxAttempts int) string {
	switch {
	case permanent || failures >= maxAttempts:
		return TaskDead
	case RunOpen(runStatus):
		return TaskQueued
	default:
		return TaskCancelled
	}
}

// TaskAfterRelease is the status of a RUNNING task given back with
// TaskRelease: QUEUED when its run is open, else CANCELLED.
func TaskAfterRelease(runStatus string) string {
	if RunOpen(runStatus) {
		return TaskQueued
	}
	return TaskCancelled
}

// RunTally is what settling a run reads, under the run's lock: its status
// and its tasks by status.
type RunTally struct {
	Status string
	// Open counts the tasks QUEUED or RUNNING, Dead those DEAD.
	Open, Dead int64
	// FirstDead is the DEAD task with the lowest id (only ID, ProductType,
	// Bucket and LastError are read); nil when Dead is 0.
	FirstDead *Task
}

// Settlement is how a run ends.
type Settlement struct {
	// Status is COMPLETED, FAILED or CANCELLED.
	Status string
	// Error is the run's error: what killed the first dead task when the
	// run FAILED, "" otherwise.
	Error string
}

// SettleRun decides whether a run ends, and how. A run that is QUEUED,
// RUNNING or CANCELLING ends once no task is open: CANCELLED if it was
// CANCELLING (whatever its tasks became), else FAILED when a task is DEAD,
// else COMPLETED. A run in any other status, or with an open task, does
// not change (ok is false). The caller stamps CompletedAt with the store's
// clock and writes Error as given, clearing any earlier one.
func SettleRun(t RunTally) (s Settlement, ok bool) {
	if (!RunOpen(t.Status) && t.Status != RunCancelling) || t.Open > 0 {
		return Settlement{}, false
	}
	switch {
	case t.Status == RunCancelling:
		return Settlement{Status: RunCancelled}, true
	case t.Dead > 0:
		return Settlement{Status: RunFailed, Error: deadRunError(t)}, true
	default:
		return Settlement{Status: RunCompleted}, true
	}
}

// deadRunError names the first dead task and why it died, and how many
// died when it was not the only one.
func deadRunError(t RunTally) string {
	msg := "a task failed"
	if d := t.FirstDead; d != nil {
		msg = fmt.Sprintf("task %d (%s, bucket %d) failed: %s", d.ID, d.ProductType, d.Bucket, d.LastError)
	}
	if t.Dead > 1 {
		msg = fmt.Sprintf("%d tasks failed; first: %s", t.Dead, msg)
	}
	return msg
}
