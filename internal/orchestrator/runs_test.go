package orchestrator_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/canon"
	"github.com/iprs/iprs/internal/orchestrator"
	"github.com/iprs/iprs/internal/pricing"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/taskresult"
)

func TestDefaultHashMod(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		total int64
		want  int
	}{
		{0, 1}, {1, 1}, {5000, 1}, {5001, 2}, {10000, 2}, {10001, 4}, {20000, 4}, {20001, 8},
		{100000, 32}, {1000000, 256}, {1280000, 256}, {50000000, 256},
	} {
		if got := orchestrator.DefaultHashMod(c.total, 5000); got != c.want {
			t.Errorf("DefaultHashMod(%d) = %d, want %d", c.total, got, c.want)
		}
	}
}

// runBody is a run request for a position snapshot.
func runBody(runID, market, snapshot string) map[string]any {
	b := map[string]any{
		"run_type":             "SANDBOX",
		"as_of_time":           "2026-01-23T00:00:00Z",
		"market_snapshot_id":   market,
		"position_snapshot_id": snapshot,
		"measures":             []any{"PV", "DV01"},
		"scenarios":            []any{"BASE"},
	}
	if runID != "" {
		b["run_id"] = runID
	}
	return b
}

func (e *env) postRun(body any) response {
	e.t.Helper()
	b, ok := body.([]byte)
	if !ok {
		b = mustJSON(e.t, body)
	}
	return e.do(http.MethodPost, "/orch/runs", b)
}

type taskRow struct {
	TaskID        int64   `json:"task_id"`
	ProductType   string  `json:"product_type"`
	Bucket        int     `json:"bucket"`
	HashMod       int     `json:"hash_mod"`
	Status        string  `json:"status"`
	Attempts      int     `json:"attempts"`
	MaxAttempts   int     `json:"max_attempts"`
	Failures      int     `json:"failures"`
	LeaseExpiries int     `json:"lease_expiries"`
	PositionCount int64   `json:"position_count"`
	LastError     *string `json:"last_error"`
	EngineVersion *string `json:"engine_version"`
}

func (e *env) tasks(runID string) []taskRow {
	e.t.Helper()
	r := e.do(http.MethodGet, "/orch/runs/"+runID+"/tasks", nil)
	e.mustStatus(r, http.StatusOK)
	var l struct {
		Items      []taskRow `json:"items"`
		NextCursor *string   `json:"next_cursor"`
	}
	if err := json.Unmarshal(r.body, &l); err != nil {
		e.t.Fatal(err)
	}
	if l.NextCursor != nil {
		e.t.Fatalf("tasks list has a next cursor")
	}
	return l.Items
}

// expectedTasks counts positions by (product type, bucket) from the
// documented bucket recipe.
func expectedTasks(positions []map[string]any, hashMod int) map[string]int64 {
	out := make(map[string]int64)
	for _, p := range positions {
		key := fmt.Sprintf("%s/%d", p["product_type"], bucketOf(p["position_id"].(string), hashMod))
		out[key]++
	}
	return out
}

func taskCounts(tasks []taskRow) map[string]int64 {
	out := make(map[string]int64)
	for _, t := range tasks {
		out[fmt.Sprintf("%s/%d", t.ProductType, t.Bucket)] += t.PositionCount
	}
	return out
}

func mixedBook(n int) []map[string]any {
	var positions []map[string]any
	for i := 0; i < n; i++ {
		switch i % 3 {
		case 0:
			positions = append(positions, loanByTerms("L"+strconv.Itoa(i), float64(1000+i)))
		case 1:
			positions = append(positions, bond("B"+strconv.Itoa(i)))
		default:
			positions = append(positions, fxForward("F"+strconv.Itoa(i)))
		}
	}
	return positions
}

