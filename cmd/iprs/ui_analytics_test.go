package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/client"
	"github.com/iprs/iprs/internal/config"
	"github.com/iprs/iprs/internal/gen"
	"github.com/iprs/iprs/internal/ui/uitest"
)

// uiSet is a scenario set of four scenarios over the generated market: at
// a confidence of 0.5 the tail holds N·(1 − c) = 2 scenarios, so VaR and
// ES differ in general, and the default 0.99 (N·(1 − c) < 1) is refused.
const uiSet = `{"scenario_set_id": "UI-SET", "description": "dashboard test", "scenarios": [
  {"scenario_id": "OIS-UP-1BP", "shocks": [{"type": "CURVE_SHIFT", "curves": "*-OIS", "shift_bp": 1}]},
  {"scenario_id": "OIS-DOWN-10BP", "shocks": [{"type": "CURVE_SHIFT", "curves": "*-OIS", "shift_bp": -10}]},
  {"scenario_id": "TWIST", "shocks": [{"type": "CURVE_TENOR_SHIFTS", "curves": ["USD-OIS"], "shifts_bp": {"1Y": -20, "10Y": 30}}]},
  {"scenario_id": "FX-DOWN", "shocks": [{"type": "FX_SPOT", "pairs": "*", "relative": -0.05}]}]}`

// krTenors are the key-rate tenors of KR01 in order.
var krTenors = []string{"3M", "6M", "1Y", "2Y", "3Y", "5Y", "7Y", "10Y", "15Y", "20Y", "30Y"}

// varItem is a group of GET /results/runs/{id}/var.
type varItem struct {
	Key   *string `json:"key"`
	VaR   float64 `json:"var"`
	ES    float64 `json:"es"`
	N     int     `json:"scenario_count"`
	Worst string  `json:"worst_scenario_id"`
}

// ladderBar is a bar of a KR01 ladder chart as the browser draws it.
type ladderBar struct {
	Key   string `json:"key"`
	Value string `json:"value"`
	Neg   bool   `json:"neg"`
}

// checkLadder compares the KR01 section of the run page with the API's
// summary of one scenario: a table row per curve with the 11 tenors, and
// per curve a chart of 11 bars carrying the same numbers, the negative
// ones in the negative colour.
func checkLadder(t *testing.T, b *uitest.Browser, scenario string, kr map[string]map[string]float64) {
	t.Helper()
	if got := uitest.Eval[string](b, `document.getElementById('kr01-body')?.dataset.scenario ?? ''`); got != scenario {
		t.Fatalf("KR01 ladder shows scenario %q, want %s", got, scenario)
	}
	if hdr := headers(b, "#kr01-table"); !slices.Equal(hdr, append([]string{"Curve"}, krTenors...)) {
		t.Errorf("KR01 columns %v, want Curve and %v", hdr, krTenors)
	}
	rows := tableCells(b, "#kr01-table", "body")
	if len(rows) != len(kr) {
		t.Fatalf("%s: KR01 table has %d curves, want the API's %d", scenario, len(rows), len(kr))
	}
	for _, r := range rows {
		ladder, ok := kr[r[0].Text]
		if !ok {
			t.Errorf("%s: KR01 row %q is not a curve of the API", scenario, r[0].Text)
			continue
		}
		for i, tenor := range krTenors {
			sameNumber(t, fmt.Sprintf("%s KR01 %s %s", scenario, r[0].Text, tenor), r[1+i], ladder[tenor], 2)
		}
	}
	for curve, ladder := range kr {
		bars := uitest.Eval[[]ladderBar](b, fmt.Sprintf(`[...document.querySelectorAll('.ladder-box[data-curve=%q] rect.bar')]
			.map((r) => ({ key: r.dataset.key, value: r.dataset.value, neg: r.classList.contains('neg') }))`, curve))
		if len(bars) != len(krTenors) {
			t.Errorf("%s: chart of %s has %d bars, want %d", scenario, curve, len(bars), len(krTenors))
			continue
		}
		for i, bar := range bars {
			want := ladder[krTenors[i]]
			got, err := strconv.ParseFloat(bar.Value, 64)
			if bar.Key != krTenors[i] || err != nil || got != want {
				t.Errorf("%s: bar %d of %s is %s=%s, want %s=%v", scenario, i, curve, bar.Key, bar.Value, krTenors[i], want)
			}
			if bar.Neg != (want < 0) {
				t.Errorf("%s: bar %s of %s (%v) negative colour %v", scenario, krTenors[i], curve, want, bar.Neg)
			}
		}
	}
}

