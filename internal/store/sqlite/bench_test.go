package sqlite_test

import (
	"encoding/binary"
	"fmt"
	"math"
	"syscall"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/store/storetest"
)

// BenchmarkTaskComplete writes the results of 100,000 positions under 4
// scenarios (one row each, 4 × 4 measures of encoded values) in one
// TaskComplete.
func BenchmarkTaskComplete(b *testing.B) {
	const positions, scenarios = 100_000, 4
	db := openTestDB(b, nil)
	ctx := b.Context()
	rows := make([]*store.PositionResult, 0, positions)
	for i := range positions {
		vals := make([]byte, 0, scenarios*33)
		for s := range scenarios {
			vals = append(vals, 0x0f)
			for m := range 4 {
				vals = binary.LittleEndian.AppendUint64(vals, math.Float64bits(float64(i)*1.000001+float64(s)+float64(m)/8))
			}
		}
		rows = append(rows, &store.PositionResult{PositionSnapshotID: "ps-bench", PositionID: fmt.Sprintf("POS-%07d", i),
			InstrumentID: fmt.Sprintf("INS-%07d", i), ProductType: "AMORT_LOAN", PortfolioNodeID: "BOOK-1", Values: vals})
	}
	var (
		cpu     cpuClock
		cpuUsed float64
	)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		runID := fmt.Sprintf("bench-%d", i)
		storetest.MustRun(b, ctx, db, storetest.RunOpts{Run: &store.Run{ID: runID, HashMod: 1},
			Tasks: []*store.Task{{ProductType: "AMORT_LOAN", Bucket: 0, HashMod: 1, MaxAttempts: 3, PositionCount: positions, AvailableAt: storetest.T0}}})
		task := storetest.MustClaim(b, ctx, db, "bench", "w", time.Hour)
		for _, r := range rows {
			r.RunID = runID
		}
		b.StartTimer()
		cpu.start(b)
		if err := db.TaskComplete(ctx, store.TaskCompleteParams{ClaimRef: task.Ref(), Results: rows}); err != nil {
			b.Fatal(err)
		}
		cpuUsed += cpu.stop(b)
	}
	b.ReportMetric(float64(len(rows))*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(cpuUsed/float64(b.N), "cpu-s/op")
}

// cpuClock measures the CPU time (user + system) of the process, which on a
// shared machine says more than wall time. Call start after the setup.
type cpuClock struct{ t0 time.Duration }