func TestRunCreateFanOutAndReplay(t *testing.T) {
	t.Parallel()
	eachStore(t, envOpts{}, func(t *testing.T, e *env) {
		e.addFullMarket("MKT-1")
		positions := mixedBook(60)
		e.upload(snapshotBody("PS-1", "BOOK-1", "2026-01-23T00:00:00Z", positions), http.StatusCreated)

		body := runBody("RUN-1", "MKT-1", "PS-1")
		body["execution"] = map[string]any{"hash_mod": 4, "max_attempts": 5}
		body["measures"] = []any{"PV", "DV01", "PV", "CS01"}
		body["scenarios"] = []any{"BASE", map[string]any{"scenario_set_id": "RATES_PARALLEL_1BP"}, "BASE"}
		body["model_set_id"] = "MS-1"
		// A run naming a model set the store lacks: 422, nothing made.
		r := e.postRun(body)
		e.mustStatus(r, http.StatusUnprocessableEntity)
		if p := r.problems(t); len(p) != 1 || p[0].Pointer != "/model_set_id" || !strings.Contains(p[0].Detail, "MS-1") {
			t.Fatalf("problems %s", r.body)
		}
		storeModelSet(t, e, "MS-1")
		r = e.postRun(body)
		e.mustStatus(r, http.StatusCreated)
		if loc := r.header.Get("Location"); loc != "/orch/runs/RUN-1" {
			t.Fatalf("Location %q", loc)
		}
		run := r.json(t)
		if run["run_id"] != "RUN-1" || run["status"] != "QUEUED" || run["run_type"] != "SANDBOX" ||
			run["position_snapshot_id"] != "PS-1" || run["market_snapshot_id"] != "MKT-1" ||
			run["engine_version"] != "pricing-test-1" || run["model_set_id"] != "MS-1" {
			t.Fatalf("run %s", r.body)
		}
		if !reflect.DeepEqual(run["measures"], []any{"PV", "DV01", "CS01"}) ||
			!reflect.DeepEqual(run["scenarios"], []any{"BASE", "RATES_PARALLEL_1BP"}) ||
			!reflect.DeepEqual(run["position_snapshot_ids"], []any{"PS-1"}) {
			t.Fatalf("normalized lists: %s", r.body)
		}
		if run["started_at"] != nil || run["completed_at"] != nil || run["error"] != nil || run["as_of_time"] != "2026-01-23T00:00:00Z" {
			t.Fatalf("timestamps: %s", r.body)
		}
		if _, err := time.Parse(time.RFC3339, str(run["requested_at"])); err != nil || !strings.HasSuffix(str(run["requested_at"]), "Z") {
			t.Fatalf("requested_at %v", run["requested_at"])
		}
		exec := run["execution"].(map[string]any)
		if num(exec["hash_mod"]) != 4 || num(exec["max_attempts"]) != 5 {
			t.Fatalf("execution %v", exec)
		}
		tasks := e.tasks("RUN-1")
		want := expectedTasks(positions, 4)
		if got := taskCounts(tasks); !reflect.DeepEqual(got, want) {
			t.Fatalf("tasks %v, want %v", got, want)
		}
		if len(tasks) != len(want) {
			t.Fatalf("%d tasks for %d non-empty buckets", len(tasks), len(want))
		}
		for _, tk := range tasks {
			if tk.Status != "QUEUED" || tk.Attempts != 0 || tk.MaxAttempts != 5 || tk.HashMod != 4 {
				t.Fatalf("task %+v", tk)
			}
		}
		prog := run["progress"].(map[string]any)
		if num(prog["tasks_total"]) != float64(len(want)) || num(prog["positions_total"]) != 60 || num(prog["positions_done"]) != 0 ||
			num(prog["tasks_by_status"].(map[string]any)["QUEUED"]) != float64(len(want)) {
			t.Fatalf("progress %v", prog)
		}
		stored, err := e.store.RunGet(e.ctx, "RUN-1")
		if err != nil || stored.PositionsTotal != 60 || stored.EngineVersion != "pricing-test-1" {
			t.Fatalf("stored run %+v %v", stored, err)
		}

		// The same request, spelled differently: 200 with the same run.
		replay := runBody("RUN-1", "MKT-1", "PS-1")
		replay["execution"] = map[string]any{"max_attempts": 5, "hash_mod": 4}
		replay["measures"] = []any{"PV", "DV01", "CS01", "DV01"}
		replay["scenarios"] = []any{map[string]any{"scenario_set_id": "BASE"}, "RATES_PARALLEL_1BP"}
		replay["model_set_id"] = "MS-1"
		replay["as_of_time"] = "2026-01-22T19:00:00-05:00"
		r = e.postRun(replay)
		e.mustStatus(r, http.StatusOK)
		if again := r.json(t); again["requested_at"] != run["requested_at"] || again["request_hash"] != run["request_hash"] {
			t.Fatalf("replay %s", r.body)
		}
		// Another request under the same id: 409.
		replay["measures"] = []any{"PV"}
		e.mustStatus(e.postRun(replay), http.StatusConflict)
		if n := len(e.tasks("RUN-1")); n != len(want) {
			t.Fatalf("tasks changed: %d", n)
		}

		// GET the run, list runs.
		r = e.do(http.MethodGet, "/orch/runs/RUN-1", nil)
		e.mustStatus(r, http.StatusOK)
		if got := r.json(t); got["run_id"] != "RUN-1" || got["request_hash"] != run["request_hash"] {
			t.Fatalf("get run %s", r.body)
		}
		e.mustStatus(e.do(http.MethodGet, "/orch/runs/NOPE", nil), http.StatusNotFound)
		e.mustStatus(e.do(http.MethodGet, "/orch/runs/NOPE/tasks", nil), http.StatusNotFound)
	})
}

func TestRunDefaultHashModAndServerID(t *testing.T) {
	t.Parallel()
	eachStore(t, envOpts{}, func(t *testing.T, e *env) {
		e.addFullMarket("MKT-1")
		positions := mixedBook(12)
		e.upload(snapshotBody("PS-1", "BOOK-1", "2026-01-23T00:00:00Z", positions), http.StatusCreated)
		r := e.postRun(runBody("", "MKT-1", "PS-1"))
		e.mustStatus(r, http.StatusCreated)
		run := r.json(t)
		id := str(run["run_id"])
		if !strings.HasPrefix(id, "RUN-") {
			t.Fatalf("server run id %q", id)
		}
		if exec := run["execution"].(map[string]any); num(exec["hash_mod"]) != 1 || num(exec["max_attempts"]) != 3 {
			t.Fatalf("defaults %v", exec)
		}
		// One task per product type with hash_mod 1.
		tasks := e.tasks(id)
		if got := taskCounts(tasks); !reflect.DeepEqual(got, map[string]int64{"AMORT_LOAN/0": 4, "FIXED_BOND/0": 4, "FX_FWD/0": 4}) {
			t.Fatalf("tasks %v", got)
		}
		// Without a run id every submission is a new run.
		r = e.postRun(runBody("", "MKT-1", "PS-1"))
		e.mustStatus(r, http.StatusCreated)
		if r.json(t)["run_id"] == id {
			t.Fatal("second server-made run reused the id")
		}
	})
}