// showVaR submits the VaR form with the given values and waits for the
// new page.
func showVaR(b *uitest.Browser, runID, confidence, by string) {
	uitest.Eval[bool](b, fmt.Sprintf(`(() => {
		document.getElementById('var-confidence').value = %q;
		const by = %q;
		const dim = document.getElementById('var-by');
		dim.value = by.startsWith('attr:') ? 'attr' : by;
		dim.dispatchEvent(new Event('change'));
		if (by.startsWith('attr:')) document.getElementById('var-attr').value = by.slice(5);
		delete document.getElementById('main').dataset.ready;
		return true;
	})()`, confidence, by))
	b.Click("#var-show")
	b.WaitPage("/runs/" + runID + "/var")
	// Back at the top, after a frame, so that full-page screenshots do not
	// catch the sticky header mid-scroll.
	uitest.Eval[bool](b, `new Promise((ok) => { window.scrollTo(0, 0); requestAnimationFrame(() => requestAnimationFrame(() => ok(true))); })`)
}

// checkVaR compares the VaR page with the API's answer: a row per group
// with its VaR, ES, scenario count and worst scenario, and a VaR bar and
// an ES bar per group carrying the same numbers.
func checkVaR(t *testing.T, b *uitest.Browser, c *client.Client, runID, query string) []varItem {
	t.Helper()
	var items []varItem
	apiGet(t, c, "/results/runs/"+runID+"/var?"+query, &items)
	rows := tableCells(b, "#var-table", "body")
	if len(rows) != len(items) {
		t.Fatalf("%s: VaR table has %d groups, want the API's %d", query, len(rows), len(items))
	}
	for i, it := range items {
		label := "Whole run"
		if it.Key != nil {
			label = *it.Key
			if label == "" {
				label = "(none)" // positions without the attribute
			}
		}
		r := rows[i]
		if r[0].Text != label {
			t.Errorf("%s: row %d is %q, want %q", query, i, r[0].Text, label)
		}
		sameNumber(t, query+" VaR "+label, r[1], it.VaR, 2)
		sameNumber(t, query+" ES "+label, r[2], it.ES, 2)
		sameNumber(t, query+" scenarios "+label, r[3], float64(it.N), 0)
		if r[4].Text != it.Worst {
			t.Errorf("%s: worst scenario of %s shown %q, want %s", query, label, r[4].Text, it.Worst)
		}
		for m, want := range map[string]float64{"var": it.VaR, "es": it.ES} {
			got := uitest.Eval[[]string](b, fmt.Sprintf(`[...document.querySelectorAll('#var-chart rect.bar')]
				.filter((r) => r.dataset.key === %q && r.dataset.measure === %q).map((r) => r.dataset.value)`, label, m))
			if len(got) != 1 || got[0] != strconv.FormatFloat(want, 'g', -1, 64) {
				t.Errorf("%s: %s bar of %s carries %v, want one with %v", query, m, label, got, want)
			}
		}
	}
	if n := b.Count("#var-chart rect.bar.var"); n != len(items) {
		t.Errorf("%s: %d VaR bars, want one per group (%d)", query, n, len(items))
	}
	return items
}

