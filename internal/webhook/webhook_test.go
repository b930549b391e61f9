package webhook_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/store/postgres"
	"github.com/iprs/iprs/internal/store/sqlite"
	"github.com/iprs/iprs/internal/store/storetest"
	"github.com/iprs/iprs/internal/store/teststore"
	"github.com/iprs/iprs/internal/webhook"
)

// TestSignSpecVector checks Sign against the example of the Standard
// Webhooks specification.
func TestSignSpecVector(t *testing.T) {
	got, err := webhook.Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
	if _, err := webhook.Sign("whsec_not base64!", "m", 1, nil); err == nil {
		t.Error("Sign accepted a secret that is not base64")
	}
}

func TestNewSecret(t *testing.T) {
	a, b := webhook.NewSecret(), webhook.NewSecret()
	if a == b || !strings.HasPrefix(a, "whsec_") {
		t.Fatalf("secrets %q %q", a, b)
	}
	if _, err := webhook.Sign(a, "m", 1, nil); err != nil {
		t.Errorf("a new secret does not sign: %v", err)
	}
	if n := len(strings.TrimPrefix(a, "whsec_")); n < 32 { // base64 of ≥ 24 bytes
		t.Errorf("secret key part has %d characters, want ≥ 32", n)
	}
}

func TestBackoff(t *testing.T) {
	want := []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second}
	for i, w := range want {
		if got := webhook.Backoff(i + 1); got != w {
			t.Errorf("Backoff(%d) = %s, want %s", i+1, got, w)
		}
	}
	if got := webhook.Backoff(40); got != time.Hour {
		t.Errorf("Backoff(40) = %s, want the 1 h cap", got)
	}
}

func TestCheckURL(t *testing.T) {
	cases := []struct {
		url    string
		policy webhook.URLPolicy
		ok     bool
	}{
		{"https://hooks.example.com/x", webhook.HTTPSOnly, true},
		{"http://hooks.example.com/x", webhook.HTTPSOnly, false},
		{"http://127.0.0.1:8080/x", webhook.HTTPSOnly, false},
		{"http://127.0.0.1:8080/x", webhook.LoopbackHTTP, true},
		{"http://[::1]:8080/x", webhook.LoopbackHTTP, true},
		{"http://localhost/x", webhook.LoopbackHTTP, true},
		{"http://hooks.example.com/x", webhook.LoopbackHTTP, false},
		{"http://hooks.example.com/x", webhook.AnyHTTP, true},
		{"ftp://hooks.example.com/x", webhook.AnyHTTP, false},
		{"/relative", webhook.AnyHTTP, false},
		{"https://user:pw@hooks.example.com/", webhook.HTTPSOnly, false},
		{"https://hooks.example.com/#frag", webhook.HTTPSOnly, false},
		{"https://", webhook.HTTPSOnly, false},
	}
	for _, c := range cases {
		if err := c.policy.CheckURL(c.url); (err == nil) != c.ok {
			t.Errorf("CheckURL(%q, policy %d) = %v, want ok %v", c.url, c.policy, err, c.ok)
		}
	}
}

// receiver is a webhook endpoint that checks every request's signature and
// answers 503 while down.
type receiver struct {
	t      *testing.T
	secret string
	down   atomic.Bool
	mu     sync.Mutex
	log    []received
}

