package exactsum

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// exactRef sums xs in a big.Float wide enough to hold any sum of a few
// million float64 values exactly (2^-1074 to 2^1024 needs 2098 bits, plus
// carries), then rounds once to the nearest float64, ties to even.
func exactRef(xs []float64) float64 {
	acc := new(big.Float).SetPrec(2200)
	t := new(big.Float).SetPrec(2200)
	for _, x := range xs {
		t.SetFloat64(x)
		acc.Add(acc, t)
	}
	f, _ := acc.Float64()
	return f
}

func TestSumCancellation(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		xs   []float64
		want float64
	}{
		{"empty", nil, 0},
		{"large cancels", []float64{1e16, 1, -1e16}, 1},
		{"large cancels other order", []float64{1, 1e16, -1e16}, 1},
		{"tenths", []float64{0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1}, 1},
		{"huge and tiny", []float64{1e308, 1e-308, -1e308}, 1e-308},
		// 1 + 2^-53 + 2^-106 is just above the half-way point between 1
		// and 1+2^-52, so it rounds up; naive left-to-right gives 1.
		{"half-way with tail", []float64{1, 0x1p-53, 0x1p-106}, 1 + 0x1p-52},
		// Exactly half-way: ties to even (1 is even).
		{"exact tie", []float64{1, 0x1p-53}, 1},
		{"tie to even up", []float64{1 + 0x1p-52, 0x1p-53}, 1 + 0x1p-51},
		{"subnormals", []float64{5e-324, 5e-324, -5e-324}, 5e-324},
	}
	for _, c := range cases {
		if got := Sum(c.xs); got != c.want {
			t.Errorf("%s: Sum(%v) = %v (%x), want %v", c.name, c.xs, got, math.Float64bits(got), c.want)
		}
	}
}

func TestSumMatchesBigFloatAndIgnoresOrder(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 11))
	for trial := 0; trial < 300; trial++ {
		n := 1 + rng.IntN(400)
		xs := make([]float64, n)
		for i := range xs {
			// Wide dynamic range with both signs and many near-cancelling
			// pairs, where naive summation loses digits.
			e := rng.IntN(80) - 40
			x := (rng.Float64() - 0.5) * math.Pow(10, float64(e))
			if i > 0 && rng.IntN(4) == 0 {
				x = -xs[rng.IntN(i)] * (1 + 0x1p-50*float64(rng.IntN(3)))
			}
			xs[i] = x
		}
		want := exactRef(xs)
		got := Sum(xs)
		if math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("trial %d: Sum = %v, exact = %v", trial, got, want)
		}
		for k := 0; k < 5; k++ {
			rng.Shuffle(len(xs), func(i, j int) { xs[i], xs[j] = xs[j], xs[i] })
			if again := Sum(xs); math.Float64bits(again) != math.Float64bits(want) {
				t.Fatalf("trial %d shuffle %d: Sum = %v, want %v", trial, k, again, want)
			}
		}
	}
}

func TestAccMergeAndSub(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 5))
	xs := make([]float64, 1000)
	ys := make([]float64, 700)
	for i := range xs {
		xs[i] = (rng.Float64() - 0.3) * 1e6
	}
	for i := range ys {
		ys[i] = (rng.Float64() - 0.6) * 1e9
	}
	var a, b Acc
	for _, x := range xs {
		a.Add(x)
	}
	for _, y := range ys {
		b.Add(y)
	}
	all := append([]float64(nil), xs...)
	for _, y := range ys {
		all = append(all, -y)
	}
	var d Acc
	d.AddAcc(&a)
	d.SubAcc(&b)
	if got, want := d.Sum(), exactRef(all); got != want {
		t.Fatalf("a - b = %v, want %v", got, want)
	}
	if d.Count() != int64(len(xs)+len(ys)) {
		t.Fatalf("Count = %d, want %d", d.Count(), len(xs)+len(ys))
	}
	// Merging an accumulator into itself doubles it exactly.
	a.AddAcc(&a)
	if got, want := a.Sum(), 2*exactRef(xs); got != want {
		t.Fatalf("a + a = %v, want %v", got, want)
	}
	// Sub of every value leaves exactly zero.
	var z Acc
	for _, x := range xs {
		z.Add(x)
	}
	for i := len(xs) - 1; i >= 0; i-- {
		z.Sub(xs[i])
	}
	if got := z.Sum(); got != 0 {
		t.Fatalf("x - x = %v, want 0", got)
	}
	z.Reset()
	if z.Sum() != 0 || z.Count() != 0 {
		t.Fatalf("after Reset: sum %v count %d", z.Sum(), z.Count())
	}
}

