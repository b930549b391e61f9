package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/store"
)

// scanChunk is the number of position results one query of ResultScan
// reads. Between chunks the connection goes back to the pool, so a slow
// reader of a large run pins nothing.
const scanChunk = 4096

// resultColumns are the COPY columns of position_result.
var resultColumns = []string{"run_id", "position_snapshot_id", "position_id", "task_id",
	"instrument_id", "product_type", "portfolio_node_id", "vals"}

// writeResults copies a task's position results into position_result in
// primary key order (sorting a copy of the slice when needed), so that the
// index inserts of one task land in key order, and stores its partial
// aggregates.
func writeResults(ctx context.Context, tx pgx.Tx, runID string, taskID int64, rows []*store.PositionResult, aggs []store.TaskAggregate) error {
	if len(rows) > 0 {
		if !slices.IsSortedFunc(rows, comparePositionKeys) {
			rows = slices.Clone(rows)
			slices.SortFunc(rows, comparePositionKeys)
		}
		_, err := copyIn(ctx, tx, "position_result", resultColumns, len(rows), func(c *copyBuf, i int) error {
			r := rows[i]
			c.tuple(len(resultColumns))
			c.text(runID)
			c.text(r.PositionSnapshotID)
			c.text(r.PositionID)
			c.int8(taskID)
			c.text(r.InstrumentID)
			c.text(r.ProductType)
			c.text(r.PortfolioNodeID)
			c.raw(r.Values)
			return nil
		})
		if err != nil {
			if pgCode(err) == codeUniqueViolation {
				return fmt.Errorf("results repeat a position: %w", err)
			}
			return fmt.Errorf("copy results: %w", err)
		}
	}
	for _, a := range aggs {
		if _, err := tx.Exec(ctx, `INSERT INTO task_aggregate (run_id, key_by, task_id, payload) VALUES ($1, $2, $3, $4)`,
			runID, a.KeyBy, taskID, a.Payload); err != nil {
			return fmt.Errorf("store aggregate by %q: %w", a.KeyBy, err)
		}
	}
	return nil
}

func comparePositionKeys(a, b *store.PositionResult) int {
	return cmp.Or(strings.Compare(a.PositionSnapshotID, b.PositionSnapshotID), strings.Compare(a.PositionID, b.PositionID))
}

// resultSelect reads position results; scanResult fills them.
const resultSelect = `SELECT r.run_id, r.position_snapshot_id, r.position_id, r.task_id, r.instrument_id,
    r.product_type, r.portfolio_node_id, r.vals`

func resultDest(r *store.PositionResult) []any {
	return []any{&r.RunID, &r.PositionSnapshotID, &r.PositionID, &r.TaskID, &r.InstrumentID,
		&r.ProductType, &r.PortfolioNodeID, &r.Values}
}

func collectResults(rows pgx.Rows) ([]*store.PositionResult, error) {
	defer rows.Close()
	out := []*store.PositionResult{}
	for rows.Next() {
		r := new(store.PositionResult)
		if err := rows.Scan(resultDest(r)...); err != nil {
			return nil, fmt.Errorf("scan result: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// ResultList pages through a run's position results by (snapshot id,
// position id).
func (db *DB) ResultList(ctx context.Context, p store.ResultListParams) ([]*store.PositionResult, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	op := ">"
	if p.From {
		op = ">="
	}
	var out []*store.PositionResult
	err := db.inKeyOrder(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, resultSelect+` FROM position_result r
WHERE r.run_id = $1 AND (r.position_snapshot_id, r.position_id) `+op+` ($2, $3)
ORDER BY r.position_snapshot_id, r.position_id LIMIT $4`, p.RunID, p.AfterSnapshotID, p.AfterPositionID, limitOf(p.Limit))
		if err != nil {
			return err
		}
		out, err = collectResults(rows)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list results of run %q: %w", p.RunID, err)
	}
	return out, nil
}

// inKeyOrder runs fn, a keyset query over position_result (ORDER BY its
// key, LIMIT a page or chunk), in a read-only transaction that disables
// sorting, so that PostgreSQL walks the primary key from the cursor.
// Otherwise, when the table's statistics do not know the run's rows yet
// (a large run just written, before autovacuum analyzes the table), it
// estimates a few thousand rows for the run, plans a bitmap scan of the
// whole run and a sort, and pays that for every page: 15 s per 4,096-row
// chunk of a 1,000,000-position run against about one for the index scan
// on the same loaded machine.
func (db *DB) inKeyOrder(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return db.readPlanned(ctx, `SET LOCAL enable_sort = off`, fn)
}

// byKeyProbes runs fn, a join of a list of keys (unnest of arrays) to
// position_result, in a read-only transaction that rules out hash and
// merge joins, so that PostgreSQL probes the primary key once per key.
// With statistics that do not know a run just written it estimates a few
// hundred rows for the run and hashes all of them for every list: a
// 1,024-key read of a 100,000-position run cost about 0.1 s that way
// against 7 ms for the probes, and the explain of two 100,000-loan days
// makes some 200 such reads.
func (db *DB) byKeyProbes(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return db.readPlanned(ctx, `SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off`, fn)
}

// readPlanned runs fn in a read-only transaction after the planner
// settings of set (SET LOCAL statements: they end with the transaction).
func (db *DB) readPlanned(ctx context.Context, set string, fn func(tx pgx.Tx) error) error {
	return pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, set); err != nil {
			return err
		}
		return fn(tx)
	})
}

