package orchestrator_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/apperr"
)

// requireNothingStored checks that no snapshot of node exists.
func (e *env) requireNothingStored(node string) {
	e.t.Helper()
	if _, err := e.store.PositionSnapshotLatest(e.ctx, node, time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)); !errors.Is(err, apperr.ErrNotFound) {
		e.t.Fatalf("a snapshot of %s was stored: %v", node, err)
	}
}

// A number beyond the range of a double where a string or a list belongs
// is refused with a pointer to it, like any other value of the wrong type:
// it must not leave the member unset (a zero time, an empty node id, an
// empty snapshot) or be ignored.
func TestUploadRefusesOutOfRangeNumbers(t *testing.T) {
	t.Parallel()
	eachStore(t, envOpts{}, func(t *testing.T, e *env) {
		const pos = `{"position_id":"B1","product_type":"FIXED_BOND","attributes":{"cashflows":[{"pay_date":"2026-07-23","amount":25}]}}`
		cases := []struct {
			name, body, pointer, detail string
		}{
			{"as_of_time", `{"as_of_time":1e400,"portfolio_node_id":"BOOK-R","positions":[` + pos + `]}`, "/as_of_time", "string"},
			{"portfolio_node_id", `{"as_of_time":"2026-01-23T00:00:00Z","portfolio_node_id":-1e400,"positions":[` + pos + `]}`, "/portfolio_node_id", "string"},
			{"positions", `{"as_of_time":"2026-01-23T00:00:00Z","portfolio_node_id":"BOOK-R","positions":1e400}`, "/positions", "list"},
			{"position_snapshot_id", `{"position_snapshot_id":1E+999,"as_of_time":"2026-01-23T00:00:00Z","portfolio_node_id":"BOOK-R","positions":[` + pos + `]}`, "/position_snapshot_id", "string"},
			{"position_snapshot_id after the positions", `{"as_of_time":"2026-01-23T00:00:00Z","portfolio_node_id":"BOOK-R","positions":[` + pos + `],"position_snapshot_id":1e400}`, "/position_snapshot_id", "string"},
			{"unknown member", `{"as_of_time":"2026-01-23T00:00:00Z","portfolio_node_id":"BOOK-R","positions":[` + pos + `],"colour":1e400}`, "/colour", "unknown"},
			{"inside an unknown member", `{"as_of_time":"2026-01-23T00:00:00Z","portfolio_node_id":"BOOK-R","positions":[` + pos + `],"colour":[{"a":1e400}]}`, "/colour", "unknown"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := e.do(http.MethodPost, "/orch/position-snapshots", []byte(c.body))
				if r.status != http.StatusBadRequest {
					t.Fatalf("status %d: %s", r.status, r.body)
				}
				requirePointer(t, r.problems(t), c.pointer, c.detail)
			})
		}
		e.requireNothingStored("BOOK-R")
	})
}

