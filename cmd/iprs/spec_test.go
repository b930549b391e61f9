package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/client"
	"github.com/iprs/iprs/internal/config"
	"github.com/iprs/iprs/internal/gen"
	"github.com/iprs/iprs/internal/store/teststore"
)

// The conformance test walks SPEC §1 clause by clause through the HTTP
// surface only (net/http and encoding/json, not internal/client), so that
// what is checked is the wire: status codes, media types and JSON shapes.
//
// Where SPEC §1 can be read in more than one way, the reading taken is
// written next to the check:
//   - "A list answers {items, next_cursor}" covers the routes that list
//     stored things (snapshots, positions, runs, tasks, result rows). The
//     cube is specified on its own as `[{key, value, count}]` and is
//     checked as that bare array.
//   - "limit defaults to 100 and is at most 1000" is checked on the routes
//     SPEC gives `limit=&cursor=` (market snapshots, a snapshot's
//     positions, runs, result positions); the tasks route and one
//     position's results are one-page lists (next_cursor null).
//   - A query-parameter problem is input at fault without a body: its
//     errors item names the parameter in "parameter" (pointer "").
//   - "Unknown top-level fields are rejected" holds on every POST, those
//     whose request has no members (cancel, publish) included: an empty
//     body or {} is their request, any member is unknown.
//   - "Times are RFC 3339 UTC" holds for every time the server writes
//     (metadata, runs, tasks, lists). GET /mkt/snapshots/{id} answers "the
//     stored snapshot" as the client sent it, so that its payload_hash can
//     be recomputed; a time given there with an offset keeps it (same
//     instant), while the snapshot's metadata in the list is in UTC.
//   - "Numbers are JSON numbers and always finite" holds for stored
//     documents too: a rate or spot literal beyond a double (1e400, kept in
//     the stored snapshot with its FAIL issue) is answered as null.
//   - Client input that a store cannot hold (U+0000 in a name or an
//     attribute, a name over 1024 bytes where it is an index key, a path
//     with NUL or invalid UTF-8, a run as-of time before 1900) is input at
//     fault: 400 with a pointer (a path: 404, it names nothing), the same
//     on every store, never a 500.
//   - Health's 503 body is a problem whose "status" member is the health
//     status "unavailable" (SPEC's health shape), not the number 503 that
//     RFC 9457 gives it; RFC 9457 consumers ignore a member of another
//     type. Every other problem's status is the HTTP status.
//   - A sum of finite values beyond the range of a double cannot be
//     answered as a finite number: the summary or cube is a 422.
//   - A run over several books (portfolio_scope resolving to more than one
//     snapshot) has no single position_snapshot_id: it is null (the
//     orchestrator lists them all in position_snapshot_ids).
//   - Cancelling a QUEUED run with no task running may go straight to
//     CANCELLED (CANCELLING lasts while tasks are still running).
//   - "every route except health requires a token" includes /metrics and
//     paths that match no route (401 before 404, so nothing is disclosed).

// specAsOf is the as-of time of the conformance runs; 2027-01-23 is 365
// days later, so a cashflow paid then has t = 1 exactly.
var specAsOf = time.Date(2026, 1, 23, 17, 0, 0, 0, time.UTC)

var (
	specMeasures  = []string{"PV", "DV01", "CS01", "ACCRUED_INTEREST", "FX_DELTA"}
	specScenarios = []string{"BASE", "RATES_PARALLEL_1BP", "SPREAD_25BP", "FX_SPOT_1PCT"}
)

// specBonds is how many one-cashflow bonds the conformance book holds
// besides its two loans and one FX forward: more than one default page.
const specBonds = 120

// wire is one HTTP answer.
type wire struct {
	method, path string
	status       int
	header       http.Header
	body         []byte
}

func (w *wire) String() string {
	b := w.body
	if len(b) > 600 {
		b = b[:600]
	}
	return fmt.Sprintf("%s %s → %d %s", w.method, w.path, w.status, b)
}

// api sends requests to a running platform.
type api struct {
	url   string
	token string
}

// do sends body (nil, raw []byte or a value to encode as JSON).
func (a api) do(t *testing.T, method, path string, body any) *wire {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case io.Reader: // sent chunked: no Content-Length
		rd = b
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, a.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return &wire{method: method, path: path, status: resp.StatusCode, header: resp.Header, body: raw}
}

// mediaType is the response's media type without parameters.
func (w *wire) mediaType(t *testing.T) string {
	t.Helper()
	ct := w.header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		t.Fatalf("%v: Content-Type %q: %v", w, ct, err)
	}
	return mt
}

// jsonOf checks status and media type application/json and decodes the
// body.
func (w *wire) jsonOf(t *testing.T, status int) any {
	t.Helper()
	if w.status != status {
		t.Fatalf("%v: want status %d", w, status)
	}
	if mt := w.mediaType(t); mt != "application/json" {
		t.Fatalf("%v: Content-Type %s, want application/json", w, mt)
	}
	var v any
	if err := json.Unmarshal(w.body, &v); err != nil {
		t.Fatalf("%v: body is not JSON: %v", w, err)
	}
	return v
}

// object is jsonOf for a JSON object.
func (w *wire) object(t *testing.T, status int) map[string]any {
	t.Helper()
	m, ok := w.jsonOf(t, status).(map[string]any)
	if !ok {
		t.Fatalf("%v: want a JSON object", w)
	}
	return m
}

// problem is an RFC 9457 body as the test reads it.
type problem struct {
	Type   string
	Title  string
	Status int
	Detail string
	Errors []fieldProblem
}

type fieldProblem struct {
	Pointer   string
	Parameter string
	Detail    string
}

// problemOf checks that the answer is a problem with this status:
// application/problem+json with type, title, status and detail, and errors
// items of {pointer, detail} when present.
func (w *wire) problemOf(t *testing.T, status int) problem {
	t.Helper()
	if w.status != status {
		t.Fatalf("%v: want status %d", w, status)
	}
	if mt := w.mediaType(t); mt != "application/problem+json" {
		t.Fatalf("%v: Content-Type %s, want application/problem+json", w, mt)
	}
	var m map[string]any
	if err := json.Unmarshal(w.body, &m); err != nil {
		t.Fatalf("%v: problem is not a JSON object: %v", w, err)
	}
	var p problem
	for _, k := range []string{"type", "title", "detail"} {
		s, ok := m[k].(string)
		if !ok || s == "" {
			t.Fatalf("%v: problem member %q is %v, want a non-empty string", w, k, m[k])
		}
		switch k {
		case "type":
			p.Type = s
		case "title":
			p.Title = s
		case "detail":
			p.Detail = s
		}
	}
	if n, ok := m["status"].(float64); !ok || int(n) != status {
		t.Fatalf("%v: problem status member %v, want %d", w, m["status"], status)
	}
	p.Status = status
	if errs, present := m["errors"]; present {
		list, ok := errs.([]any)
		if !ok || len(list) == 0 {
			t.Fatalf("%v: errors is %v, want a non-empty list", w, errs)
		}
		for i, e := range list {
			em, ok := e.(map[string]any)
			if !ok {
				t.Fatalf("%v: errors/%d is not an object", w, i)
			}
			ptr, ok1 := em["pointer"].(string)
			det, ok2 := em["detail"].(string)
			if !ok1 || !ok2 || det == "" {
				t.Fatalf("%v: errors/%d = %v, want {pointer, detail} strings", w, i, em)
			}
			param, _ := em["parameter"].(string)
			p.Errors = append(p.Errors, fieldProblem{Pointer: ptr, Parameter: param, Detail: det})
		}
	}
	if strings.Contains(string(w.body), "goroutine ") || strings.Contains(strings.ToUpper(string(w.body)), "SELECT ") {
		t.Fatalf("%v: a problem must not carry a stack trace or SQL", w)
	}
	return p
}

// pointed reports whether the problem has an errors item at ptr whose
// detail contains every word of want.
func (p problem) pointed(ptr string, want ...string) bool {
	for _, e := range p.Errors {
		if e.Pointer != ptr {
			continue
		}
		ok := true
		for _, s := range want {
			ok = ok && strings.Contains(e.Detail, s)
		}
		if ok {
			return true
		}
	}
	return false
}

// parameter reports whether the problem names the query parameter.
func (p problem) parameter(name string) bool {
	for _, e := range p.Errors {
		if e.Parameter == name {
			return true
		}
	}
	return false
}

// requireString checks that m[k] is a string (non-empty unless empty is
// allowed) and returns it.
func requireString(t *testing.T, where string, m map[string]any, k string) string {
	t.Helper()
	v, present := m[k]
	if !present {
		t.Fatalf("%s: member %q is missing in %v", where, k, m)
	}
	s, ok := v.(string)
	if !ok || s == "" {
		t.Fatalf("%s: member %q = %v, want a non-empty string", where, k, v)
	}
	return s
}

// requireTime checks that m[k] is an RFC 3339 time in UTC ("Z").
func requireTime(t *testing.T, where string, m map[string]any, k string) time.Time {
	t.Helper()
	s := requireString(t, where, m, k)
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || !strings.HasSuffix(s, "Z") {
		t.Fatalf("%s: %s = %q, want an RFC 3339 time in UTC", where, k, s)
	}
	return tm
}

// requireOptTime checks that m[k] is present and null or an RFC 3339 UTC
// time; it reports whether it is a time.
func requireOptTime(t *testing.T, where string, m map[string]any, k string) bool {
	t.Helper()
	v, present := m[k]
	if !present {
		t.Fatalf("%s: member %q is missing", where, k)
	}
	if v == nil {
		return false
	}
	requireTime(t, where, m, k)
	return true
}

func requireNumber(t *testing.T, where string, m map[string]any, k string) float64 {
	t.Helper()
	v, ok := m[k].(float64)
	if !ok {
		t.Fatalf("%s: member %q = %v, want a number", where, k, m[k])
	}
	return v
}

func requireStrings(t *testing.T, where string, m map[string]any, k string) []string {
	t.Helper()
	list, ok := m[k].([]any)
	if !ok {
		t.Fatalf("%s: member %q = %v, want a list", where, k, m[k])
	}
	out := make([]string, len(list))
	for i, v := range list {
		s, ok := v.(string)
		if !ok {
			t.Fatalf("%s: %s/%d = %v, want a string", where, k, i, v)
		}
		out[i] = s
	}
	return out
}

// listOf checks the list shape {"items": [...], "next_cursor": "…"|null}
// and returns the items and the cursor ("" for null).
func listOf(t *testing.T, w *wire) ([]map[string]any, string) {
	t.Helper()
	m := w.object(t, http.StatusOK)
	raw, ok := m["items"].([]any)
	if !ok {
		t.Fatalf("%v: items is %v, want a list", w, m["items"])
	}
	nc, present := m["next_cursor"]
	if !present {
		t.Fatalf("%v: next_cursor is missing", w)
	}
	next := ""
	if nc != nil {
		s, ok := nc.(string)
		if !ok || s == "" {
			t.Fatalf("%v: next_cursor is %v, want a non-empty string or null", w, nc)
		}
		next = s
	}
	items := make([]map[string]any, len(raw))
	for i, it := range raw {
		o, ok := it.(map[string]any)
		if !ok {
			t.Fatalf("%v: items/%d is not an object", w, i)
		}
		items[i] = o
	}
	return items, next
}

// walk reads every page of a list route with the given page size (0: the
// default) and returns all items and the number of pages.
func (a api) walk(t *testing.T, path string, limit int) ([]map[string]any, int) {
	t.Helper()
	var all []map[string]any
	cursor := ""
	for pages := 1; ; pages++ {
		q := url.Values{}
		if limit > 0 {
			q.Set("limit", fmt.Sprint(limit))
		}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		p := path
		if len(q) > 0 {
			sep := "?"
			if strings.Contains(path, "?") {
				sep = "&"
			}
			p += sep + q.Encode()
		}
		items, next := listOf(t, a.do(t, http.MethodGet, p, nil))
		all = append(all, items...)
		if next == "" {
			return all, pages
		}
		if len(items) == 0 {
			t.Fatalf("GET %s: an empty page with a next_cursor", p)
		}
		if pages > 10000 {
			t.Fatalf("GET %s: pagination does not end", path)
		}
		cursor = next
	}
}

// checkRunShape checks a run object against SPEC "A run answers …": every
// member present with its type; extra members are allowed.
func checkRunShape(t *testing.T, where string, run map[string]any) {
	t.Helper()
	requireString(t, where, run, "run_id")
	if rt := requireString(t, where, run, "run_type"); !slices.Contains([]string{"EOD_OFFICIAL", "INTRADAY", "SANDBOX"}, rt) {
		t.Fatalf("%s: run_type %q", where, rt)
	}
	if st := requireString(t, where, run, "status"); !slices.Contains([]string{"QUEUED", "RUNNING", "COMPLETED", "FAILED", "CANCELLING", "CANCELLED", "PUBLISHED"}, st) {
		t.Fatalf("%s: status %q", where, st)
	}
	requireTime(t, where, run, "as_of_time")
	requireString(t, where, run, "market_snapshot_id")
	if v, present := run["position_snapshot_id"]; !present {
		t.Fatalf("%s: position_snapshot_id is missing", where)
	} else if _, ok := v.(string); v != nil && !ok {
		t.Fatalf("%s: position_snapshot_id = %v", where, v)
	}
	requireStrings(t, where, run, "measures")
	requireStrings(t, where, run, "scenarios")
	requireTime(t, where, run, "requested_at")
	requireOptTime(t, where, run, "started_at")
	requireOptTime(t, where, run, "completed_at")
	if v, present := run["error"]; !present {
		t.Fatalf("%s: error is missing", where)
	} else if _, ok := v.(string); v != nil && !ok {
		t.Fatalf("%s: error = %v, want null or a string", where, v)
	}
	prog, ok := run["progress"].(map[string]any)
	if !ok {
		t.Fatalf("%s: progress = %v, want an object", where, run["progress"])
	}
	requireNumber(t, where+" progress", prog, "tasks_total")
	requireNumber(t, where+" progress", prog, "positions_total")
	requireNumber(t, where+" progress", prog, "positions_done")
	byStatus, ok := prog["tasks_by_status"].(map[string]any)
	if !ok {
		t.Fatalf("%s: progress.tasks_by_status = %v, want an object", where, prog["tasks_by_status"])
	}
	for k := range byStatus {
		requireNumber(t, where+" tasks_by_status", byStatus, k)
	}
}

// waitRun polls a run until it leaves QUEUED, RUNNING and CANCELLING, and
// returns it with the statuses seen on the way, without repeats.
func (a api) waitRun(t *testing.T, id string) (map[string]any, []string) {
	t.Helper()
	var seen []string
	deadline := time.Now().Add(3 * time.Minute)
	for {
		run := a.do(t, http.MethodGet, "/orch/runs/"+url.PathEscape(id), nil).object(t, http.StatusOK)
		st := run["status"].(string)
		if len(seen) == 0 || seen[len(seen)-1] != st {
			seen = append(seen, st)
		}
		switch st {
		case "QUEUED", "RUNNING", "CANCELLING":
		default:
			return run, seen
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s still %s after 3 minutes", id, st)
		}
		time.Sleep(15 * time.Millisecond)
	}
}

