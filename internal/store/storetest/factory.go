package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/store"
)

// MustMarketSnapshot stores m, filling zero fields with defaults: AsOfTime
// T0, Vendor "TESTVENDOR", a payload naming the id, PayloadHash the SHA-256
// of the payload, DQStatus PASS, Issues [], CreatedAt T0. m.ID is required.
func MustMarketSnapshot(tb testing.TB, ctx context.Context, s store.Store, m *store.MarketSnapshot) *store.MarketSnapshot {
	tb.Helper()
	if m.ID == "" {
		tb.Fatal("MustMarketSnapshot: ID is required")
	}
	if m.AsOfTime.IsZero() {
		m.AsOfTime = T0
	}
	if m.Vendor == "" {
		m.Vendor = "TESTVENDOR"
	}
	if m.Payload == nil {
		m.Payload = []byte(`{"snapshot_id":"` + m.ID + `"}`)
	}
	if m.PayloadHash == "" {
		m.PayloadHash = hashHex(string(m.Payload))
	}
	if m.DQStatus == "" {
		m.DQStatus = "PASS"
	}
	if m.Issues == nil {
		m.Issues = []byte("[]")
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = T0
	}
	stored, created, err := s.MarketSnapshotCreate(ctx, m)
	if err != nil {
		tb.Fatalf("MarketSnapshotCreate(%q): %v", m.ID, err)
	}
	if !created {
		tb.Fatalf("MarketSnapshotCreate(%q): created = false for a new id", m.ID)
	}
	return stored
}

// Pos builds a position. attrs is a JSON object ("" for {}).
func Pos(id, productType string, hash int64, attrs string) *store.Position {
	if attrs == "" {
		attrs = "{}"
	}
	return &store.Position{
		PositionID:   id,
		InstrumentID: "INS-" + id,
		ProductType:  productType,
		Attributes:   []byte(attrs),
		Hash:         hash,
	}
}

// MustPositionSnapshot writes a snapshot with the positions through one
// writer, in batches of batch rows (all at once when batch ≤ 0). It fills
// each position's SnapshotID and Seq and the header's PositionCount,
// ProductTypes, and, when zero, AsOfTime (T0), PortfolioNodeID ("NODE-A"),
// PayloadHash (derived from the content) and CreatedAt (T0).
func MustPositionSnapshot(tb testing.TB, ctx context.Context, s store.Store, hdr *store.PositionSnapshot, positions []*store.Position, batch int) *store.PositionSnapshot {
	tb.Helper()
	if hdr.ID == "" {
		tb.Fatal("MustPositionSnapshot: ID is required")
	}
	fillPositionSnapshot(hdr, positions)
	w, err := s.PositionSnapshotBegin(ctx, hdr.ID)
	if err != nil {
		tb.Fatalf("PositionSnapshotBegin(%q): %v", hdr.ID, err)
	}
	defer w.Rollback(ctx) //nolint:errcheck // safe after Commit
	if batch <= 0 {
		batch = max(len(positions), 1)
	}
	for start := 0; start < len(positions); start += batch {
		end := min(start+batch, len(positions))
		if err := w.Add(ctx, positions[start:end]); err != nil {
			tb.Fatalf("Add(%q, rows %d..%d): %v", hdr.ID, start, end, err)
		}
	}
	stored, created, err := w.Commit(ctx, hdr, false)
	if err != nil {
		tb.Fatalf("Commit(%q): %v", hdr.ID, err)
	}
	if !created {
		tb.Fatalf("Commit(%q): created = false for a new id", hdr.ID)
	}
	return stored
}

