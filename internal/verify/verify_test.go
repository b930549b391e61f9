package verify

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/iprs/iprs/internal/pricing"
	"github.com/iprs/iprs/internal/resultcodec"
)

func TestIDAndTarget(t *testing.T) {
	for _, c := range []struct {
		run string
		n   int
	}{{"RUN-1", 1}, {"RUN-1", 12}, {"a~VERIFY-3", 2}, {"RUN-20260123T000000.000Z-9f8e7d6c5b4a", 7}} {
		id := ID(c.run, c.n)
		run, n, ok := Target(id)
		if !ok || run != c.run || n != c.n {
			t.Errorf("Target(%q) = %q, %d, %v; want %q, %d", id, run, n, ok, c.run, c.n)
		}
	}
	if got := ID("RUN-1", 3); got != "RUN-1~VERIFY-3" {
		t.Errorf("ID = %q", got)
	}
	for _, id := range []string{"RUN-1", "~VERIFY-1", "RUN-1~VERIFY-", "RUN-1~VERIFY-0", "RUN-1~VERIFY-01", "RUN-1~VERIFY--2", "RUN-1~VERIFY-x", "RUN-1~VERIFY-+2"} {
		if run, n, ok := Target(id); ok {
			t.Errorf("Target(%q) = %q, %d, true; want not a replay id", id, run, n)
		}
	}
}

// values builds one scenario's values from a few measures.
func values(f func(v *pricing.Values)) pricing.Values {
	var v pricing.Values
	f(&v)
	return v
}

func encode(vals ...pricing.Values) []byte { return resultcodec.Append(nil, vals) }

func keys(ms []Mismatch) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ScenarioID+" "+m.Measure)
	}
	return out
}

