package results

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/web"
)

// compareServer serves the results routes with cached comparison chunks of
// chunk positions.
func compareServer(tb testing.TB, st store.Store, chunk int) *httptest.Server {
	tb.Helper()
	m := web.NewMux(web.Config{Service: "results", Prefix: Prefix})
	New(st, nil, Options{CompareChunk: chunk}).Register(m)
	srv := httptest.NewServer(m.Handler())
	tb.Cleanup(srv.Close)
	return srv
}

// cmpAnswer is a comparison as a client reads it: values kept as JSON so
// that null, numbers and objects can be told apart.
type cmpAnswer struct {
	BaseRunID   string  `json:"base_run_id"`
	TargetRunID string  `json:"target_run_id"`
	Measure     string  `json:"measure"`
	Scenario    string  `json:"scenario"`
	AbsTol      float64 `json:"abs_tol"`
	RelTol      float64 `json:"rel_tol"`
	Totals      struct {
		Base, Target, Diff json.RawMessage
	} `json:"totals"`
	Counts     CompareCounts `json:"counts"`
	Items      []cmpItem     `json:"items"`
	NextCursor *string       `json:"next_cursor"`
}

type cmpItem struct {
	PositionID string          `json:"position_id"`
	Base       json.RawMessage `json:"base"`
	Target     json.RawMessage `json:"target"`
	Diff       json.RawMessage `json:"diff"`
	Status     string          `json:"status"`
}

func getCompare(tb testing.TB, srv *httptest.Server, query string) cmpAnswer {
	tb.Helper()
	var a cmpAnswer
	getJSON(tb, srv, "/results/compare?"+query, http.StatusOK, &a)
	if a.Items == nil {
		tb.Fatalf("compare?%s: items is not a list", query)
	}
	return a
}

// num reads a JSON number exactly as a double; "null" is NaN.
func num(tb testing.TB, raw json.RawMessage) float64 {
	tb.Helper()
	if string(raw) == "null" {
		return math.NaN()
	}
	var x float64
	if err := json.Unmarshal(raw, &x); err != nil {
		tb.Fatalf("%s is not a number: %v", raw, err)
	}
	return x
}

// exactSum is the sum of xs computed with rationals and rounded once: a
// second method, independent of internal/exactsum.
func exactSum(xs ...float64) float64 {
	s := new(big.Rat)
	for _, x := range xs {
		s.Add(s, new(big.Rat).SetFloat64(x))
	}
	f, _ := s.Float64()
	return f
}

// naiveSum adds left to right in float64.
func naiveSum(xs ...float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s
}

func pos(snapshot, id, product string, base vals, rates vals, ccy string) bookPosition {
	if rates == nil {
		rates = base
	}
	return bookPosition{snapshot: snapshot, id: id, product: product, ccy: ccy,
		values: map[string]vals{"BASE": base, "RATES_PARALLEL_1BP": rates}}
}

// dayOne and dayTwo value two snapshots of the same book on two days.
func dayOne() []bookPosition {
	return []bookPosition{
		pos("SA", "A01", "AMORT_LOAN", vals{"PV": 1e16, "DV01": -1}, nil, ""),
		pos("SA", "A02", "AMORT_LOAN", vals{"PV": 1, "DV01": -1}, nil, ""),
		pos("SA", "A03", "AMORT_LOAN", vals{"PV": 1, "DV01": -1}, nil, ""),
		pos("SA", "A04", "FIXED_BOND", vals{"PV": -1e16, "DV01": -1}, nil, ""),
		pos("SA", "A05", "AMORT_LOAN", vals{"PV": 250, "DV01": -1}, nil, ""),
		pos("SA", "A07", "AMORT_LOAN", vals{"PV": 100, "DV01": -1}, nil, ""),
		pos("SA", "A08", "AMORT_LOAN", vals{"PV": 1, "DV01": -1}, nil, ""),
		pos("SA", "A09", "FIXED_BOND", vals{"PV": -100, "DV01": -1}, nil, ""),
		pos("SA", "F01", "FX_FWD", vals{"PV": 0.75, "FX_DELTA": 1000}, nil, "EUR"),
		pos("SA", "F02", "FX_FWD", vals{"PV": 2, "FX_DELTA": 500}, nil, "EUR"),
		pos("SA", "X01", "AMORT_LOAN", vals{"PV": 10, "DV01": -2}, nil, ""),
	}
}

