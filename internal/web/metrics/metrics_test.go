package metrics_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/iprs/iprs/internal/web"
	"github.com/iprs/iprs/internal/web/metrics"
)

func scrape(t *testing.T, h http.Handler, path string) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	if rec.Code != 200 {
		t.Fatalf("GET %s: status %d", path, rec.Code)
	}
	b, err := io.ReadAll(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestMetricsLabelledByPattern(t *testing.T) {
	t.Parallel()
	m := metrics.New("marketdata")
	mux := web.NewMux(web.Config{Service: "marketdata", Prefix: "/mkt", Metrics: m})
	mux.HandleFunc("GET /mkt/snapshots/{id}", func(w http.ResponseWriter, r *http.Request) error {
		return web.WriteJSON(w, 200, map[string]string{"id": r.PathValue("id")})
	})
	h := mux.Handler()
	for _, path := range []string{"/mkt/snapshots/A", "/mkt/snapshots/B", "/mkt/snapshots/C", "/mkt/nope"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", path, nil))
	}
	req := httptest.NewRequest("BREW", "/mkt/snapshots/A", nil)
	h.ServeHTTP(httptest.NewRecorder(), req)

	out := scrape(t, h, "/metrics")
	for _, want := range []string{
		`http_requests_total{code="200",method="GET",route="GET /mkt/snapshots/{id}",service="marketdata"} 3`,
		`http_requests_total{code="404",method="GET",route="unmatched",service="marketdata"} 1`,
		`http_requests_total{code="405",method="OTHER",route="unmatched",service="marketdata"} 1`,
		`http_request_duration_seconds_count{code="200",method="GET",route="GET /mkt/snapshots/{id}",service="marketdata"} 3`,
		`http_request_duration_seconds_bucket{code="200",method="GET",route="GET /mkt/snapshots/{id}",service="marketdata",le="+Inf"} 3`,
		"go_goroutines ",
		"process_cpu_seconds_total ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	for _, raw := range []string{"/mkt/snapshots/A", "/mkt/snapshots/B", "/mkt/nope"} {
		if strings.Contains(out, `route="`+raw) {
			t.Errorf("raw path %s became a label value", raw)
		}
	}
	// The prefixed path serves the same registry.
	if !strings.Contains(scrape(t, h, "/mkt/metrics"), "http_requests_total") {
		t.Error("/mkt/metrics lacks http_requests_total")
	}
}

func TestRegistriesAreSeparate(t *testing.T) {
	t.Parallel()
	a, b := metrics.New("orchestrator"), metrics.New("results")
	a.ObserveRequest("GET", "GET /orch/runs", 200, 0)
	extra := prometheus.NewCounter(prometheus.CounterOpts{Name: "iprs_tasks_claimed_total", Help: "Tasks claimed."})
	b.Registry().MustRegister(extra)
	extra.Add(2)

	outA := scrape(t, a.Handler(), "/metrics")
	outB := scrape(t, metrics.Handler(b.Registry()), "/metrics")
	if !strings.Contains(outA, `service="orchestrator"`) || strings.Contains(outA, "iprs_tasks_claimed_total") {
		t.Errorf("registry a holds the wrong series:\n%s", outA)
	}
	if strings.Contains(outB, `service="orchestrator"`) || !strings.Contains(outB, "iprs_tasks_claimed_total 2") {
		t.Errorf("registry b holds the wrong series")
	}
	if prometheus.DefaultRegisterer.Unregister(prometheus.NewCounter(prometheus.CounterOpts{Name: "http_requests_total", Help: "x"})) {
		t.Error("a metric leaked into the global registry")
	}
}