func TestDiffFindsEveryBitThatDiffers(t *testing.T) {
	scenarios := []string{"BASE", "X"}
	ladder := [pricing.NumKeyRates]float64{0.1, 0.2, 0.3}
	base := func(v *pricing.Values) {
		v.Set(pricing.PV, 100)
		v.Set(pricing.DV01, -0.03)
		v.SetWAL(4.5, 1000)
		v.SetFXDelta(12, "EUR")
		v.AddKR01("USD-OIS", ladder)
	}
	stored := encode(values(base), values(func(v *pricing.Values) { base(v); v.Set(pricing.PV, 99.5) }))
	same := func(f func(v *pricing.Values)) []byte {
		return encode(values(base), values(func(v *pricing.Values) { base(v); v.Set(pricing.PV, 99.5); f(v) }))
	}
	nan := math.Float64frombits(0x7ff8000000000001)
	otherNaN := math.Float64frombits(0x7ff8000000000002)
	for _, c := range []struct {
		name       string
		recomputed []byte
		want       []string
		check      func(t *testing.T, m Mismatch)
	}{
		{"equal", stored, nil, nil},
		{"one ulp", same(func(v *pricing.Values) { v.Set(pricing.PV, math.Nextafter(99.5, 100)) }), []string{"X PV"},
			func(t *testing.T, m Mismatch) {
				if m.Stored != 99.5 || m.Recomputed != math.Nextafter(99.5, 100) || m.Detail != "" {
					t.Errorf("mismatch %+v, want stored 99.5, recomputed one ulp above", m)
				}
			}},
		{"sign of zero", same(func(v *pricing.Values) { v.Set(pricing.DV01, math.Copysign(0, -1)) }), []string{"X DV01"},
			func(t *testing.T, m Mismatch) {
				if x, ok := m.Recomputed.(float64); !ok || x != 0 || !math.Signbit(x) {
					t.Errorf("recomputed %v, want -0", m.Recomputed)
				}
			}},
		{"WAL weight only", same(func(v *pricing.Values) { v.SetWAL(4.5, 1001) }), []string{"X WAL"},
			func(t *testing.T, m Mismatch) {
				if m.Stored != 4.5 || m.Recomputed != 4.5 {
					t.Errorf("mismatch %+v, want WAL 4.5 both (the weight differs)", m)
				}
			}},
		{"FX_DELTA currency only", same(func(v *pricing.Values) { v.SetFXDelta(12, "GBP") }), []string{"X FX_DELTA"}, nil},
		{"one KR01 tenor", same(func(v *pricing.Values) {
			l := ladder
			l[10] = 1e-9
			var w pricing.Values
			w.Set(pricing.PV, 99.5)
			w.Set(pricing.DV01, -0.03)
			w.SetWAL(4.5, 1000)
			w.SetFXDelta(12, "EUR")
			w.AddKR01("USD-OIS", l)
			*v = w
		}), []string{"X KR01"},
			func(t *testing.T, m Mismatch) {
				st, re := m.Stored.(map[string]map[string]any), m.Recomputed.(map[string]map[string]any)
				if st["USD-OIS"]["30Y"] != 0.0 || re["USD-OIS"]["30Y"] != 1e-9 || re["USD-OIS"]["3M"] != 0.1 {
					t.Errorf("KR01 ladders %v / %v, want 30Y 0 then 1e-9", st, re)
				}
			}},
		{"a measure gone", same(func(v *pricing.Values) {
			var w pricing.Values
			w.Set(pricing.PV, 99.5)
			w.Set(pricing.DV01, -0.03)
			w.SetFXDelta(12, "EUR")
			w.AddKR01("USD-OIS", ladder)
			*v = w
		}), []string{"X WAL"},
			func(t *testing.T, m Mismatch) {
				if m.Stored != 4.5 || m.Recomputed != nil {
					t.Errorf("mismatch %+v, want stored 4.5, recomputed null", m)
				}
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Diff("PS", "P1", scenarios, stored, c.recomputed)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(keys(got), c.want) {
				t.Fatalf("mismatches %v, want %v", keys(got), c.want)
			}
			for _, m := range got {
				if m.PositionID != "P1" || m.PositionSnapshotID != "PS" {
					t.Errorf("mismatch names %s/%s", m.PositionSnapshotID, m.PositionID)
				}
				if c.check != nil {
					c.check(t, m)
				}
			}
		})
	}

	// NaN: the same bits are equal, other payloads are not; neither is a
	// JSON number.
	withNaN := func(x float64) []byte {
		return encode(values(func(v *pricing.Values) { v.Set(pricing.PV, x) }))
	}
	if got, err := Diff("PS", "P1", []string{"BASE"}, withNaN(nan), withNaN(nan)); err != nil || len(got) != 0 {
		t.Errorf("the same NaN: %v, %v; want no mismatch", got, err)
	}
	got, err := Diff("PS", "P1", []string{"BASE"}, withNaN(nan), withNaN(otherNaN))
	if err != nil || len(got) != 1 || got[0].Stored != "NaN" || got[0].Recomputed != "NaN" {
		t.Errorf("NaNs of other payloads: %+v, %v; want one mismatch shown as \"NaN\"", got, err)
	}
}

func TestDiffOfAMissingOrBrokenStoredRow(t *testing.T) {
	scenarios := []string{"BASE", "X"}
	re := encode(values(func(v *pricing.Values) { v.Set(pricing.PV, 1); v.Set(pricing.DV01, 2) }),
		values(func(v *pricing.Values) { v.Set(pricing.PV, 3) }))
	got, err := Diff("PS", "P1", scenarios, nil, re)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"BASE PV", "BASE DV01", "X PV"}; !slices.Equal(keys(got), want) {
		t.Fatalf("missing row: %v, want %v", keys(got), want)
	}
	for _, m := range got {
		if m.Stored != nil || m.Detail != "no stored result" {
			t.Errorf("missing row: %+v, want stored null and the detail", m)
		}
	}
	got, err = Diff("PS", "P1", scenarios, []byte{0xff}, re)
	if err != nil || len(got) != 3 || !strings.Contains(got[0].Detail, "does not decode") {
		t.Errorf("broken row: %+v, %v; want every measure, saying the row does not decode", got, err)
	}
	// A row of one scenario only, against two: it does not decode either.
	one := encode(values(func(v *pricing.Values) { v.Set(pricing.PV, 1); v.Set(pricing.DV01, 2) }))
	if got, err = Diff("PS", "P1", scenarios, one, re); err != nil || len(got) != 3 || !strings.Contains(got[0].Detail, "does not decode") {
		t.Errorf("short row: %+v, %v", got, err)
	}
	if _, err := Diff("PS", "P1", scenarios, re, []byte{1}); err == nil {
		t.Error("recomputed values that do not decode: no error")
	}
}
