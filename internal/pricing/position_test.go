package pricing

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// problemAt reports whether probs has one at pointer whose detail contains
// all of words.
func problemAt(probs []Problem, pointer string, words ...string) bool {
	for _, p := range probs {
		if p.Pointer != pointer {
			continue
		}
		ok := true
		for _, w := range words {
			ok = ok && strings.Contains(p.Detail, w)
		}
		if ok {
			return true
		}
	}
	return false
}

const goodLoanAttrs = `"as_of_date":"2026-01-23","current_principal":1000,"coupon_rate":0.12,"last_payment_date":"2025-12-23",
	"cashflows":[{"pay_date":"2026-02-23","interest":10,"principal":500},{"pay_date":"2026-03-23","interest":5,"principal":500}]`

func TestParsePositionUploadProblems(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		json    string
		pointer string
		words   []string
	}{
		{"missing position_id", `{"product_type":"AMORT_LOAN","attributes":{` + goodLoanAttrs + `}}`, "/position_id", []string{"missing"}},
		{"position_id not a string", `{"position_id":7,"product_type":"AMORT_LOAN","attributes":{` + goodLoanAttrs + `}}`, "/position_id", []string{"string"}},
		{"missing product_type", `{"position_id":"P","attributes":{}}`, "/product_type", []string{"missing"}},
		{"unknown product_type", `{"position_id":"P","product_type":"SWAP","attributes":{}}`, "/product_type", []string{"SWAP", "AMORT_LOAN"}},
		{"quantity not a number", `{"position_id":"P","product_type":"AMORT_LOAN","quantity":"2","attributes":{` + goodLoanAttrs + `}}`, "/quantity", []string{"number"}},
		{"attributes missing", `{"position_id":"P","product_type":"AMORT_LOAN"}`, "/attributes", []string{"missing"}},
		{"attributes not an object", `{"position_id":"P","product_type":"AMORT_LOAN","attributes":[1]}`, "/attributes", []string{"object"}},
		{"loan principal missing", `{"position_id":"P","product_type":"AMORT_LOAN","attributes":{"coupon_rate":0.1,"last_payment_date":"2025-12-23","cashflows":[{"pay_date":"2026-02-23","interest":1,"principal":1}]}}`,
			"/attributes/current_principal", []string{"current_principal", "missing"}},
		{"loan coupon wrong type", `{"position_id":"P","product_type":"AMORT_LOAN","attributes":{"current_principal":1,"coupon_rate":"12%","last_payment_date":"2025-12-23","cashflows":[{"pay_date":"2026-02-23","interest":1,"principal":1}]}}`,
			"/attributes/coupon_rate", []string{"coupon_rate", "number"}},
		{"loan last_payment_date bad", `{"position_id":"P","product_type":"AMORT_LOAN","attributes":{"current_principal":1,"coupon_rate":0.1,"last_payment_date":"12/23/2025","cashflows":[{"pay_date":"2026-02-23","interest":1,"principal":1}]}}`,
			"/attributes/last_payment_date", []string{"YYYY-MM-DD"}},
		{"loan empty cashflows", `{"position_id":"P","product_type":"AMORT_LOAN","attributes":{"current_principal":1,"coupon_rate":0.1,"last_payment_date":"2025-12-23","cashflows":[]}}`,
			"/attributes/cashflows", []string{"empty"}},
		{"loan cashflows not a list", `{"position_id":"P","product_type":"AMORT_LOAN","attributes":{"current_principal":1,"coupon_rate":0.1,"last_payment_date":"2025-12-23","cashflows":{}}}`,
			"/attributes/cashflows", []string{"list"}},
		{"loan neither cashflows nor terms", `{"position_id":"P","product_type":"AMORT_LOAN","attributes":{"current_principal":1,"coupon_rate":0.1,"last_payment_date":"2025-12-23"}}`,
			"/attributes/cashflows", []string{"missing", "remaining_term_months"}},
		{"loan third pay_date bad", `{"position_id":"P","product_type":"AMORT_LOAN","attributes":{"current_principal":1,"coupon_rate":0.1,"last_payment_date":"2025-12-23","cashflows":[
			{"pay_date":"2026-02-23","interest":1,"principal":1},{"pay_date":"2026-03-23","interest":1,"principal":1},{"pay_date":"2026-02-30","interest":1,"principal":1}]}}`,
			"/attributes/cashflows/2/pay_date", []string{"2026-02-30"}},
		{"loan cashflow interest missing", `{"position_id":"P","product_type":"AMORT_LOAN","attributes":{"current_principal":1,"coupon_rate":0.1,"last_payment_date":"2025-12-23","cashflows":[{"pay_date":"2026-02-23","principal":1}]}}`,
			"/attributes/cashflows/0/interest", []string{"missing"}},
		{"loan cashflow not an object", `{"position_id":"P","product_type":"AMORT_LOAN","attributes":{"current_principal":1,"coupon_rate":0.1,"last_payment_date":"2025-12-23","cashflows":[3]}}`,
			"/attributes/cashflows/0", []string{"object"}},
		{"loan terms without next_payment_date", `{"position_id":"P","product_type":"AMORT_LOAN","attributes":{"current_principal":1,"coupon_rate":0.1,"last_payment_date":"2025-12-23","remaining_term_months":12}}`,
			"/attributes/next_payment_date", []string{"missing"}},
		{"loan term not whole", `{"position_id":"P","product_type":"AMORT_LOAN","attributes":{"current_principal":1,"coupon_rate":0.1,"last_payment_date":"2025-12-23","remaining_term_months":1.5,"next_payment_date":"2026-02-01"}}`,
			"/attributes/remaining_term_months", []string{"whole"}},
		{"as_of_date bad", `{"position_id":"P","product_type":"AMORT_LOAN","attributes":{` + goodLoanAttrs + `,"as_of_date":"2026-01-32"}}`,
			"/attributes/as_of_date", []string{"2026-01-32"}},
		{"override not an object", `{"position_id":"P","product_type":"AMORT_LOAN","attributes":{` + goodLoanAttrs + `,"instrument":{"risk_modeling":"USD-OIS"}}}`,
			"/attributes/instrument/risk_modeling", []string{"object"}},
		{"override not a string", `{"position_id":"P","product_type":"AMORT_LOAN","attributes":{` + goodLoanAttrs + `,"instrument":{"risk_modeling":{"discount_curve":5}}}}`,
			"/attributes/instrument/risk_modeling/discount_curve", []string{"string"}},
		{"bond cashflow amount wrong type", `{"position_id":"P","product_type":"FIXED_BOND","attributes":{"cashflows":[{"pay_date":"2026-06-01","amount":"100"}]}}`,
			"/attributes/cashflows/0/amount", []string{"number"}},
		{"bond cashflows missing", `{"position_id":"P","product_type":"FIXED_BOND","attributes":{"accrued_interest":1}}`,
			"/attributes/cashflows", []string{"missing"}},
		{"bond accrued wrong type", `{"position_id":"P","product_type":"FIXED_BOND","attributes":{"cashflows":[{"pay_date":"2026-06-01","amount":100}],"accrued_interest":"1"}}`,
			"/attributes/accrued_interest", []string{"number"}},
		{"fx notional missing", `{"position_id":"P","product_type":"FX_FWD","attributes":{"forward_rate":1.1,"maturity_date":"2026-06-01"}}`,
			"/attributes/notional_base", []string{"missing"}},
		{"fx maturity bad", `{"position_id":"P","product_type":"FX_FWD","attributes":{"notional_base":1,"forward_rate":1.1,"maturity_date":20260601}}`,
			"/attributes/maturity_date", []string{"YYYY-MM-DD"}},
		{"fx pair not against USD", `{"position_id":"P","product_type":"FX_FWD","attributes":{"notional_base":1,"forward_rate":1.1,"maturity_date":"2026-06-01","fx_pair":"EURGBP"}}`,
			"/attributes/fx_pair", []string{"EURGBP"}},
		{"fx nested pair bad", `{"position_id":"P","product_type":"FX_FWD","attributes":{"notional_base":1,"forward_rate":1.1,"maturity_date":"2026-06-01","instrument":{"underlyings":{"fx_pair":"eurusd"}}}}`,
			"/attributes/instrument/underlyings/fx_pair", []string{"eurusd"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			probs := parseProblems(t, c.json)
			if !problemAt(probs, c.pointer, c.words...) {
				t.Errorf("problems %v: none at %s mentioning %v", probs, c.pointer, c.words)
			}
			for _, p := range probs {
				var in PositionInput
				json.Unmarshal([]byte(c.json), &in)
				if p.PositionID != in.PositionID {
					t.Errorf("problem %v names position %q, want %q", p, p.PositionID, in.PositionID)
				}
			}
		})
	}
}

