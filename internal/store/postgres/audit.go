package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/iprs/iprs/internal/store"
)

// recordAudit inserts the audit entry of ctx (store.WithAudit), if any,
// in tx: the transaction of the change it records. objectID is the id of
// the object written; it fills an entry that names none. Call it once the
// change is known to happen, before the commit.
func (db *DB) recordAudit(ctx context.Context, tx pgx.Tx, objectID string) error {
	e, ok := store.AuditFrom(ctx)
	if !ok {
		return nil
	}
	if e.ObjectID == "" {
		e.ObjectID = objectID
	}
	if e.Principal == "" || e.Action == "" || e.ObjectID == "" {
		return errors.New("postgres: audit entry without principal, action or object id")
	}
	if _, err := tx.Exec(ctx, `INSERT INTO audit_log (recorded_at, principal, action, object_id, request_id)
VALUES ($1, $2, $3, $4, $5)`, stamp(db.now()), e.Principal, e.Action, e.ObjectID, e.RequestID); err != nil {
		return fmt.Errorf("postgres: record audit entry %s %s: %w", e.Action, e.ObjectID, err)
	}
	return nil
}

// AuditList lists audit entries newest first, ties by id descending.
func (db *DB) AuditList(ctx context.Context, p store.AuditListParams) ([]*store.AuditEntry, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	args := []any{limitOf(p.Limit)}
	where := "WHERE true"
	filter := func(column, value string) {
		if value != "" {
			args = append(args, value)
			where += " AND " + column + " = $" + strconv.Itoa(len(args))
		}
	}
	filter("object_id", p.ObjectID)
	filter("principal", p.Principal)
	filter("action", p.Action)
	if !p.AfterTime.IsZero() {
		args = append(args, stamp(p.AfterTime), p.AfterID)
		where += fmt.Sprintf(" AND (recorded_at, audit_id) < ($%d, $%d)", len(args)-1, len(args))
	}
	rows, err := db.pool.Query(ctx, `SELECT audit_id, recorded_at, principal, action, object_id, request_id
FROM audit_log `+where+` ORDER BY recorded_at DESC, audit_id DESC LIMIT $1`, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list audit entries: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*store.AuditEntry, error) {
		var e store.AuditEntry
		if err := r.Scan(&e.ID, &e.Time, &e.Principal, &e.Action, &e.ObjectID, &e.RequestID); err != nil {
			return nil, err
		}
		e.Time = e.Time.UTC()
		return &e, nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list audit entries: %w", err)
	}
	return out, nil
}
