package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/client"
	"github.com/iprs/iprs/internal/gen"
	"github.com/iprs/iprs/internal/webhook"
)

// TestWebhooksEndToEnd subscribes a loopback http receiver (accepted by
// `iprs dev`), completes and publishes a run, and checks that the
// platform's dispatcher delivers both events, signed, in order.
func TestWebhooksEndToEnd(t *testing.T) {
	for _, tdb := range testDatabases(t) {
		t.Run(tdb.name, func(t *testing.T) {
			var (
				mu     sync.Mutex
				secret string
				events []string
			)
			recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				ts, _ := strconv.ParseInt(r.Header.Get("webhook-timestamp"), 10, 64)
				mu.Lock()
				defer mu.Unlock()
				want, err := webhook.Sign(secret, r.Header.Get("webhook-id"), ts, body)
				if err != nil || r.Header.Get("webhook-signature") != want {
					t.Errorf("signature %q, want %q (%v)", r.Header.Get("webhook-signature"), want, err)
				}
				var p struct {
					Type string `json:"type"`
					Data struct {
						RunID string `json:"run_id"`
					} `json:"data"`
				}
				_ = json.Unmarshal(body, &p)
				events = append(events, p.Type+" "+p.Data.RunID)
				w.WriteHeader(http.StatusOK)
			}))
			defer recv.Close()

			d := MustStartDev(t, tdb.db, nil)
			c := client.New(d.URL, "", nil)
			ctx := context.Background()
			sfx := uniqueSuffix()

			sub, _ := json.Marshal(map[string]any{"url": recv.URL + "/hook", "events": []string{"run.completed", "run.published"}})
			res, err := http.Post(d.URL+"/orch/webhooks", "application/json", bytes.NewReader(sub))
			if err != nil {
				t.Fatal(err)
			}
			var hook struct {
				ID     string `json:"id"`
				Secret string `json:"secret"`
			}
			_ = json.NewDecoder(res.Body).Decode(&hook)
			res.Body.Close()
			if res.StatusCode != http.StatusCreated {
				t.Fatalf("POST /orch/webhooks: %d", res.StatusCode)
			}
			mu.Lock()
			secret = hook.Secret
			mu.Unlock()
			t.Cleanup(func() {
				req, _ := http.NewRequest(http.MethodDelete, d.URL+"/orch/webhooks/"+hook.ID, nil)
				if res, err := http.DefaultClient.Do(req); err == nil {
					res.Body.Close()
				}
			})

			marketID := "MKT-WH-" + sfx
			gi := MustPushGenerated(t, c, marketID, gen.Options{NodeID: "BOOK-WH-" + sfx, AsOf: demoAsOf, Loans: 5, Seed: 3})
			run := submitAndWait(t, c, map[string]any{
				"run_id":               "RUN-WH-" + sfx,
				"run_type":             "EOD_OFFICIAL",
				"as_of_time":           demoAsOf.Format(time.RFC3339),
				"market_snapshot_id":   marketID,
				"position_snapshot_id": gi.Receipt.PositionSnapshotID,
				"measures":             []string{"PV"},
				"scenarios":            []string{"BASE"},
			})
			if _, err := c.PublishRun(ctx, run.RunID); err != nil {
				t.Fatalf("publish: %v", err)
			}
			want := []string{"run.completed " + run.RunID, "run.published " + run.RunID}
			deadline := time.Now().Add(20 * time.Second)
			for {
				mu.Lock()
				got := append([]string(nil), events...)
				mu.Unlock()
				if len(got) >= 2 || time.Now().After(deadline) {
					if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
						t.Fatalf("received %v, want %v", got, want)
					}
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}
