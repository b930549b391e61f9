package taskresult

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/iprs/iprs/internal/agg"
	"github.com/iprs/iprs/internal/pricing"
)

func TestAttrKeyerKeysEveryKindOfValue(t *testing.T) {
	t.Parallel()
	k := NewAttrKeyer([]string{"s", "esc", "n", "b", "z", "o", "missing"})
	attrs := `{"b":true,"esc":"caf\u00e9 \"q\"","n":1.50,"o":{"x":[1,2]},"s":"CA","z":null}`
	got, err := k.AppendKeys([]string{"before"}, []byte(attrs))
	if err != nil {
		t.Fatal(err)
	}
	// A string is its value; any other value its JSON text; null and
	// absent are n/a (SPEC §4.6).
	want := []string{"before", "CA", `café "q"`, "1.50", "true", "n/a", `{"x":[1,2]}`, "n/a"}
	if !slices.Equal(got, want) {
		t.Errorf("keys %q, want %q", got, want)
	}
	if _, err := k.AppendKeys(nil, []byte(`["not an object"]`)); err == nil {
		t.Errorf("attributes that are not an object were keyed")
	}
}

// TestBuilderAttrPartials: the partial by an attribute sums each group's
// positions (checked against sums by hand), and one with more groups than
// allowed is stored as too wide (an empty payload) beside the others.
func TestBuilderAttrPartials(t *testing.T) {
	t.Parallel()
	b := New("R", 1, []string{"BASE"}, []pricing.Measure{pricing.PV}, 4).WithAttrs([]string{"state", "id"}, 3)
	for i, st := range []string{"CA", "NY", "CA", "CA"} {
		var v [1]pricing.Values
		v[0].Set(pricing.PV, float64(i+1)*0.5)
		b.Add(Position{PositionID: fmt.Sprint(i), ProductType: "AMORT_LOAN", AttrKeys: []string{st, fmt.Sprint("ID", i)}}, v[:])
	}
	_, aggs := b.Results()
	byKey := map[string][]byte{}
	for _, a := range aggs {
		byKey[a.KeyBy] = a.Payload
	}
	if len(aggs) != agg.NumTaskKeys+2 {
		t.Fatalf("%d partials, want %d", len(aggs), agg.NumTaskKeys+2)
	}
	if p, ok := byKey["attr:id"]; !ok || len(p) != 0 {
		t.Errorf("attr:id (4 ids, 3 allowed): payload of %d bytes, want empty", len(p))
	}
	table, err := agg.Decode(byKey["attr:state"])
	if err != nil {
		t.Fatal(err)
	}
	// CA: 0.5 + 1.5 + 2; NY: 1.
	for key, want := range map[string]float64{"CA": 4, "NY": 1} {
		g := table.Group(key)
		if g == nil {
			t.Fatalf("no group %s in %v", key, table.Keys())
		}
		if got := table.Cell(g, 0, pricing.PV).Sum(pricing.PV).Sum(); got != want {
			t.Errorf("%s: PV %v, want %v", key, got, want)
		}
	}
	if table.Len() != 2 {
		t.Errorf("groups %v, want CA and NY", table.Keys())
	}
}

