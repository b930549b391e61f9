package results

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/iprs/iprs/internal/canon"
	"github.com/iprs/iprs/internal/store"
)

// varSetScenarios are the eight scenarios of the set SET-A.
var varSetScenarios = []string{"S1", "S2", "S3", "S4", "S5", "S6", "S7", "S8"}

// mustVaRRun stores the scenario set SET-A and a run over BASE and its
// scenarios: position A (AMORT_LOAN, desk X) with P&L a and position B
// (FIXED_BOND, desk Y) with P&L b against BASE.
func mustVaRRun(t *testing.T, st store.Store, runID string) {
	t.Helper()
	var scen []string
	for _, id := range varSetScenarios {
		scen = append(scen, fmt.Sprintf(`{"scenario_id":%q,"shocks":[{"type":"CURVE_SHIFT","curves":"*-OIS","shift_bp":1}]}`, id))
	}
	payload, err := canon.Canonicalize([]byte(`{"scenario_set_id":"SET-A","scenarios":[` + strings.Join(scen, ",") + `]}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.SetCreate(context.Background(), &store.AnalyticSet{Kind: store.SetKindScenario, ID: "SET-A",
		Payload: payload, PayloadHash: canon.SHA256Hex(payload)}); err != nil {
		t.Fatal(err)
	}
	a := []float64{-10, 5, -3, 0, 2, -7, 1, 4}
	b := []float64{6, -8, -3, 1, -9, 2, 0, -1}
	pos := func(id, product, desk string, base float64, pnl []float64) bookPosition {
		v := map[string]vals{"BASE": {"PV": base}}
		for j, sc := range varSetScenarios {
			v[sc] = vals{"PV": base + pnl[j]}
		}
		return bookPosition{snapshot: "SA", id: id, product: product, attrs: `{"desk":"` + desk + `"}`, values: v}
	}
	request := []byte(`{"scenarios":["BASE",{"scenario_set_id":"SET-A"}]}`)
	mustRunWithRequest(t, st, runID, request, []string{"PV"}, append([]string{"BASE"}, varSetScenarios...),
		[]bookPosition{pos("A", "AMORT_LOAN", "X", 100, a), pos("B", "FIXED_BOND", "Y", 50, b)}, 2, false, nil)
}

func TestVaR(t *testing.T) {
	t.Parallel()
	eachStore(t, testVaR)
}

func testVaR(t *testing.T, st store.Store) {
	mustVaRRun(t, st, "VAR-1")
	srv := MustServer(t, st)
	type item struct {
		Key   *string `json:"key"`
		VaR   float64 `json:"var"`
		ES    float64 `json:"es"`
		N     int     `json:"scenario_count"`
		Worst string  `json:"worst_scenario_id"`
	}
	get := func(query string) []item {
		t.Helper()
		var got []item
		getJSON(t, srv, "/results/runs/VAR-1/var?"+query, 200, &got)
		return got
	}
	// N = 8 at 0.75: Nβ = 2, so VaR = L(2) and ES = (L(1) + L(2)) / 2.
	// The whole book: losses −(a + b) = 4, 3, 6, −1, 7, 5, −1, −3, sorted
	// 7 (S5), 6 (S3), …: VaR 6, ES 6.5.
	whole := get("scenario_set_id=SET-A&confidence=0.75")
	if len(whole) != 1 || whole[0].Key != nil || whole[0].VaR != 6 || whole[0].ES != 6.5 || whole[0].N != 8 || whole[0].Worst != "S5" {
		t.Errorf("whole book: %+v, want key null, VaR 6, ES 6.5, 8 scenarios, worst S5", whole)
	}
	// Each desk from its own vector: A's losses sorted 10 (S1), 7 (S6):
	// VaR 7, ES 8.5; B's 9 (S5), 8 (S2): VaR 8, ES 8.5. The parts' VaRs
	// add up to 15, not the book's 6.
	for _, by := range []string{"attr:desk", "product_type"} {
		got := get("scenario_set_id=SET-A&confidence=0.75&by=" + by)
		want := []struct {
			key    string
			vr, es float64
			worst  string
		}{{"X", 7, 8.5, "S1"}, {"Y", 8, 8.5, "S5"}}
		if by == "product_type" {
			want[0].key, want[1].key = "AMORT_LOAN", "FIXED_BOND"
		}
		if len(got) != 2 {
			t.Fatalf("by %s: %+v", by, got)
		}
		for i, w := range want {
			g := got[i]
			if g.Key == nil || *g.Key != w.key || g.VaR != w.vr || g.ES != w.es || g.Worst != w.worst || g.N != 8 {
				t.Errorf("by %s group %d: %+v, want %s VaR %v ES %v worst %s", by, i, g, w.key, w.vr, w.es, w.worst)
			}
		}
	}
	// Neither position has a vintage (A gives no source, B is a bond): one
	// group n/a with the whole book's figures.
	if got := get("scenario_set_id=SET-A&confidence=0.75&by=vintage"); len(got) != 1 || got[0].Key == nil || *got[0].Key != "n/a" ||
		got[0].VaR != 6 || got[0].ES != 6.5 || got[0].Worst != "S5" {
		t.Errorf("by vintage: %+v, want n/a with VaR 6, ES 6.5, worst S5", got)
	}
	// The default confidence 0.99 needs N ≥ 100: with 8 scenarios a 400.
	wantProblem(t, srv, "/results/runs/VAR-1/var?scenario_set_id=SET-A", 400, "confidence")
	for _, q := range []string{"confidence=0.75", "scenario_set_id=SET-A&confidence=1.5", "scenario_set_id=SET-A&confidence=0.9",
		"scenario_set_id=SET-A&confidence=75%25", "scenario_set_id=SET-A&confidence=0.75&by=desk", "scenario_set_id=SET-A&confidence=0.75&bogus=1"} {
		wantProblem(t, srv, "/results/runs/VAR-1/var?"+q, 400, "")
	}
	wantProblem(t, srv, "/results/runs/VAR-1/var?scenario_set_id=SET-B&confidence=0.75", 422, "")
	wantProblem(t, srv, "/results/runs/NOPE/var?scenario_set_id=SET-A&confidence=0.75", 404, "")
}

// TestScannedAggregatesMatchTaskPartials: on a book larger than the
// scan's batches, every position's attribute grp names its product type,
// so the scanned groupings (VaR and the cube by attr:grp, read across
// goroutines straight from the stored bytes) must give, bit for bit, what
// the tasks' partials give by product_type, for every scenario.
func TestScannedAggregatesMatchTaskPartials(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st store.Store) {
		mustVaRRun(t, st, "VAR-0") // stores SET-A
		products := []string{"AMORT_LOAN", "FIXED_BOND", "FX_FORWARD"}
		var book []bookPosition
		for i := range 3*scanBatchRows + 37 {
			prod := products[i%len(products)]
			// Magnitudes from 1e-3 to 1e9, so that the order of the terms
			// would change a float64 running sum.
			base := float64((i*7919)%1000-500) * math.Pow(10, float64(i%13-3))
			v := map[string]vals{"BASE": {"PV": base}}
			for j, sc := range varSetScenarios {
				v[sc] = vals{"PV": base + float64((i*31+j*17)%97-48)*math.Pow(10, float64((i+j)%11-2))}
			}
			book = append(book, bookPosition{snapshot: "SA", id: fmt.Sprintf("P%05d", i), product: prod,
				attrs: `{"grp":"` + prod + `"}`, values: v})
		}
		request := []byte(`{"scenarios":["BASE",{"scenario_set_id":"SET-A"}]}`)
		mustRunWithRequest(t, st, "VAR-BIG", request, []string{"PV"}, append([]string{"BASE"}, varSetScenarios...), book, 8, false, nil)
		srv := MustServer(t, st)
		for _, path := range []string{"var?scenario_set_id=SET-A&confidence=0.75&by=", "cube?measure=PV&scenario=S3&by=", "cube?measure=PV&by="} {
			var byProduct, byAttr []map[string]any
			getJSON(t, srv, "/results/runs/VAR-BIG/"+path+"product_type", 200, &byProduct)
			getJSON(t, srv, "/results/runs/VAR-BIG/"+path+"attr:grp", 200, &byAttr)
			if len(byProduct) != len(products) || !reflect.DeepEqual(byProduct, byAttr) {
				t.Errorf("%s: by product_type %v\nby attr:grp %v", path, byProduct, byAttr)
			}
		}
	})
}
