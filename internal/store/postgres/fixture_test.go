package postgres_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/store"
)

// The fixtures of this package's own tests. They run on isolated schemas
// (MustOpenIsolated), so a claim only ever sees the test's own tasks.

// pos builds a position; attrs "" means {}.
func pos(id, productType string, hash int64, attrs string) *store.Position {
	if attrs == "" {
		attrs = "{}"
	}
	return &store.Position{PositionID: id, InstrumentID: "INS-" + id, ProductType: productType, Attributes: []byte(attrs), Hash: hash}
}

// positionHash is a stable non-negative hash of an id.
func positionHash(id string) int64 {
	sum := sha256.Sum256([]byte(id))
	return int64(binary.BigEndian.Uint64(sum[:8]) >> 1)
}

// mustMarket stores a PASS market snapshot.
func mustMarket(tb testing.TB, ctx context.Context, s store.Store, id string) *store.MarketSnapshot {
	tb.Helper()
	m, created, err := s.MarketSnapshotCreate(ctx, &store.MarketSnapshot{
		ID: id, AsOfTime: t0, Payload: []byte(`{}`), PayloadHash: "h-" + id, DQStatus: "PASS", Issues: []byte(`[]`), CreatedAt: t0,
	})
	if err != nil || !created {
		tb.Fatalf("MarketSnapshotCreate(%q) = %v, %v", id, created, err)
	}
	return m
}

// mustSnapshot writes positions (Seq and SnapshotID filled here) in batches.
func mustSnapshot(tb testing.TB, ctx context.Context, s store.Store, id, node string, positions []*store.Position, batch int) *store.PositionSnapshot {
	tb.Helper()
	w, err := s.PositionSnapshotBegin(ctx, id)
	if err != nil {
		tb.Fatalf("PositionSnapshotBegin(%q): %v", id, err)
	}
	defer w.Rollback(ctx) //nolint:errcheck // no-op after Commit
	for i, p := range positions {
		p.SnapshotID, p.Seq = id, int64(i)
	}
	if batch <= 0 {
		batch = max(1, len(positions))
	}
	for start := 0; start < len(positions); start += batch {
		if err := w.Add(ctx, positions[start:min(start+batch, len(positions))]); err != nil {
			tb.Fatalf("Add(%q): %v", id, err)
		}
	}
	stored, created, err := w.Commit(ctx, &store.PositionSnapshot{
		ID: id, AsOfTime: t0, PortfolioNodeID: node, PayloadHash: "h-" + id, PositionCount: int64(len(positions)), CreatedAt: t0,
	}, false)
	if err != nil || !created {
		tb.Fatalf("Commit(%q) = %v, %v", id, created, err)
	}
	return stored
}

// mustRun creates a run over the snapshots with one task per non-empty
// (product type, bucket), all available at t0. tasks overrides that.
func mustRun(tb testing.TB, ctx context.Context, s store.Store, id string, snapshotIDs []string, hashMod, maxAttempts int, tasks []*store.Task) *store.Run {
	tb.Helper()
	mkt := mustMarket(tb, ctx, s, id+"-mkt")
	snapshotIDs = slices.Sorted(slices.Values(snapshotIDs))
	if tasks == nil {
		buckets, err := s.PositionBuckets(ctx, snapshotIDs, hashMod)
		if err != nil {
			tb.Fatalf("PositionBuckets: %v", err)
		}
		for _, b := range buckets {
			tasks = append(tasks, &store.Task{ProductType: b.ProductType, Bucket: b.Bucket, PositionCount: b.Count, AvailableAt: t0})
		}
	}
	var total int64
	for _, t := range tasks {
		total += t.PositionCount
	}
	r, created, err := s.RunCreate(ctx, &store.Run{
		ID: id, RunType: "SANDBOX", AsOfTime: t0, MarketSnapshotID: mkt.ID, PositionSnapshotIDs: snapshotIDs,
		Measures: []string{"PV"}, Scenarios: []string{"BASE"}, HashMod: hashMod, MaxAttempts: maxAttempts,
		RequestHash: "req-" + id, Request: []byte(`{}`), EngineVersion: "test", PositionsTotal: total, RequestedAt: t0,
	}, tasks)
	if err != nil || !created {
		tb.Fatalf("RunCreate(%q) = %v, %v", id, created, err)
	}
	return r
}

// mustClaim claims a task or fails.
func mustClaim(tb testing.TB, ctx context.Context, s store.Store, owner string, lease time.Duration) *store.Task {
	tb.Helper()
	t, err := s.TaskClaim(ctx, store.TaskClaimParams{Owner: owner, Lease: lease})
	if err != nil {
		tb.Fatalf("TaskClaim(%s): %v", owner, err)
	}
	return t
}