func dayTwo() []bookPosition {
	return []bookPosition{
		pos("SA", "A01", "AMORT_LOAN", vals{"PV": 1e16, "DV01": -1}, nil, ""),
		pos("SA", "A02", "AMORT_LOAN", vals{"PV": 1, "DV01": -1}, vals{"PV": 2, "DV01": -1}, ""),
		pos("SA", "A03", "AMORT_LOAN", vals{"PV": 3, "DV01": -1}, nil, ""),
		pos("SA", "A04", "FIXED_BOND", vals{"PV": -1e16, "DV01": -1}, nil, ""),
		pos("SA", "A06", "AMORT_LOAN", vals{"PV": 0.5, "DV01": -1}, nil, ""),
		pos("SA", "A07", "AMORT_LOAN", vals{"PV": 101, "DV01": -1.5}, nil, ""),
		pos("SA", "A08", "AMORT_LOAN", vals{"PV": 1.1, "DV01": -1}, nil, ""),
		pos("SA", "A09", "FIXED_BOND", vals{"PV": -130, "DV01": -1}, nil, ""),
		pos("SA", "F01", "FX_FWD", vals{"PV": 0.75, "FX_DELTA": 1000}, nil, "EUR"),
		pos("SA", "F02", "FX_FWD", vals{"PV": 2, "FX_DELTA": 600}, nil, "GBP"),
		pos("SA", "F03", "FX_FWD", vals{"PV": 3, "FX_DELTA": 50}, nil, "GBP"),
		pos("SA", "X01", "FX_FWD", vals{"PV": 10, "FX_DELTA": 5}, nil, "JPY"),
	}
}

// mustDays stores the two days' runs D1 and D2, COMPLETED.
func mustDays(tb testing.TB, st store.Store) {
	tb.Helper()
	MustRunWithResults(tb, st, "D1", handMeasures, handScenarios, dayOne(), 2, false, nil)
	MustRunWithResults(tb, st, "D2", handMeasures, handScenarios, dayTwo(), 4, true, nil)
}

// pvOf lists the PVs of a day under BASE.
func pvOf(book []bookPosition) []float64 {
	var out []float64
	for _, bp := range book {
		out = append(out, bp.values["BASE"]["PV"])
	}
	return out
}

func TestCompareDayOverDay(t *testing.T) {
	t.Parallel()
	eachStore(t, testCompareDayOverDay)
}

