package store

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iprs/iprs/internal/apperr"
)

// Fault is what a driver recognizes in one of its errors (see Watch).
type Fault int

const (
	// FaultNone: anything else; the error is left as it is.
	FaultNone Fault = iota
	// FaultUnreachable: the database cannot be reached (a refused or cut
	// connection, a connect or pool-acquire timeout, a server shutting
	// down, a database file that cannot be read or written). An outage.
	FaultUnreachable
	// FaultBusy: the database is there but would not serve the call in
	// time because something else holds it (SQLite's write lock held by
	// another process beyond the busy timeout). Not an outage.
	FaultBusy
)

// Classifier tells the fault of an error a driver returned for a call made
// with ctx; each driver has one (postgres.Classify, sqlite.Classify).
type Classifier func(ctx context.Context, err error) Fault

// Messages of the errors Watch returns: what a client reads in the 503
// problem. They name no driver, host or SQL.
const (
	UnreachableMessage = "the database cannot be reached; retry later"
	BusyMessage        = "the database is busy; retry later"
)

// Watched is a Store whose failures are classified. Make one with Watch.
type Watched struct {
	Store
	classify Classifier
	logger   *slog.Logger
	now      func() time.Time

	down   atomic.Bool // an outage is in progress
	mu     sync.Mutex
	since  time.Time // when the outage began
	failed int64     // calls failed since
}

// Watch returns st with its errors classified by classify: an
// unreachable database (FaultUnreachable) or a busy one (FaultBusy)
// becomes an *apperr.Error of code Unavailable, which the HTTP layer
// answers 503 with Retry-After, with a fixed message (UnreachableMessage,
// BusyMessage) and the driver's error as its cause. An error that already
// carries apperr.Unavailable (a driver's Ping) counts as unreachable.
//
// It logs each outage once, not once per failed call: the first
// unreachable failure after a success logs "database unreachable" at
// error level with its cause; the next call that succeeds (any call: a
// health check's Ping, a request's query) logs "database reachable again"
// at warn level with the outage's duration and the number of calls that
// failed in it. Nothing polls: the pools of both drivers reconnect by
// themselves, and the watcher notices from the calls it sees. A busy
// failure is logged at warn level each time (it is not an outage, and
// names the other holder of the lock as the cause).
//
// The methods of the Store interface are all wrapped here (a test checks
// it); a PositionSnapshotWriter's are too.
func Watch(st Store, classify Classifier, logger *slog.Logger) *Watched {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Watched{Store: st, classify: classify, logger: logger, now: time.Now}
}

// Unwrap returns the store being watched.
func (w *Watched) Unwrap() Store { return w.Store }

// Down reports whether an outage is in progress: the last call ended
// unreachable, and none has succeeded since.
func (w *Watched) Down() bool { return w.down.Load() }

// check classifies the outcome of one call and returns the error to give
// the caller.
func (w *Watched) check(ctx context.Context, err error) error {
	if err == nil {
		if w.down.Load() {
			w.recovered(ctx)
		}
		return nil
	}
	fault := FaultNone
	if w.classify != nil {
		fault = w.classify(ctx, err)
	}
	if fault == FaultNone {
		switch apperr.CodeOf(err) {
		case apperr.Unavailable:
			fault = FaultUnreachable
		case apperr.Internal:
		default:
			// A not-found, a conflict…: the database answered.
			if w.down.Load() {
				w.recovered(ctx)
			}
		}
	}
	switch fault {
	case FaultUnreachable:
		w.unreachable(ctx, err)
		if e, ok := apperr.As(err); ok && e.Code == apperr.Unavailable && e.Message == UnreachableMessage {
			return err // already ours (a nested call)
		}
		return &apperr.Error{Code: apperr.Unavailable, Message: UnreachableMessage, Err: err}
	case FaultBusy:
		w.logger.LogAttrs(ctx, slog.LevelWarn, "database busy", slog.String("error", err.Error()))
		return &apperr.Error{Code: apperr.Unavailable, Message: BusyMessage, Err: err}
	}
	return err
}

