package storetest

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/store"
)

// completeWith makes a one-task run of the snapshots, claims its task and
// completes it with the rows (which must be of those snapshots) and
// aggregates. It returns the run id.
func (f *fixture) completeWith(t *testing.T, name string, snapshotIDs []string, rows func(runID string) []*store.PositionResult, aggs ...store.TaskAggregate) string {
	t.Helper()
	r, _ := MustRun(t, f.ctx, f.s, RunOpts{
		Run:   &store.Run{ID: f.id(name), HashMod: 1, PositionSnapshotIDs: snapshotIDs},
		Tasks: taskSpec(1, "FIXED_BOND", T0, 3),
	})
	task := f.mustClaim(t, "w-"+name, T0)
	if err := f.complete(task, T0.Add(time.Second), rows(r.ID), aggs...); err != nil {
		t.Fatalf("TaskComplete: %v", err)
	}
	return r.ID
}

func compareResults(a, b *store.PositionResult) int {
	return cmp.Or(cmp.Compare(a.PositionSnapshotID, b.PositionSnapshotID), cmp.Compare(a.PositionID, b.PositionID))
}

func checkResult(t testing.TB, got, want *store.PositionResult) {
	t.Helper()
	if got.RunID != want.RunID || got.PositionSnapshotID != want.PositionSnapshotID || got.PositionID != want.PositionID ||
		got.InstrumentID != want.InstrumentID || got.ProductType != want.ProductType || got.PortfolioNodeID != want.PortfolioNodeID ||
		!bytes.Equal(got.Values, want.Values) {
		t.Errorf("result = %+v, want %+v", got, want)
	}
}

// valuesBlob is an opaque value payload unique to a position, with bytes a
// text column would mangle (NUL, invalid UTF-8).
func valuesBlob(i int, snapshotID, positionID string) []byte {
	b := []byte{0, 0xff, 0xfe, byte(i), byte(i >> 8), 0x80}
	b = append(b, snapshotID...)
	b = append(b, 0)
	b = append(b, positionID...)
	return bytes.Repeat(b, 1+i%3)
}

// resultFixture stores two snapshots whose positions share some ids, and a
// completed run with results for every position.
type resultFixture struct {
	runID string
	rows  []*store.PositionResult // as written, sorted in ResultList order
	// attrs[snapshot, position][name] is the JSON text a driver must give
	// for the attribute, nil when absent or null.
	attrs map[[2]string]map[string][]byte
	// whole[snapshot, position] is the attributes object as stored.
	whole map[[2]string]string
}

func newResultFixture(t *testing.T, f *fixture) *resultFixture {
	t.Helper()
	attrs := []string{
		`{"coupon_rate":0.045,"desk":"RATES","flag":true,"nullish":null,"rank":7}`,
		`{"coupon_rate":0.5,"desk":"CREDIT","flag":false,"rank":-2}`,
		`{"desk":"","nested":{"a":1},"rank":1000000}`,
		`{"desk":"RATES","rank":7}`,
		`{}`,
	}
	str := func(s string) []byte { return []byte(s) }
	keys := []map[string][]byte{
		{"desk": str(`"RATES"`), "rank": str("7"), "coupon_rate": str("0.045"), "flag": str("true")},
		{"desk": str(`"CREDIT"`), "rank": str("-2"), "coupon_rate": str("0.5"), "flag": str("false")},
		{"desk": str(`""`), "rank": str("1000000"), "nested": str(`{"a":1}`)},
		{"desk": str(`"RATES"`), "rank": str("7")},
		{},
	}
	types := []string{"AMORT_LOAN", "FIXED_BOND", "FX_FWD"}
	mk := func(ids []string) []*store.Position {
		var out []*store.Position
		for i, id := range ids {
			p := Pos(id, types[i%3], PositionHash(id), attrs[i%len(attrs)])
			p.InstrumentID = fmt.Sprintf("INS-%d", i%4)
			out = append(out, p)
		}
		return out
	}
	snapA, snapB := f.id("ps-a"), f.id("ps-b")
	posA := mk([]string{"P-03", "P-01", "P-10", "P-02", "P-07", "P-05", "P-04"})
	posB := mk([]string{"P-02", "P-09", "P-01", "P-11", "P-06"}) // P-01, P-02 in both
	MustPositionSnapshot(t, f.ctx, f.s, &store.PositionSnapshot{ID: snapB, PortfolioNodeID: "BOOK-B"}, posB, 0)
	MustPositionSnapshot(t, f.ctx, f.s, &store.PositionSnapshot{ID: snapA, PortfolioNodeID: "BOOK-A"}, posA, 0)
	rf := &resultFixture{attrs: map[[2]string]map[string][]byte{}, whole: map[[2]string]string{}}
	for _, s := range []struct {
		id string
		ps []*store.Position
	}{{snapA, posA}, {snapB, posB}} {
		for i, p := range s.ps {
			rf.attrs[[2]string{s.id, p.PositionID}] = keys[i%len(keys)]
			rf.whole[[2]string{s.id, p.PositionID}] = attrs[i%len(attrs)]
		}
	}
	rf.runID = f.completeWith(t, "run", []string{snapA, snapB}, func(runID string) []*store.PositionResult {
		var rows []*store.PositionResult
		for _, s := range []struct {
			id, node string
			ps       []*store.Position
		}{{snapA, "BOOK-A", posA}, {snapB, "BOOK-B", posB}} {
			for _, p := range s.ps {
				rows = append(rows, &store.PositionResult{RunID: runID, PositionSnapshotID: s.id, PositionID: p.PositionID,
					InstrumentID: p.InstrumentID, ProductType: p.ProductType, PortfolioNodeID: s.node,
					Values: valuesBlob(len(rows), s.id, p.PositionID)})
			}
		}
		rf.rows = slices.Clone(rows)
		return rows
	})
	slices.SortFunc(rf.rows, compareResults)
	return rf
}

