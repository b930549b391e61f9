package storetest

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/store"
)

// tricky float64 values that must survive a round trip bit for bit.
var trickyFloats = []float64{
	math.Nextafter(1, 2), 1e-300, math.Copysign(0, -1), 0, -1.5e308, math.MaxFloat64,
	math.SmallestNonzeroFloat64, 123456789.123456789, -0.1, 1e15 + 0.5, 3, -42,
}

func manyPositions(prefix string, n int) []*store.Position {
	types := []string{"AMORT_LOAN", "FIXED_BOND", "FX_FWD"}
	out := make([]*store.Position, n)
	for i := range out {
		id := fmt.Sprintf("%s-p%05d", prefix, i)
		p := Pos(id, types[i%len(types)], PositionHash(id), fmt.Sprintf(`{"coupon_rate":0.045,"rank":%d,"desk":"D%d"}`, i, i%4))
		if i%5 != 0 {
			p.Quantity = ptr(trickyFloats[i%len(trickyFloats)])
		}
		out[i] = p
	}
	return out
}

func sameFloat(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) }

func checkPosition(t testing.TB, got, want *store.Position, node string) {
	t.Helper()
	if got.SnapshotID != want.SnapshotID || got.Seq != want.Seq || got.PositionID != want.PositionID ||
		got.InstrumentID != want.InstrumentID || got.ProductType != want.ProductType || got.Hash != want.Hash {
		t.Errorf("position = %+v, want %+v", got, want)
	}
	if got.PortfolioNodeID != node {
		t.Errorf("position %s: PortfolioNodeID = %q, want %q", want.PositionID, got.PortfolioNodeID, node)
	}
	switch {
	case (got.Quantity == nil) != (want.Quantity == nil):
		t.Errorf("position %s: quantity = %v, want %v", want.PositionID, got.Quantity, want.Quantity)
	case got.Quantity != nil && !sameFloat(*got.Quantity, *want.Quantity):
		t.Errorf("position %s: quantity = %v (bits %x), want %v (bits %x)", want.PositionID,
			*got.Quantity, math.Float64bits(*got.Quantity), *want.Quantity, math.Float64bits(*want.Quantity))
	}
	if !jsonEqual(t, got.Attributes, want.Attributes) {
		t.Errorf("position %s: attributes = %s, want %s", want.PositionID, got.Attributes, want.Attributes)
	}
}

func listAllPositions(t *testing.T, f *fixture, id string, limit int) []*store.Position {
	t.Helper()
	var all []*store.Position
	after := int64(-1)
	for {
		page, err := f.s.PositionList(f.ctx, id, after, limit)
		if err != nil {
			t.Fatalf("PositionList(%q, %d, %d): %v", id, after, limit, err)
		}
		if len(page) > limit {
			t.Fatalf("PositionList returned %d rows, limit %d", len(page), limit)
		}
		all = append(all, page...)
		if len(page) < limit {
			return all
		}
		after = page[len(page)-1].Seq
	}
}

