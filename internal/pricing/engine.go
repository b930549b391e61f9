package pricing

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// tableDays is how many days ahead the cached discount factor tables may
// reach (about 40 years). Dates further out are computed directly with the
// same function, so the result does not depend on the cache.
const tableDays = 366*40 + 1

// tableChunk is the step in which a table grows: it covers only as many days
// as the positions priced so far have needed, so a book of five-year loans
// does not pay for forty years of exponentials.
const tableChunk = 1024

// The three markets of a scenario: the scenario's own market, the same with
// every *-OIS curve +1bp (DV01), and the same with the position's spread
// curve +1bp (CS01).
const (
	kindBase = iota
	kindRatesUp
	kindSpreadUp
	numKinds
)

// Engine prices positions for one run: one base market, a list of
// scenarios, a list of measures and the run's as-of time. Build it once; it
// is safe for concurrent use by any number of goroutines, and its results do
// not depend on the order of calls or on the number of goroutines.
type Engine struct {
	base       *Market
	runAsOf    time.Time
	runAsOfDay int32
	measures   []Measure
	want       uint16
	scenarios  []*scenarioState
	modelSet   *ModelSet
	// runAsOfOnly ignores attributes.as_of_date (WithRunAsOfOnly).
	runAsOfOnly bool
	// scratch holds *projection buffers for modelled loans.
	scratch sync.Pool
}

// scenarioState is one scenario's markets and its discount factor tables.
type scenarioState struct {
	id string
	// markets by kind; for kindSpreadUp, spread curves come from
	// spreadUp and discount curves from the scenario market.
	market, ratesUp, spreadUp *Market
	// rows[kind][discount curve index] is created on first use.
	rows [numKinds][]atomic.Pointer[tableRow]
	// keyRates holds the KR01 tables (nil unless KR01 is wanted).
	keyRates *keyRateTables
}

// tableRow holds one table per spread curve (cell 0: no spread).
type tableRow struct {
	cells []dfTable
}

// dfTable caches discountFactor(disc, spread, d) for d from 0 up to the
// length of the published slice. A slice, once published, never changes:
// growing copies it into a longer one under the mutex and publishes that, so
// readers need no lock and every value is the one a direct computation
// gives.
type dfTable struct {
	disc   *curve
	spread *curve
	mu     sync.Mutex
	vals   atomic.Pointer[[]float64]
}

// upTo returns the table covering at least days [0, n), or all of
// [0, tableDays) when n is larger.
func (t *dfTable) upTo(n int) []float64 {
	if p := t.vals.Load(); p != nil && (len(*p) >= n || len(*p) == tableDays) {
		return *p
	}
	return t.grow(n)
}

func (t *dfTable) grow(n int) []float64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var old []float64
	if p := t.vals.Load(); p != nil {
		old = *p
		if len(old) >= n || len(old) == tableDays {
			return old
		}
	}
	size := max(n, 2*len(old), tableChunk)
	size = min((size+tableChunk-1)/tableChunk*tableChunk, tableDays)
	vals := make([]float64, size)
	copy(vals, old)
	for d := len(old); d < size; d++ {
		vals[d] = discountFactor(t.disc, t.spread, d)
	}
	t.vals.Store(&vals)
	return vals
}

// at returns the discount factor days after the as-of date (days ≥ 0).
func (t *dfTable) at(vals []float64, days int) float64 {
	if days < len(vals) {
		return vals[days]
	}
	return discountFactor(t.disc, t.spread, days)
}

// EngineOption configures an Engine beyond its market, scenarios, measures
// and as-of time (model sets, scenario sets).
type EngineOption func(*engineConfig) error

// engineConfig collects the options of NewEngine.
type engineConfig struct {
	setScenarios map[string]*ScenarioSet // scenario id → its set (WithScenarioSets)
	modelSet     *ModelSet
	runAsOfOnly  bool
}

// WithRunAsOfOnly values every position at the date of the run's as-of
// time, ignoring attributes.as_of_date: an explain of P&L (SPEC §4.5)
// values both versions of a position at one date.
func WithRunAsOfOnly() EngineOption {
	return func(c *engineConfig) error {
		c.runAsOfOnly = true
		return nil
	}
}

// WithModelSet values loans with the behavioural assumptions of a model set
// (SPEC §4.1). Without it, or with nil, every loan is valued contractually.
func WithModelSet(ms *ModelSet) EngineOption {
	return func(c *engineConfig) error {
		c.modelSet = ms
		return nil
	}
}

