package canon

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestSHA256Hex(t *testing.T) {
	// FIPS 180-2 test vector.
	const want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if got := SHA256Hex([]byte("abc")); got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	h := NewHasher()
	h.WriteString("a")
	h.Write([]byte("bc"))
	if got := h.Sum(); got != want {
		t.Fatalf("Hasher got %s, want %s", got, want)
	}
}

func TestHashIgnoresFormatting(t *testing.T) {
	_, a, err := Hash([]byte(`{"b": [1.0, 2], "a": "\u00e9"}`))
	if err != nil {
		t.Fatal(err)
	}
	_, b, err := Hash([]byte("{\"a\":\"é\",\n \"b\":[1,2e0]}"))
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Fatalf("hashes differ: %s %s", a, b)
	}
	_, c, err := Hash([]byte(`{"a":"é","b":[1,2.5]}`))
	if err != nil {
		t.Fatal(err)
	}
	if c == a {
		t.Fatal("different documents hash alike")
	}
}

// TestHasherStreamsADocument hashes a position upload piece by piece and
// compares with the hash of the whole document canonicalized at once.
func TestHasherStreamsADocument(t *testing.T) {
	var doc strings.Builder
	doc.WriteString(`{"positions":[`)
	positions := make([]string, 50)
	for i := range positions {
		positions[i] = fmt.Sprintf(`{ "quantity": %d.0, "position_id": "P-%03d", "attributes": {"z": 1e2, "a": [true]} }`, i, i)
		if i > 0 {
			doc.WriteString(",\n")
		}
		doc.WriteString(positions[i])
	}
	doc.WriteString(`], "portfolio_node_id": "BOOK-\u0041", "as_of_time": "2026-01-23T00:00:00Z"}`)
	_, want, err := Hash([]byte(doc.String()))
	if err != nil {
		t.Fatal(err)
	}

	h := NewHasher()
	h.WriteString("{")
	h.WriteName("as_of_time")
	if err := h.WriteCanonical([]byte(`"2026-01-23T00:00:00Z"`)); err != nil {
		t.Fatal(err)
	}
	h.WriteString(",")
	h.WriteName("portfolio_node_id")
	h.Write(AppendString(nil, "BOOK-A"))
	h.WriteString(",")
	h.WriteName("positions")
	h.WriteString("[")
	for i, p := range positions {
		if i > 0 {
			h.WriteString(",")
		}
		if err := h.WriteCanonical([]byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	h.WriteString("]}")
	if got := h.Sum(); got != want {
		t.Fatalf("streamed hash %s, whole-document hash %s", got, want)
	}
	if err := h.WriteCanonical([]byte(`{"a":1,"a":1}`)); err == nil {
		t.Fatal("WriteCanonical accepted a duplicate name")
	}
	if got := h.Sum(); got != want {
		t.Fatal("a failed WriteCanonical changed the hash")
	}
}

func TestAppendStringInvalidUTF8(t *testing.T) {
	got := AppendString(nil, "a\xffb\"")
	if want := "\"a\uFFFDb\\\"\""; string(got) != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestMarshal(t *testing.T) {
	got, err := Marshal(map[string]any{"b": 1.5, "a": "<&>", "c": []int{3}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"a":"<&>","b":1.5,"c":[3]}`; string(got) != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestCompatFixturesCanonicalize(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		c, err := Canonicalize(raw)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if bytes.ContainsAny(c, "\n\t") {
			t.Fatalf("%s: whitespace left in %s", f, c)
		}
	}
}

func benchDoc(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"snapshot_id":"MKT-BENCH","as_of_time":"2026-01-23T17:00:00Z","curves":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"nodes":[{"zero_rate":0.0%d5,"tenor":"%dM"},{"tenor":"%dY","zero_rate":4.1e-2}],"curve_type":"DISCOUNT","curve_id":"C-%d \u00e9"}`, i%10, i+1, i+1, i)
	}
	b.WriteString(`],"fx_spots":[{"pair":"EURUSD","spot":1.0842}]}`)
	return b.Bytes()
}

func BenchmarkCanonicalize(b *testing.B) {
	doc := benchDoc(1000)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	dst := make([]byte, 0, len(doc))
	for b.Loop() {
		var err error
		if dst, err = AppendCanonical(dst[:0], doc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHasherPosition(b *testing.B) {
	pos := []byte(`{"position_id":"POS-SFC_5685642","instrument_id":"SFC_5685642","product_type":"AMORT_LOAN","quantity":1.0,"attributes":{"as_of_date":"2026-01-23","current_principal":20229.7,"coupon_rate":0.195,"cashflows":[{"pay_date":"2026-02-23","interest":328.732625,"principal":114.417375},{"pay_date":"2026-03-23","interest":326.87334265625,"principal":116.27665734375}]}}`)
	b.SetBytes(int64(len(pos)))
	b.ReportAllocs()
	h := NewHasher()
	for b.Loop() {
		if err := h.WriteCanonical(pos); err != nil {
			b.Fatal(err)
		}
	}
	_ = h.Sum()
}

// benchAttributes are the attributes of a typical loan position.
var benchAttributes = []byte(`{"as_of_date":"2026-01-23","last_payment_date":"2025-12-23","current_principal":20229.7,"coupon_rate":0.195,"monthly_payment":443.15,"platform":"PRIME","fico":730,"state":"FL","city":"RUSKIN","loan_program":"NINP - 20 Mo","term_months":84,"instrument":{"instrument_type":"AMORT_LOAN","terms":{"currency":"USD","day_count":"30/360","payment_frequency":"MONTHLY","original_term_months":84,"coupon_rate":0.195},"risk_modeling":{"discount_curve":"USD-OIS","spread_curve":"LOAN-SPREAD"}},"cashflows":[{"pay_date":"2026-02-23","interest":328.732625,"principal":114.417375,"amount":443.15},{"pay_date":"2026-03-23","interest":326.87334265625,"principal":116.27665734375,"amount":443.15}]}`)

func BenchmarkCanonicalizeAttributes(b *testing.B) {
	attrs := benchAttributes
	b.SetBytes(int64(len(attrs)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Canonicalize(attrs); err != nil {
			b.Fatal(err)
		}
	}
}

// scheduleAttributes are the attributes of a loan listing its 42
// remaining payments, as `iprs gen --schedules` writes them (members in
// order, amounts in cents): the explicit-schedule book of docs/benchmarks.md.
func scheduleAttributes() []byte {
	var b bytes.Buffer
	b.WriteString(`{"as_of_date":"2026-01-23","cashflows":[`)
	balance := 20229.7
	for k := range 42 {
		if k > 0 {
			b.WriteByte(',')
		}
		interest := math.Round(balance*0.195/12*100) / 100
		principal := math.Round((443.15-interest)*100) / 100
		balance = math.Round((balance-principal)*100) / 100
		fmt.Fprintf(&b, `{"interest":%s,"pay_date":"%04d-%02d-23","principal":%s}`,
			strconv.FormatFloat(interest, 'f', -1, 64), 2026+(k+1)/12, 1+(k+1)%12, strconv.FormatFloat(principal, 'f', -1, 64))
	}
	b.WriteString(`],"coupon_rate":0.195,"current_principal":20229.7,"fico":730,"state":"FL","term_months":84}`)
	return b.Bytes()
}

func BenchmarkCanonicalizeSchedule(b *testing.B) {
	attrs := scheduleAttributes()
	if got, err := Canonicalize(attrs); err != nil || !bytes.Equal(got, attrs) {
		b.Fatalf("the benchmark's attributes are not canonical: %v\n%s\n%s", err, attrs, got)
	}
	b.SetBytes(int64(len(attrs)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Canonicalize(attrs); err != nil {
			b.Fatal(err)
		}
	}
}