func fillPositionSnapshot(hdr *store.PositionSnapshot, positions []*store.Position) {
	if hdr.AsOfTime.IsZero() {
		hdr.AsOfTime = T0
	}
	if hdr.PortfolioNodeID == "" {
		hdr.PortfolioNodeID = "NODE-A"
	}
	if hdr.CreatedAt.IsZero() {
		hdr.CreatedAt = T0
	}
	types := map[string]bool{}
	parts := []string{hdr.PortfolioNodeID, hdr.AsOfTime.UTC().Format(time.RFC3339Nano)}
	for i, p := range positions {
		p.SnapshotID = hdr.ID
		p.Seq = int64(i)
		types[p.ProductType] = true
		parts = append(parts, p.PositionID, p.ProductType, string(p.Attributes))
	}
	hdr.PositionCount = int64(len(positions))
	hdr.ProductTypes = hdr.ProductTypes[:0]
	for pt := range types {
		hdr.ProductTypes = append(hdr.ProductTypes, pt)
	}
	slices.Sort(hdr.ProductTypes)
	if hdr.PayloadHash == "" {
		hdr.PayloadHash = hashHex(parts...)
	}
}

// RunOpts are the fixtures of MustRun.
type RunOpts struct {
	// Run's zero fields get defaults: RunType SANDBOX, AsOfTime T0, a fresh
	// PASS market snapshot, Measures [PV], Scenarios [BASE], HashMod 4,
	// MaxAttempts 3, RequestHash from the id, Request {}, EngineVersion
	// "test", RequestedAt T0, PositionsTotal the sum of the tasks'.
	Run *store.Run
	// Tasks, when nil, are derived from PositionBuckets of the run's
	// snapshots with the run's HashMod, MaxAttempts and AvailableAt =
	// AvailableAt (or T0).
	Tasks       []*store.Task
	AvailableAt time.Time
}

// MustRun creates a run and returns it with its tasks (IDs filled).
func MustRun(tb testing.TB, ctx context.Context, s store.Store, o RunOpts) (*store.Run, []*store.Task) {
	tb.Helper()
	r := o.Run
	if r == nil || r.ID == "" {
		tb.Fatal("MustRun: Run.ID is required")
	}
	if r.RunType == "" {
		r.RunType = "SANDBOX"
	}
	if r.AsOfTime.IsZero() {
		r.AsOfTime = T0
	}
	if r.MarketSnapshotID == "" {
		m := MustMarketSnapshot(tb, ctx, s, &store.MarketSnapshot{ID: r.ID + "-mkt"})
		r.MarketSnapshotID = m.ID
	}
	if r.Measures == nil {
		r.Measures = []string{"PV"}
	}
	if r.Scenarios == nil {
		r.Scenarios = []string{"BASE"}
	}
	if r.HashMod == 0 {
		r.HashMod = 4
	}
	if r.MaxAttempts == 0 {
		r.MaxAttempts = 3
	}
	if r.RequestHash == "" {
		r.RequestHash = hashHex("request", r.ID)
	}
	if r.Request == nil {
		r.Request = []byte(`{}`)
	}
	if r.EngineVersion == "" {
		r.EngineVersion = "test"
	}
	if r.RequestedAt.IsZero() {
		r.RequestedAt = T0
	}
	slices.Sort(r.PositionSnapshotIDs)
	tasks := o.Tasks
	if tasks == nil {
		avail := o.AvailableAt
		if avail.IsZero() {
			avail = T0
		}
		buckets, err := s.PositionBuckets(ctx, r.PositionSnapshotIDs, r.HashMod)
		if err != nil {
			tb.Fatalf("PositionBuckets: %v", err)
		}
		for _, b := range buckets {
			tasks = append(tasks, &store.Task{
				RunID: r.ID, ProductType: b.ProductType, Bucket: b.Bucket, HashMod: r.HashMod,
				MaxAttempts: r.MaxAttempts, PositionCount: b.Count, AvailableAt: avail,
			})
		}
	}
	if r.PositionsTotal == 0 {
		for _, t := range tasks {
			r.PositionsTotal += t.PositionCount
		}
	}
	stored, created, err := s.RunCreate(ctx, r, tasks)
	if err != nil {
		tb.Fatalf("RunCreate(%q): %v", r.ID, err)
	}
	if !created {
		tb.Fatalf("RunCreate(%q): created = false for a new id", r.ID)
	}
	CancelAtCleanup(tb, s, r.ID)
	return stored, tasks
}

