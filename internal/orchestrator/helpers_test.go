package orchestrator_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/iprs/iprs/internal/auth"
	"github.com/iprs/iprs/internal/canon"
	"github.com/iprs/iprs/internal/orchestrator"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/store/teststore"
	"github.com/iprs/iprs/internal/web"
	"github.com/iprs/iprs/internal/webhook"
)

// testMaxBody is the normal body bound of the test servers.
const testMaxBody = 64 << 10

// env is one orchestrator over a fresh SQLite database behind a test server.
type env struct {
	t     *testing.T
	ctx   context.Context
	store store.Store
	svc   *orchestrator.Service
	srv   *httptest.Server
	reg   *prometheus.Registry
	clock *clock
	token string // the bearer token do sends, if any
}

// as returns e sending token with every request.
func (e *env) as(token string) *env {
	c := *e
	c.token = token
	return &c
}

// clock is a settable test clock, safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

type envOpts struct {
	maxUpload   int64
	maxProblems int
	batchSize   int
	principals  []auth.Principal
	fourEyes    bool
	webhookURLs webhook.URLPolicy
	// writeWhileReading sets Options.WriteWhileReading; writeWait its
	// WriteWaitLimit.
	writeWhileReading bool
	writeWait         time.Duration
	// engineVersion is Options.EngineVersion; "" means pricing-test-1.
	engineVersion string
}

// eachWriteMode runs fn as eachStore does, once writing uploads after
// their body is read and once while it is read (Options.WriteWhileReading).
func eachWriteMode(t *testing.T, opt envOpts, fn func(t *testing.T, e *env)) {
	t.Helper()
	for _, early := range []bool{false, true} {
		o := opt
		o.writeWhileReading = early
		name := "after-read"
		if early {
			name = "while-reading"
		}
		t.Run(name, func(t *testing.T) { eachStore(t, o, fn) })
	}
}

// eachStore runs fn on a fresh orchestrator for every backend.
func eachStore(t *testing.T, opt envOpts, fn func(t *testing.T, e *env)) {
	t.Helper()
	for _, b := range teststore.Backends() {
		t.Run(b.Name, func(t *testing.T) { fn(t, setup(t, b.Open(t), opt)) })
	}
}

func setup(t *testing.T, st store.Store, opt envOpts) *env {
	t.Helper()
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() && os.Getenv("IPRS_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	reg := prometheus.NewRegistry()
	clk := &clock{t: time.Date(2026, 1, 23, 18, 0, 0, 0, time.UTC)}
	engineVersion := opt.engineVersion
	if engineVersion == "" {
		engineVersion = "pricing-test-1"
	}
	svc := orchestrator.New(st, logger, orchestrator.Options{
		Now:            clk.Now,
		EngineVersion:  engineVersion,
		MaxUploadBytes: opt.maxUpload,
		MaxProblems:    opt.maxProblems,
		BatchSize:      opt.batchSize,
		SpoolDir:       t.TempDir(),
		Registerer:     reg,
		FourEyes:       opt.fourEyes,
		WebhookURLs:    opt.webhookURLs,

		WriteWhileReading: opt.writeWhileReading,
		WriteWaitLimit:    opt.writeWait,
	})
	mux := web.NewMux(web.Config{Service: "orchestrator", Version: "test", Prefix: "/orch", Logger: logger, MaxBodyBytes: testMaxBody,
		Principals: opt.principals})
	svc.Register(mux)
	srv := httptest.NewServer(mux.Handler())
	t.Cleanup(srv.Close)
	return &env{t: t, ctx: ctx, store: st, svc: svc, srv: srv, reg: reg, clock: clk}
}

// response is a decoded answer.
type response struct {
	status int
	body   []byte
	header http.Header
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("decode answer %q: %v", r.body, err)
	}
	return m
}

// problemPointers returns the pointers of a problem answer's errors.
func (r response) problems(t *testing.T) []problemField {
	t.Helper()
	var p struct {
		Status int            `json:"status"`
		Errors []problemField `json:"errors"`
	}
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("decode problem %q: %v", r.body, err)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("problem content type %q", ct)
	}
	if p.Status != r.status {
		t.Fatalf("problem status %d, answer status %d", p.Status, r.status)
	}
	return p.Errors
}

type problemField struct {
	Pointer   string `json:"pointer"`
	Parameter string `json:"parameter"`
	Detail    string `json:"detail"`
}

