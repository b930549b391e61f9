package pricing

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// The contractual valuation must not change when model sets, WAL,
// EXPECTED_LOSS and KR01 arrive: testdata/contractual_golden.txt holds the
// binary form of every result of a generated book (loans by terms and by
// explicit cashflows, sorted or not, with past flows, bonds, FX forwards)
// as the engine computed them before model sets existed (written with
// IPRS_UPDATE_GOLDEN=1). Every engine without a model set, and every loan
// no rule matches, must give these bits.

const goldenFile = "testdata/contractual_golden.txt"

// goldenMeasures are the measures that existed when the file was written.
var goldenMeasures = []Measure{PV, DV01, CS01, AccruedInterest, FXDelta}

func goldenMarket(tb testing.TB) *Market {
	tb.Helper()
	m := benchMarket(tb)
	return m
}

// goldenBook generates a reproducible mixed book.
func goldenBook(tb testing.TB, n int) []*Position {
	tb.Helper()
	r := rand.New(rand.NewPCG(20260123, 7))
	var book []*Position
	for i := range n {
		id := fmt.Sprintf("G%04d", i)
		var qty *float64
		if r.IntN(4) == 0 {
			qty = ptr(float64(r.IntN(7)) - 2.5)
		}
		switch k := r.IntN(10); {
		case k < 4: // loan by terms
			attrs := map[string]any{
				"current_principal":     1000 + r.Float64()*90000,
				"coupon_rate":           0.03 + r.Float64()*0.2,
				"remaining_term_months": 1 + r.IntN(360),
				"next_payment_date":     formatDate(daysFromCivil(2026, 1, 24) + int32(r.IntN(31))),
				"last_payment_date":     formatDate(daysFromCivil(2025, 12, 24) + int32(r.IntN(30))),
				"fico":                  600 + r.IntN(250),
			}
			if r.IntN(3) == 0 {
				attrs["coupon_rate"] = 0.0
			}
			book = append(book, MustPosition(tb, id, "AMORT_LOAN", qty, attrs))
		case k < 7: // loan by explicit cashflows, some past, some out of order
			var flows []map[string]any
			start := daysFromCivil(2025, 11, 1) + int32(r.IntN(90))
			for j := range 1 + r.IntN(80) {
				d := start + int32(30*j+r.IntN(5))
				flows = append(flows, cf(formatDate(d), r.Float64()*300, r.Float64()*900))
			}
			if r.IntN(4) == 0 {
				r.Shuffle(len(flows), func(a, b int) { flows[a], flows[b] = flows[b], flows[a] })
			}
			attrs := loanAttrs(flows...)
			attrs["current_principal"] = 5000 + r.Float64()*50000
			if r.IntN(5) == 0 {
				attrs["instrument"] = map[string]any{"risk_modeling": map[string]any{"spread_curve": "FI-SPREAD"}}
			}
			book = append(book, MustPosition(tb, id, "AMORT_LOAN", qty, attrs))
		case k < 9: // bond
			var flows []map[string]any
			for j := range 1 + r.IntN(40) {
				flows = append(flows, map[string]any{"pay_date": formatDate(daysFromCivil(2026, 1, 1) + int32(182*j+r.IntN(10))), "amount": 10 + r.Float64()*100})
			}
			book = append(book, MustPosition(tb, id, "FIXED_BOND", qty, map[string]any{"cashflows": flows, "accrued_interest": r.Float64()}))
		default: // FX forward
			book = append(book, MustPosition(tb, id, "FX_FWD", qty, map[string]any{
				"notional_base": 1e5 * float64(1+r.IntN(20)), "forward_rate": 1 + r.Float64()*0.2,
				"maturity_date": formatDate(daysFromCivil(2026, 1, 1) + int32(r.IntN(4000))),
			}))
		}
	}
	return book
}

// goldenLines prices the book with the engine and renders one line per
// position and scenario: id, scenario, hex of the binary form.
func goldenLines(tb testing.TB, e *Engine, book []*Position) []string {
	tb.Helper()
	var lines []string
	for _, p := range book {
		for s, sid := range e.Scenarios() {
			var v Values
			if err := e.Price(p, s, &v); err != nil {
				tb.Fatal(err)
			}
			lines = append(lines, p.ID+" "+sid+" "+hex.EncodeToString(v.AppendBinary(nil)))
		}
	}
	return lines
}

func TestContractualValuationUnchanged(t *testing.T) {
	t.Parallel()
	m := goldenMarket(t)
	book := goldenBook(t, 600)
	e := MustEngine(t, m, ScenarioIDs(), goldenMeasures, m.AsOfTime())
	got := goldenLines(t, e, book)
	if os.Getenv("IPRS_UPDATE_GOLDEN") == "1" {
		if err := os.WriteFile(goldenFile, []byte(strings.Join(got, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	b := readTestdata(t, "contractual_golden.txt")
	var want []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		want = append(want, sc.Text())
	}
	if len(want) != len(got) {
		t.Fatalf("%d results, golden file has %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("result %d changed:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
}
