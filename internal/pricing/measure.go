package pricing

import (
	"fmt"
	"math"
	"strconv"
)

// Measure is one number the engine can compute for a position under a
// scenario. The zero value is PV.
type Measure uint8

// The measures of SPEC §2, in their canonical order.
const (
	PV Measure = iota
	DV01
	CS01
	AccruedInterest
	FXDelta

	numMeasures = iota
)

var measureNames = [numMeasures]string{
	PV:              "PV",
	DV01:            "DV01",
	CS01:            "CS01",
	AccruedInterest: "ACCRUED_INTEREST",
	FXDelta:         "FX_DELTA",
}

// String returns the wire name of the measure ("PV", "ACCRUED_INTEREST", …).
func (m Measure) String() string {
	if int(m) < len(measureNames) {
		return measureNames[m]
	}
	return "Measure(" + strconv.Itoa(int(m)) + ")"
}

// Valid reports whether m is one of the known measures.
func (m Measure) Valid() bool { return m < numMeasures }

// ParseMeasure returns the measure with the given wire name.
func ParseMeasure(s string) (Measure, bool) {
	for i, name := range measureNames {
		if name == s {
			return Measure(i), true
		}
	}
	return 0, false
}

// MarshalText encodes a measure as its wire name, so that JSON carries
// "PV" rather than a number.
func (m Measure) MarshalText() ([]byte, error) {
	if !m.Valid() {
		return nil, fmt.Errorf("pricing: unknown measure %d", m)
	}
	return []byte(measureNames[m]), nil
}

// UnmarshalText decodes a measure from its wire name.
func (m *Measure) UnmarshalText(b []byte) error {
	x, ok := ParseMeasure(string(b))
	if !ok {
		return fmt.Errorf("pricing: unknown measure %q", b)
	}
	*m = x
	return nil
}

// Measures returns every known measure in canonical order.
func Measures() []Measure {
	out := make([]Measure, numMeasures)
	for i := range out {
		out[i] = Measure(i)
	}
	return out
}

// Values holds the measures of one position under one scenario: which
// measures are present and their values. It is a fixed-size value with no
// pointers, so filling one allocates nothing. A measure that does not apply
// to a product is absent, which is different from present with value 0.
type Values struct {
	present uint8
	v       [numMeasures]float64
}

// Reset removes every measure.
func (v *Values) Reset() { *v = Values{} }

// Set stores x as the value of m and marks m present.
func (v *Values) Set(m Measure, x float64) {
	v.present |= 1 << m
	v.v[m] = x
}

// Get returns the value of m and whether it is present.
func (v *Values) Get(m Measure) (float64, bool) {
	if !m.Valid() || v.present&(1<<m) == 0 {
		return 0, false
	}
	return v.v[m], true
}

// Has reports whether m is present.
func (v *Values) Has(m Measure) bool { return m.Valid() && v.present&(1<<m) != 0 }

// Len returns the number of measures present.
func (v *Values) Len() int {
	n := 0
	for m := Measure(0); m < numMeasures; m++ {
		if v.present&(1<<m) != 0 {
			n++
		}
	}
	return n
}

// Present returns the measures present, in canonical order.
func (v *Values) Present() []Measure {
	out := make([]Measure, 0, numMeasures)
	for m := Measure(0); m < numMeasures; m++ {
		if v.present&(1<<m) != 0 {
			out = append(out, m)
		}
	}
	return out
}

// Map returns the present measures keyed by wire name, for callers that
// store or serialize them generically.
func (v *Values) Map() map[string]float64 {
	out := make(map[string]float64, v.Len())
	for m := Measure(0); m < numMeasures; m++ {
		if v.present&(1<<m) != 0 {
			out[m.String()] = v.v[m]
		}
	}
	return out
}

// AppendJSON appends the present measures as a JSON object in canonical
// order, e.g. {"PV":101.5,"DV01":-0.03}. Numbers are formatted the way
// encoding/json formats a float64. Values must be finite, which the engine
// guarantees for what it produces.
func (v *Values) AppendJSON(b []byte) []byte {
	b = append(b, '{')
	first := true
	for m := Measure(0); m < numMeasures; m++ {
		if v.present&(1<<m) == 0 {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, '"')
		b = append(b, measureNames[m]...)
		b = append(b, '"', ':')
		b = appendJSONFloat(b, v.v[m])
	}
	return append(b, '}')
}

// MarshalJSON encodes the present measures as a JSON object.
func (v Values) MarshalJSON() ([]byte, error) {
	for m := Measure(0); m < numMeasures; m++ {
		if v.present&(1<<m) != 0 && (math.IsNaN(v.v[m]) || math.IsInf(v.v[m], 0)) {
			return nil, &nonFiniteError{measure: m, value: v.v[m]}
		}
	}
	return v.AppendJSON(nil), nil
}

type nonFiniteError struct {
	measure Measure
	value   float64
}

func (e *nonFiniteError) Error() string {
	return "pricing: measure " + e.measure.String() + " is not finite: " + strconv.FormatFloat(e.value, 'g', -1, 64)
}

// appendJSONFloat formats f exactly as encoding/json does.
func appendJSONFloat(b []byte, f float64) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}
