package orchestrator_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/iprs/iprs/internal/auth"
	"github.com/iprs/iprs/internal/webhook"
)

func TestWebhookRoutes(t *testing.T) {
	t.Parallel()
	opts := envOpts{principals: []auth.Principal{alice, reader}}
	eachStore(t, opts, func(t *testing.T, e *env) {
		A, R := e.as(alice.Token()), e.as(reader.Token())
		body := mustJSON(t, map[string]any{"url": "https://hooks.example.com/iprs", "events": []string{"run.cancelled", "run.completed"}, "description": "desk"})
		e.mustStatus(R.do(http.MethodPost, "/orch/webhooks", body), http.StatusForbidden)
		r := A.do(http.MethodPost, "/orch/webhooks", body)
		e.mustStatus(r, http.StatusCreated)
		created := r.json(t)
		id, secret := str(created["id"]), str(created["secret"])
		if !strings.HasPrefix(secret, "whsec_") || len(secret) < len("whsec_")+32 {
			t.Errorf("secret %q, want whsec_ and base64 of ≥ 24 bytes", secret)
		}
		if _, err := webhook.Sign(secret, "m", 1, nil); err != nil {
			t.Errorf("the answered secret does not sign: %v", err)
		}
		if loc := r.header.Get("Location"); loc != "/orch/webhooks/"+id {
			t.Errorf("Location %q", loc)
		}
		r = R.do(http.MethodGet, "/orch/webhooks/"+id, nil)
		e.mustStatus(r, http.StatusOK)
		got := r.json(t)
		if _, ok := got["secret"]; ok {
			t.Errorf("GET answers the secret: %s", r.body)
		}
		if got["url"] != "https://hooks.example.com/iprs" || got["description"] != "desk" {
			t.Errorf("GET = %s", r.body)
		}

		// A cancelled run queues run.cancelled; the list shows it pending.
		e.addFullMarket("MKT-1")
		e.as(alice.Token()).upload(snapshotBody("PS-A", "BOOK-A", "2026-01-23T00:00:00Z", mixedBook(2)), http.StatusCreated)
		e.mustStatus(A.postRun(runBody("RUN-W", "MKT-1", "PS-A")), http.StatusCreated)
		e.mustStatus(A.do(http.MethodPost, "/orch/runs/RUN-W/cancel", nil), http.StatusAccepted)
		r = R.do(http.MethodGet, "/orch/webhooks/"+id+"/deliveries", nil)
		e.mustStatus(r, http.StatusOK)
		var list struct {
			Items []struct {
				WebhookID string          `json:"webhook_id"`
				EventType string          `json:"event_type"`
				RunID     string          `json:"run_id"`
				Status    string          `json:"status"`
				Payload   json.RawMessage `json:"payload"`
				Attempts  []any           `json:"attempt_log"`
			} `json:"items"`
		}
		if err := json.Unmarshal(r.body, &list); err != nil {
			t.Fatal(err)
		}
		if len(list.Items) != 1 || list.Items[0].EventType != "run.cancelled" || list.Items[0].RunID != "RUN-W" ||
			list.Items[0].Status != "PENDING" || !strings.HasPrefix(list.Items[0].WebhookID, "msg_") {
			t.Fatalf("deliveries = %s", r.body)
		}
		var p struct {
			Type      string `json:"type"`
			Timestamp string `json:"timestamp"`
			Data      struct {
				RunID  string `json:"run_id"`
				Status string `json:"status"`
			} `json:"data"`
		}
		if err := json.Unmarshal(list.Items[0].Payload, &p); err != nil || p.Type != "run.cancelled" || p.Data.RunID != "RUN-W" ||
			p.Data.Status != "CANCELLED" || p.Timestamp == "" {
			t.Errorf("payload %s (%v)", list.Items[0].Payload, err)
		}

		e.mustStatus(R.do(http.MethodDelete, "/orch/webhooks/"+id, nil), http.StatusForbidden)
		e.mustStatus(A.do(http.MethodDelete, "/orch/webhooks/"+id, nil), http.StatusNoContent)
		e.mustStatus(R.do(http.MethodGet, "/orch/webhooks/"+id, nil), http.StatusNotFound)
		e.mustStatus(R.do(http.MethodGet, "/orch/webhooks/"+id+"/deliveries", nil), http.StatusNotFound)
		e.mustStatus(A.do(http.MethodDelete, "/orch/webhooks/"+id, nil), http.StatusNotFound)

		var actions []string
		for _, a := range e.as(alice.Token()).auditList("object_id=" + id) {
			actions = append(actions, a.Principal+" "+a.Action)
		}
		if strings.Join(actions, ",") != "alice webhook.delete,alice webhook.create" {
			t.Errorf("audit of %s = %v", id, actions)
		}
	})
}

