package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// Explain is a P&L explain as the API shows it (GET /orch/explains/{id}).
type Explain struct {
	ExplainID   string     `json:"explain_id"`
	FromRunID   string     `json:"from_run_id"`
	ToRunID     string     `json:"to_run_id"`
	Status      string     `json:"status"`
	AsOfTime    time.Time  `json:"as_of_time"`
	RequestedAt time.Time  `json:"requested_at"`
	StartedAt   *time.Time `json:"started_at"`
	CompletedAt *time.Time `json:"completed_at"`
	Progress    Progress   `json:"progress"`
	Error       *string    `json:"error"`
}

// AsRun is the explain seen as the run that values it, for progress.
func (e Explain) AsRun() Run {
	return Run{RunID: e.ExplainID, Status: e.Status, AsOfTime: e.AsOfTime, RequestedAt: e.RequestedAt,
		StartedAt: e.StartedAt, CompletedAt: e.CompletedAt, Progress: e.Progress, Error: e.Error}
}

// ExplainRequest is the body of POST /orch/explains; ExplainID may be
// empty (the server names it).
type ExplainRequest struct {
	ExplainID string `json:"explain_id,omitempty"`
	FromRunID string `json:"from_run_id"`
	ToRunID   string `json:"to_run_id"`
}

// CreateExplain asks for the explain of the P&L between two runs.
func (c *Client) CreateExplain(ctx context.Context, req ExplainRequest) (e Explain, created bool, err error) {
	status, err := c.postJSON(ctx, "/orch/explains", req, &e)
	return e, status == http.StatusCreated, err
}

// GetExplain fetches an explain's status and progress.
func (c *Client) GetExplain(ctx context.Context, id string) (Explain, error) {
	var e Explain
	_, err := c.Do(ctx, http.MethodGet, "/orch/explains/"+url.PathEscape(id), nil, "", &e)
	return e, err
}

// ExplainItem is one group of an explain's waterfall.
type ExplainItem struct {
	Key            *string `json:"key"`
	FromPV         float64 `json:"from_pv"`
	ToPV           float64 `json:"to_pv"`
	CarryCashflows float64 `json:"carry_cashflows"`
	Carry          float64 `json:"carry"`
	Rates          float64 `json:"rates"`
	Spread         float64 `json:"spread"`
	FX             float64 `json:"fx"`
	Amendments     float64 `json:"amendments"`
	New            float64 `json:"new"`
	Matured        float64 `json:"matured"`
	Total          float64 `json:"total"`
}

// ExplainResults fetches the waterfall of an explain, by a grouping of
// the cube (by and bands may be empty: the whole explain).
func (c *Client) ExplainResults(ctx context.Context, id, by, bands string) ([]ExplainItem, error) {
	q := url.Values{}
	if by != "" {
		q.Set("by", by)
	}
	if bands != "" {
		q.Set("bands", bands)
	}
	path := "/results/explains/" + url.PathEscape(id)
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out struct {
		Items []ExplainItem `json:"items"`
	}
	_, err := c.Do(ctx, http.MethodGet, path, nil, "", &out)
	return out.Items, err
}
