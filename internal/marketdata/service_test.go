package marketdata

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/store/sqlite"
	"github.com/iprs/iprs/internal/store/teststore"
	"github.com/iprs/iprs/internal/web"
)

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type fixture struct {
	srv   *httptest.Server
	db    store.Store
	reg   *prometheus.Registry
	clock *clock
}

// eachStore runs fn on a fresh service for every backend.
func eachStore(t *testing.T, fn func(t *testing.T, f *fixture)) {
	for _, b := range teststore.Backends() {
		t.Run(b.Name, func(t *testing.T) { fn(t, newFixture(t, b.Open(t))) })
	}
}

// setup starts the service on a fresh SQLite database.
func setup(t *testing.T) *fixture {
	t.Helper()
	return newFixture(t, teststore.SQLite(t))
}

func newFixture(t *testing.T, db store.Store) *fixture {
	t.Helper()
	clk := &clock{now: testNow}
	reg := prometheus.NewRegistry()
	svc := New(db, nil, Options{Now: clk.Now, Registerer: reg})
	mux := web.NewMux(web.Config{Service: "marketdata", Version: "test", Prefix: Prefix, Ping: db.Ping})
	svc.Register(mux)
	srv := httptest.NewServer(mux.Handler())
	t.Cleanup(srv.Close)
	return &fixture{srv: srv, db: db, reg: reg, clock: clk}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
	return m
}

func (f *fixture) do(t *testing.T, method, path string, body []byte) response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func (f *fixture) post(t *testing.T, body []byte) response {
	t.Helper()
	return f.do(t, http.MethodPost, "/mkt/snapshots", body)
}

func (f *fixture) count(t *testing.T) int {
	t.Helper()
	rows, err := f.db.MarketSnapshotList(context.Background(), store.ListParams{})
	if err != nil {
		t.Fatal(err)
	}
	return len(rows)
}

func TestCreateCompatFixtures(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		for _, name := range []string{"market_snapshot_demo.json", "marketdata_snapshot_eod.json"} {
			body, err := os.ReadFile(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			resp := f.post(t, body)
			if resp.status != http.StatusCreated {
				t.Fatalf("%s: status %d %s", name, resp.status, resp.body)
			}
			m := resp.json(t)
			var doc map[string]any
			if err := json.Unmarshal(body, &doc); err != nil {
				t.Fatal(err)
			}
			// Sound data; the only issues are the one-node spread curves
			// SPEC §1 warns of, so the stored status is WARN.
			issues, _ := m["issues"].([]any)
			if m["snapshot_id"] != doc["snapshot_id"] || m["dq_status"] != "WARN" || len(issues) == 0 ||
				m["created_at"] != "2026-01-24T12:00:00Z" {
				t.Fatalf("%s: receipt %s", name, resp.body)
			}
			for _, is := range issues {
				if is.(map[string]any)["code"] != CodeSingleNodeCurve {
					t.Fatalf("%s: unexpected issue %v", name, is)
				}
			}
			if h, _ := m["payload_hash"].(string); len(h) != 64 {
				t.Fatalf("%s: payload_hash %v", name, m["payload_hash"])
			}
			if loc := resp.header.Get("Location"); loc != "/mkt/snapshots/"+doc["snapshot_id"].(string) {
				t.Fatalf("%s: Location %q", name, loc)
			}
			if ct := resp.header.Get("Content-Type"); ct != "application/json" {
				t.Fatalf("%s: Content-Type %q", name, ct)
			}
		}
		if n := f.count(t); n != 2 {
			t.Fatalf("%d snapshots stored, want 2", n)
		}
	})
}

