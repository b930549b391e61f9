package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/iprs/iprs/internal/store"
)

const setColumns = `kind, set_id, description, item_count, payload_hash, created_at`

// SetCreate stores an immutable analytic set, or returns the stored one
// when the kind and id exist with the same payload hash. Writes go through
// the single writer connection, so concurrent identical creates store one.
func (db *DB) SetCreate(ctx context.Context, s *store.AnalyticSet) (*store.AnalyticSet, bool, error) {
	row := *s
	if row.CreatedAt.IsZero() {
		row.CreatedAt = db.now()
	}
	row.CreatedAt = fromMicros(toMicros(row.CreatedAt))
	if row.Payload == nil {
		row.Payload = []byte{}
	}
	var (
		stored  *store.AnalyticSet
		created bool
	)
	err := db.write(ctx, func(tx *sql.Tx) error {
		existing, err := setGet(ctx, tx, row.Kind, row.ID, true)
		switch {
		case err == nil:
			if existing.PayloadHash != row.PayloadHash {
				return conflictf("%s %q exists with other content (payload hash %s, not %s)", row.Kind, row.ID, existing.PayloadHash, row.PayloadHash)
			}
			stored = existing
			return nil
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("look up %s %q: %w", row.Kind, row.ID, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO analytic_set
(kind, set_id, description, item_count, payload, payload_hash, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?)`,
			row.Kind, row.ID, row.Description, row.ItemCount, row.Payload, row.PayloadHash, toMicros(row.CreatedAt)); err != nil {
			return fmt.Errorf("insert %s %q: %w", row.Kind, row.ID, err)
		}
		stored, created = &row, true
		return db.recordAudit(ctx, tx, row.ID)
	})
	if err != nil {
		return nil, false, sqliteErr("create "+s.Kind, err)
	}
	if created {
		stored.Payload = bytes.Clone(stored.Payload)
	}
	return stored, created, nil
}

// SetGet returns a set with its payload.
func (db *DB) SetGet(ctx context.Context, kind, id string) (*store.AnalyticSet, error) {
	var s *store.AnalyticSet
	err := db.read(ctx, func(tx *sql.Tx) error {
		var err error
		s, err = setGet(ctx, tx, kind, id, true)
		return err
	})
	if err != nil {
		return nil, notFound(err, "%s %q", kind, id)
	}
	return s, nil
}

func setGet(ctx context.Context, tx *sql.Tx, kind, id string, withPayload bool) (*store.AnalyticSet, error) {
	cols := setColumns
	if withPayload {
		cols += ", payload"
	}
	row := tx.QueryRowContext(ctx, `SELECT `+cols+` FROM analytic_set WHERE kind = ? AND set_id = ?`, kind, id)
	return scanSet(row.Scan, withPayload)
}

func scanSet(scan func(...any) error, withPayload bool) (*store.AnalyticSet, error) {
	var (
		s         store.AnalyticSet
		createdAt int64
		payload   []byte
	)
	dest := []any{&s.Kind, &s.ID, &s.Description, &s.ItemCount, &s.PayloadHash, &createdAt}
	if withPayload {
		dest = append(dest, &payload)
	}
	if err := scan(dest...); err != nil {
		return nil, err
	}
	s.CreatedAt = fromMicros(createdAt)
	if withPayload {
		if payload == nil {
			payload = []byte{}
		}
		s.Payload = payload
	}
	return &s, nil
}

// SetList lists a kind's sets newest CreatedAt first, ties by id
// descending, without payloads.
func (db *DB) SetList(ctx context.Context, kind string, p store.ListParams) ([]*store.AnalyticSet, error) {
	query := `SELECT ` + setColumns + ` FROM analytic_set WHERE kind = ?`
	args := []any{kind}
	if !p.AfterTime.IsZero() {
		query += ` AND (created_at, set_id) < (?, ?)`
		args = append(args, toMicros(p.AfterTime), p.AfterID)
	}
	query += ` ORDER BY created_at DESC, set_id DESC LIMIT ?`
	args = append(args, listLimit(p.Limit))
	rows, err := db.reader.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list %ss: %w", kind, err)
	}
	defer rows.Close()
	var out []*store.AnalyticSet
	for rows.Next() {
		s, err := scanSet(rows.Scan, false)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list %ss: %w", kind, err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list %ss: %w", kind, err)
	}
	return out, nil
}
