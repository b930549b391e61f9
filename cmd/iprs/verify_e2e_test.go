package main

import (
	"context"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/apidoc"
	"github.com/iprs/iprs/internal/client"
	"github.com/iprs/iprs/internal/gen"
	"github.com/iprs/iprs/internal/pricing"
	"github.com/iprs/iprs/internal/resultcodec"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/store/teststore"
)

// `iprs run verify ID --watch` on the whole platform, on each database: a
// clean run verifies (exit 0); with one stored number changed by one unit
// in the last place behind the platform's back, the replay names that
// position, scenario and measure with both values, and the command exits
// non-zero.
func TestRunVerifyCommand(t *testing.T) {
	t.Parallel()
	doc, err := apidoc.Parse()
	if err != nil {
		t.Fatal(err)
	}
	for _, tdb := range testDatabases(t) {
		t.Run(tdb.name, func(t *testing.T) {
			d := MustStartDev(t, tdb.db, nil)
			c := client.New(d.URL, "", nil)
			gi := MustPushGenerated(t, c, "MKT-VFY", gen.Options{SnapshotID: "PS-VFY", NodeID: "BOOK-VFY", AsOf: demoAsOf, Loans: 24, Bonds: 3, FXForwards: 3, Seed: 11})
			scenarios := pricing.ScenarioIDs()
			submitAndWait(t, c, map[string]any{
				"run_id": "RUN-VFY", "run_type": "SANDBOX", "as_of_time": demoAsOf.Format(time.RFC3339),
				"market_snapshot_id": "MKT-VFY", "position_snapshot_id": gi.Receipt.PositionSnapshotID,
				"measures": []string{"PV", "DV01", "KR01", "FX_DELTA"}, "scenarios": scenarios,
				"execution": map[string]any{"hash_mod": 4},
			})
			env := map[string]string{"IPRS_URL": d.URL}
			code, out, stderr := runIPRS(context.Background(), env, "run", "verify", "RUN-VFY", "--watch")
			if code != 0 || !strings.Contains(out, "run RUN-VFY: VERIFIED") || !strings.Contains(out, "positions checked: 30 of 30") ||
				!strings.Contains(out, "RUN-VFY~VERIFY-1") {
				t.Fatalf("verify a clean run: exit %d\n%s\n%s", code, out, stderr)
			}

			// One number, one ulp up, in the database.
			rows, err := d.st.ResultList(context.Background(), store.ResultListParams{RunID: "RUN-VFY", Limit: 3})
			if err != nil || len(rows) != 3 {
				t.Fatalf("results: %d, %v", len(rows), err)
			}
			row := rows[2]
			vals := make([]pricing.Values, len(scenarios))
			if err := resultcodec.Decode(row.Values, vals); err != nil {
				t.Fatal(err)
			}
			last := len(scenarios) - 1
			pv, _ := vals[last].Get(pricing.PV)
			vals[last].Set(pricing.PV, math.Nextafter(pv, math.Inf(-1)))
			if n := teststore.Tamper(t, d.st.(watchedStore).Watched, `UPDATE position_result SET vals = $1 WHERE run_id = $2 AND position_id = $3`,
				resultcodec.Append(nil, vals), "RUN-VFY", row.PositionID); n != 1 {
				t.Fatalf("changed %d rows", n)
			}
			code, out, stderr = runIPRS(context.Background(), env, "run", "verify", "RUN-VFY", "--watch")
			wantRow := []string{row.PositionID, scenarios[last], "PV", jsonNumber(t, math.Nextafter(pv, math.Inf(-1))), jsonNumber(t, pv)}
			if code == 0 || !strings.Contains(out, "run RUN-VFY: NOT VERIFIED") || !strings.Contains(out, "mismatches:        1") ||
				!strings.Contains(stderr, "run RUN-VFY is not verified: 1 mismatch") || !hasRow(out, wantRow) {
				t.Errorf("verify an altered run: exit %d, want non-zero with the row %v\nstdout:\n%s\nstderr:\n%s", code, wantRow, out, stderr)
			}

			// The replay has ended: there is nothing to cancel, and the
			// command says why.
			code, out, stderr = runIPRS(context.Background(), env, "run", "verify", "RUN-VFY", "--cancel")
			if code == 0 || !strings.Contains(stderr, "RUN-VFY~VERIFY-2") || !strings.Contains(stderr, "only a QUEUED or RUNNING replay can be cancelled") {
				t.Errorf("cancel a completed replay: exit %d, want non-zero naming the replay\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
			}
			if code, _, stderr = runIPRS(context.Background(), env, "run", "verify", "RUN-VFY", "--cancel", "--watch"); code == 0 ||
				!strings.Contains(stderr, "cannot be combined") {
				t.Errorf("--cancel --watch: exit %d, want a usage error\n%s", code, stderr)
			}

			// The answer matches the API description.
			var raw json.RawMessage
			if _, err := c.Do(context.Background(), "GET", "/orch/runs/RUN-VFY/verify", nil, "", &raw); err != nil {
				t.Fatal(err)
			}
			ref, ok := doc.ResponseSchema("GET /orch/runs/{id}/verify", 200, "application/json")
			if !ok {
				t.Fatal("no schema for GET verify")
			}
			if err := doc.ValidateJSON(ref, raw); err != nil {
				t.Errorf("the verdict does not match %s: %v\n%s", ref, err, raw)
			}
		})
	}
}

// jsonNumber is x as encoding/json writes it.
func jsonNumber(t *testing.T, x float64) string {
	b, err := json.Marshal(x)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// hasRow reports whether a line of out holds exactly the fields, in order
// (columns separated by spaces).
func hasRow(out string, fields []string) bool {
	for _, line := range strings.Split(out, "\n") {
		got := strings.Fields(line)
		if len(got) >= len(fields)+1 && slices.Equal(got[1:len(fields)+1], fields) {
			return true
		}
	}
	return false
}