func TestRunRequestShapeProblems(t *testing.T) {
	t.Parallel()
	eachStore(t, envOpts{}, func(t *testing.T, e *env) {
		cases := []struct {
			name    string
			edit    func(b map[string]any)
			pointer string
			detail  string
		}{
			{"unknown member", func(b map[string]any) { b["priority"] = 1 }, "/priority", ""},
			{"unknown member in execution", func(b map[string]any) { b["execution"] = map[string]any{"workers": 3} }, "/execution/workers", ""},
			{"bad run_type", func(b map[string]any) { b["run_type"] = "WEEKLY" }, "/run_type", "WEEKLY"},
			{"missing run_type", func(b map[string]any) { delete(b, "run_type") }, "/run_type", "required"},
			{"bad as_of_time", func(b map[string]any) { b["as_of_time"] = "yesterday" }, "/as_of_time", ""},
			{"as_of_time wrong type", func(b map[string]any) { b["as_of_time"] = 5 }, "/as_of_time", ""},
			// The zero time (year 1) would reach the pricing engine as "no
			// as-of time": refused like a market snapshot before 1900.
			{"as_of_time in year 1", func(b map[string]any) { b["as_of_time"] = "0001-01-01T00:00:00Z" }, "/as_of_time", "1900"},
			{"as_of_time before 1900", func(b map[string]any) { b["as_of_time"] = "1899-12-31T23:59:59Z" }, "/as_of_time", "1900"},
			{"empty measures", func(b map[string]any) { b["measures"] = []any{} }, "/measures", "at least one"},
			{"measures wrong type", func(b map[string]any) { b["measures"] = "PV" }, "/measures", ""},
			{"measure wrong type", func(b map[string]any) { b["measures"] = []any{"PV", 7} }, "/measures/1", ""},
			{"empty scenarios", func(b map[string]any) { delete(b, "scenarios") }, "/scenarios", "at least one"},
			{"scenario wrong type", func(b map[string]any) { b["scenarios"] = []any{"BASE", 3} }, "/scenarios/1", "scenario"},
			{"scenario object unknown key", func(b map[string]any) {
				b["scenarios"] = []any{map[string]any{"scenario_set_id": "BASE", "weight": 1}}
			}, "/scenarios/0/weight", ""},
			{"scenario object without id", func(b map[string]any) { b["scenarios"] = []any{map[string]any{}} }, "/scenarios/0/scenario_set_id", "required"},
			{"hash_mod too large", func(b map[string]any) { b["execution"] = map[string]any{"hash_mod": 4097} }, "/execution/hash_mod", "4096"},
			{"hash_mod zero", func(b map[string]any) { b["execution"] = map[string]any{"hash_mod": 0} }, "/execution/hash_mod", "range"},
			{"hash_mod fractional", func(b map[string]any) { b["execution"] = map[string]any{"hash_mod": 2.5} }, "/execution/hash_mod", ""},
			{"max_attempts too large", func(b map[string]any) { b["execution"] = map[string]any{"max_attempts": 21} }, "/execution/max_attempts", "20"},
			{"max_attempts zero", func(b map[string]any) { b["execution"] = map[string]any{"max_attempts": 0} }, "/execution/max_attempts", "range"},
			{"aggregate_attrs bad name", func(b map[string]any) {
				b["execution"] = map[string]any{"aggregate_attrs": []any{"state", "loan-program"}}
			}, "/execution/aggregate_attrs/1", "loan-program"},
			{"aggregate_attrs too many", func(b map[string]any) {
				b["execution"] = map[string]any{"aggregate_attrs": []any{"a", "b", "c", "d", "e", "f", "g", "h", "i", "a"}}
			}, "/execution/aggregate_attrs", "at most 8"},
			{"aggregate_attrs wrong type", func(b map[string]any) { b["execution"] = map[string]any{"aggregate_attrs": "state"} }, "/execution/aggregate_attrs", ""},
			{"no positions", func(b map[string]any) { delete(b, "position_snapshot_id") }, "", "position_snapshot_id or portfolio_scope"},
			{"both sources", func(b map[string]any) { b["portfolio_scope"] = map[string]any{"node_ids": []any{"BOOK-1"}} }, "/portfolio_scope", "not both"},
			{"empty scope", func(b map[string]any) {
				delete(b, "position_snapshot_id")
				b["portfolio_scope"] = map[string]any{"node_ids": []any{}}
			}, "/portfolio_scope/node_ids", "at least one"},
			{"bad run id", func(b map[string]any) { b["run_id"] = "RUN 1" }, "/run_id", ""},
			{"missing market", func(b map[string]any) { delete(b, "market_snapshot_id") }, "/market_snapshot_id", "required"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				b := runBody("RUN-SHAPE", "MKT-1", "PS-1")
				c.edit(b)
				r := e.postRun(b)
				if r.status != http.StatusBadRequest {
					t.Fatalf("status %d: %s", r.status, r.body)
				}
				requirePointer(t, r.problems(t), c.pointer, c.detail)
			})
		}
		// Several shape problems at once.
		b := runBody("RUN-SHAPE", "MKT-1", "PS-1")
		b["run_type"] = "NIGHTLY"
		b["measures"] = []any{}
		b["execution"] = map[string]any{"hash_mod": 0, "max_attempts": 99}
		r := e.postRun(b)
		e.mustStatus(r, http.StatusBadRequest)
		probs := r.problems(t)
		for _, p := range []string{"/run_type", "/measures", "/execution/hash_mod", "/execution/max_attempts"} {
			requirePointer(t, probs, p, "")
		}
		e.mustStatus(e.postRun([]byte(`{"run_type":`)), http.StatusBadRequest)
		if _, err := e.store.RunGet(e.ctx, "RUN-SHAPE"); !errors.Is(err, apperr.ErrNotFound) {
			t.Fatalf("refused run stored: %v", err)
		}
	})
}

