package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/store"
)

// copyResults copies a task's result rows into run_result in primary key
// order (sorting a copy of the slice when needed), so that the index
// inserts of one task land next to each other. Absent measures are NULL.
func copyResults(ctx context.Context, tx pgx.Tx, runID string, taskID int64, rows []*store.ResultRow) error {
	if !slices.IsSortedFunc(rows, compareResultKeys) {
		rows = slices.Clone(rows)
		slices.SortFunc(rows, compareResultKeys)
	}
	_, err := copyIn(ctx, tx, "run_result", resultColumns, len(rows), func(c *copyBuf, i int) error {
		r := rows[i]
		c.tuple(len(resultColumns))
		c.text(runID)
		c.text(r.PositionSnapshotID)
		c.text(r.PositionID)
		c.text(r.ScenarioID)
		c.int8(taskID)
		c.text(r.InstrumentID)
		c.text(r.ProductType)
		c.text(r.PortfolioNodeID)
		for m := 0; m < store.NumMeasures; m++ {
			if r.Has(m) {
				c.float8(r.Values[m])
			} else {
				c.null()
			}
		}
		return nil
	})
	return err
}

func compareResultKeys(a, b *store.ResultRow) int {
	return cmp.Or(strings.Compare(a.PositionSnapshotID, b.PositionSnapshotID),
		strings.Compare(a.PositionID, b.PositionID), strings.Compare(a.ScenarioID, b.ScenarioID))
}

// resultSelect reads result rows; measures follow store.MeasureColumns.
const resultSelect = `SELECT r.run_id, r.scenario_id, r.position_snapshot_id, r.position_id, r.instrument_id,
    r.product_type, r.portfolio_node_id, r.pv, r.dv01, r.cs01, r.accrued_interest, r.fx_delta`

// resultScanner scans rows of resultSelect (plus optional trailing
// columns) into a ResultRow.
type resultScanner struct {
	m    [store.NumMeasures]pgtype.Float8
	dest []any
}

func newResultScanner(row *store.ResultRow, extra ...any) *resultScanner {
	s := &resultScanner{}
	s.dest = []any{&row.RunID, &row.ScenarioID, &row.PositionSnapshotID, &row.PositionID, &row.InstrumentID,
		&row.ProductType, &row.PortfolioNodeID}
	for i := range s.m {
		s.dest = append(s.dest, &s.m[i])
	}
	s.dest = append(s.dest, extra...)
	return s
}

// newTotalsScanner scans rows of scenario_id, the five measures and
// extra columns: the projection of a Totals scan.
func newTotalsScanner(row *store.ResultRow, extra ...any) *resultScanner {
	s := &resultScanner{}
	s.dest = []any{&row.ScenarioID}
	for i := range s.m {
		s.dest = append(s.dest, &s.m[i])
	}
	s.dest = append(s.dest, extra...)
	return s
}

func (s *resultScanner) scan(rows pgx.Rows, row *store.ResultRow) error {
	if err := rows.Scan(s.dest...); err != nil {
		return fmt.Errorf("postgres: scan result: %w", err)
	}
	row.Present = 0
	for i, f := range s.m {
		if f.Valid {
			row.Present |= 1 << i
			row.Values[i] = f.Float64
		} else {
			row.Values[i] = 0
		}
	}
	return nil
}

