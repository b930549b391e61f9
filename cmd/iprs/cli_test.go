package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/client"
	"github.com/iprs/iprs/internal/config"
	"github.com/iprs/iprs/internal/gen"
)

// TestUnknownCommandsAreUsageErrors: what iprs does not know exits 2 and
// says what it does know; a group without a subcommand prints its help.
func TestUnknownCommandsAreUsageErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"frobnicate"}, []string{`unknown command "frobnicate" for "iprs"`, "dev", "serve", "run"}},
		{[]string{"run", "lst"}, []string{`unknown command "lst" for "iprs run"`, "did you mean list?", "summary"}},
		{[]string{"push", "bonds", "x.json"}, []string{`unknown command "bonds" for "iprs push"`, "market, model-set, positions, scenario-set"}},
		{[]string{"serve", "billing"}, []string{`unknown service "billing"`, "marketdata, orchestrator, results, worker"}},
		{[]string{"serve"}, []string{"marketdata, orchestrator, results, worker"}},
		{[]string{"run", "list", "--colour"}, []string{"unknown flag: --colour"}},
	} {
		code, stdout, stderr := runIPRS(context.Background(), nil, c.args...)
		if code != exitUsage {
			t.Errorf("iprs %v: exit %d, want %d\n%s%s", c.args, code, exitUsage, stdout, stderr)
		}
		for _, w := range c.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("iprs %v: stderr %q does not say %q", c.args, stderr, w)
			}
		}
	}
	for _, args := range [][]string{{"run"}, {"push"}} {
		code, stdout, _ := runIPRS(context.Background(), nil, args...)
		if code != 0 || !strings.Contains(stdout, "Available Commands") {
			t.Errorf("iprs %v: exit %d, stdout %q: want its help", args, code, stdout)
		}
	}
}

// TestHelpNeverShowsTheToken: IPRS_URL and IPRS_TOKEN are documented, the
// URL's value may show, the token's never does.
func TestHelpNeverShowsTheToken(t *testing.T) {
	t.Parallel()
	env := map[string]string{"IPRS_TOKEN": "tok-s3cr3t-value", "IPRS_URL": "http://example.invalid:9"}
	for _, args := range [][]string{{"--help"}, {"run", "--help"}, {"push", "--help"}, {"run", "list", "--help"},
		{"run", "submit", "--help"}, {"push", "positions", "--help"}, {"run", "status", "--help"}} {
		_, stdout, stderr := runIPRS(context.Background(), env, args...)
		out := stdout + stderr
		if strings.Contains(out, "tok-s3cr3t-value") {
			t.Errorf("iprs %v prints the token:\n%s", args, out)
		}
		if args[0] != "--help" {
			for _, w := range []string{"IPRS_TOKEN", "IPRS_URL", "http://example.invalid:9"} {
				if !strings.Contains(out, w) {
					t.Errorf("iprs %v: help does not mention %s", args, w)
				}
			}
		}
	}
	_, stdout, _ := runIPRS(context.Background(), env, "run", "--help")
	for _, w := range []string{"marketdata", ":8001", "orchestrator", ":8002", "results", ":8003", "iprs dev"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("run --help does not explain the four-process setup (%q missing)", w)
		}
	}
}