func testCompareDayOverDay(t *testing.T, st store.Store) {
	mustDays(t, st)
	srv := compareServer(t, st, 2)

	a := getCompare(t, srv, "base=D1&target=D2")
	if a.BaseRunID != "D1" || a.TargetRunID != "D2" || a.Measure != "PV" || a.Scenario != "BASE" || a.AbsTol != 0 || a.RelTol != 0 {
		t.Errorf("echo = %s %s %s %s %v %v; want the defaults PV, BASE, 0, 0", a.BaseRunID, a.TargetRunID, a.Measure, a.Scenario, a.AbsTol, a.RelTol)
	}
	if want := (CompareCounts{Matched: 6, OnlyInBase: 1, OnlyInTarget: 2, Breaks: 4}); a.Counts != want {
		t.Errorf("counts = %+v, want %+v", a.Counts, want)
	}
	// Totals are exact: 1e16 + 1 + 1 − 1e16 … is 265.75, where adding in
	// position order gives 263.75.
	b1, b2 := pvOf(dayOne()), pvOf(dayTwo())
	if naiveSum(b1...) == 265.75 || exactSum(b1...) != 265.75 {
		t.Fatalf("fixture: naive %v, exact %v; want the naive sum to miss 265.75", naiveSum(b1...), exactSum(b1...))
	}
	wantDiff := exactSum(append(slices.Clone(b2), negate(b1)...)...)
	if got := num(t, a.Totals.Base); got != 265.75 {
		t.Errorf("totals.base = %v, want 265.75", got)
	}
	if got, want := num(t, a.Totals.Target), exactSum(b2...); got != want {
		t.Errorf("totals.target = %v, want %v", got, want)
	}
	if got := num(t, a.Totals.Diff); got != wantDiff {
		t.Errorf("totals.diff = %v, want %v", got, wantDiff)
	}

	// The non-matching positions, by position id; a missing side and its
	// diff are null; the diff of 1.1 − 1 is 0.1, not 0.10000000000000009.
	want := []cmpItem{
		{"A03", raw("1"), raw("3"), raw("2"), StatusBreak},
		{"A05", raw("250"), raw("null"), raw("null"), StatusOnlyInBase},
		{"A06", raw("null"), raw("0.5"), raw("null"), StatusOnlyInTarget},
		{"A07", raw("100"), raw("101"), raw("1"), StatusBreak},
		{"A08", raw("1"), raw("1.1"), raw("0.1"), StatusBreak},
		{"A09", raw("-100"), raw("-130"), raw("-30"), StatusBreak},
		{"F03", raw("null"), raw("3"), raw("null"), StatusOnlyInTarget},
	}
	checkItems(t, a.Items, want)
	if a.NextCursor != nil {
		t.Errorf("next_cursor = %q on the only page", *a.NextCursor)
	}

	// Another scenario: A02 differs only under RATES_PARALLEL_1BP.
	r := getCompare(t, srv, "base=D1&target=D2&scenario=RATES_PARALLEL_1BP&measure=PV")
	if r.Scenario != "RATES_PARALLEL_1BP" || r.Counts.Breaks != 5 || r.Counts.Matched != 5 || len(r.Items) != 8 || r.Items[0].PositionID != "A02" {
		t.Errorf("under RATES_PARALLEL_1BP: %+v, first item %+v; want 5 breaks from A02", r.Counts, r.Items[0])
	}

	// DV01: a position whose product no longer has the measure breaks,
	// with that side null; positions with the measure on neither side
	// match.
	d := getCompare(t, srv, "base=D1&target=D2&measure=DV01")
	if want := (CompareCounts{Matched: 8, OnlyInBase: 1, OnlyInTarget: 2, Breaks: 2}); d.Counts != want {
		t.Errorf("DV01 counts = %+v, want %+v", d.Counts, want)
	}
	if num(t, d.Totals.Base) != -10 || num(t, d.Totals.Target) != -8.5 || num(t, d.Totals.Diff) != 1.5 {
		t.Errorf("DV01 totals = %s %s %s, want -10 -8.5 1.5", d.Totals.Base, d.Totals.Target, d.Totals.Diff)
	}
	checkItems(t, d.Items, []cmpItem{
		{"A05", raw("-1"), raw("null"), raw("null"), StatusOnlyInBase},
		{"A06", raw("null"), raw("-1"), raw("null"), StatusOnlyInTarget},
		{"A07", raw("-1"), raw("-1.5"), raw("-0.5"), StatusBreak},
		{"F03", raw("null"), raw("null"), raw("null"), StatusOnlyInTarget},
		{"X01", raw("-2"), raw("null"), raw("null"), StatusBreak},
	})

	// FX_DELTA is per currency, in totals and items alike; a position
	// whose pair changed breaks in both currencies.
	f := getCompare(t, srv, "base=D1&target=D2&measure=FX_DELTA")
	if want := (CompareCounts{Matched: 8, OnlyInBase: 1, OnlyInTarget: 2, Breaks: 2}); f.Counts != want {
		t.Errorf("FX_DELTA counts = %+v, want %+v", f.Counts, want)
	}
	checkJSON(t, "FX_DELTA totals.base", f.Totals.Base, `{"EUR":1500}`)
	checkJSON(t, "FX_DELTA totals.target", f.Totals.Target, `{"EUR":1000,"GBP":650,"JPY":5}`)
	checkJSON(t, "FX_DELTA totals.diff", f.Totals.Diff, `{"EUR":-500,"GBP":650,"JPY":5}`)
	checkItems(t, f.Items, []cmpItem{
		{"A05", raw("null"), raw("null"), raw("null"), StatusOnlyInBase},
		{"A06", raw("null"), raw("null"), raw("null"), StatusOnlyInTarget},
		{"F02", raw(`{"EUR":500}`), raw(`{"GBP":600}`), raw(`{"EUR":-500,"GBP":600}`), StatusBreak},
		{"F03", raw("null"), raw(`{"GBP":50}`), raw("null"), StatusOnlyInTarget},
		{"X01", raw("null"), raw(`{"JPY":5}`), raw("null"), StatusBreak},
	})
	// Within 1,000 in every currency F02 matches; X01 still lacks the
	// measure on one side.
	if f := getCompare(t, srv, "base=D1&target=D2&measure=FX_DELTA&abs_tol=1000"); f.Counts.Breaks != 1 || f.Counts.Matched != 9 {
		t.Errorf("FX_DELTA within 1000: %+v, want 1 break", f.Counts)
	}

	// A run compared with itself matches everywhere.
	self := getCompare(t, srv, "base=D2&target=D2")
	if self.Counts != (CompareCounts{Matched: 12}) || len(self.Items) != 0 || num(t, self.Totals.Diff) != 0 {
		t.Errorf("D2 against itself: %+v, %d items, diff %s", self.Counts, len(self.Items), self.Totals.Diff)
	}
	// The other way round, the sides swap.
	rev := getCompare(t, srv, "base=D2&target=D1")
	if rev.Counts != (CompareCounts{Matched: 6, OnlyInBase: 2, OnlyInTarget: 1, Breaks: 4}) || num(t, rev.Totals.Diff) != -wantDiff {
		t.Errorf("D2 → D1: %+v, diff %s", rev.Counts, rev.Totals.Diff)
	}
}

