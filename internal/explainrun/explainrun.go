// Package explainrun values the tasks of an explain run (SPEC §4.5) on the
// workers. An explain is stored as a run of kind EXPLAIN whose request
// names the two runs it explains; its position snapshots are both runs',
// and its tasks are the (product type, bucket) pairs of their union, so
// both versions of a position (same position id, same hash) fall in one
// task unless its product type changed. Its result rows hold, per
// position, the waterfall components of package explain as the measure PV
// of the pseudo-scenarios explain.Scenarios, so the task aggregates,
// cubes and groupings of the results service serve explains unchanged.
//
// Build reads what every task of one explain needs (the two runs, their
// markets and model set) and ValueTask values one task: it reads the
// task's positions, pairs the two runs' versions by (portfolio node,
// position id), reads both runs' stored BASE PVs of them, values each
// pair with explain.Valuer and builds the rows with package taskresult.
// A row takes the identity of the second version (the first for a
// matured position), and so do the task's partial aggregates by
// attribute: the tasks aggregate by the second run's declared
// execution.aggregate_attrs, else by the workers' (Build's attrs), as a
// valuation's tasks do, so that the waterfall by such an attribute
// merges the tasks' partials instead of scanning the explain's rows.
// Anything stored that cannot be used is a runengine.InputError (the
// task fails at once); database errors are returned as they are
// (retried).
package explainrun

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/explain"
	"github.com/iprs/iprs/internal/pricing"
	"github.com/iprs/iprs/internal/resultcodec"
	"github.com/iprs/iprs/internal/runengine"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/taskresult"
	"golang.org/x/sync/errgroup"
)

// Request is the body of POST /orch/explains, as an explain run stores it
// (canonical JSON, explain_id filled in).
type Request struct {
	ExplainID string `json:"explain_id"`
	FromRunID string `json:"from_run_id"`
	ToRunID   string `json:"to_run_id"`
}

// ParseRequest reads the request stored with an explain run.
func ParseRequest(raw []byte) (Request, error) {
	var r Request
	if err := json.Unmarshal(raw, &r); err != nil {
		return r, fmt.Errorf("explain request: %w", err)
	}
	if r.FromRunID == "" || r.ToRunID == "" {
		return r, fmt.Errorf("explain request: from_run_id and to_run_id are needed")
	}
	return r, nil
}

// Measures are the measures of an explain run: PV only.
func Measures() []pricing.Measure { return []pricing.Measure{pricing.PV} }

// side is one of the two runs explained.
type side struct {
	run   *store.Run
	snaps map[string]bool
	base  int // index of BASE in run.Scenarios
}

func newSide(run *store.Run) (side, error) {
	s := side{run: run, snaps: make(map[string]bool, len(run.PositionSnapshotIDs)), base: slices.Index(run.Scenarios, "BASE")}
	for _, id := range run.PositionSnapshotIDs {
		s.snaps[id] = true
	}
	if s.base < 0 || !slices.Contains(run.Measures, pricing.PV.String()) {
		return s, &runengine.InputError{Err: fmt.Errorf("run %s has no BASE PV", run.ID)}
	}
	return s, nil
}

// basePV decodes a stored row's BASE PV.
func (s side) basePV(vals []byte, buf []pricing.Values) (float64, error) {
	if err := resultcodec.Decode(vals, buf); err != nil {
		return 0, &runengine.InputError{Err: fmt.Errorf("results of run %s: %w", s.run.ID, err)}
	}
	pv, ok := buf[s.base].Get(pricing.PV)
	if !ok {
		return 0, &runengine.InputError{Err: fmt.Errorf("a result of run %s has no BASE PV", s.run.ID)}
	}
	return pv, nil
}

// TaskValuer values the tasks of one explain run. It is safe for
// concurrent use.
type TaskValuer struct {
	st       store.Store
	runID    string
	from, to side
	valuer   *explain.Valuer
	attrs    []string // the attributes the tasks aggregate by
}

// Build reads the explain run's two runs, their markets and their model
// set and builds the valuer of its tasks. attrs are the attributes the
// tasks aggregate by when the second run declares none (the workers'
// configuration).
func Build(ctx context.Context, st store.Store, run *store.Run, attrs []string) (*TaskValuer, error) {
	req, err := ParseRequest(run.Request)
	if err != nil {
		return nil, &runengine.InputError{Err: fmt.Errorf("explain %s: %w", run.ID, err)}
	}
	tv := &TaskValuer{st: st, runID: run.ID}
	var markets [2]pricing.MarketData
	for i, id := range []string{req.FromRunID, req.ToRunID} {
		r, err := st.RunGet(ctx, id)
		if errors.Is(err, apperr.ErrNotFound) {
			return nil, &runengine.InputError{Err: fmt.Errorf("run %s of explain %s does not exist", id, run.ID)}
		}
		if err != nil {
			return nil, fmt.Errorf("get run %s: %w", id, err)
		}
		s, err := newSide(r)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			tv.from = s
		} else {
			tv.to = s
		}
		if markets[i], err = loadMarketData(ctx, st, r); err != nil {
			return nil, err
		}
	}
	if tv.attrs, err = runengine.TaskAttrs(tv.to.run, attrs); err != nil {
		return nil, err
	}
	if tv.from.run.ModelSetID != tv.to.run.ModelSetID {
		return nil, &runengine.InputError{Err: fmt.Errorf("runs %s and %s use different model sets", req.FromRunID, req.ToRunID)}
	}
	var ms *pricing.ModelSet
	if id := tv.from.run.ModelSetID; id != "" {
		ms, err = runengine.LoadModelSet(ctx, st, id)
		if errors.Is(err, apperr.ErrNotFound) {
			return nil, &runengine.InputError{Err: fmt.Errorf("model set %s does not exist", id)}
		}
		if err != nil {
			return nil, err
		}
	}
	tv.valuer, err = explain.NewValuer(explain.Setup{FromMarket: markets[0], ToMarket: markets[1],
		FromAsOf: tv.from.run.AsOfTime, ToAsOf: tv.to.run.AsOfTime, ModelSet: ms})
	if err != nil {
		return nil, &runengine.InputError{Err: err}
	}
	return tv, nil
}

