package orchestrator

import (
	"encoding/json"
	"runtime"

	"github.com/iprs/iprs/internal/canon"
	"github.com/iprs/iprs/internal/pricing"
)

// preparedPosition is what reading one position needs that depends on its
// own bytes only: the decoded input, the problems ParsePosition finds, the
// canonical attributes and the position hash. Chunks of positions are prepared on every core
// while the decoder reads on; the pass then takes them in upload order for
// everything that depends on the positions before (problems in order,
// repeated ids, the snapshot hash, the rows).
type preparedPosition struct {
	raw      json.RawMessage   // a JSON upload's position
	cells    []string          // a CSV upload's row
	bad      badText           // members whose text was refused (CSV)
	pre      []pricing.Problem // problems found before parsing, all reported (CSV)
	in       pricing.PositionInput
	inErr    error // not a position object
	parse    []pricing.Problem
	attrs    []byte
	canonErr error
	hash     int64        // PositionHash of the position id
	facts    summaryFacts // for the snapshot's check summary, when parsed
}

// prepare decodes a JSON upload's position; a CSV upload's rows are
// prepared by csvLayout.prepare.
func (p *preparedPosition) prepare() {
	if p.inErr = p.in.UnmarshalJSON(p.raw); p.inErr != nil {
		return
	}
	p.parsePosition()
	p.attrs, p.canonErr = canon.Canonical(p.in.Attributes) // shares raw when canonical
	p.hash = PositionHash(p.in.PositionID)
}

// parsePosition checks the input with pricing.ParsePosition and keeps
// what the snapshot's check summary needs of the parsed position.
func (p *preparedPosition) parsePosition() {
	var pos *pricing.Position
	pos, p.parse = pricing.ParsePosition(p.in)
	if pos != nil && len(p.parse) == 0 {
		p.facts = factsOf(pos)
	}
}

// prepChunkSize is the number of positions prepared by one goroutine.
const prepChunkSize = 256

// prepChunk is a run of consecutive positions, first at index first.
type prepChunk struct {
	first int
	items []preparedPosition
	done  chan struct{}
}

// prepQueue prepares chunks concurrently and hands them back in order. At
// most depth chunks are in flight, so memory holds a bounded number of
// positions however long the upload is.
type prepQueue struct {
	depth   int
	prepare func(*preparedPosition)
	pending []*prepChunk
	cur     *prepChunk
	next    int // index of the next position read
}

// newPrepQueue returns a queue that prepares each position with prepare.
func newPrepQueue(prepare func(*preparedPosition)) *prepQueue {
	return &prepQueue{depth: 2 * runtime.GOMAXPROCS(0), prepare: prepare}
}

// add queues the next position, holding what prepare needs (the queue
// keeps it). When more than depth chunks are in flight it calls take with
// the oldest, once prepared, and returns take's error.
func (q *prepQueue) add(p preparedPosition, take func(*prepChunk) error) error {
	if q.cur == nil {
		q.cur = &prepChunk{first: q.next, items: make([]preparedPosition, 0, prepChunkSize), done: make(chan struct{})}
	}
	q.cur.items = append(q.cur.items, p)
	q.next++
	if len(q.cur.items) < prepChunkSize {
		return nil
	}
	q.dispatch()
	for len(q.pending) > q.depth {
		if err := q.takeOldest(take); err != nil {
			return err
		}
	}
	return nil
}

// drain dispatches the partial chunk and calls take with every chunk in
// flight, in order; it stops at take's first error.
func (q *prepQueue) drain(take func(*prepChunk) error) error {
	if q.cur != nil {
		q.dispatch()
	}
	for len(q.pending) > 0 {
		if err := q.takeOldest(take); err != nil {
			return err
		}
	}
	return nil
}

func (q *prepQueue) dispatch() {
	c := q.cur
	q.cur = nil
	q.pending = append(q.pending, c)
	go func() {
		defer close(c.done)
		for i := range c.items {
			q.prepare(&c.items[i])
		}
	}()
}

func (q *prepQueue) takeOldest(take func(*prepChunk) error) error {
	c := q.pending[0]
	q.pending[0] = nil
	q.pending = q.pending[1:]
	<-c.done
	return take(c)
}
