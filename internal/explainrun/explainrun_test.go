package explainrun

import (
	"testing"

	"github.com/iprs/iprs/internal/store"
)

func TestParseRequest(t *testing.T) {
	t.Parallel()
	r, err := ParseRequest([]byte(`{"explain_id":"E","from_run_id":"A","to_run_id":"B"}`))
	if err != nil || r != (Request{ExplainID: "E", FromRunID: "A", ToRunID: "B"}) {
		t.Errorf("ParseRequest = %+v, %v", r, err)
	}
	for _, bad := range []string{`{"from_run_id":"A"}`, `[]`, `{"to_run_id":"B"}`} {
		if _, err := ParseRequest([]byte(bad)); err == nil {
			t.Errorf("ParseRequest(%s) accepted", bad)
		}
	}
}

// TestVersionSharesAnUnchangedPosition checks that the second version of
// a position with the same product type, instrument, quantity and
// attributes reuses the first's parse, and that any difference parses
// anew.
func TestVersionSharesAnUnchangedPosition(t *testing.T) {
	t.Parallel()
	one, two := 1.0, 2.0
	bond := func(qty *float64, attrs, instrument string) *store.Position {
		return &store.Position{SnapshotID: "S", PositionID: "P", InstrumentID: instrument, ProductType: "FIXED_BOND",
			Quantity: qty, Attributes: []byte(attrs)}
	}
	const a = `{"cashflows":[{"amount":100,"pay_date":"2027-01-05"}]}`
	first := bond(&one, a, "I")
	v1, err := version(first, &pair{})
	if err != nil {
		t.Fatal(err)
	}
	p := &pair{from: v1, fromP: first}
	for _, c := range []struct {
		name  string
		sp    *store.Position
		share bool
	}{
		{"unchanged", bond(&one, a, "I"), true},
		{"quantity", bond(&two, a, "I"), false},
		{"quantity absent", bond(nil, a, "I"), false},
		{"instrument", bond(&one, a, "J"), false},
		{"attributes", bond(&one, `{"cashflows":[{"amount":101,"pay_date":"2027-01-05"}]}`, "I"), false},
	} {
		v, err := version(c.sp, p)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if (v.Position == v1.Position) != c.share {
			t.Errorf("%s: shares the parse %v, want %v", c.name, v.Position == v1.Position, c.share)
		}
		if v == v1 {
			t.Errorf("%s: the same Version (its stored PV is per run)", c.name)
		}
	}
	if _, err := version(bond(nil, `{"cashflows":[]}`, "I"), &pair{}); err == nil {
		t.Error("a position that does not parse was accepted")
	}
}