func (w *Watched) unreachable(ctx context.Context, err error) {
	w.mu.Lock()
	first := !w.down.Load()
	if first {
		w.since = w.now()
		w.failed = 0
		w.down.Store(true)
	}
	w.failed++
	w.mu.Unlock()
	if first {
		w.logger.LogAttrs(ctx, slog.LevelError, "database unreachable",
			slog.String("error", err.Error()),
			slog.String("effect", "requests that need the database are answered 503 until it is back"))
	}
}

func (w *Watched) recovered(ctx context.Context) {
	w.mu.Lock()
	if !w.down.Load() {
		w.mu.Unlock()
		return
	}
	w.down.Store(false)
	since, failed := w.since, w.failed
	w.mu.Unlock()
	w.logger.LogAttrs(ctx, slog.LevelWarn, "database reachable again",
		slog.Float64("outage_seconds", w.now().Sub(since).Seconds()),
		slog.Int64("failed_calls", failed))
}

// Ping checks that the database answers.
func (w *Watched) Ping(ctx context.Context) error { return w.check(ctx, w.Store.Ping(ctx)) }

// Close releases the connections.
func (w *Watched) Close() error { return w.Store.Close() }

func (w *Watched) MarketSnapshotCreate(ctx context.Context, s *MarketSnapshot) (*MarketSnapshot, bool, error) {
	stored, created, err := w.Store.MarketSnapshotCreate(ctx, s)
	return stored, created, w.check(ctx, err)
}

func (w *Watched) MarketSnapshotGet(ctx context.Context, id string) (*MarketSnapshot, error) {
	s, err := w.Store.MarketSnapshotGet(ctx, id)
	return s, w.check(ctx, err)
}

func (w *Watched) MarketSnapshotList(ctx context.Context, p ListParams) ([]*MarketSnapshot, error) {
	l, err := w.Store.MarketSnapshotList(ctx, p)
	return l, w.check(ctx, err)
}

func (w *Watched) PositionSnapshotBegin(ctx context.Context, id string) (PositionSnapshotWriter, error) {
	pw, err := w.Store.PositionSnapshotBegin(ctx, id)
	if err != nil {
		return nil, w.check(ctx, err)
	}
	w.check(ctx, nil)
	return &watchedWriter{w: w, pw: pw}, nil
}

func (w *Watched) PositionSnapshotGet(ctx context.Context, id string) (*PositionSnapshot, error) {
	s, err := w.Store.PositionSnapshotGet(ctx, id)
	return s, w.check(ctx, err)
}

func (w *Watched) PositionSnapshotLatest(ctx context.Context, portfolioNodeID string, asOf time.Time) (*PositionSnapshot, error) {
	s, err := w.Store.PositionSnapshotLatest(ctx, portfolioNodeID, asOf)
	return s, w.check(ctx, err)
}

func (w *Watched) PositionList(ctx context.Context, snapshotID string, afterSeq int64, limit int) ([]*Position, error) {
	l, err := w.Store.PositionList(ctx, snapshotID, afterSeq, limit)
	return l, w.check(ctx, err)
}

func (w *Watched) PositionsByID(ctx context.Context, snapshotIDs []string, positionID string) ([]*Position, error) {
	l, err := w.Store.PositionsByID(ctx, snapshotIDs, positionID)
	return l, w.check(ctx, err)
}

func (w *Watched) PositionBuckets(ctx context.Context, snapshotIDs []string, hashMod int) ([]BucketCount, error) {
	l, err := w.Store.PositionBuckets(ctx, snapshotIDs, hashMod)
	return l, w.check(ctx, err)
}

func (w *Watched) PositionScan(ctx context.Context, snapshotIDs []string, fn func(*Position) error) error {
	return w.check(ctx, w.Store.PositionScan(ctx, snapshotIDs, fn))
}

