// Package worker claims valuation tasks from the store, prices their
// positions under every scenario of the run and writes the results.
//
// A Worker runs Options.Concurrency goroutines. Each loops: claim a task
// (store.TaskClaim), process it, and record the outcome; when there is
// nothing to claim it sleeps Options.PollInterval (with jitter). Processing
// a task loads the run's pricing setup (market snapshot, scenario markets,
// measures: built once per run and shared through a small cache), reads
// the task's positions, parses and prices each under every scenario, and
// writes all result rows with store.TaskComplete in one transaction. While
// it works a goroutine renews the lease every Lease/3.
//
// Every call about a claimed task presents the claim the worker got
// (Task.Ref: the task id and its claim token), never the worker's name or
// clock: the store judges leases by its own clock, and refuses a claim
// that is no longer the task's current one.
//
// Outcomes:
//   - success: TaskComplete; the store settles the run when it was the
//     last open task.
//   - the claim is lost (renewal or completion answers Conflict: the lease
//     expired and the task was claimed again, or the run was cancelled):
//     the task is abandoned at once and nothing is written.
//   - a position that cannot be parsed or priced, a run whose market or
//     measures cannot be used, or a panic: a permanent failure, TaskFail
//     with Permanent set and "position <id>: <reason>" (the task is DEAD
//     at once and its run ends FAILED).
//   - anything else (database errors, the task timeout): a transient
//     failure, TaskFail with RetryAfter = Backoff(n) for the task's n-th
//     failure; the store makes the task DEAD at its run's max attempts.
//   - shutdown: when Run's context is cancelled the worker stops claiming
//     and gives each task in flight Options.Grace to finish; a task still
//     running then is given back with TaskRelease (its attempt not
//     counted), so another worker takes it over.
//
// A worker that dies without releasing (a crash, SIGKILL) leaves its tasks
// RUNNING until their leases expire; TaskClaim then hands them to another
// worker, and because results are written only with the task's completion
// nothing is duplicated or lost. An expired lease is not a failure of the
// task: it does not count against max attempts (the store bounds expiries
// apart, store.MaxLeaseExpiries).
package worker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/store"
)

// Defaults of Options.
const (
	DefaultLease           = 60 * time.Second
	DefaultPollInterval    = time.Second
	DefaultGrace           = 20 * time.Second
	DefaultTaskTimeout     = 15 * time.Minute
	DefaultEngineCacheSize = 8
	DefaultBackoffBase     = 2 * time.Second
	DefaultBackoffMax      = 5 * time.Minute
)

// storeCallTimeout bounds the store calls made outside a task's own
// context: claims, and the failure or release recorded after a task ended.
const storeCallTimeout = 30 * time.Second

// Options configure a Worker. Zero values take the defaults.
type Options struct {
	// Owner names this worker in the leases it holds (the task's
	// LeaseOwner, for the record: the claim token, not the name, decides
	// what the worker may do with a task); default
	// "<hostname>-<pid>-<random hex>".
	Owner string
	// Concurrency is the number of tasks processed at once; default
	// GOMAXPROCS.
	Concurrency int
	// Lease is how long a claim holds a task; it is renewed every Lease/3.
	// Default 60s.
	Lease time.Duration
	// PollInterval is the pause when there is nothing to claim, with ±50%
	// jitter so that many workers do not poll in step. Default 1s.
	PollInterval time.Duration
	// Grace is how long a task in flight may go on after shutdown begins
	// before it is released; default 20s. Negative releases at once.
	Grace time.Duration
	// TaskTimeout bounds the processing of one task; a task that takes
	// longer fails transiently. Default 15 minutes.
	TaskTimeout time.Duration
	// Backoff returns the delay before a task that failed transiently for
	// the n-th time (1 for its first failure; expired leases do not count)
	// is retried. Default ExponentialBackoff(DefaultBackoffBase,
	// DefaultBackoffMax).
	Backoff func(attempt int) time.Duration
	// EngineVersion names the pricing code of this build; it is stored
	// with every task the worker completes (store.Task.EngineVersion), so
	// that a result can be traced to the code that computed it. "" records
	// nothing.
	EngineVersion string
	// Registry receives the worker's metrics; nil registers nowhere.
	Registry prometheus.Registerer
	// EngineCacheSize is how many runs' pricing setups are kept; default 8.
	EngineCacheSize int
	// Kinds values the tasks of runs that are not valuations: for each
	// run kind (store.KindExplain, store.KindVerify), what builds the
	// TaskValuer of one run of that kind. A task of a kind missing here
	// fails permanently.
	Kinds map[string]ValuerBuilder
	// AggregateAttrs are the attributes the tasks of a valuation aggregate
	// by (as they do by product type) when its request declares none
	// (execution.aggregate_attrs); nil: none.
	AggregateAttrs []string
}

