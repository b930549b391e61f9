package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/store"
)

const runColumns = `r.run_id, r.run_type, r.status, r.as_of_time, r.market_snapshot_id,
    ARRAY(SELECT x.position_snapshot_id FROM run_position_snapshot x WHERE x.run_id = r.run_id ORDER BY 1),
    r.portfolio_node_ids, r.model_set_id, r.measures, r.scenarios, r.hash_mod, r.max_attempts,
    r.request_hash, r.request, r.engine_version, r.positions_total, r.requested_at,
    r.started_at, r.completed_at, r.error, r.published_at, r.publish_hash, r.submitted_by, r.kind`

func scanRun(row pgx.Row) (*store.Run, error) {
	var r store.Run
	var request string
	err := row.Scan(&r.ID, &r.RunType, &r.Status, &r.AsOfTime, &r.MarketSnapshotID,
		&r.PositionSnapshotIDs, &r.PortfolioNodeIDs, &r.ModelSetID, &r.Measures, &r.Scenarios, &r.HashMod, &r.MaxAttempts,
		&r.RequestHash, &request, &r.EngineVersion, &r.PositionsTotal, &r.RequestedAt,
		&r.StartedAt, &r.CompletedAt, &r.Error, &r.PublishedAt, &r.PublishHash, &r.SubmittedBy, &r.Kind)
	if err != nil {
		return nil, err
	}
	r.Request = []byte(request)
	r.AsOfTime = r.AsOfTime.UTC()
	r.RequestedAt = r.RequestedAt.UTC()
	r.StartedAt = utcPtr(r.StartedAt)
	r.CompletedAt = utcPtr(r.CompletedAt)
	r.PublishedAt = utcPtr(r.PublishedAt)
	return &r, nil
}

func runGet(ctx context.Context, q querier, id string) (*store.Run, error) {
	r, err := scanRun(q.QueryRow(ctx, "SELECT "+runColumns+" FROM run r WHERE r.run_id = $1", id))
	if err != nil {
		return nil, noRows(err, fmt.Sprintf("run %q", id))
	}
	return r, nil
}

// RunGet returns a run.
func (db *DB) RunGet(ctx context.Context, id string) (*store.Run, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	return runGet(ctx, db.pool, id)
}

