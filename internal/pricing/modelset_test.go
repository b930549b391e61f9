package pricing

import (
	"encoding/json"
	"math"
	"slices"
	"sort"
	"strings"
	"testing"
)

func MustModelSet(tb testing.TB, doc string) *ModelSet {
	tb.Helper()
	ms, probs := ParseModelSet([]byte(doc))
	if len(probs) > 0 {
		tb.Fatalf("ParseModelSet: %v", probs)
	}
	return ms
}

func TestParseModelSetAcceptsTheSpecShapes(t *testing.T) {
	t.Parallel()
	ms := MustModelSet(t, `{
		"model_set_id": "MS-2026.01:v1", "description": "demo",
		"rules": [
			{"match": {"attr:fico": {"gte": 300, "lt": 660}, "attr:program": ["A", "B"], "product_type": "AMORT_LOAN", "attr:secured": true},
			 "prepayment": {"cpr": 0.1}, "default": {"cdr": 0.05}, "severity": 0.6, "recovery_lag_months": 6},
			{"match": {}, "prepayment": {"psa": 150}, "default": {"sda": 100}},
			{"prepayment": {"abs": 0.015}, "default": {"cdr_vector": [0.01, 0.02]}, "severity": 1, "recovery_lag_months": 0},
			{"prepayment": {"cpr_vector": [0, 1, 0.5]}},
			{}
		]}`)
	if ms.ID() != "MS-2026.01:v1" || ms.Description() != "demo" || ms.Len() != 5 {
		t.Fatalf("ID %q description %q rules %d", ms.ID(), ms.Description(), ms.Len())
	}
	r := ms.rules[0]
	if len(r.conds) != 4 || r.severity != 0.6 || r.lag != 6 || r.prepay.kind != rateConst || r.dflt.kind != rateConst {
		t.Errorf("rule 0 = %+v", r)
	}
	// Rates are stored monthly: SMM = 1 − 0.9^(1/12).
	assertClose(t, "SMM of CPR 10%", r.prepay.c, 1-math.Pow(0.9, 1.0/12), 1e-15)
	if ms.rules[4].prepay.kind != rateNone || ms.rules[4].dflt.kind != rateNone || ms.rules[4].severity != 0 {
		t.Errorf("an empty rule is not all zero: %+v", ms.rules[4])
	}
}

