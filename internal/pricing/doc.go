// Package pricing values positions under market scenarios exactly as SPEC §2
// defines it. It is pure: no database, HTTP, logging or other internal
// package, and no global mutable state.
//
// # Flow
//
// A caller decodes a market snapshot into MarketData and builds a Market
// with NewMarket, decodes each position object into a PositionInput and
// parses it with ParsePosition (market-independent checks, the 400 problems
// of an upload; PositionIDs finds repeated ids across a snapshot), then
// builds one Engine per run with NewEngine(market, scenarioIDs, measures,
// runAsOf). (*Engine).Check reports what is wrong with a position against
// that market and as-of date (the 422 problems of a run), and
// (*Engine).Price fills a Values for one position under one scenario.
//
//	mkt, err := pricing.NewMarket(data)
//	pos, probs := pricing.ParsePosition(input)
//	eng, err := pricing.NewEngine(mkt, []string{"BASE"}, []pricing.Measure{pricing.PV}, runAsOf)
//	var v pricing.Values
//	err = eng.Price(pos, 0, &v)
//	pv, ok := v.Get(pricing.PV)
//
// # API
//
//   - Measure (PV, DV01, CS01, AccruedInterest, FXDelta), ParseMeasure,
//     Measure.String (wire names "PV", "DV01", "CS01", "ACCRUED_INTEREST",
//     "FX_DELTA"), Measures.
//   - Values: the measures of one position under one scenario, fixed size,
//     no maps; Get, Has, Set, Reset, Present, Map, AppendJSON, MarshalJSON.
//   - MarketData (with FXSpot, CurveData, CurveNode, Quality) decodes a
//     market snapshot; NewMarket validates it into a *Market (HasCurve,
//     HasFXSpot, FXSpot, ZeroRate, DiscountFactor, CurveIDs, FXPairs).
//     ParseTenor gives a tenor's year fraction.
//   - ScenarioIDs, IsScenario, ScenarioMarket: BASE, RATES_PARALLEL_1BP,
//     SPREAD_25BP, FX_SPOT_1PCT.
//   - PositionInput decodes a position object; ParsePosition returns a
//     *Position or its []Problem; ProductTypes, IsProductType,
//     SupportedMeasures(productType). (*Position).Requirements gives the
//     curve ids and FX pairs it needs; (*Position).SupportedMeasures the
//     measures that apply to it.
//   - Problem{PositionID, Pointer, Detail}: Pointer is a JSON Pointer
//     relative to the position object ("/attributes/cashflows/2/pay_date"),
//     "" for the position as a whole. Problem implements error.
//   - NewEngine, (*Engine).Check, (*Engine).Price, Scenarios, ScenarioIndex,
//     Measures, AsOfDate.
//
// # Conventions
//
// Time to a date is t = days/365 from the position's as-of date, which is
// attributes.as_of_date or else the UTC date of the run's as-of time.
// Zero and spread curves are linear in the zero rate in t and flat beyond
// both ends; a date beyond the last node uses the last rate. Cashflows
// before the as-of date are ignored; one on it counts with t = 0. DV01 bumps
// every curve whose id ends in -OIS by +1bp; CS01 bumps the position's spread
// curve by +1bp; both are computed on the market of the scenario being
// priced. Every measure is multiplied by the position's quantity. A measure
// that does not apply to a product is absent from its Values.
//
// # Determinism and speed
//
// Results are bit-identical whatever the order of calls or the number of
// goroutines, and across platforms: exponentials use a portable exp, and
// every product that feeds a sum is rounded explicitly so no compiler fuses
// it into a multiply-add. Because t is a whole number of days over 365, each
// scenario caches discount factors by day offset per (discount curve, spread
// curve, bump), computed on first use under a sync.Once with the same
// function as a direct computation, so cached and uncached values are the
// same bits. Price allocates nothing.
package pricing