func cpuNow(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (c *cpuClock) start(tb testing.TB) { c.t0 = cpuNow(tb) }

func (c *cpuClock) stop(tb testing.TB) float64 { return (cpuNow(tb) - c.t0).Seconds() }

// BenchmarkPositionUpload writes a snapshot of 1,000,000 positions with
// loan-like attributes, in batches of 1,000 as a streaming upload would.
func BenchmarkPositionUpload(b *testing.B) {
	const n, batch = 1_000_000, 1_000
	db := openTestDB(b, nil)
	ctx := b.Context()
	positions := make([]*store.Position, n)
	for i := range positions {
		id := fmt.Sprintf("POS-%07d", i)
		q := float64(i%100) + 0.5
		positions[i] = &store.Position{Seq: int64(i), PositionID: id, InstrumentID: "INS-" + id, ProductType: "AMORT_LOAN",
			Quantity: &q, Hash: storetest.PositionHash(id),
			Attributes: []byte(`{"current_principal":250000,"coupon_rate":0.0525,"remaining_term_months":240,` +
				`"next_payment_date":"2026-05-01","last_payment_date":"2026-04-01","desk":"MORTGAGES"}`)}
	}
	var cpu cpuClock
	cpu.start(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := fmt.Sprintf("ps-bench-%d", i)
		w, err := db.PositionSnapshotBegin(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		for start := 0; start < n; start += batch {
			if err := w.Add(ctx, positions[start:start+batch]); err != nil {
				b.Fatal(err)
			}
		}
		if _, _, err := w.Commit(ctx, &store.PositionSnapshot{ID: id, AsOfTime: storetest.T0, PortfolioNodeID: "BOOK-1",
			PayloadHash: id, PositionCount: n, ProductTypes: []string{"AMORT_LOAN"}}, false); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "positions/s")
	b.ReportMetric(cpu.stop(b)/float64(b.N), "cpu-s/op")
}

// BenchmarkTaskPositions reads every task's positions of a 300,000-position
// run split into 3 product types × 64 buckets (the default hash_mod for
// 300,000 positions).
func BenchmarkTaskPositions(b *testing.B) {
	const n, mod = 300_000, 64
	db := openTestDB(b, nil)
	ctx := b.Context()
	types := []string{"AMORT_LOAN", "FIXED_BOND", "FX_FWD"}
	positions := make([]*store.Position, n)
	for i := range positions {
		id := fmt.Sprintf("POS-%07d", i)
		positions[i] = &store.Position{Seq: int64(i), PositionID: id, InstrumentID: "INS-" + id, ProductType: types[i%3],
			Hash: storetest.PositionHash(id), Attributes: []byte(`{"coupon_rate":0.0525,"desk":"MORTGAGES"}`)}
	}
	storetest.MustPositionSnapshot(b, ctx, db, &store.PositionSnapshot{ID: "ps-tp"}, positions, 10_000)
	_, tasks := storetest.MustRun(b, ctx, db, storetest.RunOpts{Run: &store.Run{ID: "run-tp", HashMod: mod, PositionSnapshotIDs: []string{"ps-tp"}}})
	var cpu cpuClock
	cpu.start(b)
	b.ResetTimer()
	for range b.N {
		total := 0
		for _, t := range tasks {
			if err := db.TaskPositions(ctx, t, func(*store.Position) error { total++; return nil }); err != nil {
				b.Fatal(err)
			}
		}
		if total != n {
			b.Fatalf("tasks cover %d positions, want %d", total, n)
		}
	}
	b.ReportMetric(cpu.stop(b)/float64(b.N), "cpu-s/op")
}

// BenchmarkTaskCompleteSpread writes a run of 100,000 positions under 252
// scenarios of PV alone (2.3 kB of encoded values per row), as the workers
// of a historical VaR run do: 32 tasks, each a hash bucket whose positions
// are spread over the whole key range, one TaskComplete each.
func BenchmarkTaskCompleteSpread(b *testing.B) {
	const positions, scenarios, tasks = 100_000, 252, 32
	db := openTestDB(b, nil)
	ctx := b.Context()
	byBucket := make([][]*store.PositionResult, tasks)
	for i := range positions {
		vals := make([]byte, 0, scenarios*9)
		for s := range scenarios {
			vals = append(vals, 0x01)
			vals = binary.LittleEndian.AppendUint64(vals, math.Float64bits(float64(i)*1.000001+float64(s)/8))
		}
		bucket := int(storetest.PositionHash(fmt.Sprint(i)) % tasks)
		byBucket[bucket] = append(byBucket[bucket], &store.PositionResult{PositionSnapshotID: "ps-bench",
			PositionID: fmt.Sprintf("POS-%07d", i), InstrumentID: fmt.Sprintf("INS-%07d", i), ProductType: "AMORT_LOAN",
			PortfolioNodeID: "BOOK-1", Values: vals})
	}
	var (
		cpu     cpuClock
		cpuUsed float64
	)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		runID := fmt.Sprintf("bench-%d", i)
		var ts []*store.Task
		for bucket := range tasks {
			ts = append(ts, &store.Task{ProductType: "AMORT_LOAN", Bucket: bucket, HashMod: tasks, MaxAttempts: 3,
				PositionCount: int64(len(byBucket[bucket])), AvailableAt: storetest.T0})
		}
		storetest.MustRun(b, ctx, db, storetest.RunOpts{Run: &store.Run{ID: runID, HashMod: tasks}, Tasks: ts})
		for _, rows := range byBucket {
			for _, r := range rows {
				r.RunID = runID
			}
		}
		b.StartTimer()
		cpu.start(b)
		for range tasks {
			task := storetest.MustClaim(b, ctx, db, "bench", "w", time.Hour)
			if err := db.TaskComplete(ctx, store.TaskCompleteParams{ClaimRef: task.Ref(), Results: byBucket[task.Bucket]}); err != nil {
				b.Fatal(err)
			}
		}
		cpuUsed += cpu.stop(b)
	}
	b.ReportMetric(float64(positions)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(cpuUsed/float64(b.N), "cpu-s/op")
}
