package client

import (
	"context"
	"net/http"
	"net/url"
)

// CubeBands is Cube with numeric bands for a by=attr:NAME grouping
// ("b1,b2,…"; "" for none).
func (c *Client) CubeBands(ctx context.Context, id, measure, by, scenario, bands string) ([]CubeCell, error) {
	q := url.Values{"measure": {measure}, "by": {by}}
	if scenario != "" {
		q.Set("scenario", scenario)
	}
	if bands != "" {
		q.Set("bands", bands)
	}
	var cells []CubeCell
	_, err := c.Do(ctx, http.MethodGet, "/results/runs/"+url.PathEscape(id)+"/cube?"+q.Encode(), nil, "", &cells)
	return cells, err
}

// Strat is one group of a loan-tape stratification; the averages are nil
// when the group has nothing to average.
type Strat struct {
	Key        *string  `json:"key"`
	Count      int64    `json:"count"`
	Balance    float64  `json:"balance"`
	BalancePct *float64 `json:"balance_pct"`
	WAC        *float64 `json:"wac"`
	FICO       *float64 `json:"fico"`
	WALA       *float64 `json:"wala"`
	WAM        *float64 `json:"wam"`
}

// Strats stratifies the loans of a position snapshot by a grouping ("" for
// the whole snapshot) with optional bands ("" for none).
func (c *Client) Strats(ctx context.Context, snapshotID, by, bands string) ([]Strat, error) {
	q := url.Values{}
	if by != "" {
		q.Set("by", by)
	}
	if bands != "" {
		q.Set("bands", bands)
	}
	path := "/orch/position-snapshots/" + url.PathEscape(snapshotID) + "/strats"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out struct {
		Items []Strat `json:"items"`
	}
	_, err := c.Do(ctx, http.MethodGet, path, nil, "", &out)
	return out.Items, err
}

// CashflowRow is one projected row of a loan of a run.
type CashflowRow struct {
	Date               string  `json:"date"`
	T                  float64 `json:"t"`
	Balance            float64 `json:"balance"`
	Interest           float64 `json:"interest"`
	ScheduledPrincipal float64 `json:"scheduled_principal"`
	Prepayment         float64 `json:"prepayment"`
	Default            float64 `json:"default"`
	Loss               float64 `json:"loss"`
	Recovery           float64 `json:"recovery"`
	Cashflow           float64 `json:"cashflow"`
	DF                 float64 `json:"df"`
}

// Cashflows returns the projected rows of one loan of a run under a
// scenario ("" for BASE).
func (c *Client) Cashflows(ctx context.Context, runID, positionID, scenario string) ([]CashflowRow, error) {
	path := "/results/runs/" + url.PathEscape(runID) + "/positions/" + url.PathEscape(positionID) + "/cashflows"
	if scenario != "" {
		path += "?" + url.Values{"scenario": {scenario}}.Encode()
	}
	var out struct {
		Items []CashflowRow `json:"items"`
	}
	_, err := c.Do(ctx, http.MethodGet, path, nil, "", &out)
	return out.Items, err
}
