package orchestrator

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/iprs/iprs/internal/pricing"
	"github.com/iprs/iprs/internal/store"
)

// checkSummary is what the pre-run check needs of a snapshot's positions,
// recorded at upload (store.PositionSnapshot.CheckSummary) from the
// positions as the upload parsed them: the curves and FX pairs they need
// and the first run as-of date from which no position has a problem of
// its own (pricing.Position.CheckClearFrom). A run whose market has every
// curve and pair and whose as-of date is on or after that date has no
// position problem, and is checked without reading the positions again;
// any other run reads them to name each problem. The summary holds for the
// pricing code that made it only (EngineVersion): a snapshot stored by
// another build, or before summaries, is read again.
type checkSummary struct {
	EngineVersion string   `json:"engine_version"`
	Curves        []string `json:"curves"`
	FXPairs       []string `json:"fx_pairs"`
	// Clear is false when some position has a problem of its own
	// whatever the date; ClearFrom is then "".
	Clear bool `json:"clear"`
	// ClearFrom is the first run as-of date (UTC, YYYY-MM-DD) from which
	// no position has a problem of its own; "" when any date will do.
	ClearFrom string `json:"clear_from"`
}

// summaryFacts is what one parsed position adds to its snapshot's
// summary.
type summaryFacts struct {
	req       pricing.Requirements
	clearFrom time.Time
	clear     bool
}

// factsOf returns the summary facts of a parsed position.
func factsOf(p *pricing.Position) summaryFacts {
	from, ok := p.CheckClearFrom()
	return summaryFacts{req: p.Requirements(), clearFrom: from, clear: ok}
}

// summaryBuilder folds the positions of an upload into its summary.
type summaryBuilder struct {
	curves, pairs map[string]struct{}
	clear         bool
	clearFrom     time.Time
}

func newSummaryBuilder() *summaryBuilder {
	return &summaryBuilder{curves: map[string]struct{}{}, pairs: map[string]struct{}{}, clear: true}
}

func (b *summaryBuilder) add(f *summaryFacts) {
	for _, c := range f.req.Curves {
		b.curves[c] = struct{}{}
	}
	for _, p := range f.req.FXPairs {
		b.pairs[p] = struct{}{}
	}
	if !f.clear {
		b.clear = false
	} else if f.clearFrom.After(b.clearFrom) {
		b.clearFrom = f.clearFrom
	}
}

// json returns the summary document.
func (b *summaryBuilder) json(engineVersion string) ([]byte, error) {
	s := checkSummary{EngineVersion: engineVersion, Clear: b.clear, Curves: sortedKeys(b.curves), FXPairs: sortedKeys(b.pairs)}
	if b.clear && !b.clearFrom.IsZero() {
		s.ClearFrom = b.clearFrom.Format(time.DateOnly)
	}
	out, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encode the check summary: %w", err)
	}
	return out, nil
}

func sortedKeys(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// summariesClear tells whether the snapshots' summaries show that no
// position of theirs has a problem against the market and the run's as-of
// time, so that the positions need not be read; false whenever a summary
// is missing, of another engine version, or shows a possible problem.
func (s *Service) summariesClear(snaps []*store.PositionSnapshot, market *pricing.Market, asOf time.Time) bool {
	y, m, d := asOf.UTC().Date()
	day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	for _, sn := range snaps {
		if sn.CheckSummary == nil {
			return false
		}
		var sum checkSummary
		if err := json.Unmarshal(sn.CheckSummary, &sum); err != nil {
			return false // read the positions, which name every problem
		}
		if sum.EngineVersion != s.opts.EngineVersion || !sum.Clear {
			return false
		}
		if sum.ClearFrom != "" {
			from, err := time.Parse(time.DateOnly, sum.ClearFrom)
			if err != nil || from.After(day) {
				return false
			}
		}
		for _, c := range sum.Curves {
			if !market.HasCurve(c) {
				return false
			}
		}
		for _, p := range sum.FXPairs {
			if !market.HasFXSpot(p) {
				return false
			}
		}
	}
	return true
}
