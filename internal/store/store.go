// Package store defines what the IPRS services need from the database: the
// rows they read and write and one Store interface with two implementations,
// store/postgres (pgx) and store/sqlite (pure-Go SQLite). Both pass the same
// conformance suite, store/storetest. Services see only this package.
//
// Errors: a missing row is apperr.ErrNotFound (test with errors.Is); a clash
// with stored state (immutable snapshot with other content, run id reused for
// another request, a transition the state machine forbids, a lost lease) is
// an *apperr.Error with code Conflict. Anything else is an internal failure,
// wrapped with context.
//
// Times are stored and returned in UTC with microsecond precision.
//
// # The store's clock
//
// Leases, and the times of the run and task state machine (StartedAt,
// FinishedAt, CompletedAt, a task's AvailableAt after a retry or an
// expiry), are judged and stamped by the store's clock, never by a
// caller's: PostgreSQL's statement_timestamp() (the time each statement
// began, the same for every row it touches), and for SQLite the clock of
// the process that holds the database's single writer (SQLite runs on one
// host, so every process that opens the file reads the same clock). A
// worker whose clock is wrong can therefore neither steal a lease nor
// keep one past its time. Tests replace the clock of a store instance
// with a driver option at open (Options.Now of each driver); nothing
// passes a time per call.
//
// # Claims
//
// TaskClaim gives the task a new claim token, ClaimToken: the number of
// times the task has been claimed, counting this claim, so every claim of
// a task has a token of its own, greater than the tokens of all earlier
// claims (a fencing token). A worker presents its claim (task id and
// token, a ClaimRef) to TaskRenewLease, TaskComplete, TaskFail and
// TaskRelease; a claim that is not the task's current one (the task was
// claimed again since, even by a worker of the same name, or it ended) is
// a Conflict and changes nothing. A counter rather than a random value:
// it is as unique per task, shows how often a task was handed out, orders
// claims, and needs no randomness in the database. LeaseOwner records who
// holds the claim; it decides nothing.
package store

import (
	"context"
	"fmt"
	"time"

	"github.com/iprs/iprs/internal/apperr"
)

// Run statuses. The state machine is in docs/state_machine.md:
// QUEUED → RUNNING → COMPLETED | FAILED; QUEUED/RUNNING → CANCELLING →
// CANCELLED; COMPLETED → PUBLISHED.
const (
	RunQueued     = "QUEUED"
	RunRunning    = "RUNNING"
	RunCompleted  = "COMPLETED"
	RunFailed     = "FAILED"
	RunCancelling = "CANCELLING"
	RunCancelled  = "CANCELLED"
	RunPublished  = "PUBLISHED"
)

// RunDeletable reports whether a run in this status may be deleted
// (SPEC §5 retention): finished (COMPLETED, FAILED, CANCELLED) and not
// published.
func RunDeletable(status string) bool {
	return status == RunCompleted || status == RunFailed || status == RunCancelled
}

// Task statuses.
const (
	TaskQueued    = "QUEUED"
	TaskRunning   = "RUNNING"
	TaskSucceeded = "SUCCEEDED"
	TaskDead      = "DEAD"
	TaskCancelled = "CANCELLED"
)

