package ui_test

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/iprs/iprs/internal/ui"
	"github.com/iprs/iprs/internal/ui/uitest"
)

// TestWaterfallModuleInTheBrowser checks the explain chart's geometry on
// hand-worked items: each step floats from the level the previous one
// reached, the carry cashflows are taken out so that the steps end at
// to_pv, and the value axis keeps zero only when the levels are near it.
func TestWaterfallModuleInTheBrowser(t *testing.T) {
	b := uitest.MustBrowser(t)
	mux := http.NewServeMux()
	mux.Handle("GET /ui/", ui.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()
	b.Open(srv.URL+"/ui/#/nowhere", "/nowhere")

	got := uitest.Eval[map[string]any](b, `(async () => {
		const w = await import('./js/views/waterfall.js');
		const it = { from_pv: 100, carry: 5, rates: -3, spread: 1, fx: 0, amendments: 2, new: 10, matured: -4, carry_cashflows: 1, to_pv: 110, total: 11 };
		const bars = w.waterfallBars(it);
		const near = w.waterfallBars({ from_pv: 10, carry: 0, rates: 0, spread: 0, fx: 0, amendments: 0, new: 20, matured: 0, carry_cashflows: 0, to_pv: 30, total: 20 });
		return {
			keys: bars.map((b) => b.key),
			spans: bars.map((b) => [b.lo, b.hi]),
			whole: bars.map((b) => b.whole),
			far: w.waterfallRange(bars).ticks,
			near: w.waterfallRange(near).ticks,
		};
	})()`)
	want := map[string]any{
		"keys": []any{"from_pv", "carry", "rates", "spread", "fx", "amendments", "new", "matured", "carry_cashflows", "to_pv"},
		// 100 → 105 → 102 → 103 → 103 → 105 → 115 → 111, less the cashflow 1 → 110 = to_pv.
		"spans": []any{[]any{0.0, 100.0}, []any{100.0, 105.0}, []any{105.0, 102.0}, []any{102.0, 103.0}, []any{103.0, 103.0},
			[]any{103.0, 105.0}, []any{105.0, 115.0}, []any{115.0, 111.0}, []any{111.0, 110.0}, []any{0.0, 110.0}},
		"whole": []any{true, false, false, false, false, false, false, false, false, true},
		// Levels 100…115, far from zero: the axis is cut, step 5 (15/5 = 3 → 5).
		"far": []any{100.0, 105.0, 110.0, 115.0},
		// Levels 10…30: zero is nearer than the span, so kept; step 10.
		"near": []any{0.0, 10.0, 20.0, 30.0},
	}
	for k, w := range want {
		if !reflect.DeepEqual(got[k], w) {
			t.Errorf("%s = %#v, want %#v", k, got[k], w)
		}
	}
}