func loadMarketData(ctx context.Context, st store.Store, run *store.Run) (pricing.MarketData, error) {
	var d pricing.MarketData
	snap, err := st.MarketSnapshotGet(ctx, run.MarketSnapshotID)
	if errors.Is(err, apperr.ErrNotFound) {
		return d, &runengine.InputError{Err: fmt.Errorf("market snapshot %s of run %s does not exist", run.MarketSnapshotID, run.ID)}
	}
	if err != nil {
		return d, fmt.Errorf("get market snapshot %s: %w", run.MarketSnapshotID, err)
	}
	if err := json.Unmarshal(snap.Payload, &d); err != nil {
		return d, &runengine.InputError{Err: fmt.Errorf("market snapshot %s cannot be used: %w", snap.ID, err)}
	}
	return d, nil
}

// posKey identifies a position across the two runs.
type posKey struct{ node, id string }

// pair is a position's two versions and their rows' identities.
type pair struct {
	key          posKey
	from, to     *explain.Version
	fromP, toP   *store.Position
	fromK, toK   []string // group keys of the aggregated attributes
	fromR, toR   bool     // a stored result was read
	fromPV, toPV float64
}

// ValueTask values the positions of one task of the explain run.
func (tv *TaskValuer) ValueTask(ctx context.Context, t *store.Task) ([]*store.PositionResult, []store.TaskAggregate, error) {
	pairs, order, err := tv.readPositions(ctx, t)
	if err != nil {
		return nil, nil, err
	}
	b := taskresult.New(tv.runID, t.ID, explain.Scenarios(), Measures(), len(order)).WithAttrs(tv.attrs, 0)
	vals := make([]pricing.Values, len(explain.Scenarios()))
	for i, k := range order {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, nil, fmt.Errorf("explain task %d: %w", t.ID, context.Cause(ctx))
			}
		}
		p := pairs[k]
		if p.from != nil {
			p.from.StoredPV = p.fromPV
		}
		if p.to != nil {
			p.to.StoredPV = p.toPV
		}
		r, err := tv.valuer.Value(p.from, p.to)
		if err != nil {
			return nil, nil, &runengine.InputError{Err: fmt.Errorf("position %s: %w", k.id, err)}
		}
		for j, x := range r.Values() {
			vals[j].Reset()
			vals[j].Set(pricing.PV, x)
		}
		sp, keys := p.toP, p.toK
		if sp == nil {
			sp, keys = p.fromP, p.fromK
		}
		b.Add(taskresult.Position{SnapshotID: sp.SnapshotID, PositionID: sp.PositionID, InstrumentID: sp.InstrumentID,
			ProductType: sp.ProductType, PortfolioNodeID: sp.PortfolioNodeID, AttrKeys: keys}, vals)
	}
	rows, aggs := b.Results()
	return rows, aggs, nil
}

// pvBatch is how many positions' stored PVs one query reads.
const pvBatch = 1024