// Store is the whole persistence API of IPRS. Implementations are safe for
// concurrent use by many goroutines; several processes may share one
// PostgreSQL database.
type Store interface {
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close releases the connections.
	Close() error

	// MarketSnapshotCreate stores an immutable market snapshot. When a
	// snapshot with the same id exists: the same PayloadHash returns the
	// stored one with created=false; another hash is a Conflict. A zero
	// CreatedAt is set from the store's clock.
	MarketSnapshotCreate(ctx context.Context, s *MarketSnapshot) (stored *MarketSnapshot, created bool, err error)
	MarketSnapshotGet(ctx context.Context, id string) (*MarketSnapshot, error)
	// MarketSnapshotList lists newest AsOfTime first (ties by id,
	// descending), without payloads.
	MarketSnapshotList(ctx context.Context, p ListParams) ([]*MarketSnapshot, error)
	// MarketSnapshotDaily returns, for each UTC date from p.From to p.To
	// (both included) on which a snapshot that is not FAIL has its
	// AsOfTime, that date's latest such snapshot (greatest AsOfTime, ties:
	// greatest id), with its payload, oldest date first; at most p.Limit
	// rows (all when p.Limit ≤ 0). The historical scenario builder reads
	// its snapshots with it (SPEC §4.3).
	MarketSnapshotDaily(ctx context.Context, p DailyParams) ([]*MarketSnapshot, error)

	// SetCreate stores an immutable analytic set (a scenario set, a model
	// set) under its kind and id. When one exists: the same PayloadHash
	// returns the stored set with created=false; another hash is a
	// Conflict. Concurrent identical creates store one set. A zero
	// CreatedAt is set from the store's clock.
	SetCreate(ctx context.Context, s *AnalyticSet) (stored *AnalyticSet, created bool, err error)
	// SetGet returns a set with its payload, or ErrNotFound.
	SetGet(ctx context.Context, kind, id string) (*AnalyticSet, error)
	// SetList lists the sets of a kind newest CreatedAt first (ties by id,
	// descending), without payloads.
	SetList(ctx context.Context, kind string, p ListParams) ([]*AnalyticSet, error)

	// PositionSnapshotBegin starts writing a position snapshot. Rows are
	// added in batches while the request streams in; nothing is visible to
	// readers until Commit, and Rollback (or a failed Commit) leaves the
	// database as it was. The writer holds a transaction: always call
	// Commit or Rollback.
	PositionSnapshotBegin(ctx context.Context, id string) (PositionSnapshotWriter, error)
	PositionSnapshotGet(ctx context.Context, id string) (*PositionSnapshot, error)
	// PositionSnapshotLatest returns the node's snapshot with the greatest
	// AsOfTime not after asOf (ties: the latest created), or ErrNotFound.
	PositionSnapshotLatest(ctx context.Context, portfolioNodeID string, asOf time.Time) (*PositionSnapshot, error)
	// PositionList pages through a snapshot's positions in upload order;
	// the cursor is the Seq of the last row of the previous page, -1 for the
	// first page. An unknown snapshot is ErrNotFound.
	PositionList(ctx context.Context, snapshotID string, afterSeq int64, limit int) ([]*Position, error)
	// PositionBuckets counts the positions of the snapshots by product type
	// and bucket = Position.Hash mod hashMod, ordered by product type then
	// bucket. Empty buckets are absent.
	PositionBuckets(ctx context.Context, snapshotIDs []string, hashMod int) ([]BucketCount, error)
	// PositionScan calls fn for every position of the snapshots in snapshot
	// order (by id) then Seq order. It is used for pre-run checks and input
	// hashes.
	PositionScan(ctx context.Context, snapshotIDs []string, fn func(*Position) error) error
	// PositionsByID returns the position with that id of each of the
	// snapshots that holds one, ordered by snapshot id; none is an empty
	// list, not an error.
	PositionsByID(ctx context.Context, snapshotIDs []string, positionID string) ([]*Position, error)

	// PositionAttributeNames returns the distinct top-level attribute
	// names of the snapshots' positions, sorted (bytewise).
	PositionAttributeNames(ctx context.Context, snapshotIDs []string) ([]string, error)

	// RunCreate stores a run, the snapshots it values and its tasks in one
	// transaction. When the run id exists: the same RequestHash returns the
	// stored run with created=false; another hash is a Conflict. Concurrent
	// duplicate submissions create exactly one run. The run starts QUEUED;
	// each task starts QUEUED with no attempts, and its ID and Status are
	// filled in. A run without tasks is COMPLETED at once (StartedAt and
	// CompletedAt = RequestedAt). SubmittedBy is stored as given and never
	// changes: a replay by another principal leaves the first.
	RunCreate(ctx context.Context, r *Run, tasks []*Task) (stored *Run, created bool, err error)
	RunGet(ctx context.Context, id string) (*Run, error)
	// RunList lists newest RequestedAt first (ties by id, descending),
	// optionally by status.
	RunList(ctx context.Context, p RunListParams) ([]*Run, error)
	// RunProgress counts the run's tasks by status (TasksByStatus has an
	// entry, maybe 0, for every task status) and the positions done (the
	// PositionCount of its SUCCEEDED tasks).
	RunProgress(ctx context.Context, id string) (*Progress, error)
	// RunCancel moves a QUEUED or RUNNING run to CANCELLING and its queued
	// tasks to CANCELLED; with no task running the run is CANCELLED at once
	// (CompletedAt = now). A RUNNING task whose lease expired by now is
	// abandoned and CANCELLED too. Cancelling a CANCELLING run only cancels
	// its abandoned tasks (which may end the cancellation); a CANCELLED run
	// is returned unchanged. Any other status is a Conflict. now is the
	// store's clock.
	RunCancel(ctx context.Context, id string) (*Run, error)
	// RunPublish moves a COMPLETED run to PUBLISHED, recording the hash.
	// Any other status is a Conflict.
	RunPublish(ctx context.Context, p RunPublishParams) (*Run, error)
	// RunDelete removes a run that RunDeletable allows (an unpublished,
	// finished run) with its tasks, results and aggregates, in one
	// transaction; another status is a Conflict, an unknown run
	// ErrNotFound. Its snapshots stay.
	RunDelete(ctx context.Context, id string) error
	// RunTasks lists the run's tasks ordered by product type and bucket.
	RunTasks(ctx context.Context, id string) ([]*Task, error)
	// RunEngineVersions lists the distinct EngineVersion of the run's
	// SUCCEEDED tasks, in byte order: the pricing code that made its
	// results. More than one means workers of different builds priced
	// the run. It is empty while no task succeeded; "" stands for tasks
	// completed without a version. An unknown run is ErrNotFound.
	RunEngineVersions(ctx context.Context, id string) ([]string, error)

	// TaskClaim atomically claims one task whose run is QUEUED or RUNNING:
	// a QUEUED task with AvailableAt ≤ now, or a RUNNING task whose lease
	// expired (lease expiry ≤ now), oldest AvailableAt first, then lowest
	// id. It increments Attempts and ClaimToken, sets Status RUNNING, the
	// lease (LeaseOwner, LeaseExpiresAt = now+Lease), StartedAt = now and
	// no FinishedAt, and moves the run from QUEUED to RUNNING (StartedAt =
	// now). now is the store's clock. It returns ErrNotFound when there is
	// nothing to claim.
	//
	// A RUNNING task whose lease expired is re-claimed only when
	// TaskAfterLeaseExpiry allows it; the claim counts the expiry in its
	// LeaseExpiries. Before claiming, the others are settled, so that a
	// crashed worker cannot leave a run open forever: such a task becomes
	// CANCELLED when its run is no longer open, and DEAD (LastError from
	// LeaseExpiredError) at its MaxLeaseExpiries-th expiry; their runs
	// settle as in TaskComplete. Expired leases never count as failures:
	// MaxAttempts bounds only the failures that workers report.
	TaskClaim(ctx context.Context, p TaskClaimParams) (*Task, error)
	// TaskRenewLease sets the lease of the claim's task to expire at now +
	// p.Lease. A Conflict means the claim was lost: it is not the task's
	// current claim, the task is no longer RUNNING, or the run is no longer
	// QUEUED or RUNNING (a cancelled run's worker learns to stop this way).
	// An expired lease that nobody claimed yet is still held. An unknown
	// task is ErrNotFound.
	TaskRenewLease(ctx context.Context, p TaskRenewParams) error
	// TaskPositions calls fn for each position of the task (its run's
	// snapshots, its product type, Hash mod the task's HashMod equal to its
	// bucket), in snapshot order (by id) then Seq order. It reads RunID,
	// ProductType, Bucket and HashMod of t.
	TaskPositions(ctx context.Context, t *Task, fn func(*Position) error) error
	// TaskComplete writes the task's results and marks it SUCCEEDED in one
	// transaction, provided the claim is still the task's current one and
	// the task RUNNING (else Conflict, and nothing is written). It sets
	// FinishedAt = now and EngineVersion, and clears LeaseExpiresAt
	// (LeaseOwner stays, for the record). When it was the run's last open (QUEUED or RUNNING) task,
	// the run settles in the same transaction (SettleRun), with CompletedAt
	// = now. An unknown task is ErrNotFound.
	TaskComplete(ctx context.Context, p TaskCompleteParams) error
	// TaskFail records a failure in LastError and counts it in Failures,
	// with the same claim check as TaskComplete. The task becomes what
	// TaskAfterFailure says: DEAD
	// (FinishedAt = now), QUEUED again with AvailableAt = now + RetryAfter
	// and no lease, or CANCELLED (FinishedAt = now). The run settles as in
	// TaskComplete.
	TaskFail(ctx context.Context, p TaskFailParams) error
	// TaskRelease gives a claimed task back without counting the attempt
	// (used on shutdown), with the same claim check as TaskComplete: QUEUED
	// with Attempts one less and no lease (its AvailableAt unchanged), or
	// CANCELLED (FinishedAt = now, settling the run) when its run is no
	// longer open (TaskAfterRelease).
	TaskRelease(ctx context.Context, c ClaimRef) error
	// TaskQueueDepth reads the task queue of every run at the store's now:
	// how many tasks are QUEUED (a retry's delay included) and RUNNING, and
	// how long the QUEUED task that became available first (AvailableAt ≤
	// now) has waited. A deployment scales its workers on it; it reads only
	// the open tasks (the queue's partial index).
	TaskQueueDepth(ctx context.Context) (*QueueDepth, error)

	// ResultList pages through a run's position results ordered by
	// (snapshot id, position id). The result methods do not check that the
	// run exists: an unknown run has no results.
	ResultList(ctx context.Context, p ResultListParams) ([]*PositionResult, error)
	// ResultsForPosition returns the results of every position of the run
	// with that id (one per snapshot that has it), ordered by snapshot id.
	ResultsForPosition(ctx context.Context, runID, positionID string) ([]*PositionResult, error)
	// ResultScan streams a run's position results in ResultList order to
	// fn. It reads in chunks of a few thousand rows, each read whole in a
	// short query, and reads the next chunk while fn handles the last
	// (ScanAhead): no transaction or connection waits on fn, so fn may be
	// as slow as the client it writes to; results written meanwhile (a run
	// still running) may or may not be seen. The row passed to fn is
	// reused.
	ResultScan(ctx context.Context, p ResultScanParams, fn func(r *PositionResult) error) error
	// ResultValues reads the run's results of the positions named by keys
	// (snapshot id, position id), as ResultScan with ValuesOnly does
	// (RunID, PositionSnapshotID, PositionID and Values), in no particular
	// order; a key without a result is skipped. The row passed to fn is
	// reused. It serves an explain's tasks, which read the stored PVs of a
	// bucket of positions of two runs.
	ResultValues(ctx context.Context, runID string, keys []PositionKey, fn func(r *PositionResult) error) error

	// TaskAggregates calls fn with the partial aggregate payload of every
	// SUCCEEDED task of the run for the grouping keyBy (see
	// TaskCompleteParams.Aggregates), in task id order.
	TaskAggregates(ctx context.Context, runID, keyBy string, fn func(taskID int64, payload []byte) error) error
	// RunAggregateGet returns the cached aggregate of a finished run stored
	// under name, or ErrNotFound.
	RunAggregateGet(ctx context.Context, runID, name string) ([]byte, error)
	// RunAggregatePut caches an aggregate of a finished run under name. The
	// first payload stored under a name stays (the results of a finished
	// run never change, so any later one is the same); an unknown run is
	// ErrNotFound.
	RunAggregatePut(ctx context.Context, runID, name string, payload []byte) error

	// AuditList lists audit entries (see WithAudit) newest Time first,
	// ties by ID descending, filtered by p.
	AuditList(ctx context.Context, p AuditListParams) ([]*AuditEntry, error)

	// WebhookCreate stores a webhook (see webhook.go); a zero CreatedAt is
	// set from the store's clock. An existing id is a Conflict. Audited.
	WebhookCreate(ctx context.Context, w *Webhook) (*Webhook, error)
	// WebhookGet returns a webhook that is not deleted, or ErrNotFound.
	WebhookGet(ctx context.Context, id string) (*Webhook, error)
	// WebhookDelete marks a webhook deleted (it gets no new deliveries)
	// and its PENDING deliveries FAILED. An unknown or deleted webhook is
	// ErrNotFound. Audited.
	WebhookDelete(ctx context.Context, id string) error
	// WebhookDeliveryList lists a webhook's deliveries newest first with
	// their attempts (oldest first); at most limit (all when ≤ 0). An
	// unknown or deleted webhook is ErrNotFound.
	WebhookDeliveryList(ctx context.Context, webhookID string, limit int) ([]*WebhookDelivery, error)
	// WebhookDeliveryClaim claims up to p.Limit PENDING deliveries due by
	// the store's now, oldest due first, whose webhook is not deleted and
	// that have no earlier PENDING delivery of the same webhook and run
	// (a run's events are delivered in order). Each claim counts an
	// attempt and holds the delivery for p.Lease. Concurrent claimers
	// never get the same delivery.
	WebhookDeliveryClaim(ctx context.Context, p WebhookClaimParams) ([]*WebhookDelivery, error)
	// WebhookAttemptRecord logs the attempt of a claimed delivery and
	// moves it as p says, in one transaction.
	WebhookAttemptRecord(ctx context.Context, p WebhookAttemptParams) error
}

