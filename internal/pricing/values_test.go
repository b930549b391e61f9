package pricing

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
)

func TestMeasureSpecs(t *testing.T) {
	t.Parallel()
	want := map[Measure]MeasureSpec{
		PV:              {Name: "PV", Products: []string{"AMORT_LOAN", "FIXED_BOND", "FX_FWD"}, Unit: "USD", Aggregation: Sum},
		DV01:            {Name: "DV01", Products: []string{"AMORT_LOAN", "FIXED_BOND", "FX_FWD"}, Unit: "USD", Aggregation: Sum},
		CS01:            {Name: "CS01", Products: []string{"AMORT_LOAN", "FIXED_BOND"}, Unit: "USD", Aggregation: Sum},
		AccruedInterest: {Name: "ACCRUED_INTEREST", Products: []string{"AMORT_LOAN", "FIXED_BOND"}, Unit: "USD", Aggregation: Sum},
		FXDelta:         {Name: "FX_DELTA", Products: []string{"FX_FWD"}, Unit: "base currency", Aggregation: PerCurrency},
		WAL:             {Name: "WAL", Products: []string{"AMORT_LOAN"}, Unit: "years", Aggregation: WeightedAverage},
		ExpectedLoss:    {Name: "EXPECTED_LOSS", Products: []string{"AMORT_LOAN"}, Unit: "USD", Aggregation: Sum},
		KR01:            {Name: "KR01", Products: []string{"AMORT_LOAN", "FIXED_BOND", "FX_FWD"}, Unit: "USD", Aggregation: KeyByKey},
	}
	for _, m := range Measures() {
		got, _ := json.Marshal(m.Spec())
		exp, _ := json.Marshal(want[m])
		if !bytes.Equal(got, exp) {
			t.Errorf("%s.Spec() = %s, want %s", m, got, exp)
		}
	}
	if len(want) != len(Measures()) {
		t.Errorf("%d measures, %d specs in the test", len(Measures()), len(want))
	}
	if s := Measure(99).Spec(); s.Name != "" || s.Products != nil {
		t.Errorf("unknown measure has spec %+v", s)
	}
	b, err := json.Marshal(WAL.Spec())
	if err != nil || string(b) != `{"name":"WAL","products":["AMORT_LOAN"],"unit":"years","aggregation":"weighted_average"}` {
		t.Errorf("WAL spec JSON = %s, %v", b, err)
	}
	// Spec returns a copy: changing it does not change the declaration.
	s := PV.Spec()
	s.Products[0] = "X"
	if PV.Spec().Products[0] != "AMORT_LOAN" {
		t.Error("Spec shares its Products slice")
	}
}

func ladder(base float64) [NumKeyRates]float64 {
	var l [NumKeyRates]float64
	for j := range l {
		l[j] = base + float64(j)
	}
	return l
}