func testPositionSnapshot(t *testing.T, open Opener) {
	t.Run("WriteCommitRead", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		positions := manyPositions(f.prefix, 1234)
		hdr := &store.PositionSnapshot{ID: f.id("ps"), AsOfTime: T0, PortfolioNodeID: f.id("node"), CreatedAt: T0.Add(time.Minute)}
		stored := MustPositionSnapshot(t, f.ctx, f.s, hdr, positions, 100)
		got, err := f.s.PositionSnapshotGet(f.ctx, hdr.ID)
		if err != nil {
			t.Fatalf("PositionSnapshotGet: %v", err)
		}
		for name, s := range map[string]*store.PositionSnapshot{"commit": stored, "get": got} {
			if s.ID != hdr.ID || s.PortfolioNodeID != hdr.PortfolioNodeID || s.PayloadHash != hdr.PayloadHash || s.PositionCount != 1234 {
				t.Errorf("%s: header = %+v, want %+v", name, s, hdr)
			}
			if want := []string{"AMORT_LOAN", "FIXED_BOND", "FX_FWD"}; !slices.Equal(s.ProductTypes, want) {
				t.Errorf("%s: product types = %v, want %v", name, s.ProductTypes, want)
			}
			checkTime(t, name+" AsOfTime", s.AsOfTime, T0)
			checkTime(t, name+" CreatedAt", s.CreatedAt, T0.Add(time.Minute))
		}
		for _, limit := range []int{1000, 7} {
			all := listAllPositions(t, f, hdr.ID, limit)
			if len(all) != len(positions) {
				t.Fatalf("limit %d: listed %d positions, want %d", limit, len(all), len(positions))
			}
			for i, p := range all {
				checkPosition(t, p, positions[i], hdr.PortfolioNodeID)
			}
		}
		page, err := f.s.PositionList(f.ctx, hdr.ID, 1233, 10)
		if err != nil || len(page) != 0 {
			t.Errorf("PositionList after the last row = %d rows, %v; want none", len(page), err)
		}
		page, err = f.s.PositionList(f.ctx, hdr.ID, 9, 3)
		if err != nil || len(page) != 3 || page[0].Seq != 10 || page[2].Seq != 12 {
			t.Errorf("PositionList(after 9, limit 3) = %v, %v; want seq 10..12", page, err)
		}
	})

	t.Run("CheckSummaryRoundTrips", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		summary := `{"curves":["USD-OIS"],"note":"€ \u00e9"}`
		with := MustPositionSnapshot(t, f.ctx, f.s, &store.PositionSnapshot{ID: f.id("sum"), AsOfTime: T0, PortfolioNodeID: f.id("node"),
			PayloadHash: "h-sum", CheckSummary: []byte(summary)}, manyPositions(f.prefix+"s", 3), 10)
		without := MustPositionSnapshot(t, f.ctx, f.s, &store.PositionSnapshot{ID: f.id("nosum"), AsOfTime: T0.Add(time.Second), PortfolioNodeID: f.id("node"),
			PayloadHash: "h-nosum"}, manyPositions(f.prefix+"n", 3), 10)
		latest, err := f.s.PositionSnapshotLatest(f.ctx, f.id("node"), T0)
		if err != nil {
			t.Fatalf("PositionSnapshotLatest: %v", err)
		}
		gotWith, err := f.s.PositionSnapshotGet(f.ctx, f.id("sum"))
		if err != nil {
			t.Fatalf("PositionSnapshotGet: %v", err)
		}
		for name, s := range map[string]*store.PositionSnapshot{"commit": with, "get": gotWith, "latest": latest} {
			if !jsonEqual(t, s.CheckSummary, []byte(summary)) {
				t.Errorf("%s: check summary %q, want %q", name, s.CheckSummary, summary)
			}
		}
		gotWithout, err := f.s.PositionSnapshotGet(f.ctx, f.id("nosum"))
		if err != nil {
			t.Fatalf("PositionSnapshotGet: %v", err)
		}
		if without.CheckSummary != nil || gotWithout.CheckSummary != nil {
			t.Errorf("no check summary given: commit %q, get %q; want none", without.CheckSummary, gotWithout.CheckSummary)
		}
	})

	t.Run("UnknownIsNotFound", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		if _, err := f.s.PositionSnapshotGet(f.ctx, f.id("nope")); !errors.Is(err, apperr.ErrNotFound) {
			t.Errorf("PositionSnapshotGet(unknown): %v, want ErrNotFound", err)
		}
		if _, err := f.s.PositionList(f.ctx, f.id("nope"), -1, 10); !errors.Is(err, apperr.ErrNotFound) {
			t.Errorf("PositionList(unknown): %v, want ErrNotFound", err)
		}
		if _, err := f.s.PositionSnapshotLatest(f.ctx, f.id("nonode"), T0); !errors.Is(err, apperr.ErrNotFound) {
			t.Errorf("PositionSnapshotLatest(unknown node): %v, want ErrNotFound", err)
		}
	})

	t.Run("EmptySnapshot", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		s := MustPositionSnapshot(t, f.ctx, f.s, &store.PositionSnapshot{ID: f.id("empty")}, nil, 0)
		if s.PositionCount != 0 || len(s.ProductTypes) != 0 {
			t.Errorf("empty snapshot = %+v", s)
		}
		got, err := f.s.PositionSnapshotGet(f.ctx, f.id("empty"))
		if err != nil || got.ProductTypes == nil || len(got.ProductTypes) != 0 {
			t.Errorf("PositionSnapshotGet(empty) = %+v, %v; want empty, non-nil product types", got, err)
		}
		if all := listAllPositions(t, f, f.id("empty"), 10); len(all) != 0 {
			t.Errorf("empty snapshot lists %d positions", len(all))
		}
	})

	t.Run("InvisibleUntilCommitAndRollbackLeavesNothing", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		id := f.id("rb")
		positions := manyPositions(f.prefix+"x", 40)
		hdr := &store.PositionSnapshot{ID: id}
		fillPositionSnapshot(hdr, positions)
		w, err := f.s.PositionSnapshotBegin(f.ctx, id)
		if err != nil {
			t.Fatalf("PositionSnapshotBegin: %v", err)
		}
		if err := w.Add(f.ctx, positions[:20]); err != nil {
			t.Fatalf("Add: %v", err)
		}
		if err := w.Add(f.ctx, positions[20:]); err != nil {
			t.Fatalf("Add: %v", err)
		}
		assertNoSnapshot(t, f, id)
		if err := w.Rollback(f.ctx); err != nil {
			t.Fatalf("Rollback: %v", err)
		}
		assertNoSnapshot(t, f, id)
		// The rows are really gone: the same id and seqs can be written again.
		MustPositionSnapshot(t, f.ctx, f.s, &store.PositionSnapshot{ID: id}, manyPositions(f.prefix+"y", 3), 0)
		if all := listAllPositions(t, f, id, 100); len(all) != 3 || all[0].PositionID != f.prefix+"y-p00000" {
			t.Errorf("after rollback and rewrite: %d positions, want the 3 new ones", len(all))
		}
	})

	// A snapshot larger than a driver's write runs (the PostgreSQL
	// writer copies its rows in sorted runs of 32,768, one run while it
	// gathers the next): every row stored once, read in seq order; a
	// repeated id, found while the rows after it are gathered, fails the
	// snapshot with Conflict and leaves nothing; a rollback while a run is
	// being copied leaves nothing and the id can be written again.
	t.Run("LargerThanAWriteRun", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		const n = 40_000
		big := manyPositions(f.prefix+"big", n)
		MustPositionSnapshot(t, f.ctx, f.s, &store.PositionSnapshot{ID: f.id("big")}, big, 5000)
		all := listAllPositions(t, f, f.id("big"), 10_000)
		if len(all) != n {
			t.Fatalf("%d positions listed, want %d", len(all), n)
		}
		for i, p := range all {
			if p.Seq != int64(i) || p.PositionID != big[i].PositionID || p.Hash != big[i].Hash {
				t.Fatalf("position %d = %s seq %d, want %s", i, p.PositionID, p.Seq, big[i].PositionID)
			}
		}

		dup := manyPositions(f.prefix+"dup", n)
		dup[32_767].PositionID = dup[0].PositionID // in the first run
		hdr := &store.PositionSnapshot{ID: f.id("dup")}
		fillPositionSnapshot(hdr, dup)
		w, err := f.s.PositionSnapshotBegin(f.ctx, hdr.ID)
		if err != nil {
			t.Fatalf("PositionSnapshotBegin: %v", err)
		}
		var addErr error
		for start := 0; start < n && addErr == nil; start += 5000 {
			addErr = w.Add(f.ctx, dup[start:min(start+5000, n)])
		}
		if addErr == nil {
			_, _, addErr = w.Commit(f.ctx, hdr, false)
		}
		if !errors.Is(addErr, apperr.ErrConflict) {
			t.Errorf("a repeated position id in a later run: %v, want Conflict", addErr)
		}
		if err := w.Rollback(f.ctx); err != nil {
			t.Errorf("Rollback after the conflict: %v", err)
		}
		assertNoSnapshot(t, f, hdr.ID)

		w, err = f.s.PositionSnapshotBegin(f.ctx, f.id("rb"))
		if err != nil {
			t.Fatalf("PositionSnapshotBegin: %v", err)
		}
		rb := manyPositions(f.prefix+"rb", 40_000)
		for i := range rb {
			rb[i].Seq = int64(i)
		}
		if err := w.Add(f.ctx, rb); err != nil {
			t.Fatalf("Add: %v", err)
		}
		if err := w.Rollback(f.ctx); err != nil {
			t.Fatalf("Rollback: %v", err)
		}
		assertNoSnapshot(t, f, f.id("rb"))
		MustPositionSnapshot(t, f.ctx, f.s, &store.PositionSnapshot{ID: f.id("rb")}, manyPositions(f.prefix+"rb2", 3), 0)
		if got := listAllPositions(t, f, f.id("rb"), 100); len(got) != 3 {
			t.Errorf("after rollback and rewrite: %d positions, want 3", len(got))
		}
	})

	t.Run("IdempotentAndImmutable", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		id := f.id("imm")
		first := MustPositionSnapshot(t, f.ctx, f.s, &store.PositionSnapshot{ID: id, CreatedAt: T0}, manyPositions(f.prefix+"a", 5), 0)

		// Same id, same hash: the stored snapshot; the new rows are rolled back.
		again := manyPositions(f.prefix+"b", 7)
		hdr := &store.PositionSnapshot{ID: id, PayloadHash: first.PayloadHash, CreatedAt: T0.Add(time.Hour)}
		stored, created := commitSnapshot(t, f, hdr, again, false)
		if created || stored.ID != id || stored.PositionCount != 5 {
			t.Errorf("repeat commit = %+v created %v; want the stored snapshot, created=false", stored, created)
		}
		checkTime(t, "repeat CreatedAt", stored.CreatedAt, T0)

		// Same id, other hash: Conflict.
		w, err := f.s.PositionSnapshotBegin(f.ctx, id)
		if err != nil {
			t.Fatalf("PositionSnapshotBegin: %v", err)
		}
		other := manyPositions(f.prefix+"c", 2)
		otherHdr := &store.PositionSnapshot{ID: id}
		fillPositionSnapshot(otherHdr, other)
		if err := w.Add(f.ctx, other); err != nil {
			t.Fatalf("Add: %v", err)
		}
		_, created, err = w.Commit(f.ctx, otherHdr, false)
		if !errors.Is(err, apperr.ErrConflict) || created {
			t.Errorf("commit with other content: created %v, err %v; want Conflict", created, err)
		}
		if err := w.Rollback(f.ctx); err != nil {
			t.Errorf("Rollback after a failed Commit: %v", err)
		}
		all := listAllPositions(t, f, id, 100)
		if len(all) != 5 || all[0].PositionID != f.prefix+"a-p00000" {
			t.Errorf("after the conflicts: %d positions, want the first 5", len(all))
		}
		if got, _ := f.s.PositionSnapshotGet(f.ctx, id); got == nil || got.PayloadHash != first.PayloadHash {
			t.Errorf("after the conflicts: header %+v, want the first", got)
		}
	})

	t.Run("ConcurrentSameUpload", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		const n = 4
		type result struct {
			created bool
			err     error
		}
		results := make(chan result, n)
		for range n {
			go func() {
				positions := manyPositions(f.prefix, 600)
				hdr := &store.PositionSnapshot{ID: f.id("dup")}
				fillPositionSnapshot(hdr, positions)
				w, err := f.s.PositionSnapshotBegin(f.ctx, hdr.ID)
				if err != nil {
					results <- result{err: err}
					return
				}
				defer w.Rollback(f.ctx) //nolint:errcheck // safe after Commit
				for start := 0; start < len(positions); start += 250 {
					if err := w.Add(f.ctx, positions[start:min(start+250, len(positions))]); err != nil {
						results <- result{err: err}
						return
					}
				}
				_, created, err := w.Commit(f.ctx, hdr, false)
				results <- result{created, err}
			}()
		}
		createdCount := 0
		for range n {
			r := <-results
			if r.err != nil {
				t.Errorf("concurrent upload of the same snapshot: %v", r.err)
			}
			if r.created {
				createdCount++
			}
		}
		if createdCount != 1 {
			t.Errorf("%d uploads created the snapshot, want exactly 1", createdCount)
		}
		if all := listAllPositions(t, f, f.id("dup"), 1000); len(all) != 600 {
			t.Errorf("snapshot has %d positions, want 600", len(all))
		}
	})

	t.Run("ServerIDDedupeByHash", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		hash := hashHex("server-made", f.prefix)
		a := &store.PositionSnapshot{ID: f.id("srv-a"), PayloadHash: hash}
		stored, created := commitSnapshot(t, f, a, manyPositions(f.prefix+"a", 4), true)
		if !created || stored.ID != a.ID {
			t.Fatalf("first server-made commit = %+v, created %v", stored, created)
		}
		b := &store.PositionSnapshot{ID: f.id("srv-b"), PayloadHash: hash}
		stored, created = commitSnapshot(t, f, b, manyPositions(f.prefix+"a", 4), true)
		if created || stored.ID != a.ID {
			t.Errorf("second server-made commit of the same content = %s created %v; want %s, created=false", stored.ID, created, a.ID)
		}
		assertNoSnapshot(t, f, b.ID)
		// A client-chosen id is not deduplicated by hash.
		c := &store.PositionSnapshot{ID: f.id("client-c"), PayloadHash: hash}
		stored, created = commitSnapshot(t, f, c, manyPositions(f.prefix+"a", 4), false)
		if !created || stored.ID != c.ID {
			t.Errorf("client id with a known hash = %s created %v; want a new snapshot", stored.ID, created)
		}
	})

	t.Run("Latest", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		node, other := f.id("node"), f.id("other")
		t1, t2, t3 := T0, T0.Add(24*time.Hour), T0.Add(48*time.Hour)
		mk := func(name string, asOf, created time.Time, node string) {
			MustPositionSnapshot(t, f.ctx, f.s, &store.PositionSnapshot{ID: f.id(name), AsOfTime: asOf, CreatedAt: created, PortfolioNodeID: node},
				manyPositions(f.prefix+name, 1), 0)
		}
		mk("s1", t1, T0, node)
		mk("s2-late", t2, T0.Add(2*time.Hour), node) // same as-of as s2-early, created later
		mk("s2-early", t2, T0.Add(time.Hour), node)
		mk("s3", t3, T0, node)
		mk("o4", t3.Add(time.Hour), T0, other)
		for _, c := range []struct {
			at   time.Time
			want string
		}{
			{t1.Add(-time.Microsecond), ""},
			{t1, "s1"},
			{t2.Add(-time.Microsecond), "s1"},
			{t2, "s2-late"},
			{t3.Add(-time.Second), "s2-late"},
			{t3, "s3"},
			{t3.Add(1000 * time.Hour), "s3"},
		} {
			got, err := f.s.PositionSnapshotLatest(f.ctx, node, c.at)
			if c.want == "" {
				if !errors.Is(err, apperr.ErrNotFound) {
					t.Errorf("Latest(%s) = %v, %v; want ErrNotFound", c.at, got, err)
				}
				continue
			}
			if err != nil || got.ID != f.id(c.want) {
				t.Errorf("Latest(%s) = %v, %v; want %s", c.at, got, err, c.want)
			}
		}
	})

	t.Run("Buckets", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		a := manyPositions(f.prefix+"a", 301)
		b := manyPositions(f.prefix+"b", 57)
		// Hashes near the top of int64 check that the modulo is done on
		// 64-bit integers.
		for i, p := range b {
			p.Hash = math.MaxInt64 - int64(i)*7919
		}
		MustPositionSnapshot(t, f.ctx, f.s, &store.PositionSnapshot{ID: f.id("a")}, a, 50)
		MustPositionSnapshot(t, f.ctx, f.s, &store.PositionSnapshot{ID: f.id("b")}, b, 0)
		MustPositionSnapshot(t, f.ctx, f.s, &store.PositionSnapshot{ID: f.id("c-not-asked")}, manyPositions(f.prefix+"c", 30), 0)
		for _, mod := range []int{1, 7, 64, 1000} {
			want := map[store.BucketCount]bool{}
			counts := map[[2]any]int64{}
			for _, p := range append(slices.Clone(a), b...) {
				counts[[2]any{p.ProductType, int(p.Hash % int64(mod))}]++
			}
			for k, n := range counts {
				want[store.BucketCount{ProductType: k[0].(string), Bucket: k[1].(int), Count: n}] = true
			}
			got, err := f.s.PositionBuckets(f.ctx, []string{f.id("b"), f.id("a"), f.id("missing")}, mod)
			if err != nil {
				t.Fatalf("PositionBuckets(mod %d): %v", mod, err)
			}
			if len(got) != len(want) {
				t.Errorf("mod %d: %d buckets, want %d", mod, len(got), len(want))
			}
			for i, g := range got {
				if !want[g] {
					t.Errorf("mod %d: unexpected bucket %+v", mod, g)
				}
				if i > 0 && (g.ProductType < got[i-1].ProductType || (g.ProductType == got[i-1].ProductType && g.Bucket <= got[i-1].Bucket)) {
					t.Errorf("mod %d: bucket %+v after %+v", mod, g, got[i-1])
				}
			}
		}
		got, err := f.s.PositionBuckets(f.ctx, nil, 4)
		if err != nil || len(got) != 0 {
			t.Errorf("PositionBuckets(no snapshots) = %v, %v; want none", got, err)
		}
	})

	t.Run("Scan", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		a := manyPositions(f.prefix+"a", 25)
		b := manyPositions(f.prefix+"b", 13)
		MustPositionSnapshot(t, f.ctx, f.s, &store.PositionSnapshot{ID: f.id("b"), PortfolioNodeID: "NB"}, b, 0)
		MustPositionSnapshot(t, f.ctx, f.s, &store.PositionSnapshot{ID: f.id("a"), PortfolioNodeID: "NA"}, a, 0)
		var got []*store.Position
		err := f.s.PositionScan(f.ctx, []string{f.id("b"), f.id("a")}, func(p *store.Position) error {
			got = append(got, p)
			return nil
		})
		if err != nil {
			t.Fatalf("PositionScan: %v", err)
		}
		want := append(slices.Clone(a), b...) // snapshot id order: a before b
		if len(got) != len(want) {
			t.Fatalf("scanned %d positions, want %d", len(got), len(want))
		}
		for i := range got {
			node := "NA"
			if i >= len(a) {
				node = "NB"
			}
			checkPosition(t, got[i], want[i], node)
		}
		stop := errors.New("stop here")
		n := 0
		err = f.s.PositionScan(f.ctx, []string{f.id("a")}, func(*store.Position) error {
			n++
			if n == 3 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || n != 3 {
			t.Errorf("PositionScan with a failing fn: err %v after %d rows; want the fn's error after 3", err, n)
		}
	})
	t.Run("ByID", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		mk := func(snap string, ids ...string) []*store.Position {
			out := make([]*store.Position, len(ids))
			for i, id := range ids {
				out[i] = Pos(id, "AMORT_LOAN", PositionHash(id), fmt.Sprintf(`{"snap":%q}`, snap))
				out[i].Quantity = ptr(float64(i + 2))
			}
			return out
		}
		c, d, e := mk("c", "X", "Y"), mk("d", "Z", "Y"), mk("e", "X")
		MustPositionSnapshot(t, f.ctx, f.s, &store.PositionSnapshot{ID: f.id("d"), PortfolioNodeID: "ND"}, d, 0)
		MustPositionSnapshot(t, f.ctx, f.s, &store.PositionSnapshot{ID: f.id("c"), PortfolioNodeID: "NC"}, c, 0)
		MustPositionSnapshot(t, f.ctx, f.s, &store.PositionSnapshot{ID: f.id("e"), PortfolioNodeID: "NE"}, e, 0)
		snaps := []string{f.id("d"), f.id("c"), f.id("nope")}
		got, err := f.s.PositionsByID(f.ctx, snaps, "Y")
		if err != nil || len(got) != 2 {
			t.Fatalf("PositionsByID(Y) = %d positions, %v; want 2", len(got), err)
		}
		checkPosition(t, got[0], c[1], "NC") // snapshot id order: c before d
		checkPosition(t, got[1], d[1], "ND")
		if string(got[0].Attributes) != `{"snap":"c"}` {
			t.Errorf("attributes %s", got[0].Attributes)
		}
		// X of snapshot e is not among the snapshots asked for.
		got, err = f.s.PositionsByID(f.ctx, snaps, "X")
		if err != nil || len(got) != 1 {
			t.Fatalf("PositionsByID(X) = %d positions, %v; want 1", len(got), err)
		}
		checkPosition(t, got[0], c[0], "NC")
		for _, id := range []string{"Q", "x", ""} {
			if got, err := f.s.PositionsByID(f.ctx, snaps, id); err != nil || len(got) != 0 {
				t.Errorf("PositionsByID(%q) = %d positions, %v; want none", id, len(got), err)
			}
		}
		if got, err := f.s.PositionsByID(f.ctx, nil, "X"); err != nil || len(got) != 0 {
			t.Errorf("PositionsByID(no snapshots) = %d positions, %v; want none", len(got), err)
		}
	})
}

