package orchestrator_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/iprs/iprs/internal/canon"
	"github.com/iprs/iprs/internal/orchestrator"
	"github.com/iprs/iprs/internal/store/sqlite"
	"github.com/iprs/iprs/internal/web"
)

// fuzzHandler is an orchestrator over SQLite in a temporary directory,
// answering in process, with small bounds so that a fuzzer's inputs are
// cheap.
func fuzzHandler(f *testing.F) http.Handler {
	f.Helper()
	dir := f.TempDir()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "fuzz.db"), sqlite.Options{Migrate: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = st.Close() })
	logger := slog.New(slog.DiscardHandler)
	svc := orchestrator.New(st, logger, orchestrator.Options{EngineVersion: "fuzz", SpoolDir: dir, MaxUploadBytes: 1 << 20, MaxProblems: 20, BatchSize: 7})
	mux := web.NewMux(web.Config{Service: "orchestrator", Prefix: "/orch", Logger: logger, MaxBodyBytes: 1 << 20})
	svc.Register(mux)
	return mux.Handler()
}

// checkAnswer fails on a 5xx, and on an answer that is not the JSON (or
// problem) it claims to be. It returns the status.
func checkAnswer(t *testing.T, rec *httptest.ResponseRecorder, input []byte) int {
	t.Helper()
	if rec.Code >= 500 {
		t.Fatalf("%d for %q: %s", rec.Code, input, rec.Body.Bytes())
	}
	if !json.Valid(rec.Body.Bytes()) {
		t.Fatalf("%d for %q: the answer is not JSON: %q", rec.Code, input, rec.Body.Bytes())
	}
	if rec.Code >= 400 {
		var p web.Problem
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Status != rec.Code || rec.Header().Get("Content-Type") != web.ProblemContentType {
			t.Fatalf("%d for %q: not a problem: %s", rec.Code, input, rec.Body.Bytes())
		}
		for _, e := range p.Errors {
			if e.Pointer != "" && !strings.HasPrefix(e.Pointer, "/") {
				t.Fatalf("pointer %q is not a JSON Pointer", e.Pointer)
			}
		}
	}
	return rec.Code
}

func serveFuzz(h http.Handler, method, path, contentType string, body []byte) *httptest.ResponseRecorder {
	return serveFuzzQuery(h, method, path, "", contentType, body)
}

// serveFuzzQuery serves a request whose raw query is query, as it is:
// a handler may meet any bytes there.
func serveFuzzQuery(h http.Handler, method, path, query, contentType string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.URL.RawQuery = query
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// FuzzUploadJSON posts arbitrary bodies as JSON position snapshots: never
// a panic or a 5xx, and nothing is accepted that is not JSON a canonical
// form exists for (no repeated member, no text that is not Unicode).
func FuzzUploadJSON(f *testing.F) {
	for _, s := range []string{
		`{"as_of_time":"2026-01-23T00:00:00Z","portfolio_node_id":"B","positions":[{"position_id":"P","product_type":"FIXED_BOND","attributes":{"cashflows":[{"pay_date":"2026-07-23","amount":25}]}}]}`,
		`{"as_of_time":"2026-01-23T00:00:00Z","portfolio_node_id":"B","positions":[{"position_id":"L","product_type":"AMORT_LOAN","quantity":2,"attributes":{"current_principal":1000,"coupon_rate":0.1,"last_payment_date":"2025-12-23","remaining_term_months":12,"next_payment_date":"2026-01-31"}}],"position_snapshot_id":"PS-F"}`,
		`{"as_of_time":1e400,"portfolio_node_id":-1e400,"positions":1e400}`,
		`{"as_of_time":"2026-01-23T00:00:00Z","portfolio_node_id":"\ud800","positions":[]}`,
		`{"positions":[{"position_id":"a","position_id":"b"}],"positions":[]}`,
		`{"positions":[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]}`,
		`[` + strings.Repeat(`[`, 600) + strings.Repeat(`]`, 600) + `]`,
		"{\"portfolio_node_id\":\"\xff\xfe\"}",
		`{"as_of_time":"2026-01-23T00:00:00Z","portfolio_node_id":"B","positions":[{"position_id":"P\u0000","product_type":"FX_FWD","attributes":{"a":1,"a":2}}]}`,
		`{} {}`, ``, `{`, `nul`, `"\ud83d\ude00"`,
	} {
		f.Add([]byte(s))
	}
	h := fuzzHandler(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		code := checkAnswer(t, serveFuzz(h, http.MethodPost, "/orch/position-snapshots", "application/json", body), body)
		if code < 300 {
			if _, err := (canon.Options{AllowOutOfRange: true}).Canonicalize(body); err != nil {
				t.Fatalf("accepted %q, which has no canonical form: %v", body, err)
			}
		}
	})
}

