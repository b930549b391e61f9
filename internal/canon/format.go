package canon

import (
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// AppendFloat appends f as ECMAScript's Number.prototype.toString writes it
// (RFC 8785 §3.2.2.3): the shortest digits that round-trip, in plain
// notation for decimal exponents from -7 to 20 and in exponent form
// otherwise (1e+21, 1e-7); -0 is written 0. NaN and ±Inf have no JSON form
// and are an error.
func AppendFloat(dst []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dst, fmt.Errorf("canonical JSON: %v has no JSON form: %w", f, ErrNumberRange)
	}
	if f == 0 {
		return append(dst, '0'), nil
	}
	var buf [32]byte
	// 'e' with the shortest precision gives d[.ddd]e±XX.
	b := strconv.AppendFloat(buf[:0], f, 'e', -1, 64)
	neg := b[0] == '-'
	if neg {
		b = b[1:]
		dst = append(dst, '-')
	}
	ePos := slices.Index(b, 'e')
	mant, expPart := b[:ePos], b[ePos+1:]
	exp, err := strconv.Atoi(string(expPart))
	if err != nil {
		return dst, fmt.Errorf("canonical JSON: formatting %v: %w", f, err)
	}
	var digitBuf [24]byte
	digits := digitBuf[:0]
	for _, c := range mant {
		if c != '.' {
			digits = append(digits, c)
		}
	}
	return appendDigits(dst, digits, exp+1), nil
}

// plainDecimal reports whether a valid JSON number literal without its sign,
// intLen digits, a decimal point and a fraction, is already written as
// ECMAScript writes the double nearest to it, so that it can be copied
// instead of converted and formatted (a loan tape's amounts and rates are
// such literals). That holds when:
//   - it has no exponent, and its fraction does not end in 0;
//   - it has at most 15 significant digits: distinct decimals of up to 15
//     significant digits round to distinct doubles (10^15 < 2^53), so no
//     shorter digit string round-trips to the same double and the shortest
//     digits are the literal's own;
//   - its value is at least 1e-6 (a zero integer part and at most five zeros
//     after the point): ECMAScript writes smaller values with an exponent.
//
// Fewer than 22 integer digits, the other bound of the plain notation,
// follow from the 15 digits. A value of zero never qualifies (its fraction
// would end in 0), so -0 is left to the conversion.
func plainDecimal(lit []byte, intLen int) bool {
	if intLen+1 >= len(lit) || lit[intLen] != '.' {
		return false // no fraction, or an exponent right after the integer
	}
	frac := lit[intLen+1:]
	for _, c := range frac {
		if c < '0' || c > '9' {
			return false // an exponent
		}
	}
	if frac[len(frac)-1] == '0' {
		return false
	}
	sig := len(frac)
	if intLen == 1 && lit[0] == '0' {
		zeros := 0
		for frac[zeros] == '0' {
			zeros++
		}
		if zeros > 5 {
			return false
		}
		sig -= zeros
	} else {
		sig += intLen
	}
	return sig <= 15
}

// appendDigits writes the significant digits d1…dk (no leading or trailing
// zeros, k ≥ 1) of the value 0.d1…dk × 10^n in ECMAScript's format.
func appendDigits(dst, digits []byte, n int) []byte {
	k := len(digits)
	switch {
	case k <= n && n <= 21:
		dst = append(dst, digits...)
		for i := 0; i < n-k; i++ {
			dst = append(dst, '0')
		}
	case 0 < n && n <= 21:
		dst = append(dst, digits[:n]...)
		dst = append(dst, '.')
		dst = append(dst, digits[n:]...)
	case -6 < n && n <= 0:
		dst = append(dst, '0', '.')
		for i := 0; i < -n; i++ {
			dst = append(dst, '0')
		}
		dst = append(dst, digits...)
	default:
		dst = append(dst, digits[0])
		if k > 1 {
			dst = append(dst, '.')
			dst = append(dst, digits[1:]...)
		}
		dst = append(dst, 'e')
		if n-1 >= 0 {
			dst = append(dst, '+')
		}
		dst = strconv.AppendInt(dst, int64(n-1), 10)
	}
	return dst
}

// appendExactDecimal writes the exact decimal value of a valid JSON number
// literal in ECMAScript's exponent form, for literals beyond the range of a
// double: its significant digits and its decimal exponent, so that equal
// values are written alike (1e400, 10e399, 1.0e400 → 1e+400).
func appendExactDecimal(dst, lit []byte) []byte {
	if lit[0] == '-' {
		dst = append(dst, '-')
		lit = lit[1:]
	}
	mant := lit
	var expDigits []byte
	if i := slices.IndexFunc(lit, func(c byte) bool { return c == 'e' || c == 'E' }); i >= 0 {
		mant, expDigits = lit[:i], lit[i+1:]
	}
	intPart, frac := mant, []byte(nil)
	if i := slices.Index(mant, '.'); i >= 0 {
		intPart, frac = mant[:i], mant[i+1:]
	}
	digits := make([]byte, 0, len(intPart)+len(frac))
	digits = append(digits, intPart...)
	digits = append(digits, frac...)
	lead := 0
	for lead < len(digits) && digits[lead] == '0' {
		lead++
	}
	digits = digits[lead:]
	for len(digits) > 0 && digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1]
	}
	if len(digits) == 0 {
		return append(dst, '0')
	}
	// value = 0.digits × 10^(len(intPart) − lead + exp); the exponent form
	// shows that power minus one.
	e := new(big.Int)
	if len(expDigits) > 0 {
		if _, ok := e.SetString(string(expDigits), 10); !ok {
			e.SetInt64(0)
		}
	}
	e.Add(e, big.NewInt(int64(len(intPart)-lead-1)))
	dst = append(dst, digits[0])
	if len(digits) > 1 {
		dst = append(dst, '.')
		dst = append(dst, digits[1:]...)
	}
	dst = append(dst, 'e')
	if e.Sign() >= 0 {
		dst = append(dst, '+')
	}
	return e.Append(dst, 10)
}

// appendQuoted writes s, valid UTF-8, as a JSON string with RFC 8785's
// escapes.
func appendQuoted[T string | []byte](dst []byte, s T) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// AppendString appends s as a canonical JSON string. Invalid UTF-8 is
// replaced by U+FFFD, as encoding/json does.
func AppendString(dst []byte, s string) []byte {
	if utf8.ValidString(s) {
		return appendQuoted(dst, s)
	}
	fixed := make([]byte, 0, len(s)+8)
	for _, r := range s { // ranging yields U+FFFD for each invalid byte
		fixed = utf8.AppendRune(fixed, r)
	}
	return appendQuoted(dst, fixed)
}

// CompareUTF16 compares two valid UTF-8 strings by their UTF-16 code units,
// the member order of RFC 8785 §3.2.3. It differs from byte order only
// where a character above U+FFFF meets one from U+E000 to U+FFFF.
func CompareUTF16(a, b string) int { return compareUTF16(a, b) }

func compareUTF16[T string | []byte](a, b T) int {
	for len(a) > 0 && len(b) > 0 {
		if a[0] < utf8.RuneSelf && b[0] < utf8.RuneSelf {
			if a[0] != b[0] {
				return int(a[0]) - int(b[0])
			}
			a, b = a[1:], b[1:]
			continue
		}
		ra, na := decodeRune(a)
		rb, nb := decodeRune(b)
		if ra != rb {
			// Different first units decide; equal first units mean two
			// characters above U+FFFF with one high surrogate, whose low
			// surrogates follow code point order.
			if ua, ub := firstUnit(ra), firstUnit(rb); ua != ub {
				return int(ua - ub)
			}
			return int(ra - rb)
		}
		a, b = a[na:], b[nb:]
	}
	return len(a) - len(b)
}

func decodeRune[T string | []byte](s T) (rune, int) {
	switch v := any(s).(type) {
	case string:
		return utf8.DecodeRuneInString(v)
	case []byte:
		return utf8.DecodeRune(v)
	}
	return utf8.RuneError, 1
}

// firstUnit is the first UTF-16 code unit of r.
func firstUnit(r rune) rune {
	if r >= 0x10000 {
		hi, _ := utf16.EncodeRune(r)
		return hi
	}
	return r
}
