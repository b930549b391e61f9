package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
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
		format           string
	)
	cmd := &cobra.Command{
		Use:   "gen",
		Short: "Generate a reproducible loan book (and its market) for demos and benchmarks",
		Long: `gen writes a position snapshot of consumer loans given by their terms (with FICO,
state, city and program), plus fixed-rate bonds and FX forwards, streamed so that
books of millions of positions need no memory. With --market it also writes a
market snapshot with every curve and spot the book needs.

  iprs gen --loans 1m --out book.json --market market.json
  iprs push market market.json && iprs push positions book.json
  iprs gen --loans 1m --format csv --out tape.csv   # a CSV loan tape`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := time.Parse(time.RFC3339, asOf)
			if err != nil {
				return fmt.Errorf("--as-of %q: want RFC 3339, like 2026-01-23T17:00:00Z", asOf)
			}
			o := gen.Options{SnapshotID: id, NodeID: node, AsOf: t, Seed: seed}
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
				func(w io.Writer) (int, error) { return gen.WritePositionSnapshot(w, o) },
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
	f.StringVar(&format, "format", "json", "json (a position snapshot document) or csv (a loan tape: no bonds; --node, --as-of and --id then go to push)")
	return cmd
}
