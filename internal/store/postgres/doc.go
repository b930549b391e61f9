// Package postgres implements store.Store on PostgreSQL 15+ with pgx v5 and
// pgxpool. The schema is sql/001_mvp_core.sql (package schema).
//
// # Opening and migrating
//
// Open parses the URL, connects and compares the applied schema version
// (max(version) of schema_migration) with the migrations embedded in the
// binary. An older database is refused with an error telling the operator
// to run `iprs migrate`; Options.Migrate applies the pending migrations at
// Open instead (dev mode). Migrate runs each pending file in its own
// transaction under pg_advisory_xact_lock, so concurrent migrators apply it
// once; the files' own top-level BEGIN;/COMMIT; lines (there for psql) are
// dropped and the body runs through the simple protocol.
//
// # RDS Proxy
//
// Nothing the driver does leaves session state behind, so RDS Proxy can
// multiplex connections between transactions:
//   - Queries run in QueryExecModeCacheDescribe: pgx caches statement
//     descriptions on the client and executes each query as an unnamed
//     statement, never a named server-side prepared statement (those pin).
//     A default_query_exec_mode in the URL overrides the choice.
//   - No SET, no temporary tables, no session advisory locks: locks are
//     transaction-scoped (pg_advisory_xact_lock) and rows are locked with
//     FOR UPDATE.
//   - Timeouts come from contexts: short operations get Options.QueryTimeout
//     (default 30 s) unless the caller's deadline is earlier; expiry sends a
//     cancel request and closes the connection if the server does not stop.
//     Bulk writes and streams are bounded by the caller's context only.
//
// # Errors
//
// pgx.ErrNoRows becomes an *apperr.Error with code NotFound naming the
// missing row (errors.Is(err, apperr.ErrNotFound) holds). Unique clashes on
// idempotent creates are resolved by INSERT … ON CONFLICT DO NOTHING, which
// waits for a concurrent inserter, then re-reading the stored row and
// comparing hashes: equal returns it with created=false, different is a
// Conflict. Transactions run at READ COMMITTED and are not retried: they
// meet no serialization failures, and the row locks are taken in one
// order (see Task queue), so a deadlock (40P01) is a bug, reported as an
// error and logged.
//
// # Bulk paths
//
// Positions and results are written with COPY … FROM STDIN (FORMAT binary);
// the driver encodes the binary stream itself (copy.go), chunk by chunk
// while the server consumes it, since the columns are fixed and pgx's
// generic per-value encoding costs more client CPU than the server's work.
//
// The snapshot writer copies the rows inside its transaction, which also
// holds a transaction advisory lock on the snapshot id: concurrent uploads
// of one id queue, and an upload of an id already stored skips the copy
// and only compares hashes at Commit. It gathers the rows in runs of
// 32,768 and copies each run sorted by (product type, fine bucket, seq)
// on a goroutine of its own while it gathers the next (the last run at
// Commit): a table's rows lie in the order they were copied, so each fine
// bucket's rows of a run share a page or two and a task of a 1,000,000-row
// snapshot reads a few hundred heap pages rather than one page per
// position (with the default shared_buffers each a miss read from the
// kernel: the 1M valuation went from 15.3 to 13.5 s). For a server-made id a second lock
// on the payload hash makes concurrent uploads of the same content store
// it once. The position table's indexes are chosen for load speed: the
// primary key (snapshot, seq) grows at its right end during an upload, the
// unique (snapshot, position id) index is cheap for the usual sorted ids,
// and position_task_fine_idx, (snapshot, product type, position_hash %
// 4096) INCLUDE (hash, seq), has 4,096 insertion points per product type.
//
// TaskPositions reads a task's rows through that fine bucket
// (sql/001_mvp_core.sql): a position of bucket b under hash_mod m
// has position_hash % 4096 ≡ b (mod gcd(m, 4096)), so the task reads only
// those fine buckets, exactly its own rows when m divides 4096 (the
// server's default hash_mod is a power of two up to 256), and tests the
// hash for any other m. Before it, every task scanned its whole product
// type: the 256 tasks of a 1,000,000-loan run read 256 million index
// entries, and a task took about a second instead of 50 ms.
//
// TaskComplete copies the result rows, sorted by primary key so that the
// index inserts of one task are adjacent, in the transaction that locks
// the task row (SELECT … FOR UPDATE), re-checks the lease, marks the task
// SUCCEEDED and settles the run. The run row is locked only to settle,
// after the copy, so the completions of one run's tasks copy in parallel
// (holding it through the copy made them queue: valuing a 1,000,000-loan
// run took 114 s instead of 50 s on two cores). run_result has only its
// primary key; ResultsForPosition walks the run's snapshot ids with a loose
// index scan instead of keeping a second index that every COPY would pay
// for. A ResultScan with Totals (summaries, cubes) selects the scenario,
// the measures and the key without ORDER BY: the run's rows are read as
// they lie, where the primary key order meant sorting every row of the run
// (4 million for a 1,000,000-loan run with four scenarios) or visiting the
// heap at random.
//
// Client JSON (attributes, issues, the run request) is stored as json, not
// jsonb: json keeps the submitted bytes, so reads return exactly what was
// written, and it loads about four times faster. attr:NAME grouping takes
// an identifier NAME, bound as a parameter, and extracts the value with
// the -> operator: strings unquoted, other values as JSON text, "" when
// absent or null.
//
// # Task queue
//
// TaskClaim is one statement: a CTE picks the oldest claimable task (QUEUED
// and available, or RUNNING with an expired lease below the expiry limit,
// of a QUEUED or RUNNING run) FOR UPDATE SKIP LOCKED, an UPDATE … RETURNING
// claims it with the next claim token, and a second data-modifying CTE
// moves its run from QUEUED to RUNNING. Before claiming, expired tasks that
// may not be claimed again are settled (store.TaskAfterLeaseExpiry): DEAD
// at the expiry limit, CANCELLED when their run is being cancelled.
//
// The store's clock is statement_timestamp(): every statement that judges
// or stamps a lease or a state-machine time reads
// coalesce($1, statement_timestamp()), $1 being NULL unless a test set
// Options.Now. statement_timestamp() rather than now() because now() is
// fixed when a transaction begins, and a transaction may wait for locks;
// rather than clock_timestamp() because one statement then stamps one
// time (a claim's started_at and lease expiry are exactly a lease apart).
// Callers pass durations (a lease, a retry delay), never times, so a
// worker with a wrong clock can neither take a lease early nor keep it
// late.
//
// Lock order: task rows before their run's row, always. A path that locks
// several tasks locks them in task id order (RunCancel) or skips those
// locked by others (the claim and the sweep, SKIP LOCKED); a path that
// locks several runs locks them in run id order (the sweep). No path waits
// for a task row while it holds a run row, so claims, completions, failures,
// releases, sweeps and cancels cannot deadlock:
//   - TaskClaim locks its task (SKIP LOCKED), then moves the run from QUEUED
//     to RUNNING in the same statement.
//   - TaskComplete, TaskFail and TaskRelease lock the task row, check the
//     claim, change the task, then lock the run row to settle it.
//   - The sweep of expired tasks locks them (SKIP LOCKED), then their runs.
//   - RunCancel locks the run's open tasks (waiting for a worker that is
//     completing one), then the run row; only then does it read the run's
//     status and cancel.
//
// Settling a run (store.SettleRun) happens under the run row's lock: with
// no QUEUED or RUNNING task left the run becomes CANCELLED (if
// CANCELLING), FAILED (if a task is DEAD) or COMPLETED. Because the run
// row is locked before the open tasks are counted, of two workers
// finishing a run's last two tasks at once the second sees the first's
// committed task and settles the run.
//
// Webhooks: a run that settles or is published then locks the webhook rows
// that subscribe to the event (FOR SHARE, after the run row) and inserts
// their deliveries; WebhookDelete locks its webhook row, then its pending
// deliveries; claims and attempt records lock delivery rows only (claims
// with SKIP LOCKED). No path waits for a run row while holding a webhook
// or delivery lock.
//
// # Times and numbers
//
// Times are timestamptz, truncated to microseconds and converted to UTC on
// the way in and returned in UTC. Measures are double precision sent and
// received in binary, so every float64 (including -0 and subnormals)
// round-trips bit for bit.
package postgres
