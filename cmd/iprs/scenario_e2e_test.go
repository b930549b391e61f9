package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/client"
	"github.com/iprs/iprs/internal/gen"
	"github.com/iprs/iprs/internal/pricing"
)

// e2eSet is a scenario set over the generated market: a parallel +1bp on
// every *-OIS curve (the built-in RATES_PARALLEL_1BP as a set), a twist of
// USD-OIS and a 5% fall of every spot.
const e2eSet = `{"scenario_set_id": "E2E-SET", "description": "end-to-end", "scenarios": [
  {"scenario_id": "OIS-UP-1BP", "shocks": [{"type": "CURVE_SHIFT", "curves": "*-OIS", "shift_bp": 1}]},
  {"scenario_id": "TWIST", "shocks": [{"type": "CURVE_TENOR_SHIFTS", "curves": ["USD-OIS"], "shifts_bp": {"1Y": -20, "10Y": 30}}]},
  {"scenario_id": "FX-DOWN", "shocks": [{"type": "FX_SPOT", "pairs": "*", "relative": -0.05}]}]}`

// TestScenarioSetRunEndToEnd pushes a scenario set and values a run with
// it through the workers on each store: every number equals the engine's
// with the same set, the set's +1bp scenario equals RATES_PARALLEL_1BP bit
// for bit, and the VaR answer equals one derived from the exported P&L.
func TestScenarioSetRunEndToEnd(t *testing.T) {
	for _, tdb := range testDatabases(t) {
		t.Run(tdb.name, func(t *testing.T) {
			d := MustStartDev(t, tdb.db, nil)
			c := client.New(d.URL, "", nil)
			ctx := context.Background()
			sfx := uniqueSuffix()
			gi := MustPushGenerated(t, c, "MKT-SET-"+sfx, gen.Options{NodeID: "BOOK-SET-" + sfx, AsOf: demoAsOf, Loans: 150, Bonds: 10, FXForwards: 10, Seed: 5})
			set := strings.Replace(e2eSet, "E2E-SET", "E2E-SET-"+sfx, 1)
			if _, _, err := c.PushScenarioSet(ctx, strings.NewReader(set)); err != nil {
				t.Fatal(err)
			}
			run := submitAndWait(t, c, map[string]any{
				"run_id": "RUN-SET-" + sfx, "run_type": "SANDBOX", "as_of_time": demoAsOf.Format(time.RFC3339),
				"market_snapshot_id": "MKT-SET-" + sfx, "position_snapshot_id": gi.Receipt.PositionSnapshotID,
				"measures":  []string{"PV", "DV01", "FX_DELTA"},
				"scenarios": []any{"BASE", "RATES_PARALLEL_1BP", map[string]any{"scenario_set_id": "E2E-SET-" + sfx}},
				"execution": map[string]any{"hash_mod": 4},
			})
			wantIDs := []string{"BASE", "RATES_PARALLEL_1BP", "OIS-UP-1BP", "TWIST", "FX-DOWN"}
			if !slices.Equal(run.Scenarios, wantIDs) {
				t.Fatalf("run scenarios %v, want %v", run.Scenarios, wantIDs)
			}
			parsed, err := pricing.DecodeScenarioSet([]byte(set))
			if err != nil {
				t.Fatal(err)
			}
			want := priceDirectly(t, gi.Market, gi.Book, run.Scenarios, run.Measures, demoAsOf, pricing.WithScenarioSets(parsed))
			got := exportedResults(t, c, run.RunID)
			compareResults(t, run.RunID+" against the engine", got, want)
			for key, vals := range got {
				id, sc, _ := strings.Cut(key, "/")
				if sc != "OIS-UP-1BP" {
					continue
				}
				if !sameValues(vals, got[id+"/RATES_PARALLEL_1BP"]) {
					t.Errorf("%s: +1bp set scenario %v, RATES_PARALLEL_1BP %v", id, vals, got[id+"/RATES_PARALLEL_1BP"])
				}
			}

			// VaR at 0.5 over the set's three scenarios: Nβ = 1.5, so
			// VaR = L(2) and ES = (L(1) + 0.5·L(2)) / 1.5, from the book's
			// exact P&L vector (each position's PV difference in float64).
			ids := []string{"OIS-UP-1BP", "TWIST", "FX-DOWN"}
			losses := make([]*big.Rat, len(ids))
			for j, sc := range ids {
				sum := new(big.Rat)
				for key, vals := range got {
					id, s, _ := strings.Cut(key, "/")
					if s == "BASE" {
						sum.Add(sum, new(big.Rat).SetFloat64(got[id+"/"+sc]["PV"]-vals["PV"]))
					}
				}
				f, _ := sum.Float64() // the correctly rounded P&L
				losses[j] = new(big.Rat).SetFloat64(-f)
			}
			order := []int{0, 1, 2}
			slices.SortFunc(order, func(a, b int) int {
				if c := losses[b].Cmp(losses[a]); c != 0 {
					return c
				}
				return strings.Compare(ids[a], ids[b])
			})
			wantVaR, _ := losses[order[1]].Float64()
			es := new(big.Rat).Add(losses[order[0]], new(big.Rat).Mul(big.NewRat(1, 2), losses[order[1]]))
			wantES, _ := es.Quo(es, big.NewRat(3, 2)).Float64()
			var res []struct {
				Key   *string `json:"key"`
				VaR   float64 `json:"var"`
				ES    float64 `json:"es"`
				N     int     `json:"scenario_count"`
				Worst string  `json:"worst_scenario_id"`
			}
			if _, err := c.Do(ctx, "GET", "/results/runs/"+run.RunID+"/var?confidence=0.5&scenario_set_id=E2E-SET-"+sfx, nil, "", &res); err != nil {
				t.Fatalf("var: %v", err)
			}
			if len(res) != 1 || res[0].Key != nil || res[0].VaR != wantVaR || res[0].ES != wantES || res[0].N != 3 || res[0].Worst != ids[order[0]] {
				t.Errorf("VaR answer %+v, want VaR %v ES %v worst %s", res, wantVaR, wantES, ids[order[0]])
			}
		})
	}
}

