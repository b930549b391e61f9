package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/store"
)

// TaskClaim claims one task atomically (see store.Store). The whole claim is
// one write transaction on the single writer connection: the sweep of
// abandoned tasks, then UPDATE … WHERE task_id = (SELECT … LIMIT 1)
// RETURNING, then the run's move to RUNNING. The store's clock is read
// inside the transaction, while this process holds the database's writer.
func (db *DB) TaskClaim(ctx context.Context, p store.TaskClaimParams) (*store.Task, error) {
	if p.Owner == "" {
		return nil, errors.New("sqlite: claim task: empty owner")
	}
	if p.Lease < time.Microsecond {
		return nil, fmt.Errorf("sqlite: claim task: lease %s is shorter than a microsecond", p.Lease)
	}
	var claimed *store.Task
	err := db.write(ctx, func(tx *sql.Tx) error {
		now := db.now()
		if err := sweepAbandoned(ctx, tx, now); err != nil {
			return err
		}
		at := toMicros(now)
		// An expired task left RUNNING by the sweep may be claimed again
		// (store.TaskAfterLeaseExpiry); the claim counts the expiry.
		row := tx.QueryRowContext(ctx, `UPDATE run_task
SET status = 'RUNNING', attempts = attempts + 1, claim_token = claim_token + 1, lease_owner = ?, lease_expires_at = ?,
    lease_expiries = lease_expiries + (status = 'RUNNING'), started_at = ?, finished_at = NULL
WHERE task_id = (
    SELECT t.task_id FROM run_task t JOIN run r ON r.run_id = t.run_id
    WHERE r.status IN ('QUEUED', 'RUNNING')
      AND ((t.status = 'QUEUED' AND t.available_at <= ?)
        OR (t.status = 'RUNNING' AND t.lease_expires_at <= ? AND t.lease_expiries + 1 < ?))
    ORDER BY t.available_at, t.task_id
    LIMIT 1)
RETURNING `+taskColumns, p.Owner, at+p.Lease.Microseconds(), at, at, at, store.MaxLeaseExpiries)
		t, err := scanTask(row.Scan)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // commit the sweep; nothing to claim
		}
		if err != nil {
			return fmt.Errorf("claim task: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE run SET status = 'RUNNING', started_at = coalesce(started_at, ?)
WHERE run_id = ? AND status = 'QUEUED'`, at, t.RunID); err != nil {
			return fmt.Errorf("start run %q: %w", t.RunID, err)
		}
		claimed = t
		return nil
	})
	if err != nil {
		return nil, sqliteErr("claim task", err)
	}
	if claimed == nil {
		return nil, apperr.Errorf(apperr.NotFound, "no task to claim")
	}
	return claimed, nil
}

// sweepAbandoned ends the RUNNING tasks whose lease expired and that
// nobody may claim again, as store.TaskAfterLeaseExpiry says: CANCELLED
// when their run is not open, DEAD at the lease expiry limit. Their runs
// are settled.
func sweepAbandoned(ctx context.Context, tx *sql.Tx, now time.Time) error {
	at := toMicros(now)
	type expired struct {
		taskID    int64
		runID     string
		runStatus string
		expiries  int
		owner     string
	}
	var found []expired
	err := func() error {
		rows, err := tx.QueryContext(ctx, `SELECT t.task_id, t.run_id, r.status, t.lease_expiries + 1, t.lease_owner
FROM run_task t JOIN run r ON r.run_id = t.run_id
WHERE t.status = 'RUNNING' AND t.lease_expires_at <= ?
  AND (r.status NOT IN ('QUEUED', 'RUNNING') OR t.lease_expiries + 1 >= ?)
ORDER BY t.task_id`, at, store.MaxLeaseExpiries)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var e expired
			if err := rows.Scan(&e.taskID, &e.runID, &e.runStatus, &e.expiries, &e.owner); err != nil {
				return err
			}
			found = append(found, e)
		}
		return rows.Err()
	}()
	if err != nil {
		return fmt.Errorf("find abandoned tasks: %w", err)
	}
	var runs []string
	for _, e := range found {
		next := store.TaskAfterLeaseExpiry(e.runStatus, e.expiries)
		if next == store.TaskQueued {
			continue // claimable after all
		}
		lastError := ""
		if next == store.TaskDead {
			lastError = store.LeaseExpiredError(e.owner, e.expiries)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE run_task SET status = ?, finished_at = ?, lease_expires_at = NULL,
    lease_expiries = lease_expiries + 1, last_error = CASE WHEN ? = '' THEN last_error ELSE ? END
WHERE task_id = ?`, next, at, lastError, lastError, e.taskID); err != nil {
			return fmt.Errorf("end abandoned task %d: %w", e.taskID, err)
		}
		runs = append(runs, e.runID)
	}
	slices.Sort(runs)
	for _, id := range slices.Compact(runs) {
		if err := settleRun(ctx, tx, id, now); err != nil {
			return err
		}
	}
	return nil
}

// claimState is a task held under its current claim, with its run's
// status.
type claimState struct {
	runID       string
	runStatus   string
	failures    int
	maxAttempts int
}

// holdClaim checks that c is the task's current claim: ErrNotFound for an
// unknown task, Conflict when the task is not RUNNING under that claim.
func holdClaim(ctx context.Context, tx *sql.Tx, c store.ClaimRef) (*claimState, error) {
	var (
		s             claimState
		status, owner string
		token         int64
	)
	err := tx.QueryRowContext(ctx, `SELECT t.run_id, r.status, t.status, t.claim_token, t.lease_owner, t.failures, t.max_attempts
FROM run_task t JOIN run r ON r.run_id = t.run_id WHERE t.task_id = ?`, c.TaskID).
		Scan(&s.runID, &s.runStatus, &status, &token, &owner, &s.failures, &s.maxAttempts)
	if err != nil {
		return nil, notFound(err, "task %d", c.TaskID)
	}
	if status != store.TaskRunning || token != c.Token {
		return nil, conflictf("task %d: claim %d lost (the task is %s, its latest claim %d by %q)", c.TaskID, c.Token, status, token, owner)
	}
	return &s, nil
}

// TaskRenewLease extends the lease of the task's current claim.
func (db *DB) TaskRenewLease(ctx context.Context, p store.TaskRenewParams) error {
	if p.Lease < time.Microsecond {
		return fmt.Errorf("sqlite: renew lease of task %d: lease %s is shorter than a microsecond", p.TaskID, p.Lease)
	}
	err := db.write(ctx, func(tx *sql.Tx) error {
		s, err := holdClaim(ctx, tx, p.ClaimRef)
		if err != nil {
			return err
		}
		if !store.RunOpen(s.runStatus) {
			return conflictf("task %d: claim %d lost: its run is %s", p.TaskID, p.Token, s.runStatus)
		}
		until := toMicros(db.now()) + p.Lease.Microseconds()
		if _, err := tx.ExecContext(ctx, `UPDATE run_task SET lease_expires_at = ? WHERE task_id = ?`, until, p.TaskID); err != nil {
			return fmt.Errorf("renew lease of task %d: %w", p.TaskID, err)
		}
		return nil
	})
	if err != nil {
		return sqliteErr("renew lease", err)
	}
	return nil
}

// fineBuckets is the modulus of the fine bucket of position_task_idx; it
// must match the index's expression (position_hash % 64).
const fineBuckets = 64

// TaskPositions streams the task's positions in snapshot id then Seq order.
// The keys of the task's rows come from position_task_idx alone: only the
// fine buckets the task's bucket can be in are read, the bucket test uses
// the hash in the index, and only the task's own rows are read from the
// table. (The CTE is materialized and the index named because otherwise
// the planner reads every row of the snapshot: a WITHOUT ROWID table cannot
// defer the row lookup until the bucket test passed.)
func (db *DB) TaskPositions(ctx context.Context, t *store.Task, fn func(*store.Position) error) error {
	if t.HashMod <= 0 || t.Bucket < 0 || t.Bucket >= t.HashMod {
		return fmt.Errorf("sqlite: positions of task %d: bucket %d is not in [0, hash mod %d)", t.ID, t.Bucket, t.HashMod)
	}
	fine, err := json.Marshal(store.FineBuckets(fineBuckets, t.HashMod, t.Bucket))
	if err != nil {
		return fmt.Errorf("sqlite: positions of task %d: %w", t.ID, err)
	}
	return db.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `WITH task_key AS MATERIALIZED (
    SELECT k.position_snapshot_id, k.seq FROM position k INDEXED BY position_task_idx
    WHERE k.position_snapshot_id IN (SELECT position_snapshot_id FROM run_position_snapshot WHERE run_id = ?)
      AND k.product_type = ?
      AND (k.position_hash % 64) IN (SELECT value FROM json_each(?))
      AND k.position_hash % ? = ?)
SELECT `+positionColumns+`
FROM task_key m
JOIN position p ON p.position_snapshot_id = m.position_snapshot_id AND p.seq = m.seq
JOIN position_snapshot h ON h.position_snapshot_id = p.position_snapshot_id
ORDER BY p.position_snapshot_id, p.seq`, t.RunID, t.ProductType, string(fine), t.HashMod, t.Bucket)
		if err != nil {
			return fmt.Errorf("sqlite: positions of task %d: %w", t.ID, err)
		}
		return eachPosition(rows, fn)
	})
}

