package pricing

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/iprs/iprs/internal/ident"
)

// A model set (SPEC §4.1) holds behavioural assumptions for loans: an
// ordered list of rules, each with an optional match, a prepayment and a
// default model, a loss severity and a recovery lag. ParseModelSet checks
// and compiles one; WithModelSet gives it to an Engine.

// maxRecoveryLag caps the recovery lag used in the projection. A lag of at
// least a loan's number of remaining rows already means that nothing of it
// defaults (MDRᵢ = 0 for i > n − L), so capping at more than any schedule
// length changes no result.
const maxRecoveryLag = 1 << 20

// Ramp lengths: PSA's CPR stops rising at month 30; SDA's CDR is constant
// after month 120.
const (
	psaRampMonths = 30
	sdaRampMonths = 120
)

// ModelSet is a parsed, compiled model set. It is immutable and safe for
// concurrent use.
type ModelSet struct {
	id          string
	description string
	rules       []modelRule
	// bindings[k] records "rule k of this set" (the last one: no rule), so
	// a position can remember its rule with one atomic pointer and no
	// allocation.
	bindings []ruleBinding
}

// ruleBinding is the rule a position takes under one model set (rule −1:
// none).
type ruleBinding struct {
	ms   *ModelSet
	rule int
}

// ModelSetProblem is one thing wrong with a model set document: a JSON
// Pointer into it ("/rules/2/prepayment/cpr", "" for the document as a
// whole) and what is wrong.
type ModelSetProblem struct {
	Pointer string `json:"pointer"`
	Detail  string `json:"detail"`
}

// Error renders the problem as one line.
func (p ModelSetProblem) Error() string {
	if p.Pointer == "" {
		return "model set: " + p.Detail
	}
	return "model set " + p.Pointer + ": " + p.Detail
}

// modelRule is one compiled rule.
type modelRule struct {
	conds    []matchCond
	prepay   rateModel
	dflt     rateModel
	severity float64
	lag      int
}

// rateModel gives a monthly rate (SMM or MDR) for projection month i
// (1-based) and loan age m.
type rateModel struct {
	kind rateKind
	// c is the constant monthly rate (rateConst) or the ABS speed.
	c float64
	// table is indexed by min(m, len−1) for a ramp and by min(i, len)−1
	// for a vector; its values are monthly rates.
	table []float64
}

type rateKind uint8

const (
	rateNone rateKind = iota
	rateConst
	rateRamp
	rateABS
	rateVector
)

// at returns the monthly rate in projection month i ≥ 1 at loan age m ≥ 1.
func (r *rateModel) at(i, m int) float64 {
	switch r.kind {
	case rateConst:
		return r.c
	case rateRamp:
		return r.table[min(m, len(r.table)-1)]
	case rateVector:
		return r.table[min(i, len(r.table))-1]
	case rateABS:
		// SMM = abs / (1 − abs·(m − 1)), and 1 once abs·(m − 1) ≥ 1.
		x := float64(r.c * float64(m-1))
		if x >= 1 {
			return 1
		}
		return min(1, r.c/(1-x))
	}
	return 0
}

// psaTable returns SMM by loan age m = 0…30 for a PSA speed: CPR =
// psa/100 × 0.2% × min(m, 30) (clamped to 1), SMM = 1 − (1 − CPR)^(1/12).
func psaTable(psa float64) []float64 {
	t := make([]float64, psaRampMonths+1)
	for m := 1; m <= psaRampMonths; m++ {
		t[m] = monthlyRate(psa / 100 * (0.002 * float64(m)))
	}
	return t
}

// sdaCDR is the annual default rate of 100% SDA at loan age m ≥ 1: 0.02%·m
// up to month 30, 0.6% for 31–60, 0.6% − 0.0095%·(m − 60) for 61–120 and
// 0.03% after.
func sdaCDR(m int) float64 {
	switch {
	case m <= 30:
		return 0.0002 * float64(m)
	case m <= 60:
		return 0.006
	case m <= sdaRampMonths:
		return 0.006 - 0.000095*float64(m-60)
	}
	return 0.0003
}

// sdaTable returns MDR by loan age m = 0…121 for an SDA speed.
func sdaTable(sda float64) []float64 {
	t := make([]float64, sdaRampMonths+2)
	for m := 1; m < len(t); m++ {
		t[m] = monthlyRate(sda / 100 * sdaCDR(m))
	}
	return t
}

// ID returns the model_set_id.
func (ms *ModelSet) ID() string { return ms.id }

// Description returns the description ("" when absent).
func (ms *ModelSet) Description() string { return ms.description }

// Len returns the number of rules.
func (ms *ModelSet) Len() int { return len(ms.rules) }

