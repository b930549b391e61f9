package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/iprs/iprs/internal/gen"
	"github.com/spf13/cobra"
)

func newGenCmd() *cobra.Command {
	var (
		loans, bonds, fx string
		asOf             string
		node, id         string
		seed             uint64
		out, market      string
		history          int
		historyDir       string
		modelSet         string
		format           string
		schedules        bool
	)
	cmd := &cobra.Command{
		Use:   "gen",
		Short: "Generate a reproducible loan book (and its market) for demos and benchmarks",
		Long: `gen writes a position snapshot of consumer loans given by their terms (with FICO,
state, city and program), plus fixed-rate bonds and FX forwards, streamed so that
books of millions of positions need no memory. With --market it also writes a
market snapshot with every curve and spot the book needs, and with --model-set
a demo model set (prepayment and default by program and FICO band) to value
the loans with.

  iprs gen --loans 1m --out book.json --market market.json --model-set models.json
  iprs push market market.json && iprs push positions book.json

With --history N it writes N business days of market snapshots ending on the
--as-of date, one file each in --history-dir (MKT-HIST-YYYYMMDD.json): every
curve node and spot follows a seeded, mean-reverting random walk back from
the market --market writes (the last day holds its values), so historical
scenario sets have data to learn from.
The book is then written only when --out names a file.

  iprs gen --history 260 --history-dir hist
  for f in hist/*.json; do iprs push market "$f"; done
  iprs scenario-set historical --from 2025-01-23 --to 2026-01-23

With --schedules every loan also lists its schedule as explicit cashflows (one
row per remaining payment, in cents), which win over its terms when valued.

With --format csv it writes a CSV loan tape instead (loans only):

  iprs gen --loans 1m --format csv --out tape.csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := time.Parse(time.RFC3339, asOf)
			if err != nil {
				return fmt.Errorf("--as-of %q: want RFC 3339, like 2026-01-23T17:00:00Z", asOf)
			}
			o := gen.Options{SnapshotID: id, NodeID: node, AsOf: t, Seed: seed, Schedules: schedules}
			for _, c := range []struct {
				flag string
				val  string
				dst  *int
			}{{"--loans", loans, &o.Loans}, {"--bonds", bonds, &o.Bonds}, {"--fx-forwards", fx, &o.FXForwards}} {
				n, err := gen.ParseCount(c.val)
				if err != nil {
					return fmt.Errorf("%s: %w", c.flag, err)
				}
				*c.dst = n
			}
			if market != "" {
				b, err := json.MarshalIndent(gen.MarketSnapshot("MKT-"+t.UTC().Format("20060102-1504Z"), t), "", "  ")
				if err != nil {
					return fmt.Errorf("encode market snapshot: %w", err)
				}
				if err := os.WriteFile(market, append(b, '\n'), 0o644); err != nil {
					return fmt.Errorf("write %s: %w", market, err)
				}
			}
			if modelSet != "" {
				if err := writeJSONFile(modelSet, gen.ModelSet("MS-DEMO-"+t.UTC().Format("20060102"))); err != nil {
					return err
				}
			}
			if history < 0 {
				return fmt.Errorf("--history %d: want a number of business days, at least 1", history)
			}
			if history > 0 {
				if err := writeHistory(cmd, t, history, seed, historyDir); err != nil {
					return err
				}
				if out == "" {
					return nil
				}
			}
			var w io.Writer = cmd.OutOrStdout()
			if out != "" && out != "-" {
				f, err := os.Create(out)
				if err != nil {
					return fmt.Errorf("create %s: %w", out, err)
				}
				defer f.Close()
				w = f
			}
			n, err := writeBook(w, format,
				func(w io.Writer) (int, error) {
					return gen.WritePositionSnapshotProgress(w, o, genProgress(cmd, o.Loans+o.Bonds+o.FXForwards))
				},
				func(w io.Writer) (int, error) { return gen.WritePositionTape(w, o) })
			if err != nil {
				return err
			}
			if out != "" && out != "-" {
				fmt.Fprintf(cmd.ErrOrStderr(), "wrote %d positions to %s\n", n, out)
				if format == "csv" {
					fmt.Fprintf(cmd.ErrOrStderr(), "upload it with: iprs push positions %s --node %s --as-of %s%s\n",
						out, node, t.UTC().Format(time.RFC3339), map[bool]string{true: "", false: " --id " + id}[id == ""])
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&loans, "loans", "10000", "number of loans (100000, 100k, 1m)")
	f.StringVar(&bonds, "bonds", "0", "number of fixed-rate bonds")
	f.StringVar(&fx, "fx-forwards", "0", "number of FX forwards")
	f.StringVar(&asOf, "as-of", "2026-01-23T17:00:00Z", "as-of time of the snapshot (RFC 3339)")
	f.StringVar(&node, "node", "BOOK-CONSUMER-LOANS", "portfolio_node_id")
	f.StringVar(&id, "id", "", "position_snapshot_id (default: the server makes one)")
	f.Uint64Var(&seed, "seed", 1, "random seed; the same seed gives the same book")
	f.StringVarP(&out, "out", "o", "", "write the position snapshot here instead of standard output")
	f.StringVar(&market, "market", "", "also write a matching market snapshot to this file")
	f.StringVar(&modelSet, "model-set", "", "also write a demo model set for the loans to this file")
	f.IntVar(&history, "history", 0, "write this many business days of market snapshots ending on the --as-of date")
	f.StringVar(&historyDir, "history-dir", "market-history", "directory for the --history snapshots (created if missing)")
	f.StringVar(&format, "format", "json", "json (a position snapshot document) or csv (a loan tape: no bonds; --node, --as-of and --id then go to push)")
	f.BoolVar(&schedules, "schedules", false, "give every loan its schedule as explicit cashflows (JSON only)")
	return cmd
}

// writeHistory writes gen.History's snapshots, one file each, into dir.
func writeHistory(cmd *cobra.Command, end time.Time, n int, seed uint64, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	snaps := gen.History(end, n, seed)
	for _, s := range snaps {
		b, err := json.MarshalIndent(s, "", "  ")
		if err != nil {
			return fmt.Errorf("encode market snapshot: %w", err)
		}
		name := filepath.Join(dir, s["snapshot_id"].(string)+".json")
		if err := os.WriteFile(name, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "wrote %d market snapshots (%s to %s) to %s\n", len(snaps),
		snaps[0]["as_of_time"], snaps[len(snaps)-1]["as_of_time"], dir)
	return nil
}

// writeJSONFile writes v as indented JSON to path.
func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
