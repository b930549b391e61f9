package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"text/tabwriter"
	"time"

	"github.com/iprs/iprs/internal/client"
	"github.com/iprs/iprs/internal/config"
	"github.com/iprs/iprs/internal/gen"
	"github.com/spf13/cobra"
)

func newBenchCmd(a *app) *cobra.Command {
	var (
		loans      string
		database   string
		workers    int
		concurrent int
		scenarios  []string
		measures   []string
		modelSet   bool
		histDays   int
		cpuProfile string
		replay     bool
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Time a generated book end to end: upload, run, results",
		Long: `bench starts the platform in this process on a database of its own, which it
removes afterwards: a temporary SQLite file; or, with --database or DATABASE_URL,
a fresh schema in that PostgreSQL database, or a SQLite file that must not exist
yet (bench never writes into a database it did not create). It generates a book of
loans given by their terms, and times each phase through the HTTP API exactly as a
client sees it: market upload, position upload (streamed), run submission (pre-run
check and fan-out), valuation until COMPLETED, and the summary; with --verify, also
the replay of the run (re-priced and compared bit for bit) until its verdict.

  iprs bench --loans 100k
  iprs bench --loans 100k --database postgres://postgres@127.0.0.1:5432/iprs_bench`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			n, err := gen.ParseCount(loans)
			if err != nil {
				return fmt.Errorf("--loans: %w", err)
			}
			getenv := devEnv(a.getenv)
			cfg, err := config.Load(getenv)
			if err != nil {
				return err
			}
			db := cfg.Database
			if database != "" {
				if db, err = config.ParseDatabaseURL(database); err != nil {
					return fmt.Errorf("--database: %w", err)
				}
			}
			db, drop, err := benchDatabase(cmd.Context(), db)
			if err != nil {
				return err
			}
			defer func() {
				if derr := drop(); derr != nil {
					err = errors.Join(err, derr)
				}
			}()
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return fmt.Errorf("--cpuprofile: %w", err)
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return fmt.Errorf("start CPU profile: %w", err)
				}
				defer pprof.StopCPUProfile()
			}
			return runBench(cmd.Context(), cmd.OutOrStdout(), benchOptions{
				Loans: n, DB: db, Cfg: cfg, Workers: workers, Concurrency: concurrent,
				Scenarios: scenarios, Measures: measures, ModelSet: modelSet, HistoryDays: histDays, Verify: replay,
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&loans, "loans", "100000", "loans in the book (100000, 100k, 1m)")
	f.StringVar(&database, "database", "", "database URL (default DATABASE_URL, else a temporary SQLite file)")
	f.IntVar(&workers, "workers", 2, "worker instances")
	f.IntVar(&concurrent, "worker-concurrency", 0, "tasks each worker prices at once (default: CPUs / workers)")
	f.StringSliceVar(&scenarios, "scenarios", []string{"BASE", "RATES_PARALLEL_1BP", "SPREAD_25BP", "FX_SPOT_1PCT"}, "scenarios to run")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole bench to this file")
	f.StringSliceVar(&measures, "measures", []string{"PV", "DV01", "CS01", "ACCRUED_INTEREST"}, "measures to compute")
	f.BoolVar(&modelSet, "model-set", false, "value the loans with the demo model set (behavioural cashflows)")
	f.IntVar(&histDays, "historical-days", 0, "also load this many business days of market history and add their 1-day historical scenario set to the run's scenarios (timed apart)")
	f.BoolVar(&replay, "verify", false, "also time the replay of the run (POST …/verify until its verdict), which must verify")
	return cmd
}

type benchOptions struct {
	Loans       int
	DB          config.Database
	Cfg         config.Config
	Workers     int
	Concurrency int
	Scenarios   []string
	Measures    []string
	// ModelSet values the loans with the demo model set.
	ModelSet bool
	// HistoryDays, when positive, loads that much market history first and
	// adds its 1-day historical scenario set to the scenarios.
	HistoryDays int
	// Verify times the replay of the run too.
	Verify bool
}