func TestCreateReplayConflict(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		// A clock finer than the stores' microseconds: the receipt of the
		// creation and of a replay must still agree.
		f.clock.Advance(123456789 * time.Nanosecond)
		body := mustJSON(t, validDoc())
		first := f.post(t, body)
		if got := first.json(t)["created_at"]; got != "2026-01-24T12:00:00.123456Z" {
			t.Fatalf("created_at %v", got)
		}
		if first.status != http.StatusCreated {
			t.Fatalf("status %d %s", first.status, first.body)
		}

		// The same content, spelled differently, later: 200 with the stored
		// record, created_at unchanged.
		f.clock.Advance(time.Hour)
		var doc map[string]any
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatal(err)
		}
		respelled, err := json.MarshalIndent(doc, "", "   ")
		if err != nil {
			t.Fatal(err)
		}
		respelled = bytes.Replace(respelled, []byte(`0.04,`), []byte(`4.000e-2,`), 1)
		again := f.post(t, respelled)
		if again.status != http.StatusOK {
			t.Fatalf("replay status %d %s", again.status, again.body)
		}
		if !bytes.Equal(again.body, first.body) {
			t.Fatalf("replay body %s, want %s", again.body, first.body)
		}

		// Other content under the same id: 409, nothing changes.
		node(doc, 0, 1)["zero_rate"] = 0.041
		conflict := f.post(t, mustJSON(t, doc))
		if conflict.status != http.StatusConflict {
			t.Fatalf("conflict status %d %s", conflict.status, conflict.body)
		}
		if ct := conflict.header.Get("Content-Type"); ct != web.ProblemContentType {
			t.Fatalf("Content-Type %q", ct)
		}
		p := conflict.json(t)
		if p["type"] != web.ProblemTypeBase+"conflict" || p["status"] != json.Number("409") ||
			!strings.Contains(p["detail"].(string), "MKT-T-1") {
			t.Fatalf("problem %s", conflict.body)
		}
		// A change to the client's quality block is other content too.
		doc = validDoc()
		doc["quality"] = map[string]any{"dq_status": "PASS", "issues": []any{}}
		if r := f.post(t, mustJSON(t, doc)); r.status != http.StatusConflict {
			t.Fatalf("quality change: status %d %s", r.status, r.body)
		}

		got := f.do(t, http.MethodGet, "/mkt/snapshots/MKT-T-1", nil)
		if got.status != http.StatusOK {
			t.Fatalf("get status %d", got.status)
		}
		if g := got.json(t); g["payload_hash"] != first.json(t)["payload_hash"] {
			t.Fatalf("stored snapshot changed: %s", got.body)
		}
		if n := f.count(t); n != 1 {
			t.Fatalf("%d snapshots stored, want 1", n)
		}
		for outcome, want := range map[string]float64{"created": 1, "replayed": 1, "conflict": 2, "rejected": 0} {
			if got := counterValue(t, f.reg, "marketdata_snapshots_total", "outcome", outcome); got != want {
				t.Errorf("marketdata_snapshots_total{outcome=%q} = %v, want %v", outcome, got, want)
			}
		}
	})
}

// counterValue reads one labelled counter series from the registry.
func counterValue(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, fam := range families {
		if fam.GetName() != name {
			continue
		}
		for _, m := range fam.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no series %s{%s=%q}", name, label, value)
	return 0
}

func TestConcurrentDuplicatesCreateOne(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		body := mustJSON(t, validDoc())
		const n = 8
		statuses := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				req, err := http.NewRequest(http.MethodPost, f.srv.URL+"/mkt/snapshots", bytes.NewReader(body))
				if err != nil {
					t.Error(err)
					return
				}
				resp, err := f.srv.Client().Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				statuses[i] = resp.StatusCode
			})
		}
		wg.Wait()
		created := 0
		for _, s := range statuses {
			switch s {
			case http.StatusCreated:
				created++
			case http.StatusOK:
			default:
				t.Fatalf("statuses %v", statuses)
			}
		}
		if created != 1 {
			t.Fatalf("statuses %v: want exactly one 201", statuses)
		}
	})
}

