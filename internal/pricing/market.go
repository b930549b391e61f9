package pricing

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// MarketData is a market data snapshot as clients send it and the
// marketdata service stores it (SPEC §1).
type MarketData struct {
	SnapshotID string      `json:"snapshot_id"`
	AsOfTime   time.Time   `json:"as_of_time"`
	Vendor     string      `json:"vendor,omitempty"`
	UniverseID string      `json:"universe_id,omitempty"`
	FXSpots    []FXSpot    `json:"fx_spots"`
	Curves     []CurveData `json:"curves"`
	Quality    *Quality    `json:"quality,omitempty"`
}

// FXSpot is one FX spot rate, quoted as units of USD per unit of the base
// currency for a pair XXXUSD.
type FXSpot struct {
	Pair string     `json:"pair"`
	Spot float64    `json:"spot"`
	TS   *time.Time `json:"ts,omitempty"`
}

// CurveData is one curve of a snapshot. CurveType is informational
// (DISCOUNT, SPREAD); scenarios select curves by the id suffix -OIS or
// -SPREAD as SPEC §2 says.
type CurveData struct {
	CurveID   string      `json:"curve_id"`
	CurveType string      `json:"curve_type"`
	Nodes     []CurveNode `json:"nodes"`
}

// CurveNode is one (tenor, zero rate) point of a curve.
type CurveNode struct {
	Tenor    string  `json:"tenor"`
	ZeroRate float64 `json:"zero_rate"`
}

// Quality is the client's data-quality verdict on a snapshot. The pricing
// engine does not read it.
type Quality struct {
	DQStatus string          `json:"dq_status"`
	Issues   json.RawMessage `json:"issues,omitempty"`
}

// Market is a validated market: curves ready to interpolate and FX spots.
// It is immutable and safe for concurrent use.
type Market struct {
	snapshotID string
	asOfTime   time.Time
	curves     []*curve
	curveIndex map[string]int
	spots      map[string]float64
}

// NewMarket validates a snapshot and builds a Market from it. Every
// problem found is reported (errors.Join): a curve without nodes, a tenor
// that does not parse, two nodes at the same point, a non-finite rate, a
// curve id twice, a spot that is not finite and positive, an FX pair twice.
func NewMarket(d MarketData) (*Market, error) {
	m := &Market{
		snapshotID: d.SnapshotID,
		asOfTime:   d.AsOfTime,
		curves:     make([]*curve, 0, len(d.Curves)),
		curveIndex: make(map[string]int, len(d.Curves)),
		spots:      make(map[string]float64, len(d.FXSpots)),
	}
	var errs []error
	for i, cd := range d.Curves {
		c, err := newCurve(cd)
		if err != nil {
			errs = append(errs, fmt.Errorf("curves[%d]: %w", i, err))
			continue
		}
		if _, dup := m.curveIndex[c.id]; dup {
			errs = append(errs, fmt.Errorf("curves[%d]: curve %q appears twice", i, c.id))
			continue
		}
		m.curveIndex[c.id] = len(m.curves)
		m.curves = append(m.curves, c)
	}
	for i, s := range d.FXSpots {
		if s.Pair == "" {
			errs = append(errs, fmt.Errorf("fx_spots[%d]: pair is missing", i))
			continue
		}
		if math.IsNaN(s.Spot) || math.IsInf(s.Spot, 0) || s.Spot <= 0 {
			errs = append(errs, fmt.Errorf("fx_spots[%d]: spot of %s must be finite and positive", i, s.Pair))
			continue
		}
		if _, dup := m.spots[s.Pair]; dup {
			errs = append(errs, fmt.Errorf("fx_spots[%d]: pair %s appears twice", i, s.Pair))
			continue
		}
		m.spots[s.Pair] = s.Spot
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("market snapshot %q: %w", d.SnapshotID, errors.Join(errs...))
	}
	return m, nil
}

// SnapshotID returns the id of the snapshot the market was built from.
func (m *Market) SnapshotID() string { return m.snapshotID }

// AsOfTime returns the snapshot's as_of_time.
func (m *Market) AsOfTime() time.Time { return m.asOfTime }

// HasCurve reports whether the market has a curve with the given id.
func (m *Market) HasCurve(id string) bool {
	_, ok := m.curveIndex[id]
	return ok
}

// HasFXSpot reports whether the market has a spot for the pair.
func (m *Market) HasFXSpot(pair string) bool {
	_, ok := m.spots[pair]
	return ok
}

// FXSpot returns the spot of a pair.
func (m *Market) FXSpot(pair string) (float64, bool) {
	s, ok := m.spots[pair]
	return s, ok
}

// ZeroRate returns the interpolated zero rate of a curve at t years.
func (m *Market) ZeroRate(curveID string, t float64) (float64, bool) {
	i, ok := m.curveIndex[curveID]
	if !ok {
		return 0, false
	}
	return m.curves[i].rate(t), true
}

// DiscountFactor returns exp(−r(t)·t) on the discount curve times
// exp(−s(t)·t) on the spread curve (spreadID empty for none), for a date
// days after the as-of date (t = days/365).
func (m *Market) DiscountFactor(discountID, spreadID string, days int) (float64, error) {
	di, ok := m.curveIndex[discountID]
	if !ok {
		return 0, fmt.Errorf("curve %q is not in market snapshot %q", discountID, m.snapshotID)
	}
	var spread *curve
	if spreadID != "" {
		si, ok := m.curveIndex[spreadID]
		if !ok {
			return 0, fmt.Errorf("curve %q is not in market snapshot %q", spreadID, m.snapshotID)
		}
		spread = m.curves[si]
	}
	return discountFactor(m.curves[di], spread, days), nil
}

// CurveIDs returns the ids of the market's curves, sorted.
func (m *Market) CurveIDs() []string {
	out := make([]string, 0, len(m.curves))
	for _, c := range m.curves {
		out = append(out, c.id)
	}
	sort.Strings(out)
	return out
}

// FXPairs returns the pairs with a spot, sorted.
func (m *Market) FXPairs() []string {
	out := make([]string, 0, len(m.spots))
	for p := range m.spots {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// withCurveShift returns a copy of the market with every curve whose id
// matches shifted by shift in zero rate. Curve indices are preserved.
func (m *Market) withCurveShift(match func(id string) bool, shift float64) *Market {
	out := m.clone()
	for i, c := range out.curves {
		if match(c.id) {
			out.curves[i] = c.bumped(shift)
		}
	}
	return out
}

// withSpotFactor returns a copy of the market with every spot multiplied by
// factor.
func (m *Market) withSpotFactor(factor float64) *Market {
	out := m.clone()
	out.spots = make(map[string]float64, len(m.spots))
	for p, s := range m.spots {
		out.spots[p] = s * factor
	}
	return out
}

// clone copies the market's curve list (sharing the immutable curves) and
// shares the index and spots.
func (m *Market) clone() *Market {
	out := *m
	out.curves = append([]*curve(nil), m.curves...)
	return &out
}

func isOISCurve(id string) bool    { return strings.HasSuffix(id, "-OIS") }
func isSpreadCurve(id string) bool { return strings.HasSuffix(id, "-SPREAD") }

// LoadMarket decodes a stored market snapshot payload (the snapshot as
// submitted, in canonical JSON) and builds the validated market from it.
func LoadMarket(payload []byte) (*Market, error) {
	var d MarketData
	if err := json.Unmarshal(payload, &d); err != nil {
		return nil, fmt.Errorf("decode market snapshot payload: %w", err)
	}
	m, err := NewMarket(d)
	if err != nil {
		return nil, fmt.Errorf("build market: %w", err)
	}
	return m, nil
}