// readPositions reads the task's positions and pairs the versions of each
// run, reading the runs' stored PVs of each batch of versions while the
// next positions stream in. order lists the keys in the order first read.
func (tv *TaskValuer) readPositions(ctx context.Context, t *store.Task) (map[posKey]*pair, []posKey, error) {
	pairs := make(map[posKey]*pair, int(max(t.PositionCount, 0)))
	var order []posKey
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(2)
	var pending [2][]*pair // by side: 0 the first run, 1 the second
	flush := func(side int) {
		if batch := pending[side]; len(batch) > 0 {
			pending[side] = nil
			keys, byKey := tv.pvKeys(batch, side == 0)
			g.Go(func() error { return tv.readSidePVs(gctx, keys, byKey, side == 0) })
		}
	}
	var (
		keyer  = taskresult.NewAttrKeyer(tv.attrs)
		keyBuf []string // every position's keys, one after the other
		nAttrs = len(tv.attrs)
	)
	err := tv.st.TaskPositions(gctx, t, func(sp *store.Position) error {
		k := posKey{sp.PortfolioNodeID, sp.PositionID}
		p := pairs[k]
		if p == nil {
			p = &pair{key: k}
			pairs[k] = p
			order = append(order, k)
		}
		v, err := version(sp, p)
		if err != nil {
			return err
		}
		var keys []string
		if nAttrs > 0 {
			if keyBuf, err = keyer.AppendKeys(keyBuf, sp.Attributes); err != nil {
				return &runengine.InputError{Err: fmt.Errorf("position %s: %w", sp.PositionID, err)}
			}
			keys = keyBuf[len(keyBuf)-nAttrs : len(keyBuf) : len(keyBuf)]
		}
		row := *sp
		row.Attributes = nil
		for side, s := range []*side{&tv.from, &tv.to} {
			if !s.snaps[sp.SnapshotID] {
				continue
			}
			if side == 0 {
				p.from, p.fromP, p.fromK = v, &row, keys
			} else {
				p.to, p.toP, p.toK = v, &row, keys
			}
			if pending[side] = append(pending[side], p); len(pending[side]) >= pvBatch {
				flush(side)
			}
		}
		return nil
	})
	if err == nil {
		flush(0)
		flush(1)
	}
	if werr := g.Wait(); err == nil {
		err = werr
	}
	if err != nil {
		if runengine.IsInput(err) {
			return nil, nil, err
		}
		return nil, nil, fmt.Errorf("read positions of task %d: %w", t.ID, err)
	}
	return pairs, order, nil
}

// version parses a stored position into its explain.Version. When the
// pair already holds the other run's version of the same position with the
// same product type, instrument, quantity and attributes (most positions,
// from one day to the next), its parsed position is shared instead of
// parsing the same document again.
func version(sp *store.Position, p *pair) (*explain.Version, error) {
	var qty *float64
	if sp.Quantity != nil {
		q := *sp.Quantity
		qty = &q
	}
	for _, other := range []struct {
		v  *explain.Version
		sp *store.Position
	}{{p.from, p.fromP}, {p.to, p.toP}} {
		if other.v != nil && other.sp.ProductType == sp.ProductType && other.sp.InstrumentID == sp.InstrumentID &&
			sameQuantity(other.v.Quantity, qty) && bytes.Equal(other.v.Attributes, sp.Attributes) {
			return &explain.Version{Position: other.v.Position, Quantity: qty, Attributes: other.v.Attributes}, nil
		}
	}
	in := pricing.PositionInput{PositionID: sp.PositionID, InstrumentID: sp.InstrumentID,
		ProductType: sp.ProductType, Attributes: sp.Attributes, Quantity: qty}
	pos, probs := pricing.ParsePosition(in)
	if len(probs) > 0 {
		return nil, &runengine.InputError{Err: fmt.Errorf("position %s: %s", sp.PositionID, probs[0].Error())}
	}
	return &explain.Version{Position: pos, Quantity: qty, Attributes: append([]byte(nil), sp.Attributes...)}, nil
}

// sameQuantity reports whether two stored quantities are the same (both
// absent, or equal).
func sameQuantity(a, b *float64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// pvKeys are the result keys of one side's versions of the pairs.
func (tv *TaskValuer) pvKeys(batch []*pair, isFrom bool) ([]store.PositionKey, map[store.PositionKey]*pair) {
	keys := make([]store.PositionKey, 0, len(batch))
	byKey := make(map[store.PositionKey]*pair, len(batch))
	for _, p := range batch {
		sp := p.toP
		if isFrom {
			sp = p.fromP
		}
		k := store.PositionKey{SnapshotID: sp.SnapshotID, PositionID: sp.PositionID}
		keys = append(keys, k)
		byKey[k] = p
	}
	return keys, byKey
}

// readSidePVs reads one run's stored BASE PVs of the keys into their
// pairs (fromPV or toPV: a goroutine writes only one side's fields).
func (tv *TaskValuer) readSidePVs(ctx context.Context, keys []store.PositionKey, byKey map[store.PositionKey]*pair, isFrom bool) error {
	s := &tv.to
	if isFrom {
		s = &tv.from
	}
	buf := make([]pricing.Values, len(s.run.Scenarios))
	err := tv.st.ResultValues(ctx, s.run.ID, keys, func(r *store.PositionResult) error {
		p := byKey[store.PositionKey{SnapshotID: r.PositionSnapshotID, PositionID: r.PositionID}]
		if p == nil {
			return nil
		}
		pv, err := s.basePV(r.Values, buf)
		if err != nil {
			return err
		}
		if isFrom {
			p.fromPV, p.fromR = pv, true
		} else {
			p.toPV, p.toR = pv, true
		}
		return nil
	})
	if err != nil {
		if runengine.IsInput(err) {
			return err
		}
		return fmt.Errorf("read results of run %s: %w", s.run.ID, err)
	}
	for _, k := range keys {
		p := byKey[k]
		if (isFrom && !p.fromR) || (!isFrom && !p.toR) {
			return &runengine.InputError{Err: fmt.Errorf("run %s has no result for position %s of snapshot %s", s.run.ID, k.PositionID, k.SnapshotID)}
		}
	}
	return nil
}
