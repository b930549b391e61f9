package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/iprs/iprs/internal/client"
)

// newRunVerifyCmd is `iprs run verify ID [--watch | --cancel]` (SPEC §5
// "Replay").
func newRunVerifyCmd(f *clientFlags) *cobra.Command {
	var watch, cancel bool
	cmd := &cobra.Command{
		Use:   "verify ID",
		Short: "Re-price a finished run from its stored inputs and compare with its stored results bit for bit",
		Long: "verify asks the platform to replay a COMPLETED or PUBLISHED run: every position is priced again\n" +
			"on the workers from the run's stored inputs and compared with its stored results bit for bit, and\n" +
			"a published run's publish hash is recomputed. While a replay of the run is open, verify follows\n" +
			"that one. With --watch it shows the replay's progress, then the verdict and a table of the\n" +
			"mismatches, and exits non-zero unless the run is verified. With --cancel it cancels the\n" +
			"replay of the run that is still open instead.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := f.client()
			if cancel {
				if watch {
					return usageError("--cancel and --watch cannot be combined")
				}
				v, err := c.CancelVerify(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "replay %s of run %s: %s\n", v.VerifyID, v.RunID, v.Status)
				return nil
			}
			v, err := c.VerifyRun(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "replay %s of run %s: %s\n", v.VerifyID, v.RunID, v.Status)
			if !watch {
				return nil
			}
			return watchVerify(cmd.Context(), w, c, args[0])
		},
	}
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "follow the replay, then print the verdict (exit status 1 unless verified)")
	cmd.Flags().BoolVar(&cancel, "cancel", false, "cancel the replay of the run that is still open")
	return cmd
}

// watchVerify follows the latest replay of run id until it ends, then
// prints its verdict; a run that is not verified is an error.
func watchVerify(ctx context.Context, w io.Writer, c *client.Client, id string) error {
	var v client.Verify
	err := watchJob(ctx, w, "replay", func(ctx context.Context) (client.Run, error) {
		var err error
		v, err = c.GetVerify(ctx, id)
		return v.AsRun(), err
	})
	if r := v.AsRun(); err != nil && !r.Final() {
		return err
	}
	printVerdict(w, v)
	switch {
	case v.Verified != nil && *v.Verified:
		return nil
	case v.Error != nil:
		return fmt.Errorf("replay %s ended %s: %s", v.VerifyID, v.Status, *v.Error)
	case v.Status != "COMPLETED":
		return fmt.Errorf("replay %s ended %s", v.VerifyID, v.Status)
	}
	noun := "mismatches"
	if v.MismatchCount == 1 {
		noun = "mismatch"
	}
	return fmt.Errorf("run %s is not verified: %d %s%s", v.RunID, v.MismatchCount, noun, hashWord(v.PublishHashMatches, ", publish hash differs", ""))
}

// hashWord picks the text for a publish hash that differs, or else.
func hashWord(matches *bool, differs, otherwise string) string {
	if matches != nil && !*matches {
		return differs
	}
	return otherwise
}

// printVerdict writes a finished replay's verdict and its mismatches as a
// table.
func printVerdict(w io.Writer, v client.Verify) {
	verdict := "NOT VERIFIED"
	if v.Verified != nil && *v.Verified {
		verdict = "VERIFIED"
	}
	publish := "not published"
	if v.PublishHashMatches != nil {
		publish = hashWord(v.PublishHashMatches, "DIFFERS from the recorded one", "matches the recorded one")
	}
	fmt.Fprintf(w, "run %s: %s (replay %s, %s)\n", v.RunID, verdict, v.VerifyID, v.Status)
	fmt.Fprintf(w, "  positions checked: %s of %s\n", client.FormatCount(v.PositionsChecked), client.FormatCount(v.Progress.PositionsTotal))
	fmt.Fprintf(w, "  mismatches:        %d\n", v.MismatchCount)
	fmt.Fprintf(w, "  publish hash:      %s\n", publish)
	if len(v.EngineVersions) > 0 {
		fmt.Fprintf(w, "  re-priced by:      %s\n", strings.Join(v.EngineVersions, ", "))
	}
	if v.Error != nil {
		fmt.Fprintf(w, "  error:             %s\n", *v.Error)
	}
	if len(v.Mismatches) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "POSITION_SNAPSHOT\tPOSITION\tSCENARIO\tMEASURE\tSTORED\tRECOMPUTED\tDETAIL")
	for _, m := range v.Mismatches {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.PositionSnapshotID, m.PositionID, m.ScenarioID, m.Measure,
			rawOrNull(m.Stored), rawOrNull(m.Recomputed), m.Detail)
	}
	tw.Flush()
	if n := int64(len(v.Mismatches)); n < v.MismatchCount {
		fmt.Fprintf(w, "(the first %d of %d mismatches)\n", n, v.MismatchCount)
	}
}

func rawOrNull(b []byte) string {
	if len(b) == 0 {
		return "null"
	}
	return string(b)
}
