package postgres_test

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/store/postgres"
	"github.com/iprs/iprs/internal/store/storetest"
	"github.com/iprs/iprs/internal/store/teststore"
	schema "github.com/iprs/iprs/sql"
)

var t0 = time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC)

// TestMigrate runs the migrations in an empty schema: Open refuses it until
// migrated, concurrent migrators apply each file once, and a second run
// changes nothing.
func TestMigrate(t *testing.T) {
	testURL(t) // skips without a database
	ctx := t.Context()
	u := teststore.PostgresURL(t)

	_, err := postgres.Open(ctx, u, postgres.Options{})
	if err == nil || !strings.Contains(err.Error(), "iprs migrate") {
		t.Fatalf("Open(empty schema) = %v, want an error saying to run `iprs migrate`", err)
	}

	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			db, err := postgres.Open(ctx, u, postgres.Options{Migrate: true})
			if err != nil {
				errs[i] = err
				return
			}
			db.Close()
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("concurrent Open(Migrate) #%d: %v", i, err)
		}
	}
	db, err := postgres.Open(ctx, u, postgres.Options{})
	if err != nil {
		t.Fatalf("Open after migrate: %v", err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	v, err := db.SchemaVersion(ctx)
	if err != nil || v != schema.Latest() {
		t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, schema.Latest())
	}
	var n int
	if err := db.Pool().QueryRow(ctx, "SELECT count(*) FROM schema_migration").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != len(schema.Migrations()) {
		t.Fatalf("schema_migration has %d rows, want %d", n, len(schema.Migrations()))
	}
	// The tables landed in the test schema, not elsewhere.
	var where string
	if err := db.Pool().QueryRow(ctx, `SELECT table_schema FROM information_schema.tables WHERE table_name = 'run_task' AND table_schema = current_schema()`).Scan(&where); err != nil {
		t.Fatalf("run_task in the test schema: %v", err)
	}
	if where == "public" {
		t.Fatalf("migrations ran in the public schema")
	}

	// A database migrated by an earlier revision of the file (here: one
	// that lacked run_aggregate and the revision column): opening it
	// without migrating is refused, and Migrate applies the file again.
	if _, err := db.Pool().Exec(ctx, `DROP TABLE run_aggregate; ALTER TABLE schema_migration DROP COLUMN revision`); err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.Open(ctx, u, postgres.Options{}); err == nil || !strings.Contains(err.Error(), "iprs migrate") {
		t.Fatalf("Open(an earlier revision) = %v, want an error saying to run `iprs migrate`", err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("Migrate of an earlier revision: %v", err)
	}
	var rev int
	if err := db.Pool().QueryRow(ctx, "SELECT revision FROM schema_migration WHERE version = 1").Scan(&rev); err != nil || rev != schema.Migrations()[0].Revision || rev < 2 {
		t.Fatalf("recorded revision = %d, %v; want %d", rev, err, schema.Migrations()[0].Revision)
	}
	if _, err := db.Pool().Exec(ctx, `SELECT 1 FROM run_aggregate LIMIT 1`); err != nil {
		t.Fatalf("run_aggregate after the migration: %v", err)
	}
	again, err := postgres.Open(ctx, u, postgres.Options{})
	if err != nil {
		t.Fatalf("Open after migrating an earlier revision: %v", err)
	}
	again.Close()
}

// mustResultRun makes a run over one snapshot with one product type and
// hashMod buckets, and returns its tasks.
func mustResultRun(tb testing.TB, ctx context.Context, s store.Store, name string, n, hashMod int) (*store.Run, []*store.Task, []*store.Position) {
	tb.Helper()
	id := uid(tb, name)
	ps := make([]*store.Position, n)
	for i := range ps {
		pid := fmt.Sprintf("P%06d", i)
		ps[i] = pos(pid, "LOAN", int64(i), fmt.Sprintf(`{"i":%d}`, i))
	}
	snap := mustSnapshot(tb, ctx, s, id+"-ps", "NODE-A", ps, 0)
	r := mustRun(tb, ctx, s, id, []string{snap.ID}, hashMod, 3, nil)
	tasks, err := s.RunTasks(ctx, id)
	if err != nil {
		tb.Fatal(err)
	}
	return r, tasks, ps
}

// TestTaskClaimConcurrent has many workers drain a queue at once: each task
// is claimed exactly once and nobody waits on anybody's row lock.
func TestTaskClaimConcurrent(t *testing.T) {
	t.Parallel()
	db := MustOpenIsolated(t, postgres.Options{MaxConns: 10})
	ctx := t.Context()
	const nTasks = 60
	r, _, _ := mustResultRun(t, ctx, db, "claims", nTasks, nTasks)
	want := map[int64]bool{}
	tasks, err := db.RunTasks(ctx, r.ID)
	if err != nil || len(tasks) != nTasks {
		t.Fatalf("RunTasks = %d tasks, %v; want %d", len(tasks), err, nTasks)
	}
	for _, tk := range tasks {
		want[tk.ID] = true
	}
	var (
		mu      sync.Mutex
		claimed = map[int64]string{}
		wg      sync.WaitGroup
	)
	for w := range 8 {
		owner := fmt.Sprintf("%s-w%d", r.ID, w)
		wg.Go(func() {
			for {
				tk, err := db.TaskClaim(ctx, store.TaskClaimParams{Owner: owner, Lease: time.Hour})
				if errors.Is(err, apperr.ErrNotFound) {
					return
				}
				if err != nil {
					t.Errorf("TaskClaim: %v", err)
					return
				}
				if tk.LeaseOwner != owner || tk.Status != store.TaskRunning || tk.Attempts != 1 {
					t.Errorf("claimed %+v", tk)
				}
				if !want[tk.ID] {
					t.Errorf("claimed unknown task %d", tk.ID)
				}
				mu.Lock()
				if prev, dup := claimed[tk.ID]; dup {
					t.Errorf("task %d claimed by %s and %s", tk.ID, prev, owner)
				}
				claimed[tk.ID] = owner
				mu.Unlock()
				if err := db.TaskComplete(ctx, store.TaskCompleteParams{ClaimRef: tk.Ref()}); err != nil {
					t.Errorf("TaskComplete(%d): %v", tk.ID, err)
				}
			}
		})
	}
	wg.Wait()
	if len(claimed) != nTasks {
		t.Fatalf("claimed %d of %d tasks", len(claimed), nTasks)
	}
	got := storetest.MustRunGet(t, ctx, db, r.ID)
	if got.Status != store.RunCompleted || got.StartedAt == nil || got.CompletedAt == nil {
		t.Fatalf("run after draining = %s started %v completed %v", got.Status, got.StartedAt, got.CompletedAt)
	}
}

// TestRunCreateConcurrentDuplicates submits one run id many times at once.
func TestRunCreateConcurrentDuplicates(t *testing.T) {
	t.Parallel()
	db := MustOpenIsolated(t, postgres.Options{MaxConns: 10})
	ctx := t.Context()
	id := uid(t, "dup")
	mkt := mustMarket(t, ctx, db, id+"-mkt")
	newRun := func(hash string) *store.Run {
		return &store.Run{
			ID: id, RunType: "SANDBOX", AsOfTime: t0, MarketSnapshotID: mkt.ID, Measures: []string{"PV"},
			Scenarios: []string{"BASE"}, HashMod: 1, MaxAttempts: 3, RequestHash: hash, Request: []byte(`{"a":1}`),
			EngineVersion: "test", RequestedAt: t0,
		}
	}
	tasks := func() []*store.Task {
		return []*store.Task{{ProductType: "LOAN", Bucket: 0, PositionCount: 0}, {ProductType: "BOND", Bucket: 0}}
	}
	const n = 8
	var wg sync.WaitGroup
	created := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			hash := "h1"
			if i%4 == 3 {
				hash = "h2"
			}
			_, created[i], errs[i] = db.RunCreate(ctx, newRun(hash), tasks())
		})
	}
	wg.Wait()
	nCreated, nConflict := 0, 0
	winnerHash := ""
	for i := range n {
		switch {
		case errs[i] == nil && created[i]:
			nCreated++
			winnerHash = map[bool]string{true: "h2", false: "h1"}[i%4 == 3]
		case errs[i] == nil:
		case errors.Is(errs[i], apperr.ErrConflict):
			nConflict++
		default:
			t.Errorf("RunCreate #%d: %v", i, errs[i])
		}
	}
	if nCreated != 1 {
		t.Fatalf("%d submissions created the run, want exactly 1", nCreated)
	}
	// Those with the other hash conflict, the rest see the stored run.
	wantConflicts := 2
	if winnerHash == "h2" {
		wantConflicts = 6
	}
	if nConflict != wantConflicts {
		t.Errorf("%d conflicts, want %d (winner %s)", nConflict, wantConflicts, winnerHash)
	}
	ts, err := db.RunTasks(ctx, id)
	if err != nil || len(ts) != 2 {
		t.Fatalf("RunTasks = %d, %v; want the 2 tasks once", len(ts), err)
	}
}