// TestCompareToleranceBoundary: a difference exactly at abs_tol +
// rel_tol·|base| is not a break, decided on the numbers as written (1.1 − 1
// is exactly 0.1), one ulp beyond it is.
func TestCompareToleranceBoundary(t *testing.T) {
	t.Parallel()
	st := MustOpen(t)
	mustDays(t, st)
	srv := compareServer(t, st, 0)
	// The breaks among A03 (1 → 3), A07 (100 → 101), A08 (1 → 1.1) and
	// A09 (−100 → −130).
	for _, c := range []struct {
		query  string
		breaks []string
	}{
		{"", []string{"A03", "A07", "A08", "A09"}},
		{"abs_tol=1", []string{"A03", "A09"}},
		{"abs_tol=0.1", []string{"A03", "A07", "A09"}},
		{"abs_tol=0.09999999999999999", []string{"A03", "A07", "A08", "A09"}},
		{"abs_tol=2", []string{"A09"}},
		{"abs_tol=30", nil},
		{"abs_tol=29.999999999999996", []string{"A09"}},
		{"rel_tol=0.3", []string{"A03"}},
		{"rel_tol=0.29999999999999993", []string{"A03", "A09"}},
		{"rel_tol=2", nil},
		{"rel_tol=1.9999999999999998", []string{"A03"}},
		{"abs_tol=0.5&rel_tol=0.005", []string{"A03", "A09"}},
		{"abs_tol=0.5&rel_tol=0.0049", []string{"A03", "A07", "A09"}},
		{"abs_tol=5e-1&rel_tol=5E-3", []string{"A03", "A09"}},
	} {
		a := getCompare(t, srv, "base=D1&target=D2&"+c.query)
		var got []string
		for _, it := range a.Items {
			if it.Status == StatusBreak {
				got = append(got, it.PositionID)
			}
		}
		if !slices.Equal(got, c.breaks) || a.Counts.Breaks != int64(len(c.breaks)) {
			t.Errorf("%s: breaks %q (count %d), want %q", c.query, got, a.Counts.Breaks, c.breaks)
		}
		if total := a.Counts.Matched + a.Counts.Breaks + a.Counts.OnlyInBase + a.Counts.OnlyInTarget; total != 13 {
			t.Errorf("%s: counts add up to %d, want 13 positions", c.query, total)
		}
	}
}

func TestToleranceExceeds(t *testing.T) {
	t.Parallel()
	tol := func(abs, rel string) *tolerance {
		a, ar, ok1 := parseTolerance(abs)
		r, rr, ok2 := parseTolerance(rel)
		if !ok1 || !ok2 {
			t.Fatalf("parseTolerance(%q, %q)", abs, rel)
		}
		return &tolerance{abs: a, rel: r, absR: ar, relR: rr}
	}
	for _, c := range []struct {
		b, t     float64
		abs, rel string
		want     bool
	}{
		{1, 1.1, "0.1", "0", false},
		{1, math.Nextafter(1.1, 2), "0.1", "0", true},
		{1000, 999.9, "0.1", "0", false},
		{2.2, 2.1, "0.1", "0", false},
		{100, 130, "0", "0.3", false},
		{-100, -130, "0", "0.3", false},
		{-100, -70, "0", "0.3", false},
		{-100, math.Nextafter(-70, 0), "0", "0.3", true},
		{3, 3.6, "0", "0.2", false},
		{0, 0, "0", "0", false},
		{0, math.SmallestNonzeroFloat64, "0", "0", true},
		{0, math.SmallestNonzeroFloat64, "5e-324", "0", false},
		{5, 5, "0", "0", false},
		{-math.MaxFloat64, math.MaxFloat64, "0", "1", true},
		{-math.MaxFloat64, math.MaxFloat64, "0", "2", false},
		{math.MaxFloat64, -math.MaxFloat64, "1.7976931348623157e308", "1", false},
		{1e16, 1e16 + 2, "1.9999999999999998", "0", true},
		{1e16, 1e16 + 2, "2", "0", false},
		// Written out, 2 × 2693.4062198001984 is 5386.812439600397, and
		// 5386.812439600397 − 2693.4062198001984 = 2693.4062198001986.
		{2693.4062198001984, 2 * 2693.4062198001984, "0", "1", true},
		{2693.4062198001984, 2 * 2693.4062198001984, "0", "1.0000000000000001", false},
	} {
		if got := tol(c.abs, c.rel).exceeds(c.b, c.t); got != c.want {
			t.Errorf("|%v − %v| > %s + %s·|%v| = %v, want %v", c.t, c.b, c.abs, c.rel, c.b, got, c.want)
		}
	}
}

