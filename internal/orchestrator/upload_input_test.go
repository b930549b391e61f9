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
