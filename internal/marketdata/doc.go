// Package marketdata is the marketdata service of IPRS: it accepts market
// data snapshots (curves and FX spots), judges their data quality, stores
// them immutably and serves them back, under the path prefix /mkt; and it
// stores scenario sets, uploaded or built from the stored snapshots.
//
//	svc := marketdata.New(store, logger, marketdata.Options{Registerer: metrics.Registry()})
//	svc.Register(mux) // a web.Mux with Prefix "/mkt"
//
// # Routes
//
// POST /mkt/snapshots takes
//
//	{snapshot_id, as_of_time, vendor, universe_id,
//	 fx_spots: [{pair, spot, ts?}],
//	 curves: [{curve_id, curve_type, nodes: [{tenor, zero_rate}]}],
//	 quality?: {dq_status, issues?}}
//
// and answers 201 {snapshot_id, payload_hash, dq_status, issues,
// created_at} with a Location header. The same snapshot_id with the same
// content again answers 200 with the stored record and changes nothing;
// with other content it is a 409 problem (snapshots are immutable). A
// created snapshot is recorded in the audit trail (market_snapshot.create,
// with the principal and the request id, in the same transaction; package
// audit); the 200 replay changes nothing and records nothing. POST needs
// the write role, GETs the read role (package auth).
//
// GET /mkt/snapshots/{id} answers the stored document (canonical JSON, see
// below) with payload_hash, dq_status, issues and created_at added; 404
// when there is no such snapshot.
//
// GET /mkt/snapshots?limit=&cursor= answers {"items": [...],
// "next_cursor": ...}: newest as_of_time first, ties by snapshot_id
// descending, each item {snapshot_id, as_of_time, vendor, universe_id,
// payload_hash, dq_status, issues, created_at} without the curves and spots.
// limit defaults to 100 and is at most 1000; next_cursor is null on the
// last page.
//
// # What a request must hold (else 400)
//
// Every problem is reported at once, each with a JSON Pointer into the
// request: unknown members at any depth; a value of the wrong JSON type (a
// string where a number belongs, even "0.04"); a member given twice in one
// object; and these rules:
//   - snapshot_id: required; 1 to 128 bytes, no control characters, no '/'
//     (it is a path segment of GET /mkt/snapshots/{id}), no white space at
//     either end.
//   - as_of_time: required; an RFC 3339 time (any offset; stored in UTC),
//     not before 1900.
//   - vendor, universe_id: required strings (the specification lists them
//     without "?"), which may be empty.
//   - fx_spots: required; an empty list is fine (a USD-only market). Each
//     spot needs pair (non-empty) and spot (a number); ts is optional and
//     RFC 3339 when given.
//   - curves: required; an empty list is accepted. Each curve needs
//     curve_id (non-empty), curve_type (any string; DISCOUNT and SPREAD are
//     the usual ones) and nodes (a list, possibly empty: see EMPTY_CURVE).
//     Each node needs tenor (a string) and zero_rate (a number).
//   - quality: optional; when given, dq_status is required and is PASS,
//     WARN or FAIL, and issues is an optional list of anything.
//
// Values that are well-formed but doubtful are not refused: they are the
// data-quality checks' business, and the snapshot is stored with its
// verdict. A rejected request writes nothing.
//
// # Data quality
//
// The server checks every snapshot; each finding is an Issue {severity,
// code, pointer, detail, source} whose pointer locates the value in the
// request, listed in document order (as_of_time, fx_spots, curves):
//
//	FAIL EMPTY_CURVE        /curves/i/nodes           a curve without nodes
//	FAIL INVALID_TENOR      /curves/i/nodes/j/tenor   not ON, nD, nW, nM or nY with n a positive integer
//	FAIL DUPLICATE_TENOR    /curves/i/nodes/j/tenor   a second node at the same year fraction
//	FAIL DUPLICATE_CURVE    /curves/i/curve_id        a curve id seen before
//	FAIL NON_FINITE_RATE    /curves/i/nodes/j/zero_rate
//	FAIL INVALID_SPOT       /fx_spots/i/spot          a spot that is not finite and positive
//	FAIL DUPLICATE_FX_PAIR  /fx_spots/i/pair          a pair seen before
//	WARN RATE_OUT_OF_RANGE  /curves/i/nodes/j/zero_rate   outside [-5%, 30%] (bounds included)
//	WARN NEGATIVE_SPREAD    /curves/i/nodes/j/zero_rate   below 0 on a spread curve
//	WARN SINGLE_NODE_CURVE  /curves/i/nodes           a curve with one node
//	WARN AS_OF_IN_FUTURE    /as_of_time               more than a day after the server's clock
//
// Tenors are year fractions (ON = 1/365, nD = n/365, nW = n/52, nM = n/12,
// nY = n; pricing.ParseTenor), and duplicates are found by year fraction,
// so 12M and 1Y clash, as do 365D and 1Y, or 24M and 2Y; 7D and 1W do not
// (7/365 ≠ 1/52). The second occurrence is flagged and the detail names
// the first. A spread curve is one whose curve_type is SPREAD or whose id
// ends in -SPREAD. Every curve with a single node is flagged, a flat
// spread curve too (so the compat fixtures, whose spread curves have one
// node, are stored WARN: usable by runs, but visibly flat). A negative spread that is also below -5% gets both warnings.
//
// JSON has no NaN or Infinity, so a non-finite rate or spot can only be a
// literal too large for a double, such as 1e400. Such a literal is not a
// 400: the snapshot is stored with a FAIL issue (NON_FINITE_RATE or
// INVALID_SPOT) and its payload keeps the number as its exact decimal
// value in exponent form (1e400 → 1e+400, see canon.Options), so the
// stored document says what was sent (and payload_hash covers it).
// GET /mkt/snapshots/{id} answers such a number as null, since numbers on
// the wire are always finite (SPEC §1); the detail quotes the
// literal. LoadMarketData refuses such a payload; runs refuse FAIL
// snapshots anyway. A literal too small for a
// double (1e-400) is 0, as IEEE 754 rounding makes it, and is fine.
//
// The stored dq_status is the worse (PASS < WARN < FAIL) of the server's
// verdict and the client's quality.dq_status. The client's own
// quality.issues are kept after the server's, each with source "client",
// pointer /quality/issues/k, the client's value verbatim in "reported",
// severity WARN or FAIL when the client's "severity" says so (INFO
// otherwise), code from the client's "code" (else CLIENT_REPORTED) and
// detail from its "detail" or "message" (or the issue itself when it is a
// string). Client issues do not change the status; the client's dq_status
// does.
//
// # Content hash and idempotency
//
// payload_hash is the hex SHA-256 of the RFC 8785 canonical JSON
// (internal/canon) of the whole document as submitted, quality block
// included: the client's verdict is part of what it sent and decides the
// stored status, so a resubmission that changes only quality is other
// content (409), not a silent no-op. Key order, white space, string
// escapes and number spelling (0.0400 vs 4e-2) do not change the hash. The
// stored payload is that canonical JSON.
//
// # Scenario sets (SPEC §4.3)
//
// POST /mkt/scenario-sets takes {scenario_set_id, description?,
// scenarios: [{scenario_id, shocks: [...]}]} (shocks as pricing.Shock
// documents them) and answers 201 with the stored set: the canonical JSON
// of the request with payload_hash, scenario_count and created_at added,
// and a Location header. The same id with the same content (hash of the
// canonical JSON, as for snapshots) answers 200 with the stored set; other
// content is a 409. Every problem of a refused set is listed at once with
// its pointer, in document order: unknown members at any depth, wrong JSON
// types, a member name twice, a number beyond the range of a double, and
// the rules of pricing.ScenarioSet.Validate. GET /mkt/scenario-sets/{id}
// answers the stored set; GET /mkt/scenario-sets?limit=&cursor= lists
// {scenario_set_id, description, scenario_count, payload_hash, created_at},
// newest created first (ties by id, descending).
//
// POST /mkt/scenario-sets/historical takes {scenario_set_id, from, to,
// horizon_days?, curves?, pairs?}: from and to are UTC dates (YYYY-MM-DD,
// from ≤ to), horizon_days a whole number ≥ 1 (default 1), curves and
// pairs in the shock form (default: everything). It reads the latest
// snapshot that is not FAIL of each UTC date in [from, to] (at most
// MaxHistoricalSnapshots dates), builds the set with
// pricing.HistoricalSet, describes it (range, horizon, first and last
// snapshot ids) and stores it like any other set: 201, or 200 when the same
// id already holds the same content, 409 when it holds other content (say,
// because a snapshot was added to the range since). Missing curves or
// pairs, patterns matching nothing and too few dates are 422 problems.
//
// # Metrics
//
// With Options.Registerer the service exports
// marketdata_snapshots_total{outcome=created|replayed|conflict|rejected},
// marketdata_snapshots_dq_status_total{dq_status} for created snapshots and
// marketdata_dq_issues_total{severity,code} for the server's findings.
package marketdata
