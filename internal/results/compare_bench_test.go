package results

import (
	"context"
	"flag"
	"fmt"
	"math"
	"net/http"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/pricing"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/store/storetest"
	"github.com/iprs/iprs/internal/store/teststore"
	"github.com/iprs/iprs/internal/taskresult"
	"github.com/iprs/iprs/internal/web"
)

// Run with
//
//	IPRS_TEST_DATABASE_URL=postgres://… go test -run '^$' -bench Compare -benchtime 3x ./internal/results/ -compare-positions 1000000
var benchComparePositions = flag.Int("compare-positions", 100_000, "positions per run in BenchmarkCompare")

// BenchmarkCompare compares two runs of n loans each (four measures under
// four scenarios, as iprs bench values them), written task by task in hash
// buckets as workers write them, so that position id order is not the
// order of the rows on disk. The target lacks every id ≡ 1 mod 1000, the
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
			b.Run("first-page", func(b *testing.B) {
				for b.Loop() {
					if got := get(b, ""); len(got.Items) != 100 || got.Counts != a.Counts {
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

// mustBenchRun writes a COMPLETED run of n loans in one snapshot, through
// 256 tasks of hash buckets as the orchestrator fans out.
func mustBenchRun(b *testing.B, st store.Store, runID string, n int, target bool) {
	b.Helper()
	ctx := context.Background()
	const hashMod = 256
	scenarios := []string{"BASE", "RATES_PARALLEL_1BP", "SPREAD_25BP", "FX_SPOT_1PCT"}
	measures := []pricing.Measure{pricing.PV, pricing.DV01, pricing.CS01, pricing.AccruedInterest}
	snap := runID + "-ps"
	storetest.MustPositionSnapshot(b, ctx, st, &store.PositionSnapshot{ID: snap, PortfolioNodeID: "BOOK"}, nil, 0)
	buckets := make([][]int, hashMod)
	for i := range n {
		if (target && i%1000 == 1) || (!target && i%1000 == 2) {
			continue
		}
		id := fmt.Sprintf("P%07d", i)
		k := storetest.PositionHash(id) % hashMod
		buckets[k] = append(buckets[k], i)
	}
	tasks := make([]*store.Task, 0, hashMod)
	for k := range buckets {
		tasks = append(tasks, &store.Task{RunID: runID, ProductType: "AMORT_LOAN", Bucket: k, HashMod: hashMod,
			MaxAttempts: 3, PositionCount: int64(len(buckets[k])), AvailableAt: storetest.T0})
	}
	storetest.MustRun(b, ctx, st, storetest.RunOpts{
		Run: &store.Run{ID: runID, PositionSnapshotIDs: []string{snap}, HashMod: hashMod,
			Measures: []string{"PV", "DV01", "CS01", "ACCRUED_INTEREST"}, Scenarios: scenarios},
		Tasks: tasks,
	})
	vals := make([]pricing.Values, len(scenarios))
	for {
		task, err := st.TaskClaim(ctx, store.TaskClaimParams{Owner: "bench", Lease: time.Hour})
		if err != nil {
			break
		}
		rows := buckets[task.Bucket]
		tb := taskresult.New(runID, task.ID, scenarios, measures, len(rows))
		for _, i := range rows {
			pv := 1000 + float64(i%977)*13.25
			if target && i%100 == 0 {
				pv += 0.25
			}
			for s := range vals {
				vals[s].Reset()
				vals[s].Set(pricing.PV, pv*(1-0.001*float64(s)))
				vals[s].Set(pricing.DV01, -pv*1e-4)
				vals[s].Set(pricing.CS01, -pv*2e-4)
				vals[s].Set(pricing.AccruedInterest, math.Mod(pv, 7))
			}
			id := fmt.Sprintf("P%07d", i)
			tb.Add(taskresult.Position{SnapshotID: snap, PositionID: id, InstrumentID: "INS-" + id,
				ProductType: "AMORT_LOAN", PortfolioNodeID: "BOOK"}, vals)
		}
		results, aggs := tb.Results()
		if err := st.TaskComplete(ctx, store.TaskCompleteParams{ClaimRef: task.Ref(),
			Results: results, Aggregates: aggs}); err != nil {
			b.Fatalf("TaskComplete: %v", err)
		}
	}
	if r := storetest.MustRunGet(b, ctx, st, runID); r.Status != store.RunCompleted {
		b.Fatalf("run %s is %s after writing its results", runID, r.Status)
	}
}
