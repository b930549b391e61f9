package client

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
)

// ModelSet is a stored model set as the API answers it: the document (its
// rules kept as JSON) with its metadata.
type ModelSet struct {
	ModelSetID  string          `json:"model_set_id"`
	Description string          `json:"description,omitempty"`
	Rules       json.RawMessage `json:"rules,omitempty"`
	RuleCount   int             `json:"rule_count"`
	PayloadHash string          `json:"payload_hash"`
	CreatedAt   string          `json:"created_at"`
}

// PushModelSet uploads a model set document. created is false when the
// same set was already stored.
func (c *Client) PushModelSet(ctx context.Context, doc io.Reader) (set ModelSet, created bool, err error) {
	status, err := c.Do(ctx, http.MethodPost, "/mkt/model-sets", doc, "application/json", &set)
	return set, status == http.StatusCreated, err
}