// Match returns the index of the rule the position takes: the first whose
// every condition holds. Only AMORT_LOAN positions take rules; ok is false
// for any other position and for a loan that no rule matches (it is valued
// contractually). The answer is remembered in the position, so asking
// again, or pricing it, does not match again.
func (ms *ModelSet) Match(p *Position) (rule int, ok bool) {
	k := ms.bind(p)
	return k, k >= 0
}

// bind returns the rule index of p under ms (−1 for none), matching once
// per position and model set.
func (ms *ModelSet) bind(p *Position) int {
	l, ok := p.prod.(*loan)
	if !ok {
		return -1
	}
	if b := l.binding.Load(); b != nil && b.ms == ms {
		return b.rule
	}
	k := ms.match(p.ProductType, l.matchAttrs)
	l.binding.Store(&ms.bindings[k+1])
	return k
}

// loanRule returns the rule of the engine's model set that a position
// takes, or nil (no model set, not a loan, no rule matches).
func (e *Engine) loanRule(p *Position) *modelRule {
	ms := e.modelSet
	if ms == nil {
		return nil
	}
	if k := ms.bind(p); k >= 0 {
		return &ms.rules[k]
	}
	return nil
}

// projection takes projection buffers from the engine's pool; give them
// back with e.scratch.Put.
func (e *Engine) projection() *projection {
	if pr, ok := e.scratch.Get().(*projection); ok {
		return pr
	}
	return new(projection)
}

// match finds the first rule whose every condition holds for a loan with
// the given scalar attributes (a JSON object).
func (ms *ModelSet) match(productType string, matchAttrs []byte) int {
	if productType != productAmortLoan || len(ms.rules) == 0 {
		return -1
	}
	var attrs fields
	if f, ok, err := scanMembers(matchAttrs, nil); ok && err == nil {
		attrs = f
	}
	for k := range ms.rules {
		if ms.rules[k].holds(productType, attrs) {
			return k
		}
	}
	return -1
}

func (r *modelRule) holds(productType string, attrs fields) bool {
	for i := range r.conds {
		c := &r.conds[i]
		var v matchValue
		if c.productType {
			v = matchValue{kind: matchString, s: productType}
		} else {
			var ok bool
			v, ok = attrValue(attrs.get(c.attr))
			if !ok {
				return false
			}
		}
		if !c.holds(v) {
			return false
		}
	}
	return true
}

// matchCond is one condition of a rule's match.
type matchCond struct {
	productType bool
	attr        string
	kind        condKind
	values      []matchValue // condEqual: one; condAnyOf: one or more
	lo, hi      float64
	hasLo       bool
	loIncl      bool
	hasHi       bool
	hiIncl      bool
}

type condKind uint8

const (
	condEqual condKind = iota
	condAnyOf
	condRange
)

// matchValue is a string, number or boolean of a match or an attribute.
type matchValue struct {
	kind matchKind
	s    string
	n    float64
	b    bool
}

type matchKind uint8

const (
	matchString matchKind = iota + 1
	matchNumber
	matchBool
)

func (a matchValue) equal(b matchValue) bool {
	if a.kind != b.kind {
		return false
	}
	switch a.kind {
	case matchString:
		return a.s == b.s
	case matchNumber:
		return a.n == b.n
	}
	return a.b == b.b
}

func (c *matchCond) holds(v matchValue) bool {
	switch c.kind {
	case condRange:
		if v.kind != matchNumber {
			return false
		}
		x := v.n
		if c.hasLo && (x < c.lo || (!c.loIncl && x == c.lo)) {
			return false
		}
		if c.hasHi && (x > c.hi || (!c.hiIncl && x == c.hi)) {
			return false
		}
		return true
	default:
		for _, w := range c.values {
			if w.equal(v) {
				return true
			}
		}
		return false
	}
}

// attrValue reads an attribute as a match value; ok is false when it is
// missing, null, or not a string, number or boolean.
func attrValue(raw []byte) (matchValue, bool) {
	raw = trimSpace(raw)
	if len(raw) == 0 {
		return matchValue{}, false
	}
	switch raw[0] {
	case '"':
		s, ok := rawString(raw)
		return matchValue{kind: matchString, s: s}, ok
	case 't', 'f':
		switch string(raw) {
		case "true":
			return matchValue{kind: matchBool, b: true}, true
		case "false":
			return matchValue{kind: matchBool}, true
		}
		return matchValue{}, false
	}
	n, ok := rawNumber(raw)
	return matchValue{kind: matchNumber, n: n}, ok
}

