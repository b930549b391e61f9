package orchestrator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/audit"
	"github.com/iprs/iprs/internal/auth"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/verify"
	"github.com/iprs/iprs/internal/web"
)

// MaxListedMismatches bounds the mismatches a replay's answer lists;
// mismatch_count counts them all.
const MaxListedMismatches = 1000

// verdictBatch is the number of differing positions whose stored rows are
// read at a time when a verdict is made.
const verdictBatch = 1000

// VerifyView is the answer about the latest replay of a run (SPEC §5
// "Replay"). Verified, PositionsChecked, Mismatches and
// PublishHashMatches are the verdict: Verified is null while the replay
// is open, true when it completed with no mismatch and a publish hash that
// matches (or none to match), false otherwise (a replay that failed
// verified nothing).
type VerifyView struct {
	RunID       string       `json:"run_id"`
	VerifyID    string       `json:"verify_id"`
	Status      string       `json:"status"`
	RequestedAt string       `json:"requested_at"`
	CompletedAt *string      `json:"completed_at"`
	RequestedBy string       `json:"requested_by,omitempty"`
	Progress    ProgressView `json:"progress"`
	Error       *string      `json:"error"`
	// EngineVersions are the builds of the workers that re-priced.
	EngineVersions []string `json:"engine_versions"`
	verdictView
}

// verdictView is the part of a VerifyView that a finished replay settles.
type verdictView struct {
	Verified           *bool             `json:"verified"`
	PositionsChecked   int64             `json:"positions_checked"`
	MismatchCount      int64             `json:"mismatch_count"`
	Mismatches         []verify.Mismatch `json:"mismatches"`
	PublishHashMatches *bool             `json:"publish_hash_matches"`
}

// verifyLocation is where a run's latest replay is read.
func verifyLocation(runID string) string { return "/orch/runs/" + runID + "/verify" }

// handleCreateVerify serves POST /orch/runs/{id}/verify: 202 with the
// replay it starts, or with the one still open; 409 for a run that is not
// COMPLETED or PUBLISHED.
func (s *Service) handleCreateVerify(w http.ResponseWriter, r *http.Request) error {
	if _, err := web.Query(r); err != nil {
		return err
	}
	if err := refuseMembers(r); err != nil {
		return err
	}
	id := r.PathValue("id")
	target, latest, next, err := s.replays(r)
	if err != nil {
		return err
	}
	if target.Status != store.RunCompleted && target.Status != store.RunPublished {
		return apperr.Errorf(apperr.Conflict, "run %s is %s; only a COMPLETED or PUBLISHED run can be verified", id, target.Status)
	}
	replay := latest
	if latest == nil || finished(latest.Status) {
		if replay, err = s.createVerify(audit.For(r, audit.RunVerify, id), target, next); err != nil {
			return err
		}
	}
	w.Header().Set("Location", verifyLocation(id))
	return s.writeVerify(w, r, http.StatusAccepted, target, replay)
}

// handleGetVerify serves GET /orch/runs/{id}/verify: the latest replay of
// the run, its progress while open and its verdict once finished.
func (s *Service) handleGetVerify(w http.ResponseWriter, r *http.Request) error {
	if _, err := web.Query(r); err != nil {
		return err
	}
	id := r.PathValue("id")
	target, latest, _, err := s.replays(r)
	if err != nil {
		return err
	}
	if latest == nil {
		return apperr.Errorf(apperr.NotFound, "run %s has not been verified: POST %s to verify it", id, verifyLocation(id))
	}
	return s.writeVerify(w, r, http.StatusOK, target, latest)
}

// handleCancelVerify serves POST /orch/runs/{id}/verify/cancel: 202 with
// the latest replay of the run, cancelling or cancelled (cancelling again
// is harmless); 409 when it has completed or failed, 404 for a run never
// verified. Like a run's
// cancel, tasks being valued finish or are dropped at their next renewal,
// and the replay's answer is then verified false.
func (s *Service) handleCancelVerify(w http.ResponseWriter, r *http.Request) error {
	if _, err := web.Query(r); err != nil {
		return err
	}
	if err := refuseMembers(r); err != nil {
		return err
	}
	id := r.PathValue("id")
	target, latest, _, err := s.replays(r)
	if err != nil {
		return err
	}
	if latest == nil {
		return apperr.Errorf(apperr.NotFound, "run %s has not been verified: there is no replay to cancel", id)
	}
	if finished(latest.Status) && latest.Status != store.RunCancelled {
		return apperr.Errorf(apperr.Conflict, "replay %s of run %s is %s; only a QUEUED or RUNNING replay can be cancelled", latest.ID, id, latest.Status)
	}
	replay, err := s.store.RunCancel(audit.For(r, audit.RunCancel, latest.ID), latest.ID)
	if err != nil {
		if apperr.CodeOf(err) == apperr.Conflict {
			return err
		}
		return notFoundOr(err, "replay", latest.ID)
	}
	s.log(r.Context()).InfoContext(r.Context(), "replay cancel requested", "run_id", id, "verify_id", replay.ID, "status", replay.Status)
	return s.writeVerify(w, r, http.StatusAccepted, target, replay)
}

