package postgres_test

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/store/postgres"
)

// Run with
//
//	IPRS_TEST_DATABASE_URL=postgres://… go test -run '^$' -bench . -benchtime 3x ./internal/store/postgres/

// benchAttributes returns a loan's attribute object of about 300–800
// bytes, varying with i.
func benchAttributes(i int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `{"coupon_rate":%.6f,"notional":%d,"currency":"USD","issue_date":"2024-%02d-15","maturity_date":"20%02d-%02d-15",`+
		`"day_count":"ACT_360","payment_frequency":"QUARTERLY","amortization":"LEVEL","spread_bps":%d,"rating":"BB%s",`+
		`"borrower":{"id":"B%08d","name":"Borrower number %d","sector":"SECTOR_%d","country":"US"},"desk":"D%d","book":"BOOK-%03d"`,
		0.02+float64(i%500)/10000, 100000+i*37, 1+i%12, 30+i%20, 1+i%12, i%300, []string{"", "+", "-"}[i%3], i, i, i%11, i%7, i%250)
	// A list of cashflow dates whose length varies gives the 300–800 byte spread.
	b.WriteString(`,"schedule":[`)
	for k := range 2 + i%14 {
		if k > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"20%02d-%02d-15"`, 26+k/4, 1+3*(k%4))
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// BenchmarkPositionUpload uploads a 1,000,000-position snapshot through the
// writer, in batches of 10,000 as a streaming request decoder would.
func BenchmarkPositionUpload(b *testing.B) {
	db := MustOpenIsolated(b, postgres.Options{})
	ctx := b.Context()
	const n, batch = 1_000_000, 10_000
	rows := make([]*store.Position, n)
	var total int64
	for i := range rows {
		id := fmt.Sprintf("POS-%08d", i)
		q := float64(i%1000) * 1000
		rows[i] = &store.Position{Seq: int64(i), PositionID: id, InstrumentID: "INS-" + id, ProductType: []string{"AMORT_LOAN", "FIXED_BOND", "FX_FWD"}[i%3],
			Quantity: &q, Attributes: benchAttributes(i), Hash: positionHash(id)}
		total += int64(len(rows[i].Attributes))
	}
	b.Logf("mean attributes size %d bytes", total/n)
	b.SetBytes(total)
	b.ResetTimer()
	for it := range b.N {
		id := fmt.Sprintf("bench-ps-%d-%d", time.Now().UnixNano(), it)
		w, err := db.PositionSnapshotBegin(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		for s := 0; s < n; s += batch {
			if err := w.Add(ctx, rows[s:s+batch]); err != nil {
				b.Fatal(err)
			}
		}
		if _, _, err := w.Commit(ctx, &store.PositionSnapshot{ID: id, AsOfTime: t0, PortfolioNodeID: "NODE", PayloadHash: id, PositionCount: n}, false); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "positions/s")
}

// BenchmarkTaskComplete writes the results of 100,000 positions under 4
// scenarios (one row each, 4 × 4 measures of encoded values) in one
// TaskComplete.
func BenchmarkTaskComplete(b *testing.B) {
	db := MustOpenIsolated(b, postgres.Options{})
	ctx := b.Context()
	const positions, scenarios = 100_000, 4
	results := make([]*store.PositionResult, 0, positions)
	for p := range positions {
		vals := make([]byte, 0, scenarios*33)
		for s := range scenarios {
			vals = append(vals, 0x0f)
			for m := range 4 {
				vals = binary.LittleEndian.AppendUint64(vals, math.Float64bits(float64(p)+float64(s)/8+float64(m)/1e4))
			}
		}
		results = append(results, &store.PositionResult{
			PositionSnapshotID: "PS-BENCH", PositionID: fmt.Sprintf("POS-%08d", p), InstrumentID: fmt.Sprintf("INS-%08d", p),
			ProductType: "AMORT_LOAN", PortfolioNodeID: "NODE-1", Values: vals,
		})
	}
	b.ResetTimer()
	for it := range b.N {
		b.StopTimer()
		id := fmt.Sprintf("bench-run-%d-%d", time.Now().UnixNano(), it)
		mustRun(b, ctx, db, id, nil, 1, 3, []*store.Task{{ProductType: "AMORT_LOAN", Bucket: 0, PositionCount: positions, AvailableAt: t0}})
		tk := mustClaim(b, ctx, db, id, time.Hour)
		b.StartTimer()
		if err := db.TaskComplete(ctx, store.TaskCompleteParams{ClaimRef: tk.Ref(), Results: results}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(results)*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkTaskPositions reads every task's positions of a 300,000-position
// snapshot split into 3 product types × 32 buckets, right after the upload
// (before any vacuum has set the visibility map) and after a vacuum.
func BenchmarkTaskPositions(b *testing.B) {
	for _, vacuum := range []bool{false, true} {
		b.Run(fmt.Sprintf("vacuumed=%v", vacuum), func(b *testing.B) { benchTaskPositions(b, vacuum) })
	}
}

func benchTaskPositions(b *testing.B, vacuum bool) {
	db := MustOpenIsolated(b, postgres.Options{})
	ctx := b.Context()
	const n, hashMod = 300_000, 32
	rows := make([]*store.Position, n)
	for i := range rows {
		id := fmt.Sprintf("POS-%08d", i)
		rows[i] = &store.Position{PositionID: id, InstrumentID: "INS-" + id, ProductType: []string{"AMORT_LOAN", "FIXED_BOND", "FX_FWD"}[i%3],
			Attributes: benchAttributes(i), Hash: positionHash(id)}
	}
	snap := mustSnapshot(b, ctx, db, "bench-tp", "NODE", rows, 10_000)
	mustRun(b, ctx, db, "bench-tp-run", []string{snap.ID}, hashMod, 3, nil)
	tasks, err := db.RunTasks(ctx, "bench-tp-run")
	if err != nil || len(tasks) != 3*hashMod {
		b.Fatalf("RunTasks = %d, %v", len(tasks), err)
	}
	if vacuum {
		if _, err := db.Pool().Exec(ctx, "VACUUM position"); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	read := 0
	for it := range b.N {
		for _, tk := range tasks[it%2:] {
			if err := db.TaskPositions(ctx, tk, func(*store.Position) error { read++; return nil }); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(read)/b.Elapsed().Seconds(), "positions/s")
}