func TestCompareMultiSnapshotRuns(t *testing.T) {
	t.Parallel()
	eachStore(t, testCompareMultiSnapshotRuns)
}

func testCompareMultiSnapshotRuns(t *testing.T, st store.Store) {
	pv := func(snap, id string, x float64) bookPosition {
		return pos(snap, id, "AMORT_LOAN", vals{"PV": x}, nil, "")
	}
	// P5 is in three snapshots of M1 (1e16 + 1 + 1, exactly 1e16 + 2), P8
	// in two (0.5 + 0.25).
	MustRunWithResults(t, st, "M1", []string{"PV"}, handScenarios, []bookPosition{
		pv("S1", "P1", 1), pv("S1", "P5", 1e16), pv("S1", "P8", 0.5),
		pv("S2", "P2", 2), pv("S2", "P5", 1), pv("S2", "P8", 0.25),
		pv("S3", "P3", 3), pv("S3", "P5", 1), pv("S3", "P6", 6),
	}, 2, false, nil)
	MustRunWithResults(t, st, "M2", []string{"PV"}, handScenarios, []bookPosition{
		pv("T1", "P1", 1), pv("T1", "P5", 1e16+2), pv("T1", "P8", 1),
		pv("T2", "P2", 2.5), pv("T2", "P7", 7),
	}, 2, true, nil)
	srv := compareServer(t, st, 1)
	a := getCompare(t, srv, "base=M1&target=M2")
	if want := (CompareCounts{Matched: 2, OnlyInBase: 2, OnlyInTarget: 1, Breaks: 2}); a.Counts != want {
		t.Errorf("counts = %+v, want %+v", a.Counts, want)
	}
	// 1 + 1e16 + 0.5 + 2 + 1 + 0.25 + 3 + 1 + 6 = 1e16 + 14.75 and
	// 1 + 1e16 + 2 + 1 + 2.5 + 7 = 1e16 + 13.5 both round to 1e16 + 14;
	// the diff is the exact −1.25, not the 0 of the rounded totals.
	if got := num(t, a.Totals.Base); got != 1e16+14 {
		t.Errorf("totals.base = %v, want 1e16+14", got)
	}
	if got := num(t, a.Totals.Target); got != 1e16+14 {
		t.Errorf("totals.target = %v, want 1e16+14", got)
	}
	if got := num(t, a.Totals.Diff); got != -1.25 {
		t.Errorf("totals.diff = %v, want -1.25", got)
	}
	checkItems(t, a.Items, []cmpItem{
		{"P2", raw("2"), raw("2.5"), raw("0.5"), StatusBreak},
		{"P3", raw("3"), raw("null"), raw("null"), StatusOnlyInBase},
		{"P6", raw("6"), raw("null"), raw("null"), StatusOnlyInBase},
		{"P7", raw("null"), raw("7"), raw("null"), StatusOnlyInTarget},
		{"P8", raw("0.75"), raw("1"), raw("0.25"), StatusBreak},
	})
	self := getCompare(t, srv, "base=M1&target=M1")
	if self.Counts != (CompareCounts{Matched: 6}) || len(self.Items) != 0 {
		t.Errorf("M1 against itself: %+v, %d items", self.Counts, len(self.Items))
	}
}

