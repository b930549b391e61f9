package results

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/pricing"
	"github.com/iprs/iprs/internal/store"
)

// Both runs of a comparison are finished, so its answer never changes: the
// first request merges the runs once and keeps, in the store's aggregate
// cache under the base run, the non-matching positions in chunks of
// Options.CompareChunk (written while the merge goes on, so memory stays bounded)
// and then a head with the counts, the totals and the first position id of
// each chunk. A page reads the head and the one or two chunks that hold
// the positions after its cursor. The head is written last, so a head
// found means every chunk is there; a merge that failed half-way leaves
// chunks that the next merge writes again with the same content (the first
// payload stored under a name stays, and a comparison is deterministic).
//
// The cache names hold everything the answer depends on: the target run's
// id and the time it completed (a run deleted and created again under the
// same id is another run), the measure, the scenario and both tolerances.
// RunDelete of the base run removes them with its other aggregates; those
// of a deleted target run stay under the base run (unreachable: the target
// is a 404 before the cache is read) until the base run goes too.

// DefaultCompareChunk is the number of non-matching positions per cached
// chunk of a comparison when Options.CompareChunk is 0.
const DefaultCompareChunk = 2048

// compareVersion is the version of the cached encoding, part of its names.
const compareVersion = "1"

// Item statuses as cached.
const (
	statusOnlyInBase byte = iota + 1
	statusOnlyInTarget
	statusBreak
)

var statusNames = [...]string{statusOnlyInBase: StatusOnlyInBase, statusOnlyInTarget: StatusOnlyInTarget, statusBreak: StatusBreak}

// compareHead is what a comparison knows once both runs are merged.
type compareHead struct {
	counts CompareCounts
	totals []totalPart // by currency ("" for every measure but FX_DELTA)
	chunk  int         // positions per chunk, part of the chunks' names
	firsts []string    // the first position id of each chunk of items
}

// totalPart is the totals in one currency, each rounded once; inBase and
// inTarget say whether any position of that run has the currency.
type totalPart struct {
	ccy                string
	base, target, diff float64
	inBase, inTarget   bool
}

// compareName is the cache name of a comparison's head under the base run.
func compareName(cq *compareQuery) string {
	completed := ""
	if c := cq.target.run.CompletedAt; c != nil {
		completed = strconv.FormatInt(c.UnixMicro(), 10)
	}
	return "compare" + compareVersion + "|" + strconv.Quote(cq.target.run.ID) + "|" + completed + "|" +
		cq.measure.String() + "|" + strconv.Quote(cq.scenario) + "|" +
		cq.absTolR.RatString() + "|" + cq.relTolR.RatString()
}

// chunkName names chunk i of a comparison cached in chunks of size
// positions: processes configured with other sizes never read each
// other's chunks.
func chunkName(name string, size, i int) string {
	return name + "|items/" + strconv.Itoa(size) + "|" + strconv.Itoa(i)
}

// compareSummary returns the comparison's head from the cache, or merges
// the runs (once, however many requests ask at the same time) and caches
// it.
func (s *Service) compareSummary(ctx context.Context, cq *compareQuery) (*compareHead, error) {
	name := compareName(cq)
	baseID := cq.base.run.ID
	payload, err := s.st.RunAggregateGet(ctx, baseID, name)
	if err == nil {
		return decodeHead(payload)
	}
	if !errors.Is(err, apperr.ErrNotFound) {
		return nil, err
	}
	ch := s.flight.DoChan(baseID+"\x00"+name, func() (any, error) {
		// The merge serves every waiting request: it must not end with
		// the first one's context.
		ctx := context.WithoutCancel(ctx)
		head, err := s.computeCompare(ctx, cq, name)
		if err != nil {
			return nil, err
		}
		if err := s.st.RunAggregatePut(ctx, baseID, name, head.appendBinary(nil)); err != nil {
			return nil, err
		}
		return head, nil
	})
	select {
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*compareHead), nil
	}
}

// chunkWriter caches the non-matching positions in chunks.
type chunkWriter struct {
	ctx   context.Context
	st    store.Store
	runID string
	name  string
	head  *compareHead
	size  int // positions per chunk
	buf   []byte
	n     int
}

// add appends a non-matching position; nil parts are a missing side.
func (cw *chunkWriter) add(id string, status byte, base, target []part) error {
	if cw.n == 0 {
		cw.head.firsts = append(cw.head.firsts, id)
	}
	cw.buf = appendString(cw.buf, id)
	cw.buf = append(cw.buf, status)
	cw.buf = appendParts(cw.buf, base)
	cw.buf = appendParts(cw.buf, target)
	cw.n++
	if cw.n == cw.size {
		return cw.flush()
	}
	return nil
}

