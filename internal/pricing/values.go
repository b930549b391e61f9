package pricing

import (
	"encoding/json"
	"math"
	"strconv"
)

// NumKeyRates is the number of tenors of a KR01 ladder.
const NumKeyRates = 11

// keyRateTenors are the tenors of the KR01 ladder (SPEC §4.2), T₁…T₁₁.
var keyRateTenors = [NumKeyRates]string{"3M", "6M", "1Y", "2Y", "3Y", "5Y", "7Y", "10Y", "15Y", "20Y", "30Y"}

// KeyRateTenors returns the tenors of the KR01 ladder in order: 3M, 6M,
// 1Y, 2Y, 3Y, 5Y, 7Y, 10Y, 15Y, 20Y, 30Y.
func KeyRateTenors() [NumKeyRates]string { return keyRateTenors }

// MaxKeyRateCurves is how many *-OIS curves one position can discount on
// (an FX forward discounts on two).
const MaxKeyRateCurves = 2

// KeyRateLadder is the KR01 of one curve: DV01[j] is PV with the curve's
// zero rate shifted by 1bp·wⱼ(t), minus PV, for tenor KeyRateTenors()[j].
type KeyRateLadder struct {
	Curve string
	DV01  [NumKeyRates]float64
}

// Values holds the measures of one position under one scenario: which
// measures are present and their values. It is a fixed-size value, so
// filling one allocates nothing: its only pointers are strings (a KR01
// curve id, an FX_DELTA currency) that the engine takes from the market
// and the position without copying. A measure that does not apply to a
// product is absent, which is different from present with value 0.
//
// Besides one number per scalar measure it carries WAL's aggregation
// weight, FX_DELTA's currency and up to MaxKeyRateCurves KR01 ladders,
// kept in order of curve id.
type Values struct {
	present   uint16
	nkr       uint8
	v         [numMeasures]float64
	walWeight float64
	fxCcy     string
	kr        [MaxKeyRateCurves]KeyRateLadder
}

// Reset removes every measure.
func (v *Values) Reset() { *v = Values{} }

func (v *Values) mark(m Measure) { v.present |= 1 << m }

// Set stores x as the value of a scalar measure m and marks m present. For
// WAL it keeps the weight (see SetWAL), for FX_DELTA the currency (see
// SetFXDelta). KR01 is not a number: Set(KR01, x) does nothing; use
// AddKR01.
func (v *Values) Set(m Measure, x float64) {
	if !m.Valid() || m == KR01 {
		return
	}
	v.mark(m)
	v.v[m] = x
}

// SetWAL stores WAL and its aggregation weight Σ(Aᵢ + Vᵢ + RECᵢ)·quantity.
func (v *Values) SetWAL(wal, weight float64) {
	v.Set(WAL, wal)
	v.walWeight = weight
}

// WALWeight returns WAL's aggregation weight and whether WAL is present.
func (v *Values) WALWeight() (float64, bool) {
	if !v.Has(WAL) {
		return 0, false
	}
	return v.walWeight, true
}

// SetFXDelta stores FX_DELTA in units of the base currency ccy (its ISO
// code, such as "EUR").
func (v *Values) SetFXDelta(x float64, ccy string) {
	v.Set(FXDelta, x)
	v.fxCcy = ccy
}

// FXDeltaCurrency returns the base currency of FX_DELTA and whether
// FX_DELTA is present.
func (v *Values) FXDeltaCurrency() (string, bool) {
	if !v.Has(FXDelta) {
		return "", false
	}
	return v.fxCcy, true
}

// AddKR01 adds the ladder of one curve and marks KR01 present. It reports
// false, and changes nothing, when curve is empty or already has a ladder,
// or when MaxKeyRateCurves ladders are present. Ladders are kept in order
// of curve id.
func (v *Values) AddKR01(curve string, dv01 [NumKeyRates]float64) bool {
	l := v.keyRateLadder(curve)
	if l == nil {
		return false
	}
	*l = dv01
	return true
}

// keyRateLadder inserts a zero ladder for curve in curve order, marks KR01
// present and returns it; nil when it cannot (see AddKR01).
func (v *Values) keyRateLadder(curve string) *[NumKeyRates]float64 {
	if curve == "" || int(v.nkr) >= MaxKeyRateCurves {
		return nil
	}
	i := 0
	for ; i < int(v.nkr); i++ {
		if v.kr[i].Curve == curve {
			return nil
		}
		if curve < v.kr[i].Curve {
			break
		}
	}
	copy(v.kr[i+1:v.nkr+1], v.kr[i:v.nkr])
	v.kr[i] = KeyRateLadder{Curve: curve}
	v.nkr++
	v.mark(KR01)
	return &v.kr[i].DV01
}

