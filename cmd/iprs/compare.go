package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/iprs/iprs/internal/client"
)

// comparePage is how many positions `iprs run compare` asks for at once.
const comparePage = 1000

// errEnough stops paging once --max positions are printed.
var errEnough = errors.New("enough positions printed")

// newRunCompareCmd is `iprs run compare BASE TARGET`: two finished runs
// compared position by position (GET /results/compare), printed as the
// totals, the counts and every position that does not match, page after
// page.
func newRunCompareCmd(f *clientFlags) *cobra.Command {
	var (
		o        client.CompareOptions
		maxItems int
	)
	cmd := &cobra.Command{
		Use:   "compare BASE TARGET",
		Short: "Compare two finished runs position by position: totals, counts and the positions that differ",
		Long: "Compares the measure of every position of the BASE run with the TARGET run's under one scenario,\n" +
			"matching positions by position_id. A position breaks when |target − base| > abs-tol + rel-tol·|base|.\n" +
			"Prints each run's total and the difference, the counts, then every position only in one run or\n" +
			"breaking, by position id.",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Limit = comparePage
			w := cmd.OutOrStdout()
			printed := 0
			err := f.client().CompareAll(cmd.Context(), args[0], args[1], o, func(p client.Comparison) error {
				if printed == 0 {
					printCompareHeader(w, p)
				}
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
				if printed == 0 && len(p.Items) > 0 {
					fmt.Fprint(tw, "position_id\tstatus\tbase\ttarget\tdiff\t\n")
				}
				for _, it := range p.Items {
					if maxItems > 0 && printed == maxItems {
						tw.Flush()
						n := p.Counts.Total() - p.Counts.Matched
						fmt.Fprintf(w, "… %s more (--max 0 prints them all)\n", client.FormatCount(n-int64(printed)))
						return errEnough
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", it.PositionID, it.Status, figure(it.Base), figure(it.Target), figure(it.Diff))
					printed++
				}
				return tw.Flush()
			})
			if errors.Is(err, errEnough) {
				return nil
			}
			return err
		},
	}
	cmd.Flags().StringVar(&o.Measure, "measure", "", "measure to compare (default PV): PV, DV01, CS01, ACCRUED_INTEREST, EXPECTED_LOSS or FX_DELTA")
	cmd.Flags().StringVar(&o.Scenario, "scenario", "", "scenario (default BASE)")
	cmd.Flags().StringVar(&o.AbsTol, "abs-tol", "", "absolute tolerance (default 0)")
	cmd.Flags().StringVar(&o.RelTol, "rel-tol", "", "tolerance relative to |base| (default 0)")
	cmd.Flags().IntVar(&maxItems, "max", 0, "print at most this many positions (0: all)")
	return cmd
}

// printCompareHeader prints what is compared, the totals and the counts.
func printCompareHeader(w io.Writer, p client.Comparison) {
	fmt.Fprintf(w, "%s → %s: %s under %s, breaks beyond %s + %s·|base|\n\n", p.BaseRunID, p.TargetRunID, p.Measure, p.Scenario,
		number(p.AbsTol), number(p.RelTol))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\t%s (base)\t%s (target)\tdiff\t\n", p.BaseRunID, p.TargetRunID)
	t := p.Totals
	if t.Base.Number != nil || t.Target.Number != nil || t.Diff.Number != nil {
		fmt.Fprintf(tw, "total\t%s\t%s\t%s\t\n", figure(&t.Base), figure(&t.Target), figure(&t.Diff))
	} else {
		// Per currency (FX_DELTA): one line each.
		keys := make([]string, 0, len(t.Diff.Parts))
		for k := range t.Diff.Parts {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(tw, "total %s\t%s\t%s\t%s\t\n", k, part(t.Base, k), part(t.Target, k), part(t.Diff, k))
		}
	}
	tw.Flush()
	c := p.Counts
	fmt.Fprintf(w, "\n%s positions: %s matched, %s breaks, %s only in %s, %s only in %s\n",
		client.FormatCount(c.Total()), client.FormatCount(c.Matched), client.FormatCount(c.Breaks),
		client.FormatCount(c.OnlyInBase), p.BaseRunID, client.FormatCount(c.OnlyInTarget), p.TargetRunID)
	if c.Breaks+c.OnlyInBase+c.OnlyInTarget > 0 {
		fmt.Fprintln(w)
	}
}

// figure formats a value: a number in full, an object as "KEY value"
// pairs, a missing value as —.
func figure(f *client.Figure) string {
	switch {
	case f == nil:
		return "—"
	case f.Number != nil:
		return number(*f.Number)
	}
	keys := make([]string, 0, len(f.Parts))
	for k := range f.Parts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		p := f.Parts[k]
		parts[i] = k + " " + figure(&p)
	}
	return strings.Join(parts, "; ")
}

// part formats one currency of a per-currency figure, — when absent.
func part(f client.Figure, key string) string {
	p, ok := f.Parts[key]
	if !ok {
		return "—"
	}
	return figure(&p)
}

// number formats x with every digit it needs to read back the same, in
// plain notation unless it is very large or very small.
func number(x float64) string {
	if a := math.Abs(x); x == 0 || (a >= 1e-6 && a < 1e21) {
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return strconv.FormatFloat(x, 'g', -1, 64)
}
