package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/client"
)

// explainDay is one business day of the explain tests: its market and its
// book of one node.
type explainDay struct {
	asOf             string
	usd, eur, spread float64
	spot             float64
	positions        []map[string]any
}

func explainBond(id string, qty float64, pay string, amount float64) map[string]any {
	return map[string]any{"position_id": id, "instrument_id": id, "product_type": "FIXED_BOND", "quantity": qty,
		"attributes": map[string]any{"cashflows": []any{map[string]any{"pay_date": pay, "amount": amount}}}}
}

// explainBooks are two days of one book: a zero-coupon bond and an FX
// forward held on both days, a bond that is gone on the second, one that
// is new, a quantity change, and a loan paying between the days.
func explainBooks() (d1, d2 explainDay) {
	fx := map[string]any{"position_id": "FX", "instrument_id": "FX", "product_type": "FX_FWD",
		"attributes": map[string]any{"notional_base": 1e6, "forward_rate": 1.12, "maturity_date": "2027-01-05"}}
	flows := []any{
		map[string]any{"pay_date": "2026-01-03", "interest": 500.0, "principal": 10000.0},
		map[string]any{"pay_date": "2027-01-05", "interest": 4500.0, "principal": 90000.0},
	}
	loan := func(principal float64, last string) map[string]any {
		return map[string]any{"position_id": "L", "instrument_id": "L", "product_type": "AMORT_LOAN",
			"attributes": map[string]any{"current_principal": principal, "coupon_rate": 0.05, "last_payment_date": last, "cashflows": flows}}
	}
	// SWAP changes product type: matured as a bond, new as a forward.
	swapped := map[string]any{"position_id": "SWAP", "instrument_id": "SWAP", "product_type": "FX_FWD",
		"attributes": map[string]any{"notional_base": 1e6, "forward_rate": 1.12, "maturity_date": "2027-01-05"}}
	d1 = explainDay{asOf: "2026-01-02T18:00:00Z", usd: 0.04, eur: 0.03, spread: 0.01, spot: 1.10, positions: []map[string]any{
		explainBond("ZC", 1, "2027-01-05", 1e6), fx, explainBond("GONE", 1, "2027-01-05", 1e6),
		explainBond("Q", 1, "2027-01-05", 1e6), loan(100000, "2025-12-03"), explainBond("SWAP", 1, "2027-01-05", 1e6),
	}}
	d2 = explainDay{asOf: "2026-01-05T18:00:00Z", usd: 0.045, eur: 0.03, spread: 0.01, spot: 1.15, positions: []map[string]any{
		explainBond("ZC", 1, "2027-01-05", 1e6), fx, explainBond("NEW", 1, "2027-01-05", 1e6),
		explainBond("Q", 3, "2027-01-05", 1e6), loan(90000, "2026-01-03"), swapped,
	}}
	// Desks, for the waterfall by attribute: Q moves from RATES to CREDIT
	// (its group is its second version's), GONE and the first SWAP are
	// grouped by their first version, the loan has no desk.
	for i, desk := range []string{"RATES", "FX", "RATES", "RATES", "", "RATES"} {
		if desk != "" {
			d1.positions[i]["attributes"].(map[string]any)["desk"] = desk
		}
	}
	for i, desk := range []string{"RATES", "FX", "CREDIT", "CREDIT", "", "FX"} {
		if desk != "" {
			d2.positions[i]["attributes"].(map[string]any)["desk"] = desk
		}
	}
	return d1, d2
}

