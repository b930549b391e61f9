package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/bits"
	"sort"
	"strings"
	"time"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/auth"
	"github.com/iprs/iprs/internal/marketdata"
	"github.com/iprs/iprs/internal/pricing"
	"github.com/iprs/iprs/internal/runengine"
	"github.com/iprs/iprs/internal/store"
)

// DefaultHashMod is the hash_mod the server picks for a run of total
// positions when the request gives none: the next power of two at or above
// ceil(total/taskSize), clamped to [1, MaxDefaultHashMod]. Tasks then hold
// about taskSize positions of one product type each (fewer when a type has
// few positions); a power of two keeps bucket counts comparable between
// runs of similar size.
func DefaultHashMod(total int64, taskSize int) int {
	if taskSize <= 0 {
		taskSize = DefaultTaskSize
	}
	if total <= int64(taskSize) {
		return 1
	}
	need := (total + int64(taskSize) - 1) / int64(taskSize)
	if need >= MaxDefaultHashMod {
		return MaxDefaultHashMod
	}
	return 1 << bits.Len64(uint64(need-1))
}

// fanOut makes one QUEUED task per non-empty (product type, bucket).
func fanOut(runID string, buckets []store.BucketCount, hashMod, maxAttempts int, now time.Time) []*store.Task {
	tasks := make([]*store.Task, 0, len(buckets))
	for _, b := range buckets {
		if b.Count == 0 {
			continue
		}
		tasks = append(tasks, &store.Task{
			RunID:         runID,
			ProductType:   b.ProductType,
			Bucket:        b.Bucket,
			HashMod:       hashMod,
			Status:        store.TaskQueued,
			MaxAttempts:   maxAttempts,
			PositionCount: b.Count,
			AvailableAt:   now,
		})
	}
	return tasks
}

// createRun checks a normalized run request, fans it out and stores the
// run with its tasks. It returns the stored run and whether it was created
// now (false: the same request was submitted before under the same id).
func (s *Service) createRun(ctx context.Context, req *RunRequest) (*store.Run, bool, error) {
	canonical, requestHash, err := req.Canonical()
	if err != nil {
		return nil, false, err
	}
	runID := req.runID
	if runID == "" {
		runID = newID("RUN-", s.now())
	} else if existing, err := s.store.RunGet(ctx, runID); err == nil {
		// A replay: answer without checking or scanning anything again.
		if existing.RequestHash != requestHash {
			return nil, false, runConflict(existing)
		}
		return existing, false, nil
	} else if !errors.Is(err, apperr.ErrNotFound) {
		return nil, false, fmt.Errorf("look up run %s: %w", runID, err)
	}

	res, err := s.preRunCheck(ctx, req)
	if err != nil {
		if apperr.CodeOf(err) == apperr.Unprocessable {
			s.metrics.checkFailures.Inc()
		}
		return nil, false, err
	}
	hashMod := DefaultHashMod(res.total, s.opts.TaskSize)
	if req.Execution.HashMod != nil {
		hashMod = *req.Execution.HashMod
	}
	buckets, err := s.store.PositionBuckets(ctx, res.snapshotIDs, hashMod)
	if err != nil {
		return nil, false, fmt.Errorf("count positions by bucket for run %s: %w", runID, err)
	}
	var bucketed int64
	for _, b := range buckets {
		bucketed += b.Count
	}
	if bucketed != res.total {
		return nil, false, fmt.Errorf("run %s: the snapshots count %d positions but their buckets hold %d", runID, res.total, bucketed)
	}
	now := s.now()
	var nodeIDs []string
	if req.PortfolioScope != nil {
		nodeIDs = req.PortfolioScope.NodeIDs
	}
	run := &store.Run{
		ID:                  runID,
		RunType:             req.RunType,
		Status:              store.RunQueued,
		AsOfTime:            req.asOf,
		MarketSnapshotID:    req.MarketSnapshotID,
		PositionSnapshotIDs: res.snapshotIDs,
		PortfolioNodeIDs:    nodeIDs,
		ModelSetID:          req.ModelSetID,
		Measures:            req.Measures,
		Scenarios:           res.scenarios,
		HashMod:             hashMod,
		MaxAttempts:         req.Execution.MaxAttempts,
		SubmittedBy:         auth.NameOf(ctx),
		RequestHash:         requestHash,
		Request:             canonical,
		EngineVersion:       s.opts.EngineVersion,
		PositionsTotal:      res.total,
		RequestedAt:         now,
	}
	tasks := fanOut(runID, buckets, hashMod, req.Execution.MaxAttempts, now)
	stored, created, err := s.store.RunCreate(ctx, run, tasks)
	if err != nil {
		if apperr.CodeOf(err) == apperr.Conflict {
			return nil, false, err
		}
		return nil, false, fmt.Errorf("create run %s: %w", runID, err)
	}
	if created {
		s.metrics.runsCreated.WithLabelValues(run.RunType).Inc()
		s.log(ctx).LogAttrs(ctx, slog.LevelInfo, "run created",
			slog.String("run_id", runID), slog.String("run_type", run.RunType),
			slog.Int64("positions", res.total), slog.Int("tasks", len(tasks)), slog.Int("hash_mod", hashMod))
	}
	return stored, created, nil
}