// pagedBook is n positions P000…; in the base every id but those ≡ 1 mod
// 7, in the target every id but those ≡ 2 mod 7, the target's PV 1
// higher where i ≡ 0 mod 3.
func pagedBook(n int, target bool) []bookPosition {
	var out []bookPosition
	for i := range n {
		if (!target && i%7 == 1) || (target && i%7 == 2) {
			continue
		}
		x := float64(i)
		if target && i%3 == 0 {
			x++
		}
		out = append(out, pos("S"+string(rune('A'+i%3)), fmt.Sprintf("P%03d", i), "AMORT_LOAN", vals{"PV": x}, nil, ""))
	}
	return out
}

func TestComparePagination(t *testing.T) {
	t.Parallel()
	eachStore(t, testComparePagination)
}

func testComparePagination(t *testing.T, st store.Store) {
	const n = 60
	MustRunWithResults(t, st, "G1", []string{"PV"}, handScenarios, pagedBook(n, false), 4, false, nil)
	MustRunWithResults(t, st, "G2", []string{"PV"}, handScenarios, pagedBook(n, true), 4, false, nil)
	var want []string
	var counts CompareCounts
	for i := range n {
		id := fmt.Sprintf("P%03d", i)
		switch {
		case i%7 == 1:
			want = append(want, id+" "+StatusOnlyInTarget)
			counts.OnlyInTarget++
		case i%7 == 2:
			want = append(want, id+" "+StatusOnlyInBase)
			counts.OnlyInBase++
		case i%3 == 0:
			want = append(want, id+" "+StatusBreak)
			counts.Breaks++
		default:
			counts.Matched++
		}
	}
	// Each chunk size under a tolerance of its own (which changes no
	// answer here: every difference is 1, every |base| below 60), so
	// that each is merged and cached anew.
	for chunk, relTol := range map[int]string{1: "0", 3: "1e-9", 1000: "2e-9"} {
		srv := compareServer(t, st, chunk)
		for _, limit := range []int{1, 2, 5, 7, len(want), 1000} {
			var got []string
			first := fmt.Sprintf("base=G1&target=G2&rel_tol=%s&limit=%d", relTol, limit)
			query := first
			for pages := 0; ; pages++ {
				if pages > len(want)+1 {
					t.Fatalf("chunk %d limit %d: pagination does not end", chunk, limit)
				}
				a := getCompare(t, srv, query)
				if a.Counts != counts {
					t.Fatalf("chunk %d limit %d page %d: counts %+v, want %+v", chunk, limit, pages, a.Counts, counts)
				}
				if len(a.Items) > limit || (a.NextCursor != nil && len(a.Items) != limit) {
					t.Fatalf("chunk %d limit %d: a page of %d items, next %v", chunk, limit, len(a.Items), a.NextCursor)
				}
				for _, it := range a.Items {
					got = append(got, it.PositionID+" "+it.Status)
				}
				if a.NextCursor == nil {
					break
				}
				query = first + "&cursor=" + url.QueryEscape(*a.NextCursor)
			}
			if !slices.Equal(got, want) {
				t.Errorf("chunk %d limit %d: items\n%q\nwant\n%q", chunk, limit, got, want)
			}
		}
	}
	// The default page is 100 items.
	if a := getCompare(t, MustServer(t, st), "base=G1&target=G2"); len(a.Items) != len(want) || a.NextCursor != nil {
		t.Errorf("default page: %d items, next %v; want all %d", len(a.Items), a.NextCursor, len(want))
	}
}

// TestCompareConcurrentFirstRequests: requests that arrive together before
// anything is cached share one merge and agree.
func TestCompareConcurrentFirstRequests(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st store.Store) {
		MustRunWithResults(t, st, "G1", []string{"PV"}, handScenarios, pagedBook(300, false), 4, false, nil)
		MustRunWithResults(t, st, "G2", []string{"PV"}, handScenarios, pagedBook(300, true), 4, false, nil)
		srv := compareServer(t, st, 7)
		var wg sync.WaitGroup
		answers := make([]cmpAnswer, 8)
		for i := range answers {
			wg.Go(func() {
				var a cmpAnswer
				getJSON(t, srv, fmt.Sprintf("/results/compare?base=G1&target=G2&limit=%d", 10+i), http.StatusOK, &a)
				answers[i] = a
			})
		}
		wg.Wait()
		for i, a := range answers {
			if a.Counts != answers[0].Counts || string(a.Totals.Diff) != string(answers[0].Totals.Diff) ||
				len(a.Items) != 10+i || a.Items[0].PositionID != answers[0].Items[0].PositionID {
				t.Errorf("answer %d: %+v %s %d items; answer 0: %+v %s", i, a.Counts, a.Totals.Diff, len(a.Items), answers[0].Counts, answers[0].Totals.Diff)
			}
		}
	})
}