// replays loads the valuation the path names (404 when there is none),
// its latest replay (nil when there is none) and the number the next one
// takes.
func (s *Service) replays(r *http.Request) (target, latest *store.Run, next int, err error) {
	id := r.PathValue("id")
	target, err = store.RunOfKind(r.Context(), s.store, id, store.KindValuation)
	if err != nil {
		return nil, nil, 0, notFoundOr(err, "run", id)
	}
	latest, next, err = s.latestVerify(r.Context(), target)
	return target, latest, next, err
}

// finished reports whether a run in status has ended.
func finished(status string) bool {
	switch status {
	case store.RunCompleted, store.RunFailed, store.RunCancelled, store.RunPublished:
		return true
	}
	return false
}

// latestVerify finds the latest replay of target, nil when there is none,
// and the number the next one takes. The replays of a run are numbered
// from 1 without gaps; one requested before target was (made for an
// earlier run under the same id, deleted since) is not target's.
func (s *Service) latestVerify(ctx context.Context, target *store.Run) (latest *store.Run, next int, err error) {
	for n := 1; ; n++ {
		r, err := s.store.RunGet(ctx, verify.ID(target.ID, n))
		if errors.Is(err, apperr.ErrNotFound) {
			return latest, n, nil
		}
		if err != nil {
			return nil, 0, fmt.Errorf("look up replay %d of run %s: %w", n, target.ID, err)
		}
		if store.KindOf(r) == store.KindVerify && !r.RequestedAt.Before(target.RequestedAt) {
			latest = r
		}
	}
}

// deleteReplays removes the finished replays of a run that was just
// deleted, with their rows; one still open is left (it fails, its run
// gone). It is done after the run's deletion and may stop half-way (its
// failures are logged): a replay left behind is harmless, since a run
// later created under the same id never takes for its own a replay
// requested before it (latestVerify, verify.Build).
func (s *Service) deleteReplays(ctx context.Context, runID string) {
	for n := 1; ; n++ {
		id := verify.ID(runID, n)
		r, err := s.store.RunGet(ctx, id)
		if errors.Is(err, apperr.ErrNotFound) {
			return
		}
		if err == nil && store.KindOf(r) == store.KindVerify && store.RunDeletable(r.Status) {
			err = s.store.RunDelete(ctx, id)
		}
		if err != nil {
			s.log(ctx).WarnContext(ctx, "replay of a deleted run left behind", "run_id", runID, "verify_id", id, "error", err.Error())
		}
	}
}

// createVerify stores replay n of target: a run of kind VERIFY with the
// inputs and the task partition of target. Two requests that race for the
// same n make one replay (RunCreate's idempotency on the request hash).
func (s *Service) createVerify(ctx context.Context, target *store.Run, n int) (*store.Run, error) {
	tasks, err := s.store.RunTasks(ctx, target.ID)
	if err != nil {
		return nil, fmt.Errorf("tasks of run %s: %w", target.ID, err)
	}
	now := s.now()
	id := verify.ID(target.ID, n)
	replay := &store.Run{
		ID:                  id,
		Kind:                store.KindVerify,
		RunType:             target.RunType,
		Status:              store.RunQueued,
		AsOfTime:            target.AsOfTime,
		MarketSnapshotID:    target.MarketSnapshotID,
		PositionSnapshotIDs: target.PositionSnapshotIDs,
		PortfolioNodeIDs:    target.PortfolioNodeIDs,
		ModelSetID:          target.ModelSetID,
		Measures:            target.Measures,
		Scenarios:           target.Scenarios,
		HashMod:             target.HashMod,
		MaxAttempts:         target.MaxAttempts,
		RequestHash:         target.RequestHash,
		Request:             target.Request,
		EngineVersion:       s.opts.EngineVersion,
		PositionsTotal:      target.PositionsTotal,
		RequestedAt:         now,
		SubmittedBy:         auth.NameOf(ctx),
	}
	copies := make([]*store.Task, len(tasks))
	for i, t := range tasks {
		copies[i] = &store.Task{RunID: id, ProductType: t.ProductType, Bucket: t.Bucket, HashMod: t.HashMod,
			Status: store.TaskQueued, MaxAttempts: t.MaxAttempts, PositionCount: t.PositionCount, AvailableAt: now}
	}
	stored, created, err := s.store.RunCreate(ctx, replay, copies)
	if err != nil {
		if apperr.CodeOf(err) == apperr.Conflict {
			return nil, err
		}
		return nil, fmt.Errorf("create replay %s: %w", id, err)
	}
	if created {
		s.log(ctx).InfoContext(ctx, "replay created", "run_id", target.ID, "verify_id", id, "tasks", len(copies))
	}
	return stored, nil
}