func TestGetSnapshot(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		d := validDoc()
		node(d, 0, 2)["zero_rate"] = 0.35 // WARN
		d["quality"] = map[string]any{"dq_status": "PASS", "issues": []any{"looked fine to us"}}
		created := f.post(t, mustJSON(t, d))
		if created.status != http.StatusCreated {
			t.Fatalf("status %d %s", created.status, created.body)
		}
		resp := f.do(t, http.MethodGet, "/mkt/snapshots/MKT-T-1", nil)
		if resp.status != http.StatusOK {
			t.Fatalf("status %d %s", resp.status, resp.body)
		}
		var got struct {
			SnapshotID  string                       `json:"snapshot_id"`
			AsOfTime    string                       `json:"as_of_time"`
			Vendor      string                       `json:"vendor"`
			UniverseID  string                       `json:"universe_id"`
			FXSpots     []map[string]any             `json:"fx_spots"`
			Curves      []map[string]json.RawMessage `json:"curves"`
			Quality     map[string]any               `json:"quality"`
			PayloadHash string                       `json:"payload_hash"`
			DQStatus    string                       `json:"dq_status"`
			Issues      []Issue                      `json:"issues"`
			CreatedAt   string                       `json:"created_at"`
		}
		dec := json.NewDecoder(bytes.NewReader(resp.body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("decode %s: %v", resp.body, err)
		}
		if got.SnapshotID != "MKT-T-1" || got.AsOfTime != "2026-01-23T17:00:00Z" || got.Vendor != "TEST" || got.UniverseID != "USD" ||
			len(got.FXSpots) != 2 || len(got.Curves) != 2 || got.Quality["dq_status"] != "PASS" ||
			got.DQStatus != "WARN" || got.CreatedAt != "2026-01-24T12:00:00Z" || got.PayloadHash != created.json(t)["payload_hash"] {
			t.Fatalf("snapshot %s", resp.body)
		}
		want := []Issue{
			{Severity: "WARN", Code: CodeRateOutOfRange, Pointer: "/curves/0/nodes/2/zero_rate", Source: "server"},
			{Severity: "INFO", Code: CodeClientReported, Pointer: "/quality/issues/0", Detail: "looked fine to us", Source: "client",
				Reported: json.RawMessage(`"looked fine to us"`)},
		}
		got.Issues[0].Detail = "" // checked elsewhere
		if !reflect.DeepEqual(got.Issues, want) {
			t.Fatalf("issues %+v\nwant %+v", got.Issues, want)
		}
		// The payload hash is the SHA-256 of the canonical document, which
		// the GET body holds before the metadata members.
		var doc map[string]json.RawMessage
		if err := json.Unmarshal(resp.body, &doc); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"payload_hash", "dq_status", "issues", "created_at"} {
			delete(doc, k)
		}
		canonical := fmt.Sprintf(`{"as_of_time":"2026-01-23T17:00:00Z","curves":%s,"fx_spots":%s,"quality":{"dq_status":"PASS","issues":["looked fine to us"]},"snapshot_id":"MKT-T-1","universe_id":"USD","vendor":"TEST"}`,
			`[{"curve_id":"USD-OIS","curve_type":"DISCOUNT","nodes":[{"tenor":"ON","zero_rate":0.039},{"tenor":"1M","zero_rate":0.04},{"tenor":"1Y","zero_rate":0.35}]},{"curve_id":"LOAN-SPREAD","curve_type":"SPREAD","nodes":[{"tenor":"1Y","zero_rate":0.012},{"tenor":"5Y","zero_rate":0.014}]}]`,
			`[{"pair":"EURUSD","spot":1.0842,"ts":"2026-01-23T16:59:30Z"},{"pair":"GBPUSD","spot":1.27}]`)
		if got.PayloadHash != sha256Hex(canonical) {
			t.Fatalf("payload_hash %s, want sha256 of %s = %s", got.PayloadHash, canonical, sha256Hex(canonical))
		}

		missing := f.do(t, http.MethodGet, "/mkt/snapshots/NOPE", nil)
		if missing.status != http.StatusNotFound || missing.header.Get("Content-Type") != web.ProblemContentType ||
			!strings.Contains(missing.json(t)["detail"].(string), "NOPE") {
			t.Fatalf("missing: %d %s", missing.status, missing.body)
		}
	})
}