func TestParsePositionReportsEveryProblem(t *testing.T) {
	t.Parallel()
	probs := parseProblems(t, `{"position_id":"P9","product_type":"AMORT_LOAN","attributes":{"coupon_rate":"x","last_payment_date":"2025-13-01",
		"cashflows":[{"pay_date":"2026-02-23","interest":1,"principal":1},{"pay_date":"bad","interest":"1","principal":1}]}}`)
	for _, ptr := range []string{"/attributes/current_principal", "/attributes/coupon_rate", "/attributes/last_payment_date",
		"/attributes/cashflows/1/pay_date", "/attributes/cashflows/1/interest"} {
		if !problemAt(probs, ptr) {
			t.Errorf("no problem at %s in %v", ptr, probs)
		}
	}
	if len(probs) != 5 {
		t.Errorf("got %d problems, want 5: %v", len(probs), probs)
	}
	if got := probs[0].Error(); !strings.HasPrefix(got, "position P9 /attributes/") {
		t.Errorf("Problem.Error() = %q", got)
	}
}

func TestParsePositionCompatFixture(t *testing.T) {
	t.Parallel()
	var snap struct {
		Positions []PositionInput `json:"positions"`
	}
	if err := json.Unmarshal(readTestdata(t, "positions_snapshot_demo.json"), &snap); err != nil {
		t.Fatal(err)
	}
	if len(snap.Positions) != 3 {
		t.Fatalf("decoded %d positions", len(snap.Positions))
	}
	ids := NewPositionIDs()
	for i, in := range snap.Positions {
		p, probs := ParsePosition(in)
		if len(probs) > 0 {
			t.Fatalf("position %d: %v", i, probs)
		}
		if _, dup := ids.Add(i, p.ID); dup {
			t.Errorf("position %s reported as repeated", p.ID)
		}
		if p.Quantity != 1 || p.ProductType != "AMORT_LOAN" || p.InstrumentID == "" {
			t.Errorf("position %d decoded as %+v", i, p)
		}
		if d, ok := p.AsOfDate(); !ok || d != "2026-01-23" {
			t.Errorf("as_of_date = %q, %v", d, ok)
		}
		req := p.Requirements()
		if strings.Join(req.Curves, ",") != "LOAN-SPREAD,USD-OIS" || len(req.FXPairs) != 0 {
			t.Errorf("requirements = %+v", req)
		}
		if got := p.SupportedMeasures(); len(got) != 7 || p.Supports(FXDelta) || !p.Supports(WAL) || !p.Supports(KR01) {
			t.Errorf("SupportedMeasures = %v", got)
		}
	}
}

