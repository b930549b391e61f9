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
//	/results/compare?base=&target=&measure=&scenario=&abs_tol=&rel_tol=&limit=&cursor=
//	                                                  two finished runs position by position
//	/results/explains/{id}?by=&bands=                 an explain's waterfall per group (explain.go, SPEC §4.5)
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
// cache under a name that includes the bands in canonical form — every
// measure under every scenario for a grouping of up to
// Options.CubeWideGroups keys, else the one measure and scenario asked —
// so each is computed once per run; concurrent requests for the same
// uncached aggregate share one computation, scans run Options.MaxScans at
// a time, and a finished run's tables are kept in memory
// (Options.MemoBytes).
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
//
// # Comparing runs (SPEC §4.5)
//
// GET /results/compare compares two runs, typically the same book valued
// on two days from two position snapshots, position by position under one
// measure and one scenario: totals, counts, and a page of the positions
// that do not match, ordered by position id (bytewise). Readings:
//
//   - Positions are matched by position_id, whatever snapshot holds them.
//     A position id in several snapshots of one run (a position held in
//     several books) is one position of that run whose value is the sum
//     of its rows (exact, rounded once); the counts count distinct ids, so
//     matched + breaks + only_in_base + only_in_target is the number of
//     distinct ids in either run.
//   - measure defaults to PV and scenario to BASE when both runs have them;
//     otherwise they are required, and must be a measure and a scenario of
//     both runs (400 naming each). A comparison is of sums: PV, DV01,
//     CS01, ACCRUED_INTEREST, EXPECTED_LOSS as numbers, and FX_DELTA per
//     base currency — its totals, values and diffs are objects {"EUR": …},
//     a currency missing on one side counts as 0 there, and a position
//     breaks when any currency does. WAL (a weighted average) and KR01 (a
//     ladder) are a 400.
//   - A position in both runs without the measure in either (CS01 of an FX
//     forward) matches; with it in one run only (its product changed) it
//     is a BREAK with the other side and the diff null. ONLY_IN_BASE and
//     ONLY_IN_TARGET have the missing side and the diff null.
//   - A position breaks when |target − base| > abs_tol + rel_tol·|base|,
//     decided exactly on the numbers as the API writes them: each value as
//     its shortest decimal that reads back as the same double, each
//     tolerance as the decimal the query gives. So a difference exactly at
//     the tolerance is not a break (1 and 1.1 match under abs_tol=0.1,
//     though in binary 1.1 − 1 exceeds 0.1). The other side of that
//     reading: what is exact in binary need not be in the decimals (twice
//     a double, written out, can differ from twice its written decimal in
//     the last digit, so x and 2x may break at rel_tol=1 exactly); the
//     numbers on the page always bear the decision out. An item's diff is
//     target − base computed exactly on those decimals and rounded once
//     (0.1, not 0.10000000000000009).
//   - Totals are each run's exact sums over its own positions having the
//     measure, as in its summary (0, or {} for FX_DELTA, when none has
//     it); totals.diff is the exact difference of the exact sums, rounded
//     once. A total or a diff beyond the range of a double is a 422.
//   - Both runs must be COMPLETED or PUBLISHED: partial results cannot be
//     compared (422). So the answer never changes, and the first request
//     merges the runs once, streaming both in position id order (one
//     stream per snapshot, merged), and caches the counts, the totals and
//     the non-matching positions under the base run (compare_cache.go);
//     every page after that reads the cache.
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
	// CompareChunk is how many non-matching positions of a comparison one
	// cached chunk holds; default DefaultCompareChunk.
	CompareChunk int
	// CubeWideGroups bounds the groups of a cube scan that keeps every
	// measure under every scenario (see scannedCube); default
	// DefaultCubeWideGroups.
	CubeWideGroups int
	// MemoBytes bounds the finished runs' aggregate tables kept in
	// memory, by encoded size (tableMemo); default DefaultMemoBytes.
	MemoBytes int
	// MaxScans bounds the scans of a run's results for aggregates (cubes
	// and VaR by a grouping the tasks did not keep) that run at once;
	// default 1. Each reads every row of a run and decodes it: several at
	// once on a small machine took its CPUs and its pooled connections
	// from every other request, and each took as long as all of them.
	MaxScans int
}

// Service answers the results routes.
type Service struct {
	st     store.Store
	logger *slog.Logger
	opts   Options
	// flight shares the computation of an uncached aggregate between
	// concurrent requests.
	flight singleflight.Group
	// memo keeps finished runs' aggregate tables in memory.
	memo *tableMemo
	// scans holds a token per aggregate scan running (Options.MaxScans).
	scans chan struct{}
}

// New returns the results service over st. A nil logger discards.
func New(st store.Store, logger *slog.Logger, opts Options) *Service {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.FlushRows <= 0 {
		opts.FlushRows = DefaultFlushRows
	}
	if opts.CompareChunk <= 0 {
		opts.CompareChunk = DefaultCompareChunk
	}
	if opts.CubeWideGroups <= 0 {
		opts.CubeWideGroups = DefaultCubeWideGroups
	}
	if opts.MemoBytes <= 0 {
		opts.MemoBytes = DefaultMemoBytes
	}
	if opts.MaxScans <= 0 {
		opts.MaxScans = 1
	}
	return &Service{st: st, logger: logger, opts: opts, memo: newTableMemo(opts.MemoBytes),
		scans: make(chan struct{}, opts.MaxScans)}
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
	m.HandleFunc("GET "+Prefix+"/compare", s.compare)
	m.HandleFunc("GET "+Prefix+"/explains/{id}", s.explainResults)
}

// run loads the run named by the path, as a 404 when it does not exist.
func (s *Service) run(ctx context.Context, r *http.Request) (*store.Run, error) {
	id := r.PathValue("id")
	run, err := store.RunOfKind(ctx, s.st, id, store.KindValuation)
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
