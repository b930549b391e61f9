package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/iprs/iprs/internal/client"
	"github.com/iprs/iprs/internal/config"
	"github.com/iprs/iprs/internal/gen"
	"github.com/iprs/iprs/internal/loadgen"
	"github.com/spf13/cobra"
)

// defaultCubes are the cube groupings of `iprs bench load`: the two the
// tasks aggregate as they complete, three attributes of the generated
// loans (one in FICO bands) and the origination quarter.
var defaultCubes = []string{
	"by=product_type",
	"by=portfolio_node_id",
	"by=attr:state",
	"by=attr:loan_program",
	"by=attr:fico&bands=580,620,660,700,740,780",
	"by=vintage",
}

// loadClasses are the request classes of `iprs bench load`, in the order
// of --mix.
var loadClasses = []string{"summary", "cube", "page", "position"}

func newBenchLoadCmd(a *app) *cobra.Command {
	var (
		f        clientFlags
		runID    string
		clients  int
		duration time.Duration
		timeout  time.Duration
		mix      string
		cubes    []string
		seed     uint64
		maxIDs   int
		loans    string
		database string
		profile  string
	)
	cmd := &cobra.Command{
		Use:   "load",
		Short: "Load a finished run's results routes with concurrent clients and report latencies",
		Long: `load sends requests to the results routes of one run from --clients concurrent
clients, each sending its next request as soon as the previous one is answered,
for --duration, and prints per class of request the requests, the errors (a
transport error, a status other than 200, a body that is not JSON, or no answer
within --timeout) and the latency percentiles p50, p90, p99 and max, then the
same for each cube grouping and over all requests. It exits with status 1 when
any request failed.

The mix (--mix, weights in percent) is of four classes:

  summary    GET /results/runs/{id}/summary
  cube       GET /results/runs/{id}/cube, one of the --cube groupings (default:
             product_type, portfolio_node_id, attr:state, attr:loan_program,
             attr:fico in bands, vintage) with a measure and a scenario of the
             run drawn at random
  page       GET /results/runs/{id}/positions (100 items), from the start or
             from a cursor drawn from those the run's pages give out, under
             every scenario or one drawn at random
  position   GET /results/runs/{id}/positions/{position_id}, a position of the
             run drawn at random

Before the clock starts, load reads the run's summary and pages through its
positions (1,000 per page, up to --max-positions) to learn its scenarios,
measures, position ids and page cursors; only results routes are used.

With --run, the run is read at --url (a running platform or results service).
Without it, load starts the platform in this process on a database of its own,
as bench does (--database, --loans), values a generated book and loads that
run; the clients then share this process's CPUs with the platform.

  iprs bench load --run RUN-1 --clients 200 --duration 60s
  iprs bench load --loans 10k --clients 50 --duration 20s

` + clientHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			weights, err := parseMix(mix)
			if err != nil {
				return fmt.Errorf("--mix: %w", err)
			}
			for _, q := range cubes {
				if v, err := url.ParseQuery(q); err != nil || v.Get("by") == "" {
					return fmt.Errorf("--cube %q: want a query such as by=attr:state or by=attr:fico&bands=620,700", q)
				}
			}
			lo := loadOptions{CPUProfile: profile, Clients: clients, Duration: duration, Timeout: timeout, Weights: weights,
				Cubes: cubes, Seed: seed, MaxPositions: maxIDs}
			out := cmd.OutOrStdout()
			ctx := cmd.Context()
			if runID != "" {
				if cmd.Flags().Changed("loans") || cmd.Flags().Changed("database") {
					return errors.New("--run loads a run of a running platform: --loans and --database are for a platform of its own")
				}
				return runLoad(ctx, out, f.url, f.bearer(), runID, lo)
			}
			n, err := gen.ParseCount(loans)
			if err != nil {
				return fmt.Errorf("--loans: %w", err)
			}
			return benchLoadOwn(ctx, out, a, n, database, lo)
		},
	}
	f.register(cmd, a)
	fl := cmd.Flags()
	fl.StringVar(&runID, "run", "", "the run to load, at --url (default: value a generated book on a platform of its own)")
	fl.IntVar(&clients, "clients", 50, "concurrent clients")
	fl.DurationVar(&duration, "duration", 60*time.Second, "how long clients send requests")
	fl.DurationVar(&timeout, "timeout", 30*time.Second, "a request not answered within this is an error")
	fl.StringVar(&mix, "mix", "summary=10,cube=20,page=40,position=30", "weights of the request classes")
	fl.StringArrayVar(&cubes, "cube", defaultCubes, "a cube grouping as query parameters (repeat the flag for each)")
	fl.Uint64Var(&seed, "seed", 1, "seed of the clients' random choices")
	fl.IntVar(&maxIDs, "max-positions", 200_000, "at most this many positions are learnt (and drawn from) before the clock starts")
	fl.StringVar(&loans, "loans", "100k", "without --run: loans in the generated book")
	fl.StringVar(&profile, "cpuprofile", "", "write a CPU profile of this process while it loads (without --run: the platform's too) to this file")
	fl.StringVar(&database, "database", "", "without --run: database URL, as for bench (default DATABASE_URL, else a temporary SQLite file)")
	return cmd
}