// TestLastTwoTasksSettleRun finishes a run's last two tasks at the same
// time, many times over: the run always ends COMPLETED (or FAILED with a
// DEAD task), never stuck RUNNING.
func TestLastTwoTasksSettleRun(t *testing.T) {
	t.Parallel()
	db := MustOpenIsolated(t, postgres.Options{MaxConns: 10})
	ctx := t.Context()
	for round := range 15 {
		r, _, _ := mustResultRun(t, ctx, db, fmt.Sprintf("settle%d", round), 2, 2)
		tasks, err := db.RunTasks(ctx, r.ID)
		if err != nil || len(tasks) != 2 {
			t.Fatalf("RunTasks: %d, %v", len(tasks), err)
		}
		owners := []string{r.ID + "-a", r.ID + "-b"}
		var held []*store.Task
		for _, o := range owners {
			held = append(held, mustClaim(t, ctx, db, o, time.Hour))
		}
		fail := round%3 == 0
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, tk := range held {
			wg.Go(func() {
				<-start
				var err error
				if fail && i == 0 {
					err = db.TaskFail(ctx, store.TaskFailParams{ClaimRef: tk.Ref(), Error: "bad position", Permanent: true})
				} else {
					err = db.TaskComplete(ctx, store.TaskCompleteParams{ClaimRef: tk.Ref()})
				}
				if err != nil {
					t.Errorf("finish task %d: %v", tk.ID, err)
				}
			})
		}
		close(start)
		wg.Wait()
		got := storetest.MustRunGet(t, ctx, db, r.ID)
		want := store.RunCompleted
		if fail {
			want = store.RunFailed
		}
		if got.Status != want || got.CompletedAt == nil {
			t.Fatalf("round %d: run %s completed_at %v, want %s", round, got.Status, got.CompletedAt, want)
		}
		if fail && !strings.Contains(got.Error, "bad position") {
			t.Errorf("round %d: run error %q does not name the task's failure", round, got.Error)
		}
	}
}

