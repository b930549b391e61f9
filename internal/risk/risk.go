// Package risk computes value at risk and expected shortfall from a
// group's scenario P&L (SPEC §4.4). It is pure: vectors in, figures out.
//
// # Definitions
//
// A group's P&L under scenario j is the correctly rounded sum over its
// positions of PV(j) − PV(BASE), each difference rounded to a float64 first
// (PnL accumulates these exactly, per scenario, and merges across tasks).
// The losses Lⱼ = −P&Lⱼ are sorted from the largest, ties by ascending
// scenario id (byte order), giving L₍₁₎ ≥ L₍₂₎ ≥ … ≥ L₍N₎. With N scenarios
// and β = 1 − confidence:
//
//	var = L₍ₖ₎, k = ⌈N·β⌉
//	es  = (Σ_{i ≤ ⌊Nβ⌋} L₍ᵢ₎ + (Nβ − ⌊Nβ⌋)·L₍⌊Nβ⌋+1₎) / (Nβ)
//
// worst_scenario_id is the scenario of L₍₁₎. A loss of zero is +0, never −0.
//
// # Exactness
//
// The confidence is read from its decimal text ("0.99" and "0.990" are the
// same) as an exact rational, so β, N·β, ⌈Nβ⌉, ⌊Nβ⌋ and the fractional part
// Nβ − ⌊Nβ⌋ are exact: N = 250 at 0.99 gives Nβ = 5/2 exactly, never
// 2.4999999999999996. ES is computed exactly too: the losses are summed
// without rounding, the fractional term is added as an exact rational, the
// whole is divided by Nβ as a rational, and the result is rounded once to
// the nearest float64 (ties to even). So ES is the correctly rounded value
// of the formula, whatever the order of the scenarios. (This is stricter
// than summing the terms with exactsum, rounding and then dividing, which
// rounds twice; the two agree except in the last bit of rare cases.)
//
// # Errors
//
// A confidence that is not a plain decimal number strictly between 0 and 1
// (digits with at most one '.', no sign or exponent), or one that leaves
// N·β < 1, is an error wrapping ErrConfidence: the API's 400. Anything else
// (no scenarios, a non-finite P&L, repeated ids, vectors of different
// lengths) is the caller's mistake.
package risk

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strings"
)

// ErrConfidence marks every error about the confidence level.
var ErrConfidence = errors.New("invalid confidence")

// DefaultConfidence is the confidence when a request gives none.
const DefaultConfidence = "0.99"

// maxConfidenceLen bounds the decimal text of a confidence.
const maxConfidenceLen = 64

// Confidence is a confidence level read exactly from its decimal text.
// The zero value is not valid; use ParseConfidence.
type Confidence struct {
	text string
	beta *big.Rat // 1 − confidence, in (0, 1)
}

// ParseConfidence reads a confidence such as "0.99": digits with at most
// one decimal point ("0.975", ".99", "0.990"), strictly between 0 and 1.
func ParseConfidence(s string) (Confidence, error) {
	bad := func(why string) (Confidence, error) {
		return Confidence{}, fmt.Errorf("%w: %q %s", ErrConfidence, s, why)
	}
	if s == "" || len(s) > maxConfidenceLen {
		return bad(fmt.Sprintf("must be a decimal number of 1 to %d characters, such as 0.99", maxConfidenceLen))
	}
	digits := 0
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '.' && !strings.Contains(s[i+1:], "."):
		default:
			return bad("is not a plain decimal number such as 0.99 (digits and one '.', no sign or exponent)")
		}
	}
	if digits == 0 {
		return bad("has no digits")
	}
	c, ok := new(big.Rat).SetString(s)
	if !ok {
		return bad("is not a decimal number")
	}
	if c.Sign() <= 0 || c.Cmp(big.NewRat(1, 1)) >= 0 {
		return bad("must lie strictly between 0 and 1")
	}
	return Confidence{text: s, beta: new(big.Rat).Sub(big.NewRat(1, 1), c)}, nil
}

// MustConfidence is ParseConfidence for constants; it panics on error.
func MustConfidence(s string) Confidence {
	c, err := ParseConfidence(s)
	if err != nil {
		panic(err)
	}
	return c
}

// String returns the text the confidence was read from.
func (c Confidence) String() string { return c.text }

// Beta returns β = 1 − confidence, exactly.
func (c Confidence) Beta() *big.Rat {
	if c.beta == nil {
		return nil
	}
	return new(big.Rat).Set(c.beta)
}