func TestRunPreRunCheckListsEveryProblem(t *testing.T) {
	t.Parallel()
	eachStore(t, envOpts{}, func(t *testing.T, e *env) {
		// A FAIL market that still prices, without LOAN-SPREAD or EUR-OIS.
		e.addMarket("MKT-FAIL", "FAIL", marketJSON("MKT-FAIL", []string{"USD-OIS", "FI-SPREAD"}, map[string]float64{"EURUSD": 1.1}))
		late := loanByTerms("L-LATE", 5000)
		late["attributes"].(map[string]any)["last_payment_date"] = "2026-02-01" // after the run's as-of date
		tiny := loanByTerms("L-TINY", 5000)
		tiny["attributes"].(map[string]any)["monthly_payment"] = 10.0 // not above the first interest of 50
		positions := []map[string]any{loanByTerms("L1", 1000), late, tiny, bond("B1"), fxForward("F1"), loanByTerms("L2", 2000)}
		e.upload(snapshotBody("PS-1", "BOOK-1", "2026-01-23T00:00:00Z", positions), http.StatusCreated)

		b := runBody("RUN-BAD", "MKT-FAIL", "PS-1")
		b["measures"] = []any{"PV", "DV01", "VEGA"}
		b["scenarios"] = []any{"BASE", "CRASH_2008"}
		r := e.postRun(b)
		e.mustStatus(r, http.StatusUnprocessableEntity)
		probs := r.problems(t)
		requirePointer(t, probs, "/market_snapshot_id", "FAIL")
		requirePointer(t, probs, "/market_snapshot_id", "curve LOAN-SPREAD is not in market snapshot MKT-FAIL; 4 position(s)")
		requirePointer(t, probs, "/market_snapshot_id", "curve EUR-OIS is not in market snapshot MKT-FAIL; 1 position(s)")
		requirePointer(t, probs, "/measures/2", "VEGA")
		requirePointer(t, probs, "/scenarios/1", "CRASH_2008")
		requirePointer(t, probs, "/position_snapshot_id", "position snapshot PS-1, position L-LATE at /attributes/last_payment_date")
		requirePointer(t, probs, "/position_snapshot_id", "position snapshot PS-1, position L-TINY at /attributes/monthly_payment")
		// A missing curve is reported once, not once per position.
		n := 0
		for _, p := range probs {
			if strings.Contains(p.Detail, "LOAN-SPREAD") {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("LOAN-SPREAD reported %d times: %+v", n, probs)
		}
		if len(probs) != 7 {
			t.Fatalf("%d problems, want 7: %+v", len(probs), probs)
		}
		// Nothing was written.
		if _, err := e.store.RunGet(e.ctx, "RUN-BAD"); !errors.Is(err, apperr.ErrNotFound) {
			t.Fatalf("refused run stored: %v", err)
		}
		if runs, err := e.store.RunList(e.ctx, store.RunListParams{ListParams: store.ListParams{Limit: 10}}); err != nil || len(runs) != 0 {
			t.Fatalf("runs %d %v", len(runs), err)
		}

		// Missing snapshots and market.
		r = e.postRun(runBody("RUN-BAD", "MKT-NONE", "PS-NONE"))
		e.mustStatus(r, http.StatusUnprocessableEntity)
		probs = r.problems(t)
		requirePointer(t, probs, "/market_snapshot_id", "does not exist")
		requirePointer(t, probs, "/position_snapshot_id", "does not exist")

		// A market snapshot whose payload does not build a market.
		e.addMarket("MKT-BROKEN", "WARN", []byte(`{"snapshot_id":"MKT-BROKEN","as_of_time":"2026-01-23T00:00:00Z","fx_spots":[],"curves":[{"curve_id":"USD-OIS","curve_type":"DISCOUNT","nodes":[]}]}`))
		r = e.postRun(runBody("RUN-BAD", "MKT-BROKEN", "PS-1"))
		e.mustStatus(r, http.StatusUnprocessableEntity)
		requirePointer(t, r.problems(t), "/market_snapshot_id", "cannot be used for pricing")

		// An empty snapshot values nothing.
		e.addFullMarket("MKT-OK")
		e.upload(snapshotBody("PS-EMPTY", "BOOK-E", "2026-01-23T00:00:00Z", []map[string]any{}), http.StatusCreated)
		r = e.postRun(runBody("RUN-BAD", "MKT-OK", "PS-EMPTY"))
		e.mustStatus(r, http.StatusUnprocessableEntity)
		requirePointer(t, r.problems(t), "/position_snapshot_id", "no positions")

		if got := metricValue(t, e, "iprs_orchestrator_prerun_check_failures_total"); got != 4 {
			t.Fatalf("pre-run check failures metric %v, want 4", got)
		}
	})
}

func TestRunPreRunCheckCapsProblems(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		max, positions int
	}{{10, 25}, {700, 600}} {
		eachStore(t, envOpts{maxProblems: c.max}, func(t *testing.T, e *env) {
			e.addFullMarket("MKT-1")
			var positions []map[string]any
			for i := 0; i < c.positions; i++ {
				p := loanByTerms(fmt.Sprintf("L%04d", i), 1000)
				p["attributes"].(map[string]any)["last_payment_date"] = "2026-03-01"
				positions = append(positions, p)
			}
			e.upload(snapshotBody("PS-1", "BOOK-1", "2026-01-23T00:00:00Z", positions), http.StatusCreated)
			r := e.postRun(runBody("RUN-1", "MKT-1", "PS-1"))
			e.mustStatus(r, http.StatusUnprocessableEntity)
			probs := r.problems(t)
			listed := min(c.max, c.positions)
			if c.positions > c.max {
				if len(probs) != listed+1 || !strings.Contains(probs[listed].Detail, fmt.Sprintf("%d more", c.positions-c.max)) {
					t.Fatalf("problems %+v", probs)
				}
			} else if len(probs) != listed {
				t.Fatalf("%d problems, want %d", len(probs), listed)
			}
			// Listed in upload order, whatever the number of check workers.
			for i := 0; i < listed; i++ {
				want := fmt.Sprintf("position snapshot PS-1, position L%04d at /attributes/last_payment_date", i)
				if probs[i].Pointer != "/position_snapshot_id" || !strings.HasPrefix(probs[i].Detail, want) {
					t.Fatalf("problem %d: %+v, want %q", i, probs[i], want)
				}
			}
		})
	}
}

