package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/iprs/iprs/internal/store"
)

const setColumns = `kind, set_id, description, item_count, payload_hash, created_at`

// SetCreate stores an immutable analytic set, or returns the stored one
// when the kind and id exist with the same payload hash.
func (db *DB) SetCreate(ctx context.Context, s *store.AnalyticSet) (*store.AnalyticSet, bool, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	in := *s
	in.CreatedAt = db.stampOr(s.CreatedAt)
	if in.Payload == nil {
		in.Payload = []byte{}
	}
	var stored *store.AnalyticSet
	created := false
	err := db.inTx(ctx, "SetCreate", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO analytic_set
    (kind, set_id, description, item_count, payload, payload_hash, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (kind, set_id) DO NOTHING`,
			in.Kind, in.ID, in.Description, in.ItemCount, in.Payload, in.PayloadHash, in.CreatedAt)
		if err != nil {
			return fmt.Errorf("postgres: insert %s %q: %w", in.Kind, in.ID, err)
		}
		if tag.RowsAffected() == 1 {
			created = true
			stored = &in
			return db.recordAudit(ctx, tx, in.ID)
		}
		// The set exists (possibly committed by a concurrent request that
		// this insert waited for): compare content.
		stored, err = setGet(ctx, tx, in.Kind, in.ID, true)
		if err != nil {
			return err
		}
		if stored.PayloadHash != in.PayloadHash {
			return conflict("%s %q already exists with other content", in.Kind, in.ID)
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	out := *stored
	return &out, created, nil
}

// SetGet returns a set with its payload.
func (db *DB) SetGet(ctx context.Context, kind, id string) (*store.AnalyticSet, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	return setGet(ctx, db.pool, kind, id, true)
}

func setGet(ctx context.Context, q querier, kind, id string, payload bool) (*store.AnalyticSet, error) {
	cols := setColumns
	if payload {
		cols += ", payload"
	}
	rows, err := q.Query(ctx, "SELECT "+cols+" FROM analytic_set WHERE kind = $1 AND set_id = $2", kind, id)
	if err != nil {
		return nil, fmt.Errorf("postgres: read %s %q: %w", kind, id, err)
	}
	s, err := pgx.CollectExactlyOneRow(rows, func(r pgx.CollectableRow) (*store.AnalyticSet, error) {
		return scanSet(r, payload)
	})
	if err != nil {
		return nil, noRows(err, fmt.Sprintf("%s %q", kind, id))
	}
	return s, nil
}

func scanSet(r pgx.Row, payload bool) (*store.AnalyticSet, error) {
	var s store.AnalyticSet
	dest := []any{&s.Kind, &s.ID, &s.Description, &s.ItemCount, &s.PayloadHash, &s.CreatedAt}
	if payload {
		dest = append(dest, &s.Payload)
	}
	if err := r.Scan(dest...); err != nil {
		return nil, err
	}
	s.CreatedAt = s.CreatedAt.UTC()
	if payload && s.Payload == nil {
		s.Payload = []byte{}
	}
	return &s, nil
}

// SetList lists a kind's sets newest CreatedAt first, ties by id
// descending, without payloads.
func (db *DB) SetList(ctx context.Context, kind string, p store.ListParams) ([]*store.AnalyticSet, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	args := []any{kind, limitOf(p.Limit)}
	where := "WHERE kind = $1"
	if !p.AfterTime.IsZero() {
		where += " AND (created_at, set_id) < ($3, $4)"
		args = append(args, stamp(p.AfterTime), p.AfterID)
	}
	rows, err := db.pool.Query(ctx, "SELECT "+setColumns+" FROM analytic_set "+where+
		" ORDER BY created_at DESC, set_id DESC LIMIT $2", args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list %ss: %w", kind, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*store.AnalyticSet, error) {
		return scanSet(r, false)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list %ss: %w", kind, err)
	}
	return out, nil
}
