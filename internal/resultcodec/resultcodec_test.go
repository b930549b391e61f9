package resultcodec

import (
	"math"
	"testing"

	"github.com/iprs/iprs/internal/pricing"
)

func TestRoundTripKeepsEveryBitAndEveryAbsence(t *testing.T) {
	vals := make([]pricing.Values, 3)
	vals[0].Set(pricing.PV, math.Copysign(0, -1))
	vals[0].Set(pricing.DV01, math.SmallestNonzeroFloat64)
	vals[1].Set(pricing.PV, 0.1+0.2)
	vals[1].SetFXDelta(-1e300, "EUR")
	vals[1].SetWAL(3.25, 1e6)
	ladder := [pricing.NumKeyRates]float64{1: -0.5, 10: 7}
	vals[1].AddKR01("USD-OIS", ladder)
	// vals[2] has no measure at all.
	b := Append(nil, vals)
	got := make([]pricing.Values, 3)
	if err := Decode(b, got); err != nil {
		t.Fatal(err)
	}
	if x, ok := got[0].Get(pricing.PV); !ok || !math.Signbit(x) || x != 0 {
		t.Errorf("PV of scenario 0 = %v, %v; want -0", x, ok)
	}
	if x, _ := got[0].Get(pricing.DV01); x != math.SmallestNonzeroFloat64 {
		t.Errorf("DV01 = %v", x)
	}
	if got[0].Has(pricing.CS01) || got[2].Len() != 0 {
		t.Errorf("absent measures came back: %v, %d", got[0].Present(), got[2].Len())
	}
	if ccy, ok := got[1].FXDeltaCurrency(); !ok || ccy != "EUR" {
		t.Errorf("FX_DELTA currency = %q, %v", ccy, ok)
	}
	if w, ok := got[1].WALWeight(); !ok || w != 1e6 {
		t.Errorf("WAL weight = %v, %v", w, ok)
	}
	if kr := got[1].KR01(); len(kr) != 1 || kr[0].Curve != "USD-OIS" || kr[0].DV01 != ladder {
		t.Errorf("KR01 = %+v", kr)
	}
	if err := Decode(b, make([]pricing.Values, 2)); err == nil {
		t.Error("decoding 3 scenarios as 2 succeeded")
	}
	if err := Decode(b, make([]pricing.Values, 4)); err == nil {
		t.Error("decoding 3 scenarios as 4 succeeded")
	}
}

func TestScalarsReadOneMeasureOfEveryScenario(t *testing.T) {
	vals := make([]pricing.Values, 3)
	vals[0].Set(pricing.PV, math.Copysign(0, -1))
	vals[0].Set(pricing.DV01, 2)
	vals[1].SetFXDelta(-1e300, "EUR")
	vals[1].AddKR01("USD-OIS", [pricing.NumKeyRates]float64{1: -0.5})
	vals[1].Set(pricing.PV, 0.1+0.2)
	vals[1].SetWAL(3.25, 1e6)
	// vals[2] has no measure at all.
	b := Append(nil, vals)
	x, has := make([]float64, 3), make([]bool, 3)
	if err := Scalars(b, pricing.PV, x, has); err != nil {
		t.Fatal(err)
	}
	if !has[0] || !math.Signbit(x[0]) || x[0] != 0 || !has[1] || x[1] != 0.1+0.2 || has[2] {
		t.Errorf("PV = %v %v, want [-0 0.30000000000000004 absent]", x, has)
	}
	if err := Scalars(b, pricing.WAL, x, has); err != nil || has[0] || x[1] != 3.25 || !has[1] || has[2] {
		t.Errorf("WAL = %v %v %v, want [absent 3.25 absent]", x, has, err)
	}
	if err := Scalars(b, pricing.PV, x[:2], has[:2]); err == nil {
		t.Error("reading 3 scenarios as 2 succeeded")
	}
	if err := Scalars(b, pricing.PV, make([]float64, 4), make([]bool, 4)); err == nil {
		t.Error("reading 3 scenarios as 4 succeeded")
	}
}

func TestDecodeOneIsThatScenarioOfDecode(t *testing.T) {
	vals := make([]pricing.Values, 3)
	vals[0].Set(pricing.PV, 1)
	vals[1].SetFXDelta(-1e300, "EUR")
	vals[1].AddKR01("USD-OIS", [pricing.NumKeyRates]float64{1: -0.5})
	vals[1].SetWAL(3.25, 1e6)
	vals[2].Set(pricing.DV01, 2)
	b := Append(nil, vals)
	all := make([]pricing.Values, 3)
	if err := Decode(b, all); err != nil {
		t.Fatal(err)
	}
	for i := range vals {
		var v pricing.Values
		if err := DecodeOne(b, 3, i, &v); err != nil {
			t.Fatal(err)
		}
		if got, want := v.AppendBinary(nil), all[i].AppendBinary(nil); string(got) != string(want) {
			t.Errorf("scenario %d: %x, want %x", i, got, want)
		}
	}
	var v pricing.Values
	if err := DecodeOne(b, 2, 0, &v); err == nil {
		t.Error("reading 3 scenarios as 2 succeeded")
	}
	if err := DecodeOne(b[:len(b)-1], 3, 0, &v); err == nil {
		t.Error("a truncated row read without an error")
	}
}