// Tail describes the tail of N scenarios at a confidence: N·β exactly, k =
// ⌈Nβ⌉ (the rank of the VaR), ⌊Nβ⌋ and the fraction Nβ − ⌊Nβ⌋.
type Tail struct {
	N     int
	NBeta *big.Rat
	Ceil  int
	Floor int
	Frac  *big.Rat
}

// TailOf returns the tail of n scenarios at c; N·β < 1 is an error wrapping
// ErrConfidence (the tail would hold less than one scenario).
func TailOf(n int, c Confidence) (Tail, error) {
	if c.beta == nil {
		return Tail{}, fmt.Errorf("%w: no confidence", ErrConfidence)
	}
	if n < 1 {
		return Tail{}, errors.New("risk: no scenarios")
	}
	nb := new(big.Rat).Mul(big.NewRat(int64(n), 1), c.beta)
	num, den := nb.Num(), nb.Denom()
	if num.Cmp(den) < 0 {
		return Tail{}, fmt.Errorf("%w: with %d scenarios a confidence of %s leaves N·(1 − confidence) = %s below 1; "+
			"lower the confidence or use more scenarios", ErrConfidence, n, c.text, nb.RatString())
	}
	q, r := new(big.Int).QuoRem(num, den, new(big.Int))
	floor := int(q.Int64()) // ≤ n
	ceil := floor
	if r.Sign() != 0 {
		ceil++
	}
	return Tail{N: n, NBeta: nb, Ceil: ceil, Floor: floor, Frac: new(big.Rat).SetFrac(r, den)}, nil
}

// Result is the VaR and ES of one group.
type Result struct {
	VaR             float64 `json:"var"`
	ES              float64 `json:"es"`
	ScenarioCount   int     `json:"scenario_count"`
	WorstScenarioID string  `json:"worst_scenario_id"`
}

// Compute returns the VaR and ES of a P&L vector: pnl[j] is the group's P&L
// under the scenario ids[j]. The ids must be distinct and the P&L finite.
func Compute(ids []string, pnl []float64, c Confidence) (Result, error) {
	if len(ids) != len(pnl) {
		return Result{}, fmt.Errorf("risk: %d scenario ids for %d P&L values", len(ids), len(pnl))
	}
	tail, err := TailOf(len(pnl), c)
	if err != nil {
		return Result{}, err
	}
	type loss struct {
		id string
		l  float64
	}
	losses := make([]loss, len(pnl))
	seen := make(map[string]bool, len(ids))
	for j, p := range pnl {
		if math.IsNaN(p) || math.IsInf(p, 0) {
			return Result{}, fmt.Errorf("risk: P&L of scenario %q is not finite", ids[j])
		}
		if seen[ids[j]] {
			return Result{}, fmt.Errorf("risk: scenario %q appears twice", ids[j])
		}
		seen[ids[j]] = true
		l := -p
		if l == 0 {
			l = 0 // +0, never −0
		}
		losses[j] = loss{ids[j], l}
	}
	slices.SortFunc(losses, func(a, b loss) int {
		switch {
		case a.l > b.l:
			return -1
		case a.l < b.l:
			return 1
		}
		return strings.Compare(a.id, b.id)
	})
	sorted := make([]float64, len(losses))
	for i, x := range losses {
		sorted[i] = x.l
	}
	es, err := expectedShortfall(sorted, tail)
	if err != nil {
		return Result{}, err
	}
	return Result{
		VaR:             sorted[tail.Ceil-1],
		ES:              es,
		ScenarioCount:   tail.N,
		WorstScenarioID: losses[0].id,
	}, nil
}

// expectedShortfall evaluates the ES formula on losses sorted from the
// largest, exactly, rounding once at the end.
func expectedShortfall(sorted []float64, t Tail) (float64, error) {
	sum := exactSum(sorted[:t.Floor])
	if t.Frac.Sign() != 0 {
		part := new(big.Rat).SetFloat64(sorted[t.Floor])
		sum.Add(sum, part.Mul(part, t.Frac))
	}
	es, _ := sum.Quo(sum, t.NBeta).Float64()
	if math.IsInf(es, 0) {
		return 0, errors.New("risk: expected shortfall beyond the range of a float64")
	}
	if es == 0 {
		es = 0
	}
	return es, nil
}

// exactPrec holds any sum of float64 values exactly: their binary digits
// span at most 2,098 places (2^1023 down to 2^−1074), plus carries.
const exactPrec = 2098 + 64

// exactSum returns Σ xs as an exact rational (xs finite).
func exactSum(xs []float64) *big.Rat {
	acc := new(big.Float).SetPrec(exactPrec)
	var x big.Float
	for _, v := range xs {
		acc.Add(acc, x.SetFloat64(v))
	}
	r, _ := acc.Rat(nil)
	return r
}
