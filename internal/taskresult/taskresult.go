// Package taskresult builds what a task writes when it completes
// (store.TaskCompleteParams): one result row per position, holding its
// values under every scenario of the run (package resultcodec), and the
// task's partial aggregates (package agg) for the whole task, by product
// type and by portfolio node, with the P&L vectors against BASE when the
// run has BASE and PV. The worker builds its results with it, and so do
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
}

// Builder accumulates a task's results.
type Builder struct {
	runID  string
	taskID int64
	base   int
	tables [agg.NumTaskKeys]*agg.Table
	rows   []store.PositionResult
	ends   []int
	buf    []byte
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
	pnl := agg.KeepsPnL(scenarios, measures)
	for i := range b.tables {
		b.tables[i] = agg.New(scenarios, measures, pnl)
	}
	return b
}

// Add adds one position's values under every scenario of the run.
func (b *Builder) Add(p Position, vals []pricing.Values) {
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
	for i, keyBy := range agg.TaskKeys() {
		key := ""
		switch keyBy {
		case "product_type":
			key = p.ProductType
		case "portfolio_node_id":
			key = p.PortfolioNodeID
		}
		b.tables[i].Add(key, vals, base)
	}
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
	aggs := make([]store.TaskAggregate, len(b.tables))
	for i, keyBy := range agg.TaskKeys() {
		aggs[i] = store.TaskAggregate{KeyBy: keyBy, Payload: b.tables[i].AppendBinary(nil)}
	}
	return out, aggs
}
