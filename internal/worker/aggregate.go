package worker

import (
	"github.com/iprs/iprs/internal/agg"
	"github.com/iprs/iprs/internal/pricing"
	"github.com/iprs/iprs/internal/store"
)

// taskAggregates are the partial aggregates a task writes with its results
// (store.TaskCompleteParams.Aggregates): every measure under every scenario,
// with the P&L vectors against BASE when the run has BASE and PV, for the
// whole task and by each grouping of agg.TaskKeys.
type taskAggregates struct {
	base   int
	tables [agg.NumTaskKeys]*agg.Table
}

func newTaskAggregates(setup *runSetup) *taskAggregates {
	ta := &taskAggregates{base: setup.base}
	pnl := agg.KeepsPnL(setup.scenarios, setup.measures)
	for i := range ta.tables {
		ta.tables[i] = agg.New(setup.scenarios, setup.measures, pnl)
	}
	return ta
}

// add adds one position's values under every scenario.
func (ta *taskAggregates) add(tp *taskPosition, vals []pricing.Values) {
	var base *pricing.Values
	if ta.base >= 0 {
		base = &vals[ta.base]
	}
	for i, keyBy := range agg.TaskKeys() {
		key := ""
		switch keyBy {
		case "product_type":
			key = tp.productType
		case "portfolio_node_id":
			key = tp.nodeID
		}
		ta.tables[i].Add(key, vals, base)
	}
}

// encode returns the tables in their stored form.
func (ta *taskAggregates) encode() []store.TaskAggregate {
	out := make([]store.TaskAggregate, len(ta.tables))
	for i, keyBy := range agg.TaskKeys() {
		out[i] = store.TaskAggregate{KeyBy: keyBy, Payload: ta.tables[i].AppendBinary(nil)}
	}
	return out
}
