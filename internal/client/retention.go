package client

import (
	"context"
	"net/http"
	"net/url"
)

// DeleteRun removes an unpublished finished run and its results.
func (c *Client) DeleteRun(ctx context.Context, id string) error {
	_, err := c.Do(ctx, http.MethodDelete, "/orch/runs/"+url.PathEscape(id), nil, "", nil)
	return err
}
