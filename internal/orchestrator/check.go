package orchestrator

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"sync"

	"github.com/iprs/iprs/internal/pricing"
	"github.com/iprs/iprs/internal/store"
)

// checkBatchSize is the number of positions a pre-run check worker takes
// at a time.
const checkBatchSize = 256

// missingData counts the positions that need a curve or FX pair the market
// lacks.
type missingData struct {
	kind       string // "curve" or "FX spot"
	id         string
	count      int64
	positionID string
	snapshotID string
}

// checkBatch is a run of consecutive positions checked by one worker; its
// findings are merged in scan order, so the answer does not depend on the
// number of workers.
type checkBatch struct {
	index     int
	positions []store.Position
	problems  []batchProblem
	missing   []missingRef
}

type batchProblem struct {
	snapshotID string
	detail     string
}

type missingRef struct {
	kind       string
	id         string
	positionID string
	snapshotID string
}

// checkPositions scans every position of the run against the market,
// parsing and checking positions on GOMAXPROCS workers. A curve or FX pair
// the market lacks is one problem however many positions need it; other
// problems are listed per position, in scan order.
func (s *Service) checkPositions(ctx context.Context, eng *pricing.Engine, snapshotIDs []string, pointers map[string]string, probs *problems) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := min(runtime.GOMAXPROCS(0), 8)
	todo := make(chan *checkBatch, 2*workers)
	done := make(chan *checkBatch, 2*workers)

	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range todo {
				checkBatchPositions(eng, b)
				select {
				case done <- b:
				case <-ctx.Done():
					return
				}
			}
		}()
	}

	// The merger adds findings to probs in batch order.
	missing := make(map[string]*missingData)
	var order []*missingData
	merged := make(chan struct{})
	go func() {
		defer close(merged)
		pending := make(map[int]*checkBatch)
		next := 0
		for b := range done {
			pending[b.index] = b
			for {
				b, ok := pending[next]
				if !ok {
					break
				}
				delete(pending, next)
				next++
				for _, p := range b.problems {
					probs.add(pointers[p.snapshotID], p.detail)
				}
				for _, m := range b.missing {
					key := m.kind + "\x00" + m.id
					md := missing[key]
					if md == nil {
						md = &missingData{kind: m.kind, id: m.id, positionID: m.positionID, snapshotID: m.snapshotID}
						missing[key] = md
						order = append(order, md)
					}
					md.count++
				}
			}
		}
	}()

	cur := &checkBatch{positions: make([]store.Position, 0, checkBatchSize)}
	send := func() error {
		select {
		case todo <- cur:
		case <-ctx.Done():
			return ctx.Err()
		}
		cur = &checkBatch{index: cur.index + 1, positions: make([]store.Position, 0, checkBatchSize)}
		return nil
	}
	scanErr := s.store.PositionScan(ctx, snapshotIDs, func(p *store.Position) error {
		row := *p
		row.Attributes = append([]byte(nil), p.Attributes...)
		cur.positions = append(cur.positions, row)
		if len(cur.positions) == checkBatchSize {
			return send()
		}
		return nil
	})
	if scanErr == nil && len(cur.positions) > 0 {
		scanErr = send()
	}
	close(todo)
	if scanErr != nil {
		cancel()
	}
	wg.Wait()
	close(done)
	<-merged
	if scanErr != nil {
		return fmt.Errorf("scan positions for the pre-run check: %w", scanErr)
	}

	sort.Slice(order, func(i, j int) bool {
		if order[i].kind != order[j].kind {
			return order[i].kind < order[j].kind
		}
		return order[i].id < order[j].id
	})
	for _, m := range order {
		probs.addf("/market_snapshot_id", "%s %s is not in market snapshot %s; %d position(s) need it, the first being position %s of position snapshot %s",
			m.kind, m.id, eng.Market().SnapshotID(), m.count, m.positionID, m.snapshotID)
	}
	return nil
}

// checkBatchPositions parses and checks the positions of a batch.
func checkBatchPositions(eng *pricing.Engine, b *checkBatch) {
	market := eng.Market()
	for i := range b.positions {
		p := &b.positions[i]
		pos, pprobs := pricing.ParsePosition(pricing.PositionInput{
			PositionID:   p.PositionID,
			InstrumentID: p.InstrumentID,
			ProductType:  p.ProductType,
			Quantity:     p.Quantity,
			Attributes:   p.Attributes,
		})
		for _, pr := range pprobs {
			b.problems = append(b.problems, batchProblem{p.SnapshotID, positionDetail(p, pr)})
		}
		if pos == nil {
			continue
		}
		reqs := pos.Requirements()
		lacks := false
		for _, c := range reqs.Curves {
			if !market.HasCurve(c) {
				b.missing = append(b.missing, missingRef{"curve", c, p.PositionID, p.SnapshotID})
				lacks = true
			}
		}
		for _, pair := range reqs.FXPairs {
			if !market.HasFXSpot(pair) {
				b.missing = append(b.missing, missingRef{"FX spot", pair, p.PositionID, p.SnapshotID})
				lacks = true
			}
		}
		for _, pr := range eng.Check(pos) {
			if lacks && isMissingMarketData(pr) {
				continue // reported once per curve or pair
			}
			b.problems = append(b.problems, batchProblem{p.SnapshotID, positionDetail(p, pr)})
		}
	}
	b.positions = nil
}