func TestPositionIDsFindsRepeats(t *testing.T) {
	t.Parallel()
	ids := NewPositionIDs()
	for i, id := range []string{"A", "B", "", "C"} {
		if _, dup := ids.Add(i, id); dup {
			t.Fatalf("%q reported as repeated", id)
		}
	}
	prob, dup := ids.Add(7, "B")
	if !dup || prob.PositionID != "B" || prob.Pointer != "/position_id" || !strings.Contains(prob.Detail, "index 1") {
		t.Errorf("repeat of B: %+v, %v", prob, dup)
	}
	if _, dup := ids.Add(8, ""); dup {
		t.Error("an empty id is reported by ParsePosition, not as a repeat")
	}
	if ids.Len() != 3 {
		t.Errorf("Len = %d", ids.Len())
	}
}

func TestQuantityDefaultsToOne(t *testing.T) {
	t.Parallel()
	var in PositionInput
	if err := json.Unmarshal([]byte(`{"position_id":"P","product_type":"FIXED_BOND","quantity":null,"attributes":{"cashflows":[{"pay_date":"2026-06-01","amount":100}]}}`), &in); err != nil {
		t.Fatal(err)
	}
	p, probs := ParsePosition(in)
	if len(probs) > 0 || p.Quantity != 1 {
		t.Fatalf("quantity = %v, problems %v", p, probs)
	}
	if err := json.Unmarshal([]byte(`[1]`), &in); err == nil {
		t.Error("a non-object position decoded")
	}
}

