package risk

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// vector returns N scenario ids S001… and P&L values: the given losses
// first (P&L = −loss), then small gains and losses in (−50, 50) shuffled
// in among them, so the tail is made of exactly the given losses.
func vector(n int, losses ...float64) ([]string, []float64) {
	rng := rand.New(rand.NewPCG(uint64(n), uint64(len(losses))))
	ids := make([]string, n)
	pnl := make([]float64, n)
	for i := range n {
		ids[i] = fmt.Sprintf("S%03d", i+1)
		if i < len(losses) {
			pnl[i] = -losses[i]
		} else {
			pnl[i] = float64(rng.IntN(99)) - 49
		}
	}
	rng.Shuffle(n, func(i, j int) { ids[i], ids[j], pnl[i], pnl[j] = ids[j], ids[i], pnl[j], pnl[i] })
	return ids, pnl
}

func mustCompute(t *testing.T, ids []string, pnl []float64, conf string) Result {
	t.Helper()
	c, err := ParseConfidence(conf)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Compute(ids, pnl, c)
	if err != nil {
		t.Fatalf("Compute(N=%d, %s): %v", len(pnl), conf, err)
	}
	return r
}

func idOfLoss(ids []string, pnl []float64, loss float64) string {
	for j, p := range pnl {
		if -p == loss {
			return ids[j]
		}
	}
	return ""
}

func TestHandComputed(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		n         int
		conf      string
		losses    []float64
		wantVaR   float64
		wantES    float64
		wantCeil  int
		wantFloor int
	}{
		// Nβ = 250·0.01 = 2.5: k = 3; es = (1000 + 900 + 0.5·800)/2.5 = 920.
		{"N250 at 0.99", 250, "0.99", []float64{1000, 900, 800, 700}, 800, 920, 3, 2},
		// Nβ = 250·0.025 = 6.25: k = 7; es = (700+600+500+400+300+200 + 0.25·100)/6.25
		// = 2725/6.25 = 436.
		{"N250 at 0.975", 250, "0.975", []float64{700, 600, 500, 400, 300, 200, 100, 90}, 100, 436, 7, 6},
		// Nβ = 100·0.01 = 1: k = 1; es = L₁.
		{"N100 at 0.99", 100, "0.99", []float64{321.5, 300}, 321.5, 321.5, 1, 1},
		// Nβ = 20·0.05 = 1.
		{"N20 at 0.95", 20, "0.95", []float64{77, 66}, 77, 77, 1, 1},
		// Nβ = 21·0.05 = 1.05: k = 2; es = (210 + 0.05·100)/1.05 = 4300/21,
		// whose nearest double is the correctly rounded quotient 4300/21.
		{"N21 at 0.95", 21, "0.95", []float64{210, 100}, 100, 4300.0 / 21, 2, 1},
		// A tail of only losses below zero (every scenario a gain).
		{"N100 gains only", 4, "0.5", []float64{-1, -2, -3, -4}, -2, -1.5, 2, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ids, pnl := vector(c.n, c.losses...)
			if c.name == "N100 gains only" {
				ids, pnl = []string{"D", "C", "B", "A"}, []float64{4, 3, 2, 1}
			}
			r := mustCompute(t, ids, pnl, c.conf)
			if r.VaR != c.wantVaR || r.ES != c.wantES {
				t.Errorf("var %v es %.17g, want %v and %.17g", r.VaR, r.ES, c.wantVaR, c.wantES)
			}
			if r.ScenarioCount != c.n {
				t.Errorf("scenario_count %d, want %d", r.ScenarioCount, c.n)
			}
			if want := idOfLoss(ids, pnl, c.losses[0]); r.WorstScenarioID != want {
				t.Errorf("worst %s, want %s", r.WorstScenarioID, want)
			}
			tail, err := TailOf(c.n, MustConfidence(c.conf))
			if err != nil || tail.Ceil != c.wantCeil || tail.Floor != c.wantFloor {
				t.Errorf("tail = %+v, %v; want ceil %d floor %d", tail, err, c.wantCeil, c.wantFloor)
			}
		})
	}
}