// ResultsForPosition returns the run's results of every position with that
// id, through the primary key with the run's snapshot ids.
func (db *DB) ResultsForPosition(ctx context.Context, runID, positionID string) ([]*store.PositionResult, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	rows, err := db.pool.Query(ctx, resultSelect+` FROM run_position_snapshot x
JOIN position_result r ON r.run_id = x.run_id AND r.position_snapshot_id = x.position_snapshot_id AND r.position_id = $2
WHERE x.run_id = $1 ORDER BY r.position_snapshot_id`, runID, positionID)
	if err != nil {
		return nil, fmt.Errorf("postgres: results of position %q in run %q: %w", positionID, runID, err)
	}
	out, err := collectResults(rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: results of position %q in run %q: %w", positionID, runID, err)
	}
	return out, nil
}

// ResultScan streams a run's position results in key order, one chunk per
// query; the attributes asked for come from the position rows, -> giving
// each as its JSON text (NULL when absent).
func (db *DB) ResultScan(ctx context.Context, p store.ResultScanParams, fn func(r *store.PositionResult) error) error {
	var sb strings.Builder
	dest := resultDest
	if p.ValuesOnly {
		sb.WriteString(`SELECT r.position_snapshot_id, r.position_id, r.vals`)
		dest = func(r *store.PositionResult) []any {
			r.RunID = p.RunID
			return []any{&r.PositionSnapshotID, &r.PositionID, &r.Values}
		}
	} else {
		sb.WriteString(resultSelect)
	}
	args := []any{p.RunID, "", "", scanChunk}
	for _, name := range p.Attrs {
		if !store.ValidAttrName(name) {
			return apperr.Errorf(apperr.Invalid, "cannot read attribute %q", name)
		}
		args = append(args, name)
		fmt.Fprintf(&sb, ", (p.attributes -> $%d::text)::text", len(args))
	}
	join := ""
	if len(p.Attrs) > 0 || p.AllAttributes {
		join = ` LEFT JOIN position p ON p.position_snapshot_id = r.position_snapshot_id AND p.position_id = r.position_id`
	}
	if p.AllAttributes {
		sb.WriteString(", p.attributes::text")
	}
	sb.WriteString(` FROM position_result r` + join)
	if p.SnapshotID != "" {
		// One snapshot: equality on it and a range on the position id
		// start the index scan at the cursor (a row comparison beside
		// the equality made PostgreSQL walk the snapshot's entries from
		// its first, every chunk).
		args[1] = p.SnapshotID
		sb.WriteString(`
WHERE r.run_id = $1 AND r.position_snapshot_id = $2 AND r.position_id > $3`)
	} else {
		sb.WriteString(`
WHERE r.run_id = $1 AND (r.position_snapshot_id, r.position_id) > ($2, $3)`)
	}
	sb.WriteString(`
ORDER BY r.position_snapshot_id, r.position_id LIMIT $4`)
	query := sb.String()

	var (
		attrs []*string
		all   *string
	)
	return store.ScanAhead(ctx, scanChunk, func(ctx context.Context, afterSnap, afterPos string, buf []store.PositionResult) ([]store.PositionResult, error) {
		args[2] = afterPos
		if p.SnapshotID == "" {
			args[1] = afterSnap
		}
		if err := db.scanChunk(ctx, query, args, dest, len(p.Attrs), p.AllAttributes, &buf, &attrs, &all); err != nil {
			return nil, fmt.Errorf("postgres: scan results of run %q: %w", p.RunID, err)
		}
		return buf, nil
	}, fn)
}

// scanChunk runs one chunk's query and reads it whole, so that the
// connection is back in the pool before the rows are handed out.
func (db *DB) scanChunk(ctx context.Context, query string, args []any, resultDest func(*store.PositionResult) []any,
	nAttrs int, all bool, out *[]store.PositionResult, attrs *[]*string, whole **string) error {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	return db.inKeyOrder(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		return readChunk(rows, resultDest, nAttrs, all, out, attrs, whole)
	})
}