// Text that is not Unicode (an unpaired surrogate escape, bytes that are
// not UTF-8) in a stored name is refused with a pointer, as it is in
// attributes and market snapshots: decoding would store U+FFFD instead.
func TestUploadRefusesInvalidUnicode(t *testing.T) {
	t.Parallel()
	eachStore(t, envOpts{}, func(t *testing.T, e *env) {
		pos := func(id, instrument string) string {
			return `{"position_id":"` + id + `","instrument_id":"` + instrument + `","product_type":"FIXED_BOND","attributes":{"cashflows":[{"pay_date":"2026-07-23","amount":25}]}}`
		}
		body := func(node string, positions ...string) string {
			s := `{"as_of_time":"2026-01-23T00:00:00Z","portfolio_node_id":"` + node + `","positions":[`
			for i, p := range positions {
				if i > 0 {
					s += ","
				}
				s += p
			}
			return s + "]}"
		}
		cases := []struct {
			name, body, pointer, detail string
		}{
			{"lone high surrogate in portfolio_node_id", body(`BOOK-U\ud800`, pos("B1", "I1")), "/portfolio_node_id", "surrogate"},
			{"lone low surrogate in portfolio_node_id", body(`\udfffBOOK-U`, pos("B1", "I1")), "/portfolio_node_id", "surrogate"},
			{"invalid UTF-8 in portfolio_node_id", body("BOOK-U\xff", pos("B1", "I1")), "/portfolio_node_id", "UTF-8"},
			{"high surrogate then a letter in position_id", body("BOOK-U", pos("B0", "I0"), pos(`B1\ud83dx`, "I1")), "/positions/1/position_id", "surrogate"},
			{"invalid UTF-8 in position_id", body("BOOK-U", pos("B1\xc3", "I1")), "/positions/0/position_id", "UTF-8"},
			{"lone surrogate in instrument_id", body("BOOK-U", pos("B1", `I\udc00`)), "/positions/0/instrument_id", "surrogate"},
			{"truncated UTF-8 in instrument_id", body("BOOK-U", pos("B1", "I\xe2\x82")), "/positions/0/instrument_id", "UTF-8"},
			{"overlong UTF-8 in product_type", "{\"as_of_time\":\"2026-01-23T00:00:00Z\",\"portfolio_node_id\":\"BOOK-U\",\"positions\":[{\"position_id\":\"B1\",\"product_type\":\"FIXED_BOND\xc0\xaf\",\"attributes\":{}}]}", "/positions/0/product_type", "UTF-8"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := e.do(http.MethodPost, "/orch/position-snapshots", []byte(c.body))
				if r.status != http.StatusBadRequest {
					t.Fatalf("status %d: %s", r.status, r.body)
				}
				requirePointer(t, r.problems(t), c.pointer, c.detail)
			})
		}
		e.requireNothingStored("BOOK-U")
		e.requireNothingStored("BOOK-U\uFFFD")
		e.requireNothingStored("\uFFFDBOOK-U")

		// A surrogate pair is one character, stored as such.
		got := e.upload([]byte(body(`BOOK-\ud83d\ude00`, pos(`B\ud83d\ude00`, `I\u00e9`))), http.StatusCreated)
		if got["portfolio_node_id"] != "BOOK-\U0001F600" {
			t.Fatalf("answer %v", got)
		}
		rows, err := e.store.PositionList(e.ctx, str(got["position_snapshot_id"]), -1, 10)
		if err != nil || len(rows) != 1 || rows[0].PositionID != "B\U0001F600" || rows[0].InstrumentID != "I\u00e9" {
			t.Fatalf("rows %+v %v", rows, err)
		}
	})
}

// A run request is refused alike.
func TestRunRequestRefusesInvalidUnicode(t *testing.T) {
	t.Parallel()
	eachStore(t, envOpts{}, func(t *testing.T, e *env) {
		cases := []struct {
			name, body, pointer, detail string
		}{
			{"market_snapshot_id", `{"run_type":"SANDBOX","as_of_time":"2026-01-23T00:00:00Z","market_snapshot_id":"MKT\ud800","position_snapshot_id":"PS-1","measures":["PV"],"scenarios":["BASE"]}`, "/market_snapshot_id", "surrogate"},
			{"node id", `{"run_type":"SANDBOX","as_of_time":"2026-01-23T00:00:00Z","market_snapshot_id":"MKT","portfolio_scope":{"node_ids":["A","B` + "\xff" + `"]},"measures":["PV"],"scenarios":["BASE"]}`, "/portfolio_scope/node_ids/1", "UTF-8"},
			{"scenario", `{"run_type":"SANDBOX","as_of_time":"2026-01-23T00:00:00Z","market_snapshot_id":"MKT","position_snapshot_id":"PS-1","measures":["PV"],"scenarios":["BASE",{"scenario_set_id":"S\udbff"}]}`, "/scenarios/1/scenario_set_id", "surrogate"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := e.do(http.MethodPost, "/orch/runs", []byte(c.body))
				if r.status != http.StatusBadRequest {
					t.Fatalf("status %d: %s", r.status, r.body)
				}
				requirePointer(t, r.problems(t), c.pointer, c.detail)
			})
		}
	})
}

