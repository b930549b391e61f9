package main

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestScenarioSetCommands generates a market history, pushes it and a
// scenario set with the client commands, and builds, shows and lists
// historical sets, as a user would.
func TestScenarioSetCommands(t *testing.T) {
	t.Parallel()
	_, env, dir, mustRun := MustCLI(t)
	ctx := context.Background()
	hist := filepath.Join(dir, "hist")
	// Six business days ending Friday 2026-01-23: 16, 19, 20, 21, 22, 23.
	if out := mustRun("gen", "--history", "6", "--as-of", "2026-01-23T17:00:00Z", "--history-dir", hist); out != "" {
		t.Errorf("gen --history without --out wrote a book: %.80q", out)
	}
	files, err := filepath.Glob(filepath.Join(hist, "*.json"))
	if err != nil || len(files) != 6 {
		t.Fatalf("history files %v, %v", files, err)
	}
	sort.Strings(files)
	if filepath.Base(files[0]) != "MKT-HIST-20260116.json" || filepath.Base(files[5]) != "MKT-HIST-20260123.json" {
		t.Errorf("history files %v", files)
	}
	for _, f := range files {
		if out := mustRun("push", "market", f); !strings.Contains(out, "stored") {
			t.Errorf("push market %s: %q", f, out)
		}
	}

	set := filepath.Join(dir, "set.json")
	if err := os.WriteFile(set, []byte(`{"scenario_set_id": "CLI-SET", "scenarios": [
	  {"scenario_id": "UP", "shocks": [{"type": "CURVE_SHIFT", "curves": "*-OIS", "shift_bp": 100}]},
	  {"scenario_id": "DOWN", "shocks": [{"type": "CURVE_SHIFT", "curves": "*-OIS", "shift_bp": -100}]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := mustRun("push", "scenario-set", set); !strings.Contains(out, "scenario set CLI-SET stored: 2 scenarios (UP … DOWN)") {
		t.Errorf("push scenario-set: %q", out)
	}
	if out := mustRun("push", "scenario-set", set); !strings.Contains(out, "already stored") {
		t.Errorf("second push: %q", out)
	}

	out := mustRun("scenario-set", "historical", "--from", "2026-01-16", "--to", "2026-01-23")
	if !strings.Contains(out, "scenario set HIST-2026-01-16-2026-01-23 stored: 5 scenarios (HIST-2026-01-19 … HIST-2026-01-23)") {
		t.Errorf("historical: %q", out)
	}
	out = mustRun("scenario-set", "historical", "--from", "2026-01-16", "--to", "2026-01-23", "--horizon", "2",
		"--id", "H2", "--curves", "USD-OIS,EUR-OIS", "--pairs", "*")
	if !strings.Contains(out, "scenario set H2 stored: 4 scenarios (HIST-2026-01-20 … HIST-2026-01-23)") {
		t.Errorf("historical --horizon 2: %q", out)
	}
	out = mustRun("scenario-set", "get", "H2")
	for _, want := range []string{`"scenario_set_id": "H2"`, `"HIST-2026-01-21"`, `"EUR-OIS"`, `"JPYUSD"`, `"scenario_count": 4`} {
		if !strings.Contains(out, want) {
			t.Errorf("get H2 lacks %s:\n%.400s", want, out)
		}
	}
	if strings.Contains(out, `"GBP-OIS"`) {
		t.Error("get H2: a curve outside --curves moved")
	}
	out = mustRun("scenario-set", "list")
	for _, want := range []string{"CLI-SET", "HIST-2026-01-16-2026-01-23", "H2"} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %s:\n%s", want, out)
		}
	}
	code, _, stderr := runIPRS(ctx, env, "scenario-set", "historical", "--from", "2026-01-16", "--to", "2026-01-23", "--curves", "*-NOPE")
	if code == 0 || !strings.Contains(stderr, "422") || !strings.Contains(stderr, "/curves") {
		t.Errorf("historical with a pattern matching nothing: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = runIPRS(ctx, env, "scenario-set", "historical", "--from", "2026-1-16", "--to", "2026-01-23")
	if code == 0 || !strings.Contains(stderr, "--from") {
		t.Errorf("a bad date: exit %d, stderr %q", code, stderr)
	}
}
