package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
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
		explain    bool
		cpuProfile string
		replay     bool
		schedules  bool
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Time a generated book end to end: upload, run, results",
		Long: `bench starts the platform in this process on a database of its own, which it
removes afterwards: a temporary SQLite file; or, with --database or DATABASE_URL,
a fresh schema in that PostgreSQL database, or a SQLite file that must not exist
yet (bench never writes into a database it did not create). It generates a book of
loans given by their terms, and times each phase through the HTTP API exactly as a
client sees it: market upload, position upload (streamed from a file the book is
written to before the clock starts, as iprs push positions does), run submission (pre-run
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
			stop, err := startCPUProfile(cpuProfile)
			if err != nil {
				return err
			}
			defer stop()
			return runBench(cmd.Context(), cmd.OutOrStdout(), benchOptions{
				Loans: n, DB: db, Cfg: cfg, Workers: workers, Concurrency: concurrent,
				Scenarios: scenarios, Measures: measures, ModelSet: modelSet, HistoryDays: histDays,
				Explain: explain, Verify: replay, Schedules: schedules,
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
	cmd.AddCommand(newBenchLoadCmd(a))
	f.BoolVar(&explain, "explain", false, "also value a second day (moved market; loans repaid, amended and new) and time the P&L explain between the two runs (apart from the totals)")
	f.BoolVar(&replay, "verify", false, "also time the replay of the run (POST …/verify until its verdict), which must verify")
	f.BoolVar(&schedules, "schedules", false, "give every loan its schedule as explicit cashflows (one row per remaining payment; the upload limit of the bench's platform is lifted to fit)")
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
	// Explain values a second day and times the explain of the two runs.
	Explain bool
	// Verify times the replay of the run too.
	Verify bool
	// Schedules gives every loan its schedule as explicit cashflows.
	Schedules bool
}

// startCPUProfile writes a CPU profile of this process to path until stop
// is called; with path empty it does nothing.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("start CPU profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// benchPhase is one timed step.
type benchPhase struct {
	name  string
	took  time.Duration
	items int64
	unit  string
	read  bool // an answer on the finished run, not part of upload → COMPLETED
}

func runBench(ctx context.Context, out io.Writer, o benchOptions) error {
	logger := config.NewLogger(o.Cfg, os.Stderr)
	if o.Schedules {
		// About 2.5 KiB a loan: a 1,000,000-loan book passes the default
		// limit of 2 GiB. The platform is the bench's own.
		o.Cfg.MaxUploadBytes = max(o.Cfg.MaxUploadBytes, 64<<30)
	}
	d, err := startDev(ctx, devOptions{
		Addr: "127.0.0.1:0", DB: o.DB, Cfg: o.Cfg, Workers: o.Workers, Concurrency: o.Concurrency,
		Logger: logger, Version: buildVersion(),
	})
	if err != nil {
		return err
	}
	phases, _, err := benchPhases(ctx, client.New(d.URL, demoToken(o.Cfg), nil), o)
	d.Stop()
	err = errors.Join(err, d.Wait())
	given := "by terms"
	if o.Schedules {
		given = "with explicit schedules"
	}
	fmt.Fprintf(out, "iprs bench: %s loans %s × %d built-in scenarios (%v) on %s, %d CPUs, %d workers\n",
		client.FormatCount(int64(o.Loans)), given, len(o.Scenarios), o.Measures, o.DB.Driver, runtime.NumCPU(), max(o.Workers, 1))
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "phase\ttime\tthroughput\t")
	var total time.Duration
	for _, p := range phases {
		rate := ""
		if p.items > 0 && p.took > 0 {
			rate = fmt.Sprintf("%s %s/s", client.FormatCount(int64(float64(p.items)/p.took.Seconds())), p.unit)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t\n", p.name, p.took.Round(time.Millisecond), rate)
		if !p.read && p.name != "market upload" {
			total += p.took
		}
	}
	fmt.Fprintf(tw, "upload → COMPLETED\t%s\t\t\n", total.Round(time.Millisecond))
	tw.Flush()
	return err
}

// writeBenchBook writes the book to a temporary file and returns it open,
// at its start; the caller closes and removes it.
func writeBenchBook(book gen.Options) (*os.File, error) {
	f, err := os.CreateTemp("", "iprs-bench-book-*.json")
	if err != nil {
		return nil, fmt.Errorf("book file: %w", err)
	}
	if _, err = gen.WritePositionSnapshot(f, book); err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("write the book to %s: %w", f.Name(), err)
	}
	return f, nil
}

// benchPhases values a generated book through the API, timing each phase;
// it returns the phases and the run's id.
func benchPhases(ctx context.Context, c *client.Client, o benchOptions) ([]benchPhase, string, error) {
	stamp := time.Now().UTC().Format("20060102T150405.000000000")
	phases, err := benchSteps(ctx, c, o, stamp)
	return phases, "RUN-BENCH-" + stamp, err
}

func benchSteps(ctx context.Context, c *client.Client, o benchOptions, stamp string) ([]benchPhase, error) {
	var phases []benchPhase
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
	// The book is written to a file before the clock starts and uploaded
	// from it, as `iprs push positions FILE` does: the upload is timed as
	// a client with its file sees it, without the generator's encoding on
	// the same cores.
	book := gen.Options{NodeID: "BENCH-" + stamp, AsOf: asOf, Loans: o.Loans, Seed: 1, Schedules: o.Schedules}
	file, err := writeBenchBook(book)
	if err != nil {
		return phases, err
	}
	defer func() {
		file.Close()
		os.Remove(file.Name())
	}()
	start = time.Now()
	rec, _, err := c.PushPositionSnapshot(ctx, file)
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
	phases = append(phases, benchPhase{name: "summary", took: time.Since(start), items: rec.PositionCount, unit: "positions", read: true})
	// A run of many scenarios exports its first scenario only (a 252-scenario
	// run of 100,000 loans would be 25 million lines).
	exportScenario := ""
	if len(done.Scenarios) > len(o.Scenarios) {
		exportScenario = done.Scenarios[0]
	}
	reads, err := benchReads(ctx, c, run.RunID, o.Measures[0], exportScenario)
	phases = append(phases, reads...)
	if err != nil {
		return phases, err
	}
	if o.Explain {
		start = time.Now()
		to, err := benchNextDay(ctx, c, book, req, stamp)
		if err != nil {
			return phases, err
		}
		phases = append(phases, benchPhase{name: "second day: market, book and run", took: time.Since(start), read: true})
		ex, err := benchExplain(ctx, c, run.RunID, to)
		for i := range ex {
			ex[i].read = true
		}
		phases = append(phases, ex...)
		if err != nil {
			return phases, err
		}
	}
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
			phases = append(phases, benchPhase{name: name, took: time.Since(start), items: rec.PositionCount, unit: "positions", read: true})
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

// benchReads times the answers of a finished run as a client sees them:
// cubes of measure by the groupings the tasks keep and by an attribute
// (first request, which scans, and again, from the cache), the first page
// of positions and the CSV export (of one scenario when exportScenario is
// not empty) read to its end.
func benchReads(ctx context.Context, c *client.Client, runID, measure, exportScenario string) ([]benchPhase, error) {
	var phases []benchPhase
	for _, q := range []struct{ by, name string }{
		{"product_type", "cube by product_type"},
		{"portfolio_node_id", "cube by portfolio_node_id"},
		{"attr:state", "cube by attr:state (first request)"},
		{"attr:state", "cube by attr:state (cached)"},
	} {
		start := time.Now()
		if _, err := c.Cube(ctx, runID, measure, q.by, ""); err != nil {
			return phases, fmt.Errorf("cube by %s: %w", q.by, err)
		}
		phases = append(phases, benchPhase{name: q.name + " (" + measure + ")", took: time.Since(start), read: true})
	}

	start := time.Now()
	var page json.RawMessage
	if _, err := c.Do(ctx, http.MethodGet, "/results/runs/"+url.PathEscape(runID)+"/positions?limit=100", nil, "", &page); err != nil {
		return phases, fmt.Errorf("positions page: %w", err)
	}
	phases = append(phases, benchPhase{name: "positions page (100 items)", took: time.Since(start), read: true})

	start = time.Now()
	body, err := c.ExportCSV(ctx, runID, exportScenario)
	if err != nil {
		return phases, fmt.Errorf("CSV export: %w", err)
	}
	defer body.Close()
	lines, err := countLines(body)
	if err != nil {
		return phases, fmt.Errorf("CSV export: %w", err)
	}
	name := "CSV export (every scenario, streamed)"
	if exportScenario != "" {
		name = "CSV export (" + exportScenario + " only, streamed)"
	}
	phases = append(phases, benchPhase{name: name, took: time.Since(start),
		items: max(lines-1, 0), unit: "rows", read: true})
	return phases, nil
}

// countLines counts the newlines of r.
func countLines(r io.Reader) (int64, error) {
	buf := make([]byte, 256<<10)
	var n int64
	for {
		k, err := r.Read(buf)
		n += int64(bytes.Count(buf[:k], []byte{'\n'}))
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}
