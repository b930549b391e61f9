package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/iprs/iprs/internal/store"
)

// positionBatch is the number of rows of one multi-row INSERT into position
// (8 parameters each, far below SQLite's 32766).
const positionBatch = 500

const positionColumns = `p.position_snapshot_id, h.portfolio_node_id, p.seq, p.position_id, p.instrument_id, p.product_type, p.quantity, p.attributes, p.position_hash`

const positionSnapshotColumns = `position_snapshot_id, as_of_time, portfolio_node_id, payload_hash, position_count, product_types, created_at, check_summary`

// PositionSnapshotBegin starts writing a position snapshot: it takes the
// writer connection (BEGIN IMMEDIATE) until Commit or Rollback.
func (db *DB) PositionSnapshotBegin(ctx context.Context, id string) (store.PositionSnapshotWriter, error) {
	if id == "" {
		return nil, errors.New("sqlite: position snapshot id is empty")
	}
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sqlite: begin position snapshot %q: %w", id, err)
	}
	// The transaction holds the write lock, so whether the id exists cannot
	// change until Commit. A snapshot that exists already (a client retry)
	// only has its rows counted: they would clash with the stored ones, and
	// Commit discards them anyway.
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM position_snapshot WHERE position_snapshot_id = ?`, id).Scan(&n); err != nil {
		_ = tx.Rollback()
		return nil, fmt.Errorf("sqlite: begin position snapshot %q: look up id: %w", id, err)
	}
	return &positionWriter{db: db, id: id, tx: tx, exists: n > 0}, nil
}

type positionWriter struct {
	db   *DB
	id   string
	tx   *sql.Tx
	full *sql.Stmt // INSERT of positionBatch rows, prepared on first use
	n    int64     // rows added so far
	done bool
	// exists: the id was taken when the writer began; rows are counted,
	// not written.
	exists bool
}

func insertPositionsSQL(rows int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO position (position_snapshot_id, seq, position_id, instrument_id, product_type, quantity, attributes, position_hash) VALUES `)
	for i := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?,?,?,?,?,?,?,?)")
	}
	return b.String()
}

// Add appends rows; their Seq must continue the previous batch.
func (w *positionWriter) Add(ctx context.Context, rows []*store.Position) error {
	if w.done {
		return fmt.Errorf("sqlite: position snapshot %q: Add after Commit or Rollback", w.id)
	}
	args := make([]any, 0, 8*min(len(rows), positionBatch))
	for start := 0; start < len(rows); start += positionBatch {
		chunk := rows[start:min(start+positionBatch, len(rows))]
		args = args[:0]
		for i, p := range chunk {
			if want := w.n + int64(i); p.Seq != want {
				return fmt.Errorf("sqlite: position snapshot %q: position %q has seq %d, want %d", w.id, p.PositionID, p.Seq, want)
			}
			var qty any
			if p.Quantity != nil {
				qty = *p.Quantity
			}
			attrs := string(p.Attributes)
			if attrs == "" {
				attrs = "{}"
			}
			args = append(args, w.id, p.Seq, p.PositionID, p.InstrumentID, p.ProductType, qty, attrs, p.Hash)
		}
		if w.exists {
			w.n += int64(len(chunk))
			continue
		}
		var err error
		if len(chunk) == positionBatch {
			if w.full == nil {
				if w.full, err = w.tx.PrepareContext(ctx, insertPositionsSQL(positionBatch)); err != nil {
					return fmt.Errorf("sqlite: position snapshot %q: prepare insert: %w", w.id, err)
				}
			}
			_, err = w.full.ExecContext(ctx, args...)
		} else {
			_, err = w.tx.ExecContext(ctx, insertPositionsSQL(len(chunk)), args...)
		}
		if isUniqueViolation(err) {
			return conflictf("position snapshot %q repeats a position id", w.id)
		}
		if err != nil {
			return fmt.Errorf("sqlite: position snapshot %q: insert rows from seq %d: %w", w.id, w.n, err)
		}
		w.n += int64(len(chunk))
	}
	return nil
}