func (e *env) do(method, path string, body []byte) response {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(e.ctx, method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatalf("new request: %v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if e.token != "" {
		req.Header.Set("Authorization", "Bearer "+e.token)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("read answer: %v", err)
	}
	return response{status: res.StatusCode, body: b, header: res.Header}
}

func (e *env) mustStatus(r response, want int) {
	e.t.Helper()
	if r.status != want {
		e.t.Fatalf("status %d, want %d: %s", r.status, want, r.body)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return b
}

// readFixture reads a payload existing clients send, kept verbatim in
// testdata.
func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	return b
}

// hasPointer reports whether a problem with the pointer (and, when
// detailPart is not empty, a detail containing it) is listed.
func hasPointer(list []problemField, pointer, detailPart string) bool {
	for _, p := range list {
		if p.Pointer == pointer && strings.Contains(p.Detail, detailPart) {
			return true
		}
	}
	return false
}

func requirePointer(t *testing.T, list []problemField, pointer, detailPart string) {
	t.Helper()
	if !hasPointer(list, pointer, detailPart) {
		t.Fatalf("no problem at %q with detail containing %q in %+v", pointer, detailPart, list)
	}
}

// Market data.

// marketJSON is a market snapshot payload.
func marketJSON(id string, curves []string, pairs map[string]float64) []byte {
	var cs []map[string]any
	for _, c := range curves {
		cs = append(cs, map[string]any{
			"curve_id":   c,
			"curve_type": "DISCOUNT",
			"nodes": []map[string]any{
				{"tenor": "1M", "zero_rate": 0.04},
				{"tenor": "1Y", "zero_rate": 0.045},
				{"tenor": "10Y", "zero_rate": 0.05},
			},
		})
	}
	var fx []map[string]any
	for p, s := range pairs {
		fx = append(fx, map[string]any{"pair": p, "spot": s})
	}
	b, _ := json.Marshal(map[string]any{
		"snapshot_id": id,
		"as_of_time":  "2026-01-23T00:00:00Z",
		"vendor":      "TEST",
		"universe_id": "USD",
		"fx_spots":    fx,
		"curves":      cs,
	})
	return b
}

func canonHash(payload []byte) ([]byte, string, error) { return canon.Hash(payload) }

// marketRow is a PASS market snapshot row for a canonical payload.
func marketRow(id string, canonical []byte, sum string) *store.MarketSnapshot {
	return &store.MarketSnapshot{
		ID:          id,
		AsOfTime:    time.Date(2026, 1, 23, 0, 0, 0, 0, time.UTC),
		Vendor:      "TEST",
		UniverseID:  "USD",
		Payload:     canonical,
		PayloadHash: sum,
		DQStatus:    "PASS",
		Issues:      []byte("[]"),
		CreatedAt:   time.Date(2026, 1, 23, 1, 0, 0, 0, time.UTC),
	}
}

// addMarket stores a market snapshot through the store.
func (e *env) addMarket(id, dq string, payload []byte) *store.MarketSnapshot {
	e.t.Helper()
	canonical, sum, err := canonHash(payload)
	if err != nil {
		e.t.Fatalf("canonicalize market: %v", err)
	}
	row := marketRow(id, canonical, sum)
	row.DQStatus = dq
	ms, _, err := e.store.MarketSnapshotCreate(e.ctx, row)
	if err != nil {
		e.t.Fatalf("store market snapshot: %v", err)
	}
	return ms
}

// addFullMarket stores a PASS market with every curve and pair the test
// positions need.
func (e *env) addFullMarket(id string) *store.MarketSnapshot {
	return e.addMarket(id, "PASS", marketJSON(id, []string{"USD-OIS", "LOAN-SPREAD", "FI-SPREAD", "EUR-OIS"}, map[string]float64{"EURUSD": 1.09}))
}

// Positions.

func loanByTerms(id string, principal float64) map[string]any {
	return map[string]any{
		"position_id":   id,
		"instrument_id": "INS-" + id,
		"product_type":  "AMORT_LOAN",
		"attributes": map[string]any{
			"current_principal":     principal,
			"coupon_rate":           0.12,
			"last_payment_date":     "2025-12-15",
			"next_payment_date":     "2026-02-15",
			"remaining_term_months": 36,
			"grade":                 "B",
		},
	}
}

func bond(id string) map[string]any {
	return map[string]any{
		"position_id":   id,
		"instrument_id": "INS-" + id,
		"product_type":  "FIXED_BOND",
		"quantity":      2.0,
		"attributes": map[string]any{
			"cashflows": []map[string]any{
				{"pay_date": "2026-07-23", "amount": 25.0},
				{"pay_date": "2027-01-23", "amount": 1025.0},
			},
		},
	}
}

func fxForward(id string) map[string]any {
	return map[string]any{
		"position_id":   id,
		"instrument_id": "INS-" + id,
		"product_type":  "FX_FWD",
		"attributes": map[string]any{
			"notional_base": 1000000.0,
			"forward_rate":  1.1,
			"maturity_date": "2026-07-23",
			"fx_pair":       "EURUSD",
		},
	}
}

func snapshotBody(id, node, asOf string, positions []map[string]any) map[string]any {
	b := map[string]any{
		"as_of_time":        asOf,
		"portfolio_node_id": node,
		"positions":         positions,
	}
	if id != "" {
		b["position_snapshot_id"] = id
	}
	return b
}

// upload posts a snapshot and requires the status.
func (e *env) upload(body any, want int) map[string]any {
	e.t.Helper()
	var b []byte
	switch v := body.(type) {
	case []byte:
		b = v
	default:
		b = mustJSON(e.t, v)
	}
	r := e.do(http.MethodPost, "/orch/position-snapshots", b)
	e.mustStatus(r, want)
	return r.json(e.t)
}

// bucketOf is the bucket of a position computed here from the documented
// recipe: the first 8 bytes of SHA-256(id), big-endian, top bit cleared,
// mod hashMod.
func bucketOf(id string, hashMod int) int {
	sum := sha256.Sum256([]byte(id))
	h := binary.BigEndian.Uint64(sum[:8]) &^ (1 << 63)
	return int(h % uint64(hashMod))
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func num(v any) float64 {
	f, _ := v.(float64)
	return f
}