// pushExplainDay stores a day's market and book and values them (BASE and
// PV, DV01) with the given hash_mod and, when attrs is not nil, with
// execution.aggregate_attrs attrs; it returns the run id.
func pushExplainDay(t *testing.T, c *client.Client, sfx, name string, d explainDay, hashMod int, attrs []string) string {
	t.Helper()
	ctx := context.Background()
	flat := func(id string, r float64) map[string]any {
		return map[string]any{"curve_id": id, "curve_type": "DISCOUNT", "nodes": []any{map[string]any{"tenor": "1Y", "zero_rate": r}}}
	}
	mkt := map[string]any{"snapshot_id": "MKT-" + name + sfx, "as_of_time": d.asOf, "vendor": "TEST", "universe_id": "TEST",
		"curves":   []any{flat("USD-OIS", d.usd), flat("EUR-OIS", d.eur), flat("FI-SPREAD", d.spread), flat("LOAN-SPREAD", d.spread)},
		"fx_spots": []any{map[string]any{"pair": "EURUSD", "spot": d.spot}}}
	book := map[string]any{"position_snapshot_id": "PS-" + name + sfx, "as_of_time": d.asOf, "portfolio_node_id": "BOOK" + sfx,
		"positions": d.positions}
	for _, doc := range []map[string]any{mkt, book} {
		raw, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := doc["curves"]; ok {
			_, _, err = c.PushMarketSnapshot(ctx, bytes.NewReader(raw))
		} else {
			_, _, err = c.PushPositionSnapshot(ctx, bytes.NewReader(raw))
		}
		if err != nil {
			t.Fatalf("push %s: %v", name, err)
		}
	}
	execution := map[string]any{"hash_mod": hashMod}
	if attrs != nil {
		execution["aggregate_attrs"] = attrs
	}
	run := submitAndWait(t, c, map[string]any{"run_id": "RUN-" + name + sfx, "run_type": "SANDBOX", "as_of_time": d.asOf,
		"market_snapshot_id": "MKT-" + name + sfx, "position_snapshot_id": "PS-" + name + sfx,
		"measures": []string{"PV", "DV01"}, "scenarios": []string{"BASE", "RATES_PARALLEL_1BP"},
		"execution": execution})
	return run.RunID
}

