package orchestrator_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/auth"
	"github.com/iprs/iprs/internal/store"
)

// The principals of the audit and four-eyes tests.
var (
	alice  = auth.New("alice", "tok-alice", auth.Read, auth.Write)
	bob    = auth.New("bob", "tok-bob", auth.Read, auth.Publish)
	carol  = auth.New("carol", "tok-carol", auth.Read, auth.Write, auth.Publish)
	reader = auth.New("reader", "tok-reader", auth.Read)
	writer = auth.New("writer", "tok-writer", auth.Write)
)

type auditItem struct {
	Principal string `json:"principal"`
	Action    string `json:"action"`
	ObjectID  string `json:"object_id"`
	RequestID string `json:"request_id"`
	Time      string `json:"time"`
}

// auditList reads GET /orch/audit?query as reader, every page, checking
// the list shape.
func (e *env) auditList(query string) []auditItem {
	e.t.Helper()
	var all []auditItem
	cursor := ""
	for page := 0; page < 100; page++ {
		q := query
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		r := e.as(reader.Token()).do(http.MethodGet, "/orch/audit?"+q, nil)
		e.mustStatus(r, http.StatusOK)
		var l struct {
			Items      []auditItem `json:"items"`
			NextCursor *string     `json:"next_cursor"`
		}
		if err := json.Unmarshal(r.body, &l); err != nil || l.Items == nil {
			e.t.Fatalf("audit list %s: %v", r.body, err)
		}
		all = append(all, l.Items...)
		if l.NextCursor == nil {
			return all
		}
		cursor = *l.NextCursor
	}
	e.t.Fatal("audit list does not end")
	return nil
}

// recorded is what a request should have left in the audit log.
type recorded struct {
	principal, action, object string
	answer                    response // its X-Request-ID is the entry's request_id
}