// TestExactNBeta: the tail comes from the decimal text, not a float64: in
// floating point 250·(1 − 0.99) = 2.5000000000000022, which would make
// ⌊Nβ⌋ 2 (right) but the fraction 0.5000000000000022; 100·(1 − 0.99) =
// 1.0000000000000009 would make k = 2 instead of 1.
func TestExactNBeta(t *testing.T) {
	t.Parallel()
	hundred, c99 := 100.0, 0.99 // variables: Go's constant arithmetic is exact
	if f := hundred * (1 - c99); f == 1 {
		t.Fatalf("float64 100·(1 − 0.99) = %v: the premise of this test is wrong", f)
	}
	for _, c := range []struct {
		n          int
		conf       string
		nbeta      string
		ceil, flr  int
		frac       string
		sameAsText string
	}{
		{250, "0.99", "5/2", 3, 2, "1/2", "0.990"},
		{250, "0.975", "25/4", 7, 6, "1/4", "0.9750000"},
		{100, "0.99", "1", 1, 1, "0", ".99"},
		{20, "0.95", "1", 1, 1, "0", "0.95"},
		{21, "0.95", "21/20", 2, 1, "1/20", "0.950"},
		{3, "0.1", "27/10", 3, 2, "7/10", ".1"},
	} {
		for _, text := range []string{c.conf, c.sameAsText} {
			tail, err := TailOf(c.n, MustConfidence(text))
			if err != nil {
				t.Fatalf("TailOf(%d, %s): %v", c.n, text, err)
			}
			if tail.NBeta.RatString() != c.nbeta || tail.Ceil != c.ceil || tail.Floor != c.flr || tail.Frac.RatString() != c.frac {
				t.Errorf("TailOf(%d, %s) = Nβ %s ⌈⌉ %d ⌊⌋ %d frac %s; want %s %d %d %s",
					c.n, text, tail.NBeta.RatString(), tail.Ceil, tail.Floor, tail.Frac.RatString(), c.nbeta, c.ceil, c.flr, c.frac)
			}
		}
	}
	// "0.99" and "0.990" give the same figures.
	ids, pnl := vector(250, 1000, 900, 800)
	a, b := mustCompute(t, ids, pnl, "0.99"), mustCompute(t, ids, pnl, "0.990")
	if a != b {
		t.Errorf("0.99: %+v, 0.990: %+v", a, b)
	}
	if got := MustConfidence("0.990").Beta(); got.Cmp(big.NewRat(1, 100)) != 0 {
		t.Errorf("β of 0.990 = %s", got.RatString())
	}
}

func TestTiesByAscendingScenarioID(t *testing.T) {
	t.Parallel()
	// Losses 5 (ids "b", "a10", "a9"), 3 ("c"), 1 ("d"), at 0.4 with N = 5:
	// Nβ = 3, k = 3. Sorted: a10, a9, b (byte order), c, d.
	ids := []string{"b", "c", "a9", "d", "a10"}
	pnl := []float64{-5, -3, -5, -1, -5}
	r := mustCompute(t, ids, pnl, "0.4")
	if r.WorstScenarioID != "a10" || r.VaR != 5 || r.ES != 5 {
		t.Errorf("result %+v, want worst a10, var 5, es 5", r)
	}
	// At 0.2, Nβ = 4: the tail takes c too; es = (5+5+5+3)/4 = 4.5.
	if r := mustCompute(t, ids, pnl, "0.2"); r.VaR != 3 || r.ES != 4.5 || r.WorstScenarioID != "a10" {
		t.Errorf("0.2: %+v, want var 3, es 4.5", r)
	}
	// Zero P&L of either sign is a loss of +0.
	r = mustCompute(t, []string{"x", "y"}, []float64{math.Copysign(0, -1), 0}, "0.5")
	if math.Signbit(r.VaR) || math.Signbit(r.ES) || r.WorstScenarioID != "x" {
		t.Errorf("zero losses: %+v (signbit var %v)", r, math.Signbit(r.VaR))
	}
}

// TestESCorrectlyRounded: L = 2⁵³, 1, 1 at Nβ = 2.5 (N = 250, 0.99).
// Exactly, es = (2⁵³ + 1 + 0.5)/2.5 = 3602879701896397.4, whose nearest
// double (spacing 0.5 there) is 3602879701896397.5. Rounding the sum first
// (2⁵³ + 1 → 2⁵³, + 0.5 → 2⁵³) would give 3602879701896396.8 → …397.0.
func TestESCorrectlyRounded(t *testing.T) {
	t.Parallel()
	ids, pnl := make([]string, 250), make([]float64, 250)
	for j := range pnl {
		ids[j], pnl[j] = fmt.Sprintf("R%03d", j), 10 // gains
	}
	pnl[17], pnl[111], pnl[200] = -(1 << 53), -1, -1
	r := mustCompute(t, ids, pnl, "0.99")
	if r.ES != 3602879701896397.5 {
		t.Errorf("es = %.17g, want 3602879701896397.5", r.ES)
	}
	if r.VaR != 1 {
		t.Errorf("var = %v, want 1", r.VaR)
	}
}

