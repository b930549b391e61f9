package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/client"
	"github.com/iprs/iprs/internal/config"
	"github.com/iprs/iprs/internal/gen"
	"github.com/iprs/iprs/internal/pricing"
	"github.com/iprs/iprs/internal/store/teststore"
)

// testDatabase is one database the end-to-end tests run on.
type testDatabase struct {
	name string
	db   config.Database
}

// testDatabases returns a fresh SQLite database, and a fresh PostgreSQL
// schema when IPRS_TEST_DATABASE_URL names a database: the platform's
// workers claim any task in their schema, so they must not share one with
// other packages' tests.
func testDatabases(t *testing.T) []testDatabase {
	t.Helper()
	dbs := []testDatabase{{"sqlite", config.Database{Driver: config.DriverSQLite, Path: filepath.Join(t.TempDir(), "iprs.db")}}}
	if os.Getenv(teststore.EnvURL) != "" {
		db, err := config.ParseDatabaseURL(teststore.PostgresURL(t))
		if err != nil {
			t.Fatalf("IPRS_TEST_DATABASE_URL: %v", err)
		}
		dbs = append(dbs, testDatabase{"postgres", db})
	} else {
		t.Log("IPRS_TEST_DATABASE_URL is unset: PostgreSQL end-to-end tests skipped")
	}
	return dbs
}

