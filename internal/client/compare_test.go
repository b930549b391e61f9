package client

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestCompareAllPagesThroughWithTheQueryAsGiven: the options go out as
// written (tolerances unparsed), each page's cursor comes back, null
// sides decode as nil and objects as parts.
func TestCompareAllPagesThroughWithTheQueryAsGiven(t *testing.T) {
	t.Parallel()
	pages := map[string]string{
		"": `{"base_run_id":"A","target_run_id":"B","measure":"FX_DELTA","scenario":"S","abs_tol":0.1,"rel_tol":0,
			"totals":{"base":{"EUR":1},"target":{"EUR":2},"diff":{"EUR":1}},
			"counts":{"matched":1,"only_in_base":1,"only_in_target":0,"breaks":1},
			"items":[{"position_id":"P1","base":{"EUR":1},"target":null,"diff":null,"status":"ONLY_IN_BASE"}],"next_cursor":"c1"}`,
		"c1": `{"base_run_id":"A","target_run_id":"B","measure":"FX_DELTA","scenario":"S","abs_tol":0.1,"rel_tol":0,
			"totals":{"base":{"EUR":1},"target":{"EUR":2},"diff":{"EUR":1}},
			"counts":{"matched":1,"only_in_base":1,"only_in_target":0,"breaks":1},
			"items":[{"position_id":"P2","base":{"EUR":0},"target":{"GBP":2},"diff":{"EUR":0,"GBP":2},"status":"BREAK"}],"next_cursor":null}`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.URL.Path != "/results/compare" || q.Get("base") != "A" || q.Get("target") != "B" || q.Get("measure") != "FX_DELTA" ||
			q.Get("scenario") != "S" || q.Get("abs_tol") != "0.10" || q.Has("rel_tol") || q.Get("limit") != "1" {
			t.Errorf("request %s", r.URL)
		}
		w.Write([]byte(pages[q.Get("cursor")]))
	}))
	defer srv.Close()
	c := New(srv.URL, "", srv.Client())
	var items []CompareItem
	err := c.CompareAll(context.Background(), "A", "B", CompareOptions{Measure: "FX_DELTA", Scenario: "S", AbsTol: "0.10", Limit: 1, Cursor: "ignored"},
		func(p Comparison) error {
			if p.Counts.Total() != 3 || p.Totals.Diff.Parts["EUR"].Number == nil {
				t.Errorf("page %+v", p)
			}
			items = append(items, p.Items...)
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || items[0].PositionID != "P1" || items[0].Target != nil || items[0].Diff != nil ||
		items[1].Status != "BREAK" || *items[1].Diff.Parts["GBP"].Number != 2 {
		t.Fatalf("items %+v", items)
	}
}
