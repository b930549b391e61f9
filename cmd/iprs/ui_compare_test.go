package main

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/client"
	"github.com/iprs/iprs/internal/config"
	"github.com/iprs/iprs/internal/gen"
	"github.com/iprs/iprs/internal/ui/uitest"
)

// compareAnswer is GET /results/compare with number measures.
type compareAnswer struct {
	Totals struct {
		Base, Target, Diff float64
	} `json:"totals"`
	Counts map[string]int64 `json:"counts"`
	Items  []struct {
		PositionID string   `json:"position_id"`
		Base       *float64 `json:"base"`
		Target     *float64 `json:"target"`
		Diff       *float64 `json:"diff"`
		Status     string   `json:"status"`
	} `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// sameOrNone checks a cell against a number of the API that may be null:
// a null is shown as a dash carrying no value.
func sameOrNone(t *testing.T, where string, c cell, want *float64) {
	t.Helper()
	if want == nil {
		if len(c.Values) != 0 || c.Text != "—" {
			t.Errorf("%s: cell %q carries %v, want a dash for null", where, c.Text, c.Values)
		}
		return
	}
	sameNumber(t, where, c, *want, 2)
}

// checkCompareRows compares the rows of the compare table from index from
// on with the items of one page of the API.
func checkCompareRows(t *testing.T, rows [][]cell, from int, a compareAnswer) {
	t.Helper()
	for i, it := range a.Items {
		if from+i >= len(rows) {
			t.Fatalf("the table has %d rows, want at least %d", len(rows), from+len(a.Items))
		}
		r := rows[from+i]
		if r[0].Text != it.PositionID || r[1].Text != it.Status {
			t.Errorf("row %d is %s %s, want %s %s", from+i, r[0].Text, r[1].Text, it.PositionID, it.Status)
		}
		sameOrNone(t, it.PositionID+" base", r[2], it.Base)
		sameOrNone(t, it.PositionID+" target", r[3], it.Target)
		sameOrNone(t, it.PositionID+" diff", r[4], it.Diff)
	}
}

// TestDashboardCompare drives the compare page in Chromium over two runs
// of books that differ (a bond fewer, three loans more and the rest of the
// book drawn differently): the totals, the counts and each page of the
// positions that do not match are the API's, the run page links to the
// page, and refused tolerances show the 400 problem naming the parameter.
func TestDashboardCompare(t *testing.T) {
	b := uitest.MustBrowser(t)
	db := config.Database{Driver: config.DriverSQLite, Path: filepath.Join(t.TempDir(), "iprs.db")}
	d := mustStartDevWorkers(t, db, nil, 1)
	c := client.New(d.URL, "", nil)

	MustPushGenerated(t, c, "MKT-CA", gen.Options{SnapshotID: "PS-CA", NodeID: "BOOK-C", AsOf: demoAsOf, Loans: 30, Bonds: 3, FXForwards: 2, Seed: 7})
	MustPushGenerated(t, c, "MKT-CB", gen.Options{SnapshotID: "PS-CB", NodeID: "BOOK-C", AsOf: demoAsOf, Loans: 33, Bonds: 2, FXForwards: 2, Seed: 7})
	for _, r := range [][2]string{{"RUN-CA", "A"}, {"RUN-CB", "B"}} {
		submitAndWait(t, c, map[string]any{
			"run_id": r[0], "run_type": "SANDBOX", "as_of_time": demoAsOf.Format(time.RFC3339),
			"market_snapshot_id": "MKT-C" + r[1], "position_snapshot_id": "PS-C" + r[1],
			"measures": []string{"PV"}, "scenarios": []string{"BASE", "RATES_PARALLEL_1BP"},
		})
	}

	// The run page links to the compare page with the run as the base.
	b.Open(d.URL+"/ui/#/runs/RUN-CA", "/runs/RUN-CA")
	b.Click("#open-compare")
	b.WaitPage("/compare")
	if got := b.Text("#compare-choose"); !strings.Contains(got, "Choose") {
		t.Errorf("compare page without a target: %q", got)
	}
	if got := uitest.Eval[string](b, `document.getElementById('compare-base').value`); got != "RUN-CA" {
		t.Errorf("base run chosen %q, want RUN-CA", got)
	}

	// The target picked in the form; three positions a page.
	uitest.Eval[bool](b, `(() => {
		document.getElementById('compare-target').value = 'RUN-CB';
		delete document.getElementById('main').dataset.ready;
		return true;
	})()`)
	b.Click("#compare-show")
	b.WaitPage("/compare")
	if h := uitest.Eval[string](b, `location.hash`); h != "#/compare?base=RUN-CA&target=RUN-CB" {
		t.Fatalf("the form went to %s", h)
	}
	b.GoHash("#/compare?base=RUN-CA&target=RUN-CB&limit=3", "/compare")
	b.WaitJS("the compare table", `!!document.getElementById('compare-table')`)

	const q = "base=RUN-CA&target=RUN-CB&limit=3"
	var first compareAnswer
	apiGet(t, c, "/results/compare?"+q, &first)
	if first.Counts["breaks"] == 0 || first.NextCursor == nil {
		t.Fatalf("the runs should break somewhere and need more than a page: %+v", first.Counts)
	}
	// From the books' shapes alone: BD000003 is only in the base, three
	// loans only in the target, and 38 distinct ids in all (35 ∪ 37).
	if c := first.Counts; c["only_in_base"] != 1 || c["only_in_target"] != 3 || c["matched"]+c["breaks"]+c["only_in_base"]+c["only_in_target"] != 38 {
		t.Errorf("counts %v, want 1 only in base, 3 only in target, 38 in all", c)
	}
	for side, want := range map[string]float64{"base": first.Totals.Base, "target": first.Totals.Target, "diff": first.Totals.Diff} {
		got := uitest.Eval[[]string](b, fmt.Sprintf(`[...document.querySelectorAll('#compare-totals [data-side=%q] [data-value]')].map((e) => e.dataset.value)`, side))
		if len(got) != 1 {
			t.Errorf("total %s shown %v, want one number", side, got)
		} else if v, err := strconv.ParseFloat(got[0], 64); err != nil || v != want {
			t.Errorf("total %s shown %v, want the API's %v", side, got, want)
		}
	}
	for k, want := range first.Counts {
		got := uitest.Eval[string](b, fmt.Sprintf(`document.querySelector('#compare-counts [data-count=%q]')?.innerText ?? ''`, k))
		if got != strconv.FormatInt(want, 10) {
			t.Errorf("count %s shown %q, want %d", k, got, want)
		}
	}
	rows := tableCells(b, "#compare-table", "body")
	if len(rows) != len(first.Items) {
		t.Fatalf("first page: %d rows, want the API's %d", len(rows), len(first.Items))
	}
	checkCompareRows(t, rows, 0, first)
	b.Screenshot("40-compare")

	// The next page, from next_cursor, is added below the first.
	var second compareAnswer
	apiGet(t, c, "/results/compare?"+q+"&cursor="+url.QueryEscape(*first.NextCursor), &second)
	b.Click("#compare-more")
	b.WaitJS("the second page", `document.getElementById('compare-table').dataset.pages === '2'`)
	rows = tableCells(b, "#compare-table", "body")
	if len(rows) != len(first.Items)+len(second.Items) {
		t.Fatalf("two pages: %d rows, want %d", len(rows), len(first.Items)+len(second.Items))
	}
	checkCompareRows(t, rows, len(first.Items), second)
	nonMatching := first.Counts["breaks"] + first.Counts["only_in_base"] + first.Counts["only_in_target"]
	if shown := b.Count("#compare-more-note .problem"); shown != 0 {
		t.Errorf("next page shows %d problems", shown)
	}
	if more := !uitest.Eval[bool](b, `document.getElementById('compare-more').closest('.load-more').hidden`); more != (int64(len(rows)) < nonMatching) {
		t.Errorf("next-page button shown %v with %d of %d rows", more, len(rows), nonMatching)
	}

	// Refused tolerances: the 400 problem, naming the parameter, and no table.
	uitest.Eval[bool](b, `(() => {
		document.getElementById('compare-abs-tol').value = '-1';
		delete document.getElementById('main').dataset.ready;
		return true;
	})()`)
	b.Click("#compare-show")
	b.WaitPage("/compare")
	if got := b.Text(`#compare-body .problem[data-status="400"]`); !strings.Contains(got, "?abs_tol") {
		t.Errorf("abs_tol -1: problem shown %q, want the 400 on ?abs_tol", got)
	}
	if n := b.Count("#compare-table"); n != 0 {
		t.Errorf("a refused request still shows %d tables", n)
	}
	b.Screenshot("41-compare-bad-tolerance")
	b.GoHash("#/compare?base=RUN-CA&target=RUN-CB&rel_tol=much", "/compare")
	if got := b.Text(`#compare-body .problem[data-status="400"]`); !strings.Contains(got, "?rel_tol") {
		t.Errorf("rel_tol text: problem shown %q, want the 400 on ?rel_tol", got)
	}
}