// explainAndWait creates an explain and waits for it to complete.
func explainAndWait(t *testing.T, c *client.Client, from, to string, versions int64) client.Explain {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e, created, err := c.CreateExplain(ctx, client.ExplainRequest{FromRunID: from, ToRunID: to})
	if err != nil {
		t.Fatalf("create explain: %v", err)
	}
	if !created || e.ExplainID != "EXPLAIN-"+from+"-"+to {
		t.Fatalf("explain %s created=%v, want EXPLAIN-%s-%s created", e.ExplainID, created, from, to)
	}
	_, err = client.Wait(ctx, 20*time.Millisecond, func(ctx context.Context) (client.Run, error) {
		e, err := c.GetExplain(ctx, e.ExplainID)
		return e.AsRun(), err
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if e, err = c.GetExplain(ctx, e.ExplainID); err != nil || e.Status != "COMPLETED" {
		t.Fatalf("explain %+v, %v; want COMPLETED", e, err)
	}
	if e.Progress.PositionsDone != e.Progress.PositionsTotal || e.Progress.PositionsTotal != versions {
		t.Errorf("explain progress %+v, want the %d position versions of both books done", e.Progress, versions)
	}
	return e
}

// TestExplainClosedForm explains a day of P&L on each store and checks
// every position's waterfall against its closed form (by instrument_id,
// which is the position id here), the identity of each group, and that
// the numbers are the same bits on every store and with one worker or
// three, whatever the runs' task split.
func TestExplainClosedForm(t *testing.T) {
	t.Parallel()
	d1, d2 := explainBooks()
	type answer struct{ byInstrument, byProduct, byDesk, whole []client.ExplainItem }
	var answers []answer
	var names []string
	dbs := testDatabases(t)
	// The first explain's tasks aggregate by desk (a default attribute:
	// its second run declares none), so its waterfall by attr:desk merges
	// their partials; the others' second runs declare another attribute,
	// and their explains' waterfalls by desk are scanned.
	noDesk := []string{"state"}
	cases := []struct {
		db      testDatabase
		workers int
		hashMod int
		attrs   []string
	}{{dbs[0], 3, 1, nil}, {dbs[0], 1, 4, noDesk}}
	if len(dbs) > 1 {
		cases = append(cases, struct {
			db      testDatabase
			workers int
			hashMod int
			attrs   []string
		}{dbs[1], 3, 2, noDesk})
	}
	for i, tc := range cases {
		d := mustStartDevWorkers(t, tc.db.db, nil, tc.workers)
		c := client.New(d.URL, "", nil)
		sfx := "-" + uniqueSuffix()
		from := pushExplainDay(t, c, sfx, "D1", d1, tc.hashMod, tc.attrs)
		to := pushExplainDay(t, c, sfx, "D2", d2, tc.hashMod, tc.attrs)
		e := explainAndWait(t, c, from, to, 12)
		ctx := context.Background()
		var a answer
		var err error
		if a.byInstrument, err = c.ExplainResults(ctx, e.ExplainID, "instrument_id", ""); err != nil {
			t.Fatal(err)
		}
		if a.byProduct, err = c.ExplainResults(ctx, e.ExplainID, "product_type", ""); err != nil {
			t.Fatal(err)
		}
		if a.whole, err = c.ExplainResults(ctx, e.ExplainID, "", ""); err != nil {
			t.Fatal(err)
		}
		if a.byDesk, err = c.ExplainResults(ctx, e.ExplainID, "attr:desk", ""); err != nil {
			t.Fatal(err)
		}
		partials := 0
		if err := d.st.TaskAggregates(ctx, e.ExplainID, "attr:desk", func(_ int64, p []byte) error {
			partials += len(p)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if (partials > 0) != (tc.attrs == nil) {
			t.Errorf("platform %d: %d bytes of the explain's task partials by desk, want some only where the tasks aggregate by desk", i, partials)
		}
		answers = append(answers, a)
		names = append(names, tc.db.name)
	}
	for i := 1; i < len(answers); i++ {
		if !reflect.DeepEqual(answers[i], answers[0]) {
			t.Errorf("%s (platform %d) answers %+v, %s answers %+v", names[i], i, answers[i], names[0], answers[0])
		}
	}
	a := answers[0]
	rows := map[string]client.ExplainItem{}
	for _, it := range a.byInstrument {
		rows[*it.Key] = it
	}
	e := math.Exp
	t1, t2 := 368.0/365, 365.0/365
	const n, k = 1e6, 1.12
	for _, w := range []struct {
		pos, what string
		got, want float64
	}{
		{"ZC", "carry", rows["ZC"].Carry, 1e6 * (e(-0.05*t2) - e(-0.05*t1))},
		{"ZC", "rates", rows["ZC"].Rates, 1e6 * (e(-0.055*t2) - e(-0.05*t2))},
		{"FX", "rates", rows["FX"].Rates, n * k * (e(-0.04*t2) - e(-0.045*t2))},
		{"FX", "fx", rows["FX"].FX, n * (1.15 - 1.10) * e(-0.03*t2)},
		{"FX", "carry", rows["FX"].Carry, n*(1.10*e(-0.03*t2)-k*e(-0.04*t2)) - n*(1.10*e(-0.03*t1)-k*e(-0.04*t1))},
		{"GONE", "matured", rows["GONE"].Matured, -1e6 * e(-0.055*t2)},
		{"NEW", "new", rows["NEW"].New, 1e6 * e(-0.055*t2)},
		{"Q", "amendments", rows["Q"].Amendments, 2e6 * e(-0.055*t2)},
		{"SWAP", "matured", rows["SWAP"].Matured, -1e6 * e(-0.055*t2)},
		{"SWAP", "new", rows["SWAP"].New, n * (1.15*e(-0.03*t2) - k*e(-0.045*t2))},
		{"L", "carry_cashflows", rows["L"].CarryCashflows, 10500},
		{"L", "carry", rows["L"].Carry, 94500*e(-0.05*t2) + 10500 - (10500*e(-0.05/365) + 94500*e(-0.05*t1))},
		{"L", "rates", rows["L"].Rates, 94500 * (e(-0.055*t2) - e(-0.05*t2))},
	} {
		if math.Abs(w.got-w.want) > 1e-9*math.Max(1e3, math.Abs(w.want)) {
			t.Errorf("%s %s = %.10g, want %.10g", w.pos, w.what, w.got, w.want)
		}
	}
	for name, zero := range map[string]float64{"ZC amendments": rows["ZC"].Amendments, "ZC spread": rows["ZC"].Spread,
		"L amendments": rows["L"].Amendments, "GONE to_pv": rows["GONE"].ToPV, "NEW from_pv": rows["NEW"].FromPV} {
		if zero != 0 {
			t.Errorf("%s = %v, want 0", name, zero)
		}
	}
	if rows["SWAP"].Amendments != 0 {
		t.Errorf("SWAP amendments = %v, want 0: a product type change is matured and new", rows["SWAP"].Amendments)
	}
	// By desk: the positions' rows added up by the desk of their second
	// version, the first for a matured one.
	deskOf := map[string]string{"ZC": "RATES", "FX": "FX", "GONE": "RATES", "Q": "CREDIT", "NEW": "CREDIT", "L": "n/a"}
	want := map[string][3]float64{} // matured, new, amendments
	for _, it := range a.byInstrument {
		if *it.Key == "SWAP" {
			continue
		}
		w := want[deskOf[*it.Key]]
		w[0] += it.Matured
		w[1] += it.New
		w[2] += it.Amendments
		want[deskOf[*it.Key]] = w
	}
	swapW := want["RATES"]
	swapW[0] += rows["SWAP"].Matured
	want["RATES"] = swapW
	fxW := want["FX"]
	fxW[1] += rows["SWAP"].New
	want["FX"] = fxW
	var keys []string
	for _, it := range a.byDesk {
		keys = append(keys, *it.Key)
		w := want[*it.Key]
		for j, got := range []float64{it.Matured, it.New, it.Amendments} {
			if math.Abs(got-w[j]) > 1e-9*math.Max(1, math.Abs(w[j])) {
				t.Errorf("desk %s component %d = %v, want %v", *it.Key, j, got, w[j])
			}
		}
	}
	if strings.Join(keys, ",") != "CREDIT,FX,RATES,n/a" {
		t.Errorf("desks %v, want CREDIT, FX, RATES, n/a", keys)
	}
	if len(a.byProduct) != 3 || len(a.whole) != 1 || a.whole[0].Key != nil {
		t.Errorf("by product_type %d groups, whole %+v", len(a.byProduct), a.whole)
	}
	for _, it := range append(append(a.byInstrument, a.byProduct...), a.whole...) {
		want := it.ToPV - it.FromPV + it.CarryCashflows
		scale := math.Abs(it.ToPV) + math.Abs(it.FromPV) + math.Abs(it.CarryCashflows) + math.Abs(it.Carry) +
			math.Abs(it.Rates) + math.Abs(it.Spread) + math.Abs(it.FX) + math.Abs(it.Amendments) + math.Abs(it.New) + math.Abs(it.Matured)
		if math.Abs(it.Total-want) > 1e-14*scale {
			t.Errorf("group %v: total %v, to − from + carry cashflows %v", it.Key, it.Total, want)
		}
	}
}

// TestExplainRequests checks the answers about explain requests: the
// same request again, another under the same id, an id that names a run,
// unknown runs, runs that cannot be explained, and that an explain is
// neither listed nor served as a run; and the command line's table.
func TestExplainRequests(t *testing.T) {
	t.Parallel()
	d, _, _, mustRun := MustCLI(t)
	c := client.New(d.URL, "", nil)
	ctx := context.Background()
	d1, d2 := explainBooks()
	from := pushExplainDay(t, c, "", "D1", d1, 1, nil)
	to := pushExplainDay(t, c, "", "D2", d2, 1, nil)

	out := mustRun("explain", from, to, "--watch")
	for _, want := range []string{"explain EXPLAIN-RUN-D1-RUN-D2 submitted", "COMPLETED", "carry_cashflows", "10500", "amendments", "matured", "total"} {
		if !strings.Contains(out, want) {
			t.Errorf("iprs explain --watch printed no %q:\n%s", want, out)
		}
	}
	out = mustRun("explain", "get", "EXPLAIN-RUN-D1-RUN-D2", "--by", "product_type")
	for _, want := range []string{"AMORT_LOAN", "FIXED_BOND", "FX_FWD"} {
		if !strings.Contains(out, want) {
			t.Errorf("iprs explain get --by product_type printed no %q:\n%s", want, out)
		}
	}

	post := func(body string) (int, *client.Problem) {
		code, err := c.Do(ctx, http.MethodPost, "/orch/explains", strings.NewReader(body), "application/json", nil)
		var p *client.Problem
		if errors.As(err, &p) {
			return p.Status, p
		}
		if err != nil {
			t.Fatalf("POST /orch/explains %s: %v", body, err)
		}
		return code, &client.Problem{}
	}
	same := `{"from_run_id":"RUN-D1","to_run_id":"RUN-D2"}`
	if code, _ := post(same); code != http.StatusOK {
		t.Errorf("the same request again: %d, want 200", code)
	}
	if code, _ := post(`{"explain_id":"EXPLAIN-RUN-D1-RUN-D2","from_run_id":"RUN-D2","to_run_id":"RUN-D1"}`); code != http.StatusConflict {
		t.Errorf("another request under the same id: %d, want 409", code)
	}
	if code, got := post(`{"explain_id":"RUN-D1","from_run_id":"RUN-D1","to_run_id":"RUN-D2"}`); code != http.StatusConflict || !strings.Contains(got.Detail, "valuation run") {
		t.Errorf("an explain id naming a run: %d %v, want 409 saying so", code, got)
	}
	if code, got := post(`{"from_run_id":"RUN-NONE","to_run_id":"RUN-D2"}`); code != http.StatusNotFound || !strings.Contains(got.Detail, "RUN-NONE") {
		t.Errorf("an unknown run: %d %v, want 404 naming it", code, got)
	}
	if code, _ := post(`{"from_run_id":"RUN-D1"}`); code != http.StatusBadRequest {
		t.Errorf("no to_run_id: %d, want 400", code)
	}
	// A run without BASE or PV: 422 with both reasons, and the explain
	// of a run with itself still works.
	submitAndWait(t, c, map[string]any{"run_id": "RUN-DV01", "run_type": "SANDBOX", "as_of_time": d2.asOf,
		"market_snapshot_id": "MKT-D2", "position_snapshot_id": "PS-D2",
		"measures": []string{"DV01"}, "scenarios": []string{"RATES_PARALLEL_1BP"}})
	code, got := post(`{"from_run_id":"RUN-DV01","to_run_id":"RUN-D2"}`)
	if code != http.StatusUnprocessableEntity {
		t.Fatalf("a run without BASE and PV: %d %v, want 422", code, got)
	}
	if len(got.Errors) != 2 || got.Errors[0].Pointer != "/from_run_id" {
		t.Errorf("422 reasons %+v, want two at /from_run_id (no BASE, no PV)", got.Errors)
	}

	// A run explained against itself: nothing moves, exactly.
	self := explainAndWait(t, c, to, to, 6)
	whole, err := c.ExplainResults(ctx, self.ExplainID, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(whole) != 1 || whole[0].Total != 0 || whole[0].Carry != 0 || whole[0].FromPV != whole[0].ToPV || whole[0].CarryCashflows != 0 {
		t.Errorf("explain of a run with itself: %+v, want every step 0", whole)
	}

	// Created once (the replay and the refusals left nothing): one audit entry.
	var audit struct {
		Items []struct {
			Action   string `json:"action"`
			ObjectID string `json:"object_id"`
		} `json:"items"`
	}
	if _, err := c.Do(ctx, http.MethodGet, "/orch/audit?object_id=EXPLAIN-RUN-D1-RUN-D2", nil, "", &audit); err != nil {
		t.Fatal(err)
	}
	if len(audit.Items) != 1 || audit.Items[0].Action != "explain.create" {
		t.Errorf("audit of the explain: %+v, want one explain.create", audit.Items)
	}

	// Not a run: absent from the run list and the run routes.
	runs, _, err := c.ListRuns(ctx, "", 100, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		if strings.HasPrefix(r.RunID, "EXPLAIN-") {
			t.Errorf("the run list shows explain %s", r.RunID)
		}
	}
	if _, err := c.GetRun(ctx, "EXPLAIN-RUN-D1-RUN-D2"); client.StatusOf(err) != http.StatusNotFound {
		t.Errorf("GET /orch/runs/<explain>: %v, want 404", err)
	}
	if _, err := c.GetExplain(ctx, "RUN-D1"); client.StatusOf(err) != http.StatusNotFound {
		t.Errorf("GET /orch/explains/<run>: %v, want 404", err)
	}
	var list struct {
		Items []client.Explain `json:"items"`
	}
	if _, err := c.Do(ctx, http.MethodGet, "/orch/explains", nil, "", &list); err != nil || len(list.Items) != 2 || list.Items[0].ExplainID != self.ExplainID {
		t.Errorf("GET /orch/explains: %+v, %v; want the two explains, newest first", list, err)
	}
}
