package main

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/iprs/iprs/internal/store/teststore"
)

// TestBenchLoad runs `iprs bench load` on a platform of its own, on SQLite
// and on PostgreSQL: a small book, a few clients, a short time. Every
// request must succeed, and the report must have a row for each class,
// each cube grouping, each kind of page and all requests (a row with no
// request when the clients drew none of its kind), whose counts add up.
func TestBenchLoad(t *testing.T) {
	t.Parallel()
	dbs := map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "load.db") },
		"postgres": func(t *testing.T) string { return teststore.PostgresURL(t) }, // skips without a database
	}
	for name, db := range dbs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runIPRS(context.Background(), nil, "bench", "load", "--loans", "60",
				"--database", db(t), "--clients", "4", "--duration", "1500ms")
			if code != 0 {
				t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
			}
			rows := loadReportRows(t, stdout)
			want := []string{"summary", "cube", "page", "position", "all",
				"cube product_type", "cube portfolio_node_id", "cube attr:state", "cube attr:loan_program",
				"cube attr:fico (bands)", "cube vintage", "page every scenario", "page one scenario"}
			for _, w := range want {
				r, ok := rows[w]
				if !ok {
					t.Errorf("no row %q in\n%s", w, stdout)
					continue
				}
				if r[1] != 0 {
					t.Errorf("row %q: %d errors", w, r[1])
				}
			}
			classes := rows["summary"][0] + rows["cube"][0] + rows["page"][0] + rows["position"][0]
			cubes := 0
			for name, r := range rows {
				if strings.HasPrefix(name, "cube ") {
					cubes += r[0]
				}
			}
			if all := rows["all"][0]; all == 0 || classes != all || cubes != rows["cube"][0] ||
				rows["page every scenario"][0]+rows["page one scenario"][0] != rows["page"][0] {
				t.Errorf("counts do not add up: all %d, classes %d, cube groupings %d of %d\n%s",
					all, classes, cubes, rows["cube"][0], stdout)
			}
			if !strings.Contains(stdout, "60 positions learnt") {
				t.Errorf("the report does not say what it learnt of the run:\n%s", stdout)
			}
		})
	}
}

// loadReportRows reads the report's table: for each row's name, its
// requests and errors. A row ends with requests, errors, req/s and four
// latencies of two words each ("12.5 ms").
func loadReportRows(t *testing.T, out string) map[string][2]int {
	t.Helper()
	rows := map[string][2]int{}
	for line := range strings.SplitSeq(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 12 || f[len(f)-1] != "ms" {
			continue
		}
		n := len(f) - 11
		req, err1 := strconv.Atoi(f[n])
		errs, err2 := strconv.Atoi(f[n+1])
		if err1 != nil || err2 != nil {
			t.Fatalf("row %q: requests %q, errors %q", line, f[n], f[n+1])
		}
		rows[strings.Join(f[:n], " ")] = [2]int{req, errs}
	}
	return rows
}

// TestBenchLoadFlags: a bad mix or cube is refused before anything starts,
// and --run does not take the flags of a platform of its own.
func TestBenchLoadFlags(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--mix", "summary=10,export=5"}, "--mix"},
		{[]string{"--mix", "summary=0"}, "no class has a positive weight"},
		{[]string{"--cube", "measure=PV"}, "--cube"},
		{[]string{"--run", "R", "--loans", "10"}, "--run loads a run of a running platform"},
	} {
		code, _, stderr := runIPRS(context.Background(), nil, append([]string{"bench", "load"}, c.args...)...)
		if code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("bench load %v: exit %d, stderr %q; want a refusal naming %q", c.args, code, stderr, c.want)
		}
	}
}
