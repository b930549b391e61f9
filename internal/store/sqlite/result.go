package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/store"
)

// resultBatch is the number of rows of one multi-row INSERT into
// position_result (8 parameters each, far below SQLite's 32766).
const resultBatch = 500

const resultColumnCount = 8

// scanChunk is the number of position results one read transaction of
// ResultScan reads: no transaction is open while the caller handles them.
const scanChunk = 4096

const resultColumns = `rr.run_id, rr.position_snapshot_id, rr.position_id, rr.task_id, rr.instrument_id, rr.product_type,
rr.portfolio_node_id, rr.vals`

func insertResultsSQL(rows int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO position_result (run_id, position_snapshot_id, position_id, task_id, instrument_id,
product_type, portfolio_node_id, vals) VALUES `)
	for i := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?,?,?,?,?,?,?,?)")
	}
	return b.String()
}

// insertResults writes a task's position results in multi-row INSERTs, the
// full batches through one prepared statement, and its partial aggregates.
func insertResults(ctx context.Context, tx *sql.Tx, runID string, taskID int64, rows []*store.PositionResult, aggs []store.TaskAggregate) error {
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
			args = append(args, runID, r.PositionSnapshotID, r.PositionID, taskID, r.InstrumentID,
				r.ProductType, r.PortfolioNodeID, r.Values)
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
	for _, a := range aggs {
		if _, err := tx.ExecContext(ctx, `INSERT INTO task_aggregate (run_id, key_by, task_id, payload) VALUES (?, ?, ?, ?)`,
			runID, a.KeyBy, taskID, a.Payload); err != nil {
			return fmt.Errorf("store aggregate by %q of task %d: %w", a.KeyBy, taskID, err)
		}
	}
	return nil
}

func resultDest(r *store.PositionResult) []any {
	return []any{&r.RunID, &r.PositionSnapshotID, &r.PositionID, &r.TaskID, &r.InstrumentID, &r.ProductType,
		&r.PortfolioNodeID, &r.Values}
}

func collectResults(rows *sql.Rows) ([]*store.PositionResult, error) {
	defer rows.Close()
	out := []*store.PositionResult{}
	for rows.Next() {
		r := new(store.PositionResult)
		if err := rows.Scan(resultDest(r)...); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ResultList pages through a run's position results by (snapshot id,
// position id).
func (db *DB) ResultList(ctx context.Context, p store.ResultListParams) ([]*store.PositionResult, error) {
	op := ">"
	if p.From {
		op = ">="
	}
	rows, err := db.reader.QueryContext(ctx, `SELECT `+resultColumns+` FROM position_result rr
WHERE rr.run_id = ? AND (rr.position_snapshot_id, rr.position_id) `+op+` (?, ?)
ORDER BY rr.position_snapshot_id, rr.position_id LIMIT ?`, p.RunID, p.AfterSnapshotID, p.AfterPositionID, listLimit(p.Limit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: list results of run %q: %w", p.RunID, err)
	}
	out, err := collectResults(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list results of run %q: %w", p.RunID, err)
	}
	return out, nil
}

// resultsForPositionQuery reads one position id's results in a run
// (arguments: position id, run id). CROSS JOIN keeps the snapshots as the
// outer loop: with a plain JOIN SQLite walked every result row of the run
// (run_id alone on the key) and looked each up in the snapshots, 100,000
// rows for one position.
const resultsForPositionQuery = `SELECT ` + resultColumns + ` FROM run_position_snapshot x
CROSS JOIN position_result rr ON rr.run_id = x.run_id AND rr.position_snapshot_id = x.position_snapshot_id AND rr.position_id = ?
WHERE x.run_id = ? ORDER BY rr.position_snapshot_id`

// ResultsForPosition returns the run's results of every position with that
// id: the primary key serves it, with the run's snapshot ids as its second
// column.
func (db *DB) ResultsForPosition(ctx context.Context, runID, positionID string) ([]*store.PositionResult, error) {
	rows, err := db.reader.QueryContext(ctx, resultsForPositionQuery, positionID, runID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: results of position %q in run %q: %w", positionID, runID, err)
	}
	out, err := collectResults(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite: results of position %q in run %q: %w", positionID, runID, err)
	}
	return out, nil
}

// ResultScan streams a run's position results in key order, one short read
// transaction per chunk. An attribute asked for is read with ->, which
// gives its JSON text (NULL when absent).
func (db *DB) ResultScan(ctx context.Context, p store.ResultScanParams, fn func(r *store.PositionResult) error) error {
	var sb strings.Builder
	dest := resultDest
	if p.ValuesOnly {
		sb.WriteString(`SELECT rr.position_snapshot_id, rr.position_id, rr.vals`)
		dest = func(r *store.PositionResult) []any {
			r.RunID = p.RunID
			return []any{&r.PositionSnapshotID, &r.PositionID, &r.Values}
		}
	} else {
		sb.WriteString(`SELECT ` + resultColumns)
	}
	var attrArgs []any
	for _, name := range p.Attrs {
		if !store.ValidAttrName(name) {
			return apperr.Errorf(apperr.Invalid, "cannot read attribute %q", name)
		}
		// The name is validated above; it is still bound, not spliced.
		sb.WriteString(`, p.attributes -> ?`)
		attrArgs = append(attrArgs, `$."`+name+`"`)
	}
	join := ""
	if len(p.Attrs) > 0 || p.AllAttributes {
		join = ` LEFT JOIN position p ON p.position_snapshot_id = rr.position_snapshot_id AND p.position_id = rr.position_id`
	}
	if p.AllAttributes {
		sb.WriteString(`, p.attributes`)
	}
	sb.WriteString(` FROM position_result rr` + join)
	if p.SnapshotID != "" {
		// One snapshot: equality on it and a range on the position id,
		// which start the index scan at the cursor.
		sb.WriteString(`
WHERE rr.run_id = ? AND rr.position_snapshot_id = ? AND rr.position_id > ?`)
	} else {
		sb.WriteString(`
WHERE rr.run_id = ? AND (rr.position_snapshot_id, rr.position_id) > (?, ?)`)
	}
	sb.WriteString(`
ORDER BY rr.position_snapshot_id, rr.position_id LIMIT ?`)
	query := sb.String()
	return store.ScanAhead(ctx, scanChunk, func(ctx context.Context, afterSnap, afterPos string, chunk []store.PositionResult) ([]store.PositionResult, error) {
		if p.SnapshotID != "" {
			afterSnap = p.SnapshotID
		}
		args := append(append([]any(nil), attrArgs...), p.RunID, afterSnap, afterPos, scanChunk)
		err := db.read(ctx, func(tx *sql.Tx) error {
			rows, err := tx.QueryContext(ctx, query, args...)
			if err != nil {
				return err
			}
			defer rows.Close()
			attrs := make([]sql.NullString, len(p.Attrs))
			var all sql.NullString
			for rows.Next() {
				chunk = append(chunk, store.PositionResult{})
				r := &chunk[len(chunk)-1]
				cols := dest(r)
				for i := range attrs {
					cols = append(cols, &attrs[i])
				}
				if p.AllAttributes {
					cols = append(cols, &all)
				}
				if err := rows.Scan(cols...); err != nil {
					return err
				}
				if len(attrs) > 0 {
					r.Attrs = make([][]byte, len(attrs))
					for i, a := range attrs {
						if a.Valid && a.String != "null" {
							r.Attrs[i] = []byte(a.String)
						}
					}
				}
				if all.Valid {
					r.Attributes = []byte(all.String)
				}
			}
			return rows.Err()
		})
		if err != nil {
			return nil, fmt.Errorf("sqlite: scan results of run %q: %w", p.RunID, err)
		}
		return chunk, nil
	}, fn)
}

// TaskAggregates reads the partial aggregates of a run's succeeded tasks.
func (db *DB) TaskAggregates(ctx context.Context, runID, keyBy string, fn func(taskID int64, payload []byte) error) error {
	var parts []store.AggregatePart
	err := db.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT task_id, payload FROM task_aggregate WHERE run_id = ? AND key_by = ? ORDER BY task_id`,
			runID, keyBy)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var p store.AggregatePart
			if err := rows.Scan(&p.TaskID, &p.Payload); err != nil {
				return err
			}
			parts = append(parts, p)
		}
		return rows.Err()
	})
	if err != nil {
		return fmt.Errorf("sqlite: aggregates of run %q: %w", runID, err)
	}
	return store.EachAggregatePart(parts, fn)
}

