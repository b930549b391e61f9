package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/iprs/iprs/internal/store"
)

// querier is what *sql.Tx and *sql.DB share.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

const runColumns = `r.run_id, r.run_type, r.status, r.as_of_time, r.market_snapshot_id,
(SELECT json_group_array(s.position_snapshot_id ORDER BY s.position_snapshot_id) FROM run_position_snapshot s WHERE s.run_id = r.run_id),
r.portfolio_node_ids, r.model_set_id, r.measures, r.scenarios, r.hash_mod, r.max_attempts, r.request_hash, r.request,
r.engine_version, r.positions_total, r.requested_at, r.started_at, r.completed_at, r.error, r.published_at, r.publish_hash,
r.submitted_by, r.kind`

func scanRun(scan func(...any) error) (*store.Run, error) {
	var (
		r                                              store.Run
		asOf, requestedAt                              int64
		snapshots, nodes, measures, scenarios, request string
		startedAt, completedAt, publishedAt            sql.NullInt64
	)
	if err := scan(&r.ID, &r.RunType, &r.Status, &asOf, &r.MarketSnapshotID, &snapshots, &nodes, &r.ModelSetID,
		&measures, &scenarios, &r.HashMod, &r.MaxAttempts, &r.RequestHash, &request, &r.EngineVersion,
		&r.PositionsTotal, &requestedAt, &startedAt, &completedAt, &r.Error, &publishedAt, &r.PublishHash, &r.SubmittedBy, &r.Kind); err != nil {
		return nil, err
	}
	r.AsOfTime = fromMicros(asOf)
	r.RequestedAt = fromMicros(requestedAt)
	r.StartedAt = fromNullMicros(startedAt)
	r.CompletedAt = fromNullMicros(completedAt)
	r.PublishedAt = fromNullMicros(publishedAt)
	r.Request = []byte(request)
	for _, a := range []struct {
		name string
		text string
		dst  *[]string
	}{
		{"position snapshot ids", snapshots, &r.PositionSnapshotIDs},
		{"portfolio node ids", nodes, &r.PortfolioNodeIDs},
		{"measures", measures, &r.Measures},
		{"scenarios", scenarios, &r.Scenarios},
	} {
		if err := json.Unmarshal([]byte(a.text), a.dst); err != nil {
			return nil, fmt.Errorf("run %q: decode %s: %w", r.ID, a.name, err)
		}
		if *a.dst == nil {
			*a.dst = []string{}
		}
	}
	return &r, nil
}

func runGet(ctx context.Context, q querier, id string) (*store.Run, error) {
	return scanRun(q.QueryRowContext(ctx, `SELECT `+runColumns+` FROM run r WHERE r.run_id = ?`, id).Scan)
}

