// Package agg aggregates position results by group: per group, per
// scenario and per measure, as each measure's declaration says
// (pricing.MeasureSpec.Aggregation):
//
//   - Sum: the exact sum of the values, rounded once (internal/exactsum);
//   - WeightedAverage (WAL): Σ(value·weight) / Σ weight, each product
//     value·weight rounded to float64 per position and both sums exact, so
//     the figure does not depend on the order of the positions; absent when
//     Σ weight is 0;
//   - KeyByKey (KR01): exact sums curve by curve and tenor by tenor;
//   - PerCurrency (FX_DELTA): exact sums per base currency, never across
//     currencies.
//
// A table may also keep, per scenario, the P&L vector of SPEC §4.4: the
// exact sum over the group's positions of PV(scenario) − PV(BASE), each
// difference computed in float64 first.
//
// Every state is an exact accumulator, so tables merge exactly: a task
// aggregates its own positions, the store keeps the encoded partial
// (Table.AppendBinary), and the results service merges the tasks' partials
// into the same bits a single pass over every position would give, whatever
// the task split or worker count.
package agg

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/iprs/iprs/internal/exactsum"
	"github.com/iprs/iprs/internal/pricing"
)

// NA is the group key of positions without a value for the grouping
// (SPEC §4.6).
const NA = "n/a"

// Table holds the groups of an aggregation over a fixed list of scenarios
// and measures.
type Table struct {
	scenarios []string
	measures  []pricing.Measure
	pnl       bool
	groups    map[string]*Group
}

// Group is the aggregate of one group key.
type Group struct {
	// Positions is the number of positions added.
	Positions int64
	cells     []Cell // [scenario·len(measures) + measure]
	pnl       []exactsum.Acc
}

// Cell aggregates one measure under one scenario.
type Cell struct {
	n       int64 // positions where the measure is present
	sum     exactsum.Acc
	weight  exactsum.Acc
	keyed   map[string]*exactsum.Acc
	ladders map[string]*[pricing.NumKeyRates]exactsum.Acc
}

// New returns an empty table over the scenarios and measures given (in the
// order Add receives values). With pnl, Add also accumulates each
// scenario's P&L against the base values it is given.
func New(scenarios []string, measures []pricing.Measure, pnl bool) *Table {
	return &Table{
		scenarios: slices.Clone(scenarios),
		measures:  slices.Clone(measures),
		pnl:       pnl,
		groups:    make(map[string]*Group),
	}
}

// Scenarios returns the table's scenarios.
func (t *Table) Scenarios() []string { return slices.Clone(t.scenarios) }

// Measures returns the table's measures.
func (t *Table) Measures() []pricing.Measure { return slices.Clone(t.measures) }

// HasPnL reports whether the table keeps P&L vectors.
func (t *Table) HasPnL() bool { return t.pnl }

// Keys returns the group keys in byte order.
func (t *Table) Keys() []string { return slices.Sorted(maps.Keys(t.groups)) }

// Len returns the number of groups.
func (t *Table) Len() int { return len(t.groups) }

// Group returns the group of a key, or nil.
func (t *Table) Group(key string) *Group { return t.groups[key] }

func (t *Table) group(key string) *Group {
	g := t.groups[key]
	if g == nil {
		g = &Group{cells: make([]Cell, len(t.scenarios)*len(t.measures))}
		if t.pnl {
			g.pnl = make([]exactsum.Acc, len(t.scenarios))
		}
		t.groups[key] = g
	}
	return g
}

// Add adds one position to the group key: vals[i] is its Values under the
// table's scenario i. base is its Values under BASE, used (when the table
// keeps P&L) where both carry PV.
func (t *Table) Add(key string, vals []pricing.Values, base *pricing.Values) {
	g := t.group(key)
	g.Positions++
	nm := len(t.measures)
	for s := range t.scenarios {
		v := &vals[s]
		for j, m := range t.measures {
			g.cells[s*nm+j].add(m, v)
		}
		if t.pnl && base != nil {
			pv, ok := v.Get(pricing.PV)
			b, okb := base.Get(pricing.PV)
			if ok && okb {
				g.pnl[s].Add(pv - b)
			}
		}
	}
}