// scanCounter counts the ResultScan calls of a store.
type scanCounter struct {
	store.Store
	scans atomic.Int64
}

func (s *scanCounter) ResultScan(ctx context.Context, p store.ResultScanParams, fn func(*store.PositionResult) error) error {
	s.scans.Add(1)
	return s.Store.ResultScan(ctx, p, fn)
}

// TestCompareMergesOnce: the runs are merged on the first request; every
// page and every later request of the same comparison reads the cache.
func TestCompareMergesOnce(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st store.Store) {
		MustRunWithResults(t, st, "G1", []string{"PV"}, handScenarios, pagedBook(60, false), 4, false, nil)
		MustRunWithResults(t, st, "G2", []string{"PV"}, handScenarios, pagedBook(60, true), 4, false, nil)
		sc := &scanCounter{Store: st}
		srv := compareServer(t, sc, 4)
		first := getCompare(t, srv, "base=G1&target=G2&limit=5")
		if n := sc.scans.Load(); n != 6 {
			t.Fatalf("first request: %d scans, want one per snapshot of each run (6)", n)
		}
		next := getCompare(t, srv, "base=G1&target=G2&limit=5&cursor="+url.QueryEscape(*first.NextCursor))
		// Another process, configured with another chunk size, reads the
		// cached chunks as they were written.
		again := getCompare(t, compareServer(t, sc, 9), "base=G1&target=G2&limit=5&cursor="+url.QueryEscape(*first.NextCursor))
		if n := sc.scans.Load(); n != 6 {
			t.Errorf("after a second page and a repeat: %d scans, want still 6", n)
		}
		if next.Items[0].PositionID <= first.Items[4].PositionID || !slices.Equal(itemIDs(again.Items), itemIDs(next.Items)) || again.Counts != first.Counts {
			t.Errorf("pages from the cache disagree: %v, %v, %v", first.Items, next.Items, again.Items)
		}
		getCompare(t, srv, "base=G1&target=G2&abs_tol=0.5")
		if n := sc.scans.Load(); n != 12 {
			t.Errorf("another tolerance: %d scans, want 12", n)
		}
	})
}

func TestCompareErrors(t *testing.T) {
	t.Parallel()
	eachStore(t, testCompareErrors)
}