// benchPhase is one timed step.
type benchPhase struct {
	name  string
	took  time.Duration
	items int64
	unit  string
}

func runBench(ctx context.Context, out io.Writer, o benchOptions) error {
	logger := config.NewLogger(o.Cfg, os.Stderr)
	d, err := startDev(ctx, devOptions{
		Addr: "127.0.0.1:0", DB: o.DB, Cfg: o.Cfg, Workers: o.Workers, Concurrency: o.Concurrency,
		Logger: logger, Version: buildVersion(),
	})
	if err != nil {
		return err
	}
	phases, err := benchPhases(ctx, client.New(d.URL, demoToken(o.Cfg), nil), o)
	d.Stop()
	err = errors.Join(err, d.Wait())
	fmt.Fprintf(out, "iprs bench: %s loans × %d built-in scenarios (%v) on %s, %d CPUs, %d workers\n",
		client.FormatCount(int64(o.Loans)), len(o.Scenarios), o.Measures, o.DB.Driver, runtime.NumCPU(), max(o.Workers, 1))
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "phase\ttime\tthroughput\t")
	var total time.Duration
	for _, p := range phases {
		rate := ""
		if p.items > 0 && p.took > 0 {
			rate = fmt.Sprintf("%s %s/s", client.FormatCount(int64(float64(p.items)/p.took.Seconds())), p.unit)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t\n", p.name, p.took.Round(time.Millisecond), rate)
		if p.name != "summary" && p.name != "market upload" {
			total += p.took
		}
	}
	fmt.Fprintf(tw, "upload → COMPLETED\t%s\t\t\n", total.Round(time.Millisecond))
	tw.Flush()
	return err
}

