package results

import (
	"context"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/iprs/iprs/internal/exactsum"
	"github.com/iprs/iprs/internal/pricing"
	"github.com/iprs/iprs/internal/resultcodec"
	"github.com/iprs/iprs/internal/store"
)

// A comparison reads both runs' results in position id order and merges
// them. Within one position snapshot the store gives a run's rows in
// position id order (its key is run, snapshot, position), so each run is a
// k-way merge of one stream per snapshot, and the comparison merges the two
// runs' streams. Each snapshot stream reads ahead in a goroutine of its own,
// a few batches at most, so the database and the merge work at the same
// time and memory stays a few megabytes per snapshot, whatever the size of
// the runs.

// streamBatch is the number of decoded rows a snapshot stream hands over
// at once; streamAhead how many batches it may read ahead.
const (
	streamBatch = 1024
	streamAhead = 2
)

// entry is one result row's value of the compared measure.
type entry struct {
	id  string
	ok  bool    // the measure is present
	ccy string  // FX_DELTA's base currency; "" for the other measures
	x   float64 // the value
}

// snapStream is one snapshot's rows of a run, decoded by a goroutine that
// reads ahead.
type snapStream struct {
	ch  chan []entry
	err error // set before ch is closed
	buf []entry
	i   int
}

// startSnapStream starts reading the run's rows of one snapshot. The
// goroutine ends when the rows do or ctx is cancelled; wg counts it.
func startSnapStream(ctx context.Context, wg *sync.WaitGroup, st store.Store, v *runView, snapshotID string, si int, m pricing.Measure) *snapStream {
	ss := &snapStream{ch: make(chan []entry, streamAhead)}
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(ss.ch)
		var val pricing.Values
		n := len(v.run.Scenarios)
		batch := make([]entry, 0, streamBatch)
		send := func() error {
			select {
			case ss.ch <- batch:
				batch = make([]entry, 0, streamBatch)
				return nil
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		}
		err := st.ResultScan(ctx, store.ResultScanParams{RunID: v.run.ID, SnapshotID: snapshotID, ValuesOnly: true}, func(row *store.PositionResult) error {
			// Only the compared scenario is decoded; the others are
			// stepped over (their form still checked).
			if err := resultcodec.DecodeOne(row.Values, n, si, &val); err != nil {
				return fmt.Errorf("run %s position %s/%s: %w", v.run.ID, row.PositionSnapshotID, row.PositionID, err)
			}
			e := entry{id: row.PositionID}
			if x, ok := val.Get(m); ok {
				e.ok, e.x = true, x
				if m == pricing.FXDelta {
					e.ccy, _ = val.FXDeltaCurrency()
				}
			}
			batch = append(batch, e)
			if len(batch) == streamBatch {
				return send()
			}
			return nil
		})
		if err == nil && len(batch) > 0 {
			err = send()
		}
		ss.err = err
	}()
	return ss
}

// next returns the stream's next row, or nil at its end (with the error
// that ended it, if any). The entry is valid until the next call.
func (ss *snapStream) next() (*entry, error) {
	for ss.i >= len(ss.buf) {
		b, ok := <-ss.ch
		if !ok {
			ss.buf, ss.i = nil, 0
			return nil, ss.err
		}
		ss.buf, ss.i = b, 0
	}
	e := &ss.buf[ss.i]
	ss.i++
	return e, nil
}

// part is an amount in one currency ("" for every measure but FX_DELTA).
type part struct {
	ccy string
	x   float64
}

// runStream merges the snapshot streams of one run into one stream of
// distinct position ids. A position id in several snapshots of the run is
// one position whose value is the sum of its rows' values (exact, rounded
// once; per currency for FX_DELTA); it has the measure when any row has it.
type runStream struct {
	runID   string
	streams []*snapStream
	heads   []entry // the current row of each stream
	heap    []int   // the streams not at their end, a min-heap by head id

	// After next: the position id and its value (parts sorted by
	// currency; none when the measure is absent), valid until the next
	// call.
	id    string
	parts []part

	accs []ccyAcc // for a position id in several snapshots
	err  error
}

type ccyAcc struct {
	ccy string
	acc exactsum.Acc
	n   int
}

// newRunStream starts one stream per snapshot of the run.
func newRunStream(ctx context.Context, wg *sync.WaitGroup, st store.Store, v *runView, si int, m pricing.Measure) (*runStream, error) {
	rs := &runStream{runID: v.run.ID}
	for _, snap := range v.run.PositionSnapshotIDs {
		rs.streams = append(rs.streams, startSnapStream(ctx, wg, st, v, snap, si, m))
	}
	rs.heads = make([]entry, len(rs.streams))
	for i, ss := range rs.streams {
		e, err := ss.next()
		if err != nil {
			return nil, err
		}
		if e != nil {
			rs.heads[i] = *e
			rs.heap = append(rs.heap, i)
		}
	}
	for i := len(rs.heap)/2 - 1; i >= 0; i-- {
		rs.down(i)
	}
	return rs, nil
}