func TestCreateFailAndWarnSnapshots(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		// A literal too large for a double is stored, with a FAIL issue.
		d := validDoc()
		d["snapshot_id"] = "MKT-FAIL"
		body := strings.Replace(string(mustJSON(t, d)), `"zero_rate":0.04}`, `"zero_rate":1e400}`, 1)
		resp := f.post(t, []byte(body))
		if resp.status != http.StatusCreated {
			t.Fatalf("status %d %s", resp.status, resp.body)
		}
		var rec Receipt
		if err := json.Unmarshal(resp.body, &rec); err != nil {
			t.Fatal(err)
		}
		if rec.DQStatus != "FAIL" || len(rec.Issues) != 1 || rec.Issues[0].Code != CodeNonFiniteRate ||
			rec.Issues[0].Pointer != "/curves/0/nodes/1/zero_rate" || rec.Issues[0].Severity != "FAIL" {
			t.Fatalf("receipt %s", resp.body)
		}
		got := f.do(t, http.MethodGet, "/mkt/snapshots/MKT-FAIL", nil)
		// The stored document keeps the literal, but the answer's numbers
		// are finite (SPEC §1): it is null, and the issue says what it was.
		if got.status != http.StatusOK || !bytes.Contains(got.body, []byte(`"zero_rate":null`)) ||
			!bytes.Contains(got.body, []byte(`zero_rate 1e400`)) || json.Unmarshal(got.body, new(any)) != nil {
			t.Fatalf("get: %d %s", got.status, got.body)
		}

		// The client's WARN wins over the server's PASS.
		d = validDoc()
		d["snapshot_id"] = "MKT-CLIENT-WARN"
		d["quality"] = map[string]any{"dq_status": "WARN"}
		resp = f.post(t, mustJSON(t, d))
		if resp.status != http.StatusCreated || resp.json(t)["dq_status"] != "WARN" {
			t.Fatalf("client WARN: %d %s", resp.status, resp.body)
		}
		// The server's WARN wins over the client's PASS.
		d = validDoc()
		d["snapshot_id"] = "MKT-FUTURE"
		d["as_of_time"] = "2026-02-01T00:00:00Z"
		d["quality"] = map[string]any{"dq_status": "PASS", "issues": []any{}}
		resp = f.post(t, mustJSON(t, d))
		if resp.status != http.StatusCreated {
			t.Fatalf("future: %d %s", resp.status, resp.body)
		}
		if err := json.Unmarshal(resp.body, &rec); err != nil {
			t.Fatal(err)
		}
		if rec.DQStatus != "WARN" || len(rec.Issues) != 1 || rec.Issues[0].Code != CodeAsOfInFuture || rec.Issues[0].Pointer != "/as_of_time" {
			t.Fatalf("future receipt %s", resp.body)
		}
		if got := counterValue(t, f.reg, "marketdata_dq_issues_total", "code", CodeNonFiniteRate); got != 1 {
			t.Errorf("NON_FINITE_RATE issues counted %v, want 1", got)
		}
		for status, want := range map[string]float64{"PASS": 0, "WARN": 2, "FAIL": 1} {
			if got := counterValue(t, f.reg, "marketdata_snapshots_dq_status_total", "dq_status", status); got != want {
				t.Errorf("dq_status %s counted %v, want %v", status, got, want)
			}
		}
	})
}