func runConflict(existing *store.Run) error {
	if kind := store.KindOf(existing); kind != store.KindValuation {
		return apperr.Errorf(apperr.Conflict, "id %s is taken by a run of kind %s; choose another run_id", existing.ID, kind)
	}
	return apperr.Errorf(apperr.Conflict,
		"run %s already exists for another request (request_hash %s); a run id names one request", existing.ID, existing.RequestHash)
}

// checked is what a passed pre-run check resolved.
type checked struct {
	snapshotIDs []string // sorted
	total       int64
	// scenarios are the run's scenario ids: built-in ones and those of its
	// scenario sets, in request order.
	scenarios []string
}

// preRunCheck checks everything a run needs before anything is queued and
// reports every problem in one apperr.Unprocessable: the market snapshot
// exists, is not FAIL and can be priced with; the position snapshots exist
// (each portfolio_scope node has one at or before the run's as-of time);
// every measure and scenario is known; every curve and FX pair the
// positions need is in the market; and no position has a problem against
// that market and as-of date (pricing.Engine.Check).
func (s *Service) preRunCheck(ctx context.Context, req *RunRequest) (*checked, error) {
	probs := newProblems(s.opts.MaxProblems)

	market, err := s.checkMarket(ctx, req.MarketSnapshotID, probs)
	if err != nil {
		return nil, err
	}

	measures := make([]pricing.Measure, 0, len(req.Measures))
	for i, name := range req.Measures {
		m, ok := pricing.ParseMeasure(name)
		if !ok {
			probs.addf(req.pointer.measures[i], "unknown measure %q (known: %s)", name, strings.Join(measureNames(), ", "))
			continue
		}
		measures = append(measures, m)
	}
	scenarios, err := s.checkScenarios(ctx, req, market, probs)
	if err != nil {
		return nil, err
	}
	modelSet, err := s.checkModelSet(ctx, req, probs)
	if err != nil {
		return nil, err
	}

	snaps, pointers, err := s.resolveSnapshots(ctx, req, probs)
	if err != nil {
		return nil, err
	}
	res := &checked{scenarios: scenarios}
	for _, sn := range snaps {
		res.snapshotIDs = append(res.snapshotIDs, sn.ID)
		res.total += sn.PositionCount
	}
	sort.Strings(res.snapshotIDs)
	if len(snaps) > 0 && res.total == 0 {
		ptr := "/position_snapshot_id"
		if req.PortfolioScope != nil {
			ptr = "/portfolio_scope"
		}
		probs.add(ptr, "the run would value no positions: its position snapshots are empty")
	}

	if market != nil && len(snaps) > 0 && res.total > 0 && !s.summariesClear(snaps, market, req.asOf) {
		if len(measures) == 0 {
			measures = []pricing.Measure{pricing.PV}
		}
		// The checks read the base market only: one scenario will do.
		// With the model set, each loan's rule is resolved once here.
		var opts []pricing.EngineOption
		if modelSet != nil {
			opts = append(opts, pricing.WithModelSet(modelSet))
		}
		eng, err := pricing.NewEngine(market, pricing.ScenarioIDs()[:1], measures, req.asOf, opts...)
		if err != nil {
			return nil, fmt.Errorf("build pricing engine for the pre-run check: %w", err)
		}
		if err := s.checkPositions(ctx, eng, res.snapshotIDs, pointers, probs); err != nil {
			return nil, err
		}
	}
	if n := probs.count(); n > 0 {
		s.metrics.checkProblems.Add(float64(n))
		return nil, probs.err(apperr.Unprocessable, "the run cannot be started")
	}
	return res, nil
}

