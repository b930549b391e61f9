package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/iprs/iprs/internal/store"
)

// recordAudit inserts the audit entry of ctx (store.WithAudit), if any,
// in tx: the transaction of the change it records. objectID is the id of
// the object written; it fills an entry that names none. Call it once the
// change is known to happen, before the commit.
func (db *DB) recordAudit(ctx context.Context, tx *sql.Tx, objectID string) error {
	e, ok := store.AuditFrom(ctx)
	if !ok {
		return nil
	}
	if e.ObjectID == "" {
		e.ObjectID = objectID
	}
	if e.Principal == "" || e.Action == "" || e.ObjectID == "" {
		return errors.New("audit entry without principal, action or object id")
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO audit_log (recorded_at, principal, action, object_id, request_id)
VALUES (?, ?, ?, ?, ?)`, toMicros(db.now()), e.Principal, e.Action, e.ObjectID, e.RequestID); err != nil {
		return fmt.Errorf("record audit entry %s %s: %w", e.Action, e.ObjectID, err)
	}
	return nil
}

// AuditList lists audit entries newest first, ties by id descending.
func (db *DB) AuditList(ctx context.Context, p store.AuditListParams) ([]*store.AuditEntry, error) {
	query := `SELECT audit_id, recorded_at, principal, action, object_id, request_id FROM audit_log WHERE 1 = 1`
	var args []any
	for _, f := range []struct{ column, value string }{
		{"object_id", p.ObjectID}, {"principal", p.Principal}, {"action", p.Action},
	} {
		if f.value != "" {
			query += ` AND ` + f.column + ` = ?`
			args = append(args, f.value)
		}
	}
	if !p.AfterTime.IsZero() {
		query += ` AND (recorded_at, audit_id) < (?, ?)`
		args = append(args, toMicros(p.AfterTime), p.AfterID)
	}
	query += ` ORDER BY recorded_at DESC, audit_id DESC LIMIT ?`
	args = append(args, listLimit(p.Limit))
	rows, err := db.reader.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list audit entries: %w", err)
	}
	defer rows.Close()
	var out []*store.AuditEntry
	for rows.Next() {
		var (
			e  store.AuditEntry
			at int64
		)
		if err := rows.Scan(&e.ID, &at, &e.Principal, &e.Action, &e.ObjectID, &e.RequestID); err != nil {
			return nil, fmt.Errorf("sqlite: list audit entries: %w", err)
		}
		e.Time = fromMicros(at)
		out = append(out, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list audit entries: %w", err)
	}
	return out, nil
}
