// Package loadgen drives a number of concurrent clients, each sending one
// request after another for a fixed time, and reports how many requests
// each class of request made, how many failed and the percentiles of their
// latencies. It knows nothing of the routes: the caller picks each request
// (Options.Next) and sends it (Options.Do).
package loadgen

import (
	"cmp"
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Request is one request of the mix: its class (such as "summary"), an
// optional finer label within the class (such as the cube's grouping) and
// what Do needs to send it.
type Request struct {
	Class string
	Label string
	Path  string
}

// Options configure Run.
type Options struct {
	// Clients is how many clients send requests at once (at least 1).
	Clients int
	// Duration is how long clients start new requests; requests in flight
	// at the end are waited for and counted.
	Duration time.Duration
	// Timeout bounds each request; one that takes longer is an error.
	// 0: no bound beyond the caller's context.
	Timeout time.Duration
	// Seed makes each client's sequence of requests reproducible: client
	// i draws from a source seeded with (Seed, i).
	Seed uint64
	// Next picks a client's next request.
	Next func(rng *rand.Rand) Request
	// Do sends a request and reads its whole answer; an error (a
	// transport error, an unexpected status, a bad body) counts the
	// request as failed.
	Do func(ctx context.Context, req Request) error
	// Expect lists the classes and labels (Path unused) the report has a
	// row for even when no request of theirs was sent.
	Expect []Request
}

// Stats are the figures of one class (or label, or all requests).
type Stats struct {
	Name     string
	Requests int
	Errors   int
	// Percentiles of the latencies of every request of the class, failed
	// ones included (nearest rank); zero when there were none.
	P50, P90, P99, Max time.Duration
}

// Report is the outcome of Run.
type Report struct {
	// Elapsed is from the first request sent to the last one answered.
	Elapsed time.Duration
	Clients int
	// Classes sorted by name; Labels likewise, each named "class
	// label"; All over every request.
	Classes []Stats
	Labels  []Stats
	All     Stats
	// ErrorSamples counts the distinct error messages (the first 200
	// bytes of each), at most maxErrorSamples of them.
	ErrorSamples map[string]int
}

// maxErrorSamples bounds Report.ErrorSamples.
const maxErrorSamples = 20

// sample is one request's outcome.
type sample struct {
	class, label string
	took         time.Duration
	failed       bool
}

// Run sends requests from o.Clients clients for o.Duration and reports.
// It returns early, reporting what was done, when ctx ends.
func Run(ctx context.Context, o Options) Report {
	clients := max(o.Clients, 1)
	stop := time.Now().Add(o.Duration)
	var (
		mu      sync.Mutex
		all     []sample
		samples = map[string]int{}
		wg      sync.WaitGroup
	)
	start := time.Now()
	for i := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(o.Seed, uint64(i)))
			var mine []sample
			errs := map[string]int{}
			for time.Now().Before(stop) && ctx.Err() == nil {
				req := o.Next(rng)
				t0 := time.Now()
				err := do(ctx, o, req)
				s := sample{class: req.Class, label: req.Label, took: time.Since(t0), failed: err != nil}
				if err != nil {
					if ctx.Err() != nil {
						break // the caller stopped the run: not the server's failure
					}
					msg := err.Error()
					if len(msg) > 200 {
						msg = msg[:200]
					}
					errs[req.Class+": "+msg]++
				}
				mine = append(mine, s)
			}
			mu.Lock()
			defer mu.Unlock()
			all = append(all, mine...)
			for msg, n := range errs {
				if _, ok := samples[msg]; ok || len(samples) < maxErrorSamples {
					samples[msg] += n
				}
			}
		})
	}
	wg.Wait()
	return report(all, time.Since(start), clients, samples, o.Expect)
}

// do sends one request under the per-request timeout.
func do(ctx context.Context, o Options, req Request) error {
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	return o.Do(ctx, req)
}

func report(all []sample, elapsed time.Duration, clients int, samples map[string]int, expect []Request) Report {
	r := Report{Elapsed: elapsed, Clients: clients, ErrorSamples: samples}
	byClass := map[string][]sample{}
	byLabel := map[string][]sample{}
	for _, e := range expect {
		byClass[e.Class] = byClass[e.Class][:0:0]
		if e.Label != "" {
			byLabel[e.Class+" "+e.Label] = byLabel[e.Class+" "+e.Label][:0:0]
		}
	}
	for _, s := range all {
		byClass[s.class] = append(byClass[s.class], s)
		if s.label != "" {
			byLabel[s.class+" "+s.label] = append(byLabel[s.class+" "+s.label], s)
		}
	}
	for name, ss := range byClass {
		r.Classes = append(r.Classes, stats(name, ss))
	}
	for name, ss := range byLabel {
		r.Labels = append(r.Labels, stats(name, ss))
	}
	byName := func(a, b Stats) int { return cmp.Compare(a.Name, b.Name) }
	slices.SortFunc(r.Classes, byName)
	slices.SortFunc(r.Labels, byName)
	r.All = stats("all", all)
	return r
}

// stats computes the figures of a set of samples.
func stats(name string, ss []sample) Stats {
	st := Stats{Name: name, Requests: len(ss)}
	took := make([]time.Duration, len(ss))
	for i, s := range ss {
		took[i] = s.took
		if s.failed {
			st.Errors++
		}
	}
	slices.Sort(took)
	st.P50, st.P90, st.P99 = Percentile(took, 50), Percentile(took, 90), Percentile(took, 99)
	if len(took) > 0 {
		st.Max = took[len(took)-1]
	}
	return st
}

// Percentile is the nearest-rank p-th percentile (0 < p ≤ 100) of sorted:
// the smallest value such that at least p % of the values are at most it;
// 0 for no values.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// Weighted picks among choices by integer weights; weights of 0 are never
// picked. It panics when no weight is positive.
type Weighted[T any] struct {
	choices []T
	cum     []int
}

// NewWeighted returns a picker over choices with the given weights.
func NewWeighted[T any](choices []T, weights []int) *Weighted[T] {
	w := &Weighted[T]{}
	total := 0
	for i, c := range choices {
		if weights[i] <= 0 {
			continue
		}
		total += weights[i]
		w.choices = append(w.choices, c)
		w.cum = append(w.cum, total)
	}
	if total == 0 {
		panic("loadgen: no positive weight")
	}
	return w
}

// Pick draws one choice.
func (w *Weighted[T]) Pick(rng *rand.Rand) T {
	x := rng.IntN(w.cum[len(w.cum)-1])
	i, _ := slices.BinarySearch(w.cum, x+1)
	return w.choices[i]
}

// Rate is requests per second over d.
func Rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// Describe is a one-line reading of the error samples, most frequent first.
func (r Report) Describe() []string {
	type kv struct {
		msg string
		n   int
	}
	var xs []kv
	for m, n := range r.ErrorSamples {
		xs = append(xs, kv{m, n})
	}
	slices.SortFunc(xs, func(a, b kv) int { return cmp.Or(cmp.Compare(b.n, a.n), strings.Compare(a.msg, b.msg)) })
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = strings.ReplaceAll(x.msg, "\n", " ")
		out[i] = strings.TrimSpace(out[i]) + " (×" + strconv.Itoa(x.n) + ")"
	}
	return out
}
