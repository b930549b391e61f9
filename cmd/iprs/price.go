package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/iprs/iprs/internal/pricing"
	"github.com/spf13/cobra"
)

// maxReportedProblems bounds how many position problems `iprs price` prints.
const maxReportedProblems = 1000

// priceBatchSize is how many positions one pricing goroutine takes at once.
const priceBatchSize = 256

func newPriceCmd() *cobra.Command {
	var (
		marketPath, positionsPath string
		measuresFlag, scenarios   string
		asOfFlag                  string
		modelSetPath              string
	)
	cmd := &cobra.Command{
		Use:   "price --market M.json --positions P.json [--measures PV,DV01,…] [--scenarios BASE,…] [--as-of RFC3339] [--model-set MS.json]",
		Short: "Value a position snapshot offline, without a database",
		Long: `price values every position of a position snapshot under each scenario, with
the market of a market snapshot, exactly as a run does (SPEC §2), and writes one
JSON object per line to stdout: {"position_id":…,"scenario_id":…,"measures":{…}},
positions in file order, scenarios in the order given.

The files are the documents the services accept: a market snapshot
{snapshot_id, as_of_time, fx_spots, curves, …} and a position snapshot
{as_of_time, portfolio_node_id, positions:[…]} (a bare JSON array of positions
is accepted too); --positions - reads it from standard input. The positions
file is streamed, so it may be large.

Positions without attributes.as_of_date are valued as of the UTC date of
--as-of, which plays the run's as_of_time; without --as-of, the market
snapshot's as_of_time is used.

With --model-set, loans are valued with the behavioural assumptions of a
model set {model_set_id, rules:[…]} (prepayment, default, severity, recovery
lag; SPEC §4.1): each loan takes the first rule that matches it, the others
are valued contractually. WAL, EXPECTED_LOSS and KR01 are measures like the
others; KR01 is an object of ladders, {"USD-OIS":{"3M":…,…,"30Y":…}}.

Every position is checked before anything is written. If any position is
invalid (the checks of an upload) or cannot be valued with this market and
as-of date (the checks of a run), every problem goes to stderr, nothing to
stdout, and the exit status is non-zero.

  iprs price --market market.json --positions book.json --measures PV,DV01,CS01 --scenarios BASE,RATES_PARALLEL_1BP`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			measures, err := parseMeasureList(measuresFlag)
			if err != nil {
				return err
			}
			scenarioIDs, err := parseScenarioList(scenarios)
			if err != nil {
				return err
			}
			if marketPath == "" || positionsPath == "" {
				return errors.New("--market and --positions are required")
			}
			market, err := readMarket(marketPath)
			if err != nil {
				return err
			}
			asOf := market.AsOfTime()
			if asOfFlag != "" {
				asOf, err = time.Parse(time.RFC3339, asOfFlag)
				if err != nil {
					return fmt.Errorf("--as-of %q: want RFC 3339, like 2026-01-23T17:00:00Z", asOfFlag)
				}
			} else if asOf.IsZero() {
				return fmt.Errorf("market snapshot %s has no as_of_time: give --as-of", marketPath)
			}
			var opts []pricing.EngineOption
			if modelSetPath != "" {
				ms, err := readModelSet(modelSetPath)
				if err != nil {
					return err
				}
				opts = append(opts, pricing.WithModelSet(ms))
			}
			engine, err := pricing.NewEngine(market, scenarioIDs, measures, asOf, opts...)
			if err != nil {
				return fmt.Errorf("price: %w", err)
			}
			if positionsPath == "-" {
				// Positions are read twice (checked, then priced), so
				// standard input is kept in a temporary file.
				spool, err := spoolToFile(cmd.InOrStdin())
				if err != nil {
					return err
				}
				defer os.Remove(spool)
				positionsPath = spool
			}
			return pricePositions(cmd.Context(), engine, positionsPath, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&marketPath, "market", "", "market snapshot JSON file (required)")
	f.StringVar(&positionsPath, "positions", "", "position snapshot JSON file, - for standard input (required)")
	f.StringVar(&measuresFlag, "measures", "PV", "comma-separated measures: "+strings.Join(measureNames(), ","))
	f.StringVar(&scenarios, "scenarios", "BASE", "comma-separated scenarios: "+strings.Join(pricing.ScenarioIDs(), ","))
	f.StringVar(&asOfFlag, "as-of", "", "the run's as-of time, RFC 3339 (default: the market snapshot's as_of_time)")
	f.StringVar(&modelSetPath, "model-set", "", "model set JSON file: value loans with its behavioural assumptions")
	return cmd
}

// spoolToFile copies r to a new temporary file and returns its path.
func spoolToFile(r io.Reader) (string, error) {
	f, err := os.CreateTemp("", "iprs-positions-*.json")
	if err != nil {
		return "", fmt.Errorf("spool positions: %w", err)
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", fmt.Errorf("spool positions: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("spool positions: %w", err)
	}
	return f.Name(), nil
}

func measureNames() []string {
	var names []string
	for _, m := range pricing.Measures() {
		names = append(names, m.String())
	}
	return names
}

// splitList splits a comma-separated flag value, trimming blanks and
// refusing empty items and repeats.
func splitList(flag, value string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, item := range strings.Split(value, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return nil, fmt.Errorf("--%s %q: empty item", flag, value)
		}
		if seen[item] {
			return nil, fmt.Errorf("--%s: %s is given twice", flag, item)
		}
		seen[item] = true
		out = append(out, item)
	}
	return out, nil
}