func TestWebhookBadInput(t *testing.T) {
	t.Parallel()
	eachStore(t, envOpts{}, func(t *testing.T, e *env) {
		bad := func(body any, pointer, detail string) {
			t.Helper()
			r := e.do(http.MethodPost, "/orch/webhooks", mustJSON(t, body))
			e.mustStatus(r, http.StatusBadRequest)
			requirePointer(t, r.problems(t), pointer, detail)
		}
		bad(map[string]any{"url": "https://h.example.com/", "events": []string{"run.done"}}, "/events/0", "not an event")
		bad(map[string]any{"url": "https://h.example.com/", "events": []string{"run.failed", "run.failed"}}, "/events/1", "twice")
		bad(map[string]any{"url": "https://h.example.com/", "events": []string{}}, "/events", "at least one")
		bad(map[string]any{"url": "https://h.example.com/"}, "/events", "at least one")
		bad(map[string]any{"events": []string{"run.failed"}}, "/url", "required")
		bad(map[string]any{"url": "not a url", "events": []string{"run.failed"}}, "/url", "absolute")
		bad(map[string]any{"url": "http://h.example.com/", "events": []string{"run.failed"}}, "/url", "https")
		bad(map[string]any{"url": "http://127.0.0.1:9/", "events": []string{"run.failed"}}, "/url", "https")
		bad(map[string]any{"url": "https://h.example.com/", "events": []string{"run.failed"}, "secret": "mine"}, "/secret", "")
		// Every problem at once.
		r := e.do(http.MethodPost, "/orch/webhooks", mustJSON(t, map[string]any{"url": "ftp://x/", "events": []string{"nope"}}))
		e.mustStatus(r, http.StatusBadRequest)
		list := r.problems(t)
		requirePointer(t, list, "/url", "")
		requirePointer(t, list, "/events/0", "")
		e.mustStatus(e.do(http.MethodGet, "/orch/webhooks/WH-none", nil), http.StatusNotFound)
		e.mustStatus(e.do(http.MethodGet, "/orch/webhooks/WH-none/deliveries?limit=0", nil), http.StatusBadRequest)
		if n := len(e.auditList("action=webhook.create")); n != 0 {
			t.Errorf("refused creations left %d audit entries", n)
		}
	})
}

func TestWebhookLoopbackHTTPInDev(t *testing.T) {
	t.Parallel()
	eachStore(t, envOpts{webhookURLs: webhook.LoopbackHTTP}, func(t *testing.T, e *env) {
		e.mustStatus(e.do(http.MethodPost, "/orch/webhooks", mustJSON(t, map[string]any{"url": "http://127.0.0.1:8099/hook", "events": []string{"run.failed"}})), http.StatusCreated)
		r := e.do(http.MethodPost, "/orch/webhooks", mustJSON(t, map[string]any{"url": "http://h.example.com/hook", "events": []string{"run.failed"}}))
		e.mustStatus(r, http.StatusBadRequest)
		requirePointer(t, r.problems(t), "/url", "loopback")
	})
}
