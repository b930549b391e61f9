package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/iprs/iprs/internal/client"
	"github.com/iprs/iprs/internal/config"
	"github.com/iprs/iprs/internal/gen"
	"github.com/iprs/iprs/internal/ui/uitest"
)

// TestDashboardDayOverDay loads the dev demo with its second business day
// and follows the day over day in Chromium: the second day's run page and
// its row in the runs list link to the compare page with the first day's
// run as the base, and the counts shown there are what the generator did
// to the book between the days.
func TestDashboardDayOverDay(t *testing.T) {
	b := uitest.MustBrowser(t)
	db := config.Database{Driver: config.DriverSQLite, Path: filepath.Join(t.TempDir(), "iprs.db")}
	d := mustStartDevWorkers(t, db, nil, 1)
	c := client.New(d.URL, "", nil)
	o := demoOptions{Loans: 30, DayTwo: true}
	day1Run, err := loadDemo(t.Context(), c, o, io.Discard)
	if err != nil {
		t.Fatalf("load the demo: %v", err)
	}
	day2Run := o.dayTwoRunID()
	if day1Run != "RUN-DEMO-20260123-30" || day2Run != "RUN-DEMO-20260126-30" {
		t.Fatalf("demo runs %s and %s", day1Run, day2Run)
	}
	day1 := gen.Demo(30, demoAsOf)
	stats, err := gen.EachRolled(day1, gen.DemoRoll(day1, gen.NextBusinessDay(demoAsOf)), func(*gen.Position) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	wantHash := "#/compare?base=" + day1Run + "&target=" + day2Run

	// The first day's run has no earlier run to compare with.
	b.Open(d.URL+"/ui/#/runs/"+day1Run, "/runs/"+day1Run)
	if n := b.Count("#compare-previous"); n != 0 {
		t.Errorf("the first day's run offers %d previous runs", n)
	}
	// The runs list: the second day's row links to the comparison.
	b.GoHash("#/runs", "/runs")
	links := uitest.Eval[map[string]string](b, `Object.fromEntries([...document.querySelectorAll('#runs-table tbody tr')]
		.map((tr) => [tr.querySelector('td').innerText, tr.querySelector('a.compare-previous')?.getAttribute('href') ?? '']))`)
	if links[day2Run] != wantHash || links[day1Run] != "" || links[day1Run+"-MODELLED"] != "" {
		t.Errorf("day-over-day links in the runs list: %v, want only %s → %s", links, day2Run, wantHash)
	}

	// The second day's run page: "Compare with previous" opens the
	// comparison of the two days.
	b.GoHash("#/runs/"+day2Run, "/runs/"+day2Run)
	b.Screenshot("45-run-day-two")
	b.Click("#compare-previous")
	b.WaitPage("/compare")
	if h := uitest.Eval[string](b, `location.hash`); h != wantHash {
		t.Fatalf("compare with previous went to %s, want %s", h, wantHash)
	}
	b.WaitJS("the compare counts", `!!document.querySelector('#compare-counts [data-count]')`)
	for k, want := range map[string]int{
		"matched": 0, "breaks": stats.Kept(), "only_in_base": stats.Gone(), "only_in_target": stats.NewLoans + stats.NewFXForwards,
	} {
		got := uitest.Eval[string](b, fmt.Sprintf(`document.querySelector('#compare-counts [data-count=%q]')?.innerText ?? ''`, k))
		if got != strconv.Itoa(want) {
			t.Errorf("count %s shown %q, want %d (%+v)", k, got, want, stats)
		}
	}
	b.Screenshot("46-compare-day-over-day")
}