// readChunk reads the rows of one chunk of ResultScan.
func readChunk(rows pgx.Rows, resultDest func(*store.PositionResult) []any, nAttrs int, all bool,
	out *[]store.PositionResult, attrs *[]*string, whole **string) error {
	defer rows.Close()
	*attrs = slices.Grow((*attrs)[:0], nAttrs)[:nAttrs]
	for rows.Next() {
		*out = append(*out, store.PositionResult{})
		r := &(*out)[len(*out)-1]
		dest := resultDest(r)
		for i := range *attrs {
			(*attrs)[i] = nil
			dest = append(dest, &(*attrs)[i])
		}
		if all {
			*whole = nil
			dest = append(dest, whole)
		}
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		if nAttrs > 0 {
			r.Attrs = make([][]byte, nAttrs)
			for i, a := range *attrs {
				if a != nil && *a != "null" {
					r.Attrs[i] = []byte(*a)
				}
			}
		}
		if all && *whole != nil {
			r.Attributes = []byte(**whole)
		}
	}
	return rows.Err()
}

// TaskAggregates reads the partial aggregates of a run's succeeded tasks.
func (db *DB) TaskAggregates(ctx context.Context, runID, keyBy string, fn func(taskID int64, payload []byte) error) error {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	rows, err := db.pool.Query(ctx, `SELECT task_id, payload FROM task_aggregate WHERE run_id = $1 AND key_by = $2 ORDER BY task_id`,
		runID, keyBy)
	if err != nil {
		return fmt.Errorf("postgres: aggregates of run %q: %w", runID, err)
	}
	parts, err := pgx.CollectRows(rows, pgx.RowToStructByPos[store.AggregatePart])
	if err != nil {
		return fmt.Errorf("postgres: aggregates of run %q: %w", runID, err)
	}
	return store.EachAggregatePart(parts, fn)
}

// RunAggregateGet returns a cached aggregate.
func (db *DB) RunAggregateGet(ctx context.Context, runID, name string) ([]byte, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	var payload []byte
	err := db.pool.QueryRow(ctx, `SELECT payload FROM run_aggregate WHERE run_id = $1 AND name = $2`, runID, name).Scan(&payload)
	if err != nil {
		return nil, noRows(err, fmt.Sprintf("aggregate %q of run %q", name, runID))
	}
	return payload, nil
}

// RunAggregatePut caches an aggregate; the first one stored stays.
func (db *DB) RunAggregatePut(ctx context.Context, runID, name string, payload []byte) error {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	_, err := db.pool.Exec(ctx, `INSERT INTO run_aggregate (run_id, name, payload) VALUES ($1, $2, $3)
ON CONFLICT (run_id, name) DO NOTHING`, runID, name, payload)
	if pgCode(err) == codeForeignKeyViolation {
		return fmt.Errorf("postgres: cache aggregate of run %q: %w", runID, apperr.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("postgres: cache aggregate %q of run %q: %w", name, runID, err)
	}
	return nil
}

// PositionAttributeNames lists the attribute names of the snapshots'
// positions.
func (db *DB) PositionAttributeNames(ctx context.Context, snapshotIDs []string) ([]string, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	rows, err := db.pool.Query(ctx, `SELECT DISTINCT k COLLATE "C" FROM position p, json_object_keys(p.attributes) AS k
WHERE p.position_snapshot_id = ANY($1) ORDER BY 1`, snapshotIDs)
	if err != nil {
		return nil, fmt.Errorf("postgres: attribute names: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("postgres: attribute names: %w", err)
	}
	return names, nil
}

// resultValuesSQL reads the results of a run ($1) at a list of keys
// (snapshot ids $2, position ids $3).
const resultValuesSQL = `SELECT r.position_snapshot_id, r.position_id, r.vals
FROM unnest($2::text[], $3::text[]) AS k(snapshot_id, position_id)
JOIN position_result r ON r.run_id = $1 AND r.position_snapshot_id = k.snapshot_id COLLATE "C"
    AND r.position_id = k.position_id COLLATE "C"`

// ResultValues reads the results of the positions named by keys through the
// primary key (byKeyProbes), one query with the keys as two arrays.

func (db *DB) ResultValues(ctx context.Context, runID string, keys []store.PositionKey, fn func(r *store.PositionResult) error) error {
	if len(keys) == 0 {
		return nil
	}
	snaps := make([]string, len(keys))
	ids := make([]string, len(keys))
	for i, k := range keys {
		snaps[i], ids[i] = k.SnapshotID, k.PositionID
	}
	bctx, cancel := db.bound(ctx)
	defer cancel()
	var out []store.PositionResult
	err := db.byKeyProbes(bctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(bctx, resultValuesSQL, runID, snaps, ids)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			r := store.PositionResult{RunID: runID}
			if err := rows.Scan(&r.PositionSnapshotID, &r.PositionID, &r.Values); err != nil {
				return fmt.Errorf("scan: %w", err)
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	if err != nil {
		return fmt.Errorf("postgres: results of %d positions of run %q: %w", len(keys), runID, err)
	}
	for i := range out {
		if err := fn(&out[i]); err != nil {
			return err
		}
	}
	return nil
}
