package gen

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// tapeAttributes are the attribute columns of a generated loan tape: every
// attribute of the loans and FX forwards, in a fixed order.
var tapeAttributes = []string{
	"current_principal", "coupon_rate", "remaining_term_months", "next_payment_date", "last_payment_date",
	"monthly_payment", "original_principal", "term_months", "origination_date", "fico", "state", "city",
	"program", "loan_program", "platform",
	"notional_base", "forward_rate", "maturity_date", "fx_pair", "desk",
}

// ErrTapeBonds is the error for a tape asked to hold bonds: a bond's
// cashflows are a list, which a CSV cell cannot hold.
var ErrTapeBonds = errors.New("a CSV loan tape cannot hold bonds (their cashflows are a list): ask for no bonds, or for JSON")

// ErrTapeSchedules is the error for a tape asked to hold loans with
// explicit schedules, lists a CSV cell cannot hold either.
var ErrTapeSchedules = errors.New("a CSV loan tape cannot hold explicit schedules (a list of cashflows): ask for loans by their terms, or for JSON")

// WritePositionTape streams the book as a CSV loan tape (SPEC §5) to w:
// a header row, then one row per position with the columns position_id,
// instrument_id, product_type, quantity and one per attribute (empty where
// a position has none). Numbers are written as JSON numbers, so the tape
// and WritePositionSnapshot's document of the same options are twins with
// the same payload_hash once uploaded; the snapshot's as-of time, node and
// id go in the upload's query, not the tape. It returns how many positions
// it wrote. A book with bonds is ErrTapeBonds, one with schedules
// ErrTapeSchedules.
func WritePositionTape(w io.Writer, o Options) (int, error) {
	if o.Bonds > 0 {
		return 0, ErrTapeBonds
	}
	if o.Schedules {
		return 0, ErrTapeSchedules
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	cw := csv.NewWriter(bw)
	header := append([]string{"position_id", "instrument_id", "product_type", "quantity"}, tapeAttributes...)
	if err := cw.Write(header); err != nil {
		return 0, fmt.Errorf("write tape header: %w", err)
	}
	row := make([]string, len(header))
	n := 0
	err := Each(o, func(p *Position) error {
		row[0], row[1], row[2] = p.PositionID, p.InstrumentID, p.ProductType
		row[3] = formatNumber(p.Quantity)
		for k, name := range tapeAttributes {
			cell, err := tapeCell(p.Attributes[name])
			if err != nil {
				return fmt.Errorf("position %s, attribute %s: %w", p.PositionID, name, err)
			}
			row[4+k] = cell
		}
		n++
		return cw.Write(row)
	})
	if err != nil {
		return n, err
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return n, fmt.Errorf("write loan tape: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("write loan tape: %w", err)
	}
	return n, nil
}

// tapeCell writes one attribute value; nil (absent) is an empty cell.
func tapeCell(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case int:
		return strconv.Itoa(v), nil
	case float64:
		return formatNumber(v), nil
	}
	return "", fmt.Errorf("a %T cannot be a CSV cell", v)
}

// formatNumber writes a float64 as the shortest JSON number that reads
// back to it.
func formatNumber(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