// ParseModelSet checks a model set document (SPEC §4.1) and compiles it.
// It reports every problem, each with a JSON Pointer into the document:
// an unknown member anywhere, a missing or malformed model_set_id, rules
// that are not a list, a rule that is not an object, a match key that is
// neither product_type nor attr:NAME, a match value that is not a string,
// number, boolean, non-empty list of those, or range {gte?, gt?, lt?, lte?}
// with at least one numeric bound; a prepayment or default that does not
// have exactly one known key; a rate outside [0, 1]; a psa, sda or abs
// below 0; an empty vector; a severity outside [0, 1]; a
// recovery_lag_months that is not an integer ≥ 0. On any problem the
// model set is nil.
func ParseModelSet(doc []byte) (*ModelSet, []ModelSetProblem) {
	p := &msParser{}
	ms := p.document(doc)
	if len(p.probs) > 0 {
		return nil, p.probs
	}
	ms.bindings = make([]ruleBinding, len(ms.rules)+1)
	for k := range ms.bindings {
		ms.bindings[k] = ruleBinding{ms: ms, rule: k - 1}
	}
	return ms, nil
}

type msParser struct {
	probs []ModelSetProblem
}

func (p *msParser) add(pointer, format string, args ...any) {
	p.probs = append(p.probs, ModelSetProblem{Pointer: pointer, Detail: fmt.Sprintf(format, args...)})
}

