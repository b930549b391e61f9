package orchestrator

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/canon"
	"github.com/iprs/iprs/internal/marketdata"
	"github.com/iprs/iprs/internal/pricing"
	"github.com/iprs/iprs/internal/runengine"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/web"
)

// Run types.
const (
	RunTypeEODOfficial = "EOD_OFFICIAL"
	RunTypeIntraday    = "INTRADAY"
	RunTypeSandbox     = "SANDBOX"
)

var runTypes = []string{RunTypeEODOfficial, RunTypeIntraday, RunTypeSandbox}

// runRequestWire is the body of POST /orch/runs as sent.
type runRequestWire struct {
	RunID              *string           `json:"run_id"`
	RunType            *string           `json:"run_type"`
	AsOfTime           *string           `json:"as_of_time"`
	MarketSnapshotID   *string           `json:"market_snapshot_id"`
	PositionSnapshotID *string           `json:"position_snapshot_id"`
	PortfolioScope     *portfolioScope   `json:"portfolio_scope"`
	ModelSetID         *string           `json:"model_set_id"`
	Measures           []string          `json:"measures"`
	Scenarios          []json.RawMessage `json:"scenarios"`
	Execution          *executionWire    `json:"execution"`
}

type portfolioScope struct {
	NodeIDs []string `json:"node_ids"`
}

type executionWire struct {
	HashMod        *int      `json:"hash_mod"`
	MaxAttempts    *int      `json:"max_attempts"`
	AggregateAttrs *[]string `json:"aggregate_attrs"`
}

type scenarioRef struct {
	ScenarioSetID *string `json:"scenario_set_id"`
}

// RunRequest is a run request after validation and normalization: measures
// and scenarios without repeats in their first order, scenario objects
// replaced by their ids, node ids without repeats, the as-of time in UTC,
// max_attempts defaulted. hash_mod stays nil when the client left the
// choice to the server, since the server's choice depends on the data.
// Its canonical JSON (RFC 8785) is what RequestHash hashes and what the
// run stores as its request.
type RunRequest struct {
	RunType            string              `json:"run_type"`
	AsOfTime           string              `json:"as_of_time"`
	MarketSnapshotID   string              `json:"market_snapshot_id"`
	PositionSnapshotID *string             `json:"position_snapshot_id"`
	PortfolioScope     *portfolioScope     `json:"portfolio_scope"`
	ModelSetID         string              `json:"model_set_id"`
	Measures           []string            `json:"measures"`
	Scenarios          []scenarioItem      `json:"scenarios"`
	Execution          normalizedExecution `json:"execution"`

	runID   string    // the client's run_id, "" when the server makes one
	asOf    time.Time // AsOfTime parsed
	pointer struct {
		scenarios []string // pointer of each normalized scenario in the body
		measures  []string // pointer of each normalized measure in the body
		nodes     []string // pointer of each normalized node id in the body
	}
}

// scenarioItem is one normalized scenarios item: a scenario id, or a
// stored scenario set whose scenarios join the run (Set). A
// {"scenario_set_id": ID} naming a built-in scenario id is that scenario:
// the first wave's clients send {"scenario_set_id": "BASE"} for BASE, and
// no stored set may take a built-in id.
type scenarioItem struct {
	ID  string
	Set bool
}

// MarshalJSON writes a scenario id as a string and a set as
// {"scenario_set_id": ID}, as a client may send them.
func (it scenarioItem) MarshalJSON() ([]byte, error) {
	if it.Set {
		return json.Marshal(scenarioRef{ScenarioSetID: &it.ID})
	}
	return json.Marshal(it.ID)
}

// UnmarshalJSON reads an item written by MarshalJSON (a stored request).
func (it *scenarioItem) UnmarshalJSON(b []byte) error {
	var ref scenarioRef
	if err := json.Unmarshal(b, &ref); err == nil && ref.ScenarioSetID != nil {
		*it = scenarioItem{ID: *ref.ScenarioSetID, Set: true}
		return nil
	}
	*it = scenarioItem{}
	return json.Unmarshal(b, &it.ID)
}

// normalizedExecution is the execution settings. AggregateAttrs, the
// attributes the tasks aggregate by besides product type and node (so
// that cubes and VaR by them need no scan), is left out of the canonical
// form when the client does not send it, so requests without it hash as
// before; an empty list is kept (it declares none).
type normalizedExecution struct {
	HashMod        *int      `json:"hash_mod"`
	MaxAttempts    int       `json:"max_attempts"`
	AggregateAttrs *[]string `json:"aggregate_attrs,omitempty"`
}