func parseMeasureList(value string) ([]pricing.Measure, error) {
	items, err := splitList("measures", value)
	if err != nil {
		return nil, err
	}
	out := make([]pricing.Measure, 0, len(items))
	for _, s := range items {
		m, ok := pricing.ParseMeasure(s)
		if !ok {
			return nil, fmt.Errorf("--measures: unknown measure %q (known: %s)", s, strings.Join(measureNames(), ", "))
		}
		out = append(out, m)
	}
	return out, nil
}

func parseScenarioList(value string) ([]string, error) {
	items, err := splitList("scenarios", value)
	if err != nil {
		return nil, err
	}
	for _, s := range items {
		if !pricing.IsScenario(s) {
			return nil, fmt.Errorf("--scenarios: unknown scenario %q (known: %s)", s, strings.Join(pricing.ScenarioIDs(), ", "))
		}
	}
	return items, nil
}

func readMarket(path string) (*pricing.Market, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("market snapshot: %w", err)
	}
	defer f.Close()
	var d pricing.MarketData
	if err := json.NewDecoder(bufio.NewReader(f)).Decode(&d); err != nil {
		return nil, fmt.Errorf("market snapshot %s: %w", path, err)
	}
	m, err := pricing.NewMarket(d)
	if err != nil {
		return nil, fmt.Errorf("market snapshot %s: %w", path, err)
	}
	return m, nil
}

// eachPosition streams the positions of a position snapshot file (or of a
// bare JSON array) to fn with their index.
func eachPosition(ctx context.Context, path string, fn func(i int, in pricing.PositionInput) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("positions: %w", err)
	}
	defer f.Close()
	dec := json.NewDecoder(bufio.NewReaderSize(f, 1<<16))
	wrap := func(err error) error { return fmt.Errorf("positions file %s: %w", path, err) }
	tok, err := dec.Token()
	if err != nil {
		return wrap(err)
	}
	// items reads the elements of the positions array, whose '[' has
	// been read, and its closing ']'.
	items := func() error {
		for i := 0; dec.More(); i++ {
			if i%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			var in pricing.PositionInput
			if err := dec.Decode(&in); err != nil {
				return fmt.Errorf("positions[%d]: %w", i, err)
			}
			if err := fn(i, in); err != nil {
				return err
			}
		}
		_, err := dec.Token()
		return err
	}
	switch tok {
	case json.Delim('['):
		if err := items(); err != nil {
			return wrap(err)
		}
		return nil
	case json.Delim('{'):
	default:
		return wrap(errors.New("want a position snapshot object or a list of positions"))
	}
	found := false
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return wrap(err)
		}
		if key == "positions" {
			found = true
			tok, err := dec.Token()
			if err != nil {
				return wrap(err)
			}
			if d, ok := tok.(json.Delim); !ok || d != '[' {
				return wrap(errors.New(`"positions" must be a list`))
			}
			if err := items(); err != nil {
				return wrap(err)
			}
			continue
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return wrap(err)
		}
	}
	if !found {
		return wrap(errors.New(`no "positions" list`))
	}
	return nil
}

