package results

import (
	"flag"
	"fmt"
	"math"
	"net/http"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/store/teststore"
	"github.com/iprs/iprs/internal/web"
)

// Run with
//
//	IPRS_TEST_DATABASE_URL=postgres://… go test -run '^$' -bench Compare -benchtime 3x ./internal/results/ -compare-positions 1000000
var benchComparePositions = flag.Int("compare-positions", 100_000, "positions per run in BenchmarkCompare")

// BenchmarkCompare compares two runs of n loans each (four measures under
// four scenarios, as iprs bench values them), written task by task in hash
// buckets as workers write them (through MustRunWithResults), so that
// position id order is not the order of the rows on disk. The target lacks every id ≡ 1 mod 1000, the
// base every id ≡ 2 mod 1000, and the target's PV is 0.25 higher on every
// hundredth position: about 1% of the positions do not match.
//
//   - cold: the first request of a comparison, which merges both runs and
//     caches the result (each op under another tolerance, 1e-12·op, which
//     changes nothing here but the cache name); peak-heap-MB is the
//     largest live heap seen while it ran;
//   - first-page: the first page of a comparison already cached;
//   - deep-page: a page from the middle of the non-matching positions.
func BenchmarkCompare(b *testing.B) {
	n := *benchComparePositions
	for _, be := range teststore.Backends() {
		b.Run(fmt.Sprintf("%s/%d", be.Name, n), func(b *testing.B) {
			st := be.Open(b)
			start := time.Now()
			mustBenchRun(b, st, "BENCH-BASE", n, false)
			mustBenchRun(b, st, "BENCH-TARGET", n, true)
			b.Logf("%s: wrote two runs of %d positions in %s", be.Name, n, time.Since(start).Round(time.Millisecond))
			srv := compareServer(b, st, 0)
			get := func(b *testing.B, query string) cmpAnswer {
				var a cmpAnswer
				getJSON(b, srv, "/results/compare?base=BENCH-BASE&target=BENCH-TARGET&"+query, http.StatusOK, &a)
				return a
			}
			wantBreaks := int64(0)
			for i := range n {
				if i%1000 != 1 && i%1000 != 2 && i%100 == 0 {
					wantBreaks++
				}
			}
			b.Run("cold", func(b *testing.B) {
				stop := sampleHeap()
				for i := 0; b.Loop(); i++ {
					start := time.Now()
					a := get(b, fmt.Sprintf("rel_tol=%d", i+1)+"e-12")
					b.Logf("cold %d: %s", i+1, time.Since(start).Round(time.Millisecond))
					if a.Counts.Breaks != wantBreaks {
						b.Fatalf("%d breaks, want %d", a.Counts.Breaks, wantBreaks)
					}
				}
				b.ReportMetric(float64(stop())/(1<<20), "peak-heap-MB")
			})
			a := get(b, "")
			page := int(min(100, a.Counts.Breaks+a.Counts.OnlyInBase+a.Counts.OnlyInTarget))
			b.Run("first-page", func(b *testing.B) {
				for b.Loop() {
					if got := get(b, ""); len(got.Items) != page || got.Counts != a.Counts {
						b.Fatalf("%d items, counts %+v", len(got.Items), got.Counts)
					}
				}
			})
			// A cursor half-way through the non-matching positions.
			mid := fmt.Sprintf("P%07d", n/2)
			b.Run("deep-page", func(b *testing.B) {
				for b.Loop() {
					got := get(b, "limit=1000&cursor="+web.EncodeCursor(mid))
					if len(got.Items) == 0 || got.Items[0].PositionID <= mid {
						b.Fatalf("page after %s starts at %v", mid, got.Items)
					}
				}
			})
		})
	}
}

// sampleHeap samples the live heap every 10 ms until the returned function
// is called, which returns the largest value seen, in bytes.
func sampleHeap() func() uint64 {
	runtime.GC()
	done := make(chan struct{})
	var (
		mu   sync.Mutex
		peak uint64
		wg   sync.WaitGroup
	)
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	wg.Go(func() {
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			mu.Lock()
			peak = max(peak, sample[0].Value.Uint64())
			mu.Unlock()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak
	}
}

// mustBenchRun writes a COMPLETED run of n loans in one snapshot through
// the task queue (MustRunWithResults), in 256 hash-bucket tasks as the
// orchestrator fans out.
func mustBenchRun(b *testing.B, st store.Store, runID string, n int, target bool) {
	b.Helper()
	scenarios := []string{"BASE", "RATES_PARALLEL_1BP", "SPREAD_25BP", "FX_SPOT_1PCT"}
	// Positions share their values' maps: 977 value sets, and as many
	// again with the target's PV 0.25 higher.
	type key struct {
		k      int
		bumped bool
	}
	sets := map[key]map[string]vals{}
	valuesOf := func(i int) map[string]vals {
		kk := key{i % 977, target && i%100 == 0}
		if v, ok := sets[kk]; ok {
			return v
		}
		pv := 1000 + float64(kk.k)*13.25
		if kk.bumped {
			pv += 0.25
		}
		v := map[string]vals{}
		for si, sc := range scenarios {
			x := pv * (1 - 0.001*float64(si))
			v[sc] = vals{"PV": x, "DV01": -x * 1e-4, "CS01": -x * 2e-4, "ACCRUED_INTEREST": math.Mod(x, 7)}
		}
		sets[kk] = v
		return v
	}
	book := make([]bookPosition, 0, n)
	for i := range n {
		if (target && i%1000 == 1) || (!target && i%1000 == 2) {
			continue
		}
		book = append(book, bookPosition{snapshot: "S", id: fmt.Sprintf("P%07d", i), product: "AMORT_LOAN", values: valuesOf(i)})
	}
	r := MustRunWithResults(b, st, runID, []string{"PV", "DV01", "CS01", "ACCRUED_INTEREST"}, scenarios, book, 256, false, nil)
	if r.Status != store.RunCompleted {
		b.Fatalf("run %s is %s after writing its results", runID, r.Status)
	}
}