// TestPositionWriter covers the COPY path: batches, rollback, concurrent
// uploads of one id, and server-made ids deduplicated by payload hash.
func TestPositionWriter(t *testing.T) {
	t.Parallel()
	db := MustOpenIsolated(t, postgres.Options{MaxConns: 10})
	ctx := t.Context()
	id := uid(t, "ps")
	mk := func(n int, tag string) []*store.Position {
		out := make([]*store.Position, n)
		for i := range out {
			q := float64(i) * 1.5
			out[i] = pos(fmt.Sprintf("P%05d", i), []string{"LOAN", "BOND", "FX_FORWARD"}[i%3], positionHash(fmt.Sprint(i)),
				fmt.Sprintf(`{"tag":%q,"n":%d,"nested":{"a":[1,2.50,"x"]}}`, tag, i))
			out[i].SnapshotID, out[i].Seq = id, int64(i)
			if i%2 == 0 {
				out[i].Quantity = &q
			}
		}
		return out
	}

	// Rolled back: nothing visible, and the id stays free.
	w, err := db.PositionSnapshotBegin(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Add(ctx, mk(10, "x")); err != nil {
		t.Fatal(err)
	}
	if err := w.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.PositionSnapshotGet(ctx, id); !errors.Is(err, apperr.ErrNotFound) {
		t.Fatalf("after rollback: %v, want not found", err)
	}
	if _, err := db.PositionList(ctx, id, -1, 10); !errors.Is(err, apperr.ErrNotFound) {
		t.Fatalf("PositionList after rollback: %v, want not found", err)
	}
	if b, err := db.PositionBuckets(ctx, []string{id}, 1); err != nil || len(b) != 0 {
		t.Fatalf("PositionBuckets after rollback: %v, %v; want none", b, err)
	}

	// Seq must continue.
	w, err = db.PositionSnapshotBegin(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	bad := mk(3, "x")
	bad[0].Seq = 5
	if err := w.Add(ctx, bad); err == nil {
		t.Fatal("Add accepted a seq gap")
	}
	_ = w.Rollback(ctx)

	// Two uploads of the same id at once, in batches: one stores, the
	// other gets the stored snapshot back.
	rows := mk(2500, "a")
	hdr := func() *store.PositionSnapshot {
		return &store.PositionSnapshot{ID: id, AsOfTime: t0, PortfolioNodeID: "NODE-W", PayloadHash: "hash-a", PositionCount: int64(len(rows))}
	}
	var wg sync.WaitGroup
	created := make([]bool, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Go(func() {
			w, err := db.PositionSnapshotBegin(ctx, id)
			if err != nil {
				errs[i] = err
				return
			}
			defer w.Rollback(ctx) //nolint:errcheck
			for s := 0; s < len(rows); s += 1000 {
				if err := w.Add(ctx, rows[s:min(s+1000, len(rows))]); err != nil {
					errs[i] = err
					return
				}
			}
			_, created[i], errs[i] = w.Commit(ctx, hdr(), false)
		})
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil || created[0] == created[1] {
		t.Fatalf("concurrent uploads: created %v, errs %v", created, errs)
	}
	got, err := db.PositionSnapshotGet(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.PositionCount != 2500 || !slices.Equal(got.ProductTypes, []string{"BOND", "FX_FORWARD", "LOAN"}) || got.PortfolioNodeID != "NODE-W" {
		t.Fatalf("stored header %+v", got)
	}
	var all []*store.Position
	for after := int64(-1); ; {
		page, err := db.PositionList(ctx, id, after, 700)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		all = append(all, page...)
		after = page[len(page)-1].Seq
	}
	if len(all) != len(rows) {
		t.Fatalf("listed %d positions, want %d", len(all), len(rows))
	}
	for i, p := range all {
		w := rows[i]
		if p.Seq != int64(i) || p.PositionID != w.PositionID || p.ProductType != w.ProductType || p.Hash != w.Hash ||
			string(p.Attributes) != string(w.Attributes) || p.PortfolioNodeID != "NODE-W" || p.SnapshotID != id ||
			(p.Quantity == nil) != (w.Quantity == nil) || (p.Quantity != nil && *p.Quantity != *w.Quantity) {
			t.Fatalf("position %d = %+v, want %+v", i, p, w)
		}
	}

	// Same id, other content: Conflict.
	w, err = db.PositionSnapshotBegin(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Add(ctx, mk(1, "b")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.Commit(ctx, &store.PositionSnapshot{ID: id, AsOfTime: t0, PortfolioNodeID: "NODE-W", PayloadHash: "hash-b", PositionCount: 1}, false); !errors.Is(err, apperr.ErrConflict) {
		t.Fatalf("other content under the same id: %v, want Conflict", err)
	}

	// Server-made ids: the second upload of the same content at once
	// returns the first snapshot.
	hash := "hash-" + uid(t, "server")
	ids := []string{uid(t, "srv1"), uid(t, "srv2")}
	stored := make([]*store.PositionSnapshot, 2)
	for i := range 2 {
		wg.Go(func() {
			w, err := db.PositionSnapshotBegin(ctx, ids[i])
			if err != nil {
				errs[i] = err
				return
			}
			defer w.Rollback(ctx) //nolint:errcheck
			if err := w.Add(ctx, mk(50, "s")); err != nil {
				errs[i] = err
				return
			}
			stored[i], created[i], errs[i] = w.Commit(ctx, &store.PositionSnapshot{ID: ids[i], AsOfTime: t0, PortfolioNodeID: "NODE-S", PayloadHash: hash, PositionCount: 50}, true)
		})
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil || created[0] == created[1] || stored[0].ID != stored[1].ID {
		t.Fatalf("server-id uploads: created %v, errs %v, stored %v / %v", created, errs, stored[0], stored[1])
	}
	loser := ids[0]
	if stored[0].ID == ids[0] {
		loser = ids[1]
	}
	if b, err := db.PositionBuckets(ctx, []string{loser}, 1); err != nil || len(b) != 0 {
		t.Fatalf("the duplicate upload left rows: %v, %v", b, err)
	}
}

// TestResultScanAttr reads a position attribute of every JSON kind; names
// that are not identifiers are refused. While fn runs, the scan holds no
// pooled connection.
func TestResultScanAttr(t *testing.T) {
	t.Parallel()
	db := MustOpenIsolated(t, postgres.Options{})
	ctx := t.Context()
	id := uid(t, "attr")
	attrs := []string{
		`{"k":"plain"}`,
		`{"k":"quo\"te \u00e9"}`,
		`{"k":12.50}`,
		`{"k":{"a":[1,true]}}`,
		`{"k":null}`,
		`{"other":1}`,
		`{"k'); DROP TABLE position_result; --":"x","k":true}`,
		`{"k":"-0.0"}`,
	}
	// The decoded value of each attribute k; nil when absent or null.
	want := []any{"plain", "quo\"te é", 12.5, map[string]any{"a": []any{1.0, true}}, nil, nil, true, "-0.0"}
	ps := make([]*store.Position, len(attrs))
	for i, a := range attrs {
		ps[i] = pos(fmt.Sprintf("P%d", i), "LOAN", 0, a)
	}
	snap := mustSnapshot(t, ctx, db, id+"-ps", "NODE-A", ps, 3)
	r := mustRun(t, ctx, db, id, []string{snap.ID}, 1, 3, nil)
	tk := mustClaim(t, ctx, db, id, time.Minute)
	var res []*store.PositionResult
	for _, p := range ps {
		res = append(res, &store.PositionResult{RunID: r.ID, PositionSnapshotID: snap.ID, PositionID: p.PositionID,
			InstrumentID: p.InstrumentID, ProductType: "LOAN", PortfolioNodeID: "NODE-A", Values: []byte{1}})
	}
	if err := db.TaskComplete(ctx, store.TaskCompleteParams{ClaimRef: tk.Ref(), Results: res}); err != nil {
		t.Fatal(err)
	}
	n := 0
	err := db.ResultScan(ctx, store.ResultScanParams{RunID: r.ID, Attrs: []string{"k"}}, func(row *store.PositionResult) error {
		if held := db.Pool().Stat().AcquiredConns(); held != 0 {
			t.Errorf("ResultScan holds %d pooled connections while fn runs", held)
		}
		i := n
		n++
		if row.PositionID != fmt.Sprintf("P%d", i) {
			return fmt.Errorf("row %d is %s", i, row.PositionID)
		}
		if want[i] == nil {
			if row.Attrs[0] != nil {
				t.Errorf("attr k of %s = %s, want none", attrs[i], row.Attrs[0])
			}
			return nil
		}
		var got any
		if err := json.Unmarshal(row.Attrs[0], &got); err != nil || !reflect.DeepEqual(got, want[i]) {
			t.Errorf("attr k of %s = %s (%v), want %v", attrs[i], row.Attrs[0], err, want[i])
		}
		return nil
	})
	if err != nil || n != len(ps) {
		t.Fatalf("ResultScan: %d rows, %v", n, err)
	}
	for _, bad := range []string{"k'); DROP TABLE position_result; --", "pv; --", ""} {
		if err := db.ResultScan(ctx, store.ResultScanParams{RunID: r.ID, Attrs: []string{bad}}, func(*store.PositionResult) error { return nil }); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("Attrs %q: %v, want Invalid", bad, err)
		}
	}
}

// TestLeaseLostAndExpiry: a stale worker cannot write results; an expired
// lease is reclaimed, and does not count as a failure. The store's clock
// (a test clock here) judges every lease.
func TestLeaseLostAndExpiry(t *testing.T) {
	t.Parallel()
	clock := storetest.NewClock(t0)
	db := MustOpenIsolated(t, postgres.Options{Now: clock.Now})
	ctx := t.Context()
	id := uid(t, "lease")
	snap := mustSnapshot(t, ctx, db, id+"-ps", "NODE-A", []*store.Position{pos("P1", "LOAN", 0, "")}, 0)
	r := mustRun(t, ctx, db, id, []string{snap.ID}, 1, 2, nil)
	a := mustClaim(t, ctx, db, id+"-a", time.Minute)
	clock.Set(t0.Add(time.Minute - time.Microsecond))
	if _, err := db.TaskClaim(ctx, store.TaskClaimParams{Owner: id + "-b", Lease: time.Minute}); !errors.Is(err, apperr.ErrNotFound) {
		t.Fatalf("claim before the lease expired: %v, want not found", err)
	}
	clock.Set(t0.Add(time.Hour)) // a's lease expired
	b := mustClaim(t, ctx, db, id+"-b", time.Minute)
	if b.ID != a.ID || b.Attempts != 2 || b.ClaimToken != a.ClaimToken+1 {
		t.Fatalf("reclaim = task %d attempts %d token %d, want task %d attempts 2 token %d", b.ID, b.Attempts, b.ClaimToken, a.ID, a.ClaimToken+1)
	}
	row := &store.PositionResult{RunID: r.ID, PositionSnapshotID: snap.ID, PositionID: "P1", ProductType: "LOAN", Values: []byte{1}}
	err := db.TaskComplete(ctx, store.TaskCompleteParams{ClaimRef: a.Ref(), Results: []*store.PositionResult{row}})
	if !errors.Is(err, apperr.ErrConflict) {
		t.Fatalf("stale TaskComplete: %v, want Conflict", err)
	}
	if err := db.TaskRenewLease(ctx, store.TaskRenewParams{ClaimRef: a.Ref(), Lease: time.Hour}); !errors.Is(err, apperr.ErrConflict) {
		t.Fatalf("stale TaskRenewLease: %v, want Conflict", err)
	}
	if rs, err := db.ResultList(ctx, store.ResultListParams{RunID: r.ID}); err != nil || len(rs) != 0 {
		t.Fatalf("stale completion wrote %d rows, %v", len(rs), err)
	}
	// b dies too: an expired lease is no failure, so the task is claimed
	// a third time although max_attempts is 2.
	clock.Set(t0.Add(2 * time.Hour))
	c := mustClaim(t, ctx, db, id+"-c", time.Minute)
	if c.ID != a.ID || c.Attempts != 3 || c.LeaseExpiries != 2 || c.Failures != 0 {
		t.Fatalf("third claim = %+v, want task %d, attempt 3 after 2 lease expiries", c, a.ID)
	}
	if got := storetest.MustRunGet(t, ctx, db, r.ID); got.Status != store.RunRunning {
		t.Fatalf("run %s after two crashes, want RUNNING", got.Status)
	}
}

// TestCancelWhileRunning: the running task keeps its lease until its
// worker learns of the cancel; releasing it finishes the cancellation.
func TestCancelWhileRunning(t *testing.T) {
	t.Parallel()
	db := MustOpenIsolated(t, postgres.Options{})
	ctx := t.Context()
	r, _, _ := mustResultRun(t, ctx, db, "cancel", 3, 3)
	owner := r.ID + "-w"
	tk := mustClaim(t, ctx, db, owner, time.Hour)
	got, err := db.RunCancel(ctx, r.ID)
	if err != nil || got.Status != store.RunCancelling {
		t.Fatalf("RunCancel = %v, %v; want CANCELLING", got, err)
	}
	if err := db.TaskRenewLease(ctx, store.TaskRenewParams{ClaimRef: tk.Ref(), Lease: time.Hour}); !errors.Is(err, apperr.ErrConflict) {
		t.Fatalf("renew after cancel: %v, want Conflict", err)
	}
	if err := db.TaskRelease(ctx, tk.Ref()); err != nil {
		t.Fatal(err)
	}
	got = storetest.MustRunGet(t, ctx, db, r.ID)
	if got.Status != store.RunCancelled {
		t.Fatalf("after release: run %s, want CANCELLED", got.Status)
	}
	p, err := db.RunProgress(ctx, r.ID)
	if err != nil || p.TasksByStatus[store.TaskCancelled] != 3 || p.TasksTotal != 3 {
		t.Fatalf("progress %+v, %v; want 3 CANCELLED", p, err)
	}
	if again, err := db.RunCancel(ctx, r.ID); err != nil || again.Status != store.RunCancelled {
		t.Fatalf("cancel again = %v, %v", again, err)
	}
}

// TestCancelRacesClaims cancels runs while workers claim and finish their
// tasks: every call succeeds or reports a documented error (there is no
// deadlock, and no retry to hide one), and every run ends CANCELLED or
// COMPLETED with no task left open.
func TestCancelRacesClaims(t *testing.T) {
	t.Parallel()
	db := MustOpenIsolated(t, postgres.Options{MaxConns: 12})
	ctx := t.Context()
	for round := range 10 {
		r, _, _ := mustResultRun(t, ctx, db, fmt.Sprintf("race%d", round), 8, 8)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for w := range 4 {
			owner := fmt.Sprintf("%s-w%d", r.ID, w)
			wg.Go(func() {
				<-start
				for {
					tk, err := db.TaskClaim(ctx, store.TaskClaimParams{Owner: owner, Lease: time.Hour})
					if errors.Is(err, apperr.ErrNotFound) {
						return
					}
					if err != nil {
						t.Errorf("TaskClaim: %v", err)
						return
					}
					var ferr error
					if tk.ID%2 == 0 {
						ferr = db.TaskComplete(ctx, store.TaskCompleteParams{ClaimRef: tk.Ref()})
					} else {
						ferr = db.TaskRelease(ctx, tk.Ref())
					}
					if ferr != nil {
						t.Errorf("finish task %d: %v", tk.ID, ferr)
					}
				}
			})
		}
		wg.Go(func() {
			<-start
			if _, err := db.RunCancel(ctx, r.ID); err != nil && !errors.Is(err, apperr.ErrConflict) {
				t.Errorf("RunCancel: %v", err)
			}
		})
		close(start)
		wg.Wait()
		got := storetest.MustRunGet(t, ctx, db, r.ID)
		p, err := db.RunProgress(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if open := p.TasksByStatus[store.TaskQueued] + p.TasksByStatus[store.TaskRunning]; open != 0 || got.CompletedAt == nil ||
			(got.Status != store.RunCancelled && got.Status != store.RunCompleted) {
			t.Fatalf("round %d: run %s with %d open tasks (%v)", round, got.Status, open, p.TasksByStatus)
		}
	}
}

// TestNoSessionState checks what RDS Proxy needs to multiplex: after a
// workload, no connection holds a named prepared statement or a session
// advisory lock.
func TestNoSessionState(t *testing.T) {
	t.Parallel()
	db := MustOpenIsolated(t, postgres.Options{MaxConns: 2})
	ctx := t.Context()
	r, _, ps := mustResultRun(t, ctx, db, "state", 20, 2)
	for {
		tk, err := db.TaskClaim(ctx, store.TaskClaimParams{Owner: "w", Lease: time.Minute})
		if errors.Is(err, apperr.ErrNotFound) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := db.TaskRenewLease(ctx, store.TaskRenewParams{ClaimRef: tk.Ref(), Lease: time.Hour}); err != nil {
			t.Fatal(err)
		}
		if err := db.TaskComplete(ctx, store.TaskCompleteParams{ClaimRef: tk.Ref()}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.PositionList(ctx, ps[0].SnapshotID, -1, 5); err != nil {
		t.Fatal(err)
	}
	if _, err := db.RunGet(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	// Check every connection of the pool (two, held at once).
	var conns []*pgxpool.Conn
	for range 2 {
		c, err := db.Pool().Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for _, c := range conns {
		var prepared, locks int
		err := c.QueryRow(ctx, `SELECT (SELECT count(*) FROM pg_prepared_statements),
    (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid())`,
			pgx.QueryExecModeSimpleProtocol).Scan(&prepared, &locks)
		if err != nil {
			t.Fatal(err)
		}
		if prepared != 0 || locks != 0 {
			t.Errorf("connection keeps %d prepared statements and %d advisory locks", prepared, locks)
		}
		c.Release()
	}
}

// TestAuditLogAppendOnly: the schema refuses to change or remove audit
// rows, and applying the schema file again (as psql -f would) keeps them
// and its guard.
func TestAuditLogAppendOnly(t *testing.T) {
	db := MustOpenIsolated(t, postgres.Options{})
	ctx := t.Context()
	actx := store.WithAudit(ctx, store.AuditEntry{Principal: "alice", Action: "market_snapshot.create", RequestID: "r1"})
	if _, _, err := db.MarketSnapshotCreate(actx, &store.MarketSnapshot{ID: "M1", AsOfTime: t0, Payload: []byte(`{}`),
		PayloadHash: "h", DQStatus: "PASS"}); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		"UPDATE audit_log SET principal = 'mallory'",
		"DELETE FROM audit_log",
		"TRUNCATE audit_log",
	} {
		if _, err := db.Pool().Exec(ctx, stmt); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v, want refused as append-only", stmt, err)
		}
	}
	for range 2 {
		if _, err := db.Pool().Exec(ctx, schema.Migrations()[0].SQL, pgx.QueryExecModeSimpleProtocol); err != nil {
			t.Fatalf("apply 001 again: %v", err)
		}
	}
	if _, err := db.Pool().Exec(ctx, "DELETE FROM audit_log"); err == nil {
		t.Error("DELETE allowed after the schema was applied again")
	}
	storetest.CheckAudit(t, ctx, db, "M1", store.AuditEntry{Principal: "alice", Action: "market_snapshot.create", RequestID: "r1"})
}

// TestResultValuesProbesKeys: the keyed read of stored results probes the
// primary key once per key even when the table's statistics predate the
// run (analyzed when it held a few rows, before a large run was written,
// as happens between two autovacuum passes). With the planner's defaults
// that plan hashes every row of the run for each list of keys.
func TestResultValuesProbesKeys(t *testing.T) {
	t.Parallel()
	db := MustOpenIsolated(t, postgres.Options{})
	ctx := t.Context()
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := db.Pool().Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	const insert = `INSERT INTO position_result (run_id, position_snapshot_id, position_id, task_id, instrument_id,
    product_type, portfolio_node_id, vals)
SELECT $1, 'PS', 'P' || lpad(i::text, 6, '0'), 1, 'I', 'LOAN', 'NODE', '\x00'::bytea FROM generate_series(1, $2::int) AS i`
	exec(insert, "RUN-SMALL", 10)
	exec(`ANALYZE position_result`)
	exec(insert, "RUN-BIG", 50000)

	var snaps, ids []string
	for i := 1; i <= 1024; i++ {
		snaps = append(snaps, "PS")
		ids = append(ids, fmt.Sprintf("P%06d", i*41))
	}
	plan, err := db.PlanResultValues(ctx, "RUN-BIG", snaps, ids, true)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(plan, "Hash") || strings.Contains(plan, "Merge") || !strings.Contains(plan, "Index Scan using position_result_pkey") {
		t.Errorf("ResultValues plan, want a nested loop of primary-key probes:\n%s", plan)
	}
	defaults, err := db.PlanResultValues(ctx, "RUN-BIG", snaps, ids, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the same query with the planner's defaults:\n%s", defaults)

	got := 0
	keys := make([]store.PositionKey, len(ids))
	for i := range ids {
		keys[i] = store.PositionKey{SnapshotID: snaps[i], PositionID: ids[i]}
	}
	if err := db.ResultValues(ctx, "RUN-BIG", keys, func(r *store.PositionResult) error {
		if !slices.Contains(ids, r.PositionID) || r.RunID != "RUN-BIG" {
			t.Errorf("row %s of %s not asked for", r.PositionID, r.RunID)
		}
		got++
		return nil
	}); err != nil || got != len(keys) {
		t.Fatalf("ResultValues: %d rows of %d, %v", got, len(keys), err)
	}
}

// TestLongAttributesCompressWithLZ4: attributes over the TOAST threshold (a
// loan with its schedule) are compressed with lz4 when the server has it
// (pglz, the default, cost a third of the database's CPU in an upload of
// such loans), and stay readable byte for byte.
func TestLongAttributesCompressWithLZ4(t *testing.T) {
	t.Parallel()
	db := MustOpenIsolated(t, postgres.Options{})
	ctx := t.Context()
	var lz4 bool
	if err := db.Pool().QueryRow(ctx, `SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'`).Scan(&lz4); err != nil {
		t.Fatal(err)
	}
	var flows []string
	for i := range 60 {
		flows = append(flows, fmt.Sprintf(`{"pay_date":"2027-%02d-01","interest":%d.25,"principal":%d.75}`, i%12+1, 1000-i, 2000+i))
	}
	attrs := `{"coupon_rate":0.05,"cashflows":[` + strings.Join(flows, ",") + `]}`
	id := uid(t, "ps")
	p := pos("P1", "LOAN", positionHash("P1"), attrs)
	p.SnapshotID = id
	storetest.MustPositionSnapshot(t, ctx, db, &store.PositionSnapshot{ID: id}, []*store.Position{p}, 0)
	var method *string
	var stored string
	if err := db.Pool().QueryRow(ctx, `SELECT pg_column_compression(attributes), attributes::text FROM position WHERE position_snapshot_id = $1`, id).Scan(&method, &stored); err != nil {
		t.Fatal(err)
	}
	want := "pglz"
	if lz4 {
		want = "lz4"
	}
	if method == nil || *method != want {
		t.Errorf("attributes of %d bytes compressed with %v, want %s", len(attrs), method, want)
	}
	if stored != attrs {
		t.Errorf("attributes read back differ from those written")
	}
}

// TestPositionWriterRuns: the writer copies its rows in sorted runs, each
// on a goroutine of its own while it gathers the next. A repeated id in
// one run surfaces as Conflict from a later Add; a run's copy does not end
// with the context of the Add that started it; runs of large attributes
// are cut by bytes; and the rows lie in the table by (product type, fine
// bucket, seq) within each run.
func TestPositionWriterRuns(t *testing.T) {
	t.Parallel()
	db := MustOpenIsolated(t, postgres.Options{})
	ctx := t.Context()
	mk := func(id string, n int, attrs string) []*store.Position {
		out := make([]*store.Position, n)
		for i := range out {
			pid := fmt.Sprintf("P%06d", i)
			out[i] = pos(pid, []string{"LOAN", "BOND"}[i%2], positionHash(pid), attrs)
			out[i].SnapshotID, out[i].Seq = id, int64(i)
		}
		return out
	}
	hdr := func(id string, n int) *store.PositionSnapshot {
		return &store.PositionSnapshot{ID: id, PositionCount: int64(n), AsOfTime: storetest.T0, PortfolioNodeID: "N", PayloadHash: id}
	}

	// A repeat in the first run: its copy fails while the third run is
	// gathered, and the Add that cuts the second run reports it.
	id := uid(t, "dup")
	rows := mk(id, 70_000, "")
	rows[100].PositionID = rows[0].PositionID
	w, err := db.PositionSnapshotBegin(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var addErr error
	for start := 0; start < len(rows) && addErr == nil; start += 5000 {
		addErr = w.Add(ctx, rows[start:min(start+5000, len(rows))])
	}
	if !errors.Is(addErr, apperr.ErrConflict) {
		t.Errorf("Add after a run with a repeated id: %v, want Conflict", addErr)
	}
	if err := w.Rollback(ctx); err != nil {
		t.Errorf("Rollback: %v", err)
	}
	if _, err := db.PositionSnapshotGet(ctx, id); !errors.Is(err, apperr.ErrNotFound) {
		t.Errorf("after the conflict: %v, want not found", err)
	}

	// The Add that starts a run returns and its context ends; the run
	// is still copied and the snapshot commits.
	id = uid(t, "ctx")
	rows = mk(id, 40_000, "")
	if w, err = db.PositionSnapshotBegin(ctx, id); err != nil {
		t.Fatal(err)
	}
	addCtx, cancel := context.WithCancel(ctx)
	if err := w.Add(addCtx, rows); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, created, err := w.Commit(ctx, hdr(id, len(rows)), false); err != nil || !created {
		t.Fatalf("Commit after the Add's context ended: created %v, %v", created, err)
	}

	// Attributes of 2 kB: a run is cut at 32 MiB.
	// Within each run the rows lie by product type, fine bucket and seq;
	// runs follow each other in seq order.
	id = uid(t, "bytes")
	big := `{"pad":"` + strings.Repeat("x", 2040) + `"}`
	rows = mk(id, 40_000, big)
	storetest.MustPositionSnapshot(t, ctx, db, hdr(id, len(rows)), rows, 5000)
	q, err := db.Pool().Query(ctx, `SELECT seq, product_type, position_hash FROM position WHERE position_snapshot_id = $1 ORDER BY ctid`, id)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		Seq  int64
		Typ  string
		Hash int64
	}
	got, err := pgx.CollectRows(q, pgx.RowToStructByPos[row])
	if err != nil || len(got) != len(rows) {
		t.Fatalf("%d rows read back in table order, %v", len(got), err)
	}
	// 32 MiB of 2,050-byte attributes: a run is cut at the row that
	// reaches 32 MiB, every 16,369 rows.
	perRun := (32<<20 + len(big) - 1) / len(big)
	for a := 0; a < len(got); a += perRun {
		b := min(a+perRun, len(got))
		run := got[a:b]
		seen := make(map[int64]bool, len(run))
		for k, r := range run {
			if r.Seq < int64(a) || r.Seq >= int64(b) || seen[r.Seq] {
				t.Fatalf("row %d in table order has seq %d, outside the run [%d, %d) or repeated", a+k, r.Seq, a, b)
			}
			seen[r.Seq] = true
			if k > 0 {
				p := run[k-1]
				if c := cmp.Or(strings.Compare(p.Typ, r.Typ), cmp.Compare(p.Hash%4096, r.Hash%4096), cmp.Compare(p.Seq, r.Seq)); c >= 0 {
					t.Fatalf("run [%d, %d): row %d (%s, %d, seq %d) lies after (%s, %d, seq %d)", a, b, k, r.Typ, r.Hash%4096, r.Seq, p.Typ, p.Hash%4096, p.Seq)
				}
			}
		}
	}
}
