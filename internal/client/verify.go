package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// Verify is a replay of a run (SPEC §5 "Replay"): its progress while open,
// its verdict once finished.
type Verify struct {
	RunID       string     `json:"run_id"`
	VerifyID    string     `json:"verify_id"`
	Status      string     `json:"status"`
	RequestedAt time.Time  `json:"requested_at"`
	CompletedAt *time.Time `json:"completed_at"`
	RequestedBy string     `json:"requested_by,omitempty"`
	Progress    Progress   `json:"progress"`
	Error       *string    `json:"error"`
	// EngineVersions are the builds of the workers that re-priced.
	EngineVersions     []string   `json:"engine_versions"`
	Verified           *bool      `json:"verified"`
	PositionsChecked   int64      `json:"positions_checked"`
	MismatchCount      int64      `json:"mismatch_count"`
	Mismatches         []Mismatch `json:"mismatches"`
	PublishHashMatches *bool      `json:"publish_hash_matches"`
}

// Mismatch is one measure of one position under one scenario whose
// recomputed value differs from the stored one. Stored and Recomputed are
// the JSON the server sent (a number, a KR01 ladder object, null, or
// "NaN"/"+Inf"/"-Inf").
type Mismatch struct {
	PositionSnapshotID string          `json:"position_snapshot_id"`
	PositionID         string          `json:"position_id"`
	ScenarioID         string          `json:"scenario_id"`
	Measure            string          `json:"measure"`
	Stored             json.RawMessage `json:"stored"`
	Recomputed         json.RawMessage `json:"recomputed"`
	Detail             string          `json:"detail,omitempty"`
}

func verifyPath(id string) string { return "/orch/runs/" + url.PathEscape(id) + "/verify" }

// VerifyRun asks for a replay of a COMPLETED or PUBLISHED run and returns
// it (the replay still open, if there is one).
func (c *Client) VerifyRun(ctx context.Context, id string) (Verify, error) {
	var v Verify
	_, err := c.Do(ctx, http.MethodPost, verifyPath(id), nil, "", &v)
	return v, err
}

// CancelVerify cancels the open replay of a run and returns it,
// cancelling or cancelled.
func (c *Client) CancelVerify(ctx context.Context, id string) (Verify, error) {
	var v Verify
	_, err := c.Do(ctx, http.MethodPost, verifyPath(id)+"/cancel", nil, "", &v)
	return v, err
}

// GetVerify returns the latest replay of a run.
func (c *Client) GetVerify(ctx context.Context, id string) (Verify, error) {
	var v Verify
	_, err := c.Do(ctx, http.MethodGet, verifyPath(id), nil, "", &v)
	return v, err
}

// WaitVerify polls the latest replay of a run every interval until it has
// ended or ctx ends, calling onProgress (when non-nil) after each poll.
func (c *Client) WaitVerify(ctx context.Context, id string, interval time.Duration, onProgress func(Verify)) (Verify, error) {
	var last Verify
	_, err := Wait(ctx, interval, func(ctx context.Context) (Run, error) {
		v, err := c.GetVerify(ctx, id)
		last = v
		return v.AsRun(), err
	}, func(Run) {
		if onProgress != nil {
			onProgress(last)
		}
	})
	return last, err
}

// AsRun is the replay as a run of its own (its id, status, progress and
// error), for what follows runs.
func (v *Verify) AsRun() Run {
	return Run{RunID: v.VerifyID, Status: v.Status, Progress: v.Progress, Error: v.Error}
}
