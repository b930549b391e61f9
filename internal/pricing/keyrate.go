package pricing

import (
	"sync"
	"sync/atomic"
)

// Key-rate DV01 (SPEC §4.2). For each *-OIS curve a position discounts
// with and each tenor Tⱼ of the ladder, KR01ⱼ is PV with the curve's zero
// rate r(t) replaced by r(t) + 0.0001·wⱼ(t), minus PV, where wⱼ is the
// triangle that is 1 at Tⱼ and 0 at its neighbours (w₁ = 1 for t ≤ T₁,
// w₁₁ = 1 for t ≥ T₁₁). The triangle is an additive Shift of the curve,
// added to r(t) at every t.
//
// Outside (Tⱼ₋₁, Tⱼ₊₁) the shift is exactly 0, so the bumped discount
// factor is the same bits as the unbumped one and a flow there adds
// nothing. The engine therefore sums aᵢ·(dfⱼ(tᵢ) − df(tᵢ)) over the flows
// inside the triangle only (each flow lies in at most two): the same
// quantity as PV(bumped) − PV, without the cancellation of two large sums.
// The bumped discount factors are cached per scenario, like the others, in
// tables that cover only a triangle's days.

// keyRateTimes are T₁…T₁₁ in years.
var keyRateTimes = [NumKeyRates]float64{0.25, 0.5, 1, 2, 3, 5, 7, 10, 15, 20, 30}

// keyRateStartDays[k] is the first whole day d with d/365 ≥ T_{k+1}, so
// a flow at day d lies at or beyond the tenors k with keyRateStartDays[k]
// ≤ d. It is computed with yearFraction, as t is.
var keyRateStartDays = func() [NumKeyRates]int {
	var out [NumKeyRates]int
	for k, tk := range keyRateTimes {
		d := int(tk * 365)
		for d > 0 && yearFraction(d-1) >= tk {
			d--
		}
		for yearFraction(d) < tk {
			d++
		}
		out[k] = d
	}
	return out
}()

// keyRateTriangles returns the triangles j that are not zero at day
// offset d: [lo, hi] with hi − lo ≤ 1.
func keyRateTriangles(d int) (lo, hi int) {
	k := 0
	for k < NumKeyRates && keyRateStartDays[k] <= d {
		k++
	}
	// T_k ≤ t < T_{k+1} (1-based): triangles k−1 and k (0-based).
	return max(k-1, 0), min(k, NumKeyRates-1)
}

// keyRateShift returns the triangle wⱼ scaled to 1bp.
func keyRateShift(j int) Shift {
	switch j {
	case 0:
		return Shift{Ts: []float64{keyRateTimes[0], keyRateTimes[1]}, Vs: []float64{oneBP, 0}}
	case NumKeyRates - 1:
		return Shift{Ts: []float64{keyRateTimes[j-1], keyRateTimes[j]}, Vs: []float64{0, oneBP}}
	}
	return Shift{Ts: []float64{keyRateTimes[j-1], keyRateTimes[j], keyRateTimes[j+1]}, Vs: []float64{0, oneBP, 0}}
}

// keyRateFirstDay is the first day offset where triangle j is not zero
// (the start of its table).
func keyRateFirstDay(j int) int {
	if j == 0 {
		return 0
	}
	return keyRateStartDays[j-1]
}

// keyRateEndDay is the day offset from which triangle j is zero again
// (the end of its table; tableDays for the last, which stays at 1).
func keyRateEndDay(j int) int {
	if j == NumKeyRates-1 {
		return tableDays
	}
	return keyRateStartDays[j+1]
}

// keyRateTables holds one scenario's key-rate bumped curves and their
// discount factor tables.
type keyRateTables struct {
	market *Market
	// bumped[c][j] is curve c of the scenario market plus triangle j,
	// for every *-OIS curve c (nil for other curves).
	bumped [][NumKeyRates]*curve
	// rows[c][j][disc] holds, per spread curve (cell 0: none), the table
	// of discount curve disc and that spread curve with curve c bumped by
	// triangle j; created on first use.
	rows [][NumKeyRates][]atomic.Pointer[windowRow]
}

type windowRow struct {
	cells []windowTable
}

func newKeyRateTables(m *Market) *keyRateTables {
	k := &keyRateTables{
		market: m,
		bumped: make([][NumKeyRates]*curve, len(m.curves)),
		rows:   make([][NumKeyRates][]atomic.Pointer[windowRow], len(m.curves)),
	}
	for c, cv := range m.curves {
		if !isOISCurve(cv.id) {
			continue
		}
		for j := range NumKeyRates {
			k.bumped[c][j] = cv.withShift(keyRateShift(j))
			k.rows[c][j] = make([]atomic.Pointer[windowRow], len(m.curves))
		}
	}
	return k
}