// NewEngine builds the scenario markets (each once) for a run. scenarioIDs
// and measures must be known and not repeated; runAsOf gives the as-of date
// (its UTC date) of positions without attributes.as_of_date.
func NewEngine(base *Market, scenarioIDs []string, measures []Measure, runAsOf time.Time, opts ...EngineOption) (*Engine, error) {
	var cfg engineConfig
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, fmt.Errorf("new engine: %w", err)
		}
	}
	if base == nil {
		return nil, fmt.Errorf("new engine: no market")
	}
	if len(scenarioIDs) == 0 {
		return nil, fmt.Errorf("new engine: no scenarios")
	}
	if len(measures) == 0 {
		return nil, fmt.Errorf("new engine: no measures")
	}
	if runAsOf.IsZero() {
		return nil, fmt.Errorf("new engine: no run as-of time")
	}
	e := &Engine{
		base:       base,
		runAsOf:    runAsOf,
		runAsOfDay: dayOf(runAsOf),
		measures:   append([]Measure(nil), measures...),
		modelSet:   cfg.modelSet,

		runAsOfOnly: cfg.runAsOfOnly,
	}
	for _, m := range measures {
		if !m.Valid() {
			return nil, fmt.Errorf("new engine: unknown measure %d", m)
		}
		if e.want&(1<<m) != 0 {
			return nil, fmt.Errorf("new engine: measure %s requested twice", m)
		}
		e.want |= 1 << m
	}
	seen := make(map[string]bool, len(scenarioIDs))
	for _, id := range scenarioIDs {
		if seen[id] {
			return nil, fmt.Errorf("new engine: scenario %q requested twice", id)
		}
		seen[id] = true
		sm, err := cfg.scenarioMarket(base, id)
		if err != nil {
			return nil, fmt.Errorf("new engine: %w", err)
		}
		s := &scenarioState{
			id:       id,
			market:   sm,
			ratesUp:  sm.withCurveShift(isOISCurve, oneBP),
			spreadUp: sm.withCurveShift(func(string) bool { return true }, oneBP),
		}
		for k := range s.rows {
			s.rows[k] = make([]atomic.Pointer[tableRow], len(sm.curves))
		}
		if e.want&(1<<KR01) != 0 {
			s.keyRates = newKeyRateTables(sm)
		}
		e.scenarios = append(e.scenarios, s)
	}
	return e, nil
}

// Market returns the base market.
func (e *Engine) Market() *Market { return e.base }

// RunAsOf returns the run's as-of time.
func (e *Engine) RunAsOf() time.Time { return e.runAsOf }

// Scenarios returns the scenario ids in the order of their indices.
func (e *Engine) Scenarios() []string {
	out := make([]string, len(e.scenarios))
	for i, s := range e.scenarios {
		out[i] = s.id
	}
	return out
}

// ScenarioIndex returns the index of a scenario id.
func (e *Engine) ScenarioIndex(id string) (int, bool) {
	for i, s := range e.scenarios {
		if s.id == id {
			return i, true
		}
	}
	return 0, false
}

// Measures returns the requested measures.
func (e *Engine) Measures() []Measure { return append([]Measure(nil), e.measures...) }

// AsOfDate returns the as-of date used for a position: its own
// attributes.as_of_date, else the UTC date of the run's as-of time.
func (e *Engine) AsOfDate(p *Position) string { return formatDate(e.asOfDay(p)) }

func (e *Engine) asOfDay(p *Position) int32 {
	if p.hasAsOf && !e.runAsOfOnly {
		return p.asOf
	}
	return e.runAsOfDay
}

// Check returns the problems of a position against this run's market and
// as-of date: a curve or FX spot it needs that the market lacks, a loan's
// last_payment_date after the as-of date, a loan payment not above the
// first period's interest. The services report them as 422.
func (e *Engine) Check(p *Position) []Problem {
	probs := &problemList{positionID: p.ID}
	for _, r := range p.prod.requirements() {
		if r.fxPair {
			if !e.base.HasFXSpot(r.id) {
				probs.addMissing(r.pointer, r.id, "FX spot %s (%s) is not in market snapshot %q", r.id, r.role, e.base.snapshotID)
			}
		} else if !e.base.HasCurve(r.id) {
			probs.addMissing(r.pointer, r.id, "curve %s (%s) is not in market snapshot %q", r.id, r.role, e.base.snapshotID)
		}
	}
	p.prod.check(e.asOfDay(p), probs)
	if e.modelSet != nil {
		e.modelSet.bind(p)
	}
	return probs.list
}

// priceCall carries one Price call to a product.
type priceCall struct {
	e    *Engine
	s    *scenarioState
	pos  *Position
	asOf int32
	qty  float64
	want uint16
}

