package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/iprs/iprs/internal/store"
)

const taskColumns = `t.task_id, t.run_id, t.product_type, t.bucket, t.hash_mod, t.status, t.attempts, t.max_attempts,
    t.failures, t.lease_expiries, t.position_count, t.claim_token, t.lease_owner, t.lease_expires_at, t.available_at, t.last_error, t.started_at, t.finished_at,
    t.engine_version`

func scanTask(row pgx.Row) (*store.Task, error) {
	var t store.Task
	err := row.Scan(&t.ID, &t.RunID, &t.ProductType, &t.Bucket, &t.HashMod, &t.Status, &t.Attempts, &t.MaxAttempts,
		&t.Failures, &t.LeaseExpiries, &t.PositionCount, &t.ClaimToken, &t.LeaseOwner, &t.LeaseExpiresAt, &t.AvailableAt, &t.LastError, &t.StartedAt, &t.FinishedAt,
		&t.EngineVersion)
	if err != nil {
		return nil, err
	}
	t.LeaseExpiresAt = utcPtr(t.LeaseExpiresAt)
	t.AvailableAt = t.AvailableAt.UTC()
	t.StartedAt = utcPtr(t.StartedAt)
	t.FinishedAt = utcPtr(t.FinishedAt)
	return &t, nil
}

// nowSQL is the store's clock in a statement whose first parameter is
// db.clock(): the test clock, or NULL for the database's
// statement_timestamp(), which is the same for every use in one statement.
const nowSQL = `coalesce($1::timestamptz, statement_timestamp())`

// micros is a duration as a bigint parameter, turned into an interval by
// `$n::bigint * interval '1 microsecond'`.
func micros(d time.Duration) int64 { return d.Microseconds() }

// claimSQL claims one task in one statement: the candidate is locked with
// SKIP LOCKED so concurrent claimers never wait on each other or get the
// same task, then updated with a new claim token, and its run moves from
// QUEUED to RUNNING (task row, then run row: the lock order). A RUNNING
// task whose lease expired is claimable while store.TaskAfterLeaseExpiry
// allows (its run is open, this expiry is below the limit $4), and the
// claim counts the expiry; reapExpired settles the others. $1 clock, $2
// owner, $3 lease (µs), $4 store.MaxLeaseExpiries.
const claimSQL = `WITH candidate AS (
    SELECT t.task_id
    FROM run_task t JOIN run r ON r.run_id = t.run_id
    WHERE t.status IN ('QUEUED', 'RUNNING')
      AND r.status IN ('QUEUED', 'RUNNING')
      AND ((t.status = 'QUEUED' AND t.available_at <= ` + nowSQL + `)
        OR (t.status = 'RUNNING' AND t.lease_expires_at <= ` + nowSQL + ` AND t.lease_expiries + 1 < $4::integer))
    ORDER BY t.available_at, t.task_id
    LIMIT 1
    FOR UPDATE OF t SKIP LOCKED
), claimed AS (
    UPDATE run_task t
    SET status = 'RUNNING', attempts = t.attempts + 1, claim_token = t.claim_token + 1, lease_owner = $2,
        lease_expiries = t.lease_expiries + CASE WHEN t.status = 'RUNNING' THEN 1 ELSE 0 END,
        lease_expires_at = ` + nowSQL + ` + $3::bigint * interval '1 microsecond',
        started_at = ` + nowSQL + `, finished_at = NULL
    FROM candidate c
    WHERE t.task_id = c.task_id
    RETURNING t.*
), started AS (
    UPDATE run SET status = 'RUNNING', started_at = ` + nowSQL + `
    WHERE run_id = (SELECT run_id FROM claimed) AND status = 'QUEUED'
    RETURNING run_id
)
SELECT ` + taskColumns + ` FROM claimed t`

// TaskClaim claims the claimable task that became available first, after
// reaping expired tasks that may not be claimed again.
func (db *DB) TaskClaim(ctx context.Context, p store.TaskClaimParams) (*store.Task, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	if p.Owner == "" {
		return nil, fmt.Errorf("postgres: claim task: empty owner")
	}
	if p.Lease < time.Microsecond {
		return nil, fmt.Errorf("postgres: claim task: lease %s is shorter than a microsecond", p.Lease)
	}
	if err := db.reapExpired(ctx); err != nil {
		return nil, err
	}
	// One statement: its own transaction, no BEGIN/COMMIT round trips.
	t, err := scanTask(db.pool.QueryRow(ctx, claimSQL, db.clock(), p.Owner, micros(p.Lease), store.MaxLeaseExpiries))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("claimable task")
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: claim task: %w", err)
	}
	return t, nil
}