// MustStartDev starts the whole platform in-process on a free port and
// stops it when the test ends.
func MustStartDev(t *testing.T, db config.Database, env map[string]string) *devPlatform {
	t.Helper()
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d, err := startDev(ctx, devOptions{
		Addr: "127.0.0.1:0", DB: db, Cfg: cfg, Workers: 3, Concurrency: 1,
		Logger: slog.New(slog.DiscardHandler), Version: "test",
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := d.Wait(); err != nil {
			t.Errorf("platform stopped with %v", err)
		}
	})
	return d
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	// The compat payloads that `iprs price` tests also read live in
	// testdata/price; the run request in testdata/compat.
	path := filepath.Join("testdata", "price", name)
	if _, err := os.Stat(path); err != nil {
		path = filepath.Join("testdata", "compat", name)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// uniqueSuffix keeps ids apart when several test runs share a PostgreSQL
// database.
func uniqueSuffix() string { return strconv.FormatInt(time.Now().UnixNano(), 36) }

// TestEndToEnd sends the compat payloads and a generated book through
// upload, run and results on each store, and checks every number the
// platform reports against the pricing engine called directly on the same
// documents.
func TestEndToEnd(t *testing.T) {
	for _, tdb := range testDatabases(t) {
		t.Run(tdb.name, func(t *testing.T) {
			d := MustStartDev(t, tdb.db, nil)
			c := client.New(d.URL, "", nil)
			ctx := context.Background()
			sfx := uniqueSuffix()

			// The compat payloads, exactly as clients send them; only the
			// placeholder ids are filled in.
			mktDoc := readTestdata(t, "market_snapshot_demo.json")
			mrec, _, err := c.PushMarketSnapshot(ctx, bytes.NewReader(mktDoc))
			if err != nil {
				t.Fatalf("compat market snapshot: %v", err)
			}
			if mrec.DQStatus == "FAIL" {
				t.Fatalf("compat market snapshot is FAIL: %s", mrec.Issues)
			}
			posDoc := readTestdata(t, "positions_snapshot_demo.json")
			prec, _, err := c.PushPositionSnapshot(ctx, bytes.NewReader(posDoc))
			if err != nil {
				t.Fatalf("compat position snapshot: %v", err)
			}
			if prec.PositionCount != 3 {
				t.Fatalf("compat position snapshot has %d positions, want 3", prec.PositionCount)
			}
			var runReq map[string]any
			if err := json.Unmarshal(readTestdata(t, "run_request_demo.json"), &runReq); err != nil {
				t.Fatal(err)
			}
			runReq["run_id"] = "RUN-E2E-COMPAT-" + sfx
			runReq["market_snapshot_id"] = mrec.SnapshotID
			// The fixture names the model set MODELSET-DEMO-001: store the
			// demo one under that id first (SPEC §4.1: a missing one is a 422).
			msDoc, err := json.Marshal(gen.ModelSet(runReq["model_set_id"].(string)))
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := c.PushModelSet(ctx, bytes.NewReader(msDoc)); err != nil {
				t.Fatalf("push model set: %v", err)
			}
			compatModels, probs := pricing.ParseModelSet(msDoc)
			if len(probs) > 0 {
				t.Fatalf("demo model set: %v", probs)
			}
			compatRun := submitAndWait(t, c, runReq)

			// A generated book with every product type, every measure and
			// every scenario, on the generated market.
			marketID := "MKT-E2E-" + sfx
			gi := MustPushGenerated(t, c, marketID, gen.Options{NodeID: "BOOK-E2E-" + sfx, AsOf: demoAsOf, Loans: 400, Bonds: 25, FXForwards: 25, Seed: 11})
			measures := []string{"PV", "DV01", "CS01", "ACCRUED_INTEREST", "FX_DELTA"}
			bookRun := submitAndWait(t, c, map[string]any{
				"run_id":               "RUN-E2E-BOOK-" + sfx,
				"run_type":             "EOD_OFFICIAL",
				"as_of_time":           demoAsOf.Format(time.RFC3339),
				"market_snapshot_id":   marketID,
				"position_snapshot_id": gi.Receipt.PositionSnapshotID,
				"measures":             measures,
				"scenarios":            pricing.ScenarioIDs(),
				"execution":            map[string]any{"hash_mod": 4},
			})

			for _, rc := range []struct {
				run       client.Run
				market    []byte
				positions []byte
				asOf      time.Time
				opts      []pricing.EngineOption
			}{
				{compatRun, mktDoc, posDoc, time.Date(2026, 1, 23, 0, 0, 0, 0, time.UTC), []pricing.EngineOption{pricing.WithModelSet(compatModels)}},
				{bookRun, gi.Market, gi.Book, demoAsOf, nil},
			} {
				want := priceDirectly(t, rc.market, rc.positions, rc.run.Scenarios, rc.run.Measures, rc.asOf, rc.opts...)
				got := exportedResults(t, c, rc.run.RunID)
				if len(got) != len(want) {
					t.Fatalf("run %s: %d result rows, want %d", rc.run.RunID, len(got), len(want))
				}
				for key, w := range want {
					g, ok := got[key]
					if !ok {
						t.Errorf("run %s: no result for %s", rc.run.RunID, key)
						continue
					}
					if w := withoutCurrencyKeys(w); !sameValues(g, w) {
						t.Errorf("run %s %s: platform %v, engine %v", rc.run.RunID, key, g, w)
					}
				}
				checkSummary(t, c, rc.run, want)
			}
		})
	}
}

// generatedInputs are a generated market and book as pushed to a platform.
type generatedInputs struct {
	Market  []byte // the market snapshot document
	Book    []byte // the position snapshot document
	Receipt client.SnapshotReceipt
}

// MustPushGenerated pushes the generated market snapshot marketID and the
// book to the platform, keeping the documents for direct pricing.
func MustPushGenerated(t *testing.T, c *client.Client, marketID string, book gen.Options) generatedInputs {
	t.Helper()
	ctx := context.Background()
	mkt, err := json.Marshal(gen.MarketSnapshot(marketID, book.AsOf))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.PushMarketSnapshot(ctx, bytes.NewReader(mkt)); err != nil {
		t.Fatalf("generated market: %v", err)
	}
	var doc bytes.Buffer
	if _, err := gen.WritePositionSnapshot(&doc, book); err != nil {
		t.Fatal(err)
	}
	rec, _, err := c.PushPositionSnapshot(ctx, bytes.NewReader(doc.Bytes()))
	if err != nil {
		t.Fatalf("generated book: %v", err)
	}
	return generatedInputs{Market: mkt, Book: doc.Bytes(), Receipt: rec}
}

func submitAndWait(t *testing.T, c *client.Client, req map[string]any) client.Run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run, created, err := c.SubmitRun(ctx, req)
	if err != nil {
		t.Fatalf("submit run: %v", err)
	}
	if !created {
		t.Fatalf("run %s was not created", run.RunID)
	}
	done, err := c.WaitRun(ctx, run.RunID, 20*time.Millisecond, nil)
	if err != nil {
		t.Fatalf("wait for run %s: %v", run.RunID, err)
	}
	if done.Status != "COMPLETED" {
		t.Fatalf("run %s ended %s: %v", done.RunID, done.Status, done.Error)
	}
	if done.Progress.PositionsDone != done.Progress.PositionsTotal || done.Progress.PositionsTotal == 0 {
		t.Fatalf("run %s progress %+v", done.RunID, done.Progress)
	}
	return done
}

// priceDirectly values the documents with the pricing engine, keyed by
// "position_id/scenario_id", measure name → value.
func priceDirectly(t *testing.T, marketDoc, positionsDoc []byte, scenarios, measureNames []string, asOf time.Time, opts ...pricing.EngineOption) map[string]map[string]float64 {
	t.Helper()
	var md pricing.MarketData
	if err := json.Unmarshal(marketDoc, &md); err != nil {
		t.Fatal(err)
	}
	mkt, err := pricing.NewMarket(md)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Positions []pricing.PositionInput `json:"positions"`
	}
	if err := json.Unmarshal(positionsDoc, &doc); err != nil {
		t.Fatal(err)
	}
	measures := make([]pricing.Measure, len(measureNames))
	for i, n := range measureNames {
		m, ok := pricing.ParseMeasure(n)
		if !ok {
			t.Fatalf("measure %q", n)
		}
		measures[i] = m
	}
	eng, err := pricing.NewEngine(mkt, scenarios, measures, asOf, opts...)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]float64{}
	for _, in := range doc.Positions {
		p, probs := pricing.ParsePosition(in)
		if len(probs) > 0 {
			t.Fatalf("position %s: %v", in.PositionID, probs)
		}
		for si, sc := range scenarios {
			var v pricing.Values
			if err := eng.Price(p, si, &v); err != nil {
				t.Fatal(err)
			}
			vals := map[string]float64{}
			for _, m := range measures {
				if m == pricing.KR01 {
					// As the export gives it: KR01:<curve>:<tenor>.
					tenors := pricing.KeyRateTenors()
					for _, l := range v.KR01() {
						for j, x := range l.DV01 {
							vals["KR01:"+l.Curve+":"+tenors[j]] = x
						}
					}
					continue
				}
				if x, ok := v.Get(m); ok {
					vals[m.String()] = x
				}
			}
			if ccy, ok := v.FXDeltaCurrency(); ok {
				// The key summaries aggregate FX_DELTA under.
				vals[fxDeltaKey+ccy] = vals["FX_DELTA"]
			}
			out[in.PositionID+"/"+sc] = vals
		}
	}
	return out
}