// loadOptions are the settings of one load.
type loadOptions struct {
	Clients      int
	Duration     time.Duration
	Timeout      time.Duration
	Weights      []int // per loadClasses
	Cubes        []string
	Seed         uint64
	MaxPositions int
	// CPUProfile, when not empty, is where a CPU profile of this process
	// during the load is written.
	CPUProfile string
}

// parseMix reads "summary=10,cube=20,…" into weights per loadClasses;
// classes not named weigh 0.
func parseMix(s string) ([]int, error) {
	weights := make([]int, len(loadClasses))
	for part := range strings.SplitSeq(s, ",") {
		name, w, ok := strings.Cut(strings.TrimSpace(part), "=")
		i := slices.Index(loadClasses, name)
		n, err := strconv.Atoi(w)
		if !ok || i < 0 || err != nil || n < 0 {
			return nil, fmt.Errorf("%q: want CLASS=WEIGHT with CLASS one of %s and WEIGHT a whole number", part, strings.Join(loadClasses, ", "))
		}
		weights[i] = n
	}
	if slices.Max(weights) == 0 {
		return nil, errors.New("no class has a positive weight")
	}
	return weights, nil
}

// benchLoadOwn starts the platform on a database of its own, values a
// generated book of n loans and loads its run.
func benchLoadOwn(ctx context.Context, out io.Writer, a *app, n int, database string, lo loadOptions) (err error) {
	cfg, err := config.Load(devEnv(a.getenv))
	if err != nil {
		return err
	}
	db := cfg.Database
	if database != "" {
		if db, err = config.ParseDatabaseURL(database); err != nil {
			return fmt.Errorf("--database: %w", err)
		}
	}
	db, drop, err := benchDatabase(ctx, db)
	if err != nil {
		return err
	}
	defer func() {
		if derr := drop(); derr != nil {
			err = errors.Join(err, derr)
		}
	}()
	d, err := startDev(ctx, devOptions{
		Addr: "127.0.0.1:0", DB: db, Cfg: cfg, Workers: 2,
		Logger: config.NewLogger(cfg, os.Stderr), Version: buildVersion(),
	})
	if err != nil {
		return err
	}
	defer func() {
		d.Stop()
		err = errors.Join(err, d.Wait())
	}()
	token := demoToken(cfg)
	bo := benchOptions{Loans: n, Scenarios: []string{"BASE", "RATES_PARALLEL_1BP", "SPREAD_25BP", "FX_SPOT_1PCT"},
		Measures: []string{"PV", "DV01", "CS01", "ACCRUED_INTEREST"}}
	phases, runID, err := benchPhases(ctx, client.New(d.URL, token, nil), bo)
	if err != nil {
		return err
	}
	var took time.Duration
	for _, p := range phases {
		took += p.took
	}
	fmt.Fprintf(out, "iprs bench load: valued %s loans on %s in %s (run %s)\n",
		client.FormatCount(int64(n)), db.Driver, took.Round(time.Millisecond), runID)
	return runLoad(ctx, out, d.URL, token, runID, lo)
}