func TestProductRegistry(t *testing.T) {
	t.Parallel()
	if got := strings.Join(ProductTypes(), ","); got != "AMORT_LOAN,FIXED_BOND,FX_FWD" {
		t.Errorf("ProductTypes = %s", got)
	}
	cases := map[string][]Measure{
		"AMORT_LOAN": {PV, DV01, CS01, AccruedInterest, WAL, ExpectedLoss, KR01},
		"FIXED_BOND": {PV, DV01, CS01, AccruedInterest, KR01},
		"FX_FWD":     {PV, DV01, FXDelta, KR01},
	}
	for pt, want := range cases {
		got, ok := SupportedMeasures(pt)
		if !ok || len(got) != len(want) {
			t.Errorf("SupportedMeasures(%s) = %v", pt, got)
			continue
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("SupportedMeasures(%s) = %v, want %v", pt, got, want)
			}
		}
		if !IsProductType(pt) {
			t.Errorf("IsProductType(%s) = false", pt)
		}
	}
	if _, ok := SupportedMeasures("SWAP"); ok || IsProductType("SWAP") {
		t.Error("SWAP is not a product type")
	}
}

func TestRequirementsWithOverrides(t *testing.T) {
	t.Parallel()
	loan := MustPosition(t, "L", "AMORT_LOAN", nil, map[string]any{
		"current_principal": 1000, "coupon_rate": 0.1, "last_payment_date": "2025-12-23",
		"cashflows":  []any{map[string]any{"pay_date": "2026-02-23", "interest": 1, "principal": 1}},
		"instrument": map[string]any{"risk_modeling": map[string]any{"discount_curve": "USD-SOFR", "spread_curve": "AUTO-SPREAD"}},
	})
	if got := loan.Requirements(); strings.Join(got.Curves, ",") != "AUTO-SPREAD,USD-SOFR" {
		t.Errorf("loan requirements = %+v", got)
	}
	bond := MustPosition(t, "B", "FIXED_BOND", nil, map[string]any{"cashflows": []any{map[string]any{"pay_date": "2026-06-01", "amount": 100}}})
	if got := bond.Requirements(); strings.Join(got.Curves, ",") != "FI-SPREAD,USD-OIS" {
		t.Errorf("bond requirements = %+v", got)
	}
	fx := func(attrs map[string]any) Requirements {
		attrs["notional_base"], attrs["forward_rate"], attrs["maturity_date"] = 1e6, 1.1, "2026-06-01"
		return MustPosition(t, "F", "FX_FWD", nil, attrs).Requirements()
	}
	if got := fx(map[string]any{}); strings.Join(got.Curves, ",") != "EUR-OIS,USD-OIS" || strings.Join(got.FXPairs, ",") != "EURUSD" {
		t.Errorf("default FX requirements = %+v", got)
	}
	if got := fx(map[string]any{"fx_pair": "GBPUSD"}); strings.Join(got.Curves, ",") != "GBP-OIS,USD-OIS" || strings.Join(got.FXPairs, ",") != "GBPUSD" {
		t.Errorf("GBPUSD requirements = %+v", got)
	}
	got := fx(map[string]any{"instrument": map[string]any{"underlyings": map[string]any{
		"fx_pair": "JPYUSD", "discount_curve_domestic": "USD-SOFR", "discount_curve_foreign": "JPY-TONA"}}})
	if strings.Join(got.Curves, ",") != "JPY-TONA,USD-SOFR" || strings.Join(got.FXPairs, ",") != "JPYUSD" {
		t.Errorf("overridden FX requirements = %+v", got)
	}
}

// TestPositionIDsTellCollidingIdsApart forces every id onto one hash (and,
// in a second tracker, onto two), so that ids are told apart by their text
// alone: a repeat is reported exactly when the text repeats, naming the
// first index, and the count is the number of distinct ids.
func TestPositionIDsTellCollidingIdsApart(t *testing.T) {
	t.Parallel()
	for name, hash := range map[string]func(string) uint64{
		"one hash":  func(string) uint64 { return 7 },
		"by length": func(s string) uint64 { return uint64(len(s) % 2) },
	} {
		t.Run(name, func(t *testing.T) {
			ids := newPositionIDs(hash)
			seq := []string{"A", "BB", "C", "A", "DDD", "C", "BB", "E", "DDD", "E"}
			// The index of each id's first use, worked out by hand.
			want := map[int]int{3: 0, 5: 2, 6: 1, 8: 4, 9: 7}
			for i, id := range seq {
				prob, dup := ids.Add(i, id)
				first, wantDup := want[i]
				if dup != wantDup {
					t.Fatalf("Add(%d, %q): repeated = %v, want %v", i, id, dup, wantDup)
				}
				if dup && (prob.PositionID != id || !strings.HasSuffix(prob.Detail, fmt.Sprintf("index %d", first))) {
					t.Errorf("Add(%d, %q) = %+v, want first index %d", i, id, prob, first)
				}
			}
			if ids.Len() != 5 {
				t.Errorf("Len = %d, want 5", ids.Len())
			}
		})
	}
}
