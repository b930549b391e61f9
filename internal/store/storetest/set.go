package storetest

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/store"
)

// mustSet stores an analytic set, filling zero fields with defaults: Kind
// scenario_set, a payload naming the id, PayloadHash the SHA-256 of the
// payload, CreatedAt T0. s.ID is required.
func mustSet(tb testing.TB, f *fixture, s *store.AnalyticSet) *store.AnalyticSet {
	tb.Helper()
	if s.ID == "" {
		tb.Fatal("mustSet: ID is required")
	}
	if s.Kind == "" {
		s.Kind = store.SetKindScenario
	}
	if s.Payload == nil {
		s.Payload = []byte(`{"scenario_set_id":"` + s.ID + `"}`)
	}
	if s.PayloadHash == "" {
		s.PayloadHash = hashHex(string(s.Payload))
	}
	if s.CreatedAt.IsZero() {
		s.CreatedAt = T0
	}
	stored, created, err := f.s.SetCreate(f.ctx, s)
	if err != nil {
		tb.Fatalf("SetCreate(%s %q): %v", s.Kind, s.ID, err)
	}
	if !created {
		tb.Fatalf("SetCreate(%s %q): created = false for a new id", s.Kind, s.ID)
	}
	return stored
}

func mustSetGet(tb testing.TB, f *fixture, kind, id string) *store.AnalyticSet {
	tb.Helper()
	s, err := f.s.SetGet(f.ctx, kind, id)
	if err != nil {
		tb.Fatalf("SetGet(%s, %q): %v", kind, id, err)
	}
	return s
}

