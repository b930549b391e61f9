package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/iprs/iprs/internal/store"
)

// RunDelete removes a finished, unpublished run with its tasks, results
// and aggregates in one write transaction.
func (db *DB) RunDelete(ctx context.Context, id string) error {
	err := db.write(ctx, func(tx *sql.Tx) error {
		var status string
		if err := tx.QueryRowContext(ctx, "SELECT status FROM run WHERE run_id = ?", id).Scan(&status); err != nil {
			return notFound(err, "run %q", id)
		}
		if !store.RunDeletable(status) {
			return conflictf("run %q is %s; only an unpublished finished run (COMPLETED, FAILED or CANCELLED) can be deleted", id, status)
		}
		for _, q := range []string{
			"DELETE FROM position_result WHERE run_id = ?",
			"DELETE FROM task_aggregate WHERE run_id = ?",
			"DELETE FROM run_aggregate WHERE run_id = ?",
			"DELETE FROM run_task WHERE run_id = ?",
			"DELETE FROM run_position_snapshot WHERE run_id = ?",
			"DELETE FROM run WHERE run_id = ?",
		} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return fmt.Errorf("delete run %q: %w", id, err)
			}
		}
		return db.recordAudit(ctx, tx, id)
	})
	if err != nil {
		return sqliteErr("delete run", err)
	}
	return nil
}