// flush stores the current chunk, if it has any position.
func (cw *chunkWriter) flush() error {
	if cw.n == 0 {
		return nil
	}
	i := len(cw.head.firsts) - 1
	payload := append(binary.AppendUvarint(nil, uint64(cw.n)), cw.buf...)
	if err := cw.st.RunAggregatePut(cw.ctx, cw.runID, chunkName(cw.name, cw.size, i), payload); err != nil {
		return fmt.Errorf("compare: cache chunk %d: %w", i, err)
	}
	cw.buf, cw.n = cw.buf[:0], 0
	return nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendFloat(b []byte, x float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
}

// appendParts encodes a side: the number of parts (0 for a missing side),
// then each currency and value.
func appendParts(b []byte, parts []part) []byte {
	b = binary.AppendUvarint(b, uint64(len(parts)))
	for _, p := range parts {
		b = appendString(b, p.ccy)
		b = appendFloat(b, p.x)
	}
	return b
}

func (h *compareHead) appendBinary(b []byte) []byte {
	for _, n := range []int64{h.counts.Matched, h.counts.OnlyInBase, h.counts.OnlyInTarget, h.counts.Breaks} {
		b = binary.AppendUvarint(b, uint64(n))
	}
	b = binary.AppendUvarint(b, uint64(len(h.totals)))
	for _, t := range h.totals {
		b = appendString(b, t.ccy)
		b = appendFloat(b, t.base)
		b = appendFloat(b, t.target)
		b = appendFloat(b, t.diff)
		var flags byte
		if t.inBase {
			flags |= 1
		}
		if t.inTarget {
			flags |= 2
		}
		b = append(b, flags)
	}
	b = binary.AppendUvarint(b, uint64(h.chunk))
	b = binary.AppendUvarint(b, uint64(len(h.firsts)))
	for _, id := range h.firsts {
		b = appendString(b, id)
	}
	return b
}

// errCorruptCompare reports a cached comparison that cannot be read.
var errCorruptCompare = errors.New("compare: corrupt cached comparison")

// reader reads the cached encodings, remembering the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	x, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errCorruptCompare
		return 0
	}
	r.b = r.b[n:]
	return x
}

// count reads a length that cannot exceed the bytes left.
func (r *reader) count() int {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.err = errCorruptCompare
		return 0
	}
	return int(n)
}

func (r *reader) string() string {
	n := r.count()
	if r.err != nil {
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.err = errCorruptCompare
		return 0
	}
	x := r.b[0]
	r.b = r.b[1:]
	return x
}

func (r *reader) float() float64 {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 8 {
		r.err = errCorruptCompare
		return 0
	}
	x := math.Float64frombits(binary.LittleEndian.Uint64(r.b))
	r.b = r.b[8:]
	return x
}

func (r *reader) parts() []part {
	n := r.count()
	if n == 0 || r.err != nil {
		return nil
	}
	out := make([]part, n)
	for i := range out {
		out[i] = part{ccy: r.string(), x: r.float()}
	}
	return out
}

func decodeHead(b []byte) (*compareHead, error) {
	r := &reader{b: b}
	h := &compareHead{}
	for _, n := range []*int64{&h.counts.Matched, &h.counts.OnlyInBase, &h.counts.OnlyInTarget, &h.counts.Breaks} {
		*n = int64(r.uvarint())
	}
	h.totals = make([]totalPart, r.count())
	for i := range h.totals {
		h.totals[i] = totalPart{ccy: r.string(), base: r.float(), target: r.float(), diff: r.float()}
		flags := r.byte()
		h.totals[i].inBase, h.totals[i].inTarget = flags&1 != 0, flags&2 != 0
	}
	h.chunk = int(min(r.uvarint(), math.MaxInt32))
	h.firsts = make([]string, r.count())
	for i := range h.firsts {
		h.firsts[i] = r.string()
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = errCorruptCompare
	}
	if r.err != nil {
		return nil, r.err
	}
	return h, nil
}

// cachedItem is a non-matching position as cached.
type cachedItem struct {
	id           string
	status       byte
	base, target []part
}

func decodeChunk(b []byte) ([]cachedItem, error) {
	r := &reader{b: b}
	out := make([]cachedItem, r.count())
	for i := range out {
		it := &out[i]
		it.id = r.string()
		it.status = r.byte()
		if r.err == nil && (it.status == 0 || int(it.status) >= len(statusNames)) {
			r.err = errCorruptCompare
		}
		it.base = r.parts()
		it.target = r.parts()
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = errCorruptCompare
	}
	if r.err != nil {
		return nil, r.err
	}
	return out, nil
}