// Commit stores the header and commits, or rolls the rows back when the
// snapshot already exists.
func (w *positionWriter) Commit(ctx context.Context, s *store.PositionSnapshot, serverID bool) (*store.PositionSnapshot, bool, error) {
	if w.done {
		return nil, false, fmt.Errorf("sqlite: position snapshot %q: Commit after Commit or Rollback", w.id)
	}
	if s.ID != w.id {
		w.rollback()
		return nil, false, fmt.Errorf("sqlite: position snapshot header id %q differs from the writer's %q", s.ID, w.id)
	}
	if s.PositionCount != w.n {
		w.rollback()
		return nil, false, fmt.Errorf("sqlite: position snapshot %q: header counts %d positions, %d were added", w.id, s.PositionCount, w.n)
	}
	existing, err := positionSnapshotGet(ctx, w.tx, w.id)
	switch {
	case err == nil:
		w.rollback()
		if existing.PayloadHash != s.PayloadHash {
			return nil, false, conflictf("position snapshot %q exists with other content (payload hash %s, not %s)", w.id, existing.PayloadHash, s.PayloadHash)
		}
		return existing, false, nil
	case !errors.Is(err, sql.ErrNoRows):
		w.rollback()
		return nil, false, fmt.Errorf("sqlite: look up position snapshot %q: %w", w.id, err)
	}
	if serverID {
		row := w.tx.QueryRowContext(ctx, `SELECT `+positionSnapshotColumns+` FROM position_snapshot
WHERE payload_hash = ? ORDER BY created_at, position_snapshot_id LIMIT 1`, s.PayloadHash)
		same, err := scanPositionSnapshot(row.Scan)
		switch {
		case err == nil:
			w.rollback()
			return same, false, nil
		case !errors.Is(err, sql.ErrNoRows):
			w.rollback()
			return nil, false, fmt.Errorf("sqlite: look up position snapshot by hash %s: %w", s.PayloadHash, err)
		}
	}

	row := *s
	if row.CreatedAt.IsZero() {
		row.CreatedAt = w.db.now()
	}
	row.AsOfTime = fromMicros(toMicros(row.AsOfTime))
	row.CreatedAt = fromMicros(toMicros(row.CreatedAt))
	row.CheckSummary = slices.Clone(row.CheckSummary)
	var summary any // NULL when none
	if row.CheckSummary != nil {
		summary = string(row.CheckSummary)
	}
	row.ProductTypes = slices.Clone(row.ProductTypes)
	if row.ProductTypes == nil {
		row.ProductTypes = []string{}
	}
	types, err := json.Marshal(row.ProductTypes)
	if err != nil {
		w.rollback()
		return nil, false, fmt.Errorf("sqlite: position snapshot %q: encode product types: %w", w.id, err)
	}
	if _, err := w.tx.ExecContext(ctx, `INSERT INTO position_snapshot (`+positionSnapshotColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		row.ID, toMicros(row.AsOfTime), row.PortfolioNodeID, row.PayloadHash, row.PositionCount, string(types), toMicros(row.CreatedAt), summary); err != nil {
		w.rollback()
		return nil, false, fmt.Errorf("sqlite: insert position snapshot %q: %w", w.id, err)
	}
	if err := w.db.recordAudit(ctx, w.tx, w.id); err != nil {
		w.rollback()
		return nil, false, fmt.Errorf("sqlite: position snapshot %q: %w", w.id, err)
	}
	w.done = true
	w.closeStmt()
	if err := w.tx.Commit(); err != nil {
		return nil, false, fmt.Errorf("sqlite: commit position snapshot %q: %w", w.id, err)
	}
	return &row, true, nil
}

// Rollback discards everything; it is safe to call after Commit.
func (w *positionWriter) Rollback(ctx context.Context) error {
	if w.done {
		return nil
	}
	if err := w.rollback(); err != nil {
		return fmt.Errorf("sqlite: roll back position snapshot %q: %w", w.id, err)
	}
	return nil
}

