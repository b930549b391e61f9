package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/iprs/iprs/internal/client"
	"github.com/spf13/cobra"
)

// defaultURL is where `iprs dev` listens by default.
const defaultURL = "http://localhost:8080"

// clientFlags are the flags every client command shares.
type clientFlags struct {
	url   string
	token string
}

func (f *clientFlags) register(cmd *cobra.Command, a *app) {
	url := a.getenv("IPRS_URL")
	if url == "" {
		url = defaultURL
	}
	cmd.PersistentFlags().StringVar(&f.url, "url", url, "base URL of the platform (env IPRS_URL)")
	cmd.PersistentFlags().StringVar(&f.token, "token", a.getenv("IPRS_TOKEN"), "bearer token (env IPRS_TOKEN)")
}

func (f *clientFlags) client() *client.Client { return client.New(f.url, f.token, nil) }

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
	cmd.AddCommand(newPushFileCmd("positions", "Upload a position snapshot (FILE or - for standard input), streamed",
		func(cmd *cobra.Command, in io.Reader) error {
			start := time.Now()
			rec, created, err := f.client().PushPositionSnapshot(cmd.Context(), in)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "position snapshot %s %s: %s positions (%s) in %s, hash %s\n",
				rec.PositionSnapshotID, createdWord(created), client.FormatCount(rec.PositionCount),
				strings.Join(rec.ProductTypes, ", "), time.Since(start).Round(time.Millisecond), rec.PayloadHash)
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
			return push(cmd, in)
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
	}
	f.register(cmd, a)

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
	var measure, by, scenario string
	cube := &cobra.Command{
		Use:   "cube ID",
		Short: "Aggregate a measure by a dimension (portfolio_node_id, product_type, instrument_id, attr:NAME)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cells, err := f.client().Cube(cmd.Context(), args[0], measure, by, scenario)
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
	cube.Flags().StringVar(&by, "by", "product_type", "dimension: portfolio_node_id, product_type, instrument_id or attr:NAME")
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

// watchRun draws a progress bar until the run ends; a run that does not end
// COMPLETED or PUBLISHED is an error.
func watchRun(ctx context.Context, w io.Writer, c *client.Client, id string) error {
	start := time.Now()
	run, err := c.WaitRun(ctx, id, 250*time.Millisecond, func(r client.Run) {
		fmt.Fprintf(w, "\r%s", progressLine(r, time.Since(start)))
	})
	fmt.Fprintln(w)
	if err != nil {
		return err
	}
	switch run.Status {
	case "COMPLETED", "PUBLISHED":
		return nil
	}
	msg := ""
	if run.Error != nil {
		msg = ": " + *run.Error
	}
	return fmt.Errorf("run %s ended %s%s", run.RunID, run.Status, msg)
}

func progressLine(r client.Run, elapsed time.Duration) string {
	const width = 30
	p := r.Progress
	frac := 0.0
	if p.PositionsTotal > 0 {
		frac = float64(p.PositionsDone) / float64(p.PositionsTotal)
	}
	filled := int(frac * width)
	bar := strings.Repeat("█", filled) + strings.Repeat("░", width-filled)
	return fmt.Sprintf("%s %-10s %s %5.1f%%  %s/%s positions  tasks %d/%d  %s ",
		r.RunID, r.Status, bar, 100*frac, client.FormatCount(p.PositionsDone), client.FormatCount(p.PositionsTotal),
		p.TasksByStatus["SUCCEEDED"], p.TasksTotal, elapsed.Round(100*time.Millisecond))
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
		measures = append(measures, m)
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
}
