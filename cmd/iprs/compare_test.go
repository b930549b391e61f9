package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iprs/iprs/internal/client"
)

// TestRunCompare values a book on one day and, changed, on the next, and
// compares the runs from the command line: one position gone, one new,
// one with twice the quantity, the rest unchanged on the same market.
func TestRunCompare(t *testing.T) {
	t.Parallel()
	d, env, dir, mustRun := MustCLI(t)
	ctx := context.Background()
	book1, market := filepath.Join(dir, "day1.json"), filepath.Join(dir, "market.json")
	mustRun("gen", "--loans", "20", "--bonds", "2", "--fx-forwards", "2", "--id", "PS-D1", "-o", book1, "--market", market)
	mustRun("push", "market", market)
	mustRun("push", "positions", book1)

	var doc map[string]any
	raw, err := os.ReadFile(book1)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	positions := doc["positions"].([]any)
	byID := map[string]map[string]any{}
	for _, p := range positions {
		byID[p.(map[string]any)["position_id"].(string)] = p.(map[string]any)
	}
	if byID["POS-LN00000001"] == nil || byID["POS-LN00000002"] == nil || byID["POS-LN00000003"] == nil {
		t.Fatalf("the generated book lacks the loans this test changes: %v", byID)
	}
	var next []any
	for _, p := range positions {
		m := p.(map[string]any)
		switch m["position_id"] {
		case "POS-LN00000001":
			continue // repaid
		case "POS-LN00000002":
			m["quantity"] = 2.0
		}
		next = append(next, m)
	}
	added := map[string]any{}
	for k, v := range byID["POS-LN00000003"] {
		added[k] = v
	}
	added["position_id"] = "POS-NEW"
	next = append(next, added)
	doc["positions"], doc["position_snapshot_id"] = next, "PS-D2"
	raw, err = json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	book2 := filepath.Join(dir, "day2.json")
	if err := os.WriteFile(book2, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun("push", "positions", book2)
	for _, r := range []struct{ run, snap string }{{"RUN-D1", "PS-D1"}, {"RUN-D2", "PS-D2"}} {
		req := filepath.Join(dir, r.run+".json")
		if err := os.WriteFile(req, []byte(`{"run_id":"`+r.run+`","run_type":"SANDBOX","as_of_time":"2026-01-23T17:00:00Z",
			"market_snapshot_id":"MKT-20260123-1700Z","position_snapshot_id":"`+r.snap+`",
			"measures":["PV","FX_DELTA"],"scenarios":["BASE"]}`), 0o644); err != nil {
			t.Fatal(err)
		}
		mustRun("run", "submit", req, "--watch")
	}

	// What the API says, to check the table against.
	api, err := client.New(d.URL, "", nil).Compare(ctx, "RUN-D1", "RUN-D2", client.CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := (client.CompareCounts{Matched: 22, Breaks: 1, OnlyInBase: 1, OnlyInTarget: 1}); api.Counts != want {
		t.Fatalf("API counts %+v, want %+v", api.Counts, want)
	}
	brk := api.Items[1]
	if brk.PositionID != "POS-LN00000002" || brk.Base == nil || brk.Target == nil || *brk.Target.Number != 2**brk.Base.Number {
		t.Fatalf("the doubled loan: %+v", brk)
	}

	out := mustRun("run", "compare", "RUN-D1", "RUN-D2")
	for _, want := range []string{
		"RUN-D1 → RUN-D2: PV under BASE, breaks beyond 0 + 0·|base|",
		"25 positions: 22 matched, 1 breaks, 1 only in RUN-D1, 1 only in RUN-D2",
		"\ntotal " + number(*api.Totals.Base.Number) + " " + number(*api.Totals.Target.Number) + " " + number(*api.Totals.Diff.Number) + "\n",
	} {
		if !strings.Contains(squeeze(out), want) {
			t.Errorf("run compare: output lacks %q:\n%s", want, out)
		}
	}
	rows := tableRows(out, "position_id")
	wantRows := [][]string{
		{"POS-LN00000001", "ONLY_IN_BASE", number(*api.Items[0].Base.Number), "—", "—"},
		{"POS-LN00000002", "BREAK", number(*brk.Base.Number), number(*brk.Target.Number), number(*brk.Diff.Number)},
		{"POS-NEW", "ONLY_IN_TARGET", "—", number(*api.Items[2].Target.Number), "—"},
	}
	if len(rows) != len(wantRows) {
		t.Fatalf("run compare: rows %q, want %q", rows, wantRows)
	}
	for i := range rows {
		if strings.Join(rows[i], " ") != strings.Join(wantRows[i], " ") {
			t.Errorf("row %d = %q, want %q", i, rows[i], wantRows[i])
		}
	}

	// Twice the quantity is within a relative tolerance a hair above 1:
	// breaks are decided on the decimals the API writes (package results),
	// and the shortest decimal of 2·PV may round up past twice that of PV.
	if out := mustRun("run", "compare", "RUN-D1", "RUN-D2", "--rel-tol", "1.000000001"); !strings.Contains(out, "23 matched, 0 breaks") || strings.Contains(out, "POS-LN00000002") {
		t.Errorf("run compare --rel-tol 1.000000001:\n%s", out)
	}
	// --max stops early and says how many are left.
	if out := mustRun("run", "compare", "RUN-D1", "RUN-D2", "--max", "1"); len(tableRows(out, "position_id")) != 1 || !strings.Contains(out, "… 2 more") {
		t.Errorf("run compare --max 1:\n%s", out)
	}
	// FX_DELTA: one total line per currency; nothing changed.
	fx := mustRun("run", "compare", "RUN-D1", "RUN-D2", "--measure", "FX_DELTA")
	if !strings.Contains(fx, "FX_DELTA under BASE") || !strings.Contains(fx, "total ") || !strings.Contains(fx, "23 matched, 0 breaks") {
		t.Errorf("run compare --measure FX_DELTA:\n%s", fx)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "compare", "RUN-D1", "RUN-NOPE"}, "404"},
		{[]string{"run", "compare", "RUN-D1", "RUN-D2", "--measure", "KR01"}, "?measure"},
		{[]string{"run", "compare", "RUN-D1", "RUN-D2", "--abs-tol", "-1"}, "?abs_tol"},
		{[]string{"run", "compare", "RUN-D1"}, "accepts 2 arg"},
	} {
		if code, _, stderr := runIPRS(ctx, env, c.args...); code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("iprs %v: exit %d, stderr %q; want a failure saying %q", c.args, code, stderr, c.want)
		}
	}
}

// tableRows returns the rows of the table whose header starts with
// header, each split into its columns.
func tableRows(out, header string) [][]string {
	var rows [][]string
	in := false
	for _, line := range strings.Split(out, "\n") {
		fields := strings.Fields(line)
		switch {
		case len(fields) > 0 && fields[0] == header:
			in = true
		case in && len(fields) == 5:
			rows = append(rows, fields)
		case in:
			in = false
		}
	}
	return rows
}

// squeeze trims each line and collapses its runs of spaces to one.
func squeeze(out string) string {
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		lines[i] = strings.Join(strings.Fields(l), " ")
	}
	return strings.Join(lines, "\n")
}