// AddSums adds one position to the group key from its values alone, for a
// table whose measures all aggregate by Sum and which keeps no P&L:
// x[s·len(measures)+j] is the position's value of measure j under scenario
// s, present where has says so. It is Add without building Values, for
// scans that read the numbers straight from the stored bytes
// (resultcodec.Scalars); the sums are the same.
func (t *Table) AddSums(key string, x []float64, has []bool) {
	g := t.group(key)
	g.Positions++
	for i := range g.cells {
		if has[i] {
			c := &g.cells[i]
			c.n++
			c.sum.Add(x[i])
		}
	}
}

// AddPnL adds one position to the group key of a table that keeps P&L
// vectors and no measures: pv[s] is its PV under scenario s (present where
// has[s]) and base its PV under BASE; the table adds pv[s] − base, the
// difference in float64, to scenario s's P&L, as Add does. Without a base
// PV (hasBase false) only the position's count grows.
func (t *Table) AddPnL(key string, pv []float64, has []bool, base float64, hasBase bool) {
	g := t.group(key)
	g.Positions++
	if !hasBase {
		return
	}
	for s := range g.pnl {
		if has[s] {
			g.pnl[s].Add(pv[s] - base)
		}
	}
}

func (c *Cell) add(m pricing.Measure, v *pricing.Values) {
	if !v.Has(m) {
		return
	}
	c.n++
	switch m.Aggregation() {
	case pricing.WeightedAverage:
		x, _ := v.Get(m)
		w, _ := v.WALWeight()
		c.sum.Add(x * w)
		c.weight.Add(w)
	case pricing.KeyByKey:
		for _, l := range v.KR01() {
			acc := c.ladders[l.Curve]
			if acc == nil {
				if c.ladders == nil {
					c.ladders = make(map[string]*[pricing.NumKeyRates]exactsum.Acc)
				}
				acc = new([pricing.NumKeyRates]exactsum.Acc)
				c.ladders[l.Curve] = acc
			}
			for j, x := range l.DV01 {
				acc[j].Add(x)
			}
		}
	case pricing.PerCurrency:
		x, _ := v.Get(m)
		ccy, _ := v.FXDeltaCurrency()
		acc := c.keyed[ccy]
		if acc == nil {
			if c.keyed == nil {
				c.keyed = make(map[string]*exactsum.Acc)
			}
			acc = new(exactsum.Acc)
			c.keyed[ccy] = acc
		}
		acc.Add(x)
	default:
		x, _ := v.Get(m)
		c.sum.Add(x)
	}
}

// SetGroup makes the group key of t a copy of the group srcKey of src, a
// table of the same shape: the same counts and the same exact state, each
// accumulator's partials in the same order, so the copy is what adding the
// same positions to t under key, in the same order, would have built. A
// task aggregating by a key that every one of its positions shares
// (its product type, most often its node) adds them to the whole-task
// table only and copies that group at the end.
func (t *Table) SetGroup(key string, src *Table, srcKey string) error {
	if !slices.Equal(t.scenarios, src.scenarios) || !slices.Equal(t.measures, src.measures) || t.pnl != src.pnl {
		return fmt.Errorf("agg: copying a group between tables of different shapes")
	}
	sg := src.groups[srcKey]
	if sg == nil {
		delete(t.groups, key)
		return nil
	}
	g := &Group{Positions: sg.Positions, cells: make([]Cell, len(sg.cells))}
	for i := range sg.cells {
		g.cells[i] = sg.cells[i].clone()
	}
	if sg.pnl != nil {
		g.pnl = make([]exactsum.Acc, len(sg.pnl))
		for i := range sg.pnl {
			g.pnl[i] = sg.pnl[i].Clone()
		}
	}
	t.groups[key] = g
	return nil
}