// specCurve is a flat curve with two nodes.
func specCurve(id, typ string, rate float64) map[string]any {
	return map[string]any{"curve_id": id, "curve_type": typ, "nodes": []any{
		map[string]any{"tenor": "1M", "zero_rate": rate},
		map[string]any{"tenor": "10Y", "zero_rate": rate},
	}}
}

// specMarket is a clean (PASS) market with what the conformance book
// needs: flat USD-OIS 4%, EUR-OIS 3%, LOAN-SPREAD 2%, FI-SPREAD 1%, EURUSD
// 1.09.
func specMarket(id string, asOf time.Time) map[string]any {
	return map[string]any{
		"snapshot_id": id, "as_of_time": asOf.Format(time.RFC3339), "vendor": "SPEC", "universe_id": "USD",
		"fx_spots": []any{map[string]any{"pair": "EURUSD", "spot": 1.09, "ts": asOf.Format(time.RFC3339)}},
		"curves": []any{
			specCurve("USD-OIS", "DISCOUNT", 0.04),
			specCurve("EUR-OIS", "DISCOUNT", 0.03),
			specCurve("LOAN-SPREAD", "SPREAD", 0.02),
			specCurve("FI-SPREAD", "SPREAD", 0.01),
		},
	}
}

// specPositions is the conformance book: a loan by cashflows, a loan by
// terms, an FX forward, and specBonds bonds BOND-i paying 100+i on
// 2027-01-23.
func specPositions() []any {
	pos := []any{
		map[string]any{"position_id": "LOAN-CF", "instrument_id": "INS-LOAN-CF", "product_type": "AMORT_LOAN", "quantity": 1,
			"attributes": map[string]any{"current_principal": 1000.0, "coupon_rate": 0.06, "last_payment_date": "2026-01-01",
				"state": "FL", "cashflows": []any{
					map[string]any{"pay_date": "2026-02-23", "interest": 5.0, "principal": 500.0},
					map[string]any{"pay_date": "2026-03-23", "interest": 2.5, "principal": 500.0},
				}}},
		map[string]any{"position_id": "LOAN-TERMS", "instrument_id": "INS-LOAN-TERMS", "product_type": "AMORT_LOAN",
			"attributes": map[string]any{"current_principal": 12000.0, "coupon_rate": 0.12, "last_payment_date": "2026-01-10",
				"remaining_term_months": 12, "next_payment_date": "2026-02-10", "state": "GA"}},
		map[string]any{"position_id": "FX-1", "instrument_id": "INS-FX-1", "product_type": "FX_FWD",
			"attributes": map[string]any{"notional_base": 1e6, "forward_rate": 1.1, "maturity_date": "2026-07-23",
				"fx_pair": "EURUSD", "state": "NY"}},
	}
	for i := range specBonds {
		pos = append(pos, map[string]any{"position_id": fmt.Sprintf("BOND-%03d", i), "instrument_id": fmt.Sprintf("INS-BOND-%03d", i),
			"product_type": "FIXED_BOND", "attributes": map[string]any{"accrued_interest": 1.5, "state": "TX",
				"cashflows": []any{map[string]any{"pay_date": "2027-01-23", "amount": 100.0 + float64(i)}}}})
	}
	return pos
}

func specBook(id, node string, asOf time.Time) map[string]any {
	doc := map[string]any{"as_of_time": asOf.Format(time.RFC3339), "portfolio_node_id": node, "positions": specPositions()}
	if id != "" {
		doc["position_snapshot_id"] = id
	}
	return doc
}

// specRun is a run request over the conformance book.
func specRun(runID, marketID, snapshotID string) map[string]any {
	req := map[string]any{
		"run_type": "SANDBOX", "as_of_time": specAsOf.Format(time.RFC3339),
		"market_snapshot_id": marketID, "position_snapshot_id": snapshotID,
		"measures": specMeasures,
		// Scenarios as strings and as {"scenario_set_id"}, mixed.
		"scenarios": []any{"BASE", map[string]any{"scenario_set_id": "RATES_PARALLEL_1BP"}, "SPREAD_25BP", map[string]any{"scenario_set_id": "FX_SPOT_1PCT"}},
	}
	if runID != "" {
		req["run_id"] = runID
	}
	return req
}

// specState is what the clauses share on one platform.
type specState struct {
	api
	sfx        string
	marketID   string
	failMkt    string
	nodeID     string
	snapshotID string
	runID      string
}

// specClause is one SPEC §1 clause and the checks that show it.
type specClause struct {
	clause string
	check  func(t *testing.T, s *specState)
}

// TestSpecConformance walks SPEC §1 on each store, through HTTP only.
func TestSpecConformance(t *testing.T) {
	for _, tdb := range testDatabases(t) {
		t.Run(tdb.name, func(t *testing.T) {
			d := MustStartDev(t, tdb.db, nil)
			sfx := uniqueSuffix()
			s := &specState{
				api:      api{url: d.URL},
				sfx:      sfx,
				marketID: "MKT-SPEC-" + sfx,
				failMkt:  "MKT-SPEC-FAIL-" + sfx,
				nodeID:   "BOOK-SPEC-" + sfx,
				runID:    "RUN-SPEC-" + sfx,
			}
			for _, c := range specClauses {
				if !t.Run(c.clause, func(t *testing.T) { c.check(t, s) }) {
					// Later clauses build on earlier ones.
					t.FailNow()
				}
			}
			d2 := MustStartDev(t, tdb.db, map[string]string{
				"IPRS_API_TOKENS":       "alpha,beta",
				"IPRS_MAX_BODY_BYTES":   "2KiB",
				"IPRS_MAX_UPLOAD_BYTES": "4KiB",
			})
			g := &specState{api: api{url: d2.URL, token: "beta"}, sfx: sfx + "g", snapshotID: s.snapshotID, runID: s.runID, marketID: s.marketID}
			for _, c := range guardedClauses {
				t.Run(c.clause, func(t *testing.T) { c.check(t, g) })
			}
		})
	}
}

