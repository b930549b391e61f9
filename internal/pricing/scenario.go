package pricing

// A scenario is a whole perturbed market, built once from the base market
// and shared by every position priced under it (SPEC §2). Adding a scenario
// is one entry in scenarioDefs.

// Bump sizes of SPEC §2.
const (
	oneBP         = 0.0001
	spreadShock   = 0.0025
	fxSpotFactor  = 1.01
	scenarioBase  = "BASE"
	scenarioRates = "RATES_PARALLEL_1BP"
	scenarioSprd  = "SPREAD_25BP"
	scenarioFX    = "FX_SPOT_1PCT"
)

type scenarioDef struct {
	id    string
	apply func(base *Market) *Market
}

// scenarioDefs lists the scenarios in their canonical order.
func scenarioDefs() []scenarioDef {
	return []scenarioDef{
		{id: scenarioBase, apply: func(m *Market) *Market { return m }},
		{id: scenarioRates, apply: func(m *Market) *Market { return m.withCurveShift(isOISCurve, oneBP) }},
		{id: scenarioSprd, apply: func(m *Market) *Market { return m.withCurveShift(isSpreadCurve, spreadShock) }},
		{id: scenarioFX, apply: func(m *Market) *Market { return m.withSpotFactor(fxSpotFactor) }},
	}
}

// ScenarioIDs returns the known scenario ids in canonical order.
func ScenarioIDs() []string {
	defs := scenarioDefs()
	out := make([]string, len(defs))
	for i, d := range defs {
		out[i] = d.id
	}
	return out
}

// IsScenario reports whether id is a known scenario.
func IsScenario(id string) bool {
	_, ok := lookupScenario(id)
	return ok
}

func lookupScenario(id string) (scenarioDef, bool) {
	for _, d := range scenarioDefs() {
		if d.id == id {
			return d, true
		}
	}
	return scenarioDef{}, false
}

// ScenarioMarket returns the market of a scenario built from base.
func ScenarioMarket(base *Market, id string) (*Market, bool) {
	d, ok := lookupScenario(id)
	if !ok {
		return nil, false
	}
	return d.apply(base), true
}