// PositionSnapshotWriter writes one position snapshot in a transaction.
type PositionSnapshotWriter interface {
	// Add appends rows; their Seq must continue the previous batch. It
	// must not fail because the id is taken already (a client's retry):
	// Commit decides. The writer may keep the rows (not copies) until
	// Commit or Rollback, so the caller must not change them after Add,
	// and may write them after Add returns (whatever its context); an
	// error of the store (a repeated position id) may then surface from a
	// later Add or from Commit.
	Add(ctx context.Context, rows []*Position) error
	// Commit stores the header and commits. If the id already exists (or,
	// for a server-made id, a snapshot with the same PayloadHash exists),
	// the new rows are rolled back: the same hash returns the stored
	// snapshot with created=false, another is a Conflict. s.ID is the id
	// given to Begin and s.PositionCount the number of rows added.
	Commit(ctx context.Context, s *PositionSnapshot, serverID bool) (stored *PositionSnapshot, created bool, err error)
	// Rollback discards everything; it is safe to call after Commit.
	Rollback(ctx context.Context) error
}

// ListParams pages a list: rows strictly after the cursor position in list
// order.
type ListParams struct {
	Limit int
	// After is the cursor: the sort key (time, id) of the last row of the
	// previous page; a zero AfterTime for the first page.
	AfterTime time.Time
	AfterID   string
}

