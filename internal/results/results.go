// Package results is the results service: it answers queries over the
// result rows the workers wrote for a run, under /results.
//
// Routes (all GET, {id} is the run id):
//
//	/results/runs/{id}/summary                        per-scenario position counts and measure aggregates, P&L against BASE
//	/results/runs/{id}/cube?measure=&by=&scenario=&bands=   one measure aggregated by a dimension: [{key, value, count}]
//	/results/runs/{id}/positions?scenario=&limit=&cursor=   result rows, paged
//	/results/runs/{id}/positions/{position_id}        one position under every scenario
//	/results/runs/{id}/positions/{position_id}/cashflows?scenario=&position_snapshot_id=   a loan's projected rows (SPEC §4.1)
//	/results/runs/{id}/export.csv?scenario=&attrs=    every result row as streamed CSV
//
// An unknown run is 404 on every route, and an unknown query parameter is a
// 400 naming it. A run that has not finished (QUEUED, RUNNING, CANCELLING,
// or ended CANCELLED or FAILED) answers with the results written so far,
// which are whole tasks: the summary says "partial": true, and a cube
// answers with the header IPRS-Partial: true (its body is the bare list
// SPEC §1 gives), both with the run's status in IPRS-Run-Status.
//
// Where results live (see store.PositionResult): one row per position
// holding its measures under every scenario, and per task the partial
// aggregates of package agg for the whole task, by product type and by
// portfolio node. So the summary and the cubes by product_type and
// portfolio_node_id merge a few hundred small payloads and never rescan the
// results; a cube by instrument_id, attr:NAME (with or without bands) or
// vintage scans the run's rows once and, when the run is finished (its
// results never change again), keeps the answer in the store's aggregate
// cache under a name that includes the bands in canonical form, so each is
// computed once per run;
// concurrent requests for the same uncached aggregate share one computation.
//
// Aggregates follow each measure's declaration (pricing.MeasureSpec):
// sums are exact, every aggregate the exact value rounded once
// (internal/exactsum), so it is bit-identical whatever the order of the
// rows, the number of tasks or the number of workers; WAL is weighted by
// its principal; FX_DELTA is given per base currency as {"EUR": …}; KR01 is
// summed curve by curve and tenor by tenor as {"USD-OIS": {"3M": …}}. A
// measure contributes only where it is present; a measure present for no
// position is absent from a summary, and a group with no position having
// the measure is absent from a cube. An aggregate beyond the range of a
// double cannot be answered as a finite number: the summary or cube is then
// a 422 naming it.
//
// Grouping keys (SPEC §4.6): a position without a value for the grouping
// (an absent or null attribute; with bands, a non-numeric one) is in the
// group "n/a". An attribute's key is its string value, or the JSON text of
// any other value; with bands=b₁,…,bₖ (by=attr:NAME only, else a 400 on
// bands) a JSON number's key is its band "<b₁", "bᵢ–bᵢ₊₁" or "≥bₖ" (package
// group) and anything else, a numeric string such as "720" included, is
// n/a. by=vintage keys a loan by its origination quarter as
// pricing.Vintage reads it; another product, or a loan without a source, is
// n/a. A cube by an attribute that no position of the run has is a 400
// naming the attributes its positions have.
package results

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sync/singleflight"

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
	// flight shares the computation of an uncached aggregate between
	// concurrent requests.
	flight singleflight.Group
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
	m.HandleFunc("GET "+Prefix+"/runs/{id}/positions/{position_id}/cashflows", s.cashflows)
	m.HandleFunc("GET "+Prefix+"/runs/{id}/export.csv", s.export)
	m.HandleFunc("GET "+Prefix+"/runs/{id}/var", s.valueAtRisk)
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

func quote(s string) string { return strconv.Quote(s) }
