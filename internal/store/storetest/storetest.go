// Package storetest is the conformance suite of store.Store. Every driver's
// test calls Exercise with a function that opens a fresh, migrated store
// whose clock is the one given (the driver's Options.Now):
//
//	func TestStore(t *testing.T) {
//		storetest.Exercise(t, func(t *testing.T, now func() time.Time) store.Store { … })
//	}
//
// The suite moves that clock by hand (Clock), so that lease expiry, retry
// times and the times the store stamps are checked exactly.
//
// Each subtest opens its own store and uses ids unique to itself (derived
// from the test name and the process), so subtests neither share nor depend
// on each other's data, and the suite may run against a database that
// already holds rows (lists are checked within time ranges of the test's
// own). Fixtures come from the MustX factories, which fail the test on
// error.
//
// A driver may hand every subtest the same database. Market and position
// subtests then run in parallel; subtests that make runs do not, because a
// claim takes any run's task, and each cancels its runs at cleanup so that
// no claimable task outlives it. Claimable tasks left by an interrupted run
// of the suite are cancelled when met; any other claimable task fails the
// suite, which wants a database of its own. Orders are compared with Go's
// byte-wise string order, so text keys must sort byte-wise (PostgreSQL:
// COLLATE "C").
package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/store"
)

// Opener opens a fresh store for one subtest, with now as the store's
// clock; it registers its own cleanup (closing the store) with t.Cleanup.
type Opener func(t *testing.T, now func() time.Time) store.Store

// Clock is a store clock that a test sets by hand; it is safe for
// concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock standing at now.
func NewClock(now time.Time) *Clock { return &Clock{now: now} }

// Now reads the clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to now (backwards too).
func (c *Clock) Set(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = now
}

// Exercise runs the whole suite against the stores open returns.
func Exercise(t *testing.T, open Opener) {
	t.Helper()
	groups := []struct {
		name string
		run  func(t *testing.T, open Opener)
	}{
		{"MarketSnapshot", testMarketSnapshot},
		{"AnalyticSet", testAnalyticSet},
		{"PositionSnapshot", testPositionSnapshot},
		{"Run", testRun},
		{"Task", testTask},
		{"Result", testResult},
		{"Retention", testRetention},
		{"Audit", testAudit},
		{"Webhook", testWebhook},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) { g.run(t, open) })
	}
}

// fixture is what every subtest starts with: a store, its clock (at T0),
// a context and a prefix that makes the ids of this subtest unique.
type fixture struct {
	s      store.Store
	clock  *Clock
	ctx    context.Context
	prefix string
}

var runNonce = time.Now().UnixNano()

func setup(t *testing.T, open Opener) *fixture {
	t.Helper()
	clock := NewClock(T0)
	s := open(t, clock.Now)
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%d", t.Name(), runNonce)
	return &fixture{s: s, clock: clock, ctx: t.Context(), prefix: fmt.Sprintf("t%016x", h.Sum64())}
}

// id returns an id unique to the subtest: prefix-name.
func (f *fixture) id(name string) string { return f.prefix + "-" + name }

// T0 is a fixed reference time with a sub-microsecond part, in a non-UTC
// zone, so that tests check truncation and UTC conversion.
var T0 = time.Date(2026, 3, 31, 18, 30, 15, 123456789, time.FixedZone("EST", -5*3600))

// us truncates to what a store keeps: microseconds, UTC.
func us(t time.Time) time.Time { return t.Truncate(time.Microsecond).UTC() }

func hashHex(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:])
}

// checkTime fails unless got is want at microsecond precision, in UTC.
func checkTime(t testing.TB, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(us(want)) {
		t.Errorf("%s = %s, want %s", what, got.Format(time.RFC3339Nano), us(want).Format(time.RFC3339Nano))
	}
	if got.Location() != time.UTC {
		t.Errorf("%s location = %v, want UTC", what, got.Location())
	}
}

func checkTimePtr(t testing.TB, what string, got *time.Time, want *time.Time) {
	t.Helper()
	switch {
	case got == nil && want == nil:
	case got == nil:
		t.Errorf("%s = nil, want %s", what, want.Format(time.RFC3339Nano))
	case want == nil:
		t.Errorf("%s = %s, want nil", what, got.Format(time.RFC3339Nano))
	default:
		checkTime(t, what, *got, *want)
	}
}

func ptr[T any](v T) *T { return &v }
