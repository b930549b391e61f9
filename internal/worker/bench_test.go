package worker

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/store/storetest"
	"github.com/iprs/iprs/internal/store/teststore"
)

// BenchmarkTask5000LoansByTerms measures one task of 5,000 AMORT_LOAN
// positions given by their terms, under the four scenarios with every
// measure, from claim to completion on SQLite: reading the run and its
// market, building the engine (each iteration is a new run, so nothing is
// cached), reading and parsing the positions, pricing 20,000
// (position, scenario) pairs and writing the rows in one transaction.
func BenchmarkTask5000LoansByTerms(b *testing.B) {
	for _, o := range teststore.Backends() {
		b.Run(o.Name, func(b *testing.B) { benchmarkTask(b, o.Open(b)) })
	}
}

func benchmarkTask(b *testing.B, st store.Store) {
	const n = 5000
	ctx := context.Background()
	md := MustMarket(b, st, "BENCH-MKT")
	positions := make([]*store.Position, n)
	for k := range positions {
		positions[k] = loanByTerms(b, fmt.Sprintf("LOAN-%05d", k), k)
	}
	snap := storetest.MustPositionSnapshot(b, ctx, st, &store.PositionSnapshot{
		ID: "BENCH-POS", AsOfTime: asOf, PortfolioNodeID: "BOOK-1",
	}, positions, 1000)
	w := New(st, nil, Options{Owner: "bench", Concurrency: 1, Lease: time.Minute})

	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		run, _ := storetest.MustRun(b, ctx, st, storetest.RunOpts{
			Run: &store.Run{
				ID: fmt.Sprintf("BENCH-%d", i), AsOfTime: asOf, MarketSnapshotID: md.SnapshotID,
				PositionSnapshotIDs: []string{snap.ID},
				Measures:            allMeasures, Scenarios: allScenarios, HashMod: 1,
			},
			AvailableAt: asOf.Add(-time.Hour),
		})
		b.StartTimer()

		t, err := w.claim(ctx)
		if err != nil {
			b.Fatalf("claim: %v", err)
		}
		w.processTask(ctx, t)

		b.StopTimer()
		got, err := st.RunGet(ctx, run.ID)
		if err != nil || got.Status != store.RunCompleted {
			b.Fatalf("run %s: %v %v", run.ID, got, err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "positions/s")
}