func jsonStrings(v []string) (string, error) {
	if v == nil {
		v = []string{}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// RunCreate stores a run, its snapshots and its tasks in one transaction.
func (db *DB) RunCreate(ctx context.Context, r *store.Run, tasks []*store.Task) (*store.Run, bool, error) {
	enc := make(map[string]string, 4)
	for name, v := range map[string][]string{"portfolio node ids": r.PortfolioNodeIDs, "measures": r.Measures, "scenarios": r.Scenarios} {
		s, err := jsonStrings(v)
		if err != nil {
			return nil, false, fmt.Errorf("sqlite: run %q: encode %s: %w", r.ID, name, err)
		}
		enc[name] = s
	}
	request := string(r.Request)
	if request == "" {
		request = "{}"
	}
	snapshots := slices.Clone(r.PositionSnapshotIDs)
	slices.Sort(snapshots)
	snapshots = slices.Compact(snapshots)

	var (
		stored  *store.Run
		created bool
	)
	err := db.write(ctx, func(tx *sql.Tx) error {
		existing, err := runGet(ctx, tx, r.ID)
		switch {
		case err == nil:
			if existing.RequestHash != r.RequestHash {
				return conflictf("run %q exists for another request", r.ID)
			}
			stored = existing
			return nil
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("look up run %q: %w", r.ID, err)
		}
		status := store.RunQueued
		var started, completed sql.NullInt64
		if len(tasks) == 0 {
			status = store.RunCompleted
			started = sql.NullInt64{Int64: toMicros(r.RequestedAt), Valid: true}
			completed = started
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO run (run_id, run_type, status, as_of_time, market_snapshot_id,
portfolio_node_ids, model_set_id, measures, scenarios, hash_mod, max_attempts, request_hash, request,
engine_version, positions_total, requested_at, started_at, completed_at, submitted_by, kind)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.ID, r.RunType, status, toMicros(r.AsOfTime), r.MarketSnapshotID,
			enc["portfolio node ids"], r.ModelSetID, enc["measures"], enc["scenarios"], r.HashMod, r.MaxAttempts,
			r.RequestHash, request, r.EngineVersion, r.PositionsTotal, toMicros(r.RequestedAt), started, completed, r.SubmittedBy, store.KindOf(r)); err != nil {
			return fmt.Errorf("insert run %q: %w", r.ID, err)
		}
		for _, sid := range snapshots {
			if _, err := tx.ExecContext(ctx, `INSERT INTO run_position_snapshot (run_id, position_snapshot_id) VALUES (?, ?)`, r.ID, sid); err != nil {
				return fmt.Errorf("link run %q to position snapshot %q: %w", r.ID, sid, err)
			}
		}
		ins, err := tx.PrepareContext(ctx, `INSERT INTO run_task (run_id, product_type, bucket, hash_mod, status, attempts,
max_attempts, position_count, available_at) VALUES (?, ?, ?, ?, 'QUEUED', 0, ?, ?, ?) RETURNING task_id`)
		if err != nil {
			return fmt.Errorf("prepare task insert: %w", err)
		}
		defer ins.Close()
		for _, t := range tasks {
			if err := ins.QueryRowContext(ctx, r.ID, t.ProductType, t.Bucket, t.HashMod, t.MaxAttempts, t.PositionCount,
				toMicros(t.AvailableAt)).Scan(&t.ID); err != nil {
				return fmt.Errorf("insert task %s/%d of run %q: %w", t.ProductType, t.Bucket, r.ID, err)
			}
			t.RunID, t.Status, t.Attempts = r.ID, store.TaskQueued, 0
			t.LeaseOwner, t.LeaseExpiresAt, t.LastError, t.StartedAt, t.FinishedAt = "", nil, "", nil, nil
		}
		if len(tasks) == 0 {
			if err := enqueueWebhooks(ctx, tx, store.RunSettledEvent(store.KindOf(r), store.RunCompleted), r.ID, store.RunCompleted, "", r.RequestedAt); err != nil {
				return err
			}
		}
		if err := db.recordAudit(ctx, tx, r.ID); err != nil {
			return err
		}
		stored, err = runGet(ctx, tx, r.ID)
		if err != nil {
			return fmt.Errorf("read back run %q: %w", r.ID, err)
		}
		created = true
		return nil
	})
	if err != nil {
		return nil, false, sqliteErr("create run", err)
	}
	return stored, created, nil
}

// sqliteErr adds the operation to an error; apperr codes stay reachable
// through the chain.
func sqliteErr(op string, err error) error {
	return fmt.Errorf("sqlite: %s: %w", op, err)
}

// RunGet returns a run.
func (db *DB) RunGet(ctx context.Context, id string) (*store.Run, error) {
	r, err := runGet(ctx, db.reader, id)
	if err != nil {
		return nil, notFound(err, "run %q", id)
	}
	return r, nil
}

// RunList lists runs newest RequestedAt first, ties by id descending.
func (db *DB) RunList(ctx context.Context, p store.RunListParams) ([]*store.Run, error) {
	query := `SELECT ` + runColumns + ` FROM run r WHERE r.kind = ?`
	args := []any{store.KindOf(&store.Run{Kind: p.Kind})}
	if p.Status != "" {
		query += ` AND r.status = ?`
		args = append(args, p.Status)
	}
	if !p.AfterTime.IsZero() {
		query += ` AND (r.requested_at, r.run_id) < (?, ?)`
		args = append(args, toMicros(p.AfterTime), p.AfterID)
	}
	query += ` ORDER BY r.requested_at DESC, r.run_id DESC LIMIT ?`
	args = append(args, listLimit(p.Limit))
	rows, err := db.reader.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list runs: %w", err)
	}
	defer rows.Close()
	var out []*store.Run
	for rows.Next() {
		r, err := scanRun(rows.Scan)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list runs: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list runs: %w", err)
	}
	return out, nil
}

// RunProgress counts the run's tasks by status.
func (db *DB) RunProgress(ctx context.Context, id string) (*store.Progress, error) {
	p := &store.Progress{TasksByStatus: map[string]int64{
		store.TaskQueued: 0, store.TaskRunning: 0, store.TaskSucceeded: 0, store.TaskDead: 0, store.TaskCancelled: 0,
	}}
	err := db.read(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT positions_total FROM run WHERE run_id = ?`, id).Scan(&p.PositionsTotal); err != nil {
			return notFound(err, "run %q", id)
		}
		rows, err := tx.QueryContext(ctx, `SELECT status, count(*), coalesce(sum(position_count), 0) FROM run_task WHERE run_id = ? GROUP BY status`, id)
		if err != nil {
			return fmt.Errorf("sqlite: progress of run %q: %w", id, err)
		}
		defer rows.Close()
		for rows.Next() {
			var (
				status  string
				n, nPos int64
			)
			if err := rows.Scan(&status, &n, &nPos); err != nil {
				return fmt.Errorf("sqlite: progress of run %q: %w", id, err)
			}
			p.TasksByStatus[status] = n
			p.TasksTotal += n
			if status == store.TaskSucceeded {
				p.PositionsDone = nPos
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("sqlite: progress of run %q: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// RunCancel cancels a QUEUED or RUNNING run; expired leases are judged by
// the store's clock, read while this process holds the writer.
func (db *DB) RunCancel(ctx context.Context, id string) (*store.Run, error) {
	var out *store.Run
	err := db.write(ctx, func(tx *sql.Tx) error {
		now := db.now()
		r, err := runGet(ctx, tx, id)
		if err != nil {
			return notFound(err, "run %q", id)
		}
		switch r.Status {
		case store.RunCancelled:
			out = r
			return nil
		case store.RunQueued, store.RunRunning, store.RunCancelling:
		default:
			return conflictf("run %q is %s and cannot be cancelled", id, r.Status)
		}
		at := toMicros(now)
		if _, err := tx.ExecContext(ctx, `UPDATE run_task SET status = 'CANCELLED', finished_at = ?, lease_expires_at = NULL,
    lease_expiries = lease_expiries + (status = 'RUNNING')
WHERE run_id = ? AND (status = 'QUEUED' OR (status = 'RUNNING' AND lease_expires_at <= ?))`, at, id, at); err != nil {
			return fmt.Errorf("cancel tasks of run %q: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE run SET status = 'CANCELLING' WHERE run_id = ?`, id); err != nil {
			return fmt.Errorf("cancel run %q: %w", id, err)
		}
		if err := settleRun(ctx, tx, id, now); err != nil {
			return err
		}
		if r.Status != store.RunCancelling {
			if err := db.recordAudit(ctx, tx, id); err != nil {
				return err
			}
		}
		out, err = runGet(ctx, tx, id)
		if err != nil {
			return fmt.Errorf("read back run %q: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return nil, sqliteErr("cancel run", err)
	}
	return out, nil
}

// settleRun settles a run whose last open task may just have ended, by
// store.SettleRun.
func settleRun(ctx context.Context, tx *sql.Tx, runID string, now time.Time) error {
	t := store.RunTally{}
	var kind string
	if err := tx.QueryRowContext(ctx, `SELECT status, kind FROM run WHERE run_id = ?`, runID).Scan(&t.Status, &kind); err != nil {
		return notFound(err, "run %q", runID)
	}
	if !store.RunOpen(t.Status) && t.Status != store.RunCancelling {
		return nil
	}
	if err := tx.QueryRowContext(ctx, `SELECT
coalesce(sum(status IN ('QUEUED', 'RUNNING')), 0), coalesce(sum(status = 'DEAD'), 0)
FROM run_task WHERE run_id = ?`, runID).Scan(&t.Open, &t.Dead); err != nil {
		return fmt.Errorf("count open tasks of run %q: %w", runID, err)
	}
	if t.Open == 0 && t.Dead > 0 {
		d := store.Task{RunID: runID}
		if err := tx.QueryRowContext(ctx, `SELECT task_id, product_type, bucket, last_error FROM run_task
WHERE run_id = ? AND status = 'DEAD' ORDER BY task_id LIMIT 1`, runID).Scan(&d.ID, &d.ProductType, &d.Bucket, &d.LastError); err != nil {
			return fmt.Errorf("find dead task of run %q: %w", runID, err)
		}
		t.FirstDead = &d
	}
	s, ok := store.SettleRun(t)
	if !ok {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE run SET status = ?, completed_at = ?, error = ? WHERE run_id = ?`,
		s.Status, toMicros(now), s.Error, runID); err != nil {
		return fmt.Errorf("settle run %q as %s: %w", runID, s.Status, err)
	}
	return enqueueWebhooks(ctx, tx, store.RunSettledEvent(kind, s.Status), runID, s.Status, s.Error, now)
}

// RunPublish moves a COMPLETED run to PUBLISHED.
func (db *DB) RunPublish(ctx context.Context, p store.RunPublishParams) (*store.Run, error) {
	var out *store.Run
	err := db.write(ctx, func(tx *sql.Tx) error {
		r, err := runGet(ctx, tx, p.RunID)
		if err != nil {
			return notFound(err, "run %q", p.RunID)
		}
		if r.Status != store.RunCompleted {
			return conflictf("run %q is %s; only a COMPLETED run can be published", p.RunID, r.Status)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE run SET status = 'PUBLISHED', published_at = ?, publish_hash = ? WHERE run_id = ?`,
			toMicros(p.PublishedAt), p.PublishHash, p.RunID); err != nil {
			return fmt.Errorf("publish run %q: %w", p.RunID, err)
		}
		if err := enqueueWebhooks(ctx, tx, store.EventRunPublished, p.RunID, store.RunPublished, "", p.PublishedAt); err != nil {
			return err
		}
		if err := db.recordAudit(ctx, tx, p.RunID); err != nil {
			return err
		}
		out, err = runGet(ctx, tx, p.RunID)
		if err != nil {
			return fmt.Errorf("read back run %q: %w", p.RunID, err)
		}
		return nil
	})
	if err != nil {
		return nil, sqliteErr("publish run", err)
	}
	return out, nil
}

