package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/iprs/iprs/internal/client"
)

// newExplainCmd is `iprs explain FROM TO`: the P&L explain between two
// finished runs (SPEC §4.5), submitted, watched with --watch and printed
// as the waterfall; `iprs explain get ID` prints an explain's waterfall.
func newExplainCmd(a *app) *cobra.Command {
	var (
		f         clientFlags
		id        string
		watch     bool
		by, bands string
	)
	cmd := &cobra.Command{
		Use:   "explain FROM_RUN TO_RUN",
		Short: "Explain the P&L between two finished runs: carry, rates, spread, fx, amendments, new, matured",
		Long: "explain asks the platform to value the waterfall from the first run's BASE PV to the second's\n" +
			"(POST /orch/explains) as tasks on the workers. With --watch it shows a progress bar until the explain\n" +
			"ends, then prints the waterfall (by --by, as the cube groups). `iprs explain get ID` prints it later.\n\n" + clientHelp,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := f.client()
			e, created, err := c.CreateExplain(cmd.Context(), client.ExplainRequest{ExplainID: id, FromRunID: args[0], ToRunID: args[1]})
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "explain %s %s: %s\n", e.ExplainID, map[bool]string{true: "submitted", false: "already exists"}[created], e.Status)
			if !watch {
				return nil
			}
			if err := watchExplain(cmd.Context(), w, c, e.ExplainID); err != nil {
				return err
			}
			return printExplainOf(cmd.Context(), w, c, e.ExplainID, by, bands)
		},
	}
	f.register(cmd, a)
	cmd.Flags().StringVar(&id, "id", "", "explain id (default EXPLAIN-<FROM_RUN>-<TO_RUN>)")
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "watch the explain's progress, then print its waterfall")
	cmd.Flags().StringVar(&by, "by", "", "grouping of the waterfall: portfolio_node_id, product_type, instrument_id, vintage or attr:NAME")
	cmd.Flags().StringVar(&bands, "bands", "", "with --by attr:NAME, increasing band boundaries such as 580,680,740")

	var getBy, getBands string
	get := &cobra.Command{
		Use:   "get ID",
		Short: "Print an explain's waterfall",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return printExplainOf(cmd.Context(), cmd.OutOrStdout(), f.client(), args[0], getBy, getBands)
		},
	}
	get.Flags().StringVar(&getBy, "by", "", "grouping: portfolio_node_id, product_type, instrument_id, vintage or attr:NAME")
	get.Flags().StringVar(&getBands, "bands", "", "with --by attr:NAME, increasing band boundaries such as 580,680,740")
	cmd.AddCommand(get)
	return cmd
}

// watchExplain shows an explain's progress until it ends, as watchRun
// does a run's; an explain that did not complete is an error.
func watchExplain(ctx context.Context, w io.Writer, c *client.Client, id string) error {
	return watchJob(ctx, w, "explain", func(ctx context.Context) (client.Run, error) {
		e, err := c.GetExplain(ctx, id)
		return e.AsRun(), err
	})
}

// printExplainOf fetches an explain and its waterfall and prints them.
func printExplainOf(ctx context.Context, w io.Writer, c *client.Client, id, by, bands string) error {
	e, err := c.GetExplain(ctx, id)
	if err != nil {
		return err
	}
	items, err := c.ExplainResults(ctx, id, by, bands)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "explain %s: %s → %s, %s\n\n", e.ExplainID, e.FromRunID, e.ToRunID, e.Status)
	printExplain(w, by, items)
	return nil
}

// explainColumns are the waterfall in the order it is printed.
var explainColumns = []struct {
	name string
	get  func(client.ExplainItem) float64
}{
	{"from_pv", func(i client.ExplainItem) float64 { return i.FromPV }},
	{"carry", func(i client.ExplainItem) float64 { return i.Carry }},
	{"rates", func(i client.ExplainItem) float64 { return i.Rates }},
	{"spread", func(i client.ExplainItem) float64 { return i.Spread }},
	{"fx", func(i client.ExplainItem) float64 { return i.FX }},
	{"amendments", func(i client.ExplainItem) float64 { return i.Amendments }},
	{"new", func(i client.ExplainItem) float64 { return i.New }},
	{"matured", func(i client.ExplainItem) float64 { return i.Matured }},
	{"total", func(i client.ExplainItem) float64 { return i.Total }},
	{"to_pv", func(i client.ExplainItem) float64 { return i.ToPV }},
	{"carry_cashflows", func(i client.ExplainItem) float64 { return i.CarryCashflows }},
}

// printExplain prints the waterfall: one column of components for the
// whole explain, or one row per group with a column per component.
func printExplain(w io.Writer, by string, items []client.ExplainItem) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	defer tw.Flush()
	if by == "" {
		if len(items) == 0 {
			fmt.Fprintln(tw, "no positions\t")
			return
		}
		it := items[0]
		for _, c := range explainColumns {
			fmt.Fprintf(tw, "%s\t%s\t\n", c.name, number(c.get(it)))
		}
		return
	}
	fmt.Fprint(tw, by+"\t")
	for _, c := range explainColumns {
		fmt.Fprint(tw, c.name+"\t")
	}
	fmt.Fprintln(tw)
	for _, it := range items {
		key := "—"
		if it.Key != nil {
			key = *it.Key
		}
		fmt.Fprint(tw, key+"\t")
		for _, c := range explainColumns {
			fmt.Fprint(tw, number(c.get(it))+"\t")
		}
		fmt.Fprintln(tw)
	}
}