func (rs *runStream) less(a, b int) bool { return rs.heads[rs.heap[a]].id < rs.heads[rs.heap[b]].id }

func (rs *runStream) down(i int) {
	n := len(rs.heap)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		j := l
		if r := l + 1; r < n && rs.less(r, l) {
			j = r
		}
		if !rs.less(j, i) {
			return
		}
		rs.heap[i], rs.heap[j] = rs.heap[j], rs.heap[i]
		i = j
	}
}

// next moves to the next position id; false at the end or on an error
// (see err).
func (rs *runStream) next() bool {
	if rs.err != nil || len(rs.heap) == 0 {
		return false
	}
	rs.id = rs.heads[rs.heap[0]].id
	rs.parts = rs.parts[:0]
	rows := 0
	var single entry
	for len(rs.heap) > 0 && rs.heads[rs.heap[0]].id == rs.id {
		i := rs.heap[0]
		e := rs.heads[i]
		switch rows {
		case 0:
			single = e
		case 1:
			rs.resetAccs()
			rs.accumulate(single)
			rs.accumulate(e)
		default:
			rs.accumulate(e)
		}
		rows++
		nx, err := rs.streams[i].next()
		switch {
		case err != nil:
			rs.err = fmt.Errorf("compare: results of run %s: %w", rs.runID, err)
			return false
		case nx == nil:
			last := len(rs.heap) - 1
			rs.heap[0] = rs.heap[last]
			rs.heap = rs.heap[:last]
		case nx.id <= e.id:
			// The store's order is the merge's premise: never merge
			// on a broken one.
			rs.err = fmt.Errorf("compare: results of run %s: position %q after %q, not in position id order", rs.runID, nx.id, e.id)
			return false
		default:
			rs.heads[i] = *nx
		}
		rs.down(0)
	}
	switch {
	case rows == 1 && single.ok:
		rs.parts = append(rs.parts, part{ccy: single.ccy, x: single.x})
	case rows > 1:
		slices.SortFunc(rs.accs, func(a, b ccyAcc) int { return strings.Compare(a.ccy, b.ccy) })
		for i := range rs.accs {
			if rs.accs[i].n > 0 {
				rs.parts = append(rs.parts, part{ccy: rs.accs[i].ccy, x: rs.accs[i].acc.Sum()})
			}
		}
	}
	return true
}

func (rs *runStream) resetAccs() {
	for i := range rs.accs {
		rs.accs[i].acc.Reset()
		rs.accs[i].n = 0
	}
}

func (rs *runStream) accumulate(e entry) {
	if !e.ok {
		return
	}
	for i := range rs.accs {
		if rs.accs[i].ccy == e.ccy {
			rs.accs[i].acc.Add(e.x)
			rs.accs[i].n++
			return
		}
	}
	rs.accs = append(rs.accs, ccyAcc{ccy: e.ccy, n: 1})
	rs.accs[len(rs.accs)-1].acc.Add(e.x)
}

// totals accumulates each run's exact sums, per currency.
type totals struct {
	byCcy []totalAcc
}

type totalAcc struct {
	ccy          string
	base, target exactsum.Acc
}

func (t *totals) add(parts []part, target bool) {
	for _, p := range parts {
		var ta *totalAcc
		for i := range t.byCcy {
			if t.byCcy[i].ccy == p.ccy {
				ta = &t.byCcy[i]
				break
			}
		}
		if ta == nil {
			t.byCcy = append(t.byCcy, totalAcc{ccy: p.ccy})
			ta = &t.byCcy[len(t.byCcy)-1]
		}
		if target {
			ta.target.Add(p.x)
		} else {
			ta.base.Add(p.x)
		}
	}
}

// result rounds the totals once each, by currency: diff is the exact
// target − base, rounded once.
func (t *totals) result() []totalPart {
	out := make([]totalPart, 0, len(t.byCcy))
	for i := range t.byCcy {
		ta := &t.byCcy[i]
		var d exactsum.Acc
		d.AddAcc(&ta.target)
		d.SubAcc(&ta.base)
		out = append(out, totalPart{ccy: ta.ccy, base: ta.base.Sum(), target: ta.target.Sum(), diff: d.Sum(),
			inBase: ta.base.Count() > 0, inTarget: ta.target.Count() > 0})
	}
	slices.SortFunc(out, func(a, b totalPart) int { return strings.Compare(a.ccy, b.ccy) })
	return out
}

// tolerance decides whether two values of a position differ by more than
// the comparison allows.
type tolerance struct {
	abs, rel   float64  // the tolerances as doubles, for the quick test
	absR, relR *big.Rat // the tolerances exactly as the query gives them
}

