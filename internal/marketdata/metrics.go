package marketdata

import "github.com/prometheus/client_golang/prometheus"

// Outcomes of POST /mkt/snapshots, the values of the outcome label.
const (
	outcomeCreated  = "created"
	outcomeReplayed = "replayed"
	outcomeConflict = "conflict"
	outcomeRejected = "rejected"
)

// serviceMetrics are the service's own series:
//
//	marketdata_snapshots_total{outcome}               created | replayed | conflict | rejected (400)
//	marketdata_snapshots_dq_status_total{dq_status}   stored status of created snapshots
//	marketdata_dq_issues_total{severity,code}         server-found issues of created snapshots
type serviceMetrics struct {
	snapshots *prometheus.CounterVec
	rejected  prometheus.Counter
	dqStatus  *prometheus.CounterVec
	issues    *prometheus.CounterVec
}

func newServiceMetrics(reg prometheus.Registerer) *serviceMetrics {
	m := &serviceMetrics{
		snapshots: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "marketdata_snapshots_total",
			Help: "Market snapshot submissions by outcome: created, replayed (same id and content), conflict (same id, other content), rejected (invalid request).",
		}, []string{"outcome"}),
		dqStatus: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "marketdata_snapshots_dq_status_total",
			Help: "Created market snapshots by stored data-quality status.",
		}, []string{"dq_status"}),
		issues: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "marketdata_dq_issues_total",
			Help: "Data-quality issues the server found in created market snapshots, by severity and code.",
		}, []string{"severity", "code"}),
	}
	// Every outcome and status is exported from the start, at zero.
	for _, o := range []string{outcomeCreated, outcomeReplayed, outcomeConflict, outcomeRejected} {
		m.snapshots.WithLabelValues(o)
	}
	for _, s := range []string{StatusPass, StatusWarn, StatusFail} {
		m.dqStatus.WithLabelValues(s)
	}
	m.rejected = m.snapshots.WithLabelValues(outcomeRejected)
	if reg != nil {
		reg.MustRegister(m.snapshots, m.dqStatus, m.issues)
	}
	return m
}

func (m *serviceMetrics) outcome(o string) { m.snapshots.WithLabelValues(o).Inc() }