func TestAuditTrail(t *testing.T) {
	t.Parallel()
	opts := envOpts{principals: []auth.Principal{alice, bob, reader, writer}}
	eachStore(t, opts, func(t *testing.T, e *env) {
		e.addFullMarket("MKT-1")
		var want []recorded // oldest first
		ok := func(r response, status int, principal, action, object string) {
			t.Helper()
			e.mustStatus(r, status)
			if r.header.Get("X-Request-ID") == "" {
				t.Fatalf("%s: no X-Request-ID answered", action)
			}
			want = append(want, recorded{principal, action, object, r})
		}
		A, B, W := e.as(alice.Token()), e.as(bob.Token()), e.as(writer.Token())

		snap := mustJSON(t, snapshotBody("PS-A", "BOOK-A", "2026-01-23T00:00:00Z", mixedBook(4)))
		ok(A.do(http.MethodPost, "/orch/position-snapshots", snap), http.StatusCreated, "alice", "position_snapshot.create", "PS-A")
		// A server-made id is recorded as the id the answer names.
		r := W.do(http.MethodPost, "/orch/position-snapshots", mustJSON(t, snapshotBody("", "BOOK-B", "2026-01-23T00:00:00Z", mixedBook(2))))
		ok(r, http.StatusCreated, "writer", "position_snapshot.create", str(r.json(t)["position_snapshot_id"]))
		// Replays, refusals and failures leave nothing.
		e.mustStatus(W.do(http.MethodPost, "/orch/position-snapshots", snap), http.StatusOK)
		e.mustStatus(e.as(reader.Token()).do(http.MethodPost, "/orch/position-snapshots", snap), http.StatusForbidden)
		e.mustStatus(e.do(http.MethodPost, "/orch/position-snapshots", snap), http.StatusUnauthorized)
		e.mustStatus(A.do(http.MethodPost, "/orch/position-snapshots",
			mustJSON(t, snapshotBody("PS-BAD", "BOOK-A", "2026-01-23T00:00:00Z", []map[string]any{{"position_id": "X"}}))), http.StatusBadRequest)

		ok(A.postRun(runBody("RUN-C", "MKT-1", "PS-A")), http.StatusCreated, "alice", "run.create", "RUN-C")
		e.mustStatus(B.postRun(runBody("RUN-C", "MKT-1", "PS-A")), http.StatusForbidden) // bob may not write
		e.mustStatus(W.postRun(runBody("RUN-C", "MKT-1", "PS-A")), http.StatusOK)        // a replay by another
		other := runBody("RUN-C", "MKT-1", "PS-A")
		other["measures"] = []any{"PV"}
		e.mustStatus(A.postRun(other), http.StatusConflict)
		e.mustStatus(A.postRun(runBody("RUN-X", "NO-SUCH-MARKET", "PS-A")), http.StatusUnprocessableEntity)
		r = A.do(http.MethodGet, "/orch/runs/RUN-C", nil)
		e.mustStatus(r, http.StatusOK)
		if got := r.json(t)["submitted_by"]; got != "alice" {
			t.Errorf("RUN-C submitted_by = %v, want alice (a replay by writer does not change it)", got)
		}
		r = W.postRun(runBody("", "MKT-1", "PS-A"))
		ok(r, http.StatusCreated, "writer", "run.create", str(r.json(t)["run_id"]))

		ok(W.do(http.MethodPost, "/orch/runs/RUN-C/cancel", nil), http.StatusAccepted, "writer", "run.cancel", "RUN-C")
		e.mustStatus(A.do(http.MethodPost, "/orch/runs/RUN-C/cancel", nil), http.StatusAccepted) // already cancelled
		e.mustStatus(A.do(http.MethodPost, "/orch/runs/RUN-C/publish", nil), http.StatusForbidden)
		ok(A.do(http.MethodDelete, "/orch/runs/RUN-C", nil), http.StatusNoContent, "alice", "run.delete", "RUN-C")
		e.mustStatus(A.do(http.MethodDelete, "/orch/runs/RUN-C", nil), http.StatusNotFound)

		ok(A.postRun(runBody("RUN-P", "MKT-1", "PS-A")), http.StatusCreated, "alice", "run.create", "RUN-P")
		e.mustStatus(B.do(http.MethodPost, "/orch/runs/RUN-P/publish", nil), http.StatusConflict) // QUEUED
		completeRun(t, e, "RUN-P", []string{"BASE"})
		ok(B.do(http.MethodPost, "/orch/runs/RUN-P/publish", nil), http.StatusOK, "bob", "run.publish", "RUN-P")
		e.mustStatus(B.do(http.MethodPost, "/orch/runs/RUN-P/publish", nil), http.StatusConflict)
		e.mustStatus(A.do(http.MethodDelete, "/orch/runs/RUN-P", nil), http.StatusConflict)

		// The whole log, newest first, two to a page.
		got := e.auditList("limit=2")
		if len(got) != len(want) {
			t.Fatalf("audit log has %d entries, want %d: %+v", len(got), len(want), got)
		}
		var prev time.Time
		for i, g := range got {
			w := want[len(want)-1-i]
			rid := w.answer.header.Get("X-Request-ID")
			if g.Principal != w.principal || g.Action != w.action || g.ObjectID != w.object || g.RequestID != rid {
				t.Errorf("entry %d = %+v, want %s %s %s request %s", i, g, w.principal, w.action, w.object, rid)
			}
			at, err := time.Parse(time.RFC3339Nano, g.Time)
			if err != nil || !strings.HasSuffix(g.Time, "Z") {
				t.Errorf("entry %d time %q is not RFC 3339 UTC", i, g.Time)
			}
			if i > 0 && at.After(prev) {
				t.Errorf("entry %d (%s) is newer than entry %d (%s)", i, g.Time, i-1, prev)
			}
			prev = at
		}

		// Filters.
		for query, wantN := range map[string][]string{
			"principal=bob":                     {"run.publish RUN-P"},
			"object_id=RUN-C":                   {"run.delete RUN-C", "run.cancel RUN-C", "run.create RUN-C"},
			"action=run.create&principal=alice": {"run.create RUN-P", "run.create RUN-C"},
			"object_id=PS-BAD":                  nil,
			"object_id=RUN-X":                   nil,
			"principal=nobody":                  nil,
		} {
			var lines []string
			for _, g := range e.auditList(query) {
				lines = append(lines, g.Action+" "+g.ObjectID)
			}
			if strings.Join(lines, "|") != strings.Join(wantN, "|") {
				t.Errorf("audit ?%s = %v, want %v", query, lines, wantN)
			}
		}

		// Bad requests and roles.
		R := e.as(reader.Token())
		for query, param := range map[string]string{
			"since=2026-01-01":  "since",
			"action=run.update": "action",
			"limit=0":           "limit",
			"limit=1001":        "limit",
			"cursor=zzz":        "cursor",
			"object_id=a%00b":   "object_id",
		} {
			r := R.do(http.MethodGet, "/orch/audit?"+query, nil)
			e.mustStatus(r, http.StatusBadRequest)
			if list := r.problems(t); len(list) != 1 || list[0].Parameter != param {
				t.Errorf("audit ?%s: problems %+v, want one naming %s", query, list, param)
			}
		}
		e.mustStatus(e.do(http.MethodGet, "/orch/audit", nil), http.StatusUnauthorized)
		r = W.do(http.MethodGet, "/orch/audit", nil)
		e.mustStatus(r, http.StatusForbidden)
		if !strings.Contains(string(r.body), `needs the role \"read\"`) || strings.Contains(string(r.body), "tok-") {
			t.Errorf("403 body %s, want it to name the role read and no token", r.body)
		}
	})
}

