package storetest

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/store"
)

func testMarketSnapshot(t *testing.T, open Opener) {
	t.Run("CreateGetRoundTrip", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		in := &store.MarketSnapshot{
			ID:          f.id("mkt"),
			AsOfTime:    T0,
			Vendor:      "BBG",
			UniverseID:  "UNIV-1",
			Payload:     []byte("{\"curves\":[],\"note\":\"caf\u00e9 \\u0000 bytes\"}\n\x00\xff"),
			DQStatus:    "WARN",
			Issues:      []byte(`[{"code":"RATE_RANGE","pointer":"/curves/0/nodes/1","detail":"zero rate 0.31 outside [-5%, 30%]"}]`),
			CreatedAt:   T0.Add(90 * time.Second),
			PayloadHash: "abc123",
		}
		stored, created, err := f.s.MarketSnapshotCreate(f.ctx, in)
		if err != nil || !created {
			t.Fatalf("MarketSnapshotCreate = created %v, err %v; want created", created, err)
		}
		for name, got := range map[string]*store.MarketSnapshot{"created": stored, "get": mustMarketGet(t, f, in.ID)} {
			if got.ID != in.ID || got.Vendor != "BBG" || got.UniverseID != "UNIV-1" || got.DQStatus != "WARN" || got.PayloadHash != "abc123" {
				t.Errorf("%s: fields = %+v", name, got)
			}
			if !bytes.Equal(got.Payload, in.Payload) {
				t.Errorf("%s: payload = %q, want %q", name, got.Payload, in.Payload)
			}
			if !jsonEqual(t, got.Issues, in.Issues) {
				t.Errorf("%s: issues = %s, want %s", name, got.Issues, in.Issues)
			}
			checkTime(t, name+" AsOfTime", got.AsOfTime, T0)
			checkTime(t, name+" CreatedAt", got.CreatedAt, T0.Add(90*time.Second))
		}
	})

	t.Run("GetUnknownIsNotFound", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		_, err := f.s.MarketSnapshotGet(f.ctx, f.id("missing"))
		if !errors.Is(err, apperr.ErrNotFound) {
			t.Fatalf("MarketSnapshotGet(missing): err = %v, want ErrNotFound", err)
		}
	})

	t.Run("ZeroCreatedAtFromClock", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		stored, created, err := f.s.MarketSnapshotCreate(f.ctx, &store.MarketSnapshot{
			ID: f.id("clock"), AsOfTime: T0, Payload: []byte("{}"), PayloadHash: "h", DQStatus: "PASS", Issues: []byte("[]"),
		})
		if err != nil || !created {
			t.Fatalf("MarketSnapshotCreate = %v, %v", created, err)
		}
		if stored.CreatedAt.IsZero() {
			t.Fatal("CreatedAt stayed zero")
		}
		got := mustMarketGet(t, f, f.id("clock"))
		checkTime(t, "CreatedAt", got.CreatedAt, stored.CreatedAt)
		if stored.CreatedAt.Nanosecond()%1000 != 0 {
			t.Errorf("CreatedAt %s has sub-microsecond digits", stored.CreatedAt.Format(time.RFC3339Nano))
		}
	})

	t.Run("IdempotentAndImmutable", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		first := MustMarketSnapshot(t, f.ctx, f.s, &store.MarketSnapshot{ID: f.id("m"), Payload: []byte(`{"v":1}`), CreatedAt: T0})

		// Same content again: the stored snapshot, untouched.
		again, created, err := f.s.MarketSnapshotCreate(f.ctx, &store.MarketSnapshot{
			ID: f.id("m"), AsOfTime: T0, Payload: []byte(`{"v":1}`), PayloadHash: first.PayloadHash,
			DQStatus: "FAIL", Issues: []byte(`[]`), CreatedAt: T0.Add(time.Hour),
		})
		if err != nil || created {
			t.Fatalf("repeat create = created %v, err %v; want created=false, nil", created, err)
		}
		if again.DQStatus != "PASS" {
			t.Errorf("repeat create returned DQStatus %q, want the stored PASS", again.DQStatus)
		}
		checkTime(t, "repeat CreatedAt", again.CreatedAt, T0)

		// Other content: Conflict, and the stored one is intact.
		_, created, err = f.s.MarketSnapshotCreate(f.ctx, &store.MarketSnapshot{
			ID: f.id("m"), AsOfTime: T0, Payload: []byte(`{"v":2}`), PayloadHash: hashHex(`{"v":2}`),
			DQStatus: "PASS", Issues: []byte(`[]`), CreatedAt: T0,
		})
		if !errors.Is(err, apperr.ErrConflict) || created {
			t.Fatalf("create with other content: created %v, err %v; want Conflict", created, err)
		}
		got := mustMarketGet(t, f, f.id("m"))
		if string(got.Payload) != `{"v":1}` || got.PayloadHash != first.PayloadHash {
			t.Errorf("after conflict: payload %s hash %s, want the first", got.Payload, got.PayloadHash)
		}
	})

	t.Run("Daily", func(t *testing.T) { testMarketSnapshotDaily(t, open) })

	t.Run("ListOrderAndPagination", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		// A time range unlikely to be shared with other tests, with ties.
		base := time.Date(2301, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(PositionHash(f.prefix)%1000000) * time.Minute)
		type mk struct {
			name string
			at   time.Duration
		}
		for _, m := range []mk{{"c", 0}, {"a", time.Hour}, {"e", time.Hour}, {"b", 2 * time.Hour}, {"d", time.Hour}, {"f", time.Microsecond}} {
			MustMarketSnapshot(t, f.ctx, f.s, &store.MarketSnapshot{ID: f.id(m.name), AsOfTime: base.Add(m.at)})
		}
		// Newest first; ties (a, d, e at +1h) by id descending.
		want := []string{f.id("b"), f.id("e"), f.id("d"), f.id("a"), f.id("f"), f.id("c")}
		for _, limit := range []int{1, 2, 4, 100} {
			var got []string
			// Start just above this test's range (the table may hold other
			// rows) and stop below it.
			p := store.ListParams{Limit: limit, AfterTime: base.Add(3 * time.Hour)}
			done := false
			for pages := 0; !done; pages++ {
				if pages > 10000 {
					t.Fatal("pagination does not end")
				}
				page, err := f.s.MarketSnapshotList(f.ctx, p)
				if err != nil {
					t.Fatalf("MarketSnapshotList(%+v): %v", p, err)
				}
				if len(page) > limit {
					t.Fatalf("page of %d rows, limit %d", len(page), limit)
				}
				for i, m := range page {
					if m.Payload != nil && len(m.Payload) > 0 {
						t.Errorf("list row %s carries its payload", m.ID)
					}
					if i > 0 {
						prev := page[i-1]
						if m.AsOfTime.After(prev.AsOfTime) || (m.AsOfTime.Equal(prev.AsOfTime) && m.ID >= prev.ID) {
							t.Errorf("list order: %s (%s) after %s (%s)", m.ID, m.AsOfTime, prev.ID, prev.AsOfTime)
						}
					}
					if m.AsOfTime.Before(base) {
						done = true
					}
					if strings.HasPrefix(m.ID, f.prefix+"-") {
						got = append(got, m.ID)
						if m.ID == f.id("f") {
							checkTime(t, "f AsOfTime", m.AsOfTime, base.Add(time.Microsecond))
						}
					}
				}
				if len(page) < limit {
					break
				}
				last := page[len(page)-1]
				p.AfterTime, p.AfterID = last.AsOfTime, last.ID
			}
			if !slices.Equal(got, want) {
				t.Errorf("limit %d: listed %v, want %v", limit, got, want)
			}
		}
		// The first page (zero cursor) starts with the newest snapshot.
		first, err := f.s.MarketSnapshotList(f.ctx, store.ListParams{Limit: 3})
		if err != nil {
			t.Fatalf("MarketSnapshotList(first page): %v", err)
		}
		if len(first) == 0 {
			t.Fatal("first page is empty")
		}
		for i := 1; i < len(first); i++ {
			if first[i].AsOfTime.After(first[i-1].AsOfTime) {
				t.Errorf("first page out of order: %v", first)
			}
		}
		if first[0].AsOfTime.Before(base.Add(2 * time.Hour)) {
			t.Errorf("first page starts at %s, before this test's newest snapshot", first[0].AsOfTime)
		}
	})
}

func mustMarketGet(t *testing.T, f *fixture, id string) *store.MarketSnapshot {
	t.Helper()
	m, err := f.s.MarketSnapshotGet(f.ctx, id)
	if err != nil {
		t.Fatalf("MarketSnapshotGet(%q): %v", id, err)
	}
	return m
}
