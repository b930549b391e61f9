package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/iprs/iprs/internal/client"
	"github.com/spf13/cobra"
)

// newPushScenarioSetCmd is `iprs push scenario-set FILE`.
func newPushScenarioSetCmd(f *clientFlags) *cobra.Command {
	return newPushFileCmd("scenario-set", "Upload a scenario set (FILE or - for standard input)",
		func(cmd *cobra.Command, in io.Reader) error {
			set, created, err := f.client().PushScenarioSet(cmd.Context(), in)
			if err != nil {
				return err
			}
			printSetReceipt(cmd.OutOrStdout(), set, created)
			return nil
		})
}

// printSetReceipt says what was stored: the id, the number of scenarios and
// the first and last of them, the hash.
func printSetReceipt(w io.Writer, set client.ScenarioSet, created bool) {
	span := ""
	if ids, err := set.ScenarioIDs(); err == nil && len(ids) > 0 {
		span = " (" + ids[0]
		if len(ids) > 1 {
			span += " … " + ids[len(ids)-1]
		}
		span += ")"
	}
	fmt.Fprintf(w, "scenario set %s %s: %d scenarios%s, hash %s\n", set.ScenarioSetID, createdWord(created), set.ScenarioCount, span, set.PayloadHash)
}

// newScenarioSetCmd is `iprs scenario-set`: build, show and list scenario
// sets on a running platform.
func newScenarioSetCmd(a *app) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "scenario-set",
		Short: "Build, show and list scenario sets on a running platform",
	}
	f.register(cmd, a)

	var (
		from, to, id, curves, pairs string
		horizon                     int
	)
	historical := &cobra.Command{
		Use:   "historical",
		Short: "Build a scenario set from the stored market snapshots between two dates",
		Long: `historical builds a scenario set from the latest market snapshot that is not FAIL
of each UTC date from --from to --to: one scenario HIST-<date> per pair of snapshots
--horizon dates apart, moving each curve by its change at the earlier snapshot's
tenors and each spot by its relative change. --curves and --pairs take a pattern
("*-OIS"), one id, or a comma-separated list of ids; by default everything moves.

  iprs scenario-set historical --from 2025-01-23 --to 2026-01-23 --id HIST-1Y`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, d := range []struct{ flag, val string }{{"--from", from}, {"--to", to}} {
				if _, err := time.Parse(time.DateOnly, d.val); err != nil {
					return fmt.Errorf("%s %q: want a date such as 2026-01-23", d.flag, d.val)
				}
			}
			if horizon < 1 {
				return fmt.Errorf("--horizon %d: want a number of snapshot dates, at least 1", horizon)
			}
			if id == "" {
				id = "HIST-" + from + "-" + to
				if horizon != 1 {
					id += fmt.Sprintf("-H%d", horizon)
				}
			}
			req := client.HistoricalRequest{ScenarioSetID: id, From: from, To: to, Curves: client.Selection(curves), Pairs: client.Selection(pairs)}
			if horizon != 1 {
				req.HorizonDays = horizon
			}
			set, created, err := f.client().BuildHistoricalSet(cmd.Context(), req)
			if err != nil {
				return err
			}
			printSetReceipt(cmd.OutOrStdout(), set, created)
			return nil
		},
	}
	fl := historical.Flags()
	fl.StringVar(&from, "from", "", "first date (YYYY-MM-DD, UTC)")
	fl.StringVar(&to, "to", "", "last date (YYYY-MM-DD, UTC)")
	fl.IntVar(&horizon, "horizon", 1, "snapshot dates between the two snapshots of a scenario")
	fl.StringVar(&id, "id", "", "scenario_set_id (default HIST-<from>-<to>, with -H<horizon> when not 1)")
	fl.StringVar(&curves, "curves", "", "curves to move: a pattern, an id or a comma-separated list (default all)")
	fl.StringVar(&pairs, "pairs", "", "FX pairs to move: a pattern, an id or a comma-separated list (default all)")
	_ = historical.MarkFlagRequired("from")
	_ = historical.MarkFlagRequired("to")
	cmd.AddCommand(historical)

	cmd.AddCommand(&cobra.Command{
		Use:   "get ID",
		Short: "Show a scenario set as JSON",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			set, err := f.client().GetScenarioSet(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), set)
		},
	})

	var limit int
	list := &cobra.Command{
		Use:   "list",
		Short: "List the stored scenario sets, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sets, _, err := f.client().ScenarioSets(cmd.Context(), limit, "")
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "scenario_set_id\tscenarios\tcreated_at\tdescription")
			for _, s := range sets {
				desc := s.Description
				if r := []rune(desc); len(r) > 60 {
					desc = strings.TrimSpace(string(r[:57])) + "…"
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", s.ScenarioSetID, s.ScenarioCount, s.CreatedAt, desc)
			}
			return tw.Flush()
		},
	}
	list.Flags().IntVar(&limit, "limit", 100, "how many sets to show (at most 1000)")
	cmd.AddCommand(list)
	return cmd
}