func TestRejectedRequestsWriteNothing(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		d := validDoc()
		d["extra"] = 1
		delete(d, "as_of_time")
		node(d, 1, 0)["zero_rate"] = "0.012"
		d["fx_spots"] = "none"
		cases := []struct {
			name     string
			body     []byte
			status   int
			pointers []string
		}{
			{"several problems", mustJSON(t, d), 400, []string{"/as_of_time", "/fx_spots", "/curves/1/nodes/0/zero_rate", "/extra"}},
			{"empty body", nil, 400, []string{""}},
			{"not JSON", []byte(`{"snapshot_id":`), 400, []string{""}},
			{"an array", []byte(`[]`), 400, []string{""}},
			{"duplicate member", []byte(strings.Replace(string(mustJSON(t, validDoc())), `"vendor":"TEST"`, `"vendor":"TEST","vendor":"X"`, 1)), 400, []string{"/vendor"}},
		}
		for _, tc := range cases {
			resp := f.post(t, tc.body)
			if resp.status != tc.status {
				t.Fatalf("%s: status %d %s", tc.name, resp.status, resp.body)
			}
			if ct := resp.header.Get("Content-Type"); ct != web.ProblemContentType {
				t.Fatalf("%s: Content-Type %q", tc.name, ct)
			}
			var p web.Problem
			if err := json.Unmarshal(resp.body, &p); err != nil {
				t.Fatal(err)
			}
			if p.Status != tc.status || p.Type != web.ProblemTypeBase+"invalid" {
				t.Fatalf("%s: problem %s", tc.name, resp.body)
			}
			if got := pointers(p.Errors); !reflect.DeepEqual(got, tc.pointers) {
				t.Fatalf("%s: pointers %q, want %q (%s)", tc.name, got, tc.pointers, resp.body)
			}
		}
		if n := f.count(t); n != 0 {
			t.Fatalf("%d snapshots stored after rejected requests", n)
		}
		if got := counterValue(t, f.reg, "marketdata_snapshots_total", "outcome", "rejected"); got != float64(len(cases)) {
			t.Fatalf("rejected counted %v, want %d", got, len(cases))
		}
	})
}

func TestBodyTooLarge(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "iprs.db"), sqlite.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mux := web.NewMux(web.Config{Service: "marketdata", Prefix: Prefix, MaxBodyBytes: 200})
	New(db, nil, Options{}).Register(mux)
	srv := httptest.NewServer(mux.Handler())
	defer srv.Close()
	resp, err := srv.Client().Post(srv.URL+"/mkt/snapshots", "application/json", bytes.NewReader(mustJSON(t, validDoc())))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d", resp.StatusCode)
	}
	rows, err := db.MarketSnapshotList(ctx, store.ListParams{})
	if err != nil || len(rows) != 0 {
		t.Fatalf("rows %d, %v", len(rows), err)
	}
}