// expiredSQL selects the RUNNING tasks whose lease expired and that may
// not be claimed again (store.TaskAfterLeaseExpiry: their run is not open,
// or this expiry reaches the limit $2). $1 clock.
const expiredSQL = `FROM run_task t JOIN run r ON r.run_id = t.run_id
WHERE t.status = 'RUNNING' AND t.lease_expires_at <= ` + nowSQL + `
  AND (r.status NOT IN ('QUEUED', 'RUNNING') OR t.lease_expiries + 1 >= $2::integer)`

// reapExpired ends the RUNNING tasks whose lease expired and that nobody
// may claim again, as store.TaskAfterLeaseExpiry says (DEAD, or CANCELLED
// when their run is being cancelled), then settles their runs, so a run
// never waits forever on a dead worker.
func (db *DB) reapExpired(ctx context.Context) error {
	// Usually there is nothing to reap: find out with one indexed read
	// (run_task_lease_idx) before opening a transaction.
	var found bool
	if err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 `+expiredSQL+`)`, db.clock(), store.MaxLeaseExpiries).Scan(&found); err != nil {
		return fmt.Errorf("postgres: look for expired tasks: %w", err)
	}
	if !found {
		return nil
	}
	return db.inTx(ctx, "reapExpired", func(tx pgx.Tx) error {
		// Task rows first (skipping those another transaction holds),
		// then their runs in id order: the lock order.
		rows, err := tx.Query(ctx, `SELECT t.task_id, t.run_id, r.status, t.lease_expiries + 1, t.lease_owner, `+nowSQL+`
`+expiredSQL+`
ORDER BY t.task_id
FOR UPDATE OF t SKIP LOCKED`, db.clock(), store.MaxLeaseExpiries)
		if err != nil {
			return fmt.Errorf("postgres: reap expired tasks: %w", err)
		}
		type expired struct {
			TaskID    int64
			RunID     string
			RunStatus string
			Expiries  int
			Owner     string
			Now       time.Time
		}
		found, err := pgx.CollectRows(rows, pgx.RowToStructByPos[expired])
		if err != nil {
			return fmt.Errorf("postgres: reap expired tasks: %w", err)
		}
		var runs []string
		for _, e := range found {
			next := store.TaskAfterLeaseExpiry(e.RunStatus, e.Expiries)
			if next == store.TaskQueued {
				continue // claimable after all
			}
			lastError := ""
			if next == store.TaskDead {
				lastError = store.LeaseExpiredError(e.Owner, e.Expiries)
				db.log.Warn("task dead: its lease expired too often", "task_id", e.TaskID, "run_id", e.RunID, "lease_expiries", e.Expiries)
			}
			if _, err := tx.Exec(ctx, `UPDATE run_task SET status = $2, finished_at = $3, lease_expires_at = NULL,
    lease_expiries = lease_expiries + 1, last_error = CASE WHEN $4::text = '' THEN last_error ELSE $4::text END
WHERE task_id = $1`, e.TaskID, next, e.Now.UTC(), lastError); err != nil {
				return fmt.Errorf("postgres: reap expired task %d: %w", e.TaskID, err)
			}
			runs = append(runs, e.RunID)
		}
		slices.Sort(runs)
		for _, id := range slices.Compact(runs) {
			if err := settleRun(ctx, tx, id, found[0].Now.UTC()); err != nil {
				return err
			}
		}
		return nil
	})
}

// TaskRenewLease extends the lease of the task's current claim, while its
// run is open. $1 clock, $2 task, $3 token, $4 lease (µs).
func (db *DB) TaskRenewLease(ctx context.Context, p store.TaskRenewParams) error {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	if p.Lease < time.Microsecond {
		return fmt.Errorf("postgres: renew lease of task %d: lease %s is shorter than a microsecond", p.TaskID, p.Lease)
	}
	tag, err := db.pool.Exec(ctx, `UPDATE run_task t SET lease_expires_at = `+nowSQL+` + $4::bigint * interval '1 microsecond'
FROM run r
WHERE t.task_id = $2 AND r.run_id = t.run_id
  AND t.status = 'RUNNING' AND t.claim_token = $3 AND r.status IN ('QUEUED', 'RUNNING')`,
		db.clock(), p.TaskID, p.Token, micros(p.Lease))
	if err != nil {
		return fmt.Errorf("postgres: renew lease of task %d: %w", p.TaskID, err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var (
		status, runStatus, owner string
		token                    int64
	)
	err = db.pool.QueryRow(ctx, `SELECT t.status, t.claim_token, t.lease_owner, r.status