// RunAggregateGet returns a cached aggregate.
func (db *DB) RunAggregateGet(ctx context.Context, runID, name string) ([]byte, error) {
	var payload []byte
	err := db.reader.QueryRowContext(ctx, `SELECT payload FROM run_aggregate WHERE run_id = ? AND name = ?`, runID, name).Scan(&payload)
	if err != nil {
		return nil, notFound(err, "aggregate %q of run %q", name, runID)
	}
	return payload, nil
}

// RunAggregatePut caches an aggregate; the first one stored stays.
func (db *DB) RunAggregatePut(ctx context.Context, runID, name string, payload []byte) error {
	err := db.write(ctx, func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM run WHERE run_id = ?`, runID).Scan(&one); err != nil {
			return notFound(err, "run %q", runID)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO run_aggregate (run_id, name, payload) VALUES (?, ?, ?)
ON CONFLICT (run_id, name) DO NOTHING`, runID, name, payload)
		return err
	})
	if err != nil {
		return sqliteErr("cache aggregate", err)
	}
	return nil
}

// PositionAttributeNames lists the attribute names of the snapshots'
// positions.
func (db *DB) PositionAttributeNames(ctx context.Context, snapshotIDs []string) ([]string, error) {
	ids, err := json.Marshal(snapshotIDs)
	if err != nil {
		return nil, fmt.Errorf("sqlite: attribute names: %w", err)
	}
	rows, err := db.reader.QueryContext(ctx, `SELECT DISTINCT k.key FROM position p, json_each(p.attributes) AS k
WHERE p.position_snapshot_id IN (SELECT value FROM json_each(?)) ORDER BY 1`, string(ids))
	if err != nil {
		return nil, fmt.Errorf("sqlite: attribute names: %w", err)
	}
	defer rows.Close()
	names := []string{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("sqlite: attribute names: %w", err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: attribute names: %w", err)
	}
	return names, nil
}

// ResultValues reads the results of the positions named by keys through the
// primary key: the keys, a JSON array of [snapshot id, position id] pairs,
// drive the join (CROSS JOIN keeps json_each the outer loop).
func (db *DB) ResultValues(ctx context.Context, runID string, keys []store.PositionKey, fn func(r *store.PositionResult) error) error {
	if len(keys) == 0 {
		return nil
	}
	pairs := make([][2]string, len(keys))
	for i, k := range keys {
		pairs[i] = [2]string{k.SnapshotID, k.PositionID}
	}
	doc, err := json.Marshal(pairs)
	if err != nil {
		return fmt.Errorf("sqlite: results of %d positions of run %q: %w", len(keys), runID, err)
	}
	rows, err := db.reader.QueryContext(ctx, `SELECT rr.position_snapshot_id, rr.position_id, rr.vals
FROM json_each(?) k CROSS JOIN position_result rr
WHERE rr.run_id = ? AND rr.position_snapshot_id = k.value ->> 0 AND rr.position_id = k.value ->> 1`, string(doc), runID)
	if err != nil {
		return fmt.Errorf("sqlite: results of %d positions of run %q: %w", len(keys), runID, err)
	}
	var out []store.PositionResult
	for rows.Next() {
		r := store.PositionResult{RunID: runID}
		if err := rows.Scan(&r.PositionSnapshotID, &r.PositionID, &r.Values); err != nil {
			rows.Close()
			return fmt.Errorf("sqlite: results of %d positions of run %q: scan: %w", len(keys), runID, err)
		}
		out = append(out, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: results of %d positions of run %q: %w", len(keys), runID, err)
	}
	for i := range out {
		if err := fn(&out[i]); err != nil {
			return err
		}
	}
	return nil
}
