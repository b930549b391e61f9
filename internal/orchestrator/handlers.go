package orchestrator

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/audit"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/web"
)

// handleUpload serves POST /orch/position-snapshots: a JSON document, or
// a CSV loan tape when the Content-Type is text/csv.
func (s *Service) handleUpload(w http.ResponseWriter, r *http.Request) error {
	snap, created, err := s.upload(r)
	if err != nil {
		switch apperr.CodeOf(err) {
		case apperr.Invalid, apperr.Conflict, apperr.TooLarge:
			s.metrics.snapshots.WithLabelValues("refused").Inc()
		}
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", "/orch/position-snapshots/"+snap.ID)
		s.metrics.snapshots.WithLabelValues("created").Inc()
		s.metrics.positionsUploaded.Add(float64(snap.PositionCount))
		s.log(r.Context()).InfoContext(r.Context(), "position snapshot stored",
			"position_snapshot_id", snap.ID, "positions", snap.PositionCount, "portfolio_node_id", snap.PortfolioNodeID)
	} else {
		s.metrics.snapshots.WithLabelValues("existing").Inc()
	}
	return web.WriteJSON(w, status, snapshotView(snap))
}

// upload reads and stores the upload of r in the format its Content-Type
// names.
func (s *Service) upload(r *http.Request) (*store.PositionSnapshot, bool, error) {
	csv, err := isCSV(r.Header.Get("Content-Type"))
	if err != nil {
		return nil, false, err
	}
	if !csv {
		if _, err := web.Query(r); err != nil {
			return nil, false, err
		}
		if r.Body == nil || r.Body == http.NoBody {
			return nil, false, apperr.WithFields(apperr.Invalid, "the request body is empty",
				[]apperr.FieldError{{Pointer: "", Detail: "a JSON document is required"}})
		}
		return s.uploadSnapshot(audit.For(r, audit.PositionSnapshotCreate, ""), r.Body)
	}
	q, err := web.Query(r, csvParams...)
	if err != nil {
		return nil, false, err
	}
	body := r.Body
	if body == nil {
		body = http.NoBody
	}
	return s.uploadCSV(audit.For(r, audit.PositionSnapshotCreate, ""), q, body)
}

// isCSV tells whether a Content-Type names a CSV loan tape. Anything else
// (application/json, none at all) is read as JSON. A tape must be UTF-8: a
// charset parameter naming another encoding is refused.
func isCSV(contentType string) (bool, error) {
	if contentType == "" {
		return false, nil
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != CSVContentType {
		return false, nil
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "us-ascii") {
		return true, apperr.WithFields(apperr.Invalid, "unsupported character set",
			[]apperr.FieldError{{Pointer: "", Detail: fmt.Sprintf("a CSV tape must be UTF-8, not charset %s (Content-Type)", cs)}})
	}
	return true, nil
}

// handleGetSnapshot serves GET /orch/position-snapshots/{id}.
func (s *Service) handleGetSnapshot(w http.ResponseWriter, r *http.Request) error {
	if _, err := web.Query(r); err != nil {
		return err
	}
	id := r.PathValue("id")
	snap, err := s.store.PositionSnapshotGet(r.Context(), id)
	if err != nil {
		return notFoundOr(err, "position snapshot", id)
	}
	return web.WriteJSON(w, http.StatusOK, snapshotView(snap))
}

// handleListPositions serves GET /orch/position-snapshots/{id}/positions,
// in upload order; the cursor holds the last row's place in the upload.
func (s *Service) handleListPositions(w http.ResponseWriter, r *http.Request) error {
	if _, err := web.Query(r, "limit", "cursor"); err != nil {
		return err
	}
	id := r.PathValue("id")
	page, err := web.ParsePage(r)
	if err != nil {
		return err
	}
	afterSeq := int64(-1)
	if page.Cursor != "" {
		vals, err := web.DecodeCursor(page.Cursor, 1)
		if err != nil {
			return err
		}
		afterSeq, err = strconv.ParseInt(vals[0], 10, 64)
		if err != nil || afterSeq < 0 {
			return web.ParamError("cursor", "the cursor does not come from this list")
		}
	}
	if _, err := s.store.PositionSnapshotGet(r.Context(), id); err != nil {
		return notFoundOr(err, "position snapshot", id)
	}
	rows, err := s.store.PositionList(r.Context(), id, afterSeq, page.Limit+1)
	if err != nil {
		return fmt.Errorf("list positions of snapshot %s: %w", id, err)
	}
	list := web.PageOf(rows, page.Limit, func(p *store.Position) []string {
		return []string{strconv.FormatInt(p.Seq, 10)}
	})
	items := make([]PositionView, len(list.Items))
	for i, p := range list.Items {
		items[i] = positionView(p)
	}
	return web.WriteJSON(w, http.StatusOK, web.List[PositionView]{Items: items, NextCursor: list.NextCursor})
}

// handleCreateRun serves POST /orch/runs.
func (s *Service) handleCreateRun(w http.ResponseWriter, r *http.Request) error {
	if _, err := web.Query(r); err != nil {
		return err
	}
	var wire runRequestWire
	if err := web.DecodeJSON(r, &wire); err != nil {
		return err
	}
	req, err := parseRunRequest(&wire, s.opts.MaxProblems)
	if err != nil {
		return err
	}
	run, created, err := s.createRun(audit.For(r, audit.RunCreate, ""), req)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", "/orch/runs/"+run.ID)
	}
	return s.writeRun(w, r, status, run)
}