FROM run_task t JOIN run r ON r.run_id = t.run_id WHERE t.task_id = $1`, p.TaskID).Scan(&status, &token, &owner, &runStatus)
	if err != nil {
		return noRows(err, fmt.Sprintf("task %d", p.TaskID))
	}
	if status == store.TaskRunning && token == p.Token {
		return conflict("task %d: claim %d lost: its run is %s", p.TaskID, p.Token, runStatus)
	}
	return lostClaim(p.ClaimRef, status, token, owner)
}

// lostClaim is the Conflict of a call whose claim is not the task's
// current one.
func lostClaim(c store.ClaimRef, status string, token int64, owner string) error {
	return conflict("task %d: claim %d lost (the task is %s, its latest claim %d by %q)", c.TaskID, c.Token, status, token, owner)
}

// heldTask is a task row locked FOR UPDATE under its current claim, with
// its run's status locked too, and the store's now.
type heldTask struct {
	runID       string
	failures    int
	maxAttempts int
	runStatus   string
	now         time.Time
}

// lockHeldTask locks the task, checks that c is its current claim, then,
// when lockRun is set, locks the run row and reads its status. Every path
// that finishes a task locks task then run; the run row lock serializes
// the settling of the run's status.
func (db *DB) lockHeldTask(ctx context.Context, tx pgx.Tx, c store.ClaimRef, lockRun bool) (*heldTask, error) {
	var (
		h             heldTask
		status, owner string
		token         int64
	)
	err := tx.QueryRow(ctx, `SELECT run_id, status, claim_token, lease_owner, failures, max_attempts, `+nowSQL+`
FROM run_task WHERE task_id = $2 FOR UPDATE`, db.clock(), c.TaskID).Scan(&h.runID, &status, &token, &owner, &h.failures, &h.maxAttempts, &h.now)
	if err != nil {
		return nil, noRows(err, fmt.Sprintf("task %d", c.TaskID))
	}
	h.now = h.now.UTC()
	if status != store.TaskRunning || token != c.Token {
		return nil, lostClaim(c, status, token, owner)
	}
	if !lockRun {
		return &h, nil
	}
	if err := tx.QueryRow(ctx, "SELECT status FROM run WHERE run_id = $1 FOR UPDATE", h.runID).Scan(&h.runStatus); err != nil {
		return nil, noRows(err, fmt.Sprintf("run %q", h.runID))
	}
	return &h, nil
}

// TaskComplete copies the task's results and marks it SUCCEEDED in one
// transaction, after re-checking the claim under a row lock. The run row
// is locked only after the copy, by settleRun: a completion does not need
// the run's status, and holding its lock through the copy made the
// completions of a run's tasks queue behind each other.
func (db *DB) TaskComplete(ctx context.Context, p store.TaskCompleteParams) error {
	return db.inTx(ctx, "TaskComplete", func(tx pgx.Tx) error {
		h, err := db.lockHeldTask(ctx, tx, p.ClaimRef, false)
		if err != nil {
			return err
		}
		if err := writeResults(ctx, tx, h.runID, p.TaskID, p.Results, p.Aggregates); err != nil {
			return fmt.Errorf("postgres: complete task %d: %w", p.TaskID, err)
		}
		var now time.Time
		if err := tx.QueryRow(ctx, `UPDATE run_task SET status = 'SUCCEEDED', finished_at = `+nowSQL+`, lease_expires_at = NULL,
    engine_version = $3
WHERE task_id = $2 RETURNING finished_at`, db.clock(), p.TaskID, p.EngineVersion).Scan(&now); err != nil {
			return fmt.Errorf("postgres: complete task %d: %w", p.TaskID, err)
		}
		return settleRun(ctx, tx, h.runID, now.UTC())
	})
}

// TaskFail records a failure; the task becomes what
// store.TaskAfterFailure says.
func (db *DB) TaskFail(ctx context.Context, p store.TaskFailParams) error {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	return db.inTx(ctx, "TaskFail", func(tx pgx.Tx) error {
		h, err := db.lockHeldTask(ctx, tx, p.ClaimRef, true)
		if err != nil {
			return err
		}
		next := store.TaskAfterFailure(h.runStatus, p.Permanent, h.failures+1, h.maxAttempts)
		if err := finishHeldTask(ctx, tx, p.TaskID, next, h.now, h.now.Add(max(p.RetryAfter, 0)), p.Error, heldFailed); err != nil {
			return fmt.Errorf("postgres: fail task %d: %w", p.TaskID, err)
		}
		return settleRun(ctx, tx, h.runID, h.now)
	})
}

// How a held task ends: a failure counts in failures, a release gives
// the attempt back.
const (
	heldFailed   = false
	heldReleased = true
)

// finishHeldTask moves a held task to next: a terminal status stamps
// finished_at; QUEUED clears the lease and waits until availableAt (zero:
// keeps its AvailableAt). A release gives the attempt back; a failure is
// counted.
func finishHeldTask(ctx context.Context, tx pgx.Tx, taskID int64, next string, now, availableAt time.Time, lastError string, released bool) error {
	_, err := tx.Exec(ctx, `UPDATE run_task SET
    status = $2::text,
    finished_at = CASE WHEN $2::text = 'QUEUED' THEN NULL ELSE $3::timestamptz END,
    available_at = CASE WHEN $2::text = 'QUEUED' THEN coalesce($4::timestamptz, available_at) ELSE available_at END,
    lease_owner = CASE WHEN $2::text = 'QUEUED' THEN '' ELSE lease_owner END,
    attempts = CASE WHEN $6::boolean THEN greatest(attempts - 1, 0) ELSE attempts END,
    failures = CASE WHEN $6::boolean THEN failures ELSE failures + 1 END,
    lease_expires_at = NULL,
    last_error = CASE WHEN $5::text = '' THEN last_error ELSE $5::text END
