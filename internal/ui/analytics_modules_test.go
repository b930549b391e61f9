package ui_test

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/iprs/iprs/internal/ui"
	"github.com/iprs/iprs/internal/ui/uitest"
)

// TestAnalyticsModulesInTheBrowser checks the pure parts of the KR01 and
// VaR views against hand-worked cases: the scenario sets a run's request
// names, group labels, the ladder of a summary, and a ladder chart's bars
// (one per tenor in order, negative ones marked, heights proportional to
// the values).
func TestAnalyticsModulesInTheBrowser(t *testing.T) {
	b := uitest.MustBrowser(t)
	mux := http.NewServeMux()
	mux.Handle("GET /ui/", ui.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()
	b.Open(srv.URL+"/ui/#/nowhere", "/nowhere")

	got := uitest.Eval[map[string]any](b, `(async () => {
		const v = await import('./js/pages/var.js');
		const k = await import('./js/views/kr01.js');
		const out = {};
		out.sets = v.scenarioSets({ request: { scenarios: ['BASE', { scenario_set_id: 'S1' }, 'SPREAD_25BP', { scenario_set_id: 'S2' }, { scenario_set_id: 'S1' }] } });
		out.noRequest = v.scenarioSets({ scenarios: ['BASE'] });
		out.labels = [v.groupLabel(null), v.groupLabel(''), v.groupLabel('TX')];
		const summary = { scenarios: { BASE: { measures: { PV: 1, KR01: { 'USD-OIS': { '1Y': 2 } } } }, X: { measures: { PV: 3 } } } };
		out.ladderBase = k.ladderOf(summary, 'BASE');
		out.ladderX = k.ladderOf(summary, 'X');
		out.tenors = k.TENORS;
		// 1Y = 2, 2Y = -1, others absent: two bars; the 2Y bar half the 1Y's height.
		const svg = k.ladderChart({ '1Y': 2, '2Y': -1 }, { width: 420, height: 190 });
		const bars = [...svg.querySelectorAll('rect.bar')];
		out.barKeys = bars.map((r) => r.dataset.key + (r.classList.contains('neg') ? '-' : '+'));
		out.heightRatio = Math.round(Number(bars[1].getAttribute('height')) / Number(bars[0].getAttribute('height')) * 1000) / 1000;
		const vc = v.varChart([{ label: 'A', var: 4, es: 6 }, { label: 'B', var: -1, es: 2 }]);
		out.varBars = [...vc.querySelectorAll('rect.bar')].map((r) => r.dataset.key + ':' + r.dataset.measure + ':' + r.dataset.value + (r.classList.contains('neg') ? '-' : ''));
		return out;
	})()`)
	want := map[string]any{
		"sets":        []any{"S1", "S2"},
		"noRequest":   []any{},
		"labels":      []any{"Whole run", "(none)", "TX"},
		"ladderBase":  map[string]any{"USD-OIS": map[string]any{"1Y": 2.0}},
		"ladderX":     nil,
		"tenors":      []any{"3M", "6M", "1Y", "2Y", "3Y", "5Y", "7Y", "10Y", "15Y", "20Y", "30Y"},
		"barKeys":     []any{"1Y+", "2Y-"},
		"heightRatio": 0.5,
		"varBars":     []any{"A:var:4", "A:es:6", "B:var:-1-", "B:es:2"},
	}
	for k, w := range want {
		if !reflect.DeepEqual(got[k], w) {
			t.Errorf("%s = %#v, want %#v", k, got[k], w)
		}
	}
}
