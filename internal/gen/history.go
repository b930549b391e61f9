package gen

import (
	"math"
	"math/rand/v2"
	"strconv"
	"time"
)

// The dynamics of History, per business day. Rates move by a level and a
// slope factor per curve (the level partly shared by every curve) plus a
// small, quickly fading wobble per node; spots move by their logarithm.
// Every factor is an AR(1) that pulls back toward the demo market: x′ =
// φ·x + σ·z, stationary standard deviation σ/√(1 − φ²).
const (
	histPhi        = 0.98   // rates and spots: half-life of a deviation ≈ 34 business days
	histPhiNode    = 0.5    // the per-node wobble fades within days
	histShare      = 0.6    // correlation of the level moves of any two curves
	histSigmaNode  = 0.5e-4 // 0.5bp
	histSlopeRatio = 0.5    // slope volatility relative to level volatility
)

// levelVol is the daily level volatility of a curve: OIS curves 4bp, spread
// curves 2bp.
func levelVol(curveType string) float64 {
	if curveType == "SPREAD" {
		return 2e-4
	}
	return 4e-4
}

// spotVol is the daily volatility of a spot's logarithm.
var spotVol = map[string]float64{"EURUSD": 0.005, "GBPUSD": 0.0055, "JPYUSD": 0.006}

// HistoryID is the snapshot_id of History's snapshot on a date.
func HistoryID(day time.Time) string { return "MKT-HIST-" + day.UTC().Format("20060102") }

// History returns n market snapshots, one on each of the n business days
// (Monday to Friday; no holidays) that end on end's UTC date (or the last
// business day before it), oldest first, each at end's time of day, with
// the ids HistoryID gives. The last one holds exactly the curves and spots
// of MarketSnapshot; going back in time, every curve node and spot follows
// a seeded, mean-reverting random walk away from them (see the constants
// above), so the history is reproducible: the same end, n and seed give the
// same snapshots. Rates are rounded to 1e-6 (0.01bp) and spots to seven
// significant digits, as a vendor would send them.
func History(end time.Time, n int, seed uint64) []map[string]any {
	if n <= 0 {
		return nil
	}
	days := businessDays(end.UTC(), n)
	rng := rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d))
	out := make([]map[string]any, n)
	var state *walkState
	// Walk backward from the last day: a stationary AR(1) reads the same
	// either way in time, and the last day then matches MarketSnapshot.
	for k := n - 1; k >= 0; k-- {
		snap := MarketSnapshot(HistoryID(days[k]), days[k])
		if state == nil {
			state = newWalkState(snap)
		} else {
			state.step(rng)
		}
		state.apply(snap)
		out[k] = snap
	}
	return out
}

// businessDays returns the n weekdays ending on end's date (or before it),
// oldest first, at end's time of day.
func businessDays(end time.Time, n int) []time.Time {
	days := make([]time.Time, 0, n)
	for d := end; len(days) < n; d = d.AddDate(0, 0, -1) {
		if wd := d.Weekday(); wd != time.Saturday && wd != time.Sunday {
			days = append(days, d)
		}
	}
	for i, j := 0, len(days)-1; i < j; i, j = i+1, j-1 {
		days[i], days[j] = days[j], days[i]
	}
	return days
}

// walkState holds the deviations from the demo market.
type walkState struct {
	curves []curveWalk
	spots  []float64 // log deviations, in MarketSnapshot's pair order
	pairs  []string
}

type curveWalk struct {
	vol          float64
	level, slope float64
	weights      []float64 // slope loading of each node, in [−½, ½]
	node         []float64
}

func newWalkState(snap map[string]any) *walkState {
	s := &walkState{}
	for _, c := range snap["curves"].([]map[string]any) {
		nodes := c["nodes"].([]map[string]any)
		w := curveWalk{vol: levelVol(c["curve_type"].(string)), weights: make([]float64, len(nodes)), node: make([]float64, len(nodes))}
		for i := range nodes {
			// The same shape as the demo curve: short end −½, long end ~+½.
			w.weights[i] = float64(i)/float64(max(len(nodes)-1, 1)) - 0.5
		}
		s.curves = append(s.curves, w)
	}
	for _, sp := range snap["fx_spots"].([]map[string]any) {
		s.pairs = append(s.pairs, sp["pair"].(string))
		s.spots = append(s.spots, 0)
	}
	return s
}

// step moves every factor one business day, drawing the normals in a fixed
// order: the shared level, then per curve its level, slope and nodes, then
// per pair its spot.
func (s *walkState) step(rng *rand.Rand) {
	shared := rng.NormFloat64()
	own := math.Sqrt(1 - histShare*histShare)
	for ci := range s.curves {
		c := &s.curves[ci]
		z := histShare*shared + own*rng.NormFloat64()
		c.level = histPhi*c.level + c.vol*z
		c.slope = histPhi*c.slope + histSlopeRatio*c.vol*rng.NormFloat64()
		for i := range c.node {
			c.node[i] = histPhiNode*c.node[i] + histSigmaNode*rng.NormFloat64()
		}
	}
	for i, p := range s.pairs {
		s.spots[i] = histPhi*s.spots[i] + spotVol[p]*rng.NormFloat64()
	}
}

// apply writes the deviations into a MarketSnapshot document.
func (s *walkState) apply(snap map[string]any) {
	for ci, c := range snap["curves"].([]map[string]any) {
		w := s.curves[ci]
		for i, n := range c["nodes"].([]map[string]any) {
			r := n["zero_rate"].(float64) + w.level + w.slope*w.weights[i] + w.node[i]
			n["zero_rate"] = math.Round(r*1e6) / 1e6
		}
	}
	for i, sp := range snap["fx_spots"].([]map[string]any) {
		v := sp["spot"].(float64) * math.Exp(s.spots[i])
		sp["spot"], _ = strconv.ParseFloat(strconv.FormatFloat(v, 'g', 7, 64), 64)
	}
}