func (w *positionWriter) rollback() error {
	w.done = true
	w.closeStmt()
	if err := w.tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return err
	}
	return nil
}

func (w *positionWriter) closeStmt() {
	if w.full != nil {
		w.full.Close()
		w.full = nil
	}
}

// PositionSnapshotGet returns a snapshot's header.
func (db *DB) PositionSnapshotGet(ctx context.Context, id string) (*store.PositionSnapshot, error) {
	var s *store.PositionSnapshot
	err := db.read(ctx, func(tx *sql.Tx) error {
		var err error
		s, err = positionSnapshotGet(ctx, tx, id)
		return err
	})
	if err != nil {
		return nil, notFound(err, "position snapshot %q", id)
	}
	return s, nil
}

func positionSnapshotGet(ctx context.Context, tx *sql.Tx, id string) (*store.PositionSnapshot, error) {
	row := tx.QueryRowContext(ctx, `SELECT `+positionSnapshotColumns+` FROM position_snapshot WHERE position_snapshot_id = ?`, id)
	return scanPositionSnapshot(row.Scan)
}

func scanPositionSnapshot(scan func(...any) error) (*store.PositionSnapshot, error) {
	var (
		s               store.PositionSnapshot
		asOf, createdAt int64
		types           string
		summary         sql.NullString
	)
	if err := scan(&s.ID, &asOf, &s.PortfolioNodeID, &s.PayloadHash, &s.PositionCount, &types, &createdAt, &summary); err != nil {
		return nil, err
	}
	if summary.Valid {
		s.CheckSummary = []byte(summary.String)
	}
	s.AsOfTime = fromMicros(asOf)
	s.CreatedAt = fromMicros(createdAt)
	if err := json.Unmarshal([]byte(types), &s.ProductTypes); err != nil {
		return nil, fmt.Errorf("position snapshot %q: decode product types: %w", s.ID, err)
	}
	return &s, nil
}

// PositionSnapshotLatest returns the node's latest snapshot as of asOf.
func (db *DB) PositionSnapshotLatest(ctx context.Context, portfolioNodeID string, asOf time.Time) (*store.PositionSnapshot, error) {
	row := db.reader.QueryRowContext(ctx, `SELECT `+positionSnapshotColumns+` FROM position_snapshot
WHERE portfolio_node_id = ? AND as_of_time <= ?
ORDER BY as_of_time DESC, created_at DESC, position_snapshot_id DESC LIMIT 1`, portfolioNodeID, toMicros(asOf))
	s, err := scanPositionSnapshot(row.Scan)
	if err != nil {
		return nil, notFound(err, "position snapshot of node %q as of %s", portfolioNodeID, asOf.UTC().Format(time.RFC3339Nano))
	}
	return s, nil
}

