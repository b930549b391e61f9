package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/iprs/iprs/internal/store"
)

// RunDelete removes a finished, unpublished run with its tasks, results
// and aggregates in one transaction, the run row locked first (the order
// claims and cancels take), so that nothing can start on it meanwhile.
func (db *DB) RunDelete(ctx context.Context, id string) error {
	return db.inTx(ctx, "RunDelete", func(tx pgx.Tx) error {
		var status string
		if err := tx.QueryRow(ctx, "SELECT status FROM run WHERE run_id = $1 FOR UPDATE", id).Scan(&status); err != nil {
			return noRows(err, fmt.Sprintf("run %q", id))
		}
		if !store.RunDeletable(status) {
			return conflict("run %q is %s; only an unpublished finished run (COMPLETED, FAILED or CANCELLED) can be deleted", id, status)
		}
		for _, q := range []string{
			"DELETE FROM position_result WHERE run_id = $1",
			"DELETE FROM task_aggregate WHERE run_id = $1",
			"DELETE FROM run_aggregate WHERE run_id = $1",
			"DELETE FROM run_task WHERE run_id = $1",
			"DELETE FROM run_position_snapshot WHERE run_id = $1",
			"DELETE FROM run WHERE run_id = $1",
		} {
			if _, err := tx.Exec(ctx, q, id); err != nil {
				return fmt.Errorf("postgres: delete run %q: %w", id, err)
			}
		}
		return db.recordAudit(ctx, tx, id)
	})
}