// checkScenarios resolves the request's scenarios into the run's scenario
// ids: a built-in id stands for itself, a scenario set for its scenarios
// (SPEC §4.3). A set that does not exist, a curve or FX pair a set needs
// that the market lacks (or a pattern matching nothing), and a scenario id
// that two items bring in are problems; the ids come in request order.
func (s *Service) checkScenarios(ctx context.Context, req *RunRequest, market *pricing.Market, probs *problems) ([]string, error) {
	ids := make([]string, 0, len(req.Scenarios))
	from := make(map[string]string, len(req.Scenarios))
	add := func(id, ptr string) {
		if prev, dup := from[id]; dup {
			probs.addf(ptr, "scenario %q is in the run twice (also from %s): scenario ids must be unique in a run", id, prev)
			return
		}
		from[id] = ptr
		ids = append(ids, id)
	}
	for i, it := range req.Scenarios {
		ptr := req.pointer.scenarios[i]
		if !it.Set {
			if !pricing.IsScenario(it.ID) {
				probs.addf(ptr, "unknown scenario %q (built-in: %s; a scenario set is named as {\"scenario_set_id\": …})", it.ID, strings.Join(pricing.ScenarioIDs(), ", "))
				continue
			}
			add(it.ID, ptr)
			continue
		}
		set, err := runengine.LoadScenarioSet(ctx, s.store, it.ID)
		if errors.Is(err, apperr.ErrNotFound) {
			probs.addf(ptr+"/scenario_set_id", "scenario set %s does not exist", it.ID)
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, id := range set.ScenarioIDs() {
			add(id, ptr+"/scenario_set_id")
		}
		if market != nil {
			for _, p := range set.Requirements(market) {
				probs.addf(ptr+"/scenario_set_id", "scenario set %s at %s: %s", it.ID, p.Pointer, p.Detail)
			}
		}
	}
	return ids, nil
}

// checkModelSet loads the run's model set, if it names one: one that does
// not exist is a problem (422).
func (s *Service) checkModelSet(ctx context.Context, req *RunRequest, probs *problems) (*pricing.ModelSet, error) {
	if req.ModelSetID == "" {
		return nil, nil
	}
	ms, err := runengine.LoadModelSet(ctx, s.store, req.ModelSetID)
	if errors.Is(err, apperr.ErrNotFound) {
		probs.addf("/model_set_id", "model set %s does not exist (POST it to /mkt/model-sets first)", req.ModelSetID)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load model set %s: %w", req.ModelSetID, err)
	}
	return ms, nil
}

// checkMarket loads the market snapshot; problems with it are recorded and
// leave the market nil.
func (s *Service) checkMarket(ctx context.Context, id string, probs *problems) (*pricing.Market, error) {
	const ptr = "/market_snapshot_id"
	ms, err := s.store.MarketSnapshotGet(ctx, id)
	if errors.Is(err, apperr.ErrNotFound) {
		probs.addf(ptr, "market snapshot %s does not exist", id)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load market snapshot %s: %w", id, err)
	}
	if ms.DQStatus == "FAIL" {
		probs.addf(ptr, "market snapshot %s failed its data-quality checks (dq_status FAIL); a run may not use it", id)
	}
	data, err := marketdata.LoadMarketData(ms.Payload)
	if err != nil {
		probs.addf(ptr, "market snapshot %s cannot be read for pricing: %v", id, err)
		return nil, nil
	}
	market, err := pricing.NewMarket(data)
	if err != nil {
		if ms.DQStatus != "FAIL" {
			probs.addf(ptr, "market snapshot %s cannot be used for pricing: %v", id, err)
		}
		return nil, nil
	}
	return market, nil
}

// resolveSnapshots finds the run's position snapshots. pointers maps each
// snapshot id to the request member that brought it in.
func (s *Service) resolveSnapshots(ctx context.Context, req *RunRequest, probs *problems) ([]*store.PositionSnapshot, map[string]string, error) {
	pointers := make(map[string]string)
	var out []*store.PositionSnapshot
	if req.PositionSnapshotID != nil {
		id := *req.PositionSnapshotID
		sn, err := s.store.PositionSnapshotGet(ctx, id)
		if errors.Is(err, apperr.ErrNotFound) {
			probs.addf("/position_snapshot_id", "position snapshot %s does not exist", id)
			return nil, pointers, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("load position snapshot %s: %w", id, err)
		}
		pointers[sn.ID] = "/position_snapshot_id"
		return []*store.PositionSnapshot{sn}, pointers, nil
	}
	for i, node := range req.PortfolioScope.NodeIDs {
		ptr := req.pointer.nodes[i]
		sn, err := s.store.PositionSnapshotLatest(ctx, node, req.asOf)
		if errors.Is(err, apperr.ErrNotFound) {
			probs.addf(ptr, "portfolio node %s has no position snapshot with as_of_time at or before %s", node, req.AsOfTime)
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("find the latest position snapshot of node %s: %w", node, err)
		}
		if _, dup := pointers[sn.ID]; dup {
			continue
		}
		pointers[sn.ID] = ptr
		out = append(out, sn)
	}
	return out, pointers, nil
}

// isMissingMarketData reports whether a problem of Engine.Check is about a
// curve or FX spot absent from the market, which checkPositions reports
// once per curve or pair instead of once per position.
func isMissingMarketData(p pricing.Problem) bool { return p.Missing != "" }

// positionDetail names the position snapshot, the position and the place
// in the position of a problem.
func positionDetail(p *store.Position, pr pricing.Problem) string {
	where := ""
	if pr.Pointer != "" {
		where = " at " + pr.Pointer
	}
	return fmt.Sprintf("position snapshot %s, position %s%s: %s", p.SnapshotID, p.PositionID, where, pr.Detail)
}

func measureNames() []string {
	all := pricing.Measures()
	out := make([]string, len(all))
	for i, m := range all {
		out[i] = m.String()
	}
	return out
}
