package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/iprs/iprs/internal/client"
)

// newPurgeCmd is `iprs purge --unpublished-older-than AGE`: it deletes,
// through the API (so each deletion is authorized and recorded like any
// other), every finished run that was never published and completed at
// least AGE ago (SPEC §5 retention).
func newPurgeCmd(a *app) *cobra.Command {
	var (
		f      clientFlags
		age    string
		dryRun bool
	)
	cmd := &cobra.Command{
		Use:   "purge --unpublished-older-than AGE",
		Short: "Delete unpublished finished runs (COMPLETED, FAILED, CANCELLED) older than AGE, with their results",
		Long: "Deletes every run that is COMPLETED, FAILED or CANCELLED, was never published, and completed at least AGE ago.\n" +
			"AGE is a whole number followed by s, m, h or d (0s: every such run). Published runs are never deleted.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("unpublished-older-than") {
				return fmt.Errorf("--unpublished-older-than is required (e.g. 30d; 0s for every unpublished finished run)")
			}
			d, err := parseAge(age)
			if err != nil {
				return fmt.Errorf("--unpublished-older-than: %w", err)
			}
			c := f.client()
			cutoff := time.Now().Add(-d)
			var deleted, kept int
			for _, status := range []string{"COMPLETED", "FAILED", "CANCELLED"} {
				ids, err := purgeable(cmd, c, status, cutoff)
				if err != nil {
					return err
				}
				for _, id := range ids {
					if dryRun {
						fmt.Fprintf(cmd.OutOrStdout(), "would delete %s\n", id)
						deleted++
						continue
					}
					if err := c.DeleteRun(cmd.Context(), id); err != nil {
						// Published or deleted meanwhile: say so and go on.
						fmt.Fprintf(cmd.ErrOrStderr(), "iprs: keep %s: %v\n", id, err)
						kept++
						continue
					}
					fmt.Fprintf(cmd.OutOrStdout(), "deleted %s\n", id)
					deleted++
				}
			}
			verb := "deleted"
			if dryRun {
				verb = "would delete"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %d run(s)", verb, deleted)
			if kept > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "; %d could not be deleted", kept)
			}
			fmt.Fprintln(cmd.OutOrStdout())
			return nil
		},
	}
	f.register(cmd, a)
	cmd.Flags().StringVar(&age, "unpublished-older-than", "", "minimum age since completion: N followed by s, m, h or d")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "list the runs that would be deleted, delete nothing")
	return cmd
}

// purgeable lists the runs of a status that completed at or before cutoff.
func purgeable(cmd *cobra.Command, c *client.Client, status string, cutoff time.Time) ([]string, error) {
	var ids []string
	cursor := ""
	for {
		runs, next, err := c.ListRuns(cmd.Context(), status, 1000, cursor)
		if err != nil {
			return nil, err
		}
		for _, r := range runs {
			if r.CompletedAt != nil && !r.CompletedAt.After(cutoff) {
				ids = append(ids, r.RunID)
			}
		}
		if next == "" {
			return ids, nil
		}
		cursor = next
	}
}

// parseAge reads N{s,m,h,d}.
func parseAge(s string) (time.Duration, error) {
	if len(s) < 2 {
		return 0, fmt.Errorf("%q: want a whole number followed by s, m, h or d", s)
	}
	unit := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour}[s[len(s)-1]]
	n, err := strconv.ParseInt(s[:len(s)-1], 10, 64)
	if unit == 0 || err != nil || n < 0 || strings.HasPrefix(s, "+") || n > int64(1<<62)/int64(unit) {
		return 0, fmt.Errorf("%q: want a whole number followed by s, m, h or d", s)
	}
	return time.Duration(n) * unit, nil
}
