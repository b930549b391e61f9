package worker

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// engineCache keeps the pricing setup of recently seen runs so that the
// tasks of one run, which arrive one after another on every goroutine,
// share one engine and its discount factor tables. It holds at most size
// runs (least recently used out) and builds each run's setup once, however
// many goroutines ask for it at the same time. Failed builds are not kept.
type engineCache struct {
	size  int
	build func(ctx context.Context, runID string) (*runSetup, error)

	mu    sync.Mutex
	byRun map[string]*list.Element // of *cacheEntry
	order *list.List               // front: most recently used
}

// buildTimeout bounds the building of one run's setup (reading the run
// and its market snapshot, building the scenario markets).
const buildTimeout = 2 * time.Minute

type cacheEntry struct {
	runID string
	done  chan struct{} // closed when setup or err is set
	setup *runSetup
	err   error
}

func newEngineCache(size int, build func(ctx context.Context, runID string) (*runSetup, error)) *engineCache {
	if size < 1 {
		size = 1
	}
	return &engineCache{size: size, build: build, byRun: make(map[string]*list.Element), order: list.New()}
}

// get returns the run's setup, building it when it is not cached. A caller
// whose ctx ends while another goroutine builds returns ctx's error; the
// build goes on for the others.
func (c *engineCache) get(ctx context.Context, runID string) (*runSetup, error) {
	c.mu.Lock()
	if el, ok := c.byRun[runID]; ok {
		c.order.MoveToFront(el)
		e := el.Value.(*cacheEntry)
		c.mu.Unlock()
		select {
		case <-e.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if e.err != nil {
			return nil, e.err
		}
		return e.setup, nil
	}
	e := &cacheEntry{runID: runID, done: make(chan struct{})}
	c.byRun[runID] = c.order.PushFront(e)
	for c.order.Len() > c.size {
		old := c.order.Back()
		c.order.Remove(old)
		delete(c.byRun, old.Value.(*cacheEntry).runID)
	}
	c.mu.Unlock()

	// The build serves every goroutine waiting for this run, so it must
	// not fail because the first caller gave up: it runs detached from
	// ctx, bounded by buildTimeout.
	go func() {
		bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), buildTimeout)
		defer cancel()
		e.setup, e.err = c.build(bctx, runID)
		if e.err != nil {
			c.mu.Lock()
			if el, ok := c.byRun[runID]; ok && el.Value.(*cacheEntry) == e {
				c.order.Remove(el)
				delete(c.byRun, runID)
			}
			c.mu.Unlock()
		}
		close(e.done)
	}()
	select {
	case <-e.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return e.setup, e.err
}

// len returns the number of runs cached.
func (c *engineCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
