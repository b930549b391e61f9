package orchestrator_test

import (
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"testing"
)

type stratItem struct {
	Key        *string  `json:"key"`
	Count      int64    `json:"count"`
	Balance    float64  `json:"balance"`
	BalancePct *float64 `json:"balance_pct"`
	WAC        *float64 `json:"wac"`
	FICO       *float64 `json:"fico"`
	WALA       *float64 `json:"wala"`
	WAM        *float64 `json:"wam"`
}

func stratLoan(id string, principal, qty, coupon float64, extra map[string]any) map[string]any {
	attrs := map[string]any{"current_principal": principal, "coupon_rate": coupon, "last_payment_date": "2026-01-15"}
	for k, v := range extra {
		attrs[k] = v
	}
	return map[string]any{"position_id": id, "instrument_id": "INS-" + id, "product_type": "AMORT_LOAN", "quantity": qty, "attributes": attrs}
}

func TestStrats(t *testing.T) {
	t.Parallel()
	eachStore(t, envOpts{}, testStrats)
}

func testStrats(t *testing.T, e *env) {
	cfs := []map[string]any{
		{"pay_date": "2026-01-15", "interest": 500, "principal": 1000},
		{"pay_date": "2026-02-15", "interest": 500, "principal": 1000},
		{"pay_date": "2026-03-15", "interest": 495, "principal": 1000},
		{"pay_date": "2026-04-15", "interest": 490, "principal": 98000},
	}
	e.upload(snapshotBody("TAPE", "BOOK-T", "2026-01-23T17:00:00Z", []map[string]any{
		// Balance 100,000; age 360 − 300 = 60; WAM 300; 2024Q3.
		stratLoan("L1", 100000, 1, 0.05, map[string]any{"fico": 700, "term_months": 360, "remaining_term_months": 300,
			"next_payment_date": "2026-02-15", "origination_date": "2024-08-10"}),
		// Balance 2 × 50,000; age 12 (loan_age_months); WAM 48; no vintage source.
		stratLoan("L2", 50000, 2, 0.07, map[string]any{"fico": 600, "loan_age_months": 12, "remaining_term_months": 48,
			"next_payment_date": "2026-02-15"}),
		// Balance 200,000; no FICO; age 60; WAM 120; 180 − 120 + 1 = 61
		// payments before 2026-02 is 2021-01.
		stratLoan("L3", 200000, 1, 0.04, map[string]any{"term_months": 180, "remaining_term_months": 120,
			"next_payment_date": "2026-02-15"}),
		// Balance 100,000; FICO "n/a" is no FICO; age 0; WAM = the 3
		// schedule rows from the as-of date on.
		stratLoan("L4", 100000, 1, 0.06, map[string]any{"fico": "n/a", "cashflows": cfs}),
		bond("B1"),
	}), http.StatusCreated)

	p := func(x float64) *float64 { return &x }
	s := func(x string) *string { return &x }
	l1 := stratItem{Count: 1, Balance: 100000, BalancePct: p(20), WAC: p(0.05), FICO: p(700), WALA: p(60), WAM: p(300)}
	l2 := stratItem{Count: 1, Balance: 100000, BalancePct: p(20), WAC: p(0.07), FICO: p(600), WALA: p(12), WAM: p(48)}
	l3 := stratItem{Count: 1, Balance: 200000, BalancePct: p(40), WAC: p(0.04), WALA: p(60), WAM: p(120)}
	all := stratItem{Count: 4, Balance: 500000, BalancePct: p(100),
		WAC:  p(0.052), // (5,000 + 7,000 + 8,000 + 6,000) / 500,000
		FICO: p(650),   // (700 + 600) × 100,000 / 200,000
		WALA: p(38.4),  // (60 + 12 + 2·60 + 0) × 100,000 / 500,000
		WAM:  p(118.2)} // (300 + 48 + 2·120 + 3) × 100,000 / 500,000
	keyed := func(k string, it stratItem) stratItem { it.Key = s(k); return it }
	cases := []struct {
		query string
		want  []stratItem
	}{
		{"", []stratItem{all}},
		{"?by=product_type", []stratItem{keyed("AMORT_LOAN", all)}},
		{"?by=portfolio_node_id", []stratItem{keyed("BOOK-T", all)}},
		{"?by=attr:fico&bands=580,680,740", []stratItem{keyed("580–680", l2), keyed("680–740", l1),
			// L3 and L4: (8,000 + 6,000) / 300,000; ages (2·60 + 0)/3; WAM (240 + 3)/3.
			{Key: s("n/a"), Count: 2, Balance: 300000, BalancePct: p(60), WAC: p(14000.0 / 300000), WALA: p(40), WAM: p(81)}}},
		{"?by=vintage", []stratItem{keyed("2021Q1", l3), keyed("2024Q3", l1),
			// L2 and L4: (7,000 + 6,000) / 200,000; FICO of L2 alone.
			{Key: s("n/a"), Count: 2, Balance: 200000, BalancePct: p(40), WAC: p(0.065), FICO: p(600), WALA: p(6), WAM: p(25.5)}}},
	}
	for _, c := range cases {
		r := e.do(http.MethodGet, "/orch/position-snapshots/TAPE/strats"+c.query, nil)
		e.mustStatus(r, http.StatusOK)
		var got struct{ Items []stratItem }
		if err := json.Unmarshal(r.body, &got); err != nil {
			t.Fatal(err)
		}
		if len(got.Items) != len(c.want) {
			t.Errorf("%s: %s", c.query, r.body)
			continue
		}
		for i, w := range c.want {
			if !sameStrat(got.Items[i], w) {
				t.Errorf("%s item %d: %s", c.query, i, r.body)
			}
		}
	}
	for _, c := range []struct {
		query  string
		status int
		param  string
	}{
		{"?by=product_type&bands=580", 400, "bands"},
		{"?by=vintage&bands=580", 400, "bands"},
		{"?bands=580", 400, "bands"},
		{"?by=attr:fico&bands=680,580", 400, "bands"},
		{"?by=attr:fico&bands=", 400, "bands"},
		{"?by=fico", 400, "by"},
		{"?by=attr:1x", 400, "by"},
		{"?limit=3", 400, "limit"},
	} {
		r := e.do(http.MethodGet, "/orch/position-snapshots/TAPE/strats"+c.query, nil)
		e.mustStatus(r, c.status)
		found := false
		for _, f := range r.problems(t) {
			found = found || f.Parameter == c.param
		}
		if !found {
			t.Errorf("%s: problem %s does not name %s", c.query, r.body, c.param)
		}
	}
	e.mustStatus(e.do(http.MethodGet, "/orch/position-snapshots/NOPE/strats", nil), http.StatusNotFound)
	// A snapshot without loans has no groups.
	e.upload(snapshotBody("BONDS", "BOOK-B", "2026-01-23T17:00:00Z", []map[string]any{bond("B2")}), http.StatusCreated)
	r := e.do(http.MethodGet, "/orch/position-snapshots/BONDS/strats", nil)
	e.mustStatus(r, http.StatusOK)
	if strings.TrimSpace(string(r.body)) != `{"items":[]}` {
		t.Errorf("no loans: %s", r.body)
	}
}

// sameStrat compares to the hand-computed figures: counts, balances and
// keys exactly, averages to a few ulps (each is two exact sums rounded and
// divided).
func sameStrat(a, b stratItem) bool {
	near := func(x, y *float64) bool {
		if x == nil || y == nil {
			return x == nil && y == nil
		}
		return math.Abs(*x-*y) <= 4e-16*math.Abs(*y)
	}
	sameKey := (a.Key == nil) == (b.Key == nil) && (a.Key == nil || *a.Key == *b.Key)
	return sameKey && a.Count == b.Count && a.Balance == b.Balance && near(a.BalancePct, b.BalancePct) &&
		near(a.WAC, b.WAC) && near(a.FICO, b.FICO) && near(a.WALA, b.WALA) && near(a.WAM, b.WAM)
}