// TaskComplete writes the results and marks the task SUCCEEDED.
func (db *DB) TaskComplete(ctx context.Context, p store.TaskCompleteParams) error {
	err := db.write(ctx, func(tx *sql.Tx) error {
		s, err := holdClaim(ctx, tx, p.ClaimRef)
		if err != nil {
			return err
		}
		if err := insertResults(ctx, tx, s.runID, p.TaskID, p.Results, p.Aggregates); err != nil {
			return err
		}
		now := db.now()
		if _, err := tx.ExecContext(ctx, `UPDATE run_task SET status = 'SUCCEEDED', finished_at = ?, lease_expires_at = NULL,
    engine_version = ?
WHERE task_id = ?`, toMicros(now), p.EngineVersion, p.TaskID); err != nil {
			return fmt.Errorf("mark task %d succeeded: %w", p.TaskID, err)
		}
		return settleRun(ctx, tx, s.runID, now)
	})
	if err != nil {
		return sqliteErr("complete task", err)
	}
	return nil
}

// TaskFail records a failure: the task becomes what
// store.TaskAfterFailure says.
func (db *DB) TaskFail(ctx context.Context, p store.TaskFailParams) error {
	err := db.write(ctx, func(tx *sql.Tx) error {
		s, err := holdClaim(ctx, tx, p.ClaimRef)
		if err != nil {
			return err
		}
		now := db.now()
		at := toMicros(now)
		var q string
		var args []any
		switch store.TaskAfterFailure(s.runStatus, p.Permanent, s.failures+1, s.maxAttempts) {
		case store.TaskDead:
			q = `UPDATE run_task SET status = 'DEAD', failures = failures + 1, finished_at = ?, lease_expires_at = NULL, last_error = ?
WHERE task_id = ?`
			args = []any{at, p.Error, p.TaskID}
		case store.TaskCancelled:
			q = `UPDATE run_task SET status = 'CANCELLED', failures = failures + 1, finished_at = ?, lease_expires_at = NULL, last_error = ?
WHERE task_id = ?`
			args = []any{at, p.Error, p.TaskID}
		default:
			q = `UPDATE run_task SET status = 'QUEUED', failures = failures + 1, available_at = ?, lease_owner = '', lease_expires_at = NULL,
    last_error = ?
WHERE task_id = ?`
			args = []any{at + max(p.RetryAfter, 0).Microseconds(), p.Error, p.TaskID}
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("record failure of task %d: %w", p.TaskID, err)
		}
		return settleRun(ctx, tx, s.runID, now)
	})
	if err != nil {
		return sqliteErr("fail task", err)
	}
	return nil
}

