package orchestrator_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/store/teststore"
)

// addSignalStore tells, on added, each time rows were added to a snapshot
// writer.
type addSignalStore struct {
	store.Store
	added  chan struct{}
	begins atomic.Int32 // PositionSnapshotBegin calls
}

func newAddSignalStore(st store.Store) *addSignalStore {
	return &addSignalStore{Store: st, added: make(chan struct{}, 1)}
}

func (s *addSignalStore) PositionSnapshotBegin(ctx context.Context, id string) (store.PositionSnapshotWriter, error) {
	s.begins.Add(1)
	w, err := s.Store.PositionSnapshotBegin(ctx, id)
	if err != nil {
		return nil, err
	}
	return &addSignalWriter{PositionSnapshotWriter: w, added: s.added}, nil
}

type addSignalWriter struct {
	store.PositionSnapshotWriter
	added chan struct{}
}

func (w *addSignalWriter) Add(ctx context.Context, rows []*store.Position) error {
	err := w.PositionSnapshotWriter.Add(ctx, rows)
	if err == nil {
		select {
		case w.added <- struct{}{}:
		default:
		}
	}
	return err
}

// loanBookJSON is the text of loans L0…L(n-1) as a positions list's
// members, each followed by a comma.
func loanBookJSON(t *testing.T, first, n int) string {
	t.Helper()
	var b strings.Builder
	for i := first; i < first+n; i++ {
		b.Write(mustJSON(t, loanByTerms("L"+strconv.Itoa(i), float64(1000+i))))
		b.WriteByte(',')
	}
	return b.String()
}

// postInTwoParts posts head, then waits until the store was given rows
// (or fails the test after a while), then posts tail; it returns the
// answer.
func postInTwoParts(t *testing.T, e *env, added <-chan struct{}, head, tail string) response {
	t.Helper()
	select { // a signal of an earlier upload
	case <-added:
	default:
	}
	pr, pw := io.Pipe()
	go func() {
		if _, err := io.WriteString(pw, head); err != nil {
			pw.CloseWithError(err)
			return
		}
		select {
		case <-added:
		case <-time.After(20 * time.Second):
			pw.CloseWithError(errors.New("no rows reached the store while the body was read"))
			return
		}
		_, err := io.WriteString(pw, tail)
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequestWithContext(e.ctx, http.MethodPost, e.srv.URL+"/orch/position-snapshots", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("upload in two parts: %v", err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: res.StatusCode, body: b, header: res.Header}
}

// With Options.WriteWhileReading the rows reach the store while the body
// is still arriving (the client sends the rest only once the store was
// given rows), and the snapshot is the one written after the read: the
// same rows, the same payload hash, the same answers to the same upload
// again; a problem found after rows were written leaves nothing.
func TestUploadWrittenWhileReading(t *testing.T) {
	t.Parallel()
	for _, b := range teststore.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			st := newAddSignalStore(b.Open(t))
			e := setup(t, st, envOpts{batchSize: 100, writeWhileReading: true})
			// The upload takes positions in order once enough chunks of
			// 256 are read for every core (package doc), so the first
			// part holds more than that.
			first := 256 * (2*runtime.GOMAXPROCS(0) + 2)
			n := first + 60
			head := `{"as_of_time":"2026-01-23T00:00:00Z","portfolio_node_id":"BOOK-EARLY","positions":[` + loanBookJSON(t, 0, first)
			tail := loanBookJSON(t, first, n-first-1) + string(mustJSON(t, bond("B1"))) + `]}`
			r := postInTwoParts(t, e, st.added, head, tail)
			e.mustStatus(r, http.StatusCreated)
			got := r.json(t)
			id := str(got["position_snapshot_id"])
			if n := st.begins.Load(); n != 1 {
				t.Fatalf("%d snapshot writers begun, want the one that wrote while reading", n)
			}
			if want := expectedPayloadHash(t, []byte(head+tail)); got["payload_hash"] != want || num(got["position_count"]) != float64(n) {
				t.Fatalf("answer %v, want payload_hash %s and %d positions", got, want, n)
			}
			rows, err := e.store.PositionList(e.ctx, id, -1, n+1)
			if err != nil || len(rows) != n {
				t.Fatalf("%d rows, %v", len(rows), err)
			}
			for i, p := range rows {
				want := "L" + strconv.Itoa(i)
				if i == n-1 {
					want = "B1"
				}
				if p.Seq != int64(i) || p.PositionID != want || p.Hash < 0 {
					t.Fatalf("row %d: seq %d id %s", i, p.Seq, p.PositionID)
				}
			}

			// The same content again, without an id: the stored snapshot
			// (200), and nothing else stored.
			r = postInTwoParts(t, e, st.added, head, tail)
			e.mustStatus(r, http.StatusOK)
			if again := r.json(t); again["position_snapshot_id"] != id {
				t.Fatalf("the same upload again answered %v, want %s", again["position_snapshot_id"], id)
			}
			latest, err := e.store.PositionSnapshotLatest(e.ctx, "BOOK-EARLY", time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC))
			if err != nil || latest.ID != id {
				t.Fatalf("latest %+v %v", latest, err)
			}

			// A client id given before the positions, a problem after
			// rows were given to the store: 400, nothing stored, and the
			// store is free for the next upload.
			bad := loanByTerms("LBAD", 1)
			bad["attributes"].(map[string]any)["next_payment_date"] = "15/02/2026"
			head = `{"position_snapshot_id":"PS-EARLY-BAD","as_of_time":"2026-01-23T00:00:00Z","portfolio_node_id":"BOOK-EARLY-BAD","positions":[` + loanBookJSON(t, 0, first)
			tail = loanBookJSON(t, first, 4) + string(mustJSON(t, bad)) + `]}`
			r = postInTwoParts(t, e, st.added, head, tail)
			e.mustStatus(r, http.StatusBadRequest)
			requirePointer(t, r.problems(t), "/positions/"+strconv.Itoa(first+4)+"/attributes/next_payment_date", "")
			if _, err := e.store.PositionSnapshotGet(e.ctx, "PS-EARLY-BAD"); !errors.Is(err, apperr.ErrNotFound) {
				t.Fatalf("refused snapshot stored: %v", err)
			}
			if n, err := e.store.PositionList(e.ctx, "PS-EARLY-BAD", -1, 10); !errors.Is(err, apperr.ErrNotFound) || len(n) != 0 {
				t.Fatalf("rows of the refused snapshot: %d, %v", len(n), err)
			}
			e.upload(snapshotBody("PS-AFTER", "BOOK-EARLY-BAD", "2026-01-23T00:00:00Z", []map[string]any{bond("B1")}), http.StatusCreated)
		})
	}
}
