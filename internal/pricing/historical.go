package pricing

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// HistoricalPrefix starts the id of every scenario HistoricalSet builds:
// HIST-<date of the later snapshot>.
const HistoricalPrefix = "HIST-"

// HistoricalSnapshot is one market snapshot given to HistoricalSet: the
// UTC date of its as_of_time (YYYY-MM-DD) and its content.
type HistoricalSnapshot struct {
	Date string
	Data MarketData
}

// HistoricalOptions say how HistoricalSet builds a set. The pointers of
// its problems refer to the members of the request
// POST /mkt/scenario-sets/historical, which carries these options.
type HistoricalOptions struct {
	// SetID is the scenario_set_id of the set.
	SetID string
	// Description is the set's description.
	Description string
	// Horizon is h, the distance in snapshots (dates) between the two
	// snapshots of a scenario; 0 means 1.
	Horizon int
	// Curves and Pairs select what moves, in the shock form (ids or one
	// pattern); nil selects every curve (pair) of the earlier snapshot.
	Curves, Pairs *Selector
}

// Validate returns the problems of the options that do not depend on the
// snapshots (the 400s of the request): a bad set id, a horizon below 1
// (when set), an empty list or pattern.
func (o *HistoricalOptions) Validate() []SetProblem {
	var ps []SetProblem
	add := func(ptr, format string, args ...any) {
		ps = append(ps, SetProblem{Pointer: ptr, Detail: fmt.Sprintf(format, args...)})
	}
	if msg := CheckSetID(o.SetID, true); msg != "" {
		add("/scenario_set_id", "scenario_set_id %s", msg)
	}
	if o.Horizon < 0 {
		add("/horizon_days", "horizon_days must be a whole number of at least 1, got %d", o.Horizon)
	}
	if o.Curves != nil {
		validateSelector(o.Curves, "/curves", "curve", add)
	}
	if o.Pairs != nil {
		validateSelector(o.Pairs, "/pairs", "pair", add)
	}
	return ps
}

// HistoricalError lists why a historical set cannot be built from the
// given snapshots (the 422s of the request), each with a pointer into the
// request ("" for the request as a whole).
type HistoricalError struct {
	Problems []SetProblem
}

func (e *HistoricalError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Error()
	}
	return "historical scenario set: " + strings.Join(parts, "; ")
}

// HistoricalSet builds a scenario set from the snapshots S₀…Sₙ₋₁, one per
// date in increasing date order (SPEC §4.3). For k = 0…n−1−h it makes the
// scenario HIST-<date of Sₖ₊ₕ>: one CURVE_TENOR_SHIFTS per selected curve,
// at the node tenors of Sₖ, each the change of the zero rate from Sₖ to
// Sₖ₊ₕ in bp, (r′(t) − r(t))·10,000, where r is Sₖ's node rate and r′ is
// Sₖ₊ₕ's curve read at t with the interpolation of SPEC §2 (linear in t,
// flat beyond both ends) when it has no node there; then one FX_SPOT per
// selected pair with relative S′/S − 1. Curves come in id order, then
// pairs in pair order. Selections are resolved against Sₖ; a selected curve
// or pair that Sₖ or Sₖ₊ₕ lacks, a pattern that matches nothing in Sₖ,
// a scenario with nothing to move, fewer than h+1 snapshots or a snapshot
// that is not a valid market are a *HistoricalError. Problems of the
// options themselves are reported first, as Validate gives them.
func HistoricalSet(snaps []HistoricalSnapshot, o HistoricalOptions) (*ScenarioSet, error) {
	if probs := o.Validate(); len(probs) > 0 {
		return nil, &HistoricalError{Problems: probs}
	}
	h := o.Horizon
	if h == 0 {
		h = 1
	}
	for i := 1; i < len(snaps); i++ {
		if snaps[i].Date <= snaps[i-1].Date {
			return nil, fmt.Errorf("historical set: snapshots not in increasing date order (%s after %s)", snaps[i].Date, snaps[i-1].Date)
		}
	}
	if len(snaps) <= h {
		return nil, &HistoricalError{Problems: []SetProblem{{Pointer: "", Detail: fmt.Sprintf(
			"%d date(s) of the range have a market snapshot that is not FAIL; a horizon of %d needs at least %d", len(snaps), h, h+1)}}}
	}
	markets := make([]*Market, len(snaps))
	var probs problemSet
	for i, s := range snaps {
		m, err := NewMarket(s.Data)
		if err != nil {
			probs.add("", "", "market snapshot %q (%s) is not a valid market: %v", s.Data.SnapshotID, s.Date, err)
			continue
		}
		markets[i] = m
	}
	if len(probs.list) > 0 {
		return nil, &HistoricalError{Problems: probs.list}
	}
	set := &ScenarioSet{ScenarioSetID: o.SetID, Description: o.Description}
	for k := 0; k+h < len(snaps); k++ {
		a, b := &snaps[k], &snaps[k+h]
		ma, mb := markets[k], markets[k+h]
		sc := SetScenario{ScenarioID: HistoricalPrefix + b.Date}
		curves := historicalSelect(o.Curves, "/curves", "curve", a, b, ma.curveOrder(), ma.HasCurve, mb.HasCurve, &probs)
		slices.Sort(curves)
		for _, id := range curves {
			sc.Shocks = append(sc.Shocks, curveChange(a.Data, id, mb))
		}
		pairs := historicalSelect(o.Pairs, "/pairs", "FX pair", a, b, ma.FXPairs(), ma.HasFXSpot, mb.HasFXSpot, &probs)
		for _, p := range pairs {
			sa, _ := ma.FXSpot(p)
			sb, _ := mb.FXSpot(p)
			rel := sb/sa - 1
			sc.Shocks = append(sc.Shocks, Shock{Type: ShockFXSpot, Pairs: SelectIDs(p), Relative: &rel})
		}
		if len(sc.Shocks) == 0 && len(probs.list) == 0 {
			probs.add("", "", "market snapshot %q (%s) has no selected curve or FX pair: scenario %s would move nothing",
				a.Data.SnapshotID, a.Date, sc.ScenarioID)
		}
		set.Scenarios = append(set.Scenarios, sc)
	}
	if len(probs.list) > 0 {
		return nil, &HistoricalError{Problems: probs.list}
	}
	if vp := set.Validate(); len(vp) > 0 {
		return nil, &SetError{SetID: set.ScenarioSetID, Problems: vp}
	}
	return set, nil
}