// loadTarget is what load learns of a run before the clock starts.
type loadTarget struct {
	RunID     string
	Status    string
	Scenarios []string
	Measures  []string
	Positions []string // position ids, in page order
	Cursors   []string // next_cursor values of the pages read
}

// runLoad learns the run at baseURL, loads it and prints the report; an
// error when any request failed.
func runLoad(ctx context.Context, out io.Writer, baseURL, token, runID string, lo loadOptions) error {
	hc := &http.Client{Transport: &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		MaxIdleConns:        lo.Clients,
		MaxIdleConnsPerHost: lo.Clients,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}}
	defer hc.CloseIdleConnections()
	c := client.New(baseURL, token, hc)
	start := time.Now()
	t, err := learnRun(ctx, c, runID, lo.MaxPositions)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "iprs bench load: run %s (%s), %s positions learnt in %s, %d scenarios × %d measures, %d CPUs here\n",
		t.RunID, t.Status, client.FormatCount(int64(len(t.Positions))), time.Since(start).Round(time.Millisecond),
		len(t.Scenarios), len(t.Measures), runtime.NumCPU())
	stop, err := startCPUProfile(lo.CPUProfile)
	if err != nil {
		return err
	}
	rep := loadgen.Run(ctx, loadgen.Options{
		Clients: lo.Clients, Duration: lo.Duration, Timeout: lo.Timeout, Seed: lo.Seed,
		Next:   t.mix(lo),
		Expect: lo.expect(),
		Do: func(ctx context.Context, req loadgen.Request) error {
			return getJSON(ctx, c, req.Path)
		},
	})
	stop()
	printLoadReport(out, rep, lo)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if rep.All.Errors > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%d of %d requests failed", rep.All.Errors, rep.All.Requests)}
	}
	return nil
}