// Canonical returns the RFC 8785 form of the normalized request and its
// hex SHA-256, the run's RequestHash.
func (r *RunRequest) Canonical() ([]byte, string, error) {
	b, err := canon.Marshal(r)
	if err != nil {
		return nil, "", fmt.Errorf("canonicalize run request: %w", err)
	}
	return b, canon.SHA256Hex(b), nil
}

// parseRunRequest decodes and checks the shape of a run request body
// (decoded already by web.UnmarshalStrict into w). Every problem is
// reported at once, as apperr.Invalid with pointers.
func parseRunRequest(w *runRequestWire, maxProblems int) (*RunRequest, error) {
	probs := newProblems(maxProblems)
	req := &RunRequest{}

	if w.RunID != nil {
		if !validID(*w.RunID) {
			probs.addf("/run_id", "run_id %q %s", *w.RunID, idRule)
		}
		req.runID = *w.RunID
	}
	switch {
	case w.RunType == nil:
		probs.add("/run_type", "run_type is required (one of "+strings.Join(runTypes, ", ")+")")
	case !isRunType(*w.RunType):
		probs.addf("/run_type", "run_type %q is not one of %s", *w.RunType, strings.Join(runTypes, ", "))
	default:
		req.RunType = *w.RunType
	}
	if w.AsOfTime == nil {
		probs.add("/as_of_time", "as_of_time is required")
	} else if t, err := time.Parse(time.RFC3339Nano, *w.AsOfTime); err != nil {
		probs.addf("/as_of_time", "as_of_time %q is not an RFC 3339 time such as 2026-01-23T00:00:00Z", *w.AsOfTime)
	} else if t.UTC().Year() < marketdata.MinAsOfYear {
		// As for market snapshots; year 1 is also the zero time, which the
		// pricing engine takes for "no as-of time".
		probs.addf("/as_of_time", "as_of_time %q is before %d", *w.AsOfTime, marketdata.MinAsOfYear)
	} else {
		req.asOf = t.UTC().Truncate(time.Microsecond)
		req.AsOfTime = req.asOf.Format(time.RFC3339Nano)
	}
	if w.MarketSnapshotID == nil || *w.MarketSnapshotID == "" {
		probs.add("/market_snapshot_id", "market_snapshot_id is required")
	} else {
		req.MarketSnapshotID = *w.MarketSnapshotID
	}

	hasID := w.PositionSnapshotID != nil
	hasScope := w.PortfolioScope != nil
	switch {
	case hasID && hasScope:
		probs.add("/portfolio_scope", "give position_snapshot_id or portfolio_scope, not both")
	case !hasID && !hasScope:
		probs.add("", "position_snapshot_id or portfolio_scope is required")
	case hasID:
		if *w.PositionSnapshotID == "" {
			probs.add("/position_snapshot_id", "position_snapshot_id must not be empty")
		}
		id := *w.PositionSnapshotID
		req.PositionSnapshotID = &id
	default:
		scope := &portfolioScope{NodeIDs: []string{}}
		if len(w.PortfolioScope.NodeIDs) == 0 {
			probs.add("/portfolio_scope/node_ids", "portfolio_scope.node_ids must list at least one portfolio node id")
		}
		seen := make(map[string]bool, len(w.PortfolioScope.NodeIDs))
		for i, n := range w.PortfolioScope.NodeIDs {
			ptr := "/portfolio_scope/node_ids/" + strconv.Itoa(i)
			if n == "" {
				probs.add(ptr, "a node id must not be empty")
				continue
			}
			if seen[n] {
				continue
			}
			seen[n] = true
			scope.NodeIDs = append(scope.NodeIDs, n)
			req.pointer.nodes = append(req.pointer.nodes, ptr)
		}
		req.PortfolioScope = scope
	}
	if w.ModelSetID != nil {
		req.ModelSetID = *w.ModelSetID
	}

	req.Measures = []string{}
	if len(w.Measures) == 0 {
		probs.add("/measures", "measures must list at least one measure")
	}
	seenM := make(map[string]bool, len(w.Measures))
	for i, m := range w.Measures {
		ptr := "/measures/" + strconv.Itoa(i)
		if m == "" {
			probs.add(ptr, "a measure must not be empty")
			continue
		}
		if seenM[m] {
			continue
		}
		seenM[m] = true
		req.Measures = append(req.Measures, m)
		req.pointer.measures = append(req.pointer.measures, ptr)
	}

	req.Scenarios = []scenarioItem{}
	if len(w.Scenarios) == 0 {
		probs.add("/scenarios", "scenarios must list at least one scenario id")
	}
	seenS := make(map[scenarioItem]bool, len(w.Scenarios))
	for i, raw := range w.Scenarios {
		ptr := "/scenarios/" + strconv.Itoa(i)
		id, isSet, ok := scenarioID(raw, ptr, probs)
		it := scenarioItem{ID: id, Set: isSet && !pricing.IsScenario(id)}
		if !ok || seenS[it] {
			continue
		}
		seenS[it] = true
		req.Scenarios = append(req.Scenarios, it)
		req.pointer.scenarios = append(req.pointer.scenarios, ptr)
	}

	req.Execution.MaxAttempts = DefaultMaxAttempts
	if e := w.Execution; e != nil {
		if e.HashMod != nil {
			if *e.HashMod < MinHashMod || *e.HashMod > MaxHashMod {
				probs.addf("/execution/hash_mod", "hash_mod %d is out of range: it must be from %d to %d", *e.HashMod, MinHashMod, MaxHashMod)
			} else {
				hm := *e.HashMod
				req.Execution.HashMod = &hm
			}
		}
		if e.MaxAttempts != nil {
			if *e.MaxAttempts < MinMaxAttempts || *e.MaxAttempts > MaxMaxAttempts {
				probs.addf("/execution/max_attempts", "max_attempts %d is out of range: it must be from %d to %d", *e.MaxAttempts, MinMaxAttempts, MaxMaxAttempts)
			} else {
				req.Execution.MaxAttempts = *e.MaxAttempts
			}
		}
		if e.AggregateAttrs != nil {
			req.Execution.AggregateAttrs = aggregateAttrs(*e.AggregateAttrs, probs)
		}
	}
	if err := probs.err(apperr.Invalid, "the run request is invalid"); err != nil {
		return nil, err
	}
	return req, nil
}

