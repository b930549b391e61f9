package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/iprs/iprs/internal/store"
)

const positionSnapshotColumns = `position_snapshot_id, as_of_time, portfolio_node_id, payload_hash, position_count, product_types, created_at, check_summary`

func scanPositionSnapshot(r pgx.Row) (*store.PositionSnapshot, error) {
	var s store.PositionSnapshot
	if err := r.Scan(&s.ID, &s.AsOfTime, &s.PortfolioNodeID, &s.PayloadHash, &s.PositionCount, &s.ProductTypes, &s.CreatedAt, &s.CheckSummary); err != nil {
		return nil, err
	}
	s.AsOfTime = s.AsOfTime.UTC()
	s.CreatedAt = s.CreatedAt.UTC()
	if s.ProductTypes == nil {
		s.ProductTypes = []string{}
	}
	return &s, nil
}

func positionSnapshotGet(ctx context.Context, q querier, id string) (*store.PositionSnapshot, error) {
	s, err := scanPositionSnapshot(q.QueryRow(ctx, "SELECT "+positionSnapshotColumns+" FROM position_snapshot WHERE position_snapshot_id = $1", id))
	if err != nil {
		return nil, noRows(err, fmt.Sprintf("position snapshot %q", id))
	}
	return s, nil
}

// PositionSnapshotGet returns a snapshot's header.
func (db *DB) PositionSnapshotGet(ctx context.Context, id string) (*store.PositionSnapshot, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	return positionSnapshotGet(ctx, db.pool, id)
}

// PositionSnapshotLatest returns the node's snapshot with the greatest
// AsOfTime not after asOf, ties by the latest CreatedAt then greatest id.
func (db *DB) PositionSnapshotLatest(ctx context.Context, portfolioNodeID string, asOf time.Time) (*store.PositionSnapshot, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	s, err := scanPositionSnapshot(db.pool.QueryRow(ctx, "SELECT "+positionSnapshotColumns+` FROM position_snapshot
WHERE portfolio_node_id = $1 AND as_of_time <= $2
ORDER BY as_of_time DESC, created_at DESC, position_snapshot_id DESC LIMIT 1`, portfolioNodeID, stamp(asOf)))
	if err != nil {
		return nil, noRows(err, fmt.Sprintf("position snapshot of node %q as of %s", portfolioNodeID, asOf.UTC().Format(time.RFC3339Nano)))
	}
	return s, nil
}

// positionSelect reads positions with their snapshot's node.
const positionSelect = `SELECT p.position_snapshot_id, s.portfolio_node_id, p.seq, p.position_id, p.instrument_id,
    p.product_type, p.quantity, p.attributes, p.position_hash
FROM position p JOIN position_snapshot s ON s.position_snapshot_id = p.position_snapshot_id`

// positionScanner scans rows of positionSelect, reusing its buffers.
type positionScanner struct {
	attrs []byte
}

func (ps *positionScanner) scan(r pgx.Rows, p *store.Position) error {
	var q *float64
	ps.attrs = ps.attrs[:0]
	if err := r.Scan(&p.SnapshotID, &p.PortfolioNodeID, &p.Seq, &p.PositionID, &p.InstrumentID,
		&p.ProductType, &q, &ps.attrs, &p.Hash); err != nil {
		return fmt.Errorf("postgres: scan position: %w", err)
	}
	p.Quantity = q
	// Each position owns its attributes: callers keep them.
	p.Attributes = slices.Clone(ps.attrs)
	return nil
}