func TestValuesNewMeasures(t *testing.T) {
	t.Parallel()
	var v Values
	v.SetWAL(3.25, 1500)
	v.Set(ExpectedLoss, 12.5)
	v.SetFXDelta(-2e6, "EUR")
	if w, ok := v.WALWeight(); !ok || w != 1500 {
		t.Errorf("WALWeight = %v, %v", w, ok)
	}
	if c, ok := v.FXDeltaCurrency(); !ok || c != "EUR" {
		t.Errorf("FXDeltaCurrency = %q, %v", c, ok)
	}
	if v.Has(KR01) || v.KR01() != nil {
		t.Error("KR01 present before any ladder")
	}
	v.Set(KR01, 5) // not a number: ignored
	if v.Has(KR01) {
		t.Error("Set(KR01) marked KR01 present")
	}
	if !v.AddKR01("USD-OIS", ladder(1)) {
		t.Fatal("AddKR01 USD-OIS refused")
	}
	if v.AddKR01("USD-OIS", ladder(2)) {
		t.Error("AddKR01 accepted a curve twice")
	}
	if v.AddKR01("", ladder(2)) {
		t.Error("AddKR01 accepted an empty curve id")
	}
	if !v.AddKR01("EUR-OIS", ladder(100)) {
		t.Fatal("AddKR01 EUR-OIS refused")
	}
	if v.AddKR01("GBP-OIS", ladder(3)) {
		t.Error("AddKR01 accepted a third curve")
	}
	kr := v.KR01()
	if len(kr) != 2 || kr[0].Curve != "EUR-OIS" || kr[1].Curve != "USD-OIS" || kr[0].DV01[10] != 110 || kr[1].DV01[0] != 1 {
		t.Fatalf("KR01 = %+v", kr)
	}
	// Get(KR01) is the total: (1+…+11) + (100+…+110) = 66 + 1155.
	if x, ok := v.Get(KR01); !ok || x != 66+1155 {
		t.Errorf("Get(KR01) = %v, %v", x, ok)
	}
	if _, ok := v.Map()["KR01"]; ok {
		t.Error("Map carries KR01")
	}
	got := string(v.AppendJSON(nil))
	want := `{"FX_DELTA":-2000000,"WAL":3.25,"EXPECTED_LOSS":12.5,"KR01":{` +
		`"EUR-OIS":{"3M":100,"6M":101,"1Y":102,"2Y":103,"3Y":104,"5Y":105,"7Y":106,"10Y":107,"15Y":108,"20Y":109,"30Y":110},` +
		`"USD-OIS":{"3M":1,"6M":2,"1Y":3,"2Y":4,"3Y":5,"5Y":6,"7Y":7,"10Y":8,"15Y":9,"20Y":10,"30Y":11}}}`
	if got != want {
		t.Errorf("AppendJSON =\n%s\nwant\n%s", got, want)
	}
	var decoded map[string]any
	if err := json.Unmarshal([]byte(got), &decoded); err != nil {
		t.Fatalf("AppendJSON is not JSON: %v", err)
	}
	var w Values
	w.AddKR01(`A"\<`, ladder(0))
	if got := string(w.AppendJSON(nil)); !json.Valid([]byte(got)) {
		t.Errorf("curve id not escaped: %s", got)
	}
	v.kr[0].DV01[3] = math.Inf(1)
	if _, err := json.Marshal(v); err == nil {
		t.Error("MarshalJSON accepted an infinite KR01 entry")
	}
	v.kr[0].DV01[3] = 0
	v.walWeight = math.NaN()
	if m, bad := v.nonFinite(); !bad || m != WAL {
		t.Errorf("nonFinite = %v, %v for a NaN WAL weight", m, bad)
	}
}

// randomValues makes Values with a random set of measures and values that
// include the awkward ones (−0, NaN, infinities, subnormals).
func randomValues(r *rand.Rand) Values {
	floats := []float64{0, math.Copysign(0, -1), 1, -1.5, math.NaN(), math.Inf(1), math.Inf(-1), 5e-324, math.MaxFloat64, 1e-7}
	f := func() float64 {
		if r.IntN(3) == 0 {
			return floats[r.IntN(len(floats))]
		}
		return r.NormFloat64() * 1e6
	}
	var v Values
	for m := Measure(0); m < numMeasures; m++ {
		if r.IntN(2) == 0 {
			continue
		}
		switch m {
		case KR01:
			curves := []string{"USD-OIS", "EUR-OIS", "X", "ÉUR-ÖIS", "GBP-OIS"}
			for range 1 + r.IntN(2) {
				var l [NumKeyRates]float64
				for j := range l {
					if r.IntN(3) > 0 {
						l[j] = f()
					}
				}
				v.AddKR01(curves[r.IntN(len(curves))], l)
			}
		case WAL:
			v.SetWAL(f(), f())
		case FXDelta:
			v.SetFXDelta(f(), []string{"EUR", "GBP", "", "XAU"}[r.IntN(4)])
		default:
			v.Set(m, f())
		}
	}
	return v
}

