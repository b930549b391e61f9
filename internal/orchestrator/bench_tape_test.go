package orchestrator_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/gen"
)

// benchLoans is the book size of BenchmarkUploadTwins: 100,000 loans, or
// IPRS_BENCH_LOANS (100k, 1m…).
func benchLoans(b *testing.B) int {
	n := 100_000
	if s := os.Getenv("IPRS_BENCH_LOANS"); s != "" {
		var err error
		if n, err = gen.ParseCount(s); err != nil {
			b.Fatal(err)
		}
	}
	return n
}

// BenchmarkUploadTwins uploads one generated book of loans by their terms
// as a JSON document and as its CSV twin (the same positions, the same
// payload_hash), each from a file written beforehand, through the
// handler into SQLite: the server's side of an upload, without the cost of
// making the book.
func BenchmarkUploadTwins(b *testing.B) {
	n := benchLoans(b)
	dir := b.TempDir()
	asOf := time.Date(2026, 1, 23, 17, 0, 0, 0, time.UTC)
	o := gen.Options{NodeID: "BOOK-B", AsOf: asOf, Loans: n, Seed: 1}
	files := map[string]string{"json": filepath.Join(dir, "book.json"), "csv": filepath.Join(dir, "tape.csv")}
	for format, path := range files {
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		if format == "json" {
			_, err = gen.WritePositionSnapshot(f, o)
		} else {
			_, err = gen.WritePositionTape(f, o)
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	hashes := map[string]string{}
	for _, format := range []string{"json", "csv"} {
		b.Run(format, func(b *testing.B) {
			h, _ := benchServer(b, b.TempDir())
			fi, err := os.Stat(files[format])
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(fi.Size())
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				f, err := os.Open(files[format])
				if err != nil {
					b.Fatal(err)
				}
				path := "/orch/position-snapshots"
				ct := "application/json"
				if format == "csv" {
					path += "?portfolio_node_id=BOOK-B&as_of_time=2026-01-23T17:00:00Z"
					ct = "text/csv"
				}
				req := httptest.NewRequest(http.MethodPost, path, f)
				req.Header.Set("Content-Type", ct)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				f.Close()
				if rec.Code != http.StatusCreated && rec.Code != http.StatusOK {
					b.Fatalf("status %d: %s", rec.Code, rec.Body.Bytes())
				}
				var got struct {
					Hash string `json:"payload_hash"`
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
					b.Fatal(err)
				}
				hashes[format] = got.Hash
			}
			b.ReportMetric(float64(n*b.N)/time.Since(start).Seconds(), "positions/s")
			b.ReportMetric(float64(n), "positions/op")
		})
	}
	if hashes["json"] != "" && hashes["csv"] != "" && hashes["json"] != hashes["csv"] {
		b.Fatalf("the twins hash differently: json %s, csv %s", hashes["json"], hashes["csv"])
	}
}