var specClauses = []specClause{
	{"health answers 200 {status, service, version} on /health and every prefix", func(t *testing.T, s *specState) {
		for _, c := range []struct{ path, service string }{
			{"/health", ""}, {"/mkt/health", "marketdata"}, {"/orch/health", "orchestrator"}, {"/results/health", "results"},
		} {
			m := s.do(t, http.MethodGet, c.path, nil).object(t, http.StatusOK)
			if m["status"] != "ok" {
				t.Errorf("GET %s: status %v, want ok", c.path, m["status"])
			}
			svc := requireString(t, c.path, m, "service")
			if c.service != "" && svc != c.service {
				t.Errorf("GET %s: service %q, want %q", c.path, svc, c.service)
			}
			if v := requireString(t, c.path, m, "version"); v != "test" {
				t.Errorf("GET %s: version %q, want the build's (test)", c.path, v)
			}
		}
	}},
	{"every service exposes Prometheus metrics at /metrics", func(t *testing.T, s *specState) {
		for _, path := range []string{"/metrics", "/mkt/metrics", "/orch/metrics", "/results/metrics"} {
			w := s.do(t, http.MethodGet, path, nil)
			if w.status != http.StatusOK {
				t.Fatalf("%v", w)
			}
			if mt := w.mediaType(t); mt != "text/plain" && mt != "application/openmetrics-text" {
				t.Errorf("GET %s: Content-Type %s, want the Prometheus text format", path, mt)
			}
			if !strings.Contains(string(w.body), "# TYPE ") || !strings.Contains(string(w.body), "# HELP ") {
				t.Errorf("GET %s: no Prometheus metric families in %.300s", path, w.body)
			}
		}
	}},
	{"marketdata: POST /mkt/snapshots 201, same content 200, other content 409, GET one", func(t *testing.T, s *specState) {
		doc := specMarket(s.marketID, specAsOf)
		w := s.do(t, http.MethodPost, "/mkt/snapshots", doc)
		created := w.object(t, http.StatusCreated)
		for _, k := range []string{"snapshot_id", "payload_hash", "dq_status", "issues", "created_at"} {
			if _, ok := created[k]; !ok {
				t.Fatalf("%v: member %s missing", w, k)
			}
		}
		if created["snapshot_id"] != s.marketID || created["dq_status"] != "PASS" {
			t.Fatalf("%v: want snapshot %s PASS", w, s.marketID)
		}
		if h := requireString(t, "market", created, "payload_hash"); len(h) != 64 {
			t.Errorf("payload_hash %q is not a hex SHA-256", h)
		}
		if _, ok := created["issues"].([]any); !ok {
			t.Errorf("issues = %v, want a list", created["issues"])
		}
		requireTime(t, "market", created, "created_at")

		again := s.do(t, http.MethodPost, "/mkt/snapshots", doc).object(t, http.StatusOK)
		for _, k := range []string{"snapshot_id", "payload_hash", "dq_status", "created_at"} {
			if again[k] != created[k] {
				t.Errorf("replay: %s = %v, first answer %v", k, again[k], created[k])
			}
		}
		other := specMarket(s.marketID, specAsOf)
		other["vendor"] = "OTHER"
		s.do(t, http.MethodPost, "/mkt/snapshots", other).problemOf(t, http.StatusConflict)

		got := s.do(t, http.MethodGet, "/mkt/snapshots/"+s.marketID, nil).object(t, http.StatusOK)
		for _, k := range []string{"snapshot_id", "payload_hash", "dq_status", "created_at"} {
			if got[k] != created[k] {
				t.Errorf("GET: %s = %v, POST answered %v", k, got[k], created[k])
			}
		}
		if got["vendor"] != "SPEC" {
			t.Errorf("GET: vendor %v: the stored snapshot changed after a 409", got["vendor"])
		}
		requireTime(t, "GET market", got, "as_of_time")
		if c, _ := got["curves"].([]any); len(c) != 4 {
			t.Errorf("GET: curves %v, want the 4 stored", got["curves"])
		}
		if f, _ := got["fx_spots"].([]any); len(f) != 1 {
			t.Errorf("GET: fx_spots %v, want the 1 stored", got["fx_spots"])
		}
		s.do(t, http.MethodGet, "/mkt/snapshots/MKT-NOPE-"+s.sfx, nil).problemOf(t, http.StatusNotFound)
	}},
	{"marketdata: as_of_time in another offset is stored in UTC", func(t *testing.T, s *specState) {
		id := "MKT-SPEC-TZ-" + s.sfx
		doc := specMarket(id, specAsOf)
		doc["as_of_time"] = "2026-01-23T19:00:00+02:00"
		s.do(t, http.MethodPost, "/mkt/snapshots", doc).object(t, http.StatusCreated)
		// GET one answers the stored document as the client sent it (so
		// that payload_hash can be recomputed from it), with the same
		// instant; the list, which is the server's metadata, is in UTC.
		got := s.do(t, http.MethodGet, "/mkt/snapshots/"+id, nil).object(t, http.StatusOK)
		if at, err := time.Parse(time.RFC3339, requireString(t, "GET market", got, "as_of_time")); err != nil || !at.Equal(specAsOf) {
			t.Errorf("as_of_time %v (%v), want the instant %v", got["as_of_time"], err, specAsOf)
		}
		all, _ := s.walk(t, "/mkt/snapshots", 1000)
		found := false
		for _, it := range all {
			if it["snapshot_id"] == id {
				found = true
				if at := requireTime(t, "list item", it, "as_of_time"); !at.Equal(specAsOf) {
					t.Errorf("listed as_of_time %v, want %v", at, specAsOf)
				}
			}
		}
		if !found {
			t.Errorf("%s not listed", id)
		}
	}},
	{"marketdata: data quality, each FAIL and WARN rule, stored dq_status the worse of client's and server's", func(t *testing.T, s *specState) {
		curves := func(m map[string]any) []any { return m["curves"].([]any) }
		nodes := func(m map[string]any, i int) []any { return curves(m)[i].(map[string]any)["nodes"].([]any) }
		cases := []struct {
			name   string
			mutate func(m map[string]any)
			status string
			code   string
		}{
			{"clean", func(map[string]any) {}, "PASS", ""},
			{"curve without nodes", func(m map[string]any) { curves(m)[0].(map[string]any)["nodes"] = []any{} }, "FAIL", "EMPTY_CURVE"},
			{"tenor that does not parse", func(m map[string]any) { nodes(m, 0)[1].(map[string]any)["tenor"] = "5Q" }, "FAIL", "INVALID_TENOR"},
			{"tenor twice in one curve", func(m map[string]any) { nodes(m, 0)[1].(map[string]any)["tenor"] = "1M" }, "FAIL", "DUPLICATE_TENOR"},
			{"curve id twice", func(m map[string]any) { m["curves"] = append(curves(m), specCurve("USD-OIS", "DISCOUNT", 0.05)) }, "FAIL", "DUPLICATE_CURVE"},
			{"non-finite rate", nil, "FAIL", "NON_FINITE_RATE"},
			{"spot zero", func(m map[string]any) { m["fx_spots"].([]any)[0].(map[string]any)["spot"] = 0 }, "FAIL", "INVALID_SPOT"},
			{"spot negative", func(m map[string]any) { m["fx_spots"].([]any)[0].(map[string]any)["spot"] = -1.09 }, "FAIL", "INVALID_SPOT"},
			{"spot not finite", nil, "FAIL", "INVALID_SPOT"},
			{"FX pair twice", func(m map[string]any) {
				m["fx_spots"] = append(m["fx_spots"].([]any), map[string]any{"pair": "EURUSD", "spot": 1.1})
			}, "FAIL", "DUPLICATE_FX_PAIR"},
			{"rate above 30%", func(m map[string]any) { nodes(m, 0)[1].(map[string]any)["zero_rate"] = 0.31 }, "WARN", "RATE_OUT_OF_RANGE"},
			{"rate below -5%", func(m map[string]any) { nodes(m, 0)[1].(map[string]any)["zero_rate"] = -0.051 }, "WARN", "RATE_OUT_OF_RANGE"},
			{"negative spread", func(m map[string]any) { nodes(m, 2)[0].(map[string]any)["zero_rate"] = -0.001 }, "WARN", "NEGATIVE_SPREAD"},
			{"single-node curve", func(m map[string]any) {
				c := curves(m)[1].(map[string]any)
				c["nodes"] = c["nodes"].([]any)[:1]
			}, "WARN", "SINGLE_NODE_CURVE"},
			{"as_of_time more than a day in the future", func(m map[string]any) {
				m["as_of_time"] = time.Now().UTC().Add(49 * time.Hour).Truncate(time.Second).Format(time.RFC3339)
			}, "WARN", "AS_OF_IN_FUTURE"},
			// The bounds: [-5%, 30%] includes its ends; "more than a day".
			{"rate at 30%", func(m map[string]any) { nodes(m, 0)[1].(map[string]any)["zero_rate"] = 0.30 }, "PASS", ""},
			{"rate at -5%", func(m map[string]any) { nodes(m, 0)[1].(map[string]any)["zero_rate"] = -0.05 }, "PASS", ""},
			{"as_of_time 23 hours ahead", func(m map[string]any) {
				m["as_of_time"] = time.Now().UTC().Add(23 * time.Hour).Truncate(time.Second).Format(time.RFC3339)
			}, "PASS", ""},
			{"client FAIL on clean data", func(m map[string]any) { m["quality"] = map[string]any{"dq_status": "FAIL", "issues": []any{}} }, "FAIL", ""},
			{"client PASS on WARN data", func(m map[string]any) {
				nodes(m, 0)[1].(map[string]any)["zero_rate"] = 0.31
				m["quality"] = map[string]any{"dq_status": "PASS", "issues": []any{}}
			}, "WARN", "RATE_OUT_OF_RANGE"},
		}
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				id := fmt.Sprintf("MKT-SPEC-DQ%02d-%s", i, s.sfx)
				doc := specMarket(id, specAsOf)
				var body []byte
				switch {
				case c.mutate != nil:
					c.mutate(doc)
					b, err := json.Marshal(doc)
					if err != nil {
						t.Fatal(err)
					}
					body = b
				default:
					// JSON has no NaN: a non-finite number is a literal
					// too large for a double.
					b, err := json.Marshal(doc)
					if err != nil {
						t.Fatal(err)
					}
					if c.code == "NON_FINITE_RATE" {
						body = bytes.Replace(b, []byte(`"zero_rate":0.04`), []byte(`"zero_rate":1e400`), 1)
					} else {
						body = bytes.Replace(b, []byte(`"spot":1.09`), []byte(`"spot":1e400`), 1)
					}
					if bytes.Equal(body, b) {
						t.Fatal("no literal replaced")
					}
				}
				created := s.do(t, http.MethodPost, "/mkt/snapshots", body).object(t, http.StatusCreated)
				stored := s.do(t, http.MethodGet, "/mkt/snapshots/"+id, nil).object(t, http.StatusOK)
				for _, m := range []map[string]any{created, stored} {
					if m["dq_status"] != c.status {
						t.Errorf("dq_status %v, want %s (issues %v)", m["dq_status"], c.status, m["issues"])
					}
					if c.code == "" {
						continue
					}
					found := false
					for _, is := range m["issues"].([]any) {
						im, _ := is.(map[string]any)
						found = found || im["code"] == c.code
					}
					if !found {
						t.Errorf("issues %v lack %s", m["issues"], c.code)
					}
				}
				if c.status == "FAIL" && c.code == "EMPTY_CURVE" {
					s.failMkt = id
				}
			})
		}
	}},
	{"marketdata: GET /mkt/snapshots lists newest as_of_time first, paged", func(t *testing.T, s *specState) {
		for i, asOf := range []time.Time{specAsOf.Add(-48 * time.Hour), specAsOf.Add(-24 * time.Hour)} {
			s.do(t, http.MethodPost, "/mkt/snapshots", specMarket(fmt.Sprintf("MKT-SPEC-OLD%d-%s", i, s.sfx), asOf)).object(t, http.StatusCreated)
		}
		all, pages := s.walk(t, "/mkt/snapshots", 3)
		one, _ := s.walk(t, "/mkt/snapshots", 0)
		if len(all) != len(one) || pages < 2 {
			t.Fatalf("%d snapshots in %d pages of 3, %d in default pages", len(all), pages, len(one))
		}
		ids := map[string]bool{}
		var prev time.Time
		for i, it := range all {
			at := requireTime(t, "list item", it, "as_of_time")
			if i > 0 && at.After(prev) {
				t.Errorf("item %d as_of_time %v after the previous %v: want newest first", i, at, prev)
			}
			prev = at
			id := requireString(t, "list item", it, "snapshot_id")
			if ids[id] {
				t.Errorf("snapshot %s listed twice", id)
			}
			ids[id] = true
			for _, k := range []string{"payload_hash", "dq_status", "created_at"} {
				requireString(t, "list item", it, k)
			}
		}
		for _, id := range []string{s.marketID, "MKT-SPEC-OLD0-" + s.sfx} {
			if !ids[id] {
				t.Errorf("snapshot %s not listed", id)
			}
		}
	}},
	{"orchestrator: POST /orch/position-snapshots 201, same content 200, other content 409, GET metadata", func(t *testing.T, s *specState) {
		s.snapshotID = "PS-SPEC-" + s.sfx
		doc := specBook(s.snapshotID, s.nodeID, time.Date(2026, 1, 23, 0, 0, 0, 0, time.UTC))
		w := s.do(t, http.MethodPost, "/orch/position-snapshots", doc)
		created := w.object(t, http.StatusCreated)
		for _, k := range []string{"position_snapshot_id", "payload_hash", "position_count", "product_types"} {
			if _, ok := created[k]; !ok {
				t.Fatalf("%v: member %s missing", w, k)
			}
		}
		if created["position_snapshot_id"] != s.snapshotID {
			t.Errorf("position_snapshot_id %v", created["position_snapshot_id"])
		}
		if n := requireNumber(t, "snapshot", created, "position_count"); n != 3+specBonds {
			t.Errorf("position_count %v, want %d", n, 3+specBonds)
		}
		types := requireStrings(t, "snapshot", created, "product_types")
		slices.Sort(types)
		if !slices.Equal(types, []string{"AMORT_LOAN", "FIXED_BOND", "FX_FWD"}) {
			t.Errorf("product_types %v", types)
		}
		if h := requireString(t, "snapshot", created, "payload_hash"); len(h) != 64 {
			t.Errorf("payload_hash %q", h)
		}
		again := s.do(t, http.MethodPost, "/orch/position-snapshots", doc).object(t, http.StatusOK)
		if again["payload_hash"] != created["payload_hash"] || again["position_snapshot_id"] != s.snapshotID {
			t.Errorf("replay answered %v, first %v", again, created)
		}
		other := specBook(s.snapshotID, s.nodeID, time.Date(2026, 1, 23, 0, 0, 0, 0, time.UTC))
		other["positions"] = other["positions"].([]any)[:3]
		s.do(t, http.MethodPost, "/orch/position-snapshots", other).problemOf(t, http.StatusConflict)

		meta := s.do(t, http.MethodGet, "/orch/position-snapshots/"+s.snapshotID, nil).object(t, http.StatusOK)
		if meta["payload_hash"] != created["payload_hash"] || meta["position_count"] != created["position_count"] || meta["portfolio_node_id"] != s.nodeID {
			t.Errorf("GET metadata %v, POST answered %v", meta, created)
		}
		requireTime(t, "snapshot metadata", meta, "as_of_time")
		s.do(t, http.MethodGet, "/orch/position-snapshots/PS-NOPE-"+s.sfx, nil).problemOf(t, http.StatusNotFound)

		// Without an id the server makes one.
		anon := specBook("", s.nodeID+"-ANON", time.Date(2026, 1, 23, 0, 0, 0, 0, time.UTC))
		made := s.do(t, http.MethodPost, "/orch/position-snapshots", anon).object(t, http.StatusCreated)
		madeID := requireString(t, "snapshot without id", made, "position_snapshot_id")
		// The same content again, still without an id, is that snapshot.
		same := s.do(t, http.MethodPost, "/orch/position-snapshots", anon).object(t, http.StatusOK)
		if same["position_snapshot_id"] != madeID || same["payload_hash"] != made["payload_hash"] {
			t.Errorf("identical upload without id answered %v, first %v", same, made)
		}
	}},
	{"orchestrator: GET …/positions pages in upload order, limit default 100", func(t *testing.T, s *specState) {
		path := "/orch/position-snapshots/" + s.snapshotID + "/positions"
		first, next := listOf(t, s.do(t, http.MethodGet, path, nil))
		if len(first) != 100 || next == "" {
			t.Fatalf("default page: %d items, next_cursor %q; want 100 and a cursor", len(first), next)
		}
		all, pages := s.walk(t, path, 0)
		if len(all) != 3+specBonds || pages != 2 {
			t.Fatalf("%d positions in %d default pages", len(all), pages)
		}
		big, bigNext := listOf(t, s.do(t, http.MethodGet, path+"?limit=1000", nil))
		if len(big) != 3+specBonds || bigNext != "" {
			t.Fatalf("limit=1000: %d items, next_cursor %q", len(big), bigNext)
		}
		want := specPositions()
		for i, p := range all {
			if p["position_id"] != want[i].(map[string]any)["position_id"] {
				t.Fatalf("position %d is %v, want upload order", i, p["position_id"])
			}
			for _, k := range []string{"position_id", "instrument_id", "product_type"} {
				requireString(t, "position", p, k)
			}
			if _, ok := p["attributes"].(map[string]any); !ok {
				t.Fatalf("position %d attributes %v", i, p["attributes"])
			}
		}
	}},
	{"orchestrator: upload refused with 400 and a pointer per problem, nothing stored", func(t *testing.T, s *specState) {
		loan := func(mut func(a map[string]any)) map[string]any {
			p := specPositions()[0].(map[string]any)
			mut(p["attributes"].(map[string]any))
			return p
		}
		cases := []struct {
			name      string
			positions []any
			pointers  []string
		}{
			{"missing position_id", []any{func() map[string]any { p := specPositions()[0].(map[string]any); delete(p, "position_id"); return p }()},
				[]string{"/positions/0/position_id"}},
			{"repeated position_id", []any{specPositions()[0], specPositions()[3], specPositions()[0]},
				[]string{"/positions/2/position_id"}},
			{"unknown product_type", []any{func() map[string]any {
				p := specPositions()[0].(map[string]any)
				p["product_type"] = "SWAPTION"
				return p
			}()},
				[]string{"/positions/0/product_type"}},
			{"required attribute missing", []any{specPositions()[3], loan(func(a map[string]any) { delete(a, "current_principal") })},
				[]string{"/positions/1/attributes/current_principal"}},
			{"required attribute of the wrong type", []any{loan(func(a map[string]any) { a["coupon_rate"] = "0.06" })},
				[]string{"/positions/0/attributes/coupon_rate"}},
			{"FX forward without notional", []any{func() map[string]any {
				p := specPositions()[2].(map[string]any)
				delete(p["attributes"].(map[string]any), "notional_base")
				return p
			}()}, []string{"/positions/0/attributes/notional_base"}},
			{"empty cashflows", []any{loan(func(a map[string]any) { a["cashflows"] = []any{} })},
				[]string{"/positions/0/attributes/cashflows"}},
			{"bad date", []any{loan(func(a map[string]any) { a["last_payment_date"] = "2026/01/01" })},
				[]string{"/positions/0/attributes/last_payment_date"}},
			{"bad cashflow date", []any{loan(func(a map[string]any) {
				a["cashflows"].([]any)[1].(map[string]any)["pay_date"] = "23-03-2026"
			})}, []string{"/positions/0/attributes/cashflows/1/pay_date"}},
			{"every problem at once", []any{
				loan(func(a map[string]any) { a["coupon_rate"] = true }),
				func() map[string]any { p := specPositions()[1].(map[string]any); p["product_type"] = "NOPE"; return p }(),
				loan(func(a map[string]any) { a["last_payment_date"] = "20260101" }),
			}, []string{"/positions/0/attributes/coupon_rate", "/positions/1/product_type", "/positions/2/position_id", "/positions/2/attributes/last_payment_date"}},
		}
		// A problem after more than one batch of rows (5,000) has been
		// written leaves nothing either.
		long := make([]any, 0, 12001)
		for i := range 12000 {
			long = append(long, map[string]any{"position_id": fmt.Sprintf("B-%05d", i), "product_type": "FIXED_BOND",
				"attributes": map[string]any{"cashflows": []any{map[string]any{"pay_date": "2027-01-23", "amount": 100.0}}}})
		}
		long = append(long, map[string]any{"position_id": "B-LAST", "product_type": "FIXED_BOND",
			"attributes": map[string]any{"cashflows": []any{map[string]any{"pay_date": "2027-02-30", "amount": 100.0}}}})
		cases = append(cases, struct {
			name      string
			positions []any
			pointers  []string
		}{"bad last position of a long upload", long, []string{"/positions/12000/attributes/cashflows/0/pay_date"}})
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				id := fmt.Sprintf("PS-SPEC-BAD%02d-%s", i, s.sfx)
				doc := map[string]any{"position_snapshot_id": id, "as_of_time": "2026-01-23T00:00:00Z",
					"portfolio_node_id": s.nodeID + "-BAD", "positions": c.positions}
				p := s.do(t, http.MethodPost, "/orch/position-snapshots", doc).problemOf(t, http.StatusBadRequest)
				for _, ptr := range c.pointers {
					if !p.pointed(ptr) {
						t.Errorf("no problem at %s in %+v", ptr, p.Errors)
					}
				}
				s.do(t, http.MethodGet, "/orch/position-snapshots/"+id, nil).problemOf(t, http.StatusNotFound)
			})
		}
	}},
	{"orchestrator: POST /orch/runs 201 with the run, QUEUED → RUNNING → COMPLETED", func(t *testing.T, s *specState) {
		w := s.do(t, http.MethodPost, "/orch/runs", specRun(s.runID, s.marketID, s.snapshotID))
		run := w.object(t, http.StatusCreated)
		checkRunShape(t, "created run", run)
		if run["status"] != "QUEUED" {
			t.Errorf("a new run is %v, want QUEUED", run["status"])
		}
		if run["run_id"] != s.runID || run["position_snapshot_id"] != s.snapshotID || run["market_snapshot_id"] != s.marketID {
			t.Errorf("run %v", run)
		}
		if sc := requireStrings(t, "run", run, "scenarios"); !slices.Equal(sc, specScenarios) {
			t.Errorf("scenarios %v, want the ids %v", sc, specScenarios)
		}
		if m := requireStrings(t, "run", run, "measures"); !slices.Equal(m, specMeasures) {
			t.Errorf("measures %v", m)
		}
		if at := requireTime(t, "run", run, "as_of_time"); !at.Equal(specAsOf) {
			t.Errorf("as_of_time %v", at)
		}
		done, seen := s.waitRun(t, s.runID)
		checkRunShape(t, "completed run", done)
		order := []string{"QUEUED", "RUNNING", "COMPLETED"}
		last := -1
		for _, st := range seen {
			i := slices.Index(order, st)
			if i < last {
				t.Errorf("statuses seen %v: not in the order %v", seen, order)
			}
			last = i
		}
		if done["status"] != "COMPLETED" {
			t.Fatalf("run ended %v: %v", done["status"], done["error"])
		}
		if !requireOptTime(t, "completed run", done, "started_at") || !requireOptTime(t, "completed run", done, "completed_at") {
			t.Errorf("a completed run has started_at %v and completed_at %v", done["started_at"], done["completed_at"])
		}
		if done["error"] != nil {
			t.Errorf("error %v", done["error"])
		}
		prog := done["progress"].(map[string]any)
		if prog["positions_total"] != float64(3+specBonds) || prog["positions_done"] != prog["positions_total"] {
			t.Errorf("progress %v", prog)
		}
		by := prog["tasks_by_status"].(map[string]any)
		if by["SUCCEEDED"] != prog["tasks_total"] || prog["tasks_total"].(float64) < 3 {
			t.Errorf("progress %v: want every task (one per product type and bucket) SUCCEEDED", prog)
		}
	}},
	{"orchestrator: same run_id same request 200, another 409; no run_id gets one", func(t *testing.T, s *specState) {
		before, _ := s.walk(t, "/orch/runs", 1000)
		again := s.do(t, http.MethodPost, "/orch/runs", specRun(s.runID, s.marketID, s.snapshotID)).object(t, http.StatusOK)
		checkRunShape(t, "replayed run", again)
		if again["run_id"] != s.runID || again["status"] != "COMPLETED" {
			t.Errorf("replay answered %v", again)
		}
		// The same request spelt otherwise (scenarios all as strings) is
		// the same request.
		plain := specRun(s.runID, s.marketID, s.snapshotID)
		plain["scenarios"] = specScenarios
		s.do(t, http.MethodPost, "/orch/runs", plain).object(t, http.StatusOK)
		other := specRun(s.runID, s.marketID, s.snapshotID)
		other["measures"] = []string{"PV"}
		s.do(t, http.MethodPost, "/orch/runs", other).problemOf(t, http.StatusConflict)
		after, _ := s.walk(t, "/orch/runs", 1000)
		if len(after) != len(before) {
			t.Errorf("%d runs before, %d after replays and a 409", len(before), len(after))
		}

		anon := specRun("", s.marketID, s.snapshotID)
		anon["scenarios"] = []string{"BASE"}
		anon["measures"] = []string{"PV"}
		made := s.do(t, http.MethodPost, "/orch/runs", anon).object(t, http.StatusCreated)
		checkRunShape(t, "run without run_id", made)
		id := requireString(t, "run without run_id", made, "run_id")
		if done, _ := s.waitRun(t, id); done["status"] != "COMPLETED" {
			t.Errorf("run %s ended %v", id, done["status"])
		}
	}},
	{"orchestrator: GET /orch/runs?status= filters, GET /orch/runs/{id}/tasks", func(t *testing.T, s *specState) {
		all, _ := s.walk(t, "/orch/runs", 0)
		for i, r := range all {
			checkRunShape(t, fmt.Sprintf("runs item %d", i), r)
		}
		completed, _ := s.walk(t, "/orch/runs?status=COMPLETED", 1)
		found := false
		for _, r := range completed {
			if r["status"] != "COMPLETED" {
				t.Errorf("status=COMPLETED listed %v", r["status"])
			}
			found = found || r["run_id"] == s.runID
		}
		if !found {
			t.Errorf("status=COMPLETED does not list %s", s.runID)
		}
		if queued, _ := s.walk(t, "/orch/runs?status=PUBLISHED", 0); len(queued) != 0 {
			t.Errorf("status=PUBLISHED lists %d runs before any publish", len(queued))
		}
		p := s.do(t, http.MethodGet, "/orch/runs?status=DONE", nil).problemOf(t, http.StatusBadRequest)
		if !p.parameter("status") {
			t.Errorf("status=DONE: %+v does not name the parameter", p.Errors)
		}

		tasks, next := listOf(t, s.do(t, http.MethodGet, "/orch/runs/"+s.runID+"/tasks", nil))
		if next != "" || len(tasks) < 3 {
			t.Fatalf("tasks: %d, next_cursor %q", len(tasks), next)
		}
		types := map[string]bool{}
		buckets := map[string]bool{}
		var positions float64
		for _, tk := range tasks {
			// One task per (product type, hash bucket).
			b := fmt.Sprint(tk["product_type"], "/", tk["bucket"])
			if buckets[b] {
				t.Errorf("two tasks for %s", b)
			}
			buckets[b] = true
			if tk["bucket"].(float64) >= requireNumber(t, "task", tk, "hash_mod") {
				t.Errorf("task %v: bucket not below hash_mod", tk)
			}
			if tk["run_id"] != s.runID || tk["status"] != "SUCCEEDED" {
				t.Errorf("task %v", tk)
			}
			types[requireString(t, "task", tk, "product_type")] = true
			requireNumber(t, "task", tk, "bucket")
			for _, k := range []string{"started_at", "finished_at", "lease_expires_at"} {
				if _, present := tk[k]; present {
					requireOptTime(t, "task", tk, k)
				}
			}
			positions += requireNumber(t, "task", tk, "position_count")
		}
		if len(types) != 3 || positions != 3+specBonds {
			t.Errorf("tasks cover product types %v and %v positions", types, positions)
		}

		// Fan-out with hash_mod 8: one task per non-empty (product type,
		// bucket), bucket = a stable hash of position_id mod hash_mod. The
		// hash is the documented one (the first 8 bytes of SHA-256 of the id,
		// big-endian, top bit cleared), recomputed here.
		want := map[string]float64{}
		for _, p := range specPositions() {
			pm := p.(map[string]any)
			sum := sha256.Sum256([]byte(pm["position_id"].(string)))
			h := binary.BigEndian.Uint64(sum[:8]) & (1<<63 - 1)
			want[fmt.Sprint(pm["product_type"], "/", h%8)]++
		}
		fan := specRun("RUN-SPEC-FAN-"+s.sfx, s.marketID, s.snapshotID)
		fan["measures"] = []string{"PV"}
		fan["scenarios"] = []string{"BASE"}
		fan["execution"] = map[string]any{"hash_mod": 8}
		s.do(t, http.MethodPost, "/orch/runs", fan).object(t, http.StatusCreated)
		fanTasks, _ := listOf(t, s.do(t, http.MethodGet, "/orch/runs/RUN-SPEC-FAN-"+s.sfx+"/tasks", nil))
		got := map[string]float64{}
		for _, tk := range fanTasks {
			if tk["hash_mod"] != float64(8) {
				t.Errorf("task %v: hash_mod", tk)
			}
			got[fmt.Sprint(tk["product_type"], "/", tk["bucket"])] = tk["position_count"].(float64)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("tasks (type/bucket → positions) %v, want %v", got, want)
		}
		if done, _ := s.waitRun(t, "RUN-SPEC-FAN-"+s.sfx); done["status"] != "COMPLETED" {
			t.Errorf("fan-out run ended %v", done["status"])
		}
		s.do(t, http.MethodGet, "/orch/runs/RUN-NOPE-"+s.sfx+"/tasks", nil).problemOf(t, http.StatusNotFound)
		s.do(t, http.MethodGet, "/orch/runs/RUN-NOPE-"+s.sfx, nil).problemOf(t, http.StatusNotFound)
	}},
	{"orchestrator: portfolio_scope takes each node's latest snapshot at or before as_of_time, 422 for a node with none", func(t *testing.T, s *specState) {
		node := s.nodeID + "-SCOPE"
		late := s.nodeID + "-LATE"
		for _, u := range []struct {
			id, node string
			asOf     time.Time
		}{
			{"PS-SCOPE-1-" + s.sfx, node, specAsOf.Add(-48 * time.Hour)},
			{"PS-SCOPE-2-" + s.sfx, node, specAsOf},
			{"PS-SCOPE-3-" + s.sfx, node, specAsOf.Add(time.Second)},
			{"PS-SCOPE-4-" + s.sfx, late, specAsOf.Add(time.Hour)},
		} {
			doc := specBook(u.id, u.node, u.asOf)
			doc["positions"] = doc["positions"].([]any)[:4]
			s.do(t, http.MethodPost, "/orch/position-snapshots", doc).object(t, http.StatusCreated)
		}
		req := specRun("RUN-SPEC-SCOPE-"+s.sfx, s.marketID, "")
		delete(req, "position_snapshot_id")
		req["portfolio_scope"] = map[string]any{"node_ids": []string{node}}
		run := s.do(t, http.MethodPost, "/orch/runs", req).object(t, http.StatusCreated)
		checkRunShape(t, "scoped run", run)
		if run["position_snapshot_id"] != "PS-SCOPE-2-"+s.sfx {
			t.Errorf("scoped run took %v, want PS-SCOPE-2-%s (latest at or before as_of_time)", run["position_snapshot_id"], s.sfx)
		}
		if done, _ := s.waitRun(t, "RUN-SPEC-SCOPE-"+s.sfx); done["status"] != "COMPLETED" {
			t.Errorf("scoped run ended %v: %v", done["status"], done["error"])
		}

		// One run over many books: each node's snapshot, results carrying
		// the node. With more than one snapshot the run has no single
		// position_snapshot_id (null).
		multi := specRun("RUN-SPEC-MULTI-"+s.sfx, s.marketID, "")
		delete(multi, "position_snapshot_id")
		multi["measures"] = []string{"PV"}
		multi["scenarios"] = []string{"BASE"}
		multi["portfolio_scope"] = map[string]any{"node_ids": []string{node, s.nodeID + "-ANON"}}
		mrun := s.do(t, http.MethodPost, "/orch/runs", multi).object(t, http.StatusCreated)
		checkRunShape(t, "run over two books", mrun)
		if mrun["position_snapshot_id"] != nil {
			t.Errorf("a run over two snapshots has position_snapshot_id %v", mrun["position_snapshot_id"])
		}
		if done, _ := s.waitRun(t, "RUN-SPEC-MULTI-"+s.sfx); done["status"] != "COMPLETED" {
			t.Fatalf("run over two books ended %v: %v", done["status"], done["error"])
		}
		cells, _ := s.do(t, http.MethodGet, "/results/runs/RUN-SPEC-MULTI-"+s.sfx+"/cube?measure=PV&by=portfolio_node_id", nil).jsonOf(t, http.StatusOK).([]any)
		counts := map[string]float64{}
		for _, c := range cells {
			cm := c.(map[string]any)
			counts[cm["key"].(string)] = cm["count"].(float64)
		}
		if wantCounts := map[string]float64{node: 4, s.nodeID + "-ANON": 3 + specBonds}; fmt.Sprint(counts) != fmt.Sprint(wantCounts) {
			t.Errorf("cube by node %v, want %v", counts, wantCounts)
		}

		bad := specRun("RUN-SPEC-SCOPE-BAD-"+s.sfx, s.marketID, "")
		delete(bad, "position_snapshot_id")
		bad["portfolio_scope"] = map[string]any{"node_ids": []string{node, late, "BOOK-NOWHERE-" + s.sfx}}
		p := s.do(t, http.MethodPost, "/orch/runs", bad).problemOf(t, http.StatusUnprocessableEntity)
		for _, ptr := range []string{"/portfolio_scope/node_ids/1", "/portfolio_scope/node_ids/2"} {
			if !p.pointed(ptr) {
				t.Errorf("no problem at %s in %+v", ptr, p.Errors)
			}
		}
		if p.pointed("/portfolio_scope/node_ids/0") {
			t.Errorf("node 0 has a snapshot, yet: %+v", p.Errors)
		}
		s.do(t, http.MethodGet, "/orch/runs/RUN-SPEC-SCOPE-BAD-"+s.sfx, nil).problemOf(t, http.StatusNotFound)
	}},
	{"orchestrator: the pre-run check answers 422 listing every problem, and writes nothing", func(t *testing.T, s *specState) {
		thin := "MKT-SPEC-THIN-" + s.sfx
		doc := specMarket(thin, specAsOf)
		doc["fx_spots"] = []any{}
		doc["curves"] = []any{specCurve("USD-OIS", "DISCOUNT", 0.04), specCurve("EUR-OIS", "DISCOUNT", 0.03), specCurve("FI-SPREAD", "SPREAD", 0.01)}
		s.do(t, http.MethodPost, "/mkt/snapshots", doc).object(t, http.StatusCreated)

		before, _ := s.walk(t, "/orch/runs", 1000)
		id := "RUN-SPEC-422-" + s.sfx
		req := specRun(id, thin, s.snapshotID)
		req["measures"] = []string{"PV", "GAMMA"}
		req["scenarios"] = []any{"BASE", map[string]any{"scenario_set_id": "MARS_LANDING"}}
		p := s.do(t, http.MethodPost, "/orch/runs", req).problemOf(t, http.StatusUnprocessableEntity)
		for _, want := range []struct {
			ptr  string
			word string
		}{
			{"/measures/1", "GAMMA"},
			// SPEC §4.3: a scenario set the store does not have.
			{"/scenarios/1/scenario_set_id", "MARS_LANDING"},
			{"/market_snapshot_id", "LOAN-SPREAD"},
			{"/market_snapshot_id", "EURUSD"},
		} {
			if !p.pointed(want.ptr, want.word) {
				t.Errorf("no problem at %s naming %s in %+v", want.ptr, want.word, p.Errors)
			}
		}

		// Snapshots that do not exist.
		missing := specRun(id, "MKT-NOPE-"+s.sfx, "PS-NOPE-"+s.sfx)
		p = s.do(t, http.MethodPost, "/orch/runs", missing).problemOf(t, http.StatusUnprocessableEntity)
		for _, ptr := range []string{"/market_snapshot_id", "/position_snapshot_id"} {
			if !p.pointed(ptr) {
				t.Errorf("no problem at %s in %+v", ptr, p.Errors)
			}
		}
		// A run may not use a FAIL snapshot.
		if s.failMkt == "" {
			t.Fatal("no FAIL snapshot was stored")
		}
		p = s.do(t, http.MethodPost, "/orch/runs", specRun(id, s.failMkt, s.snapshotID)).problemOf(t, http.StatusUnprocessableEntity)
		if !p.pointed("/market_snapshot_id", "FAIL") {
			t.Errorf("a FAIL snapshot: %+v", p.Errors)
		}

		after, _ := s.walk(t, "/orch/runs", 1000)
		if len(after) != len(before) {
			t.Errorf("%d runs before refused requests, %d after", len(before), len(after))
		}
		s.do(t, http.MethodGet, "/orch/runs/"+id, nil).problemOf(t, http.StatusNotFound)

		// A position whose data cannot be valued on the run's date (a last
		// payment after as_of, SPEC §2) is a 422 at the member that
		// brought its snapshot in.
		early := specBook("PS-SPEC-EARLY-"+s.sfx, s.nodeID+"-EARLY", specAsOf)
		early["positions"] = early["positions"].([]any)[:1]
		early["positions"].([]any)[0].(map[string]any)["attributes"].(map[string]any)["last_payment_date"] = "2026-02-01"
		// And a loan whose payment (100) is not above its first period's
		// interest (12,000 × 12% / 12 = 120).
		short := specPositions()[1].(map[string]any)
		short["position_id"] = "LOAN-SHORT"
		short["attributes"].(map[string]any)["monthly_payment"] = 100.0
		early["positions"] = append(early["positions"].([]any), short)
		s.do(t, http.MethodPost, "/orch/position-snapshots", early).object(t, http.StatusCreated)
		p = s.do(t, http.MethodPost, "/orch/runs", specRun(id, s.marketID, "PS-SPEC-EARLY-"+s.sfx)).problemOf(t, http.StatusUnprocessableEntity)
		if !p.pointed("/position_snapshot_id", "last_payment_date") || !p.pointed("/position_snapshot_id", "LOAN-SHORT") {
			t.Errorf("a last payment after as_of and a payment below interest: %+v", p.Errors)
		}
		s.do(t, http.MethodGet, "/orch/runs/"+id, nil).problemOf(t, http.StatusNotFound)
	}},
	{"orchestrator: a run request is refused with 400 for bad shapes", func(t *testing.T, s *specState) {
		cases := []struct {
			name   string
			mutate func(r map[string]any)
			ptr    string
		}{
			{"unknown run_type", func(r map[string]any) { r["run_type"] = "WEEKLY" }, "/run_type"},
			{"as_of_time not RFC 3339", func(r map[string]any) { r["as_of_time"] = "2026-01-23 17:00" }, "/as_of_time"},
			{"measures not a list", func(r map[string]any) { r["measures"] = "PV" }, "/measures"},
			{"scenario item neither string nor {scenario_set_id}", func(r map[string]any) { r["scenarios"] = []any{"BASE", 7} }, "/scenarios/1"},
			{"unknown top-level member", func(r map[string]any) { r["priority"] = "high" }, "/priority"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				id := "RUN-SPEC-400-" + s.sfx
				req := specRun(id, s.marketID, s.snapshotID)
				c.mutate(req)
				p := s.do(t, http.MethodPost, "/orch/runs", req).problemOf(t, http.StatusBadRequest)
				if !p.pointed(c.ptr) {
					t.Errorf("no problem at %s in %+v", c.ptr, p.Errors)
				}
				s.do(t, http.MethodGet, "/orch/runs/"+id, nil).problemOf(t, http.StatusNotFound)
			})
		}
	}},
	{"results: summary per scenario with P&L against BASE", func(t *testing.T, s *specState) {
		sum := s.do(t, http.MethodGet, "/results/runs/"+s.runID+"/summary", nil).object(t, http.StatusOK)
		if sum["run_id"] != s.runID || sum["status"] != "COMPLETED" {
			t.Errorf("summary %v", sum)
		}
		scen, ok := sum["scenarios"].(map[string]any)
		if !ok || len(scen) != len(specScenarios) {
			t.Fatalf("summary scenarios %v", sum["scenarios"])
		}
		pv := map[string]float64{}
		for _, sc := range specScenarios {
			e, ok := scen[sc].(map[string]any)
			if !ok {
				t.Fatalf("summary lacks %s", sc)
			}
			if n := requireNumber(t, sc, e, "position_count"); n != 3+specBonds {
				t.Errorf("%s position_count %v", sc, n)
			}
			ms, ok := e["measures"].(map[string]any)
			if !ok {
				t.Fatalf("%s measures %v", sc, e["measures"])
			}
			for _, m := range specMeasures {
				if m == "FX_DELTA" {
					// Never summed across currencies: {"EUR": …}.
					fx, ok := ms[m].(map[string]any)
					if !ok || len(fx) == 0 {
						t.Fatalf("%s FX_DELTA = %v, want an object by base currency", sc, ms[m])
					}
					for ccy := range fx {
						requireNumber(t, sc+" FX_DELTA", fx, ccy)
					}
					continue
				}
				requireNumber(t, sc+" measures", ms, m)
			}
			pv[sc] = ms["PV"].(float64)
			requireNumber(t, sc, e, "pnl")
		}
		for _, sc := range specScenarios {
			got := scen[sc].(map[string]any)["pnl"].(float64)
			want := pv[sc] - pv["BASE"]
			if math.Abs(got-want) > 1e-9*math.Abs(pv["BASE"]) {
				t.Errorf("%s pnl %v, PV(%s) − PV(BASE) = %v", sc, got, sc, want)
			}
		}
		if scen["BASE"].(map[string]any)["pnl"].(float64) != 0 {
			t.Errorf("BASE pnl %v, want 0", scen["BASE"].(map[string]any)["pnl"])
		}
		s.do(t, http.MethodGet, "/results/runs/RUN-NOPE-"+s.sfx+"/summary", nil).problemOf(t, http.StatusNotFound)
	}},
	{"results: cube by each allowed dimension, anything else 400", func(t *testing.T, s *specState) {
		sum := s.do(t, http.MethodGet, "/results/runs/"+s.runID+"/summary", nil).object(t, http.StatusOK)
		basePV := sum["scenarios"].(map[string]any)["BASE"].(map[string]any)["measures"].(map[string]any)["PV"].(float64)
		cases := []struct {
			by     string
			counts map[string]float64
		}{
			{"product_type", map[string]float64{"AMORT_LOAN": 2, "FIXED_BOND": specBonds, "FX_FWD": 1}},
			{"portfolio_node_id", map[string]float64{s.nodeID: 3 + specBonds}},
			{"attr:state", map[string]float64{"FL": 1, "GA": 1, "NY": 1, "TX": specBonds}},
			{"instrument_id", nil},
		}
		for _, c := range cases {
			w := s.do(t, http.MethodGet, "/results/runs/"+s.runID+"/cube?measure=PV&scenario=BASE&by="+url.QueryEscape(c.by), nil)
			cells, ok := w.jsonOf(t, http.StatusOK).([]any)
			if !ok {
				t.Fatalf("%v: want [{key, value, count}]", w)
			}
			var total, count float64
			got := map[string]float64{}
			for _, cell := range cells {
				cm, ok := cell.(map[string]any)
				if !ok {
					t.Fatalf("%v: cell %v", w, cell)
				}
				key := requireString(t, "cube cell", cm, "key")
				total += requireNumber(t, "cube cell", cm, "value")
				n := requireNumber(t, "cube cell", cm, "count")
				got[key] = n
				count += n
			}
			if count != 3+specBonds || math.Abs(total-basePV) > 1e-9*math.Abs(basePV) {
				t.Errorf("by %s: counts add to %v, values to %v; summary has %d positions, PV %v", c.by, count, total, 3+specBonds, basePV)
			}
			if c.counts != nil && fmt.Sprint(got) != fmt.Sprint(c.counts) {
				t.Errorf("by %s: counts %v, want %v", c.by, got, c.counts)
			}
			if c.counts == nil && len(got) != 3+specBonds {
				t.Errorf("by %s: %d keys", c.by, len(got))
			}
		}
		for _, by := range []string{"state", "scenario_id", "attr:", "attr:a b", ""} {
			p := s.do(t, http.MethodGet, "/results/runs/"+s.runID+"/cube?measure=PV&scenario=BASE&by="+url.QueryEscape(by), nil).problemOf(t, http.StatusBadRequest)
			if !p.parameter("by") {
				t.Errorf("by=%q: %+v does not name by", by, p.Errors)
			}
		}
	}},
	{"results: positions paged, one position under every scenario", func(t *testing.T, s *specState) {
		path := "/results/runs/" + s.runID + "/positions"
		first, next := listOf(t, s.do(t, http.MethodGet, path, nil))
		if len(first) != 100 || next == "" {
			t.Fatalf("default page %d items, next_cursor %q", len(first), next)
		}
		all, _ := s.walk(t, path, 77)
		if len(all) != (3+specBonds)*len(specScenarios) {
			t.Fatalf("%d rows, want %d", len(all), (3+specBonds)*len(specScenarios))
		}
		seen := map[string]bool{}
		for _, row := range all {
			for _, k := range []string{"position_id", "instrument_id", "product_type", "portfolio_node_id", "scenario_id"} {
				requireString(t, "result row", row, k)
			}
			if _, ok := row["measures"].(map[string]any); !ok {
				t.Fatalf("row %v", row)
			}
			key := row["position_id"].(string) + "/" + row["scenario_id"].(string)
			if seen[key] {
				t.Fatalf("%s listed twice", key)
			}
			seen[key] = true
		}
		spread, _ := s.walk(t, path+"?scenario=SPREAD_25BP", 0)
		if len(spread) != 3+specBonds {
			t.Errorf("scenario=SPREAD_25BP: %d rows", len(spread))
		}
		for _, row := range spread {
			if row["scenario_id"] != "SPREAD_25BP" {
				t.Fatalf("scenario=SPREAD_25BP lists %v", row["scenario_id"])
			}
		}
		p := s.do(t, http.MethodGet, path+"?scenario=MARS", nil).problemOf(t, http.StatusBadRequest)
		if !p.parameter("scenario") {
			t.Errorf("scenario=MARS: %+v", p.Errors)
		}

		// BOND-007 pays 107 at t = 1 year on flat curves (OIS 4%, FI-SPREAD
		// 1%): PV = 107·e^(−(r+s)), DV01 = PV(r + 1bp) − PV, CS01 = PV(s + 1bp) − PV.
		rows, next := listOf(t, s.do(t, http.MethodGet, path+"/BOND-007", nil))
		if next != "" || len(rows) != len(specScenarios) {
			t.Fatalf("BOND-007: %d rows, next_cursor %q", len(rows), next)
		}
		pvOf := func(r, sp float64) float64 { return 107 * math.Exp(-(r + sp)) }
		shifts := map[string][2]float64{"BASE": {0.04, 0.01}, "RATES_PARALLEL_1BP": {0.0401, 0.01}, "SPREAD_25BP": {0.04, 0.0125}, "FX_SPOT_1PCT": {0.04, 0.01}}
		for _, row := range rows {
			sc := row["scenario_id"].(string)
			sh, ok := shifts[sc]
			if !ok || row["position_id"] != "BOND-007" {
				t.Fatalf("row %v", row)
			}
			delete(shifts, sc)
			ms := row["measures"].(map[string]any)
			want := map[string]float64{
				"PV":               pvOf(sh[0], sh[1]),
				"DV01":             pvOf(sh[0]+0.0001, sh[1]) - pvOf(sh[0], sh[1]),
				"CS01":             pvOf(sh[0], sh[1]+0.0001) - pvOf(sh[0], sh[1]),
				"ACCRUED_INTEREST": 1.5,
			}
			for m, w := range want {
				g, ok := ms[m].(float64)
				if !ok || math.Abs(g-w) > 1e-9*math.Max(1, math.Abs(w)) {
					t.Errorf("BOND-007 %s %s = %v, closed form %v", sc, m, ms[m], w)
				}
			}
			if _, ok := ms["FX_DELTA"]; ok {
				t.Errorf("BOND-007 %s has FX_DELTA %v: a measure that does not apply is absent", sc, ms["FX_DELTA"])
			}
		}
		if len(shifts) != 0 {
			t.Errorf("BOND-007 lacks scenarios %v", shifts)
		}
		s.do(t, http.MethodGet, path+"/NOPE", nil).problemOf(t, http.StatusNotFound)
	}},
	{"results: two loans and an FX forward under every scenario match their closed forms (SPEC §2)", func(t *testing.T, s *specState) {
		// Flat curves: USD-OIS 4%, EUR-OIS 3%, LOAN-SPREAD 2%; EURUSD 1.09;
		// as_of 2026-01-23.
		type market struct{ usd, eur, loan, spot float64 }
		markets := map[string]market{
			"BASE":               {0.04, 0.03, 0.02, 1.09},
			"RATES_PARALLEL_1BP": {0.0401, 0.0301, 0.02, 1.09},
			"SPREAD_25BP":        {0.04, 0.03, 0.0225, 1.09},
			"FX_SPOT_1PCT":       {0.04, 0.03, 0.02, 1.09 * 1.01},
		}
		// LOAN-CF pays 505 in 31 days and 502.5 in 59 days.
		loanPV := func(r, sp float64) float64 {
			return 505*math.Exp(-(r+sp)*31/365) + 502.5*math.Exp(-(r+sp)*59/365)
		}
		// FX-1: 1e6 EUR at 1.1 on 2026-07-23, 181 days away.
		tFX := 181.0 / 365
		fxPV := func(usd, eur, spot float64) float64 {
			return 1e6 * (spot*math.Exp(-eur*tFX) - 1.1*math.Exp(-usd*tFX))
		}
		// LOAN-TERMS: 12,000 at 12% over 12 months from 2026-02-10, the
		// level payment P·r/(1 − (1 + r)^−n), the last clearing the balance.
		termsPV := func(rate float64) float64 {
			const P, r, n = 12000.0, 0.01, 12
			pay := P * r / (1 - math.Pow(1+r, -n))
			bal, pv := P, 0.0
			for k := range n {
				interest := bal * r
				principal := pay - interest
				if k == n-1 {
					principal = bal
				}
				bal -= principal
				days := time.Date(2026, time.Month(2+k), 10, 0, 0, 0, 0, time.UTC).Sub(time.Date(2026, 1, 23, 0, 0, 0, 0, time.UTC)).Hours() / 24
				pv += (interest + principal) * math.Exp(-rate*days/365)
			}
			return pv
		}
		want := map[string]map[string]map[string]float64{"LOAN-CF": {}, "LOAN-TERMS": {}, "FX-1": {}}
		for sc, m := range markets {
			want["LOAN-CF"][sc] = map[string]float64{
				"PV":               loanPV(m.usd, m.loan),
				"DV01":             loanPV(m.usd+0.0001, m.loan) - loanPV(m.usd, m.loan),
				"CS01":             loanPV(m.usd, m.loan+0.0001) - loanPV(m.usd, m.loan),
				"ACCRUED_INTEREST": 1000 * 0.06 * 22 / 360,
			}
			want["LOAN-TERMS"][sc] = map[string]float64{
				"PV":               termsPV(m.usd + m.loan),
				"DV01":             termsPV(m.usd+0.0001+m.loan) - termsPV(m.usd+m.loan),
				"CS01":             termsPV(m.usd+m.loan+0.0001) - termsPV(m.usd+m.loan),
				"ACCRUED_INTEREST": 12000 * 0.12 * 13 / 360,
			}
			want["FX-1"][sc] = map[string]float64{
				"PV":       fxPV(m.usd, m.eur, m.spot),
				"DV01":     fxPV(m.usd+0.0001, m.eur+0.0001, m.spot) - fxPV(m.usd, m.eur, m.spot),
				"FX_DELTA": 1e6 * math.Exp(-m.eur*tFX),
			}
		}
		for pos, byScenario := range want {
			rows, _ := listOf(t, s.do(t, http.MethodGet, "/results/runs/"+s.runID+"/positions/"+pos, nil))
			if len(rows) != len(specScenarios) {
				t.Fatalf("%s: %d rows", pos, len(rows))
			}
			for _, row := range rows {
				sc := row["scenario_id"].(string)
				ms := row["measures"].(map[string]any)
				w := byScenario[sc]
				if len(ms) != len(w) {
					t.Errorf("%s %s measures %v, want exactly %v", pos, sc, ms, w)
				}
				for m, wv := range w {
					g, ok := ms[m].(float64)
					if !ok || math.Abs(g-wv) > 1e-9*math.Max(1, math.Abs(wv)) {
						t.Errorf("%s %s %s = %v, closed form %v", pos, sc, m, ms[m], wv)
					}
				}
			}
		}
	}},
	{"results: export.csv streams one row per position and scenario, one column per measure", func(t *testing.T, s *specState) {
		for _, c := range []struct {
			query string
			rows  int
		}{{"", (3 + specBonds) * len(specScenarios)}, {"?scenario=FX_SPOT_1PCT", 3 + specBonds}} {
			w := s.do(t, http.MethodGet, "/results/runs/"+s.runID+"/export.csv"+c.query, nil)
			if w.status != http.StatusOK || w.mediaType(t) != "text/csv" {
				t.Fatalf("%v: Content-Type %s", w, w.header.Get("Content-Type"))
			}
			recs, err := csv.NewReader(bytes.NewReader(w.body)).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			header := recs[0]
			col := map[string]int{}
			for i, h := range header {
				col[h] = i
			}
			for _, k := range append([]string{"position_id", "scenario_id"}, specMeasures...) {
				if _, ok := col[k]; !ok {
					t.Fatalf("CSV header %v lacks %s", header, k)
				}
			}
			if len(recs)-1 != c.rows {
				t.Fatalf("export%s: %d rows, want %d", c.query, len(recs)-1, c.rows)
			}
			seen := map[string]bool{}
			for _, r := range recs[1:] {
				key := r[col["position_id"]] + "/" + r[col["scenario_id"]]
				if seen[key] {
					t.Fatalf("%s exported twice", key)
				}
				seen[key] = true
				if r[col["PV"]] == "" {
					t.Errorf("%s has no PV", key)
				}
			}
		}
		p := s.do(t, http.MethodGet, "/results/runs/"+s.runID+"/export.csv?scenario=MARS", nil).problemOf(t, http.StatusBadRequest)
		if !p.parameter("scenario") {
			t.Errorf("%+v", p.Errors)
		}
	}},
	{"orchestrator: cancel 202 (409 once COMPLETED), publish only COMPLETED with a stored hash, then PUBLISHED", func(t *testing.T, s *specState) {
		id := "RUN-SPEC-CANCEL-" + s.sfx
		req := specRun(id, s.marketID, s.snapshotID)
		req["execution"] = map[string]any{"hash_mod": 256}
		s.do(t, http.MethodPost, "/orch/runs", req).object(t, http.StatusCreated)
		w := s.do(t, http.MethodPost, "/orch/runs/"+id+"/cancel", nil)
		if w.status == http.StatusConflict {
			t.Fatalf("the run ended before it could be cancelled: %v", w)
		}
		cancelled := w.object(t, http.StatusAccepted)
		checkRunShape(t, "cancelled run", cancelled)
		if st := cancelled["status"]; st != "CANCELLING" && st != "CANCELLED" {
			t.Errorf("cancel answered status %v", st)
		}
		if done, _ := s.waitRun(t, id); done["status"] != "CANCELLED" {
			t.Errorf("cancelled run ended %v", done["status"])
		}
		s.do(t, http.MethodPost, "/orch/runs/"+id+"/cancel", nil).object(t, http.StatusAccepted)
		s.do(t, http.MethodPost, "/orch/runs/"+id+"/publish", nil).problemOf(t, http.StatusConflict)

		s.do(t, http.MethodPost, "/orch/runs/"+s.runID+"/cancel", nil).problemOf(t, http.StatusConflict)
		pub := s.do(t, http.MethodPost, "/orch/runs/"+s.runID+"/publish", nil).object(t, http.StatusOK)
		checkRunShape(t, "published run", pub)
		if pub["status"] != "PUBLISHED" {
			t.Errorf("published run status %v", pub["status"])
		}
		hash, _ := pub["publish_hash"].(string)
		if len(hash) != 64 {
			t.Errorf("publish_hash %v, want a hex SHA-256", pub["publish_hash"])
		}
		got := s.do(t, http.MethodGet, "/orch/runs/"+s.runID, nil).object(t, http.StatusOK)
		if got["status"] != "PUBLISHED" || got["publish_hash"] != hash {
			t.Errorf("after publish GET answers %v / %v", got["status"], got["publish_hash"])
		}
		s.do(t, http.MethodPost, "/orch/runs/"+s.runID+"/publish", nil).problemOf(t, http.StatusConflict)
		s.do(t, http.MethodPost, "/orch/runs/"+s.runID+"/cancel", nil).problemOf(t, http.StatusConflict)
		if got := s.do(t, http.MethodGet, "/orch/runs/"+s.runID, nil).object(t, http.StatusOK); got["publish_hash"] != hash {
			t.Errorf("publish_hash changed to %v", got["publish_hash"])
		}
		pubList, _ := s.walk(t, "/orch/runs?status=PUBLISHED", 0)
		if len(pubList) != 1 || pubList[0]["run_id"] != s.runID {
			t.Errorf("status=PUBLISHED lists %d runs", len(pubList))
		}
		s.do(t, http.MethodPost, "/orch/runs/RUN-NOPE-"+s.sfx+"/publish", nil).problemOf(t, http.StatusNotFound)
		s.do(t, http.MethodPost, "/orch/runs/RUN-NOPE-"+s.sfx+"/cancel", nil).problemOf(t, http.StatusNotFound)
	}},
	{"worker: a position that cannot be priced makes its task DEAD at once, naming it; the run ends FAILED", func(t *testing.T, s *specState) {
		bond := func(id string, amount, qty float64) map[string]any {
			return map[string]any{"position_id": id, "product_type": "FIXED_BOND", "quantity": qty,
				"attributes": map[string]any{"cashflows": []any{map[string]any{"pay_date": "2027-01-23", "amount": amount}}}}
		}
		// 10 × 1e308 discounted is beyond a double: PV is not finite.
		bad := map[string]any{"position_snapshot_id": "PS-SPEC-INF-" + s.sfx, "as_of_time": "2026-01-23T00:00:00Z",
			"portfolio_node_id": s.nodeID + "-INF", "positions": []any{bond("HUGE-1", 1e308, 10), bond("OK-1", 100, 1)}}
		s.do(t, http.MethodPost, "/orch/position-snapshots", bad).object(t, http.StatusCreated)
		id := "RUN-SPEC-FAILED-" + s.sfx
		req := specRun(id, s.marketID, "PS-SPEC-INF-"+s.sfx)
		req["measures"] = []string{"PV"}
		req["scenarios"] = []string{"BASE"}
		s.do(t, http.MethodPost, "/orch/runs", req).object(t, http.StatusCreated)
		done, _ := s.waitRun(t, id)
		checkRunShape(t, "failed run", done)
		if done["status"] != "FAILED" {
			t.Fatalf("run ended %v, want FAILED", done["status"])
		}
		if e, _ := done["error"].(string); !strings.Contains(e, "HUGE-1") {
			t.Errorf("run error %v does not name the position", done["error"])
		}
		tasks, _ := listOf(t, s.do(t, http.MethodGet, "/orch/runs/"+id+"/tasks", nil))
		if len(tasks) != 1 || tasks[0]["status"] != "DEAD" || tasks[0]["attempts"] != float64(1) {
			t.Fatalf("tasks %v: want one DEAD after one attempt", tasks)
		}
		if e, _ := tasks[0]["last_error"].(string); !strings.Contains(e, "HUGE-1") {
			t.Errorf("last_error %v does not name the position", tasks[0]["last_error"])
		}
		s.do(t, http.MethodPost, "/orch/runs/"+id+"/cancel", nil).problemOf(t, http.StatusConflict)
		s.do(t, http.MethodPost, "/orch/runs/"+id+"/publish", nil).problemOf(t, http.StatusConflict)
		failed, _ := s.walk(t, "/orch/runs?status=FAILED", 0)
		if len(failed) != 1 || failed[0]["run_id"] != id {
			t.Errorf("status=FAILED lists %v", failed)
		}

		// Two finite PVs whose sum is beyond a double: every number on the
		// wire is finite, so the summary is a 422 naming the sum, not a 500.
		big := map[string]any{"position_snapshot_id": "PS-SPEC-BIG2-" + s.sfx, "as_of_time": "2026-01-23T00:00:00Z",
			"portfolio_node_id": s.nodeID + "-BIG2", "positions": []any{bond("BIG-1", 1e308, 1), bond("BIG-2", 1e308, 1)}}
		s.do(t, http.MethodPost, "/orch/position-snapshots", big).object(t, http.StatusCreated)
		id = "RUN-SPEC-BIG2-" + s.sfx
		req = specRun(id, s.marketID, "PS-SPEC-BIG2-"+s.sfx)
		req["measures"] = []string{"PV"}
		req["scenarios"] = []string{"BASE"}
		s.do(t, http.MethodPost, "/orch/runs", req).object(t, http.StatusCreated)
		if done, _ := s.waitRun(t, id); done["status"] != "COMPLETED" {
			t.Fatalf("run ended %v: %v", done["status"], done["error"])
		}
		s.do(t, http.MethodGet, "/results/runs/"+id+"/summary", nil).problemOf(t, http.StatusUnprocessableEntity)
		s.do(t, http.MethodGet, "/results/runs/"+id+"/cube?measure=PV&by=product_type", nil).problemOf(t, http.StatusUnprocessableEntity)
		rows, _ := s.walk(t, "/results/runs/"+id+"/positions", 0)
		if len(rows) != 2 {
			t.Errorf("positions: %d rows", len(rows))
		}
	}},
	{"idempotency holds under concurrent identical requests: one 201, the rest 200", func(t *testing.T, s *specState) {
		mkt, err := json.Marshal(specMarket("MKT-SPEC-RACE-"+s.sfx, specAsOf))
		if err != nil {
			t.Fatal(err)
		}
		book, err := json.Marshal(specBook("PS-SPEC-RACE-"+s.sfx, s.nodeID+"-RACE", specAsOf))
		if err != nil {
			t.Fatal(err)
		}
		req := specRun("RUN-SPEC-RACE-"+s.sfx, s.marketID, s.snapshotID)
		req["measures"] = []string{"PV"}
		run, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			path string
			body []byte
			id   string
		}{
			{"/mkt/snapshots", mkt, "snapshot_id"},
			{"/orch/position-snapshots", book, "position_snapshot_id"},
			{"/orch/runs", run, "run_id"},
		} {
			const n = 6
			type answer struct {
				status int
				id     any
				err    string
			}
			answers := make(chan answer, n)
			for range n {
				go func() {
					resp, err := http.Post(s.url+c.path, "application/json", bytes.NewReader(c.body))
					if err != nil {
						answers <- answer{err: err.Error()}
						return
					}
					defer resp.Body.Close()
					var m map[string]any
					if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
						answers <- answer{status: resp.StatusCode, err: err.Error()}
						return
					}
					answers <- answer{status: resp.StatusCode, id: m[c.id]}
				}()
			}
			counts := map[int]int{}
			for range n {
				a := <-answers
				if a.err != "" {
					t.Fatalf("POST %s: %d %s", c.path, a.status, a.err)
				}
				counts[a.status]++
				if a.id == nil {
					t.Errorf("POST %s: answer without %s", c.path, c.id)
				}
			}
			if counts[http.StatusCreated] != 1 || counts[http.StatusOK] != n-1 {
				t.Errorf("POST %s %d times at once: statuses %v, want one 201 and %d 200", c.path, n, counts, n-1)
			}
		}
		if done, _ := s.waitRun(t, "RUN-SPEC-RACE-"+s.sfx); done["status"] != "COMPLETED" {
			t.Errorf("raced run ended %v", done["status"])
		}
	}},
	{"times in another offset are answered in UTC (position snapshot, run)", func(t *testing.T, s *specState) {
		id := "PS-SPEC-TZ-" + s.sfx
		doc := specBook(id, s.nodeID+"-TZ", specAsOf)
		doc["positions"] = doc["positions"].([]any)[3:5]
		doc["as_of_time"] = "2026-01-23T12:00:00-05:00"
		s.do(t, http.MethodPost, "/orch/position-snapshots", doc).object(t, http.StatusCreated)
		meta := s.do(t, http.MethodGet, "/orch/position-snapshots/"+id, nil).object(t, http.StatusOK)
		if at := requireTime(t, "snapshot", meta, "as_of_time"); !at.Equal(specAsOf) {
			t.Errorf("as_of_time %v, want %v", at, specAsOf)
		}
		req := specRun("RUN-SPEC-TZ-"+s.sfx, s.marketID, id)
		req["as_of_time"] = "2026-01-24T02:00:00+09:00"
		req["measures"] = []string{"PV"}
		run := s.do(t, http.MethodPost, "/orch/runs", req).object(t, http.StatusCreated)
		if at := requireTime(t, "run", run, "as_of_time"); !at.Equal(specAsOf) {
			t.Errorf("run as_of_time %v, want %v", at, specAsOf)
		}
		if done, _ := s.waitRun(t, "RUN-SPEC-TZ-"+s.sfx); done["status"] != "COMPLETED" {
			t.Errorf("run ended %v", done["status"])
		}
	}},
	{"lists: limit defaults to 100, at most 1000 (1001 → 400 naming limit), a bad cursor → 400", func(t *testing.T, s *specState) {
		for _, path := range []string{
			"/mkt/snapshots",
			"/orch/runs",
			"/orch/position-snapshots/" + s.snapshotID + "/positions",
			"/results/runs/" + s.runID + "/positions",
		} {
			items, _ := listOf(t, s.do(t, http.MethodGet, path+"?limit=1000", nil))
			if len(items) == 0 {
				t.Errorf("GET %s?limit=1000: empty", path)
			}
			for _, bad := range []string{"1001", "0", "-1", "ten", "1.5"} {
				p := s.do(t, http.MethodGet, path+"?limit="+bad, nil).problemOf(t, http.StatusBadRequest)
				if !p.parameter("limit") {
					t.Errorf("GET %s?limit=%s: %+v does not name limit", path, bad, p.Errors)
				}
			}
			for _, bad := range []string{"!!!", "bm90LWEtY3Vyc29y", "eyJ4IjoxfQ"} {
				p := s.do(t, http.MethodGet, path+"?cursor="+bad, nil).problemOf(t, http.StatusBadRequest)
				if !p.parameter("cursor") {
					t.Errorf("GET %s?cursor=%s: %+v does not name cursor", path, bad, p.Errors)
				}
			}
		}
	}},
	{"errors: unknown top-level fields refused on every POST, malformed JSON 400, unknown routes 404, all as problems", func(t *testing.T, s *specState) {
		mkt := specMarket("MKT-SPEC-UNK-"+s.sfx, specAsOf)
		mkt["source"] = "x"
		book := specBook("PS-SPEC-UNK-"+s.sfx, s.nodeID, specAsOf)
		book["source"] = "x"
		run := specRun("RUN-SPEC-UNK-"+s.sfx, s.marketID, s.snapshotID)
		run["source"] = "x"
		for _, c := range []struct {
			path string
			body any
			gone string
		}{
			{"/mkt/snapshots", mkt, "/mkt/snapshots/MKT-SPEC-UNK-" + s.sfx},
			{"/orch/position-snapshots", book, "/orch/position-snapshots/PS-SPEC-UNK-" + s.sfx},
			{"/orch/runs", run, "/orch/runs/RUN-SPEC-UNK-" + s.sfx},
			{"/orch/runs/" + s.runID + "/cancel", map[string]any{"source": "x"}, ""},
			{"/orch/runs/" + s.runID + "/publish", map[string]any{"source": "x"}, ""},
		} {
			p := s.do(t, http.MethodPost, c.path, c.body).problemOf(t, http.StatusBadRequest)
			if !p.pointed("/source") {
				t.Errorf("POST %s with an unknown member: %+v", c.path, p.Errors)
			}
			if c.gone != "" {
				s.do(t, http.MethodGet, c.gone, nil).problemOf(t, http.StatusNotFound)
			}
		}
		for _, path := range []string{"/mkt/snapshots", "/orch/position-snapshots", "/orch/runs"} {
			for _, body := range []string{`{"snapshot_id": `, `[1,2]`, `{} {}`, ``} {
				s.do(t, http.MethodPost, path, []byte(body)).problemOf(t, http.StatusBadRequest)
			}
		}
		s.do(t, http.MethodGet, "/orch/nothing-here", nil).problemOf(t, http.StatusNotFound)
		s.do(t, http.MethodGet, "/nothing-here", nil).problemOf(t, http.StatusNotFound)
		s.do(t, http.MethodDelete, "/mkt/snapshots/"+s.marketID, nil).problemOf(t, http.StatusMethodNotAllowed)
		// SPEC §5: a published run is never deleted.
		s.do(t, http.MethodDelete, "/orch/runs/"+s.runID, nil).problemOf(t, http.StatusConflict)
		for _, route := range []string{"summary", "cube?measure=PV&by=product_type", "positions", "positions/BOND-000", "export.csv"} {
			s.do(t, http.MethodGet, "/results/runs/RUN-NOPE-"+s.sfx+"/"+route, nil).problemOf(t, http.StatusNotFound)
		}
		s.do(t, http.MethodGet, "/results/runs/"+s.runID, nil).problemOf(t, http.StatusNotFound)
	}},
	{"errors: input PostgreSQL text cannot hold (NUL, invalid UTF-8) is a 4xx problem on every store, never a 500", func(t *testing.T, s *specState) {
		mkt := specMarket("MKT-SPEC-NUL-"+s.sfx, specAsOf)
		mkt["vendor"] = "V\x00"
		p := s.do(t, http.MethodPost, "/mkt/snapshots", mkt).problemOf(t, http.StatusBadRequest)
		if !p.pointed("/vendor", "NUL") {
			t.Errorf("NUL vendor: %+v", p.Errors)
		}
		s.do(t, http.MethodGet, "/mkt/snapshots/MKT-SPEC-NUL-"+s.sfx, nil).problemOf(t, http.StatusNotFound)
		book := specBook("PS-SPEC-NUL-"+s.sfx, s.nodeID, specAsOf)
		book["positions"].([]any)[1].(map[string]any)["position_id"] = "L\x00T"
		book["positions"].([]any)[3].(map[string]any)["attributes"].(map[string]any)["state"] = "T\x00X"
		p = s.do(t, http.MethodPost, "/orch/position-snapshots", book).problemOf(t, http.StatusBadRequest)
		if !p.pointed("/positions/1/position_id", "NUL") || !p.pointed("/positions/3/attributes/state", "NUL") {
			t.Errorf("NUL position_id and attribute: %+v", p.Errors)
		}
		s.do(t, http.MethodGet, "/orch/position-snapshots/PS-SPEC-NUL-"+s.sfx, nil).problemOf(t, http.StatusNotFound)
		run := specRun("RUN-SPEC-NUL-"+s.sfx, s.marketID, s.snapshotID)
		run["model_set_id"] = "\x00"
		p = s.do(t, http.MethodPost, "/orch/runs", run).problemOf(t, http.StatusBadRequest)
		if !p.pointed("/model_set_id", "NUL") {
			t.Errorf("NUL model_set_id: %+v", p.Errors)
		}
		s.do(t, http.MethodGet, "/orch/runs/RUN-SPEC-NUL-"+s.sfx, nil).problemOf(t, http.StatusNotFound)

		// Names that are index keys are bounded (PostgreSQL index rows hold
		// about 2.7 kB); a random 3,000-byte id does not compress.
		long := make([]byte, 3000)
		for i := range long {
			long[i] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[(i*7919+i*i*31)%62]
		}
		book = specBook("PS-SPEC-LONG-"+s.sfx, string(long), specAsOf)
		book["positions"].([]any)[2].(map[string]any)["position_id"] = string(long)
		p = s.do(t, http.MethodPost, "/orch/position-snapshots", book).problemOf(t, http.StatusBadRequest)
		if !p.pointed("/portfolio_node_id") || !p.pointed("/positions/2/position_id") {
			t.Errorf("3,000-byte names: %+v", p.Errors)
		}
		s.do(t, http.MethodGet, "/orch/position-snapshots/PS-SPEC-LONG-"+s.sfx, nil).problemOf(t, http.StatusNotFound)
		// The zero time is no as-of time.
		run = specRun("RUN-SPEC-YEAR1-"+s.sfx, s.marketID, s.snapshotID)
		run["as_of_time"] = "0001-01-01T00:00:00Z"
		if p := s.do(t, http.MethodPost, "/orch/runs", run).problemOf(t, http.StatusBadRequest); !p.pointed("/as_of_time") {
			t.Errorf("year 1: %+v", p.Errors)
		}
		for _, id := range []string{"a%00b", "%FF%FE"} {
			for _, path := range []string{"/mkt/snapshots/" + id, "/orch/position-snapshots/" + id, "/orch/position-snapshots/" + id + "/positions",
				"/orch/runs/" + id, "/orch/runs/" + id + "/tasks", "/results/runs/" + id + "/summary", "/results/runs/" + s.runID + "/positions/" + id} {
				s.do(t, http.MethodGet, path, nil).problemOf(t, http.StatusNotFound)
			}
		}
		nul := base64.RawURLEncoding.EncodeToString([]byte(`["2026-01-23T00:00:00Z","a\u0000"]`))
		nul3 := base64.RawURLEncoding.EncodeToString([]byte(`["PS\u0000","a","BASE"]`))
		for _, path := range []string{"/mkt/snapshots?cursor=" + nul, "/orch/runs?cursor=" + nul, "/results/runs/" + s.runID + "/positions?cursor=" + nul3} {
			if p := s.do(t, http.MethodGet, path, nil).problemOf(t, http.StatusBadRequest); !p.parameter("cursor") {
				t.Errorf("GET %s: %+v", path, p.Errors)
			}
		}
	}},
}