// writeVerify answers the replay of target with its progress and, once
// finished, its verdict.
func (s *Service) writeVerify(w http.ResponseWriter, r *http.Request, status int, target, replay *store.Run) error {
	ctx := r.Context()
	prog, err := s.store.RunProgress(ctx, replay.ID)
	if err != nil {
		return fmt.Errorf("progress of replay %s: %w", replay.ID, err)
	}
	versions, err := s.store.RunEngineVersions(ctx, replay.ID)
	if err != nil {
		return fmt.Errorf("engine versions of replay %s: %w", replay.ID, err)
	}
	rv := runView(replay, prog)
	v := VerifyView{
		RunID:          target.ID,
		VerifyID:       replay.ID,
		Status:         replay.Status,
		RequestedAt:    rv.RequestedAt,
		CompletedAt:    rv.CompletedAt,
		RequestedBy:    replay.SubmittedBy,
		Progress:       rv.Progress,
		Error:          rv.Error,
		EngineVersions: nonNil(versions),
		verdictView:    verdictView{PositionsChecked: prog.PositionsDone, Mismatches: []verify.Mismatch{}},
	}
	switch replay.Status {
	case store.RunCompleted:
		vd, err := s.verdict(ctx, target, replay)
		if err != nil {
			return err
		}
		vd.PositionsChecked = prog.PositionsDone
		v.verdictView = *vd
	case store.RunFailed, store.RunCancelled:
		no := false
		v.Verified = &no
	default:
		w.Header().Set("Retry-After", "1")
	}
	return web.WriteJSON(w, status, v)
}

// verdict is the verdict of a completed replay: made once per status of
// the verified run (its publish hash is checked once it is PUBLISHED) and
// kept with the replay, whose rows never change.
func (s *Service) verdict(ctx context.Context, target, replay *store.Run) (*verdictView, error) {
	name := "verify-verdict:" + target.Status
	if cached, err := s.store.RunAggregateGet(ctx, replay.ID, name); err == nil {
		var v verdictView
		if err := json.Unmarshal(cached, &v); err != nil {
			return nil, fmt.Errorf("decode the verdict of replay %s: %w", replay.ID, err)
		}
		return &v, nil
	} else if !errors.Is(err, apperr.ErrNotFound) {
		return nil, fmt.Errorf("read the verdict of replay %s: %w", replay.ID, err)
	}
	v, err := s.makeVerdict(ctx, target, replay)
	if err != nil {
		return nil, err
	}
	payload, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode the verdict of replay %s: %w", replay.ID, err)
	}
	if err := s.store.RunAggregatePut(ctx, replay.ID, name, payload); err != nil && !errors.Is(err, apperr.ErrNotFound) {
		return nil, fmt.Errorf("keep the verdict of replay %s: %w", replay.ID, err)
	}
	return v, nil
}

// makeVerdict reads the replay's rows (the positions that differ, with
// their recomputed values) against the stored rows of target, and checks
// target's publish hash when it is published.
func (s *Service) makeVerdict(ctx context.Context, target, replay *store.Run) (*verdictView, error) {
	v := &verdictView{Mismatches: []verify.Mismatch{}}
	var batch []*store.PositionResult
	flush := func() error {
		keys := make([]store.PositionKey, len(batch))
		for i, r := range batch {
			keys[i] = store.PositionKey{SnapshotID: r.PositionSnapshotID, PositionID: r.PositionID}
		}
		stored := make(map[store.PositionKey][]byte, len(keys))
		err := s.store.ResultValues(ctx, target.ID, keys, func(r *store.PositionResult) error {
			stored[store.PositionKey{SnapshotID: r.PositionSnapshotID, PositionID: r.PositionID}] = bytes.Clone(r.Values)
			return nil
		})
		if err != nil {
			return fmt.Errorf("stored results of run %s: %w", target.ID, err)
		}
		for i, r := range batch {
			ms, err := verify.Diff(r.PositionSnapshotID, r.PositionID, replay.Scenarios, stored[keys[i]], r.Values)
			if err != nil {
				return fmt.Errorf("replay %s: %w", replay.ID, err)
			}
			v.MismatchCount += int64(len(ms))
			if room := MaxListedMismatches - len(v.Mismatches); room > 0 {
				v.Mismatches = append(v.Mismatches, ms[:min(room, len(ms))]...)
			}
		}
		batch = batch[:0]
		return nil
	}
	err := s.store.ResultScan(ctx, store.ResultScanParams{RunID: replay.ID, ValuesOnly: true}, func(r *store.PositionResult) error {
		c := *r
		c.Values = append([]byte(nil), r.Values...)
		batch = append(batch, &c)
		if len(batch) == verdictBatch {
			return flush()
		}
		return nil
	})
	if err == nil && len(batch) > 0 {
		err = flush()
	}
	if err != nil {
		return nil, fmt.Errorf("the verdict of replay %s: %w", replay.ID, err)
	}
	if target.Status == store.RunPublished {
		sum, err := s.PublishHash(ctx, target)
		if err != nil {
			return nil, fmt.Errorf("recompute the publish hash of run %s: %w", target.ID, err)
		}
		matches := sum == target.PublishHash
		v.PublishHashMatches = &matches
	}
	ok := v.MismatchCount == 0 && (v.PublishHashMatches == nil || *v.PublishHashMatches)
	v.Verified = &ok
	return v, nil
}
