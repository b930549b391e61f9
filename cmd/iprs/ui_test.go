package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/client"
	"github.com/iprs/iprs/internal/config"
	"github.com/iprs/iprs/internal/gen"
	"github.com/iprs/iprs/internal/pricing"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/ui/uitest"
	"github.com/iprs/iprs/internal/worker"
)

// mustStartDevWorkers starts the platform in-process like MustStartDev,
// with the given number of in-process workers (0: none).
func mustStartDevWorkers(t *testing.T, db config.Database, env map[string]string, workers int) *devPlatform {
	t.Helper()
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d, err := startDev(ctx, devOptions{
		Addr: "127.0.0.1:0", DB: db, Cfg: cfg, Workers: workers, Concurrency: 1,
		Logger: slog.New(slog.DiscardHandler), Version: "test",
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := d.Wait(); err != nil {
			t.Errorf("platform stopped with %v", err)
		}
	})
	return d
}

// gatedStore lets a worker claim a task only when the test allows it, and
// fails reading the positions of one product type, as a broken database
// would: the test decides when progress happens and which tasks die.
type gatedStore struct {
	store.Store
	gate     chan struct{} // one receive per claim; closed: any number
	failType string
}

func (g *gatedStore) TaskClaim(ctx context.Context, p store.TaskClaimParams) (*store.Task, error) {
	select {
	case <-g.gate:
		return g.Store.TaskClaim(ctx, p)
	default:
		return nil, apperr.ErrNotFound
	}
}

func (g *gatedStore) TaskPositions(ctx context.Context, t *store.Task, fn func(*store.Position) error) error {
	if g.failType != "" && t.ProductType == g.failType {
		return errors.New("read positions: connection reset by peer (injected by the test)")
	}
	return g.Store.TaskPositions(ctx, t, fn)
}

// gatedWorker is one worker with concurrency 1 on the platform's store
// behind a gate.
type gatedWorker struct {
	*gatedStore
	stop func()
}

// startGatedWorker runs a gated worker until Stop or the end of the test.
func startGatedWorker(t *testing.T, d *devPlatform, failType string) *gatedWorker {
	t.Helper()
	g := &gatedStore{Store: d.st, gate: make(chan struct{}, 1000), failType: failType}
	w := worker.New(g, slog.New(slog.DiscardHandler), worker.Options{
		Owner: "ui-test-worker-" + failType, Concurrency: 1, PollInterval: 20 * time.Millisecond,
		Lease: time.Minute, Grace: -1, Backoff: func(int) time.Duration { return 10 * time.Millisecond },
		Kinds: workerKinds(config.DefaultAggregateAttrs()),
	})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = w.Run(ctx)
	}()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	return &gatedWorker{gatedStore: g, stop: stop}
}

// fmtNum formats like the dashboard (Intl.NumberFormat en-US, signDisplay
// "negative"): thousands separators, fixed decimals, no sign on a value
// that rounds to zero.
func fmtNum(v float64, digits int) string {
	s := strconv.FormatFloat(v, 'f', digits, 64)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	intPart, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	for i, r := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	out := b.String()
	if frac != "" {
		out += "." + frac
	}
	if neg && strings.Trim(out, "0.,") != "" {
		out = "-" + out
	}
	return out
}

func TestFmtNumLikeTheDashboard(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		v    float64
		d    int
		want string
	}{
		{0, 2, "0.00"}, {1234567.891, 2, "1,234,567.89"}, {-1234.5, 2, "-1,234.50"}, {-0.001, 2, "0.00"},
		{999.999, 2, "1,000.00"}, {-999999.996, 2, "-1,000,000.00"}, {310, 0, "310"}, {12, 1, "12.0"},
	} {
		if got := fmtNum(c.v, c.d); got != c.want {
			t.Errorf("fmtNum(%v, %d) = %q, want %q", c.v, c.d, got, c.want)
		}
	}
}

// cell is one table cell as the browser shows it: its text and the exact
// values its numbers carry.
type cell struct {
	Text   string   `json:"text"`
	Values []string `json:"values"`
}