// guardedClauses run on a platform with IPRS_API_TOKENS set and small body
// limits, on the same database.
var guardedClauses = []specClause{
	{"auth: every route but health needs a bearer token (401 otherwise)", func(t *testing.T, s *specState) {
		routes := []struct{ method, path string }{
			{"GET", "/metrics"}, {"GET", "/mkt/metrics"}, {"GET", "/orch/metrics"}, {"GET", "/results/metrics"},
			{"POST", "/mkt/snapshots"}, {"GET", "/mkt/snapshots"}, {"GET", "/mkt/snapshots/" + s.marketID},
			{"POST", "/orch/position-snapshots"}, {"GET", "/orch/position-snapshots/" + s.snapshotID},
			{"GET", "/orch/position-snapshots/" + s.snapshotID + "/positions"},
			{"POST", "/orch/runs"}, {"GET", "/orch/runs"}, {"GET", "/orch/runs/" + s.runID},
			{"GET", "/orch/runs/" + s.runID + "/tasks"}, {"POST", "/orch/runs/" + s.runID + "/cancel"},
			{"POST", "/orch/runs/" + s.runID + "/publish"},
			{"GET", "/results/runs/" + s.runID + "/summary"}, {"GET", "/results/runs/" + s.runID + "/cube?measure=PV&by=product_type"},
			{"GET", "/results/runs/" + s.runID + "/positions"}, {"GET", "/results/runs/" + s.runID + "/positions/BOND-000"},
			{"GET", "/results/runs/" + s.runID + "/export.csv"}, {"GET", "/orch/nothing-here"}, {"GET", "/nothing-here"},
		}
		for _, tok := range []string{"", "gamma", "alph"} {
			a := api{url: s.url, token: tok}
			for _, r := range routes {
				w := a.do(t, r.method, r.path, nil)
				w.problemOf(t, http.StatusUnauthorized)
				if !strings.HasPrefix(w.header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("%v: WWW-Authenticate %q", w, w.header.Get("WWW-Authenticate"))
				}
			}
		}
		for _, path := range []string{"/health", "/mkt/health", "/orch/health", "/results/health"} {
			api{url: s.url}.do(t, http.MethodGet, path, nil).object(t, http.StatusOK)
		}
		// Reading: the dashboard's files, the API description and the
		// redirect of / hold no data, so a browser loads them without a
		// token (the pages then call the API with the analyst's token).
		for path, want := range map[string]int{"/ui/": http.StatusOK, "/ui/js/app.js": http.StatusOK, "/openapi.json": http.StatusOK, "/": http.StatusOK /* redirected to /ui/ */} {
			if w := (api{url: s.url}).do(t, http.MethodGet, path, nil); w.status != want {
				t.Errorf("GET %s without a token: %d, want %d (no data, no token)", path, w.status, want)
			}
		}
		for _, r := range routes[:4] {
			if w := s.do(t, r.method, r.path, nil); w.status != http.StatusOK {
				t.Errorf("with a good token: %v", w)
			}
		}
		for _, tok := range []string{"alpha", "beta"} {
			listOf(t, api{url: s.url, token: tok}.do(t, http.MethodGet, "/orch/runs", nil))
		}
		// The summary answers as on the open platform (same database).
		s.do(t, http.MethodGet, "/results/runs/"+s.runID+"/summary", nil).object(t, http.StatusOK)
	}},
	{"limits: a body over the configured limit gets 413 and writes nothing", func(t *testing.T, s *specState) {
		mktBefore, _ := s.walk(t, "/mkt/snapshots", 1000)
		runsBefore, _ := s.walk(t, "/orch/runs", 1000)

		mkt := specMarket("MKT-SPEC-BIG-"+s.sfx, specAsOf)
		mkt["vendor"] = strings.Repeat("V", 3000)
		s.do(t, http.MethodPost, "/mkt/snapshots", mkt).problemOf(t, http.StatusRequestEntityTooLarge)
		run := specRun("RUN-SPEC-BIG-"+s.sfx, s.marketID, s.snapshotID)
		run["model_set_id"] = strings.Repeat("M", 3000)
		s.do(t, http.MethodPost, "/orch/runs", run).problemOf(t, http.StatusRequestEntityTooLarge)
		for _, route := range []string{"cancel", "publish"} {
			s.do(t, http.MethodPost, "/orch/runs/"+s.runID+"/"+route, map[string]any{"note": strings.Repeat("N", 3000)}).problemOf(t, http.StatusRequestEntityTooLarge)
		}
		// Position uploads have their own (larger) bound.
		book := specBook("PS-SPEC-BIG-"+s.sfx, s.nodeID+"-BIG", specAsOf)
		s.do(t, http.MethodPost, "/orch/position-snapshots", book).problemOf(t, http.StatusRequestEntityTooLarge)
		// A body without Content-Length (chunked) is cut at the bound too.
		chunked, err := json.Marshal(specBook("PS-SPEC-CHUNKED-"+s.sfx, s.nodeID+"-BIG", specAsOf))
		if err != nil {
			t.Fatal(err)
		}
		s.do(t, http.MethodPost, "/orch/position-snapshots", io.MultiReader(bytes.NewReader(chunked))).problemOf(t, http.StatusRequestEntityTooLarge)
		chunkedMkt, err := json.Marshal(mkt)
		if err != nil {
			t.Fatal(err)
		}
		s.do(t, http.MethodPost, "/mkt/snapshots", io.MultiReader(bytes.NewReader(chunkedMkt))).problemOf(t, http.StatusRequestEntityTooLarge)
		s.do(t, http.MethodGet, "/orch/position-snapshots/PS-SPEC-CHUNKED-"+s.sfx, nil).problemOf(t, http.StatusNotFound)
		small := specBook("PS-SPEC-SMALL-"+s.sfx, s.nodeID+"-SMALL", specAsOf)
		small["positions"] = small["positions"].([]any)[3:17]
		if b, _ := json.Marshal(small); len(b) <= 2<<10 || len(b) > 4<<10 {
			t.Fatalf("the small book is %d bytes, want between the two limits", len(b))
		}
		s.do(t, http.MethodPost, "/orch/position-snapshots", small).object(t, http.StatusCreated)

		s.do(t, http.MethodGet, "/mkt/snapshots/MKT-SPEC-BIG-"+s.sfx, nil).problemOf(t, http.StatusNotFound)
		s.do(t, http.MethodGet, "/orch/runs/RUN-SPEC-BIG-"+s.sfx, nil).problemOf(t, http.StatusNotFound)
		s.do(t, http.MethodGet, "/orch/position-snapshots/PS-SPEC-BIG-"+s.sfx, nil).problemOf(t, http.StatusNotFound)
		mktAfter, _ := s.walk(t, "/mkt/snapshots", 1000)
		runsAfter, _ := s.walk(t, "/orch/runs", 1000)
		if len(mktAfter) != len(mktBefore) || len(runsAfter) != len(runsBefore) {
			t.Errorf("snapshots %d → %d, runs %d → %d across refused requests", len(mktBefore), len(mktAfter), len(runsBefore), len(runsAfter))
		}
	}},
}

