package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/pricing"
	"github.com/iprs/iprs/internal/runengine"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/taskresult"
)

// Causes of a task context's cancellation.
var (
	errShutdown    = errors.New("worker shutting down")
	errLeaseLost   = errors.New("lease lost")
	errTaskTimeout = errors.New("task timed out")
)

// maxErrorLen bounds the failure text stored in a task's last_error.
const maxErrorLen = 4000

// permanentError marks a failure that retrying cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func permanentf(format string, args ...any) error {
	return &permanentError{err: fmt.Errorf(format, args...)}
}

func isPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// runSetup is what pricing the tasks of one run needs. It is immutable and
// shared by every goroutine working on the run.
type runSetup struct {
	runID     string
	engine    *pricing.Engine
	scenarios []string // in the engine's scenario index order
	measures  []pricing.Measure
	// attrs are the attributes the tasks aggregate by besides product
	// type and node: the run's execution.aggregate_attrs, or the worker's
	// Options.AggregateAttrs when the run declares none.
	attrs []string
	// valuer values the tasks of a run that is not a valuation (engine,
	// scenarios and measures are then unset).
	valuer TaskValuer
}

// buildSetup reads a run and its market snapshot and builds the pricing
// engine with every scenario market. What is missing or invalid in stored
// data is permanent; database failures are not.
func (w *Worker) buildSetup(ctx context.Context, runID string) (*runSetup, error) {
	run, err := w.st.RunGet(ctx, runID)
	if err != nil {
		if errors.Is(err, apperr.ErrNotFound) {
			return nil, permanentf("run %s does not exist", runID)
		}
		return nil, fmt.Errorf("get run %s: %w", runID, err)
	}
	if kind := store.KindOf(run); kind != store.KindValuation {
		build, ok := w.opts.Kinds[kind]
		if !ok {
			return nil, permanentf("run %s: this worker cannot value a run of kind %s", runID, kind)
		}
		v, err := build(ctx, w.st, run)
		if runengine.IsInput(err) {
			return nil, permanentf("%w", err)
		}
		if err != nil {
			return nil, fmt.Errorf("run %s (%s): %w", runID, kind, err)
		}
		return &runSetup{runID: runID, valuer: v}, nil
	}
	engine, err := runengine.Build(ctx, w.st, run)
	if runengine.IsInput(err) {
		return nil, permanentf("%w", err)
	}
	if err != nil {
		return nil, err
	}
	measures, err := runengine.Measures(run)
	if err != nil {
		return nil, permanentf("%w", err)
	}
	attrs, err := runengine.TaskAttrs(run, w.opts.AggregateAttrs)
	if err != nil {
		return nil, permanentf("%w", err)
	}
	return &runSetup{runID: runID, engine: engine, scenarios: engine.Scenarios(), measures: measures, attrs: attrs}, nil
}

// processTask runs one claimed task to its end: completed, failed,
// released or abandoned. ctx is the worker's; its cancellation starts the
// grace period.
func (w *Worker) processTask(ctx context.Context, t *store.Task) {
	start := time.Now()
	log := w.logger.With(
		slog.Int64("task_id", t.ID),
		slog.String("run_id", t.RunID),
		slog.String("product_type", t.ProductType),
		slog.Int("bucket", t.Bucket),
		slog.Int("attempt", t.Attempts),
	)
	w.metrics.inFlight.Inc()
	defer w.metrics.inFlight.Dec()

	// The task's context outlives the worker's by the grace period.
	taskCtx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancel(nil)
	stopGrace := context.AfterFunc(ctx, func() {
		if w.opts.Grace < 0 {
			cancel(errShutdown)
			return
		}
		timer := time.AfterFunc(w.opts.Grace, func() { cancel(errShutdown) })
		context.AfterFunc(taskCtx, func() { timer.Stop() })
	})
	defer stopGrace()
	workCtx, cancelTimeout := context.WithTimeoutCause(taskCtx, w.opts.TaskTimeout, errTaskTimeout)
	defer cancelTimeout()

	var completing atomic.Bool
	stopRenewing := w.keepLease(workCtx, t, &completing, cancel, log)
	positions, err := w.execute(workCtx, t, &completing, log)
	stopRenewing()

	outcome := w.settle(ctx, context.Cause(workCtx), t, err, log)
	if outcome == outcomeSucceeded {
		w.metrics.positions.Add(float64(positions))
		log.Info("task succeeded", slog.Int("positions", positions),
			slog.Duration("elapsed", time.Since(start)))
	}
	w.metrics.duration.WithLabelValues(outcome).Observe(time.Since(start).Seconds())
}

