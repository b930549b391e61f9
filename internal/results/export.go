package results

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/iprs/iprs/internal/agg"
	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/pricing"
	"github.com/iprs/iprs/internal/resultcodec"
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
// absent. KR01 takes one column KR01:<curve>:<tenor> per *-OIS curve of
// the run's market and ladder tenor (SPEC §4.2). attrs=a,b (or *, every
// attribute the run's positions have) adds one column per position
// attribute, named as the attribute: its string value, or the JSON text of
// another value, empty where absent. Numbers are the shortest decimal that
// reads back as the same float64, so the file carries the exact values.
// Rows are streamed and flushed every Options.FlushRows rows, and the
// store reads them in chunks without holding the database while the client
// reads; nothing is written before the first row is read, so a failure up
// to then is an ordinary problem answer, and a failure after it cuts the
// response short.
func (s *Service) export(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	v, err := s.loadRun(ctx, r, "scenario", "attrs")
	if err != nil {
		return err
	}
	run := v.run
	scenario, ferr := scenarioParam(r, run)
	if ferr != nil {
		return paramErrors([]apperr.FieldError{*ferr})
	}
	attrs, err := s.exportAttrs(ctx, r, v)
	if err != nil {
		return err
	}
	cols, err := s.exportColumns(ctx, v)
	if err != nil {
		return err
	}
	header := append(append([]string(nil), csvFixedColumns...), cols.names...)
	header = append(header, attrs...)

	rc := http.NewResponseController(w)
	bw := bufio.NewWriterSize(w, 64<<10)
	started := false
	start := func() error {
		started = true
		h := w.Header()
		h.Set("Content-Type", CSVContentType)
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": run.ID + ".csv"}))
		h.Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusOK)
		var line []byte
		for i, name := range header {
			if i > 0 {
				line = append(line, ',')
			}
			line = appendCSVField(line, name)
		}
		_, err := bw.Write(append(line, '\n'))
		return err
	}
	// Each line is the position's fixed cells, the scenario, the measure
	// cells and the attribute cells, written as encoding/csv would write
	// the record, without building one string per cell.
	var prefix, suffix, line []byte
	vals := make([]pricing.Values, len(run.Scenarios))
	si := -1 // the one scenario exported, or every one
	if scenario != "" {
		si = slices.Index(run.Scenarios, scenario)
	}
	n := 0
	err = s.st.ResultScan(ctx, store.ResultScanParams{RunID: run.ID, Attrs: attrs},
		func(row *store.PositionResult) error {
			if !started {
				if err := start(); err != nil {
					return err
				}
			}
			if si < 0 {
				if err := v.decode(row, vals); err != nil {
					return err
				}
			} else if err := resultcodec.DecodeOne(row.Values, len(vals), si, &vals[si]); err != nil {
				// One scenario: the others' bytes are stepped over.
				return fmt.Errorf("run %s position %s/%s: %w", run.ID, row.PositionSnapshotID, row.PositionID, err)
			}
			prefix = prefix[:0]
			for _, f := range [...]string{row.RunID, row.PositionSnapshotID, row.PositionID, row.InstrumentID, row.ProductType, row.PortfolioNodeID} {
				prefix = append(appendCSVField(prefix, f), ',')
			}
			suffix = suffix[:0]
			for _, raw := range row.Attrs {
				suffix = appendCSVField(append(suffix, ','), attrCell(raw))
			}
			for si, sc := range run.Scenarios {
				if scenario != "" && sc != scenario {
					continue
				}
				line = appendCSVField(append(line[:0], prefix...), sc)
				line = cols.appendCells(line, &vals[si])
				line = append(append(line, suffix...), '\n')
				if _, err := bw.Write(line); err != nil {
					return err
				}
				n++
				if n%s.opts.FlushRows == 0 {
					if err := bw.Flush(); err != nil {
						return err
					}
					if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
						return err
					}
				}
			}
			return nil
		})
	if err == nil && !started {
		err = start()
	}
	if err == nil {
		err = bw.Flush()
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

// exportColumns are the measure columns of an export.
type exportColumns struct {
	names []string
	// per column: the measure, and for KR01 the curve and tenor index.
	measure []pricing.Measure
	curve   []string
	tenor   []int
	buf     []byte
}

// exportColumns lays out the run's measures as columns, KR01 spread over
// the *-OIS curves of the run's market.
func (s *Service) exportColumns(ctx context.Context, v *runView) (*exportColumns, error) {
	c := &exportColumns{}
	for _, m := range v.measures {
		if m != pricing.KR01 {
			c.names = append(c.names, m.String())
			c.measure = append(c.measure, m)
			c.curve = append(c.curve, "")
			c.tenor = append(c.tenor, 0)
			continue
		}
		curves, err := s.oisCurves(ctx, v.run)
		if err != nil {
			return nil, err
		}
		for _, curve := range curves {
			for j, tenor := range pricing.KeyRateTenors() {
				c.names = append(c.names, "KR01:"+curve+":"+tenor)
				c.measure = append(c.measure, m)
				c.curve = append(c.curve, curve)
				c.tenor = append(c.tenor, j)
			}
		}
	}
	return c, nil
}

// appendCells appends the measure cells of one line, each after a comma:
// the shortest decimal that reads back as the same float64, empty where the
// measure is absent.
func (c *exportColumns) appendCells(b []byte, v *pricing.Values) []byte {
	for i, m := range c.measure {
		b = append(b, ',')
		if m == pricing.KR01 {
			for _, l := range v.KR01() {
				if l.Curve == c.curve[i] {
					b = strconv.AppendFloat(b, l.DV01[c.tenor[i]], 'g', -1, 64)
				}
			}
			continue
		}
		if x, ok := v.Get(m); ok {
			b = strconv.AppendFloat(b, x, 'g', -1, 64)
		}
	}
	return b
}

// appendCSVField appends one CSV field as encoding/csv's Writer writes it
// (Comma ',', UseCRLF false): quoted, with quotes doubled, when it holds a
// comma, a quote, CR or LF, starts with a space, or is \.; as it is
// otherwise.
func appendCSVField(b []byte, f string) []byte {
	if !csvNeedsQuotes(f) {
		return append(b, f...)
	}
	b = append(b, '"')
	for i := 0; i < len(f); i++ {
		if f[i] == '"' {
			b = append(b, '"')
		}
		b = append(b, f[i])
	}
	return append(b, '"')
}

func csvNeedsQuotes(f string) bool {
	if f == "" {
		return false
	}
	if f == `\.` || strings.ContainsAny(f, ",\"\r\n") {
		return true
	}
	r, _ := utf8.DecodeRuneInString(f)
	return unicode.IsSpace(r)
}

// oisCurves returns the sorted ids of the *-OIS curves of the run's market
// snapshot: the curves a KR01 ladder can belong to.
func (s *Service) oisCurves(ctx context.Context, run *store.Run) ([]string, error) {
	snap, err := s.st.MarketSnapshotGet(ctx, run.MarketSnapshotID)
	if err != nil {
		return nil, fmt.Errorf("market snapshot %s of run %s: %w", run.MarketSnapshotID, run.ID, err)
	}
	var doc struct {
		Curves []struct {
			CurveID string `json:"curve_id"`
		} `json:"curves"`
	}
	if err := json.Unmarshal(snap.Payload, &doc); err != nil {
		return nil, fmt.Errorf("market snapshot %s: %w", snap.ID, err)
	}
	var out []string
	for _, c := range doc.Curves {
		if strings.HasSuffix(c.CurveID, "-OIS") {
			out = append(out, c.CurveID)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// exportAttrs reads the attrs parameter: names separated by commas, or *
// for every attribute of the run's positions.
func (s *Service) exportAttrs(ctx context.Context, r *http.Request, v *runView) ([]string, error) {
	q := r.URL.Query()
	if !q.Has("attrs") {
		return nil, nil
	}
	raw := q.Get("attrs")
	if raw == "*" {
		names, err := s.st.PositionAttributeNames(ctx, v.run.PositionSnapshotIDs)
		if err != nil {
			return nil, err
		}
		return slices.DeleteFunc(names, func(n string) bool { return !store.ValidAttrName(n) }), nil
	}
	var names []string
	for _, n := range strings.Split(raw, ",") {
		n = strings.TrimSpace(n)
		if !store.ValidAttrName(n) {
			return nil, paramErrors([]apperr.FieldError{{Parameter: "attrs",
				Detail: "must be * or attribute names separated by commas, each matching ^[A-Za-z_][A-Za-z0-9_]*$: " + quote(n) + " does not"}})
		}
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return names, nil
}

// attrCell is the CSV cell of an attribute's JSON text.
func attrCell(raw []byte) string {
	if raw == nil {
		return ""
	}
	if s, ok := agg.JSONString(raw); ok {
		return s
	}
	return string(raw)
}