WHERE task_id = $1`, taskID, next, now, nullTime(stamp(availableAt)), lastError, released)
	return err
}

// TaskRelease gives a held task back without counting the attempt; in a
// run being cancelled the task is cancelled instead.
func (db *DB) TaskRelease(ctx context.Context, c store.ClaimRef) error {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	return db.inTx(ctx, "TaskRelease", func(tx pgx.Tx) error {
		h, err := db.lockHeldTask(ctx, tx, c, true)
		if err != nil {
			return err
		}
		next := store.TaskAfterRelease(h.runStatus)
		if err := finishHeldTask(ctx, tx, c.TaskID, next, h.now, time.Time{}, "", heldReleased); err != nil {
			return fmt.Errorf("postgres: release task %d: %w", c.TaskID, err)
		}
		return settleRun(ctx, tx, h.runID, h.now)
	})
}

// settleRun settles a run whose last open task may just have ended, by
// store.SettleRun. It locks the run row first, so of two transactions
// finishing the last two tasks the second to get the lock sees the first's
// committed task and settles the run.
func settleRun(ctx context.Context, tx pgx.Tx, runID string, now time.Time) error {
	t := store.RunTally{}
	var kind string
	if err := tx.QueryRow(ctx, "SELECT status, kind FROM run WHERE run_id = $1 FOR UPDATE", runID).Scan(&t.Status, &kind); err != nil {
		return noRows(err, fmt.Sprintf("run %q", runID))
	}
	if !store.RunOpen(t.Status) && t.Status != store.RunCancelling {
		return nil
	}
	err := tx.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status IN ('QUEUED', 'RUNNING')), count(*) FILTER (WHERE status = 'DEAD')
FROM run_task WHERE run_id = $1`, runID).Scan(&t.Open, &t.Dead)
	if err != nil {
		return fmt.Errorf("postgres: settle run %q: %w", runID, err)
	}
	if t.Open == 0 && t.Dead > 0 {
		d := store.Task{RunID: runID}
		if err := tx.QueryRow(ctx, `SELECT task_id, product_type, bucket, last_error FROM run_task
WHERE run_id = $1 AND status = 'DEAD' ORDER BY task_id LIMIT 1`, runID).Scan(&d.ID, &d.ProductType, &d.Bucket, &d.LastError); err != nil {
			return fmt.Errorf("postgres: settle run %q: first dead task: %w", runID, err)
		}
		t.FirstDead = &d
	}
	s, ok := store.SettleRun(t)
	if !ok {
		return nil
	}
	if _, err := tx.Exec(ctx, "UPDATE run SET status = $2, completed_at = $3, error = $4 WHERE run_id = $1",
		runID, s.Status, now, s.Error); err != nil {
		return fmt.Errorf("postgres: settle run %q: %w", runID, err)
	}
	return enqueueWebhooks(ctx, tx, store.RunSettledEvent(kind, s.Status), runID, s.Status, s.Error, now)
}

// nullTime is nil for the zero time.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// TaskQueueDepth counts the open tasks through the queue's partial index
// (run_task_queue_idx), at the store's clock.
func (db *DB) TaskQueueDepth(ctx context.Context) (*store.QueueDepth, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	var (
		q      store.QueueDepth
		oldest *time.Time
	)
	err := db.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'QUEUED'), count(*) FILTER (WHERE status = 'RUNNING'),
    min(available_at) FILTER (WHERE status = 'QUEUED' AND available_at <= `+nowSQL+`), `+nowSQL+`
FROM run_task WHERE status IN ('QUEUED', 'RUNNING')`, db.clock()).Scan(&q.Queued, &q.Running, &oldest, &q.At)
	if err != nil {
		return nil, fmt.Errorf("postgres: task queue depth: %w", err)
	}
	q.At = q.At.UTC()
	if oldest != nil {
		q.OldestWait = q.At.Sub(*oldest)
	}
	return &q, nil
}
