package results

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/store/storetest"
)

// The run routes serve valuations only: an explain or a verify stored as a
// run of its kind is not found through them.
func TestRunRoutesServeValuationsOnly(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		storetest.MustRun(t, context.Background(), st, storetest.RunOpts{Run: &store.Run{ID: "VERIFY-K", Kind: store.KindVerify}})
		srv := MustServer(t, st)
		for _, path := range []string{
			"/results/runs/VERIFY-K/summary",
			"/results/runs/VERIFY-K/positions",
			"/results/runs/VERIFY-K/cube?measure=PV&by=product_type",
			"/results/runs/VERIFY-K/export.csv",
			"/results/compare?base=VERIFY-K&target=VERIFY-K&measure=PV&scenario=BASE",
		} {
			resp, err := http.Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "VERIFY-K") {
				t.Errorf("GET %s: %d %s, want 404 naming the run", path, resp.StatusCode, body)
			}
		}
	})
}
