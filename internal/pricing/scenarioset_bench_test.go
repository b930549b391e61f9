package pricing

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchHistoricalSet is a set of n scenarios shaped like a historical one:
// each moves USD-OIS and LOAN-SPREAD by a CURVE_TENOR_SHIFTS at 13 tenors
// and EURUSD by an FX_SPOT.
func benchHistoricalSet(n int) *ScenarioSet {
	rng := rand.New(rand.NewPCG(1, 2))
	tenors := []string{"ON", "1M", "3M", "6M", "1Y", "2Y", "3Y", "5Y", "7Y", "10Y", "15Y", "20Y", "30Y"}
	set := &ScenarioSet{ScenarioSetID: "BENCH"}
	for k := range n {
		sc := SetScenario{ScenarioID: fmt.Sprintf("HIST-%04d", k)}
		for _, c := range []string{"USD-OIS", "LOAN-SPREAD"} {
			bp := map[string]float64{}
			for _, tn := range tenors {
				bp[tn] = 5 * rng.NormFloat64()
			}
			sc.Shocks = append(sc.Shocks, Shock{Type: ShockCurveTenorShifts, Curves: SelectIDs(c), ShiftsBP: bp})
		}
		rel := 0.005 * rng.NormFloat64()
		sc.Shocks = append(sc.Shocks, Shock{Type: ShockFXSpot, Pairs: SelectIDs("EURUSD"), Relative: &rel})
		set.Scenarios = append(set.Scenarios, sc)
	}
	return set
}

// BenchmarkLoanBookHistorical250 builds an engine with BASE and 250
// historical-shaped scenarios and prices 1,000 five-year loans under all
// of them (the four loan measures): one op is the cold engine and the
// whole book, so building the scenario markets and their discount factor
// tables counts.
func BenchmarkLoanBookHistorical250(b *testing.B) {
	m := benchMarket(b)
	set := benchHistoricalSet(250)
	scen := append([]string{"BASE"}, set.ScenarioIDs()...)
	book := make([]*Position, 1000)
	for i := range book {
		book[i] = benchLoan(b, fmt.Sprintf("L%d", i), 1+i%28)
	}
	var v Values
	meter := startCPU(b)
	for b.Loop() {
		e, err := NewEngine(m, scen, loanMeasures, m.AsOfTime(), WithScenarioSets(set))
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range book {
			for s := range scen {
				if err := e.Price(p, s, &v); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	meter.report(b.N * len(book) * len(scen))
}
