package main

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/iprs/iprs/internal/config"
)

// TestPushTape generates a book as a CSV tape and as its JSON document,
// pushes both, and finds the same payload hash (SPEC §5).
func TestPushTape(t *testing.T) {
	t.Parallel()
	db := config.Database{Driver: config.DriverSQLite, Path: filepath.Join(t.TempDir(), "iprs.db")}
	d := MustStartDev(t, db, nil)
	dir := t.TempDir()
	ctx := context.Background()
	env := map[string]string{"IPRS_URL": d.URL}
	mustRun := func(args ...string) (string, string) {
		t.Helper()
		code, stdout, stderr := runIPRS(ctx, env, args...)
		if code != 0 {
			t.Fatalf("iprs %v: exit %d\nstdout: %s\nstderr: %s", args, code, stdout, stderr)
		}
		return stdout, stderr
	}
	tape, book := filepath.Join(dir, "tape.csv"), filepath.Join(dir, "book.json")
	_, hint := mustRun("gen", "--loans", "200", "--fx-forwards", "7", "--node", "BOOK-T", "--id", "PS-TAPE", "--format", "csv", "-o", tape)
	if !strings.Contains(hint, "iprs push positions "+tape+" --node BOOK-T --as-of 2026-01-23T17:00:00Z --id PS-TAPE") {
		t.Errorf("gen hint: %q", hint)
	}
	mustRun("gen", "--loans", "200", "--fx-forwards", "7", "--node", "BOOK-T", "--id", "PS-BOOK", "-o", book)
	hash := regexp.MustCompile(`hash ([0-9a-f]{64})`)
	outTape, _ := mustRun("push", "positions", tape, "--node", "BOOK-T", "--as-of", "2026-01-23T17:00:00Z", "--id", "PS-TAPE")
	outBook, _ := mustRun("push", "positions", book)
	ht, hb := hash.FindStringSubmatch(outTape), hash.FindStringSubmatch(outBook)
	if !strings.Contains(outTape, "PS-TAPE stored: 207 positions") || ht == nil || hb == nil || ht[1] != hb[1] {
		t.Fatalf("tape: %q\nbook: %q", outTape, outBook)
	}
	// From standard input the format is a flag; a tape needs its members.
	for _, args := range [][]string{
		{"push", "positions", tape},
		{"push", "positions", book, "--node", "X"},
		{"push", "positions", tape, "--format", "xml", "--node", "B", "--as-of", "2026-01-23T17:00:00Z"},
		{"gen", "--bonds", "1", "--format", "csv"},
	} {
		if code, _, stderr := runIPRS(ctx, env, args...); code == 0 || stderr == "" {
			t.Errorf("iprs %v: exit %d, stderr %q", args, code, stderr)
		}
	}
}