func (w *Watched) RunCreate(ctx context.Context, r *Run, tasks []*Task) (*Run, bool, error) {
	stored, created, err := w.Store.RunCreate(ctx, r, tasks)
	return stored, created, w.check(ctx, err)
}

func (w *Watched) RunGet(ctx context.Context, id string) (*Run, error) {
	r, err := w.Store.RunGet(ctx, id)
	return r, w.check(ctx, err)
}

func (w *Watched) RunList(ctx context.Context, p RunListParams) ([]*Run, error) {
	l, err := w.Store.RunList(ctx, p)
	return l, w.check(ctx, err)
}

func (w *Watched) RunProgress(ctx context.Context, id string) (*Progress, error) {
	p, err := w.Store.RunProgress(ctx, id)
	return p, w.check(ctx, err)
}

func (w *Watched) RunCancel(ctx context.Context, id string) (*Run, error) {
	r, err := w.Store.RunCancel(ctx, id)
	return r, w.check(ctx, err)
}

func (w *Watched) RunDelete(ctx context.Context, id string) error {
	return w.check(ctx, w.Store.RunDelete(ctx, id))
}

func (w *Watched) RunEngineVersions(ctx context.Context, id string) ([]string, error) {
	l, err := w.Store.RunEngineVersions(ctx, id)
	return l, w.check(ctx, err)
}

func (w *Watched) PositionAttributeNames(ctx context.Context, snapshotIDs []string) ([]string, error) {
	l, err := w.Store.PositionAttributeNames(ctx, snapshotIDs)
	return l, w.check(ctx, err)
}

func (w *Watched) SetCreate(ctx context.Context, s *AnalyticSet) (*AnalyticSet, bool, error) {
	stored, created, err := w.Store.SetCreate(ctx, s)
	return stored, created, w.check(ctx, err)
}

func (w *Watched) SetGet(ctx context.Context, kind, id string) (*AnalyticSet, error) {
	s, err := w.Store.SetGet(ctx, kind, id)
	return s, w.check(ctx, err)
}

func (w *Watched) SetList(ctx context.Context, kind string, p ListParams) ([]*AnalyticSet, error) {
	l, err := w.Store.SetList(ctx, kind, p)
	return l, w.check(ctx, err)
}

func (w *Watched) AuditList(ctx context.Context, p AuditListParams) ([]*AuditEntry, error) {
	l, err := w.Store.AuditList(ctx, p)
	return l, w.check(ctx, err)
}

func (w *Watched) TaskQueueDepth(ctx context.Context) (*QueueDepth, error) {
	q, err := w.Store.TaskQueueDepth(ctx)
	return q, w.check(ctx, err)
}

func (w *Watched) TaskAggregates(ctx context.Context, runID, keyBy string, fn func(taskID int64, payload []byte) error) error {
	return w.check(ctx, w.Store.TaskAggregates(ctx, runID, keyBy, fn))
}

func (w *Watched) RunAggregateGet(ctx context.Context, runID, name string) ([]byte, error) {
	b, err := w.Store.RunAggregateGet(ctx, runID, name)
	return b, w.check(ctx, err)
}

func (w *Watched) RunAggregatePut(ctx context.Context, runID, name string, payload []byte) error {
	return w.check(ctx, w.Store.RunAggregatePut(ctx, runID, name, payload))
}

func (w *Watched) RunPublish(ctx context.Context, p RunPublishParams) (*Run, error) {
	r, err := w.Store.RunPublish(ctx, p)
	return r, w.check(ctx, err)
}

func (w *Watched) RunTasks(ctx context.Context, id string) ([]*Task, error) {
	l, err := w.Store.RunTasks(ctx, id)
	return l, w.check(ctx, err)
}

func (w *Watched) TaskClaim(ctx context.Context, p TaskClaimParams) (*Task, error) {
	t, err := w.Store.TaskClaim(ctx, p)
	return t, w.check(ctx, err)
}

