package pricing

import (
	"fmt"
	"math"
	"sort"
	"strconv"
)

// maxTenorCount bounds the n of a tenor "nD"/"nW"/"nM"/"nY".
const maxTenorCount = 100000

// ParseTenor returns the year fraction of a tenor: "ON" = 1/365, "nD" =
// n/365, "nW" = n/52, "nM" = n/12, "nY" = n, for a positive integer n.
// Tenors are year fractions, never calendar dates.
func ParseTenor(s string) (float64, error) {
	if s == "ON" {
		return 1.0 / 365, nil
	}
	if len(s) < 2 {
		return 0, fmt.Errorf("tenor %q: want ON or a positive count followed by D, W, M or Y", s)
	}
	unit := s[len(s)-1]
	num := s[:len(s)-1]
	for i := 0; i < len(num); i++ {
		if num[i] < '0' || num[i] > '9' {
			return 0, fmt.Errorf("tenor %q: want ON or a positive count followed by D, W, M or Y", s)
		}
	}
	n, err := strconv.Atoi(num)
	if err != nil || n <= 0 || n > maxTenorCount {
		return 0, fmt.Errorf("tenor %q: the count must be an integer from 1 to %d", s, maxTenorCount)
	}
	switch unit {
	case 'D':
		return float64(n) / 365, nil
	case 'W':
		return float64(n) / 52, nil
	case 'M':
		return float64(n) / 12, nil
	case 'Y':
		return float64(n), nil
	}
	return 0, fmt.Errorf("tenor %q: unit must be D, W, M or Y", s)
}

// curve is a zero (or spread) curve: rates at increasing times, linear in
// the rate between nodes and flat beyond both ends, plus any number of
// additive shifts (adds), each itself piecewise linear in t and flat beyond
// its ends. A shift is added to r(t) at every t, not resampled at the
// curve's nodes: a scenario's tenor shifts (SPEC §4.3) and a key-rate
// triangle (SPEC §4.2) are both such shifts.
type curve struct {
	id   string
	ts   []float64
	rs   []float64
	adds []Shift
}

// Shift is a function of t in years, linear between its points (Ts
// increasing, one value per point) and flat beyond both ends.
type Shift struct {
	Ts []float64
	Vs []float64
}

// at returns the shift at t.
func (s Shift) at(t float64) float64 { return interpolate(s.Ts, s.Vs, t) }

// newCurve builds a curve from nodes, sorting them by time. Tenors must
// parse, rates must be finite and no two nodes may share a time.
func newCurve(c CurveData) (*curve, error) {
	if c.CurveID == "" {
		return nil, fmt.Errorf("curve without curve_id")
	}
	if len(c.Nodes) == 0 {
		return nil, fmt.Errorf("curve %q has no nodes", c.CurveID)
	}
	type node struct {
		tenor string
		t, r  float64
	}
	nodes := make([]node, len(c.Nodes))
	for i, n := range c.Nodes {
		t, err := ParseTenor(n.Tenor)
		if err != nil {
			return nil, fmt.Errorf("curve %q node %d: %w", c.CurveID, i, err)
		}
		if math.IsNaN(n.ZeroRate) || math.IsInf(n.ZeroRate, 0) {
			return nil, fmt.Errorf("curve %q node %d (%s): zero_rate is not finite", c.CurveID, i, n.Tenor)
		}
		nodes[i] = node{tenor: n.Tenor, t: t, r: n.ZeroRate}
	}
	sort.SliceStable(nodes, func(i, j int) bool { return nodes[i].t < nodes[j].t })
	cv := &curve{id: c.CurveID, ts: make([]float64, len(nodes)), rs: make([]float64, len(nodes))}
	for i, n := range nodes {
		if i > 0 && n.t == nodes[i-1].t {
			return nil, fmt.Errorf("curve %q: tenors %s and %s are the same point", c.CurveID, nodes[i-1].tenor, n.tenor)
		}
		cv.ts[i] = n.t
		cv.rs[i] = n.r
	}
	return cv, nil
}

// bumped returns a copy of the curve with every node's zero rate shifted by
// shift (its additive shifts are kept).
func (c *curve) bumped(shift float64) *curve {
	out := &curve{id: c.id, ts: c.ts, rs: make([]float64, len(c.rs)), adds: c.adds}
	for i, r := range c.rs {
		out.rs[i] = r + shift
	}
	return out
}

// withShift returns a copy of the curve with one more additive shift.
func (c *curve) withShift(s Shift) *curve {
	adds := make([]Shift, len(c.adds), len(c.adds)+1)
	copy(adds, c.adds)
	return &curve{id: c.id, ts: c.ts, rs: c.rs, adds: append(adds, s)}
}

// rate returns the zero rate at time t (years): linear in t between nodes,
// flat beyond both ends, plus each additive shift in order.
func (c *curve) rate(t float64) float64 {
	r := interpolate(c.ts, c.rs, t)
	for _, s := range c.adds {
		r += s.at(t)
	}
	return r
}

// interpolate returns the value at t of the function through (ts[i],
// vs[i]): linear in t between points, flat beyond both ends. ts is
// increasing and not empty.
func interpolate(ts, vs []float64, t float64) float64 {
	n := len(ts)
	if t <= ts[0] {
		return vs[0]
	}
	if t >= ts[n-1] {
		return vs[n-1]
	}
	// smallest i with ts[i] > t; 1 ≤ i ≤ n−1.
	lo, hi := 1, n-1
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if ts[mid] > t {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	t0, t1 := ts[lo-1], ts[lo]
	v0, v1 := vs[lo-1], vs[lo]
	w := (t - t0) / (t1 - t0)
	return v0 + float64((v1-v0)*w)
}

// yearFraction returns t = days/365 (Actual/365 Fixed).
func yearFraction(days int) float64 { return float64(days) / 365 }

// discountFactor returns df(t)·exp(−s(t)·t) for the given discount curve and
// optional spread curve (nil for none) at a whole number of days from the
// as-of date. It is the only place a discount factor is computed: the cached
// tables call it too, so cached and direct values are bit-identical.
func discountFactor(disc, spread *curve, days int) float64 {
	t := yearFraction(days)
	df := portableExp(-float64(disc.rate(t) * t))
	if spread != nil {
		df *= portableExp(-float64(spread.rate(t) * t))
	}
	return df
}