func (c *Cell) clone() Cell {
	out := Cell{n: c.n, sum: c.sum.Clone(), weight: c.weight.Clone()}
	if c.keyed != nil {
		out.keyed = make(map[string]*exactsum.Acc, len(c.keyed))
		for k, acc := range c.keyed {
			a := acc.Clone()
			out.keyed[k] = &a
		}
	}
	if c.ladders != nil {
		out.ladders = make(map[string]*[pricing.NumKeyRates]exactsum.Acc, len(c.ladders))
		for k, l := range c.ladders {
			var cl [pricing.NumKeyRates]exactsum.Acc
			for j := range l {
				cl[j] = l[j].Clone()
			}
			out.ladders[k] = &cl
		}
	}
	return out
}

// Merge adds every group of o, a table over the same scenarios, measures
// and P&L setting.
func (t *Table) Merge(o *Table) error {
	if !slices.Equal(t.scenarios, o.scenarios) || !slices.Equal(t.measures, o.measures) || t.pnl != o.pnl {
		return fmt.Errorf("agg: merging tables of different shapes")
	}
	for key, og := range o.groups {
		g := t.group(key)
		g.Positions += og.Positions
		for i := range g.cells {
			g.cells[i].merge(&og.cells[i])
		}
		for i := range g.pnl {
			g.pnl[i].AddAcc(&og.pnl[i])
		}
	}
	return nil
}

func (c *Cell) merge(o *Cell) {
	c.n += o.n
	c.sum.AddAcc(&o.sum)
	c.weight.AddAcc(&o.weight)
	for k, acc := range o.keyed {
		if c.keyed == nil {
			c.keyed = make(map[string]*exactsum.Acc)
		}
		if c.keyed[k] == nil {
			c.keyed[k] = new(exactsum.Acc)
		}
		c.keyed[k].AddAcc(acc)
	}
	for k, l := range o.ladders {
		if c.ladders == nil {
			c.ladders = make(map[string]*[pricing.NumKeyRates]exactsum.Acc)
		}
		if c.ladders[k] == nil {
			c.ladders[k] = new([pricing.NumKeyRates]exactsum.Acc)
		}
		for j := range l {
			c.ladders[k][j].AddAcc(&l[j])
		}
	}
}

// Cell returns the aggregate of the table's measure m under its scenario
// index s, or nil when the table does not keep that measure.
func (t *Table) Cell(g *Group, s int, m pricing.Measure) *Cell {
	j := slices.Index(t.measures, m)
	if j < 0 || s < 0 || s >= len(t.scenarios) {
		return nil
	}
	return &g.cells[s*len(t.measures)+j]
}

// Count returns the number of positions where the measure was present.
func (c *Cell) Count() int64 { return c.n }

// PnL returns the exact P&L accumulator of scenario index s (nil when the
// table keeps none).
func (g *Group) PnL(s int) *exactsum.Acc {
	if s < 0 || s >= len(g.pnl) {
		return nil
	}
	return &g.pnl[s]
}

// ErrNotFinite is returned (wrapped) for an aggregate whose exact value is
// beyond the range of a float64: numbers on the wire are always finite.
var ErrNotFinite = errors.New("aggregate beyond the range of a double")

