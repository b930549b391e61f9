package verify

import (
	"bytes"
	"fmt"
	"math"

	"github.com/iprs/iprs/internal/pricing"
	"github.com/iprs/iprs/internal/resultcodec"
)

// Mismatch is one measure of one position under one scenario whose
// recomputed value differs from the stored one.
type Mismatch struct {
	PositionSnapshotID string `json:"position_snapshot_id"`
	PositionID         string `json:"position_id"`
	ScenarioID         string `json:"scenario_id"`
	Measure            string `json:"measure"`
	// Stored and Recomputed are the values as the results routes show
	// them (see Value); Stored is nil when the stored row lacks the
	// measure or there is no stored row.
	Stored     any `json:"stored"`
	Recomputed any `json:"recomputed"`
	// Detail says what is wrong with the stored row when it is not just
	// another number: missing, or not decodable.
	Detail string `json:"detail,omitempty"`
}

// Diff compares the stored values of a position (nil: no stored row) with
// the recomputed ones, both encoded with resultcodec over scenarios, and
// returns every scenario and measure whose binary form differs, in
// scenario then measure order. A stored row that does not decode is
// compared as if it held no measure, with the reason in Detail. The
// recomputed values must decode.
func Diff(snapshotID, positionID string, scenarios []string, stored, recomputed []byte) ([]Mismatch, error) {
	re := make([]pricing.Values, len(scenarios))
	if err := resultcodec.Decode(recomputed, re); err != nil {
		return nil, fmt.Errorf("recomputed values of position %s: %w", positionID, err)
	}
	st := make([]pricing.Values, len(scenarios))
	detail := ""
	switch {
	case stored == nil:
		detail = "no stored result"
	default:
		if err := resultcodec.Decode(stored, st); err != nil {
			detail = "the stored result does not decode: " + err.Error()
			clear(st)
		}
	}
	var out []Mismatch
	for si, scenario := range scenarios {
		for _, m := range pricing.Measures() {
			if !st[si].Has(m) && !re[si].Has(m) {
				continue
			}
			if bytes.Equal(measureBytes(&st[si], m), measureBytes(&re[si], m)) {
				continue
			}
			out = append(out, Mismatch{PositionSnapshotID: snapshotID, PositionID: positionID, ScenarioID: scenario,
				Measure: m.String(), Stored: Value(&st[si], m), Recomputed: Value(&re[si], m), Detail: detail})
		}
	}
	if len(out) == 0 && !bytes.Equal(stored, recomputed) {
		// Both decode to the same values: only bytes the codec would
		// never write differ. Say so rather than nothing.
		out = append(out, Mismatch{PositionSnapshotID: snapshotID, PositionID: positionID, Measure: "",
			Detail: "the stored bytes differ from the recomputed ones but decode to the same values"})
	}
	return out, nil
}

// measureBytes is the binary form of measure m of v alone (its value and
// what goes with it: WAL's weight, FX_DELTA's currency, KR01's ladders).
func measureBytes(v *pricing.Values, m pricing.Measure) []byte {
	var one pricing.Values
	if !v.Has(m) {
		return one.AppendBinary(nil)
	}
	switch m {
	case pricing.KR01:
		for _, l := range v.KR01() {
			one.AddKR01(l.Curve, l.DV01)
		}
	case pricing.WAL:
		x, _ := v.Get(m)
		w, _ := v.WALWeight()
		one.SetWAL(x, w)
	case pricing.FXDelta:
		x, _ := v.Get(m)
		ccy, _ := v.FXDeltaCurrency()
		one.SetFXDelta(x, ccy)
	default:
		x, _ := v.Get(m)
		one.Set(m, x)
	}
	return one.AppendBinary(nil)
}

// Value is measure m of v as JSON shows it: nil when absent; a number
// (float64) for a scalar measure, or for a value that is not finite its
// name ("NaN", "+Inf", "-Inf"); for KR01 an object of curves, each an
// object of tenors.
func Value(v *pricing.Values, m pricing.Measure) any {
	if !v.Has(m) {
		return nil
	}
	if m != pricing.KR01 {
		x, _ := v.Get(m)
		return number(x)
	}
	tenors := pricing.KeyRateTenors()
	out := make(map[string]map[string]any, len(v.KR01()))
	for _, l := range v.KR01() {
		ladder := make(map[string]any, len(tenors))
		for j, x := range l.DV01 {
			ladder[tenors[j]] = number(x)
		}
		out[l.Curve] = ladder
	}
	return out
}

func number(x float64) any {
	switch {
	case math.IsNaN(x):
		return "NaN"
	case math.IsInf(x, 1):
		return "+Inf"
	case math.IsInf(x, -1):
		return "-Inf"
	}
	return x
}
