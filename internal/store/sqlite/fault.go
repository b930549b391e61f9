package sqlite

import (
	"context"
	"errors"

	"github.com/iprs/iprs/internal/store"
)

// SQLite primary result codes Classify reacts to (an extended code keeps
// its primary code in the low byte).
const (
	codeBusy     = 5  // SQLITE_BUSY: the file is locked by another connection
	codeLocked   = 6  // SQLITE_LOCKED: a table is locked within a shared cache
	codeIOErr    = 10 // SQLITE_IOERR: the file cannot be read or written
	codeFull     = 13 // SQLITE_FULL: the disk is full
	codeCantOpen = 14 // SQLITE_CANTOPEN: the file (or its WAL) cannot be opened
	codeNotADB   = 26 // SQLITE_NOTADB: the file was replaced by something else

	codeConstraintUnique = 2067 // SQLITE_CONSTRAINT_UNIQUE: a unique index refused a row
)

// isUniqueViolation reports whether err is a unique index refusing a row.
func isUniqueViolation(err error) bool {
	var c interface{ Code() int }
	return errors.As(err, &c) && c.Code() == codeConstraintUnique
}

// Classify tells which of this driver's errors mean that the database
// cannot be used, for store.Watch.
//
// store.FaultUnreachable (an outage: the database file is there no more in
// any usable sense): SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN and
// SQLITE_NOTADB, with any extended code.
//
// store.FaultBusy: SQLITE_BUSY and SQLITE_LOCKED, "database is locked".
// Within one process the single writer connection means this never
// happens among IPRS's own writes; it happens when another process (an
// `iprs migrate`, a backup, a sqlite3 shell) holds the write lock longer
// than the busy timeout (Options.BusyTimeout, 10 s). That is not an
// outage: the database works, and the holder will let go. It is answered
// 503 with Retry-After all the same, since the request may succeed if
// retried, and logged each time it happens (naming the lock as cause),
// not as the start of an outage.
//
// Anything else (a constraint, SQLITE_CORRUPT, a read-only attempt from
// a query_only reader, which would be a bug) is not a fault, nor is an
// error after the caller's own context ended.
func Classify(ctx context.Context, err error) store.Fault {
	if err == nil || (ctx != nil && ctx.Err() != nil) {
		return store.FaultNone
	}
	var c interface{ Code() int }
	if !errors.As(err, &c) {
		return store.FaultNone
	}
	switch c.Code() & 0xff {
	case codeBusy, codeLocked:
		return store.FaultBusy
	case codeIOErr, codeFull, codeCantOpen, codeNotADB:
		return store.FaultUnreachable
	}
	return store.FaultNone
}