func TestRunPortfolioScope(t *testing.T) {
	t.Parallel()
	eachStore(t, envOpts{}, func(t *testing.T, e *env) {
		e.addFullMarket("MKT-1")
		// Book A at three as-of times, book B once, book C only after the run.
		e.upload(snapshotBody("PS-A-20", "BOOK-A", "2026-01-20T00:00:00Z", mixedBook(3)), http.StatusCreated)
		e.upload(snapshotBody("PS-A-22", "BOOK-A", "2026-01-22T21:00:00Z", mixedBook(6)), http.StatusCreated)
		e.upload(snapshotBody("PS-A-24", "BOOK-A", "2026-01-24T00:00:00Z", mixedBook(9)), http.StatusCreated)
		e.upload(snapshotBody("PS-B-23", "BOOK-B", "2026-01-23T00:00:00Z", []map[string]any{loanByTerms("L0", 77)}), http.StatusCreated)
		e.upload(snapshotBody("PS-C-25", "BOOK-C", "2026-01-25T00:00:00Z", mixedBook(2)), http.StatusCreated)

		scoped := func(runID string, nodes ...any) map[string]any {
			b := runBody(runID, "MKT-1", "")
			delete(b, "position_snapshot_id")
			b["portfolio_scope"] = map[string]any{"node_ids": nodes}
			return b
		}
		r := e.postRun(scoped("RUN-A", "BOOK-A"))
		e.mustStatus(r, http.StatusCreated)
		run := r.json(t)
		if run["position_snapshot_id"] != "PS-A-22" || !reflect.DeepEqual(run["portfolio_scope"], map[string]any{"node_ids": []any{"BOOK-A"}}) {
			t.Fatalf("run A %s", r.body)
		}

		r = e.postRun(scoped("RUN-AB", "BOOK-B", "BOOK-A", "BOOK-B"))
		e.mustStatus(r, http.StatusCreated)
		run = r.json(t)
		if run["position_snapshot_id"] != nil || !reflect.DeepEqual(run["position_snapshot_ids"], []any{"PS-A-22", "PS-B-23"}) {
			t.Fatalf("run AB %s", r.body)
		}
		if !reflect.DeepEqual(run["portfolio_scope"], map[string]any{"node_ids": []any{"BOOK-B", "BOOK-A"}}) {
			t.Fatalf("scope not normalized: %v", run["portfolio_scope"])
		}
		// L0 is in both books: the run values 7 positions, one of them twice.
		if num(run["progress"].(map[string]any)["positions_total"]) != 7 {
			t.Fatalf("positions_total %v", run["progress"])
		}
		want := expectedTasks(append(mixedBook(6), loanByTerms("L0", 77)), 1)
		if got := taskCounts(e.tasks("RUN-AB")); !reflect.DeepEqual(got, want) {
			t.Fatalf("tasks %v, want %v", got, want)
		}

		// A later as-of picks the later snapshot.
		b := scoped("RUN-A-LATER", "BOOK-A")
		b["as_of_time"] = "2026-01-24T00:00:00Z"
		r = e.postRun(b)
		e.mustStatus(r, http.StatusCreated)
		if r.json(t)["position_snapshot_id"] != "PS-A-24" {
			t.Fatalf("later run %s", r.body)
		}

		// A node without a snapshot at or before the as-of time: 422 naming it.
		r = e.postRun(scoped("RUN-C", "BOOK-A", "BOOK-C", "BOOK-NONE"))
		e.mustStatus(r, http.StatusUnprocessableEntity)
		probs := r.problems(t)
		requirePointer(t, probs, "/portfolio_scope/node_ids/1", "BOOK-C")
		requirePointer(t, probs, "/portfolio_scope/node_ids/2", "BOOK-NONE")
	})
}

func TestRunCompatFixture(t *testing.T) {
	t.Parallel()
	eachStore(t, envOpts{}, func(t *testing.T, e *env) {
		mkt := readFixture(t, "market_snapshot_demo.json")
		var m map[string]any
		if err := json.Unmarshal(mkt, &m); err != nil {
			t.Fatal(err)
		}
		e.addMarket(str(m["snapshot_id"]), "PASS", mkt)
		e.upload(readFixture(t, "positions_snapshot_demo.json"), http.StatusCreated)
		storeModelSet(t, e, "MODELSET-DEMO-001") // the fixture names it
		body := readFixture(t, "run_request_demo.json")
		body = bytes.Replace(body, []byte("WILL_BE_OVERRIDDEN_BY_SCRIPT"), []byte(str(m["snapshot_id"])), 1)
		r := e.postRun(body)
		e.mustStatus(r, http.StatusCreated)
		run := r.json(t)
		if run["run_id"] != "RUN-DEMO-20260123-001" || !reflect.DeepEqual(run["scenarios"], []any{"BASE"}) ||
			num(run["execution"].(map[string]any)["hash_mod"]) != 8 || run["model_set_id"] != "MODELSET-DEMO-001" {
			t.Fatalf("run %s", r.body)
		}
		want := expectedTasks([]map[string]any{
			{"product_type": "AMORT_LOAN", "position_id": "POS-SFC_5685642"},
			{"product_type": "AMORT_LOAN", "position_id": "POS-SFC_5707491"},
			{"product_type": "AMORT_LOAN", "position_id": "POS-SFC_5724283"},
		}, 8)
		if got := taskCounts(e.tasks("RUN-DEMO-20260123-001")); !reflect.DeepEqual(got, want) {
			t.Fatalf("tasks %v, want %v", got, want)
		}
		r = e.postRun(body)
		e.mustStatus(r, http.StatusOK)
	})
}

func TestRunConcurrentDuplicates(t *testing.T) {
	t.Parallel()
	eachStore(t, envOpts{}, func(t *testing.T, e *env) {
		e.addFullMarket("MKT-1")
		positions := mixedBook(30)
		e.upload(snapshotBody("PS-1", "BOOK-1", "2026-01-23T00:00:00Z", positions), http.StatusCreated)
		body := runBody("RUN-DUP", "MKT-1", "PS-1")
		body["execution"] = map[string]any{"hash_mod": 2}
		const n = 16
		statuses := make([]int, n)
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				statuses[i] = e.postRun(body).status
			}(i)
		}
		wg.Wait()
		created := 0
		for _, s := range statuses {
			switch s {
			case http.StatusCreated:
				created++
			case http.StatusOK:
			default:
				t.Fatalf("status %d among %v", s, statuses)
			}
		}
		if created != 1 {
			t.Fatalf("%d runs created: %v", created, statuses)
		}
		runs, err := e.store.RunList(e.ctx, store.RunListParams{ListParams: store.ListParams{Limit: 100}})
		if err != nil || len(runs) != 1 {
			t.Fatalf("runs %d %v", len(runs), err)
		}
		want := expectedTasks(positions, 2)
		if got := taskCounts(e.tasks("RUN-DUP")); !reflect.DeepEqual(got, want) {
			t.Fatalf("tasks %v, want %v", got, want)
		}
		if got := metricValue(t, e, `iprs_orchestrator_runs_created_total{run_type="SANDBOX"}`); got != 1 {
			t.Fatalf("runs created metric %v", got)
		}
	})
}

