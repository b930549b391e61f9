package ident_test

import (
	"strings"
	"testing"

	"github.com/iprs/iprs/internal/ident"
)

func TestValid(t *testing.T) {
	t.Parallel()
	for id, want := range map[string]bool{
		"RUN-2026-01-23-EOD":             true,
		"MODELSET-DEMO-001":              true,
		"a":                              true,
		"x_y.z:1":                        true,
		strings.Repeat("a", 128):         true,
		"":                               false,
		strings.Repeat("a", 129):         false,
		"a/b":                            false,
		"a b":                            false,
		"run%2F1":                        false,
		"caf\u00e9":                      false, // é: two bytes, neither allowed
		"tab\there":                      false,
		"semi;colon":                     false,
		"\x00":                           false,
		"ZZ-" + strings.Repeat("9", 125): true,
	} {
		if got := ident.Valid(id); got != want {
			t.Errorf("Valid(%q) = %v, want %v", id, got, want)
		}
	}
	// The rule's text names the bound the code applies.
	if !strings.Contains(ident.Rule, "128") || ident.MaxLen != 128 {
		t.Errorf("Rule %q and MaxLen %d disagree", ident.Rule, ident.MaxLen)
	}
}