// MarketSnapshot is a stored market snapshot.
type MarketSnapshot struct {
	ID          string
	AsOfTime    time.Time
	Vendor      string
	UniverseID  string
	Payload     []byte // the canonical JSON of the snapshot as submitted
	PayloadHash string // hex SHA-256 of Payload
	DQStatus    string // PASS | WARN | FAIL
	Issues      []byte // JSON array of data-quality issues
	CreatedAt   time.Time
}

// DailyParams select the dates of MarketSnapshotDaily: the UTC dates of
// From and To, both included (their times of day do not matter).
type DailyParams struct {
	From, To time.Time
	Limit    int
}

// DailyRange returns the half-open time range [start, end) of the UTC dates
// of p, which drivers query.
func (p DailyParams) DailyRange() (start, end time.Time) {
	day := func(t time.Time) time.Time {
		u := t.UTC()
		return time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC)
	}
	return day(p.From), day(p.To).AddDate(0, 0, 1)
}

// Kinds of AnalyticSet.
const (
	SetKindScenario = "scenario_set"
	SetKindModel    = "model_set"
)

// AnalyticSet is a stored immutable analytic document that runs name by
// id: a scenario set or a model set.
type AnalyticSet struct {
	Kind        string // SetKindScenario or SetKindModel
	ID          string
	Description string
	ItemCount   int    // scenarios of a scenario set, rules of a model set
	Payload     []byte // the canonical JSON of the document
	PayloadHash string // hex SHA-256 of Payload
	CreatedAt   time.Time
}