func TestParseModelSetProblems(t *testing.T) {
	t.Parallel()
	cases := []struct {
		doc      string
		pointers []string
	}{
		{`nope`, []string{""}},
		{`[]`, []string{""}},
		{`{"rules": []}`, []string{"/model_set_id"}},
		{`{"model_set_id": "a/b", "rules": []}`, []string{"/model_set_id"}},
		{`{"model_set_id": 7, "rules": []}`, []string{"/model_set_id"}},
		{`{"model_set_id": "M"}`, []string{"/rules"}},
		{`{"model_set_id": "M", "rules": {}}`, []string{"/rules"}},
		{`{"model_set_id": "M", "rules": [], "extra": 1, "description": 5}`, []string{"/extra", "/description"}},
		{`{"model_set_id": "M", "rules": [7, {"prepay": {}}]}`, []string{"/rules/0", "/rules/1/prepay"}},
		{`{"model_set_id": "M", "rules": [{}, {}, {"prepayment": {"cpr": 1.5}}]}`, []string{"/rules/2/prepayment/cpr"}},
		{`{"model_set_id": "M", "rules": [{"prepayment": {"cpr": -0.1}, "default": {"cdr": "0.1"}}]}`, []string{"/rules/0/prepayment/cpr", "/rules/0/default/cdr"}},
		{`{"model_set_id": "M", "rules": [{"prepayment": {"cpr": 0.1, "psa": 100}}]}`, []string{"/rules/0/prepayment"}},
		{`{"model_set_id": "M", "rules": [{"prepayment": {}}]}`, []string{"/rules/0/prepayment"}},
		{`{"model_set_id": "M", "rules": [{"prepayment": {"cdr": 0.1}}]}`, []string{"/rules/0/prepayment/cdr", "/rules/0/prepayment"}},
		{`{"model_set_id": "M", "rules": [{"prepayment": {"psa": -1}, "default": {"sda": -5}}]}`, []string{"/rules/0/prepayment/psa", "/rules/0/default/sda"}},
		{`{"model_set_id": "M", "rules": [{"prepayment": {"abs": -0.01}}]}`, []string{"/rules/0/prepayment/abs"}},
		{`{"model_set_id": "M", "rules": [{"prepayment": {"cpr_vector": []}}]}`, []string{"/rules/0/prepayment/cpr_vector"}},
		{`{"model_set_id": "M", "rules": [{"default": {"cdr_vector": [0.1, 2, null, 0.3]}}]}`, []string{"/rules/0/default/cdr_vector/1", "/rules/0/default/cdr_vector/2"}},
		{`{"model_set_id": "M", "rules": [{"severity": 1.01}, {"severity": -0}, {"severity": "x"}]}`, []string{"/rules/0/severity", "/rules/2/severity"}},
		{`{"model_set_id": "M", "rules": [{"recovery_lag_months": 1.5}, {"recovery_lag_months": -1}, {"recovery_lag_months": 12}]}`, []string{"/rules/0/recovery_lag_months", "/rules/1/recovery_lag_months"}},
		{`{"model_set_id": "M", "rules": [{"match": []}]}`, []string{"/rules/0/match"}},
		{`{"model_set_id": "M", "rules": [{"match": {"fico": 700, "attr:": 1, "attr:a~b/c": null}}]}`, []string{"/rules/0/match/fico", "/rules/0/match/attr:", "/rules/0/match/attr:a~0b~1c"}},
		{`{"model_set_id": "M", "rules": [{"match": {"attr:x": [1, [2], {}], "attr:y": []}}]}`, []string{"/rules/0/match/attr:x/1", "/rules/0/match/attr:x/2", "/rules/0/match/attr:y"}},
		{`{"model_set_id": "M", "rules": [{"match": {"attr:x": {}, "attr:y": {"gte": "1"}, "attr:z": {"ge": 1}}}]}`, []string{"/rules/0/match/attr:x", "/rules/0/match/attr:y/gte", "/rules/0/match/attr:z/ge"}},
		{`{"model_set_id": "M", "rules": [{"match": {"attr:x": 1, "attr:x": 2}}]}`, []string{"/rules/0/match/attr:x"}},
	}
	for _, c := range cases {
		ms, probs := ParseModelSet([]byte(c.doc))
		if ms != nil {
			t.Errorf("%s: accepted", c.doc)
			continue
		}
		var got []string
		for _, p := range probs {
			got = append(got, p.Pointer)
			if p.Detail == "" {
				t.Errorf("%s: problem at %q without detail", c.doc, p.Pointer)
			}
		}
		want := slices.Clone(c.pointers)
		sort.Strings(got)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s:\n pointers %q\n want     %q\n (%v)", c.doc, got, want, probs)
		}
	}
	_, probs := ParseModelSet([]byte(`{"model_set_id": "M", "rules": [{}, {}, {"prepayment": {"cpr": 1.5}}]}`))
	if len(probs) != 1 || !strings.Contains(probs[0].Detail, "from 0 to 1") || probs[0].Error() != "model set /rules/2/prepayment/cpr: "+probs[0].Detail {
		t.Errorf("problem = %+v", probs)
	}
}

func loanWith(tb testing.TB, extra map[string]any) *Position {
	tb.Helper()
	attrs := loanAttrs(cf("2027-01-23", 50, 1000))
	for k, v := range extra {
		attrs[k] = v
	}
	return MustPosition(tb, "L", "AMORT_LOAN", nil, attrs)
}