func testAnalyticSet(t *testing.T, open Opener) {
	t.Run("CreateGetRoundTrip", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		in := &store.AnalyticSet{
			Kind:        store.SetKindScenario,
			ID:          f.id("set"),
			Description: "caf\u00e9 shocks",
			ItemCount:   3,
			Payload:     []byte("{\"scenarios\":[]}\n\x00\xff"),
			PayloadHash: "abc",
			CreatedAt:   T0,
		}
		stored, created, err := f.s.SetCreate(f.ctx, in)
		if err != nil || !created {
			t.Fatalf("SetCreate = created %v, err %v; want created", created, err)
		}
		for name, got := range map[string]*store.AnalyticSet{"created": stored, "get": mustSetGet(t, f, store.SetKindScenario, in.ID)} {
			if got.Kind != in.Kind || got.ID != in.ID || got.Description != in.Description || got.ItemCount != 3 || got.PayloadHash != "abc" {
				t.Errorf("%s: fields = %+v", name, got)
			}
			if string(got.Payload) != string(in.Payload) {
				t.Errorf("%s: payload = %q, want %q", name, got.Payload, in.Payload)
			}
			checkTime(t, name+" CreatedAt", got.CreatedAt, T0)
		}
		// The same id under another kind is another set.
		other := mustSet(t, f, &store.AnalyticSet{Kind: store.SetKindModel, ID: in.ID, Payload: []byte(`{"rules":[]}`)})
		if got := mustSetGet(t, f, store.SetKindModel, in.ID); string(got.Payload) != `{"rules":[]}` || got.PayloadHash != other.PayloadHash {
			t.Errorf("model set = %+v", got)
		}
		if got := mustSetGet(t, f, store.SetKindScenario, in.ID); got.PayloadHash != "abc" {
			t.Errorf("the model set changed the scenario set: %+v", got)
		}
	})

	t.Run("GetUnknownIsNotFound", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		mustSet(t, f, &store.AnalyticSet{ID: f.id("s")})
		for _, c := range []struct{ kind, id string }{
			{store.SetKindScenario, f.id("missing")},
			{store.SetKindModel, f.id("s")},
		} {
			if _, err := f.s.SetGet(f.ctx, c.kind, c.id); !errors.Is(err, apperr.ErrNotFound) {
				t.Errorf("SetGet(%s, %s): err = %v, want ErrNotFound", c.kind, c.id, err)
			}
		}
	})

	t.Run("ZeroCreatedAtFromClock", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		stored, created, err := f.s.SetCreate(f.ctx, &store.AnalyticSet{
			Kind: store.SetKindScenario, ID: f.id("clock"), Payload: []byte("{}"), PayloadHash: "h",
		})
		if err != nil || !created {
			t.Fatalf("SetCreate = %v, %v", created, err)
		}
		if stored.CreatedAt.IsZero() || stored.CreatedAt.Nanosecond()%1000 != 0 {
			t.Fatalf("CreatedAt = %s, want the clock at microsecond precision", stored.CreatedAt.Format(time.RFC3339Nano))
		}
		checkTime(t, "CreatedAt", mustSetGet(t, f, store.SetKindScenario, f.id("clock")).CreatedAt, stored.CreatedAt)
	})

	t.Run("IdempotentAndImmutable", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		first := mustSet(t, f, &store.AnalyticSet{ID: f.id("s"), Payload: []byte(`{"v":1}`), Description: "one", ItemCount: 1})
		again, created, err := f.s.SetCreate(f.ctx, &store.AnalyticSet{
			Kind: store.SetKindScenario, ID: f.id("s"), Payload: []byte(`{"v":1}`), PayloadHash: first.PayloadHash,
			Description: "ignored", ItemCount: 9, CreatedAt: T0.Add(time.Hour),
		})
		if err != nil || created {
			t.Fatalf("repeat create = created %v, err %v; want created=false, nil", created, err)
		}
		if again.Description != "one" || again.ItemCount != 1 || string(again.Payload) != `{"v":1}` {
			t.Errorf("repeat create returned %+v, want the stored set", again)
		}
		checkTime(t, "repeat CreatedAt", again.CreatedAt, T0)
		_, created, err = f.s.SetCreate(f.ctx, &store.AnalyticSet{
			Kind: store.SetKindScenario, ID: f.id("s"), Payload: []byte(`{"v":2}`), PayloadHash: hashHex(`{"v":2}`), ItemCount: 1,
		})
		if !errors.Is(err, apperr.ErrConflict) || created {
			t.Fatalf("create with other content: created %v, err %v; want Conflict", created, err)
		}
		if got := mustSetGet(t, f, store.SetKindScenario, f.id("s")); string(got.Payload) != `{"v":1}` || got.PayloadHash != first.PayloadHash {
			t.Errorf("after conflict: %+v, want the first", got)
		}
	})

	t.Run("ConcurrentIdenticalCreatesMakeOne", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		const n = 8
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			created  int
			errs     []error
			conflict int
		)
		for i := range 2 * n {
			wg.Go(func() {
				// Half send the same content; the other half other
				// content under another id, each the same again.
				id, body := f.id("same"), `{"v":"same"}`
				if i%2 == 1 {
					id, body = f.id("race"), `{"v":"`+string(rune('a'+i))+`"}`
				}
				_, c, err := f.s.SetCreate(f.ctx, &store.AnalyticSet{Kind: store.SetKindScenario, ID: id,
					Payload: []byte(body), PayloadHash: hashHex(body), ItemCount: 1})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case c && id == f.id("same"):
					created++
				case errors.Is(err, apperr.ErrConflict) && id == f.id("race"):
					conflict++
				case err != nil:
					errs = append(errs, err)
				}
			})
		}
		wg.Wait()
		if created != 1 || len(errs) != 0 {
			t.Errorf("%d identical concurrent creates: %d created, errors %v; want exactly 1, none", n, created, errs)
		}
		if conflict != n-1 {
			t.Errorf("%d concurrent creates with different content: %d conflicts, want %d", n, conflict, n-1)
		}
		if got := mustSetGet(t, f, store.SetKindScenario, f.id("same")); string(got.Payload) != `{"v":"same"}` {
			t.Errorf("stored %q", got.Payload)
		}
		if got := mustSetGet(t, f, store.SetKindScenario, f.id("race")); got.PayloadHash != hashHex(string(got.Payload)) {
			t.Errorf("the race left payload %q with hash %s", got.Payload, got.PayloadHash)
		}
	})

	t.Run("ListOrderAndPagination", func(t *testing.T) {
		t.Parallel()
		f := setup(t, open)
		base := time.Date(2301, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(PositionHash(f.prefix)%1000000) * time.Minute)
		type mk struct {
			name string
			at   time.Duration
		}
		for _, m := range []mk{{"c", 0}, {"a", time.Hour}, {"e", time.Hour}, {"b", 2 * time.Hour}, {"d", time.Hour}, {"f", time.Microsecond}} {
			mustSet(t, f, &store.AnalyticSet{ID: f.id(m.name), CreatedAt: base.Add(m.at), Description: m.name})
		}
		// A model set in the same range is not listed with scenario sets.
		mustSet(t, f, &store.AnalyticSet{Kind: store.SetKindModel, ID: f.id("model"), CreatedAt: base.Add(time.Hour)})
		want := []string{f.id("b"), f.id("e"), f.id("d"), f.id("a"), f.id("f"), f.id("c")}
		for _, limit := range []int{1, 2, 4, 100} {
			var got []string
			p := store.ListParams{Limit: limit, AfterTime: base.Add(3 * time.Hour)}
			for pages := 0; ; pages++ {
				if pages > 10000 {
					t.Fatal("pagination does not end")
				}
				page, err := f.s.SetList(f.ctx, store.SetKindScenario, p)
				if err != nil {
					t.Fatalf("SetList(%+v): %v", p, err)
				}
				if len(page) > limit {
					t.Fatalf("page of %d rows, limit %d", len(page), limit)
				}
				done := false
				for i, s := range page {
					if len(s.Payload) > 0 {
						t.Errorf("list row %s carries its payload", s.ID)
					}
					if s.Kind != store.SetKindScenario {
						t.Errorf("list row %s is a %s", s.ID, s.Kind)
					}
					if i > 0 {
						prev := page[i-1]
						if s.CreatedAt.After(prev.CreatedAt) || (s.CreatedAt.Equal(prev.CreatedAt) && s.ID >= prev.ID) {
							t.Errorf("list order: %s (%s) after %s (%s)", s.ID, s.CreatedAt, prev.ID, prev.CreatedAt)
						}
					}
					if s.CreatedAt.Before(base) {
						done = true
					}
					if strings.HasPrefix(s.ID, f.prefix+"-") {
						got = append(got, s.ID)
						if s.Description != strings.TrimPrefix(s.ID, f.prefix+"-") {
							t.Errorf("list row %s has description %q", s.ID, s.Description)
						}
					}
				}
				if done || len(page) < limit {
					break
				}
				last := page[len(page)-1]
				p.AfterTime, p.AfterID = last.CreatedAt, last.ID
			}
			if !slices.Equal(got, want) {
				t.Errorf("limit %d: listed %v, want %v", limit, got, want)
			}
		}
	})
}
