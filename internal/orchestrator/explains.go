package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/audit"
	"github.com/iprs/iprs/internal/auth"
	"github.com/iprs/iprs/internal/canon"
	"github.com/iprs/iprs/internal/explain"
	"github.com/iprs/iprs/internal/explainrun"
	"github.com/iprs/iprs/internal/ident"
	"github.com/iprs/iprs/internal/pricing"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/web"
)

// explainRequestWire is the body of POST /orch/explains as sent.
type explainRequestWire struct {
	ExplainID *string `json:"explain_id"`
	FromRunID *string `json:"from_run_id"`
	ToRunID   *string `json:"to_run_id"`
}

// ExplainView is the answer about an explain: its runs, status and
// progress, as a run's.
type ExplainView struct {
	ExplainID        string       `json:"explain_id"`
	FromRunID        string       `json:"from_run_id"`
	ToRunID          string       `json:"to_run_id"`
	Status           string       `json:"status"`
	AsOfTime         string       `json:"as_of_time"`
	MarketSnapshotID string       `json:"market_snapshot_id"`
	ModelSetID       *string      `json:"model_set_id"`
	Components       []string     `json:"components"`
	RequestedAt      string       `json:"requested_at"`
	StartedAt        *string      `json:"started_at"`
	CompletedAt      *string      `json:"completed_at"`
	Progress         ProgressView `json:"progress"`
	Error            *string      `json:"error"`
	SubmittedBy      string       `json:"submitted_by,omitempty"`
	RequestHash      string       `json:"request_hash"`
}

func explainView(r *store.Run, p *store.Progress) ExplainView {
	rv := runView(r, p)
	req, _ := explainrun.ParseRequest(r.Request)
	return ExplainView{
		ExplainID:        r.ID,
		FromRunID:        req.FromRunID,
		ToRunID:          req.ToRunID,
		Status:           r.Status,
		AsOfTime:         rv.AsOfTime,
		MarketSnapshotID: r.MarketSnapshotID,
		ModelSetID:       rv.ModelSetID,
		Components:       explain.Steps(),
		RequestedAt:      rv.RequestedAt,
		StartedAt:        rv.StartedAt,
		CompletedAt:      rv.CompletedAt,
		Progress:         rv.Progress,
		Error:            rv.Error,
		SubmittedBy:      r.SubmittedBy,
		RequestHash:      r.RequestHash,
	}
}

// parseExplainRequest checks the shape of an explain request (400 with
// every problem) and fills in the default explain id.
func parseExplainRequest(w *explainRequestWire, maxProblems int) (explainrun.Request, error) {
	probs := newProblems(maxProblems)
	var req explainrun.Request
	for _, f := range []struct {
		val *string
		dst *string
		ptr string
	}{{w.FromRunID, &req.FromRunID, "/from_run_id"}, {w.ToRunID, &req.ToRunID, "/to_run_id"}} {
		switch {
		case f.val == nil:
			probs.add(f.ptr, f.ptr[1:]+" is required: the id of a finished run")
		case !validID(*f.val):
			probs.addf(f.ptr, "%s %q %s", f.ptr[1:], *f.val, idRule)
		default:
			*f.dst = *f.val
		}
	}
	if w.ExplainID != nil {
		if !validID(*w.ExplainID) {
			probs.addf("/explain_id", "explain_id %q %s", *w.ExplainID, idRule)
		}
		req.ExplainID = *w.ExplainID
	}
	if err := probs.err(apperr.Invalid, "invalid explain request"); err != nil {
		return req, err
	}
	if req.ExplainID == "" {
		req.ExplainID = defaultExplainID(req.FromRunID, req.ToRunID)
	}
	return req, nil
}

// defaultExplainID names the explain of two runs: EXPLAIN-<from>-<to>,
// or, when that is longer than an id may be, EXPLAIN- and a hash of both.
func defaultExplainID(from, to string) string {
	id := "EXPLAIN-" + from + "-" + to
	if len(id) <= ident.MaxLen {
		return id
	}
	return "EXPLAIN-" + canon.SHA256Hex([]byte(from + "\x00" + to))[:32]
}

// handleCreateExplain serves POST /orch/explains: 201 with the explain
// queued, 200 for the same request again, 409 for another request under
// its id (or an id that names a run), 404 for an unknown run, 422 with
// every reason the runs cannot be explained.
func (s *Service) handleCreateExplain(w http.ResponseWriter, r *http.Request) error {
	if _, err := web.Query(r); err != nil {
		return err
	}
	var wire explainRequestWire
	if err := web.DecodeJSON(r, &wire); err != nil {
		return err
	}
	req, err := parseExplainRequest(&wire, s.opts.MaxProblems)
	if err != nil {
		return err
	}
	run, created, err := s.createExplain(audit.For(r, audit.ExplainCreate, req.ExplainID), req)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", "/orch/explains/"+run.ID)
	}
	return s.writeExplain(w, r, status, run)
}