// CancelAtCleanup cancels the run when the test ends, so that none of its
// tasks can be claimed after it in a shared database (a CANCELLING run's
// tasks are not claimable; they end as their workers or their leases do;
// a run the test deleted is gone already).
func CancelAtCleanup(tb testing.TB, s store.Store, runID string) {
	tb.Cleanup(func() {
		_, err := s.RunCancel(context.Background(), runID)
		if err != nil && !isCode(err, apperr.Conflict) && !errors.Is(err, apperr.ErrNotFound) {
			tb.Errorf("cleanup: RunCancel(%q): %v", runID, err)
		}
	})
}

// suiteRunID matches the ids of the suite's own runs (see fixture.id).
var suiteRunID = regexp.MustCompile(`^t[0-9a-f]{16}-`)

// Claim claims a task for the subtest whose ids start with prefix, at the
// store's clock; nil when there is nothing to claim. A shared database may
// hold claimable tasks left by an earlier, interrupted run of the suite:
// those are cancelled and the claim retried. A claimable task that is not
// the suite's fails the test (use a dedicated database).
func Claim(tb testing.TB, ctx context.Context, s store.Store, prefix, owner string, lease time.Duration) *store.Task {
	tb.Helper()
	for range 1000 {
		t, err := s.TaskClaim(ctx, store.TaskClaimParams{Owner: owner, Lease: lease})
		if errors.Is(err, apperr.ErrNotFound) {
			return nil
		}
		if err != nil {
			tb.Fatalf("TaskClaim(%s): %v", owner, err)
		}
		if strings.HasPrefix(t.RunID, prefix+"-") {
			return t
		}
		if !suiteRunID.MatchString(t.RunID) {
			tb.Fatalf("TaskClaim returned task %d of run %q, which this suite did not make: run the suite on a dedicated database", t.ID, t.RunID)
		}
		if _, err := s.RunCancel(ctx, t.RunID); err != nil {
			tb.Fatalf("cancel leftover run %q: %v", t.RunID, err)
		}
	}
	tb.Fatal("TaskClaim keeps returning leftover tasks")
	return nil
}

// MustClaim is Claim failing the test when there is nothing to claim.
func MustClaim(tb testing.TB, ctx context.Context, s store.Store, prefix, owner string, lease time.Duration) *store.Task {
	tb.Helper()
	t := Claim(tb, ctx, s, prefix, owner, lease)
	if t == nil {
		tb.Fatalf("TaskClaim(%s): nothing to claim", owner)
	}
	return t
}

// MustRunGet reads a run.
func MustRunGet(tb testing.TB, ctx context.Context, s store.Store, id string) *store.Run {
	tb.Helper()
	r, err := s.RunGet(ctx, id)
	if err != nil {
		tb.Fatalf("RunGet(%q): %v", id, err)
	}
	return r
}

// MustTask returns the run's task with the id.
func MustTask(tb testing.TB, ctx context.Context, s store.Store, runID string, taskID int64) *store.Task {
	tb.Helper()
	tasks, err := s.RunTasks(ctx, runID)
	if err != nil {
		tb.Fatalf("RunTasks(%q): %v", runID, err)
	}
	for _, t := range tasks {
		if t.ID == taskID {
			return t
		}
	}
	tb.Fatalf("RunTasks(%q): no task %d", runID, taskID)
	return nil
}

// PositionHash is the suite's stand-in for the services' stable hash of a
// position id: any non-negative int64 will do for the store.
func PositionHash(positionID string) int64 {
	sum := sha256.Sum256([]byte(positionID))
	return int64(binary.BigEndian.Uint64(sum[:8]) >> 1)
}

// isCode reports whether err carries the apperr code.
func isCode(err error, code apperr.Code) bool {
	return err != nil && apperr.CodeOf(err) == code
}

// jsonEqual compares two JSON documents by meaning (a database may reformat
// them).
func jsonEqual(tb testing.TB, a, b []byte) bool {
	tb.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		tb.Fatalf("stored JSON %q does not parse: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		tb.Fatalf("expected JSON %q does not parse: %v", b, err)
	}
	return reflect.DeepEqual(va, vb)
}
