// Package explain values the P&L explain of SPEC §4.5: the waterfall that
// takes each position from the first run's BASE PV to the second run's,
// step by step, each step a full revaluation of the previous step's state.
// It is pure (pricing and exactsum only); the worker values an explain
// run's tasks with it and the services store and group its results as the
// results of a run.
//
// # The waterfall of one position
//
// With D₁, D₂ the dates of the runs' as-of times, M₁, M₂ their markets,
// v₁, v₂ the position's versions in the first and second run, and V(v, M, D)
// its PV on market M at date D (every position valued at D, its
// attributes.as_of_date ignored; the model set of the runs, if any,
// applies):
//
//	from_pv         = the first run's stored BASE PV of v₁
//	carry_cashflows = Σ cashflows of v₁ dated in [D₁, D₂), from M₁ at D₁
//	carry           = V(v₁, M₁, D₂) + carry_cashflows − from_pv
//	rates           = V(v₁, Mr, D₂) − V(v₁, M₁, D₂)   Mr = M₁ with M₂'s *-OIS curves
//	spread          = V(v₁, Ms, D₂) − V(v₁, Mr, D₂)   Ms = M₁ with all M₂'s curves
//	fx              = V(v₁, Mf, D₂) − V(v₁, Ms, D₂)   Mf = Ms with M₂'s FX spots
//	amendments      = V(v₂, Mf, D₂) − V(v₁, Mf, D₂)   when quantity or attributes changed, else 0
//	new             = V(v₂, Mf, D₂)                   for a position only in the second run
//	matured         = −V(v₁, Mf, D₂)                  for a position only in the first run
//	to_pv           = the second run's stored BASE PV of v₂
//	total           = the correctly rounded sum of the seven steps
//
// A position only in the second run has only new (and to_pv); one only in
// the first has no amendments, new or to_pv. carry is the correctly rounded
// sum of its three terms; each other step is one float64 subtraction.
//
// # Readings of SPEC §4.5
//
//   - "The second market" of rates, spread and fx is blended into the
//     first: a curve or spot of the second market replaces the first's of
//     the same id or is added; one the second lacks stays as the first has
//     it (a position of the first run only may need it to value its
//     matured leg). For every position of the second run, whose curves and
//     spots the second run checked, Mf is the second market.
//   - Carry cashflows are the first version's cashflows, from the first
//     market valued at D₁ (projected with the model set where it gives a
//     loan a rule), dated on or after D₁ and before D₂; a flow dated D₁ is
//     also in from_pv (t = 0) and one dated D₂ is in V(·, ·, D₂), so
//     nothing is counted twice or missed. Loans: each row's cashflow
//     (interest + principal, or the projected flow). Bonds: each amount.
//     An FX forward maturing in [D₁, D₂): its value on its maturity date,
//     N·(spot − K) with the first market's spot (t = 0, discount factors
//     1), the only spot the carry step knows; after maturity it is worth 0
//     (SPEC §2), so the later steps add nothing for it.
//   - A position is the same position in both runs when it has the same
//     position_id in the same portfolio node (one run values at most one
//     snapshot per node, so the pair is unique in a run). "Quantity or
//     attributes changed": the quantities differ (an absent quantity is 1)
//     or the stored canonical attributes differ byte for byte. An
//     instrument_id change alone is no amendment (it only regroups).
//   - A position whose product type changed is matured (its first
//     version) and new (its second), as SPEC says.
//   - Groups follow the second version of a position (the first for a
//     matured one).
//
// # The identity
//
// Summing the steps gives V(v₂, Mf, D₂) + carry_cashflows − from_pv for a
// position in the second run (V(v₁, …) when not amended), and
// carry_cashflows − from_pv for a matured one, exactly in real arithmetic.
// So total = to_pv − from_pv + carry_cashflows up to the rounding of the
// steps (each a single rounding, half an ulp of the step) whenever the
// second run's stored PV is V(v₂, M₂, D₂) — always the case unless a
// position of the second run carries an attributes.as_of_date other than
// the run's date, which the explain (as SPEC says) ignores.
package explain