// TestBuilderSharedKeysMatchTablesBuiltDirectly: a keyed table whose
// positions all share one key is not added to but copied from the
// whole-task table. Its payload, and that of a table whose key changes
// after some positions, must be byte for byte what a table built by adding
// every position under its own key gives (agg.Table.Add, the second
// method), for every measure kind (sums, WAL's weight, FX_DELTA per
// currency, KR01 ladders) and the P&L vectors.
func TestBuilderSharedKeysMatchTablesBuiltDirectly(t *testing.T) {
	t.Parallel()
	scen := []string{"BASE", "RATES_PARALLEL_1BP"}
	ms := []pricing.Measure{pricing.PV, pricing.WAL, pricing.FXDelta, pricing.KR01}
	values := func(i int) []pricing.Values {
		vals := make([]pricing.Values, len(scen))
		for s := range vals {
			// Magnitudes far apart, so that the exact sums keep
			// several partials and their order matters.
			x := float64(i+1)*1e15/float64(s+3) + 1/float64(i+7)
			vals[s].Set(pricing.PV, x)
			vals[s].SetWAL(float64(i%5)+0.25, float64(i+1)*1000.5)
			vals[s].SetFXDelta(x/3, []string{"EUR", "GBP"}[i%2])
			var l [pricing.NumKeyRates]float64
			for j := range l {
				l[j] = x / float64(j+11)
			}
			vals[s].AddKR01([]string{"USD-OIS", "EUR-OIS"}[i%2], l)
		}
		return vals
	}
	const n = 9
	// Keys per position of each attribute: one key throughout, a second
	// key from the fourth position, a key changing at every position,
	// and a second key at the last.
	keys := map[string]func(i int) string{
		"same":   func(int) string { return "A" },
		"later":  func(i int) string { return map[bool]string{true: "A", false: "B"}[i < 3] },
		"always": func(i int) string { return fmt.Sprint("K", i%3) },
		"last":   func(i int) string { return map[bool]string{true: "A", false: "Z"}[i < n-1] },
	}
	names := []string{"same", "later", "always", "last"}
	node := func(i int) string { return map[bool]string{true: "N1", false: "N2"}[i < 5] }

	b := New("R", 1, scen, ms, n).WithAttrs(names, 0)
	direct := map[string]*agg.Table{}
	for _, keyBy := range append([]string{"", "product_type", "portfolio_node_id"}, names...) {
		direct[keyBy] = agg.New(scen, ms, true)
	}
	for i := range n {
		vals := values(i)
		p := Position{PositionID: fmt.Sprint("P", i), ProductType: "AMORT_LOAN", PortfolioNodeID: node(i)}
		for _, name := range names {
			p.AttrKeys = append(p.AttrKeys, keys[name](i))
			direct[name].Add(keys[name](i), vals, &vals[0])
		}
		direct[""].Add("", vals, &vals[0])
		direct["product_type"].Add("AMORT_LOAN", vals, &vals[0])
		direct["portfolio_node_id"].Add(node(i), vals, &vals[0])
		b.Add(p, vals)
	}
	_, aggs := b.Results()
	if len(aggs) != agg.NumTaskKeys+len(names) {
		t.Fatalf("%d partials, want %d", len(aggs), agg.NumTaskKeys+len(names))
	}
	for _, a := range aggs {
		key := a.KeyBy
		if name, ok := strings.CutPrefix(key, "attr:"); ok {
			key = name
		}
		want := direct[key].AppendBinary(nil)
		if !bytes.Equal(a.Payload, want) {
			t.Errorf("partial by %q: %d bytes differ from the table built directly (%d bytes)", a.KeyBy, len(a.Payload), len(want))
		}
	}
	// Results twice gives the same (the copies are made again, not added).
	_, again := b.Results()
	for i := range again {
		if !bytes.Equal(again[i].Payload, aggs[i].Payload) {
			t.Errorf("second Results: partial by %q changed", again[i].KeyBy)
		}
	}
}

