package main

import (
	"slices"

	"github.com/iprs/iprs/internal/pricing"
	"github.com/iprs/iprs/internal/store"
)

// storedMeasures returns the names of the measures a run can store, in
// canonical order: every pricing measure that has a result column.
func storedMeasures() []string {
	cols := store.MeasureColumns()
	var out []string
	for _, m := range pricing.Measures() {
		if slices.Contains(cols[:], m.String()) {
			out = append(out, m.String())
		}
	}
	return out
}
