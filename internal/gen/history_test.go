package gen

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/pricing"
)

// decodeHistory encodes the snapshots as a client would send them and
// decodes them as the pricing engine reads them.
func decodeHistory(t *testing.T, snaps []map[string]any) ([][]byte, []pricing.MarketData) {
	t.Helper()
	raw := make([][]byte, len(snaps))
	data := make([]pricing.MarketData, len(snaps))
	for i, s := range snaps {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		raw[i] = b
		if err := json.Unmarshal(b, &data[i]); err != nil {
			t.Fatal(err)
		}
	}
	return raw, data
}

func TestHistoryDatesAndReproducibility(t *testing.T) {
	t.Parallel()
	end := time.Date(2026, 1, 25, 17, 0, 0, 0, time.UTC) // a Sunday
	a, _ := decodeHistory(t, History(end, 12, 7))
	b, _ := decodeHistory(t, History(end, 12, 7))
	c, _ := decodeHistory(t, History(end, 12, 8))
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			t.Fatalf("snapshot %d differs between two runs with one seed", i)
		}
	}
	if bytes.Equal(a[0], c[0]) {
		t.Error("another seed gave the same history")
	}
	_, data := decodeHistory(t, History(end, 12, 7))
	// Twelve weekdays ending Friday 2026-01-23: from Friday 2026-01-09.
	want := []string{"09", "12", "13", "14", "15", "16", "19", "20", "21", "22", "23"}
	if len(data) != 12 || data[0].AsOfTime.Format("2006-01-02T15:04") != "2026-01-08T17:00" {
		t.Fatalf("first snapshot %s, want Thursday 2026-01-08 17:00", data[0].AsOfTime)
	}
	for i, d := range data[1:] {
		if got := d.AsOfTime.Format("02"); got != want[i] {
			t.Errorf("snapshot %d on day %s, want %s", i+1, got, want[i])
		}
		if d.SnapshotID != "MKT-HIST-202601"+want[i] {
			t.Errorf("snapshot %d id %s", i+1, d.SnapshotID)
		}
	}
	// The last day is the demo market itself.
	last, _ := json.Marshal(MarketSnapshot("MKT-HIST-20260123", time.Date(2026, 1, 23, 17, 0, 0, 0, time.UTC)))
	if !bytes.Equal(a[len(a)-1], last) {
		t.Errorf("last snapshot\n%s\nwant the demo market\n%s", a[len(a)-1], last)
	}
	if History(end, 0, 1) != nil {
		t.Error("History(0) is not empty")
	}
}

// TestHistoryIsPlausible checks a long history against the dynamics it
// claims: every snapshot passes the data-quality checks as a usable
// market; the daily change of a rate has roughly the volatility of its
// factors; deviations revert (lag-one autocorrelation near φ = 0.98, not 1)
// and stay bounded.
func TestHistoryIsPlausible(t *testing.T) {
	t.Parallel()
	const n = 1500
	_, data := decodeHistory(t, History(time.Date(2026, 1, 23, 17, 0, 0, 0, time.UTC), n, 3))
	series := func(curve, tenor string) []float64 {
		out := make([]float64, n)
		for k, d := range data {
			for _, c := range d.Curves {
				if c.CurveID != curve {
					continue
				}
				for _, nd := range c.Nodes {
					if nd.Tenor == tenor {
						out[k] = nd.ZeroRate
					}
				}
			}
		}
		return out
	}
	for k, d := range data {
		if _, err := pricing.NewMarket(d); err != nil {
			t.Fatalf("snapshot %d is not a valid market: %v", k, err)
		}
		for _, c := range d.Curves {
			for _, nd := range c.Nodes {
				if nd.ZeroRate < -0.05 || nd.ZeroRate > 0.30 {
					t.Errorf("%s %s %s: rate %v out of range", d.SnapshotID, c.CurveID, nd.Tenor, nd.ZeroRate)
				}
			}
		}
	}
	// USD-OIS 5Y: daily changes mix the level (4bp), half the slope
	// (loading ~0.17 × 2bp) and the node wobble (0.5bp, φ 0.5): about
	// √(16 + 0.1 + 0.25·(2/1.5)) ≈ 4.05bp; accept 3.5 to 4.6bp.
	for _, c := range []struct {
		curve, tenor string
		lo, hi       float64
	}{{"USD-OIS", "5Y", 3.5e-4, 4.6e-4}, {"LOAN-SPREAD", "5Y", 1.7e-4, 2.4e-4}} {
		x := series(c.curve, c.tenor)
		var sum, sum2 float64
		for k := 1; k < n; k++ {
			d := x[k] - x[k-1]
			sum += d
			sum2 += d * d
		}
		mean := sum / (n - 1)
		sd := math.Sqrt(sum2/(n-1) - mean*mean)
		if sd < c.lo || sd > c.hi {
			t.Errorf("%s %s daily change sd %.2fbp, want %.1f to %.1fbp", c.curve, c.tenor, sd*1e4, c.lo*1e4, c.hi*1e4)
		}
		// Lag-one autocorrelation of the level around its mean.
		var m float64
		for _, v := range x {
			m += v / n
		}
		var num, den, maxDev float64
		for k := range x {
			den += (x[k] - m) * (x[k] - m)
			if k > 0 {
				num += (x[k] - m) * (x[k-1] - m)
			}
			maxDev = math.Max(maxDev, math.Abs(x[k]-x[n-1]))
		}
		if rho := num / den; rho < 0.93 || rho > 0.995 {
			t.Errorf("%s %s lag-one autocorrelation %.3f, want mean reversion near 0.98", c.curve, c.tenor, rho)
		}
		// Stationary sd of the level ≈ 4bp/√(1 − 0.98²) ≈ 20bp: 1,500 days
		// stay within 1.2%.
		if maxDev > 0.012 {
			t.Errorf("%s %s strays %.0fbp from today's rate", c.curve, c.tenor, maxDev*1e4)
		}
	}
	// Spots stay positive and near the demo market (stationary sd of the
	// log ≈ 0.5%/0.2 = 2.5%).
	for k, d := range data {
		for _, s := range d.FXSpots {
			base := map[string]float64{"EURUSD": 1.0842, "GBPUSD": 1.2710, "JPYUSD": 0.0067}[s.Pair]
			if r := s.Spot / base; r < 0.8 || r > 1.25 {
				t.Errorf("snapshot %d: %s %v is %.0f%% of today's", k, s.Pair, s.Spot, 100*r)
			}
		}
	}
}