// KR01 returns the KR01 ladders in order of curve id (nil when KR01 is
// absent). The slice shares v's memory: it is valid while v is unchanged
// and allocates nothing.
func (v *Values) KR01() []KeyRateLadder {
	if !v.Has(KR01) {
		return nil
	}
	return v.kr[:v.nkr]
}

// Get returns the value of m and whether it is present. For KR01, which is
// a ladder, it returns the sum of every curve's ladder (close to the part
// of DV01 that comes from the *-OIS curves; see KR01 for the ladders).
func (v *Values) Get(m Measure) (float64, bool) {
	if !v.Has(m) {
		return 0, false
	}
	if m == KR01 {
		sum := 0.0
		for i := range int(v.nkr) {
			for _, x := range v.kr[i].DV01 {
				sum += x
			}
		}
		return sum, true
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

// Map returns the present scalar measures keyed by wire name, for callers
// that store or serialize them generically. KR01, a ladder, is left out
// (see KR01).
func (v *Values) Map() map[string]float64 {
	out := make(map[string]float64, v.Len())
	for m := Measure(0); m < numMeasures; m++ {
		if m != KR01 && v.present&(1<<m) != 0 {
			out[m.String()] = v.v[m]
		}
	}
	return out
}

// nonFinite returns the first present measure with a value that is not
// finite (a KR01 entry or WAL's weight included).
func (v *Values) nonFinite() (Measure, bool) {
	bad := func(x float64) bool { return math.IsNaN(x) || math.IsInf(x, 0) }
	for m := Measure(0); m < numMeasures; m++ {
		if v.present&(1<<m) == 0 {
			continue
		}
		switch m {
		case KR01:
			for i := range int(v.nkr) {
				for _, x := range v.kr[i].DV01 {
					if bad(x) {
						return m, true
					}
				}
			}
		case WAL:
			if bad(v.v[m]) || bad(v.walWeight) {
				return m, true
			}
		default:
			if bad(v.v[m]) {
				return m, true
			}
		}
	}
	return 0, false
}

// AppendJSON appends the present measures as a JSON object in canonical
// order, e.g. {"PV":101.5,"DV01":-0.03}. Scalar measures are numbers,
// formatted the way encoding/json formats a float64; KR01 is an object of
// ladders, {"USD-OIS":{"3M":…,…,"30Y":…}}, with every tenor. WAL's weight
// and FX_DELTA's currency are not part of it (a result row shows FX_DELTA
// as a number). Values must be finite, which the engine guarantees for
// what it produces.
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
		if m == KR01 {
			b = v.appendKR01JSON(b)
			continue
		}
		b = appendJSONFloat(b, v.v[m])
	}
	return append(b, '}')
}

func (v *Values) appendKR01JSON(b []byte) []byte {
	b = append(b, '{')
	for i := range int(v.nkr) {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, v.kr[i].Curve)
		b = append(b, ':', '{')
		for j, x := range v.kr[i].DV01 {
			if j > 0 {
				b = append(b, ',')
			}
			b = append(b, '"')
			b = append(b, keyRateTenors[j]...)
			b = append(b, '"', ':')
			b = appendJSONFloat(b, x)
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

// MarshalJSON encodes the present measures as a JSON object.
func (v Values) MarshalJSON() ([]byte, error) {
	if m, bad := v.nonFinite(); bad {
		return nil, &nonFiniteError{measure: m}
	}
	return v.AppendJSON(nil), nil
}

type nonFiniteError struct {
	measure Measure
}

func (e *nonFiniteError) Error() string {
	return "pricing: measure " + e.measure.String() + " is not finite"
}

// appendJSONString appends s as a JSON string: plain ASCII directly, other
// text as encoding/json writes it.
func appendJSONString(b []byte, s string) []byte {
	plain := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			plain = false
			break
		}
	}
	if plain {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	q, err := json.Marshal(s)
	if err != nil { // a string always encodes
		return strconv.AppendQuote(b, s)
	}
	return append(b, q...)
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