func TestListPagination(t *testing.T) {
	eachStore(t, func(t *testing.T, f *fixture) {
		// Seven snapshots, three sharing the newest as_of_time and two the
		// oldest, submitted in no particular order.
		type snap struct{ id, asOf string }
		snaps := []snap{
			{"S-C", "2026-01-22T17:00:00Z"},
			{"S-A", "2026-01-23T17:00:00Z"},
			{"S-E", "2026-01-21T17:00:00Z"},
			{"S-B", "2026-01-23T17:00:00Z"},
			{"S-D", "2026-01-23T12:00:00-05:00"}, // = 17:00Z
			{"S-F", "2026-01-21T17:00:00Z"},
			{"S-G", "2026-01-22T09:30:00.123456Z"},
		}
		for _, s := range snaps {
			d := validDoc()
			d["snapshot_id"], d["as_of_time"] = s.id, s.asOf
			if r := f.post(t, mustJSON(t, d)); r.status != http.StatusCreated {
				t.Fatalf("%s: %d %s", s.id, r.status, r.body)
			}
		}
		// Newest first; ties by snapshot_id descending.
		want := []string{"S-D", "S-B", "S-A", "S-C", "S-G", "S-F", "S-E"}

		for _, limit := range []int{1, 2, 3, 7, 100} {
			var ids []string
			cursor := ""
			for pages := 0; ; pages++ {
				if pages > 10 {
					t.Fatalf("limit %d: too many pages", limit)
				}
				path := fmt.Sprintf("/mkt/snapshots?limit=%d", limit)
				if cursor != "" {
					path += "&cursor=" + cursor
				}
				resp := f.do(t, http.MethodGet, path, nil)
				if resp.status != http.StatusOK {
					t.Fatalf("limit %d: %d %s", limit, resp.status, resp.body)
				}
				var page struct {
					Items      []Summary `json:"items"`
					NextCursor *string   `json:"next_cursor"`
				}
				if err := json.Unmarshal(resp.body, &page); err != nil {
					t.Fatal(err)
				}
				if len(page.Items) > limit {
					t.Fatalf("limit %d: page of %d", limit, len(page.Items))
				}
				for _, it := range page.Items {
					ids = append(ids, it.SnapshotID)
					if it.DQStatus != "PASS" || len(it.PayloadHash) != 64 || it.Vendor != "TEST" || it.CreatedAt != "2026-01-24T12:00:00Z" {
						t.Fatalf("item %+v", it)
					}
				}
				if page.NextCursor == nil {
					break
				}
				cursor = *page.NextCursor
			}
			if !reflect.DeepEqual(ids, want) {
				t.Fatalf("limit %d: order %q, want %q", limit, ids, want)
			}
		}

		// Times come back in UTC.
		resp := f.do(t, http.MethodGet, "/mkt/snapshots?limit=1", nil)
		var page web.List[Summary]
		if err := json.Unmarshal(resp.body, &page); err != nil {
			t.Fatal(err)
		}
		if page.Items[0].AsOfTime != "2026-01-23T17:00:00Z" {
			t.Fatalf("as_of_time %q", page.Items[0].AsOfTime)
		}

		// An empty list is items: [] with next_cursor null.
		empty := setup(t).do(t, http.MethodGet, "/mkt/snapshots", nil)
		if empty.status != http.StatusOK || strings.TrimSpace(string(empty.body)) != `{"items":[],"next_cursor":null}` {
			t.Fatalf("empty list: %d %s", empty.status, empty.body)
		}

		for _, q := range []string{"limit=0", "limit=1001", "limit=x", "cursor=garbage", "cursor=" + web.EncodeCursor("yesterday", "S-A"), "cursor=" + web.EncodeCursor("S-A")} {
			resp := f.do(t, http.MethodGet, "/mkt/snapshots?"+q, nil)
			if resp.status != http.StatusBadRequest {
				t.Fatalf("%s: status %d %s", q, resp.status, resp.body)
			}
			var p web.Problem
			if err := json.Unmarshal(resp.body, &p); err != nil {
				t.Fatal(err)
			}
			param := strings.SplitN(q, "=", 2)[0]
			if len(p.Errors) != 1 || p.Errors[0].Parameter != param {
				t.Fatalf("%s: problem %s", q, resp.body)
			}
		}
	})
}

func TestRoutesAndMethods(t *testing.T) {
	f := setup(t)
	if r := f.do(t, http.MethodDelete, "/mkt/snapshots/X", nil); r.status != http.StatusMethodNotAllowed {
		t.Fatalf("DELETE: %d", r.status)
	}
	if r := f.do(t, http.MethodGet, "/mkt/health", nil); r.status != http.StatusOK {
		t.Fatalf("health: %d %s", r.status, r.body)
	}
}

// TestUnknownQueryParametersAre400: SPEC §1, on every route of the service.
func TestUnknownQueryParametersAre400(t *testing.T) {
	t.Parallel()
	f := setup(t)
	for _, c := range []struct{ method, path string }{
		{"GET", "/mkt/snapshots?bogus=1"}, {"GET", "/mkt/snapshots/X?bogus=1"}, {"POST", "/mkt/snapshots?bogus=1"},
		{"GET", "/mkt/scenario-sets?limit=1&bogus=1"}, {"GET", "/mkt/scenario-sets/X?bogus=1"}, {"POST", "/mkt/scenario-sets?bogus=1"},
		{"POST", "/mkt/scenario-sets/historical?bogus=1"}, {"GET", "/mkt/model-sets?bogus=1"}, {"GET", "/mkt/model-sets/X?bogus=1"},
		{"POST", "/mkt/model-sets?bogus=1"},
	} {
		r := f.do(t, c.method, c.path, []byte(`{}`))
		if r.status != 400 || !strings.Contains(string(r.body), "bogus") {
			t.Errorf("%s %s: %d %s, want a 400 naming bogus", c.method, c.path, r.status, r.body)
		}
	}
	if r := f.do(t, "GET", "/mkt/snapshots?limit=5", nil); r.status != 200 {
		t.Errorf("GET /mkt/snapshots?limit=5: %d %s", r.status, r.body)
	}
}
