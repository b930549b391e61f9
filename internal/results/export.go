package results

import (
	"encoding/csv"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strconv"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/web"
)

// CSVContentType is the media type of the export.
const CSVContentType = "text/csv; charset=utf-8"

// csvFixedColumns are the columns before the measures.
var csvFixedColumns = []string{"run_id", "position_snapshot_id", "position_id", "instrument_id",
	"product_type", "portfolio_node_id", "scenario_id"}

// export answers GET /results/runs/{id}/export.csv: one row per position
// and scenario (optionally one scenario) in position order, one column per
// measure of the run in the run's order, an empty cell where a measure is
// absent. Numbers are the shortest decimal that reads back as the same
// float64, so the file carries the exact values. Rows are streamed and
// flushed every Options.FlushRows rows; nothing is written before the
// first row is read, so a failure up to then is an ordinary problem
// answer, and a failure after it cuts the response short.
func (s *Service) export(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	run, err := s.run(ctx, r)
	if err != nil {
		return err
	}
	scenario, ferr := scenarioParam(r, run)
	if ferr != nil {
		return paramErrors([]apperr.FieldError{*ferr})
	}
	cols := make([]int, len(run.Measures))
	for i, m := range run.Measures {
		c, ok := columnOf(m)
		if !ok {
			return fmt.Errorf("run %s: measure %q has no result column", run.ID, m)
		}
		cols[i] = c
	}

	rc := http.NewResponseController(w)
	cw := csv.NewWriter(w)
	started := false
	start := func() error {
		started = true
		h := w.Header()
		h.Set("Content-Type", CSVContentType)
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": run.ID + ".csv"}))
		h.Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusOK)
		return cw.Write(append(append([]string(nil), csvFixedColumns...), run.Measures...))
	}
	record := make([]string, len(csvFixedColumns)+len(cols))
	var buf []byte
	n := 0
	err = s.st.ResultScan(ctx, store.ResultScanParams{RunID: run.ID, ScenarioID: scenario},
		func(row *store.ResultRow, _ string) error {
			if !started {
				if err := start(); err != nil {
					return err
				}
			}
			record[0], record[1], record[2], record[3] = row.RunID, row.PositionSnapshotID, row.PositionID, row.InstrumentID
			record[4], record[5], record[6] = row.ProductType, row.PortfolioNodeID, row.ScenarioID
			for i, c := range cols {
				cell := ""
				if row.Has(c) {
					buf = strconv.AppendFloat(buf[:0], row.Values[c], 'g', -1, 64)
					cell = string(buf)
				}
				record[len(csvFixedColumns)+i] = cell
			}
			if err := cw.Write(record); err != nil {
				return err
			}
			n++
			if n%s.opts.FlushRows == 0 {
				cw.Flush()
				if err := cw.Error(); err != nil {
					return err
				}
				if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
					return err
				}
			}
			return nil
		})
	if err == nil && !started {
		err = start()
	}
	if err == nil {
		cw.Flush()
		err = cw.Error()
	}
	if err == nil || !started {
		return err
	}
	if ctx.Err() != nil {
		// The client went away; there is nobody to tell.
		return err
	}
	// Too late for a problem answer: abort the response so that the client
	// cannot take a truncated file for a whole one.
	s.logger.ErrorContext(ctx, "export failed after the response started",
		slog.String("request_id", web.RequestID(ctx)), slog.String("run_id", run.ID),
		slog.Int("rows_written", n), slog.String("error", err.Error()))
	panic(http.ErrAbortHandler)
}
