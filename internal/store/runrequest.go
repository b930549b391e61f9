package store

import (
	"encoding/json"
	"fmt"
)

// ScenarioSetIDs returns the ids of the scenario sets the run's normalized
// request names (items {"scenario_set_id": ID} of its "scenarios"; a
// built-in scenario is a plain id there), in request order. The worker
// builds the run's scenario markets from them, and the publish hash covers
// them.
func (r *Run) ScenarioSetIDs() ([]string, error) {
	var req struct {
		Scenarios []json.RawMessage `json:"scenarios"`
	}
	if err := json.Unmarshal(r.Request, &req); err != nil {
		return nil, fmt.Errorf("read the scenarios of run %s's request: %w", r.ID, err)
	}
	var ids []string
	for _, raw := range req.Scenarios {
		var ref struct {
			ScenarioSetID *string `json:"scenario_set_id"`
		}
		if len(raw) > 0 && raw[0] == '{' {
			if err := json.Unmarshal(raw, &ref); err != nil || ref.ScenarioSetID == nil {
				return nil, fmt.Errorf("run %s's request has a scenario item %s that is not {\"scenario_set_id\": …}", r.ID, raw)
			}
			ids = append(ids, *ref.ScenarioSetID)
		}
	}
	return ids, nil
}