// FuzzUploadCSV posts arbitrary loan tapes with arbitrary queries: never
// a panic or a 5xx, and nothing accepted that is not a UTF-8 CSV with a
// header.
func FuzzUploadCSV(f *testing.F) {
	const q = "portfolio_node_id=BOOK&as_of_time=2026-01-23T00:00:00Z"
	for _, s := range []struct{ query, body string }{
		{q, "position_id,product_type,current_principal,coupon_rate,last_payment_date,next_payment_date,remaining_term_months\nL1,AMORT_LOAN,1000,0.05,2025-12-15,2026-02-15,12\n"},
		{q + "&position_snapshot_id=PS-C", "position_id,product_type,quantity,notional_base,forward_rate,maturity_date,fx_pair\r\nF1,FX_FWD,-1,1e6,1.1,2026-07-23,EURUSD\r\n"},
		{q, "\xef\xbb\xbfposition_id,product_type\nP,FIXED_BOND\n"},
		{q, "position_id,product_type,x\n\"a\"\"b\",FX_FWD,\"multi\nline\"\n"},
		{q, "position_id,product_type,x\nP,FX_FWD,1e400\nP,FX_FWD,-0\n"},
		{q, "position_id,product_type,x,x\n"},
		{q, "position_id,product_type\nP\"Q,R\n"},
		{q, "position_id,product_type,cashflows\n"},
		{q, "position_id,product_type\n\xff,\xfe\n"},
		{q, "position_id,product_type,n\nP,FX_FWD,\x00\n"},
		{"portfolio_node_id=%zz", "position_id\n"},
		{"as_of_time=1&as_of_time=2", ""},
		{q, ""},
	} {
		f.Add(s.query, []byte(s.body))
	}
	h := fuzzHandler(f)
	f.Fuzz(func(t *testing.T, query string, body []byte) {
		code := checkAnswer(t, serveFuzzQuery(h, http.MethodPost, "/orch/position-snapshots", query, "text/csv", body), body)
		if code < 300 {
			if !utf8.Valid(body) {
				t.Fatalf("accepted a tape that is not UTF-8: %q", body)
			}
			if _, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")))).ReadAll(); err != nil {
				t.Fatalf("accepted %q, which encoding/csv refuses: %v", body, err)
			}
		}
	})
}

// FuzzRunRequest posts arbitrary run requests: never a panic or a 5xx,
// and nothing accepted (201/200) or checked against the store (422) that
// has a repeated member or text that is not Unicode.
func FuzzRunRequest(f *testing.F) {
	for _, s := range []string{
		`{"run_id":"R1","run_type":"SANDBOX","as_of_time":"2026-01-23T00:00:00Z","market_snapshot_id":"M","position_snapshot_id":"P","measures":["PV"],"scenarios":["BASE",{"scenario_set_id":"S"}]}`,
		`{"run_type":"EOD_OFFICIAL","as_of_time":"2026-01-23T00:00:00Z","market_snapshot_id":"M","portfolio_scope":{"node_ids":["A","A",""]},"measures":["PV","PV"],"scenarios":[],"execution":{"hash_mod":4096,"max_attempts":0}}`,
		`{"run_id":"A","run_id":"B"}`,
		`{"RUN_ID":"A","run_type":"SANDBOX"}`,
		`{"run_type":"SANDBOX","as_of_time":"0001-01-01T00:00:00Z","execution":{"hash_mod":1e400}}`,
		`{"market_snapshot_id":"\udc00","scenarios":[{"scenario_set_id":"\ud800"},{"scenario_set_id":1}]}`,
		"{\"market_snapshot_id\":\"\xc0\xaf\"}",
		`{"scenarios":[{"scenario_set_id":"S","scenario_set_id":"T"}]}`,
		`[]`, `null`, ``, `{"measures":null,"scenarios":null}`,
	} {
		f.Add([]byte(s))
	}
	h := fuzzHandler(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		code := checkAnswer(t, serveFuzz(h, http.MethodPost, "/orch/runs", "application/json", body), body)
		if code != http.StatusBadRequest && code != http.StatusRequestEntityTooLarge {
			if _, err := (canon.Options{AllowOutOfRange: true}).Canonicalize(body); err != nil {
				t.Fatalf("%d for %q, which has no canonical form: %v", code, body, err)
			}
		}
	})
}