// exceeds reports whether |t − b| > abs + rel·|b|, decided exactly on the
// numbers as the API writes them: each value as its shortest decimal that
// reads back as the same double, each tolerance as the decimal the query
// gave. So a difference exactly at the tolerance is never a break — 1 and
// 1.1 with abs_tol=0.1 match, though in binary 1.1 − 1 is
// 0.10000000000000009 and 0.1 is 0.1000000000000000055. Far from the
// boundary (nearly always) double arithmetic decides: its error against
// the decimals is below 2⁻⁵⁰ of the magnitudes involved.
func (tol *tolerance) exceeds(b, t float64) bool {
	if t == b {
		return false // the same number: a difference of 0
	}
	if tol.abs == 0 && tol.rel == 0 {
		return true // distinct doubles write distinct decimals
	}
	ab := math.Abs(b)
	d := math.Abs(t - b)
	lim := tol.abs + tol.rel*ab
	margin := 0x1p-50*(math.Abs(t)+ab+lim) + 0x1p-1000
	if !math.IsInf(d, 0) && !math.IsInf(margin, 0) {
		switch {
		case d-lim > margin:
			return true
		case lim-d > margin:
			return false
		}
	}
	x := new(big.Rat).Sub(decimalOf(t), decimalOf(b))
	x.Abs(x)
	y := new(big.Rat).Mul(tol.relR, decimalOf(ab))
	y.Add(y, tol.absR)
	return x.Cmp(y) > 0
}

// decimalOf is the exact value of x's shortest decimal representation,
// the number as the API writes it.
func decimalOf(x float64) *big.Rat {
	r, ok := new(big.Rat).SetString(strconv.FormatFloat(x, 'g', -1, 64))
	if !ok {
		// FormatFloat of a finite double always parses.
		return new(big.Rat).SetFloat64(x)
	}
	return r
}

// decimalDiff is t − b computed exactly on the numbers as the API writes
// them and rounded once to the nearest double (±Inf beyond the range).
func decimalDiff(t, b float64) float64 {
	d, _ := new(big.Rat).Sub(decimalOf(t), decimalOf(b)).Float64()
	return d
}

// computeCompare merges the two runs' results, writes the non-matching
// positions to the cache in chunks as it goes, and returns the head
// (counts, totals, chunk index), which the caller stores.
func (s *Service) computeCompare(ctx context.Context, cq *compareQuery, name string) (*compareHead, error) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	base, err := newRunStream(ctx, &wg, s.st, cq.base, cq.baseSI, cq.measure)
	if err != nil {
		return nil, fmt.Errorf("compare: results of run %s: %w", cq.base.run.ID, err)
	}
	target, err := newRunStream(ctx, &wg, s.st, cq.target, cq.targetSI, cq.measure)
	if err != nil {
		return nil, fmt.Errorf("compare: results of run %s: %w", cq.target.run.ID, err)
	}
	var (
		head = &compareHead{chunk: s.opts.CompareChunk}
		tot  totals
		tol  = tolerance{abs: cq.absTol, rel: cq.relTol, absR: cq.absTolR, relR: cq.relTolR}
		cw   = chunkWriter{ctx: ctx, st: s.st, runID: cq.base.run.ID, name: name, head: head, size: s.opts.CompareChunk}
	)
	hasB, hasT := base.next(), target.next()
	for hasB || hasT {
		switch {
		case hasB && (!hasT || base.id < target.id):
			head.counts.OnlyInBase++
			tot.add(base.parts, false)
			err = cw.add(base.id, statusOnlyInBase, base.parts, nil)
			hasB = base.next()
		case hasT && (!hasB || target.id < base.id):
			head.counts.OnlyInTarget++
			tot.add(target.parts, true)
			err = cw.add(target.id, statusOnlyInTarget, nil, target.parts)
			hasT = target.next()
		default:
			tot.add(base.parts, false)
			tot.add(target.parts, true)
			if differ(&tol, base.parts, target.parts) {
				head.counts.Breaks++
				err = cw.add(base.id, statusBreak, base.parts, target.parts)
			} else {
				head.counts.Matched++
			}
			hasB, hasT = base.next(), target.next()
		}
		if err != nil {
			return nil, err
		}
	}
	if base.err != nil {
		return nil, base.err
	}
	if target.err != nil {
		return nil, target.err
	}
	if err := cw.flush(); err != nil {
		return nil, err
	}
	head.totals = tot.result()
	return head, nil
}

// differ reports whether a position in both runs is a break: the measure
// present in one run only, or, in some currency, a difference beyond the
// tolerance (a currency missing from one side counts as 0 there).
func differ(tol *tolerance, b, t []part) bool {
	if len(b) == 0 || len(t) == 0 {
		return len(b) != len(t)
	}
	i, j := 0, 0
	for i < len(b) || j < len(t) {
		var x, y float64
		switch {
		case j == len(t) || (i < len(b) && b[i].ccy < t[j].ccy):
			x = b[i].x
			i++
		case i == len(b) || t[j].ccy < b[i].ccy:
			y = t[j].x
			j++
		default:
			x, y = b[i].x, t[j].x
			i++
			j++
		}
		if tol.exceeds(x, y) {
			return true
		}
	}
	return false
}
