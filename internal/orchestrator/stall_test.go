package orchestrator_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/orchestrator"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/store/teststore"
	"github.com/iprs/iprs/internal/web"
)

// stalledUpload sends the header and the start of an upload (its positions
// begun) on a raw connection, then sends nothing more. The returned
// function reads the answer.
func stalledUpload(t *testing.T, addr string, n int) func() (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	start := fmt.Sprintf(`{"position_snapshot_id":"PS-STALL-%d","as_of_time":"2026-01-23T00:00:00Z","portfolio_node_id":"BOOK-STALL","positions":[`, n) +
		`{"position_id":"B1","product_type":"FIXED_BOND","attributes":{"cashflows":[{"pay_date":"2026-07-23","amount":25}]}},`
	fmt.Fprintf(conn, "POST /orch/position-snapshots HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", 1<<20, start)
	return func() (int, string) {
		_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("read the stalled upload's answer: %v", err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
}

// serveOrchestrator serves an orchestrator over st on a real listener
// (web.Serve, with its body idle timeouts) and returns its address.
func serveOrchestrator(t *testing.T, st store.Store, opts orchestrator.Options) string {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	svc := orchestrator.New(st, logger, opts)
	mux := web.NewMux(web.Config{Service: "orchestrator", Prefix: "/orch", Logger: logger})
	svc.Register(mux)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- web.Serve(ctx, web.NewServer("", mux.Handler(), logger), ln, time.Second) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}

// A client that sends the start of an upload and stalls holds no store
// resource: other uploads and task claims go on (on SQLite the single
// writer, on PostgreSQL the connection pool, would otherwise be held for
// as long as the client waits), and the stalled upload fails with 408
// once nothing arrived for the body idle timeout.
func TestStalledUploadBlocksNothing(t *testing.T) {
	t.Parallel()
	const idle = 3 * time.Second
	for _, b := range teststore.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			st := b.Open(t)
			addr := serveOrchestrator(t, st, orchestrator.Options{EngineVersion: "t", SpoolDir: t.TempDir(), BodyIdleTimeout: idle})

			// More stalled clients than PostgreSQL connections in the pool.
			var answers []func() (int, string)
			for i := 0; i < 10; i++ {
				answers = append(answers, stalledUpload(t, addr, i))
			}
			began := time.Now()
			time.Sleep(300 * time.Millisecond) // they are being read

			// Another upload goes through at once.
			body := `{"position_snapshot_id":"PS-OTHER","as_of_time":"2026-01-23T00:00:00Z","portfolio_node_id":"BOOK-OTHER","positions":[` +
				`{"position_id":"B1","product_type":"FIXED_BOND","attributes":{"cashflows":[{"pay_date":"2026-07-23","amount":25}]}}]}`
			rctx, rcancel := context.WithTimeout(context.Background(), idle/2)
			defer rcancel()
			req, _ := http.NewRequestWithContext(rctx, http.MethodPost, "http://"+addr+"/orch/position-snapshots", strings.NewReader(body))
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("another upload while clients stall: %v", err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusCreated {
				t.Fatalf("another upload: status %d", res.StatusCode)
			}
			// A task claim (a worker) too: nothing to claim, at once.
			cctx, ccancel := context.WithTimeout(context.Background(), idle/2)
			defer ccancel()
			if _, err := st.TaskClaim(cctx, store.TaskClaimParams{Owner: "w", Lease: time.Minute}); !errors.Is(err, apperr.ErrNotFound) {
				t.Fatalf("task claim while clients stall: %v", err)
			}
			if d := time.Since(began); d > idle {
				t.Fatalf("the other requests took %s", d)
			}

			// The stalled uploads fail once the idle time has passed.
			for i, answer := range answers {
				code, b := answer()
				if code != http.StatusRequestTimeout || !strings.Contains(b, "stalled") {
					t.Fatalf("stalled upload %d: %d %s", i, code, b)
				}
			}
			if d := time.Since(began); d < idle*7/8 || d > idle+5*time.Second {
				t.Fatalf("the stalled uploads were cut off after %s (idle %s)", d, idle)
			}
			if _, err := st.PositionSnapshotLatest(context.Background(), "BOOK-STALL", time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)); !errors.Is(err, apperr.ErrNotFound) {
				t.Fatalf("a stalled upload stored a snapshot: %v", err)
			}
		})
	}
}

// A client that stalls after sending enough rows for the write to begin
// while its body is read (Options.WriteWhileReading) holds the store for
// the write wait limit only: the write is rolled back, other uploads and
// task claims go on long before the stalled upload fails with 408, and
// nothing of it is stored.
func TestStalledUploadAfterRowsLetsGoOfTheStore(t *testing.T) {
	t.Parallel()
	const idle = 5 * time.Second
	const wait = 300 * time.Millisecond
	for _, b := range teststore.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			st := newAddSignalStore(b.Open(t))
			addr := serveOrchestrator(t, st, orchestrator.Options{EngineVersion: "t", SpoolDir: t.TempDir(), BodyIdleTimeout: idle,
				BatchSize: 50, WriteWhileReading: true, WriteWaitLimit: wait})

			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { conn.Close() })
			start := `{"position_snapshot_id":"PS-STALL-ROWS","as_of_time":"2026-01-23T00:00:00Z","portfolio_node_id":"BOOK-STALL","positions":[` +
				loanBookJSON(t, 0, 256*(2*runtime.GOMAXPROCS(0)+2))
			fmt.Fprintf(conn, "POST /orch/position-snapshots HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", 64<<20, start)
			began := time.Now()
			select {
			case <-st.added:
			case <-time.After(idle):
				t.Fatal("no rows were written while the body was read")
			}

			// Another upload and a task claim go through once the
			// stalled upload's write let go, before its 408.
			body := `{"position_snapshot_id":"PS-OTHER","as_of_time":"2026-01-23T00:00:00Z","portfolio_node_id":"BOOK-OTHER","positions":[` +
				`{"position_id":"B1","product_type":"FIXED_BOND","attributes":{"cashflows":[{"pay_date":"2026-07-23","amount":25}]}}]}`
			rctx, rcancel := context.WithTimeout(context.Background(), idle)
			defer rcancel()
			req, _ := http.NewRequestWithContext(rctx, http.MethodPost, "http://"+addr+"/orch/position-snapshots", strings.NewReader(body))
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("another upload while a client stalls: %v", err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusCreated {
				t.Fatalf("another upload: status %d", res.StatusCode)
			}
			if _, err := st.TaskClaim(rctx, store.TaskClaimParams{Owner: "w", Lease: time.Minute}); !errors.Is(err, apperr.ErrNotFound) {
				t.Fatalf("task claim while a client stalls: %v", err)
			}
			if d := time.Since(began); d > idle {
				t.Fatalf("the other requests took %s after the stalled client's last rows (idle timeout %s)", d, idle)
			}

			_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
			res, err = http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("read the stalled upload's answer: %v", err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(b), "stalled") {
				t.Fatalf("stalled upload: %d %s", res.StatusCode, b)
			}
			if _, err := st.PositionSnapshotGet(context.Background(), "PS-STALL-ROWS"); !errors.Is(err, apperr.ErrNotFound) {
				t.Fatalf("a stalled upload stored a snapshot: %v", err)
			}
			if rows, err := st.PositionList(context.Background(), "PS-STALL-ROWS", -1, 10); len(rows) != 0 {
				t.Fatalf("a stalled upload stored %d rows (%v)", len(rows), err)
			}
		})
	}
}