// aggregateAttrs checks execution.aggregate_attrs: attribute names, at
// most runengine.MaxAggregateAttrs once repeats are dropped (in their
// first order).
func aggregateAttrs(names []string, probs *problems) *[]string {
	out := make([]string, 0, len(names))
	for i, name := range names {
		switch {
		case !store.ValidAttrName(name):
			probs.addf("/execution/aggregate_attrs/"+strconv.Itoa(i), "%q is not an attribute name: it must match ^[A-Za-z_][A-Za-z0-9_]*$", name)
		case !slices.Contains(out, name):
			out = append(out, name)
		}
	}
	if len(out) > runengine.MaxAggregateAttrs {
		probs.addf("/execution/aggregate_attrs", "%d attributes: at most %d", len(out), runengine.MaxAggregateAttrs)
	}
	return &out
}

// scenarioID reads one scenarios item: a scenario id string, or
// {"scenario_set_id": "ID"} (isSet).
func scenarioID(raw json.RawMessage, ptr string, probs *problems) (id string, isSet, ok bool) {
	const shape = `each scenario is an id string or {"scenario_set_id": "ID"}`
	trimmed := strings.TrimSpace(string(raw))
	switch {
	case strings.HasPrefix(trimmed, `"`):
		var id string
		if err := json.Unmarshal(raw, &id); err != nil {
			probs.add(ptr, shape)
			return "", false, false
		}
		if id == "" {
			probs.add(ptr, "a scenario id must not be empty")
			return "", false, false
		}
		return id, false, true
	case strings.HasPrefix(trimmed, "{"):
		var ref scenarioRef
		if err := web.UnmarshalStrict(raw, &ref, ptr); err != nil {
			if e, ok := apperr.As(err); ok && len(e.Fields) > 0 {
				for _, f := range e.Fields {
					probs.add(f.Pointer, f.Detail)
				}
			} else {
				probs.add(ptr, shape)
			}
			return "", false, false
		}
		if ref.ScenarioSetID == nil || *ref.ScenarioSetID == "" {
			probs.add(ptr+"/scenario_set_id", "scenario_set_id is required and must not be empty")
			return "", false, false
		}
		return *ref.ScenarioSetID, true, true
	default:
		probs.add(ptr, shape)
		return "", false, false
	}
}

func isRunType(s string) bool {
	for _, t := range runTypes {
		if t == s {
			return true
		}
	}
	return false
}