// specDatabaseURL is the DATABASE_URL naming db.
func specDatabaseURL(db config.Database) string {
	if db.Driver == config.DriverPostgres {
		return db.DSN
	}
	return "sqlite:" + db.Path
}

// TestSpecServeModes runs the four services as `iprs serve` does, each on
// its own listener over one database (SPEC §1 table, §3): each answers
// GET /health and GET <prefix>/health with its name, /metrics, its own
// routes under its prefix and no other service's; together they take a
// snapshot, a book and a run to results; and each stops cleanly.
func TestSpecServeModes(t *testing.T) {
	for _, tdb := range testDatabases(t) {
		t.Run(tdb.name, func(t *testing.T) {
			dbURL := specDatabaseURL(tdb.db)
			if code, out, errOut := runIPRS(context.Background(), map[string]string{"DATABASE_URL": dbURL}, "migrate"); code != 0 {
				t.Fatalf("migrate: exit %d %s %s", code, out, errOut)
			}
			servers := map[string]*serveProcess{}
			urls := map[string]string{}
			for _, name := range []string{"marketdata", "orchestrator", "results", "worker"} {
				servers[name] = MustServe(t, map[string]string{"DATABASE_URL": dbURL, "IPRS_LOG_LEVEL": "error"}, name)
				urls[name] = servers[name].URL
			}
			for name, u := range urls {
				a := api{url: u}
				m := a.do(t, http.MethodGet, "/health", nil).object(t, http.StatusOK)
				if m["status"] != "ok" || m["service"] != name {
					t.Errorf("%s GET /health: %v", name, m)
				}
				requireString(t, name+" health", m, "version")
				if w := a.do(t, http.MethodGet, "/metrics", nil); w.status != http.StatusOK || !strings.Contains(string(w.body), "# TYPE ") {
					t.Errorf("%s /metrics: %v", name, w)
				}
			}
			prefixes := map[string]string{"marketdata": "/mkt", "orchestrator": "/orch", "results": "/results"}
			for name, prefix := range prefixes {
				a := api{url: urls[name]}
				m := a.do(t, http.MethodGet, prefix+"/health", nil).object(t, http.StatusOK)
				if m["service"] != name {
					t.Errorf("GET %s/health on %s: %v", prefix, name, m)
				}
				for other, op := range prefixes {
					if other != name {
						a.do(t, http.MethodGet, op+"/health", nil).problemOf(t, http.StatusNotFound)
					}
				}
			}
			api{url: urls["worker"]}.do(t, http.MethodGet, "/orch/runs", nil).problemOf(t, http.StatusNotFound)

			sfx := uniqueSuffix()
			mkt, orch, res := api{url: urls["marketdata"]}, api{url: urls["orchestrator"]}, api{url: urls["results"]}
			mkt.do(t, http.MethodPost, "/mkt/snapshots", specMarket("MKT-SERVE-"+sfx, specAsOf)).object(t, http.StatusCreated)
			book := specBook("PS-SERVE-"+sfx, "BOOK-SERVE-"+sfx, specAsOf)
			book["positions"] = book["positions"].([]any)[:6]
			orch.do(t, http.MethodPost, "/orch/position-snapshots", book).object(t, http.StatusCreated)
			runID := "RUN-SERVE-" + sfx
			orch.do(t, http.MethodPost, "/orch/runs", specRun(runID, "MKT-SERVE-"+sfx, "PS-SERVE-"+sfx)).object(t, http.StatusCreated)
			if done, _ := orch.waitRun(t, runID); done["status"] != "COMPLETED" {
				t.Fatalf("run ended %v: %v", done["status"], done["error"])
			}
			sum := res.do(t, http.MethodGet, "/results/runs/"+runID+"/summary", nil).object(t, http.StatusOK)
			base := sum["scenarios"].(map[string]any)["BASE"].(map[string]any)
			if base["position_count"] != float64(6) {
				t.Errorf("summary BASE %v", base)
			}

			for _, srv := range servers {
				srv.Stop(t) // as SIGTERM does
			}
		})
	}
}

