// Package strats computes loan-tape stratifications (SPEC §4.6): the loans
// of a position snapshot grouped, per group their count, balance, share of
// the snapshot's loan balance and balance-weighted coupon, FICO, age and
// remaining term.
//
// Readings of the SPEC sentence:
//   - A loan's balance is the float64 product current_principal×quantity
//     (pricing.LoanFacts.Balance); balance sums these exactly and rounds
//     once (package exactsum).
//   - A weighted average is Σ xᵢ·balanceᵢ / Σ balanceᵢ, both sums exact:
//     each product xᵢ·balanceᵢ is added exactly (as its rounded value and
//     its rounding error, by fused multiply-add), each sum is rounded once
//     and the quotient once more. So the figures do not depend on the
//     order of the loans.
//   - wala is age₀ of SPEC §4.1 for every loan (0 when a loan gives no
//     age); wam is remaining_term_months, else the number of schedule rows
//     dated on or after the as-of date (the loan's attributes.as_of_date,
//     else the snapshot's as-of date).
//   - fico averages only the loans that have a numeric fico, weighted by
//     their balances; it is null when none of the group has one.
//   - A weighted average whose weights sum to 0 is null, and balance_pct
//     is null when the snapshot's loan balance is 0.
//   - Only AMORT_LOAN positions take part; a group exists only when it has
//     a loan, so a snapshot without loans has no items. Groups are ordered
//     by key, bytewise; without a grouping there is one item, key null.
package strats

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/iprs/iprs/internal/exactsum"
	"github.com/iprs/iprs/internal/group"
	"github.com/iprs/iprs/internal/pricing"
	"github.com/iprs/iprs/internal/store"
)

// Dimensions are the groupings besides attr:NAME.
var Dimensions = []string{"portfolio_node_id", "product_type", "vintage"}

// Grouping says how loans are grouped: By is "" (one group), one of
// Dimensions or attr:NAME; Bands, with attr:NAME only, bands the
// attribute's numeric value.
type Grouping struct {
	By    string
	Bands group.Bands
}

// ParseGrouping checks the by and bands parameters (bands "" when absent)
// and returns the grouping, or the parameter at fault and why.
func ParseGrouping(by string, hasBands bool, bands string) (Grouping, string, string) {
	g := Grouping{By: by}
	_, isAttr := store.AttrKey(by)
	switch {
	case by == "", slices.Contains(Dimensions, by), isAttr:
	case strings.HasPrefix(by, "attr:"):
		return g, "by", "the attribute name in attr:NAME must match ^[A-Za-z_][A-Za-z0-9_]*$"
	default:
		return g, "by", "must be one of " + strings.Join(Dimensions, ", ") + ", or attr:NAME (or absent for the whole snapshot)"
	}
	if hasBands {
		b, err := group.ParseBands(bands)
		if err != nil {
			return g, "bands", err.Error()
		}
		if !isAttr {
			return g, "bands", "applies to by=attr:NAME only"
		}
		g.Bands = b
	}
	return g, "", ""
}

// Item is one group of a stratification.
type Item struct {
	Key        *string  `json:"key"`
	Count      int64    `json:"count"`
	Balance    float64  `json:"balance"`
	BalancePct *float64 `json:"balance_pct"`
	WAC        *float64 `json:"wac"`
	FICO       *float64 `json:"fico"`
	WALA       *float64 `json:"wala"`
	WAM        *float64 `json:"wam"`
}

// acc accumulates one group.
type acc struct {
	count               int64
	bal, wac, wala, wam exactsum.Acc
	ficoBal, fico       exactsum.Acc
	hasFICO             bool
}

// addProduct adds x·y to a exactly: the rounded product and its error.
func addProduct(a *exactsum.Acc, x, y float64) {
	p := x * y
	a.Add(p)
	if e := math.FMA(x, y, -p); e != 0 && !math.IsInf(p, 0) {
		a.Add(e)
	}
}

