package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// ScenarioSet is a stored scenario set as the API answers it: the document
// (its scenarios kept as JSON) with its metadata.
type ScenarioSet struct {
	ScenarioSetID string          `json:"scenario_set_id"`
	Description   string          `json:"description,omitempty"`
	Scenarios     json.RawMessage `json:"scenarios,omitempty"`
	ScenarioCount int             `json:"scenario_count"`
	PayloadHash   string          `json:"payload_hash"`
	CreatedAt     string          `json:"created_at"`
}

// ScenarioIDs returns the ids of the set's scenarios.
func (s ScenarioSet) ScenarioIDs() ([]string, error) {
	var scs []struct {
		ID string `json:"scenario_id"`
	}
	if err := json.Unmarshal(s.Scenarios, &scs); err != nil {
		return nil, fmt.Errorf("scenario set %s: decode scenarios: %w", s.ScenarioSetID, err)
	}
	ids := make([]string, len(scs))
	for i, sc := range scs {
		ids[i] = sc.ID
	}
	return ids, nil
}

// PushScenarioSet uploads a scenario set document. created is false when
// the same set was already stored.
func (c *Client) PushScenarioSet(ctx context.Context, doc io.Reader) (set ScenarioSet, created bool, err error) {
	status, err := c.Do(ctx, http.MethodPost, "/mkt/scenario-sets", doc, "application/json", &set)
	return set, status == http.StatusCreated, err
}

// HistoricalRequest asks the platform to build a scenario set from its
// stored market snapshots. Curves and Pairs take the shock form: a []string
// of ids or a string pattern such as "*-OIS"; nil selects everything.
type HistoricalRequest struct {
	ScenarioSetID string `json:"scenario_set_id"`
	From          string `json:"from"`
	To            string `json:"to"`
	HorizonDays   int    `json:"horizon_days,omitempty"`
	Curves        any    `json:"curves,omitempty"`
	Pairs         any    `json:"pairs,omitempty"`
}

// BuildHistoricalSet builds and stores a historical scenario set. created
// is false when the same set was already stored under the id.
func (c *Client) BuildHistoricalSet(ctx context.Context, req HistoricalRequest) (set ScenarioSet, created bool, err error) {
	status, err := c.postJSON(ctx, "/mkt/scenario-sets/historical", req, &set)
	return set, status == http.StatusCreated, err
}

// GetScenarioSet returns a stored scenario set.
func (c *Client) GetScenarioSet(ctx context.Context, id string) (ScenarioSet, error) {
	var set ScenarioSet
	_, err := c.Do(ctx, http.MethodGet, "/mkt/scenario-sets/"+url.PathEscape(id), nil, "", &set)
	return set, err
}

// ScenarioSets returns one page of the stored scenario sets, newest first,
// and the cursor of the next page ("" on the last).
func (c *Client) ScenarioSets(ctx context.Context, limit int, cursor string) ([]ScenarioSet, string, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	path := "/mkt/scenario-sets"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var page struct {
		Items      []ScenarioSet `json:"items"`
		NextCursor *string       `json:"next_cursor"`
	}
	if _, err := c.Do(ctx, http.MethodGet, path, nil, "", &page); err != nil {
		return nil, "", err
	}
	next := ""
	if page.NextCursor != nil {
		next = *page.NextCursor
	}
	return page.Items, next, nil
}

// Selection turns a command-line selection into the shock form: "" selects
// everything (nil), a comma-separated list is an array of ids, and anything
// else is one id or pattern.
func Selection(s string) any {
	switch {
	case s == "":
		return nil
	case strings.Contains(s, ","):
		var ids []string
		for _, id := range strings.Split(s, ",") {
			ids = append(ids, strings.TrimSpace(id))
		}
		return ids
	}
	return s
}
