package orchestrator_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/iprs/iprs/internal/canon"
	"github.com/iprs/iprs/internal/store"
)

// storeSet stores a scenario set document as the marketdata service would.
func storeSet(t *testing.T, e *env, doc string) {
	t.Helper()
	payload, err := canon.Canonicalize([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	var head struct {
		ID string `json:"scenario_set_id"`
	}
	if err := json.Unmarshal(payload, &head); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.store.SetCreate(e.ctx, &store.AnalyticSet{Kind: store.SetKindScenario, ID: head.ID,
		Payload: payload, PayloadHash: canon.SHA256Hex(payload)}); err != nil {
		t.Fatal(err)
	}
}

// storeModelSet stores a one-rule model set (6% CPR for every loan) as the
// marketdata service would.
func storeModelSet(t *testing.T, e *env, id string) {
	t.Helper()
	payload, err := canon.Canonicalize([]byte(`{"model_set_id":"` + id + `","rules":[{"prepayment":{"cpr":0.06}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.store.SetCreate(e.ctx, &store.AnalyticSet{Kind: store.SetKindModel, ID: id, ItemCount: 1,
		Payload: payload, PayloadHash: canon.SHA256Hex(payload)}); err != nil {
		t.Fatal(err)
	}
}

func TestRunsWithScenarioSets(t *testing.T) {
	t.Parallel()
	eachStore(t, envOpts{}, func(t *testing.T, e *env) {
		e.addFullMarket("MKT-1")
		e.upload(snapshotBody("PS-A", "BOOK-A", "2026-01-23T00:00:00Z", mixedBook(4)), http.StatusCreated)
		storeSet(t, e, `{"scenario_set_id":"SET-OIS","scenarios":[
			{"scenario_id":"UP1","shocks":[{"type":"CURVE_SHIFT","curves":"*-OIS","shift_bp":1}]},
			{"scenario_id":"TWIST","shocks":[{"type":"CURVE_TENOR_SHIFTS","curves":["USD-OIS"],"shifts_bp":{"1Y":-5,"10Y":5}}]}]}`)
		storeSet(t, e, `{"scenario_set_id":"SET-DUP","scenarios":[
			{"scenario_id":"UP1","shocks":[{"type":"FX_SPOT","pairs":"*","relative":0.01}]}]}`)
		storeSet(t, e, `{"scenario_set_id":"SET-GBP","scenarios":[
			{"scenario_id":"GBP","shocks":[{"type":"CURVE_SHIFT","curves":["GBP-OIS"],"shift_bp":1},{"type":"FX_SPOT","pairs":"GBP*","relative":0.1}]}]}`)

		// A set's scenarios join the run under their own ids, in order;
		// the request keeps the set.
		body := runBody("RUN-S", "MKT-1", "PS-A")
		body["scenarios"] = []any{"BASE", map[string]any{"scenario_set_id": "SET-OIS"}, map[string]any{"scenario_set_id": "FX_SPOT_1PCT"}}
		r := e.postRun(body)
		e.mustStatus(r, http.StatusCreated)
		run := r.json(t)
		if got := run["scenarios"]; !reflect.DeepEqual(got, []any{"BASE", "UP1", "TWIST", "FX_SPOT_1PCT"}) {
			t.Errorf("run scenarios %v, want BASE, UP1, TWIST, FX_SPOT_1PCT", got)
		}
		req := run["request"].(map[string]any)
		if got := req["scenarios"]; !reflect.DeepEqual(got, []any{"BASE", map[string]any{"scenario_set_id": "SET-OIS"}, "FX_SPOT_1PCT"}) {
			t.Errorf("normalized request scenarios %v", got)
		}
		stored, err := e.store.RunGet(e.ctx, "RUN-S")
		if err != nil {
			t.Fatal(err)
		}
		if ids, err := stored.ScenarioSetIDs(); err != nil || !reflect.DeepEqual(ids, []string{"SET-OIS"}) {
			t.Errorf("ScenarioSetIDs = %v, %v", ids, err)
		}

		// Everything wrong at once: a set that does not exist, a scenario
		// id two items bring in, a curve and a pair the market lacks.
		bad := runBody("RUN-BAD", "MKT-1", "PS-A")
		bad["scenarios"] = []any{"BASE", map[string]any{"scenario_set_id": "SET-OIS"}, map[string]any{"scenario_set_id": "SET-NOPE"},
			map[string]any{"scenario_set_id": "SET-DUP"}, map[string]any{"scenario_set_id": "SET-GBP"}}
		r = e.postRun(bad)
		e.mustStatus(r, http.StatusUnprocessableEntity)
		probs := r.problems(t)
		want := map[string]string{
			"/scenarios/2/scenario_set_id": "SET-NOPE does not exist",
			"/scenarios/3/scenario_set_id": `"UP1" is in the run twice`,
		}
		for ptr, detail := range want {
			found := false
			for _, p := range probs {
				found = found || (p.Pointer == ptr && strings.Contains(p.Detail, detail))
			}
			if !found {
				t.Errorf("no problem %q at %s in %+v", detail, ptr, probs)
			}
		}
		var gbp []string
		for _, p := range probs {
			if p.Pointer == "/scenarios/4/scenario_set_id" {
				gbp = append(gbp, p.Detail)
			}
		}
		if len(gbp) != 2 || !strings.Contains(strings.Join(gbp, "|"), "GBP-OIS") || !strings.Contains(strings.Join(gbp, "|"), "GBP*") {
			t.Errorf("problems of SET-GBP %q, want the missing curve and the pattern matching nothing", gbp)
		}
		e.mustStatus(e.do(http.MethodGet, "/orch/runs/RUN-BAD", nil), http.StatusNotFound)
	})
}