// A member given twice is refused in a run request, as in snapshot
// uploads: encoding/json would keep the last one silently, so that
// "run_id":"A",…,"run_id":"B" made run B.
func TestRunRequestRefusesDuplicateMembers(t *testing.T) {
	t.Parallel()
	eachStore(t, envOpts{}, func(t *testing.T, e *env) {
		const rest = `"run_type":"SANDBOX","as_of_time":"2026-01-23T00:00:00Z","market_snapshot_id":"MKT","position_snapshot_id":"PS-1","measures":["PV"],"scenarios":["BASE"]`
		cases := []struct {
			name, path, body, pointer string
		}{
			{"run_id", "/orch/runs", `{"run_id":"A",` + rest + `,"run_id":"B"}`, "/run_id"},
			{"nested", "/orch/runs", `{` + rest + `,"execution":{"hash_mod":1,"max_attempts":2,"hash_mod":4}}`, "/execution/hash_mod"},
			{"in a scenario object", "/orch/runs", `{"run_type":"SANDBOX","as_of_time":"2026-01-23T00:00:00Z","market_snapshot_id":"MKT","position_snapshot_id":"PS-1","measures":["PV"],"scenarios":[{"scenario_set_id":"S1","scenario_set_id":"S2"}]}`, "/scenarios/0/scenario_set_id"},
			{"escaped spelling", "/orch/runs", `{"run_id":"A",` + rest + `,"run\u005fid":"B"}`, "/run_id"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := e.do(http.MethodPost, c.path, []byte(c.body))
				if r.status != http.StatusBadRequest {
					t.Fatalf("status %d: %s", r.status, r.body)
				}
				requirePointer(t, r.problems(t), c.pointer, "more than once")
			})
		}
		if _, err := e.store.RunGet(e.ctx, "B"); !errors.Is(err, apperr.ErrNotFound) {
			t.Fatalf("run B: %v", err)
		}
	})
}

// SPEC §1: on every route, an unknown query parameter is a 400 naming it;
// so is a known one given twice (which would otherwise be read as the
// first silently).
func TestOrchestratorRoutesRefuseUnknownQueryParameters(t *testing.T) {
	t.Parallel()
	eachStore(t, envOpts{}, func(t *testing.T, e *env) {
		e.upload(snapshotBody("PS-Q", "BOOK-Q", "2026-01-23T00:00:00Z", []map[string]any{bond("B1")}), http.StatusCreated)
		for _, c := range []struct{ method, path, param string }{
			{"GET", "/orch/position-snapshots/PS-Q?verbose=1", "verbose"},
			{"GET", "/orch/position-snapshots/PS-Q/positions?limit=1&offset=3", "offset"},
			{"GET", "/orch/position-snapshots/PS-Q/positions?limit=1&limit=2", "limit"},
			{"GET", "/orch/runs?state=QUEUED", "state"},
			{"GET", "/orch/runs?status=QUEUED&status=RUNNING", "status"},
			{"GET", "/orch/runs/R-NONE?x=1", "x"},
			{"GET", "/orch/runs/R-NONE/tasks?x=1", "x"},
			{"POST", "/orch/runs?dry_run=true", "dry_run"},
			{"POST", "/orch/runs/R-NONE/cancel?force=1", "force"},
			{"POST", "/orch/runs/R-NONE/publish?force=1", "force"},
		} {
			var body []byte
			if c.method == "POST" {
				body = []byte(`{}`)
			}
			r := e.do(c.method, c.path, body)
			if r.status != http.StatusBadRequest {
				t.Fatalf("%s %s: %d %s", c.method, c.path, r.status, r.body)
			}
			found := false
			for _, p := range r.problems(t) {
				found = found || p.Parameter == c.param
			}
			if !found {
				t.Fatalf("%s %s: no problem naming %q: %s", c.method, c.path, c.param, r.body)
			}
		}
		// The known ones still work.
		e.mustStatus(e.do("GET", "/orch/position-snapshots/PS-Q/positions?limit=1", nil), http.StatusOK)
		e.mustStatus(e.do("GET", "/orch/runs?status=QUEUED&limit=5", nil), http.StatusOK)
	})
}
