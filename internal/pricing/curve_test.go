package pricing

import (
	"math"
	"testing"
)

func TestParseTenor(t *testing.T) {
	t.Parallel()
	good := map[string]float64{
		"ON": 1.0 / 365, "1D": 1.0 / 365, "7D": 7.0 / 365, "1W": 1.0 / 52, "2W": 2.0 / 52,
		"1M": 1.0 / 12, "3M": 0.25, "6M": 0.5, "18M": 1.5, "1Y": 1, "10Y": 10, "30Y": 30,
	}
	for s, want := range good {
		got, err := ParseTenor(s)
		if err != nil || got != want {
			t.Errorf("ParseTenor(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "M", "Y1", "1X", "-1M", "0M", "1.5Y", "1m", "on", "1 M", "+1M", "99999999999Y"} {
		if _, err := ParseTenor(s); err == nil {
			t.Errorf("ParseTenor(%q) accepted a bad tenor", s)
		}
	}
}

func mustCurve(t *testing.T, nodes ...CurveNode) *curve {
	t.Helper()
	c, err := newCurve(CurveData{CurveID: "C", Nodes: nodes})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCurveInterpolation(t *testing.T) {
	t.Parallel()
	// Nodes given out of order: 1Y 5%, 1M 3%, 6M 4%.
	c := mustCurve(t, CurveNode{"1Y", 0.05}, CurveNode{"1M", 0.03}, CurveNode{"6M", 0.04})
	cases := []struct {
		name string
		t    float64
		want float64
	}{
		{"before first node (flat)", 0.01, 0.03},
		{"at zero (flat)", 0, 0.03},
		{"at 1M", 1.0 / 12, 0.03},
		{"at 6M", 0.5, 0.04},
		{"at 1Y", 1, 0.05},
		{"beyond last node (flat)", 7, 0.05},
		// Between 6M and 1Y: 0.04 + 0.01·(0.75−0.5)/0.5 = 0.045.
		{"between 6M and 1Y", 0.75, 0.045},
		// Between 1M and 6M at t = 0.25: 0.03 + 0.01·(0.25 − 1/12)/(0.5 − 1/12) = 0.034.
		{"between 1M and 6M", 0.25, 0.034},
	}
	for _, tc := range cases {
		assertClose(t, tc.name, c.rate(tc.t), tc.want, 1e-15)
	}
	flat := mustCurve(t, CurveNode{"5Y", 0.02})
	for _, x := range []float64{0, 0.5, 5, 50} {
		if got := flat.rate(x); got != 0.02 {
			t.Errorf("single-node curve rate(%v) = %v, want 0.02", x, got)
		}
	}
}

func TestNewCurveRejects(t *testing.T) {
	t.Parallel()
	cases := map[string][]CurveNode{
		"no nodes":     nil,
		"bad tenor":    {{"1Q", 0.01}},
		"same point":   {{"12M", 0.01}, {"1Y", 0.02}},
		"repeated":     {{"1Y", 0.01}, {"1Y", 0.01}},
		"not finite":   {{"1Y", math.NaN()}},
		"infinite":     {{"1Y", math.Inf(1)}},
		"second bad":   {{"1Y", 0.01}, {"", 0.01}},
		"count zero":   {{"0Y", 0.01}},
		"not a number": {{"ABC", 0.01}},
	}
	for name, nodes := range cases {
		if _, err := newCurve(CurveData{CurveID: "C", Nodes: nodes}); err == nil {
			t.Errorf("%s: newCurve accepted it", name)
		}
	}
}

func TestDiscountFactorClosedForm(t *testing.T) {
	t.Parallel()
	disc := mustCurve(t, CurveNode{"1Y", 0.04})
	spread := mustCurve(t, CurveNode{"1Y", 0.015})
	for _, days := range []int{0, 1, 31, 365, 366, 3650, 20000} {
		tt := float64(days) / 365
		assertClose(t, "df", discountFactor(disc, nil, days), math.Exp(-0.04*tt), 1e-15)
		assertClose(t, "df with spread", discountFactor(disc, spread, days), math.Exp(-0.04*tt)*math.Exp(-0.015*tt), 1e-15)
	}
	if got := discountFactor(disc, spread, 0); got != 1 {
		t.Errorf("df at t=0 = %v, want exactly 1", got)
	}
}

func TestPortableExpMatchesMathExp(t *testing.T) {
	t.Parallel()
	for i := -200000; i <= 200000; i++ {
		x := float64(i) * 1e-5 * 3.7
		got, want := portableExp(x), math.Exp(x)
		// Both are within 1 ulp of the true value, so within 2 ulp of each other.
		if diff := math.Abs(got - want); diff > 2*(math.Nextafter(want, math.Inf(1))-want) {
			t.Fatalf("portableExp(%v) = %v, math.Exp = %v", x, got, want)
		}
	}
	if portableExp(0) != 1 || portableExp(math.Inf(-1)) != 0 || !math.IsInf(portableExp(800), 1) || !math.IsNaN(portableExp(math.NaN())) {
		t.Error("portableExp special cases")
	}
}

// TestCurveShiftAddsPiecewiseLinear checks an additive shift against
// values worked by hand: nodes 1Y 1%, 3Y 3% (so r(t) = t% between them)
// and a shift of 10bp at 2Y and 30bp at 4Y, flat beyond both ends.
func TestCurveShiftAddsPiecewiseLinear(t *testing.T) {
	c, err := newCurve(CurveData{CurveID: "USD-OIS", Nodes: []CurveNode{{Tenor: "1Y", ZeroRate: 0.01}, {Tenor: "3Y", ZeroRate: 0.03}}})
	if err != nil {
		t.Fatal(err)
	}
	s := c.withShift(Shift{Ts: []float64{2, 4}, Vs: []float64{0.001, 0.003}})
	for _, tc := range []struct{ t, want float64 }{
		{0.5, 0.01 + 0.001}, // both flat at their left ends
		{1.5, 0.015 + 0.001},
		{2, 0.02 + 0.001},
		{3, 0.03 + 0.002}, // shift halfway from 10bp to 30bp
		{5, 0.03 + 0.003}, // both flat at their right ends
	} {
		if got := s.rate(tc.t); math.Abs(got-tc.want) > 1e-15 {
			t.Errorf("rate(%v) = %v, want %v", tc.t, got, tc.want)
		}
	}
	if got := c.rate(3); got != 0.03 {
		t.Errorf("the shifted copy changed the original: rate(3) = %v", got)
	}
	if b := s.bumped(0.0001); math.Abs(b.rate(3)-(0.03+0.002+0.0001)) > 1e-15 {
		t.Errorf("bumped dropped the shift: %v", b.rate(3))
	}
}