// handleListRuns serves GET /orch/runs, newest request first.
func (s *Service) handleListRuns(w http.ResponseWriter, r *http.Request) error {
	if _, err := web.Query(r, "status", "limit", "cursor"); err != nil {
		return err
	}
	p, page, err := runListParams(r)
	if err != nil {
		return err
	}
	runs, err := s.store.RunList(r.Context(), p)
	if err != nil {
		return fmt.Errorf("list runs: %w", err)
	}
	list := web.PageOf(runs, page.Limit, func(run *store.Run) []string {
		return []string{formatTime(run.RequestedAt), run.ID}
	})
	items := make([]RunView, len(list.Items))
	for i, run := range list.Items {
		prog, err := s.store.RunProgress(r.Context(), run.ID)
		if err != nil {
			return fmt.Errorf("progress of run %s: %w", run.ID, err)
		}
		items[i] = runView(run, prog)
	}
	return web.WriteJSON(w, http.StatusOK, web.List[RunView]{Items: items, NextCursor: list.NextCursor})
}

// runListParams reads the status, limit and cursor of a list of runs (or
// explains).
func runListParams(r *http.Request) (store.RunListParams, web.Page, error) {
	page, err := web.ParsePage(r)
	if err != nil {
		return store.RunListParams{}, page, err
	}
	status := r.URL.Query().Get("status")
	if status != "" && !isRunStatus(status) {
		return store.RunListParams{}, page, web.ParamError("status", fmt.Sprintf("status %q is not one of %s", status, strings.Join(runStatuses, ", ")))
	}
	p := store.RunListParams{Status: status, ListParams: store.ListParams{Limit: page.Limit + 1}}
	if page.Cursor != "" {
		vals, err := web.DecodeCursor(page.Cursor, 2)
		if err != nil {
			return store.RunListParams{}, page, err
		}
		t, err := time.Parse(time.RFC3339Nano, vals[0])
		if err != nil {
			return store.RunListParams{}, page, web.ParamError("cursor", "the cursor does not come from this list")
		}
		p.AfterTime, p.AfterID = t, vals[1]
	}
	return p, page, nil
}

// handleGetRun serves GET /orch/runs/{id}.
func (s *Service) handleGetRun(w http.ResponseWriter, r *http.Request) error {
	if _, err := web.Query(r); err != nil {
		return err
	}
	id := r.PathValue("id")
	run, err := store.RunOfKind(r.Context(), s.store, id, store.KindValuation)
	if err != nil {
		return notFoundOr(err, "run", id)
	}
	return s.writeRun(w, r, http.StatusOK, run)
}

// handleRunTasks serves GET /orch/runs/{id}/tasks: every task of the run,
// by product type then bucket, in one page.
func (s *Service) handleRunTasks(w http.ResponseWriter, r *http.Request) error {
	if _, err := web.Query(r); err != nil {
		return err
	}
	id := r.PathValue("id")
	if _, err := store.RunOfKind(r.Context(), s.store, id, store.KindValuation); err != nil {
		return notFoundOr(err, "run", id)
	}
	tasks, err := s.store.RunTasks(r.Context(), id)
	if err != nil {
		return fmt.Errorf("list tasks of run %s: %w", id, err)
	}
	items := make([]TaskView, len(tasks))
	for i, t := range tasks {
		items[i] = taskView(t)
	}
	return web.WriteJSON(w, http.StatusOK, web.NewList(items, ""))
}