// tableCells reads the body rows (or the footer) of the table inside sel.
func tableCells(b *uitest.Browser, sel, part string) [][]cell {
	return uitest.Eval[[][]cell](b, fmt.Sprintf(`(() => {
		const t = document.querySelector(%q);
		if (!t) return [];
		const rows = %q === 'foot' ? [...(t.tFoot?.rows || [])] : [...t.tBodies[0].rows].filter((r) => !r.classList.contains('empty'));
		return rows.map((r) => [...r.cells].map((c) => ({
			text: c.innerText.trim(),
			values: [...c.querySelectorAll('[data-value]')].map((e) => e.dataset.value),
		})));
	})()`, sel+" table", part))
}

// headers reads the column labels of the table inside sel.
func headers(b *uitest.Browser, sel string) []string {
	return uitest.Eval[[]string](b, fmt.Sprintf(`[...document.querySelector(%q).tHead.rows[0].cells].map((c) => c.textContent.trim())`, sel+" table"))
}

// sameNumber checks a shown cell against the API's number: the exact value
// it carries and the text it shows.
func sameNumber(t *testing.T, where string, c cell, want float64, digits int) {
	t.Helper()
	if len(c.Values) != 1 {
		t.Errorf("%s: cell %q carries %d values, want 1 (%v)", where, c.Text, len(c.Values), want)
		return
	}
	got, err := strconv.ParseFloat(c.Values[0], 64)
	if err != nil || math.Float64bits(got) != math.Float64bits(want) {
		t.Errorf("%s: value %s, want the API's %v", where, c.Values[0], want)
	}
	if w := fmtNum(want, digits); c.Text != w {
		t.Errorf("%s: shows %q, want %q", where, c.Text, w)
	}
}

// sameMeasure checks a cell against a measure value of the API: a number,
// or an object whose numbers (FX_DELTA per currency, KR01 per curve and
// tenor) the cell must carry, all of them.
func sameMeasure(t *testing.T, where string, c cell, want any) {
	t.Helper()
	if f, ok := want.(float64); ok {
		sameNumber(t, where, c, f, 2)
		return
	}
	var leaves []float64
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case float64:
			leaves = append(leaves, x)
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(want)
	var got []float64
	for _, s := range c.Values {
		f, _ := strconv.ParseFloat(s, 64)
		got = append(got, f)
	}
	slices.Sort(leaves)
	slices.Sort(got)
	if !slices.Equal(got, leaves) {
		t.Errorf("%s: cell carries %v, want the API's %v", where, got, leaves)
	}
}

// cubeCell is a cube group as the API gives it (the tests read number
// measures only).
type cubeCell struct {
	Key   string  `json:"key"`
	Value float64 `json:"value"`
	Count int64   `json:"count"`
}

// positionRow is a result row of the API.
type positionRow struct {
	PositionID         string         `json:"position_id"`
	ProductType        string         `json:"product_type"`
	PositionSnapshotID string         `json:"position_snapshot_id"`
	ScenarioID         string         `json:"scenario_id"`
	Measures           map[string]any `json:"measures"`
}

