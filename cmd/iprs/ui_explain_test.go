package main

import (
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/client"
	"github.com/iprs/iprs/internal/config"
	"github.com/iprs/iprs/internal/ui/uitest"
)

// explainColumnKeys are the waterfall table's number columns, as the
// dashboard orders them.
var explainColumnKeys = []string{"from_pv", "carry", "rates", "spread", "fx", "amendments", "new", "matured", "total", "to_pv", "carry_cashflows"}

// explainValue is one component of an explain item by its JSON name.
func explainValue(it client.ExplainItem, key string) float64 {
	return map[string]float64{
		"from_pv": it.FromPV, "to_pv": it.ToPV, "carry_cashflows": it.CarryCashflows, "carry": it.Carry, "rates": it.Rates,
		"spread": it.Spread, "fx": it.FX, "amendments": it.Amendments, "new": it.New, "matured": it.Matured, "total": it.Total,
	}[key]
}

// waterfallBar is one rect.bar of the explain's chart.
type waterfallBar struct {
	Key   string  `json:"key"`
	Value string  `json:"value"`
	Neg   bool    `json:"neg"`
	Whole bool    `json:"whole"`
	Y     float64 `json:"y"`
	H     float64 `json:"h"`
}

// checkWaterfallChart checks the chart against an explain item: the bars
// from from_pv through the seven steps and the carry cashflows taken out
// to to_pv, each carrying the API's number, negative steps in the
// negative colour, each step starting where the previous one ended (on
// the screen, to the rounding of its coordinates), and the last step
// ending level with the to_pv bar's top (the explain's identity, within
// a pixel).
func checkWaterfallChart(t *testing.T, b *uitest.Browser, where string, it client.ExplainItem) {
	t.Helper()
	bars := uitest.Eval[[]waterfallBar](b, `[...document.querySelectorAll('#explain-chart rect.bar')].map((r) => ({
		key: r.dataset.key, value: r.dataset.value, neg: r.classList.contains('neg'), whole: r.classList.contains('whole'),
		y: Number(r.getAttribute('y')), h: Number(r.getAttribute('height')) }))`)
	wantKeys := []string{"from_pv", "carry", "rates", "spread", "fx", "amendments", "new", "matured", "carry_cashflows", "to_pv"}
	if len(bars) != len(wantKeys) {
		t.Fatalf("%s: the chart has %d bars %+v, want %v", where, len(bars), bars, wantKeys)
	}
	top := func(x waterfallBar, up bool) float64 { // the pixel row where a bar ends going up or down
		if up {
			return x.Y
		}
		return x.Y + x.H
	}
	for i, key := range wantKeys {
		br := bars[i]
		want := explainValue(it, key)
		if key == "carry_cashflows" {
			want = 0 - it.CarryCashflows // taken out; +0 when none, as the page writes it
		}
		got, err := strconv.ParseFloat(br.Value, 64)
		if br.Key != key || err != nil || math.Float64bits(got) != math.Float64bits(want) {
			t.Errorf("%s: bar %d is %s = %s, want %s = %v", where, i, br.Key, br.Value, key, want)
		}
		whole := key == "from_pv" || key == "to_pv"
		if br.Whole != whole || (!whole && br.Neg != (want < 0)) {
			t.Errorf("%s: bar %s whole=%v neg=%v for %v", where, key, br.Whole, br.Neg, want)
		}
		if i == 0 || whole || br.H <= 1 {
			continue
		}
		// Where this step starts: the previous bar's end (its top when
		// it went up or was a whole PV, its bottom when it went down).
		prev := bars[i-1]
		prevUp := prev.Whole || prev.Value[0] != '-'
		start := top(br, want < 0)
		if prev.H > 1 && math.Abs(start-top(prev, prevUp)) > 0.15 {
			t.Errorf("%s: step %s starts at y=%v, the previous bar ends at y=%v", where, key, start, top(prev, prevUp))
		}
	}
	// The level the steps reach is to_pv (up to rounding, far below a pixel).
	last := bars[len(bars)-2]
	end := top(last, last.Value[0] != '-')
	if last.H > 1 && math.Abs(end-bars[len(bars)-1].Y) > 1 {
		t.Errorf("%s: the steps end at y=%v, the to_pv bar's top is at y=%v", where, end, bars[len(bars)-1].Y)
	}
}