// comparePage reads the non-matching positions after the cursor from the
// cached chunks: up to one more than the page, so PageOf can tell whether
// another page follows.
func (s *Service) comparePage(ctx context.Context, cq *compareQuery, head *compareHead) ([]CompareItem, error) {
	want := cq.page.Limit + 1
	name := compareName(cq)
	j := 0
	if cq.hasAfter {
		// The last chunk that starts at or before the cursor.
		j = max(0, sort.Search(len(head.firsts), func(k int) bool { return head.firsts[k] > cq.after })-1)
	}
	items := make([]CompareItem, 0, min(want, 64))
	for ; j < len(head.firsts) && len(items) < want; j++ {
		payload, err := s.st.RunAggregateGet(ctx, cq.base.run.ID, chunkName(name, head.chunk, j))
		if err != nil {
			return nil, fmt.Errorf("compare: cached chunk %d of %s: %w", j, name, err)
		}
		chunk, err := decodeChunk(payload)
		if err != nil {
			return nil, fmt.Errorf("compare: cached chunk %d of %s: %w", j, name, err)
		}
		for _, c := range chunk {
			if cq.hasAfter && c.id <= cq.after {
				continue
			}
			it, err := c.item(cq.measure)
			if err != nil {
				return nil, err
			}
			items = append(items, it)
			if len(items) == want {
				break
			}
		}
	}
	return items, nil
}

// item renders a cached position: values as numbers, or for FX_DELTA as
// objects by currency; Diff is Target − Base (per currency, a currency
// missing from one side counting as 0 there), null when a side is.
func (c *cachedItem) item(m pricing.Measure) (CompareItem, error) {
	it := CompareItem{PositionID: c.id, Status: statusNames[c.status]}
	perCcy := m.Spec().Aggregation == pricing.PerCurrency
	side := func(parts []part) any {
		switch {
		case len(parts) == 0:
			return nil
		case perCcy:
			out := make(map[string]float64, len(parts))
			for _, p := range parts {
				out[p.ccy] = p.x
			}
			return out
		default:
			return parts[0].x
		}
	}
	it.Base, it.Target = side(c.base), side(c.target)
	if it.Base == nil || it.Target == nil {
		return it, nil
	}
	if !perCcy {
		d := decimalDiff(c.target[0].x, c.base[0].x)
		if math.IsInf(d, 0) {
			return it, diffNotFinite(m, c.id)
		}
		it.Diff = d
		return it, nil
	}
	d := make(map[string]float64, len(c.base)+len(c.target))
	for _, p := range c.target {
		d[p.ccy] = p.x // as target − 0
	}
	for _, p := range c.base {
		t := 0.0
		for _, q := range c.target {
			if q.ccy == p.ccy {
				t = q.x
			}
		}
		d[p.ccy] = decimalDiff(t, p.x)
		if math.IsInf(d[p.ccy], 0) {
			return it, diffNotFinite(m, c.id)
		}
	}
	it.Diff = d
	return it, nil
}

func diffNotFinite(m pricing.Measure, positionID string) error {
	return apperr.Errorf(apperr.Unprocessable, "the difference of %s for position %s is beyond the range of a double", m, quote(positionID))
}

// totalsOut renders the totals: numbers (0 where no position has the
// measure), or for FX_DELTA objects by currency. A total beyond the range
// of a double is a 422, as in a summary.
func (h *compareHead) totalsOut(m pricing.Measure) (CompareTotals, error) {
	for _, t := range h.totals {
		for _, x := range []float64{t.base, t.target, t.diff} {
			if math.IsInf(x, 0) || math.IsNaN(x) {
				what := "the totals of " + m.String()
				if t.ccy != "" {
					what += " in " + t.ccy
				}
				return CompareTotals{}, apperr.Errorf(apperr.Unprocessable, "%s are beyond the range of a double", what)
			}
		}
	}
	if m.Spec().Aggregation != pricing.PerCurrency {
		var out CompareTotals
		out.Base, out.Target, out.Diff = 0.0, 0.0, 0.0
		if len(h.totals) > 0 {
			t := h.totals[0]
			out.Base, out.Target, out.Diff = t.base, t.target, t.diff
		}
		return out, nil
	}
	base, target, diff := map[string]float64{}, map[string]float64{}, map[string]float64{}
	for _, t := range h.totals {
		if t.inBase {
			base[t.ccy] = t.base
		}
		if t.inTarget {
			target[t.ccy] = t.target
		}
		diff[t.ccy] = t.diff
	}
	return CompareTotals{Base: base, Target: target, Diff: diff}, nil
}