// TestVaRIsNotAdditive: two books, each losing 100 in one scenario out of
// 100 at 0.99 (Nβ = 1, VaR = the largest loss): each VaR is 100, the
// union's is 100, not 200; and a book with its exact hedge has VaR 0.
func TestVaRIsNotAdditive(t *testing.T) {
	t.Parallel()
	n := 100
	ids := make([]string, n)
	a, b, hedge := make([]float64, n), make([]float64, n), make([]float64, n)
	for j := range n {
		ids[j] = fmt.Sprintf("H%03d", j)
	}
	a[3], b[70] = -100, -100
	a[50], b[50] = 40, 40 // a common gain
	va := mustCompute(t, ids, a, "0.99")
	vb := mustCompute(t, ids, b, "0.99")
	union := NewPnL(n)
	for j := range n {
		union.Add(j, a[j], 0)
		union.Add(j, b[j], 0)
		hedge[j] = -a[j]
	}
	vu := mustCompute(t, ids, union.Vector(), "0.99")
	if va.VaR != 100 || vb.VaR != 100 || vu.VaR != 100 {
		t.Errorf("VaR A %v, B %v, A∪B %v; want 100 each", va.VaR, vb.VaR, vu.VaR)
	}
	if vu.VaR == va.VaR+vb.VaR {
		t.Error("the union's VaR is the sum of the parts'")
	}
	if va.WorstScenarioID != "H003" || vb.WorstScenarioID != "H070" || vu.WorstScenarioID != "H003" {
		t.Errorf("worst: %s %s %s", va.WorstScenarioID, vb.WorstScenarioID, vu.WorstScenarioID)
	}
	hedged := NewPnL(n)
	for j := range n {
		hedged.Add(j, a[j], 0)
		hedged.Add(j, hedge[j], 0)
	}
	if vh := mustCompute(t, ids, hedged.Vector(), "0.99"); vh.VaR != 0 || vh.ES != 0 {
		t.Errorf("hedged book: %+v, want var 0, es 0", vh)
	}
}

func TestRejects(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "1", "0", "1.0", "0.0", "1.5", "-0.5", "+0.5", "abc", "0.99x", "1e-2", "0,99", ".", "0..9", "0.9.9", " 0.99", "0x1p-1", "99/100"} {
		if _, err := ParseConfidence(s); !errors.Is(err, ErrConfidence) {
			t.Errorf("ParseConfidence(%q) = %v, want ErrConfidence", s, err)
		}
	}
	// N·β < 1: 50 scenarios at 0.99 (Nβ = 1/2).
	ids, pnl := vector(50)
	if _, err := Compute(ids, pnl, MustConfidence("0.99")); !errors.Is(err, ErrConfidence) {
		t.Errorf("N = 50 at 0.99: %v, want ErrConfidence", err)
	}
	// 99 at 0.99 is just short; 100 is exactly enough.
	if _, err := TailOf(99, MustConfidence("0.99")); !errors.Is(err, ErrConfidence) {
		t.Errorf("N = 99 at 0.99: %v", err)
	}
	if _, err := TailOf(100, MustConfidence("0.99")); err != nil {
		t.Errorf("N = 100 at 0.99: %v", err)
	}
	// Caller mistakes are not confidence errors.
	for name, c := range map[string]struct {
		ids []string
		pnl []float64
	}{
		"none":       {nil, nil},
		"lengths":    {[]string{"a"}, []float64{1, 2}},
		"repeated":   {[]string{"a", "a"}, []float64{1, 2}},
		"not finite": {[]string{"a", "b"}, []float64{1, math.Inf(-1)}},
		"nan":        {[]string{"a", "b"}, []float64{math.NaN(), 1}},
	} {
		if _, err := Compute(c.ids, c.pnl, MustConfidence("0.5")); err == nil || errors.Is(err, ErrConfidence) {
			t.Errorf("%s: err = %v, want a non-confidence error", name, err)
		}
	}
}

// TestPnLIsCorrectlyRounded: differences 1e16, 1 and −1e16 sum to exactly 1
// (left to right in float64 they give 0), whatever the order and the
// split across accumulators; each difference is rounded first: 0.1 − 0.3
// is the double −0.19999999999999998, not −0.2.
func TestPnLIsCorrectlyRounded(t *testing.T) {
	t.Parallel()
	type pos struct{ pv, base float64 }
	positions := []pos{{1e16, 0}, {1, 0}, {0, 1e16}, {0.1, 0.3}}
	huge, one, a, b := 1e16, 1.0, 0.1, 0.3 // variables: Go's constant arithmetic is exact
	want := one + (a - b)                  // 1 − 0.19999999999999998, one rounding
	if naive := ((huge + one) - huge) + (a - b); naive == want {
		t.Fatalf("premise: naive sum %v equals %v", naive, want)
	}
	perms := [][]int{{0, 1, 2, 3}, {3, 2, 1, 0}, {2, 0, 3, 1}}
	for _, perm := range perms {
		for split := 0; split <= len(perm); split++ {
			left, right := NewPnL(2), NewPnL(2)
			for i, k := range perm {
				acc := left
				if i >= split {
					acc = right
				}
				p := positions[k]
				acc.AddPositions([]float64{p.pv, p.base}, p.base)
			}
			if err := left.Merge(right); err != nil {
				t.Fatal(err)
			}
			v := left.Vector()
			if v[0] != want || v[1] != 0 {
				t.Errorf("order %v split %d: %v, want [%v 0]", perm, split, v, want)
			}
		}
	}
	if err := NewPnL(2).Merge(NewPnL(3)); err == nil {
		t.Error("Merge of different lengths succeeded")
	}
}
