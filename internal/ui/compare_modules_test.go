package ui_test

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/iprs/iprs/internal/ui"
	"github.com/iprs/iprs/internal/ui/uitest"
)

// TestCompareModuleInTheBrowser checks the compare page's helpers against
// hand-worked cases: the measures or scenarios both runs have, in the base
// run's order, and a select's options keeping the value asked for.
func TestCompareModuleInTheBrowser(t *testing.T) {
	b := uitest.MustBrowser(t)
	mux := http.NewServeMux()
	mux.Handle("GET /ui/", ui.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()
	b.Open(srv.URL+"/ui/#/nowhere", "/nowhere")

	got := uitest.Eval[map[string]any](b, `(async () => {
		const c = await import('./js/pages/compare.js');
		return {
			common: c.common(['PV', 'DV01', 'FX_DELTA', 'PV'], ['FX_DELTA', 'PV', 'KR01']),
			commonNone: c.common(undefined, ['PV']),
			kept: c.withValue(['BASE', 'UP'], 'DOWN'),
			listed: c.withValue(['BASE', 'UP'], 'UP'),
			empty: c.withValue(['BASE'], ''),
		};
	})()`)
	want := map[string]any{
		"common":     []any{"PV", "FX_DELTA"},
		"commonNone": []any{},
		"kept":       []any{"BASE", "UP", "DOWN"},
		"listed":     []any{"BASE", "UP"},
		"empty":      []any{"BASE"},
	}
	for k, w := range want {
		if !reflect.DeepEqual(got[k], w) {
			t.Errorf("%s = %#v, want %#v", k, got[k], w)
		}
	}
}
