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

// TestPreviousRunInTheBrowser checks which run the run page offers to
// compare with day over day: the finished run of the same type, nodes and
// model set with the latest earlier as-of time, on hand-built run lists.
func TestPreviousRunInTheBrowser(t *testing.T) {
	b := uitest.MustBrowser(t)
	mux := http.NewServeMux()
	mux.Handle("GET /ui/", ui.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()
	b.Open(srv.URL+"/ui/#/nowhere", "/nowhere")

	got := uitest.Eval[map[string]any](b, `(async () => {
		const c = await import('./js/pages/compare.js');
		const run = (id, asOf, o = {}) => ({ run_id: id, run_type: 'EOD_OFFICIAL', status: 'COMPLETED', as_of_time: asOf,
			requested_at: '2026-02-01T00:00:00Z', portfolio_scope: { node_ids: ['B', 'A'] }, model_set_id: null, ...o });
		const today = run('T', '2026-01-26T17:00:00Z');
		const runs = [
			today,
			run('FRI', '2026-01-23T17:00:00Z'),
			run('THU', '2026-01-22T17:00:00Z'),
			run('FRI-SANDBOX', '2026-01-23T18:00:00Z', { run_type: 'SANDBOX' }),
			run('FRI-OTHER-BOOK', '2026-01-23T18:00:00Z', { portfolio_scope: { node_ids: ['A'] } }),
			run('FRI-MODELLED', '2026-01-23T18:00:00Z', { model_set_id: 'MS' }),
			run('FRI-FAILED', '2026-01-23T18:00:00Z', { status: 'FAILED' }),
			run('LATER', '2026-01-27T17:00:00Z'),
		];
		const again = run('FRI-AGAIN', '2026-01-23T17:00:00Z', { requested_at: '2026-02-02T00:00:00Z', status: 'PUBLISHED', portfolio_scope: { node_ids: ['A', 'B'] } });
		return {
			previous: c.previousRun(today, runs)?.run_id ?? null,
			rerun: c.previousRun(today, [...runs, again])?.run_id ?? null,
			first: c.previousRun(runs[2], runs)?.run_id ?? null,
			snapshots: c.previousRun({ ...today, portfolio_scope: null }, runs)?.run_id ?? null,
			modelled: c.previousRun({ ...today, model_set_id: 'MS' }, runs)?.run_id ?? null,
			href: c.compareHref('RUN A', 'RUN&B'),
		};
	})()`)
	want := map[string]any{
		"previous":  "FRI",       // not the sandbox, other book, modelled or failed run, nor a later one
		"rerun":     "FRI-AGAIN", // the same as-of, requested later; nodes in any order
		"first":     nil,
		"snapshots": nil, // a run of explicit snapshots has no book to follow
		"modelled":  "FRI-MODELLED",
		"href":      "#/compare?base=RUN+A&target=RUN%26B",
	}
	for k, w := range want {
		if !reflect.DeepEqual(got[k], w) {
			t.Errorf("%s = %#v, want %#v", k, got[k], w)
		}
	}
}