// RunCreate stores a run, its snapshots and its tasks in one transaction.
// INSERT … ON CONFLICT DO NOTHING makes a concurrent duplicate wait for the
// first insert to commit, then compare request hashes.
func (db *DB) RunCreate(ctx context.Context, r *store.Run, tasks []*store.Task) (*store.Run, bool, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	in := *r
	in.Status = store.RunQueued
	in.AsOfTime = stamp(r.AsOfTime)
	in.RequestedAt = db.stampOr(r.RequestedAt)
	// A new run has not started, ended or been published.
	in.StartedAt, in.CompletedAt, in.PublishedAt, in.Error, in.PublishHash = nil, nil, nil, "", ""
	in.Kind = store.KindOf(r)
	request := string(r.Request)
	if request == "" {
		request = "{}"
	}
	nonNil := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	var stored *store.Run
	created := false
	err := db.inTx(ctx, "RunCreate", func(tx pgx.Tx) error {
		created = false
		tag, err := tx.Exec(ctx, `INSERT INTO run (run_id, run_type, status, as_of_time, market_snapshot_id, portfolio_node_ids,
    model_set_id, measures, scenarios, hash_mod, max_attempts, request_hash, request, engine_version, positions_total,
    requested_at, started_at, completed_at, error, published_at, publish_hash, submitted_by, kind)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)
ON CONFLICT (run_id) DO NOTHING`,
			in.ID, in.RunType, in.Status, in.AsOfTime, in.MarketSnapshotID, nonNil(in.PortfolioNodeIDs),
			in.ModelSetID, nonNil(in.Measures), nonNil(in.Scenarios), in.HashMod, in.MaxAttempts, in.RequestHash, request, in.EngineVersion, in.PositionsTotal,
			in.RequestedAt, in.StartedAt, in.CompletedAt, in.Error, in.PublishedAt, in.PublishHash, in.SubmittedBy, in.Kind)
		if err != nil {
			return runWriteError(err, in.ID)
		}
		if tag.RowsAffected() == 0 {
			stored, err = runGet(ctx, tx, in.ID)
			if err != nil {
				return err
			}
			if stored.RequestHash != in.RequestHash {
				return conflict("run %q already exists for another request", in.ID)
			}
			return nil
		}
		created = true
		if len(in.PositionSnapshotIDs) > 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO run_position_snapshot (run_id, position_snapshot_id)
SELECT $1, id FROM unnest($2::text[]) AS id ON CONFLICT DO NOTHING`, in.ID, in.PositionSnapshotIDs); err != nil {
				return runWriteError(err, in.ID)
			}
		}
		if len(tasks) > 0 {
			if err := insertTasks(ctx, tx, &in, tasks); err != nil {
				return err
			}
		} else {
			// Nothing to do: the run is complete as soon as it exists.
			if _, err := tx.Exec(ctx, `UPDATE run SET status = 'COMPLETED', started_at = requested_at, completed_at = requested_at
WHERE run_id = $1`, in.ID); err != nil {
				return fmt.Errorf("postgres: complete empty run %q: %w", in.ID, err)
			}
			if err := enqueueWebhooks(ctx, tx, store.RunSettledEvent(in.Kind, store.RunCompleted), in.ID, store.RunCompleted, "", in.RequestedAt); err != nil {
				return err
			}
		}
		if err := db.recordAudit(ctx, tx, in.ID); err != nil {
			return err
		}
		stored, err = runGet(ctx, tx, in.ID)
		return err
	})
	if err != nil {
		return nil, false, err
	}
	return stored, created, nil
}

// insertTasks inserts the run's tasks in one statement and fills in their
// ids, run id, status QUEUED with no attempts, and defaults for zero fields
// (the run's HashMod and MaxAttempts, AvailableAt the run's RequestedAt).
func insertTasks(ctx context.Context, tx pgx.Tx, r *store.Run, tasks []*store.Task) error {
	n := len(tasks)
	var (
		types    = make([]string, n)
		buckets  = make([]int32, n)
		mods     = make([]int32, n)
		statuses = make([]string, n)
		attempts = make([]int32, n)
		maxes    = make([]int32, n)
		counts   = make([]int64, n)
		avail    = make([]time.Time, n)
		byKey    = make(map[taskKey]*store.Task, n)
	)
	for i, t := range tasks {
		t.RunID, t.Status, t.Attempts = r.ID, store.TaskQueued, 0
		if t.MaxAttempts == 0 {
			t.MaxAttempts = r.MaxAttempts
		}
		if t.HashMod == 0 {
			t.HashMod = r.HashMod
		}
		if t.AvailableAt.IsZero() {
			t.AvailableAt = r.RequestedAt
		}
		t.AvailableAt = stamp(t.AvailableAt)
		types[i], buckets[i], mods[i], statuses[i] = t.ProductType, int32(t.Bucket), int32(t.HashMod), t.Status
		attempts[i], maxes[i], counts[i], avail[i] = int32(t.Attempts), int32(t.MaxAttempts), t.PositionCount, t.AvailableAt
		byKey[taskKey{t.ProductType, t.Bucket}] = t
	}
	rows, err := tx.Query(ctx, `INSERT INTO run_task
    (run_id, product_type, bucket, hash_mod, status, attempts, max_attempts, position_count, available_at)
SELECT $1, u.product_type, u.bucket, u.hash_mod, u.status, u.attempts, u.max_attempts, u.position_count, u.available_at
FROM unnest($2::text[], $3::integer[], $4::integer[], $5::text[], $6::integer[], $7::integer[], $8::bigint[], $9::timestamptz[])
    AS u(product_type, bucket, hash_mod, status, attempts, max_attempts, position_count, available_at)
RETURNING task_id, product_type, bucket`, r.ID, types, buckets, mods, statuses, attempts, maxes, counts, avail)
	if err != nil {
		return runWriteError(err, r.ID)
	}
	var (
		id  int64
		key taskKey
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &key.productType, &key.bucket}, func() error {
		if t := byKey[key]; t != nil {
			t.ID = id
		}
		return nil
	})
	if err != nil {
		return runWriteError(err, r.ID)
	}
	return nil
}

type taskKey struct {
	productType string
	bucket      int
}

func runWriteError(err error, id string) error {
	if pgCode(err) == codeForeignKeyViolation {
		return &apperr.Error{Code: apperr.NotFound, Message: fmt.Sprintf("run %q refers to a snapshot that does not exist", id), Err: err}
	}
	return fmt.Errorf("postgres: create run %q: %w", id, err)
}

// RunList lists runs newest RequestedAt first, ties by id descending.
func (db *DB) RunList(ctx context.Context, p store.RunListParams) ([]*store.Run, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	args := []any{limitOf(p.Limit), p.Status, store.KindOf(&store.Run{Kind: p.Kind})}
	where := "WHERE ($2 = '' OR r.status = $2) AND r.kind = $3"
	if !p.AfterTime.IsZero() {
		where += " AND (r.requested_at, r.run_id) < ($4, $5)"
		args = append(args, stamp(p.AfterTime), p.AfterID)
	}
	rows, err := db.pool.Query(ctx, "SELECT "+runColumns+" FROM run r "+where+" ORDER BY r.requested_at DESC, r.run_id DESC LIMIT $1", args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list runs: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*store.Run, error) { return scanRun(row) })
	if err != nil {
		return nil, fmt.Errorf("postgres: list runs: %w", err)
	}
	return out, nil
}

// RunProgress counts the run's tasks by status.
func (db *DB) RunProgress(ctx context.Context, id string) (*store.Progress, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	p := &store.Progress{TasksByStatus: map[string]int64{
		store.TaskQueued: 0, store.TaskRunning: 0, store.TaskSucceeded: 0, store.TaskDead: 0, store.TaskCancelled: 0,
	}}
	err := db.pool.QueryRow(ctx, `SELECT positions_total,
    coalesce((SELECT sum(position_count) FROM run_task WHERE run_id = $1 AND status = 'SUCCEEDED'), 0)::bigint
FROM run WHERE run_id = $1`, id).Scan(&p.PositionsTotal, &p.PositionsDone)
	if err != nil {
		return nil, noRows(err, fmt.Sprintf("run %q", id))
	}
	rows, err := db.pool.Query(ctx, "SELECT status, count(*) FROM run_task WHERE run_id = $1 GROUP BY status", id)
	if err != nil {
		return nil, fmt.Errorf("postgres: run %q progress: %w", id, err)
	}
	var (
		status string
		n      int64
	)
	_, err = pgx.ForEachRow(rows, []any{&status, &n}, func() error {
		p.TasksByStatus[status] = n
		p.TasksTotal += n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: run %q progress: %w", id, err)
	}
	return p, nil
}

// RunTasks lists the run's tasks by product type then bucket.
func (db *DB) RunTasks(ctx context.Context, id string) ([]*store.Task, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	rows, err := db.pool.Query(ctx, "SELECT "+taskColumns+" FROM run_task t WHERE t.run_id = $1 ORDER BY t.product_type, t.bucket", id)
	if err != nil {
		return nil, fmt.Errorf("postgres: tasks of run %q: %w", id, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*store.Task, error) { return scanTask(row) })
	if err != nil {
		return nil, fmt.Errorf("postgres: tasks of run %q: %w", id, err)
	}
	if len(out) == 0 {
		var exists bool
		if err := db.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM run WHERE run_id = $1)", id).Scan(&exists); err != nil {
			return nil, fmt.Errorf("postgres: tasks of run %q: %w", id, err)
		}
		if !exists {
			return nil, notFound("run %q", id)
		}
	}
	return out, nil
}

// RunEngineVersions lists the distinct engine versions of the run's
// SUCCEEDED tasks in byte order.
func (db *DB) RunEngineVersions(ctx context.Context, id string) ([]string, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	var out []string
	err := db.pool.QueryRow(ctx, `SELECT ARRAY(SELECT DISTINCT t.engine_version COLLATE "C" FROM run_task t
    WHERE t.run_id = r.run_id AND t.status = 'SUCCEEDED' ORDER BY 1)
FROM run r WHERE r.run_id = $1`, id).Scan(&out)
	if err != nil {
		return nil, noRows(err, fmt.Sprintf("run %q", id))
	}
	return out, nil
}

// RunCancel moves a QUEUED or RUNNING run to CANCELLING, cancels its
// queued tasks and its running tasks whose lease expired by the store's
// now, and finishes the cancellation at once when no task runs. A
// CANCELLING run gets the same sweep; a CANCELLED one is returned as is.
func (db *DB) RunCancel(ctx context.Context, id string) (*store.Run, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	var out *store.Run
	err := db.inTx(ctx, "RunCancel", func(tx pgx.Tx) error {
		// Lock order: the run's open tasks (by id), then the run row, as
		// every path that changes both does (see the package doc). A task
		// that a worker is completing is waited for; the set of open tasks
		// only shrinks, so every task updated below is locked here.
		if _, err := tx.Exec(ctx, `SELECT task_id FROM run_task WHERE run_id = $1 AND status IN ('QUEUED', 'RUNNING')
ORDER BY task_id FOR UPDATE`, id); err != nil {
			return fmt.Errorf("postgres: lock tasks of run %q: %w", id, err)
		}
		var (
			status string
			now    time.Time
		)
		if err := tx.QueryRow(ctx, "SELECT status, "+nowSQL+" FROM run WHERE run_id = $2 FOR UPDATE", db.clock(), id).Scan(&status, &now); err != nil {
			return noRows(err, fmt.Sprintf("run %q", id))
		}
		now = now.UTC()
		switch status {
		case store.RunCancelled:
		case store.RunQueued, store.RunRunning, store.RunCancelling:
			// Queued tasks, and running ones whose worker is gone (lease
			// expired), are cancelled now; a live worker finishes or
			// releases its task and settles the run.
			if _, err := tx.Exec(ctx, `UPDATE run_task SET status = 'CANCELLED', finished_at = $2, lease_expires_at = NULL,
    lease_expiries = lease_expiries + CASE WHEN status = 'RUNNING' THEN 1 ELSE 0 END
WHERE run_id = $1 AND (status = 'QUEUED' OR (status = 'RUNNING' AND lease_expires_at <= $2))`, id, now); err != nil {
				return fmt.Errorf("postgres: cancel tasks of run %q: %w", id, err)
			}
			if _, err := tx.Exec(ctx, "UPDATE run SET status = 'CANCELLING' WHERE run_id = $1", id); err != nil {
				return fmt.Errorf("postgres: cancel run %q: %w", id, err)
			}
			if err := settleRun(ctx, tx, id, now); err != nil {
				return err
			}
			if status != store.RunCancelling {
				if err := db.recordAudit(ctx, tx, id); err != nil {
					return err
				}
			}
		default:
			return conflict("run %q is %s and cannot be cancelled", id, status)
		}
		var err error
		out, err = runGet(ctx, tx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// RunPublish moves a COMPLETED run to PUBLISHED.
func (db *DB) RunPublish(ctx context.Context, p store.RunPublishParams) (*store.Run, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	var out *store.Run
	err := db.inTx(ctx, "RunPublish", func(tx pgx.Tx) error {
		var status string
		if err := tx.QueryRow(ctx, "SELECT status FROM run WHERE run_id = $1 FOR UPDATE", p.RunID).Scan(&status); err != nil {
			return noRows(err, fmt.Sprintf("run %q", p.RunID))
		}
		if status != store.RunCompleted {
			return conflict("run %q is %s; only a COMPLETED run can be published", p.RunID, status)
		}
		if _, err := tx.Exec(ctx, "UPDATE run SET status = 'PUBLISHED', published_at = $2, publish_hash = $3 WHERE run_id = $1",
			p.RunID, db.stampOr(p.PublishedAt), p.PublishHash); err != nil {
			return fmt.Errorf("postgres: publish run %q: %w", p.RunID, err)
		}
		if err := enqueueWebhooks(ctx, tx, store.EventRunPublished, p.RunID, store.RunPublished, "", db.stampOr(p.PublishedAt)); err != nil {
			return err
		}
		if err := db.recordAudit(ctx, tx, p.RunID); err != nil {
			return err
		}
		var err error
		out, err = runGet(ctx, tx, p.RunID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
