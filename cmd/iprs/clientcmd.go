package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"text/tabwriter"

	"github.com/iprs/iprs/internal/client"
	"github.com/iprs/iprs/internal/pricing"
	"github.com/spf13/cobra"
)

// openInput opens a file argument, "-" meaning standard input.
func openInput(cmd *cobra.Command, name string) (io.ReadCloser, error) {
	if name == "-" {
		return io.NopCloser(cmd.InOrStdin()), nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	return f, nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newPushCmd(a *app) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "push",
		Short: "Upload market or position snapshots to a running platform",
		Long:  "push uploads market or position snapshots to a running platform.\n\n" + clientHelp,
	}
	f.register(cmd, a)
	cmd.AddCommand(newPushFileCmd("market", "Upload a market snapshot (FILE or - for standard input)",
		func(cmd *cobra.Command, in io.Reader) error {
			rec, created, err := f.client().PushMarketSnapshot(cmd.Context(), in)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "market snapshot %s %s: dq %s, hash %s\n", rec.SnapshotID, createdWord(created), rec.DQStatus, rec.PayloadHash)
			return nil
		}))
	cmd.AddCommand(newPushPositionsCmd(&f))
	cmd.AddCommand(newPushScenarioSetCmd(&f))
	cmd.AddCommand(newPushFileCmd("model-set", "Upload a model set: behavioural loan assumptions (FILE or - for standard input)",
		func(cmd *cobra.Command, in io.Reader) error {
			ms, created, err := f.client().PushModelSet(cmd.Context(), in)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "model set %s %s: %d rules, hash %s\n", ms.ModelSetID, createdWord(created), ms.RuleCount, ms.PayloadHash)
			return nil
		}))
	return cmd
}

// newPushFileCmd makes a `push KIND FILE` command that hands the opened
// FILE (or standard input for -) to push.
func newPushFileCmd(kind, short string, push func(cmd *cobra.Command, in io.Reader) error) *cobra.Command {
	return &cobra.Command{
		Use:   kind + " FILE",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in, err := openInput(cmd, args[0])
			if err != nil {
				return err
			}
			defer in.Close()
			return push(cmd, uploadProgress(cmd, args[0], in))
		},
	}
}

func createdWord(created bool) string {
	if created {
		return "stored"
	}
	return "already stored (unchanged)"
}

func newRunCmd(a *app) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Submit, watch and inspect valuation runs on a running platform",
		Long:  "run submits, lists, watches and inspects valuation runs on a running platform.\n\n" + clientHelp,
	}
	f.register(cmd, a)
	cmd.AddCommand(newRunVaRCmd(&f))
	cmd.AddCommand(newRunVerifyCmd(&f))

	var watch bool
	submit := &cobra.Command{
		Use:   "submit FILE",
		Short: "Submit a run request (FILE or - for standard input)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in, err := openInput(cmd, args[0])
			if err != nil {
				return err
			}
			raw, err := io.ReadAll(in)
			in.Close()
			if err != nil {
				return fmt.Errorf("read %s: %w", args[0], err)
			}
			c := f.client()
			run, created, err := c.SubmitRun(cmd.Context(), json.RawMessage(raw))
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "run %s %s: %s\n", run.RunID, map[bool]string{true: "submitted", false: "already exists"}[created], run.Status)
			if !watch {
				return nil
			}
			return watchRun(cmd.Context(), cmd.OutOrStdout(), c, run.RunID)
		},
	}
	submit.Flags().BoolVarP(&watch, "watch", "w", false, "watch the run's progress until it ends")
	cmd.AddCommand(submit)
	cmd.AddCommand(newRunListCmd(&f))

	cmd.AddCommand(&cobra.Command{
		Use:   "watch ID",
		Short: "Show a progress bar until the run ends",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return watchRun(cmd.Context(), cmd.OutOrStdout(), f.client(), args[0])
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "status ID",
		Short: "Show a run as JSON",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var run json.RawMessage
			if _, err := f.client().Do(cmd.Context(), "GET", "/orch/runs/"+url.PathEscape(args[0]), nil, "", &run); err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), run)
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "summary ID",
		Short: "Show each scenario's totals and P&L against BASE",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := f.client().Summary(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			printSummary(cmd.OutOrStdout(), s)
			return nil
		},
	})
	var measure, by, scenario, bands string
	cube := &cobra.Command{
		Use:   "cube ID",
		Short: "Aggregate a measure by a dimension (portfolio_node_id, product_type, instrument_id, vintage, attr:NAME)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cells, err := f.client().CubeBands(cmd.Context(), args[0], measure, by, scenario, bands)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintf(tw, "%s\t%s\tcount\t\n", by, measure)
			for _, c := range cells {
				fmt.Fprintf(tw, "%s\t%s\t%d\t\n", c.Key, c.Value, c.Count)
			}
			return tw.Flush()
		},
	}
	cube.Flags().StringVar(&measure, "measure", "PV", "measure to aggregate")
	cube.Flags().StringVar(&by, "by", "product_type", "dimension: portfolio_node_id, product_type, instrument_id, vintage or attr:NAME")
	cube.Flags().StringVar(&bands, "bands", "", "with --by attr:NAME, increasing band boundaries such as 580,680,740")
	cube.Flags().StringVar(&scenario, "scenario", "", "scenario (default BASE)")
	cmd.AddCommand(cube)

	var out, exportScenario string
	export := &cobra.Command{
		Use:   "export ID",
		Short: "Download the run's results as CSV",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			body, err := f.client().ExportCSV(cmd.Context(), args[0], exportScenario)
			if err != nil {
				return err
			}
			defer body.Close()
			w := cmd.OutOrStdout()
			if out != "" && out != "-" {
				file, err := os.Create(out)
				if err != nil {
					return fmt.Errorf("create %s: %w", out, err)
				}
				defer file.Close()
				w = file
			}
			if _, err := io.Copy(w, body); err != nil {
				return fmt.Errorf("download CSV: %w", err)
			}
			return nil
		},
	}
	export.Flags().StringVarP(&out, "output", "o", "", "write to this file instead of standard output")
	export.Flags().StringVar(&exportScenario, "scenario", "", "only this scenario")
	cmd.AddCommand(export)
	cmd.AddCommand(newRunCompareCmd(&f))

	cmd.AddCommand(&cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel a queued or running run",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			run, err := f.client().CancelRun(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "run %s: %s\n", run.RunID, run.Status)
			return nil
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "publish ID",
		Short: "Publish a completed run as the official numbers",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			run, err := f.client().PublishRun(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "run %s: %s, hash %s\n", run.RunID, run.Status, run.PublishHash)
			return nil
		},
	})
	return cmd
}