// PositionSnapshot is a stored position snapshot's header.
type PositionSnapshot struct {
	ID              string
	AsOfTime        time.Time
	PortfolioNodeID string
	PayloadHash     string
	PositionCount   int64
	ProductTypes    []string  // sorted, distinct
	CreatedAt       time.Time // zero at Commit: set from the store's clock
	// CheckSummary is a JSON document the orchestrator records at upload
	// for its pre-run check, stored and answered as given; nil when none
	// was recorded (snapshots stored before it existed).
	CheckSummary []byte
}

// Position is one stored position.
type Position struct {
	SnapshotID      string
	PortfolioNodeID string // of the snapshot; filled on reads
	Seq             int64  // 0-based order within the snapshot
	PositionID      string
	InstrumentID    string
	ProductType     string
	Quantity        *float64 // nil when the client gave none (pricing uses 1)
	Attributes      []byte   // JSON object as submitted (canonical form)
	// Hash is a stable non-negative hash of PositionID; the task bucket of a
	// position is Hash mod the run's HashMod.
	Hash int64
}

// BucketCount is the number of positions of one product type in one bucket.
type BucketCount struct {
	ProductType string
	Bucket      int
	Count       int64
}

// Run is a valuation run.
type Run struct {
	ID                  string
	RunType             string
	Status              string
	AsOfTime            time.Time
	MarketSnapshotID    string
	PositionSnapshotIDs []string // sorted
	PortfolioNodeIDs    []string // portfolio_scope.node_ids as requested, may be empty
	ModelSetID          string
	Measures            []string
	Scenarios           []string
	HashMod             int
	MaxAttempts         int
	// RequestHash identifies the normalized request for idempotency.
	RequestHash string
	// Request is the normalized request JSON, kept for the audit trail.
	Request []byte
	// EngineVersion names the pricing code that values the run.
	EngineVersion  string
	PositionsTotal int64
	RequestedAt    time.Time
	StartedAt      *time.Time
	CompletedAt    *time.Time
	Error          string
	PublishedAt    *time.Time
	PublishHash    string
	// SubmittedBy is the principal that created the run ("" for runs
	// stored before principals were recorded).
	SubmittedBy string
	// Kind is what the run computes: KindValuation ("" when creating
	// means it), KindExplain or KindVerify.
	Kind string
}