// PositionList pages through a snapshot's positions in Seq order, after
// the row with Seq afterSeq (pass -1 for the first page).
func (db *DB) PositionList(ctx context.Context, snapshotID string, afterSeq int64, limit int) ([]*store.Position, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	rows, err := db.pool.Query(ctx, positionSelect+`
WHERE p.position_snapshot_id = $1 AND p.seq > $2 ORDER BY p.seq LIMIT $3`, snapshotID, afterSeq, limitOf(limit))
	if err != nil {
		return nil, fmt.Errorf("postgres: list positions of %q: %w", snapshotID, err)
	}
	out, err := collectPositions(rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: list positions of %q: %w", snapshotID, err)
	}
	if len(out) == 0 {
		// An empty page of a committed snapshot, or no snapshot at all.
		if _, err := positionSnapshotGet(ctx, db.pool, snapshotID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// PositionsByID returns the snapshots' positions with that id, by
// snapshot id (one index probe per snapshot).
func (db *DB) PositionsByID(ctx context.Context, snapshotIDs []string, positionID string) ([]*store.Position, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	rows, err := db.pool.Query(ctx, positionSelect+`
WHERE p.position_snapshot_id = ANY($1) AND p.position_id = $2 ORDER BY p.position_snapshot_id`, snapshotIDs, positionID)
	if err != nil {
		return nil, fmt.Errorf("postgres: positions with id %q: %w", positionID, err)
	}
	out, err := collectPositions(rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: positions with id %q: %w", positionID, err)
	}
	return out, nil
}

// PositionBuckets counts positions by product type and Hash mod hashMod.
func (db *DB) PositionBuckets(ctx context.Context, snapshotIDs []string, hashMod int) ([]store.BucketCount, error) {
	if hashMod <= 0 {
		return nil, fmt.Errorf("postgres: position buckets: hash mod %d is not positive", hashMod)
	}
	rows, err := db.pool.Query(ctx, `SELECT product_type, (position_hash % $2)::integer AS bucket, count(*)
FROM position WHERE position_snapshot_id = ANY($1)
GROUP BY 1, 2 ORDER BY 1, 2`, snapshotIDs, int64(hashMod))
	if err != nil {
		return nil, fmt.Errorf("postgres: position buckets: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.BucketCount, error) {
		var b store.BucketCount
		err := r.Scan(&b.ProductType, &b.Bucket, &b.Count)
		return b, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: position buckets: %w", err)
	}
	return out, nil
}

// PositionScan streams the positions of the snapshots, one snapshot after
// the other in id order, each in Seq order.
func (db *DB) PositionScan(ctx context.Context, snapshotIDs []string, fn func(*store.Position) error) error {
	ids := slices.Clone(snapshotIDs)
	slices.Sort(ids)
	for _, id := range slices.Compact(ids) {
		if err := db.streamPositions(ctx, fn, positionSelect+` WHERE p.position_snapshot_id = $1 ORDER BY p.seq`, id); err != nil {
			return err
		}
	}
	return nil
}

// fineBuckets is the modulus of the fine bucket that position_task_fine_idx
// keys on; it must match the index expression (position_hash % 4096) of
// sql/001_mvp_core.sql.
const fineBuckets = 4096

// TaskPositions streams the task's positions: its run's snapshots in id
// order, its product type, Hash mod the task's HashMod equal to its bucket,
// each snapshot in Seq order.
func (db *DB) TaskPositions(ctx context.Context, t *store.Task, fn func(*store.Position) error) error {
	if t.HashMod <= 0 || t.Bucket < 0 || t.Bucket >= t.HashMod {
		return fmt.Errorf("postgres: positions of task %d: bucket %d is not in [0, hash mod %d)", t.ID, t.Bucket, t.HashMod)
	}
	var snapIDs []string
	qctx, cancel := db.bound(ctx)
	err := db.pool.QueryRow(qctx, `SELECT
    ARRAY(SELECT position_snapshot_id FROM run_position_snapshot WHERE run_id = r.run_id ORDER BY 1)
FROM run r WHERE r.run_id = $1`, t.RunID).Scan(&snapIDs)
	cancel()
	if err != nil {
		return noRows(err, fmt.Sprintf("run %q", t.RunID))
	}
	fine := store.FineBuckets(fineBuckets, t.HashMod, t.Bucket)
	for _, id := range snapIDs {
		// An index scan of the task's fine buckets in
		// position_task_fine_idx finds exactly the task's rows when
		// HashMod divides 4096 (the bucket test on the hash is then
		// always true), and a superset to filter otherwise.
		err := db.streamPositions(ctx, fn, positionSelect+`
WHERE p.position_snapshot_id = $1 AND p.product_type = $2
  AND p.position_hash % 4096 = ANY($5::bigint[]) AND p.position_hash % $3 = $4
ORDER BY p.seq`, id, t.ProductType, int64(t.HashMod), int64(t.Bucket), fine)
		if err != nil {
			return err
		}
	}
	return nil
}

func (db *DB) streamPositions(ctx context.Context, fn func(*store.Position) error, sql string, args ...any) error {
	rows, err := db.pool.Query(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("postgres: scan positions: %w", err)
	}
	defer rows.Close()
	var ps positionScanner
	for rows.Next() {
		p := new(store.Position)
		if err := ps.scan(rows, p); err != nil {
			return err
		}
		if err := fn(p); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("postgres: scan positions: %w", err)
	}
	return nil
}

// PositionSnapshotBegin starts writing a snapshot in a transaction that
// holds an advisory lock on the id: concurrent uploads of one id queue up
// behind each other. When the id is already stored the writer discards the
// rows it is given and Commit compares hashes.
func (db *DB) PositionSnapshotBegin(ctx context.Context, id string) (store.PositionSnapshotWriter, error) {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: begin position snapshot %q: %w", id, err)
	}
	w := &positionWriter{db: db, tx: tx, id: id, types: map[string]struct{}{}}
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, hashtext($2))", lockPositionSnapshotID, id); err != nil {
		w.abort(ctx)
		return nil, fmt.Errorf("postgres: lock position snapshot %q: %w", id, err)
	}
	if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM position_snapshot WHERE position_snapshot_id = $1)", id).Scan(&w.exists); err != nil {
		w.abort(ctx)
		return nil, fmt.Errorf("postgres: check position snapshot %q: %w", id, err)
	}
	return w, nil
}