func printSummary(w io.Writer, s client.Summary) {
	if s.Partial {
		fmt.Fprintf(w, "run %s: %s (partial: the tasks finished so far)\n", s.RunID, s.Status)
	} else {
		fmt.Fprintf(w, "run %s: %s\n", s.RunID, s.Status)
	}
	ids := make([]string, 0, len(s.Scenarios))
	measureSet := map[string]bool{}
	for id, sc := range s.Scenarios {
		ids = append(ids, id)
		for m := range sc.Measures {
			measureSet[m] = true
		}
	}
	sort.Strings(ids)
	measures := make([]string, 0, len(measureSet))
	for m := range measureSet {
		if m != "KR01" { // a ladder: printed below, curve by curve
			measures = append(measures, m)
		}
	}
	sort.Strings(measures)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "scenario\tpositions\t")
	for _, m := range measures {
		fmt.Fprintf(tw, "%s\t", m)
	}
	fmt.Fprint(tw, "P&L vs BASE\t\n")
	for _, id := range ids {
		sc := s.Scenarios[id]
		fmt.Fprintf(tw, "%s\t%d\t", id, sc.PositionCount)
		for _, m := range measures {
			if v, ok := sc.Measures[m]; ok {
				fmt.Fprintf(tw, "%s\t", v)
			} else {
				fmt.Fprint(tw, "—\t")
			}
		}
		if sc.PnL != nil {
			fmt.Fprintf(tw, "%.2f\t\n", *sc.PnL)
		} else {
			fmt.Fprint(tw, "—\t\n")
		}
	}
	tw.Flush()
	if measureSet["KR01"] {
		printKR01(w, s)
	}
}

// printKR01 writes the KR01 ladders of the summary's BASE scenario (or its
// first scenario) as one row per curve and one column per tenor.
func printKR01(w io.Writer, s client.Summary) {
	scenario := "BASE"
	if _, ok := s.Scenarios[scenario]; !ok {
		ids := make([]string, 0, len(s.Scenarios))
		for id := range s.Scenarios {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		scenario = ids[0]
	}
	kr := s.Scenarios[scenario].Measures["KR01"]
	curves := make([]string, 0, len(kr.Parts))
	for c := range kr.Parts {
		curves = append(curves, c)
	}
	sort.Strings(curves)
	tenors := pricing.KeyRateTenors()
	fmt.Fprintf(w, "KR01 under %s (PV change for 1bp at each key rate):\n", scenario)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "curve\t")
	for _, t := range tenors {
		fmt.Fprintf(tw, "%s\t", t)
	}
	fmt.Fprint(tw, "\n")
	for _, c := range curves {
		fmt.Fprintf(tw, "%s\t", c)
		for _, t := range tenors {
			if f := kr.Parts[c].Parts[t]; f.Number != nil {
				fmt.Fprintf(tw, "%.2f\t", *f.Number)
			} else {
				fmt.Fprint(tw, "—\t")
			}
		}
		fmt.Fprint(tw, "\n")
	}
	tw.Flush()
}
