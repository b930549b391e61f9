package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/iprs/iprs/internal/config"
	"github.com/jackc/pgx/v5"
)

// benchDatabase gives `iprs bench` a database of its own, so that it never
// writes into one it did not create: on PostgreSQL a fresh schema in the
// database db names (search_path set to it), on SQLite a file that must
// not exist yet (an existing non-empty file is refused), and without db a
// temporary SQLite file. drop removes what it created.
func benchDatabase(ctx context.Context, db config.Database) (fresh config.Database, drop func() error, err error) {
	switch db.Driver {
	case "":
		dir, err := os.MkdirTemp("", "iprs-bench-")
		if err != nil {
			return db, nil, fmt.Errorf("temporary directory: %w", err)
		}
		return config.Database{Driver: config.DriverSQLite, Path: filepath.Join(dir, "bench.db")},
			func() error { return os.RemoveAll(dir) }, nil
	case config.DriverSQLite:
		if db.Path == ":memory:" {
			return db, func() error { return nil }, nil
		}
		if fi, err := os.Stat(db.Path); err == nil && (fi.Size() > 0 || !fi.Mode().IsRegular()) {
			return db, nil, fmt.Errorf("bench writes a database of its own and %s exists already: give a path that does not exist (it is removed afterwards)", db.Path)
		} else if err != nil && !errors.Is(err, os.ErrNotExist) {
			return db, nil, fmt.Errorf("check %s: %w", db.Path, err)
		}
		return db, func() error {
			var errs []error
			for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
				if err := os.Remove(db.Path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
					errs = append(errs, err)
				}
			}
			return errors.Join(errs...)
		}, nil
	case config.DriverPostgres:
		return benchSchema(ctx, db)
	}
	return db, nil, fmt.Errorf("unsupported database driver %q", db.Driver)
}

// benchSchema creates schema iprs_bench_<time> in the PostgreSQL database
// and returns the database with its search_path set to it.
func benchSchema(ctx context.Context, db config.Database) (config.Database, func() error, error) {
	u, err := url.Parse(db.DSN)
	if err != nil {
		return db, nil, fmt.Errorf("PostgreSQL URL %s: %w", db.Redacted(), err)
	}
	conn, err := pgx.Connect(ctx, db.DSN)
	if err != nil {
		return db, nil, fmt.Errorf("connect to %s: %w", db.Redacted(), err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	name := fmt.Sprintf("iprs_bench_%s_%d", time.Now().UTC().Format("20060102t150405"), os.Getpid())
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{name}.Sanitize()); err != nil {
		return db, nil, fmt.Errorf("create schema %s in %s: %w", name, db.Redacted(), err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	fresh := db
	fresh.DSN = u.String()
	drop := func() error {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		c, err := pgx.Connect(dctx, db.DSN)
		if err != nil {
			return fmt.Errorf("drop schema %s: %w", name, err)
		}
		defer c.Close(dctx)
		if _, err := c.Exec(dctx, "DROP SCHEMA "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			return fmt.Errorf("drop schema %s: %w", name, err)
		}
		return nil
	}
	return fresh, drop, nil
}