func (w *Watched) TaskRenewLease(ctx context.Context, p TaskRenewParams) error {
	return w.check(ctx, w.Store.TaskRenewLease(ctx, p))
}

func (w *Watched) TaskPositions(ctx context.Context, t *Task, fn func(*Position) error) error {
	return w.check(ctx, w.Store.TaskPositions(ctx, t, fn))
}

func (w *Watched) TaskComplete(ctx context.Context, p TaskCompleteParams) error {
	return w.check(ctx, w.Store.TaskComplete(ctx, p))
}

func (w *Watched) TaskFail(ctx context.Context, p TaskFailParams) error {
	return w.check(ctx, w.Store.TaskFail(ctx, p))
}

func (w *Watched) TaskRelease(ctx context.Context, c ClaimRef) error {
	return w.check(ctx, w.Store.TaskRelease(ctx, c))
}

func (w *Watched) ResultList(ctx context.Context, p ResultListParams) ([]*PositionResult, error) {
	l, err := w.Store.ResultList(ctx, p)
	return l, w.check(ctx, err)
}

func (w *Watched) ResultsForPosition(ctx context.Context, runID, positionID string) ([]*PositionResult, error) {
	l, err := w.Store.ResultsForPosition(ctx, runID, positionID)
	return l, w.check(ctx, err)
}

func (w *Watched) ResultValues(ctx context.Context, runID string, keys []PositionKey, fn func(r *PositionResult) error) error {
	return w.check(ctx, w.Store.ResultValues(ctx, runID, keys, fn))
}

func (w *Watched) ResultScan(ctx context.Context, p ResultScanParams, fn func(r *PositionResult) error) error {
	return w.check(ctx, w.Store.ResultScan(ctx, p, fn))
}

// watchedWriter classifies a snapshot writer's failures like its store's.
type watchedWriter struct {
	w  *Watched
	pw PositionSnapshotWriter
}

func (ww *watchedWriter) Add(ctx context.Context, rows []*Position) error {
	return ww.w.check(ctx, ww.pw.Add(ctx, rows))
}

func (ww *watchedWriter) Commit(ctx context.Context, s *PositionSnapshot, serverID bool) (*PositionSnapshot, bool, error) {
	stored, created, err := ww.pw.Commit(ctx, s, serverID)
	return stored, created, ww.w.check(ctx, err)
}

func (ww *watchedWriter) Rollback(ctx context.Context) error {
	return ww.w.check(ctx, ww.pw.Rollback(ctx))
}

func (w *Watched) MarketSnapshotDaily(ctx context.Context, p DailyParams) ([]*MarketSnapshot, error) {
	l, err := w.Store.MarketSnapshotDaily(ctx, p)
	return l, w.check(ctx, err)
}

func (w *Watched) WebhookCreate(ctx context.Context, h *Webhook) (*Webhook, error) {
	out, err := w.Store.WebhookCreate(ctx, h)
	return out, w.check(ctx, err)
}

func (w *Watched) WebhookGet(ctx context.Context, id string) (*Webhook, error) {
	out, err := w.Store.WebhookGet(ctx, id)
	return out, w.check(ctx, err)
}

func (w *Watched) WebhookDelete(ctx context.Context, id string) error {
	return w.check(ctx, w.Store.WebhookDelete(ctx, id))
}

func (w *Watched) WebhookDeliveryList(ctx context.Context, webhookID string, limit int) ([]*WebhookDelivery, error) {
	out, err := w.Store.WebhookDeliveryList(ctx, webhookID, limit)
	return out, w.check(ctx, err)
}

func (w *Watched) WebhookDeliveryClaim(ctx context.Context, p WebhookClaimParams) ([]*WebhookDelivery, error) {
	out, err := w.Store.WebhookDeliveryClaim(ctx, p)
	return out, w.check(ctx, err)
}

func (w *Watched) WebhookAttemptRecord(ctx context.Context, p WebhookAttemptParams) error {
	return w.check(ctx, w.Store.WebhookAttemptRecord(ctx, p))
}
