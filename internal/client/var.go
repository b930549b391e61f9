package client

import (
	"context"
	"net/http"
	"net/url"
)

// VaRItem is one group of a VaR answer; Key is nil for the whole run.
type VaRItem struct {
	Key             *string `json:"key"`
	VaR             float64 `json:"var"`
	ES              float64 `json:"es"`
	ScenarioCount   int     `json:"scenario_count"`
	WorstScenarioID string  `json:"worst_scenario_id"`
}

// VaR fetches the VaR and expected shortfall of a run's scenario set,
// optionally by a grouping ("" for the whole run) and at a confidence (""
// for the server's default, 0.99).
func (c *Client) VaR(ctx context.Context, runID, setID, confidence, by string) ([]VaRItem, error) {
	q := url.Values{"scenario_set_id": {setID}}
	if confidence != "" {
		q.Set("confidence", confidence)
	}
	if by != "" {
		q.Set("by", by)
	}
	var items []VaRItem
	_, err := c.Do(ctx, http.MethodGet, "/results/runs/"+url.PathEscape(runID)+"/var?"+q.Encode(), nil, "", &items)
	return items, err
}
