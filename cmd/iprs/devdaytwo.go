package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/iprs/iprs/internal/client"
	"github.com/iprs/iprs/internal/gen"
)

// demoMarketID is the id of the demo's market snapshot of a day.
func demoMarketID(asOf time.Time) string { return "MKT-DEMO-" + asOf.Format("20060102-1504Z") }

// demoDayTwoSeed moves the demo market to its second day.
const demoDayTwoSeed = 20260126

// demoDayTwo loads the demo's second business day — the next business day
// after demoAsOf, a Monday, so that the loans paying on the weekend have
// paid — and values it as the first day's contractual run was valued: its
// market (the first day's moved by a day, gen.MarketAfter), its book (the
// first day's rolled on, gen.DemoRoll), its run, then the comparison of
// the two runs' PV under BASE and, when explain, the explain of the
// difference.
func demoDayTwo(ctx context.Context, c *client.Client, day1 gen.Options, day1RunID string, explain bool, out io.Writer) error {
	asOf := gen.NextBusinessDay(demoAsOf)
	mkt, err := jsonReader(gen.MarketAfter(demoMarketID(asOf), demoAsOf, asOf, demoDayTwoSeed))
	if err != nil {
		return err
	}
	rec, _, err := c.PushMarketSnapshot(ctx, mkt)
	if err != nil {
		return fmt.Errorf("second day's market snapshot: %w", err)
	}
	fmt.Fprintf(out, "\ndemo: the next business day, %s: market snapshot %s (%s)\n", asOf.Format(time.DateOnly), rec.SnapshotID, rec.DQStatus)

	roll := gen.DemoRoll(day1, asOf)
	pr, pw := io.Pipe()
	done := make(chan gen.RollStats, 1)
	go func() {
		stats, err := gen.WriteRolledSnapshot(pw, day1, roll)
		pw.CloseWithError(err)
		done <- stats
	}()
	prec, _, err := c.PushPositionSnapshot(ctx, pr)
	pr.Close() // ends the writer if the upload stopped early
	stats := <-done
	if err != nil {
		return fmt.Errorf("second day's position snapshot: %w", err)
	}
	fmt.Fprintf(out, "demo: position snapshot %s: %s positions; %s\n", prec.PositionSnapshotID,
		client.FormatCount(prec.PositionCount), describeRoll(stats))

	runID, err := demoEOD(ctx, c, demoRunID(asOf, day1.Loans), asOf, rec.SnapshotID, day1.NodeID, out)
	if err != nil {
		return err
	}
	cmp, err := c.Compare(ctx, day1RunID, runID, client.CompareOptions{Limit: 1})
	if err != nil {
		return fmt.Errorf("compare %s with %s: %w", day1RunID, runID, err)
	}
	fmt.Fprintln(out)
	printCompareHeader(out, cmp)
	fmt.Fprintf(out, "every position: go run ./cmd/iprs run compare %s %s\n", day1RunID, runID)
	if !explain {
		return nil
	}
	return demoExplain(ctx, c, day1RunID, runID, out)
}

// describeRoll says what happened to the book between the days.
func describeRoll(s gen.RollStats) string {
	return fmt.Sprintf("%s loans paid (%s payments), %s matured, %s prepaid, %s restructured, %s new; %s bonds traded; %s new FX forwards",
		client.FormatCount(int64(s.Paid)), client.FormatCount(int64(s.Payments)), client.FormatCount(int64(s.Matured)),
		client.FormatCount(int64(s.Prepaid)), client.FormatCount(int64(s.Restructured)), client.FormatCount(int64(s.NewLoans)),
		client.FormatCount(int64(s.BondTrades)), client.FormatCount(int64(s.NewFXForwards)))
}

// demoExplain explains the P&L from the first day's run to the second's
// (SPEC §4.5): it asks for the explain (POST /orch/explains, the server
// naming it), watches it as `iprs explain --watch` does and prints its
// waterfall carry → rates → spread → fx → amendments → new → matured.
func demoExplain(ctx context.Context, c *client.Client, from, to string, out io.Writer) error {
	e, _, err := c.CreateExplain(ctx, client.ExplainRequest{FromRunID: from, ToRunID: to})
	if err != nil {
		return fmt.Errorf("explain %s → %s: %w", from, to, err)
	}
	fmt.Fprintf(out, "\ndemo: explain %s of the P&L from %s to %s\n", e.ExplainID, from, to)
	if err := watchExplain(ctx, out, c, e.ExplainID); err != nil {
		return err
	}
	if err := printExplainOf(ctx, out, c, e.ExplainID, "", ""); err != nil {
		return fmt.Errorf("explain %s: %w", e.ExplainID, err)
	}
	fmt.Fprintf(out, "by product type: go run ./cmd/iprs explain get %s --by product_type\n", e.ExplainID)
	return nil
}
