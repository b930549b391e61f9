package orchestrator_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/store/storetest"
)

// A run of another kind (an explain, a verify) is not a run to the run
// routes: not listed, not found, not cancelled, published or deleted
// through them; and its id cannot be taken by a run.
func TestRunRoutesSeeOnlyValuations(t *testing.T) {
	eachStore(t, envOpts{}, func(t *testing.T, e *env) {
		e.addFullMarket("MKT-K")
		explain, _ := storetest.MustRun(t, e.ctx, e.store, storetest.RunOpts{Run: &store.Run{ID: "EXPLAIN-K", Kind: store.KindExplain,
			MarketSnapshotID: "MKT-K"}})
		for _, c := range []struct{ method, path string }{
			{http.MethodGet, "/orch/runs/EXPLAIN-K"},
			{http.MethodGet, "/orch/runs/EXPLAIN-K/tasks"},
			{http.MethodPost, "/orch/runs/EXPLAIN-K/cancel"},
			{http.MethodPost, "/orch/runs/EXPLAIN-K/publish"},
			{http.MethodDelete, "/orch/runs/EXPLAIN-K"},
		} {
			r := e.do(c.method, c.path, nil)
			if r.status != http.StatusNotFound || !strings.Contains(string(r.body), "run EXPLAIN-K does not exist") {
				t.Errorf("%s %s: %d %s, want 404 saying the run is not found", c.method, c.path, r.status, r.body)
			}
		}
		list := e.do(http.MethodGet, "/orch/runs", nil)
		e.mustStatus(list, http.StatusOK)
		if strings.Contains(string(list.body), "EXPLAIN-K") {
			t.Errorf("GET /orch/runs lists the explain: %s", list.body)
		}
		if got := storetest.MustRunGet(t, e.ctx, e.store, explain.ID); got.Status != store.RunCompleted || got.Kind != store.KindExplain {
			t.Errorf("the explain was changed: %s %s", got.Status, got.Kind)
		}

		// A run submitted under the explain's id is a 409 that says why.
		body := mustJSON(t, map[string]any{"run_id": "EXPLAIN-K", "run_type": "SANDBOX", "as_of_time": "2026-01-23T17:00:00Z",
			"market_snapshot_id": "MKT-K", "portfolio_scope": map[string]any{"node_ids": []string{"BOOK-K"}},
			"measures": []string{"PV"}, "scenarios": []string{"BASE"}})
		r := e.do(http.MethodPost, "/orch/runs", body)
		if r.status != http.StatusConflict || !strings.Contains(string(r.body), "taken by a run of kind EXPLAIN") {
			t.Errorf("a run under an explain's id: %d %s, want 409 naming the kind", r.status, r.body)
		}
	})
}
