package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iprs/iprs/internal/store"
)

// earlyWrite writes an upload's rows into a snapshot writer while the body
// is still being read (Options.WriteWhileReading), so that the store's
// work overlaps the reading and checking instead of following it. The
// rows also go to the spool as always: whenever the early write stops
// before the end (the body stopped giving rows for WriteWaitLimit, a
// problem was found, the id turned out to be another, a store failure)
// its transaction is rolled back and the write phase writes from the spool
// as it does without this option. A client that stalls therefore holds
// the store for at most WriteWaitLimit after its last byte; one that keeps
// sending, however slowly, holds one snapshot writer (on PostgreSQL a
// pooled connection), and at most maxEarlyWrites uploads of a service
// write early at once (the others write after their read).
//
// The writer is used by the earlyWrite's goroutine only until finish
// returns it.
type earlyWrite struct {
	id      string // the snapshot id the rows carry
	batches chan []*store.Position
	stop    chan struct{}
	stopped sync.Once
	done    chan struct{}

	// Set by the goroutine, read after done.
	w   store.PositionSnapshotWriter // when every batch was added
	err error
}

// maxEarlyWrites bounds the uploads of a Service that write while their
// body is read, so that slow clients hold at most that many store
// connections.
const maxEarlyWrites = 2

// errBodyIdle stops an early write whose body stalled.
var errBodyIdle = errors.New("the body stalled for the write wait limit")

// bodyClock follows an upload's body for its early write: how long since
// the last bytes arrived, unless it was read to its end.
type bodyClock struct {
	last  atomic.Int64 // UnixNano of the last bytes read
	ended atomic.Bool  // read to its end (or failed)
}

func newBodyClock() *bodyClock {
	c := &bodyClock{}
	c.last.Store(time.Now().UnixNano())
	return c
}

// saw records a Read's result.
func (c *bodyClock) saw(n int, err error) {
	if n > 0 {
		c.last.Store(time.Now().UnixNano())
	}
	if err != nil {
		c.ended.Store(true)
	}
}

// idle is how long the body gave no bytes; 0 once it ended.
func (c *bodyClock) idle() time.Duration {
	if c.ended.Load() {
		return 0
	}
	return time.Since(time.Unix(0, c.last.Load()))
}

// errEarlyStopped stops an early write that is not needed any more.
var errEarlyStopped = errors.New("stopped")

// startEarlyWrite begins the snapshot writer of id on a goroutine of its
// own and returns at once: beginning may wait for a concurrent upload of
// the same id, which must not stall the read.
func startEarlyWrite(ctx context.Context, st store.Store, id string, body *bodyClock, wait time.Duration) *earlyWrite {
	e := &earlyWrite{
		id:      id,
		batches: make(chan []*store.Position, 2),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go e.run(ctx, st, body, wait)
	return e
}

func (e *earlyWrite) run(ctx context.Context, st store.Store, body *bodyClock, wait time.Duration) {
	defer close(e.done)
	w, err := st.PositionSnapshotBegin(ctx, e.id)
	if err != nil {
		e.err = fmt.Errorf("begin position snapshot %s: %w", e.id, err)
		return
	}
	fail := func(err error) {
		_ = w.Rollback(context.WithoutCancel(ctx))
		e.err = err
	}
	tick := time.NewTicker(max(wait/4, time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case rows, ok := <-e.batches:
			if !ok {
				e.w = w
				return
			}
			if err := w.Add(ctx, rows); err != nil {
				fail(fmt.Errorf("add %d positions to snapshot %s: %w", len(rows), e.id, err))
				return
			}
		case <-tick.C:
			if body.idle() >= wait {
				fail(errBodyIdle)
				return
			}
		case <-e.stop:
			fail(errEarlyStopped)
			return
		}
	}
}

// send hands a batch to the writer; false when the early write has ended.
func (e *earlyWrite) send(rows []*store.Position) bool {
	select {
	case <-e.done:
		return false
	default:
	}
	select {
	case e.batches <- rows:
		return true
	case <-e.done:
		return false
	}
}

// finish hands over the last rows and waits for them to be added. It
// returns the writer, every row added and not committed, or why the early
// write ended (its transaction rolled back).
func (e *earlyWrite) finish(last []*store.Position) (store.PositionSnapshotWriter, error) {
	if len(last) > 0 && !e.send(last) {
		<-e.done
		return nil, e.err
	}
	close(e.batches)
	<-e.done
	return e.w, e.err
}

// abandon stops the early write and rolls its transaction back unless
// finish returned the writer (whose owner then commits or rolls back).
func (e *earlyWrite) abandon() {
	e.stopped.Do(func() { close(e.stop) })
	<-e.done
}
