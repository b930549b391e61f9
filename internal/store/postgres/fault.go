package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/iprs/iprs/internal/store"
)

// Classify tells which of this driver's errors mean that the database
// cannot be reached (store.FaultUnreachable), for store.Watch:
//
//   - a failed connection attempt (pgconn.ConnectError: refused, reset,
//     unknown host, TLS or authentication failures at connect time all
//     mean no usable connection);
//   - a network error on an established connection (any net.Error, a
//     connection reset or refused, a broken pipe, an unexpected EOF from
//     a server that went away), or a connection pgx closed after one
//     (pgconn.ErrConnClosed);
//   - the server saying it cannot serve: SQLSTATE class 08 (connection
//     exception), 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03
//     cannot_connect_now (starting up or recovering), 53300
//     too_many_connections;
//   - a deadline of the store's own (Options.QueryTimeout) that expired
//     while no server answer arrived, the caller still waiting: a pool
//     acquire or connect that timed out, or a server that went silent.
//
// A server answer of any other kind (a constraint violation, a statement
// cancelled by the query timeout: SQLSTATE 57014) is not an outage, nor is
// an error after the caller's own context ended (the client went away),
// nor a closed pool (shutdown). PostgreSQL has no busy state of SQLite's
// kind: a lock wait is bounded by the query timeout.
func Classify(ctx context.Context, err error) store.Fault {
	if err == nil || (ctx != nil && ctx.Err() != nil) {
		return store.FaultNone
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"),
			pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03", pe.Code == "53300":
			return store.FaultUnreachable
		}
		return store.FaultNone
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	switch {
	case errors.As(err, &ce), errors.As(err, &ne),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, pgconn.ErrConnClosed):
		return store.FaultUnreachable
	case errors.Is(err, context.DeadlineExceeded):
		return store.FaultUnreachable
	}
	return store.FaultNone
}