func TestRunListAndStatusFilter(t *testing.T) {
	t.Parallel()
	eachStore(t, envOpts{}, func(t *testing.T, e *env) {
		e.addFullMarket("MKT-1")
		e.upload(snapshotBody("PS-1", "BOOK-1", "2026-01-23T00:00:00Z", mixedBook(3)), http.StatusCreated)
		for i := 0; i < 3; i++ {
			e.mustStatus(e.postRun(runBody("RUN-"+strconv.Itoa(i), "MKT-1", "PS-1")), http.StatusCreated)
		}
		e.mustStatus(e.do(http.MethodPost, "/orch/runs/RUN-1/cancel", nil), http.StatusAccepted)

		var ids []string
		cursor := ""
		for page := 0; ; page++ {
			path := "/orch/runs?limit=2"
			if cursor != "" {
				path += "&cursor=" + cursor
			}
			r := e.do(http.MethodGet, path, nil)
			e.mustStatus(r, http.StatusOK)
			var l struct {
				Items []struct {
					RunID string `json:"run_id"`
				} `json:"items"`
				NextCursor *string `json:"next_cursor"`
			}
			if err := json.Unmarshal(r.body, &l); err != nil {
				t.Fatal(err)
			}
			for _, it := range l.Items {
				ids = append(ids, it.RunID)
			}
			if l.NextCursor == nil {
				break
			}
			cursor = *l.NextCursor
			if page > 3 {
				t.Fatal("too many pages")
			}
		}
		if !reflect.DeepEqual(ids, []string{"RUN-2", "RUN-1", "RUN-0"}) {
			t.Fatalf("runs newest first: %v", ids)
		}
		r := e.do(http.MethodGet, "/orch/runs?status=CANCELLED", nil)
		e.mustStatus(r, http.StatusOK)
		if items := r.json(t)["items"].([]any); len(items) != 1 || items[0].(map[string]any)["run_id"] != "RUN-1" {
			t.Fatalf("cancelled runs %s", r.body)
		}
		r = e.do(http.MethodGet, "/orch/runs?status=DONE", nil)
		e.mustStatus(r, http.StatusBadRequest)
		if p := r.problems(t); len(p) != 1 || p[0].Parameter != "status" {
			t.Fatalf("problem %s", r.body)
		}
		e.mustStatus(e.do(http.MethodGet, "/orch/runs?limit=1001", nil), http.StatusBadRequest)
		e.mustStatus(e.do(http.MethodGet, "/orch/runs?cursor=xyz", nil), http.StatusBadRequest)
	})
}

// resultRow is one position's PV (always) and DV01 (when hasDV01) under
// one scenario, as completeRun wrote them.
type resultRow struct {
	PositionSnapshotID, PositionID, ScenarioID string
	PV, DV01                                   float64
	hasDV01                                    bool
}

// completeRun claims every task of a run and completes it with its
// positions' results, values derived from the position id, and returns
// them one per position and scenario.
func completeRun(t *testing.T, e *env, runID string, scenarios []string) []*resultRow {
	t.Helper()
	var all []*resultRow
	for {
		task, err := e.store.TaskClaim(e.ctx, store.TaskClaimParams{Owner: "test-worker", Lease: time.Minute})
		if errors.Is(err, apperr.ErrNotFound) {
			break
		}
		if err != nil {
			t.Fatalf("claim: %v", err)
		}
		b := taskresult.New(runID, task.ID, scenarios, []pricing.Measure{pricing.PV, pricing.DV01}, 0)
		err = e.store.TaskPositions(e.ctx, task, func(p *store.Position) error {
			vals := make([]pricing.Values, len(scenarios))
			for i, s := range scenarios {
				row := &resultRow{PositionSnapshotID: p.SnapshotID, PositionID: p.PositionID, ScenarioID: s,
					PV: float64(len(p.PositionID))*1000.5 + 0.1}
				vals[i].Set(pricing.PV, row.PV)
				if p.ProductType != "FX_FWD" {
					row.DV01, row.hasDV01 = -0.1*float64(len(p.PositionID)), true
					vals[i].Set(pricing.DV01, row.DV01)
				}
				all = append(all, row)
			}
			b.Add(taskresult.Position{SnapshotID: p.SnapshotID, PositionID: p.PositionID, InstrumentID: p.InstrumentID,
				ProductType: p.ProductType, PortfolioNodeID: p.PortfolioNodeID}, vals)
			return nil
		})
		if err != nil {
			t.Fatalf("task positions: %v", err)
		}
		rows, aggs := b.Results()
		if err := e.store.TaskComplete(e.ctx, store.TaskCompleteParams{ClaimRef: task.Ref(), Results: rows, Aggregates: aggs}); err != nil {
			t.Fatalf("complete: %v", err)
		}
	}
	return all
}

// expectedPublishHash recomputes the documented recipe from the run answer,
// the snapshots' hashes and the result rows.
func expectedPublishHash(t *testing.T, run map[string]any, marketID, marketHash string, snaps map[string]string, rows []*resultRow) string {
	t.Helper()
	ids := make([]string, 0, len(snaps))
	for id := range snaps {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var ps []string
	for _, id := range ids {
		ps = append(ps, fmt.Sprintf(`{"id":%q,"payload_hash":%q}`, id, snaps[id]))
	}
	request, err := canon.Marshal(run["request"])
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	versions, err := canon.Marshal(run["engine_versions"])
	if err != nil {
		t.Fatal(err)
	}
	b.WriteString("iprs-publish-v2\n")
	fmt.Fprintf(&b, `{"engine_version":%q,"engine_versions":%s,"market_snapshot":{"id":%q,"payload_hash":%q},"position_snapshots":[%s],"request":%s,"run_id":%q}`+"\n",
		run["engine_version"], versions, marketID, marketHash, strings.Join(ps, ","), request, run["run_id"])
	sorted := append([]*resultRow(nil), rows...)
	sort.Slice(sorted, func(i, j int) bool {
		a, c := sorted[i], sorted[j]
		if a.PositionSnapshotID != c.PositionSnapshotID {
			return a.PositionSnapshotID < c.PositionSnapshotID
		}
		if a.PositionID != c.PositionID {
			return a.PositionID < c.PositionID
		}
		return a.ScenarioID < c.ScenarioID
	})
	for _, r := range sorted {
		m := map[string]float64{"PV": r.PV}
		if r.hasDV01 {
			m["DV01"] = r.DV01
		}
		line, err := canon.Marshal(map[string]any{
			"measures": m, "position_id": r.PositionID, "position_snapshot_id": r.PositionSnapshotID, "scenario_id": r.ScenarioID,
		})
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:])
}

