// Package storetest is the conformance suite of store.Store. Every driver's
// test calls Exercise with a function that opens a fresh, migrated store:
//
//	func TestStore(t *testing.T) {
//		storetest.Exercise(t, func(t *testing.T) store.Store { … })
//	}
//
// Each subtest opens its own store and uses ids unique to itself (derived
// from the test name), so subtests neither share nor depend on each other's
// data, and the suite may run against a database that already holds rows.
// Fixtures come from the MustX factories, which fail the test on error.
package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/store"
)

// Opener opens a fresh store for one subtest; it registers its own cleanup
// (closing the store) with t.Cleanup.
type Opener func(t *testing.T) store.Store

// Exercise runs the whole suite against the stores open returns.
func Exercise(t *testing.T, open Opener) {
	t.Helper()
	groups := []struct {
		name string
		run  func(t *testing.T, open Opener)
	}{
		{"MarketSnapshot", testMarketSnapshot},
		{"PositionSnapshot", testPositionSnapshot},
		{"Run", testRun},
		{"Task", testTask},
		{"Result", testResult},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) { g.run(t, open) })
	}
}

// fixture is what every subtest starts with: a store, a context and a
// prefix that makes the ids of this subtest unique.
type fixture struct {
	s      store.Store
	ctx    context.Context
	prefix string
	n      atomic.Int64
}

var runNonce = time.Now().UnixNano()

func setup(t *testing.T, open Opener) *fixture {
	t.Helper()
	s := open(t)
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%d", t.Name(), runNonce)
	return &fixture{s: s, ctx: t.Context(), prefix: fmt.Sprintf("t%016x", h.Sum64())}
}

// id returns an id unique to the subtest: prefix-name.
func (f *fixture) id(name string) string { return f.prefix + "-" + name }

// seq returns a fresh id unique to the subtest.
func (f *fixture) seq(kind string) string {
	return fmt.Sprintf("%s-%s%06d", f.prefix, kind, f.n.Add(1))
}

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
