package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/iprs/iprs/internal/auth"
	"github.com/iprs/iprs/internal/client"
	"github.com/iprs/iprs/internal/config"
	"github.com/iprs/iprs/internal/gen"
	"github.com/iprs/iprs/internal/pricing"
	"github.com/iprs/iprs/internal/service"
	"github.com/iprs/iprs/internal/web"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
)

// demoAsOf is the as-of time of the demo data, the close of 2026-01-23.
var demoAsOf = time.Date(2026, 1, 23, 17, 0, 0, 0, time.UTC)

func newDevCmd(a *app) *cobra.Command {
	var (
		addr       string
		dataDir    string
		noDemo     bool
		dayTwo     bool
		demoLoans  int
		demoDays   int
		workers    int
		concurrent int
	)
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run the whole platform in one process on a laptop, with a demo",
		Long: `dev runs marketdata, orchestrator, results and several workers in one process,
behind one listener that routes /mkt, /orch and /results as the load balancer does.
It stores everything in an embedded SQLite database under --data-dir unless
DATABASE_URL names PostgreSQL, applies the schema, and (unless --no-demo) loads a
demo: a market snapshot, a generated loan book with bonds and FX forwards, and a
run over every scenario and measure; then (unless --demo-day-two=false) the next
business day's market and book (loans paid, matured, prepaid, restructured and
new), its run, and the day-over-day comparison of the two runs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			getenv := devEnv(a.getenv)
			cfg, err := config.Load(getenv)
			if err != nil {
				return err
			}
			if cfg.Addr != "" && !cmd.Flags().Changed("addr") {
				addr = cfg.Addr
			}
			db := cfg.Database
			if db.Driver == "" {
				if err := os.MkdirAll(dataDir, 0o755); err != nil {
					return fmt.Errorf("create data directory: %w", err)
				}
				db = config.Database{Driver: config.DriverSQLite, Path: filepath.Join(dataDir, "iprs.db")}
			}
			logger := config.NewLogger(cfg, a.stderr)
			ctx := cmd.Context()
			d, err := startDev(ctx, devOptions{
				Addr: addr, DB: db, Cfg: cfg, Workers: workers, Concurrency: concurrent,
				Logger: logger, Version: buildVersion(),
			})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "IPRS %s is running at %s (database: %s)\n", d.version, d.URL, db.Redacted())
			if !noDemo {
				o := demoOptions{Loans: demoLoans, HistoryDays: demoDays, DayTwo: dayTwo, Explain: dayTwo}
				runID, err := loadDemo(ctx, client.New(d.URL, demoToken(cfg), nil), o, out)
				if err != nil && ctx.Err() == nil {
					d.Stop()
					return errors.Join(fmt.Errorf("load the demo: %w", err), d.Wait())
				}
				if err == nil {
					printTryThis(out, d.URL, runID, o.dayTwoRunID())
				}
			}
			fmt.Fprintln(out, "Press Ctrl+C to stop.")
			return d.Wait()
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", ":8080", "listen address")
	f.StringVar(&dataDir, "data-dir", ".iprs", "directory of the embedded SQLite database (when DATABASE_URL is unset)")
	f.BoolVar(&noDemo, "no-demo", false, "do not load the demo data and run")
	f.BoolVar(&dayTwo, "demo-day-two", true, "add the demo's second business day: its market, its book, its run and the comparison with the first")
	f.IntVar(&demoLoans, "demo-loans", 5000, "loans in the demo book")
	f.IntVar(&demoDays, "demo-history", demoHistoryDays, "business days of market history for the demo's historical VaR (at least 102 for a 99% VaR; 0 leaves it out)")
	f.IntVar(&workers, "workers", 2, "worker instances in the process, each claiming tasks like a separate worker service (0: none; run `iprs serve worker` on the same database)")
	f.IntVar(&concurrent, "worker-concurrency", 0, "tasks each worker prices at once (default: CPUs / workers, at least 1)")
	return cmd
}

// devEnv gives dev mode friendlier logging defaults: text lines at warn
// level, unless the environment chooses.
func devEnv(getenv func(string) string) func(string) string {
	return func(k string) string {
		v := getenv(k)
		if v != "" {
			return v
		}
		switch k {
		case config.EnvLogFormat:
			return "text"
		case config.EnvLogLevel:
			return "warn"
		}
		return v
	}
}

// demoToken is the token the demo loader presents: the first principal's
// that may read and write (the demo uploads, runs and reads), else the
// first one's (the demo then fails with a 403 naming the role it lacks).
func demoToken(cfg config.Config) string {
	for _, p := range cfg.Principals {
		if p.Has(auth.Read) && p.Has(auth.Write) {
			return p.Token()
		}
	}
	if len(cfg.Principals) > 0 {
		return cfg.Principals[0].Token()
	}
	return ""
}

// devOptions configure an in-process platform.
type devOptions struct {
	Addr        string
	DB          config.Database
	Cfg         config.Config
	Workers     int
	Concurrency int
	Logger      *slog.Logger
	Version     string
}

// devPlatform is every service and several workers in one process.
type devPlatform struct {
	URL     string
	version string
	st      openedStore
	cancel  context.CancelFunc
	g       *errgroup.Group
}

// startDev opens (and migrates) the database, listens on o.Addr and starts
// the services and workers. It returns once the listener accepts
// connections; Stop and Wait end it.
func startDev(ctx context.Context, o devOptions) (*devPlatform, error) {
	st, err := openStore(ctx, o.DB, o.Cfg, true, o.Logger)
	if err != nil {
		return nil, err
	}
	p := &platform{st: st, cfg: o.Cfg, logger: o.Logger, version: o.Version, webhookURLs: webhookPolicy(o.Cfg, true), driver: o.DB.Driver}
	routes := map[string]http.Handler{}
	for _, spec := range service.All() {
		if spec.Prefix == "" {
			continue
		}
		h, err := p.handler(spec)
		if err != nil {
			st.Close()
			return nil, err
		}
		routes[spec.Prefix] = h
		if spec.Name == service.Results {
			for _, path := range devPublicPrefixes() {
				routes[path] = h
			}
		}
	}
	root, reg := p.rootHandler()
	handler := web.ByPrefix(routes, root)

	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", o.Addr)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("listen on %s: %w", o.Addr, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return web.Serve(gctx, web.NewServer(o.Addr, handler, o.Logger), ln, shutdownGrace) })
	dispatcher := p.webhookDispatcher()
	g.Go(func() error { return dispatcher.Run(gctx) })
	// No workers is allowed: separate `iprs serve worker` processes on the
	// same database then do the pricing.
	workers := max(o.Workers, 0)
	conc := o.Concurrency
	if conc <= 0 {
		conc = max(runtime.GOMAXPROCS(0)/max(workers, 1), 1)
	}
	for i := range workers {
		w := p.newWorker(reg, fmt.Sprintf("dev-worker-%d", i+1), conc)
		g.Go(func() error { return w.Run(gctx) })
	}
	return &devPlatform{URL: listenURL(ln.Addr()), version: o.Version, st: st, cancel: cancel, g: g}, nil
}

// Stop begins a graceful shutdown.
func (d *devPlatform) Stop() { d.cancel() }

// Wait blocks until the platform has stopped (after Stop or when the
// context given to startDev ends) and closes the database.
func (d *devPlatform) Wait() error {
	err := d.g.Wait()
	d.cancel()
	return errors.Join(err, d.st.Close())
}

// listenURL is a URL a local client can reach the listener at.
func listenURL(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || tcp.IP.IsUnspecified() {
		port := 0
		if ok {
			port = tcp.Port
		}
		return fmt.Sprintf("http://localhost:%d", port)
	}
	return "http://" + tcp.String()
}

// rootHandler answers what is not under a service prefix: GET / (a
// redirect to the dashboard, as the load balancer does), /health for the
// whole process and /metrics of the workers.
func (p *platform) rootHandler() (http.Handler, *prometheus.Registry) {
	m, reg := p.rootMux()
	return m.Handler(), reg
}

// rootMux builds the routes of rootHandler.
func (p *platform) rootMux() (*web.Mux, *prometheus.Registry) {
	return p.workerMux(registerRoot)
}

// registerRoot adds the dev router's own route: "/" redirects to the
// dashboard, as the load balancer does.
func registerRoot(m *web.Mux) { m.Public("GET /{$}", rootRedirect()) }

// demoOptions size the demo: the loans of its book, the business days
// of market history behind its historical VaR (0: no VaR demo), whether
// it adds the second business day and, with it, whether it explains the
// P&L between the two days.
type demoOptions struct {
	Loans       int
	HistoryDays int
	DayTwo      bool
	Explain     bool
}

// demoRunID is the id of the demo's contractual run of a day.
func demoRunID(asOf time.Time, loans int) string {
	return fmt.Sprintf("RUN-DEMO-%s-%d", asOf.Format("20060102"), loans)
}

// dayTwoRunID is the id of the second day's run, "" without one.
func (o demoOptions) dayTwoRunID() string {
	if !o.DayTwo {
		return ""
	}
	return demoRunID(gen.NextBusinessDay(demoAsOf), o.Loans)
}

// loadDemo uploads the demo market and book and runs every scenario over
// them, printing progress to out, then the modelled run, the historical
// VaR and the second day (as o says). It returns the first day's run.
// Reloading into the same database is harmless: snapshots and runs are
// idempotent.
func loadDemo(ctx context.Context, c *client.Client, o demoOptions, out io.Writer) (string, error) {
	loans := o.Loans
	marketID := demoMarketID(demoAsOf)
	mkt, err := jsonReader(gen.MarketSnapshot(marketID, demoAsOf))
	if err != nil {
		return "", err
	}
	rec, _, err := c.PushMarketSnapshot(ctx, mkt)
	if err != nil {
		return "", fmt.Errorf("market snapshot: %w", err)
	}
	fmt.Fprintf(out, "demo: market snapshot %s (%s)\n", rec.SnapshotID, rec.DQStatus)

	book := gen.Demo(loans, demoAsOf)
	pr, pw := io.Pipe()
	go func() {
		_, err := gen.WritePositionSnapshot(pw, book)
		pw.CloseWithError(err)
	}()
	start := time.Now()
	prec, _, err := c.PushPositionSnapshot(ctx, pr)
	pr.Close()
	if err != nil {
		return "", fmt.Errorf("position snapshot: %w", err)
	}
	fmt.Fprintf(out, "demo: position snapshot %s: %s positions (%s) in %s\n", prec.PositionSnapshotID,
		client.FormatCount(prec.PositionCount), strings.Join(prec.ProductTypes, ", "), time.Since(start).Round(time.Millisecond))

	runID, err := demoEOD(ctx, c, demoRunID(demoAsOf, loans), demoAsOf, rec.SnapshotID, book.NodeID, out)
	if err != nil {
		return "", err
	}
	s, err := c.Summary(ctx, runID)
	if err != nil {
		return "", fmt.Errorf("summary: %w", err)
	}
	printSummary(out, s)
	if err := demoModelled(ctx, c, book.NodeID, rec.SnapshotID, loans, out); err != nil {
		return "", err
	}
	if o.HistoryDays > 0 {
		if err := demoVaR(ctx, c, book.NodeID, loans, o.HistoryDays, out); err != nil {
			return "", err
		}
	}
	if o.DayTwo {
		if err := demoDayTwo(ctx, c, book, runID, o.Explain, out); err != nil {
			return "", err
		}
	}
	return runID, nil
}

// demoEOD submits and watches the demo's contractual run of a day: every
// stored measure under every built-in scenario.
func demoEOD(ctx context.Context, c *client.Client, runID string, asOf time.Time, marketID, nodeID string, out io.Writer) (string, error) {
	run, _, err := c.SubmitRun(ctx, map[string]any{
		"run_id":             runID,
		"run_type":           "EOD_OFFICIAL",
		"as_of_time":         asOf.Format(time.RFC3339),
		"market_snapshot_id": marketID,
		"portfolio_scope":    map[string]any{"node_ids": []string{nodeID}},
		"measures":           storedMeasures(),
		"scenarios":          pricing.ScenarioIDs(),
	})
	if err != nil {
		return "", fmt.Errorf("run %s: %w", runID, err)
	}
	if err := watchRun(ctx, out, c, run.RunID); err != nil {
		return "", err
	}
	return run.RunID, nil
}

// demoModelSetID is the demo model set's id: the one the compat run
// request names, so that request works against `iprs dev` as it is.
const demoModelSetID = "MODELSET-DEMO-001"

// demoModelled stores the demo model set (prepayment and default by
// program and FICO band) and values the book with it: the same loans with
// behavioural cashflows, their WAL and expected loss.
func demoModelled(ctx context.Context, c *client.Client, nodeID, marketID string, loans int, out io.Writer) error {
	doc, err := jsonReader(gen.ModelSet(demoModelSetID))
	if err != nil {
		return err
	}
	ms, _, err := c.PushModelSet(ctx, doc)
	if err != nil {
		return fmt.Errorf("model set: %w", err)
	}
	fmt.Fprintf(out, "\ndemo: model set %s (%d rules)\n", ms.ModelSetID, ms.RuleCount)
	run, _, err := c.SubmitRun(ctx, map[string]any{
		"run_id":             fmt.Sprintf("RUN-DEMO-%s-%d-MODELLED", demoAsOf.Format("20060102"), loans),
		"run_type":           "SANDBOX",
		"as_of_time":         demoAsOf.Format(time.RFC3339),
		"market_snapshot_id": marketID,
		"portfolio_scope":    map[string]any{"node_ids": []string{nodeID}},
		"model_set_id":       demoModelSetID,
		"measures":           []string{"PV", "DV01", "CS01", "WAL", "EXPECTED_LOSS"},
		"scenarios":          []string{"BASE", "RATES_PARALLEL_1BP", "SPREAD_25BP"},
	})
	if err != nil {
		return fmt.Errorf("modelled run: %w", err)
	}
	if err := watchRun(ctx, out, c, run.RunID); err != nil {
		return err
	}
	s, err := c.Summary(ctx, run.RunID)
	if err != nil {
		return fmt.Errorf("summary: %w", err)
	}
	printSummary(out, s)
	return nil
}

// demoHistoryDays is how many business days of market history the demo
// loads: a year, so that a 1-day historical set has about 250 scenarios
// and a 99% VaR its tail.
const demoHistoryDays = 252

// demoVaR loads a year of market history ending on the demo date, builds
// the 1-day historical scenario set from it, values the book's PV under
// BASE and every historical day, and prints VaR and ES at 99%, for the
// book and by state.
func demoVaR(ctx context.Context, c *client.Client, nodeID string, loans, days int, out io.Writer) error {
	hist := gen.History(demoAsOf, days, 7)
	if len(hist) < 2 {
		return fmt.Errorf("--demo-history %d: a historical set needs at least 2 days", days)
	}
	for _, snap := range hist {
		doc, err := jsonReader(snap)
		if err != nil {
			return err
		}
		if _, _, err := c.PushMarketSnapshot(ctx, doc); err != nil {
			return fmt.Errorf("market history: %w", err)
		}
	}
	first, last := hist[0]["as_of_time"].(string)[:10], hist[len(hist)-1]["as_of_time"].(string)[:10]
	setID := "HIST-DEMO-1D"
	set, _, err := c.BuildHistoricalSet(ctx, client.HistoricalRequest{ScenarioSetID: setID, From: first, To: last})
	if err != nil {
		return fmt.Errorf("historical scenario set: %w", err)
	}
	fmt.Fprintf(out, "\ndemo: %d market snapshots %s to %s; historical set %s with %d one-day scenarios\n",
		len(hist), first, last, set.ScenarioSetID, set.ScenarioCount)
	run, _, err := c.SubmitRun(ctx, map[string]any{
		"run_id":             fmt.Sprintf("RUN-DEMO-%s-%d-VAR", demoAsOf.Format("20060102"), loans),
		"run_type":           "SANDBOX",
		"as_of_time":         demoAsOf.Format(time.RFC3339),
		"market_snapshot_id": hist[len(hist)-1]["snapshot_id"],
		"portfolio_scope":    map[string]any{"node_ids": []string{nodeID}},
		"measures":           []string{"PV"},
		"scenarios":          []any{"BASE", map[string]any{"scenario_set_id": setID}},
	})
	if err != nil {
		return fmt.Errorf("historical run: %w", err)
	}
	if err := watchRun(ctx, out, c, run.RunID); err != nil {
		return err
	}
	confidence := "0.99" // needs 100 scenarios
	if set.ScenarioCount < 100 {
		confidence = "0.9"
	}
	if set.ScenarioCount < 10 {
		return nil
	}
	for _, by := range []string{"", "attr:state"} {
		items, err := c.VaR(ctx, run.RunID, setID, confidence, by)
		if err != nil {
			return fmt.Errorf("VaR: %w", err)
		}
		if len(items) > 8 {
			items = items[:8]
		}
		printVaR(out, by, confidence, items)
	}
	return nil
}

func printTryThis(out io.Writer, url, runID, dayTwoRunID string) {
	fmt.Fprintf(out, `
Open %[1]s/ for the dashboard; the API reference is %[1]s/openapi.json. Try:
  curl -s %[1]s/orch/runs/%[2]s
  curl -s '%[1]s/results/runs/%[2]s/summary'
  curl -s '%[1]s/results/runs/%[2]s/cube?measure=PV&by=attr:state&scenario=BASE'
  curl -s '%[1]s/results/runs/%[2]s/export.csv?scenario=BASE' | head
  go run ./cmd/iprs run summary %[2]s
  go run ./cmd/iprs run cube %[2]s --measure DV01 --by attr:loan_program
  go run ./cmd/iprs run var %[2]s-VAR --set HIST-DEMO-1D --by attr:state
  go run ./cmd/iprs run summary %[2]s-MODELLED
`, url, runID)
	if dayTwoRunID != "" {
		fmt.Fprintf(out, `  go run ./cmd/iprs run compare %[1]s %[2]s --max 20
  curl -s '%[3]s/results/compare?base=%[1]s&target=%[2]s&limit=5'
  the dashboard's day-over-day view: %[3]s/#/compare?base=%[1]s&target=%[2]s
  the dashboard's P&L explains: %[3]s/#/explains
`, runID, dayTwoRunID, url)
	}
	fmt.Fprint(out, `  go run ./cmd/iprs gen --loans 100k --market market.json -o book.json && \
    go run ./cmd/iprs push market market.json && go run ./cmd/iprs push positions book.json
`)
}