func testCompareErrors(t *testing.T, st store.Store) {
	mustDays(t, st)
	MustRunWithResults(t, st, "NOPV", []string{"DV01"}, []string{"RATES_PARALLEL_1BP"}, dayOne(), 2, false, nil)
	MustRunWithResults(t, st, "HALF", handMeasures, handScenarios, dayTwo(), 2, false, []string{"AMORT_LOAN"})
	srv := compareServer(t, st, 0)
	for _, c := range []struct {
		query  string
		status int
		params []string
	}{
		{"", 400, []string{"base", "target"}},
		{"base=D1", 400, []string{"target"}},
		{"base=D1&target=D2&mesure=PV", 400, []string{"mesure"}},
		{"base=D1&target=D2&abs_tol=-1&rel_tol=x", 400, []string{"abs_tol", "rel_tol"}},
		{"base=D1&target=D2&abs_tol=NaN", 400, []string{"abs_tol"}},
		{"base=D1&target=D2&rel_tol=Inf", 400, []string{"rel_tol"}},
		{"base=D1&target=D2&abs_tol=1e999", 400, []string{"abs_tol"}},
		{"base=D1&target=D2&abs_tol=" + strings.Repeat("1", 65), 400, []string{"abs_tol"}},
		{"base=D1&target=D2&limit=0", 400, []string{"limit"}},
		{"base=D1&target=D2&limit=1001", 400, []string{"limit"}},
		{"base=D1&target=D2&cursor=nonsense", 400, []string{"cursor"}},
		{"base=D1&target=D2&cursor=" + web.EncodeCursor("a", "b"), 400, []string{"cursor"}},
		{"base=D1&target=D2&measure=NPV", 400, []string{"measure"}},
		{"base=D1&target=D2&measure=KR01", 400, []string{"measure"}},
		{"base=D1&target=D2&measure=WAL", 400, []string{"measure"}},
		{"base=D1&target=D2&scenario=", 400, []string{"scenario"}},
		{"base=NOPE&target=D2", 404, []string{"base"}},
		{"base=D1&target=NOPE", 404, []string{"target"}},
		{"base=NOPE&target=NADA", 404, []string{"base", "target"}},
		{"base=D1&target=D2&measure=CS01", 400, []string{"measure"}},
		{"base=D1&target=D2&scenario=SPREAD_25BP", 400, []string{"scenario"}},
		{"base=D1&target=NOPV", 400, []string{"measure", "scenario"}},
		{"base=D1&target=NOPV&measure=DV01", 400, []string{"scenario"}},
		{"base=D1&target=NOPV&measure=DV01&scenario=RATES_PARALLEL_1BP", 200, nil},
		{"base=HALF&target=D2", 422, []string{"base"}},
		{"base=D1&target=HALF", 422, []string{"target"}},
	} {
		path := "/results/compare?" + c.query
		if c.status == 200 {
			getJSON(t, srv, path, 200, nil)
			continue
		}
		body := getProblem(t, srv, path, c.status, "")
		var p problem
		if err := json.Unmarshal([]byte(body), &p); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range p.Errors {
			got = append(got, e.Parameter)
		}
		slices.Sort(got)
		if !slices.Equal(got, c.params) {
			t.Errorf("%s: problem names %q, want %q: %s", c.query, got, c.params, body)
		}
		if c.status == 422 && !strings.Contains(body, "partial results cannot be compared") {
			t.Errorf("%s: %s does not say partial results cannot be compared", c.query, body)
		}
	}

	// A published run compares like a completed one.
	if _, err := st.RunPublish(context.Background(), store.RunPublishParams{RunID: "D2", PublishHash: "h", PublishedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if a := getCompare(t, srv, "base=D1&target=D2"); a.Counts.Breaks != 4 {
		t.Errorf("with D2 published: %+v", a.Counts)
	}
}

func TestCompareTotalBeyondDoubleIs422(t *testing.T) {
	t.Parallel()
	st := MustOpen(t)
	huge := []bookPosition{
		pos("SA", "H1", "AMORT_LOAN", vals{"PV": math.MaxFloat64}, nil, ""),
		pos("SA", "H2", "AMORT_LOAN", vals{"PV": math.MaxFloat64}, nil, ""),
	}
	MustRunWithResults(t, st, "HUGE", []string{"PV"}, []string{"BASE"}, huge, 1, false, nil)
	MustRunWithResults(t, st, "ONE", []string{"PV"}, []string{"BASE"}, huge[:1], 1, false, nil)
	srv := compareServer(t, st, 0)
	wantProblem(t, srv, "/results/compare?base=HUGE&target=ONE", http.StatusUnprocessableEntity, "")
}

func negate(xs []float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = -x
	}
	return out
}

func raw(s string) json.RawMessage { return json.RawMessage(s) }

// checkJSON compares JSON texts by value.
func checkJSON(tb testing.TB, what string, got json.RawMessage, want string) {
	tb.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		tb.Fatalf("%s: %s: %v", what, got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		tb.Fatalf("%s: want %s: %v", what, want, err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if string(gb) != string(wb) {
		tb.Errorf("%s = %s, want %s", what, got, want)
	}
}

func checkItems(tb testing.TB, got, want []cmpItem) {
	tb.Helper()
	if len(got) != len(want) {
		var ids []string
		for _, it := range got {
			ids = append(ids, fmt.Sprintf("%s %s %s %s %s", it.PositionID, it.Status, it.Base, it.Target, it.Diff))
		}
		tb.Errorf("%d items, want %d: %q", len(got), len(want), ids)
		return
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.PositionID != w.PositionID || g.Status != w.Status {
			tb.Errorf("item %d = %s %s, want %s %s", i, g.PositionID, g.Status, w.PositionID, w.Status)
			continue
		}
		checkJSON(tb, g.PositionID+" base", g.Base, string(w.Base))
		checkJSON(tb, g.PositionID+" target", g.Target, string(w.Target))
		checkJSON(tb, g.PositionID+" diff", g.Diff, string(w.Diff))
	}
}

func itemIDs(items []cmpItem) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.PositionID+" "+it.Status+" "+string(it.Diff))
	}
	return out
}
