// Package sqliteschema embeds the SQLite schema of IPRS: numbered migration
// files NNN_name.sql, the twins of the PostgreSQL files in sql/.
package sqliteschema

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

//go:embed *.sql
var files embed.FS

// Migration is one schema step.
type Migration struct {
	Version int    // the numeric prefix of the file name
	Name    string // the file name without ".sql", e.g. "001_mvp_core"
	SQL     string
}

// Migrations returns every migration ordered by version. It fails when a
// file name has no numeric prefix or two files share a version.
func Migrations() ([]Migration, error) {
	names, err := fs.Glob(files, "*.sql")
	if err != nil {
		return nil, fmt.Errorf("list sqlite migrations: %w", err)
	}
	out := make([]Migration, 0, len(names))
	seen := make(map[int]string, len(names))
	for _, file := range names {
		name := strings.TrimSuffix(file, ".sql")
		prefix, _, ok := strings.Cut(name, "_")
		if !ok {
			return nil, fmt.Errorf("sqlite migration %q: name is not NNN_name.sql", file)
		}
		version, err := strconv.Atoi(prefix)
		if err != nil || version <= 0 {
			return nil, fmt.Errorf("sqlite migration %q: prefix %q is not a positive number", file, prefix)
		}
		if other, dup := seen[version]; dup {
			return nil, fmt.Errorf("sqlite migrations %q and %q share version %d", other, file, version)
		}
		seen[version] = file
		body, err := files.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("read sqlite migration %q: %w", file, err)
		}
		out = append(out, Migration{Version: version, Name: name, SQL: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}
