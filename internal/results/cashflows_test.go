package results

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/pricing"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/store/storetest"
	"github.com/iprs/iprs/internal/worker"
)

// cashflowMarket has the curves the test loans discount with.
func cashflowMarket(id string) []byte {
	tenors := []string{"ON", "1M", "3M", "6M", "1Y", "2Y", "5Y", "10Y", "30Y"}
	curve := func(cid, typ string, base, slope float64) pricing.CurveData {
		c := pricing.CurveData{CurveID: cid, CurveType: typ}
		for i, tn := range tenors {
			c.Nodes = append(c.Nodes, pricing.CurveNode{Tenor: tn, ZeroRate: base + slope*float64(i)})
		}
		return c
	}
	b, err := json.Marshal(pricing.MarketData{
		SnapshotID: id, AsOfTime: asOf, Vendor: "TEST",
		FXSpots: []pricing.FXSpot{{Pair: "EURUSD", Spot: 1.0842}},
		Curves: []pricing.CurveData{
			curve("USD-OIS", "DISCOUNT", 0.041, 0.0003),
			curve("LOAN-SPREAD", "SPREAD", 0.021, 0.0004),
			curve("FI-SPREAD", "SPREAD", 0.009, 0.0002),
		},
	})
	if err != nil {
		panic(err)
	}
	return b
}