func TestModelSetMatching(t *testing.T) {
	t.Parallel()
	ms := MustModelSet(t, `{"model_set_id": "M", "rules": [
		{"match": {"product_type": "FIXED_BOND"}},
		{"match": {"attr:fico": {"lt": 660}, "attr:program": ["AUTO", "HOME"]}},
		{"match": {"attr:fico": {"gte": 660, "lte": 720}}},
		{"match": {"attr:fico": {"gt": 720}, "attr:secured": true}},
		{"match": {"attr:state": "GA", "attr:grade": 2}},
		{"match": {"product_type": ["AMORT_LOAN"], "attr:fico": 800}},
		{"match": {"attr:x": {"gt": 1, "gte": 1}}}
	]}`)
	cases := []struct {
		attrs map[string]any
		rule  int // −1: none
	}{
		{map[string]any{"fico": 600, "program": "AUTO"}, 1},
		{map[string]any{"fico": 600, "program": "CARD"}, -1},
		{map[string]any{"fico": 659.99, "program": "HOME"}, 1},
		{map[string]any{"fico": 660}, 2}, // gte holds its bound
		{map[string]any{"fico": 720}, 2}, // lte holds its bound
		{map[string]any{"fico": 720.5}, -1},
		{map[string]any{"fico": 721, "secured": true}, 3},
		{map[string]any{"fico": 721, "secured": "true"}, -1},
		{map[string]any{"fico": "700"}, -1}, // a range holds only for a number
		{map[string]any{"fico": nil}, -1},   // null is missing
		{map[string]any{}, -1},              // a missing attribute fails
		{map[string]any{"state": "GA", "grade": 2.0}, 4},
		{map[string]any{"state": "GA", "grade": "2"}, -1},
		{map[string]any{"state": "GA"}, -1},
		{map[string]any{"fico": 800}, 5},
		{map[string]any{"x": 1}, -1}, // gt 1 and gte 1: the tighter holds
		{map[string]any{"x": 1.5}, 6},
		{map[string]any{"fico": []any{700}}, -1},
	}
	for _, c := range cases {
		p := loanWith(t, c.attrs)
		got, ok := ms.Match(p)
		if !ok {
			got = -1
		}
		if got != c.rule {
			b, _ := json.Marshal(c.attrs)
			t.Errorf("%s: rule %d, want %d", b, got, c.rule)
		}
		// Asked again: the same answer, from the position's memory.
		if again, _ := ms.Match(p); ok && again != got {
			t.Errorf("second Match %d", again)
		}
	}
	// Rule 0 matches only bonds: accepted, but only loans take rules.
	bond := MustPosition(t, "B", "FIXED_BOND", nil, map[string]any{"cashflows": []any{map[string]any{"pay_date": "2027-01-01", "amount": 1}}})
	if k, ok := ms.Match(bond); ok {
		t.Errorf("a bond took rule %d", k)
	}
	// A rule without match matches every loan.
	all := MustModelSet(t, `{"model_set_id": "ALL", "rules": [{"match": {"attr:fico": 1}}, {"prepayment": {"cpr": 0.1}}]}`)
	if k, ok := all.Match(loanWith(t, nil)); !ok || k != 1 {
		t.Errorf("rule without match: %d, %v", k, ok)
	}
	// A position remembers its rule per model set: another set matches
	// afresh.
	p := loanWith(t, map[string]any{"fico": 600, "program": "AUTO"})
	if k, _ := ms.Match(p); k != 1 {
		t.Fatal(k)
	}
	if k, _ := all.Match(p); k != 1 {
		t.Errorf("second model set: rule %d", k)
	}
	if k, _ := ms.Match(p); k != 1 {
		t.Errorf("first model set again: rule %d", k)
	}
}

func TestMonthlyRate(t *testing.T) {
	t.Parallel()
	for _, annual := range []float64{0, 1e-9, 0.001, 0.06, 0.1, 0.25, 0.5, 0.999, 1} {
		want := 1 - math.Pow(1-annual, 1.0/12)
		assertClose(t, "monthlyRate", monthlyRate(annual), want, 1e-15)
	}
	if monthlyRate(0) != 0 || monthlyRate(1) != 1 || monthlyRate(-1) != 0 || monthlyRate(2) != 1 {
		t.Error("monthlyRate bounds")
	}
	// 6% CPR is an SMM of 0.51430%, as the standard tables quote it.
	if got := math.Round(monthlyRate(0.06)*1e7) / 1e5; got != 0.51430 {
		t.Errorf("SMM of 6%% CPR = %v%%", got)
	}
}

func TestPortableLogIsWithinAnULP(t *testing.T) {
	t.Parallel()
	x := 1e-300
	for x < 1e300 {
		got, want := portableLog(x), math.Log(x)
		if math.Abs(got-want) > 1.5*ulp(want) {
			t.Fatalf("portableLog(%g) = %.17g, math.Log %.17g", x, got, want)
		}
		x *= 1.37
	}
	for _, v := range []float64{0.5, 1, 2, math.E, 0.999, 1 - 1e-12} {
		if got, want := portableLog(v), math.Log(v); math.Abs(got-want) > 1.5*ulp(want) {
			t.Errorf("portableLog(%g) = %.17g, want %.17g", v, got, want)
		}
	}
	if !math.IsInf(portableLog(0), -1) || !math.IsNaN(portableLog(-1)) || portableLog(1) != 0 {
		t.Error("portableLog special cases")
	}
}

func ulp(x float64) float64 {
	x = math.Abs(x)
	return math.Nextafter(x, math.Inf(1)) - x
}
