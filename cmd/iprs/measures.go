package main

import "github.com/iprs/iprs/internal/pricing"

// storedMeasures returns the names of every measure a run can compute and
// store, in canonical order (a result row holds any measure; see package
// resultcodec).
func storedMeasures() []string {
	var out []string
	for _, m := range pricing.Measures() {
		out = append(out, m.String())
	}
	return out
}
