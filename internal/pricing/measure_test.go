package pricing

import (
	"encoding/json"
	"math"
	"testing"
)

func TestMeasureNames(t *testing.T) {
	t.Parallel()
	want := []string{"PV", "DV01", "CS01", "ACCRUED_INTEREST", "FX_DELTA", "WAL", "EXPECTED_LOSS", "KR01"}
	all := Measures()
	if len(all) != len(want) {
		t.Fatalf("Measures() = %v", all)
	}
	for i, m := range all {
		if m.String() != want[i] {
			t.Errorf("measure %d String = %s, want %s", i, m, want[i])
		}
		got, ok := ParseMeasure(want[i])
		if !ok || got != m {
			t.Errorf("ParseMeasure(%s) = %v, %v", want[i], got, ok)
		}
	}
	if PV.String() != "PV" || AccruedInterest.String() != "ACCRUED_INTEREST" || FXDelta.String() != "FX_DELTA" {
		t.Error("constants do not match their names")
	}
	for _, s := range []string{"pv", "", "DELTA", "ACCRUED"} {
		if _, ok := ParseMeasure(s); ok {
			t.Errorf("ParseMeasure(%q) accepted it", s)
		}
	}
}

func TestValues(t *testing.T) {
	t.Parallel()
	var v Values
	if _, ok := v.Get(PV); ok || v.Len() != 0 {
		t.Fatal("zero Values is not empty")
	}
	v.Set(DV01, -0.5)
	v.Set(PV, 0)
	if x, ok := v.Get(PV); !ok || x != 0 {
		t.Error("PV 0 must be present")
	}
	if _, ok := v.Get(CS01); ok {
		t.Error("CS01 must be absent")
	}
	if _, ok := v.Get(Measure(200)); ok {
		t.Error("an unknown measure must be absent")
	}
	if got := string(v.AppendJSON(nil)); got != `{"PV":0,"DV01":-0.5}` {
		t.Errorf("AppendJSON = %s", got)
	}
	v.Set(FXDelta, 1e-7)
	v.Set(AccruedInterest, 1e21)
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"PV":0,"DV01":-0.5,"ACCRUED_INTEREST":1e+21,"FX_DELTA":1e-7}`; string(b) != want {
		t.Errorf("MarshalJSON = %s, want %s", b, want)
	}
	var a map[string]float64
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatal(err)
	}
	if len(a) != 4 || a["FX_DELTA"] != 1e-7 || a["ACCRUED_INTEREST"] != 1e21 {
		t.Errorf("MarshalJSON = %s", b)
	}
	if got := string(appendJSONFloat(nil, 1e-7)); got != "1e-7" {
		t.Errorf("appendJSONFloat(1e-7) = %s", got)
	}
	if got := string(appendJSONFloat(nil, 123.25)); got != "123.25" {
		t.Errorf("appendJSONFloat(123.25) = %s", got)
	}
	if p := v.Present(); len(p) != 4 || p[0] != PV || p[3] != FXDelta {
		t.Errorf("Present = %v", p)
	}
	if m := v.Map(); len(m) != 4 || m["DV01"] != -0.5 {
		t.Errorf("Map = %v", m)
	}
	v.Set(PV, math.NaN())
	if _, err := json.Marshal(v); err == nil {
		t.Error("MarshalJSON accepted NaN")
	}
	v.Reset()
	if v.Len() != 0 {
		t.Error("Reset left measures")
	}
}

func TestMeasureJSON(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal([]Measure{PV, FXDelta})
	if err != nil || string(b) != `["PV","FX_DELTA"]` {
		t.Fatalf("Marshal = %s, %v", b, err)
	}
	var ms []Measure
	if err := json.Unmarshal([]byte(`["ACCRUED_INTEREST","CS01"]`), &ms); err != nil || len(ms) != 2 || ms[0] != AccruedInterest || ms[1] != CS01 {
		t.Fatalf("Unmarshal = %v, %v", ms, err)
	}
	if err := json.Unmarshal([]byte(`["GAMMA"]`), &ms); err == nil {
		t.Error("Unmarshal accepted GAMMA")
	}
	if _, err := json.Marshal(Measure(42)); err == nil {
		t.Error("Marshal accepted an unknown measure")
	}
}
