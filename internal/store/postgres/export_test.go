package postgres

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"
)

// PlanResultValues returns PostgreSQL's plan of ResultValues' query for
// the keys, as ResultValues runs it (probed) or, with probed false, with
// the planner's default settings.
func (db *DB) PlanResultValues(ctx context.Context, runID string, snaps, ids []string, probed bool) (string, error) {
	var plan []string
	explain := func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, "EXPLAIN "+resultValuesSQL, runID, snaps, ids)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				return err
			}
			plan = append(plan, line)
		}
		return rows.Err()
	}
	var err error
	if probed {
		err = db.byKeyProbes(ctx, explain)
	} else {
		err = pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, explain)
	}
	return strings.Join(plan, "\n"), err
}
