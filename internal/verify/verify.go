// Package verify replays a valuation (SPEC §5 "Replay"): it re-prices every
// position of a finished run from the run's stored inputs and compares the
// outcome with the stored results, bit for bit.
//
// A replay is a run of kind store.KindVerify whose id names the run it
// verifies, ID(runID, n) = "<run_id>~VERIFY-<n>" for its n-th replay ("~"
// is not allowed in client ids, so no run can take such an id). It has the
// verified run's market snapshot, position snapshots, measures, scenarios,
// request (so its scenario and model sets), hash_mod and tasks (the same
// product type and bucket partition), and goes through the task queue like
// any run. A worker values its tasks with a Valuer: it builds the verified
// run's engine with package runengine, exactly as the verified run's tasks
// were priced, prices each position of the task under every scenario,
// encodes the values with package resultcodec and compares the bytes with
// the verified run's stored row of the position. The encoding is canonical
// (equal values have equal bytes, NaN payloads and the sign of zero
// included), so equal bytes are equal numbers. The task's result rows are
// the positions that differ, with their recomputed values; a position
// without a stored row differs too. A replay that completes without rows
// found every position equal.
//
// Diff explains one differing position: which scenario and measure differ,
// with the stored and the recomputed value.
package verify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/pricing"
	"github.com/iprs/iprs/internal/resultcodec"
	"github.com/iprs/iprs/internal/runengine"
	"github.com/iprs/iprs/internal/store"
)

// idSep separates the verified run's id from the replay's number.
const idSep = "~VERIFY-"

// ID is the id of the n-th replay (n ≥ 1) of run runID.
func ID(runID string, n int) string { return runID + idSep + strconv.Itoa(n) }

// Target returns the id of the run a replay id verifies and the replay's
// number; ok is false when id is not a replay's.
func Target(id string) (runID string, n int, ok bool) {
	i := strings.LastIndex(id, idSep)
	if i <= 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(id[i+len(idSep):])
	if err != nil || n < 1 || ID(id[:i], n) != id {
		return "", 0, false
	}
	return id[:i], n, true
}

// Valuer values the tasks of one replay.
type Valuer struct {
	st        store.Store
	replay    *store.Run
	target    *store.Run
	engine    *pricing.Engine
	scenarios int
}

// Build returns the Valuer of the replay run (a worker's ValuerBuilder for
// store.KindVerify). A replay whose verified run no longer exists, or was
// replaced by another run under its id, or whose inputs no longer build an
// engine, is a runengine.InputError: no retry can help.
func Build(ctx context.Context, st store.Store, replay *store.Run) (*Valuer, error) {
	targetID, _, ok := Target(replay.ID)
	if !ok {
		return nil, &runengine.InputError{Err: fmt.Errorf("run %s is not a replay: its id does not name a verified run", replay.ID)}
	}
	target, err := st.RunGet(ctx, targetID)
	if errors.Is(err, apperr.ErrNotFound) {
		return nil, &runengine.InputError{Err: fmt.Errorf("replay %s: the verified run %s no longer exists", replay.ID, targetID)}
	}
	if err != nil {
		return nil, fmt.Errorf("replay %s: get run %s: %w", replay.ID, targetID, err)
	}
	if store.KindOf(target) != store.KindValuation || target.RequestedAt.After(replay.RequestedAt) || target.HashMod != replay.HashMod {
		return nil, &runengine.InputError{Err: fmt.Errorf("replay %s: run %s is not the run it was made to verify (deleted and replaced since)", replay.ID, targetID)}
	}
	engine, err := runengine.Build(ctx, st, target)
	if err != nil {
		return nil, fmt.Errorf("replay %s: %w", replay.ID, err)
	}
	return &Valuer{st: st, replay: replay, target: target, engine: engine, scenarios: len(engine.Scenarios())}, nil
}

// parsed is a position of a task, parsed for the engine.
type parsed struct {
	row store.PositionResult // identity only
	pos *pricing.Position
}

// ValueTask re-prices the task's positions and returns a row, with the
// recomputed values, for each position whose stored row of the verified
// run differs or is missing. A position that no longer parses or prices,
// or a task whose positions are not those counted when it was made, is an
// InputError.
func (v *Valuer) ValueTask(ctx context.Context, t *store.Task) ([]*store.PositionResult, []store.TaskAggregate, error) {
	list := make([]parsed, 0, int(max(t.PositionCount, 0)))
	var bad error
	err := v.st.TaskPositions(ctx, t, func(p *store.Position) error {
		pos, probs := runengine.ReplayPosition(p)
		if len(probs) > 0 {
			bad = &runengine.InputError{Err: fmt.Errorf("position %s no longer parses: %s", p.PositionID, probs[0].Error())}
			return bad
		}
		list = append(list, parsed{pos: pos, row: store.PositionResult{RunID: t.RunID, PositionSnapshotID: p.SnapshotID,
			PositionID: p.PositionID, InstrumentID: p.InstrumentID, ProductType: p.ProductType,
			PortfolioNodeID: p.PortfolioNodeID, TaskID: t.ID}})
		return nil
	})
	if bad != nil {
		return nil, nil, bad
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read positions of task %d: %w", t.ID, err)
	}
	if int64(len(list)) != t.PositionCount {
		return nil, nil, &runengine.InputError{Err: fmt.Errorf("task %d holds %d positions, %d when run %s was valued", t.ID, len(list), t.PositionCount, v.target.ID)}
	}
	keys := make([]store.PositionKey, len(list))
	for i := range list {
		keys[i] = store.PositionKey{SnapshotID: list[i].row.PositionSnapshotID, PositionID: list[i].row.PositionID}
	}
	// The stored rows are read while the positions are priced: one waits
	// on the database, the other on the CPU.
	type read struct {
		vals map[store.PositionKey][]byte
		err  error
	}
	stored := make(chan read, 1)
	go func() {
		vals := make(map[store.PositionKey][]byte, len(keys))
		err := v.st.ResultValues(ctx, v.target.ID, keys, func(r *store.PositionResult) error {
			vals[store.PositionKey{SnapshotID: r.PositionSnapshotID, PositionID: r.PositionID}] = bytes.Clone(r.Values)
			return nil
		})
		stored <- read{vals, err}
	}()
	recomputed := make([][]byte, len(list))
	vals := make([]pricing.Values, v.scenarios)
	var priceErr error
	for i := range list {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				priceErr = fmt.Errorf("replaying task %d: %w", t.ID, context.Cause(ctx))
				break
			}
		}
		p := &list[i]
		for si := range vals {
			if err := v.engine.Price(p.pos, si, &vals[si]); err != nil {
				priceErr = &runengine.InputError{Err: fmt.Errorf("position %s no longer prices: %w", p.row.PositionID, err)}
				break
			}
		}
		if priceErr != nil {
			break
		}
		recomputed[i] = resultcodec.Append(nil, vals)
	}
	got := <-stored
	if priceErr != nil {
		return nil, nil, priceErr
	}
	if got.err != nil {
		return nil, nil, fmt.Errorf("read the stored results of task %d: %w", t.ID, got.err)
	}
	var out []*store.PositionResult
	for i := range list {
		if b, ok := got.vals[keys[i]]; ok && bytes.Equal(b, recomputed[i]) {
			continue
		}
		row := list[i].row
		row.Values = recomputed[i]
		out = append(out, &row)
	}
	return out, nil, nil
}