// Value returns the aggregate of the cell as its measure declares it:
// float64 for Sum and WeightedAverage, map[string]float64 per currency for
// PerCurrency, Ladders for KeyByKey. ok is false when no position had the
// measure (or, for a weighted average, their weights sum to 0).
func (c *Cell) Value(m pricing.Measure) (v any, ok bool, err error) {
	if c.n == 0 {
		return nil, false, nil
	}
	switch m.Aggregation() {
	case pricing.WeightedAverage:
		w := c.weight.Sum()
		if w == 0 {
			return nil, false, nil
		}
		x := c.sum.Sum() / w
		if err := finite(x, m.String()); err != nil {
			return nil, false, err
		}
		return x, true, nil
	case pricing.PerCurrency:
		out := make(map[string]float64, len(c.keyed))
		for k, acc := range c.keyed {
			x := acc.Sum()
			if err := finite(x, m.String()+" "+k); err != nil {
				return nil, false, err
			}
			out[k] = x
		}
		return out, true, nil
	case pricing.KeyByKey:
		out := make(Ladders, 0, len(c.ladders))
		for _, curve := range slices.Sorted(maps.Keys(c.ladders)) {
			l := pricing.KeyRateLadder{Curve: curve}
			for j := range l.DV01 {
				l.DV01[j] = c.ladders[curve][j].Sum()
				if err := finite(l.DV01[j], m.String()+" "+curve); err != nil {
					return nil, false, err
				}
			}
			out = append(out, l)
		}
		return out, true, nil
	default:
		x := c.sum.Sum()
		if err := finite(x, m.String()); err != nil {
			return nil, false, err
		}
		return x, true, nil
	}
}

// Sum returns the exact accumulator of a Sum measure (nil for another
// aggregation), for figures derived exactly from sums such as a P&L.
func (c *Cell) Sum(m pricing.Measure) *exactsum.Acc {
	if m.Aggregation() != pricing.Sum {
		return nil
	}
	return &c.sum
}

func finite(x float64, what string) error {
	if math.IsInf(x, 0) || math.IsNaN(x) {
		return fmt.Errorf("agg: %s: %w", what, ErrNotFinite)
	}
	return nil
}

// Ladders are aggregated KR01 ladders in order of curve id; they encode in
// JSON as {"USD-OIS": {"3M": …, …, "30Y": …}, …} with the tenors in ladder
// order.
type Ladders []pricing.KeyRateLadder

// MarshalJSON writes the ladders as an object of curves, each an object of
// tenors in ladder order.
func (l Ladders) MarshalJSON() ([]byte, error) {
	tenors := pricing.KeyRateTenors()
	b := []byte{'{'}
	for i, x := range l {
		if i > 0 {
			b = append(b, ',')
		}
		name, err := json.Marshal(x.Curve)
		if err != nil {
			return nil, err
		}
		b = append(b, name...)
		b = append(b, ':', '{')
		for j, v := range x.DV01 {
			if j > 0 {
				b = append(b, ',')
			}
			num, err := json.Marshal(v)
			if err != nil {
				return nil, fmt.Errorf("agg: KR01 %s %s: %w", x.Curve, tenors[j], err)
			}
			b = append(b, '"')
			b = append(b, tenors[j]...)
			b = append(b, '"', ':')
			b = append(b, num...)
		}
		b = append(b, '}')
	}
	return append(b, '}'), nil
}

// encoding of a table, version 1.
const tableVersion = 1

// AppendBinary appends the table's exact state to b.
func (t *Table) AppendBinary(b []byte) []byte {
	b = append(b, tableVersion)
	b = binary.AppendUvarint(b, uint64(len(t.scenarios)))
	for _, s := range t.scenarios {
		b = appendString(b, s)
	}
	b = binary.AppendUvarint(b, uint64(len(t.measures)))
	for _, m := range t.measures {
		b = append(b, byte(m))
	}
	if t.pnl {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	keys := t.Keys()
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		g := t.groups[k]
		b = appendString(b, k)
		b = binary.AppendVarint(b, g.Positions)
		for i := range g.cells {
			b = g.cells[i].appendBinary(b)
		}
		for i := range g.pnl {
			b = g.pnl[i].AppendBinary(b)
		}
	}
	return b
}

func (c *Cell) appendBinary(b []byte) []byte {
	b = binary.AppendVarint(b, c.n)
	b = c.sum.AppendBinary(b)
	b = c.weight.AppendBinary(b)
	b = appendMap(b, c.keyed, (*exactsum.Acc).AppendBinary)
	return appendMap(b, c.ladders, func(l *[pricing.NumKeyRates]exactsum.Acc, b []byte) []byte {
		for j := range l {
			b = l[j].AppendBinary(b)
		}
		return b
	})
}

