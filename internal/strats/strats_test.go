package strats

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/store"
)

func loan(id string, principal, qty float64) *store.Position {
	return &store.Position{SnapshotID: "S", PositionID: id, ProductType: "AMORT_LOAN", Quantity: &qty,
		Attributes: []byte(fmt.Sprintf(`{"current_principal":%g,"coupon_rate":0.05,"last_payment_date":"2026-01-15",`+
			`"next_payment_date":"2026-02-15","remaining_term_months":12}`, principal))}
}

// Sums are exact, so the order of the loans does not matter: a naive sum
// of 1e16, 1, 1 and −1e16 from the left gives 0, the exact sum is 2.
func TestSumsAreExactInAnyOrder(t *testing.T) {
	t.Parallel()
	asOf := time.Date(2026, 1, 23, 0, 0, 0, 0, time.UTC)
	list := []*store.Position{loan("A", 1e16, 1), loan("B", 1, 1), loan("C", 1, 1), loan("D", 1e16, -1)}
	var first []Item
	for range 2 {
		b := NewBuilder(Grouping{}, asOf)
		for _, p := range list {
			if err := b.Add(p); err != nil {
				t.Fatal(err)
			}
		}
		items := b.Items()
		if len(items) != 1 || items[0].Balance != 2 || items[0].Count != 4 || *items[0].WAC != 0.05 || *items[0].WAM != 12 || items[0].FICO != nil {
			t.Fatalf("items %+v", items[0])
		}
		if first != nil && !reflect.DeepEqual(first, items) {
			t.Errorf("order changed the answer: %+v vs %+v", first, items)
		}
		first = items
		slices.Reverse(list)
	}
}

func TestParseGrouping(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		by       string
		hasBands bool
		bands    string
		param    string
	}{
		{"", false, "", ""},
		{"vintage", false, "", ""},
		{"attr:fico", true, "580,680", ""},
		{"attr:fico", true, "680,580", "bands"},
		{"vintage", true, "580", "bands"},
		{"", true, "580", "bands"},
		{"instrument_id", false, "", "by"},
		{"attr:", false, "", "by"},
	} {
		if _, param, _ := ParseGrouping(c.by, c.hasBands, c.bands); param != c.param {
			t.Errorf("ParseGrouping(%q, %v, %q) faults %q, want %q", c.by, c.hasBands, c.bands, param, c.param)
		}
	}
}