// dbProxy forwards TCP connections to a database and can cut them all,
// making the database unreachable for whoever connects through it.
type dbProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  []net.Conn
}

func startDBProxy(t *testing.T, target string) *dbProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &dbProxy{ln: ln, target: target}
	t.Cleanup(func() {
		ln.Close()
		p.setDown(true)
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			down := p.down
			p.mu.Unlock()
			if down {
				c.Close()
				continue
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
	return p
}

// setDown cuts every connection and refuses new ones (true), or lets new
// ones through again (false).
func (p *dbProxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}

// TestSpecHealthWithoutDatabase: "Health answers 200 … and 503 when the
// database cannot be reached", for a service in serve mode whose
// PostgreSQL goes away and comes back. (Health's 503 body is a problem
// whose "status" member is the health status "unavailable": the one place
// where SPEC's health shape and RFC 9457 meet; RFC 9457 consumers ignore a
// member of another type.)
func TestSpecHealthWithoutDatabase(t *testing.T) {
	var pg *testDatabase
	for _, tdb := range testDatabases(t) {
		if tdb.db.Driver == config.DriverPostgres {
			pg = &tdb
		}
	}
	if pg == nil {
		t.Skip("needs PostgreSQL (IPRS_TEST_DATABASE_URL): an embedded SQLite file cannot become unreachable")
	}
	u, err := url.Parse(pg.db.DSN)
	if err != nil {
		t.Fatal(err)
	}
	proxy := startDBProxy(t, u.Host)
	u.Host = proxy.ln.Addr().String()
	env := map[string]string{"DATABASE_URL": u.String(), "IPRS_LOG_LEVEL": "error"}
	if code, out, errOut := runIPRS(context.Background(), env, "migrate"); code != 0 {
		t.Fatalf("migrate: exit %d %s %s", code, out, errOut)
	}
	addr := freeAddr(t)
	env["IPRS_ADDR"] = addr
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		code, _, _ := runIPRS(ctx, env, "serve", "orchestrator")
		done <- code
	}()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop")
		}
	}()
	a := api{url: "http://" + addr}
	waitHealthy(t, a.url+"/orch/health")

	proxy.setDown(true)
	for _, path := range []string{"/health", "/orch/health"} {
		var w *wire
		deadline := time.Now().Add(30 * time.Second)
		for {
			w = a.do(t, http.MethodGet, path, nil)
			if w.status != http.StatusOK || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if w.status != http.StatusServiceUnavailable {
			t.Fatalf("database gone: %v, want 503", w)
		}
		if mt := w.mediaType(t); mt != "application/problem+json" {
			t.Errorf("%v: Content-Type %s", w, mt)
		}
		var m map[string]any
		if err := json.Unmarshal(w.body, &m); err != nil {
			t.Fatal(err)
		}
		if m["status"] != "unavailable" || m["service"] != "orchestrator" || m["type"] == nil || m["title"] == nil || m["detail"] == nil {
			t.Errorf("503 body %v", m)
		}
		if strings.Contains(string(w.body), u.Host) || strings.Contains(string(w.body), "dial") {
			t.Errorf("503 body shows the cause: %s", w.body)
		}
	}
	// A route that needs the database is a problem, not a hang or a crash.
	if w := a.do(t, http.MethodGet, "/orch/runs", nil); w.status < 500 {
		t.Errorf("database gone: %v, want a 5xx", w)
	} else {
		w.problemOf(t, w.status)
		for _, leak := range []string{u.Host, "dial", "pgx", "postgres", "SQLSTATE"} {
			if strings.Contains(string(w.body), leak) {
				t.Errorf("%v: the problem shows %q", w, leak)
			}
		}
	}

	proxy.setDown(false)
	waitHealthy(t, a.url+"/orch/health")
	listOf(t, a.do(t, http.MethodGet, "/orch/runs", nil))
}

