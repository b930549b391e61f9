package results

import (
	"context"
	"fmt"
	"runtime"
	"slices"

	"golang.org/x/sync/errgroup"

	"github.com/iprs/iprs/internal/agg"
	"github.com/iprs/iprs/internal/pricing"
	"github.com/iprs/iprs/internal/resultcodec"
	"github.com/iprs/iprs/internal/store"
)

// scanBatchRows is the number of rows the scan hands to an aggregating
// goroutine at a time.
const scanBatchRows = 512

// scanTable aggregates the run's results by a grouping that the tasks did
// not keep, reading every row: the scenarios given (indices into the
// run's), the measures given, and the P&L vectors when pnl (a table with
// P&L keeps no measures: VaR reads the vectors only).
//
// The store's goroutine only keys each row and copies its bytes into a
// batch; one goroutine per CPU decodes and aggregates batches into a table
// of its own, and the tables are merged at the end. Exact sums merge
// exactly, so the figures do not depend on which goroutine took which row.
// The store reads its next chunk while the batches of the last are
// aggregated. Sum measures and P&L are read straight from the stored bytes
// (resultcodec.Scalars); other measures decode whole Values. With
// maxGroups > 0, a grouping with more keys ends the scan with errTooWide.
func (s *Service) scanTable(ctx context.Context, v *runView, g grouping, scen []int, measures []pricing.Measure, pnl bool, maxGroups int) (*agg.Table, error) {
	if pnl && len(measures) > 0 {
		return nil, fmt.Errorf("results: a scanned table keeps P&L or measures, not both")
	}
	names := make([]string, len(scen))
	for i, si := range scen {
		names[i] = v.run.Scenarios[si]
	}
	// Options.MaxScans scans at a time: more would only share the cores.
	select {
	case s.scans <- struct{}{}:
		defer func() { <-s.scans }()
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
	workers := runtime.GOMAXPROCS(0)
	tables := make([]*agg.Table, workers)
	batches := make(chan *scanBatch, workers)
	free := make(chan *scanBatch, 2*workers)
	eg, ectx := errgroup.WithContext(ctx)
	for w := range tables {
		tables[w] = agg.New(names, measures, pnl)
		a := newScanAgg(v, scen, measures, pnl, tables[w])
		eg.Go(func() error {
			for b := range batches {
				if err := a.addBatch(b); err != nil {
					return err
				}
				b.reset()
				select {
				case free <- b:
				default:
				}
			}
			return nil
		})
	}

	keys := make(map[string]string)     // interned group keys
	groups := make(map[string]struct{}) // the keys seen, when maxGroups bounds them
	var cur *scanBatch
	send := func() error {
		select {
		case batches <- cur:
			cur = nil
			return nil
		case <-ectx.Done():
			return context.Cause(ectx)
		}
	}
	p := store.ResultScanParams{RunID: v.run.ID, Attrs: g.attrs()}
	scanErr := s.st.ResultScan(ectx, p, func(row *store.PositionResult) error {
		if cur == nil {
			select {
			case cur = <-free:
			default:
				cur = new(scanBatch)
			}
		}
		key := g.internedKey(row, keys)
		if maxGroups > 0 {
			if _, ok := groups[key]; !ok {
				groups[key] = struct{}{}
				if len(groups) > maxGroups {
					return errTooWide
				}
			}
		}
		cur.add(key, row)
		if len(cur.keys) == scanBatchRows {
			return send()
		}
		return nil
	})
	if scanErr == nil && cur != nil && len(cur.keys) > 0 {
		scanErr = send()
	}
	close(batches)
	if err := eg.Wait(); err != nil {
		return nil, err
	}
	if scanErr != nil {
		return nil, scanErr
	}
	table := tables[0]
	for _, t := range tables[1:] {
		if err := table.Merge(t); err != nil {
			return nil, err
		}
	}
	return table, nil
}

// scanBatch is rows of a scan, keyed and copied out of the store's chunk.
type scanBatch struct {
	keys []string
	ids  []string // snapshot id and position id, for error messages
	ends []int    // vals[ends[i-1]:ends[i]] is row i's encoded values
	vals []byte
}

func (b *scanBatch) add(key string, row *store.PositionResult) {
	b.keys = append(b.keys, key)
	b.ids = append(b.ids, row.PositionSnapshotID, row.PositionID)
	b.vals = append(b.vals, row.Values...)
	b.ends = append(b.ends, len(b.vals))
}

func (b *scanBatch) reset() {
	b.keys, b.ids, b.ends, b.vals = b.keys[:0], b.ids[:0], b.ends[:0], b.vals[:0]
}

// scanAgg aggregates batches into one table.
type scanAgg struct {
	v        *runView
	scen     []int
	measures []pricing.Measure
	pnl      bool
	table    *agg.Table
	fast     bool // Sum measures or P&L only: read numbers, not Values

	// buffers
	all    []pricing.Values
	kept   []pricing.Values
	col    []float64 // one measure under every scenario of the run
	colHas []bool
	x      []float64 // [kept scenario·len(measures) + measure]
	has    []bool
	pv     []float64 // PV under each kept scenario
	pvHas  []bool
	base   int
}

func newScanAgg(v *runView, scen []int, measures []pricing.Measure, pnl bool, table *agg.Table) *scanAgg {
	n := len(v.run.Scenarios)
	a := &scanAgg{v: v, scen: scen, measures: measures, pnl: pnl, table: table,
		base: slices.Index(v.run.Scenarios, BaseScenario)}
	a.fast = !pnl || a.base >= 0
	for _, m := range measures {
		if m == pricing.KR01 || m.Aggregation() != pricing.Sum {
			a.fast = false
		}
	}
	if a.fast {
		a.col, a.colHas = make([]float64, n), make([]bool, n)
		a.x, a.has = make([]float64, len(scen)*len(measures)), make([]bool, len(scen)*len(measures))
		a.pv, a.pvHas = make([]float64, len(scen)), make([]bool, len(scen))
	} else {
		a.all, a.kept = make([]pricing.Values, n), make([]pricing.Values, len(scen))
	}
	return a
}

func (a *scanAgg) addBatch(b *scanBatch) error {
	start := 0
	for i, key := range b.keys {
		vals := b.vals[start:b.ends[i]]
		start = b.ends[i]
		if err := a.addRow(key, vals); err != nil {
			return fmt.Errorf("run %s position %s/%s: %w", a.v.run.ID, b.ids[2*i], b.ids[2*i+1], err)
		}
	}
	return nil
}

func (a *scanAgg) addRow(key string, vals []byte) error {
	if !a.fast {
		if err := resultcodec.Decode(vals, a.all); err != nil {
			return err
		}
		for i, si := range a.scen {
			a.kept[i] = a.all[si]
		}
		var base *pricing.Values
		if a.pnl && a.base >= 0 {
			base = &a.all[a.base]
		}
		a.table.Add(key, a.kept, base)
		return nil
	}
	if a.pnl {
		if err := resultcodec.Scalars(vals, pricing.PV, a.col, a.colHas); err != nil {
			return err
		}
		for i, si := range a.scen {
			a.pv[i], a.pvHas[i] = a.col[si], a.colHas[si]
		}
		a.table.AddPnL(key, a.pv, a.pvHas, a.col[a.base], a.colHas[a.base])
		return nil
	}
	nm := len(a.measures)
	for j, m := range a.measures {
		if err := resultcodec.Scalars(vals, m, a.col, a.colHas); err != nil {
			return err
		}
		for i, si := range a.scen {
			a.x[i*nm+j], a.has[i*nm+j] = a.col[si], a.colHas[si]
		}
	}
	a.table.AddSums(key, a.x, a.has)
	return nil
}