// sameValues compares two Values bit for bit.
func sameValues(a, b *Values) bool {
	if a.present != b.present || a.nkr != b.nkr || a.fxCcy != b.fxCcy ||
		math.Float64bits(a.walWeight) != math.Float64bits(b.walWeight) {
		return false
	}
	for m := range a.v {
		if math.Float64bits(a.v[m]) != math.Float64bits(b.v[m]) {
			return false
		}
	}
	for i := range a.kr {
		if a.kr[i].Curve != b.kr[i].Curve {
			return false
		}
		for j := range a.kr[i].DV01 {
			if math.Float64bits(a.kr[i].DV01[j]) != math.Float64bits(b.kr[i].DV01[j]) {
				return false
			}
		}
	}
	return true
}

func TestValuesBinaryRoundTrip(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 5000 {
		v := randomValues(r)
		b := v.AppendBinary([]byte("prefix"))
		var got Values
		got.SetWAL(9, 9) // DecodeBinary must reset
		rest, err := got.DecodeBinary(append(b[len("prefix"):], "tail"...))
		if err != nil {
			t.Fatalf("case %d: DecodeBinary: %v", i, err)
		}
		if string(rest) != "tail" {
			t.Fatalf("case %d: rest = %q", i, rest)
		}
		if !sameValues(&v, &got) {
			t.Fatalf("case %d: round trip\n%+v\n%+v", i, v, got)
		}
	}
}

func TestValuesBinaryLayout(t *testing.T) {
	t.Parallel()
	// Nothing present: one byte.
	var v Values
	if b := v.AppendBinary(nil); !bytes.Equal(b, []byte{0}) {
		t.Errorf("empty = %x", b)
	}
	// PV only: presence 0x01 then the bits of 1.0, little-endian.
	v.Set(PV, 1)
	if b := v.AppendBinary(nil); !bytes.Equal(b, []byte{0x01, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f}) {
		t.Errorf("PV 1 = %x", b)
	}
	// KR01 (bit 7) alone: presence 0x80 0x01 (a two-byte varint), one
	// ladder, "C", mask 0x0004 (only tenor 2 not zero), then 2.0.
	v.Reset()
	var l [NumKeyRates]float64
	l[2] = 2
	v.AddKR01("C", l)
	want := []byte{0x80, 0x01, 1, 1, 'C', 0x04, 0x00, 0, 0, 0, 0, 0, 0, 0, 0x40}
	if b := v.AppendBinary(nil); !bytes.Equal(b, want) {
		t.Errorf("KR01 = %x, want %x", b, want)
	}
}

func TestValuesDecodeBinaryRefuses(t *testing.T) {
	t.Parallel()
	var v Values
	v.Set(PV, 1)
	pv := v.AppendBinary(nil)
	cases := map[string][]byte{
		"empty":               {},
		"unknown bit":         {0x80, 0x02},
		"overlong varint":     {0x81, 0x00, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f},
		"truncated PV":        pv[:5],
		"zero ladders":        {0x80, 0x01, 0},
		"three ladders":       {0x80, 0x01, 3},
		"empty curve":         {0x80, 0x01, 1, 0, 0, 0},
		"bad tenor mask":      {0x80, 0x01, 1, 1, 'C', 0x00, 0x08},
		"explicit zero":       {0x80, 0x01, 1, 1, 'C', 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0, 0},
		"unordered ladders":   {0x80, 0x01, 2, 1, 'D', 0, 0, 1, 'C', 0, 0},
		"repeated curve":      {0x80, 0x01, 2, 1, 'C', 0, 0, 1, 'C', 0, 0},
		"huge string":         {0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0x03},
		"truncated currency":  {0x10, 0, 0, 0, 0, 0, 0, 0, 0, 3, 'E'},
		"truncated WAL weigh": {0x20, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2},
	}
	for name, b := range cases {
		v.SetWAL(1, 1)
		rest, err := v.DecodeBinary(b)
		if err == nil {
			t.Errorf("%s: accepted %x", name, b)
			continue
		}
		if v.Len() != 0 || !bytes.Equal(rest, b) {
			t.Errorf("%s: after an error v has %d measures, rest %x", name, v.Len(), rest)
		}
	}
}

