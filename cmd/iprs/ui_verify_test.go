package main

import (
	"context"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/client"
	"github.com/iprs/iprs/internal/config"
	"github.com/iprs/iprs/internal/gen"
	"github.com/iprs/iprs/internal/pricing"
	"github.com/iprs/iprs/internal/resultcodec"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/store/teststore"
	"github.com/iprs/iprs/internal/ui/uitest"
)

// The Verify section of the run page: a run never verified says so; the
// button replays it and shows the verdict; after a stored number is
// changed by one unit in its last place, the next replay shows that
// position, scenario and measure with the stored and recomputed values to
// the last digit.
func TestDashboardVerify(t *testing.T) {
	b := uitest.MustBrowser(t)
	db := config.Database{Driver: config.DriverSQLite, Path: filepath.Join(t.TempDir(), "iprs.db")}
	d := mustStartDevWorkers(t, db, nil, 1)
	c := client.New(d.URL, "", nil)
	MustPushGenerated(t, c, "MKT-UV", gen.Options{SnapshotID: "PS-UV", NodeID: "BOOK-UV", AsOf: demoAsOf, Loans: 20, Bonds: 2, FXForwards: 2, Seed: 5})
	const runID = "RUN-UV"
	scenarios := []string{"BASE", "RATES_PARALLEL_1BP"}
	submitAndWait(t, c, map[string]any{
		"run_id": runID, "run_type": "SANDBOX", "as_of_time": demoAsOf.Format(time.RFC3339),
		"market_snapshot_id": "MKT-UV", "position_snapshot_id": "PS-UV",
		"measures": []string{"PV", "DV01"}, "scenarios": scenarios, "execution": map[string]any{"hash_mod": 2},
	})

	b.Open(d.URL+"/ui/#/runs/"+runID, "/runs/"+runID)
	b.WaitJS("the Verify section", `document.getElementById('verify-verdict')?.dataset.verdict === 'never'`)
	if got := b.Text("#verify-body"); !strings.Contains(got, "Never verified") {
		t.Errorf("a run never verified shows %q", got)
	}
	b.Screenshot("40-verify-never")

	b.Click("#verify-run")
	b.WaitJS("the verdict", `document.getElementById('verify-verdict')?.dataset.verdict === 'verified'`)
	if got := b.Text("#verify .stats"); !strings.Contains(got, "24 / 24") || !strings.Contains(got, "not published") {
		t.Errorf("verdict figures %q, want 24 / 24 positions checked and not published", got)
	}
	if n := b.Count("#verify-mismatches"); n != 0 {
		t.Errorf("a verified run shows a mismatch table")
	}
	b.Screenshot("41-verify-verified")

	// One number one ulp up, in the database.
	rows, err := d.st.ResultList(context.Background(), store.ResultListParams{RunID: runID, Limit: 5})
	if err != nil || len(rows) != 5 {
		t.Fatalf("results: %d, %v", len(rows), err)
	}
	row := rows[4]
	vals := make([]pricing.Values, len(scenarios))
	if err := resultcodec.Decode(row.Values, vals); err != nil {
		t.Fatal(err)
	}
	pv, _ := vals[0].Get(pricing.PV)
	up := math.Nextafter(pv, math.Inf(1))
	vals[0].Set(pricing.PV, up)
	teststore.Tamper(t, d.st.(watchedStore).Watched, `UPDATE position_result SET vals = $1 WHERE run_id = $2 AND position_id = $3`,
		resultcodec.Append(nil, vals), runID, row.PositionID)

	b.Click("#verify-run")
	b.WaitJS("the second verdict", `document.getElementById('verify-verdict')?.dataset.verdict === 'not-verified'`)
	cells := tableCells(b, "#verify-mismatches", "body")
	if len(cells) != 1 || len(cells[0]) != 7 {
		t.Fatalf("mismatch rows %v, want one of 7 cells", cells)
	}
	m := cells[0]
	if m[0].Text != row.PositionID || m[1].Text != row.PositionSnapshotID || m[2].Text != "BASE" || m[3].Text != "PV" {
		t.Errorf("mismatch row %v, want %s %s BASE PV", m, row.PositionID, row.PositionSnapshotID)
	}
	for i, want := range map[int]float64{4: up, 5: pv} {
		got, err := strconv.ParseFloat(m[i].Text, 64)
		if err != nil || math.Float64bits(got) != math.Float64bits(want) {
			t.Errorf("column %d shows %q, want %v to the last digit", i, m[i].Text, want)
		}
	}
	if got := b.Text("#verify .stats"); !strings.Contains(strings.ToUpper(got), "MISMATCHES\n1\n") {
		t.Errorf("verdict figures %q, want 1 mismatch", got)
	}
	b.Screenshot("42-verify-mismatch")
}

// A replay still open can be cancelled from the run page: the Cancel
// button shows only while it is open, and the section then says the
// replay was cancelled, not that the results differ.
func TestDashboardVerifyCancel(t *testing.T) {
	b := uitest.MustBrowser(t)
	db := config.Database{Driver: config.DriverSQLite, Path: filepath.Join(t.TempDir(), "iprs.db")}
	d := mustStartDevWorkers(t, db, nil, 0)
	gated := startGatedWorker(t, d, "NONE")
	c := client.New(d.URL, "", nil)
	MustPushGenerated(t, c, "MKT-UC", gen.Options{SnapshotID: "PS-UC", NodeID: "BOOK-UC", AsOf: demoAsOf, Loans: 6, Seed: 7})
	const runID = "RUN-UC"
	run, _, err := c.SubmitRun(context.Background(), map[string]any{
		"run_id": runID, "run_type": "SANDBOX", "as_of_time": demoAsOf.Format(time.RFC3339),
		"market_snapshot_id": "MKT-UC", "position_snapshot_id": "PS-UC",
		"measures": []string{"PV"}, "scenarios": []string{"BASE"}, "execution": map[string]any{"hash_mod": 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	for range run.Progress.TasksTotal {
		gated.gate <- struct{}{}
	}
	if done, err := c.WaitRun(context.Background(), runID, 20*time.Millisecond, nil); err != nil || done.Status != store.RunCompleted {
		t.Fatalf("run: %+v, %v", done, err)
	}

	b.Open(d.URL+"/ui/#/runs/"+runID, "/runs/"+runID)
	b.WaitJS("the Verify section", `document.getElementById('verify-verdict')?.dataset.verdict === 'never'`)
	if b.Count("#verify-cancel[hidden]") != 1 {
		t.Error("Cancel replay is offered with no replay open")
	}
	// The gate is shut: the replay stays QUEUED until cancelled.
	b.Click("#verify-run")
	b.WaitJS("the open replay", `document.getElementById('verify-verdict')?.dataset.verdict === 'open' && !document.getElementById('verify-cancel').hidden`)
	b.Screenshot("43-verify-open")
	b.Click("#verify-cancel")
	b.WaitJS("the cancelled replay", `document.getElementById('verify-verdict')?.dataset.verdict === 'not-verified'`)
	if got := b.Text("#verify-verdict"); !strings.Contains(got, "cancelled before it finished") {
		t.Errorf("a cancelled replay reads %q", got)
	}
	if b.Count("#verify-cancel[hidden]") != 1 {
		t.Error("Cancel replay is still offered after the replay was cancelled")
	}
	if v, err := c.GetVerify(context.Background(), runID); err != nil || v.Status != store.RunCancelled || v.VerifyID != runID+"~VERIFY-1" {
		t.Errorf("the replay after Cancel: %+v, %v; want VERIFY-1 CANCELLED", v, err)
	}
	b.Screenshot("44-verify-cancelled")
}