// keepLease renews the task's lease every Lease/3 until the returned stop
// is called. When the store answers that the lease is lost it cancels the
// task with errLeaseLost, so that the task is abandoned at once; once the
// results are being written (completing) the completion's own answer
// decides instead, and renewal just ends.
func (w *Worker) keepLease(ctx context.Context, t *store.Task, completing *atomic.Bool, cancel context.CancelCauseFunc, log *slog.Logger) (stop func()) {
	every := max(w.opts.Lease/3, time.Millisecond)
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			err := w.st.TaskRenewLease(ctx, store.TaskRenewParams{ClaimRef: t.Ref(), Lease: w.opts.Lease})
			switch {
			case err == nil:
			case apperr.CodeOf(err) == apperr.Conflict || errors.Is(err, apperr.ErrNotFound):
				if completing.Load() {
					return
				}
				log.Warn("lease lost; abandoning the task", slog.String("error", err.Error()))
				cancel(errLeaseLost)
				return
			case ctx.Err() != nil:
				return
			default:
				// The lease may still be held; the next renewal, or
				// the completion, tells.
				log.Warn("renewing the lease failed", slog.String("error", err.Error()))
			}
		}
	}()
	return func() {
		close(done)
		<-stopped
	}
}

// execute prices the task and completes it, returning the number of
// positions priced. A panic becomes a permanent failure.
func (w *Worker) execute(ctx context.Context, t *store.Task, completing *atomic.Bool, log *slog.Logger) (positions int, err error) {
	defer func() {
		if r := recover(); r != nil {
			log.Error("panic while processing a task",
				slog.String("panic", fmt.Sprint(r)), slog.String("stack", string(debug.Stack())))
			positions, err = 0, permanentf("panic: %v", r)
		}
	}()
	setup, err := w.engines.get(ctx, t.RunID)
	if err != nil {
		return 0, err
	}
	var (
		rows []*store.PositionResult
		aggs []store.TaskAggregate
	)
	if setup.valuer != nil {
		rows, aggs, err = setup.valuer.ValueTask(ctx, t)
		if runengine.IsInput(err) {
			err = &permanentError{err: err}
		}
	} else {
		rows, aggs, err = w.price(ctx, setup, t)
	}
	if err != nil {
		return 0, err
	}
	completing.Store(true)
	err = w.st.TaskComplete(ctx, store.TaskCompleteParams{
		ClaimRef:      t.Ref(),
		EngineVersion: w.opts.EngineVersion,
		Results:       rows,
		Aggregates:    aggs,
	})
	if err != nil {
		return 0, fmt.Errorf("complete task %d: %w", t.ID, err)
	}
	if setup.valuer != nil {
		// A valuer's rows need not be one per position (a verify writes
		// only its mismatches).
		return int(t.PositionCount), nil
	}
	return len(rows), nil
}

// taskPosition is a parsed position with what its result rows repeat.
type taskPosition struct {
	snapshotID   string
	nodeID       string
	positionID   string
	instrumentID string
	productType  string
	attrKeys     []string // group keys of the run's aggregated attributes
	pos          *pricing.Position
}

// price reads and parses the task's positions, then prices each under
// every scenario of the run into one result row per position, and
// aggregates them into the task's partial aggregates (TaskAggregateKeys).
func (w *Worker) price(ctx context.Context, setup *runSetup, t *store.Task) ([]*store.PositionResult, []store.TaskAggregate, error) {
	list := make([]taskPosition, 0, int(max(t.PositionCount, 0)))
	var (
		bad    error
		keyer  = taskresult.NewAttrKeyer(setup.attrs)
		keys   = make([]string, 0, len(setup.attrs)*cap(list))
		nAttrs = len(setup.attrs)
	)
	err := w.st.TaskPositions(ctx, t, func(p *store.Position) error {
		pos, probs := runengine.Position(p)
		if len(probs) > 0 {
			bad = &permanentError{err: positionError(p.PositionID, problemsReason(probs))}
			return bad
		}
		var attrKeys []string
		if nAttrs > 0 {
			var err error
			if keys, err = keyer.AppendKeys(keys, p.Attributes); err != nil {
				bad = &permanentError{err: positionError(p.PositionID, err.Error())}
				return bad
			}
			attrKeys = keys[len(keys)-nAttrs : len(keys) : len(keys)]
		}
		list = append(list, taskPosition{
			snapshotID:   p.SnapshotID,
			nodeID:       p.PortfolioNodeID,
			positionID:   p.PositionID,
			instrumentID: p.InstrumentID,
			productType:  p.ProductType,
			attrKeys:     attrKeys,
			pos:          pos,
		})
		return nil
	})
	if bad != nil {
		return nil, nil, bad
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read positions of task %d: %w", t.ID, err)
	}

	b := taskresult.New(t.RunID, t.ID, setup.scenarios, setup.measures, len(list)).WithAttrs(setup.attrs, 0)
	vals := make([]pricing.Values, len(setup.scenarios))
	for i := range list {
		tp := &list[i]
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, nil, fmt.Errorf("pricing task %d: %w", t.ID, context.Cause(ctx))
			}
		}
		for si := range setup.scenarios {
			if err := setup.engine.Price(tp.pos, si, &vals[si]); err != nil {
				return nil, nil, &permanentError{err: positionError(tp.positionID, priceReason(err))}
			}
		}
		b.Add(taskresult.Position{SnapshotID: tp.snapshotID, PositionID: tp.positionID, InstrumentID: tp.instrumentID,
			ProductType: tp.productType, PortfolioNodeID: tp.nodeID, AttrKeys: tp.attrKeys}, vals)
	}
	rows, aggs := b.Results()
	return rows, aggs, nil
}

