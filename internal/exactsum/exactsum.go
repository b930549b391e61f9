// Package exactsum adds float64 values exactly and rounds once, so that a
// sum does not depend on the order of its terms. The results service uses it
// to make aggregates bit-identical however the rows were split across tasks
// and workers (SPEC §2: results are deterministic).
//
// The accumulator keeps Shewchuk's non-overlapping partials: after each Add
// the partials sum exactly to the sum of every value added so far. Sum
// rounds that exact value to the nearest float64 (ties to even), which is a
// function of the multiset of values alone.
package exactsum

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"
)

// Acc is an exact accumulator of float64 values. The zero value is an empty
// sum, ready to use. An Acc is not safe for concurrent use.
//
// Non-finite inputs are tracked apart from the partials: once a NaN, or
// infinities of both signs, have been added the sum is NaN; otherwise an
// infinity added makes the sum that infinity. A running sum that leaves the
// float64 range (beyond about 1.8e308) is ±Inf from then on, even if later
// terms would bring it back.
type Acc struct {
	partials []float64
	n        int64
	special  float64 // sum of the non-finite terms and overflows (0 if none)
}

// Add adds x to the sum.
func (a *Acc) Add(x float64) {
	a.n++
	if math.IsInf(x, 0) || math.IsNaN(x) {
		a.special += x
		return
	}
	a.addFinite(x)
}

// Sub subtracts x from the sum (adds −x exactly).
func (a *Acc) Sub(x float64) { a.Add(-x) }

// AddAcc adds the exact sum held by b to a. The count grows by b's count.
func (a *Acc) AddAcc(b *Acc) {
	a.merge(b, 1)
}

// SubAcc subtracts the exact sum held by b from a. The count grows by b's
// count.
func (a *Acc) SubAcc(b *Acc) {
	a.merge(b, -1)
}

func (a *Acc) merge(b *Acc, sign float64) {
	// Copy first: b may be a itself.
	ps := append([]float64(nil), b.partials...)
	a.n += b.n
	a.special += sign * b.special
	for _, p := range ps {
		a.addFinite(sign * p)
	}
}

// addFinite is the core of Shewchuk's algorithm (as in Python's math.fsum):
// it folds x into the partials with error-free two-sums, keeping them
// non-overlapping and increasing in magnitude.
func (a *Acc) addFinite(x float64) {
	i := 0
	for _, y := range a.partials {
		if math.Abs(x) < math.Abs(y) {
			x, y = y, x
		}
		hi := x + y
		lo := y - (hi - x)
		if math.IsInf(hi, 0) {
			// The running sum left the float64 range; keep the
			// overflowed value as a special term.
			a.special += hi
			a.partials = a.partials[:0]
			return
		}
		if lo != 0 {
			a.partials[i] = lo
			i++
		}
		x = hi
	}
	a.partials = append(a.partials[:i], x)
}

// Clone returns a copy of a: the same count, the same partials in the same
// order, so that anything added to both from here gives the same state.
func (a *Acc) Clone() Acc {
	c := *a
	c.partials = slices.Clone(a.partials)
	return c
}

// Count returns the number of values added (including those of merged
// accumulators).
func (a *Acc) Count() int64 { return a.n }

// Reset empties the accumulator, keeping its storage.
func (a *Acc) Reset() {
	a.partials = a.partials[:0]
	a.n = 0
	a.special = 0
}

// Sum returns the exact sum of the values added, rounded once to the
// nearest float64 (ties to even).
func (a *Acc) Sum() float64 {
	if a.special != 0 || math.IsNaN(a.special) {
		return a.special
	}
	n := len(a.partials)
	if n == 0 {
		return 0
	}
	// Sum the partials from the largest down; stop at the first inexact
	// step, then correct the rounding when the dropped tail would make the
	// result a half-way case rounded the wrong way (Python's fsum).
	hi := a.partials[n-1]
	lo := 0.0
	i := n - 1
	for i > 0 {
		x := hi
		i--
		y := a.partials[i]
		hi = x + y
		yr := hi - x
		lo = y - yr
		if lo != 0 {
			break
		}
	}
	if i > 0 && ((lo < 0 && a.partials[i-1] < 0) || (lo > 0 && a.partials[i-1] > 0)) {
		y := lo * 2
		x := hi + y
		yr := x - hi
		if y == yr {
			hi = x
		}
	}
	return hi
}

// Sum returns the correctly rounded sum of xs, independent of their order.
func Sum(xs []float64) float64 {
	var a Acc
	for _, x := range xs {
		a.Add(x)
	}
	return a.Sum()
}

// AppendBinary appends the accumulator's exact state (count, special term
// and partials) to b, so that a partial sum computed in one place can be
// merged exactly in another. DecodeBinary reads it back.
func (a *Acc) AppendBinary(b []byte) []byte {
	b = binary.AppendVarint(b, a.n)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(a.special))
	b = binary.AppendUvarint(b, uint64(len(a.partials)))
	for _, p := range a.partials {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(p))
	}
	return b
}

// errCorrupt reports an encoded accumulator that cannot be read.
var errCorrupt = errors.New("exactsum: corrupt encoded accumulator")

// maxPartials bounds the partials of a decoded accumulator: non-overlapping
// finite float64 partials each hold at least one of the about 2,100 bit
// positions a float64 can reach, so more is corruption.
const maxPartials = 2200

// DecodeBinary replaces the accumulator with the state encoded at the start
// of b by AppendBinary and returns the rest of b. Partials are re-added one
// by one, so even a corrupt input leaves a valid accumulator.
func (a *Acc) DecodeBinary(b []byte) (rest []byte, err error) {
	a.Reset()
	n, k := binary.Varint(b)
	if k <= 0 || n < 0 {
		return b, errCorrupt
	}
	b = b[k:]
	if len(b) < 8 {
		return b, errCorrupt
	}
	special := math.Float64frombits(binary.LittleEndian.Uint64(b))
	b = b[8:]
	count, k := binary.Uvarint(b)
	if k <= 0 || count > maxPartials || uint64(len(b)-k) < 8*count {
		return b, errCorrupt
	}
	b = b[k:]
	for i := uint64(0); i < count; i++ {
		p := math.Float64frombits(binary.LittleEndian.Uint64(b))
		b = b[8:]
		if math.IsInf(p, 0) || math.IsNaN(p) {
			a.Reset()
			return b, errCorrupt
		}
		a.addFinite(p)
	}
	a.n = n
	a.special = special
	return b, nil
}
