// Package pricing values positions under market scenarios exactly as SPEC §2
// defines it. It is pure: no database, HTTP or logging, no global mutable
// state, and no other internal package but ident (the rule of client-chosen
// ids, which imports nothing).
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
//   - Measure (PV, DV01, CS01, AccruedInterest, FXDelta, WAL,
//     ExpectedLoss, KR01), ParseMeasure, Measure.String (wire names "PV",
//     "DV01", "CS01", "ACCRUED_INTEREST", "FX_DELTA", "WAL",
//     "EXPECTED_LOSS", "KR01"; also its JSON/text encoding), Measure.Valid,
//     Measures. Measure.Spec declares each measure (a measure is data): its
//     name, the product types it applies to, its unit and its Aggregation
//     (Sum, WeightedAverage, KeyByKey, PerCurrency); storage, summaries,
//     cubes, exports and the CLI follow it.
//
//   - Values: the measures of one position under one scenario, fixed size,
//     no maps; Get, Has, Set, Reset, Present, Map, AppendJSON, MarshalJSON;
//     SetWAL/WALWeight (WAL and its aggregation weight),
//     SetFXDelta/FXDeltaCurrency (FX_DELTA's base currency), AddKR01/KR01
//     (up to two KeyRateLadder, one per *-OIS curve, over KeyRateTenors);
//     AppendBinary/DecodeBinary, a compact canonical binary form for
//     storage.
//
//   - MarketData (with FXSpot, CurveData, CurveNode, Quality) decodes a
//     market snapshot; NewMarket validates it into a *Market (HasCurve,
//     HasFXSpot, FXSpot, ZeroRate, DiscountFactor, CurveIDs, FXPairs).
//     ParseTenor gives a tenor's year fraction.
//
//   - ScenarioIDs, IsScenario, ScenarioMarket: BASE, RATES_PARALLEL_1BP,
//     SPREAD_25BP, FX_SPOT_1PCT.
//
//   - ScenarioSet (SetScenario, Shock, Selector; SPEC §4.3): user-defined
//     scenarios, each an ordered list of CURVE_SHIFT, CURVE_TENOR_SHIFTS and
//     FX_SPOT shocks on curves or pairs named by id or by a '*' pattern.
//     DecodeScenarioSet and (*ScenarioSet).Validate report every problem
//     with a JSON Pointer (SetProblem; the 400s of an upload);
//     (*ScenarioSet).Requirements lists what a market lacks (the 422s of a
//     run check); (*ScenarioSet).ScenarioMarket applies one scenario.
//     NewEngine(…, WithScenarioSets(sets…)) lets a run mix built-in ids and
//     set scenario ids; each scenario market is built once per engine.
//     HistoricalSet builds a set from dated market snapshots.
//
//   - PositionInput decodes a position object; ParsePosition returns a
//     *Position or its []Problem; ProductTypes, IsProductType,
//     SupportedMeasures(productType). (*Position).Requirements gives the
//     curve ids and FX pairs it needs; (*Position).SupportedMeasures the
//     measures that apply to it.
//
//   - Problem{PositionID, Pointer, Detail}: Pointer is a JSON Pointer
//     relative to the position object ("/attributes/cashflows/2/pay_date"),
//     "" for the position as a whole. Problem implements error.
//
//   - PositionIDs (NewPositionIDs, Add(index, id)) reports a repeated
//     position_id across one snapshot as a Problem at "/position_id".
//
//   - NewEngine(base, scenarioIDs, measures, runAsOf) builds every scenario
//     market once; (*Engine).Check(p) returns the market- and run-dependent
//     problems (a missing curve or FX spot, a loan's last_payment_date after
//     the as-of date, a loan payment not above the first period's
//     interest); (*Engine).Price(p, scenarioIndex, &values) fills one
//     result, allocating nothing, or returns a Problem naming the position
//     and the reason. Scenarios (index order), ScenarioIndex, Measures,
//     Market, RunAsOf and AsOfDate describe the engine.
//
//   - ParseModelSet(doc) checks and compiles a model set (SPEC §4.1) or
//     returns every ModelSetProblem with its JSON Pointer; WithModelSet(ms)
//     gives it to NewEngine. (*ModelSet).Match tells which rule a position
//     takes. (*Engine).Cashflows(p, scenarioIndex) returns a loan's
//     CashflowRow list (projected, or contractual when no rule applies).
//
//   - (*Position).LoanFacts(asOf): current balance, coupon, FICO, age₀,
//     WAM and vintage quarter of a loan, for loan-tape views (SPEC §4.6);
//     Vintage(productType, raw) reads the same quarter from the JSON text
//     of the attributes VintageAttrs() alone, for groupings that scan rows.
//
// Decoding: PositionInput.UnmarshalJSON and ParsePosition use a small
// single-pass JSON scanner instead of decoding every level into a
// json.RawMessage, so that an upload of a million positions is not
// dominated by re-scanning the same bytes. A field of the wrong JSON type
// becomes a Problem, not a decode error; unknown fields are ignored.
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
// Products: AMORT_LOAN (PV, DV01, CS01, ACCRUED_INTEREST, WAL,
// EXPECTED_LOSS, KR01; explicit cashflows, or a level-payment schedule
// generated from its terms), FIXED_BOND (PV, DV01, CS01, ACCRUED_INTEREST,
// KR01) and FX_FWD (PV, DV01, FX_DELTA, KR01). A product's measures come
// from the measure declarations (Measure.Spec). Each product lives in its
// own file and registers itself; a new product is one new file with its
// parser and pricer, plus its tests.
//
// # Model sets, WAL, EXPECTED_LOSS, KR01 (SPEC §4.1, §4.2)
//
// A loan takes the first rule of the engine's model set whose every
// condition holds, matched once per position and model set against its
// top-level string, number and boolean attributes (kept, copied, when the
// position is parsed) and remembered in the position. Its projected rows
// (projection.go) are discounted exactly as contractual cashflows are, in
// every scenario and for DV01, CS01 and KR01. Readings taken where the
// spec is open:
//
//   - Explicit cashflows are projected in date order (ties in the order
//     given); the contractual valuation keeps the order given.
//   - age₀ sources must be whole numbers: loan_age_months that is not a
//     whole number ≥ 0 is ignored, and term_months − remaining_term_months
//     is used only when it is ≥ 0; else age₀ = 0. These optional attributes
//     never make a position invalid.
//   - A PSA or SDA rate above 100% CPR/CDR is taken as 100%; rates are
//     converted to monthly ones with portable log and exp, once, when the
//     model set is parsed. recovery_lag_months is used up to 2²⁰ (any lag
//     of at least the number of rows means no defaults).
//   - A match list must not be empty (it could never hold); a range with
//     both gt and gte (or lt and lte) keeps the tighter bound.
//   - WAL is absent when Σ(Aᵢ + Vᵢ + RECᵢ) ≤ 0 ("no principal remains");
//     it is Σ daysᵢ·(Aᵢ + Vᵢ + RECᵢ) / (365·Σ(Aᵢ + Vᵢ + RECᵢ)). Contractual
//     EXPECTED_LOSS is 0.
//   - KR01 has a ladder for each *-OIS curve among the discount and spread
//     curves (loans, bonds) or the domestic and foreign curves (FX
//     forwards; one ladder when both legs use the same curve); a position
//     with none has no KR01. Each entry is computed as Σ aᵢ·(dfⱼ(tᵢ) −
//     df(tᵢ)) over the flows inside the triangle, which equals PV(bumped) −
//     PV without cancellation; an expired FX forward has ladders of
//     zeros. Values.Get(KR01) is the sum of all entries.
//
// Decisions where SPEC §2 is silent: a curve override (for example
// risk_modeling.discount_curve = "USD-SOFR") is priced on the named curve,
// and DV01 bumps it only if its id ends in -OIS, as the spec's definition
// says; CS01 bumps whatever curve the position uses as its spread curve. A
// loan by terms must have remaining_term_months of at least 1. An FX pair
// must be XXXUSD. A result that is not finite (say, from an absurd rate)
// is refused by Price, since the platform only stores finite numbers.
//
// Readings of SPEC §4.3 (scenario sets). A CURVE_SHIFT adds shift_bp/10,000
// (a division, so +1bp is the same double as RATES_PARALLEL_1BP's bump) to
// the curve's node rates, which moves r(t) by that amount at every t; a
// CURVE_TENOR_SHIFTS adds its own piecewise-linear function of t on top
// of the curve (curve.withShift), never resampled at the curve's nodes.
// Shocks apply in order, each to the market the previous ones left; a
// curve or pair named by several shocks moves once per shock. In the array
// form of curves/pairs an id is literal ('*' included); an empty id or one
// listed twice is a 400, as is an empty array or pattern, two shifts_bp
// tenors at the same year fraction (12M and 1Y) and any member that does
// not belong to the shock's type. Scenario ids follow the rules of set ids
// (1 to 128 bytes, no control characters, no white space at either end) but
// may hold '/'; comparison with the built-in ids is exact (so "base" is
// allowed).
//
// Readings for the historical builder (HistoricalSet): h, horizon_days,
// counts snapshot dates (Sₖ to Sₖ₊ₕ), not calendar days, as the spec's
// indices say; each shift is stored in bp as (r′ − r)·10,000 in float64
// (applying it divides by 10,000 again, so the scenario reproduces the later
// rate at the earlier node tenors up to rounding); within a scenario the
// curve shocks come in curve id order, then the FX shocks in pair order. A
// selection is resolved against Sₖ: a pattern matching nothing there, or a
// listed id missing from Sₖ or Sₖ₊ₕ, is a 422 problem (one per id, naming
// the snapshots), pointing at the curves or pairs member (also when it
// was omitted and the default selected everything).
//
// # Determinism and speed
//
// Results are bit-identical whatever the order of calls or the number of
// goroutines, and across platforms: exponentials use a portable exp, and
// every product that feeds a sum is rounded explicitly so no compiler fuses
// it into a multiply-add. Because t is a whole number of days over 365, each
// scenario caches discount factors by day offset per (discount curve, spread
// curve, bump). A table is computed with the same function as a direct
// computation, so cached and uncached values are the same bits; it grows on
// demand (under a mutex, into a new slice published atomically, so readers
// take no lock) up to about 40 years, beyond which factors are computed
// directly. Price allocates nothing.
package pricing