// table returns the table of discount curve disc and spread curve spread
// (−1 for none) with curve c (a *-OIS curve) bumped by triangle j.
func (k *keyRateTables) table(c, j, disc, spread int) *windowTable {
	slot := &k.rows[c][j][disc]
	row := slot.Load()
	if row == nil {
		row = k.newRow(c, j, disc)
		if !slot.CompareAndSwap(nil, row) {
			row = slot.Load()
		}
	}
	return &row.cells[spread+1]
}

func (k *keyRateTables) newRow(c, j, disc int) *windowRow {
	pick := func(i int) *curve {
		if i == c {
			return k.bumped[c][j]
		}
		return k.market.curves[i]
	}
	row := &windowRow{cells: make([]windowTable, len(k.market.curves)+1)}
	for s := range row.cells {
		w := &row.cells[s]
		w.disc, w.lo, w.hi = pick(disc), keyRateFirstDay(j), keyRateEndDay(j)
		if s > 0 {
			w.spread = pick(s - 1)
		}
	}
	return row
}

// windowTable caches discountFactor(disc, spread, d) for d from lo up to
// lo + the length of the published slice, and never beyond hi (a
// triangle's days), growing on demand as dfTable does (under a mutex, into
// a new slice published atomically).
type windowTable struct {
	disc, spread *curve
	lo, hi       int
	mu           sync.Mutex
	vals         atomic.Pointer[[]float64]
}

// upTo returns the table covering at least days [lo, min(n, hi)).
func (t *windowTable) upTo(n int) []float64 {
	want := min(n, t.hi) - t.lo
	if p := t.vals.Load(); p != nil && len(*p) >= want {
		return *p
	}
	if want <= 0 {
		return nil
	}
	return t.grow(want)
}

func (t *windowTable) grow(want int) []float64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var old []float64
	if p := t.vals.Load(); p != nil {
		old = *p
		if len(old) >= want {
			return old
		}
	}
	size := max(want, 2*len(old), tableChunk)
	size = min((size+tableChunk-1)/tableChunk*tableChunk, t.hi-t.lo)
	vals := make([]float64, size)
	copy(vals, old)
	for i := len(old); i < size; i++ {
		vals[i] = discountFactor(t.disc, t.spread, t.lo+i)
	}
	t.vals.Store(&vals)
	return vals
}

// at returns the discount factor days after the as-of date (days ≥ lo).
func (t *windowTable) at(vals []float64, days int) float64 {
	if i := days - t.lo; i >= 0 && i < len(vals) {
		return vals[i]
	}
	return discountFactor(t.disc, t.spread, days)
}

// keyRates sets KR01 of fixed cashflows discounted on the discount curve
// plus the spread curve: one ladder for each of them that is a *-OIS
// curve. Nothing is set when neither is.
func (c cashflowCurves) keyRates(pc priceCall, days []int32, amounts []float64, lastDay int32, out *Values) error {
	if !pc.wants(KR01) {
		return nil
	}
	di, err := pc.curve(c.disc)
	if err != nil {
		return err
	}
	si, err := pc.curve(c.spread)
	if err != nil {
		return err
	}
	if isOISCurve(c.disc) {
		pc.keyRateLadder(di, di, si, days, amounts, lastDay, out)
	}
	if si != di && isOISCurve(c.spread) {
		pc.keyRateLadder(si, di, si, days, amounts, lastDay, out)
	}
	return nil
}

// keyRateLadder adds the ladder of curve c for cashflows discounted on
// curves disc and spread.
func (pc priceCall) keyRateLadder(c, disc, spread int, days []int32, amounts []float64, lastDay int32, out *Values) {
	ladder := out.keyRateLadder(pc.e.base.curves[c].id)
	if ladder == nil {
		return
	}
	n := int(lastDay) - int(pc.asOf) + 1
	base := pc.table(kindBase, disc, spread)
	baseVals := base.upTo(n)
	kr := pc.s.keyRates
	var tabs [NumKeyRates]*windowTable
	var vals [NumKeyRates][]float64
	for j := range NumKeyRates {
		tabs[j] = kr.table(c, j, disc, spread)
		vals[j] = tabs[j].upTo(n)
	}
	var sums [NumKeyRates]float64
	amounts = amounts[:len(days)]
	for i, d := range days {
		off := int(d) - int(pc.asOf)
		if off < 0 {
			continue
		}
		a := amounts[i]
		df := base.at(baseVals, off)
		lo, hi := keyRateTriangles(off)
		for j := lo; j <= hi; j++ {
			sums[j] += float64(a * (tabs[j].at(vals[j], off) - df))
		}
	}
	for j, s := range sums {
		if s != 0 { // +0 where no flow is (never −0)
			ladder[j] = pc.qty * s
		}
	}
}