// TestSpecDevCommand: `iprs dev` (SPEC §3) runs every service behind one
// listener at --addr, routing by prefix, on an embedded SQLite file unless
// DATABASE_URL names PostgreSQL, and loads a demo (a market, a book and a
// completed run) unless --no-demo.
func TestSpecDevCommand(t *testing.T) {
	for _, tdb := range testDatabases(t) {
		for _, demo := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/demo=%v", tdb.name, demo), func(t *testing.T) {
				env := map[string]string{}
				dataDir := t.TempDir()
				if tdb.db.Driver == config.DriverPostgres {
					// A schema of its own per run: the demo ids are fixed.
					db, err := config.ParseDatabaseURL(teststore.PostgresURL(t))
					if err != nil {
						t.Fatal(err)
					}
					env["DATABASE_URL"] = db.DSN
				}
				addr := freeAddr(t)
				args := []string{"dev", "--addr", addr, "--data-dir", dataDir, "--demo-loans", "40", "--demo-history", "12", "--workers", "2"}
				if !demo {
					args = append(args, "--no-demo")
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan int, 1)
				var stdout lockedBuffer
				go func() {
					done <- run(ctx, args, func(k string) string { return env[k] }, strings.NewReader(""), &stdout, io.Discard)
				}()
				defer func() {
					cancel()
					select {
					case code := <-done:
						if code != 0 {
							t.Errorf("dev exited %d", code)
						}
					case <-time.After(30 * time.Second):
						t.Error("dev did not stop")
					}
				}()
				a := api{url: "http://" + addr}
				waitHealthy(t, a.url+"/health")
				for path, service := range map[string]string{"/mkt/health": "marketdata", "/orch/health": "orchestrator", "/results/health": "results"} {
					if m := a.do(t, http.MethodGet, path, nil).object(t, http.StatusOK); m["service"] != service {
						t.Errorf("GET %s: %v", path, m)
					}
				}
				if tdb.db.Driver == config.DriverSQLite {
					if _, err := os.Stat(filepath.Join(dataDir, "iprs.db")); err != nil {
						t.Errorf("no embedded SQLite file in --data-dir: %v", err)
					}
				}
				if !demo {
					for _, path := range []string{"/mkt/snapshots", "/orch/runs"} {
						if items, _ := listOf(t, a.do(t, http.MethodGet, path, nil)); len(items) != 0 {
							t.Errorf("--no-demo: GET %s lists %d items", path, len(items))
						}
					}
					return
				}
				// The demo values the book three times: contractually with
				// every scenario, with the demo model set, and under the
				// historical set built from --demo-history days; then the
				// next business day's book contractually.
				demoRuns := map[string]bool{"RUN-DEMO-20260123-40": true, "RUN-DEMO-20260123-40-MODELLED": true, "RUN-DEMO-20260123-40-VAR": true,
					"RUN-DEMO-20260126-40": true}
				deadline := time.Now().Add(2 * time.Minute)
				for {
					runs, _ := listOf(t, a.do(t, http.MethodGet, "/orch/runs", nil))
					completed := 0
					for _, r := range runs {
						if !demoRuns[r["run_id"].(string)] {
							t.Fatalf("demo made an unexpected run %v", r)
						}
						switch r["status"] {
						case "COMPLETED":
							completed++
						case "QUEUED", "RUNNING":
						default:
							t.Fatalf("demo run %v", r)
						}
					}
					if completed == len(demoRuns) {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("demo runs after 2 minutes: %v", runs)
					}
					time.Sleep(50 * time.Millisecond)
				}
				sum := a.do(t, http.MethodGet, "/results/runs/RUN-DEMO-20260123-40/summary", nil).object(t, http.StatusOK)
				if len(sum["scenarios"].(map[string]any)) != len(specScenarios) {
					t.Errorf("demo summary %v", sum)
				}
				// The demo market, 12 days of history and the second day's.
				if items, _ := listOf(t, a.do(t, http.MethodGet, "/mkt/snapshots?limit=100", nil)); len(items) != 1+12+1 {
					t.Errorf("demo market snapshots: %d", len(items))
				}
				// 12 days make 11 one-day scenarios.
				v, _ := a.do(t, http.MethodGet, "/results/runs/RUN-DEMO-20260123-40-VAR/var?scenario_set_id=HIST-DEMO-1D&confidence=0.9", nil).jsonOf(t, http.StatusOK).([]any)
				if len(v) != 1 || v[0].(map[string]any)["scenario_count"] != float64(11) {
					t.Errorf("demo VaR of the book: %v", v)
				}
				checkDemoDayTwo(t, a, &stdout)
			})
		}
	}
}

