package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/store"
)

// CheckAudit fails the test unless the audit log holds exactly want for
// objectID, oldest first, compared on Principal, Action, ObjectID and
// RequestID (an empty ObjectID in want means objectID). It is how a write
// method's conformance test checks that the method records its entry, and
// only when it commits a change.
func CheckAudit(tb testing.TB, ctx context.Context, s store.Store, objectID string, want ...store.AuditEntry) {
	tb.Helper()
	got, err := s.AuditList(ctx, store.AuditListParams{ObjectID: objectID, Limit: 1000})
	if err != nil {
		tb.Fatalf("AuditList(object %q): %v", objectID, err)
	}
	line := func(e store.AuditEntry) string {
		if e.ObjectID == "" {
			e.ObjectID = objectID
		}
		return fmt.Sprintf("%s %s %s req=%s", e.Principal, e.Action, e.ObjectID, e.RequestID)
	}
	var g, w []string
	for i := len(got) - 1; i >= 0; i-- { // the list is newest first
		g = append(g, line(*got[i]))
	}
	for _, e := range want {
		w = append(w, line(e))
	}
	if strings.Join(g, "\n") != strings.Join(w, "\n") {
		tb.Errorf("audit log of %s, oldest first:\n  %s\nwant:\n  %s", objectID, strings.Join(g, "\n  "), strings.Join(w, "\n  "))
	}
}

// audited returns ctx carrying an audit entry.
func audited(ctx context.Context, principal, action, objectID, requestID string) context.Context {
	return store.WithAudit(ctx, store.AuditEntry{Principal: principal, Action: action, ObjectID: objectID, RequestID: requestID})
}

