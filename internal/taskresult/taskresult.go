// Package taskresult builds what a task writes when it completes
// (store.TaskCompleteParams): one result row per position, holding its
// values under every scenario of the run (package resultcodec), and the
// task's partial aggregates (package agg) for the whole task, by product
// type and by portfolio node (and by each attribute the run aggregates,
// WithAttrs), with the P&L vectors against BASE when the run has BASE and
// PV. The worker builds its results with it, and so do
// tests that write results without a worker, so both write the same thing.
package taskresult

import (
	"slices"

	"github.com/iprs/iprs/internal/agg"
	"github.com/iprs/iprs/internal/pricing"
	"github.com/iprs/iprs/internal/resultcodec"
	"github.com/iprs/iprs/internal/store"
)

// Position is the identity of a position in its result row.
type Position struct {
	SnapshotID      string
	PositionID      string
	InstrumentID    string
	ProductType     string
	PortfolioNodeID string
	// AttrKeys are the position's group keys (agg.AttrKey) for the
	// attributes given to WithAttrs, in their order.
	AttrKeys []string
}

// Builder accumulates a task's results.
type Builder struct {
	runID     string
	taskID    int64
	base      int
	whole     *agg.Table                      // the whole task (keyBy "")
	byTask    [agg.NumTaskKeys - 1]keyedTable // agg.TaskKeys()[1:]: product type, node
	attrs     []string                        // the attributes aggregated by (WithAttrs)
	byAttr    []keyedTable                    // per attribute
	maxGroups int
	pnl       bool
	scen      []string
	ms        []pricing.Measure
	rows      []store.PositionResult
	ends      []int
	buf       []byte
}

// keyedTable is a partial by a key. While every position so far has had
// the same key it is not added to: its one group is the whole-task group,
// copied when the key changes or the results are taken. A task's
// positions share their product type, and most often their node.
type keyedTable struct {
	t     *agg.Table // nil once too wide (an attribute's)
	key   string     // the key every position so far has had, until split
	split bool       // a second key came: the table is added to as usual
}

// New returns a builder for a task of a run over the scenarios (in the
// run's order) and measures of the run. n is the expected number of
// positions (a capacity hint).
func New(runID string, taskID int64, scenarios []string, measures []pricing.Measure, n int) *Builder {
	b := &Builder{
		runID:  runID,
		taskID: taskID,
		base:   slices.Index(scenarios, agg.BaseScenario),
		rows:   make([]store.PositionResult, 0, n),
		ends:   make([]int, 0, n),
	}
	b.pnl = agg.KeepsPnL(scenarios, measures)
	b.scen, b.ms = scenarios, measures
	b.whole = agg.New(scenarios, measures, b.pnl)
	for i := range b.byTask {
		b.byTask[i].t = agg.New(scenarios, measures, b.pnl)
	}
	return b
}

// WithAttrs makes the builder also aggregate by each of the attributes
// named (keyBy "attr:NAME"), from the keys each Position carries. A
// partial with more than maxGroups groups (agg.MaxTaskAttrGroups when 0)
// is dropped as it passes the bound and stored as too wide: an empty
// payload. Call it before the first Add.
func (b *Builder) WithAttrs(names []string, maxGroups int) *Builder {
	if len(b.rows) > 0 {
		panic("taskresult: WithAttrs after Add") // the partials would miss the positions before
	}
	if maxGroups <= 0 {
		maxGroups = agg.MaxTaskAttrGroups
	}
	b.maxGroups = maxGroups
	b.attrs = slices.Clone(names)
	b.byAttr = make([]keyedTable, len(names))
	for i := range b.byAttr {
		b.byAttr[i].t = agg.New(b.scen, b.ms, b.pnl)
	}
	return b
}

// add adds a position to kt under key, or defers it while every position
// shares the key. first: no position was added before (to the whole-task
// table either).
func (b *Builder) add(kt *keyedTable, key string, first bool, vals []pricing.Values, base *pricing.Values) {
	if !kt.split {
		if first {
			kt.key = key
			return
		}
		if key == kt.key {
			return
		}
		// The positions before this one all had kt.key: their group
		// is the whole-task group as it stands.
		b.copyWhole(kt)
		kt.split = true
	}
	kt.t.Add(key, vals, base)
}

// final returns kt's table as the results take it: with the whole-task
// group under the shared key when its positions never split.
func (b *Builder) final(kt *keyedTable) *agg.Table {
	if kt.t != nil && !kt.split && len(b.rows) > 0 {
		b.copyWhole(kt)
	}
	return kt.t
}

