// Package orchestrator is the orchestrator service of IPRS (SPEC §1): it
// takes position snapshots, checks and creates runs, fans them out into
// tasks for the workers, and moves runs through cancel and publish.
//
//	svc := orchestrator.New(st, logger, orchestrator.Options{EngineVersion: version, MaxUploadBytes: cfg.MaxUploadBytes, Registerer: m.Registry()})
//	svc.Register(mux) // a web.Mux with prefix "/orch"
//
// # Routes
//
//	POST /orch/position-snapshots                  201 created | 200 identical | 400 | 408 | 409 | 413 (JSON, or a CSV tape)
//	GET  /orch/position-snapshots/{id}             metadata
//	GET  /orch/position-snapshots/{id}/positions   ?limit=&cursor=, in upload order
//	GET  /orch/position-snapshots/{id}/strats      ?by=&bands=, the loans stratified (SPEC §4.6)
//	POST /orch/runs                                201 created | 200 replay | 400 | 409 | 422
//	GET  /orch/runs                                ?status=&limit=&cursor=, newest first
//	GET  /orch/runs/{id}                           the run with its progress
//	GET  /orch/runs/{id}/tasks                     every task, by product type then bucket
//	POST /orch/runs/{id}/cancel                    202 | 409 from COMPLETED, FAILED or PUBLISHED
//	POST /orch/runs/{id}/publish                   200 | 409 unless COMPLETED
//	DELETE /orch/runs/{id}                          204 | 409 unless COMPLETED, FAILED or CANCELLED (SPEC §5 retention)
//	POST /orch/explains                            201 created | 200 replay | 400 | 404 unknown run | 409 | 422 (SPEC §4.5)
//	GET  /orch/explains                            ?status=&limit=&cursor=, newest first
//	GET  /orch/explains/{id}                       the explain with its progress
//	POST /orch/explains/{id}/cancel                202 | 409 once it ended
//	POST /orch/runs/{id}/verify                    202 the replay started (or still open) | 409 unless COMPLETED or PUBLISHED (SPEC §5 replay)
//	GET  /orch/runs/{id}/verify                    the latest replay: progress, then the verdict | 404 never verified
//	GET  /orch/audit                               ?object_id=&principal=&action=&limit=&cursor=, newest first
//
// An explain is a run of kind EXPLAIN (explains.go, package explainrun):
// its position snapshots are both runs', its tasks the (product type,
// bucket) pairs of their union, its market and as-of time the second
// run's; its request is {explain_id, from_run_id, to_run_id} with the id
// defaulting to EXPLAIN-<from>-<to>. An explain id that names a run of
// another kind is a 409 saying so.
//
// Every route needs the role of its method (GET read, others write), but
// publish, which needs the publish role (see package auth); the mux answers
// 401 and 403 before a handler runs.
//
// Every route reads its query with web.Query: a parameter it does not take
// (each route takes only those listed above; a CSV upload its three), or
// one given twice, is a 400 naming it. The upload route's body bound is
// Options.MaxUploadBytes; the others have the Mux's normal bound. Cancel,
// publish and verify take no members: their body
// may be empty or {}, and any member is refused like an unknown member of
// any other request (400 with its pointer).
//
// # Position snapshot uploads
//
// The body {position_snapshot_id?, as_of_time, portfolio_node_id,
// positions} is read as a stream of JSON tokens, its members in any order
// (numbers kept as their literals, so that 1e400 where a string belongs is
// refused like any other value of the wrong type): each position is decoded
// on its own into a pricing.PositionInput, checked with
// pricing.ParsePosition, hashed and appended as a row to a spool file
// (Options.SpoolDir). The work that depends on one position alone (decoding
// it, ParsePosition, the canonical attributes, the position hash) is done
// on every core, in chunks of 256 positions with at most 2×GOMAXPROCS
// chunks in flight; problems, repeated ids, the hash and the rows are then
// taken in upload order, so the answer is the same as reading one position
// after the other. Memory holds the chunks in flight and the set of
// position ids, so a million positions fit in one request.
//
// The upload is in two phases, so that no store resource ever waits on a
// client. The read phase reads and checks the whole body without touching
// the store: a client that sends slowly or stalls holds a goroutine and a
// spool file, never a transaction, a pooled PostgreSQL connection, the
// snapshot id's advisory lock or SQLite's single writer (which every write
// and task claim of the process needs). The body may take any time while
// it keeps arriving; a body that stalls for Options.BodyIdleTimeout (30 s,
// IPRS_BODY_IDLE_SECONDS) fails with 408 (web.StreamedBody). Any problem
// (a pointer per problem, "/positions/{i}/…", at most Options.MaxProblems
// listed and the rest counted) answers 400 with nothing written: the store
// was never touched. The write phase then looks up the client's
// position_snapshot_id (an identical stored snapshot answers 200 and
// nothing is written; other content 409) and writes the spooled rows in
// batches (Options.BatchSize) inside one PositionSnapshotWriter
// transaction, one batch being written while the next is read from the
// spool; it waits on the disk only. The spool costs a sequential write and
// read of about the canonical positions' size (docs/benchmarks.md has the
// figures for a million loans); it is removed when the request ends.
//
// With Options.WriteWhileReading (on PostgreSQL, where `iprs serve` and
// `iprs dev` set it) the write overlaps the read instead of following it:
// once a first batch of rows is spooled without a problem, the upload
// begins the snapshot writer (under the client's id, or the id the server
// makes) and hands it each batch as the read goes on, while still
// spooling every row. At the end of the body only the last batch and the
// header are left to store. The early write is rolled back, and the rows
// written from the spool after the read as above, whenever it cannot be
// kept: a problem is found (400, nothing stored), the body gives no byte
// for Options.WriteWaitLimit (2 s; a stalled client holds the store that
// long at most, then nothing until its 408), the client's id comes after
// the positions, or the store fails. At most two uploads of a service write
// early at once (a client that keeps sending, however slowly, holds one
// pooled connection); the others write after their read. An upload
// identical to a stored snapshot without an id then writes its rows and
// rolls them back at the end (200); under a stored client id the writer
// discards them as they come.
//
// A repeated position_id is reported at the repeat and names the index of
// the first use. A position object has only position_id, instrument_id,
// product_type, quantity and attributes: any other member is refused (a
// misspelt "quantity" must not value a position at 1); free-form data
// belongs in attributes. portfolio_node_id, position_id and instrument_id
// are at most 1024 bytes, and they and the attributes hold no NUL
// (U+0000): PostgreSQL index keys and text could not store or read them
// back, so every store refuses them alike (400) instead of one failing.
// They, product_type and the attributes must also be Unicode text: bytes
// that are not UTF-8 and unpaired surrogate escapes ("\ud800") are refused
// (400, pointer to the value) rather than stored as U+FFFD.
//
// position_snapshot_id may come anywhere in the body, after the positions
// too: it is needed only in the write phase. Without an id the server
// makes one, "PS-<UTC time to the ms>-<random>", and an upload identical to
// a stored one answers that snapshot (200).
//
// # Loan tapes (CSV)
//
// With Content-Type text/csv (charset utf-8, us-ascii or none; another
// charset is refused) the body is a loan tape, read with encoding/csv
// (RFC 4180 quoting, LF or CRLF, a leading UTF-8 byte-order mark skipped,
// strict quotes: a bare quote is malformed). Every other Content-Type, none
// included, is read as JSON. The readings taken of SPEC §5:
//
//   - The snapshot's members are query parameters: portfolio_node_id and
//     as_of_time (required) and position_snapshot_id (optional), each at
//     most once; any other parameter is a 400 naming it (a JSON upload
//     takes none). Their problems name the parameter.
//   - The first record is the header. position_id and product_type
//     columns are required, instrument_id and quantity optional, in any
//     order; every other column is an attribute named as the column. A
//     column named twice or with an empty name is refused at /header/K
//     (K the 0-based column), and so is a cashflows column: a CSV cell
//     cannot hold a list, so loans come by their terms.
//   - Each further record is a position; N in a pointer "/rows/N/COLUMN"
//     is its 0-based index among the records after the header (blank
//     lines, which encoding/csv skips, are not counted). A record of
//     another width than the header is refused at /rows/N; malformed CSV
//     at /rows/N with its line and column, and reading stops there.
//   - position_id, instrument_id and product_type cells are text as
//     written ("00123" stays "00123"); an empty instrument_id is "", as an
//     absent one in JSON.
//   - An empty quantity is no quantity: the position is valued at 1, and
//     it is stored and hashed as a JSON position without "quantity" is.
//     Another quantity must be written as a finite JSON number.
//   - An attribute cell that is empty is an absent attribute. A cell
//     written as a JSON number (-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?)
//     is that number, read as a double as canon reads JSON ("0.0550" is
//     0.055, "1e3" 1000); beyond the range of a double (1e400) it is
//     refused, as in JSON. Every other cell is text: dates ("2026-02-15"),
//     a zip code with a leading zero ("02134"), "+5", ".5", "1,000",
//     "true", "NaN".
//   - Everything else is the JSON upload's: the same checks (problems point
//     at the cell's column: "/rows/3/next_payment_date"), the same
//     canonical rows and the same payload_hash, computed from the canonical
//     positions, never from the bytes sent. A tape and its JSON twin (the
//     same positions in the same order, the same attribute values, no
//     quantity where the tape's cell is empty) hash alike; the format is not
//     part of the content.
//
// The tape is read on one goroutine; turning a row into canonical
// attributes, ParsePosition and the position hash run on every core as
// for JSON. The row spool, the two phases and the limits are the JSON
// upload's.
//
// Each row stores the position's attributes in canonical form (RFC 8785)
// and Hash = PositionHash(position_id): the first 8 bytes of
// SHA-256(position_id) read big-endian with the top bit cleared, a
// non-negative 63-bit integer. A task bucket is Hash mod hash_mod, so this
// function is fixed for good.
//
// # Snapshot payload hash
//
// payload_hash is the lower-case hex SHA-256 of the RFC 8785 canonical
// JSON of
//
//	{"as_of_time": T, "portfolio_node_id": N, "position_count": n, "positions_sha256": P}
//
// where T is as_of_time in UTC written as Go's time.RFC3339Nano (no
// fractional part when it is zero: "2026-01-23T00:00:00Z"), after truncation
// to microseconds, and P is the hex SHA-256 of the canonical JSON array of
// the positions in upload order, each position being
//
//	{"attributes": A, "instrument_id": I, "position_id": ID, "product_type": PT, "quantity": Q}
//
// with A the canonical attributes, I "" when absent, and "quantity" only
// when the client gave one. These are exactly the rows GET
// …/positions answers, so the hash can be recomputed from the API. The
// position_snapshot_id is not part of the content.
//
// # Runs
//
// A run request is decoded strictly (unknown members, wrong types: 400 with
// pointers) and normalized: measures, scenarios and node ids lose repeats
// but keep their first order, {"scenario_set_id": "X"} becomes "X" when X
// is a built-in scenario id (the first wave's clients send
// {"scenario_set_id": "BASE"}; no stored set may take a built-in id) and
// stays {"scenario_set_id": "X"} for a stored scenario set, the
// as-of time becomes UTC, execution.max_attempts defaults to 3 and
// execution.hash_mod stays null when the server is to choose. RequestHash
// is the hex SHA-256 of the canonical JSON of that normalized request
// (without run_id); a run id names one request: the same request again
// answers the stored run (200), another answers 409, atomically in the
// store. A replay is answered before any check, from the stored run.
//
// Before anything is queued the pre-run check collects every problem into
// one 422: the market snapshot exists, is not FAIL and builds a pricing
// market (pointer /market_snapshot_id); every measure and scenario is known
// (/measures/i, /scenarios/i); the position snapshot exists
// (/position_snapshot_id), or each portfolio_scope node has a snapshot with
// as_of_time at or before the run's (/portfolio_scope/node_ids/i); every
// curve and FX pair the positions need is in the market (one problem per
// missing curve or pair, with the number of positions needing it, at
// /market_snapshot_id); and every position passes pricing.Engine.Check (a
// last payment after the as-of date, a payment not above the first
// interest…), reported at the pointer of the member that brought its
// snapshot in, the detail naming snapshot, position and attribute.
//
// The position checks do not read the positions again when they need not:
// each upload records a check summary with its snapshot
// (store.PositionSnapshot.CheckSummary: the curves and FX pairs its
// positions need and the first run as-of date from which none has a
// problem of its own, pricing.Position.CheckClearFrom, made by this
// EngineVersion). A run whose market has every curve and pair of every
// snapshot and whose as-of date is on or after each clear date passes them
// from the summaries alone; any other run, and a snapshot stored without a
// summary or by another engine version, reads every position and reports
// each problem as above.
//
// Fan-out: hash_mod is the request's, or DefaultHashMod(positions): the
// next power of two at or above ceil(positions/5000), clamped to [1, 256],
// so that a task holds about 5,000 positions. One QUEUED task is made per
// non-empty (product type, Hash mod hash_mod) from store.PositionBuckets,
// and the run, its snapshots and tasks are stored in one transaction.
//
// # Cancel
//
// Cancelling a QUEUED or RUNNING run moves it to CANCELLING and its queued
// tasks to CANCELLED; with no task running it is CANCELLED at once. The
// answer is 202 with the run. Cancelling a CANCELLING or CANCELLED run
// again is 202 with the run unchanged; a COMPLETED, FAILED or PUBLISHED run
// cannot be cancelled (409).
//
// # Publish hash
//
// POST …/publish publishes a COMPLETED run once; publishing a PUBLISHED run
// again is 409 (the answer names the stored hash, which never changes). The
// publish hash is the lower-case hex SHA-256 of these lines, each ending in
// "\n":
//
//  1. iprs-publish-v2
//  2. the canonical JSON of {"engine_version": E, "engine_versions": [V, …]
//     (the distinct builds of the workers that computed the results, in
//     byte order: GET /orch/runs/{id} answers them), "market_snapshot": {"id",
//     "payload_hash"}, "model_set": {"id", "payload_hash"} (only when the
//     run names one), "position_snapshots": [{"id", "payload_hash"}, …]
//     (sorted by id), "request": R, "run_id": RUN, "scenario_sets": [{"id",
//     "payload_hash"}, …] (sorted by id; only when the run has sets)},
//     where R is the run's normalized request (the "request" member of the
//     run answer) in canonical form;
//  3. one line per position and scenario, ordered by position snapshot id,
//     position id, then scenario id (bytewise): the canonical JSON of
//     {"measures": {NAME: value, …}, "position_id", "position_snapshot_id",
//     "scenario_id"} with only the measures present, each number written as
//     RFC 8785 writes a double (the shortest decimal that reads back to the
//     same bits; -0 is written 0), and KR01 as the object of curves and
//     tenors the results API gives, with its keys in canonical order.
//
// An auditor can rebuild it from GET /orch/runs/{id},
// GET /mkt/snapshots/{id}, GET /orch/position-snapshots/{id} and the
// results API.
//
// # Four-eyes publishing
//
// With Options.FourEyes (IPRS_FOUR_EYES=true) a run cannot be published by
// the principal that submitted it: 403 naming the submitter. The submitter
// is the principal whose request created the run (store.Run.SubmittedBy,
// answered as "submitted_by"); the same request again by another principal
// (200, the stored run) does not change it. A run stored before submitters
// were recorded has none, and cannot be shown to be someone else's: it is
// refused too. The check comes before the status check, so a submitter
// learns at once that it may never publish its run.
//
// # Audit trail
//
// Every accepted change is recorded, in the transaction of the change, as
// {principal, action, object_id, request_id, time} (package audit,
// store.WithAudit): position_snapshot.create (object: the snapshot id,
// server-made or not), run.create, run.cancel, run.publish, run.delete
// (object: the run id), and market_snapshot.create in marketdata. A
// refused or failed request records nothing, and so does a change that
// changes nothing: the 200 answer to the same snapshot or run again, and
// cancelling a run that is already CANCELLING or CANCELLED (202, nothing
// moved). GET /orch/audit lists the log newest first ((time, id) cursor),
// each of object_id, principal and action an exact filter; action must be
// one of audit.Actions(), and an unknown query parameter is a 400 naming
// it. Its items are {principal, action, object_id, request_id, time}.
//
// # Metrics
//
// On Options.Registerer: iprs_orchestrator_runs_created_total{run_type},
// iprs_orchestrator_positions_uploaded_total,
// iprs_orchestrator_position_snapshots_total{outcome},
// iprs_orchestrator_prerun_check_failures_total and
// iprs_orchestrator_prerun_check_problems_total.
package orchestrator
