package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/iprs/iprs/internal/store"
)

const marketColumns = `snapshot_id, as_of_time, vendor, universe_id, payload_hash, dq_status, issues, created_at`

// MarketSnapshotCreate stores an immutable market snapshot.
func (db *DB) MarketSnapshotCreate(ctx context.Context, s *store.MarketSnapshot) (*store.MarketSnapshot, bool, error) {
	row := *s
	if row.CreatedAt.IsZero() {
		row.CreatedAt = db.now()
	}
	row.AsOfTime = fromMicros(toMicros(row.AsOfTime))
	row.CreatedAt = fromMicros(toMicros(row.CreatedAt))
	if len(row.Issues) == 0 {
		row.Issues = []byte("[]")
	}
	if row.Payload == nil {
		row.Payload = []byte{}
	}
	var (
		stored  *store.MarketSnapshot
		created bool
	)
	err := db.write(ctx, func(tx *sql.Tx) error {
		existing, err := marketSnapshotGet(ctx, tx, row.ID, true)
		switch {
		case err == nil:
			if existing.PayloadHash != row.PayloadHash {
				return conflictf("market snapshot %q exists with other content (payload hash %s, not %s)", row.ID, existing.PayloadHash, row.PayloadHash)
			}
			stored = existing
			return nil
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("look up market snapshot %q: %w", row.ID, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO market_snapshot
(snapshot_id, as_of_time, vendor, universe_id, payload, payload_hash, dq_status, issues, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			row.ID, toMicros(row.AsOfTime), row.Vendor, row.UniverseID, row.Payload, row.PayloadHash,
			row.DQStatus, string(row.Issues), toMicros(row.CreatedAt)); err != nil {
			return fmt.Errorf("insert market snapshot %q: %w", row.ID, err)
		}
		stored, created = &row, true
		return db.recordAudit(ctx, tx, row.ID)
	})
	if err != nil {
		return nil, false, sqliteErr("create market snapshot", err)
	}
	if created {
		stored.Payload = bytes.Clone(stored.Payload)
		stored.Issues = bytes.Clone(stored.Issues)
	}
	return stored, created, nil
}

// MarketSnapshotGet returns a market snapshot with its payload.
func (db *DB) MarketSnapshotGet(ctx context.Context, id string) (*store.MarketSnapshot, error) {
	var s *store.MarketSnapshot
	err := db.read(ctx, func(tx *sql.Tx) error {
		var err error
		s, err = marketSnapshotGet(ctx, tx, id, true)
		return err
	})
	if err != nil {
		return nil, notFound(err, "market snapshot %q", id)
	}
	return s, nil
}

func marketSnapshotGet(ctx context.Context, tx *sql.Tx, id string, withPayload bool) (*store.MarketSnapshot, error) {
	cols := marketColumns
	if withPayload {
		cols += ", payload"
	}
	row := tx.QueryRowContext(ctx, `SELECT `+cols+` FROM market_snapshot WHERE snapshot_id = ?`, id)
	return scanMarketSnapshot(row.Scan, withPayload)
}

func scanMarketSnapshot(scan func(...any) error, withPayload bool) (*store.MarketSnapshot, error) {
	var (
		s               store.MarketSnapshot
		asOf, createdAt int64
		issues          string
		payload         []byte
	)
	dest := []any{&s.ID, &asOf, &s.Vendor, &s.UniverseID, &s.PayloadHash, &s.DQStatus, &issues, &createdAt}
	if withPayload {
		dest = append(dest, &payload)
	}
	if err := scan(dest...); err != nil {
		return nil, err
	}
	s.AsOfTime = fromMicros(asOf)
	s.CreatedAt = fromMicros(createdAt)
	s.Issues = []byte(issues)
	if withPayload {
		if payload == nil {
			payload = []byte{}
		}
		s.Payload = payload
	}
	return &s, nil
}

// MarketSnapshotList lists newest AsOfTime first, ties by id descending.
func (db *DB) MarketSnapshotList(ctx context.Context, p store.ListParams) ([]*store.MarketSnapshot, error) {
	query := `SELECT ` + marketColumns + ` FROM market_snapshot`
	var args []any
	if !p.AfterTime.IsZero() {
		query += ` WHERE (as_of_time, snapshot_id) < (?, ?)`
		args = append(args, toMicros(p.AfterTime), p.AfterID)
	}
	query += ` ORDER BY as_of_time DESC, snapshot_id DESC LIMIT ?`
	args = append(args, listLimit(p.Limit))
	rows, err := db.reader.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list market snapshots: %w", err)
	}
	defer rows.Close()
	var out []*store.MarketSnapshot
	for rows.Next() {
		s, err := scanMarketSnapshot(rows.Scan, false)
		if err != nil {
			return nil, fmt.Errorf("list market snapshots: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list market snapshots: %w", err)
	}
	return out, nil
}

// listLimit maps a non-positive limit to "no limit" (SQLite's LIMIT -1).
func listLimit(limit int) int {
	if limit <= 0 {
		return -1
	}
	return limit
}

// microsPerDay is the length of a UTC day in the stored unit.
const microsPerDay = 86400 * 1000000

// MarketSnapshotDaily returns each UTC date's latest snapshot that is not
// FAIL, with payloads, oldest date first. A date is the floor of
// as_of_time to a multiple of a day (floored for times before 1970 too).
func (db *DB) MarketSnapshotDaily(ctx context.Context, p store.DailyParams) ([]*store.MarketSnapshot, error) {
	start, end := p.DailyRange()
	query := `SELECT ` + marketColumns + `, payload FROM (
    SELECT *, row_number() OVER (PARTITION BY day ORDER BY as_of_time DESC, snapshot_id DESC) AS rank_in_day
    FROM (
        SELECT *, as_of_time - (((as_of_time % ?) + ?) % ?) AS day
        FROM market_snapshot
        WHERE dq_status <> 'FAIL' AND as_of_time >= ? AND as_of_time < ?
    )
) WHERE rank_in_day = 1 ORDER BY as_of_time LIMIT ?`
	rows, err := db.reader.QueryContext(ctx, query, microsPerDay, microsPerDay, microsPerDay,
		toMicros(start), toMicros(end), listLimit(p.Limit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: list daily market snapshots: %w", err)
	}
	defer rows.Close()
	var out []*store.MarketSnapshot
	for rows.Next() {
		s, err := scanMarketSnapshot(rows.Scan, true)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list daily market snapshots: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list daily market snapshots: %w", err)
	}
	return out, nil
}
