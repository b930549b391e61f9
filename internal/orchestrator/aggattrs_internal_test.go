package orchestrator

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/iprs/iprs/internal/canon"
)

// TestAggregateAttrsInCanonicalRequest: execution.aggregate_attrs joins
// the canonical request (so the request hash) without repeats, in the
// first order, and a request without it canonicalizes as before: its
// execution member holds hash_mod and max_attempts only.
func TestAggregateAttrsInCanonicalRequest(t *testing.T) {
	t.Parallel()
	canonical := func(exec string) string {
		t.Helper()
		var w runRequestWire
		body := `{"run_type":"SANDBOX","as_of_time":"2026-01-23T00:00:00Z","market_snapshot_id":"M","position_snapshot_id":"P",` +
			`"measures":["PV"],"scenarios":["BASE"]` + exec + `}`
		if err := json.Unmarshal([]byte(body), &w); err != nil {
			t.Fatal(err)
		}
		req, err := parseRunRequest(&w, 10)
		if err != nil {
			t.Fatalf("%s: %v", exec, err)
		}
		b, hash, err := req.Canonical()
		if err != nil || hash != canon.SHA256Hex(b) {
			t.Fatalf("Canonical: %v", err)
		}
		return string(b)
	}
	const before = `"execution":{"hash_mod":null,"max_attempts":3}`
	if got := canonical(""); !strings.Contains(got, before) {
		t.Errorf("without aggregate_attrs: %s, want %s", got, before)
	}
	if got, want := canonical(`,"execution":{"aggregate_attrs":["state","program","state"]}`),
		`"execution":{"aggregate_attrs":["state","program"],"hash_mod":null,"max_attempts":3}`; !strings.Contains(got, want) {
		t.Errorf("with aggregate_attrs: %s, want %s", got, want)
	}
	if got, want := canonical(`,"execution":{"aggregate_attrs":[]}`), `"execution":{"aggregate_attrs":[],`; !strings.Contains(got, want) {
		t.Errorf("with aggregate_attrs empty: %s, want %s", got, want)
	}
}