// historicalSelect resolves a selection against the earlier snapshot a
// (available, inA) and checks that the later snapshot b has each id (inB).
// Problems go to probs, once per missing id.
func historicalSelect(sel *Selector, ptr, kind string, a, b *HistoricalSnapshot, available []string,
	inA, inB func(string) bool, probs *problemSet) []string {
	if sel == nil {
		sel = SelectPattern("*")
	}
	picked, missing := sel.resolve(available, inA)
	pointerOf := func(id string) string {
		if sel.isList {
			return ptr + "/" + strconv.Itoa(slices.Index(sel.ids, id))
		}
		return ptr
	}
	for _, id := range missing {
		if sel.hasWildcard() {
			if id == "*" {
				continue // the default selection of a snapshot without any
			}
			probs.add(pointerOf(id), id, "pattern %q matches no %s of market snapshot %q (%s)", id, kind, a.Data.SnapshotID, a.Date)
			continue
		}
		probs.add(pointerOf(id), id, "%s %s is not in market snapshot %q (%s)", kind, id, a.Data.SnapshotID, a.Date)
	}
	var out []string
	for _, id := range picked {
		if !inB(id) {
			probs.add(pointerOf(id), id, "%s %s is in market snapshot %q (%s) but not in market snapshot %q (%s)",
				kind, id, a.Data.SnapshotID, a.Date, b.Data.SnapshotID, b.Date)
			continue
		}
		out = append(out, id)
	}
	return out
}

// curveChange is the CURVE_TENOR_SHIFTS of one curve between the snapshot
// data a (its nodes give the tenors and the earlier rates) and the later
// market mb.
func curveChange(a MarketData, id string, mb *Market) Shock {
	shifts := map[string]float64{}
	for _, c := range a.Curves {
		if c.CurveID != id {
			continue
		}
		for _, n := range c.Nodes {
			t, _ := ParseTenor(n.Tenor) // a valid market's tenors parse
			rb, _ := mb.ZeroRate(id, t)
			shifts[n.Tenor] = float64(rb-n.ZeroRate) * bpPerUnit
		}
		break
	}
	return Shock{Type: ShockCurveTenorShifts, Curves: SelectIDs(id), ShiftsBP: shifts}
}

// problemSet collects problems, keeping one per (pointer, missing id) when
// missing is set, so that a curve absent from many snapshots is reported
// once.
type problemSet struct {
	list []SetProblem
	seen map[string]bool
}

func (p *problemSet) add(ptr, missing, format string, args ...any) {
	if missing != "" {
		key := ptr + "\x00" + missing
		if p.seen[key] {
			return
		}
		if p.seen == nil {
			p.seen = map[string]bool{}
		}
		p.seen[key] = true
	}
	p.list = append(p.list, SetProblem{Pointer: ptr, Detail: fmt.Sprintf(format, args...), Missing: missing})
}