// createExplain checks the two runs and stores the explain run with its
// tasks: one per (product type, bucket) of both runs' position snapshots.
func (s *Service) createExplain(ctx context.Context, req explainrun.Request) (*store.Run, bool, error) {
	canonical, err := canon.Marshal(req)
	if err != nil {
		return nil, false, fmt.Errorf("canonicalize explain request: %w", err)
	}
	requestHash := canon.SHA256Hex(canonical)
	if existing, err := s.store.RunGet(ctx, req.ExplainID); err == nil {
		switch {
		case store.KindOf(existing) != store.KindExplain:
			return nil, false, apperr.Errorf(apperr.Conflict,
				"explain id %s is the id of a %s run; choose another explain_id", existing.ID, strings.ToLower(store.KindOf(existing)))
		case existing.RequestHash != requestHash:
			return nil, false, apperr.Errorf(apperr.Conflict,
				"explain %s already exists for another request (request_hash %s); an explain id names one request", existing.ID, existing.RequestHash)
		}
		return existing, false, nil
	} else if !errors.Is(err, apperr.ErrNotFound) {
		return nil, false, fmt.Errorf("look up explain %s: %w", req.ExplainID, err)
	}

	from, to, err := s.checkExplainRuns(ctx, req)
	if err != nil {
		return nil, false, err
	}
	snaps := slices.Clone(from.PositionSnapshotIDs)
	for _, id := range to.PositionSnapshotIDs {
		if !slices.Contains(snaps, id) {
			snaps = append(snaps, id)
		}
	}
	slices.Sort(snaps)
	hashMod := DefaultHashMod(from.PositionsTotal+to.PositionsTotal, s.opts.TaskSize)
	buckets, err := s.store.PositionBuckets(ctx, snaps, hashMod)
	if err != nil {
		return nil, false, fmt.Errorf("count positions by bucket for explain %s: %w", req.ExplainID, err)
	}
	var total int64
	for _, b := range buckets {
		total += b.Count
	}
	now := s.now()
	run := &store.Run{
		ID:                  req.ExplainID,
		Kind:                store.KindExplain,
		RunType:             to.RunType,
		Status:              store.RunQueued,
		AsOfTime:            to.AsOfTime,
		MarketSnapshotID:    to.MarketSnapshotID,
		PositionSnapshotIDs: snaps,
		ModelSetID:          to.ModelSetID,
		Measures:            []string{pricing.PV.String()},
		Scenarios:           explain.Scenarios(),
		HashMod:             hashMod,
		MaxAttempts:         DefaultMaxAttempts,
		SubmittedBy:         auth.NameOf(ctx),
		RequestHash:         requestHash,
		Request:             canonical,
		EngineVersion:       s.opts.EngineVersion,
		PositionsTotal:      total,
		RequestedAt:         now,
	}
	tasks := fanOut(run.ID, buckets, hashMod, DefaultMaxAttempts, now)
	stored, created, err := s.store.RunCreate(ctx, run, tasks)
	if err != nil {
		if apperr.CodeOf(err) == apperr.Conflict {
			return nil, false, err
		}
		return nil, false, fmt.Errorf("create explain %s: %w", run.ID, err)
	}
	if created {
		s.log(ctx).LogAttrs(ctx, slog.LevelInfo, "explain created",
			slog.String("explain_id", run.ID), slog.String("from_run_id", from.ID), slog.String("to_run_id", to.ID),
			slog.Int64("positions", total), slog.Int("tasks", len(tasks)), slog.Int("hash_mod", hashMod))
	}
	return stored, created, nil
}