func TestFourEyes(t *testing.T) {
	t.Parallel()
	opts := envOpts{principals: []auth.Principal{carol, bob, alice, reader}, fourEyes: true}
	eachStore(t, opts, func(t *testing.T, e *env) {
		e.addFullMarket("MKT-1")
		C, B, A := e.as(carol.Token()), e.as(bob.Token()), e.as(alice.Token())
		C.upload(snapshotBody("PS-A", "BOOK-A", "2026-01-23T00:00:00Z", mixedBook(3)), http.StatusCreated)
		e.mustStatus(C.postRun(runBody("RUN-1", "MKT-1", "PS-A")), http.StatusCreated)
		completeRun(t, e, "RUN-1", []string{"BASE"})

		// The submitter may not publish, though it holds the role.
		r := C.do(http.MethodPost, "/orch/runs/RUN-1/publish", nil)
		e.mustStatus(r, http.StatusForbidden)
		var p struct {
			Type   string `json:"type"`
			Detail string `json:"detail"`
		}
		if err := json.Unmarshal(r.body, &p); err != nil {
			t.Fatal(err)
		}
		if p.Type != "https://iprs.dev/problems/forbidden" || !strings.Contains(p.Detail, `submitted by principal "carol"`) ||
			!strings.Contains(p.Detail, "four-eyes") {
			t.Errorf("problem %+v, want a forbidden problem naming four-eyes and the submitter", p)
		}
		// Replaying the request as another principal does not make it the
		// submitter; nothing was published or recorded.
		e.mustStatus(A.postRun(runBody("RUN-1", "MKT-1", "PS-A")), http.StatusOK)
		r = A.do(http.MethodGet, "/orch/runs/RUN-1", nil)
		if run := r.json(t); run["status"] != "COMPLETED" || run["submitted_by"] != "carol" {
			t.Fatalf("run after the refused publish: %s", r.body)
		}
		if n := len(e.auditList("action=run.publish")); n != 0 {
			t.Errorf("%d publish entries after a refused publish", n)
		}

		// Another principal with the role publishes.
		r = B.do(http.MethodPost, "/orch/runs/RUN-1/publish", nil)
		e.mustStatus(r, http.StatusOK)
		if got := r.json(t)["status"]; got != "PUBLISHED" {
			t.Errorf("status %v after bob's publish", got)
		}
		list := e.auditList("action=run.publish")
		if len(list) != 1 || list[0].Principal != "bob" || list[0].RequestID != r.header.Get("X-Request-ID") {
			t.Errorf("publish entries %+v, want bob's with request id %s", list, r.header.Get("X-Request-ID"))
		}

		// A run without a recorded submitter cannot be shown to be someone
		// else's: refused too.
		if _, _, err := e.store.RunCreate(e.ctx, &store.Run{ID: "RUN-OLD", RunType: "SANDBOX", AsOfTime: time.Date(2026, 1, 23, 0, 0, 0, 0, time.UTC),
			MarketSnapshotID: "MKT-1", Measures: []string{"PV"}, Scenarios: []string{"BASE"}, HashMod: 1, MaxAttempts: 3,
			RequestHash: "h", Request: []byte(`{}`), EngineVersion: "test", RequestedAt: time.Date(2026, 1, 23, 1, 0, 0, 0, time.UTC)}, nil); err != nil {
			t.Fatal(err)
		}
		r = B.do(http.MethodPost, "/orch/runs/RUN-OLD/publish", nil)
		e.mustStatus(r, http.StatusForbidden)
		if !strings.Contains(string(r.body), "no recorded submitter") {
			t.Errorf("publish of a run without submitter: %s", r.body)
		}
	})

	// Off, the submitter publishes its own run.
	eachStore(t, envOpts{principals: []auth.Principal{carol}}, func(t *testing.T, e *env) {
		e.addFullMarket("MKT-1")
		C := e.as(carol.Token())
		C.upload(snapshotBody("PS-A", "BOOK-A", "2026-01-23T00:00:00Z", mixedBook(3)), http.StatusCreated)
		e.mustStatus(C.postRun(runBody("RUN-1", "MKT-1", "PS-A")), http.StatusCreated)
		completeRun(t, e, "RUN-1", []string{"BASE"})
		e.mustStatus(C.do(http.MethodPost, "/orch/runs/RUN-1/publish", nil), http.StatusOK)
	})
}
