package pricing

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/iprs/iprs/internal/canon"
)

var jsonSeeds = []string{
	`{}`, `[]`, `{"a":1}`, ` { "a" : [1, 2.5e-3, -0, true, false, null, "x\"y", {"b":{}}] , "c":"\u00e9"} `,
	`{"a":1,}`, `{"a" 1}`, `{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":1e}`, `{"a":-}`, `{"a":tru}`, `{"a":"x}`,
	`{"a":"\x01"}`, `{"a":"\u00g1"}`, `{"a":"\u00"}`, "{\"a\":\"\x01\"}", `{"a":"\`, `[1,]`, `[,1]`, `{"a":1}}`, `{"a":1} x`, `{"a":+1}`, `{"a":0x10}`, `{"a":Infinity}`, `{"a":NaN}`,
	`{"a":[[[[[[]]]]]]}`, `"s"`, `12`, `null`, ``, `{`, `{"a":`, `{"k\"ey":2}`, `{"a":1,"a":2}`,
	`{"s":"a\\","t":"\\\"]}","u":["x\\\\",{"k\u0022":"}{"}] , "v" : -1.5e+3 ,"w":true}`,
	` [ "]" , {"a":"[\"" } ,[ ] , 0 ] `, `{"a\\b":{"c":[1,{"d":"\\"}]}}`,
	strings.Repeat("[", 600) + strings.Repeat("]", 600),
}

func TestScannerAgreesWithEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, s := range jsonSeeds {
		checkScanner(t, []byte(s))
	}
}

// checkScanner compares scanMembers and scanElements with encoding/json on
// b, and the shallow scanners with them wherever they accept b.
func checkScanner(t *testing.T, b []byte) {
	t.Helper()
	checkShallow(t, b)
	valid := json.Valid(b)
	_, werr := wholeValue(b)
	deep := bytes.Count(b, []byte("[")) > 500 || bytes.Count(b, []byte("{")) > 500
	if valid != (werr == nil) && !(valid && deep) {
		t.Errorf("%q: json.Valid %v, scanner error %v", b, valid, werr)
	}
	f, isObj, err := scanMembers(b, nil)
	var m map[string]json.RawMessage
	// encoding/json replaces invalid UTF-8 in keys; attribute names are ASCII.
	if json.Unmarshal(b, &m) == nil && m != nil && utf8.Valid(b) {
		if err != nil || !isObj {
			t.Errorf("%q: object not scanned: %v", b, err)
			return
		}
		for k, v := range m {
			got := f.get(k)
			if !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(v)) {
				t.Errorf("%q: member %q = %q, encoding/json %q", b, k, got, v)
			}
		}
	} else if isObj && err == nil && !deep && m == nil {
		t.Errorf("%q: scanner accepted an object encoding/json refuses", b)
	}
	elems, isArr, err := scanElements(b, nil)
	var a []json.RawMessage
	if json.Unmarshal(b, &a) == nil && a != nil && !deep {
		if err != nil || !isArr || len(elems) != len(a) {
			t.Errorf("%q: array scanned as %d elements, %v", b, len(elems), err)
			return
		}
		for i := range a {
			if !bytes.Equal(elems[i], bytes.TrimSpace(a[i])) {
				t.Errorf("%q: element %d = %q, encoding/json %q", b, i, elems[i], a[i])
			}
		}
	}
}

func FuzzScanner(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkScanner(t, b)
		checkExactDecimal(t, b)
	})
}

// checkExactDecimal: a literal exactDecimal reads is a JSON number and
// reads as strconv.ParseFloat reads it, to the bit (the sign of zero too).
func checkExactDecimal(t *testing.T, b []byte) {
	t.Helper()
	got, ok := exactDecimal(b)
	if !ok {
		return
	}
	if !isJSONNumber(b) {
		t.Fatalf("exactDecimal(%q) read a literal that is not a JSON number", b)
	}
	want, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.Float64bits(got) != math.Float64bits(want) {
		t.Fatalf("exactDecimal(%q) = %v (%016x); ParseFloat gives %v (%016x), %v", b, got, math.Float64bits(got), want, math.Float64bits(want), err)
	}
}

// TestExactDecimal compares the one-pass reading of plain decimals with
// strconv.ParseFloat over literals of every digit count around its bounds
// (2^53, 22 decimals), and checks that it leaves to the caller what it
// cannot read exactly.
func TestExactDecimal(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	read := 0
	for range 300000 {
		n := 1 + r.IntN(20)
		b := make([]byte, 0, n+3)
		if r.IntN(2) == 0 {
			b = append(b, '-')
		}
		point := r.IntN(n + 1) // digits before the point
		for k := range n {
			if k == point {
				if k == 0 {
					b = append(b, '0')
				}
				b = append(b, '.')
			}
			c := byte('0' + r.IntN(10))
			if k == 0 && point > 1 && c == '0' {
				c = '1'
			}
			b = append(b, c)
		}
		checkExactDecimal(t, b)
		if _, ok := exactDecimal(b); ok {
			read++
		}
	}
	if read < 100000 {
		t.Fatalf("only %d of the literals read in one pass", read)
	}
	for _, lit := range []string{"9007199254740992", "0.1", "-0.0", "-0", "0", "123.45", "0.0000000000000000000001"} {
		if _, ok := exactDecimal([]byte(lit)); !ok {
			t.Errorf("%s: not read in one pass", lit)
		}
		checkExactDecimal(t, []byte(lit))
	}
	for _, lit := range []string{"9007199254740993", "1e5", "1.", ".5", "01", "-", "", "1.5.5", "0.00000000000000000000001", "1 ", "12345678901234567890"} {
		if _, ok := exactDecimal([]byte(lit)); ok {
			t.Errorf("%s: read in one pass, want it left to ParseFloat", lit)
		}
	}
}

// checkShallow: on a value the checking scanners accept, the shallow ones
// give the same members and elements, byte for byte, at every level.
func checkShallow(t *testing.T, b []byte) {
	t.Helper()
	// On any input they return (the fuzzer would report a panic or a
	// hang).
	shallowMembers(b, nil)
	shallowElements(b, nil)
	if f, isObj, err := scanMembers(b, nil); isObj && err == nil {
		g, ok := shallowMembers(b, nil)
		sameSplit(t, b, "member", f, g, ok)
	}
	if e, isArr, err := scanElements(b, nil); isArr && err == nil {
		g, ok := shallowElements(b, nil)
		sameSplit(t, b, "element", asFields(e), asFields(g), ok)
	}
}

// sameSplit compares a shallow split of b (got, ok) with the checking
// one (want), then every part's own splits.
func sameSplit(t *testing.T, b []byte, part string, want, got fields, ok bool) {
	t.Helper()
	if !ok || len(got) != len(want) {
		t.Errorf("%q: shallow scan gives %d %ss, checking scan %d", b, len(got), part, len(want))
		return
	}
	for i := range want {
		if !bytes.Equal(want[i].key, got[i].key) || !bytes.Equal(want[i].val, got[i].val) {
			t.Errorf("%q: %s %d: shallow %q: %q, checking %q: %q", b, part, i, got[i].key, got[i].val, want[i].key, want[i].val)
		}
		checkShallow(t, want[i].val)
	}
}

// asFields gives array elements as members without keys.
func asFields(elems []json.RawMessage) fields {
	f := make(fields, len(elems))
	for i, e := range elems {
		f[i].val = e
	}
	return f
}

func TestIsJSONNumber(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"0", "-0", "1", "-12.5", "1e10", "1E+2", "2.5e-3", "0.0"} {
		if !isJSONNumber([]byte(s)) {
			t.Errorf("%s refused", s)
		}
	}
	for _, s := range []string{"", "-", "01", "1.", ".1", "1e", "+1", "0x1", "Inf", "NaN", "1_0", "--1", "1e+"} {
		if isJSONNumber([]byte(s)) {
			t.Errorf("%s accepted", s)
		}
	}
}

func TestRepeatedKeysTakeTheLastValue(t *testing.T) {
	t.Parallel()
	var in PositionInput
	if err := json.Unmarshal([]byte(`{"position_id":"A","position_id":"B","product_type":"FIXED_BOND","attributes":{"cashflows":[],"cashflows":[{"pay_date":"2026-06-01","amount":5}]}}`), &in); err != nil {
		t.Fatal(err)
	}
	p, probs := ParsePosition(in)
	if len(probs) > 0 || p.ID != "B" {
		t.Fatalf("%v %v", p, probs)
	}
}

func TestAttributesNotValidJSON(t *testing.T) {
	t.Parallel()
	_, probs := ParsePosition(PositionInput{PositionID: "P", ProductType: "FIXED_BOND", Attributes: json.RawMessage(`{"cashflows":[`)})
	if !problemAt(probs, "/attributes", "not valid JSON") {
		t.Errorf("problems %v", probs)
	}
}

// FuzzParsePosition feeds arbitrary attributes to every product type: no
// panic, a position xor problems, and a parsed position prices or fails
// with a Problem.
// checkTrustedAttrs: a position decoded by UnmarshalJSON, whose attributes
// ParsePosition then splits without checking them again, parses exactly as
// the same input with a copy of its attributes, which it checks.
func checkTrustedAttrs(t *testing.T, productType string, attrs []byte) {
	t.Helper()
	typ, _ := json.Marshal(productType)
	doc := append(append(append([]byte(`{"position_id":"F","product_type":`), typ...), `,"attributes":`...), attrs...)
	doc = append(doc, '}')
	var in PositionInput
	if in.UnmarshalJSON(doc) != nil {
		return
	}
	p1, probs1 := ParsePosition(in)
	other := in
	other.Attributes = bytes.Clone(in.Attributes)
	p2, probs2 := ParsePosition(other)
	if !reflect.DeepEqual(probs1, probs2) || !reflect.DeepEqual(p1, p2) {
		t.Fatalf("attributes %q: unchecked split gives %v %v, checked %v %v", attrs, p1, probs1, p2, probs2)
	}
	checkStoredAttrs(t, productType, attrs)
}

// checkStoredAttrs: attributes vouched for as stored (StoredAttributes)
// parse exactly as when checked, when they are what an upload stores (the
// canonical form); on any other input the unchecked split still returns.
func checkStoredAttrs(t *testing.T, productType string, attrs []byte) {
	t.Helper()
	unchecked := PositionInput{PositionID: "F", ProductType: productType, Attributes: bytes.Clone(attrs)}
	unchecked.StoredAttributes()
	ParsePosition(unchecked)
	attrs, err := canon.Canonicalize(attrs)
	if err != nil {
		return
	}
	stored := PositionInput{PositionID: "F", ProductType: productType, Attributes: bytes.Clone(attrs)}
	stored.StoredAttributes()
	p1, probs1 := ParsePosition(stored)
	p2, probs2 := ParsePosition(PositionInput{PositionID: "F", ProductType: productType, Attributes: attrs})
	if !reflect.DeepEqual(probs1, probs2) || !reflect.DeepEqual(p1, p2) {
		t.Fatalf("attributes %q: as stored gives %v %v, checked %v %v", attrs, p1, probs1, p2, probs2)
	}
}

func FuzzParsePosition(f *testing.F) {
	f.Add("AMORT_LOAN", []byte(`{"current_principal":1000,"coupon_rate":0.1,"last_payment_date":"2025-12-23","remaining_term_months":12,"next_payment_date":"2026-01-31"}`))
	f.Add("AMORT_LOAN", []byte(`{"current_principal":1,"coupon_rate":0.1,"last_payment_date":"2025-12-23","cashflows":[{"pay_date":"2026-02-23","interest":1,"principal":1}]}`))
	f.Add("FIXED_BOND", []byte(`{"cashflows":[{"pay_date":"2026-06-01","amount":5}],"accrued_interest":1}`))
	f.Add("FX_FWD", []byte(`{"notional_base":1,"forward_rate":1.1,"maturity_date":"2026-06-01","instrument":{"underlyings":{"fx_pair":"GBPUSD"}}}`))
	m, err := NewMarket(flatMarketData(0.04, 0.02, 0.03))
	if err != nil {
		f.Fatal(err)
	}
	e, err := NewEngine(m, ScenarioIDs(), Measures(), asOf0)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, productType string, attrs []byte) {
		checkTrustedAttrs(t, productType, attrs)
		p, probs := ParsePosition(PositionInput{PositionID: "F", ProductType: productType, Attributes: attrs})
		if (p == nil) == (len(probs) == 0) {
			t.Fatalf("position %v with problems %v", p, probs)
		}
		if p == nil {
			return
		}
		checkProbs := e.Check(p)
		var v Values
		for s := range e.Scenarios() {
			err := e.Price(p, s, &v)
			var prob Problem
			if err != nil && !errors.As(err, &prob) {
				t.Fatalf("Price error %v is not a Problem", err)
			}
			if err == nil && len(checkProbs) > 0 {
				t.Fatalf("priced a position Check refuses: %v", checkProbs)
			}
		}
	})
}