func benchPhases(ctx context.Context, c *client.Client, o benchOptions) ([]benchPhase, error) {
	var phases []benchPhase
	stamp := time.Now().UTC().Format("20060102T150405.000000000")
	asOf := demoAsOf

	start := time.Now()
	marketID := "MKT-BENCH-" + stamp
	mkt, err := jsonReader(gen.MarketSnapshot(marketID, asOf))
	if err != nil {
		return nil, err
	}
	if _, _, err := c.PushMarketSnapshot(ctx, mkt); err != nil {
		return phases, fmt.Errorf("market snapshot: %w", err)
	}
	phases = append(phases, benchPhase{name: "market upload", took: time.Since(start)})

	// A node id of its own makes the book's content, and so its snapshot,
	// new on every bench run against a shared database.
	book := gen.Options{NodeID: "BENCH-" + stamp, AsOf: asOf, Loans: o.Loans, Seed: 1}
	pr, pw := io.Pipe()
	go func() {
		_, err := gen.WritePositionSnapshot(pw, book)
		pw.CloseWithError(err)
	}()
	start = time.Now()
	rec, _, err := c.PushPositionSnapshot(ctx, pr)
	pr.Close()
	if err != nil {
		return phases, fmt.Errorf("position snapshot: %w", err)
	}
	phases = append(phases, benchPhase{name: "position upload", took: time.Since(start), items: rec.PositionCount, unit: "positions"})

	req := map[string]any{
		"run_id":               "RUN-BENCH-" + stamp,
		"run_type":             "SANDBOX",
		"as_of_time":           asOf.Format(time.RFC3339),
		"market_snapshot_id":   marketID,
		"position_snapshot_id": rec.PositionSnapshotID,
		"measures":             o.Measures,
		"scenarios":            o.Scenarios,
	}
	if o.ModelSet {
		doc, err := jsonReader(gen.ModelSet("MS-BENCH-" + stamp))
		if err != nil {
			return phases, err
		}
		if _, _, err := c.PushModelSet(ctx, doc); err != nil {
			return phases, fmt.Errorf("model set: %w", err)
		}
		req["model_set_id"] = "MS-BENCH-" + stamp
	}
	setID := ""
	if o.HistoryDays > 0 {
		start = time.Now()
		var n int
		setID, n, err = benchHistoricalSet(ctx, c, asOf, o.HistoryDays, stamp)
		if err != nil {
			return phases, err
		}
		phases = append(phases, benchPhase{name: "market history and historical set", took: time.Since(start), items: int64(n), unit: "scenarios"})
		req["scenarios"] = append(anySlice(o.Scenarios), map[string]any{"scenario_set_id": setID})
	}

	start = time.Now()
	run, _, err := c.SubmitRun(ctx, req)
	if err != nil {
		return phases, fmt.Errorf("submit run: %w", err)
	}
	phases = append(phases, benchPhase{name: "run submit (checks, fan-out)", took: time.Since(start), items: rec.PositionCount, unit: "positions"})

	start = time.Now()
	done, err := c.WaitRun(ctx, run.RunID, 50*time.Millisecond, nil)
	if err != nil {
		return phases, fmt.Errorf("wait for run: %w", err)
	}
	if done.Status != "COMPLETED" {
		msg := ""
		if done.Error != nil {
			msg = ": " + *done.Error
		}
		return phases, fmt.Errorf("run %s ended %s%s", done.RunID, done.Status, msg)
	}
	phases = append(phases, benchPhase{name: "valuation (queued → COMPLETED)", took: time.Since(start),
		items: rec.PositionCount * int64(len(done.Scenarios)), unit: "valuations"})

	start = time.Now()
	if _, err := c.Summary(ctx, run.RunID); err != nil {
		return phases, fmt.Errorf("summary: %w", err)
	}
	phases = append(phases, benchPhase{name: "summary", took: time.Since(start), items: rec.PositionCount, unit: "positions"})
	if setID != "" {
		for _, by := range []string{"", "attr:state"} {
			start = time.Now()
			if _, err := c.VaR(ctx, run.RunID, setID, "0.9", by); err != nil {
				return phases, fmt.Errorf("VaR by %q: %w", by, err)
			}
			name := "VaR/ES of the book"
			if by != "" {
				name = "VaR/ES by " + by + " (first request)"
			}
			phases = append(phases, benchPhase{name: name, took: time.Since(start), items: rec.PositionCount, unit: "positions"})
		}
	}
	if o.Verify {
		start = time.Now()
		if _, err := c.VerifyRun(ctx, run.RunID); err != nil {
			return phases, fmt.Errorf("verify: %w", err)
		}
		v, err := c.WaitVerify(ctx, run.RunID, 50*time.Millisecond, nil)
		if err != nil {
			return phases, fmt.Errorf("wait for the replay: %w", err)
		}
		if v.Verified == nil || !*v.Verified {
			return phases, fmt.Errorf("replay %s ended %s and did not verify: %d mismatches", v.VerifyID, v.Status, v.MismatchCount)
		}
		phases = append(phases, benchPhase{name: "replay (verify → verdict)", took: time.Since(start),
			items: rec.PositionCount * int64(len(done.Scenarios)), unit: "valuations"})
	}
	return phases, nil
}

// benchHistoricalSet loads days business days of market history ending on
// asOf and builds their 1-day historical scenario set; it returns the
// set's id and scenario count.
func benchHistoricalSet(ctx context.Context, c *client.Client, asOf time.Time, days int, stamp string) (string, int, error) {
	hist := gen.History(asOf, days, 3)
	if len(hist) < 2 {
		return "", 0, fmt.Errorf("--historical-days %d: a historical set needs at least 2 days", days)
	}
	for _, snap := range hist {
		doc, err := jsonReader(snap)
		if err != nil {
			return "", 0, err
		}
		if _, _, err := c.PushMarketSnapshot(ctx, doc); err != nil {
			return "", 0, fmt.Errorf("market history: %w", err)
		}
	}
	id := "HIST-BENCH-" + stamp
	set, _, err := c.BuildHistoricalSet(ctx, client.HistoricalRequest{ScenarioSetID: id,
		From: hist[0]["as_of_time"].(string)[:10], To: hist[len(hist)-1]["as_of_time"].(string)[:10]})
	if err != nil {
		return "", 0, fmt.Errorf("historical set: %w", err)
	}
	return id, set.ScenarioCount, nil
}

func anySlice(xs []string) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}
