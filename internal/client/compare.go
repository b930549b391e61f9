package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
)

// Comparison is one page of GET /results/compare: two runs compared
// position by position under one measure and scenario.
type Comparison struct {
	BaseRunID   string        `json:"base_run_id"`
	TargetRunID string        `json:"target_run_id"`
	Measure     string        `json:"measure"`
	Scenario    string        `json:"scenario"`
	AbsTol      float64       `json:"abs_tol"`
	RelTol      float64       `json:"rel_tol"`
	Totals      CompareTotals `json:"totals"`
	Counts      CompareCounts `json:"counts"`
	Items       []CompareItem `json:"items"`
	NextCursor  *string       `json:"next_cursor"`
}

// CompareTotals are each run's total of the measure and target − base: a
// number, or for FX_DELTA an object by currency.
type CompareTotals struct {
	Base   Figure `json:"base"`
	Target Figure `json:"target"`
	Diff   Figure `json:"diff"`
}

// CompareCounts count the positions of the two runs by outcome.
type CompareCounts struct {
	Matched      int64 `json:"matched"`
	OnlyInBase   int64 `json:"only_in_base"`
	OnlyInTarget int64 `json:"only_in_target"`
	Breaks       int64 `json:"breaks"`
}

// Total is the number of distinct positions in either run.
func (c CompareCounts) Total() int64 { return c.Matched + c.OnlyInBase + c.OnlyInTarget + c.Breaks }

// CompareItem is a position that does not match: Status is ONLY_IN_BASE,
// ONLY_IN_TARGET or BREAK; a nil side is missing (and so is the diff).
type CompareItem struct {
	PositionID string  `json:"position_id"`
	Base       *Figure `json:"base"`
	Target     *Figure `json:"target"`
	Diff       *Figure `json:"diff"`
	Status     string  `json:"status"`
}

// CompareOptions choose what to compare and which page. Empty fields
// leave the server's defaults (PV, BASE, tolerances 0, 100 items). The
// tolerances are sent as written, so the server reads the exact decimal.
type CompareOptions struct {
	Measure  string
	Scenario string
	AbsTol   string
	RelTol   string
	Limit    int
	Cursor   string
}

// Compare fetches one page of the comparison of two finished runs.
func (c *Client) Compare(ctx context.Context, base, target string, o CompareOptions) (Comparison, error) {
	q := url.Values{"base": {base}, "target": {target}}
	for name, v := range map[string]string{"measure": o.Measure, "scenario": o.Scenario, "abs_tol": o.AbsTol,
		"rel_tol": o.RelTol, "cursor": o.Cursor} {
		if v != "" {
			q.Set(name, v)
		}
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	var cmp Comparison
	_, err := c.Do(ctx, http.MethodGet, "/results/compare?"+q.Encode(), nil, "", &cmp)
	return cmp, err
}

// CompareAll fetches every page of a comparison (o.Cursor is ignored),
// calling page for each in order; it stops at the first error, the
// page's or the callback's.
func (c *Client) CompareAll(ctx context.Context, base, target string, o CompareOptions, page func(Comparison) error) error {
	o.Cursor = ""
	for {
		cmp, err := c.Compare(ctx, base, target, o)
		if err != nil {
			return err
		}
		if err := page(cmp); err != nil {
			return err
		}
		if cmp.NextCursor == nil {
			return nil
		}
		o.Cursor = *cmp.NextCursor
	}
}
