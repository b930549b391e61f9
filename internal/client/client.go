// Package client talks to a running IPRS platform over its HTTP API, through
// the same path prefixes the load balancer routes (/mkt, /orch, /results).
// The iprs command's client subcommands, the dev demo and the end-to-end
// benchmark use it.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Client is an IPRS API client. The zero value is not usable: use New.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// New returns a client for the platform at baseURL (such as
// "http://localhost:8080"), sending token as a bearer token when non-empty.
func New(baseURL, token string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: 0}
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), token: token, http: hc}
}

// Problem is an RFC 9457 problem returned by the API.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Pointer   string `json:"pointer"`
		Parameter string `json:"parameter,omitempty"`
		Detail    string `json:"detail"`
	} `json:"errors,omitempty"`
}

func (p *Problem) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s", p.Status, p.Title)
	if p.Detail != "" {
		fmt.Fprintf(&b, ": %s", p.Detail)
	}
	for i, e := range p.Errors {
		if i == 20 {
			fmt.Fprintf(&b, "\n  … and %d more", len(p.Errors)-i)
			break
		}
		where := e.Pointer
		if e.Parameter != "" {
			where = "?" + e.Parameter
		}
		fmt.Fprintf(&b, "\n  %s: %s", where, e.Detail)
	}
	return b.String()
}

// IsUnreachable reports whether err is a failure to reach the server at
// all (nothing listening, no such host, a dial timeout), as opposed to an
// answer from it.
func IsUnreachable(err error) bool {
	var dns *net.DNSError
	var op *net.OpError
	return errors.As(err, &dns) || (errors.As(err, &op) && op.Op == "dial")
}

// NoRoute reports whether err is the 404 of a server that has no such
// route (rather than no such resource): the URL points at a service that
// does not serve that prefix.
func NoRoute(err error) bool {
	var p *Problem
	return errors.As(err, &p) && p.Status == http.StatusNotFound && strings.HasPrefix(p.Detail, "no route matches")
}

// StatusOf returns the HTTP status of a *Problem in err's chain, or 0.
func StatusOf(err error) int {
	var p *Problem
	if errors.As(err, &p) {
		return p.Status
	}
	return 0
}

