package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/store"
)

// resultBatch is the number of rows of one multi-row INSERT into run_result
// (13 parameters each, far below SQLite's 32766).
const resultBatch = 500

const resultColumnCount = 13

const resultColumns = `rr.run_id, rr.scenario_id, rr.position_snapshot_id, rr.position_id, rr.instrument_id, rr.product_type,
rr.portfolio_node_id, rr.pv, rr.dv01, rr.cs01, rr.accrued_interest, rr.fx_delta`

func insertResultsSQL(rows int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO run_result (run_id, position_snapshot_id, position_id, scenario_id, task_id, instrument_id,
product_type, portfolio_node_id, pv, dv01, cs01, accrued_interest, fx_delta) VALUES `)
	for i := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?,?,?,?,?,?,?,?,?,?,?,?,?)")
	}
	return b.String()
}

// insertResults writes rows in multi-row INSERTs, the full batches through
// one prepared statement.
func insertResults(ctx context.Context, tx *sql.Tx, runID string, taskID int64, rows []*store.ResultRow) error {
	var full *sql.Stmt
	defer func() {
		if full != nil {
			full.Close()
		}
	}()
	args := make([]any, 0, resultColumnCount*min(len(rows), resultBatch))
	for start := 0; start < len(rows); start += resultBatch {
		chunk := rows[start:min(start+resultBatch, len(rows))]
		args = args[:0]
		for _, r := range chunk {
			args = append(args, runID, r.PositionSnapshotID, r.PositionID, r.ScenarioID, taskID, r.InstrumentID,
				r.ProductType, r.PortfolioNodeID)
			for i := range store.NumMeasures {
				if r.Has(i) {
					args = append(args, r.Values[i])
				} else {
					args = append(args, nil)
				}
			}
		}
		var err error
		if len(chunk) == resultBatch {
			if full == nil {
				if full, err = tx.PrepareContext(ctx, insertResultsSQL(resultBatch)); err != nil {
					return fmt.Errorf("prepare result insert: %w", err)
				}
			}
			_, err = full.ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, insertResultsSQL(len(chunk)), args...)
		}
		if err != nil {
			return fmt.Errorf("insert results %d..%d of task %d: %w", start, start+len(chunk), taskID, err)
		}
	}
	return nil
}

// scanResult fills r from a row of resultColumns (plus extra destinations).
func scanResult(scan func(...any) error, r *store.ResultRow, extra ...any) error {
	var m [store.NumMeasures]sql.NullFloat64
	dest := []any{&r.RunID, &r.ScenarioID, &r.PositionSnapshotID, &r.PositionID, &r.InstrumentID, &r.ProductType,
		&r.PortfolioNodeID, &m[0], &m[1], &m[2], &m[3], &m[4]}
	if err := scan(append(dest, extra...)...); err != nil {
		return err
	}
	r.Present = 0
	for i := range m {
		r.Values[i] = 0
		if m[i].Valid {
			r.Present |= 1 << i
			r.Values[i] = m[i].Float64
		}
	}
	return nil
}

// totalsColumns is the projection of a Totals scan.
const totalsColumns = `rr.scenario_id, rr.pv, rr.dv01, rr.cs01, rr.accrued_interest, rr.fx_delta`

// scanTotals scans a row of totalsColumns (plus extra columns).
func scanTotals(scan func(...any) error, r *store.ResultRow, extra ...any) error {
	var m [store.NumMeasures]sql.NullFloat64
	dest := []any{&r.ScenarioID, &m[0], &m[1], &m[2], &m[3], &m[4]}
	if err := scan(append(dest, extra...)...); err != nil {
		return err
	}
	r.Present = 0
	for i := range m {
		r.Values[i] = 0
		if m[i].Valid {
			r.Present |= 1 << i
			r.Values[i] = m[i].Float64
		}
	}
	return nil
}

func collectResults(rows *sql.Rows) ([]*store.ResultRow, error) {
	defer rows.Close()
	var out []*store.ResultRow
	for rows.Next() {
		r := new(store.ResultRow)
		if err := scanResult(rows.Scan, r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ResultList pages through a run's results by (snapshot id, position id,
// scenario id).
func (db *DB) ResultList(ctx context.Context, p store.ResultListParams) ([]*store.ResultRow, error) {
	query := `SELECT ` + resultColumns + ` FROM run_result rr
WHERE rr.run_id = ? AND (rr.position_snapshot_id, rr.position_id, rr.scenario_id) > (?, ?, ?)`
	args := []any{p.RunID, p.AfterSnapshotID, p.AfterPositionID, p.AfterScenarioID}
	if p.ScenarioID != "" {
		query += ` AND rr.scenario_id = ?`
		args = append(args, p.ScenarioID)
	}
	query += ` ORDER BY rr.position_snapshot_id, rr.position_id, rr.scenario_id LIMIT ?`
	args = append(args, listLimit(p.Limit))
	rows, err := db.reader.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list results of run %q: %w", p.RunID, err)
	}
	out, err := collectResults(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list results of run %q: %w", p.RunID, err)
	}
	return out, nil
}

// ResultsForPosition returns one position's results under every scenario.
func (db *DB) ResultsForPosition(ctx context.Context, runID, positionID string) ([]*store.ResultRow, error) {
	// The primary key serves this, with the run's snapshot ids as its
	// second column.
	rows, err := db.reader.QueryContext(ctx, `SELECT `+resultColumns+` FROM run_position_snapshot x
JOIN run_result rr ON rr.run_id = x.run_id AND rr.position_snapshot_id = x.position_snapshot_id
WHERE x.run_id = ? AND rr.position_id = ? ORDER BY rr.position_snapshot_id, rr.scenario_id`, runID, positionID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: results of position %q in run %q: %w", positionID, runID, err)
	}
	out, err := collectResults(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite: results of position %q in run %q: %w", positionID, runID, err)
	}
	return out, nil
}

// ResultScan streams a run's results with a grouping key; it holds one read
// transaction and one row in memory.
func (db *DB) ResultScan(ctx context.Context, p store.ResultScanParams, fn func(row *store.ResultRow, key string) error) error {
	key, join := `''`, ``
	var keyArgs []any
	switch p.KeyBy {
	case "":
	case "portfolio_node_id", "product_type", "instrument_id":
		key = "rr." + p.KeyBy
	default:
		name, ok := store.AttrKey(p.KeyBy)
		if !ok {
			return apperr.Errorf(apperr.Invalid, "cannot group results by %q", p.KeyBy)
		}
		// The name is validated above; it is still bound, not spliced.
		path := `$."` + name + `"`
		join = ` LEFT JOIN position p ON p.position_snapshot_id = rr.position_snapshot_id AND p.position_id = rr.position_id`
		key = `CASE coalesce(json_type(p.attributes, ?), 'null')
    WHEN 'null' THEN ''
    WHEN 'text' THEN json_extract(p.attributes, ?)
    ELSE p.attributes -> ? END`
		keyArgs = []any{path, path, path}
	}
	cols, scan := resultColumns, scanResult
	if p.Totals {
		// Only what an order-independent aggregate needs.
		cols, scan = totalsColumns, scanTotals
	}
	query := `SELECT ` + cols + `, coalesce(` + key + `, '') FROM run_result rr` + join + ` WHERE rr.run_id = ?`
	args := append(keyArgs, p.RunID)
	if p.ScenarioID != "" {
		query += ` AND rr.scenario_id = ?`
		args = append(args, p.ScenarioID)
	}
	if !p.Totals {
		query += ` ORDER BY rr.position_snapshot_id, rr.position_id, rr.scenario_id`
	}
	return db.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("sqlite: scan results of run %q: %w", p.RunID, err)
		}
		defer rows.Close()
		var (
			row store.ResultRow
			k   string
		)
		for rows.Next() {
			if err := scan(rows.Scan, &row, &k); err != nil {
				return fmt.Errorf("sqlite: scan results of run %q: %w", p.RunID, err)
			}
			if err := fn(&row, k); err != nil {
				return err
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("sqlite: scan results of run %q: %w", p.RunID, err)
		}
		return nil
	})
}