const taskColumns = `task_id, run_id, product_type, bucket, hash_mod, status, attempts, max_attempts, failures,
lease_expiries, position_count, claim_token, lease_owner, lease_expires_at, available_at, last_error, started_at, finished_at,
engine_version`

func scanTask(scan func(...any) error) (*store.Task, error) {
	var (
		t                               store.Task
		leaseExpires, started, finished sql.NullInt64
		available                       int64
	)
	if err := scan(&t.ID, &t.RunID, &t.ProductType, &t.Bucket, &t.HashMod, &t.Status, &t.Attempts, &t.MaxAttempts,
		&t.Failures, &t.LeaseExpiries, &t.PositionCount, &t.ClaimToken, &t.LeaseOwner, &leaseExpires, &available, &t.LastError, &started, &finished,
		&t.EngineVersion); err != nil {
		return nil, err
	}
	t.LeaseExpiresAt = fromNullMicros(leaseExpires)
	t.AvailableAt = fromMicros(available)
	t.StartedAt = fromNullMicros(started)
	t.FinishedAt = fromNullMicros(finished)
	return &t, nil
}

// RunEngineVersions lists the distinct engine versions of the run's
// SUCCEEDED tasks in byte order (SQLite's default BINARY collation).
func (db *DB) RunEngineVersions(ctx context.Context, id string) ([]string, error) {
	out := []string{}
	err := db.read(ctx, func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM run WHERE run_id = ?`, id).Scan(&one); err != nil {
			return notFound(err, "run %q", id)
		}
		rows, err := tx.QueryContext(ctx, `SELECT DISTINCT engine_version FROM run_task WHERE run_id = ? AND status = 'SUCCEEDED'
ORDER BY engine_version`, id)
		if err != nil {
			return fmt.Errorf("sqlite: engine versions of run %q: %w", id, err)
		}
		defer rows.Close()
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				return fmt.Errorf("sqlite: engine versions of run %q: %w", id, err)
			}
			out = append(out, v)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("sqlite: engine versions of run %q: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// RunTasks lists the run's tasks by product type and bucket.
func (db *DB) RunTasks(ctx context.Context, id string) ([]*store.Task, error) {
	var out []*store.Task
	err := db.read(ctx, func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM run WHERE run_id = ?`, id).Scan(&one); err != nil {
			return notFound(err, "run %q", id)
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+taskColumns+` FROM run_task WHERE run_id = ? ORDER BY product_type, bucket`, id)
		if err != nil {
			return fmt.Errorf("sqlite: tasks of run %q: %w", id, err)
		}
		defer rows.Close()
		for rows.Next() {
			t, err := scanTask(rows.Scan)
			if err != nil {
				return fmt.Errorf("sqlite: tasks of run %q: %w", id, err)
			}
			out = append(out, t)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("sqlite: tasks of run %q: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