// TestDashboardAnalytics drives the analytics views in Chromium: the KR01
// ladder of a run page under BASE and under a scenario the analyst picks,
// and the VaR/ES page over the run's scenario set for the whole run and
// per group, each number the API's, and the problems of refused
// confidences shown readably.
func TestDashboardAnalytics(t *testing.T) {
	b := uitest.MustBrowser(t)
	db := config.Database{Driver: config.DriverSQLite, Path: filepath.Join(t.TempDir(), "iprs.db")}
	d := mustStartDevWorkers(t, db, nil, 1)
	c := client.New(d.URL, "", nil)
	ctx := context.Background()

	MustPushGenerated(t, c, "MKT-AN", gen.Options{SnapshotID: "PS-AN", NodeID: "BOOK-AN", AsOf: demoAsOf, Loans: 60, Bonds: 8, FXForwards: 6, Seed: 7})
	if _, _, err := c.PushScenarioSet(ctx, strings.NewReader(uiSet)); err != nil {
		t.Fatal(err)
	}
	const runID = "RUN-AN"
	submitAndWait(t, c, map[string]any{
		"run_id": runID, "run_type": "SANDBOX", "as_of_time": demoAsOf.Format(time.RFC3339),
		"market_snapshot_id": "MKT-AN", "position_snapshot_id": "PS-AN",
		"measures": []string{"PV", "KR01"}, "scenarios": []any{"BASE", map[string]any{"scenario_set_id": "UI-SET"}},
		"execution": map[string]any{"hash_mod": 2},
	})
	var sum struct {
		Scenarios map[string]struct {
			Measures struct {
				KR01 map[string]map[string]float64 `json:"KR01"`
			} `json:"measures"`
		} `json:"scenarios"`
	}
	apiGet(t, c, "/results/runs/"+runID+"/summary", &sum)
	if len(sum.Scenarios["BASE"].Measures.KR01) == 0 {
		t.Fatal("the run has no KR01 under BASE: nothing to show")
	}

	// The KR01 ladder under BASE, then under TWIST picked in the section.
	b.Open(d.URL+"/ui/#/runs/"+runID, "/runs/"+runID)
	b.WaitJS("the KR01 ladder", `!document.getElementById('kr01')?.hidden && !!document.getElementById('kr01-table')`)
	checkLadder(t, b, "BASE", sum.Scenarios["BASE"].Measures.KR01)
	b.Screenshot("30-kr01-base")
	uitest.Eval[bool](b, `(() => {
		const s = document.getElementById('kr01-scenario');
		s.value = 'TWIST';
		s.dispatchEvent(new Event('change'));
		return true;
	})()`)
	checkLadder(t, b, "TWIST", sum.Scenarios["TWIST"].Measures.KR01)
	b.Screenshot("31-kr01-twist")

	// The run names a scenario set: its page links to VaR/ES, which opens
	// on the set at 0.99; with 4 scenarios that confidence is refused.
	b.Click("#open-var")
	b.WaitPage("/runs/" + runID + "/var")
	if got := uitest.Eval[string](b, `document.getElementById('var-set').value`); got != "UI-SET" {
		t.Errorf("scenario set chosen %q, want UI-SET", got)
	}
	if got := uitest.Eval[string](b, `document.getElementById('var-confidence').value`); got != "0.99" {
		t.Errorf("confidence %q, want the default 0.99", got)
	}
	if got := b.Text(`#var-body .problem[data-status="400"]`); !strings.Contains(got, "?confidence") {
		t.Errorf("0.99 over 4 scenarios: problem shown %q, want the 400 on ?confidence", got)
	}

	// The whole run at 0.5, then per product type and per attribute.
	showVaR(b, runID, "0.5", "")
	whole := checkVaR(t, b, c, runID, "scenario_set_id=UI-SET&confidence=0.5")
	if len(whole) != 1 || whole[0].Key != nil || whole[0].VaR == whole[0].ES {
		// Two scenarios in the tail: were VaR and ES equal, the test could
		// not tell their columns apart.
		t.Errorf("whole-run VaR answer %+v: want one group without a key, VaR ≠ ES", whole)
	}
	b.Screenshot("32-var-whole")
	showVaR(b, runID, "0.5", "product_type")
	checkVaR(t, b, c, runID, "scenario_set_id=UI-SET&confidence=0.5&by=product_type")
	b.Screenshot("33-var-product-type")
	showVaR(b, runID, "0.5", "attr:state")
	checkVaR(t, b, c, runID, "scenario_set_id=UI-SET&confidence=0.5&by=attr:state")
	b.Screenshot("34-var-state")

	// A confidence that is no number in (0, 1): the 400 problem, readable.
	showVaR(b, runID, "1.5", "product_type")
	b.WaitJS("the 400", `!!document.querySelector('#var-body .problem[data-status="400"]')`)
	if got := b.Text(`#var-body .problem[data-status="400"]`); !strings.Contains(got, "?confidence") || !strings.Contains(got, "400") {
		t.Errorf("bad confidence: problem shown %q", got)
	}
	if n := b.Count("#var-table"); n != 0 {
		t.Errorf("a refused request still shows %d VaR tables", n)
	}
	b.Screenshot("35-var-bad-confidence")

	// A set the run was not valued under: the 422 problem, readable.
	b.GoHash("#/runs/"+runID+"/var?scenario_set_id=NOT-IN-RUN&confidence=0.5", "/runs/"+runID+"/var")
	if got := b.Text(`#var-body .problem[data-status="422"]`); !strings.Contains(got, "NOT-IN-RUN") {
		t.Errorf("a set outside the run: problem shown %q, want the 422 naming the set", got)
	}
	if got := uitest.Eval[string](b, `document.getElementById('var-set').value`); got != "NOT-IN-RUN" {
		t.Errorf("the form shows set %q, want the one asked for", got)
	}
	b.Screenshot("36-var-set-not-in-run")

	// A run without KR01 and without a scenario set: no ladder, no VaR
	// link, and the VaR page says why there is nothing to show.
	submitAndWait(t, c, map[string]any{
		"run_id": "RUN-AN-PLAIN", "run_type": "SANDBOX", "as_of_time": demoAsOf.Format(time.RFC3339),
		"market_snapshot_id": "MKT-AN", "position_snapshot_id": "PS-AN",
		"measures": []string{"PV"}, "scenarios": []string{"BASE", "RATES_PARALLEL_1BP"},
	})
	b.GoHash("#/runs/RUN-AN-PLAIN", "/runs/RUN-AN-PLAIN")
	b.WaitJS("the summary", `!!document.getElementById('summary-table')`)
	if !uitest.Eval[bool](b, `document.getElementById('kr01').hidden`) {
		t.Error("a run without KR01 shows a KR01 ladder")
	}
	if n := b.Count("#open-var"); n != 0 {
		t.Error("a run without a scenario set links to VaR/ES")
	}
	b.GoHash("#/runs/RUN-AN-PLAIN/var", "/runs/RUN-AN-PLAIN/var")
	if got := b.Text("#var-no-sets"); !strings.Contains(got, "names no scenario set") {
		t.Errorf("VaR page of a run without sets: %q", got)
	}
}
