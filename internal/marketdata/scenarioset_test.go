package marketdata

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/canon"
	"github.com/iprs/iprs/internal/pricing"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/web"
)

const validSet = `{
  "scenario_set_id": "STRESS-1",
  "description": "two stresses",
  "scenarios": [
    {"scenario_id": "UP_50", "shocks": [{"type": "CURVE_SHIFT", "curves": "*-OIS", "shift_bp": 50}]},
    {"scenario_id": "TWIST_EUR_DOWN", "shocks": [
      {"type": "CURVE_TENOR_SHIFTS", "curves": ["USD-OIS"], "shifts_bp": {"2Y": -10, "10Y": 25}},
      {"type": "FX_SPOT", "pairs": ["EURUSD"], "relative": -0.1}
    ]}
  ]
}`

// problemPointers returns the pointers of a 400/422 problem body.
func problemPointers(t *testing.T, r response) []string {
	t.Helper()
	var p struct {
		Status int `json:"status"`
		Errors []struct {
			Pointer string `json:"pointer"`
			Detail  string `json:"detail"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("decode problem %s: %v", r.body, err)
	}
	if ct := r.header.Get("Content-Type"); ct != web.ProblemContentType {
		t.Errorf("Content-Type %q, want %s", ct, web.ProblemContentType)
	}
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Pointer)
	}
	return out
}

func TestScenarioSetCreateGetReplayConflict(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		first := f.do(t, http.MethodPost, "/mkt/scenario-sets", []byte(validSet))
		if first.status != http.StatusCreated {
			t.Fatalf("status %d %s", first.status, first.body)
		}
		if loc := first.header.Get("Location"); loc != "/mkt/scenario-sets/STRESS-1" {
			t.Errorf("Location %q", loc)
		}
		// The answer is the set as sent (canonical JSON) with its metadata.
		canonical, err := canon.Canonicalize([]byte(validSet))
		if err != nil {
			t.Fatal(err)
		}
		m := first.json(t)
		if m["payload_hash"] != canon.SHA256Hex(canonical) || m["scenario_count"] != json.Number("2") ||
			m["created_at"] != "2026-01-24T12:00:00Z" || m["scenario_set_id"] != "STRESS-1" || m["description"] != "two stresses" {
			t.Errorf("answer %s", first.body)
		}
		set, err := pricing.DecodeScenarioSet(mustJSON(t, stripMeta(m)))
		if err != nil {
			t.Fatalf("the answer does not decode as the set: %v", err)
		}
		if got := set.ScenarioIDs(); !slices.Equal(got, []string{"UP_50", "TWIST_EUR_DOWN"}) {
			t.Errorf("scenarios %v", got)
		}
		got := f.do(t, http.MethodGet, "/mkt/scenario-sets/STRESS-1", nil)
		if got.status != http.StatusOK || string(got.body) != string(first.body) {
			t.Errorf("GET: %d %s, want %s", got.status, got.body, first.body)
		}
		// The same content respelled, later: 200 with the stored set.
		f.clock.Advance(time.Hour)
		respelled := strings.ReplaceAll(strings.ReplaceAll(validSet, "\n", " "), `"shift_bp": 50`, `"shift_bp": 5.0e1`)
		again := f.do(t, http.MethodPost, "/mkt/scenario-sets", []byte(respelled))
		if again.status != http.StatusOK || string(again.body) != string(first.body) {
			t.Errorf("replay: %d %s, want 200 %s", again.status, again.body, first.body)
		}
		// Other content under the same id: 409, nothing changes.
		conflict := f.do(t, http.MethodPost, "/mkt/scenario-sets", []byte(strings.Replace(validSet, "50}", "51}", 1)))
		if conflict.status != http.StatusConflict || !strings.Contains(string(conflict.body), "STRESS-1") {
			t.Errorf("conflict: %d %s", conflict.status, conflict.body)
		}
		if got := f.do(t, http.MethodGet, "/mkt/scenario-sets/STRESS-1", nil); string(got.body) != string(first.body) {
			t.Errorf("after conflict: %s", got.body)
		}
		if r := f.do(t, http.MethodGet, "/mkt/scenario-sets/NOPE", nil); r.status != http.StatusNotFound {
			t.Errorf("unknown set: %d %s", r.status, r.body)
		}
		// The stored row is a scenario set, not another kind.
		row, err := f.db.SetGet(context.Background(), store.SetKindScenario, "STRESS-1")
		if err != nil || row.ItemCount != 2 || row.Description != "two stresses" || string(row.Payload) != string(canonical) {
			t.Errorf("stored row %+v, %v", row, err)
		}
	})
}

// stripMeta removes the metadata members of a set answer.
func stripMeta(m map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		switch k {
		case "payload_hash", "scenario_count", "created_at":
		default:
			out[k] = v
		}
	}
	return out
}

func TestScenarioSetRejectsWithPointers(t *testing.T) {
	f := setup(t)
	body := `{
	  "scenario_set_id": "BAD",
	  "colour": "red",
	  "scenarios": [
	    {"scenario_id": "BASE", "shocks": [{"type": "CURVE_SHIFT", "curves": "*-OIS", "shift_bp": "1"}]},
	    {"scenario_id": "A", "shocks": [{"type": "FX_SPOT", "pairs": [], "relative": -1, "shft": 2}]},
	    {"scenario_id": "A", "shocks": [{"type": "CURVE_TENOR_SHIFTS", "curves": 7, "shifts_bp": {"2Q": 1, "1Y": 1e400}}]},
	    {"scenario_id": "B", "shocks": [{"type": "WIGGLE"}]},
	    {"scenario_id": "C", "shocks": []}
	  ]
	}`
	r := f.do(t, http.MethodPost, "/mkt/scenario-sets", []byte(body))
	if r.status != http.StatusBadRequest {
		t.Fatalf("status %d %s", r.status, r.body)
	}
	got := problemPointers(t, r)
	for _, want := range []string{
		"/colour",                            // unknown member
		"/scenarios/0/shocks/0/shift_bp",     // a string, not a number
		"/scenarios/1/shocks/0/shft",         // unknown member in a shock
		"/scenarios/2/shocks/0/shifts_bp/1Y", // beyond a double
		"/scenarios/0/scenario_id",           // a built-in id
		"/scenarios/1/shocks/0/pairs",        // empty list
		"/scenarios/1/shocks/0/relative",     // not above −1
		"/scenarios/2/scenario_id",           // repeated
		"/scenarios/2/shocks/0/curves",       // neither array nor string
		"/scenarios/2/shocks/0/shifts_bp/2Q", // bad tenor
		"/scenarios/3/shocks/0/type",         // unknown type
		"/scenarios/4/shocks",                // no shocks
	} {
		if !slices.Contains(got, want) {
			t.Errorf("no problem at %s; got %q", want, got)
		}
	}
	// Each problem once, in document order (known members first).
	if n := len(slices.Compact(slices.Clone(got))); n != len(got) {
		t.Errorf("a pointer is listed twice: %q", got)
	}
	if got[0] != "/scenarios/0/scenario_id" || got[len(got)-1] != "/colour" {
		t.Errorf("order: %q", got)
	}
	// Nothing was stored.
	if r := f.do(t, http.MethodGet, "/mkt/scenario-sets/BAD", nil); r.status != http.StatusNotFound {
		t.Errorf("GET after 400: %d", r.status)
	}
	// A valid shape with only semantic problems lists each once.
	r = f.do(t, http.MethodPost, "/mkt/scenario-sets", []byte(`{"scenario_set_id": "a/b", "scenarios": [
	  {"scenario_id": "X", "shocks": [{"type": "CURVE_SHIFT", "curves": "", "shift_bp": 1}]}]}`))
	if got := problemPointers(t, r); r.status != http.StatusBadRequest || !slices.Equal(got, []string{"/scenario_set_id", "/scenarios/0/shocks/0/curves"}) {
		t.Errorf("status %d, pointers %q", r.status, got)
	}
	for _, bad := range []string{``, `[]`, `{"scenario_set_id": "X", "scenarios": [`, `{"scenario_set_id": "X", "scenario_set_id": "Y", "scenarios": []}`} {
		if r := f.do(t, http.MethodPost, "/mkt/scenario-sets", []byte(bad)); r.status != http.StatusBadRequest {
			t.Errorf("%q: status %d %s", bad, r.status, r.body)
		}
	}
	rows, err := f.db.SetList(context.Background(), store.SetKindScenario, store.ListParams{})
	if err != nil || len(rows) != 0 {
		t.Errorf("stored after rejections: %d rows, %v", len(rows), err)
	}
}

func TestScenarioSetList(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		for _, id := range []string{"S-B", "S-A", "S-C"} {
			doc := strings.Replace(validSet, "STRESS-1", id, 1)
			if r := f.do(t, http.MethodPost, "/mkt/scenario-sets", []byte(doc)); r.status != http.StatusCreated {
				t.Fatalf("%s: %d %s", id, r.status, r.body)
			}
			f.clock.Advance(time.Minute)
		}
		var ids []string
		path := "/mkt/scenario-sets?limit=2"
		for pages := 0; path != ""; pages++ {
			if pages > 3 {
				t.Fatal("pagination does not end")
			}
			r := f.do(t, http.MethodGet, path, nil)
			if r.status != http.StatusOK {
				t.Fatalf("list: %d %s", r.status, r.body)
			}
			var l struct {
				Items []struct {
					ScenarioSetID string `json:"scenario_set_id"`
					Description   string `json:"description"`
					ScenarioCount int    `json:"scenario_count"`
					PayloadHash   string `json:"payload_hash"`
					CreatedAt     string `json:"created_at"`
				} `json:"items"`
				NextCursor *string `json:"next_cursor"`
			}
			if err := json.Unmarshal(r.body, &l); err != nil {
				t.Fatal(err)
			}
			for _, it := range l.Items {
				ids = append(ids, it.ScenarioSetID)
				if it.ScenarioCount != 2 || it.Description != "two stresses" || len(it.PayloadHash) != 64 {
					t.Errorf("item %+v", it)
				}
			}
			path = ""
			if l.NextCursor != nil {
				path = "/mkt/scenario-sets?limit=2&cursor=" + *l.NextCursor
			}
		}
		if !slices.Equal(ids, []string{"S-C", "S-A", "S-B"}) {
			t.Errorf("listed %v, want newest first", ids)
		}
		if r := f.do(t, http.MethodGet, "/mkt/scenario-sets?limit=0", nil); r.status != http.StatusBadRequest {
			t.Errorf("limit=0: %d", r.status)
		}
	})
}

// histSnapshot is a market snapshot with USD-OIS at the given (tenor,
// percent) nodes, LOAN-SPREAD flat 1.2% and EURUSD.
func histSnapshot(t *testing.T, id, asOf string, eurusd float64, nodes ...any) []byte {
	var ns []any
	for i := 0; i < len(nodes); i += 2 {
		ns = append(ns, map[string]any{"tenor": nodes[i], "zero_rate": nodes[i+1].(float64) / 100})
	}
	return mustJSON(t, map[string]any{
		"snapshot_id": id, "as_of_time": asOf, "vendor": "TEST", "universe_id": "USD",
		"fx_spots": []any{map[string]any{"pair": "EURUSD", "spot": eurusd}},
		"curves": []any{
			map[string]any{"curve_id": "USD-OIS", "curve_type": "DISCOUNT", "nodes": ns},
			map[string]any{"curve_id": "LOAN-SPREAD", "curve_type": "SPREAD", "nodes": []any{
				map[string]any{"tenor": "1Y", "zero_rate": 0.012}, map[string]any{"tenor": "5Y", "zero_rate": 0.012}}},
		},
	})
}

// TestHistoricalSetOverHTTP stores snapshots on three dates (plus an
// earlier one on the first date and a later FAIL one on the second, both
// ignored) and checks the built set against changes worked by hand:
//
//	2026-01-05 → 06: USD-OIS 1Y 4.00→4.10% (+10bp), 5Y 4.50→4.40% (−10bp);
//	                 EURUSD 1.10→1.1055 (+0.5%)
//	2026-01-06 → 07: 1Y 4.10→4.20% (+10bp); 5Y is not a node of the 7th,
//	                 read between 1Y 4.2% and 10Y 4.8%: 4.2 + 0.6·4/9 =
//	                 4.4666…%, so +6.666…bp; EURUSD 1.1055→1.0502.
func TestHistoricalSetOverHTTP(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		failing := validDoc()
		failing["snapshot_id"], failing["as_of_time"] = "M-FAIL", "2026-01-06T19:00:00Z"
		curve(failing, 0)["nodes"] = []any{}
		for _, doc := range [][]byte{
			histSnapshot(t, "M-5-early", "2026-01-05T12:00:00Z", 9.99, "1Y", 9.0, "5Y", 9.0),
			histSnapshot(t, "M-5", "2026-01-05T17:00:00Z", 1.10, "1Y", 4.00, "5Y", 4.50),
			histSnapshot(t, "M-6", "2026-01-06T17:00:00+00:00", 1.1055, "5Y", 4.40, "1Y", 4.10),
			mustJSON(t, failing),
			histSnapshot(t, "M-7", "2026-01-07T12:00:00-05:00", 1.0502, "1Y", 4.20, "10Y", 4.80),
			histSnapshot(t, "M-9", "2026-01-09T17:00:00Z", 1.0, "1Y", 4.20),
		} {
			if r := f.post(t, doc); r.status != http.StatusCreated {
				t.Fatalf("snapshot: %d %s", r.status, r.body)
			}
		}
		req := `{"scenario_set_id": "HIST-JAN", "from": "2026-01-05", "to": "2026-01-07", "curves": "*-OIS", "pairs": ["EURUSD"]}`
		r := f.do(t, http.MethodPost, "/mkt/scenario-sets/historical", []byte(req))
		if r.status != http.StatusCreated {
			t.Fatalf("historical: %d %s", r.status, r.body)
		}
		m := r.json(t)
		set, err := pricing.DecodeScenarioSet(mustJSON(t, stripMeta(m)))
		if err != nil {
			t.Fatalf("answer is not a set: %v\n%s", err, r.body)
		}
		if got := set.ScenarioIDs(); !slices.Equal(got, []string{"HIST-2026-01-06", "HIST-2026-01-07"}) {
			t.Fatalf("scenarios %v", got)
		}
		desc, _ := m["description"].(string)
		if !strings.Contains(desc, "M-5") || !strings.Contains(desc, "M-7") || !strings.Contains(desc, "3 snapshots") {
			t.Errorf("description %q does not say which snapshots", desc)
		}
		type want struct {
			shifts map[string]float64
			rel    float64
		}
		for i, w := range []want{
			{map[string]float64{"1Y": 10, "5Y": -10}, 1.1055/1.10 - 1},
			{map[string]float64{"1Y": 10, "5Y": (4.2 + 0.6*4/9 - 4.4) * 100}, 1.0502/1.1055 - 1},
		} {
			sc := set.Scenarios[i]
			if len(sc.Shocks) != 2 || sc.Shocks[0].Type != pricing.ShockCurveTenorShifts || sc.Shocks[1].Type != pricing.ShockFXSpot {
				t.Fatalf("%s: shocks %+v", sc.ScenarioID, sc.Shocks)
			}
			if ids := sc.Shocks[0].Curves.IDs(); !slices.Equal(ids, []string{"USD-OIS"}) {
				t.Errorf("%s: curves %v", sc.ScenarioID, ids)
			}
			bp := sc.Shocks[0].ShiftsBP
			if len(bp) != len(w.shifts) {
				t.Errorf("%s: shifts %v, want %v", sc.ScenarioID, bp, w.shifts)
			}
			for tenor, v := range w.shifts {
				if math.Abs(bp[tenor]-v) > 1e-9 {
					t.Errorf("%s %s: %v bp, want %v", sc.ScenarioID, tenor, bp[tenor], v)
				}
			}
			if rel := *sc.Shocks[1].Relative; math.Abs(rel-w.rel) > 1e-15 {
				t.Errorf("%s EURUSD: %v, want %v", sc.ScenarioID, rel, w.rel)
			}
		}
		// Stored like any other set: GET gives it; the same request again
		// is 200 with the same body; other content under the id is 409.
		if g := f.do(t, http.MethodGet, "/mkt/scenario-sets/HIST-JAN", nil); g.status != http.StatusOK || string(g.body) != string(r.body) {
			t.Errorf("GET: %d %s", g.status, g.body)
		}
		f.clock.Advance(time.Hour)
		if again := f.do(t, http.MethodPost, "/mkt/scenario-sets/historical", []byte(req)); again.status != http.StatusOK || string(again.body) != string(r.body) {
			t.Errorf("replay: %d %s", again.status, again.body)
		}
		wider := strings.Replace(req, `"2026-01-07"`, `"2026-01-09"`, 1)
		if c := f.do(t, http.MethodPost, "/mkt/scenario-sets/historical", []byte(wider)); c.status != http.StatusConflict {
			t.Errorf("other content: %d %s", c.status, c.body)
		}
		// Defaults: every curve and pair, horizon 2 (one scenario, 5th → 7th).
		r = f.do(t, http.MethodPost, "/mkt/scenario-sets/historical", []byte(`{"scenario_set_id": "H2", "from": "2026-01-01", "to": "2026-01-08", "horizon_days": 2}`))
		if r.status != http.StatusCreated {
			t.Fatalf("h = 2: %d %s", r.status, r.body)
		}
		set, err = pricing.DecodeScenarioSet(mustJSON(t, stripMeta(r.json(t))))
		if err != nil || len(set.Scenarios) != 1 || set.Scenarios[0].ScenarioID != "HIST-2026-01-07" || len(set.Scenarios[0].Shocks) != 3 {
			t.Fatalf("h = 2: %v %s", err, r.body)
		}
		if bp := set.Scenarios[0].Shocks[1].ShiftsBP; math.Abs(bp["5Y"]-(4.2+0.6*4/9-4.5)*100) > 1e-9 || math.Abs(bp["1Y"]-20) > 1e-9 {
			t.Errorf("h = 2 USD-OIS shifts %v", bp)
		}
		// 422: a selected curve missing, and too few dates.
		r = f.do(t, http.MethodPost, "/mkt/scenario-sets/historical", []byte(`{"scenario_set_id": "X", "from": "2026-01-05", "to": "2026-01-07", "curves": ["USD-OIS", "GBP-OIS"]}`))
		if got := problemPointers(t, r); r.status != http.StatusUnprocessableEntity || !slices.Equal(got, []string{"/curves/1"}) ||
			!strings.Contains(string(r.body), "GBP-OIS") {
			t.Errorf("missing curve: %d %s", r.status, r.body)
		}
		r = f.do(t, http.MethodPost, "/mkt/scenario-sets/historical", []byte(`{"scenario_set_id": "X", "from": "2026-01-06", "to": "2026-01-06"}`))
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), "needs at least 2") {
			t.Errorf("one date: %d %s", r.status, r.body)
		}
		if g := f.do(t, http.MethodGet, "/mkt/scenario-sets/X", nil); g.status != http.StatusNotFound {
			t.Errorf("a refused request stored a set: %d", g.status)
		}
	})
}

func TestHistoricalRequestRejects(t *testing.T) {
	f := setup(t)
	for _, c := range []struct {
		body string
		want []string
	}{
		{`{"from": "2026-01-05", "to": "2026-01-07"}`, []string{"/scenario_set_id"}},
		{`{"scenario_set_id": "X", "from": "2026-1-5", "to": "07.01.2026", "horizon_days": 0}`, []string{"/from", "/to", "/horizon_days"}},
		{`{"scenario_set_id": "X", "from": "2026-01-07", "to": "2026-01-05"}`, []string{"/to"}},
		{`{"scenario_set_id": "X", "from": "2026-01-05", "to": "2026-01-07", "horizon_days": 1.5, "window": 3}`, []string{"/horizon_days", "/window"}},
		{`{"scenario_set_id": "", "from": "2026-01-05", "to": "2026-01-07", "curves": [], "pairs": ""}`, []string{"/scenario_set_id", "/curves", "/pairs"}},
		{`{"scenario_set_id": "X", "to": "2026-01-07", "curves": 5}`, []string{"/curves", "/from"}},
	} {
		r := f.do(t, http.MethodPost, "/mkt/scenario-sets/historical", []byte(c.body))
		got := problemPointers(t, r)
		slices.Sort(got)
		want := slices.Clone(c.want)
		slices.Sort(want)
		if r.status != http.StatusBadRequest || !slices.Equal(got, want) {
			t.Errorf("%s: %d %q, want 400 %q\n%s", c.body, r.status, got, want, r.body)
		}
	}
}
