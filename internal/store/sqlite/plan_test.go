package sqlite

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestResultsForPositionPlan: one position's results are read through the
// primary key with all three of its columns, never by walking the run's
// result rows (run_id alone), which made every single-position request of
// a 100,000-position run read 100,000 rows.
func TestResultsForPositionPlan(t *testing.T) {
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "iprs.db"), Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.reader.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+resultsForPositionQuery, "P-1", "RUN-1")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var steps []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		steps = append(steps, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range steps {
		if strings.Contains(s, "rr ") {
			found = true
			if !strings.Contains(s, "position_id=?") {
				t.Errorf("position_result is read by %q, not by its whole key; plan %q", s, steps)
			}
		}
	}
	if !found {
		t.Errorf("plan %q does not read position_result", steps)
	}
}
