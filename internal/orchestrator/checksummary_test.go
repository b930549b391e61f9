package orchestrator_test

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"sync/atomic"
	"testing"

	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/store/teststore"
)

// scanCountStore counts the pre-run check's reads of whole snapshots.
type scanCountStore struct {
	store.Store
	scans atomic.Int32
}

func (s *scanCountStore) PositionScan(ctx context.Context, ids []string, fn func(*store.Position) error) error {
	s.scans.Add(1)
	return s.Store.PositionScan(ctx, ids, fn)
}

// An upload records what the pre-run check needs of its positions (the
// curves and FX pairs, the last of the loans' last payment dates); a run
// that the summary shows clear is created without reading the positions
// again, and any other run reads them and names every problem as before.
func TestPreRunCheckFromTheSnapshotSummary(t *testing.T) {
	t.Parallel()
	for _, b := range teststore.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			st := &scanCountStore{Store: b.Open(t)}
			e := setup(t, st, envOpts{})
			e.addFullMarket("MKT-OK")
			recent := loanByTerms("L2", 2000)
			recent["attributes"].(map[string]any)["last_payment_date"] = "2026-01-20"
			recent["attributes"].(map[string]any)["next_payment_date"] = "2026-02-20"
			e.upload(snapshotBody("PS-A", "BOOK-A", "2026-01-23T00:00:00Z",
				[]map[string]any{loanByTerms("L1", 1000), recent, bond("B1"), fxForward("F1")}), http.StatusCreated)

			// The summary, as the positions' terms give it: loans on
			// USD-OIS and LOAN-SPREAD, the bond on USD-OIS and
			// FI-SPREAD, the EURUSD forward on both discount curves;
			// the latest last payment is L2's.
			hdr, err := e.store.PositionSnapshotGet(e.ctx, "PS-A")
			if err != nil {
				t.Fatal(err)
			}
			var sum map[string]any
			if err := json.Unmarshal(hdr.CheckSummary, &sum); err != nil {
				t.Fatalf("check summary %q: %v", hdr.CheckSummary, err)
			}
			want := map[string]any{
				"engine_version": "pricing-test-1",
				"curves":         []any{"EUR-OIS", "FI-SPREAD", "LOAN-SPREAD", "USD-OIS"},
				"fx_pairs":       []any{"EURUSD"},
				"clear":          true,
				"clear_from":     "2026-01-20",
			}
			if !reflect.DeepEqual(sum, want) {
				t.Fatalf("check summary %v, want %v", sum, want)
			}

			// As of the 23rd, on a market with everything: no read.
			e.mustStatus(e.postRun(runBody("RUN-1", "MKT-OK", "PS-A")), http.StatusCreated)
			if n := st.scans.Load(); n != 0 {
				t.Fatalf("%d snapshot reads for a run the summary shows clear", n)
			}
			// As of L2's last payment date (any time of that day): none.
			b := runBody("RUN-2", "MKT-OK", "PS-A")
			b["as_of_time"] = "2026-01-20T00:00:00Z"
			e.mustStatus(e.postRun(b), http.StatusCreated)
			if n := st.scans.Load(); n != 0 {
				t.Fatalf("%d snapshot reads for a run on the clear date", n)
			}

			// The day before: the positions are read, and L2 named.
			b = runBody("RUN-3", "MKT-OK", "PS-A")
			b["as_of_time"] = "2026-01-19T23:59:59Z"
			r := e.postRun(b)
			e.mustStatus(r, http.StatusUnprocessableEntity)
			requirePointer(t, r.problems(t), "/position_snapshot_id", "position snapshot PS-A, position L2 at /attributes/last_payment_date")
			if n := st.scans.Load(); n != 1 {
				t.Fatalf("%d snapshot reads, want 1", n)
			}

			// A market without EUR-OIS: read, and the curve reported.
			e.addMarket("MKT-NOEUR", "PASS", marketJSON("MKT-NOEUR", []string{"USD-OIS", "LOAN-SPREAD", "FI-SPREAD"}, map[string]float64{"EURUSD": 1.09}))
			r = e.postRun(runBody("RUN-4", "MKT-NOEUR", "PS-A"))
			e.mustStatus(r, http.StatusUnprocessableEntity)
			requirePointer(t, r.problems(t), "/market_snapshot_id", "curve EUR-OIS is not in market snapshot MKT-NOEUR; 1 position(s)")
			if n := st.scans.Load(); n != 2 {
				t.Fatalf("%d snapshot reads, want 2", n)
			}

			// Another build of the pricing code does not trust the
			// summary: it reads the positions (and finds them fine).
			other := setup(t, st, envOpts{engineVersion: "pricing-test-2"})
			other.mustStatus(other.postRun(runBody("RUN-5", "MKT-OK", "PS-A")), http.StatusCreated)
			if n := st.scans.Load(); n != 3 {
				t.Fatalf("%d snapshot reads, want 3", n)
			}
		})
	}
}
