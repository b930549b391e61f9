package loadgen

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"
)

// TestPercentile: nearest rank, by hand. Of 1..10 ms, the 50th percentile
// is the 5th value, the 90th the 9th, the 99th the 10th (⌈9.9⌉); of one
// value, every percentile is it.
func TestPercentile(t *testing.T) {
	var xs []time.Duration
	for i := 1; i <= 10; i++ {
		xs = append(xs, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 5 * time.Millisecond}, {90, 9 * time.Millisecond}, {99, 10 * time.Millisecond}, {100, 10 * time.Millisecond}, {1, time.Millisecond}} {
		if got := Percentile(xs, c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
	if got := Percentile(xs[:1], 99); got != time.Millisecond {
		t.Errorf("p99 of one value = %v", got)
	}
	if got := Percentile(nil, 50); got != 0 {
		t.Errorf("p50 of nothing = %v", got)
	}
}

// TestWeighted: over many draws each choice comes up in proportion to its
// weight (within 2 % of the draws), and a zero weight never.
func TestWeighted(t *testing.T) {
	w := NewWeighted([]string{"a", "never", "b", "c"}, []int{10, 0, 30, 60})
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 100_000
	count := map[string]int{}
	for range n {
		count[w.Pick(rng)]++
	}
	for k, share := range map[string]float64{"a": 0.1, "b": 0.3, "c": 0.6, "never": 0} {
		if got := float64(count[k]) / n; got < share-0.02 || got > share+0.02 {
			t.Errorf("%s drawn %.3f of the time, want %.2f", k, got, share)
		}
	}
}

// TestRun: every request sent is counted once, in its class and label,
// failed ones as errors with their message; expected rows appear without
// requests; nothing starts after the duration.
func TestRun(t *testing.T) {
	var sent atomic.Int64
	classes := NewWeighted([]string{"ok", "bad"}, []int{3, 1})
	rep := Run(context.Background(), Options{
		Clients: 4, Duration: 200 * time.Millisecond, Seed: 7,
		Next: func(rng *rand.Rand) Request {
			c := classes.Pick(rng)
			return Request{Class: c, Label: "x"}
		},
		Do: func(ctx context.Context, req Request) error {
			sent.Add(1)
			time.Sleep(time.Millisecond)
			if req.Class == "bad" {
				return errors.New("500 Internal Server Error")
			}
			return nil
		},
		Expect: []Request{{Class: "idle", Label: "y"}},
	})
	byName := map[string]Stats{}
	for _, s := range append(rep.Classes, rep.Labels...) {
		byName[s.Name] = s
	}
	ok, bad := byName["ok"], byName["bad"]
	if int64(rep.All.Requests) != sent.Load() || ok.Requests+bad.Requests != rep.All.Requests {
		t.Errorf("%d sent; all %d, ok %d, bad %d", sent.Load(), rep.All.Requests, ok.Requests, bad.Requests)
	}
	if ok.Errors != 0 || bad.Errors != bad.Requests || rep.All.Errors != bad.Requests || bad.Requests == 0 {
		t.Errorf("errors: ok %d, bad %d of %d, all %d", ok.Errors, bad.Errors, bad.Requests, rep.All.Errors)
	}
	if byName["ok x"].Requests != ok.Requests || byName["bad x"].Requests != bad.Requests {
		t.Errorf("labels: %+v", byName)
	}
	if s, found := byName["idle"]; !found || s.Requests != 0 {
		t.Errorf("expected class idle: %+v, %v", s, found)
	}
	if _, found := byName["idle y"]; !found {
		t.Error("expected label idle y is missing")
	}
	if rep.ErrorSamples["bad: 500 Internal Server Error"] != bad.Requests {
		t.Errorf("error samples %v", rep.ErrorSamples)
	}
	if ok.P50 < time.Millisecond || ok.Max < ok.P99 || ok.P99 < ok.P90 || ok.P90 < ok.P50 {
		t.Errorf("latencies of ok: %+v", ok)
	}
	if rep.Elapsed > 2*time.Second {
		t.Errorf("took %v for a 200 ms load", rep.Elapsed)
	}
}