// object reads an object whose members must be among known; it reports
// unknown and repeated members and returns the members.
func (p *msParser) object(raw []byte, pointer, what string, known ...string) (fields, bool) {
	f, ok := rawObject(raw)
	if !ok {
		p.add(pointer, "%s must be an object", what)
		return nil, false
	}
	seen := make(map[string]bool, len(f))
	for _, m := range f {
		key := memberKey(m)
		at := pointer + "/" + escapePointer(key)
		if seen[key] {
			p.add(at, "member %q is repeated", key)
			continue
		}
		seen[key] = true
		if known != nil && !contains(known, key) {
			p.add(at, "unknown member %q (known: %s)", key, strings.Join(known, ", "))
		}
	}
	return f, true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (p *msParser) document(doc []byte) *ModelSet {
	ms := &ModelSet{}
	if _, err := wholeValue(doc); err != nil {
		p.add("", "the model set is not valid JSON")
		return ms
	}
	f, ok := p.object(doc, "", "the model set", "model_set_id", "description", "rules")
	if !ok {
		return ms
	}
	switch raw := f.get("model_set_id"); {
	case isAbsent(raw):
		p.add("/model_set_id", "model_set_id is missing")
	default:
		id, ok := rawString(raw)
		if !ok || !ident.Valid(id) {
			p.add("/model_set_id", "model_set_id "+ident.Rule)
		}
		ms.id = id
	}
	if raw := f.get("description"); !isAbsent(raw) {
		s, ok := rawString(raw)
		if !ok {
			p.add("/description", "description must be a string")
		}
		ms.description = s
	}
	raw := f.get("rules")
	if isAbsent(raw) {
		p.add("/rules", "rules is missing")
		return ms
	}
	items, ok := rawArray(raw)
	if !ok {
		p.add("/rules", "rules must be a list")
		return ms
	}
	ms.rules = make([]modelRule, len(items))
	for k, item := range items {
		p.rule(item, "/rules/"+strconv.Itoa(k), &ms.rules[k])
	}
	return ms
}

func (p *msParser) rule(raw []byte, at string, r *modelRule) {
	f, ok := p.object(raw, at, "a rule", "match", "prepayment", "default", "severity", "recovery_lag_months")
	if !ok {
		return
	}
	if raw := f.get("match"); !isAbsent(raw) {
		r.conds = p.match(raw, at+"/match")
	}
	if raw := f.get("prepayment"); !isAbsent(raw) {
		r.prepay = p.rateModel(raw, at+"/prepayment", "prepayment", "cpr", "psa", "abs", "cpr_vector")
	}
	if raw := f.get("default"); !isAbsent(raw) {
		r.dflt = p.rateModel(raw, at+"/default", "default", "cdr", "sda", "cdr_vector")
	}
	if raw := f.get("severity"); !isAbsent(raw) {
		r.severity = p.unitNumber(raw, at+"/severity", "severity")
	}
	if raw := f.get("recovery_lag_months"); !isAbsent(raw) {
		x, ok := rawNumber(raw)
		if !ok || x < 0 || x != math.Trunc(x) {
			p.add(at+"/recovery_lag_months", "recovery_lag_months must be an integer ≥ 0")
		} else {
			r.lag = int(min(x, maxRecoveryLag))
		}
	}
}

// unitNumber reads a number in [0, 1].
func (p *msParser) unitNumber(raw []byte, at, name string) float64 {
	x, ok := rawNumber(raw)
	if !ok || x < 0 || x > 1 {
		p.add(at, "%s must be a number from 0 to 1", name)
		return 0
	}
	return x
}

// rateModel reads {key: value} with exactly one of keys.
func (p *msParser) rateModel(raw []byte, at, what string, keys ...string) rateModel {
	f, ok := p.object(raw, at, what, keys...)
	if !ok {
		return rateModel{}
	}
	var given []member
	for _, m := range f {
		if contains(keys, string(m.key)) {
			given = append(given, m)
		}
	}
	if len(given) != 1 || len(f) != 1 {
		if len(given) != 1 {
			p.add(at, "%s must have exactly one of %s", what, strings.Join(keys, ", "))
		}
		return rateModel{}
	}
	key, val := string(given[0].key), given[0].val
	at += "/" + key
	switch key {
	case "cpr", "cdr":
		return rateModel{kind: rateConst, c: monthlyRate(p.unitNumber(val, at, key))}
	case "psa", "sda", "abs":
		x, ok := rawNumber(val)
		if !ok || x < 0 {
			p.add(at, "%s must be a number ≥ 0", key)
			return rateModel{}
		}
		switch key {
		case "psa":
			return rateModel{kind: rateRamp, table: psaTable(x)}
		case "sda":
			return rateModel{kind: rateRamp, table: sdaTable(x)}
		}
		return rateModel{kind: rateABS, c: x}
	}
	// cpr_vector, cdr_vector
	items, ok := rawArray(val)
	if !ok || len(items) == 0 {
		p.add(at, "%s must be a non-empty list of numbers from 0 to 1", key)
		return rateModel{}
	}
	table := make([]float64, len(items))
	for j, it := range items {
		table[j] = monthlyRate(p.unitNumber(it, at+"/"+strconv.Itoa(j), key+" values"))
	}
	return rateModel{kind: rateVector, table: table}
}

func (p *msParser) match(raw []byte, at string) []matchCond {
	f, ok := p.object(raw, at, "match", nil...)
	if !ok {
		return nil
	}
	conds := make([]matchCond, 0, len(f))
	for _, m := range f {
		key := memberKey(m)
		kat := at + "/" + escapePointer(key)
		var c matchCond
		switch {
		case key == "product_type":
			c.productType = true
		case strings.HasPrefix(key, "attr:") && len(key) > len("attr:"):
			c.attr = key[len("attr:"):]
		default:
			p.add(kat, "match key %q must be product_type or attr:NAME", key)
			continue
		}
		if p.matchCond(m.val, kat, &c) {
			conds = append(conds, c)
		}
	}
	return conds
}

// matchCond reads a match value: a scalar, a list of scalars or a range.
func (p *msParser) matchCond(raw []byte, at string, c *matchCond) bool {
	raw = trimSpace(raw)
	if len(raw) > 0 && raw[0] == '[' {
		items, _ := rawArray(raw)
		if len(items) == 0 {
			p.add(at, "a list of values must not be empty")
			return false
		}
		c.kind = condAnyOf
		ok := true
		for j, it := range items {
			v, good := attrValue(it)
			if !good {
				p.add(at+"/"+strconv.Itoa(j), "a list item must be a string, number or boolean")
				ok = false
				continue
			}
			c.values = append(c.values, v)
		}
		return ok
	}
	if len(raw) > 0 && raw[0] == '{' {
		f, ok := p.object(raw, at, "a range", "gte", "gt", "lt", "lte")
		if !ok {
			return false
		}
		c.kind = condRange
		bounds := 0
		for _, name := range []string{"gte", "gt", "lt", "lte"} {
			b := f.get(name)
			if b == nil {
				continue
			}
			x, good := rawNumber(b)
			if !good {
				p.add(at+"/"+name, "%s must be a number", name)
				ok = false
				continue
			}
			bounds++
			switch name {
			case "gte", "gt":
				// Two lower bounds: the tighter one holds.
				incl := name == "gte"
				if !c.hasLo || x > c.lo || (x == c.lo && !incl) {
					c.lo, c.hasLo, c.loIncl = x, true, incl
				}
			default:
				incl := name == "lte"
				if !c.hasHi || x < c.hi || (x == c.hi && !incl) {
					c.hi, c.hasHi, c.hiIncl = x, true, incl
				}
			}
		}
		if bounds == 0 && len(f) == 0 {
			p.add(at, "a range needs at least one of gte, gt, lt, lte")
			return false
		}
		return ok
	}
	v, ok := attrValue(raw)
	if !ok {
		p.add(at, "a match value must be a string, number, boolean, list of those, or range {gte, gt, lt, lte}")
		return false
	}
	c.kind = condEqual
	c.values = []matchValue{v}
	return true
}

// memberKey decodes the name of an object member (its escapes undone).
func memberKey(m member) string {
	raw := make([]byte, 0, len(m.key)+2)
	raw = append(append(append(raw, '"'), m.key...), '"')
	if s, ok := rawString(raw); ok {
		return s
	}
	return string(m.key)
}

// escapePointer escapes a member name for a JSON Pointer (RFC 6901).
func escapePointer(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}
