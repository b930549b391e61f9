package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/iprs/iprs/internal/client"
)

// newRunVaRCmd is `iprs run var ID --set S [--confidence C] [--by B]`: the
// VaR and expected shortfall of a run's scenario set (SPEC §4.4).
func newRunVaRCmd(f *clientFlags) *cobra.Command {
	var set, confidence, by string
	cmd := &cobra.Command{
		Use:   "var ID --set SCENARIO_SET",
		Short: "VaR and expected shortfall of a scenario set's P&L, for the run or by a grouping",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if set == "" {
				return fmt.Errorf("--set is required: the scenario set of the run whose scenarios make the P&L vector")
			}
			items, err := f.client().VaR(cmd.Context(), args[0], set, confidence, by)
			if err != nil {
				return err
			}
			conf := confidence
			if conf == "" {
				conf = "0.99"
			}
			printVaR(cmd.OutOrStdout(), by, conf, items)
			return nil
		},
	}
	cmd.Flags().StringVar(&set, "set", "", "the scenario set (scenario_set_id)")
	cmd.Flags().StringVar(&confidence, "confidence", "", "confidence, a decimal in (0, 1) (default 0.99)")
	cmd.Flags().StringVar(&by, "by", "", "grouping, as the cube's (default: the whole run)")
	return cmd
}

// printVaR writes VaR items as a table; losses are positive numbers.
func printVaR(w io.Writer, by, confidence string, items []client.VaRItem) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	group := by
	if group == "" {
		group = "run"
	}
	fmt.Fprintf(tw, "%s\tVaR %s\tES %s\tscenarios\tworst scenario\t\n", group, confidence, confidence)
	for _, it := range items {
		key := "(all positions)"
		if it.Key != nil {
			key = *it.Key
		}
		fmt.Fprintf(tw, "%s\t%.2f\t%.2f\t%d\t%s\t\n", key, it.VaR, it.ES, it.ScenarioCount, it.WorstScenarioID)
	}
	tw.Flush()
}
