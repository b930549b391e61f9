package results

import (
	"net/http"
	"slices"
	"strings"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/pricing"
	"github.com/iprs/iprs/internal/runengine"
	"github.com/iprs/iprs/internal/web"
)

// cashflows answers GET /results/runs/{id}/positions/{position_id}/cashflows
// (SPEC §4.1): the projected rows of one loan of the run under a scenario
// (default BASE), as the run valued it. The engine is built from the
// run's stored inputs exactly as the workers build it (package runengine)
// and the position is read from the run's position snapshots, so Σ
// cashflow·df is the run's stored PV of the position (bit for bit with
// quantity 1; otherwise to rounding, since the PV scales the sum and the
// rows scale each amount).
//
// A position id held by several snapshots of the run needs
// position_snapshot_id to say which (400 without it). An unknown run or
// position is a 404; a position that is not an AMORT_LOAN, or that the
// run's inputs cannot price, is a 422.
func (s *Service) cashflows(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	v, err := s.loadRun(ctx, r, "scenario", "position_snapshot_id")
	if err != nil {
		return err
	}
	run := v.run
	q := r.URL.Query()
	var fields []apperr.FieldError
	sc := BaseScenario
	switch ssc, ferr := scenarioParam(r, run); {
	case ferr != nil:
		fields = append(fields, *ferr)
	case ssc != "":
		sc = ssc
	case !slices.Contains(run.Scenarios, BaseScenario):
		fields = append(fields, apperr.FieldError{Parameter: "scenario",
			Detail: "is required since the run has no BASE scenario: one of " + strings.Join(run.Scenarios, ", ")})
	}
	snapID := q.Get("position_snapshot_id")
	if q.Has("position_snapshot_id") && !slices.Contains(run.PositionSnapshotIDs, snapID) {
		fields = append(fields, apperr.FieldError{Parameter: "position_snapshot_id",
			Detail: "must be one of the run's position snapshots: " + strings.Join(run.PositionSnapshotIDs, ", ")})
	}
	if len(fields) > 0 {
		return paramErrors(fields)
	}

	positionID := r.PathValue("position_id")
	snaps := run.PositionSnapshotIDs
	if snapID != "" {
		snaps = []string{snapID}
	}
	found, err := s.st.PositionsByID(ctx, snaps, positionID)
	if err != nil {
		return err
	}
	switch {
	case len(found) == 0:
		return apperr.Errorf(apperr.NotFound, "run %s has no position %s", quote(run.ID), quote(positionID))
	case len(found) > 1:
		ids := make([]string, len(found))
		for i, p := range found {
			ids[i] = p.SnapshotID
		}
		return paramErrors([]apperr.FieldError{{Parameter: "position_snapshot_id",
			Detail: "is required: position " + quote(positionID) + " is in several snapshots of the run: " + strings.Join(ids, ", ")}})
	}
	sp := found[0]
	if sp.ProductType != "AMORT_LOAN" {
		return apperr.Errorf(apperr.Unprocessable, "position %s is a %s: cashflows are projected for AMORT_LOAN positions only",
			quote(positionID), sp.ProductType)
	}

	engine, err := runengine.Build(ctx, s.st, run)
	if runengine.IsInput(err) {
		return &apperr.Error{Code: apperr.Unprocessable, Message: "the inputs of run " + quote(run.ID) + " cannot be used: " + err.Error(), Err: err}
	}
	if err != nil {
		return err
	}
	si, ok := engine.ScenarioIndex(sc)
	if !ok {
		return apperr.Errorf(apperr.Unprocessable, "run %s: the engine has no scenario %s", quote(run.ID), quote(sc))
	}
	pos, probs := runengine.Position(sp)
	if len(probs) > 0 {
		return apperr.Errorf(apperr.Unprocessable, "position %s cannot be priced: %s: %s", quote(positionID), probs[0].Pointer, probs[0].Detail)
	}
	rows, err := engine.Cashflows(pos, si)
	if err != nil {
		return &apperr.Error{Code: apperr.Unprocessable, Message: "position " + quote(positionID) + " cannot be projected: " + err.Error(), Err: err}
	}
	if rows == nil {
		rows = []pricing.CashflowRow{}
	}
	setPartial(w, v)
	return web.WriteJSON(w, http.StatusOK, struct {
		Items []pricing.CashflowRow `json:"items"`
	}{rows})
}