// apiGet decodes a GET of the platform's API into out.
func apiGet(t *testing.T, c *client.Client, path string, out any) {
	t.Helper()
	if _, err := c.Do(context.Background(), http.MethodGet, path, nil, "", out); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// waitRunAPI polls the API until cond holds for the run.
func waitRunAPI(t *testing.T, c *client.Client, id string, cond func(client.Run) bool) client.Run {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		r, err := c.GetRun(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if cond(r) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s: condition not reached; last %+v", id, r)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestDashboard drives the dashboard in Chromium against a platform
// started in the test, as an analyst would: the runs list and a run page
// follow a run live (the test lets the only worker take one task at a
// time), then the summary, the cube, its chart and drill-downs, a
// position, the market data and the position snapshots show exactly the
// API's numbers; a failed run shows its DEAD tasks' errors.
func TestDashboard(t *testing.T) {
	b := uitest.MustBrowser(t)
	db := config.Database{Driver: config.DriverSQLite, Path: filepath.Join(t.TempDir(), "iprs.db")}
	d := mustStartDevWorkers(t, db, nil, 0)
	c := client.New(d.URL, "", nil)
	ctx := context.Background()

	gi := MustPushGenerated(t, c, "MKT-UI", gen.Options{SnapshotID: "PS-UI", NodeID: "BOOK-UI", AsOf: demoAsOf, Loans: 300, Bonds: 12, FXForwards: 9, Seed: 5})
	const runID = "RUN-UI"
	measures := []string{"PV", "DV01", "CS01", "ACCRUED_INTEREST", "FX_DELTA"}
	if _, _, err := c.SubmitRun(ctx, map[string]any{
		"run_id": runID, "run_type": "EOD_OFFICIAL", "as_of_time": demoAsOf.Format(time.RFC3339),
		"market_snapshot_id": "MKT-UI", "position_snapshot_id": gi.Receipt.PositionSnapshotID,
		"measures": measures, "scenarios": pricing.ScenarioIDs(), "execution": map[string]any{"hash_mod": 8},
	}); err != nil {
		t.Fatal(err)
	}
	g := startGatedWorker(t, d, "")

	// "/" opens the dashboard on the runs, where the queued run waits.
	b.Open(d.URL+"/", "/runs")
	uitest.Eval[bool](b, `window.__sameDocument = true`)
	row := `#runs-table tbody tr:first-child`
	if got := b.Text(row + " td:nth-child(1)"); got != runID {
		t.Fatalf("first run listed: %q, want %s", got, runID)
	}
	if got := b.Text(row + " .run-status"); got != "QUEUED" {
		t.Errorf("status shown %q, want QUEUED", got)
	}
	b.Screenshot("01-runs-queued")

	// One task: the list shows the progress the API reports, without a reload.
	g.gate <- struct{}{}
	partial := waitRunAPI(t, c, runID, func(r client.Run) bool { return r.Progress.PositionsDone > 0 })
	b.WaitJS("partial progress in the list", fmt.Sprintf(`document.querySelector(%q)?.dataset.done === "%d"`, row+" .progress", partial.Progress.PositionsDone))
	if got, want := b.Text(row+" .progress .text"), fmt.Sprintf("%s / %s positions · tasks 1/%d", fmtNum(float64(partial.Progress.PositionsDone), 0), fmtNum(float64(partial.Progress.PositionsTotal), 0), partial.Progress.TasksTotal); got != want {
		t.Errorf("progress shown %q, want %q", got, want)
	}
	if got := b.Text(row + " .run-status"); got != "RUNNING" {
		t.Errorf("status shown %q, want RUNNING", got)
	}
	b.Screenshot("02-runs-partial")

	// The run page, then every other task: it follows the run to COMPLETED.
	b.GoHash("#/runs/"+runID, "/runs/"+runID)
	if got := b.Text("#run-status"); got != "RUNNING" {
		t.Errorf("run page status %q, want RUNNING", got)
	}
	done := uitest.Eval[string](b, `document.getElementById('run-progress').dataset.done`)
	if done != strconv.FormatInt(partial.Progress.PositionsDone, 10) {
		t.Errorf("run page shows %s positions done, want %d", done, partial.Progress.PositionsDone)
	}
	b.Screenshot("03-run-partial")
	close(g.gate)
	final := waitRunAPI(t, c, runID, func(r client.Run) bool { return r.Final() })
	if final.Status != "COMPLETED" {
		t.Fatalf("run ended %s", final.Status)
	}
	b.WaitJS("COMPLETED on the run page", `document.getElementById('run-status')?.innerText === 'COMPLETED'`)
	b.WaitJS("the final summary", `document.getElementById('summary-body')?.dataset.runStatus === 'COMPLETED'`)
	if !uitest.Eval[bool](b, `window.__sameDocument === true`) {
		t.Error("the page was reloaded: progress must update in place")
	}
	fill := uitest.Eval[string](b, `document.querySelector('#run-progress .fill').style.width`)
	if fill != "100%" {
		t.Errorf("finished progress bar width %q, want 100%%", fill)
	}

	// The summary: every scenario's count, measures and P&L, as the API says.
	var sum struct {
		Scenarios map[string]struct {
			PositionCount int64          `json:"position_count"`
			Measures      map[string]any `json:"measures"`
			PnL           *float64       `json:"pnl"`
		} `json:"scenarios"`
	}
	apiGet(t, c, "/results/runs/"+runID+"/summary", &sum)
	hdr := headers(b, "#summary-table")
	wantHdr := append(append([]string{"Scenario", "Positions"}, measures...), "P&L vs BASE")
	if !slices.Equal(hdr, wantHdr) {
		t.Errorf("summary columns %v, want %v", hdr, wantHdr)
	}
	rows := tableCells(b, "#summary-table", "body")
	if len(rows) != len(sum.Scenarios) {
		t.Fatalf("summary shows %d scenarios, want %d", len(rows), len(sum.Scenarios))
	}
	if rows[0][0].Text != "BASE" {
		t.Errorf("first scenario shown %q, want BASE", rows[0][0].Text)
	}
	for _, r := range rows {
		sc, ok := sum.Scenarios[r[0].Text]
		if !ok {
			t.Errorf("summary shows scenario %q the API does not have", r[0].Text)
			continue
		}
		sameNumber(t, r[0].Text+" positions", r[1], float64(sc.PositionCount), 0)
		for i, m := range measures {
			sameMeasure(t, r[0].Text+" "+m, r[2+i], sc.Measures[m])
		}
		sameNumber(t, r[0].Text+" P&L", r[len(r)-1], *sc.PnL, 2)
	}
	if n := b.Count("#tasks-table tbody tr"); n != int(final.Progress.TasksTotal) {
		t.Errorf("tasks table has %d rows, want %d", n, final.Progress.TasksTotal)
	}
	b.Screenshot("04-run-completed")

	// In print, the page is the figures: no navigation, buttons or forms,
	// no scrolling frames cutting tables short.
	b.Media("print")
	for sel, want := range map[string]string{"header.top": "none", "#export-csv": "none", "#open-cube": "none"} {
		if got := uitest.Eval[string](b, fmt.Sprintf(`getComputedStyle(document.querySelector(%q)).display`, sel)); got != want {
			t.Errorf("print: %s display %q, want %q", sel, got, want)
		}
	}
	if got := uitest.Eval[string](b, `getComputedStyle(document.querySelector('#tasks-table')).maxHeight`); got != "none" {
		t.Errorf("print: the tasks table is cut at %s", got)
	}
	b.Screenshot("04-run-print")
	b.Media("")

	// The cube by product type: the API's groups, values and counts, shares
	// of the summary's total, and one bar per group.
	b.GoHash("#/runs/"+runID+"/cube?measure=PV&by=product_type&scenario=BASE&sort=key", "/runs/"+runID+"/cube")
	var cube []cubeCell
	apiGet(t, c, "/results/runs/"+runID+"/cube?measure=PV&by=product_type&scenario=BASE", &cube)
	crow := tableCells(b, "#cube-table", "body")
	if len(crow) != len(cube) {
		t.Fatalf("cube shows %d groups, want %d", len(crow), len(cube))
	}
	basePV := sum.Scenarios["BASE"].Measures["PV"].(float64)
	for i, cc := range cube {
		r := crow[i]
		if r[0].Text != cc.Key {
			t.Errorf("cube row %d: %q, want %q", i, r[0].Text, cc.Key)
		}
		sameNumber(t, "cube "+cc.Key, r[1], cc.Value, 2)
		if want := fmtNum(cc.Value/basePV*100, 1) + "%"; r[2].Text != want {
			t.Errorf("cube %s share %q, want %q", cc.Key, r[2].Text, want)
		}
		sameNumber(t, "cube "+cc.Key+" count", r[3], float64(cc.Count), 0)
	}
	foot := tableCells(b, "#cube-table", "foot")
	if len(foot) != 1 {
		t.Fatal("cube table has no total row")
	}
	sameNumber(t, "cube total", foot[0][1], basePV, 2)
	if n := b.Count("#cube-chart svg rect.bar"); n != len(cube) {
		t.Errorf("cube chart has %d bars, want %d", n, len(cube))
	}
	barKeys := uitest.Eval[[]string](b, `[...document.querySelectorAll('#cube-chart rect.bar')].map((r) => r.dataset.key)`)
	for _, cc := range cube {
		if !slices.Contains(barKeys, cc.Key) {
			t.Errorf("no bar for %s (bars %v)", cc.Key, barKeys)
		}
	}
	b.Screenshot("05-cube-product-type")

	// Drill down from a group to its positions, as the results API lists them.
	bondCount := 0
	for _, cc := range cube {
		if cc.Key == "FIXED_BOND" {
			bondCount = int(cc.Count)
		}
	}
	b.Click(`#cube-table a[data-key="FIXED_BOND"]`)
	b.WaitPage("/runs/" + runID + "/group")
	b.WaitJS("all bonds", fmt.Sprintf(`document.querySelectorAll('#group-table tbody tr:not(.empty)').length === %d`, bondCount))
	var base struct {
		Items []positionRow `json:"items"`
	}
	apiGet(t, c, "/results/runs/"+runID+"/positions?scenario=BASE&limit=1000", &base)
	pv := map[string]float64{}
	for _, it := range base.Items {
		if it.ProductType == "FIXED_BOND" {
			pv[it.PositionID] = it.Measures["PV"].(float64)
		}
	}
	grows := tableCells(b, "#group-table", "body")
	ghdr := headers(b, "#group-table")
	pvCol := slices.Index(ghdr, "PV")
	for _, r := range grows {
		want, ok := pv[r[0].Text]
		if !ok {
			t.Errorf("drill-down shows %s, not a bond of the run", r[0].Text)
			continue
		}
		sameNumber(t, "bond "+r[0].Text, r[pvCol], want, 2)
	}
	b.Screenshot("06-group-bonds")

	// A position under every scenario.
	first := grows[0][0].Text
	b.Click(`#group-table tbody tr:first-child a`)
	b.WaitPage("/runs/" + runID + "/positions/" + first)
	var pos struct {
		Items []positionRow `json:"items"`
	}
	apiGet(t, c, "/results/runs/"+runID+"/positions/"+first, &pos)
	prows := tableCells(b, ".position-table", "body")
	if len(prows) != len(pos.Items) {
		t.Fatalf("position page shows %d scenarios, want %d", len(prows), len(pos.Items))
	}
	phdr := headers(b, ".position-table")
	for _, r := range prows {
		for _, it := range pos.Items {
			if it.ScenarioID != r[0].Text {
				continue
			}
			for m, v := range it.Measures {
				if col := slices.Index(phdr, m); col >= 0 {
					sameMeasure(t, first+" "+it.ScenarioID+" "+m, r[col], v)
				} else {
					t.Errorf("position page has no column %s", m)
				}
			}
		}
	}
	b.Screenshot("07-position")

	// The cube by an attribute, and its drill-down through the snapshot.
	b.GoHash("#/runs/"+runID+"/cube?measure=DV01&by=attr:state&scenario=RATES_PARALLEL_1BP&sort=key", "/runs/"+runID+"/cube")
	apiGet(t, c, "/results/runs/"+runID+"/cube?measure=DV01&by=attr:state&scenario=RATES_PARALLEL_1BP", &cube)
	crow = tableCells(b, "#cube-table", "body")
	if len(crow) != len(cube) {
		t.Fatalf("cube by state shows %d groups, want %d", len(crow), len(cube))
	}
	for i, cc := range cube {
		if want := cc.Key; want != "" && crow[i][0].Text != want || want == "" && crow[i][0].Text != "(none)" {
			t.Errorf("cube by state row %d: %q, want %q", i, crow[i][0].Text, cc.Key)
		}
		sameNumber(t, "DV01 of "+cc.Key, crow[i][1], cc.Value, 2)
	}
	b.Screenshot("08-cube-state")
	var tx cubeCell
	for _, cc := range cube {
		if cc.Key == "TX" {
			tx = cc
		}
	}
	b.Click(`#cube-table a[data-key="TX"]`)
	b.WaitPage("/runs/" + runID + "/group")
	b.WaitJS("the TX loans", fmt.Sprintf(`document.querySelectorAll('#group-table tbody tr:not(.empty)').length === %d`, tx.Count))
	if got := b.Text("#group-status"); !strings.HasPrefix(got, fmt.Sprintf("%d of %d positions shown", tx.Count, tx.Count)) {
		t.Errorf("group status %q", got)
	}

	// Market data: the list, the curves as lines, the spots.
	b.GoHash("#/market", "/market")
	if got := b.Text("#markets-table tbody tr:first-child td:first-child"); got != "MKT-UI" {
		t.Errorf("market list starts with %q", got)
	}
	b.GoHash("#/market/MKT-UI", "/market/MKT-UI")
	var mkt struct {
		Curves []struct {
			CurveID   string `json:"curve_id"`
			CurveType string `json:"curve_type"`
		} `json:"curves"`
		FXSpots []struct {
			Pair string  `json:"pair"`
			Spot float64 `json:"spot"`
		} `json:"fx_spots"`
	}
	apiGet(t, c, "/mkt/snapshots/MKT-UI", &mkt)
	b.WaitJS("curve lines", fmt.Sprintf(`document.querySelectorAll('.curve-chart polyline.line').length === %d`, len(mkt.Curves)))
	lines := uitest.Eval[[]string](b, `[...document.querySelectorAll('.curve-chart polyline.line')].map((l) => l.dataset.series)`)
	for _, cv := range mkt.Curves {
		if !slices.Contains(lines, cv.CurveID) {
			t.Errorf("no line for curve %s (lines %v)", cv.CurveID, lines)
		}
	}
	srows := tableCells(b, "#spots-table", "body")
	if len(srows) != len(mkt.FXSpots) {
		t.Errorf("%d spots shown, want %d", len(srows), len(mkt.FXSpots))
	}
	for i, sp := range mkt.FXSpots {
		if i < len(srows) {
			if srows[i][0].Text != sp.Pair {
				t.Errorf("spot %d: %q, want %s", i, srows[i][0].Text, sp.Pair)
			}
			sameNumber(t, "spot "+sp.Pair, srows[i][1], sp.Spot, 6)
		}
	}
	b.Screenshot("09-market")

	// A snapshot with data-quality findings lists each of them.
	warn := `{"snapshot_id":"MKT-UI-WARN","as_of_time":"2026-01-23T17:00:00Z","vendor":"T","universe_id":"U","fx_spots":[],
		"curves":[{"curve_id":"USD-OIS","curve_type":"DISCOUNT","nodes":[{"tenor":"1Y","zero_rate":0.31}]}]}`
	rec, _, err := c.PushMarketSnapshot(ctx, strings.NewReader(warn))
	if err != nil {
		t.Fatal(err)
	}
	var issues []struct {
		Code string `json:"code"`
	}
	if err := json.Unmarshal(rec.Issues, &issues); err != nil || rec.DQStatus != "WARN" || len(issues) < 2 {
		t.Fatalf("WARN snapshot: %s %s %v", rec.DQStatus, rec.Issues, err)
	}
	b.GoHash("#/market/MKT-UI-WARN", "/market/MKT-UI-WARN")
	irows := tableCells(b, "#issues-table", "body")
	if len(irows) != len(issues) {
		t.Errorf("%d issues shown, want %d", len(irows), len(issues))
	}
	for i, is := range issues {
		if i < len(irows) && (irows[i][0].Text != "WARN" || irows[i][1].Text != is.Code) {
			t.Errorf("issue %d shown %q %q, want WARN %s", i, irows[i][0].Text, irows[i][1].Text, is.Code)
		}
	}
	b.Screenshot("09-market-warn")

	// Position snapshots: found through the runs; the stratification table,
	// or a calm notice while the server does not offer it.
	b.GoHash("#/books", "/books")
	if got := b.Text("#books-table tbody tr:first-child td:first-child"); got != "PS-UI" {
		t.Errorf("snapshot list starts with %q", got)
	}
	b.GoHash("#/books/PS-UI?by=state", "/books/PS-UI")
	_, err = c.Do(ctx, http.MethodGet, "/orch/position-snapshots/PS-UI/strats?by=attr:state", nil, "", nil)
	if client.StatusOf(err) == http.StatusNotFound {
		if b.Count("#strats-unavailable") != 1 {
			t.Error("the strats route answers 404 and the page does not say so")
		}
	} else {
		var strats struct {
			Items []struct {
				Key   string `json:"key"`
				Count int64  `json:"count"`
			} `json:"items"`
		}
		apiGet(t, c, "/orch/position-snapshots/PS-UI/strats?by=attr:state", &strats)
		srows := tableCells(b, "#strats-table", "body")
		if len(srows) != len(strats.Items) {
			t.Errorf("strats show %d groups, want %d", len(srows), len(strats.Items))
		}
	}
	if n := b.Count("#book-positions tbody tr"); n != 100 {
		t.Errorf("positions preview has %d rows, want the first page of 100", n)
	}
	b.Screenshot("10-book")

	// A run whose FX forward tasks die: FAILED, with each DEAD task's error.
	g.stop()
	close(startGatedWorker(t, d, "FX_FWD").gate)
	if _, _, err := c.SubmitRun(ctx, map[string]any{
		"run_id": "RUN-UI-FAIL", "run_type": "SANDBOX", "as_of_time": demoAsOf.Format(time.RFC3339),
		"market_snapshot_id": "MKT-UI", "position_snapshot_id": "PS-UI",
		"measures": []string{"PV"}, "scenarios": []string{"BASE"}, "execution": map[string]any{"hash_mod": 2, "max_attempts": 1},
	}); err != nil {
		t.Fatal(err)
	}
	b.GoHash("#/runs/RUN-UI-FAIL", "/runs/RUN-UI-FAIL")
	b.WaitJS("FAILED", `document.getElementById('run-status')?.innerText === 'FAILED'`)
	b.WaitJS("the dead tasks", `!!document.getElementById('dead-tasks')`)
	var tasks struct {
		Items []struct {
			Status    string  `json:"status"`
			LastError *string `json:"last_error"`
		} `json:"items"`
	}
	apiGet(t, c, "/orch/runs/RUN-UI-FAIL/tasks", &tasks)
	deadErrs := uitest.Eval[[]string](b, `[...document.querySelectorAll('#dead-tasks .dead-error')].map((e) => e.innerText)`)
	var want []string
	for _, tk := range tasks.Items {
		if tk.Status == "DEAD" {
			want = append(want, *tk.LastError)
		}
	}
	sort.Strings(want)
	sort.Strings(deadErrs)
	if len(want) == 0 || !slices.Equal(deadErrs, want) {
		t.Errorf("dead task errors shown %q, want %q", deadErrs, want)
	}
	if got := b.Text("#run-error"); !strings.Contains(got, "injected by the test") {
		t.Errorf("run error shown %q", got)
	}
	b.Screenshot("11-run-failed")
}

// TestDashboardBearerToken: with tokens configured, the page itself loads
// without one, shows the 401 problem readably until a token is entered,
// shows the refusal of a wrong token, and the data with a good one.
func TestDashboardBearerToken(t *testing.T) {
	b := uitest.MustBrowser(t)
	db := config.Database{Driver: config.DriverSQLite, Path: filepath.Join(t.TempDir(), "iprs.db")}
	d := mustStartDevWorkers(t, db, map[string]string{"IPRS_API_TOKENS": "s3cret-token"}, 1)
	c := client.New(d.URL, "s3cret-token", nil)
	MustPushGenerated(t, c, "MKT-TOK", gen.Options{SnapshotID: "PS-TOK", NodeID: "BOOK-TOK", AsOf: demoAsOf, Loans: 20, Seed: 2})
	submitAndWait(t, c, map[string]any{
		"run_id": "RUN-TOK", "run_type": "SANDBOX", "as_of_time": demoAsOf.Format(time.RFC3339),
		"market_snapshot_id": "MKT-TOK", "position_snapshot_id": "PS-TOK", "measures": []string{"PV"}, "scenarios": []string{"BASE"},
	})

	b.Open(d.URL+"/ui/", "/runs")
	b.WaitJS("the problem", `!!document.querySelector('#main .problem')`)
	if got := b.Text("#main .problem"); !strings.Contains(got, "401") || !strings.Contains(got, "Unauthorized") ||
		!strings.Contains(got, "Bearer") || !strings.Contains(got, "Enter it in the Token field") {
		t.Errorf("problem without a token: %q", got)
	}
	b.Screenshot("20-no-token")

	b.TypeInto("#token", "wrong")
	b.Click("#token-use")
	b.WaitJS("the refusal", `document.querySelector('#main .problem')?.innerText.includes('not valid')`)
	if got := b.Text("#main .problem"); !strings.Contains(got, "401") || !strings.Contains(got, "was refused") {
		t.Errorf("problem with a wrong token: %q", got)
	}
	b.Screenshot("21-wrong-token")

	b.TypeInto("#token", "s3cret-token")
	b.Click("#token-use")
	b.WaitPage("/runs")
	if got := b.Text("#runs-table tbody tr:first-child td:first-child"); got != "RUN-TOK" {
		t.Errorf("with the token the list starts with %q", got)
	}
	stored := uitest.Eval[string](b, `sessionStorage.getItem('iprs.token')`)
	if stored != "s3cret-token" {
		t.Errorf("token kept in sessionStorage: %q", stored)
	}
	if got := b.Text("#token-state"); got != "token set" {
		t.Errorf("token state %q", got)
	}

	// A bad query shows the problem's title, detail and parameter.
	b.GoHash("#/runs/RUN-TOK/cube?measure=NOPE&by=product_type", "/runs/RUN-TOK/cube")
	b.WaitJS("the 400", `!!document.querySelector('#main .problem[data-status="400"]')`)
	if got := b.Text(`#main .problem[data-status="400"]`); !strings.Contains(got, "?measure") || !strings.Contains(got, "must be one of the run's measures") {
		t.Errorf("400 problem shown %q", got)
	}
	b.Screenshot("22-bad-parameter")
}
