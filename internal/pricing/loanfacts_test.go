package pricing

import (
	"testing"
	"time"
)

func TestLoanFacts(t *testing.T) {
	t.Parallel()
	terms := func(extra map[string]any) map[string]any {
		a := map[string]any{
			"current_principal": 12000.0, "coupon_rate": 0.0725, "remaining_term_months": 55,
			"next_payment_date": "2026-02-15", "last_payment_date": "2026-01-15",
		}
		for k, v := range extra {
			a[k] = v
		}
		return a
	}
	runAsOf := time.Date(2026, 1, 23, 17, 0, 0, 0, time.UTC)
	cases := []struct {
		name  string
		qty   *float64
		attrs map[string]any
		want  LoanFacts
	}{
		{"terms, vintage from the schedule", ptr(2.0), terms(map[string]any{"term_months": 60, "fico": 712}),
			// 60 − 55 + 1 = 6 payments before 2026-02 is 2025-08.
			LoanFacts{CurrentPrincipal: 12000, Balance: 24000, Coupon: 0.0725, FICO: 712, HasFICO: true, Age: 5, WAM: 55, Vintage: "2025Q3"}},
		{"origination_date wins", nil, terms(map[string]any{"term_months": 60, "origination_date": "2024-12-31", "loan_age_months": 13}),
			LoanFacts{CurrentPrincipal: 12000, Balance: 12000, Coupon: 0.0725, Age: 13, WAM: 55, Vintage: "2024Q4"}},
		{"a bad origination_date falls back", nil, terms(map[string]any{"term_months": 56, "origination_date": "2024-13-01"}),
			// 56 − 55 + 1 = 2 payments before 2026-02 is 2025-12.
			LoanFacts{CurrentPrincipal: 12000, Balance: 12000, Coupon: 0.0725, Age: 1, WAM: 55, Vintage: "2025Q4"}},
		{"no vintage source", nil, terms(map[string]any{"fico": "n/a"}),
			LoanFacts{CurrentPrincipal: 12000, Balance: 12000, Coupon: 0.0725, WAM: 55}},
		{"term shorter than remaining", nil, terms(map[string]any{"term_months": 50}),
			LoanFacts{CurrentPrincipal: 12000, Balance: 12000, Coupon: 0.0725, WAM: 55}},
		{"vintage across a year", nil, terms(map[string]any{"term_months": 57, "next_payment_date": "2026-01-31"}),
			// 3 payments before 2026-01 is 2025-10.
			LoanFacts{CurrentPrincipal: 12000, Balance: 12000, Coupon: 0.0725, Age: 2, WAM: 55, Vintage: "2025Q4"}},
	}
	for _, c := range cases {
		p := MustPosition(t, "L", "AMORT_LOAN", c.qty, c.attrs)
		got, ok := p.LoanFacts(runAsOf)
		if !ok || got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
	// Explicit cashflows: WAM counts the rows on or after the as-of date
	// (the position's own as_of_date 2026-01-23 here).
	p := MustPosition(t, "E", "AMORT_LOAN", nil, loanAttrs(cf("2026-01-22", 1, 1), cf("2026-01-23", 1, 1), cf("2026-02-23", 1, 1), cf("2026-03-23", 1, 1)))
	if f, _ := p.LoanFacts(runAsOf.AddDate(1, 0, 0)); f.WAM != 3 || f.Vintage != "" || f.Age != 0 {
		t.Errorf("explicit: %+v", f)
	}
	a := loanAttrs(cf("2026-02-23", 1, 1))
	delete(a, "as_of_date")
	p = MustPosition(t, "E2", "AMORT_LOAN", nil, a)
	if f, _ := p.LoanFacts(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)); f.WAM != 0 {
		t.Errorf("after the last row: WAM %d", f.WAM)
	}
	bond := MustPosition(t, "B", "FIXED_BOND", nil, map[string]any{"cashflows": []any{map[string]any{"pay_date": "2027-01-01", "amount": 1}}})
	if _, ok := bond.LoanFacts(runAsOf); ok {
		t.Error("a bond has loan facts")
	}
}

// Vintage reads the same attributes as LoanFacts, from their JSON text.
func TestVintageFromRawAttributes(t *testing.T) {
	t.Parallel()
	raw := func(orig, next, term, rem string) [NumVintageAttrs][]byte {
		var out [NumVintageAttrs][]byte
		for i, s := range []string{orig, next, term, rem} {
			if s != "" {
				out[i] = []byte(s)
			}
		}
		return out
	}
	cases := []struct {
		product string
		raw     [NumVintageAttrs][]byte
		want    string
	}{
		{"AMORT_LOAN", raw(`"2024-07-01"`, `"2026-02-15"`, "60", "55"), "2024Q3"},
		// 60 − 55 + 1 = 6 payments before 2026-02 is 2025-08.
		{"AMORT_LOAN", raw("", `"2026-02-15"`, "60", "55"), "2025Q3"},
		// 2 payments before 2026-01 is 2025-11.
		{"AMORT_LOAN", raw(`"not a date"`, `"2026-01-15"`, "12", "11"), "2025Q4"},
		{"AMORT_LOAN", raw("", `"2026-02-15"`, "60", ""), ""},
		{"AMORT_LOAN", raw("", "", "", ""), ""},
		{"FIXED_BOND", raw(`"2024-07-01"`, "", "", ""), ""},
	}
	for _, c := range cases {
		if got := Vintage(c.product, c.raw); got != c.want {
			t.Errorf("Vintage(%s, %q) = %q, want %q", c.product, c.raw, got, c.want)
		}
	}
}
