// Package group keys values for grouping loan tapes (SPEC §4.6): numeric
// bands of an attribute, like "<660", "660–720", "≥780", and the key n/a
// for a value that cannot be placed. It is pure and has no dependencies
// beyond the standard library.
//
// A band holds its lower bound: with bands 660,720 the value 660 is in
// "660–720" and 720 in "≥720". Numbers in keys are formatted with
// strconv.FormatFloat(x, 'g', -1, 64), so 0.05 is "0.05" and 1000000 is
// "1e+06". The dash between bounds is an EN DASH (U+2013).
package group

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// NA is the key of a value that has no place: missing, not a number, or
// (for other groupings) without a source.
const NA = "n/a"

// MaxBands bounds the number of boundaries of a bands parameter.
const MaxBands = 1000

// Bands are band boundaries b₁ < b₂ < … < bₖ, finite and increasing.
type Bands []float64

// ParseBands reads the value of a bands parameter, "b₁,b₂,…": one or more
// finite numbers, strictly increasing, separated by commas (spaces around
// them are allowed). The error says what is wrong, for a 400.
func ParseBands(s string) (Bands, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("bands is empty: give increasing numbers separated by commas, like 660,720,780")
	}
	parts := strings.Split(s, ",")
	if len(parts) > MaxBands {
		return nil, fmt.Errorf("bands has %d boundaries; at most %d", len(parts), MaxBands)
	}
	out := make(Bands, 0, len(parts))
	for i, p := range parts {
		p = strings.TrimSpace(p)
		x, err := strconv.ParseFloat(p, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("bands: %q (boundary %d) is not a finite number", p, i+1)
		}
		if i > 0 && !(x > out[i-1]) {
			return nil, fmt.Errorf("bands must increase: %s (boundary %d) is not above %s", fmtNum(x), i+1, fmtNum(out[i-1]))
		}
		out = append(out, x)
	}
	return out, nil
}

func fmtNum(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

// Key returns the key of the band that holds x: "<b₁", "bᵢ–bᵢ₊₁" or
// "≥bₖ"; NA for a value that is not finite.
func (b Bands) Key(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) || len(b) == 0 {
		return NA
	}
	// i = the number of boundaries ≤ x.
	lo, hi := 0, len(b)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if b[mid] <= x {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	switch lo {
	case 0:
		return "<" + fmtNum(b[0])
	case len(b):
		return "≥" + fmtNum(b[len(b)-1])
	}
	return fmtNum(b[lo-1]) + "–" + fmtNum(b[lo])
}

// Keys returns every band key in order, from "<b₁" to "≥bₖ" (without
// NA).
func (b Bands) Keys() []string {
	if len(b) == 0 {
		return nil
	}
	out := make([]string, 0, len(b)+1)
	out = append(out, "<"+fmtNum(b[0]))
	for i := 1; i < len(b); i++ {
		out = append(out, fmtNum(b[i-1])+"–"+fmtNum(b[i]))
	}
	return append(out, "≥"+fmtNum(b[len(b)-1]))
}

// KeyOf returns the key of a decoded JSON value: a number (float64,
// json.Number or any Go integer) goes to its band; anything else —
// missing (nil), a string, a boolean, a list, an object — is NA.
func (b Bands) KeyOf(v any) string {
	switch x := v.(type) {
	case float64:
		return b.Key(x)
	case float32:
		return b.Key(float64(x))
	case int:
		return b.Key(float64(x))
	case int64:
		return b.Key(float64(x))
	case int32:
		return b.Key(float64(x))
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return NA
		}
		return b.Key(f)
	}
	return NA
}

// KeyOfJSON returns the key of a raw JSON value: a JSON number goes to its
// band; null, an empty value, a string (even "720"), a boolean, a list or
// an object is NA.
func (b Bands) KeyOfJSON(raw []byte) string {
	s := strings.TrimSpace(string(raw))
	if s == "" || !(s[0] == '-' || s[0] >= '0' && s[0] <= '9') || !json.Valid([]byte(s)) {
		return NA
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return NA
	}
	return b.Key(f)
}

// String returns the boundaries in canonical form, "b₁,b₂,…" with each
// number formatted as in keys: bands that parse to the same numbers give
// the same text.
func (b Bands) String() string {
	parts := make([]string, len(b))
	for i, x := range b {
		parts[i] = fmtNum(x)
	}
	return strings.Join(parts, ",")
}