type positionWriter struct {
	db     *DB
	tx     pgx.Tx
	id     string
	exists bool // the id was stored before this writer began
	next   int64
	types  map[string]struct{}
	done   bool
	// pending are rows added but not yet copied (see clusterRows).
	pending      []*store.Position
	pendingBytes int // of their attributes
	// copying, when not nil, gives the result of the copy of the run
	// before, which runs on a goroutine of its own while Add gathers the
	// next: the transaction is used by that goroutine alone until wait
	// has its result.
	copying  chan error
	stopCopy context.CancelFunc // cancels that copy
}

// clusterRows is how many rows a snapshot writer gathers before it copies
// them, sorted by the key a task reads them by (product type, fine bucket,
// then seq); clusterBytes bounds the attributes a run holds, whichever
// comes first. A table's rows lie in the order they were copied: copied in
// upload order, a task's few thousand rows of a 1,000,000-position
// snapshot were each on a page of their own, and the run's tasks read
// every page of the table once per row (a buffer miss and an 8 kB read
// each with the default shared_buffers). Sorted in runs of 32,768 rows,
// each fine bucket's rows of a run sit together (8 or so, a page), so a
// task reads a few hundred pages; the fine index's inserts go in key order
// too. A run is copied while the writer gathers the next, so an upload's
// reading and the database's copying still overlap. It costs holding two
// runs at most — up to 2 × 32 MiB of attributes (a loan tape by terms,
// about 0.6 kB a loan, fills a run by rows at about 20 MB; loans with
// their schedules, about 3 kB, by bytes at about 11,000 rows) — and
// copying the last run after the body ends.
const (
	clusterRows  = 32768
	clusterBytes = 32 << 20
)

func (w *positionWriter) abort(ctx context.Context) {
	if w.done {
		return
	}
	w.cancelCopy()
	w.done = true
	_ = w.tx.Rollback(context.WithoutCancel(ctx))
}

// wait waits for the copy of the run before, if one is running, and
// returns its error.
func (w *positionWriter) wait() error {
	if w.copying == nil {
		return nil
	}
	err := <-w.copying
	w.stopCopy()
	w.copying, w.stopCopy = nil, nil
	return err
}

// cancelCopy stops the copy of the run before, if one is running, and
// waits for it to give the transaction back.
func (w *positionWriter) cancelCopy() {
	if w.copying != nil {
		w.stopCopy()
		_ = w.wait()
	}
}

// positionColumns are the COPY columns of position.
var positionColumns = []string{"position_snapshot_id", "seq", "position_id", "instrument_id", "product_type", "quantity", "attributes", "position_hash"}

