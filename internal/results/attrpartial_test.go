package results

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/web"
)

// attrBook is a book whose attributes take every kind of JSON value: grp
// a string (with escapes and non-ASCII text), n a number, flag a boolean,
// null or absent, id one value per position; PV and DV01 under BASE and
// the scenarios of SET-A with magnitudes from 1e-3 to 1e9, so that the
// order of the terms would change a float64 running sum.
func attrBook(n int) []bookPosition {
	grps := []string{`"CREDIT"`, `"RATES"`, `"caf\u00e9 \"q\""`, `"FX"`, `""`}
	flags := []string{`,"flag":true`, `,"flag":false`, `,"flag":null`, ``}
	products := []string{"AMORT_LOAN", "FIXED_BOND", "FX_FWD"}
	var book []bookPosition
	for i := range n {
		base := float64((i*7919)%1000-500) * math.Pow(10, float64(i%13-3))
		v := map[string]vals{"BASE": {"PV": base, "DV01": float64(i%17) - 8.25}}
		for j, sc := range varSetScenarios {
			v[sc] = vals{"PV": base + float64((i*31+j*17)%97-48)*math.Pow(10, float64((i+j)%11-2)), "DV01": float64(j) * 0.5}
		}
		attrs := fmt.Sprintf(`{"grp":%s,"n":%s,"id":"ID-%d"%s}`, grps[i%len(grps)], []string{"1", "2.5", "-3", "1e300"}[i%4], i, flags[i%len(flags)])
		book = append(book, bookPosition{snapshot: []string{"SA", "SB"}[i%2], id: fmt.Sprintf("P%05d", i),
			product: products[i%len(products)], attrs: attrs, values: v})
	}
	return book
}

// getBody returns the body of a 200 answer.
func getBody(tb testing.TB, srv *httptest.Server, path string) string {
	tb.Helper()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	return string(body)
}

// TestAttrPartialsMatchScan: a run whose tasks aggregated by attributes
// answers cubes and VaR by them from the tasks' partials, without a scan,
// with the same bytes as the same book's run whose tasks did not (which
// the results service scans); an attribute with more keys in a task than
// the bound is stored as too wide and scanned.
func TestAttrPartialsMatchScan(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st store.Store) {
		mustVaRRun(t, st, "VAR-0") // stores SET-A
		book := attrBook(3*scanBatchRows + 57)
		request := []byte(`{"scenarios":["BASE",{"scenario_set_id":"SET-A"}]}`)
		scen := append([]string{"BASE"}, varSetScenarios...)
		attrs := []string{"grp", "n", "flag", "id"}
		// Two buckets: every task has more ids than the 100 allowed, and
		// fewer of any other attribute.
		mustRunAggregating(t, st, "AGG", request, attrs, 100, []string{"PV", "DV01"}, scen, book, 2, false, nil)
		mustRunWithRequest(t, st, "SCAN", request, []string{"PV", "DV01"}, scen, book, 1, true, nil)

		var payloads []int
		if err := st.TaskAggregates(context.Background(), "AGG", "attr:id", func(_ int64, p []byte) error {
			payloads = append(payloads, len(p))
			return nil
		}); err != nil || len(payloads) != 6 || slices.Max(payloads) != 0 {
			t.Fatalf("partials by attr:id: sizes %v (%v), want six too wide (empty)", payloads, err)
		}

		sc := &scanCounter{Store: st}
		m := web.NewMux(web.Config{Service: "results", Prefix: Prefix})
		New(sc, nil, Options{}).Register(m)
		srv := httptest.NewServer(m.Handler())
		t.Cleanup(srv.Close)

		var queries []string
		for _, by := range []string{"grp", "n", "flag"} {
			for _, q := range []string{"measure=PV", "measure=DV01", "measure=PV&scenario=S3", "measure=DV01&scenario=S8"} {
				queries = append(queries, "cube?"+q+"&by=attr:"+by)
			}
			queries = append(queries, "var?scenario_set_id=SET-A&confidence=0.75&by=attr:"+by)
		}
		for _, q := range queries {
			before := sc.scans.Load()
			got := getBody(t, srv, "/results/runs/AGG/"+q)
			if n := sc.scans.Load() - before; n != 0 {
				t.Fatalf("%s of a run with partials by the attribute: %d scans, want none", q, n)
			}
			if want := getBody(t, srv, "/results/runs/SCAN/"+q); got != want {
				t.Errorf("%s:\nfrom partials %s\nscanned       %s", q, got, want)
			}
		}
		if sc.scans.Load() == 0 {
			t.Errorf("the run without partials by attributes was answered without a scan")
		}

		// Too wide: the cube by attr:id is scanned, and equals the other
		// run's.
		before := sc.scans.Load()
		got := getBody(t, srv, "/results/runs/AGG/cube?measure=PV&by=attr:id")
		if sc.scans.Load() == before {
			t.Errorf("a cube by an attribute too wide in a task was not scanned")
		}
		if want := getBody(t, srv, "/results/runs/SCAN/cube?measure=PV&by=attr:id"); got != want {
			t.Errorf("cube by attr:id differs from the scan's answer")
		}
	})
}