func TestRunCancelAndPublish(t *testing.T) {
	t.Parallel()
	eachStore(t, envOpts{}, func(t *testing.T, e *env) {
		ms := e.addFullMarket("MKT-1")
		positions := mixedBook(9)
		snapA := e.upload(snapshotBody("PS-A", "BOOK-A", "2026-01-23T00:00:00Z", positions), http.StatusCreated)
		snapB := e.upload(snapshotBody("PS-B", "BOOK-B", "2026-01-23T00:00:00Z", mixedBook(4)), http.StatusCreated)

		// Cancel a queued run: no task runs, so it is CANCELLED at once.
		e.mustStatus(e.postRun(runBody("RUN-C", "MKT-1", "PS-A")), http.StatusCreated)
		// Cancel and publish take no members: one is unknown (400), and
		// the run is left as it was.
		for _, route := range []string{"cancel", "publish"} {
			r := e.do(http.MethodPost, "/orch/runs/RUN-C/"+route, []byte(`{"reason": "x"}`))
			e.mustStatus(r, http.StatusBadRequest)
			if !strings.Contains(string(r.body), `"pointer":"/reason"`) {
				t.Fatalf("%s with a member: %s", route, r.body)
			}
		}
		if r := e.do(http.MethodGet, "/orch/runs/RUN-C", nil); r.json(t)["status"] != "QUEUED" {
			t.Fatalf("run after refused cancel: %s", r.body)
		}
		r := e.do(http.MethodPost, "/orch/runs/RUN-C/cancel", []byte(`{}`))
		e.mustStatus(r, http.StatusAccepted)
		if got := r.json(t); got["status"] != "CANCELLED" {
			t.Fatalf("cancelled run %s", r.body)
		}
		for _, tk := range e.tasks("RUN-C") {
			if tk.Status != "CANCELLED" {
				t.Fatalf("task %+v", tk)
			}
		}
		r = e.do(http.MethodPost, "/orch/runs/RUN-C/cancel", nil) // again: unchanged
		e.mustStatus(r, http.StatusAccepted)
		if got := r.json(t); got["status"] != "CANCELLED" {
			t.Fatalf("cancelled twice %s", r.body)
		}
		e.mustStatus(e.do(http.MethodPost, "/orch/runs/RUN-C/publish", nil), http.StatusConflict)
		e.mustStatus(e.do(http.MethodPost, "/orch/runs/NOPE/cancel", nil), http.StatusNotFound)
		e.mustStatus(e.do(http.MethodPost, "/orch/runs/NOPE/publish", nil), http.StatusNotFound)

		// A run over both books, completed through the store.
		body := runBody("RUN-P", "MKT-1", "")
		delete(body, "position_snapshot_id")
		body["portfolio_scope"] = map[string]any{"node_ids": []any{"BOOK-A", "BOOK-B"}}
		body["scenarios"] = []any{"BASE", "SPREAD_25BP"}
		body["execution"] = map[string]any{"hash_mod": 2}
		e.mustStatus(e.postRun(body), http.StatusCreated)
		e.mustStatus(e.do(http.MethodPost, "/orch/runs/RUN-P/publish", nil), http.StatusConflict) // QUEUED
		rows := completeRun(t, e, "RUN-P", []string{"BASE", "SPREAD_25BP"})
		if len(rows) != 2*13 {
			t.Fatalf("%d result rows", len(rows))
		}
		r = e.do(http.MethodGet, "/orch/runs/RUN-P", nil)
		e.mustStatus(r, http.StatusOK)
		run := r.json(t)
		prog := run["progress"].(map[string]any)
		if run["status"] != "COMPLETED" || num(prog["positions_done"]) != 13 || run["completed_at"] == nil {
			t.Fatalf("completed run %s", r.body)
		}
		// A completed run cannot be cancelled.
		e.mustStatus(e.do(http.MethodPost, "/orch/runs/RUN-P/cancel", nil), http.StatusConflict)

		r = e.do(http.MethodPost, "/orch/runs/RUN-P/publish", nil)
		e.mustStatus(r, http.StatusOK)
		pub := r.json(t)
		want := expectedPublishHash(t, run, "MKT-1", ms.PayloadHash,
			map[string]string{"PS-A": str(snapA["payload_hash"]), "PS-B": str(snapB["payload_hash"])}, rows)
		if pub["status"] != "PUBLISHED" || pub["publish_hash"] != want || pub["published_at"] == nil {
			t.Fatalf("published %s, want hash %s", r.body, want)
		}
		// Publishing twice: 409 naming the stored hash, which does not change.
		r = e.do(http.MethodPost, "/orch/runs/RUN-P/publish", nil)
		e.mustStatus(r, http.StatusConflict)
		if !strings.Contains(string(r.body), want) {
			t.Fatalf("second publish %s", r.body)
		}
		stored, err := e.store.RunGet(e.ctx, "RUN-P")
		if err != nil || stored.PublishHash != want || stored.Status != store.RunPublished {
			t.Fatalf("stored %+v %v", stored, err)
		}
		// The hash changes with any result bit.
		rows[0].PV = math.Nextafter(rows[0].PV, math.Inf(1))
		if expectedPublishHash(t, run, "MKT-1", ms.PayloadHash,
			map[string]string{"PS-A": str(snapA["payload_hash"]), "PS-B": str(snapB["payload_hash"])}, rows) == want {
			t.Fatal("publish hash does not depend on result bits")
		}
	})
}