// checkDemoDayTwo checks the demo's second day, of --demo-loans 40: the
// comparison the demo prints, and the one the API answers, count what the
// generator did to the book between the days — every position of both days
// breaks (the market and the date moved), the matured and prepaid loans
// are only in the first run, the new loans only in the second.
func checkDemoDayTwo(t *testing.T, a api, stdout *lockedBuffer) {
	t.Helper()
	day1 := gen.Demo(40, demoAsOf)
	stats, err := gen.EachRolled(day1, gen.DemoRoll(day1, gen.NextBusinessDay(demoAsOf)), func(*gen.Position) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if stats.Prepaid != 1 || stats.Restructured != 1 || stats.NewLoans != 1 || stats.Paid == 0 {
		t.Fatalf("the second day of 40 loans: %+v", stats)
	}
	want := fmt.Sprintf("%d positions: 0 matched, %d breaks, %d only in RUN-DEMO-20260123-40, %d only in RUN-DEMO-20260126-40",
		stats.Kept()+stats.Gone()+stats.NewLoans+stats.NewFXForwards, stats.Kept(), stats.Gone(), stats.NewLoans+stats.NewFXForwards)
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(stdout.String(), "Press Ctrl+C to stop.") {
		if time.Now().After(deadline) {
			t.Fatalf("the demo has not finished after its runs: %s", stdout.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	out := stdout.String()
	for _, line := range []string{
		want,
		"demo: explain " + demoExplainID + " of the P&L from RUN-DEMO-20260123-40 to RUN-DEMO-20260126-40",
		"explain " + demoExplainID + ": RUN-DEMO-20260123-40 → RUN-DEMO-20260126-40, COMPLETED",
		fmt.Sprintf("%d loans paid (%d payments), %d matured, 1 prepaid, 1 restructured, 1 new", stats.Paid, stats.Payments, stats.Matured),
	} {
		if !strings.Contains(out, line) {
			t.Errorf("the demo does not print %q:\n%s", line, out)
		}
	}
	cmp := a.do(t, http.MethodGet, "/results/compare?base=RUN-DEMO-20260123-40&target=RUN-DEMO-20260126-40", nil).object(t, http.StatusOK)
	counts := cmp["counts"].(map[string]any)
	if counts["matched"] != 0.0 || counts["breaks"] != float64(stats.Kept()) || counts["only_in_base"] != float64(stats.Gone()) ||
		counts["only_in_target"] != float64(stats.NewLoans+stats.NewFXForwards) {
		t.Errorf("compare counts %v, want every one of %d kept positions breaking, %d gone, %d new", counts, stats.Kept(), stats.Gone(), stats.NewLoans)
	}
	checkDemoExplain(t, a, out, stats.Kept()+stats.Gone()+stats.NewLoans+stats.NewFXForwards)
}

// demoExplainID is the id the server gives the demo's explain of its
// two days (of --demo-loans 40).
const demoExplainID = "EXPLAIN-RUN-DEMO-20260123-40-RUN-DEMO-20260126-40"

// checkDemoExplain checks the demo's explain of its two days: it is the
// one explain listed, COMPLETED (it is no run: checkDemoRuns' list of
// runs does not have it); its from_pv and to_pv are the two runs' BASE PV
// summaries — the same positions' stored PVs, each an exact sum rounded
// once, so equal to the last bit; and its total is to_pv − from_pv +
// carry_cashflows up to rounding, bounded below. The printed table
// carries the book's total.
func checkDemoExplain(t *testing.T, a api, out string, positions int) {
	t.Helper()
	explains, _ := listOf(t, a.do(t, http.MethodGet, "/orch/explains", nil))
	if len(explains) != 1 || explains[0]["explain_id"] != demoExplainID || explains[0]["status"] != "COMPLETED" ||
		explains[0]["from_run_id"] != "RUN-DEMO-20260123-40" || explains[0]["to_run_id"] != "RUN-DEMO-20260126-40" {
		t.Fatalf("GET /orch/explains lists %v, want the demo's one explain COMPLETED", explains)
	}
	basePV := func(runID string) float64 {
		sum := a.do(t, http.MethodGet, "/results/runs/"+runID+"/summary", nil).object(t, http.StatusOK)
		return sum["scenarios"].(map[string]any)["BASE"].(map[string]any)["measures"].(map[string]any)["PV"].(float64)
	}
	waterfall := func(query string) []client.ExplainItem {
		w := a.do(t, http.MethodGet, "/results/explains/"+demoExplainID+query, nil)
		var out struct{ Items []client.ExplainItem }
		if err := json.Unmarshal(w.body, &out); w.status != http.StatusOK || err != nil {
			t.Fatalf("%v (%v)", w, err)
		}
		return out.Items
	}
	whole := waterfall("")
	if len(whole) != 1 {
		t.Fatalf("the demo explain's waterfall: %+v", whole)
	}
	it := whole[0]
	if from, to := basePV("RUN-DEMO-20260123-40"), basePV("RUN-DEMO-20260126-40"); it.FromPV != from || it.ToPV != to {
		t.Errorf("explain from_pv %v to_pv %v, want the runs' BASE PVs %v and %v", it.FromPV, it.ToPV, from, to)
	}
	// Each position's seven steps telescope from its from_pv to its to_pv
	// plus its carry cashflows, each step one rounding (≤ 2⁻⁵³ of the
	// step); the book's components are exact sums rounded once, the total
	// once more, and the reference takes three roundings (its three sums)
	// and two of its own. So |total − reference| ≤ 2⁻⁵³ · (Σ over the
	// positions of their steps' magnitudes + the book's magnitudes · 2);
	// the instrument grouping stands for the positions (the generator
	// names each position's instrument after it: checked below), and a
	// factor 4 covers the book-level terms and the grouping's own
	// rounding.
	mag := func(i client.ExplainItem) float64 {
		return math.Abs(i.FromPV) + math.Abs(i.ToPV) + math.Abs(i.CarryCashflows) + math.Abs(i.Carry) + math.Abs(i.Rates) +
			math.Abs(i.Spread) + math.Abs(i.FX) + math.Abs(i.Amendments) + math.Abs(i.New) + math.Abs(i.Matured)
	}
	scale := mag(it)
	perPosition := waterfall("?by=instrument_id")
	if len(perPosition) != positions {
		t.Errorf("the explain has %d instruments, want one for each of the %d positions of the two days", len(perPosition), positions)
	}
	for _, g := range perPosition {
		scale += mag(g)
	}
	want := it.ToPV - it.FromPV + it.CarryCashflows
	if d, bound := math.Abs(it.Total-want), 4*0x1p-53*scale; d > bound {
		t.Errorf("explain total %v, to_pv − from_pv + carry_cashflows %v: off by %g > %g", it.Total, want, d, bound)
	}
	if it.Total == 0 || it.Carry == 0 || it.Rates == 0 || it.Matured == 0 || it.New == 0 {
		t.Errorf("the demo's two days should move carry, rates, matured and new: %+v", it)
	}
	if !strings.Contains(out, "total") || !strings.Contains(out, number(it.Total)) {
		t.Errorf("the demo does not print the explain's total %s:\n%s", number(it.Total), out)
	}
}
