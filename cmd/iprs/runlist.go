package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/iprs/iprs/internal/client"
	"github.com/spf13/cobra"
)

// newRunListCmd is `iprs run list`: the runs, newest first, as a table.
func newRunListCmd(f *clientFlags) *cobra.Command {
	var (
		status string
		limit  int
		all    bool
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List runs, newest first (--status to filter, --all for every page)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c := f.client()
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "RUN\tTYPE\tSTATUS\tAS OF\tPOSITIONS\tREQUESTED\tTOOK\t")
			cursor, shown := "", 0
			for {
				runs, next, err := c.ListRuns(cmd.Context(), status, limit, cursor)
				if err != nil {
					return err
				}
				for _, r := range runs {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s/%s\t%s\t%s\t\n", r.RunID, r.RunType, r.Status,
						r.AsOfTime.UTC().Format(time.RFC3339), client.FormatCount(r.Progress.PositionsDone),
						client.FormatCount(r.Progress.PositionsTotal), r.RequestedAt.UTC().Format(time.RFC3339), took(r))
				}
				shown += len(runs)
				if !all || next == "" {
					if err := tw.Flush(); err != nil {
						return err
					}
					if next != "" {
						fmt.Fprintf(cmd.ErrOrStderr(), "(%d shown; --all for every run)\n", shown)
					}
					return nil
				}
				cursor = next
			}
		},
	}
	cmd.Flags().StringVar(&status, "status", "", "only runs of this status (QUEUED, RUNNING, CANCELLING, COMPLETED, FAILED, CANCELLED, PUBLISHED)")
	cmd.Flags().IntVar(&limit, "limit", 20, "runs per page (1 to 1000)")
	cmd.Flags().BoolVar(&all, "all", false, "follow every page")
	return cmd
}

// took is how long a finished run took, "" otherwise.
func took(r client.Run) string {
	if r.StartedAt == nil || r.CompletedAt == nil {
		return ""
	}
	return r.CompletedAt.Sub(*r.StartedAt).Round(time.Millisecond).String()
}
