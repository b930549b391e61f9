package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/iprs/iprs/internal/client"
	"github.com/iprs/iprs/internal/gen"
)

// benchNextDay is the second business day of the bench's book for
// --explain: the market a day later with every *-OIS curve +5bp, every
// spread curve +2bp and every spot ×1.005, and the book with one loan in
// fifty repaid, one in fifty amended (twice the quantity) and one in twenty
// new, valued like the first day. It returns the second run's id.
func benchNextDay(ctx context.Context, c *client.Client, book gen.Options, req map[string]any, stamp string) (string, error) {
	asOf := book.AsOf.AddDate(0, 0, 1)
	marketID := "MKT-BENCH-D2-" + stamp
	m := gen.MarketSnapshot(marketID, asOf)
	for _, cv := range m["curves"].([]map[string]any) {
		shift := 0.0005
		if cv["curve_type"] == "SPREAD" {
			shift = 0.0002
		}
		for _, n := range cv["nodes"].([]map[string]any) {
			n["zero_rate"] = n["zero_rate"].(float64) + shift
		}
	}
	for _, s := range m["fx_spots"].([]map[string]any) {
		s["spot"] = s["spot"].(float64) * 1.005
	}
	doc, err := jsonReader(m)
	if err != nil {
		return "", err
	}
	if _, _, err := c.PushMarketSnapshot(ctx, doc); err != nil {
		return "", fmt.Errorf("second day's market snapshot: %w", err)
	}
	next := book
	next.SnapshotID = ""
	next.Loans = book.Loans + book.Loans/20
	next.Edit = func(i int, p *gen.Position) bool {
		if i < book.Loans && i%50 == 1 {
			p.Quantity *= 2
		}
		return i >= book.Loans || i%50 != 0
	}
	pr, pw := io.Pipe()
	go func() {
		_, err := gen.WritePositionSnapshot(pw, next)
		pw.CloseWithError(err)
	}()
	rec, _, err := c.PushPositionSnapshot(ctx, pr)
	pr.Close()
	if err != nil {
		return "", fmt.Errorf("second day's position snapshot: %w", err)
	}
	req2 := make(map[string]any, len(req))
	for k, v := range req {
		req2[k] = v
	}
	req2["run_id"] = "RUN-BENCH-D2-" + stamp
	req2["as_of_time"] = asOf.Format(time.RFC3339)
	req2["market_snapshot_id"] = marketID
	req2["position_snapshot_id"] = rec.PositionSnapshotID
	run, _, err := c.SubmitRun(ctx, req2)
	if err != nil {
		return "", fmt.Errorf("submit the second day's run: %w", err)
	}
	done, err := c.WaitRun(ctx, run.RunID, 50*time.Millisecond, nil)
	if err != nil {
		return "", fmt.Errorf("wait for the second day's run: %w", err)
	}
	if done.Status != "COMPLETED" {
		return "", fmt.Errorf("the second day's run %s ended %s", done.RunID, done.Status)
	}
	return run.RunID, nil
}

// benchExplain times the explain of the two days' runs, from its
// submission to COMPLETED, then its waterfall for the whole book and by
// attr:state.
func benchExplain(ctx context.Context, c *client.Client, from, to string) ([]benchPhase, error) {
	var phases []benchPhase
	start := time.Now()
	e, _, err := c.CreateExplain(ctx, client.ExplainRequest{FromRunID: from, ToRunID: to})
	if err != nil {
		return nil, fmt.Errorf("submit explain: %w", err)
	}
	run, err := client.Wait(ctx, 50*time.Millisecond, func(ctx context.Context) (client.Run, error) {
		e, err := c.GetExplain(ctx, e.ExplainID)
		return e.AsRun(), err
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("wait for explain: %w", err)
	}
	if run.Status != "COMPLETED" {
		msg := ""
		if run.Error != nil {
			msg = ": " + *run.Error
		}
		return nil, fmt.Errorf("explain %s ended %s%s", run.RunID, run.Status, msg)
	}
	phases = append(phases, benchPhase{name: "explain (submit → COMPLETED)", took: time.Since(start),
		items: run.Progress.PositionsTotal, unit: "position versions"})
	for _, by := range []string{"", "attr:state"} {
		start = time.Now()
		if _, err := c.ExplainResults(ctx, e.ExplainID, by, ""); err != nil {
			return phases, fmt.Errorf("explain results by %q: %w", by, err)
		}
		name := "explain waterfall of the book"
		if by != "" {
			name = "explain waterfall by " + by + " (first request)"
		}
		phases = append(phases, benchPhase{name: name, took: time.Since(start), items: run.Progress.PositionsTotal, unit: "position versions"})
	}
	return phases, nil
}