// PositionList pages through a snapshot's positions in Seq order.
func (db *DB) PositionList(ctx context.Context, snapshotID string, afterSeq int64, limit int) ([]*store.Position, error) {
	var out []*store.Position
	err := db.read(ctx, func(tx *sql.Tx) error {
		if _, err := positionSnapshotGet(ctx, tx, snapshotID); err != nil {
			return notFound(err, "position snapshot %q", snapshotID)
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+positionColumns+`
FROM position p JOIN position_snapshot h ON h.position_snapshot_id = p.position_snapshot_id
WHERE p.position_snapshot_id = ? AND p.seq > ? ORDER BY p.seq LIMIT ?`, snapshotID, afterSeq, listLimit(limit))
		if err != nil {
			return fmt.Errorf("list positions of %q: %w", snapshotID, err)
		}
		return eachPosition(rows, func(p *store.Position) error {
			out = append(out, p)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// PositionsByID returns the snapshots' positions with that id, by
// snapshot id.
func (db *DB) PositionsByID(ctx context.Context, snapshotIDs []string, positionID string) ([]*store.Position, error) {
	ids, err := idsJSON(snapshotIDs)
	if err != nil {
		return nil, err
	}
	out := []*store.Position{}
	err = db.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+positionColumns+`
FROM position p JOIN position_snapshot h ON h.position_snapshot_id = p.position_snapshot_id
WHERE p.position_snapshot_id IN (SELECT value FROM json_each(?)) AND p.position_id = ?
ORDER BY p.position_snapshot_id`, ids, positionID)
		if err != nil {
			return fmt.Errorf("positions with id %q: %w", positionID, err)
		}
		return eachPosition(rows, func(p *store.Position) error {
			out = append(out, p)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// eachPosition scans rows of positionColumns, closing them.
func eachPosition(rows *sql.Rows, fn func(*store.Position) error) error {
	defer rows.Close()
	for rows.Next() {
		var (
			p     store.Position
			qty   sql.NullFloat64
			attrs string
		)
		if err := rows.Scan(&p.SnapshotID, &p.PortfolioNodeID, &p.Seq, &p.PositionID, &p.InstrumentID, &p.ProductType, &qty, &attrs, &p.Hash); err != nil {
			return fmt.Errorf("scan position: %w", err)
		}
		if qty.Valid {
			p.Quantity = &qty.Float64
		}
		p.Attributes = []byte(attrs)
		if err := fn(&p); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read positions: %w", err)
	}
	return nil
}

// idsJSON encodes ids as a JSON array for json_each.
func idsJSON(ids []string) (string, error) {
	if ids == nil {
		ids = []string{}
	}
	b, err := json.Marshal(ids)
	if err != nil {
		return "", fmt.Errorf("encode ids: %w", err)
	}
	return string(b), nil
}

// PositionBuckets counts positions by product type and hash bucket.
func (db *DB) PositionBuckets(ctx context.Context, snapshotIDs []string, hashMod int) ([]store.BucketCount, error) {
	if hashMod <= 0 {
		return nil, fmt.Errorf("sqlite: position buckets: hash mod %d is not positive", hashMod)
	}
	ids, err := idsJSON(snapshotIDs)
	if err != nil {
		return nil, fmt.Errorf("sqlite: position buckets: %w", err)
	}
	rows, err := db.reader.QueryContext(ctx, `SELECT p.product_type, p.position_hash % ? AS bucket, count(*)
FROM position p INDEXED BY position_task_idx
JOIN position_snapshot h ON h.position_snapshot_id = p.position_snapshot_id
WHERE p.position_snapshot_id IN (SELECT value FROM json_each(?))
GROUP BY p.product_type, bucket ORDER BY p.product_type, bucket`, hashMod, ids)
	if err != nil {
		return nil, fmt.Errorf("sqlite: position buckets: %w", err)
	}
	defer rows.Close()
	var out []store.BucketCount
	for rows.Next() {
		var b store.BucketCount
		if err := rows.Scan(&b.ProductType, &b.Bucket, &b.Count); err != nil {
			return nil, fmt.Errorf("sqlite: position buckets: %w", err)
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: position buckets: %w", err)
	}
	return out, nil
}

// PositionScan streams the snapshots' positions in snapshot id then Seq
// order.
func (db *DB) PositionScan(ctx context.Context, snapshotIDs []string, fn func(*store.Position) error) error {
	ids, err := idsJSON(snapshotIDs)
	if err != nil {
		return fmt.Errorf("sqlite: position scan: %w", err)
	}
	return db.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+positionColumns+`
FROM position p JOIN position_snapshot h ON h.position_snapshot_id = p.position_snapshot_id
WHERE p.position_snapshot_id IN (SELECT value FROM json_each(?))
ORDER BY p.position_snapshot_id, p.seq`, ids)
		if err != nil {
			return fmt.Errorf("sqlite: position scan: %w", err)
		}
		return eachPosition(rows, fn)
	})
}