// appendMap appends a map: its size, then each key in byte order and its
// value, appended by value. The order makes equal maps encode equally.
func appendMap[V any](b []byte, m map[string]*V, value func(*V, []byte) []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(m)))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		b = appendString(b, k)
		b = value(m[k], b)
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

var errCorrupt = errors.New("agg: corrupt encoded table")

// decoder reads an encoded table.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	x, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return x
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	x, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return x
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) == 0 {
		d.err = errCorrupt
		return 0
	}
	x := d.b[0]
	d.b = d.b[1:]
	return x
}

func (d *decoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.err = errCorrupt
		return 0
	}
	return int(n)
}

func (d *decoder) string() string {
	n := d.count()
	if d.err != nil {
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) acc(a *exactsum.Acc) {
	if d.err != nil {
		return
	}
	rest, err := a.DecodeBinary(d.b)
	if err != nil {
		d.err = err
		return
	}
	d.b = rest
}

// Decode reads a table encoded by AppendBinary.
func Decode(b []byte) (*Table, error) {
	d := &decoder{b: b}
	if d.byte() != tableVersion {
		return nil, errCorrupt
	}
	scenarios := make([]string, d.count())
	for i := range scenarios {
		scenarios[i] = d.string()
	}
	measures := make([]pricing.Measure, d.count())
	for i := range measures {
		measures[i] = pricing.Measure(d.byte())
		if !measures[i].Valid() {
			d.err = errCorrupt
		}
	}
	pnl := d.byte() == 1
	t := New(scenarios, measures, pnl)
	groups := d.count()
	if groups > 0 && len(scenarios)*len(measures) > len(d.b) {
		// Each cell takes several bytes: the counts cannot be right.
		d.err = errCorrupt
	}
	for range groups {
		if d.err != nil {
			break
		}
		g := t.group(d.string())
		g.Positions = d.varint()
		for i := range g.cells {
			g.cells[i].decode(d)
		}
		for i := range g.pnl {
			d.acc(&g.pnl[i])
		}
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = errCorrupt
	}
	if d.err != nil {
		return nil, fmt.Errorf("agg: decode table: %w", d.err)
	}
	return t, nil
}

func (c *Cell) decode(d *decoder) {
	c.n = d.varint()
	d.acc(&c.sum)
	d.acc(&c.weight)
	decodeMap(d, &c.keyed, d.acc)
	decodeMap(d, &c.ladders, func(l *[pricing.NumKeyRates]exactsum.Acc) {
		for j := range l {
			d.acc(&l[j])
		}
	})
}

// decodeMap reads what appendMap wrote: a count, then each key and its
// value, read by value into a new V. The map is made on the first entry.
func decodeMap[V any](d *decoder, m *map[string]*V, value func(*V)) {
	for range d.count() {
		if d.err != nil {
			return
		}
		k := d.string()
		v := new(V)
		value(v)
		if *m == nil {
			*m = make(map[string]*V)
		}
		(*m)[k] = v
	}
}

// BaseScenario is the scenario P&L is measured against.
const BaseScenario = "BASE"

// TaskKeys are the groupings every task aggregates while it has its
// positions in memory: the whole task (""), by product type and by
// portfolio node. They are the groupings of the summary and of the cubes
// that never need a rescan; others are computed once per finished run.
func TaskKeys() [NumTaskKeys]string {
	return [NumTaskKeys]string{"", "product_type", "portfolio_node_id"}
}

// NumTaskKeys is the number of groupings a task aggregates.
const NumTaskKeys = 3

// KeepsPnL reports whether aggregates of a run over these scenarios and
// measures keep P&L vectors: the run has BASE and PV.
func KeepsPnL(scenarios []string, measures []pricing.Measure) bool {
	return slices.Contains(scenarios, BaseScenario) && slices.Contains(measures, pricing.PV)
}

// Finite returns an error wrapping ErrNotFinite when x is not a finite
// number.
func Finite(x float64) error { return finite(x, "value") }