// checkExplainRuns loads the two runs (404 naming those that do not exist)
// and checks that they can be explained (422 with every reason): each is
// a valuation run, COMPLETED or PUBLISHED, with BASE and PV, and both
// have the same model set or none.
func (s *Service) checkExplainRuns(ctx context.Context, req explainrun.Request) (from, to *store.Run, err error) {
	var missing []string
	runs := [2]*store.Run{}
	for i, id := range []string{req.FromRunID, req.ToRunID} {
		run, err := s.store.RunGet(ctx, id)
		switch {
		case errors.Is(err, apperr.ErrNotFound):
			missing = append(missing, id)
		case err != nil:
			return nil, nil, fmt.Errorf("load run %s: %w", id, err)
		case store.KindOf(run) != store.KindValuation:
			missing = append(missing, id)
		default:
			runs[i] = run
		}
	}
	if len(missing) > 0 {
		return nil, nil, apperr.Errorf(apperr.NotFound, "run %s does not exist", strings.Join(missing, " and run "))
	}
	probs := newProblems(s.opts.MaxProblems)
	for i, ptr := range []string{"/from_run_id", "/to_run_id"} {
		run := runs[i]
		if run.Status != store.RunCompleted && run.Status != store.RunPublished {
			probs.addf(ptr, "run %s is %s: only a COMPLETED or PUBLISHED run can be explained", run.ID, run.Status)
		}
		if !slices.Contains(run.Scenarios, "BASE") {
			probs.addf(ptr, "run %s has no BASE scenario (its scenarios: %s)", run.ID, strings.Join(run.Scenarios, ", "))
		}
		if !slices.Contains(run.Measures, pricing.PV.String()) {
			probs.addf(ptr, "run %s has no PV measure (its measures: %s)", run.ID, strings.Join(run.Measures, ", "))
		}
	}
	if a, b := runs[0].ModelSetID, runs[1].ModelSetID; a != b {
		probs.addf("/to_run_id", "the runs must share a model set or have none: run %s uses %s, run %s uses %s",
			runs[0].ID, modelSetName(a), runs[1].ID, modelSetName(b))
	}
	if err := probs.err(apperr.Unprocessable, "the runs cannot be explained"); err != nil {
		return nil, nil, err
	}
	return runs[0], runs[1], nil
}

func modelSetName(id string) string {
	if id == "" {
		return "none"
	}
	return "model set " + id
}

// explainRun loads the explain named by the path: a 404 when there is no
// explain (a run of another kind included).
func (s *Service) explainRun(r *http.Request) (*store.Run, error) {
	id := r.PathValue("id")
	run, err := store.RunOfKind(r.Context(), s.store, id, store.KindExplain)
	if err != nil {
		return nil, notFoundOr(err, "explain", id)
	}
	return run, nil
}

// handleGetExplain serves GET /orch/explains/{id}.
func (s *Service) handleGetExplain(w http.ResponseWriter, r *http.Request) error {
	if _, err := web.Query(r); err != nil {
		return err
	}
	run, err := s.explainRun(r)
	if err != nil {
		return err
	}
	return s.writeExplain(w, r, http.StatusOK, run)
}

// handleCancelExplain serves POST /orch/explains/{id}/cancel (202).
func (s *Service) handleCancelExplain(w http.ResponseWriter, r *http.Request) error {
	if _, err := web.Query(r); err != nil {
		return err
	}
	if err := refuseMembers(r); err != nil {
		return err
	}
	run, err := s.explainRun(r)
	if err != nil {
		return err
	}
	run, err = s.store.RunCancel(audit.For(r, audit.RunCancel, run.ID), run.ID)
	if err != nil {
		if apperr.CodeOf(err) == apperr.Conflict {
			return err
		}
		return notFoundOr(err, "explain", r.PathValue("id"))
	}
	return s.writeExplain(w, r, http.StatusAccepted, run)
}

// handleListExplains serves GET /orch/explains, newest request first.
func (s *Service) handleListExplains(w http.ResponseWriter, r *http.Request) error {
	if _, err := web.Query(r, "status", "limit", "cursor"); err != nil {
		return err
	}
	p, page, err := runListParams(r)
	if err != nil {
		return err
	}
	p.Kind = store.KindExplain
	runs, err := s.store.RunList(r.Context(), p)
	if err != nil {
		return fmt.Errorf("list explains: %w", err)
	}
	list := web.PageOf(runs, page.Limit, func(run *store.Run) []string {
		return []string{formatTime(run.RequestedAt), run.ID}
	})
	items := make([]ExplainView, len(list.Items))
	for i, run := range list.Items {
		prog, err := s.store.RunProgress(r.Context(), run.ID)
		if err != nil {
			return fmt.Errorf("progress of explain %s: %w", run.ID, err)
		}
		items[i] = explainView(run, prog)
	}
	return web.WriteJSON(w, http.StatusOK, web.List[ExplainView]{Items: items, NextCursor: list.NextCursor})
}

func (s *Service) writeExplain(w http.ResponseWriter, r *http.Request, status int, run *store.Run) error {
	prog, err := s.store.RunProgress(r.Context(), run.ID)
	if err != nil {
		return fmt.Errorf("progress of explain %s: %w", run.ID, err)
	}
	return web.WriteJSON(w, status, explainView(run, prog))
}
