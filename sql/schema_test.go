package schema

import (
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
