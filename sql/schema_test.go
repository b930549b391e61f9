package schema

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
	"testing/fstest"
)

func TestMigrationsEmbedded(t *testing.T) {
	ms := Migrations()
	if len(ms) == 0 {
		t.Fatal("no migrations embedded")
	}
	if ms[0].Version != 1 || ms[0].Name != "001_mvp_core" {
		t.Fatalf("first migration = %d %q, want 1 001_mvp_core", ms[0].Version, ms[0].Name)
	}
	for i, m := range ms {
		if i > 0 && m.Version <= ms[i-1].Version {
			t.Errorf("migration %q out of order after %q", m.Name, ms[i-1].Name)
		}
		if !strings.Contains(m.SQL, "schema_migration") {
			t.Errorf("migration %q does not record itself in schema_migration", m.Name)
		}
	}
	if Latest() != ms[len(ms)-1].Version {
		t.Errorf("Latest() = %d, want %d", Latest(), ms[len(ms)-1].Version)
	}
}

func TestLoadOrdersAndRejectsBadNames(t *testing.T) {
	ms, err := Load(fstest.MapFS{
		"010_b.sql": {Data: []byte("b")},
		"002_a.sql": {Data: []byte("a")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].Version != 2 || ms[1].Version != 10 || ms[0].SQL != "a" || ms[1].Name != "010_b" {
		t.Fatalf("load = %+v", ms)
	}
	for _, bad := range []fstest.MapFS{
		{"abc.sql": {}},
		{"x_abc.sql": {}},
		{"000_zero.sql": {}},
		{"001_a.sql": {}, "1_b.sql": {}},
		{},
	} {
		if _, err := Load(bad); err == nil {
			t.Errorf("Load(%v) succeeded, want an error", bad)
		}
	}
}

// fileRevisions pins each migration file's content to its revision: a
// file that changes must raise its "-- revision:" line (and the value its
// last statement records), so that databases migrated by the earlier
// content get the new one (Migrate applies a file again when the recorded
// revision is lower). Update the hash here together with the revision.
var fileRevisions = map[string]struct {
	sha256   string
	revision int
}{
	"001_mvp_core.sql":        {"441bc5c590d66ad50e4dc81106c31624fe90fa4933fbca193ce547a7d72b63df", 7},
	"sqlite/001_mvp_core.sql": {"2cd1187406427543daf482f617ab8e112894b9d16d487ab1d1b83e64565456f6", 7},
}

func TestRevisionFollowsContent(t *testing.T) {
	for name, want := range fileRevisions {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		rev, err := revisionOf(string(b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		sum := sha256.Sum256(b)
		if got := hex.EncodeToString(sum[:]); got != want.sha256 || rev != want.revision {
			t.Errorf("%s: sha256 %s revision %d; the table says %s revision %d. When the file changes, raise its revision (and the value it records) and update this table",
				name, got, rev, want.sha256, want.revision)
		}
	}
	// The PostgreSQL file records its own revision, for psql -f.
	b, err := os.ReadFile("001_mvp_core.sql")
	if err != nil {
		t.Fatal(err)
	}
	rev, _ := revisionOf(string(b))
	if !strings.Contains(string(b), fmt.Sprintf("VALUES (1, '001_mvp_core', %d)", rev)) {
		t.Errorf("001_mvp_core.sql does not record its revision %d in schema_migration", rev)
	}
}