// TestBuilderSharedKeysEdges: a task of no position writes the partials of
// empty tables; an attribute partial that becomes too wide is stored empty
// whether or not its keys were shared before; and WithAttrs after Add is
// refused.
func TestBuilderSharedKeysEdges(t *testing.T) {
	t.Parallel()
	scen := []string{"BASE"}
	ms := []pricing.Measure{pricing.PV}
	_, aggs := New("R", 1, scen, ms, 0).WithAttrs([]string{"a"}, 0).Results()
	empty := agg.New(scen, ms, true).AppendBinary(nil)
	for _, a := range aggs {
		if !bytes.Equal(a.Payload, empty) {
			t.Errorf("no position: partial by %q is not an empty table", a.KeyBy)
		}
	}

	b := New("R", 1, scen, ms, 3).WithAttrs([]string{"wide", "same"}, 1)
	for i, k := range []string{"A", "A", "B"} {
		var v [1]pricing.Values
		v[0].Set(pricing.PV, float64(i)+0.5)
		b.Add(Position{PositionID: fmt.Sprint(i), ProductType: "L", PortfolioNodeID: "N", AttrKeys: []string{k, "S"}}, v[:])
	}
	_, aggs = b.Results()
	byKey := map[string][]byte{}
	for _, a := range aggs {
		byKey[a.KeyBy] = a.Payload
	}
	if p := byKey["attr:wide"]; len(p) != 0 {
		t.Errorf("attr:wide (2 keys, 1 allowed): %d bytes, want the empty payload of a too wide partial", len(p))
	}
	table, err := agg.Decode(byKey["attr:same"])
	if err != nil {
		t.Fatal(err)
	}
	if g := table.Group("S"); g == nil || g.Positions != 3 || table.Cell(g, 0, pricing.PV).Sum(pricing.PV).Sum() != 0.5+1.5+2.5 {
		t.Errorf("attr:same: groups %v, want S with the three positions (PV 4.5)", table.Keys())
	}

	defer func() {
		if recover() == nil {
			t.Error("WithAttrs after Add was accepted")
		}
	}()
	b.WithAttrs([]string{"late"}, 0)
}

// loanAttrs are the attributes of a generated loan (internal/gen).
const loanAttrs = `{"city":"Fresno","coupon_rate":0.0725,"current_principal":183412.55,"fico":712,` +
	`"last_payment_date":"2026-01-01","loan_program":"Personal 36","monthly_payment":1520.17,"next_payment_date":"2026-02-01",` +
	`"origination_date":"2024-03-01","original_principal":200000,"platform":"Upstart","program":"P36","remaining_term_months":26,` +
	`"state":"CA","term_months":36}`

// BenchmarkAddPosition measures what a task spends per position after
// pricing it, under 4 scenarios × 4 measures: keying its attributes and
// adding it to the builder, without attributes and with the default five
// (state, loan_program, program, platform, desk). The positions alternate
// between two loans of different state, program and platform, and have no
// desk, as in a generated book: four of the eight partials take every
// position, the other four (product type, node, desk) are copied from the
// whole-task partial.
func BenchmarkAddPosition(b *testing.B) {
	attrsOf := [2][]byte{[]byte(loanAttrs), []byte(strings.NewReplacer(`"CA"`, `"NY"`, `"P36"`, `"P60"`, `"Personal 36"`, `"Personal 60"`, `"Upstart"`, `"Prosper"`).Replace(loanAttrs))}
	scen := []string{"BASE", "RATES_PARALLEL_1BP", "SPREAD_25BP", "FX_SPOT_1PCT"}
	ms := []pricing.Measure{pricing.PV, pricing.DV01, pricing.CS01, pricing.AccruedInterest}
	vals := make([]pricing.Values, len(scen))
	for s := range vals {
		for j, m := range ms {
			vals[s].Set(m, 1000.25*float64(s+1)+float64(j))
		}
	}
	for _, attrs := range [][]string{nil, {"state", "loan_program", "program", "platform", "desk"}} {
		b.Run(fmt.Sprintf("attrs=%d", len(attrs)), func(b *testing.B) {
			const perTask = 5000
			var bld *Builder
			k := NewAttrKeyer(attrs)
			var keys []string
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if i%perTask == 0 {
					bld = New("R", 1, scen, ms, perTask).WithAttrs(attrs, 0)
					keys = make([]string, 0, perTask*len(attrs))
				}
				var err error
				if keys, err = k.AppendKeys(keys, attrsOf[i%2]); err != nil {
					b.Fatal(err)
				}
				bld.Add(Position{PositionID: "P", ProductType: "AMORT_LOAN", AttrKeys: keys[len(keys)-len(attrs):]}, vals)
			}
		})
	}
}
