package orchestrator

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// serviceMetrics are the orchestrator's own series, beside the HTTP
// metrics of internal/web:
//
//	iprs_orchestrator_runs_created_total{run_type}              counter
//	iprs_orchestrator_positions_uploaded_total                  counter
//	iprs_orchestrator_position_snapshots_total{outcome}         counter (created|existing|refused)
//	iprs_orchestrator_prerun_check_failures_total               counter
//	iprs_orchestrator_prerun_check_problems_total               counter
type serviceMetrics struct {
	runsCreated       *prometheus.CounterVec
	positionsUploaded prometheus.Counter
	snapshots         *prometheus.CounterVec
	checkFailures     prometheus.Counter
	checkProblems     prometheus.Counter
}

func newServiceMetrics() *serviceMetrics {
	m := &serviceMetrics{
		runsCreated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iprs_orchestrator_runs_created_total",
			Help: "Runs created, by run type (replays of an existing run are not counted).",
		}, []string{"run_type"}),
		positionsUploaded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iprs_orchestrator_positions_uploaded_total",
			Help: "Positions stored by position snapshot uploads that created a snapshot.",
		}),
		snapshots: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iprs_orchestrator_position_snapshots_total",
			Help: "Position snapshot uploads by outcome: created, existing (an identical snapshot was stored) or refused.",
		}, []string{"outcome"}),
		checkFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iprs_orchestrator_prerun_check_failures_total",
			Help: "Run requests refused by the pre-run check (422).",
		}),
		checkProblems: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iprs_orchestrator_prerun_check_problems_total",
			Help: "Problems found by pre-run checks, listed or not.",
		}),
	}
	for _, t := range runTypes {
		m.runsCreated.WithLabelValues(t)
	}
	for _, o := range []string{"created", "existing", "refused"} {
		m.snapshots.WithLabelValues(o)
	}
	return m
}

func (m *serviceMetrics) register(r prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.runsCreated, m.positionsUploaded, m.snapshots, m.checkFailures, m.checkProblems} {
		if err := r.Register(c); err != nil {
			return fmt.Errorf("register orchestrator metric: %w", err)
		}
	}
	return nil
}