// checkExplainTable checks the waterfall table against the API's items:
// a row per item, in order, with the key when grouped and every number
// the API's to the last bit.
func checkExplainTable(t *testing.T, b *uitest.Browser, by string, items []client.ExplainItem) {
	t.Helper()
	rows := tableCells(b, "#explain-table", "body")
	if len(rows) != len(items) {
		t.Fatalf("by %q: the table has %d rows, the API %d items", by, len(rows), len(items))
	}
	off := 0
	if by != "" {
		off = 1
	}
	for i, it := range items {
		if by != "" && it.Key != nil && rows[i][0].Text != *it.Key && !(*it.Key == "" && rows[i][0].Text == "(none)") {
			t.Errorf("by %s: row %d is %q, want %q", by, i, rows[i][0].Text, *it.Key)
		}
		for j, k := range explainColumnKeys {
			sameNumber(t, fmt.Sprintf("by %q row %d %s", by, i, k), rows[i][off+j], explainValue(it, k), 2)
		}
	}
}

// TestDashboardExplain follows a P&L explain in Chromium over the demo's
// two days: "Explain vs previous" on the second day's run starts it; its
// page shows it QUEUED with none of its positions done, follows its
// progress as a worker let claim one task at a time values them (RUNNING
// part way when it has more than one task), then shows its waterfall — the table and the chart carry the API's
// numbers, by the whole explain and by state; the explains list
// shows it; the compare page's button opens the same explain; and a
// refused request shows the problem's pointers.
func TestDashboardExplain(t *testing.T) {
	b := uitest.MustBrowser(t)
	db := config.Database{Driver: config.DriverSQLite, Path: filepath.Join(t.TempDir(), "iprs.db")}
	d := mustStartDevWorkers(t, db, nil, 0)
	c := client.New(d.URL, "", nil)

	// The demo's two days, valued by a worker that claims freely.
	free := startGatedWorker(t, d, "")
	close(free.gate)
	o := demoOptions{Loans: 30, DayTwo: true}
	day1Run, err := loadDemo(t.Context(), c, o, io.Discard)
	if err != nil {
		t.Fatalf("load the demo: %v", err)
	}
	day2Run := o.dayTwoRunID()
	free.stop()
	// The explain's worker claims a task only when the test says so.
	gated := startGatedWorker(t, d, "NONE")
	explainID := "EXPLAIN-" + day1Run + "-" + day2Run

	b.Open(d.URL+"/ui/#/runs/"+day2Run, "/runs/"+day2Run)
	b.Click("#explain-previous")
	b.WaitPage("/explains/" + explainID)
	if got := b.Text("#explain-status"); got != "QUEUED" {
		t.Errorf("a new explain shows %q, want QUEUED", got)
	}
	total := uitest.Eval[string](b, `document.getElementById('explain-progress').dataset.total`)
	if n, _ := strconv.Atoi(total); n == 0 || uitest.Eval[string](b, `document.getElementById('explain-progress').dataset.done`) != "0" {
		t.Errorf("a queued explain's progress: %s positions, want some and none done", total)
	}
	if !strings.Contains(b.Text("#explain-waiting"), "when the explain completes") {
		t.Errorf("a queued explain's page: %q", b.Text("#explain-body"))
	}
	b.Screenshot("50-explain-queued")

	// One task valued (a claim at a time, until one finds a task): the
	// page follows the progress by itself.
	var e client.Explain
	for deadline := time.Now().Add(30 * time.Second); e.Progress.PositionsDone == 0; {
		if time.Now().After(deadline) {
			t.Fatalf("no task of the explain valued: %+v %s", e, *e.Error)
		}
		gated.gate <- struct{}{}
		for end := time.Now().Add(time.Second); time.Now().Before(end) && e.Progress.PositionsDone == 0; time.Sleep(20 * time.Millisecond) {
			if e, err = c.GetExplain(t.Context(), explainID); err != nil {
				t.Fatal(err)
			}
		}
	}
	b.WaitJS("the explain's first task", `Number(document.getElementById('explain-progress').dataset.done) > 0`)
	if e.Progress.TasksTotal > 1 {
		if got := b.Text("#explain-status"); got != "RUNNING" {
			t.Errorf("an explain with a task of %d done shows %q, want RUNNING", e.Progress.TasksTotal, got)
		}
	}
	b.Screenshot("51-explain-running")

	// Every task: the waterfall appears.
	close(gated.gate)
	b.WaitJS("the explain's waterfall", `!!document.getElementById('explain-table')`)
	if got := b.Text("#explain-status"); got != "COMPLETED" {
		t.Errorf("the explain shows %q, want COMPLETED", got)
	}
	whole, err := c.ExplainResults(t.Context(), explainID, "", "")
	if err != nil || len(whole) != 1 {
		t.Fatalf("the API's waterfall: %v %v", whole, err)
	}
	checkExplainTable(t, b, "", whole)
	checkWaterfallChart(t, b, "whole", whole[0])
	b.Screenshot("52-explain-waterfall")

	// By the loans' state, chosen in the form: a row per state, and the
	// chart of one of them.
	uitest.Eval[bool](b, `(() => {
		const s = document.getElementById('explain-by');
		s.value = 'attr';
		s.dispatchEvent(new Event('change'));
		document.getElementById('explain-attr').value = 'state';
		delete document.getElementById('main').dataset.ready;
		return true;
	})()`)
	b.Click("#explain-show")
	b.WaitPage("/explains/" + explainID)
	if h := uitest.Eval[string](b, `location.hash`); h != "#/explains/"+explainID+"?by=attr%3Astate" {
		t.Errorf("the grouping form went to %s", h)
	}
	b.WaitJS("the grouped waterfall", `!!document.getElementById('explain-table')`)
	byState, err := c.ExplainResults(t.Context(), explainID, "attr:state", "")
	if err != nil || len(byState) < 2 {
		t.Fatalf("the API's waterfall by state: %v %v", byState, err)
	}
	checkExplainTable(t, b, "attr:state", byState)
	checkWaterfallChart(t, b, "whole, grouped", whole[0])
	uitest.Eval[bool](b, `(() => {
		const s = document.getElementById('explain-chart-group');
		s.value = '0';
		s.dispatchEvent(new Event('change'));
		return true;
	})()`)
	checkWaterfallChart(t, b, "group "+*byState[0].Key, byState[0])
	b.Screenshot("53-explain-by-state")

	// The list of explains, and the compare page's button to the same explain.
	b.GoHash("#/explains", "/explains")
	rows := tableCells(b, "#explains-table", "body")
	if len(rows) != 1 || rows[0][0].Text != explainID || rows[0][1].Text != day1Run || rows[0][2].Text != day2Run || rows[0][3].Text != "COMPLETED" {
		t.Errorf("the explains list: %+v", rows)
	}
	b.GoHash("#/compare?base="+day1Run+"&target="+day2Run, "/compare")
	b.Click("#compare-explain")
	b.WaitPage("/explains/" + explainID)

	// A refused request: no runs chosen names both fields.
	b.GoHash("#/explains", "/explains")
	b.Click("#explain-start")
	b.WaitJS("the refusal", `!!document.querySelector('#explain-start-note .problem')`)
	note := b.Text("#explain-start-note")
	for _, want := range []string{"/from_run_id", "/to_run_id"} {
		if !strings.Contains(note, want) {
			t.Errorf("the refusal does not name %s: %q", want, note)
		}
	}
	b.Screenshot("54-explain-refused")
}
