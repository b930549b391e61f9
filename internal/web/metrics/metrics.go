// Package metrics is the Prometheus side of internal/web: one registry per
// service (never the global one) holding the HTTP request metrics and the
// Go and process collectors. *Metrics implements web.Metrics, so a service
// passes it as web.Config.Metrics and gets GET /metrics served from it.
//
// Exposed series:
//
//	http_requests_total{service,method,route,code}            counter
//	http_request_duration_seconds{service,method,route,code}  histogram
//	go_*, process_*                                           runtime collectors
//
// route is the matched ServeMux pattern ("GET /mkt/snapshots/{id}"), or
// "unmatched" when no route matched, so path parameters never become label
// values. method is one of the standard HTTP methods or "OTHER".
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// UnmatchedRoute is the route label of requests no route matched.
const UnmatchedRoute = "unmatched"

// DurationBuckets are the upper bounds, in seconds, of the request
// duration histogram: 5 ms to 2 minutes, since uploads and exports are long.
var DurationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}

// Metrics holds one service's registry and HTTP metrics.
type Metrics struct {
	service  string
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// New returns the metrics of a service, registered on a fresh registry
// together with the Go runtime and process collectors.
func New(service string) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		service: service,
		reg:     reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total",
			Help: "HTTP requests served, by route pattern and status code.",
		}, []string{"service", "method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_request_duration_seconds",
			Help:    "Time to serve an HTTP request, by route pattern and status code.",
			Buckets: DurationBuckets,
		}, []string{"service", "method", "route", "code"}),
	}
	reg.MustRegister(
		m.requests,
		m.duration,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Registry is the service's registry, for registering its own metrics
// (worker task counters, say).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ObserveRequest records one finished request.
func (m *Metrics) ObserveRequest(method, route string, status int, elapsed time.Duration) {
	if route == "" {
		route = UnmatchedRoute
	}
	labels := prometheus.Labels{
		"service": m.service,
		"method":  normalizeMethod(method),
		"route":   route,
		"code":    strconv.Itoa(status),
	}
	m.requests.With(labels).Inc()
	m.duration.With(labels).Observe(elapsed.Seconds())
}

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler { return Handler(m.reg) }

// Handler serves reg in the Prometheus exposition format. Failures to
// gather are answered 500 rather than served partially.
func Handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorHandling: promhttp.HTTPErrorOnError,
		Registry:      reg,
	})
}

// normalizeMethod bounds the method label to the standard methods, so a
// client cannot create series by inventing methods.
func normalizeMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}