// resultRowsFor builds one position result per position; the scenarios are
// named in the opaque values.
func resultRowsFor(runID, node string, scenarios []string, positions []*store.Position, snapshotID string) []*store.PositionResult {
	var rows []*store.PositionResult
	for i, p := range positions {
		rows = append(rows, &store.PositionResult{
			RunID: runID, PositionSnapshotID: snapshotID, PositionID: p.PositionID,
			InstrumentID: p.InstrumentID, ProductType: p.ProductType, PortfolioNodeID: node,
			Values: append(valuesBlob(i, snapshotID, p.PositionID), fmt.Sprint(scenarios)...),
		})
	}
	return rows
}

func testResult(t *testing.T, open Opener) {
	t.Run("ListOrderAndPagination", func(t *testing.T) {
		f := setup(t, open)
		rf := newResultFixture(t, f)
		if len(rf.rows) != 12 {
			t.Fatalf("fixture has %d rows, want 12", len(rf.rows))
		}
		for _, limit := range []int{1, 4, 7, 1000} {
			var got []*store.PositionResult
			p := store.ResultListParams{RunID: rf.runID, Limit: limit}
			for pages := 0; ; pages++ {
				if pages > 100 {
					t.Fatal("pagination does not end")
				}
				page, err := f.s.ResultList(f.ctx, p)
				if err != nil {
					t.Fatalf("ResultList(%+v): %v", p, err)
				}
				if len(page) > limit {
					t.Fatalf("page of %d rows, limit %d", len(page), limit)
				}
				got = append(got, page...)
				if len(page) < limit {
					break
				}
				last := page[len(page)-1]
				p.AfterSnapshotID, p.AfterPositionID = last.PositionSnapshotID, last.PositionID
			}
			if len(got) != len(rf.rows) {
				t.Errorf("limit %d: %d rows, want %d", limit, len(got), len(rf.rows))
				continue
			}
			for i := range got {
				checkResult(t, got[i], rf.rows[i])
			}
		}
		// From includes the row at the cursor.
		mid := rf.rows[5]
		page, err := f.s.ResultList(f.ctx, store.ResultListParams{RunID: rf.runID, Limit: 2,
			AfterSnapshotID: mid.PositionSnapshotID, AfterPositionID: mid.PositionID, From: true})
		if err != nil || len(page) != 2 {
			t.Fatalf("ResultList(From) = %d rows, %v", len(page), err)
		}
		checkResult(t, page[0], rf.rows[5])
		checkResult(t, page[1], rf.rows[6])
		if rows, err := f.s.ResultList(f.ctx, store.ResultListParams{RunID: f.id("no-such-run"), Limit: 10}); err != nil || len(rows) != 0 {
			t.Errorf("ResultList(unknown run) = %d rows, %v; want none", len(rows), err)
		}
	})

	t.Run("ResultsForPosition", func(t *testing.T) {
		f := setup(t, open)
		rf := newResultFixture(t, f)
		got, err := f.s.ResultsForPosition(f.ctx, rf.runID, "P-01")
		if err != nil {
			t.Fatalf("ResultsForPosition: %v", err)
		}
		var want []*store.PositionResult
		for _, r := range rf.rows {
			if r.PositionID == "P-01" {
				want = append(want, r)
			}
		}
		if len(got) != 2 || len(want) != 2 {
			t.Fatalf("ResultsForPosition(P-01) = %d rows (expected %d), want one per snapshot", len(got), len(want))
		}
		for i := range got {
			checkResult(t, got[i], want[i])
		}
		if got, err := f.s.ResultsForPosition(f.ctx, rf.runID, "P-99"); err != nil || len(got) != 0 {
			t.Errorf("ResultsForPosition(unknown) = %d rows, %v; want none", len(got), err)
		}
	})

	t.Run("ResultValues", func(t *testing.T) {
		f := setup(t, open)
		rf := newResultFixture(t, f)
		// Every other row, a key of a position the run lacks, a key of
		// a snapshot the run lacks, and one key twice.
		var keys []store.PositionKey
		want := map[store.PositionKey][]byte{}
		for i, r := range rf.rows {
			if i%2 == 0 {
				k := store.PositionKey{SnapshotID: r.PositionSnapshotID, PositionID: r.PositionID}
				keys = append(keys, k)
				want[k] = r.Values
			}
		}
		keys = append(keys, store.PositionKey{SnapshotID: rf.rows[0].PositionSnapshotID, PositionID: "P-99"},
			store.PositionKey{SnapshotID: f.id("no-such-snapshot"), PositionID: "P-01"})
		got := map[store.PositionKey][]byte{}
		err := f.s.ResultValues(f.ctx, rf.runID, keys, func(r *store.PositionResult) error {
			k := store.PositionKey{SnapshotID: r.PositionSnapshotID, PositionID: r.PositionID}
			if _, dup := got[k]; dup {
				t.Errorf("%v read twice", k)
			}
			if r.RunID != rf.runID {
				t.Errorf("RunID = %q, want %q", r.RunID, rf.runID)
			}
			got[k] = bytes.Clone(r.Values)
			return nil
		})
		if err != nil {
			t.Fatalf("ResultValues: %v", err)
		}
		if !maps.EqualFunc(got, want, bytes.Equal) {
			t.Errorf("ResultValues read %d rows, want %d: %v", len(got), len(want), slices.Collect(maps.Keys(got)))
		}
		if err := f.s.ResultValues(f.ctx, f.id("no-such-run"), keys, func(*store.PositionResult) error {
			return errors.New("a row of an unknown run")
		}); err != nil {
			t.Errorf("ResultValues(unknown run): %v", err)
		}
		stop := errors.New("stop")
		if err := f.s.ResultValues(f.ctx, rf.runID, keys, func(*store.PositionResult) error { return stop }); !errors.Is(err, stop) {
			t.Errorf("ResultValues did not return fn's error: %v", err)
		}
	})

	t.Run("ScanWithAttributes", func(t *testing.T) {
		f := setup(t, open)
		rf := newResultFixture(t, f)
		names := []string{"desk", "rank", "coupon_rate", "flag", "nullish", "missing", "nested"}
		i := 0
		err := f.s.ResultScan(f.ctx, store.ResultScanParams{RunID: rf.runID, Attrs: names, AllAttributes: true}, func(r *store.PositionResult) error {
			if i >= len(rf.rows) {
				return fmt.Errorf("row %d beyond the %d expected", i, len(rf.rows))
			}
			want := rf.rows[i]
			checkResult(t, r, want)
			key := [2]string{want.PositionSnapshotID, want.PositionID}
			if len(r.Attrs) != len(names) {
				t.Fatalf("Attrs has %d values, want %d", len(r.Attrs), len(names))
			}
			for j, name := range names {
				if w := rf.attrs[key][name]; !bytes.Equal(r.Attrs[j], w) || (w == nil) != (r.Attrs[j] == nil) {
					t.Errorf("%s/%s attribute %s = %q, want %q", key[0], key[1], name, r.Attrs[j], w)
				}
			}
			if !jsonEqual(t, r.Attributes, []byte(rf.whole[key])) {
				t.Errorf("%s/%s attributes = %s, want %s", key[0], key[1], r.Attributes, rf.whole[key])
			}
			i++
			return nil
		})
		if err != nil || i != len(rf.rows) {
			t.Errorf("ResultScan = %d rows, %v; want %d", i, err, len(rf.rows))
		}
		// Without attributes asked for, none are read.
		err = f.s.ResultScan(f.ctx, store.ResultScanParams{RunID: rf.runID}, func(r *store.PositionResult) error {
			if r.Attrs != nil || r.Attributes != nil {
				t.Errorf("attributes read though none were asked for: %q %q", r.Attrs, r.Attributes)
			}
			return nil
		})
		if err != nil {
			t.Errorf("ResultScan: %v", err)
		}
		for _, bad := range []string{"", "bad-name", `a"b`, "1abc", "a.b", "a b"} {
			err := f.s.ResultScan(f.ctx, store.ResultScanParams{RunID: rf.runID, Attrs: []string{bad}}, func(*store.PositionResult) error { return nil })
			if !errors.Is(err, &apperr.Error{Code: apperr.Invalid}) {
				t.Errorf("ResultScan(Attrs %q): %v, want an Invalid error", bad, err)
			}
		}
		stop := errors.New("stop")
		n := 0
		err = f.s.ResultScan(f.ctx, store.ResultScanParams{RunID: rf.runID}, func(*store.PositionResult) error {
			n++
			if n == 5 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || n != 5 {
			t.Errorf("ResultScan with a failing fn: %v after %d rows; want the fn's error after 5", err, n)
		}
		n = 0
		if err := f.s.ResultScan(f.ctx, store.ResultScanParams{RunID: f.id("no-such-run")}, func(*store.PositionResult) error { n++; return nil }); err != nil || n != 0 {
			t.Errorf("ResultScan(unknown run) = %d rows, %v; want none", n, err)
		}
	})

	t.Run("PositionAttributeNames", func(t *testing.T) {
		f := setup(t, open)
		newResultFixture(t, f)
		got, err := f.s.PositionAttributeNames(f.ctx, []string{f.id("ps-a"), f.id("ps-b")})
		want := []string{"coupon_rate", "desk", "flag", "nested", "nullish", "rank"}
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("PositionAttributeNames = %q, %v; want %q", got, err, want)
		}
		if got, err := f.s.PositionAttributeNames(f.ctx, []string{f.id("no-such-snapshot")}); err != nil || len(got) != 0 {
			t.Errorf("PositionAttributeNames(unknown) = %q, %v; want none", got, err)
		}
	})

	t.Run("ScanOneSnapshot", func(t *testing.T) {
		f := setup(t, open)
		rf := newResultFixture(t, f)
		for _, snap := range []string{f.id("ps-a"), f.id("ps-b")} {
			var want []*store.PositionResult
			for _, r := range rf.rows {
				if r.PositionSnapshotID == snap {
					want = append(want, r)
				}
			}
			i := 0
			err := f.s.ResultScan(f.ctx, store.ResultScanParams{RunID: rf.runID, SnapshotID: snap, Attrs: []string{"desk"}}, func(r *store.PositionResult) error {
				if i >= len(want) {
					return fmt.Errorf("row %s/%s beyond the %d of snapshot %s", r.PositionSnapshotID, r.PositionID, len(want), snap)
				}
				checkResult(t, r, want[i])
				if w := rf.attrs[[2]string{snap, r.PositionID}]["desk"]; !bytes.Equal(r.Attrs[0], w) {
					t.Errorf("%s/%s desk = %q, want %q", snap, r.PositionID, r.Attrs[0], w)
				}
				i++
				return nil
			})
			if err != nil || i != len(want) || len(want) == 0 {
				t.Errorf("ResultScan(snapshot %s) = %d rows, %v; want %d", snap, i, err, len(want))
			}
		}
		// ValuesOnly: the keys and the values, nothing else.
		i := 0
		err := f.s.ResultScan(f.ctx, store.ResultScanParams{RunID: rf.runID, ValuesOnly: true}, func(r *store.PositionResult) error {
			if i >= len(rf.rows) {
				return fmt.Errorf("row %d beyond the %d expected", i, len(rf.rows))
			}
			want := *rf.rows[i]
			want.InstrumentID, want.ProductType, want.PortfolioNodeID, want.TaskID = "", "", "", 0
			checkResult(t, r, &want)
			if r.TaskID != 0 || r.Attrs != nil || r.Attributes != nil {
				t.Errorf("ValuesOnly row %+v has more than its keys and values", r)
			}
			i++
			return nil
		})
		if err != nil || i != len(rf.rows) {
			t.Errorf("ResultScan(ValuesOnly) = %d rows, %v; want %d", i, err, len(rf.rows))
		}
		n := 0
		err = f.s.ResultScan(f.ctx, store.ResultScanParams{RunID: rf.runID, SnapshotID: f.id("no-such-snapshot")}, func(*store.PositionResult) error { n++; return nil })
		if err != nil || n != 0 {
			t.Errorf("ResultScan(unknown snapshot) = %d rows, %v; want none", n, err)
		}

		// Across chunks, every row of the snapshot and none of the
		// snapshots before or after it, in position id order.
		const per = 4500 // more than one chunk of any driver
		all := manyPositions(f.prefix, 3*per)
		ids := []string{f.id("big-1"), f.id("big-2"), f.id("big-3")}
		for i, id := range ids {
			MustPositionSnapshot(t, f.ctx, f.s, &store.PositionSnapshot{ID: id}, all[i*per:(i+1)*per], 0)
		}
		runID := f.completeWith(t, "big", ids, func(runID string) []*store.PositionResult {
			var rows []*store.PositionResult
			for i, id := range ids {
				// The same ids in every snapshot: only the filter
				// keeps them apart.
				ps := make([]*store.Position, per)
				for j := range ps {
					p := *all[i*per+j]
					p.PositionID = all[j].PositionID
					ps[j] = &p
				}
				rows = append(rows, resultRowsFor(runID, "N", []string{"BASE"}, ps, id)...)
			}
			return rows
		})
		seen := 0
		var prev string
		err = f.s.ResultScan(f.ctx, store.ResultScanParams{RunID: runID, SnapshotID: ids[1], ValuesOnly: true}, func(r *store.PositionResult) error {
			if r.PositionSnapshotID != ids[1] {
				return fmt.Errorf("row of snapshot %s in a scan of %s", r.PositionSnapshotID, ids[1])
			}
			if seen > 0 && r.PositionID <= prev {
				return fmt.Errorf("position %s after %s", r.PositionID, prev)
			}
			prev = r.PositionID
			seen++
			return nil
		})
		if err != nil || seen != per {
			t.Errorf("ResultScan(snapshot %s) = %d rows, %v; want %d", ids[1], seen, err, per)
		}
	})

	t.Run("ScanCrossesChunksInOrderWhileOthersWrite", func(t *testing.T) {
		f := setup(t, open)
		const n = 9000 // more than two chunks of any driver
		positions := manyPositions(f.prefix, n)
		MustPositionSnapshot(t, f.ctx, f.s, &store.PositionSnapshot{ID: f.id("ps")}, positions, 0)
		want := map[string][]byte{}
		runID := f.completeWith(t, "run", []string{f.id("ps")}, func(runID string) []*store.PositionResult {
			rows := resultRowsFor(runID, "N", []string{"BASE"}, positions, f.id("ps"))
			for _, r := range rows {
				want[r.PositionID] = r.Values
			}
			return rows
		})
		otherRun, _ := f.simpleRun(t, "other", 1, 3)
		other := otherRun.ID
		seen := 0
		var prev *store.PositionResult
		err := f.s.ResultScan(f.ctx, store.ResultScanParams{RunID: runID, Attrs: []string{"k"}}, func(r *store.PositionResult) error {
			if prev != nil && compareResults(prev, r) >= 0 {
				t.Fatalf("rows out of order: %s/%s then %s/%s", prev.PositionSnapshotID, prev.PositionID, r.PositionSnapshotID, r.PositionID)
			}
			if !bytes.Equal(r.Values, want[r.PositionID]) {
				t.Fatalf("row %d (%s): values %q, want %q", seen, r.PositionID, r.Values, want[r.PositionID])
			}
			p := *r
			prev = &p
			seen++
			if seen%4000 == 0 {
				// A write while a scan is under way does not wait for
				// the scan (SQLite has one writer; a held read
				// transaction would not block it, a held write would).
				if _, err := f.s.RunCancel(f.ctx, other); err != nil {
					t.Errorf("a write during a scan: %v", err)
				}
			}
			return nil
		})
		if err != nil || seen != n {
			t.Errorf("ResultScan = %d rows, %v; want %d", seen, err, n)
		}
		// The values only, across chunks: every row's own bytes (a driver
		// may read them into the bytes of rows fn has had before).
		seen = 0
		err = f.s.ResultScan(f.ctx, store.ResultScanParams{RunID: runID, ValuesOnly: true}, func(r *store.PositionResult) error {
			if !bytes.Equal(r.Values, want[r.PositionID]) {
				return fmt.Errorf("row %d (%s): values %q, want %q", seen, r.PositionID, r.Values, want[r.PositionID])
			}
			seen++
			return nil
		})
		if err != nil || seen != n {
			t.Errorf("ResultScan(ValuesOnly) = %d rows, %v; want %d", seen, err, n)
		}
	})

	t.Run("TaskAggregatesOfSucceededTasks", func(t *testing.T) {
		f := setup(t, open)
		positions := manyPositions(f.prefix, 4)
		MustPositionSnapshot(t, f.ctx, f.s, &store.PositionSnapshot{ID: f.id("ps")}, positions, 0)
		r, _ := f.simpleRun(t, "run", 2, 3)
		t1 := f.mustClaim(t, "w1", T0)
		t2 := f.mustClaim(t, "w2", T0)
		aggs := func(tag string) []store.TaskAggregate {
			return []store.TaskAggregate{{KeyBy: "", Payload: []byte(tag + "-all\x00\xff")}, {KeyBy: "product_type", Payload: []byte(tag + "-pt")}}
		}
		if err := f.complete(t2, T0, resultRowsFor(r.ID, "N", []string{"BASE"}, positions[2:], f.id("ps")), aggs("t2")...); err != nil {
			t.Fatalf("TaskComplete: %v", err)
		}
		collect := func(keyBy string) map[int64]string {
			got := map[int64]string{}
			if err := f.s.TaskAggregates(f.ctx, r.ID, keyBy, func(id int64, p []byte) error { got[id] = string(p); return nil }); err != nil {
				t.Fatalf("TaskAggregates: %v", err)
			}
			return got
		}
		if got := collect(""); len(got) != 1 || got[t2.ID] != "t2-all\x00\xff" {
			t.Errorf("TaskAggregates with one task done = %v", got)
		}
		// A failed write of a task leaves no aggregate.
		dup := append(resultRowsFor(r.ID, "N", []string{"BASE"}, positions[:2], f.id("ps")), resultRowsFor(r.ID, "N", nil, positions[:1], f.id("ps"))...)
		if err := f.complete(t1, T0, dup, aggs("bad")...); err == nil {
			t.Fatal("TaskComplete with a repeated position succeeded")
		}
		if got := collect(""); len(got) != 1 {
			t.Errorf("a failed TaskComplete left aggregates: %v", got)
		}
		if err := f.complete(t1, T0, resultRowsFor(r.ID, "N", []string{"BASE"}, positions[:2], f.id("ps")), aggs("t1")...); err != nil {
			t.Fatalf("TaskComplete: %v", err)
		}
		want := map[int64]string{t1.ID: "t1-pt", t2.ID: "t2-pt"}
		if got := collect("product_type"); !maps.Equal(got, want) {
			t.Errorf("TaskAggregates(product_type) = %v, want %v", got, want)
		}
		if got := collect("portfolio_node_id"); len(got) != 0 {
			t.Errorf("TaskAggregates of a grouping never written = %v", got)
		}
	})

	t.Run("RunAggregateCache", func(t *testing.T) {
		f := setup(t, open)
		run, _ := f.simpleRun(t, "run", 1, 3)
		runID := run.ID
		if _, err := f.s.RunAggregateGet(f.ctx, runID, "cube:attr:state"); !errors.Is(err, apperr.ErrNotFound) {
			t.Errorf("RunAggregateGet before a put: %v, want ErrNotFound", err)
		}
		first := []byte("first\x00\xff")
		if err := f.s.RunAggregatePut(f.ctx, runID, "cube:attr:state", first); err != nil {
			t.Fatalf("RunAggregatePut: %v", err)
		}
		if err := f.s.RunAggregatePut(f.ctx, runID, "cube:attr:state", []byte("second")); err != nil {
			t.Fatalf("RunAggregatePut again: %v", err)
		}
		if got, err := f.s.RunAggregateGet(f.ctx, runID, "cube:attr:state"); err != nil || !bytes.Equal(got, first) {
			t.Errorf("RunAggregateGet = %q, %v; want the first payload %q", got, err, first)
		}
		if err := f.s.RunAggregatePut(f.ctx, f.id("no-such-run"), "x", first); !errors.Is(err, apperr.ErrNotFound) {
			t.Errorf("RunAggregatePut(unknown run): %v, want ErrNotFound", err)
		}
	})
}
