package results

import (
	"container/list"
	"strconv"
	"sync"

	"github.com/iprs/iprs/internal/agg"
)

// DefaultMemoBytes bounds the aggregate tables a results service keeps in
// memory, by their encoded size, when Options.MemoBytes is 0.
const DefaultMemoBytes = 32 << 20

// tableMemo keeps the aggregate tables of finished runs in memory, least
// recently used first out, within a budget of encoded bytes: a finished
// run's tables never change, so under many concurrent clients the summary
// and the cubes of a hot run are answered without a query or a decode. A
// table is only ever read once it is in the memo (agg.Table's reads do not
// modify it), so requests share it.
//
// Entries are keyed by the run's id and request time, so that a run purged
// and submitted again under the same id is not answered from its
// predecessor's tables; a purged run itself is never reached, since every
// request reads the run first.
type tableMemo struct {
	mu     sync.Mutex
	budget int
	used   int
	order  *list.List // of *memoEntry, most recently used first
	byKey  map[string]*list.Element
}

type memoEntry struct {
	key   string
	table *agg.Table
	size  int
}

func newTableMemo(budget int) *tableMemo {
	return &tableMemo{budget: budget, order: list.New(), byKey: map[string]*list.Element{}}
}

// memoKey names a table of a run.
func memoKey(v *runView, name string) string {
	return v.run.ID + "\x00" + strconv.FormatInt(v.run.RequestedAt.UnixNano(), 10) + "\x00" + name
}

// get returns the table under key, or nil.
func (m *tableMemo) get(key string) *agg.Table {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.byKey[key]
	if !ok {
		return nil
	}
	m.order.MoveToFront(e)
	return e.Value.(*memoEntry).table
}

// put keeps table under key, whose encoded size is size; a table larger
// than an eighth of the budget is not kept.
func (m *tableMemo) put(key string, table *agg.Table, size int) {
	if size > m.budget/8 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.byKey[key]; ok {
		return
	}
	m.byKey[key] = m.order.PushFront(&memoEntry{key: key, table: table, size: size})
	m.used += size
	for m.used > m.budget {
		last := m.order.Back()
		e := last.Value.(*memoEntry)
		m.order.Remove(last)
		delete(m.byKey, e.key)
		m.used -= e.size
	}
}