// Do sends a request and decodes a JSON answer into out (when non-nil). It
// returns the status; a status of 400 or more is returned as a *Problem.
func (c *Client) Do(ctx context.Context, method, path string, body io.Reader, contentType string, out any) (int, error) {
	resp, err := c.send(ctx, method, path, body, contentType)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// Stream sends a GET and returns the open body of a successful answer; the
// caller closes it.
func (c *Client) Stream(ctx context.Context, path string) (io.ReadCloser, error) {
	resp, err := c.send(ctx, http.MethodGet, path, nil, "")
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

func (c *Client) send(ctx context.Context, method, path string, body io.Reader, contentType string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 400 {
		defer resp.Body.Close()
		p := &Problem{Status: resp.StatusCode, Title: http.StatusText(resp.StatusCode)}
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err := json.Unmarshal(raw, p); err != nil && len(raw) > 0 {
			p.Detail = strings.TrimSpace(string(raw))
		}
		return nil, p
	}
	return resp, nil
}

func (c *Client) postJSON(ctx context.Context, path string, in, out any) (int, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return 0, fmt.Errorf("encode request for %s: %w", path, err)
	}
	return c.Do(ctx, http.MethodPost, path, bytes.NewReader(b), "application/json", out)
}

// SnapshotReceipt is the answer to a market or position snapshot upload.
type SnapshotReceipt struct {
	SnapshotID         string          `json:"snapshot_id,omitempty"`
	PositionSnapshotID string          `json:"position_snapshot_id,omitempty"`
	PayloadHash        string          `json:"payload_hash"`
	DQStatus           string          `json:"dq_status,omitempty"`
	Issues             json.RawMessage `json:"issues,omitempty"`
	PositionCount      int64           `json:"position_count,omitempty"`
	ProductTypes       []string        `json:"product_types,omitempty"`
	CreatedAt          *time.Time      `json:"created_at,omitempty"`
}

// PushMarketSnapshot uploads a market snapshot document. created is false
// when the same snapshot was already stored.
func (c *Client) PushMarketSnapshot(ctx context.Context, doc io.Reader) (rec SnapshotReceipt, created bool, err error) {
	status, err := c.Do(ctx, http.MethodPost, "/mkt/snapshots", doc, "application/json", &rec)
	return rec, status == http.StatusCreated, err
}

// PushPositionSnapshot uploads a position snapshot document, streamed.
func (c *Client) PushPositionSnapshot(ctx context.Context, doc io.Reader) (rec SnapshotReceipt, created bool, err error) {
	status, err := c.Do(ctx, http.MethodPost, "/orch/position-snapshots", doc, "application/json", &rec)
	return rec, status == http.StatusCreated, err
}

// TapeParams are the snapshot members of a CSV loan tape upload, which
// travel in the query.
type TapeParams struct {
	PortfolioNodeID    string
	AsOfTime           string // RFC 3339
	PositionSnapshotID string // empty: the server makes one
}

// PushPositionTape uploads a CSV loan tape (SPEC §5), streamed.
func (c *Client) PushPositionTape(ctx context.Context, tape io.Reader, p TapeParams) (rec SnapshotReceipt, created bool, err error) {
	q := url.Values{"portfolio_node_id": {p.PortfolioNodeID}, "as_of_time": {p.AsOfTime}}
	if p.PositionSnapshotID != "" {
		q.Set("position_snapshot_id", p.PositionSnapshotID)
	}
	status, err := c.Do(ctx, http.MethodPost, "/orch/position-snapshots?"+q.Encode(), tape, "text/csv; charset=utf-8", &rec)
	return rec, status == http.StatusCreated, err
}

// Progress is a run's progress.
type Progress struct {
	TasksTotal     int64            `json:"tasks_total"`
	TasksByStatus  map[string]int64 `json:"tasks_by_status"`
	PositionsTotal int64            `json:"positions_total"`
	PositionsDone  int64            `json:"positions_done"`
}

// Run is a run as the API shows it.
type Run struct {
	RunID              string     `json:"run_id"`
	RunType            string     `json:"run_type"`
	Status             string     `json:"status"`
	AsOfTime           time.Time  `json:"as_of_time"`
	MarketSnapshotID   string     `json:"market_snapshot_id"`
	PositionSnapshotID *string    `json:"position_snapshot_id"`
	Measures           []string   `json:"measures"`
	Scenarios          []string   `json:"scenarios"`
	RequestedAt        time.Time  `json:"requested_at"`
	StartedAt          *time.Time `json:"started_at"`
	CompletedAt        *time.Time `json:"completed_at"`
	Progress           Progress   `json:"progress"`
	Error              *string    `json:"error"`
	PublishHash        string     `json:"publish_hash,omitempty"`
}

// Final reports whether the run's status can no longer change by itself.
func (r *Run) Final() bool {
	switch r.Status {
	case "COMPLETED", "FAILED", "CANCELLED", "PUBLISHED":
		return true
	}
	return false
}

// SubmitRun submits a run request (any JSON-encodable value or raw JSON).
func (c *Client) SubmitRun(ctx context.Context, req any) (run Run, created bool, err error) {
	var status int
	if raw, ok := req.(json.RawMessage); ok {
		status, err = c.Do(ctx, http.MethodPost, "/orch/runs", bytes.NewReader(raw), "application/json", &run)
	} else {
		status, err = c.postJSON(ctx, "/orch/runs", req, &run)
	}
	return run, status == http.StatusCreated, err
}

// ListRuns fetches one page of runs, newest first, of one status when
// status is not empty; next is the cursor of the following page ("" after
// the last).
func (c *Client) ListRuns(ctx context.Context, status string, limit int, cursor string) (runs []Run, next string, err error) {
	q := url.Values{}
	if status != "" {
		q.Set("status", status)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	var page struct {
		Items      []Run   `json:"items"`
		NextCursor *string `json:"next_cursor"`
	}
	path := "/orch/runs"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	if _, err := c.Do(ctx, http.MethodGet, path, nil, "", &page); err != nil {
		return nil, "", err
	}
	if page.NextCursor != nil {
		next = *page.NextCursor
	}
	return page.Items, next, nil
}

// GetRun fetches a run.
func (c *Client) GetRun(ctx context.Context, id string) (Run, error) {
	var run Run
	_, err := c.Do(ctx, http.MethodGet, "/orch/runs/"+url.PathEscape(id), nil, "", &run)
	return run, err
}

// CancelRun asks for a run to stop.
func (c *Client) CancelRun(ctx context.Context, id string) (Run, error) {
	var run Run
	_, err := c.Do(ctx, http.MethodPost, "/orch/runs/"+url.PathEscape(id)+"/cancel", nil, "", &run)
	return run, err
}

// PublishRun publishes a completed run.
func (c *Client) PublishRun(ctx context.Context, id string) (Run, error) {
	var run Run
	_, err := c.Do(ctx, http.MethodPost, "/orch/runs/"+url.PathEscape(id)+"/publish", nil, "", &run)
	return run, err
}

// WaitRun polls the run every interval until it is final or ctx ends,
// calling onProgress (when non-nil) after each poll.
func (c *Client) WaitRun(ctx context.Context, id string, interval time.Duration, onProgress func(Run)) (Run, error) {
	return poll(ctx, interval, func() (Run, error) { return c.GetRun(ctx, id) }, (*Run).Final, onProgress)
}

// Wait polls get every interval until what it answers is final or ctx
// ends, calling onProgress (when non-nil) after each poll: WaitRun for
// anything that progresses as a run does (an explain).
func Wait(ctx context.Context, interval time.Duration, get func(context.Context) (Run, error), onProgress func(Run)) (Run, error) {
	return poll(ctx, interval, func() (Run, error) { return get(ctx) }, (*Run).Final, onProgress)
}

// poll calls get every interval until final says its answer is final, get
// fails or ctx ends, calling onProgress (when non-nil) after each answer.
func poll[T any](ctx context.Context, interval time.Duration, get func() (T, error), final func(*T) bool, onProgress func(T)) (T, error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		v, err := get()
		if err != nil {
			return v, err
		}
		if onProgress != nil {
			onProgress(v)
		}
		if final(&v) {
			return v, nil
		}
		select {
		case <-ctx.Done():
			return v, ctx.Err()
		case <-t.C:
		}
	}
}

// Summary is a run's results summary.
type Summary struct {
	RunID     string                     `json:"run_id"`
	Status    string                     `json:"status"`
	Partial   bool                       `json:"partial"`
	Scenarios map[string]ScenarioSummary `json:"scenarios"`
}

// ScenarioSummary aggregates one scenario's measures.
type ScenarioSummary struct {
	PositionCount int64             `json:"position_count"`
	Measures      map[string]Figure `json:"measures"`
	PnL           *float64          `json:"pnl,omitempty"`
}

// Figure is an aggregate as the API gives it: a number, or an object of
// figures (FX_DELTA per currency, KR01 per curve and tenor).
type Figure struct {
	Number *float64
	Parts  map[string]Figure
}

// UnmarshalJSON reads a number or an object of figures.
func (f *Figure) UnmarshalJSON(b []byte) error {
	*f = Figure{}
	if len(b) > 0 && b[0] == '{' {
		return json.Unmarshal(b, &f.Parts)
	}
	var x float64
	if err := json.Unmarshal(b, &x); err != nil {
		return fmt.Errorf("figure: %w", err)
	}
	f.Number = &x
	return nil
}

// Flatten adds the figure's numbers to into, under name for a number and
// under name:KEY (name:KEY:KEY for nested objects) for the parts of an
// object, e.g. FX_DELTA:EUR or KR01:USD-OIS:3M.
func (f Figure) Flatten(name string, into map[string]float64) {
	if f.Number != nil {
		into[name] = *f.Number
		return
	}
	for k, p := range f.Parts {
		p.Flatten(name+":"+k, into)
	}
}

// String formats a number with two decimals, and an object as its flat
// parts "KEY value", sorted and separated by "; ".
func (f Figure) String() string {
	if f.Number != nil {
		return strconv.FormatFloat(*f.Number, 'f', 2, 64)
	}
	flat := map[string]float64{}
	f.Flatten("", flat)
	keys := make([]string, 0, len(flat))
	for k := range flat {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = strings.TrimPrefix(k, ":") + " " + strconv.FormatFloat(flat[k], 'f', 2, 64)
	}
	return strings.Join(parts, "; ")
}

// Summary fetches a run's summary.
func (c *Client) Summary(ctx context.Context, id string) (Summary, error) {
	var s Summary
	_, err := c.Do(ctx, http.MethodGet, "/results/runs/"+url.PathEscape(id)+"/summary", nil, "", &s)
	return s, err
}

// CubeCell is one group of a cube.
type CubeCell struct {
	Key   string `json:"key"`
	Value Figure `json:"value"`
	Count int64  `json:"count"`
}

// Cube aggregates a measure by a dimension under a scenario.
func (c *Client) Cube(ctx context.Context, id, measure, by, scenario string) ([]CubeCell, error) {
	q := url.Values{"measure": {measure}, "by": {by}}
	if scenario != "" {
		q.Set("scenario", scenario)
	}
	var cells []CubeCell
	_, err := c.Do(ctx, http.MethodGet, "/results/runs/"+url.PathEscape(id)+"/cube?"+q.Encode(), nil, "", &cells)
	return cells, err
}

// ExportCSV streams a run's results as CSV; the caller closes the body.
func (c *Client) ExportCSV(ctx context.Context, id, scenario string) (io.ReadCloser, error) {
	path := "/results/runs/" + url.PathEscape(id) + "/export.csv"
	if scenario != "" {
		path += "?scenario=" + url.QueryEscape(scenario)
	}
	return c.Stream(ctx, path)
}

// Health asks one prefix's health route ("/mkt", "/orch", "/results").
func (c *Client) Health(ctx context.Context, prefix string) error {
	_, err := c.Do(ctx, http.MethodGet, prefix+"/health", nil, "", nil)
	return err
}

// FormatCount formats n with thousands separators.
func FormatCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