func (b *Builder) copyWhole(kt *keyedTable) {
	if err := kt.t.SetGroup(kt.key, b.whole, ""); err != nil {
		panic(err) // the tables are made alike by New and WithAttrs
	}
}

// taskKey is a position's key in the task grouping keyBy (agg.TaskKeys).
func taskKey(keyBy string, p *Position) string {
	switch keyBy {
	case "product_type":
		return p.ProductType
	case "portfolio_node_id":
		return p.PortfolioNodeID
	}
	panic("taskresult: no key for the task grouping " + keyBy)
}

// Add adds one position's values under every scenario of the run.
func (b *Builder) Add(p Position, vals []pricing.Values) {
	first := len(b.rows) == 0
	b.buf = resultcodec.Append(b.buf, vals)
	b.ends = append(b.ends, len(b.buf))
	b.rows = append(b.rows, store.PositionResult{
		RunID:              b.runID,
		PositionSnapshotID: p.SnapshotID,
		PositionID:         p.PositionID,
		InstrumentID:       p.InstrumentID,
		ProductType:        p.ProductType,
		PortfolioNodeID:    p.PortfolioNodeID,
		TaskID:             b.taskID,
	})
	var base *pricing.Values
	if b.base >= 0 {
		base = &vals[b.base]
	}
	// The keyed tables first: a table whose key changes for the first
	// time copies the whole-task group as it was before this position.
	keys := agg.TaskKeys()
	for i, keyBy := range keys[1:] {
		b.add(&b.byTask[i], taskKey(keyBy, &p), first, vals, base)
	}
	for i := range b.byAttr {
		kt := &b.byAttr[i]
		if kt.t == nil {
			continue
		}
		b.add(kt, p.AttrKeys[i], first, vals, base)
		if kt.t.Len() > b.maxGroups {
			kt.t = nil
		}
	}
	b.whole.Add("", vals, base)
}

// Len returns the number of positions added.
func (b *Builder) Len() int { return len(b.rows) }

// Results returns the rows and the aggregates to complete the task with.
func (b *Builder) Results() ([]*store.PositionResult, []store.TaskAggregate) {
	out := make([]*store.PositionResult, len(b.rows))
	start := 0
	for i := range b.rows {
		b.rows[i].Values = b.buf[start:b.ends[i]:b.ends[i]]
		start = b.ends[i]
		out[i] = &b.rows[i]
	}
	keys := agg.TaskKeys() // the whole task (""), then the keyed ones
	aggs := make([]store.TaskAggregate, 0, agg.NumTaskKeys+len(b.attrs))
	aggs = append(aggs, store.TaskAggregate{KeyBy: keys[0], Payload: b.whole.AppendBinary(nil)})
	for i, keyBy := range keys[1:] {
		aggs = append(aggs, store.TaskAggregate{KeyBy: keyBy, Payload: b.final(&b.byTask[i]).AppendBinary(nil)})
	}
	for i, name := range b.attrs {
		payload := []byte{} // too wide
		if t := b.final(&b.byAttr[i]); t != nil {
			payload = t.AppendBinary(nil)
		}
		aggs = append(aggs, store.TaskAggregate{KeyBy: agg.AttrKeyBy(name), Payload: payload})
	}
	return out, aggs
}

// AttrKeyer reads the group keys of a run's aggregated attributes from
// each position's attributes JSON, as the results service's scans key
// them (agg.AttrKey). Equal keys share one string.
type AttrKeyer struct {
	names  []string
	reader pricing.AttrReader
	raw    [][]byte
	intern map[string]string
}

// NewAttrKeyer returns a keyer for the attributes named.
func NewAttrKeyer(names []string) *AttrKeyer {
	return &AttrKeyer{names: names, raw: make([][]byte, len(names)), intern: make(map[string]string)}
}

// AppendKeys appends the keys of the attributes JSON object attrs, one per
// name, to dst.
func (k *AttrKeyer) AppendKeys(dst []string, attrs []byte) ([]string, error) {
	if len(k.names) == 0 {
		return dst, nil
	}
	if err := k.reader.Read(attrs, k.names, k.raw); err != nil {
		return dst, err
	}
	for _, r := range k.raw {
		key, ok := k.intern[string(r)]
		if !ok {
			key = agg.AttrKey(r)
			k.intern[string(r)] = key
		}
		dst = append(dst, key)
	}
	return dst, nil
}