func collectResults(rows pgx.Rows) ([]*store.ResultRow, error) {
	defer rows.Close()
	out := []*store.ResultRow{}
	var cur store.ResultRow
	sc := newResultScanner(&cur)
	for rows.Next() {
		if err := sc.scan(rows, &cur); err != nil {
			return nil, err
		}
		r := cur
		out = append(out, &r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// ResultList pages through a run's results by (snapshot id, position id,
// scenario id).
func (db *DB) ResultList(ctx context.Context, p store.ResultListParams) ([]*store.ResultRow, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	var sb strings.Builder
	sb.WriteString(resultSelect + " FROM run_result r WHERE r.run_id = $1")
	args := []any{p.RunID, limitOf(p.Limit)}
	if p.ScenarioID != "" {
		args = append(args, p.ScenarioID)
		fmt.Fprintf(&sb, " AND r.scenario_id = $%d", len(args))
	}
	if p.AfterSnapshotID != "" || p.AfterPositionID != "" || p.AfterScenarioID != "" {
		args = append(args, p.AfterSnapshotID, p.AfterPositionID, p.AfterScenarioID)
		n := len(args)
		fmt.Fprintf(&sb, " AND (r.position_snapshot_id, r.position_id, r.scenario_id) > ($%d, $%d, $%d)", n-2, n-1, n)
	}
	sb.WriteString(" ORDER BY r.position_snapshot_id, r.position_id, r.scenario_id LIMIT $2")
	rows, err := db.pool.Query(ctx, sb.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list results of run %q: %w", p.RunID, err)
	}
	out, err := collectResults(rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: list results of run %q: %w", p.RunID, err)
	}
	return out, nil
}

// ResultsForPosition returns one position's results under every scenario.
func (db *DB) ResultsForPosition(ctx context.Context, runID, positionID string) ([]*store.ResultRow, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	// run_result has only its primary key (run_id, position_snapshot_id,
	// position_id, scenario_id). A loose index scan (the recursive CTE)
	// walks the run's distinct snapshot ids, one index descent each, and
	// each is then probed for the position.
	rows, err := db.pool.Query(ctx, `WITH RECURSIVE snap AS (
    (SELECT position_snapshot_id AS id FROM run_result WHERE run_id = $1 ORDER BY position_snapshot_id LIMIT 1)
    UNION ALL
    SELECT (SELECT n.position_snapshot_id FROM run_result n
            WHERE n.run_id = $1 AND n.position_snapshot_id > snap.id
            ORDER BY n.position_snapshot_id LIMIT 1)
    FROM snap WHERE snap.id IS NOT NULL
)
`+resultSelect+` FROM snap
JOIN run_result r ON r.run_id = $1 AND r.position_snapshot_id = snap.id AND r.position_id = $2
ORDER BY r.position_snapshot_id, r.scenario_id`, runID, positionID)
	if err != nil {
		return nil, fmt.Errorf("postgres: results of position %q in run %q: %w", positionID, runID, err)
	}
	out, err := collectResults(rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: results of position %q in run %q: %w", positionID, runID, err)
	}
	return out, nil
}

// ResultScan streams a run's results in ResultList order with a grouping
// key. attr:NAME reads the attribute from the position row, NAME passed as
// a parameter.
func (db *DB) ResultScan(ctx context.Context, p store.ResultScanParams, fn func(row *store.ResultRow, key string) error) error {
	args := []any{p.RunID}
	var key, join string
	attr, isAttr := store.AttrKey(p.KeyBy)
	switch {
	case p.KeyBy == "":
		key = "''"
	case p.KeyBy == "portfolio_node_id", p.KeyBy == "product_type", p.KeyBy == "instrument_id":
		key = "r." + p.KeyBy
	case isAttr:
		// The name is checked, and still bound as a parameter.
		args = append(args, attr)
		// ->> on json gives a string unquoted and any other value as its
		// JSON text, NULL for JSON null or an absent key: one parse of
		// the attributes per row.
		key = `coalesce(p.attributes ->> $2::text, '')`
		join = ` LEFT JOIN position p ON p.position_snapshot_id = r.position_snapshot_id AND p.position_id = r.position_id`
	default:
		return apperr.WithFields(apperr.Invalid, fmt.Sprintf("cannot group results by %q", p.KeyBy),
			[]apperr.FieldError{{Parameter: "by", Detail: "must be portfolio_node_id, product_type, instrument_id or attr:NAME (NAME a letter or _ then letters, digits or _)"}})
	}
	// Totals reads the scenario, the measures and the key only, in the
	// order the rows are found: for a whole run that is a scan of the
	// run's heap pages, where the primary key order means a sort of
	// every row (or a random visit of the heap per row).
	sql := resultSelect + ", " + key + " FROM run_result r" + join + " WHERE r.run_id = $1"
	if p.Totals {
		sql = "SELECT r.scenario_id, r.pv, r.dv01, r.cs01, r.accrued_interest, r.fx_delta, " + key + " FROM run_result r" + join + " WHERE r.run_id = $1"
	}
	if p.ScenarioID != "" {
		args = append(args, p.ScenarioID)
		sql += fmt.Sprintf(" AND r.scenario_id = $%d", len(args))
	}
	if !p.Totals {
		sql += " ORDER BY r.position_snapshot_id, r.position_id, r.scenario_id"
	}
	rows, err := db.pool.Query(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("postgres: scan results of run %q: %w", p.RunID, err)
	}
	defer rows.Close()
	var (
		row store.ResultRow
		k   string
	)
	sc := newResultScanner(&row, &k)
	if p.Totals {
		sc = newTotalsScanner(&row, &k)
	}
	for rows.Next() {
		if err := sc.scan(rows, &row); err != nil {
			return err
		}
		if err := fn(&row, k); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("postgres: scan results of run %q: %w", p.RunID, err)
	}
	return nil
}
