// Package resultcodec encodes a position's measures under every scenario of
// its run into the one value column of its result row
// (store.PositionResult.Values): the binary form of pricing.Values
// (Values.AppendBinary) for each scenario, one after the other, in the
// order of the run's scenarios. Nothing else is stored: the scenario ids
// come from the run, and the form of each Values is pricing's.
package resultcodec

import (
	"fmt"

	"github.com/iprs/iprs/internal/pricing"
)

// Append appends the encoding of vals (one per scenario of the run, in
// the run's order) to b.
func Append(b []byte, vals []pricing.Values) []byte {
	for i := range vals {
		b = vals[i].AppendBinary(b)
	}
	return b
}

// Decode reads len(vals) scenarios' values from b into vals. b must hold
// exactly that many: fewer or more is an error, so a row decoded against
// the wrong run's scenarios cannot pass for a right one.
func Decode(b []byte, vals []pricing.Values) error {
	for i := range vals {
		rest, err := vals[i].DecodeBinary(b)
		if err != nil {
			return fmt.Errorf("resultcodec: scenario %d of %d: %w", i+1, len(vals), err)
		}
		b = rest
	}
	if len(b) != 0 {
		return fmt.Errorf("resultcodec: %d bytes left after %d scenarios", len(b), len(vals))
	}
	return nil
}

// Scalars reads the scalar measure m (not KR01) under each of len(x)
// scenarios from b without decoding whole Values: x[i] is its value under
// scenario i and has[i] whether present (x[i] is 0 when absent). b must
// hold exactly that many scenarios, as for Decode.
func Scalars(b []byte, m pricing.Measure, x []float64, has []bool) error {
	for i := range x {
		v, ok, rest, err := pricing.BinaryScalar(b, m)
		if err != nil {
			return fmt.Errorf("resultcodec: scenario %d of %d: %w", i+1, len(x), err)
		}
		x[i], has[i], b = v, ok, rest
	}
	if len(b) != 0 {
		return fmt.Errorf("resultcodec: %d bytes left after %d scenarios", len(b), len(x))
	}
	return nil
}

// DecodeOne reads the values of scenario i of n from b into v, stepping
// over the others without building them. b must hold exactly n scenarios,
// as for Decode.
func DecodeOne(b []byte, n, i int, v *pricing.Values) error {
	for k := range n {
		var err error
		if k == i {
			b, err = v.DecodeBinary(b)
		} else {
			_, _, b, err = pricing.BinaryScalar(b, pricing.PV)
		}
		if err != nil {
			return fmt.Errorf("resultcodec: scenario %d of %d: %w", k+1, n, err)
		}
	}
	if len(b) != 0 {
		return fmt.Errorf("resultcodec: %d bytes left after %d scenarios", len(b), n)
	}
	return nil
}