// TaskRelease gives a claimed task back without counting the attempt.
func (db *DB) TaskRelease(ctx context.Context, c store.ClaimRef) error {
	err := db.write(ctx, func(tx *sql.Tx) error {
		s, err := holdClaim(ctx, tx, c)
		if err != nil {
			return err
		}
		now := db.now()
		q := `UPDATE run_task SET status = 'QUEUED', attempts = max(attempts - 1, 0), lease_owner = '', lease_expires_at = NULL
WHERE task_id = ?`
		args := []any{c.TaskID}
		if store.TaskAfterRelease(s.runStatus) == store.TaskCancelled {
			q = `UPDATE run_task SET status = 'CANCELLED', finished_at = ?, lease_expires_at = NULL WHERE task_id = ?`
			args = []any{toMicros(now), c.TaskID}
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("release task %d: %w", c.TaskID, err)
		}
		return settleRun(ctx, tx, s.runID, now)
	})
	if err != nil {
		return sqliteErr("release task", err)
	}
	return nil
}

// TaskQueueDepth counts the open tasks through the claim index
// (run_task_claim_idx), at the store's clock.
func (db *DB) TaskQueueDepth(ctx context.Context) (*store.QueueDepth, error) {
	now := db.now()
	at := toMicros(now)
	q := store.QueueDepth{At: fromMicros(at)}
	var oldest sql.NullInt64
	err := db.reader.QueryRowContext(ctx, `SELECT coalesce(sum(status = 'QUEUED'), 0), coalesce(sum(status = 'RUNNING'), 0),
    min(CASE WHEN status = 'QUEUED' AND available_at <= ? THEN available_at END)
FROM run_task WHERE status IN ('QUEUED', 'RUNNING')`, at).Scan(&q.Queued, &q.Running, &oldest)
	if err != nil {
		return nil, fmt.Errorf("sqlite: task queue depth: %w", err)
	}
	if oldest.Valid {
		q.OldestWait = time.Duration(at-oldest.Int64) * time.Microsecond
	}
	return &q, nil
}