func TestValuesDecodeBinaryAllocatesNothingForCommonRows(t *testing.T) {
	var v Values
	v.Set(PV, 100)
	v.Set(DV01, -0.1)
	v.SetWAL(2.5, 100)
	v.AddKR01("USD-OIS", ladder(-1))
	b := v.AppendBinary(nil)
	var got Values
	if n := testing.AllocsPerRun(100, func() {
		if _, err := got.DecodeBinary(b); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("DecodeBinary allocates %v times", n)
	}
	buf := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() { buf = v.AppendBinary(buf[:0]) }); n != 0 {
		t.Errorf("AppendBinary allocates %v times", n)
	}
}

func FuzzValuesDecodeBinary(f *testing.F) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 32 {
		v := randomValues(r)
		f.Add(v.AppendBinary(nil))
	}
	f.Add([]byte{0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		var v Values
		rest, err := v.DecodeBinary(b)
		for m := Measure(0); m < numMeasures; m++ {
			if m == KR01 {
				continue
			}
			// BinaryScalar reads what DecodeBinary reads (it may accept
			// more: it skips KR01 ladders unchecked).
			x, ok, srest, serr := BinaryScalar(b, m)
			if err == nil {
				want, wok := v.Get(m)
				if serr != nil || ok != wok || math.Float64bits(x) != math.Float64bits(want) || len(srest) != len(rest) {
					t.Fatalf("BinaryScalar(%x, %v) = %v %v %d left %v; DecodeBinary has %v %v, %d left", b, m, x, ok, len(srest), serr, want, wok, len(rest))
				}
			}
		}
		if err != nil {
			if v.Len() != 0 {
				t.Fatal("measures left after an error")
			}
			return
		}
		// Canonical: what was read re-encodes to the same bytes.
		used := b[:len(b)-len(rest)]
		if again := v.AppendBinary(nil); !bytes.Equal(again, used) {
			t.Fatalf("decoded %x, re-encoded %x", used, again)
		}
		_ = v.AppendJSON(nil)
	})
}

// TestBinaryScalar: each scalar measure read straight from the binary form
// is what the full decoder gives, the bytes after the form are the same,
// and every truncation of a form is an error.
func TestBinaryScalar(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 3000 {
		v := randomValues(r)
		b := v.AppendBinary(nil)
		for m := Measure(0); m < numMeasures; m++ {
			if m == KR01 {
				continue
			}
			x, ok, rest, err := BinaryScalar(append(b[:len(b):len(b)], "tail"...), m)
			want, wok := v.Get(m)
			if err != nil || ok != wok || math.Float64bits(x) != math.Float64bits(want) || string(rest) != "tail" {
				t.Fatalf("case %d %v: got %v %v %q %v, want %v %v", i, m, x, ok, rest, err, want, wok)
			}
			for k := range len(b) {
				if _, _, _, err := BinaryScalar(b[:k], m); err == nil {
					t.Fatalf("case %d %v: %d of %d bytes read without an error", i, m, k, len(b))
				}
			}
		}
	}
	// By hand: PV and CS01 present (bits 0 and 2), PV = 1, CS01 = -2.
	b := []byte{0x05, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0xc0}
	if x, ok, rest, err := BinaryScalar(b, CS01); x != -2 || !ok || len(rest) != 0 || err != nil {
		t.Errorf("CS01 = %v %v %d %v, want -2", x, ok, len(rest), err)
	}
	if _, ok, _, err := BinaryScalar(b, DV01); ok || err != nil {
		t.Errorf("DV01 present = %v, %v; want absent", ok, err)
	}
	if _, _, _, err := BinaryScalar([]byte{0xff, 0x01}, PV); err == nil {
		t.Error("unknown measure bits read without an error")
	}
}
