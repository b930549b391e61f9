// Package queuemetric publishes the depth of the task queue as CloudWatch
// metrics, so that a deployment can scale its workers on it: every
// interval it reads the queue (store.TaskQueueDepth) and writes one
// Embedded Metric Format line (package emf) to its logger, which the ECS
// awslogs driver turns into metrics in the namespace given:
//
//	QueueDepth           Count    open tasks, QUEUED + RUNNING
//	TasksQueued          Count    QUEUED tasks (those waiting out a retry delay included)
//	TasksRunning         Count    RUNNING tasks
//	OldestQueuedTaskAge  Seconds  how long the longest-waiting claimable task has waited
//
// with one dimension, Service, naming the service that publishes them
// (the orchestrator: the queue is in the database, so the figures do not
// depend on how many workers run, none included). Several orchestrator
// tasks publish the same figures; a Maximum or Average over them is the
// queue.
//
// terraform/ (autoscaling.tf) scales the worker service on these names; a
// test in internal/deploy checks that the two agree.
package queuemetric

import (
	"context"
	"log/slog"
	"time"

	"github.com/iprs/iprs/internal/emf"
	"github.com/iprs/iprs/internal/store"
)

// Metric and dimension names.
const (
	QueueDepth          = "QueueDepth"
	TasksQueued         = "TasksQueued"
	TasksRunning        = "TasksRunning"
	OldestQueuedTaskAge = "OldestQueuedTaskAge"
	DimensionService    = "Service"
)

// DefaultInterval is how often the queue is published: CloudWatch's
// standard resolution, the period the scaling alarms evaluate.
const DefaultInterval = time.Minute

// Source reads the queue; store.Store is one.
type Source interface {
	TaskQueueDepth(ctx context.Context) (*store.QueueDepth, error)
}

// Options configure Run.
type Options struct {
	// Namespace is the CloudWatch namespace of the metrics (required).
	Namespace string
	// Service is the value of the Service dimension.
	Service string
	// Interval between two lines; 0 means DefaultInterval.
	Interval time.Duration
	// Metrics receives the EMF lines; its handler must write JSON (one
	// object per line), as CloudWatch Logs reads them.
	Metrics *slog.Logger
	// Logger receives the errors of reading the queue; nil discards them.
	Logger *slog.Logger
}

// Record is the EMF record of a reading of the queue.
func Record(q *store.QueueDepth, namespace, service string) emf.Record {
	return emf.Record{
		Namespace:  namespace,
		Dimensions: []emf.Dimension{{Name: DimensionService, Value: service}},
		Metrics: []emf.Metric{
			{Name: QueueDepth, Unit: emf.Count, Value: float64(q.Open())},
			{Name: TasksQueued, Unit: emf.Count, Value: float64(q.Queued)},
			{Name: TasksRunning, Unit: emf.Count, Value: float64(q.Running)},
			{Name: OldestQueuedTaskAge, Unit: emf.Seconds, Value: q.OldestWait.Seconds()},
		},
		Time: q.At,
	}
}

// Run publishes the queue at once and then every interval until ctx ends,
// when it returns nil. A reading that fails (the database is unreachable)
// publishes nothing, so that an alarm sees missing data rather than an
// empty queue, and is logged once until a reading succeeds again.
func Run(ctx context.Context, src Source, opts Options) error {
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	probe := emf.Record{Namespace: opts.Namespace, Dimensions: []emf.Dimension{{Name: DimensionService, Value: opts.Service}},
		Metrics: []emf.Metric{{Name: QueueDepth}}}
	if err := probe.Validate(); err != nil {
		return err
	}
	tick := time.NewTicker(opts.Interval)
	defer tick.Stop()
	failing := false
	for {
		q, err := src.TaskQueueDepth(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			if !failing {
				opts.Logger.Warn("cannot read the task queue; its metrics are not published until it can", "error", err)
			}
			failing = true
		default:
			if failing {
				opts.Logger.Info("task queue metrics published again")
			}
			failing = false
			if err := emf.Write(ctx, opts.Metrics, Record(q, opts.Namespace, opts.Service)); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