// Add adds a batch of rows to the snapshot. They are copied with the rows
// around them, in runs of clusterRows rows or clusterBytes of attributes
// (the last by Commit): the writer keeps them until then. A run's copy
// outlives the call that started it, whatever that call's context.
func (w *positionWriter) Add(ctx context.Context, rows []*store.Position) error {
	if w.done {
		return fmt.Errorf("postgres: add positions to %q: writer is closed", w.id)
	}
	for i, p := range rows {
		if p.Seq != w.next+int64(i) {
			return fmt.Errorf("postgres: add positions to %q: row %d has seq %d, want %d", w.id, i, p.Seq, w.next+int64(i))
		}
		if p.Hash < 0 {
			return fmt.Errorf("postgres: add positions to %q: position %q has negative hash %d", w.id, p.PositionID, p.Hash)
		}
	}
	for _, p := range rows {
		w.types[p.ProductType] = struct{}{}
	}
	w.next += int64(len(rows))
	if w.exists {
		return nil
	}
	for _, p := range rows {
		w.pending = append(w.pending, p)
		w.pendingBytes += len(p.Attributes)
		if len(w.pending) < clusterRows && w.pendingBytes < clusterBytes {
			continue
		}
		if err := w.settle(ctx); err != nil {
			return err
		}
		run := w.pending
		w.pending, w.pendingBytes = make([]*store.Position, 0, len(run)), 0
		// The copy outlives this call: it ends with its run, or when
		// Rollback or a failure cancels it, not with the caller's
		// context (values kept, cancellation not).
		copyCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
		w.copying, w.stopCopy = make(chan error, 1), stop
		go func() { w.copying <- w.copyRun(copyCtx, run) }()
	}
	return nil
}

// flush copies the pending rows, after the run before.
func (w *positionWriter) flush(ctx context.Context) error {
	if err := w.settle(ctx); err != nil {
		return err
	}
	err := w.copyRun(ctx, w.pending)
	w.pending, w.pendingBytes = w.pending[:0], 0
	if err != nil {
		w.abort(ctx)
	}
	return err
}

// settle waits for the copy of the run before; when it failed, it rolls
// back.
func (w *positionWriter) settle(ctx context.Context) error {
	if err := w.wait(); err != nil {
		w.abort(ctx)
		return err
	}
	return nil
}

// copyRun copies rows sorted by product type, fine bucket and seq. It
// uses the transaction and nothing else of the writer.
func (w *positionWriter) copyRun(ctx context.Context, rows []*store.Position) error {
	if len(rows) == 0 {
		return nil
	}
	slices.SortFunc(rows, func(a, b *store.Position) int {
		return cmp.Or(strings.Compare(a.ProductType, b.ProductType),
			cmp.Compare(a.Hash%fineBuckets, b.Hash%fineBuckets), cmp.Compare(a.Seq, b.Seq))
	})
	_, err := copyIn(ctx, w.tx, "position", positionColumns, len(rows), func(c *copyBuf, i int) error {
		p := rows[i]
		attrs := p.Attributes
		if len(attrs) == 0 {
			attrs = emptyObject
		}
		c.tuple(len(positionColumns))
		c.text(w.id)
		c.int8(p.Seq)
		c.text(p.PositionID)
		c.text(p.InstrumentID)
		c.text(p.ProductType)
		if p.Quantity != nil {
			c.float8(*p.Quantity)
		} else {
			c.null()
		}
		c.raw(attrs)
		c.int8(p.Hash)
		return nil
	})
	clear(rows)
	if err != nil {
		if pgCode(err) == codeUniqueViolation {
			return conflict("position snapshot %q repeats a position id", w.id)
		}
		return fmt.Errorf("postgres: copy positions into %q: %w", w.id, err)
	}
	return nil
}

var emptyObject = []byte("{}")

// nullText is b as a text parameter, NULL when b is nil.
func nullText(b []byte) *string {
	if b == nil {
		return nil
	}
	s := string(b)
	return &s
}

