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
// the rate between nodes and flat beyond both ends.
type curve struct {
	id string
	ts []float64
	rs []float64
}

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
// shift.
func (c *curve) bumped(shift float64) *curve {
	out := &curve{id: c.id, ts: c.ts, rs: make([]float64, len(c.rs))}
	for i, r := range c.rs {
		out.rs[i] = r + shift
	}
	return out
}

// rate returns the zero rate at time t (years): linear in t between nodes,
// flat beyond both ends.
func (c *curve) rate(t float64) float64 {
	n := len(c.ts)
	if t <= c.ts[0] {
		return c.rs[0]
	}
	if t >= c.ts[n-1] {
		return c.rs[n-1]
	}
	// smallest i with ts[i] > t; 1 ≤ i ≤ n−1.
	lo, hi := 1, n-1
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if c.ts[mid] > t {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	t0, t1 := c.ts[lo-1], c.ts[lo]
	r0, r1 := c.rs[lo-1], c.rs[lo]
	w := (t - t0) / (t1 - t0)
	return r0 + float64((r1-r0)*w)
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