// pricePositions checks every position, then prices them in file order.
// Both passes parse on every core.
func pricePositions(ctx context.Context, e *pricing.Engine, path string, stdout, stderr io.Writer) error {
	// Pass 1: check everything before writing anything.
	ids := pricing.NewPositionIDs()
	problems, count := 0, 0
	report := func(i int, p pricing.Problem) {
		problems++
		if problems <= maxReportedProblems {
			fmt.Fprintf(stderr, "positions[%d]: %s\n", i, p.Error())
		}
	}
	err := inBatches(ctx, path,
		func(b *batch) error {
			b.problems = make([][]pricing.Problem, len(b.inputs))
			for k, in := range b.inputs {
				pos, probs := pricing.ParsePosition(in)
				if pos != nil {
					probs = e.Check(pos)
				}
				b.problems[k] = probs
			}
			return nil
		},
		func(b *batch) error {
			for k, in := range b.inputs {
				i := b.first + k
				count++
				if p, dup := ids.Add(i, in.PositionID); dup {
					report(i, p)
				}
				for _, p := range b.problems[k] {
					report(i, p)
				}
			}
			return nil
		})
	if err != nil {
		return err
	}
	if problems > 0 {
		if problems > maxReportedProblems {
			fmt.Fprintf(stderr, "… and %d more problems\n", problems-maxReportedProblems)
		}
		noun := "problems"
		if problems == 1 {
			noun = "problem"
		}
		return fmt.Errorf("%d %s in %d positions of %s; nothing priced", problems, noun, count, path)
	}

	// Pass 2: price, writing in file order.
	w := bufio.NewWriterSize(stdout, 1<<16)
	scenarios := e.Scenarios()
	err = inBatches(ctx, path,
		func(b *batch) error {
			var v pricing.Values
			for _, in := range b.inputs {
				pos, probs := pricing.ParsePosition(in)
				if pos == nil {
					return probs[0]
				}
				id, err := json.Marshal(pos.ID)
				if err != nil {
					return fmt.Errorf("encode position id: %w", err)
				}
				for s, sid := range scenarios {
					if err := e.Price(pos, s, &v); err != nil {
						return err
					}
					b.out = append(b.out, `{"position_id":`...)
					b.out = append(b.out, id...)
					b.out = append(b.out, `,"scenario_id":"`...)
					b.out = append(b.out, sid...)
					b.out = append(b.out, `","measures":`...)
					b.out = v.AppendJSON(b.out)
					b.out = append(b.out, '}', '\n')
				}
			}
			return nil
		},
		func(b *batch) error {
			if _, err := w.Write(b.out); err != nil {
				return fmt.Errorf("write results: %w", err)
			}
			return nil
		})
	if err != nil {
		return fmt.Errorf("price: %w", err)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	return nil
}

// batch is a run of consecutive positions of the file.
type batch struct {
	seq      int
	first    int // index in the file of inputs[0]
	inputs   []pricing.PositionInput
	problems [][]pricing.Problem // pass 1: each input's problems
	out      []byte              // pass 2: the result lines
}

// inBatches streams the positions file in batches to work, run on every
// core, and hands the batches to emit one at a time in file order. The
// first error of work or emit stops it and is returned.
func inBatches(ctx context.Context, path string, work, emit func(*batch) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	todo := make(chan *batch)
	done := make(chan *batch)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range todo {
				if err := work(b); err != nil {
					cancel(err)
					return
				}
				select {
				case done <- b:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() {
		wg.Wait()
		close(done)
	}()
	go func() {
		defer close(todo)
		cur := &batch{}
		send := func() bool {
			select {
			case todo <- cur:
				cur = &batch{seq: cur.seq + 1}
				return true
			case <-ctx.Done():
				return false
			}
		}
		err := eachPosition(ctx, path, func(i int, in pricing.PositionInput) error {
			if len(cur.inputs) == 0 {
				cur.first = i
			}
			cur.inputs = append(cur.inputs, in)
			if len(cur.inputs) == priceBatchSize && !send() {
				return context.Cause(ctx)
			}
			return nil
		})
		if err != nil {
			cancel(err)
			return
		}
		if len(cur.inputs) > 0 {
			send()
		}
	}()

	pending := map[int]*batch{}
	next := 0
	for b := range done {
		pending[b.seq] = b
		for nb, ok := pending[next]; ok; nb, ok = pending[next] {
			delete(pending, next)
			next++
			if ctx.Err() == nil {
				if err := emit(nb); err != nil {
					cancel(err)
				}
			}
		}
	}
	return context.Cause(ctx)
}