func TestNonFinite(t *testing.T) {
	t.Parallel()
	inf := math.Inf(1)
	if got := Sum([]float64{1, inf, 2}); !math.IsInf(got, 1) {
		t.Errorf("1+Inf+2 = %v, want +Inf", got)
	}
	if got := Sum([]float64{inf, math.Inf(-1)}); !math.IsNaN(got) {
		t.Errorf("Inf-Inf = %v, want NaN", got)
	}
	if got := Sum([]float64{1, math.NaN()}); !math.IsNaN(got) {
		t.Errorf("1+NaN = %v, want NaN", got)
	}
	if got := Sum([]float64{math.MaxFloat64, math.MaxFloat64}); !math.IsInf(got, 1) {
		t.Errorf("Max+Max = %v, want +Inf", got)
	}
}

func BenchmarkAdd(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	xs := make([]float64, 4096)
	for i := range xs {
		xs[i] = (rng.Float64() - 0.5) * 1e7
	}
	var a Acc
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a.Add(xs[i&4095])
	}
	_ = a.Sum()
}

// TestAccBinaryRoundTrip checks that an encoded accumulator merges exactly:
// 1e100 + 1 − 1e100 split over two accumulators, one of them sent through
// its encoding, still sums to 1 (a float64 running sum gives 0).
func TestAccBinaryRoundTrip(t *testing.T) {
	var a, b Acc
	a.Add(1e100)
	a.Add(1)
	b.Add(-1e100)
	var c Acc
	rest, err := c.DecodeBinary(a.AppendBinary([]byte{}))
	if err != nil || len(rest) != 0 {
		t.Fatalf("DecodeBinary: rest %d, err %v", len(rest), err)
	}
	if c.Count() != 2 {
		t.Errorf("count = %d, want 2", c.Count())
	}
	c.AddAcc(&b)
	if got := c.Sum(); got != 1 {
		t.Errorf("sum = %v, want 1", got)
	}
	var inf Acc
	inf.Add(math.Inf(1))
	var d Acc
	if _, err := d.DecodeBinary(inf.AppendBinary(nil)); err != nil || !math.IsInf(d.Sum(), 1) {
		t.Errorf("special term lost: %v, %v", d.Sum(), err)
	}
	for _, bad := range [][]byte{nil, {0x02}, {0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0x05}} {
		if _, err := d.DecodeBinary(bad); err == nil {
			t.Errorf("DecodeBinary(%x) accepted a truncated input", bad)
		}
	}
}

func FuzzAccDecodeBinary(f *testing.F) {
	var a Acc
	a.Add(3.5)
	a.Add(-1e-300)
	f.Add(a.AppendBinary(nil))
	f.Add([]byte{0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		var x Acc
		if _, err := x.DecodeBinary(b); err != nil {
			return
		}
		var y Acc
		if _, err := y.DecodeBinary(x.AppendBinary(nil)); err != nil {
			t.Fatalf("re-encoded accumulator does not decode: %v", err)
		}
		if s1, s2 := x.Sum(), y.Sum(); math.Float64bits(s1) != math.Float64bits(s2) && !(math.IsNaN(s1) && math.IsNaN(s2)) {
			t.Fatalf("round trip changed the sum: %v vs %v", s1, s2)
		}
	})
}
