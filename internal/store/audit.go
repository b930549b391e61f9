package store

import (
	"context"
	"time"
)

// Audit trail (SPEC §5 "Audit"). Every accepted change is recorded as an
// AuditEntry IN THE SAME TRANSACTION as the change, so that a change and
// its record are committed together or not at all.
//
// The mechanism leaves the write methods' signatures alone: the caller
// puts the entry in the context,
//
//	ctx = store.WithAudit(ctx, store.AuditEntry{Principal: "alice", Action: "run.cancel", ObjectID: id, RequestID: reqID})
//	run, err := st.RunCancel(ctx, id, now)
//
// and each write method that commits a change inserts one audit_log row in
// its own transaction when the context carries an entry: Time is the
// store's clock, and an empty ObjectID is filled with the id of the object
// written (a run id or snapshot id the server made). A write that changes
// nothing records nothing: a refused or failed write (its transaction
// rolls back), and an idempotent replay (MarketSnapshotCreate or
// PositionSnapshotWriter.Commit of the same content again, RunCreate of
// the same request again: created = false). The methods that record are:
//
//	MarketSnapshotCreate           when created
//	PositionSnapshotWriter.Commit  when created (the context given to Commit)
//	RunCreate                      when created
//	RunCancel                      when the run was QUEUED or RUNNING (cancelling a
//	                               CANCELLING or CANCELLED run again records nothing)
//	RunPublish, RunDelete          on success
//	WebhookCreate, WebhookDelete   on success
//
// The worker's task methods and the aggregate cache record nothing: they
// carry no principal's decision. A new write method (sets, explains,
// webhooks) records its entry by calling its driver's audit helper in its
// transaction once the change is known to happen (the drivers'
// (*DB).recordAudit(ctx, tx, objectID)), and the conformance suite checks
// it with storetest.CheckAudit.
//
// The audit_log table is append-only: both schemas refuse UPDATE and
// DELETE of its rows (and PostgreSQL TRUNCATE), and deleting a run leaves
// its audit rows.

// AuditEntry is one row of the audit log.
type AuditEntry struct {
	// ID orders entries written at the same Time; set by the store.
	ID int64
	// Principal is the name of the caller (auth.Principal.Name).
	Principal string
	// Action names the change, "run.publish" (see package audit).
	Action string
	// ObjectID is the id of the object changed; empty in WithAudit means
	// "the object this write makes".
	ObjectID string
	// RequestID is the X-Request-ID the change was answered with.
	RequestID string
	// Time is when the change was committed (the store's clock); ignored
	// in WithAudit.
	Time time.Time
}

type auditKey struct{}

// WithAudit returns ctx carrying e: the store's write methods called with
// it record e in the transaction of the change they commit.
func WithAudit(ctx context.Context, e AuditEntry) context.Context {
	return context.WithValue(ctx, auditKey{}, e)
}

// AuditFrom returns the entry WithAudit put in ctx.
func AuditFrom(ctx context.Context) (AuditEntry, bool) {
	e, ok := ctx.Value(auditKey{}).(AuditEntry)
	return e, ok
}

// AuditListParams filters and pages the audit log. Empty filters match
// every entry; each given one must equal the entry's field.
type AuditListParams struct {
	ObjectID  string
	Principal string
	Action    string
	Limit     int
	// AfterTime and AfterID are the cursor: the Time and ID of the last
	// entry of the previous page; a zero AfterTime for the first page.
	AfterTime time.Time
	AfterID   int64
}