type received struct {
	id, typ, runID string
	accepted       bool
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	id, ts := r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp")
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		rc.t.Errorf("webhook-timestamp %q: %v", ts, err)
	}
	want := hmacSignature(rc.secret, id, n, body)
	if got := r.Header.Get("webhook-signature"); got != want || want == "" {
		rc.t.Errorf("webhook-signature %q, want %q", got, want)
	}
	var p struct {
		Type string `json:"type"`
		Data struct {
			RunID string `json:"run_id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		rc.t.Errorf("body %s: %v", body, err)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	down := rc.down.Load()
	rc.log = append(rc.log, received{id: id, typ: p.Type, runID: p.Data.RunID, accepted: !down})
	if down {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type env struct {
	st    store.Store
	clock *storetest.Clock
	rc    *receiver
	hook  *store.Webhook
	d     *webhook.Dispatcher
}

// eachStore runs fn on SQLite, and on PostgreSQL (a schema of its own)
// when IPRS_TEST_DATABASE_URL is set.
func eachStore(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Run("sqlite", func(t *testing.T) {
		clock := storetest.NewClock(storetest.T0)
		st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "iprs.db"), sqlite.Options{Migrate: true, Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		fn(t, newEnv(t, st, clock))
	})
	if os.Getenv(teststore.EnvURL) == "" {
		return
	}
	t.Run("postgres", func(t *testing.T) {
		clock := storetest.NewClock(storetest.T0)
		fn(t, newEnv(t, teststore.Postgres(t, postgres.Options{Now: clock.Now, MaxConns: 4}), clock))
	})
}

func newEnv(t *testing.T, st store.Store, clock *storetest.Clock) *env {
	t.Helper()
	rc := &receiver{t: t, secret: webhook.NewSecret()}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	hook, err := st.WebhookCreate(t.Context(), &store.Webhook{ID: "wh1", URL: srv.URL, Events: store.WebhookEvents, Secret: rc.secret})
	if err != nil {
		t.Fatal(err)
	}
	d := webhook.New(st, webhook.Options{Now: clock.Now, Timeout: 5 * time.Second})
	return &env{st: st, clock: clock, rc: rc, hook: hook, d: d}
}

// finishRun creates a run of one task, completes it and publishes it:
// run.completed then run.published.
func (e *env) finishRun(t *testing.T, id string) {
	t.Helper()
	ctx := t.Context()
	storetest.MustRun(t, ctx, e.st, storetest.RunOpts{Run: &store.Run{ID: id, HashMod: 1},
		Tasks: []*store.Task{{ProductType: "FIXED_BOND", HashMod: 1, MaxAttempts: 3, AvailableAt: storetest.T0}}})
	task, err := e.st.TaskClaim(ctx, store.TaskClaimParams{Owner: "w", Lease: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.TaskComplete(ctx, store.TaskCompleteParams{ClaimRef: task.Ref()}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.RunPublish(ctx, store.RunPublishParams{RunID: id, PublishHash: "h", PublishedAt: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
}

func (e *env) deliveries(t *testing.T) []*store.WebhookDelivery {
	t.Helper()
	l, err := e.st.WebhookDeliveryList(t.Context(), e.hook.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(l)
	return l
}

// TestDownThenUp: a receiver down for five minutes then up gets every
// event exactly once, a run's events in order, each with one webhook-id
// across its retries.
func TestDownThenUp(t *testing.T) {
	eachStore(t, testDownThenUp)
}

func testDownThenUp(t *testing.T, e *env) {
	e.rc.down.Store(true)
	e.finishRun(t, "runA")
	e.finishRun(t, "runB")
	upAt := storetest.T0.Add(5 * time.Minute)
	for i := 0; i < 500; i++ {
		if e.clock.Now().After(upAt) {
			e.rc.down.Store(false)
		}
		if _, err := e.d.DispatchOnce(t.Context()); err != nil {
			t.Fatal(err)
		}
		done := true
		for _, d := range e.deliveries(t) {
			done = done && d.Status == store.DeliveryDelivered
		}
		if done {
			break
		}
		e.clock.Set(e.clock.Now().Add(3 * time.Second))
	}
	dels := e.deliveries(t)
	if len(dels) != 4 {
		t.Fatalf("%d deliveries, want 4", len(dels))
	}
	requests := map[string]int{}
	accepted := map[string]int{}
	var order []string // accepted events, in arrival order
	for _, r := range e.rc.log {
		requests[r.id]++
		if r.accepted {
			accepted[r.id]++
			order = append(order, r.runID+" "+r.typ)
		}
	}
	for _, d := range dels {
		if d.Status != store.DeliveryDelivered {
			t.Errorf("delivery %s %s is %s", d.RunID, d.EventType, d.Status)
		}
		if accepted[d.MessageID] != 1 {
			t.Errorf("%s %s accepted %d times, want once", d.RunID, d.EventType, accepted[d.MessageID])
		}
		if requests[d.MessageID] != d.Attempts || len(d.AttemptLog) != d.Attempts || d.Attempts < 1 {
			t.Errorf("%s %s: %d requests with its webhook-id, %d attempts, %d logged; want equal",
				d.RunID, d.EventType, requests[d.MessageID], d.Attempts, len(d.AttemptLog))
		}
		// run.completed met the receiver down; run.published waited for
		// it and went once, when it was up.
		if wantRetried := d.EventType == store.EventRunCompleted; (d.Attempts > 1) != wantRetried {
			t.Errorf("%s %s: %d attempts", d.RunID, d.EventType, d.Attempts)
		}
		// The first retry came within 10 s of the first attempt.
		if len(d.AttemptLog) >= 2 && d.AttemptLog[1].Time.Sub(d.AttemptLog[0].Time) > 10*time.Second {
			t.Errorf("%s %s: first retry %s after the first attempt", d.RunID, d.EventType, d.AttemptLog[1].Time.Sub(d.AttemptLog[0].Time))
		}
	}
	// Per run, run.published never reached the receiver before
	// run.completed was accepted.
	for _, run := range []string{"runA", "runB"} {
		completed := false
		for _, r := range e.rc.log {
			if r.runID != run {
				continue
			}
			if r.typ == store.EventRunPublished && !completed {
				t.Errorf("%s: run.published sent before run.completed was delivered", run)
			}
			if r.typ == store.EventRunCompleted && r.accepted {
				completed = true
			}
		}
	}
	if len(order) != 4 {
		t.Errorf("accepted %v, want 4 events", order)
	}
}

// TestGiveUpAfterHorizon: a receiver that never accepts is tried at the
// backoff times for 24 hours, then the delivery is FAILED and tried no
// more.
func TestGiveUpAfterHorizon(t *testing.T) {
	eachStore(t, testGiveUpAfterHorizon)
}

func testGiveUpAfterHorizon(t *testing.T, e *env) {
	e.rc.down.Store(true)
	e.clock.Set(storetest.T0.Add(time.Hour))
	// A run without tasks is COMPLETED at once: one run.completed.
	storetest.MustRun(t, t.Context(), e.st, storetest.RunOpts{Run: &store.Run{ID: "runC", HashMod: 1}, Tasks: []*store.Task{}})
	if n := len(e.deliveries(t)); n != 1 {
		t.Fatalf("%d deliveries, want 1", n)
	}
	created := e.deliveries(t)[0].CreatedAt
	for i := 0; i < 200; i++ {
		if _, err := e.d.DispatchOnce(t.Context()); err != nil {
			t.Fatal(err)
		}
		d := e.deliveries(t)[0]
		if d.Status != store.DeliveryPending {
			break
		}
		e.clock.Set(d.NextAttemptAt) // straight to the next retry
	}
	d := e.deliveries(t)[0]
	if d.Status != store.DeliveryFailed {
		t.Fatalf("delivery is %s after %d attempts, want FAILED", d.Status, d.Attempts)
	}
	log := d.AttemptLog
	last, before := log[len(log)-1].Time, log[len(log)-2].Time
	if last.Sub(created) < 24*time.Hour || before.Sub(created) >= 24*time.Hour {
		t.Errorf("last attempt %s after the event, the one before %s: want the first attempt past 24 h to be the last",
			last.Sub(created), before.Sub(created))
	}
	for i := 1; i < len(log); i++ {
		want := webhook.Backoff(i)
		if gap := log[i].Time.Sub(log[i-1].Time); gap != want {
			t.Errorf("attempt %d came %s after attempt %d, want %s", i+1, gap, i, want)
		}
	}
	n := len(e.rc.log)
	e.clock.Set(e.clock.Now().Add(48 * time.Hour))
	if c, err := e.d.DispatchOnce(t.Context()); err != nil || c != 0 {
		t.Errorf("DispatchOnce after giving up claimed %d (%v)", c, err)
	}
	if len(e.rc.log) != n {
		t.Error("a FAILED delivery was sent again")
	}
}

// hmacSignature computes a webhook-signature as the Standard Webhooks
// specification describes it, independently of the code under test:
// "v1," + base64(HMAC-SHA256(key, id + "." + timestamp + "." + body)).
func hmacSignature(secret, id string, ts int64, body []byte) string {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return ""
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.", id, ts)
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
