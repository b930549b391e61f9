package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/iprs/iprs/internal/store"
)

const marketColumns = `snapshot_id, as_of_time, vendor, universe_id, payload_hash, dq_status, issues, created_at`

// MarketSnapshotCreate stores an immutable market snapshot, or returns the
// stored one when the id exists with the same payload hash.
func (db *DB) MarketSnapshotCreate(ctx context.Context, s *store.MarketSnapshot) (*store.MarketSnapshot, bool, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	in := *s
	in.AsOfTime = stamp(s.AsOfTime)
	in.CreatedAt = db.stampOr(s.CreatedAt)
	if len(in.Issues) == 0 {
		in.Issues = []byte("[]")
	}
	if in.Payload == nil {
		in.Payload = []byte{}
	}
	var stored *store.MarketSnapshot
	created := false
	err := db.inTx(ctx, "MarketSnapshotCreate", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO market_snapshot
    (snapshot_id, as_of_time, vendor, universe_id, payload, payload_hash, dq_status, issues, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (snapshot_id) DO NOTHING`,
			in.ID, in.AsOfTime, in.Vendor, in.UniverseID, in.Payload, in.PayloadHash, in.DQStatus, string(in.Issues), in.CreatedAt)
		if err != nil {
			return fmt.Errorf("postgres: insert market snapshot %q: %w", in.ID, err)
		}
		if tag.RowsAffected() == 1 {
			created = true
			stored = &in
			return db.recordAudit(ctx, tx, in.ID)
		}
		// The id exists (possibly committed by a concurrent request that
		// this insert waited for): compare content.
		stored, err = marketSnapshotGet(ctx, tx, in.ID, true)
		if err != nil {
			return err
		}
		if stored.PayloadHash != in.PayloadHash {
			return conflict("market snapshot %q already exists with other content", in.ID)
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	out := *stored
	return &out, created, nil
}

// MarketSnapshotGet returns a snapshot with its payload.
func (db *DB) MarketSnapshotGet(ctx context.Context, id string) (*store.MarketSnapshot, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	return marketSnapshotGet(ctx, db.pool, id, true)
}

func marketSnapshotGet(ctx context.Context, q querier, id string, payload bool) (*store.MarketSnapshot, error) {
	cols := marketColumns
	if payload {
		cols += ", payload"
	}
	rows, err := q.Query(ctx, "SELECT "+cols+" FROM market_snapshot WHERE snapshot_id = $1", id)
	if err != nil {
		return nil, fmt.Errorf("postgres: read market snapshot %q: %w", id, err)
	}
	m, err := pgx.CollectExactlyOneRow(rows, func(r pgx.CollectableRow) (*store.MarketSnapshot, error) {
		return scanMarket(r, payload)
	})
	if err != nil {
		return nil, noRows(err, fmt.Sprintf("market snapshot %q", id))
	}
	return m, nil
}

func scanMarket(r pgx.Row, payload bool) (*store.MarketSnapshot, error) {
	var m store.MarketSnapshot
	var issues string
	dest := []any{&m.ID, &m.AsOfTime, &m.Vendor, &m.UniverseID, &m.PayloadHash, &m.DQStatus, &issues, &m.CreatedAt}
	if payload {
		dest = append(dest, &m.Payload)
	}
	if err := r.Scan(dest...); err != nil {
		return nil, err
	}
	m.Issues = []byte(issues)
	m.AsOfTime = m.AsOfTime.UTC()
	m.CreatedAt = m.CreatedAt.UTC()
	return &m, nil
}

// MarketSnapshotList lists snapshots newest AsOfTime first, ties by id
// descending, without payloads.
func (db *DB) MarketSnapshotList(ctx context.Context, p store.ListParams) ([]*store.MarketSnapshot, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	args := []any{limitOf(p.Limit)}
	where := ""
	if !p.AfterTime.IsZero() {
		where = "WHERE (as_of_time, snapshot_id) < ($2, $3)"
		args = append(args, stamp(p.AfterTime), p.AfterID)
	}
	rows, err := db.pool.Query(ctx, "SELECT "+marketColumns+" FROM market_snapshot "+where+
		" ORDER BY as_of_time DESC, snapshot_id DESC LIMIT $1", args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list market snapshots: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*store.MarketSnapshot, error) {
		return scanMarket(r, false)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list market snapshots: %w", err)
	}
	return out, nil
}

// defaultLimit applies when a caller passes no positive limit.
const defaultLimit = 100

func limitOf(n int) int {
	if n <= 0 {
		return defaultLimit
	}
	return n
}

// querier is what pgxpool.Pool, pgx.Conn and pgx.Tx share.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// MarketSnapshotDaily returns each UTC date's latest snapshot that is not
// FAIL, with payloads, oldest date first.
func (db *DB) MarketSnapshotDaily(ctx context.Context, p store.DailyParams) ([]*store.MarketSnapshot, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	start, end := p.DailyRange()
	query := `SELECT ` + marketColumns + `, payload FROM (
    SELECT DISTINCT ON ((as_of_time AT TIME ZONE 'UTC')::date) *
    FROM market_snapshot
    WHERE dq_status <> 'FAIL' AND as_of_time >= $1 AND as_of_time < $2
    ORDER BY (as_of_time AT TIME ZONE 'UTC')::date, as_of_time DESC, snapshot_id DESC
) daily ORDER BY as_of_time`
	args := []any{start, end}
	if p.Limit > 0 {
		query += " LIMIT $3"
		args = append(args, p.Limit)
	}
	rows, err := db.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list daily market snapshots: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*store.MarketSnapshot, error) {
		return scanMarket(r, true)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list daily market snapshots: %w", err)
	}
	return out, nil
}