// TestModelSetRunEndToEnd values a generated book with the demo model set
// through the workers on each store: every measure, the behavioural ones
// included, equals the engine's with the same model set, bit for bit, and
// modelled loans carry expected losses.
func TestModelSetRunEndToEnd(t *testing.T) {
	for _, tdb := range testDatabases(t) {
		t.Run(tdb.name, func(t *testing.T) {
			d := MustStartDev(t, tdb.db, nil)
			c := client.New(d.URL, "", nil)
			ctx := context.Background()
			sfx := uniqueSuffix()
			gi := MustPushGenerated(t, c, "MKT-MS-"+sfx, gen.Options{NodeID: "BOOK-MS-" + sfx, AsOf: demoAsOf, Loans: 200, Bonds: 5, FXForwards: 5, Seed: 9})
			doc, err := json.Marshal(gen.ModelSet("MS-E2E-" + sfx))
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := c.PushModelSet(ctx, bytes.NewReader(doc)); err != nil {
				t.Fatal(err)
			}
			ms, probs := pricing.ParseModelSet(doc)
			if len(probs) > 0 {
				t.Fatal(probs)
			}
			run := submitAndWait(t, c, map[string]any{
				"run_id": "RUN-MS-" + sfx, "run_type": "SANDBOX", "as_of_time": demoAsOf.Format(time.RFC3339),
				"market_snapshot_id": "MKT-MS-" + sfx, "position_snapshot_id": gi.Receipt.PositionSnapshotID,
				"model_set_id": "MS-E2E-" + sfx,
				"measures":     []string{"PV", "DV01", "CS01", "WAL", "EXPECTED_LOSS", "KR01"},
				"scenarios":    []string{"BASE", "RATES_PARALLEL_1BP"},
				"execution":    map[string]any{"hash_mod": 4},
			})
			want := priceDirectly(t, gi.Market, gi.Book, run.Scenarios, run.Measures, demoAsOf, pricing.WithModelSet(ms))
			got := exportedResults(t, c, run.RunID)
			compareResults(t, run.RunID+" against the engine", got, want)
			losses := 0
			for key, vals := range got {
				if strings.HasSuffix(key, "/BASE") && vals["EXPECTED_LOSS"] > 0 {
					losses++
				}
			}
			if losses == 0 {
				t.Error("no loan of the book has an expected loss under the demo model set")
			}
			// Valued contractually, the same book has no expected loss.
			plain := submitAndWait(t, c, map[string]any{
				"run_id": "RUN-MS-PLAIN-" + sfx, "run_type": "SANDBOX", "as_of_time": demoAsOf.Format(time.RFC3339),
				"market_snapshot_id": "MKT-MS-" + sfx, "position_snapshot_id": gi.Receipt.PositionSnapshotID,
				"measures": []string{"PV", "EXPECTED_LOSS"}, "scenarios": []string{"BASE"},
			})
			for key, vals := range exportedResults(t, c, plain.RunID) {
				if x, ok := vals["EXPECTED_LOSS"]; ok && x != 0 {
					t.Fatalf("%s: contractual EXPECTED_LOSS %v", key, x)
				}
			}
		})
	}
}