// valuedRun stores a run over positions with a model set and values it
// with a real worker, as the platform does.
func valuedRun(t *testing.T, st store.Store, runID string, positions []*store.Position, scenarios []string) *store.Run {
	t.Helper()
	ctx := context.Background()
	storetest.MustMarketSnapshot(t, ctx, st, &store.MarketSnapshot{ID: runID + "-MKT", AsOfTime: asOf, Payload: cashflowMarket(runID + "-MKT")})
	ms := []byte(`{"model_set_id":"` + runID + `-MS","rules":[{"match":{"attr:fico":{"gte":650}},` +
		`"prepayment":{"cpr":0.1},"default":{"cdr":0.02},"severity":0.4,"recovery_lag_months":2}]}`)
	sum := sha256.Sum256(ms)
	if _, _, err := st.SetCreate(ctx, &store.AnalyticSet{Kind: store.SetKindModel, ID: runID + "-MS", ItemCount: 1,
		Payload: ms, PayloadHash: hex.EncodeToString(sum[:]), CreatedAt: asOf}); err != nil {
		t.Fatal(err)
	}
	snap := storetest.MustPositionSnapshot(t, ctx, st, &store.PositionSnapshot{ID: runID + "-POS", AsOfTime: asOf, PortfolioNodeID: "BOOK-1"}, positions, 0)
	storetest.MustRun(t, ctx, st, storetest.RunOpts{
		Run: &store.Run{ID: runID, AsOfTime: asOf, MarketSnapshotID: runID + "-MKT", ModelSetID: runID + "-MS",
			PositionSnapshotIDs: []string{snap.ID}, Measures: []string{"PV"}, Scenarios: scenarios, HashMod: 2, MaxAttempts: 1},
		AvailableAt: asOf.Add(-time.Hour),
	})
	w := worker.New(st, slog.New(slog.DiscardHandler), worker.Options{Owner: "test", Concurrency: 1,
		PollInterval: 5 * time.Millisecond, Backoff: func(int) time.Duration { return time.Millisecond }})
	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := w.Run(wctx); err != nil {
			t.Errorf("worker: %v", err)
		}
	})
	defer func() { cancel(); wg.Wait() }()
	for deadline := time.Now().Add(30 * time.Second); ; {
		run, err := st.RunGet(ctx, runID)
		if err != nil {
			t.Fatal(err)
		}
		switch run.Status {
		case store.RunCompleted:
			return run
		case store.RunFailed, store.RunCancelled:
			t.Fatalf("run %s: %s: %s", runID, run.Status, run.Error)
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s still %s", runID, run.Status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func loanPosition(t *testing.T, id string, qty float64, extra map[string]any) *store.Position {
	attrs := map[string]any{
		"current_principal": 10000.0, "coupon_rate": 0.06, "last_payment_date": "2026-01-15",
		"next_payment_date": "2026-02-15", "remaining_term_months": 24, "term_months": 36,
	}
	for k, v := range extra {
		attrs[k] = v
	}
	b, err := json.Marshal(attrs)
	if err != nil {
		t.Fatal(err)
	}
	p := storetest.Pos(id, "AMORT_LOAN", storetest.PositionHash(id), string(b))
	p.Quantity = &qty
	return p
}

type cashflowRow struct {
	Date               string  `json:"date"`
	T                  float64 `json:"t"`
	Balance            float64 `json:"balance"`
	Interest           float64 `json:"interest"`
	ScheduledPrincipal float64 `json:"scheduled_principal"`
	Prepayment         float64 `json:"prepayment"`
	Default            float64 `json:"default"`
	Loss               float64 `json:"loss"`
	Recovery           float64 `json:"recovery"`
	Cashflow           float64 `json:"cashflow"`
	DF                 float64 `json:"df"`
}

func TestCashflows(t *testing.T) {
	t.Parallel()
	eachStore(t, testCashflows)
}

func testCashflows(t *testing.T, st store.Store) {
	positions := []*store.Position{
		loanPosition(t, "MOD", 1, map[string]any{"fico": 700}),   // takes the rule
		loanPosition(t, "MOD3", 3, map[string]any{"fico": 700}),  // the same, three times
		loanPosition(t, "CON", 2.5, map[string]any{"fico": 600}), // contractual
		storetest.Pos("BOND", "FIXED_BOND", storetest.PositionHash("BOND"), `{"cashflows":[{"pay_date":"2027-06-30","amount":104.5}]}`),
	}
	scenarios := []string{"BASE", "RATES_PARALLEL_1BP"}
	valuedRun(t, st, "CF", positions, scenarios)
	srv := MustServer(t, st)

	storedPV := func(id, sc string) float64 {
		var page struct{ Items []PositionResult }
		getJSON(t, srv, "/results/runs/CF/positions/"+id, 200, &page)
		for _, it := range page.Items {
			if it.ScenarioID == sc {
				var m map[string]float64
				if err := json.Unmarshal(it.Measures, &m); err != nil {
					t.Fatal(err)
				}
				return m["PV"]
			}
		}
		t.Fatalf("no %s result for %s", sc, id)
		return 0
	}
	get := func(path string) []cashflowRow {
		var page struct{ Items []cashflowRow }
		getJSON(t, srv, path, 200, &page)
		return page.Items
	}
	for _, id := range []string{"MOD", "MOD3", "CON"} {
		for _, sc := range scenarios {
			path := "/results/runs/CF/positions/" + id + "/cashflows?scenario=" + sc
			rows := get(path)
			if len(rows) != 24 {
				t.Fatalf("%s: %d rows, want 24 (remaining_term_months)", path, len(rows))
			}
			var pv float64
			for _, r := range rows {
				pv += r.Cashflow * r.DF
			}
			want := storedPV(id, sc)
			// With quantity 1 the rows are the PV's own terms: bit for
			// bit. Otherwise each row is scaled before the sum, and the PV
			// after it: equal to rounding.
			if id == "MOD" && pv != want {
				t.Errorf("%s: Σ cashflow·df = %v, stored PV %v", path, pv, want)
			}
			if math.Abs(pv-want) > 1e-12*math.Abs(want) {
				t.Errorf("%s: Σ cashflow·df = %v, stored PV %v", path, pv, want)
			}
		}
	}
	// The projection's identities, checked row by row (SPEC §4.1).
	mod, mod3, con := get("/results/runs/CF/positions/MOD/cashflows"), get("/results/runs/CF/positions/MOD3/cashflows"), get("/results/runs/CF/positions/CON/cashflows")
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }
	prev := 10000.0
	for i, r := range mod {
		if !near(r.Balance, prev-r.ScheduledPrincipal-r.Prepayment-r.Default) {
			t.Errorf("MOD row %d: balance %v, want %v − flows", i, r.Balance, prev)
		}
		if !near(r.Cashflow, r.Interest+r.ScheduledPrincipal+r.Prepayment+r.Recovery) {
			t.Errorf("MOD row %d: cashflow %v is not interest + principal + prepayment + recovery", i, r.Cashflow)
		}
		var lagged float64
		if i >= 2 {
			lagged = mod[i-2].Default
		}
		if !near(r.Loss, 0.4*lagged) || !near(r.Recovery, 0.6*lagged) {
			t.Errorf("MOD row %d: loss %v recovery %v, want 0.4 and 0.6 of %v", i, r.Loss, r.Recovery, lagged)
		}
		// MDR = 1 − 0.98^(1/12) of the performing balance, before the last
		// two rows (nothing defaults too late to be recovered).
		wantDefault := prev * (1 - math.Pow(0.98, 1.0/12))
		if i >= len(mod)-2 {
			wantDefault = 0
		}
		if !near(r.Default, wantDefault) {
			t.Errorf("MOD row %d: default %v, want %v", i, r.Default, wantDefault)
		}
		// The last row repays the contractual balance: sₙ = 0, nothing
		// prepays.
		if (r.Prepayment <= 0) != (i == len(mod)-1) || r.DF <= 0 || r.DF >= 1 {
			t.Errorf("MOD row %d: prepayment %v df %v", i, r.Prepayment, r.DF)
		}
		if !near(mod3[i].Cashflow, 3*r.Cashflow) || !near(mod3[i].Balance, 3*r.Balance) || mod3[i].DF != r.DF || mod3[i].Date != r.Date {
			t.Errorf("MOD3 row %d is not three times MOD's: %+v vs %+v", i, mod3[i], r)
		}
		prev = r.Balance
	}
	if mod[0].Date != "2026-02-15" || mod[23].Date != "2028-01-15" || !near(mod[23].Balance, 0) {
		t.Errorf("MOD first/last rows: %+v, %+v", mod[0], mod[23])
	}
	prev = 2.5 * 10000
	for i, r := range con {
		if r.Prepayment != 0 || r.Default != 0 || r.Loss != 0 || r.Recovery != 0 {
			t.Errorf("CON row %d: a contractual loan has %+v", i, r)
		}
		if !near(r.Balance, prev-r.ScheduledPrincipal) || !near(r.Cashflow, r.Interest+r.ScheduledPrincipal) {
			t.Errorf("CON row %d: %+v after balance %v", i, r, prev)
		}
		prev = r.Balance
	}
	// Contractual: a level payment (annuity of 24 months at 0.5%, ×2.5).
	level := 2.5 * 10000 * 0.005 / (1 - math.Pow(1.005, -24))
	if !near(con[5].Cashflow, level) {
		t.Errorf("CON level payment %v, want %v", con[5].Cashflow, level)
	}

	for _, c := range []struct {
		path   string
		status int
		param  string
	}{
		{"/results/runs/NOPE/positions/MOD/cashflows", 404, ""},
		{"/results/runs/CF/positions/NOPE/cashflows", 404, ""},
		{"/results/runs/CF/positions/BOND/cashflows", 422, ""},
		{"/results/runs/CF/positions/MOD/cashflows?scenario=NOPE", 400, "scenario"},
		{"/results/runs/CF/positions/MOD/cashflows?scenario=", 400, "scenario"},
		{"/results/runs/CF/positions/MOD/cashflows?measure=PV", 400, "measure"},
		{"/results/runs/CF/positions/MOD/cashflows?position_snapshot_id=OTHER", 400, "position_snapshot_id"},
	} {
		wantProblem(t, srv, c.path, c.status, c.param)
	}
	if rows := get("/results/runs/CF/positions/MOD/cashflows?position_snapshot_id=CF-POS"); len(rows) != 24 {
		t.Errorf("with position_snapshot_id: %d rows", len(rows))
	}
}

// A run without BASE needs the scenario.
func TestCashflowsWithoutBase(t *testing.T) {
	t.Parallel()
	st := MustOpen(t)
	valuedRun(t, st, "NB", []*store.Position{loanPosition(t, "L", 1, nil)}, []string{"RATES_PARALLEL_1BP"})
	srv := MustServer(t, st)
	wantProblem(t, srv, "/results/runs/NB/positions/L/cashflows", 400, "scenario")
	var page struct{ Items []cashflowRow }
	getJSON(t, srv, "/results/runs/NB/positions/L/cashflows?scenario=RATES_PARALLEL_1BP", 200, &page)
	if len(page.Items) != 24 {
		t.Errorf("%d rows", len(page.Items))
	}
}