// Kinds of run. A valuation values positions under scenarios; an explain
// values the P&L waterfall between two valuations; a verify re-prices a
// valuation to check it bit for bit. All three are valued by the same
// task queue and store their per-position output as PositionResult rows;
// only valuations are listed and served as runs.
const (
	KindValuation = "VALUATION"
	KindExplain   = "EXPLAIN"
	KindVerify    = "VERIFY"
)

// KindOf is r's kind, KindValuation when unset.
func KindOf(r *Run) string {
	if r.Kind == "" {
		return KindValuation
	}
	return r.Kind
}

// RunListParams filters and pages the run list.
type RunListParams struct {
	Status string // "" for every status
	Kind   string // "" for KindValuation
	ListParams
}

// Progress summarizes a run's tasks.
type Progress struct {
	TasksTotal     int64
	TasksByStatus  map[string]int64
	PositionsTotal int64
	PositionsDone  int64
}

// RunPublishParams publishes a run.
type RunPublishParams struct {
	RunID       string
	PublishHash string
	PublishedAt time.Time
}

// QueueDepth is the task queue at one instant of the store's clock.
type QueueDepth struct {
	// Queued counts the QUEUED tasks, Running the RUNNING ones (a lease
	// that expired and was not claimed again included).
	Queued, Running int64
	// OldestWait is how long the QUEUED task with the earliest AvailableAt
	// ≤ At has been available: 0 when no task waits.
	OldestWait time.Duration
	// At is the store's now when the queue was read.
	At time.Time
}

// Open is the number of open tasks: QUEUED and RUNNING.
func (q *QueueDepth) Open() int64 { return q.Queued + q.Running }

// Task is one unit of work: the positions of a run with one product type in
// one hash bucket.
type Task struct {
	ID          int64
	RunID       string
	ProductType string
	Bucket      int
	HashMod     int
	Status      string
	// Attempts counts the claims of the task that were not given back
	// with TaskRelease (expired ones included).
	Attempts int
	// MaxAttempts bounds Failures: the failure that reaches it makes the
	// task DEAD.
	MaxAttempts int
	// Failures counts the failures workers reported (TaskFail).
	Failures int
	// LeaseExpiries counts the claims that ended with their lease expired
	// (bounded by MaxLeaseExpiries).
	LeaseExpiries int
	PositionCount int64
	// ClaimToken is the token of the task's latest claim: how many times
	// it was claimed (0: never). See Claims in the package doc.
	ClaimToken     int64
	LeaseOwner     string
	LeaseExpiresAt *time.Time
	AvailableAt    time.Time
	LastError      string
	StartedAt      *time.Time
	FinishedAt     *time.Time
	// EngineVersion names the pricing code that computed the task's
	// results (set by TaskComplete; "" until then).
	EngineVersion string
}

// Ref returns the task's current claim, as TaskClaim returned it.
func (t *Task) Ref() ClaimRef { return ClaimRef{TaskID: t.ID, Token: t.ClaimToken} }

// ClaimRef names one claim of a task: the task and the token its claim
// got.
type ClaimRef struct {
	TaskID int64
	Token  int64
}

// TaskClaimParams claims a task.
type TaskClaimParams struct {
	// Owner names the claimer in LeaseOwner, for the record.
	Owner string
	// Lease is how long the claim holds the task unless renewed.
	Lease time.Duration
}