// Commit stores the header and commits, or resolves a duplicate.
func (w *positionWriter) Commit(ctx context.Context, s *store.PositionSnapshot, serverID bool) (*store.PositionSnapshot, bool, error) {
	if w.done {
		return nil, false, fmt.Errorf("postgres: commit position snapshot %q: writer is closed", w.id)
	}
	defer w.abort(ctx)
	if s.ID != w.id {
		return nil, false, fmt.Errorf("postgres: commit position snapshot: header id %q, writer id %q", s.ID, w.id)
	}
	if err := w.flush(ctx); err != nil {
		return nil, false, err
	}
	if s.PositionCount != 0 && s.PositionCount != w.next {
		return nil, false, fmt.Errorf("postgres: commit position snapshot %q: header counts %d positions, %d were added", w.id, s.PositionCount, w.next)
	}
	if w.exists {
		stored, err := positionSnapshotGet(ctx, w.tx, w.id)
		if err != nil {
			return nil, false, err
		}
		if stored.PayloadHash != s.PayloadHash {
			return nil, false, conflict("position snapshot %q already exists with other content", w.id)
		}
		return stored, false, nil
	}
	if serverID {
		// Same content uploaded without an id: the stored snapshot answers.
		if _, err := w.tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, hashtext($2))", lockPositionPayloadHash, s.PayloadHash); err != nil {
			return nil, false, fmt.Errorf("postgres: lock position payload hash: %w", err)
		}
		stored, err := scanPositionSnapshot(w.tx.QueryRow(ctx, "SELECT "+positionSnapshotColumns+` FROM position_snapshot
WHERE payload_hash = $1 ORDER BY created_at, position_snapshot_id LIMIT 1`, s.PayloadHash))
		switch {
		case err == nil:
			return stored, false, nil
		case !errors.Is(err, pgx.ErrNoRows):
			return nil, false, fmt.Errorf("postgres: find position snapshot by hash: %w", err)
		}
	}
	out := &store.PositionSnapshot{
		ID:              w.id,
		AsOfTime:        stamp(s.AsOfTime),
		PortfolioNodeID: s.PortfolioNodeID,
		PayloadHash:     s.PayloadHash,
		PositionCount:   w.next,
		ProductTypes:    make([]string, 0, len(w.types)),
		CreatedAt:       w.db.stampOr(s.CreatedAt),
		CheckSummary:    slices.Clone(s.CheckSummary),
	}
	for t := range w.types {
		out.ProductTypes = append(out.ProductTypes, t)
	}
	slices.Sort(out.ProductTypes)
	if _, err := w.tx.Exec(ctx, `INSERT INTO position_snapshot
    (position_snapshot_id, as_of_time, portfolio_node_id, payload_hash, position_count, product_types, created_at, check_summary)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8::json)`,
		out.ID, out.AsOfTime, out.PortfolioNodeID, out.PayloadHash, out.PositionCount, out.ProductTypes, out.CreatedAt, nullText(out.CheckSummary)); err != nil {
		return nil, false, fmt.Errorf("postgres: insert position snapshot %q: %w", w.id, err)
	}
	if err := w.db.recordAudit(ctx, w.tx, w.id); err != nil {
		return nil, false, err
	}
	if err := w.tx.Commit(ctx); err != nil {
		return nil, false, fmt.Errorf("postgres: commit position snapshot %q: %w", w.id, err)
	}
	w.done = true
	return out, true, nil
}

// Rollback discards the writer's work; it is a no-op after Commit.
func (w *positionWriter) Rollback(ctx context.Context) error {
	if w.done {
		return nil
	}
	w.cancelCopy()
	w.done = true
	if err := w.tx.Rollback(context.WithoutCancel(ctx)); err != nil && !errors.Is(err, pgx.ErrTxClosed) {
		return fmt.Errorf("postgres: roll back position snapshot %q: %w", w.id, err)
	}
	return nil
}

// collectPositions reads every row of a positionSelect query and closes it.
func collectPositions(rows pgx.Rows) ([]*store.Position, error) {
	defer rows.Close()
	var ps positionScanner
	out := []*store.Position{}
	for rows.Next() {
		p := new(store.Position)
		if err := ps.scan(rows, p); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}
