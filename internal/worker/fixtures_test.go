package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/pricing"
	"github.com/iprs/iprs/internal/resultcodec"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/store/storetest"
	"github.com/iprs/iprs/internal/store/teststore"
)

// asOf is the valuation time of the test runs.
var asOf = time.Date(2026, 1, 23, 17, 0, 0, 0, time.UTC)

var (
	allMeasures  = []string{"PV", "DV01", "CS01", "ACCRUED_INTEREST", "FX_DELTA"}
	allScenarios = []string{"BASE", "RATES_PARALLEL_1BP", "SPREAD_25BP", "FX_SPOT_1PCT"}
)

// MustOpen opens a migrated SQLite store in a temporary directory.
func MustOpen(tb testing.TB) store.Store {
	tb.Helper()
	return teststore.SQLite(tb)
}

// testMarket is a market with every curve and spot the test positions use.
func testMarket(id string) pricing.MarketData {
	tenors := []string{"ON", "1M", "3M", "6M", "1Y", "2Y", "5Y", "10Y", "30Y"}
	curve := func(cid, typ string, base, slope float64) pricing.CurveData {
		c := pricing.CurveData{CurveID: cid, CurveType: typ}
		for i, tn := range tenors {
			c.Nodes = append(c.Nodes, pricing.CurveNode{Tenor: tn, ZeroRate: base + slope*float64(i)})
		}
		return c
	}
	return pricing.MarketData{
		SnapshotID: id,
		AsOfTime:   asOf,
		Vendor:     "TEST",
		FXSpots: []pricing.FXSpot{
			{Pair: "EURUSD", Spot: 1.0842},
			{Pair: "GBPUSD", Spot: 1.2671},
		},
		Curves: []pricing.CurveData{
			curve("USD-OIS", "DISCOUNT", 0.041, 0.0003),
			curve("EUR-OIS", "DISCOUNT", 0.028, 0.0002),
			curve("GBP-OIS", "DISCOUNT", 0.039, 0.0001),
			curve("LOAN-SPREAD", "SPREAD", 0.021, 0.0004),
			curve("FI-SPREAD", "SPREAD", 0.009, 0.0002),
		},
	}
}

// MustMarket stores the test market snapshot under id.
func MustMarket(tb testing.TB, st store.Store, id string) pricing.MarketData {
	tb.Helper()
	md := testMarket(id)
	payload, err := json.Marshal(md)
	if err != nil {
		tb.Fatal(err)
	}
	storetest.MustMarketSnapshot(tb, context.Background(), st, &store.MarketSnapshot{
		ID: id, AsOfTime: asOf, Payload: payload,
	})
	return md
}

