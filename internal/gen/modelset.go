package gen

// ModelSet returns a demo model set document (SPEC §4.1) for the generated
// loan books: behavioural assumptions by program and FICO band. Programs
// with their own behaviour come first (the no-income-no-payment program,
// home improvement loans on the SDA/PSA ramps, auto refinancings on ABS
// speeds); the unsecured programs then fall to FICO bands, faster
// prepayment and fewer defaults for better credit; a last rule without a
// match catches every other loan. Unsecured losses are severe and quick;
// home improvement loans recover more, later.
func ModelSet(id string) map[string]any {
	rule := func(match map[string]any, prepayment, dflt map[string]any, severity float64, lag int) map[string]any {
		r := map[string]any{"prepayment": prepayment, "default": dflt, "severity": severity, "recovery_lag_months": lag}
		if match != nil {
			r["match"] = match
		}
		return r
	}
	cpr := func(x float64) map[string]any { return map[string]any{"cpr": x} }
	cdr := func(x float64) map[string]any { return map[string]any{"cdr": x} }
	band := func(lo, hi float64) map[string]any {
		b := map[string]any{}
		if lo > 0 {
			b["gte"] = lo
		}
		if hi > 0 {
			b["lt"] = hi
		}
		return b
	}
	return map[string]any{
		"model_set_id": id,
		"description":  "Demo consumer-loan assumptions by program and FICO band",
		"rules": []any{
			rule(map[string]any{"attr:program": "NINP-84", "attr:fico": band(0, 640)},
				cpr(0.06), map[string]any{"cdr_vector": []float64{0.04, 0.06, 0.08, 0.10, 0.11, 0.12, 0.12, 0.11, 0.10, 0.09}}, 0.85, 4),
			rule(map[string]any{"attr:program": "NINP-84"}, cpr(0.09), cdr(0.05), 0.85, 4),
			rule(map[string]any{"attr:program": "HOME-IMP-120"},
				map[string]any{"psa": 150}, map[string]any{"sda": 200}, 0.40, 9),
			rule(map[string]any{"attr:program": "AUTO-REFI-72", "attr:fico": band(0, 660)},
				map[string]any{"abs": 0.012}, cdr(0.05), 0.55, 3),
			rule(map[string]any{"attr:program": "AUTO-REFI-72"}, map[string]any{"abs": 0.015}, cdr(0.012), 0.50, 3),
			rule(map[string]any{"attr:fico": band(0, 620)}, cpr(0.08), cdr(0.11), 0.92, 3),
			rule(map[string]any{"attr:fico": band(620, 680)}, cpr(0.12), cdr(0.06), 0.90, 3),
			rule(map[string]any{"attr:fico": band(680, 740)}, cpr(0.16), cdr(0.03), 0.90, 3),
			rule(map[string]any{"attr:fico": band(740, 0)}, cpr(0.20), cdr(0.012), 0.90, 3),
			rule(nil, cpr(0.15), cdr(0.04), 0.90, 3),
		},
	}
}