// TaskRenewParams renews the lease of a claim.
type TaskRenewParams struct {
	ClaimRef
	// Lease is the new lease, counted from the store's now.
	Lease time.Duration
}

// TaskCompleteParams completes a claimed task with its results.
type TaskCompleteParams struct {
	ClaimRef
	// EngineVersion names the pricing code that computed the results
	// (the worker's build), kept on the task for provenance.
	EngineVersion string
	Results       []*PositionResult
	// Aggregates are the task's partial aggregates, at most one per
	// grouping; the results service merges those of every task (exact
	// sums merge), so a run's summary never rescans its results.
	Aggregates []TaskAggregate
}

// TaskAggregate is one partial aggregate of a task: an opaque payload (see
// package agg) for the grouping KeyBy ("" for the whole task,
// "product_type", "portfolio_node_id").
type TaskAggregate struct {
	KeyBy   string
	Payload []byte
}

// AggregatePart is the partial aggregate of one task under one grouping,
// as a driver reads it for TaskAggregates.
type AggregatePart struct {
	TaskID  int64
	Payload []byte
}

// EachAggregatePart calls fn with the parts in order, stopping at its first
// error. The drivers read every part before calling it, so that fn (which
// decodes and merges) holds no connection or transaction.
func EachAggregatePart(parts []AggregatePart, fn func(taskID int64, payload []byte) error) error {
	for _, p := range parts {
		if err := fn(p.TaskID, p.Payload); err != nil {
			return err
		}
	}
	return nil
}

// TaskFailParams records the failure of a claimed task.
type TaskFailParams struct {
	ClaimRef
	Error     string
	Permanent bool
	// RetryAfter is how long after the store's now a task that is queued
	// again becomes available; 0 (or negative) at once.
	RetryAfter time.Duration
}

// PositionResult is one position's results under every scenario of its
// run: the position's identity and Values, the measures of each scenario
// encoded by package resultcodec in the order of Run.Scenarios. One row per
// position (not per scenario) keeps a run's rows, index entries and write
// time proportional to its positions, whatever the number of scenarios.
type PositionResult struct {
	RunID              string
	PositionSnapshotID string
	PositionID         string
	InstrumentID       string
	ProductType        string
	PortfolioNodeID    string
	TaskID             int64
	Values             []byte
	// Attrs holds, for ResultScanParams.Attrs[i], the JSON text of that
	// top-level attribute of the position (a string keeps its quotes), or
	// nil when the position lacks it or it is JSON null.
	Attrs [][]byte
	// Attributes is the position's whole attributes object, when
	// ResultScanParams.AllAttributes asked for it.
	Attributes []byte
}

// PositionKey names one position of a run: its snapshot and its id.
type PositionKey struct {
	SnapshotID string
	PositionID string
}

// ResultListParams pages a run's position results.
type ResultListParams struct {
	RunID string
	Limit int
	// Cursor: the (snapshot id, position id) of the last row of the
	// previous page, empty for the first; with From the row at the cursor
	// is included.
	AfterSnapshotID string
	AfterPositionID string
	From            bool
}

// ResultScanParams selects the results to stream and the position
// attributes to read with them.
type ResultScanParams struct {
	RunID string
	// SnapshotID, when not empty, keeps the results of that position
	// snapshot of the run only, in position id order (a comparison of runs
	// merges one such stream per snapshot).
	SnapshotID string
	// ValuesOnly reads just each row's snapshot id, position id and Values
	// (RunID is set; the other identity fields stay empty), for a scan
	// that needs nothing else, such as a comparison of runs.
	ValuesOnly bool
	// Attrs are top-level attribute names; each must satisfy AttrName.
	Attrs         []string
	AllAttributes bool
}

// RunOfKind reads run id when it is of kind: a run of another kind is
// not found, as if it did not exist, so that each kind's routes see only
// their own runs (an explain is not served as a run, nor a run as an
// explain).
func RunOfKind(ctx context.Context, s Store, id, kind string) (*Run, error) {
	r, err := s.RunGet(ctx, id)
	if err != nil {
		return nil, err
	}
	if KindOf(r) != kind {
		return nil, &apperr.Error{Code: apperr.NotFound, Message: fmt.Sprintf("run %q not found", id)}
	}
	return r, nil
}
