package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/store"
)

// webhook creates a webhook of the subtest subscribed to events; it is
// deleted at cleanup, so that later subtests' runs queue nothing for it.
func (f *fixture) webhook(t *testing.T, name string, events ...string) *store.Webhook {
	t.Helper()
	w, err := f.s.WebhookCreate(f.ctx, &store.Webhook{ID: f.id(name), URL: "https://example.test/" + name, Events: events,
		Description: "d " + name, Secret: "whsec_" + name})
	if err != nil {
		t.Fatalf("WebhookCreate(%s): %v", name, err)
	}
	t.Cleanup(func() { _ = f.s.WebhookDelete(t.Context(), w.ID) })
	return w
}

// deliveries lists a webhook's deliveries oldest first.
func (f *fixture) deliveries(t *testing.T, id string) []*store.WebhookDelivery {
	t.Helper()
	l, err := f.s.WebhookDeliveryList(f.ctx, id, 0)
	if err != nil {
		t.Fatalf("WebhookDeliveryList(%s): %v", id, err)
	}
	slices.Reverse(l)
	return l
}

// checkEvents fails unless the webhook's deliveries are of these event
// types, oldest first, about run runID.
func (f *fixture) checkEvents(t *testing.T, id, runID string, want ...string) []*store.WebhookDelivery {
	t.Helper()
	l := f.deliveries(t, id)
	var got []string
	for _, d := range l {
		got = append(got, d.EventType)
		if d.RunID != runID {
			t.Errorf("delivery %d of %s is about run %q, want %q", d.ID, id, d.RunID, runID)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("deliveries of %s = %v, want %v", id, got, want)
	}
	return l
}

type payload struct {
	Type      string `json:"type"`
	Timestamp string `json:"timestamp"`
	Data      struct {
		RunID  string `json:"run_id"`
		Status string `json:"status"`
		Error  string `json:"error"`
	} `json:"data"`
}

func decodePayload(t *testing.T, d *store.WebhookDelivery) payload {
	t.Helper()
	var p payload
	if err := json.Unmarshal(d.Payload, &p); err != nil {
		t.Fatalf("delivery %d payload %s: %v", d.ID, d.Payload, err)
	}
	return p
}

// claimOwn claims due deliveries and keeps those of the given webhooks
// (a shared database may hold others).
func (f *fixture) claimOwn(t *testing.T, lease time.Duration, webhooks ...string) []*store.WebhookDelivery {
	t.Helper()
	l, err := f.s.WebhookDeliveryClaim(f.ctx, store.WebhookClaimParams{Limit: 1000, Lease: lease})
	if err != nil {
		t.Fatalf("WebhookDeliveryClaim: %v", err)
	}
	var out []*store.WebhookDelivery
	for _, d := range l {
		if slices.Contains(webhooks, d.WebhookID) {
			out = append(out, d)
		}
	}
	return out
}

func testWebhook(t *testing.T, open Opener) {
	t.Run("CreateGetDelete", func(t *testing.T) {
		f := setup(t, open)
		f.clock.Set(T0.Add(time.Minute))
		ctx := audited(f.ctx, "alice", "webhook.create", "", "req-1")
		in := &store.Webhook{ID: f.id("w"), URL: "https://example.test/h", Events: []string{store.EventRunCompleted, store.EventRunPublished},
			Description: "desk", Secret: "whsec_abc"}
		if _, err := f.s.WebhookCreate(ctx, in); err != nil {
			t.Fatalf("WebhookCreate: %v", err)
		}
		if _, err := f.s.WebhookCreate(audited(f.ctx, "alice", "webhook.create", "", "req-2"), in); !errors.Is(err, apperr.ErrConflict) {
			t.Errorf("WebhookCreate of a taken id = %v, want a conflict", err)
		}
		got, err := f.s.WebhookGet(f.ctx, in.ID)
		if err != nil {
			t.Fatalf("WebhookGet: %v", err)
		}
		if got.URL != in.URL || got.Description != "desk" || got.Secret != "whsec_abc" || !slices.Equal(got.Events, in.Events) {
			t.Errorf("WebhookGet = %+v, want %+v", got, in)
		}
		checkTime(t, "CreatedAt", got.CreatedAt, T0.Add(time.Minute))
		if err := f.s.WebhookDelete(audited(f.ctx, "bob", "webhook.delete", in.ID, "req-3"), in.ID); err != nil {
			t.Fatalf("WebhookDelete: %v", err)
		}
		if _, err := f.s.WebhookGet(f.ctx, in.ID); !errors.Is(err, apperr.ErrNotFound) {
			t.Errorf("WebhookGet of a deleted webhook = %v, want not found", err)
		}
		if err := f.s.WebhookDelete(audited(f.ctx, "bob", "webhook.delete", in.ID, "req-4"), in.ID); !errors.Is(err, apperr.ErrNotFound) {
			t.Errorf("WebhookDelete again = %v, want not found", err)
		}
		if _, err := f.s.WebhookDeliveryList(f.ctx, in.ID, 0); !errors.Is(err, apperr.ErrNotFound) {
			t.Errorf("WebhookDeliveryList of a deleted webhook = %v, want not found", err)
		}
		CheckAudit(t, f.ctx, f.s, in.ID,
			store.AuditEntry{Principal: "alice", Action: "webhook.create", RequestID: "req-1"},
			store.AuditEntry{Principal: "bob", Action: "webhook.delete", RequestID: "req-3"})
	})

	t.Run("OutboxOfSubscribedWebhooks", func(t *testing.T) {
		f := setup(t, open)
		all := f.webhook(t, "all", store.WebhookEvents...)
		done := f.webhook(t, "done", store.EventRunCompleted)
		failed := f.webhook(t, "failed", store.EventRunFailed)
		gone := f.webhook(t, "gone", store.WebhookEvents...)
		if err := f.s.WebhookDelete(f.ctx, gone.ID); err != nil {
			t.Fatal(err)
		}
		run, _ := f.simpleRun(t, "r", 1, 3)
		task := f.mustClaim(t, "w1", T0.Add(time.Second))
		settled := T0.Add(5 * time.Second)
		if err := f.complete(task, settled, nil); err != nil {
			t.Fatalf("TaskComplete: %v", err)
		}
		l := f.checkEvents(t, all.ID, run.ID, store.EventRunCompleted)
		f.checkEvents(t, done.ID, run.ID, store.EventRunCompleted)
		f.checkEvents(t, failed.ID, run.ID)
		d := l[0]
		if d.Status != store.DeliveryPending || d.Attempts != 0 || len(d.AttemptLog) != 0 {
			t.Errorf("new delivery = %s, %d attempts, log %v; want PENDING with none", d.Status, d.Attempts, d.AttemptLog)
		}
		checkTime(t, "NextAttemptAt", d.NextAttemptAt, settled)
		checkTime(t, "CreatedAt", d.CreatedAt, settled)
		p := decodePayload(t, d)
		if p.Type != store.EventRunCompleted || p.Data.RunID != run.ID || p.Data.Status != store.RunCompleted ||
			p.Timestamp != us(settled).Format(time.RFC3339Nano) {
			t.Errorf("payload = %s", d.Payload)
		}
		if len(d.MessageID) < 20 || d.MessageID[:4] != "msg_" {
			t.Errorf("MessageID = %q, want msg_ and a random part", d.MessageID)
		}

		// Publishing queues run.published after run.completed.
		f.clock.Set(T0.Add(time.Minute))
		if _, err := f.s.RunPublish(f.ctx, store.RunPublishParams{RunID: run.ID, PublishHash: "h", PublishedAt: T0.Add(time.Minute)}); err != nil {
			t.Fatalf("RunPublish: %v", err)
		}
		l = f.checkEvents(t, all.ID, run.ID, store.EventRunCompleted, store.EventRunPublished)
		if l[0].MessageID == l[1].MessageID {
			t.Errorf("two deliveries share webhook-id %s", l[0].MessageID)
		}
		if p := decodePayload(t, l[1]); p.Data.Status != store.RunPublished {
			t.Errorf("run.published payload = %s", l[1].Payload)
		}
		f.checkEvents(t, done.ID, run.ID, store.EventRunCompleted)
		// The deleted webhook got nothing (its list is gone with it; no
		// claim returns a delivery of it).
		for _, c := range f.claimOwn(t, time.Minute, gone.ID) {
			t.Errorf("claimed delivery %d of a deleted webhook", c.ID)
		}
	})

	t.Run("FailedCancelledAndEmptyRuns", func(t *testing.T) {
		f := setup(t, open)
		w := f.webhook(t, "w", store.EventRunFailed, store.EventRunCancelled, store.EventRunCompleted)
		run, _ := f.simpleRun(t, "bad", 1, 1)
		task := f.mustClaim(t, "w1", T0.Add(time.Second))
		if err := f.fail(task, T0.Add(2*time.Second), "boom", true, time.Time{}); err != nil {
			t.Fatalf("TaskFail: %v", err)
		}
		l := f.checkEvents(t, w.ID, run.ID, store.EventRunFailed)
		stored := checkRunStatus(t, f, run.ID, store.RunFailed)
		if p := decodePayload(t, l[0]); p.Data.Status != store.RunFailed || p.Data.Error != stored.Error || p.Data.Error == "" {
			t.Errorf("run.failed payload = %s, run error %q", l[0].Payload, stored.Error)
		}

		w2 := f.webhook(t, "w2", store.EventRunCancelled)
		queued, _ := f.simpleRun(t, "queued", 2, 3)
		if _, err := f.cancel(queued.ID, T0.Add(3*time.Second)); err != nil {
			t.Fatalf("RunCancel: %v", err)
		}
		f.checkEvents(t, w2.ID, queued.ID, store.EventRunCancelled)

		w3 := f.webhook(t, "w3", store.EventRunCompleted)
		empty, _ := f.simpleRun(t, "empty", 0, 3)
		checkRunStatus(t, f, empty.ID, store.RunCompleted)
		f.checkEvents(t, w3.ID, empty.ID, store.EventRunCompleted)
		// A replay of the same RunCreate changes nothing and queues nothing.
		if _, created, err := f.s.RunCreate(f.ctx, empty, nil); err != nil || created {
			t.Fatalf("RunCreate replay = created %v, %v", created, err)
		}
		f.checkEvents(t, w3.ID, empty.ID, store.EventRunCompleted)
	})

	t.Run("EventsOfEachKind", func(t *testing.T) {
		// An explain that completes is explain.completed, never run.*; one
		// that fails has no event; a verify has none.
		f := setup(t, open)
		w := f.webhook(t, "w", store.WebhookEvents...)
		mk := func(name, kind string) *store.Run {
			r, _ := MustRun(t, f.ctx, f.s, RunOpts{Run: &store.Run{ID: f.id(name), Kind: kind, MaxAttempts: 1}, Tasks: taskSpec(1, "FX_FWD", T0, 1)})
			return r
		}
		explain, failing, verify := mk("explain", store.KindExplain), mk("failing", store.KindExplain), mk("verify", store.KindVerify)
		for i, r := range []*store.Run{explain, failing, verify} {
			now := T0.Add(time.Duration(2*i+1) * time.Second)
			task := f.mustClaim(t, "w1", now)
			if task.RunID != r.ID {
				t.Fatalf("claimed a task of %s, want one of %s (claims go in creation order)", task.RunID, r.ID)
			}
			var err error
			if r == failing {
				err = f.fail(task, now.Add(time.Second), "boom", true, time.Time{})
			} else {
				err = f.complete(task, now.Add(time.Second), nil)
			}
			if err != nil {
				t.Fatalf("settle %s: %v", r.ID, err)
			}
		}
		checkRunStatus(t, f, explain.ID, store.RunCompleted)
		checkRunStatus(t, f, failing.ID, store.RunFailed)
		checkRunStatus(t, f, verify.ID, store.RunCompleted)
		// An explain with nothing to value completes at once, with its event.
		empty, _ := MustRun(t, f.ctx, f.s, RunOpts{Run: &store.Run{ID: f.id("empty"), Kind: store.KindExplain}})
		checkRunStatus(t, f, empty.ID, store.RunCompleted)
		var got []string
		for _, d := range f.deliveries(t, w.ID) {
			got = append(got, d.RunID+" "+d.EventType)
			if p := decodePayload(t, d); p.Data.RunID != d.RunID || p.Data.Status != store.RunCompleted {
				t.Errorf("%s payload = %s", d.EventType, d.Payload)
			}
		}
		if want := []string{explain.ID + " explain.completed", empty.ID + " explain.completed"}; !slices.Equal(got, want) {
			t.Errorf("deliveries = %v, want %v", got, want)
		}
	})

	t.Run("RolledBackEventQueuesNothing", func(t *testing.T) {
		f := setup(t, open)
		w := f.webhook(t, "w", store.WebhookEvents...)
		run, _ := f.simpleRun(t, "r", 1, 3)
		// An audit entry without a principal fails the write after the
		// event's deliveries were queued: the transaction rolls back.
		bad := audited(f.ctx, "", "run.cancel", "", "req")
		f.clock.Set(T0.Add(time.Second))
		if _, err := f.s.RunCancel(bad, run.ID); err == nil {
			t.Fatal("RunCancel with a broken audit entry succeeded")
		}
		checkRunStatus(t, f, run.ID, store.RunQueued)
		f.checkEvents(t, w.ID, run.ID)

		task := f.mustClaim(t, "w1", T0.Add(2*time.Second))
		if err := f.complete(task, T0.Add(3*time.Second), nil); err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.RunPublish(audited(f.ctx, "", "run.publish", "", "req"), store.RunPublishParams{RunID: run.ID, PublishHash: "h", PublishedAt: T0}); err == nil {
			t.Fatal("RunPublish with a broken audit entry succeeded")
		}
		checkRunStatus(t, f, run.ID, store.RunCompleted)
		f.checkEvents(t, w.ID, run.ID, store.EventRunCompleted)
		// A stale claim is refused and queues nothing either.
		if err := f.complete(task, T0.Add(4*time.Second), nil); !errors.Is(err, apperr.ErrConflict) {
			t.Fatalf("second TaskComplete = %v, want a conflict", err)
		}
		f.checkEvents(t, w.ID, run.ID, store.EventRunCompleted)
	})

	t.Run("ClaimInOrderRetryGiveUp", func(t *testing.T) {
		f := setup(t, open)
		w := f.webhook(t, "w", store.WebhookEvents...)
		run, _ := f.simpleRun(t, "r", 1, 3)
		task := f.mustClaim(t, "w1", T0.Add(time.Second))
		if err := f.complete(task, T0.Add(2*time.Second), nil); err != nil {
			t.Fatal(err)
		}
		f.clock.Set(T0.Add(3 * time.Second))
		if _, err := f.s.RunPublish(f.ctx, store.RunPublishParams{RunID: run.ID, PublishHash: "h", PublishedAt: T0.Add(3 * time.Second)}); err != nil {
			t.Fatal(err)
		}
		f.clock.Set(T0.Add(10 * time.Second))
		got := f.claimOwn(t, time.Minute, w.ID)
		if len(got) != 1 || got[0].EventType != store.EventRunCompleted {
			t.Fatalf("first claim = %d deliveries (%v), want run.completed alone: run.published waits for it", len(got), got)
		}
		c := got[0]
		if c.Attempts != 1 || c.URL != w.URL || c.Secret != w.Secret {
			t.Errorf("claimed delivery: attempts %d url %q secret %q", c.Attempts, c.URL, c.Secret)
		}
		checkTime(t, "ClaimedAt", c.ClaimedAt, T0.Add(10*time.Second))
		if again := f.claimOwn(t, time.Minute, w.ID); len(again) != 0 {
			t.Errorf("a held delivery was claimed again: %v", again)
		}
		// The attempt fails: due again 5 s later; a stale attempt number
		// is a conflict.
		f.clock.Set(T0.Add(11 * time.Second))
		if err := f.s.WebhookAttemptRecord(f.ctx, store.WebhookAttemptParams{DeliveryID: c.ID, Attempt: 2, StatusCode: 503}); !errors.Is(err, apperr.ErrConflict) {
			t.Errorf("attempt with a wrong number = %v, want a conflict", err)
		}
		if err := f.s.WebhookAttemptRecord(f.ctx, store.WebhookAttemptParams{DeliveryID: c.ID, Attempt: 1, StatusCode: 503, Error: "HTTP 503", RetryAfter: 5 * time.Second}); err != nil {
			t.Fatalf("WebhookAttemptRecord: %v", err)
		}
		f.clock.Set(T0.Add(15 * time.Second))
		if l := f.claimOwn(t, time.Minute, w.ID); len(l) != 0 {
			t.Errorf("claimed before the retry time: %v", l)
		}
		f.clock.Set(T0.Add(16 * time.Second))
		got = f.claimOwn(t, time.Minute, w.ID)
		if len(got) != 1 || got[0].ID != c.ID || got[0].Attempts != 2 || got[0].MessageID != c.MessageID {
			t.Fatalf("retry claim = %v, want delivery %d at attempt 2 with the same webhook-id", got, c.ID)
		}
		if err := f.s.WebhookAttemptRecord(f.ctx, store.WebhookAttemptParams{DeliveryID: c.ID, Attempt: 2, StatusCode: 204, Delivered: true}); err != nil {
			t.Fatal(err)
		}
		// Now run.published is due; its attempts run out.
		f.clock.Set(T0.Add(20 * time.Second))
		got = f.claimOwn(t, time.Minute, w.ID)
		if len(got) != 1 || got[0].EventType != store.EventRunPublished {
			t.Fatalf("claim after delivery = %v, want run.published", got)
		}
		if err := f.s.WebhookAttemptRecord(f.ctx, store.WebhookAttemptParams{DeliveryID: got[0].ID, Attempt: 1, Error: "connection refused", GiveUp: true}); err != nil {
			t.Fatal(err)
		}
		f.clock.Set(T0.Add(48 * time.Hour))
		if l := f.claimOwn(t, time.Minute, w.ID); len(l) != 0 {
			t.Errorf("claimed a finished delivery: %v", l)
		}
		l := f.deliveries(t, w.ID)
		if len(l) != 2 {
			t.Fatalf("%d deliveries, want 2", len(l))
		}
		if l[0].Status != store.DeliveryDelivered || l[0].Attempts != 2 || l[0].LastStatusCode != 204 {
			t.Errorf("first delivery %s attempts %d code %d, want DELIVERED 2 204", l[0].Status, l[0].Attempts, l[0].LastStatusCode)
		}
		checkTimePtr(t, "DeliveredAt", l[0].DeliveredAt, ptr(T0.Add(16*time.Second)))
		wantLog := []store.WebhookAttempt{
			{Attempt: 1, Time: us(T0.Add(11 * time.Second)), StatusCode: 503, Error: "HTTP 503"},
			{Attempt: 2, Time: us(T0.Add(16 * time.Second)), StatusCode: 204},
		}
		if !slices.EqualFunc(l[0].AttemptLog, wantLog, func(a, b store.WebhookAttempt) bool {
			return a.Attempt == b.Attempt && a.Time.Equal(b.Time) && a.StatusCode == b.StatusCode && a.Error == b.Error
		}) {
			t.Errorf("attempt log = %+v, want %+v", l[0].AttemptLog, wantLog)
		}
		if l[1].Status != store.DeliveryFailed || l[1].LastError != "connection refused" || len(l[1].AttemptLog) != 1 {
			t.Errorf("second delivery = %s %q log %v, want FAILED", l[1].Status, l[1].LastError, l[1].AttemptLog)
		}
		if err := f.s.WebhookAttemptRecord(f.ctx, store.WebhookAttemptParams{DeliveryID: l[1].ID, Attempt: 1, Delivered: true}); !errors.Is(err, apperr.ErrConflict) {
			t.Errorf("attempt on a FAILED delivery = %v, want a conflict", err)
		}
	})

	t.Run("LeaseExpiryAndDelete", func(t *testing.T) {
		f := setup(t, open)
		w := f.webhook(t, "w", store.EventRunCancelled)
		run, _ := f.simpleRun(t, "r", 1, 3)
		if _, err := f.cancel(run.ID, T0.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		f.clock.Set(T0.Add(2 * time.Second))
		if got := f.claimOwn(t, 30*time.Second, w.ID); len(got) != 1 {
			t.Fatalf("claim = %v, want one delivery", got)
		}
		// The claimer died: after the lease the delivery is due again.
		f.clock.Set(T0.Add(32 * time.Second))
		got := f.claimOwn(t, 30*time.Second, w.ID)
		if len(got) != 1 || got[0].Attempts != 2 {
			t.Fatalf("claim after the lease = %v, want the delivery at attempt 2", got)
		}
		if err := f.s.WebhookDelete(f.ctx, w.ID); err != nil {
			t.Fatal(err)
		}
		if err := f.s.WebhookAttemptRecord(f.ctx, store.WebhookAttemptParams{DeliveryID: got[0].ID, Attempt: 2, Delivered: true}); !errors.Is(err, apperr.ErrConflict) {
			t.Errorf("attempt after the webhook was deleted = %v, want a conflict (its deliveries failed)", err)
		}
	})

	t.Run("ConcurrentClaimsNeverShare", func(t *testing.T) {
		f := setup(t, open)
		var hooks []string
		for i := range 3 {
			hooks = append(hooks, f.webhook(t, fmt.Sprintf("w%d", i), store.EventRunCancelled).ID)
		}
		const runs = 8
		for i := range runs {
			run, _ := f.simpleRun(t, fmt.Sprintf("r%d", i), 1, 3)
			if _, err := f.cancel(run.ID, T0.Add(time.Second)); err != nil {
				t.Fatal(err)
			}
		}
		f.clock.Set(T0.Add(2 * time.Second))
		var (
			mu   sync.Mutex
			seen = map[int64]int{}
			wg   sync.WaitGroup
		)
		for range 4 {
			wg.Go(func() {
				for {
					l, err := f.s.WebhookDeliveryClaim(f.ctx, store.WebhookClaimParams{Limit: 3, Lease: time.Hour})
					if err != nil {
						t.Errorf("WebhookDeliveryClaim: %v", err)
						return
					}
					mu.Lock()
					for _, d := range l {
						if slices.Contains(hooks, d.WebhookID) {
							seen[d.ID]++
						}
					}
					mu.Unlock()
					if len(l) == 0 {
						return
					}
				}
			})
		}
		wg.Wait()
		if len(seen) != 3*runs {
			t.Errorf("claimed %d distinct deliveries, want %d", len(seen), 3*runs)
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("delivery %d claimed %d times", id, n)
			}
		}
	})
}
