// Package sqliteschema embeds the SQLite schema of IPRS: numbered migration
// files NNN_name.sql, the twins of the PostgreSQL files in sql/.
package sqliteschema

import (
	"embed"

	schema "github.com/iprs/iprs/sql"
)

//go:embed *.sql
var files embed.FS

// Migration is one schema step.
type Migration = schema.Migration

// Migrations returns every migration ordered by version. It fails when a
// file name has no numeric prefix or two files share a version.
func Migrations() ([]Migration, error) { return schema.Load(files) }
