package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/iprs/iprs/internal/client"
	"github.com/spf13/cobra"
)

// newPushPositionsCmd makes `push positions FILE`: a JSON position
// snapshot, or a CSV loan tape (a FILE ending in .csv, or --format csv),
// whose snapshot members come from --node, --as-of and --id.
func newPushPositionsCmd(f *clientFlags) *cobra.Command {
	var format, node, asOf, id string
	cmd := &cobra.Command{
		Use:   "positions FILE",
		Short: "Upload a position snapshot (JSON) or a loan tape (CSV), FILE or - for standard input, streamed",
		Long: `positions uploads a JSON position snapshot document, or a CSV loan tape: one
row per position, columns position_id, instrument_id, product_type, quantity and
any others as attributes. A FILE ending in .csv is a tape (or say --format csv);
a tape's snapshot members are flags:

  iprs push positions book.json
  iprs push positions tape.csv --node BOOK-CONSUMER-LOANS --as-of 2026-01-23T17:00:00Z [--id PS-1]`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			csv, err := isTape(format, args[0])
			if err != nil {
				return err
			}
			if !csv && (node != "" || asOf != "" || id != "") {
				return fmt.Errorf("--node, --as-of and --id are for CSV tapes; a JSON snapshot carries its own members")
			}
			if csv && (node == "" || asOf == "") {
				return fmt.Errorf("a CSV tape needs --node (portfolio_node_id) and --as-of (RFC 3339)")
			}
			in, err := openInput(cmd, args[0])
			if err != nil {
				return err
			}
			defer in.Close()
			start := time.Now()
			body := uploadProgress(cmd, args[0], in)
			var (
				rec     client.SnapshotReceipt
				created bool
			)
			if csv {
				rec, created, err = f.client().PushPositionTape(cmd.Context(), body, client.TapeParams{PortfolioNodeID: node, AsOfTime: asOf, PositionSnapshotID: id})
			} else {
				rec, created, err = f.client().PushPositionSnapshot(cmd.Context(), body)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "position snapshot %s %s: %s positions (%s) in %s, hash %s\n",
				rec.PositionSnapshotID, createdWord(created), client.FormatCount(rec.PositionCount),
				strings.Join(rec.ProductTypes, ", "), time.Since(start).Round(time.Millisecond), rec.PayloadHash)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&format, "format", "", "json or csv (default: csv for a FILE ending in .csv, else json)")
	fl.StringVar(&node, "node", "", "portfolio_node_id of a CSV tape")
	fl.StringVar(&asOf, "as-of", "", "as_of_time of a CSV tape (RFC 3339)")
	fl.StringVar(&id, "id", "", "position_snapshot_id of a CSV tape (default: the server makes one)")
	return cmd
}

// isTape tells whether the upload is a CSV tape: --format, else the
// file's extension.
func isTape(format, name string) (bool, error) {
	switch strings.ToLower(format) {
	case "csv":
		return true, nil
	case "json":
		return false, nil
	case "":
		return strings.EqualFold(filepath.Ext(name), ".csv"), nil
	}
	return false, fmt.Errorf("--format %q: want json or csv", format)
}

// writeBook writes a generated book in format (json or csv).
func writeBook(w io.Writer, format string, write, writeTape func(io.Writer) (int, error)) (int, error) {
	switch strings.ToLower(format) {
	case "", "json":
		return write(w)
	case "csv":
		return writeTape(w)
	}
	return 0, fmt.Errorf("--format %q: want json or csv", format)
}