// metricValue reads one series from the service's registry.
func metricValue(t *testing.T, e *env, series string) float64 {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	name, labels, _ := strings.Cut(series, "{")
	labels = strings.TrimSuffix(labels, "}")
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var parts []string
			for _, l := range m.GetLabel() {
				parts = append(parts, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			if strings.Join(parts, ",") == labels {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("series %s not found", series)
	return 0
}

func TestRunCancelWhileRunningAndFailedRun(t *testing.T) {
	t.Parallel()
	eachStore(t, envOpts{}, func(t *testing.T, e *env) {
		e.addFullMarket("MKT-1")
		e.upload(snapshotBody("PS-1", "BOOK-1", "2026-01-23T00:00:00Z", mixedBook(6)), http.StatusCreated)

		// A run with a running task: cancel leaves it CANCELLING until the
		// task ends.
		e.mustStatus(e.postRun(runBody("RUN-X", "MKT-1", "PS-1")), http.StatusCreated)
		task, err := e.store.TaskClaim(e.ctx, store.TaskClaimParams{Owner: "w1", Lease: time.Minute})
		if err != nil {
			t.Fatalf("claim: %v", err)
		}
		r := e.do(http.MethodPost, "/orch/runs/RUN-X/cancel", nil)
		e.mustStatus(r, http.StatusAccepted)
		if got := r.json(t); got["status"] != "CANCELLING" || got["started_at"] == nil {
			t.Fatalf("cancelling run %s", r.body)
		}
		byStatus := map[string]int{}
		for _, tk := range e.tasks("RUN-X") {
			byStatus[tk.Status]++
		}
		if !reflect.DeepEqual(byStatus, map[string]int{"RUNNING": 1, "CANCELLED": 2}) {
			t.Fatalf("tasks by status %v", byStatus)
		}
		e.mustStatus(e.do(http.MethodPost, "/orch/runs/RUN-X/cancel", nil), http.StatusAccepted)
		if err := e.store.TaskComplete(e.ctx, store.TaskCompleteParams{ClaimRef: task.Ref()}); err != nil {
			t.Fatalf("complete: %v", err)
		}
		r = e.do(http.MethodGet, "/orch/runs/RUN-X", nil)
		e.mustStatus(r, http.StatusOK)
		if got := r.json(t); got["status"] != "CANCELLED" {
			t.Fatalf("run after its last task %s", r.body)
		}

		// A run with a dead task ends FAILED: no cancel, no publish.
		e.mustStatus(e.postRun(runBody("RUN-F", "MKT-1", "PS-1")), http.StatusCreated)
		for i := 0; ; i++ {
			tk, err := e.store.TaskClaim(e.ctx, store.TaskClaimParams{Owner: "w2", Lease: time.Minute})
			if errors.Is(err, apperr.ErrNotFound) {
				break
			}
			if err != nil {
				t.Fatalf("claim: %v", err)
			}
			if i == 0 {
				err = e.store.TaskFail(e.ctx, store.TaskFailParams{ClaimRef: tk.Ref(), Error: "position L0: cannot be priced", Permanent: true})
			} else {
				err = e.store.TaskComplete(e.ctx, store.TaskCompleteParams{ClaimRef: tk.Ref(), EngineVersion: "pricing-worker-2"})
			}
			if err != nil {
				t.Fatalf("settle task: %v", err)
			}
		}
		r = e.do(http.MethodGet, "/orch/runs/RUN-F", nil)
		e.mustStatus(r, http.StatusOK)
		run := r.json(t)
		if run["status"] != "FAILED" || num(run["progress"].(map[string]any)["tasks_by_status"].(map[string]any)["DEAD"]) != 1 {
			t.Fatalf("failed run %s", r.body)
		}
		var dead []taskRow
		for _, tk := range e.tasks("RUN-F") {
			switch tk.Status {
			case "DEAD":
				dead = append(dead, tk)
			case "SUCCEEDED":
				if tk.EngineVersion == nil || *tk.EngineVersion != "pricing-worker-2" || tk.Failures != 0 || tk.LeaseExpiries != 0 {
					t.Errorf("succeeded task %+v, want engine_version pricing-worker-2, no failure, no lease expiry", tk)
				}
			}
		}
		if len(dead) != 1 || dead[0].LastError == nil || !strings.Contains(*dead[0].LastError, "cannot be priced") || dead[0].Attempts != 1 ||
			dead[0].Failures != 1 || dead[0].EngineVersion != nil {
			t.Fatalf("dead tasks %+v", dead)
		}
		e.mustStatus(e.do(http.MethodPost, "/orch/runs/RUN-F/cancel", nil), http.StatusConflict)
		e.mustStatus(e.do(http.MethodPost, "/orch/runs/RUN-F/publish", nil), http.StatusConflict)
	})
}

func TestRunDelete(t *testing.T) {
	t.Parallel()
	eachStore(t, envOpts{}, func(t *testing.T, e *env) {
		e.addFullMarket("MKT-1")
		e.upload(snapshotBody("PS-A", "BOOK-A", "2026-01-23T00:00:00Z", mixedBook(5)), http.StatusCreated)

		// Queued: 409, and the run stays.
		e.mustStatus(e.postRun(runBody("RUN-Q", "MKT-1", "PS-A")), http.StatusCreated)
		e.mustStatus(e.do(http.MethodDelete, "/orch/runs/RUN-Q", nil), http.StatusConflict)
		e.mustStatus(e.do(http.MethodGet, "/orch/runs/RUN-Q", nil), http.StatusOK)
		// Cancelled (finished, never published): deletable.
		e.mustStatus(e.do(http.MethodPost, "/orch/runs/RUN-Q/cancel", nil), http.StatusAccepted)
		e.mustStatus(e.do(http.MethodDelete, "/orch/runs/RUN-Q", []byte(`{"force":true}`)), http.StatusBadRequest)
		e.mustStatus(e.do(http.MethodDelete, "/orch/runs/RUN-Q", nil), http.StatusNoContent)
		e.mustStatus(e.do(http.MethodGet, "/orch/runs/RUN-Q", nil), http.StatusNotFound)
		e.mustStatus(e.do(http.MethodDelete, "/orch/runs/RUN-Q", nil), http.StatusNotFound)

		// Completed: deletable, results gone; published: 409.
		e.mustStatus(e.postRun(runBody("RUN-D", "MKT-1", "PS-A")), http.StatusCreated)
		completeRun(t, e, "RUN-D", []string{"BASE"})
		e.mustStatus(e.postRun(runBody("RUN-P", "MKT-1", "PS-A")), http.StatusCreated)
		completeRun(t, e, "RUN-P", []string{"BASE"})
		e.mustStatus(e.do(http.MethodPost, "/orch/runs/RUN-P/publish", nil), http.StatusOK)
		e.mustStatus(e.do(http.MethodDelete, "/orch/runs/RUN-P", nil), http.StatusConflict)
		e.mustStatus(e.do(http.MethodDelete, "/orch/runs/RUN-D", nil), http.StatusNoContent)
		if rows, err := e.store.ResultList(e.ctx, store.ResultListParams{RunID: "RUN-D", Limit: 10}); err != nil || len(rows) != 0 {
			t.Errorf("results of the deleted run: %d, %v", len(rows), err)
		}
		if rows, err := e.store.ResultList(e.ctx, store.ResultListParams{RunID: "RUN-P", Limit: 10}); err != nil || len(rows) != 5 {
			t.Errorf("results of the published run: %d, %v; want 5", len(rows), err)
		}
	})
}