// exportedResults downloads the run's CSV export, keyed like priceDirectly.
func exportedResults(t *testing.T, c *client.Client, runID string) map[string]map[string]float64 {
	t.Helper()
	body, err := c.ExportCSV(context.Background(), runID, "")
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	r := csv.NewReader(body)
	header, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	out := map[string]map[string]float64{}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		vals := map[string]float64{}
		for name, i := range col {
			_, isMeasure := pricing.ParseMeasure(name)
			if (!isMeasure && !strings.HasPrefix(name, "KR01:")) || rec[i] == "" {
				continue
			}
			x, err := strconv.ParseFloat(rec[i], 64)
			if err != nil {
				t.Fatalf("CSV value %q: %v", rec[i], err)
			}
			vals[name] = x
		}
		key := rec[col["position_id"]] + "/" + rec[col["scenario_id"]]
		if _, dup := out[key]; dup {
			t.Fatalf("run %s: %s exported twice", runID, key)
		}
		out[key] = vals
	}
	return out
}

// fxDeltaKey prefixes, in priceDirectly's values, FX_DELTA keyed by its
// base currency: summaries aggregate FX_DELTA per currency, exports give
// each position's number.
const fxDeltaKey = "FX_DELTA:"

// withoutCurrencyKeys drops priceDirectly's FX_DELTA:CCY entries.
func withoutCurrencyKeys(vals map[string]float64) map[string]float64 {
	out := make(map[string]float64, len(vals))
	for k, x := range vals {
		if !strings.HasPrefix(k, fxDeltaKey) {
			out[k] = x
		}
	}
	return out
}

func sameValues(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, x := range a {
		y, ok := b[k]
		if !ok || math.Float64bits(x) != math.Float64bits(y) {
			return false
		}
	}
	return true
}

// checkSummary compares the summary with sums of the engine's values
// computed exactly with math/big and rounded once.
func checkSummary(t *testing.T, c *client.Client, run client.Run, want map[string]map[string]float64) {
	t.Helper()
	s, err := c.Summary(context.Background(), run.RunID)
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range run.Scenarios {
		sums := map[string]*big.Float{}
		positions := 0
		for key, vals := range want {
			if !strings.HasSuffix(key, "/"+sc) {
				continue
			}
			positions++
			for m, x := range vals {
				if m == "FX_DELTA" || m == "WAL" {
					// FX_DELTA is aggregated per currency, under
					// FX_DELTA:CCY; WAL is a principal-weighted average,
					// checked against hand-worked figures in package agg.
					continue
				}
				if sums[m] == nil {
					sums[m] = new(big.Float).SetPrec(4096)
				}
				sums[m].Add(sums[m], new(big.Float).SetFloat64(x))
			}
		}
		got, ok := s.Scenarios[sc]
		if !ok {
			t.Errorf("summary of %s lacks scenario %s", run.RunID, sc)
			continue
		}
		if got.PositionCount != int64(positions) {
			t.Errorf("summary %s/%s: position_count %d, want %d", run.RunID, sc, got.PositionCount, positions)
		}
		flat := map[string]float64{}
		for m, f := range got.Measures {
			if m != "WAL" {
				f.Flatten(m, flat)
			}
		}
		for m, sum := range sums {
			w, _ := sum.Float64()
			if g, ok := flat[m]; !ok || math.Float64bits(g) != math.Float64bits(w) {
				t.Errorf("summary %s/%s %s = %v, exact sum %v", run.RunID, sc, m, g, w)
			}
		}
		if len(flat) != len(sums) {
			t.Errorf("summary %s/%s has measures %v, want %d", run.RunID, sc, flat, len(sums))
		}
	}
}