// Builder accumulates the loans of a snapshot.
type Builder struct {
	g      Grouping
	asOf   time.Time
	total  exactsum.Acc
	groups map[string]*acc
}

// NewBuilder starts a stratification with the grouping; asOf is the
// snapshot's as-of time (for wam when a loan gives no remaining term).
func NewBuilder(g Grouping, asOf time.Time) *Builder {
	return &Builder{g: g, asOf: asOf, groups: map[string]*acc{}}
}

// Add adds a stored position; positions that are not AMORT_LOANs are
// skipped. A loan that does not parse is an error (an upload checks every
// position, so it means the stored snapshot is damaged).
func (b *Builder) Add(p *store.Position) error {
	if p.ProductType != "AMORT_LOAN" {
		return nil
	}
	in := pricing.PositionInput{PositionID: p.PositionID, InstrumentID: p.InstrumentID, ProductType: p.ProductType, Attributes: p.Attributes}
	if p.Quantity != nil {
		q := *p.Quantity
		in.Quantity = &q
	}
	pos, probs := pricing.ParsePosition(in)
	if len(probs) > 0 {
		return fmt.Errorf("position %s of snapshot %s: %w", p.PositionID, p.SnapshotID, probs[0])
	}
	f, ok := pos.LoanFacts(b.asOf)
	if !ok {
		return nil
	}
	key, err := b.key(p, f)
	if err != nil {
		return err
	}
	a := b.groups[key]
	if a == nil {
		a = &acc{}
		b.groups[key] = a
	}
	w := f.Balance
	b.total.Add(w)
	a.count++
	a.bal.Add(w)
	addProduct(&a.wac, f.Coupon, w)
	addProduct(&a.wala, float64(f.Age), w)
	addProduct(&a.wam, float64(f.WAM), w)
	if f.HasFICO {
		a.hasFICO = true
		a.ficoBal.Add(w)
		addProduct(&a.fico, f.FICO, w)
	}
	return nil
}

// key is a loan's group key.
func (b *Builder) key(p *store.Position, f pricing.LoanFacts) (string, error) {
	switch b.g.By {
	case "":
		return "", nil
	case "portfolio_node_id":
		return p.PortfolioNodeID, nil
	case "product_type":
		return p.ProductType, nil
	case "vintage":
		if f.Vintage == "" {
			return group.NA, nil
		}
		return f.Vintage, nil
	}
	name, _ := store.AttrKey(b.g.By)
	var attrs map[string]json.RawMessage
	if err := json.Unmarshal(p.Attributes, &attrs); err != nil {
		return "", fmt.Errorf("position %s of snapshot %s: attributes: %w", p.PositionID, p.SnapshotID, err)
	}
	raw := attrs[name]
	if b.g.Bands != nil {
		return b.g.Bands.KeyOfJSON(raw), nil
	}
	if raw == nil || string(raw) == "null" {
		return group.NA, nil
	}
	var s string
	if raw[0] == '"' && json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	return string(raw), nil
}

// Items returns the groups in key order.
func (b *Builder) Items() []Item {
	keys := make([]string, 0, len(b.groups))
	for k := range b.groups {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	total := b.total.Sum()
	out := make([]Item, 0, len(keys))
	for _, k := range keys {
		a := b.groups[k]
		bal := a.bal.Sum()
		it := Item{Count: a.count, Balance: bal,
			WAC: ratio(a.wac.Sum(), bal), WALA: ratio(a.wala.Sum(), bal), WAM: ratio(a.wam.Sum(), bal)}
		if b.g.By != "" {
			it.Key = &k
		}
		it.BalancePct = ratio(100*bal, total)
		if a.hasFICO {
			it.FICO = ratio(a.fico.Sum(), a.ficoBal.Sum())
		}
		out = append(out, it)
	}
	return out
}

// ratio is num/den, nil when den is 0 or the quotient is not finite.
func ratio(num, den float64) *float64 {
	if den == 0 {
		return nil
	}
	q := num / den
	if math.IsNaN(q) || math.IsInf(q, 0) {
		return nil
	}
	return &q
}
