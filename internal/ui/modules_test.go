package ui_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/iprs/iprs/internal/ui"
	"github.com/iprs/iprs/internal/ui/uitest"
)

// TestModulesInTheBrowser loads the dashboard's modules in Chromium and
// checks their pure functions against hand-worked cases: number format,
// tenors, band keys of the cube, attribute matching of the drill-down,
// scenario order and axis ticks.
func TestModulesInTheBrowser(t *testing.T) {
	b := uitest.MustBrowser(t)
	mux := http.NewServeMux()
	mux.Handle("GET /ui/", ui.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()
	b.Open(srv.URL+"/ui/#/nowhere", "/nowhere")

	type check struct {
		Name string `json:"name"`
		Got  any    `json:"got"`
	}
	checks := uitest.Eval[[]check](b, `(async () => {
		const r = await import('./js/render.js');
		const g = await import('./js/pages/group.js');
		const m = await import('./js/pages/market.js');
		const run = await import('./js/pages/run.js');
		const out = [];
		const add = (name, got) => out.push({ name, got });
		add('fmtNum 1234567.891', r.fmtNum(1234567.891));
		add('fmtNum -1234.5', r.fmtNum(-1234.5));
		add('fmtNum -0.001', r.fmtNum(-0.001));
		add('fmtNum 0.5 digits 0', r.fmtNum(2.5, 0));
		add('fmtInt 1000000', r.fmtInt(1000000));
		add('fmtRate 0.0425', r.fmtRate(0.0425));
		add('fmtNum NaN', r.fmtNum(NaN));
		add('fmtTime', r.fmtTime('2026-01-23T17:00:00.123Z'));
		add('fmtDuration', r.fmtDuration('2026-01-23T17:00:00Z', '2026-01-23T17:01:04Z'));
		add('num neg class', r.num(-3).className);
		add('num value', r.num(0.1 + 0.2).dataset.value);
		add('tenor ON', m.tenorYears('ON') * 365);
		add('tenor 18M', m.tenorYears('18M'));
		add('tenor 2W', m.tenorYears('2W') * 52);
		add('tenor 10D', m.tenorYears('10D') * 365);
		add('tenor bad', Number.isNaN(m.tenorYears('1Q')));
		const lt = g.bandTest('<620'), mid = g.bandTest('620–680'), ge = g.bandTest('≥780');
		add('band <620', [lt(619.99), lt(620)]);
		add('band 620–680', [mid(619), mid(620), mid(679.5), mid(680)]);
		add('band ≥780', [ge(779), ge(780)]);
		add('band n/a', g.bandTest('n/a') === null);
		add('attr banded', [
			g.attrMatches({ fico: 700 }, 'fico', '680–720', true),
			g.attrMatches({ fico: 720 }, 'fico', '680–720', true),
			g.attrMatches({}, 'fico', 'n/a', true),
			g.attrMatches({ fico: '700' }, 'fico', 'n/a', true),
			g.attrMatches({ fico: 700 }, 'fico', 'n/a', true),
		]);
		add('attr plain', [
			g.attrMatches({ state: 'TX' }, 'state', 'TX', false),
			g.attrMatches({ state: 'TX' }, 'state', 'FL', false),
			g.attrMatches({ term: 36 }, 'term', '36', false),
			g.attrMatches({ flag: true }, 'flag', 'true', false),
			g.attrMatches({}, 'state', '', false),
			g.attrMatches({ state: null }, 'state', 'n/a', false),
		]);
		add('scenario order', run.scenarioOrder({ scenarios: ['SPREAD_25BP', 'BASE', 'FX_SPOT_1PCT'] }, null));
		add('ticks', r.niceTicks(0.0301, 0.0441, 5));
		add('leaves', r.leaves({ 'USD-OIS': { '3M': 1, '1Y': 2 }, 'EUR-OIS': { '3M': 3 } }).map((l) => [l[1], l[2]]));
		const flat = r.measureValue({ EUR: 1234.5, GBP: -2 });
		add('fx delta values', [...flat.querySelectorAll('[data-value]')].map((e) => e.dataset.value));
		add('fx delta text', flat.textContent);
		const nested = r.measureValue({ 'USD-OIS': { '3M': 1, '1Y': 2 }, 'EUR-OIS': { '3M': 3 } });
		add('kr01 values', [...nested.querySelectorAll('[data-value]')].map((e) => e.dataset.value));
		add('kr01 total', nested.querySelector('summary .total').textContent);
		add('kr01 columns', [...nested.querySelectorAll('th')].map((e) => e.textContent));
		return out;
	})()`)
	want := map[string]any{
		"fmtNum 1234567.891":  "1,234,567.89",
		"fmtNum -1234.5":      "-1,234.50",
		"fmtNum -0.001":       "0.00",
		"fmtNum 0.5 digits 0": "3",
		"fmtInt 1000000":      "1,000,000",
		"fmtRate 0.0425":      "4.250%",
		"fmtNum NaN":          "—",
		"fmtTime":             "2026-01-23 17:00:00Z",
		"fmtDuration":         "1m 04s",
		"num neg class":       "n neg",
		"num value":           "0.30000000000000004",
		"tenor ON":            1.0,
		"tenor 18M":           1.5,
		"tenor 2W":            2.0,
		"tenor 10D":           10.0,
		"tenor bad":           true,
		"band <620":           []any{true, false},
		"band 620–680":        []any{false, true, true, false},
		"band ≥780":           []any{false, true},
		"band n/a":            true,
		"attr banded":         []any{true, false, true, true, false},
		"attr plain":          []any{true, false, true, true, true, true},
		"scenario order":      []any{"BASE", "SPREAD_25BP", "FX_SPOT_1PCT"},
		"ticks":               []any{0.03, 0.035, 0.04, 0.045}, // (0.0441−0.0301)/5 = 0.0028 → step 0.005
		"leaves":              []any{[]any{"USD-OIS · 3M", 1.0}, []any{"USD-OIS · 1Y", 2.0}, []any{"EUR-OIS · 3M", 3.0}},
		"fx delta values":     []any{"1234.5", "-2"},
		"fx delta text":       "EUR1,234.50GBP-2.00",
		"kr01 values":         []any{"1", "3", "2"}, // by tenor, then curve; EUR-OIS has no 1Y
		"kr01 total":          "6.00",
		"kr01 columns":        []any{"", "USD-OIS", "EUR-OIS"},
	}
	if len(checks) != len(want) {
		t.Errorf("%d checks ran, want %d", len(checks), len(want))
	}
	for _, c := range checks {
		w, ok := want[c.Name]
		if !ok {
			t.Errorf("unexpected check %q", c.Name)
			continue
		}
		if !equal(c.Got, w) {
			t.Errorf("%s = %#v, want %#v", c.Name, c.Got, w)
		}
	}
}

func equal(a, b any) bool {
	switch x := a.(type) {
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equal(x[i], y[i]) {
				return false
			}
		}
		return true
	case float64:
		y, ok := b.(float64)
		return ok && (x == y || (x-y < 1e-12 && y-x < 1e-12))
	}
	return a == b
}
