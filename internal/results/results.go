// Package results is the results service: it answers queries over the
// result rows the workers wrote for a run, under /results.
//
// Routes (all GET, {id} is the run id):
//
//	/results/runs/{id}/summary                        per-scenario position counts and measure sums, P&L against BASE
//	/results/runs/{id}/cube?measure=&by=&scenario=    one measure summed by a dimension: [{key, value, count}]
//	/results/runs/{id}/positions?scenario=&limit=&cursor=   result rows, paged
//	/results/runs/{id}/positions/{position_id}        one position under every scenario
//	/results/runs/{id}/export.csv?scenario=           every result row as streamed CSV
//
// An unknown run is 404 on every route. A run that has not finished
// (QUEUED, RUNNING, CANCELLING, or ended CANCELLED or FAILED) answers with
// the results written so far, which are whole tasks; the summary carries
// the run's status so that a client can tell.
//
// Sums are exact: every aggregate is the exact sum of the float64 values,
// rounded once (internal/exactsum), so it is bit-identical whatever the
// order of the rows, the number of tasks or the number of workers. That is
// why the summary and the cube read the rows with store.ResultScanParams
// Totals: in whatever order the database finds them, with only the
// scenario, the measures and the key (a 1,000,000-loan run's summary on
// PostgreSQL took 28 s in primary key order and takes 7 s so). A
// measure contributes only where it is present; a measure present for no
// position is absent from a summary, and a group with no position having
// the measure is absent from a cube. An exact sum beyond the range of a
// double cannot be answered as a finite number: the summary or cube is
// then a 422 naming it.
package results

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/web"
)

// Prefix is the path prefix of every results route.
const Prefix = "/results"

// DefaultFlushRows is how many CSV rows are written between flushes when
// Options.FlushRows is 0.
const DefaultFlushRows = 1000

// Options configure the results service.
type Options struct {
	// FlushRows is how many CSV rows the export writes between flushes to
	// the client; default DefaultFlushRows.
	FlushRows int
}

// Service answers the results routes.
type Service struct {
	st     store.Store
	logger *slog.Logger
	opts   Options
}

// New returns the results service over st. A nil logger discards.
func New(st store.Store, logger *slog.Logger, opts Options) *Service {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.FlushRows <= 0 {
		opts.FlushRows = DefaultFlushRows
	}
	return &Service{st: st, logger: logger, opts: opts}
}

// Register adds the results routes to m, whose prefix must be Prefix (or
// empty, as in a combined development router).
func (s *Service) Register(m *web.Mux) {
	m.HandleFunc("GET "+Prefix+"/runs/{id}/summary", s.summary)
	m.HandleFunc("GET "+Prefix+"/runs/{id}/cube", s.cube)
	m.HandleFunc("GET "+Prefix+"/runs/{id}/positions", s.positions)
	m.HandleFunc("GET "+Prefix+"/runs/{id}/positions/{position_id}", s.position)
	m.HandleFunc("GET "+Prefix+"/runs/{id}/export.csv", s.export)
}

// run loads the run named by the path, as a 404 when it does not exist.
func (s *Service) run(ctx context.Context, r *http.Request) (*store.Run, error) {
	id := r.PathValue("id")
	run, err := s.st.RunGet(ctx, id)
	if err != nil {
		if errors.Is(err, apperr.ErrNotFound) {
			return nil, &apperr.Error{Code: apperr.NotFound, Message: "run " + quote(id) + " not found", Err: err}
		}
		return nil, err
	}
	return run, nil
}

// scenarioParam reads the optional scenario query parameter, which must be
// one of the run's scenarios. It returns "" when the parameter is absent.
func scenarioParam(r *http.Request, run *store.Run) (string, *apperr.FieldError) {
	q := r.URL.Query()
	if !q.Has("scenario") {
		return "", nil
	}
	sc := q.Get("scenario")
	if !slices.Contains(run.Scenarios, sc) {
		return "", &apperr.FieldError{Parameter: "scenario",
			Detail: "must be one of the run's scenarios: " + strings.Join(run.Scenarios, ", ")}
	}
	return sc, nil
}

// paramErrors is a 400 for the query parameters at fault.
func paramErrors(fields []apperr.FieldError) error {
	msg := "invalid query parameter " + quote(fields[0].Parameter)
	if len(fields) > 1 {
		msg = "invalid query parameters"
	}
	return apperr.WithFields(apperr.Invalid, msg, fields)
}

// columnOf returns the result column of a measure name.
func columnOf(measure string) (int, bool) {
	for i, name := range store.MeasureColumns() {
		if name == measure {
			return i, true
		}
	}
	return 0, false
}

// measuresOf returns the present measures of a row by name.
func measuresOf(row *store.ResultRow) map[string]float64 {
	out := make(map[string]float64, store.NumMeasures)
	for i, name := range store.MeasureColumns() {
		if row.Has(i) {
			out[name] = row.Values[i]
		}
	}
	return out
}

func quote(s string) string { return strconv.Quote(s) }
