package main

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/iprs/iprs/internal/client"
)

// newStratsCmd is `iprs strats SNAPSHOT_ID [--by --bands]`: a position
// snapshot's loans stratified (SPEC §4.6), as a table.
func newStratsCmd(a *app) *cobra.Command {
	var (
		f         clientFlags
		by, bands string
	)
	cmd := &cobra.Command{
		Use:   "strats SNAPSHOT_ID",
		Short: "Stratify a position snapshot's loans: count, balance, share, WAC, FICO, WALA, WAM per group",
		Long: "strats groups the AMORT_LOAN positions of a position snapshot (orchestrator route) and prints, per group,\n" +
			"the count, the balance (current_principal × quantity), its percent of the snapshot's loan balance and the\n" +
			"balance-weighted coupon, FICO (loans that have one), age and remaining term in months.\n\n" + clientHelp,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			items, err := f.client().Strats(cmd.Context(), args[0], by, bands)
			if err != nil {
				return err
			}
			return printStrats(cmd.OutOrStdout(), by, items)
		},
	}
	f.register(cmd, a)
	cmd.Flags().StringVar(&by, "by", "", "grouping: portfolio_node_id, product_type, vintage or attr:NAME (default: the whole snapshot)")
	cmd.Flags().StringVar(&bands, "bands", "", "with --by attr:NAME, increasing band boundaries such as 580,680,740")
	return cmd
}

// printStrats writes the groups as an aligned table; a figure the group
// does not have is "-".
func printStrats(w io.Writer, by string, items []client.Strat) error {
	if by == "" {
		by = "group"
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%s\tcount\tbalance\tbalance %%\tWAC %%\tFICO\tWALA\tWAM\t\n", by)
	opt := func(x *float64, scale float64, digits int) string {
		if x == nil {
			return "-"
		}
		return strconv.FormatFloat(*x*scale, 'f', digits, 64)
	}
	for _, it := range items {
		key := "all"
		if it.Key != nil {
			key = *it.Key
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n", key, it.Count,
			strconv.FormatFloat(it.Balance, 'f', 2, 64), opt(it.BalancePct, 1, 2), opt(it.WAC, 100, 3),
			opt(it.FICO, 1, 1), opt(it.WALA, 1, 1), opt(it.WAM, 1, 1))
	}
	return tw.Flush()
}