func (pc priceCall) wants(m Measure) bool { return pc.want&(1<<m) != 0 }

// curve resolves a curve id to its index in the markets.
func (pc priceCall) curve(id string) (int, error) {
	i, ok := pc.e.base.curveIndex[id]
	if !ok {
		return 0, pc.problem("", "curve %s is not in market snapshot %q", id, pc.e.base.snapshotID)
	}
	return i, nil
}

// table returns the discount factor table of one kind for a discount curve
// and a spread curve (spread −1 for none).
func (pc priceCall) table(kind, disc, spread int) *dfTable {
	return pc.s.table(kind, disc, spread)
}

func (pc priceCall) problem(pointer, format string, args ...any) error {
	return Problem{PositionID: pc.pos.ID, Pointer: pointer, Detail: fmt.Sprintf(format, args...)}
}

func (s *scenarioState) table(kind, disc, spread int) *dfTable {
	slot := &s.rows[kind][disc]
	row := slot.Load()
	if row == nil {
		row = s.newRow(kind, disc)
		if !slot.CompareAndSwap(nil, row) {
			row = slot.Load()
		}
	}
	return &row.cells[spread+1]
}

func (s *scenarioState) newRow(kind, disc int) *tableRow {
	discMkt, spreadMkt := s.market, s.market
	switch kind {
	case kindRatesUp:
		discMkt, spreadMkt = s.ratesUp, s.ratesUp
	case kindSpreadUp:
		spreadMkt = s.spreadUp
	}
	row := &tableRow{cells: make([]dfTable, len(discMkt.curves)+1)}
	for j := range row.cells {
		row.cells[j].disc = discMkt.curves[disc]
		if j > 0 {
			row.cells[j].spread = spreadMkt.curves[j-1]
		}
	}
	return row
}

// Price computes, into out, the engine's measures that apply to the
// position under the scenario with the given index (see Scenarios). out is
// reset first; measures that do not apply are absent. It allocates nothing
// on success. The error, a Problem, names the position and why it cannot be
// priced (market data missing, a data error that Check reports).
func (e *Engine) Price(p *Position, scenarioIndex int, out *Values) error {
	out.Reset()
	if scenarioIndex < 0 || scenarioIndex >= len(e.scenarios) {
		return Problem{PositionID: p.ID, Detail: "scenario index " + strconv.Itoa(scenarioIndex) + " out of range"}
	}
	pc := priceCall{
		e:    e,
		s:    e.scenarios[scenarioIndex],
		pos:  p,
		asOf: e.asOfDay(p),
		qty:  p.Quantity,
		want: e.want,
	}
	if err := p.prod.price(pc, out); err != nil {
		out.Reset()
		return err
	}
	if m, bad := out.nonFinite(); bad {
		out.Reset()
		return Problem{PositionID: p.ID, Detail: m.String() + " is not finite under scenario " + e.scenarios[scenarioIndex].id}
	}
	return nil
}

// sumDiscounted3 returns the sums of sumDiscounted on three tables in one
// pass; each sum is accumulated in the same order as sumDiscounted, so the
// results are the same bits.
func sumDiscounted3(days []int32, amounts []float64, asOf, lastDay int32, t0, t1, t2 *dfTable) (s0, s1, s2 float64) {
	n := int(lastDay) - int(asOf) + 1
	v0, v1, v2 := t0.upTo(n), t1.upTo(n), t2.upTo(n)
	amounts = amounts[:len(days)]
	for i, d := range days {
		off := int(d) - int(asOf)
		if off < 0 {
			continue
		}
		a := amounts[i]
		if off < len(v0) && off < len(v1) && off < len(v2) {
			s0 += float64(a * v0[off])
			s1 += float64(a * v1[off])
			s2 += float64(a * v2[off])
			continue
		}
		s0 += float64(a * t0.at(v0, off))
		s1 += float64(a * t1.at(v1, off))
		s2 += float64(a * t2.at(v2, off))
	}
	return s0, s1, s2
}

// sumDiscounted returns Σ amounts[i]·df(days[i] − asOf) over the cashflows
// dated on or after asOf, in the order given; lastDay is the latest of
// days.
func sumDiscounted(days []int32, amounts []float64, asOf, lastDay int32, t *dfTable) float64 {
	vals := t.upTo(int(lastDay) - int(asOf) + 1)
	sum := 0.0
	for i, d := range days {
		off := int(d) - int(asOf)
		if off < 0 {
			continue
		}
		sum += float64(amounts[i] * t.at(vals, off))
	}
	return sum
}
