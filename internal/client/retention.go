package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
)

// RunPage is one page of the run list.
type RunPage struct {
	Items      []Run   `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// ListRuns fetches one page of runs, newest first, optionally of one status
// ("" for all) after a cursor ("" for the first page).
func (c *Client) ListRuns(ctx context.Context, status, cursor string, limit int) (RunPage, error) {
	q := url.Values{}
	if status != "" {
		q.Set("status", status)
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	path := "/orch/runs"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var p RunPage
	_, err := c.Do(ctx, http.MethodGet, path, nil, "", &p)
	return p, err
}

// DeleteRun removes an unpublished finished run and its results.
func (c *Client) DeleteRun(ctx context.Context, id string) error {
	_, err := c.Do(ctx, http.MethodDelete, "/orch/runs/"+url.PathEscape(id), nil, "", nil)
	return err
}