func mustJSON(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// loanByTerms is an AMORT_LOAN given by its terms.
func loanByTerms(tb testing.TB, id string, k int) *store.Position {
	attrs := map[string]any{
		"current_principal":     10000 + 137.5*float64(k%97),
		"coupon_rate":           0.05 + 0.0005*float64(k%23),
		"last_payment_date":     fmt.Sprintf("2026-01-%02d", 1+k%20),
		"remaining_term_months": 12 + k%120,
		"next_payment_date":     fmt.Sprintf("2026-02-%02d", 1+k%28),
	}
	return storetest.Pos(id, "AMORT_LOAN", storetest.PositionHash(id), mustJSON(tb, attrs))
}

// loanWithCashflows is an AMORT_LOAN with explicit cashflows.
func loanWithCashflows(tb testing.TB, id string, k int) *store.Position {
	var cfs []map[string]any
	for m := 0; m < 6+k%30; m++ {
		cfs = append(cfs, map[string]any{
			"pay_date":  time.Date(2026, time.Month(2+m), 15, 0, 0, 0, 0, time.UTC).Format(time.DateOnly),
			"interest":  40 - 0.5*float64(m),
			"principal": 300 + float64(k%7),
		})
	}
	attrs := map[string]any{
		"current_principal": 9000 + float64(k),
		"coupon_rate":       0.061,
		"last_payment_date": "2026-01-15",
		"cashflows":         cfs,
	}
	p := storetest.Pos(id, "AMORT_LOAN", storetest.PositionHash(id), mustJSON(tb, attrs))
	q := 1 + float64(k%3)
	p.Quantity = &q
	return p
}

// bond is a FIXED_BOND with annual coupons.
func bond(tb testing.TB, id string, k int) *store.Position {
	var cfs []map[string]any
	years := 1 + k%12
	for y := 1; y <= years; y++ {
		amt := 4.5
		if y == years {
			amt += 100
		}
		cfs = append(cfs, map[string]any{
			"pay_date": time.Date(2026+y, 6, 30, 0, 0, 0, 0, time.UTC).Format(time.DateOnly),
			"amount":   amt,
		})
	}
	attrs := map[string]any{"cashflows": cfs, "accrued_interest": 1.25 + 0.01*float64(k%5)}
	p := storetest.Pos(id, "FIXED_BOND", storetest.PositionHash(id), mustJSON(tb, attrs))
	q := 1000.0
	p.Quantity = &q
	return p
}

// fxForward is an FX_FWD on EURUSD or GBPUSD.
func fxForward(tb testing.TB, id string, k int) *store.Position {
	pair := "EURUSD"
	if k%2 == 1 {
		pair = "GBPUSD"
	}
	attrs := map[string]any{
		"notional_base": 1e6 + 5000*float64(k%11),
		"forward_rate":  1.08 + 0.001*float64(k%17),
		"maturity_date": time.Date(2026, time.Month(3+k%18), 10, 0, 0, 0, 0, time.UTC).Format(time.DateOnly),
		"fx_pair":       pair,
	}
	return storetest.Pos(id, "FX_FWD", storetest.PositionHash(id), mustJSON(tb, attrs))
}

// mixedBook is n positions of the four kinds, in turn.
func mixedBook(tb testing.TB, prefix string, n int) []*store.Position {
	out := make([]*store.Position, 0, n)
	for k := 0; k < n; k++ {
		id := fmt.Sprintf("%s-%04d", prefix, k)
		switch k % 4 {
		case 0:
			out = append(out, loanByTerms(tb, id, k))
		case 1:
			out = append(out, loanWithCashflows(tb, id, k))
		case 2:
			out = append(out, bond(tb, id, k))
		default:
			out = append(out, fxForward(tb, id, k))
		}
	}
	return out
}

// fixture is a stored run with its inputs.
type fixture struct {
	st        store.Store
	market    pricing.MarketData
	positions []*store.Position
	run       *store.Run
	tasks     []*store.Task
}

// MustFixture stores a market, a position snapshot of the positions and a
// run over them with hashMod buckets per product type.
func MustFixture(tb testing.TB, st store.Store, runID string, positions []*store.Position, hashMod, maxAttempts int) *fixture {
	tb.Helper()
	ctx := context.Background()
	md := MustMarket(tb, st, runID+"-MKT")
	snap := storetest.MustPositionSnapshot(tb, ctx, st, &store.PositionSnapshot{
		ID: runID + "-POS", AsOfTime: asOf, PortfolioNodeID: "BOOK-1",
	}, positions, 500)
	run, tasks := storetest.MustRun(tb, ctx, st, storetest.RunOpts{
		Run: &store.Run{
			ID:                  runID,
			AsOfTime:            asOf,
			MarketSnapshotID:    md.SnapshotID,
			PositionSnapshotIDs: []string{snap.ID},
			Measures:            append([]string(nil), allMeasures...),
			Scenarios:           append([]string(nil), allScenarios...),
			HashMod:             hashMod,
			MaxAttempts:         maxAttempts,
		},
		AvailableAt: asOf.Add(-time.Hour),
	})
	return &fixture{st: st, market: md, positions: positions, run: run, tasks: tasks}
}

// expected prices every position of the fixture directly with the pricing
// engine: its values under the run's scenarios, in order, keyed by
// position id.
func (f *fixture) expected(tb testing.TB) map[string][]pricing.Values {
	tb.Helper()
	mkt, err := pricing.NewMarket(f.market)
	if err != nil {
		tb.Fatal(err)
	}
	var ms []pricing.Measure
	for _, name := range f.run.Measures {
		m, ok := pricing.ParseMeasure(name)
		if !ok {
			tb.Fatalf("measure %s", name)
		}
		ms = append(ms, m)
	}
	eng, err := pricing.NewEngine(mkt, f.run.Scenarios, ms, f.run.AsOfTime)
	if err != nil {
		tb.Fatal(err)
	}
	out := make(map[string][]pricing.Values)
	for _, p := range f.positions {
		pos, probs := pricing.ParsePosition(pricing.PositionInput{
			PositionID: p.PositionID, InstrumentID: p.InstrumentID, ProductType: p.ProductType,
			Quantity: p.Quantity, Attributes: p.Attributes,
		})
		if len(probs) > 0 {
			tb.Fatalf("fixture position %s: %v", p.PositionID, probs)
		}
		vals := make([]pricing.Values, len(f.run.Scenarios))
		for si, sc := range f.run.Scenarios {
			if err := eng.Price(pos, si, &vals[si]); err != nil {
				tb.Fatalf("price %s under %s: %v", p.PositionID, sc, err)
			}
		}
		out[p.PositionID] = vals
	}
	return out
}

// allResults reads every result row of a run.
func allResults(tb testing.TB, st store.Store, runID string) []*store.PositionResult {
	tb.Helper()
	var out []*store.PositionResult
	p := store.ResultListParams{RunID: runID, Limit: 1000}
	for {
		rows, err := st.ResultList(context.Background(), p)
		if err != nil {
			tb.Fatalf("ResultList: %v", err)
		}
		out = append(out, rows...)
		if len(rows) < p.Limit {
			return out
		}
		last := rows[len(rows)-1]
		p.AfterSnapshotID, p.AfterPositionID = last.PositionSnapshotID, last.PositionID
	}
}

// checkResults asserts one row per position of the fixture whose values
// under every scenario are bit-identical to direct pricing (the encoding
// is canonical, so equal values are equal bytes).
func (f *fixture) checkResults(tb testing.TB) {
	tb.Helper()
	want := f.expected(tb)
	rows := allResults(tb, f.st, f.run.ID)
	if len(rows) != len(want) {
		tb.Errorf("%d result rows, want %d (one per position)", len(rows), len(want))
	}
	seen := make(map[string]bool, len(rows))
	byID := make(map[string]*store.Position, len(f.positions))
	for _, p := range f.positions {
		byID[p.PositionID] = p
	}
	for _, r := range rows {
		if seen[r.PositionID] {
			tb.Errorf("duplicate result row for %s", r.PositionID)
			continue
		}
		seen[r.PositionID] = true
		w, ok := want[r.PositionID]
		if !ok {
			tb.Errorf("unexpected result row for %s", r.PositionID)
			continue
		}
		if !bytes.Equal(r.Values, resultcodec.Append(nil, w)) {
			got := make([]pricing.Values, len(f.run.Scenarios))
			err := resultcodec.Decode(r.Values, got)
			tb.Errorf("%s: stored values %+v (%v), direct pricing gives %+v", r.PositionID, got, err, w)
		}
		p := byID[r.PositionID]
		if r.RunID != f.run.ID || r.InstrumentID != p.InstrumentID || r.ProductType != p.ProductType ||
			r.PortfolioNodeID != "BOOK-1" || r.PositionSnapshotID != f.run.PositionSnapshotIDs[0] {
			tb.Errorf("%s: row identity %+v does not match the position", r.PositionID, r)
		}
	}
}

// waitRun polls until the run reaches one of the statuses.
func waitRun(tb testing.TB, st store.Store, runID string, timeout time.Duration, statuses ...string) *store.Run {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r, err := st.RunGet(context.Background(), runID)
		if err != nil {
			tb.Fatalf("RunGet: %v", err)
		}
		for _, s := range statuses {
			if r.Status == s {
				return r
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("run %s is %s after %s, want one of %v", runID, r.Status, timeout, statuses)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// started runs w until the returned stop is called; stop waits for Run to
// return.
func started(tb testing.TB, w *Worker) (stop func()) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := w.Run(ctx); err != nil {
			tb.Errorf("Run: %v", err)
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	tb.Cleanup(stop)
	return stop
}

// testLogger logs to the test at debug level.
func testLogger(tb testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{tb}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ tb testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.tb.Helper()
	w.tb.Log(string(p[:len(p)-1]))
	return len(p), nil
}

// fastOptions are options for tests: quick polls and retries.
func fastOptions(owner string) Options {
	return Options{
		Owner:        owner,
		Concurrency:  2,
		Lease:        60 * time.Second,
		PollInterval: 5 * time.Millisecond,
		Grace:        time.Second,
		Backoff:      func(int) time.Duration { return time.Millisecond },
	}
}

// hookStore wraps a store, replacing some methods with test doubles.
type hookStore struct {
	store.Store
	taskPositions func(ctx context.Context, t *store.Task, fn func(*store.Position) error) error
	taskComplete  func(ctx context.Context, p store.TaskCompleteParams) error
}

func (h *hookStore) TaskPositions(ctx context.Context, t *store.Task, fn func(*store.Position) error) error {
	if h.taskPositions != nil {
		return h.taskPositions(ctx, t, fn)
	}
	return h.Store.TaskPositions(ctx, t, fn)
}

func (h *hookStore) TaskComplete(ctx context.Context, p store.TaskCompleteParams) error {
	if h.taskComplete != nil {
		return h.taskComplete(ctx, p)
	}
	return h.Store.TaskComplete(ctx, p)
}
