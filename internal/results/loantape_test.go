package results

import (
	"context"
	"fmt"
	"testing"

	"github.com/iprs/iprs/internal/store"
)

// loanTapeBook has loans whose FICO and vintage sources cover every case
// of SPEC §4.6, with PVs that are powers of two so each group's sum names
// its members.
func loanTapeBook() []bookPosition {
	pv := func(x float64) map[string]vals { return map[string]vals{"BASE": {"PV": x}} }
	return []bookPosition{
		// origination_date: 2024-07 is 2024Q3.
		{snapshot: "SA", id: "F1", product: "AMORT_LOAN", attrs: `{"fico":579,"origination_date":"2024-07-15"}`, values: pv(1)},
		// 60 − 55 + 1 = 6 payments before 2026-02 is 2025-08: 2025Q3.
		{snapshot: "SA", id: "F2", product: "AMORT_LOAN", attrs: `{"fico":580,"next_payment_date":"2026-02-15","term_months":60,"remaining_term_months":55}`, values: pv(2)},
		// origination_date wins over the schedule (which would say 2025Q3).
		{snapshot: "SA", id: "F3", product: "AMORT_LOAN", attrs: `{"fico":679.5,"origination_date":"2024-08-01","next_payment_date":"2026-02-15","term_months":60,"remaining_term_months":55}`, values: pv(4)},
		// 12 − 11 + 1 = 2 payments before 2026-01 is 2025-11: 2025Q4.
		{snapshot: "SB", id: "F4", product: "AMORT_LOAN", attrs: `{"fico":720,"next_payment_date":"2026-01-10","term_months":12,"remaining_term_months":11}`, values: pv(8)},
		// A string FICO and no vintage source.
		{snapshot: "SB", id: "F5", product: "AMORT_LOAN", attrs: `{"fico":"n/a","next_payment_date":"2026-01-10"}`, values: pv(16)},
		// No FICO; term without remaining term is no source.
		{snapshot: "SB", id: "F6", product: "AMORT_LOAN", attrs: `{"term_months":12,"next_payment_date":"2026-01-10"}`, values: pv(32)},
		// Not a loan: no vintage even with an origination date.
		{snapshot: "SB", id: "B1", product: "FIXED_BOND", attrs: `{"origination_date":"2024-07-15"}`, values: pv(64)},
	}
}

func TestCubeBandsAndVintage(t *testing.T) {
	t.Parallel()
	eachStore(t, testCubeBandsAndVintage)
}

func testCubeBandsAndVintage(t *testing.T, st store.Store) {
	run := MustRunWithResults(t, st, "LT", []string{"PV"}, []string{"BASE"}, loanTapeBook(), 2, false, nil)
	if run.Status != store.RunCompleted {
		t.Fatalf("run status %s", run.Status)
	}
	srv := MustServer(t, st)
	cases := []struct {
		query string
		want  []CubeCell
	}{
		// 579 < 580; 580 and 679.5 in 580–680 (a band holds its lower
		// bound); 720 in 680–740; "n/a", absent and the bond in n/a. Keys
		// in bytewise order: '5' < '6' < '<' < 'n'.
		{"by=attr:fico&bands=580,680,740", []CubeCell{{"580–680", 6.0, 2}, {"680–740", 8.0, 1}, {"<580", 1.0, 1}, {"n/a", 112.0, 3}}},
		// Spaces and another spelling of the same bands give the same answer.
		{"by=attr:fico&bands=580,+6.8e2,740.0", []CubeCell{{"580–680", 6.0, 2}, {"680–740", 8.0, 1}, {"<580", 1.0, 1}, {"n/a", 112.0, 3}}},
		// Other bands are another cached grouping.
		{"by=attr:fico&bands=700", []CubeCell{{"<700", 7.0, 3}, {"n/a", 112.0, 3}, {"≥700", 8.0, 1}}},
		// Without bands the values are keys; the string "n/a" joins n/a.
		{"by=attr:fico", []CubeCell{{"579", 1.0, 1}, {"580", 2.0, 1}, {"679.5", 4.0, 1}, {"720", 8.0, 1}, {"n/a", 112.0, 3}}},
		{"by=vintage", []CubeCell{{"2024Q3", 5.0, 2}, {"2025Q3", 2.0, 1}, {"2025Q4", 8.0, 1}, {"n/a", 112.0, 3}}},
	}
	for round := range 2 { // the second round reads the cache
		for _, c := range cases {
			var got []CubeCell
			getJSON(t, srv, "/results/runs/LT/cube?measure=PV&"+c.query, 200, &got)
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("round %d cube %s:\n got %v\nwant %v", round, c.query, got, c.want)
			}
		}
	}
	// Each grouping is cached once, for every measure and scenario.
	for _, name := range []string{"cube|attr:fico|bands=580,680,740", "cube|attr:fico|bands=700", "cube|vintage"} {
		if _, err := st.RunAggregateGet(context.Background(), "LT", name); err != nil {
			t.Errorf("cache %q: %v", name, err)
		}
	}
	for _, c := range []struct{ query, param string }{
		{"by=product_type&bands=580", "bands"},
		{"by=vintage&bands=580", "bands"},
		{"by=attr:fico&bands=", "bands"},
		{"by=attr:fico&bands=680,580", "bands"},
		{"by=attr:fico&bands=580,abc", "bands"},
		{"by=vintages", "by"},
	} {
		wantProblem(t, srv, "/results/runs/LT/cube?measure=PV&"+c.query, 400, c.param)
	}
}
