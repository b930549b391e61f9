// Package runengine builds the pricing engine of a stored run from the
// store, exactly as its tasks are valued: its market snapshot, its
// measures and scenarios, the scenario sets its request names and its
// model set. The worker values tasks with it, and the results service
// projects a position's cashflow rows with it, so both see the same run.
package runengine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/pricing"
	"github.com/iprs/iprs/internal/store"
)

// InputError is a stored input of a run that is missing or cannot be used:
// trying again cannot help (a worker fails its task at once).
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

func inputErrorf(format string, args ...any) error {
	return &InputError{Err: fmt.Errorf(format, args...)}
}

// IsInput reports whether err is an InputError.
func IsInput(err error) bool {
	var ie *InputError
	return errors.As(err, &ie)
}

// Measures returns the run's measures as the engine's.
func Measures(run *store.Run) ([]pricing.Measure, error) {
	out := make([]pricing.Measure, 0, len(run.Measures))
	for _, name := range run.Measures {
		m, ok := pricing.ParseMeasure(name)
		if !ok {
			return nil, inputErrorf("run %s: unknown measure %q", run.ID, name)
		}
		out = append(out, m)
	}
	return out, nil
}

// Position parses a stored position for the engine, as every task prices
// it; the problems are why it cannot be priced. Its attributes, checked
// when they were uploaded, are split without checking their JSON syntax
// again (pricing.PositionInput.StoredAttributes); ReplayPosition checks
// everything.
func Position(p *store.Position) (*pricing.Position, []pricing.Problem) {
	in := input(p)
	in.StoredAttributes()
	return pricing.ParsePosition(in)
}

// ReplayPosition parses a stored position as Position does, checking its
// attributes' syntax too: a replay trusts nothing stored.
func ReplayPosition(p *store.Position) (*pricing.Position, []pricing.Problem) {
	return pricing.ParsePosition(input(p))
}

func input(p *store.Position) pricing.PositionInput {
	in := pricing.PositionInput{
		PositionID:   p.PositionID,
		InstrumentID: p.InstrumentID,
		ProductType:  p.ProductType,
		Attributes:   p.Attributes,
	}
	if p.Quantity != nil {
		q := *p.Quantity
		in.Quantity = &q
	}
	return in
}

// Build returns the run's engine. Database failures are returned as they
// are; anything missing or unusable is an *InputError.
func Build(ctx context.Context, st store.Store, run *store.Run) (*pricing.Engine, error) {
	snap, err := st.MarketSnapshotGet(ctx, run.MarketSnapshotID)
	if errors.Is(err, apperr.ErrNotFound) {
		return nil, inputErrorf("market snapshot %s of run %s does not exist", run.MarketSnapshotID, run.ID)
	}
	if err != nil {
		return nil, fmt.Errorf("get market snapshot %s: %w", run.MarketSnapshotID, err)
	}
	market, err := pricing.LoadMarket(snap.Payload)
	if err != nil {
		return nil, inputErrorf("market snapshot %s cannot be used: %w", snap.ID, err)
	}
	measures, err := Measures(run)
	if err != nil {
		return nil, err
	}
	opts, err := Options(ctx, st, run)
	if err != nil {
		return nil, err
	}
	engine, err := pricing.NewEngine(market, run.Scenarios, measures, run.AsOfTime, opts...)
	if err != nil {
		return nil, inputErrorf("run %s: %w", run.ID, err)
	}
	return engine, nil
}

// Options returns the engine options of the run beyond its market: its
// scenario sets and its model set.
func Options(ctx context.Context, st store.Store, run *store.Run) ([]pricing.EngineOption, error) {
	ids, err := run.ScenarioSetIDs()
	if err != nil {
		return nil, &InputError{Err: err}
	}
	var sets []*pricing.ScenarioSet
	for _, id := range ids {
		set, err := LoadScenarioSet(ctx, st, id)
		if errors.Is(err, apperr.ErrNotFound) {
			return nil, inputErrorf("scenario set %s of run %s does not exist", id, run.ID)
		}
		if err != nil {
			return nil, err
		}
		sets = append(sets, set)
	}
	var opts []pricing.EngineOption
	if len(sets) > 0 {
		opts = append(opts, pricing.WithScenarioSets(sets...))
	}
	if run.ModelSetID != "" {
		ms, err := LoadModelSet(ctx, st, run.ModelSetID)
		if errors.Is(err, apperr.ErrNotFound) {
			return nil, inputErrorf("model set %s of run %s does not exist", run.ModelSetID, run.ID)
		}
		if err != nil {
			return nil, err
		}
		opts = append(opts, pricing.WithModelSet(ms))
	}
	return opts, nil
}

// LoadScenarioSet reads a stored scenario set (ErrNotFound when there is
// none; an *InputError when its stored document no longer decodes).
func LoadScenarioSet(ctx context.Context, st store.Store, id string) (*pricing.ScenarioSet, error) {
	stored, err := st.SetGet(ctx, store.SetKindScenario, id)
	if err != nil {
		return nil, err
	}
	set, err := pricing.DecodeScenarioSet(stored.Payload)
	if err != nil {
		return nil, inputErrorf("scenario set %s as stored: %w", id, err)
	}
	return set, nil
}

// LoadModelSet reads a stored model set (ErrNotFound when there is none;
// an *InputError when its stored document no longer parses).
func LoadModelSet(ctx context.Context, st store.Store, id string) (*pricing.ModelSet, error) {
	stored, err := st.SetGet(ctx, store.SetKindModel, id)
	if err != nil {
		return nil, err
	}
	ms, probs := pricing.ParseModelSet(stored.Payload)
	if len(probs) > 0 {
		return nil, inputErrorf("model set %s as stored: %s: %s", id, probs[0].Pointer, probs[0].Detail)
	}
	return ms, nil
}

// MaxAggregateAttrs bounds the attributes a run's tasks aggregate by.
const MaxAggregateAttrs = 8

// AggregateAttrs returns the attributes a run's request declares for its
// tasks to aggregate by (execution.aggregate_attrs), and whether it
// declares them at all: a run that does not leaves the choice to the
// workers' configuration.
func AggregateAttrs(run *store.Run) (attrs []string, declared bool, err error) {
	if len(run.Request) == 0 {
		return nil, false, nil
	}
	var req struct {
		Execution struct {
			AggregateAttrs *[]string `json:"aggregate_attrs"`
		} `json:"execution"`
	}
	if err := json.Unmarshal(run.Request, &req); err != nil {
		return nil, false, inputErrorf("run %s: request: %v", run.ID, err)
	}
	p := req.Execution.AggregateAttrs
	if p == nil {
		return nil, false, nil
	}
	if len(*p) > MaxAggregateAttrs {
		return nil, false, inputErrorf("run %s: %d aggregate_attrs, at most %d", run.ID, len(*p), MaxAggregateAttrs)
	}
	for _, name := range *p {
		if !store.ValidAttrName(name) {
			return nil, false, inputErrorf("run %s: aggregate_attrs: %q is not an attribute name", run.ID, name)
		}
	}
	return *p, true, nil
}

// TaskAttrs is what a run's tasks aggregate by: the attributes its
// request declares, or else defaults (the workers' configuration).
func TaskAttrs(run *store.Run, defaults []string) ([]string, error) {
	attrs, declared, err := AggregateAttrs(run)
	if err != nil || declared {
		return attrs, err
	}
	return defaults, nil
}