func testAudit(t *testing.T, open Opener) {
	t.Run("MarketSnapshotCreate", func(t *testing.T) {
		f := setup(t, open)
		id := f.id("mkt")
		m := &store.MarketSnapshot{ID: id, AsOfTime: T0, Payload: []byte(`{"a":1}`), PayloadHash: "h1", DQStatus: "PASS"}
		at := T0.Add(37 * time.Minute).Add(123456 * time.Microsecond)
		f.clock.Set(at)
		if _, created, err := f.s.MarketSnapshotCreate(audited(f.ctx, "alice", "market_snapshot.create", "", "req-1"), m); err != nil || !created {
			t.Fatalf("MarketSnapshotCreate = created %v, %v", created, err)
		}
		entries, err := f.s.AuditList(f.ctx, store.AuditListParams{ObjectID: id})
		if err != nil || len(entries) != 1 {
			t.Fatalf("AuditList = %d entries, %v; want 1", len(entries), err)
		}
		e := entries[0]
		if e.Principal != "alice" || e.Action != "market_snapshot.create" || e.ObjectID != id || e.RequestID != "req-1" || e.ID == 0 {
			t.Errorf("entry = %+v", e)
		}
		if !e.Time.Equal(at.Truncate(time.Microsecond)) || e.Time.Location() != time.UTC {
			t.Errorf("entry time %s is not the store's clock during the write (%s), in UTC", e.Time, at)
		}
		// A replay changes nothing and records nothing; a conflict neither.
		if _, created, err := f.s.MarketSnapshotCreate(audited(f.ctx, "bob", "market_snapshot.create", "", "req-2"), m); err != nil || created {
			t.Fatalf("replay = created %v, %v", created, err)
		}
		other := *m
		other.PayloadHash = "h2"
		if _, _, err := f.s.MarketSnapshotCreate(audited(f.ctx, "bob", "market_snapshot.create", "", "req-3"), &other); !errors.Is(err, apperr.ErrConflict) {
			t.Fatalf("other content = %v, want Conflict", err)
		}
		// Without an entry in the context nothing is recorded.
		MustMarketSnapshot(t, f.ctx, f.s, &store.MarketSnapshot{ID: f.id("plain")})
		CheckAudit(t, f.ctx, f.s, id, store.AuditEntry{Principal: "alice", Action: "market_snapshot.create", RequestID: "req-1"})
		CheckAudit(t, f.ctx, f.s, f.id("plain"))
	})

	t.Run("SetCreate", func(t *testing.T) {
		f := setup(t, open)
		id := f.id("set")
		set := func(hash string) *store.AnalyticSet {
			return &store.AnalyticSet{Kind: store.SetKindModel, ID: id, Payload: []byte(`{"model_set_id":"` + id + `"}`), PayloadHash: hash}
		}
		if _, created, err := f.s.SetCreate(audited(f.ctx, "alice", "model_set.create", id, "req-1"), set("h1")); err != nil || !created {
			t.Fatalf("SetCreate = %v, %v", created, err)
		}
		// The same set again changes nothing; other content is refused:
		// neither is recorded.
		if _, created, err := f.s.SetCreate(audited(f.ctx, "bob", "model_set.create", id, "req-2"), set("h1")); err != nil || created {
			t.Fatalf("SetCreate again = %v, %v", created, err)
		}
		if _, _, err := f.s.SetCreate(audited(f.ctx, "bob", "model_set.create", id, "req-3"), set("h2")); !errors.Is(err, apperr.ErrConflict) {
			t.Fatalf("SetCreate with other content = %v, want Conflict", err)
		}
		CheckAudit(t, f.ctx, f.s, id, store.AuditEntry{Principal: "alice", Action: "model_set.create", RequestID: "req-1"})
	})

	t.Run("PositionSnapshotCommit", func(t *testing.T) {
		f := setup(t, open)
		positions := manyPositions(f.prefix, 3)
		write := func(ctx context.Context, hdr *store.PositionSnapshot, serverID, commit bool) (*store.PositionSnapshot, bool, error) {
			t.Helper()
			fillPositionSnapshot(hdr, positions)
			w, err := f.s.PositionSnapshotBegin(f.ctx, hdr.ID)
			if err != nil {
				t.Fatalf("PositionSnapshotBegin: %v", err)
			}
			defer w.Rollback(f.ctx) //nolint:errcheck // safe after Commit
			if err := w.Add(f.ctx, positions); err != nil {
				t.Fatalf("Add: %v", err)
			}
			if !commit {
				return nil, false, w.Rollback(ctx)
			}
			return w.Commit(ctx, hdr, serverID)
		}
		id := f.id("ps")
		if _, created, err := write(audited(f.ctx, "alice", "position_snapshot.create", "", "req-1"), &store.PositionSnapshot{ID: id}, false, true); err != nil || !created {
			t.Fatalf("Commit = created %v, %v", created, err)
		}
		// Replays (by id, and by content under a server-made id) and a
		// conflict record nothing; neither does a rolled-back upload.
		if _, created, err := write(audited(f.ctx, "bob", "position_snapshot.create", "", "req-2"), &store.PositionSnapshot{ID: id}, false, true); err != nil || created {
			t.Fatalf("replay = created %v, %v", created, err)
		}
		if stored, created, err := write(audited(f.ctx, "bob", "position_snapshot.create", "", "req-3"), &store.PositionSnapshot{ID: f.id("server")}, true, true); err != nil || created || stored.ID != id {
			t.Fatalf("same content under a server id = %v, created %v, %v; want the stored snapshot", stored, created, err)
		}
		if _, _, err := write(audited(f.ctx, "bob", "position_snapshot.create", "", "req-4"), &store.PositionSnapshot{ID: id, PayloadHash: "other"}, false, true); !errors.Is(err, apperr.ErrConflict) {
			t.Fatalf("other content = %v, want Conflict", err)
		}
		if _, _, err := write(audited(f.ctx, "bob", "position_snapshot.create", "", "req-5"), &store.PositionSnapshot{ID: f.id("rolled-back")}, false, false); err != nil {
			t.Fatalf("Rollback: %v", err)
		}
		CheckAudit(t, f.ctx, f.s, id, store.AuditEntry{Principal: "alice", Action: "position_snapshot.create", RequestID: "req-1"})
		CheckAudit(t, f.ctx, f.s, f.id("server"))
		CheckAudit(t, f.ctx, f.s, f.id("rolled-back"))
	})

	t.Run("RunCreateKeepsItsSubmitter", func(t *testing.T) {
		f := setup(t, open)
		mkt := MustMarketSnapshot(t, f.ctx, f.s, &store.MarketSnapshot{ID: f.id("mkt")})
		newRun := func(hash, by string) *store.Run {
			return &store.Run{ID: f.id("run"), RunType: "SANDBOX", AsOfTime: T0, MarketSnapshotID: mkt.ID,
				Measures: []string{"PV"}, Scenarios: []string{"BASE"}, HashMod: 2, MaxAttempts: 3, RequestHash: hash,
				Request: []byte(`{}`), EngineVersion: "test", RequestedAt: T0, PositionsTotal: 3, SubmittedBy: by}
		}
		stored, created, err := f.s.RunCreate(audited(f.ctx, "alice", "run.create", "", "req-1"), newRun("h", "alice"), taskSpec(2, "FX_FWD", T0, 3))
		if err != nil || !created {
			t.Fatalf("RunCreate = created %v, %v", created, err)
		}
		CancelAtCleanup(t, f.s, f.id("run"))
		if stored.SubmittedBy != "alice" {
			t.Errorf("SubmittedBy = %q, want alice", stored.SubmittedBy)
		}
		// The same request by another principal: the stored run, its
		// submitter unchanged, nothing recorded.
		again, created, err := f.s.RunCreate(audited(f.ctx, "bob", "run.create", "", "req-2"), newRun("h", "bob"), taskSpec(2, "FX_FWD", T0, 3))
		if err != nil || created || again.SubmittedBy != "alice" {
			t.Fatalf("replay by bob = created %v, submitted by %q, %v; want the stored run by alice", created, again.SubmittedBy, err)
		}
		if _, _, err := f.s.RunCreate(audited(f.ctx, "bob", "run.create", "", "req-3"), newRun("other", "bob"), taskSpec(2, "FX_FWD", T0, 3)); !errors.Is(err, apperr.ErrConflict) {
			t.Fatalf("another request = %v, want Conflict", err)
		}
		if got := MustRunGet(t, f.ctx, f.s, f.id("run")); got.SubmittedBy != "alice" {
			t.Errorf("RunGet: SubmittedBy = %q, want alice", got.SubmittedBy)
		}
		list, err := f.s.RunList(f.ctx, store.RunListParams{ListParams: store.ListParams{Limit: 1000}})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range list {
			if r.ID == f.id("run") && r.SubmittedBy != "alice" {
				t.Errorf("RunList: SubmittedBy = %q, want alice", r.SubmittedBy)
			}
		}
		// A run that cannot be stored (its market snapshot is missing)
		// records nothing.
		bad := newRun("h", "bob")
		bad.ID, bad.MarketSnapshotID = f.id("orphan"), f.id("no-such-market")
		if _, _, err := f.s.RunCreate(audited(f.ctx, "bob", "run.create", "", "req-4"), bad, taskSpec(1, "FX_FWD", T0, 3)); err == nil {
			t.Fatal("RunCreate with a missing market snapshot succeeded")
		}
		CheckAudit(t, f.ctx, f.s, f.id("run"), store.AuditEntry{Principal: "alice", Action: "run.create", RequestID: "req-1"})
		CheckAudit(t, f.ctx, f.s, f.id("orphan"))
	})

	t.Run("RunLifecycle", func(t *testing.T) {
		f := setup(t, open)
		// Cancel: recorded when it moves the run; again, or on a finished
		// run, nothing.
		queued, _ := f.simpleRun(t, "queued", 2, 3)
		if _, err := f.s.RunCancel(audited(f.ctx, "carol", "run.cancel", queued.ID, "req-c1"), queued.ID); err != nil {
			t.Fatalf("RunCancel: %v", err)
		}
		checkRunStatus(t, f, queued.ID, store.RunCancelled)
		if _, err := f.s.RunCancel(audited(f.ctx, "carol", "run.cancel", queued.ID, "req-c2"), queued.ID); err != nil {
			t.Fatalf("RunCancel again: %v", err)
		}
		CheckAudit(t, f.ctx, f.s, queued.ID, store.AuditEntry{Principal: "carol", Action: "run.cancel", RequestID: "req-c1"})

		running, _ := f.simpleRun(t, "running", 1, 3)
		f.mustClaim(t, "w", T0)
		if r, err := f.s.RunCancel(audited(f.ctx, "carol", "run.cancel", running.ID, "req-r1"), running.ID); err != nil || r.Status != store.RunCancelling {
			t.Fatalf("RunCancel(RUNNING) = %v, %v; want CANCELLING", r, err)
		}
		if _, err := f.s.RunCancel(audited(f.ctx, "carol", "run.cancel", running.ID, "req-r2"), running.ID); err != nil {
			t.Fatalf("RunCancel(CANCELLING): %v", err)
		}
		CheckAudit(t, f.ctx, f.s, running.ID, store.AuditEntry{Principal: "carol", Action: "run.cancel", RequestID: "req-r1"})

		// Publish, then the refusals: cancel, publish again, delete.
		positions := manyPositions(f.prefix, 1)
		MustPositionSnapshot(t, f.ctx, f.s, &store.PositionSnapshot{ID: f.id("ps")}, positions, 0)
		pub := f.completeWith(t, "pub", []string{f.id("ps")}, func(runID string) []*store.PositionResult {
			return resultRowsFor(runID, "N", []string{"BASE"}, positions, f.id("ps"))
		})
		if _, err := f.s.RunCancel(audited(f.ctx, "carol", "run.cancel", pub, "req-p0"), pub); !errors.Is(err, apperr.ErrConflict) {
			t.Fatalf("RunCancel(COMPLETED) = %v, want Conflict", err)
		}
		if err := f.s.RunDelete(audited(f.ctx, "dave", "run.delete", pub, "req-p1"), f.id("no-such-run")); !errors.Is(err, apperr.ErrNotFound) {
			t.Fatalf("RunDelete(unknown) = %v, want ErrNotFound", err)
		}
		if _, err := f.s.RunPublish(audited(f.ctx, "erin", "run.publish", pub, "req-p2"), store.RunPublishParams{RunID: pub, PublishHash: "h", PublishedAt: T0}); err != nil {
			t.Fatalf("RunPublish: %v", err)
		}
		if _, err := f.s.RunPublish(audited(f.ctx, "erin", "run.publish", pub, "req-p3"), store.RunPublishParams{RunID: pub, PublishHash: "h", PublishedAt: T0}); !errors.Is(err, apperr.ErrConflict) {
			t.Fatalf("RunPublish again = %v, want Conflict", err)
		}
		if err := f.s.RunDelete(audited(f.ctx, "dave", "run.delete", pub, "req-p4"), pub); !errors.Is(err, apperr.ErrConflict) {
			t.Fatalf("RunDelete(PUBLISHED) = %v, want Conflict", err)
		}
		CheckAudit(t, f.ctx, f.s, pub, store.AuditEntry{Principal: "erin", Action: "run.publish", RequestID: "req-p2"})

		// Delete: recorded, and the run's earlier entries stay.
		if err := f.s.RunDelete(audited(f.ctx, "dave", "run.delete", "", "req-d1"), queued.ID); err != nil {
			t.Fatalf("RunDelete: %v", err)
		}
		CheckAudit(t, f.ctx, f.s, queued.ID,
			store.AuditEntry{Principal: "carol", Action: "run.cancel", RequestID: "req-c1"},
			store.AuditEntry{Principal: "dave", Action: "run.delete", RequestID: "req-d1"})
	})

	t.Run("ConcurrentDuplicatesRecordOnce", func(t *testing.T) {
		f := setup(t, open)
		id := f.id("mkt")
		const n = 8
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			winners []string
		)
		for i := range n {
			wg.Go(func() {
				who := fmt.Sprintf("p%d", i)
				ctx := audited(f.ctx, who, "market_snapshot.create", "", "req-"+who)
				_, created, err := f.s.MarketSnapshotCreate(ctx, &store.MarketSnapshot{ID: id, AsOfTime: T0,
					Payload: []byte(`{}`), PayloadHash: "same", DQStatus: "PASS"})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					t.Errorf("MarketSnapshotCreate by %s: %v", who, err)
				}
				if created {
					winners = append(winners, who)
				}
			})
		}
		wg.Wait()
		if len(winners) != 1 {
			t.Fatalf("%d creators, want 1: %v", len(winners), winners)
		}
		CheckAudit(t, f.ctx, f.s, id, store.AuditEntry{Principal: winners[0], Action: "market_snapshot.create", RequestID: "req-" + winners[0]})
	})

	t.Run("AnIncompleteEntryFailsTheWrite", func(t *testing.T) {
		f := setup(t, open)
		ctx := store.WithAudit(f.ctx, store.AuditEntry{Action: "market_snapshot.create", RequestID: "r"})
		m := &store.MarketSnapshot{ID: f.id("mkt"), AsOfTime: T0, Payload: []byte(`{}`), PayloadHash: "h", DQStatus: "PASS"}
		if _, _, err := f.s.MarketSnapshotCreate(ctx, m); err == nil {
			t.Fatal("a write whose audit entry names no principal succeeded")
		}
		if _, err := f.s.MarketSnapshotGet(f.ctx, m.ID); !errors.Is(err, apperr.ErrNotFound) {
			t.Errorf("the refused write left its snapshot: %v", err)
		}
	})

	t.Run("ListFiltersAndPages", func(t *testing.T) {
		f := setup(t, open)
		alice, bob := f.id("alice"), f.id("bob")
		type step struct{ who, action, object string }
		steps := []step{
			{alice, "market_snapshot.create", f.id("m1")},
			{bob, "market_snapshot.create", f.id("m2")},
			{alice, "market_snapshot.create", f.id("m3")},
			{alice, "market_snapshot.create", f.id("m4")},
			{bob, "market_snapshot.create", f.id("m5")},
		}
		for i, s := range steps {
			ctx := audited(f.ctx, s.who, s.action, "", fmt.Sprintf("req-%d", i))
			if _, _, err := f.s.MarketSnapshotCreate(ctx, &store.MarketSnapshot{ID: s.object, AsOfTime: T0,
				Payload: []byte(`{}`), PayloadHash: s.object, DQStatus: "PASS"}); err != nil {
				t.Fatal(err)
			}
		}
		// Newest first, paged through the (Time, ID) cursor.
		var got []string
		p := store.AuditListParams{Principal: alice, Limit: 2}
		for page := 0; ; page++ {
			entries, err := f.s.AuditList(f.ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				got = append(got, e.ObjectID)
			}
			if len(entries) < p.Limit || page > 5 {
				break
			}
			last := entries[len(entries)-1]
			p.AfterTime, p.AfterID = last.Time, last.ID
		}
		want := []string{f.id("m4"), f.id("m3"), f.id("m1")}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("alice's entries, paged by 2 = %v, want %v", got, want)
		}
		for _, tt := range []struct {
			p    store.AuditListParams
			want []string
		}{
			{store.AuditListParams{Principal: bob}, []string{f.id("m5"), f.id("m2")}},
			{store.AuditListParams{Principal: bob, ObjectID: f.id("m2")}, []string{f.id("m2")}},
			{store.AuditListParams{Principal: bob, ObjectID: f.id("m1")}, nil},
			{store.AuditListParams{Principal: bob, Action: "market_snapshot.create"}, []string{f.id("m5"), f.id("m2")}},
			{store.AuditListParams{Principal: bob, Action: "run.create"}, nil},
			{store.AuditListParams{ObjectID: f.id("m3"), Action: "market_snapshot.create"}, []string{f.id("m3")}},
		} {
			tt.p.Limit = 100
			entries, err := f.s.AuditList(f.ctx, tt.p)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, e := range entries {
				ids = append(ids, e.ObjectID)
			}
			if strings.Join(ids, ",") != strings.Join(tt.want, ",") {
				t.Errorf("AuditList(%+v) = %v, want %v", tt.p, ids, tt.want)
			}
		}
	})
}