func commitSnapshot(t *testing.T, f *fixture, hdr *store.PositionSnapshot, positions []*store.Position, serverID bool) (*store.PositionSnapshot, bool) {
	t.Helper()
	fillPositionSnapshot(hdr, positions)
	w, err := f.s.PositionSnapshotBegin(f.ctx, hdr.ID)
	if err != nil {
		t.Fatalf("PositionSnapshotBegin(%q): %v", hdr.ID, err)
	}
	defer w.Rollback(f.ctx) //nolint:errcheck // safe after Commit
	if err := w.Add(f.ctx, positions); err != nil {
		t.Fatalf("Add: %v", err)
	}
	stored, created, err := w.Commit(f.ctx, hdr, serverID)
	if err != nil {
		t.Fatalf("Commit(%q): %v", hdr.ID, err)
	}
	if err := w.Rollback(f.ctx); err != nil {
		t.Errorf("Rollback after Commit: %v", err)
	}
	return stored, created
}

func assertNoSnapshot(t *testing.T, f *fixture, id string) {
	t.Helper()
	if _, err := f.s.PositionSnapshotGet(f.ctx, id); !errors.Is(err, apperr.ErrNotFound) {
		t.Errorf("PositionSnapshotGet(%q) = %v, want ErrNotFound", id, err)
	}
	if _, err := f.s.PositionList(f.ctx, id, -1, 10); !errors.Is(err, apperr.ErrNotFound) {
		t.Errorf("PositionList(%q) = %v, want ErrNotFound", id, err)
	}
	if b, err := f.s.PositionBuckets(f.ctx, []string{id}, 3); err != nil || len(b) != 0 {
		t.Errorf("PositionBuckets(%q) = %v, %v; want none", id, b, err)
	}
	n := 0
	if err := f.s.PositionScan(f.ctx, []string{id}, func(*store.Position) error { n++; return nil }); err != nil || n != 0 {
		t.Errorf("PositionScan(%q) = %d rows, %v; want none", id, n, err)
	}
}