// positionError is the failure text of a position: "position <id>: <reason>".
func positionError(id, reason string) error {
	return fmt.Errorf("position %s: %s", id, reason)
}

// problemsReason joins a position's problems: "<pointer>: <detail>; …".
func problemsReason(probs []pricing.Problem) string {
	parts := make([]string, 0, len(probs))
	for _, p := range probs {
		parts = append(parts, problemText(p))
	}
	return strings.Join(parts, "; ")
}

func problemText(p pricing.Problem) string {
	if p.Pointer == "" {
		return p.Detail
	}
	return p.Pointer + ": " + p.Detail
}

// priceReason is the reason of a pricing failure, without the position
// prefix a pricing.Problem would add.
func priceReason(err error) string {
	var p pricing.Problem
	if errors.As(err, &p) {
		return problemText(p)
	}
	return err.Error()
}

// Task outcomes, the label values of the duration histogram.
const (
	outcomeSucceeded = "succeeded"
	outcomeRetry     = "retry"
	outcomeDead      = "dead"
	outcomeReleased  = "released"
	outcomeAbandoned = "abandoned"
	outcomeUnsettled = "unsettled"
)

// settle records how a task ended. cause is why the task's context ended,
// if it did. It returns the outcome.
func (w *Worker) settle(ctx context.Context, cause error, t *store.Task, err error, log *slog.Logger) string {
	if err == nil {
		w.metrics.succeeded.Inc()
		return outcomeSucceeded
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeCallTimeout)
	defer cancel()
	switch {
	case errors.Is(cause, errLeaseLost) || apperr.CodeOf(err) == apperr.Conflict:
		// Another worker owns the task now, or its run was cancelled:
		// nothing of ours may be written. After a cancellation the lease
		// is still ours, and giving the task back lets the store settle
		// the run now instead of when the lease expires; when another
		// worker holds the task the store refuses and nothing changes.
		log.Warn("task abandoned: lease lost", slog.String("error", err.Error()))
		w.metrics.abandoned.Inc()
		if rerr := w.st.TaskRelease(sctx, t.Ref()); rerr == nil {
			log.Info("abandoned task given back")
		} else if apperr.CodeOf(rerr) != apperr.Conflict {
			log.Warn("giving back the abandoned task failed", slog.String("error", rerr.Error()))
		}
		return outcomeAbandoned

	case isPermanent(err):
		msg := truncate(err.Error())
		log.Error("task failed permanently", slog.String("error", msg))
		w.metrics.failed.WithLabelValues("permanent").Inc()
		if ferr := w.st.TaskFail(sctx, store.TaskFailParams{
			ClaimRef: t.Ref(), Error: msg, Permanent: true,
		}); ferr != nil {
			log.Error("recording the task failure failed", slog.String("error", ferr.Error()))
			return outcomeUnsettled
		}
		w.metrics.dead.Inc()
		return outcomeDead

	case errors.Is(cause, errShutdown):
		if rerr := w.st.TaskRelease(sctx, t.Ref()); rerr != nil {
			log.Error("releasing the task failed; its lease will expire", slog.String("error", rerr.Error()))
			return outcomeUnsettled
		}
		log.Info("task released on shutdown")
		w.metrics.released.Inc()
		return outcomeReleased

	default:
		msg := truncate(err.Error())
		// The store counts this failure; expired leases are not failures.
		failure := t.Failures + 1
		retryAfter := w.opts.Backoff(failure)
		last := failure >= t.MaxAttempts
		log.Warn("task failed", slog.String("error", msg), slog.Bool("last_attempt", last),
			slog.Duration("retry_after", retryAfter))
		w.metrics.failed.WithLabelValues("transient").Inc()
		if ferr := w.st.TaskFail(sctx, store.TaskFailParams{
			ClaimRef: t.Ref(), Error: msg, RetryAfter: retryAfter,
		}); ferr != nil {
			log.Error("recording the task failure failed; its lease will expire", slog.String("error", ferr.Error()))
			return outcomeUnsettled
		}
		if last {
			w.metrics.dead.Inc()
			return outcomeDead
		}
		return outcomeRetry
	}
}

// truncate bounds a failure text for last_error.
func truncate(s string) string {
	if len(s) <= maxErrorLen {
		return s
	}
	cut := maxErrorLen
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }
