package canon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// rfc8785Numbers is the number test table of RFC 8785 Appendix B: IEEE 754
// bit patterns and their canonical text ("" where the value has no JSON
// form).
var rfc8785Numbers = []struct {
	bits uint64
	want string
}{
	{0x0000000000000000, "0"},
	{0x8000000000000000, "0"},
	{0x0000000000000001, "5e-324"},
	{0x8000000000000001, "-5e-324"},
	{0x7fefffffffffffff, "1.7976931348623157e+308"},
	{0xffefffffffffffff, "-1.7976931348623157e+308"},
	{0x4340000000000000, "9007199254740992"},
	{0xc340000000000000, "-9007199254740992"},
	{0x4430000000000000, "295147905179352830000"},
	{0x7fffffffffffffff, ""},
	{0x7ff0000000000000, ""},
	{0x44b52d02c7e14af5, "9.999999999999997e+22"},
	{0x44b52d02c7e14af6, "1e+23"},
	{0x44b52d02c7e14af7, "1.0000000000000001e+23"},
	{0x444b1ae4d6e2ef4e, "999999999999999700000"},
	{0x444b1ae4d6e2ef4f, "999999999999999900000"},
	{0x444b1ae4d6e2ef50, "1e+21"},
	{0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"},
	{0x3eb0c6f7a0b5ed8d, "0.000001"},
	{0x41b3de4355555553, "333333333.3333332"},
	{0x41b3de4355555554, "333333333.33333325"},
	{0x41b3de4355555555, "333333333.3333333"},
	{0x41b3de4355555556, "333333333.3333334"},
	{0x41b3de4355555557, "333333333.33333343"},
	{0xbecbf647612f3696, "-0.0000033333333333333333"},
	{0x43143ff3c1cb0959, "1424953923781206.2"},
}

func TestAppendFloatRFC8785Vectors(t *testing.T) {
	for _, tc := range rfc8785Numbers {
		f := math.Float64frombits(tc.bits)
		got, err := AppendFloat(nil, f)
		if tc.want == "" {
			if err == nil || !errors.Is(err, ErrNumberRange) {
				t.Errorf("%016x: got %q, %v; want ErrNumberRange", tc.bits, got, err)
			}
			continue
		}
		if err != nil || string(got) != tc.want {
			t.Errorf("%016x: got %q, %v; want %q", tc.bits, got, err, tc.want)
		}
	}
}

func TestCanonicalizeRFC8785NumberLiterals(t *testing.T) {
	// The same table through the parser: the literal is the double written
	// with 17 significant digits, which reads back as the same double.
	for _, tc := range rfc8785Numbers {
		if tc.want == "" {
			continue
		}
		lit := strconv.FormatFloat(math.Float64frombits(tc.bits), 'g', 17, 64)
		got, err := Canonicalize([]byte(lit))
		if err != nil || string(got) != tc.want {
			t.Errorf("%s: got %q, %v; want %q", lit, got, err, tc.want)
		}
	}
}

func TestCanonicalizeNumbers(t *testing.T) {
	cases := map[string]string{
		"1.0":                      "1",
		"1e21":                     "1e+21",
		"1E21":                     "1e+21",
		"1e20":                     "100000000000000000000",
		"0.000001":                 "0.000001",
		"1e-7":                     "1e-7",
		"1e-6":                     "0.000001",
		"-0":                       "0",
		"-0.0":                     "0",
		"0e10":                     "0",
		"4.50":                     "4.5",
		"2e-3":                     "0.002",
		"100":                      "100",
		"-123456789012345":         "-123456789012345",
		"1234567890123456":         "1234567890123456",
		"12345678901234567890":     "12345678901234567000",
		"123456789012345678901234": "1.2345678901234569e+23",
		"0.1":                      "0.1",
		"1e-400":                   "0",
		"-1e-400":                  "0",
		"0.045":                    "0.045",
		"1.0842":                   "1.0842",
		"5e-324":                   "5e-324",
		"1.7976931348623157e308":   "1.7976931348623157e+308",
	}
	for in, want := range cases {
		got, err := Canonicalize([]byte(in))
		if err != nil || string(got) != want {
			t.Errorf("%s: got %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestCanonicalizeRFC8785Sample(t *testing.T) {
	// RFC 8785 §3.2.2.
	in := `{
  "numbers": [333333333.33333329, 1E30, 4.50,
              2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}`
	want := `{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`
	got, err := Canonicalize([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestCanonicalizeRFC8785Sorting(t *testing.T) {
	// RFC 8785 §3.2.3: names compare as UTF-16 code units, so U+1F600
	// (high surrogate D83D) sorts before U+FB33.
	in := `{
  "\u20ac": "Euro Sign",
  "\r": "Carriage Return",
  "\ufb33": "Hebrew Letter Dalet With Dagesh",
  "1": "One",
  "\ud83d\ude00": "Emoji: Grinning Face",
  "\u0080": "Control",
  "\u00f6": "Latin Small Letter O With Diaeresis"
}`
	got, err := Canonicalize([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	dec := json.NewDecoder(bytes.NewReader(got))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	for dec.More() {
		if _, err := dec.Token(); err != nil { // name
			t.Fatal(err)
		}
		v, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		order = append(order, v.(string))
	}
	want := []string{
		"Carriage Return", "One", "Control", "Latin Small Letter O With Diaeresis",
		"Euro Sign", "Emoji: Grinning Face", "Hebrew Letter Dalet With Dagesh",
	}
	if !reflect.DeepEqual(order, want) {
		t.Fatalf("order %q, want %q", order, want)
	}
	if !bytes.HasPrefix(got, []byte(`{"\r":"Carriage Return","1":"One","`+"\u0080"+`":"Control"`)) {
		t.Fatalf("unexpected output %q", got)
	}
}

func TestCompareUTF16(t *testing.T) {
	cases := []struct {
		a, b string
		sign int
	}{
		{"a", "b", -1},
		{"a", "a", 0},
		{"a", "ab", -1},
		{"\U0001F600", "\uFB33", -1}, // D83D < FB33, although 1F600 > FB33
		{"\uE000", "\U00010000", 1},  // E000 > D800
		{"\U0001F600", "\U0001F601", -1},
		{"\U00010400", "\U0001F600", -1},
		{"z", "\u00e9", -1},
	}
	for _, tc := range cases {
		got := CompareUTF16(tc.a, tc.b)
		if sign(got) != tc.sign {
			t.Errorf("CompareUTF16(%q, %q) = %d, want sign %d", tc.a, tc.b, got, tc.sign)
		}
		if sign(CompareUTF16(tc.b, tc.a)) != -tc.sign {
			t.Errorf("CompareUTF16(%q, %q) not antisymmetric", tc.b, tc.a)
		}
	}
}

func sign(x int) int {
	switch {
	case x < 0:
		return -1
	case x > 0:
		return 1
	}
	return 0
}

func TestCanonicalizeStrings(t *testing.T) {
	cases := map[string]string{
		`"\u00e9"`:               `"é"`,
		`"é"`:                    `"é"`,
		`"\/"`:                   `"/"`,
		`"\u001f\u0000"`:         `"\u001f\u0000"`,
		`"\b\f\n\r\t"`:           `"\b\f\n\r\t"`,
		`"\u0008"`:               `"\b"`,
		`"<>&"`:                  `"<>&"`,
		`"\u003c"`:               `"<"`,
		`"\u2028\u2029"`:         "\"\u2028\u2029\"",
		`"\uD834\uDD1E"`:         "\"\U0001D11E\"",
		`"\u007f"`:               "\"\x7f\"",
		`"a\"b\\c"`:              `"a\"b\\c"`,
		`"` + "\U0001D11E" + `"`: "\"\U0001D11E\"",
	}
	for in, want := range cases {
		got, err := Canonicalize([]byte(in))
		if err != nil || string(got) != want {
			t.Errorf("%s: got %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestCanonicalizeStructure(t *testing.T) {
	in := " \n{ \"b\" : [ 1 , { \"z\":null, \"a\" : true } , [ ] , { } ] ,\t\"a\":\"x\" }\r\n"
	want := `{"a":"x","b":[1,{"a":true,"z":null},[],{}]}`
	got, err := Canonicalize([]byte(in))
	if err != nil || string(got) != want {
		t.Fatalf("got %s, %v; want %s", got, err, want)
	}
	dst := []byte("prefix:")
	dst, err = AppendCanonical(dst, []byte(in))
	if err != nil || string(dst) != "prefix:"+want {
		t.Fatalf("AppendCanonical got %s, %v", dst, err)
	}
}

func TestCanonicalizeErrors(t *testing.T) {
	cases := []struct {
		in      string
		kind    error
		pointer string
	}{
		{``, ErrSyntax, ""},
		{` `, ErrSyntax, ""},
		{`1 2`, ErrSyntax, ""},
		{`{"a":1,}`, ErrSyntax, ""},
		{`[1,]`, ErrSyntax, "/1"},
		{`[01]`, ErrSyntax, "/0"},
		{`[1.]`, ErrSyntax, "/0"},
		{`[.5]`, ErrSyntax, "/0"},
		{`[+1]`, ErrSyntax, "/0"},
		{`[1e]`, ErrSyntax, "/0"},
		{`NaN`, ErrSyntax, ""},
		{`[Infinity]`, ErrSyntax, "/0"},
		{`{"a":tru}`, ErrSyntax, "/a"},
		{`{"a" 1}`, ErrSyntax, "/a"},
		{`{a:1}`, ErrSyntax, ""},
		{`"abc`, ErrSyntax, ""},
		{"\"a\x01b\"", ErrSyntax, ""},
		{"\"a\xffb\"", ErrSyntax, ""},
		{`"\ud800"`, ErrSyntax, ""},
		{`"\udc00"`, ErrSyntax, ""},
		{`"\ud800\u0041"`, ErrSyntax, ""},
		{`"\x"`, ErrSyntax, ""},
		{`"\u12"`, ErrSyntax, ""},
		{`{"a":{"x":[1,2,{"q":1e400}]}}`, ErrNumberRange, "/a/x/2/q"},
		{`[-1e309]`, ErrNumberRange, "/0"},
		{`{"a":1,"b":{"x":1,"x":2}}`, ErrDuplicateKey, "/b/x"},
		{`{"a":1,"\u0061":2}`, ErrDuplicateKey, "/a"},
		{`{"a/b~":{"c":[]},"a/b~":0}`, ErrDuplicateKey, "/a~1b~0"},
		{strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1), ErrTooDeep, ""},
	}
	for _, tc := range cases {
		got, err := AppendCanonical([]byte("keep"), []byte(tc.in))
		var ce *Error
		if !errors.As(err, &ce) {
			t.Errorf("%.40q: err %v, want *Error", tc.in, err)
			continue
		}
		if !errors.Is(err, tc.kind) {
			t.Errorf("%.40q: err %v, want %v", tc.in, err, tc.kind)
		}
		if tc.kind != ErrTooDeep && ce.Pointer != tc.pointer {
			t.Errorf("%.40q: pointer %q, want %q", tc.in, ce.Pointer, tc.pointer)
		}
		if string(got) != "keep" {
			t.Errorf("%.40q: dst changed to %q", tc.in, got)
		}
	}
}

func TestDuplicateKeyOffset(t *testing.T) {
	in := `{"x":1, "y":2, "x":3}`
	_, err := Canonicalize([]byte(in))
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatal(err)
	}
	if ce.Offset != strings.LastIndex(in, `"x"`) {
		t.Fatalf("offset %d, want %d", ce.Offset, strings.LastIndex(in, `"x"`))
	}
}

func TestAllowOutOfRange(t *testing.T) {
	o := Options{AllowOutOfRange: true}
	cases := map[string]string{
		`1e400`:                  `1e+400`,
		`10e399`:                 `1e+400`,
		`1.0E+400`:               `1e+400`,
		`-0.00123e402`:           `-1.23e+399`,
		`[1e400, 0.5]`:           `[1e+400,0.5]`,
		`{"r":-12.5e1000}`:       `{"r":-1.25e+1001}`,
		`2e99999999999999999999`: `2e+99999999999999999999`,
	}
	for in, want := range cases {
		got, err := o.Canonicalize([]byte(in))
		if err != nil || string(got) != want {
			t.Errorf("%s: got %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := o.Canonicalize([]byte(`{"a":1,"a":2}`)); !errors.Is(err, ErrDuplicateKey) {
		t.Errorf("duplicate keys still rejected with AllowOutOfRange, got %v", err)
	}
}

// randomValue builds a random JSON value as a Go value.
func randomValue(r *rand.Rand, depth int) any {
	k := r.IntN(7)
	if depth > 3 {
		k = r.IntN(4)
	}
	switch k {
	case 0:
		return nil
	case 1:
		return r.IntN(2) == 0
	case 2:
		switch r.IntN(4) {
		case 0:
			return float64(r.IntN(2000) - 1000)
		case 1:
			return r.NormFloat64() * math.Pow(10, float64(r.IntN(60)-30))
		case 2:
			return math.Float64frombits(r.Uint64()&^(0x7ff<<52) | uint64(r.IntN(0x7fe)+1)<<52)
		default:
			return float64(r.IntN(100)) / 100
		}
	case 3:
		return randomString(r)
	case 4, 5:
		n := r.IntN(5)
		a := make([]any, n)
		for i := range a {
			a[i] = randomValue(r, depth+1)
		}
		return a
	default:
		n := r.IntN(6)
		m := make(map[string]any, n)
		for range n {
			m[randomString(r)+strconv.Itoa(r.IntN(3))] = randomValue(r, depth+1)
		}
		return m
	}
}

func randomString(r *rand.Rand) string {
	runes := []rune{'a', 'Z', '"', '\\', '\n', 0x01, 'é', '€', 0x1F600, 0xFB33, 0xE000, '/', '<', ' '}
	n := r.IntN(6)
	var b strings.Builder
	for range n {
		b.WriteRune(runes[r.IntN(len(runes))])
	}
	return b.String()
}

// render writes v as JSON with shuffled member order, random whitespace
// and random escaping of strings, so different renderings of one value
// can be compared.
func render(r *rand.Rand, b *bytes.Buffer, v any) {
	ws := func() {
		for range r.IntN(3) {
			b.WriteByte(" \t\n\r"[r.IntN(4)])
		}
	}
	ws()
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case float64:
		switch r.IntN(3) {
		case 0:
			b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
		case 1:
			b.WriteString(strconv.FormatFloat(v, 'E', 20, 64))
		default:
			b.WriteString(strconv.FormatFloat(v, 'e', -1, 64))
		}
	case string:
		b.WriteByte('"')
		for _, c := range v {
			switch {
			case c == '"' || c == '\\':
				b.WriteByte('\\')
				b.WriteRune(c)
			case c < 0x20 || r.IntN(3) == 0:
				if c > 0xFFFF {
					c -= 0x10000
					fmt.Fprintf(b, `\u%04X\u%04x`, 0xD800+(c>>10), 0xDC00+(c&0x3FF))
				} else {
					fmt.Fprintf(b, `\u%04x`, c)
				}
			default:
				b.WriteRune(c)
			}
		}
		b.WriteByte('"')
	case []any:
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			render(r, b, e)
		}
		ws()
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		r.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			render(r, b, k)
			ws()
			b.WriteByte(':')
			render(r, b, v[k])
		}
		ws()
		b.WriteByte('}')
	}
	ws()
}

func TestCanonicalizeProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		v := randomValue(r, 0)
		var b1, b2 bytes.Buffer
		render(r, &b1, v)
		render(r, &b2, v)
		c1, err := Canonicalize(b1.Bytes())
		if err != nil {
			t.Fatalf("case %d: %s: %v", i, b1.Bytes(), err)
		}
		c2, err := Canonicalize(b2.Bytes())
		if err != nil {
			t.Fatalf("case %d: %s: %v", i, b2.Bytes(), err)
		}
		if !bytes.Equal(c1, c2) {
			t.Fatalf("case %d: renderings differ:\n%s\n%s\n→ %s\n→ %s", i, b1.Bytes(), b2.Bytes(), c1, c2)
		}
		again, err := Canonicalize(c1)
		if err != nil || !bytes.Equal(again, c1) {
			t.Fatalf("case %d: not a fixed point: %s → %s, %v", i, c1, again, err)
		}
		// The canonical form means the same value.
		var back any
		if err := json.Unmarshal(c1, &back); err != nil {
			t.Fatalf("case %d: canonical output %s is not JSON: %v", i, c1, err)
		}
		if !reflect.DeepEqual(back, v) {
			t.Fatalf("case %d: value changed: %#v → %#v", i, v, back)
		}
	}
}

func TestNumberFormatMatchesEncodingJSON(t *testing.T) {
	// encoding/json writes float64 in the ECMAScript format too; it is an
	// independent implementation to compare against.
	r := rand.New(rand.NewPCG(3, 4))
	for range 200000 {
		f := math.Float64frombits(r.Uint64())
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		want, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		if f == 0 {
			want = []byte("0")
		}
		got, err := AppendFloat(nil, f)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%v (%016x): got %s, %v; want %s", f, math.Float64bits(f), got, err, want)
		}
		lit := strconv.FormatFloat(f, 'g', -1, 64)
		got2, err := Canonicalize([]byte(lit))
		if err != nil || !bytes.Equal(got2, want) {
			t.Fatalf("literal %s: got %s, %v; want %s", lit, got2, err, want)
		}
	}
}

func FuzzCanonicalize(f *testing.F) {
	for _, s := range []string{`{"b":1,"a":[true,null,"x"]}`, `1e21`, `"\u00e9"`, `[{"a":{}},[]]`, `-0.0e-0`, `{"a":1,"a":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := Canonicalize(in)
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("output %q of %q is not JSON", out, in)
		}
		again, err := Canonicalize(out)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("not a fixed point: %q → %q, %v", out, again, err)
		}
		var a, b any
		if json.Unmarshal(in, &a) == nil && json.Unmarshal(out, &b) == nil && !reflect.DeepEqual(a, b) {
			t.Fatalf("value changed: %q → %q", in, out)
		}
		// A number is written as the conversion writes its double,
		// whichever way the canonicalizer took.
		if lit := bytes.TrimSpace(in); len(lit) > 0 && (lit[0] == '-' || lit[0] >= '0' && lit[0] <= '9') {
			if f, err := strconv.ParseFloat(string(lit), 64); err == nil {
				want, _ := AppendFloat(nil, f)
				if !bytes.Equal(out, want) {
					t.Fatalf("number %q: got %s, the conversion writes %s", lit, out, want)
				}
			}
		}
	})
}

// TestPlainDecimalsCopied checks the literals copied as they are against
// the conversion (parse to the nearest double, write it as ECMAScript
// does): decimals of every digit count around the 15-digit bound, with
// leading zeros around the 1e-6 bound and trailing zeros, both signs.
func TestPlainDecimalsCopied(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	digits := func(n int, nonzeroFirst bool) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('0' + r.IntN(10))
		}
		if nonzeroFirst && n > 0 && b[0] == '0' {
			b[0] = '1' + byte(r.IntN(9))
		}
		return string(b)
	}
	copied := 0
	for range 300000 {
		var lit string
		switch r.IntN(3) {
		case 0: // 0.000ddd
			lit = "0." + strings.Repeat("0", r.IntN(9)) + digits(1+r.IntN(18), false)
		default:
			lit = digits(1+r.IntN(18), true) + "." + digits(1+r.IntN(18), false)
		}
		if r.IntN(2) == 0 {
			lit = "-" + lit
		}
		f, err := strconv.ParseFloat(lit, 64)
		if err != nil {
			t.Fatal(err)
		}
		want, err := AppendFloat(nil, f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Canonicalize([]byte(lit))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: got %s, %v; the conversion writes %s", lit, got, err, want)
		}
		if string(want) == lit {
			copied++
		}
	}
	// Hand-picked bounds: written as they are, or not.
	for lit, want := range map[string]string{
		"0.000001":           "0.000001", // 1e-6: five zeros, plain
		"0.0000001":          "1e-7",     // six zeros: exponent form
		"-0.0000012":         "-0.0000012",
		"1.50":               "1.5",
		"0.0":                "0",
		"-0.0":               "0",
		"123456789012.345":   "123456789012.345",   // 15 digits
		"1234567890123.4567": "1234567890123.4568", // 17 digits: rounded to the double
		"0.1000000000000001": "0.1000000000000001",
		"9007199254740993.5": "9007199254740994",
		"100.25":             "100.25",
	} {
		got, err := Canonicalize([]byte(lit))
		if err != nil || string(got) != want {
			t.Errorf("%s: got %s, %v; want %s", lit, got, err, want)
		}
	}
	if copied == 0 {
		t.Fatal("no literal was already canonical: the generator misses the fast path")
	}
}

// TestCanonicalSharesCanonicalInput checks that Canonical gives the
// canonical form, returning its input itself exactly when that already is
// the canonical form.
func TestCanonicalSharesCanonicalInput(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		shared   bool
	}{
		{`{"a":1,"b":[2.5,"x"]}`, `{"a":1,"b":[2.5,"x"]}`, true},
		{`{"b":1,"a":2}`, `{"a":2,"b":1}`, false},
		{`{"a": 1}`, `{"a":1}`, false},
		{`[1.50]`, `[1.5]`, false},
		{`"\u0041"`, `"A"`, false},
	} {
		in := []byte(tc.in)
		got, err := Canonical(in)
		if err != nil || string(got) != tc.want {
			t.Fatalf("%s: got %s, %v; want %s", tc.in, got, err, tc.want)
		}
		if shared := len(got) > 0 && &got[0] == &in[0]; shared != tc.shared {
			t.Errorf("%s: shares its input %v, want %v", tc.in, shared, tc.shared)
		}
	}
	if _, err := Canonical([]byte(`{"a":1,"a":2}`)); !errors.Is(err, ErrDuplicateKey) {
		t.Errorf("duplicate member: got %v", err)
	}
	// A result that is a copy survives the next call's use of the pool.
	first, _ := Canonical([]byte(`{"b":1,"a":2}`))
	if _, err := Canonical([]byte(`{"d":3,"c":4}`)); err != nil || string(first) != `{"a":2,"b":1}` {
		t.Errorf("an earlier result changed: %s, %v", first, err)
	}
}
