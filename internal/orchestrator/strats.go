package orchestrator

import (
	"fmt"
	"net/http"

	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/strats"
	"github.com/iprs/iprs/internal/web"
)

// handleStrats serves GET /orch/position-snapshots/{id}/strats?by=&bands=
// (SPEC §4.6): the snapshot's loans stratified by a grouping (package
// strats gives the figures and their readings).
func (s *Service) handleStrats(w http.ResponseWriter, r *http.Request) error {
	q, err := web.Query(r, "by", "bands")
	if err != nil {
		return err
	}
	g, param, detail := strats.ParseGrouping(q.Get("by"), q.Has("bands"), q.Get("bands"))
	if param != "" {
		return web.ParamError(param, detail)
	}
	id := r.PathValue("id")
	snap, err := s.store.PositionSnapshotGet(r.Context(), id)
	if err != nil {
		return notFoundOr(err, "position snapshot", id)
	}
	b := strats.NewBuilder(g, snap.AsOfTime)
	if err := s.store.PositionScan(r.Context(), []string{id}, func(p *store.Position) error {
		return b.Add(p)
	}); err != nil {
		return fmt.Errorf("strats of snapshot %s: %w", id, err)
	}
	return web.WriteJSON(w, http.StatusOK, struct {
		Items []strats.Item `json:"items"`
	}{b.Items()})
}