// getJSON sends a GET and reads the whole answer, which must be a 200 with
// a JSON body. Its errors do not name the path, so that the report counts
// failures of a kind together.
func getJSON(ctx context.Context, c *client.Client, path string) error {
	body, err := c.Stream(ctx, path)
	if err == nil {
		defer body.Close()
		var buf bytes.Buffer
		if _, err = buf.ReadFrom(body); err == nil && !json.Valid(buf.Bytes()) {
			return errors.New("the answer is not JSON")
		}
	}
	var p *client.Problem
	switch {
	case err == nil:
		return nil
	case errors.As(err, &p):
		return fmt.Errorf("%d %s", p.Status, p.Title)
	case errors.Is(err, context.DeadlineExceeded):
		return errors.New("no answer within --timeout")
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// learnRun reads the run's summary and pages through its positions.
func learnRun(ctx context.Context, c *client.Client, runID string, maxPositions int) (*loadTarget, error) {
	sum, err := c.Summary(ctx, runID)
	if err != nil {
		return nil, fmt.Errorf("summary of run %s: %w", runID, err)
	}
	t := &loadTarget{RunID: runID, Status: sum.Status}
	for sc, ss := range sum.Scenarios {
		t.Scenarios = append(t.Scenarios, sc)
		for m := range ss.Measures {
			if !slices.Contains(t.Measures, m) {
				t.Measures = append(t.Measures, m)
			}
		}
	}
	slices.Sort(t.Scenarios)
	slices.Sort(t.Measures)
	if len(t.Scenarios) == 0 || len(t.Measures) == 0 {
		return nil, fmt.Errorf("run %s has no results to load", runID)
	}
	base := "/results/runs/" + url.PathEscape(runID) + "/positions?limit=1000&scenario=" + url.QueryEscape(t.Scenarios[0])
	cursor := ""
	for len(t.Positions) < maxPositions {
		path := base
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		var page struct {
			Items []struct {
				PositionID string `json:"position_id"`
			} `json:"items"`
			NextCursor *string `json:"next_cursor"`
		}
		if _, err := c.Do(ctx, http.MethodGet, path, nil, "", &page); err != nil {
			return nil, fmt.Errorf("positions of run %s: %w", runID, err)
		}
		for _, it := range page.Items {
			t.Positions = append(t.Positions, it.PositionID)
		}
		if page.NextCursor == nil {
			break
		}
		cursor = *page.NextCursor
		t.Cursors = append(t.Cursors, cursor)
	}
	if len(t.Positions) == 0 {
		return nil, fmt.Errorf("run %s has no positions with results", runID)
	}
	return t, nil
}

// expect lists the classes and labels of the mix, so that the report has
// a row for each even when none of its requests was sent.
func (lo loadOptions) expect() []loadgen.Request {
	var out []loadgen.Request
	for i, class := range loadClasses {
		if lo.Weights[i] == 0 {
			continue
		}
		out = append(out, loadgen.Request{Class: class})
		switch class {
		case "cube":
			for _, q := range lo.Cubes {
				out = append(out, loadgen.Request{Class: class, Label: cubeLabel(q)})
			}
		case "page":
			out = append(out, loadgen.Request{Class: class, Label: "every scenario"}, loadgen.Request{Class: class, Label: "one scenario"})
		}
	}
	return out
}

// cubeLabel names a cube grouping (a --cube query) in the report.
func cubeLabel(q string) string {
	v, _ := url.ParseQuery(q)
	label := v.Get("by")
	if v.Has("bands") {
		label += " (bands)"
	}
	return label
}

// mix returns the request picker of the load.
func (t *loadTarget) mix(lo loadOptions) func(*rand.Rand) loadgen.Request {
	classes := loadgen.NewWeighted(loadClasses, lo.Weights)
	run := "/results/runs/" + url.PathEscape(t.RunID)
	pick := func(rng *rand.Rand, xs []string) string { return xs[rng.IntN(len(xs))] }
	return func(rng *rand.Rand) loadgen.Request {
		switch class := classes.Pick(rng); class {
		case "summary":
			return loadgen.Request{Class: class, Path: run + "/summary"}
		case "cube":
			q := pick(rng, lo.Cubes)
			v, _ := url.ParseQuery(q)
			label := cubeLabel(q)
			v.Set("measure", pick(rng, t.Measures))
			v.Set("scenario", pick(rng, t.Scenarios))
			return loadgen.Request{Class: class, Label: label, Path: run + "/cube?" + v.Encode()}
		case "page":
			v := url.Values{}
			label := "every scenario"
			if rng.IntN(2) == 0 {
				v.Set("scenario", pick(rng, t.Scenarios))
				label = "one scenario"
			}
			// One page in eight is a first page.
			if len(t.Cursors) > 0 && rng.IntN(8) != 0 {
				v.Set("cursor", pick(rng, t.Cursors))
			}
			path := run + "/positions"
			if len(v) > 0 {
				path += "?" + v.Encode()
			}
			return loadgen.Request{Class: class, Label: label, Path: path}
		default:
			return loadgen.Request{Class: class, Path: run + "/positions/" + url.PathEscape(pick(rng, t.Positions))}
		}
	}
}

// printLoadReport writes the report as a table.
func printLoadReport(out io.Writer, rep loadgen.Report, lo loadOptions) {
	fmt.Fprintf(out, "%d clients for %s (all answered after %s)\n", rep.Clients, lo.Duration, rep.Elapsed.Round(time.Millisecond))
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "class\trequests\terrors\treq/s\tp50\tp90\tp99\tmax\t")
	row := func(s loadgen.Stats) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%s\t%s\t%s\t%s\t\n", s.Name, s.Requests, s.Errors,
			loadgen.Rate(s.Requests, rep.Elapsed), ms(s.P50), ms(s.P90), ms(s.P99), ms(s.Max))
	}
	for _, s := range rep.Classes {
		row(s)
	}
	for _, s := range rep.Labels {
		s.Name = "  " + s.Name
		row(s)
	}
	row(rep.All)
	tw.Flush()
	if msgs := rep.Describe(); len(msgs) > 0 {
		fmt.Fprintln(out, "errors:")
		for _, m := range msgs {
			fmt.Fprintln(out, "  "+m)
		}
	}
}

// ms formats a latency in milliseconds with a precision that suits it.
func ms(d time.Duration) string {
	x := float64(d) / float64(time.Millisecond)
	switch {
	case x < 10:
		return strconv.FormatFloat(x, 'f', 2, 64) + " ms"
	case x < 100:
		return strconv.FormatFloat(x, 'f', 1, 64) + " ms"
	}
	return strconv.FormatFloat(x, 'f', 0, 64) + " ms"
}
