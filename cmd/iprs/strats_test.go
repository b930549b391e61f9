package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestStratsAndBandedCube stratifies a generated loan book with `iprs
// strats` and runs `iprs run cube --bands` over a run of it: both group the
// same loans by FICO band, so their counts agree band by band.
func TestStratsAndBandedCube(t *testing.T) {
	t.Parallel()
	_, env, dir, mustRun := MustCLI(t)
	ctx := context.Background()
	book, market := filepath.Join(dir, "book.json"), filepath.Join(dir, "market.json")
	mustRun("gen", "--loans", "120", "--id", "PS-STRATS", "-o", book, "--market", market)
	mustRun("push", "market", market)
	mustRun("push", "positions", book)

	whole := mustRun("strats", "PS-STRATS")
	if !regexp.MustCompile(`(?m)^\s*all\s+120\s+[0-9.]+\s+100\.00\s`).MatchString(whole) {
		t.Errorf("strats without --by:\n%s", whole)
	}
	if !strings.Contains(whole, "WAC %") || !strings.Contains(whole, "FICO") || !strings.Contains(whole, "WAM") {
		t.Errorf("strats header:\n%s", whole)
	}

	req := filepath.Join(dir, "run.json")
	if err := os.WriteFile(req, []byte(`{"run_id":"RUN-STRATS","run_type":"SANDBOX","as_of_time":"2026-01-23T17:00:00Z",
		"market_snapshot_id":"MKT-20260123-1700Z","position_snapshot_id":"PS-STRATS","measures":["PV"],"scenarios":["BASE"]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := mustRun("run", "submit", req, "--watch"); !strings.Contains(out, "COMPLETED") {
		t.Fatalf("run submit --watch: %q", out)
	}
	counts := func(out string, col int) map[string]int {
		m := map[string]int{}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
			f := strings.Fields(line)
			n, err := strconv.Atoi(f[col])
			if err != nil {
				t.Fatalf("line %q: %v", line, err)
			}
			m[f[0]] = n
		}
		return m
	}
	strats := counts(mustRun("strats", "PS-STRATS", "--by", "attr:fico", "--bands", "580,680,740"), 1)
	cube := counts(mustRun("run", "cube", "RUN-STRATS", "--by", "attr:fico", "--bands", "580,680,740"), 2)
	total := 0
	for k, n := range strats {
		total += n
		if cube[k] != n {
			t.Errorf("band %s: strats %d loans, cube %d", k, n, cube[k])
		}
	}
	if total != 120 || len(cube) != len(strats) || len(strats) < 2 {
		t.Errorf("bands: strats %v, cube %v", strats, cube)
	}
	if v := counts(mustRun("strats", "PS-STRATS", "--by", "vintage"), 1); len(v) < 2 {
		t.Errorf("vintages: %v", v)
	}
	if code, _, stderr := runIPRS(ctx, env, "strats", "PS-STRATS", "--by", "product_type", "--bands", "1"); code == 0 || !strings.Contains(stderr, "bands") {
		t.Errorf("bands with product_type: exit %d, %q", code, stderr)
	}
}
