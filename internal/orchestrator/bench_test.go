package orchestrator_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/orchestrator"
	"github.com/iprs/iprs/internal/store/sqlite"
	"github.com/iprs/iprs/internal/web"
)

// writeLoanBook streams a snapshot of n loans given by their terms, built
// one position at a time so the client never holds the document either.
func writeLoanBook(w io.Writer, node string, n int) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	fmt.Fprintf(bw, `{"as_of_time":"2026-01-23T00:00:00Z","portfolio_node_id":%q,"positions":[`, node)
	for i := 0; i < n; i++ {
		if i > 0 {
			bw.WriteByte(',')
		}
		day := 1 + i%28
		fmt.Fprintf(bw, `{"position_id":"%s-L%07d","instrument_id":"LN%07d","product_type":"AMORT_LOAN","quantity":1,`+
			`"attributes":{"current_principal":%d.25,"coupon_rate":0.%03d,"last_payment_date":"2025-12-%02d",`+
			`"next_payment_date":"2026-02-%02d","remaining_term_months":%d,"fico":%d,"state":"FL"}}`,
			node, i, i, 5000+i%50000, 50+i%200, day, day, 12+i%72, 600+i%250)
	}
	bw.WriteString("]}")
	return bw.Flush()
}

// benchServer is an orchestrator over SQLite in dir, answering in process.
func benchServer(tb testing.TB, dir string) (http.Handler, *sqlite.DB) {
	tb.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "bench.db"), sqlite.Options{Migrate: true})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	logger := slog.New(slog.DiscardHandler)
	svc := orchestrator.New(st, logger, orchestrator.Options{EngineVersion: "bench", SpoolDir: dir, MaxUploadBytes: -1})
	mux := web.NewMux(web.Config{Service: "orchestrator", Prefix: "/orch", Logger: logger})
	svc.Register(mux)
	return mux.Handler(), st
}

// uploadStream posts a generated book of n loans through the handler.
func uploadStream(tb testing.TB, h http.Handler, node string, n int) *httptest.ResponseRecorder {
	tb.Helper()
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeLoanBook(pw, node, n)) }()
	req := httptest.NewRequest(http.MethodPost, "/orch/position-snapshots", pr)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// BenchmarkUpload100kLoans uploads 100,000 loans given by their terms
// through the HTTP handler into SQLite, streamed.
func BenchmarkUpload100kLoans(b *testing.B) {
	const n = 100_000
	h, _ := benchServer(b, b.TempDir())
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		rec := uploadStream(b, h, "BOOK-"+strconv.Itoa(i), n)
		if rec.Code != http.StatusCreated {
			b.Fatalf("status %d: %s", rec.Code, rec.Body.Bytes())
		}
	}
	b.ReportMetric(float64(n*b.N)/time.Since(start).Seconds(), "positions/s")
}

// TestUploadMillionPositionsBoundedMemory streams a million loans through
// the handler and checks that the heap stays far below the body size
// (which is about 330 MB). It takes a while, so it runs only when
// IPRS_TEST_MILLION is set.
func TestUploadMillionPositionsBoundedMemory(t *testing.T) {
	if os.Getenv("IPRS_TEST_MILLION") == "" {
		t.Skip("set IPRS_TEST_MILLION=1 to upload a million positions")
	}
	const n = 1_000_000
	h, st := benchServer(t, t.TempDir())
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for {
			select {
			case <-done:
				return
			case <-time.After(50 * time.Millisecond):
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
		}
	}()
	start := time.Now()
	rec := uploadStream(t, h, "BOOK-M", n)
	close(done)
	wg.Wait()
	if rec.Code != http.StatusCreated {
		t.Fatalf("status %d: %s", rec.Code, rec.Body.Bytes())
	}
	var got struct {
		ID    string `json:"position_snapshot_id"`
		Count int64  `json:"position_count"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got.Count != n {
		t.Fatalf("answer %s", rec.Body.Bytes())
	}
	snap, err := st.PositionSnapshotGet(context.Background(), got.ID)
	if err != nil || snap.PositionCount != n {
		t.Fatalf("stored %+v %v", snap, err)
	}
	t.Logf("1,000,000 positions in %s, peak heap in use %d MB", time.Since(start).Round(time.Millisecond), peak.Load()>>20)
	if peak.Load() > 300<<20 {
		t.Fatalf("peak heap %d MB: the upload is not streamed", peak.Load()>>20)
	}
}

// BenchmarkRunCreate100k creates runs over a snapshot of 100,000 loans:
// the pre-run check scans and checks every position, then the run fans
// out (default hash_mod 32) and is stored.
func BenchmarkRunCreate100k(b *testing.B) {
	const n = 100_000
	h, st := benchServer(b, b.TempDir())
	rec := uploadStream(b, h, "BOOK-R", n)
	if rec.Code != http.StatusCreated {
		b.Fatalf("upload status %d: %s", rec.Code, rec.Body.Bytes())
	}
	var snap struct {
		ID string `json:"position_snapshot_id"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &snap); err != nil {
		b.Fatal(err)
	}
	mkt := marketJSON("MKT-B", []string{"USD-OIS", "LOAN-SPREAD"}, nil)
	canonical, sum, err := canonHash(mkt)
	if err != nil {
		b.Fatal(err)
	}
	if _, _, err := st.MarketSnapshotCreate(context.Background(), marketRow("MKT-B", canonical, sum)); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		body := fmt.Sprintf(`{"run_id":"RUN-B-%d","run_type":"SANDBOX","as_of_time":"2026-01-23T00:00:00Z","market_snapshot_id":"MKT-B",`+
			`"position_snapshot_id":%q,"measures":["PV","DV01","CS01"],"scenarios":["BASE","RATES_PARALLEL_1BP"]}`, i, snap.ID)
		req := httptest.NewRequest(http.MethodPost, "/orch/runs", strings.NewReader(body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated {
			b.Fatalf("run status %d: %s", rec.Code, rec.Body.Bytes())
		}
	}
	b.ReportMetric(float64(n*b.N)/time.Since(start).Seconds(), "positions/s")
}