// TestClientHints: an unreachable platform, a URL that serves another
// service's routes and a missing token each get a line of advice.
func TestClientHints(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	code, _, stderr := runIPRS(ctx, map[string]string{"IPRS_URL": "http://" + freeAddr(t)}, "run", "list")
	if code == 0 || !strings.Contains(stderr, "is `iprs dev` running? Set --url or IPRS_URL") {
		t.Errorf("unreachable: exit %d, stderr %q", code, stderr)
	}

	env := map[string]string{"DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "iprs.db")}
	if code, _, stderr := runIPRS(ctx, env, "migrate"); code != 0 {
		t.Fatalf("migrate: %s", stderr)
	}
	res := MustServe(t, env, "results")
	code, _, stderr = runIPRS(ctx, map[string]string{"IPRS_URL": res.URL}, "run", "list")
	if code == 0 || !strings.Contains(stderr, "404") || !strings.Contains(stderr, "point --url at the service that owns it") {
		t.Errorf("run list against results: exit %d, stderr %q", code, stderr)
	}

	db := config.Database{Driver: config.DriverSQLite, Path: filepath.Join(t.TempDir(), "iprs.db")}
	d := mustStartDevWorkers(t, db, map[string]string{"IPRS_API_TOKENS": "tok-1"}, 1)
	code, _, stderr = runIPRS(ctx, map[string]string{"IPRS_URL": d.URL}, "run", "list")
	if code == 0 || !strings.Contains(stderr, "401") || !strings.Contains(stderr, "set IPRS_TOKEN") {
		t.Errorf("no token: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = runIPRS(ctx, map[string]string{"IPRS_URL": d.URL, "IPRS_TOKEN": "tok-2"}, "run", "list")
	if code == 0 || !strings.Contains(stderr, "refused the token: check IPRS_TOKEN") {
		t.Errorf("wrong token: exit %d, stderr %q", code, stderr)
	}
	code, stdout, stderr := runIPRS(ctx, map[string]string{"IPRS_URL": d.URL, "IPRS_TOKEN": "tok-1"}, "run", "list")
	if code != 0 || !strings.Contains(stdout, "RUN") {
		t.Errorf("with IPRS_TOKEN: exit %d\n%s%s", code, stdout, stderr)
	}
}

// TestRunListAndPlainProgress: run list shows the runs and filters by
// status; watching a run into a file (not a terminal) writes plain lines,
// never a carriage return.
func TestRunListAndPlainProgress(t *testing.T) {
	t.Parallel()
	db := config.Database{Driver: config.DriverSQLite, Path: filepath.Join(t.TempDir(), "iprs.db")}
	d := MustStartDev(t, db, nil)
	c := client.New(d.URL, "", nil)
	gi := MustPushGenerated(t, c, "MKT-CLI", gen.Options{SnapshotID: "PS-CLI-LIST", NodeID: "BOOK-CLI", AsOf: demoAsOf, Loans: 40, Seed: 8})
	for _, id := range []string{"RUN-LIST-1", "RUN-LIST-2"} {
		submitAndWait(t, c, map[string]any{
			"run_id": id, "run_type": "SANDBOX", "as_of_time": demoAsOf.Format(time.RFC3339),
			"market_snapshot_id": "MKT-CLI", "position_snapshot_id": gi.Receipt.PositionSnapshotID,
			"measures": []string{"PV"}, "scenarios": []string{"BASE"},
		})
	}
	if _, err := c.PublishRun(context.Background(), "RUN-LIST-1"); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"IPRS_URL": d.URL}
	_, stdout, _ := runIPRS(context.Background(), env, "run", "list")
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "RUN-LIST-2") || !strings.HasPrefix(lines[2], "RUN-LIST-1") ||
		!strings.Contains(lines[2], "PUBLISHED") || !strings.Contains(lines[1], "40/40") {
		t.Errorf("run list:\n%s", stdout)
	}
	_, stdout, _ = runIPRS(context.Background(), env, "run", "list", "--status", "PUBLISHED")
	if strings.Contains(stdout, "RUN-LIST-2") || !strings.Contains(stdout, "RUN-LIST-1") {
		t.Errorf("run list --status PUBLISHED:\n%s", stdout)
	}
	_, stdout, stderr := runIPRS(context.Background(), env, "run", "list", "--limit", "1")
	if strings.Count(stdout, "RUN-LIST") != 1 || !strings.Contains(stderr, "--all") {
		t.Errorf("run list --limit 1:\n%s%s", stdout, stderr)
	}
	_, stdout, _ = runIPRS(context.Background(), env, "run", "list", "--limit", "1", "--all")
	if strings.Count(stdout, "RUN-LIST") != 2 {
		t.Errorf("run list --limit 1 --all:\n%s", stdout)
	}

	code, stdout, stderr := runIPRS(context.Background(), env, "run", "watch", "RUN-LIST-2")
	if code != 0 || strings.Contains(stdout, "\r") || strings.Contains(stdout, "░") ||
		!strings.Contains(stdout, "RUN-LIST-2 COMPLETED  100.0%  40/40 positions  tasks 1/1") {
		t.Errorf("run watch into a file: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// TestGenAndPushShowProgress: a large book shows its progress on standard
// error, as plain lines when that is not a terminal.
func TestGenAndPushShowProgress(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	book := filepath.Join(dir, "book.json")
	code, stdout, stderr := runIPRS(context.Background(), nil, "gen", "--loans", "50000", "--id", "PS-PROGRESS", "-o", book)
	if code != 0 {
		t.Fatalf("gen: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, w := range []string{"generating  10.0%  5,000 positions of 50,000 positions", "generating 100.0%  50,000 positions of 50,000 positions", "wrote 50000 positions"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("gen: stderr does not say %q:\n%s", w, stderr)
		}
	}
	if strings.Contains(stderr, "\r") {
		t.Error("gen draws a bar into a file")
	}

	db := config.Database{Driver: config.DriverSQLite, Path: filepath.Join(t.TempDir(), "iprs.db")}
	d := MustStartDev(t, db, nil)
	code, stdout, stderr = runIPRS(context.Background(), map[string]string{"IPRS_URL": d.URL}, "push", "positions", book)
	if code != 0 || !strings.Contains(stdout, "PS-PROGRESS stored: 50,000 positions") {
		t.Fatalf("push: exit %d\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "uploading "+book+" 100.0%") || !strings.Contains(stderr, "uploaded; waiting for the server") || strings.Contains(stderr, "\r") {
		t.Errorf("push progress:\n%s", stderr)
	}
}

func TestIsTerminal(t *testing.T) {
	t.Parallel()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	file, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	for name, out := range map[string]any{"pipe": w, "/dev/null": null, "file": file, "buffer": &bytes.Buffer{}} {
		if isTerminal(out.(interface{ Write([]byte) (int, error) })) {
			t.Errorf("%s taken for a terminal", name)
		}
	}
}

func TestProgressBarOnATerminal(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	p := newProgress(&b, true, "uploading x", 200, formatBytes)
	p.update(50)
	p.finish()
	out := b.String()
	if !strings.HasPrefix(out, "\ruploading x ") || !strings.Contains(out, strings.Repeat("█", barWidth/4)+strings.Repeat("░", barWidth-barWidth/4)) ||
		!strings.Contains(out, " 25.0%  50 B of 200 B") || !strings.HasSuffix(out, "\n") {
		t.Errorf("bar: %q", out)
	}
}