// A TaskValuer values the tasks of one run that is not a valuation (an
// explain, a verify), built once per run and shared by every goroutine of
// the worker. ValueTask returns the task's result rows and partial
// aggregates, which the worker stores with TaskComplete as it does a
// valuation's. An error for which runengine.IsInput is true fails the task
// at once (retrying cannot help); any other is retried.
type TaskValuer interface {
	ValueTask(ctx context.Context, t *store.Task) ([]*store.PositionResult, []store.TaskAggregate, error)
}

// ValuerBuilder builds the TaskValuer of a run of its kind from the store.
// Its errors are treated like ValueTask's.
type ValuerBuilder func(ctx context.Context, st store.Store, run *store.Run) (TaskValuer, error)

// ExponentialBackoff returns a backoff doubling from base with each
// attempt, capped at maxDelay, with "equal jitter": the delay is uniform in
// [d/2, d) for the capped exponential d.
func ExponentialBackoff(base, maxDelay time.Duration) func(attempt int) time.Duration {
	return func(attempt int) time.Duration {
		if attempt < 1 {
			attempt = 1
		}
		d := maxDelay
		if attempt-1 < 62 {
			if f := float64(base) * math.Exp2(float64(attempt-1)); f < float64(maxDelay) {
				d = time.Duration(f)
			}
		}
		if d <= 1 {
			return d
		}
		half := d / 2
		return half + time.Duration(mrand.Int64N(int64(d-half)))
	}
}

// Worker claims and processes tasks. Create it with New and start it with
// Run.
type Worker struct {
	st      store.Store
	logger  *slog.Logger
	opts    Options
	engines *engineCache
	metrics *metrics
}

// New returns a Worker over st. A nil logger discards.
func New(st store.Store, logger *slog.Logger, opts Options) *Worker {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.Owner == "" {
		opts.Owner = defaultOwner()
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = runtime.GOMAXPROCS(0)
	}
	if opts.Lease <= 0 {
		opts.Lease = DefaultLease
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.Grace == 0 {
		opts.Grace = DefaultGrace
	}
	if opts.TaskTimeout <= 0 {
		opts.TaskTimeout = DefaultTaskTimeout
	}
	if opts.Backoff == nil {
		opts.Backoff = ExponentialBackoff(DefaultBackoffBase, DefaultBackoffMax)
	}
	if opts.EngineCacheSize <= 0 {
		opts.EngineCacheSize = DefaultEngineCacheSize
	}
	w := &Worker{
		st:      st,
		logger:  logger.With(slog.String("owner", opts.Owner)),
		opts:    opts,
		metrics: newMetrics(opts.Registry),
	}
	w.engines = newEngineCache(opts.EngineCacheSize, w.buildSetup)
	return w
}

// Owner returns the lease owner name of the worker.
func (w *Worker) Owner() string { return w.opts.Owner }

func defaultOwner() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "worker"
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// Run processes tasks until ctx is cancelled, then stops claiming, lets the
// tasks in flight finish within the grace period (releasing those that do
// not) and returns nil. It never returns early: store failures are logged
// and retried.
func (w *Worker) Run(ctx context.Context) error {
	w.logger.InfoContext(ctx, "worker started",
		slog.Int("concurrency", w.opts.Concurrency),
		slog.Duration("lease", w.opts.Lease))
	var wg sync.WaitGroup
	for i := 0; i < w.opts.Concurrency; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.loop(ctx)
		}()
	}
	wg.Wait()
	w.logger.Info("worker stopped")
	return nil
}

// loop is one goroutine's claim-process cycle.
func (w *Worker) loop(ctx context.Context) {
	failures := 0
	for ctx.Err() == nil {
		t, err := w.claim(ctx)
		switch {
		case err == nil:
			failures = 0
			w.processTask(ctx, t)
		case errors.Is(err, apperr.ErrNotFound):
			failures = 0
			sleep(ctx, jitter(w.opts.PollInterval))
		default:
			failures++
			w.logger.WarnContext(ctx, "claiming a task failed",
				slog.Int("consecutive_failures", failures), slog.String("error", err.Error()))
			sleep(ctx, max(w.opts.PollInterval, w.opts.Backoff(failures)))
		}
	}
}

// claim asks the store for a task. The call is not cut short by shutdown,
// so that a claim the database made is always seen (and then finished or
// released) by this worker.
func (w *Worker) claim(ctx context.Context) (*store.Task, error) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeCallTimeout)
	defer cancel()
	t, err := w.st.TaskClaim(cctx, store.TaskClaimParams{
		Owner: w.opts.Owner,
		Lease: w.opts.Lease,
	})
	if err != nil {
		return nil, err
	}
	w.metrics.claimed.Inc()
	return t, nil
}

// jitter returns d scaled by a random factor in [0.5, 1.5).
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + time.Duration(mrand.Int64N(int64(d)))
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
