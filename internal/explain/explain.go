package explain

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/iprs/iprs/internal/exactsum"
	"github.com/iprs/iprs/internal/pricing"
)

// The components of a waterfall, as the pseudo-scenario ids under which an
// explain run stores them (each as the measure PV of that "scenario").
const (
	FromPV         = "FROM_PV"
	CarryCashflows = "CARRY_CASHFLOWS"
	Carry          = "CARRY"
	Rates          = "RATES"
	Spread         = "SPREAD"
	FX             = "FX"
	Amendments     = "AMENDMENTS"
	New            = "NEW"
	Matured        = "MATURED"
	ToPV           = "TO_PV"
)

// numComponents is the number of stored components (Scenarios).
const numComponents = 10

// scenarios are the stored components in the order of Result.Values.
var scenarios = [numComponents]string{FromPV, CarryCashflows, Carry, Rates, Spread, FX, Amendments, New, Matured, ToPV}

// Scenarios returns the pseudo-scenario ids of an explain run, in the order
// of Result.Values: FROM_PV, CARRY_CASHFLOWS, CARRY, RATES, SPREAD, FX,
// AMENDMENTS, NEW, MATURED, TO_PV.
func Scenarios() []string { return append([]string(nil), scenarios[:]...) }

// Steps returns the seven components whose sum is the total, in waterfall
// order: CARRY, RATES, SPREAD, FX, AMENDMENTS, NEW, MATURED.
func Steps() []string { return []string{Carry, Rates, Spread, FX, Amendments, New, Matured} }

// Setup is what the valuation of a waterfall needs: the two runs' markets
// and as-of times, and the model set both runs use (nil for none).
type Setup struct {
	FromMarket pricing.MarketData
	ToMarket   pricing.MarketData
	FromAsOf   time.Time
	ToAsOf     time.Time
	ModelSet   *pricing.ModelSet
}

// Valuer values the waterfall of positions between two runs. It is
// immutable and safe for concurrent use.
type Valuer struct {
	flows  *pricing.Engine // the first market at the first date
	carry  *pricing.Engine // the first market at the second date
	rates  *pricing.Engine // … with the second market's *-OIS curves
	spread *pricing.Engine // … and its other curves
	fx     *pricing.Engine // … and its spots
	toAsOf time.Time
}

// NewValuer builds the five engines of a waterfall: the first market at the
// first run's date (for the carry cashflows), and at the second run's date
// the first market, then the same with the second market's *-OIS curves,
// then with all its curves, then with its FX spots too. Every engine
// values positions at its run date, ignoring attributes.as_of_date.
func NewValuer(s Setup) (*Valuer, error) {
	if s.FromAsOf.IsZero() || s.ToAsOf.IsZero() {
		return nil, fmt.Errorf("explain: both as-of times are needed")
	}
	ratesData := blend(s.FromMarket, s.ToMarket, isOIS, false)
	spreadData := blend(s.FromMarket, s.ToMarket, func(string) bool { return true }, false)
	fxData := blend(s.FromMarket, s.ToMarket, func(string) bool { return true }, true)
	v := &Valuer{toAsOf: s.ToAsOf}
	for _, e := range []struct {
		dst  **pricing.Engine
		data pricing.MarketData
		at   time.Time
		name string
	}{
		{&v.flows, s.FromMarket, s.FromAsOf, "first market at the first date"},
		{&v.carry, s.FromMarket, s.ToAsOf, "first market at the second date"},
		{&v.rates, ratesData, s.ToAsOf, "first market with the second's *-OIS curves"},
		{&v.spread, spreadData, s.ToAsOf, "first market with the second's curves"},
		{&v.fx, fxData, s.ToAsOf, "first market with the second's curves and spots"},
	} {
		m, err := pricing.NewMarket(e.data)
		if err != nil {
			return nil, fmt.Errorf("explain: %s: %w", e.name, err)
		}
		opts := []pricing.EngineOption{pricing.WithRunAsOfOnly()}
		if s.ModelSet != nil {
			opts = append(opts, pricing.WithModelSet(s.ModelSet))
		}
		eng, err := pricing.NewEngine(m, []string{"BASE"}, []pricing.Measure{pricing.PV}, e.at, opts...)
		if err != nil {
			return nil, fmt.Errorf("explain: %s: %w", e.name, err)
		}
		*e.dst = eng
	}
	return v, nil
}

func isOIS(id string) bool { return strings.HasSuffix(id, "-OIS") }

// blend returns the first market with the second's curves that match
// taken in (replacing a curve of the same id, else added), and with its
// spots too when spots is set. What the second market lacks stays as the
// first has it.
func blend(first, second pricing.MarketData, curves func(string) bool, spots bool) pricing.MarketData {
	out := first
	out.Curves = append([]pricing.CurveData(nil), first.Curves...)
	index := make(map[string]int, len(out.Curves))
	for i, c := range out.Curves {
		index[c.CurveID] = i
	}
	for _, c := range second.Curves {
		if !curves(c.CurveID) {
			continue
		}
		if i, ok := index[c.CurveID]; ok {
			out.Curves[i] = c
			continue
		}
		index[c.CurveID] = len(out.Curves)
		out.Curves = append(out.Curves, c)
	}
	if spots {
		out.FXSpots = append([]pricing.FXSpot(nil), first.FXSpots...)
		at := make(map[string]int, len(out.FXSpots))
		for i, s := range out.FXSpots {
			at[s.Pair] = i
		}
		for _, s := range second.FXSpots {
			if i, ok := at[s.Pair]; ok {
				out.FXSpots[i] = s
				continue
			}
			at[s.Pair] = len(out.FXSpots)
			out.FXSpots = append(out.FXSpots, s)
		}
	}
	return out
}

// Version is one run's version of a position: the parsed position, what
// decides whether it was amended (quantity and attributes as stored), and
// the run's stored BASE PV of it.
type Version struct {
	Position *pricing.Position
	// Quantity is as stored: nil when the client gave none (1).
	Quantity *float64
	// Attributes is the attributes object in the stored canonical form.
	Attributes []byte
	StoredPV   float64
}

// amended reports whether the second version's quantity or attributes
// differ from the first's (an absent quantity is 1).
func amended(from, to *Version) bool {
	q := func(p *float64) float64 {
		if p == nil {
			return 1
		}
		return *p
	}
	return q(from.Quantity) != q(to.Quantity) || !bytes.Equal(from.Attributes, to.Attributes)
}

// Result is the waterfall of one position (or the sum of a group's).
type Result struct {
	FromPV, CarryCashflows, Carry, Rates, Spread, FX, Amendments, New, Matured, ToPV float64
}

// Values returns the components in the order of Scenarios.
func (r Result) Values() [numComponents]float64 {
	return [numComponents]float64{r.FromPV, r.CarryCashflows, r.Carry, r.Rates, r.Spread, r.FX,
		r.Amendments, r.New, r.Matured, r.ToPV}
}

// Total returns the correctly rounded sum of the seven steps.
func (r Result) Total() float64 {
	return exactsum.Sum([]float64{r.Carry, r.Rates, r.Spread, r.FX, r.Amendments, r.New, r.Matured})
}

// Value returns the waterfall of one position: from is its version in the
// first run (nil when it is new), to its version in the second (nil when it
// matured). When both are given they must be of the same product type (a
// position whose product type changed is one matured and one new position,
// valued apart). An error is a pricing.Problem naming the position.
func (v *Valuer) Value(from, to *Version) (Result, error) {
	var r Result
	switch {
	case from == nil && to == nil:
		return r, fmt.Errorf("explain: a position needs at least one version")
	case from != nil && to != nil && from.Position.ProductType != to.Position.ProductType:
		return r, fmt.Errorf("explain: position %s changed product type (%s to %s): value it as matured and new",
			to.Position.ID, from.Position.ProductType, to.Position.ProductType)
	}
	var after float64 // the first version's value after the fx step
	if from != nil {
		r.FromPV = from.StoredPV
		flows, err := v.flows.CashflowsBefore(from.Position, 0, v.toAsOf)
		if err != nil {
			return r, err
		}
		r.CarryCashflows = exactsum.Sum(flows)
		var pv [4]float64
		for i, e := range []*pricing.Engine{v.carry, v.rates, v.spread, v.fx} {
			if pv[i], err = value(e, from.Position); err != nil {
				return r, err
			}
		}
		r.Carry = exactsum.Sum([]float64{pv[0], r.CarryCashflows, -r.FromPV})
		r.Rates = pv[1] - pv[0]
		r.Spread = pv[2] - pv[1]
		r.FX = pv[3] - pv[2]
		after = pv[3]
	}
	switch {
	case to == nil:
		r.Matured = 0 - after // +0, not −0, for a position worth nothing
	case from == nil:
		r.ToPV = to.StoredPV
		pv, err := value(v.fx, to.Position)
		if err != nil {
			return r, err
		}
		r.New = pv
	default:
		r.ToPV = to.StoredPV
		if amended(from, to) {
			pv, err := value(v.fx, to.Position)
			if err != nil {
				return r, err
			}
			r.Amendments = pv - after
		}
	}
	return r, nil
}

// value is a position's PV on an engine.
func value(e *pricing.Engine, p *pricing.Position) (float64, error) {
	var vals pricing.Values
	if err := e.Price(p, 0, &vals); err != nil {
		return 0, err
	}
	pv, ok := vals.Get(pricing.PV)
	if !ok {
		return 0, pricing.Problem{PositionID: p.ID, Detail: "no PV for product type " + p.ProductType}
	}
	return pv, nil
}
