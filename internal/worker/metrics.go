package worker

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// TaskDurationBuckets are the upper bounds, in seconds, of the task
// duration histogram: 10 ms to 15 minutes.
var TaskDurationBuckets = []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900}

// metrics are the worker's Prometheus series:
//
//	iprs_worker_tasks_claimed_total                counter
//	iprs_worker_tasks_succeeded_total              counter
//	iprs_worker_tasks_failed_total{kind}           counter, kind = transient|permanent
//	iprs_worker_tasks_dead_total                   counter (failures that made the task DEAD)
//	iprs_worker_tasks_released_total               counter (given back on shutdown)
//	iprs_worker_tasks_abandoned_total              counter (lease lost)
//	iprs_worker_tasks_in_flight                    gauge
//	iprs_worker_positions_priced_total             counter (positions of succeeded tasks)
//	iprs_worker_task_duration_seconds{outcome}     histogram, outcome = succeeded|retry|dead|released|abandoned|unsettled
type metrics struct {
	claimed   prometheus.Counter
	succeeded prometheus.Counter
	failed    *prometheus.CounterVec
	dead      prometheus.Counter
	released  prometheus.Counter
	abandoned prometheus.Counter
	inFlight  prometheus.Gauge
	positions prometheus.Counter
	duration  *prometheus.HistogramVec
}

// newMetrics creates the series and registers them on reg (when not nil).
// Series already registered by another worker on the same registry are
// shared.
func newMetrics(reg prometheus.Registerer) *metrics {
	counter := func(name, help string) prometheus.Counter {
		return register(reg, prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help}))
	}
	m := &metrics{
		claimed:   counter("iprs_worker_tasks_claimed_total", "Tasks claimed."),
		succeeded: counter("iprs_worker_tasks_succeeded_total", "Tasks completed with their results."),
		failed: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iprs_worker_tasks_failed_total",
			Help: "Task failures, by kind (transient failures are retried until the run's max attempts).",
		}, []string{"kind"})),
		dead:      counter("iprs_worker_tasks_dead_total", "Task failures that left the task DEAD."),
		released:  counter("iprs_worker_tasks_released_total", "Tasks given back unfinished on shutdown."),
		abandoned: counter("iprs_worker_tasks_abandoned_total", "Tasks abandoned because their lease was lost."),
		inFlight: register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "iprs_worker_tasks_in_flight",
			Help: "Tasks being processed.",
		})),
		positions: counter("iprs_worker_positions_priced_total", "Positions priced in completed tasks."),
		duration: register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "iprs_worker_task_duration_seconds",
			Help:    "Time from claim to the end of a task, by outcome.",
			Buckets: TaskDurationBuckets,
		}, []string{"outcome"})),
	}
	for _, kind := range []string{"transient", "permanent"} {
		m.failed.WithLabelValues(kind)
	}
	return m
}

// register registers c on reg, returning the collector already registered
// under the same description when there is one.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if reg == nil {
		return c
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic("worker: registering metrics: " + err.Error())
	}
	return c
}
