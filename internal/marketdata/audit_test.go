package marketdata

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/iprs/iprs/internal/auth"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/store/teststore"
	"github.com/iprs/iprs/internal/web"
)

// TestCreateIsAudited: a created snapshot is recorded with its principal
// and the request id answered; a replay, a conflict and a refusal record
// nothing.
func TestCreateIsAudited(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("testdata", "market_snapshot_demo.json"))
	if err != nil {
		t.Fatal(err)
	}
	const id = "MKT-DEMO-20260123"
	for _, b := range teststore.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			db := b.Open(t)
			svc := New(db, nil, Options{Now: (&clock{now: testNow}).Now, Registerer: prometheus.NewRegistry()})
			mux := web.NewMux(web.Config{Service: "marketdata", Prefix: Prefix, Principals: []auth.Principal{
				auth.New("alice", "tok-alice", auth.Read, auth.Write),
				auth.New("bob", "tok-bob", auth.Read, auth.Write),
				auth.New("reader", "tok-reader", auth.Read),
			}})
			svc.Register(mux)
			srv := httptest.NewServer(mux.Handler())
			t.Cleanup(srv.Close)
			post := func(token string, payload []byte) (int, string) {
				t.Helper()
				req, err := http.NewRequest(http.MethodPost, srv.URL+"/mkt/snapshots", bytes.NewReader(payload))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				_, _ = io.Copy(io.Discard, resp.Body)
				return resp.StatusCode, resp.Header.Get(web.RequestIDHeader)
			}
			if status, _ := post("tok-reader", body); status != http.StatusForbidden {
				t.Fatalf("reader: %d, want 403", status)
			}
			status, rid := post("tok-alice", body)
			if status != http.StatusCreated || rid == "" {
				t.Fatalf("alice: %d, request id %q", status, rid)
			}
			if status, _ := post("tok-bob", body); status != http.StatusOK {
				t.Fatalf("bob's replay: %d, want 200", status)
			}
			if status, _ := post("tok-bob", []byte(`{"snapshot_id":"`+id+`"}`)); status != http.StatusBadRequest {
				t.Fatalf("bob's incomplete snapshot: %d, want 400", status)
			}
			other := bytes.Replace(body, []byte(`"vendor": "`), []byte(`"vendor": "X`), 1)
			other = bytes.Replace(other, []byte(`"vendor":"`), []byte(`"vendor":"X`), 1)
			if bytes.Equal(other, body) {
				t.Fatal("the changed payload is the same")
			}
			if status, _ := post("tok-bob", other); status != http.StatusConflict {
				t.Fatalf("bob's other content: %d, want 409", status)
			}
			entries, err := db.AuditList(context.Background(), store.AuditListParams{ObjectID: id})
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 {
				t.Fatalf("%d audit entries, want alice's only: %+v", len(entries), entries)
			}
			if e := entries[0]; e.Principal != "alice" || e.Action != "market_snapshot.create" || e.RequestID != rid {
				t.Errorf("entry %+v, want alice's market_snapshot.create with request id %s", e, rid)
			}
		})
	}
}