// handleCancelRun serves POST /orch/runs/{id}/cancel: 202 with the run,
// which is CANCELLING until its running tasks stop, or CANCELLED.
func (s *Service) handleCancelRun(w http.ResponseWriter, r *http.Request) error {
	if _, err := web.Query(r); err != nil {
		return err
	}
	if err := refuseMembers(r); err != nil {
		return err
	}
	id := r.PathValue("id")
	// A run's kind never changes: checking it first is not a race.
	if _, err := store.RunOfKind(r.Context(), s.store, id, store.KindValuation); err != nil {
		return notFoundOr(err, "run", id)
	}
	run, err := s.store.RunCancel(audit.For(r, audit.RunCancel, id), id)
	if err != nil {
		if apperr.CodeOf(err) == apperr.Conflict {
			return err
		}
		return notFoundOr(err, "run", id)
	}
	s.log(r.Context()).InfoContext(r.Context(), "run cancel requested", "run_id", id, "status", run.Status)
	return s.writeRun(w, r, http.StatusAccepted, run)
}

// handlePublishRun serves POST /orch/runs/{id}/publish.
func (s *Service) handlePublishRun(w http.ResponseWriter, r *http.Request) error {
	if _, err := web.Query(r); err != nil {
		return err
	}
	if err := refuseMembers(r); err != nil {
		return err
	}
	id := r.PathValue("id")
	run, err := s.publishRun(audit.For(r, audit.RunPublish, id), id)
	if err != nil {
		if apperr.CodeOf(err) == apperr.Conflict {
			return err
		}
		return notFoundOr(err, "run", id)
	}
	return s.writeRun(w, r, http.StatusOK, run)
}

// refuseMembers checks the body of a route whose request has no members
// (cancel, publish): none, or {}, is fine; any member is unknown and is
// refused with a pointer to it, as on every other POST (SPEC §1 "Unknown
// top-level fields are rejected").
func refuseMembers(r *http.Request) error {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return web.BodyReadError(err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	var none struct{}
	return web.UnmarshalStrict(data, &none, "")
}

func (s *Service) writeRun(w http.ResponseWriter, r *http.Request, status int, run *store.Run) error {
	prog, err := s.store.RunProgress(r.Context(), run.ID)
	if err != nil {
		return fmt.Errorf("progress of run %s: %w", run.ID, err)
	}
	v := runView(run, prog)
	if v.EngineVersions, err = s.store.RunEngineVersions(r.Context(), run.ID); err != nil {
		return fmt.Errorf("engine versions of run %s: %w", run.ID, err)
	}
	return web.WriteJSON(w, status, v)
}

// notFoundOr answers a missing row with a 404 naming it, and wraps any
// other error.
func notFoundOr(err error, what, id string) error {
	if apperr.CodeOf(err) == apperr.NotFound {
		return &apperr.Error{Code: apperr.NotFound, Message: fmt.Sprintf("%s %s does not exist", what, id), Err: err}
	}
	if _, ok := apperr.As(err); ok {
		return err
	}
	return fmt.Errorf("load %s %s: %w", what, id, err)
}

var runStatuses = []string{store.RunQueued, store.RunRunning, store.RunCompleted, store.RunFailed,
	store.RunCancelling, store.RunCancelled, store.RunPublished}

func isRunStatus(s string) bool {
	for _, st := range runStatuses {
		if st == s {
			return true
		}
	}
	return false
}

// handleDeleteRun serves DELETE /orch/runs/{id} (SPEC §5 retention): an
// unpublished finished run and its results are removed, 204; a published,
// queued or running run is a 409, an unknown one a 404.
func (s *Service) handleDeleteRun(w http.ResponseWriter, r *http.Request) error {
	if err := refuseMembers(r); err != nil {
		return err
	}
	id := r.PathValue("id")
	if _, err := store.RunOfKind(r.Context(), s.store, id, store.KindValuation); err != nil {
		return notFoundOr(err, "run", id)
	}
	if err := s.store.RunDelete(audit.For(r, audit.RunDelete, id), id); err != nil {
		if apperr.CodeOf(err) == apperr.Conflict {
			return err
		}
		return notFoundOr(err, "run", id)
	}
	s.log(r.Context()).InfoContext(r.Context(), "run deleted", "run_id", id)
	s.deleteReplays(r.Context(), id)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
