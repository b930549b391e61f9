package pricing

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Shock types of a scenario set (SPEC §4.3).
const (
	ShockCurveShift       = "CURVE_SHIFT"
	ShockCurveTenorShifts = "CURVE_TENOR_SHIFTS"
	ShockFXSpot           = "FX_SPOT"
)

// MaxSetIDBytes bounds the length of a scenario set id and of a scenario id.
const MaxSetIDBytes = 128

// bpPerUnit converts basis points to a rate: a shift of b bp is b/10,000.
const bpPerUnit = 10000

// ScenarioSet is a named list of scenarios, each an ordered list of shocks
// applied to the run's market (SPEC §4.3). It is the document clients
// upload; Validate says what is wrong with one. A valid set is immutable by
// convention: the engine keeps a reference to it.
type ScenarioSet struct {
	ScenarioSetID string        `json:"scenario_set_id"`
	Description   string        `json:"description,omitempty"`
	Scenarios     []SetScenario `json:"scenarios"`
}

// SetScenario is one scenario of a set: its id and its shocks, applied in
// order.
type SetScenario struct {
	ScenarioID string  `json:"scenario_id"`
	Shocks     []Shock `json:"shocks"`
}

// Shock is one market move. Which members apply depends on Type:
//
//	CURVE_SHIFT         curves, shift_bp: add shift_bp/10,000 to every zero rate
//	CURVE_TENOR_SHIFTS  curves, shifts_bp: add, to r(t) at every t, the shift
//	                    linear in t between the given tenors and flat beyond
//	FX_SPOT             pairs, relative: multiply each spot by 1 + relative
//
// Pointers tell a missing member from a zero one.
type Shock struct {
	Type     string             `json:"type"`
	Curves   *Selector          `json:"curves,omitempty"`
	ShiftBP  *float64           `json:"shift_bp,omitempty"`
	ShiftsBP map[string]float64 `json:"shifts_bp,omitempty"`
	Pairs    *Selector          `json:"pairs,omitempty"`
	Relative *float64           `json:"relative,omitempty"`
}

// Selector names the curves or FX pairs a shock moves: a JSON array of ids,
// or a JSON string holding one pattern in which '*' matches any run of
// characters ("*-OIS"); a string without '*' is one id. An id in an array
// is taken literally, '*' included.
type Selector struct {
	ids     []string
	pattern string
	isList  bool
	wrong   string // what a document gave instead (Validate reports it)
}

// SelectIDs returns the selector of exactly these ids (the array form).
func SelectIDs(ids ...string) *Selector {
	return &Selector{ids: append([]string{}, ids...), isList: true}
}

// SelectPattern returns the selector of one pattern (the string form).
func SelectPattern(pattern string) *Selector { return &Selector{pattern: pattern} }

// IDs returns the ids of the array form (nil for a pattern).
func (s *Selector) IDs() []string {
	if !s.isList {
		return nil
	}
	return append([]string{}, s.ids...)
}

// Pattern returns the string form and whether the selector has it.
func (s *Selector) Pattern() (string, bool) { return s.pattern, !s.isList }

// MarshalJSON writes the array or the string form.
func (s Selector) MarshalJSON() ([]byte, error) {
	if s.wrong != "" {
		return nil, fmt.Errorf("selector: %s", s.wrong)
	}
	if s.isList {
		if s.ids == nil {
			return []byte("[]"), nil
		}
		return json.Marshal(s.ids)
	}
	return json.Marshal(s.pattern)
}

// UnmarshalJSON reads an array of strings or a string. Any other JSON value
// is kept as a problem that Validate reports at the selector's pointer, so
// that decoding goes on and every problem of a document is found at once.
func (s *Selector) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	*s = Selector{}
	switch {
	case len(b) > 0 && b[0] == '"':
		if err := json.Unmarshal(b, &s.pattern); err != nil {
			s.wrong = "expected an array of ids or one pattern string, got an invalid string"
		}
	case len(b) > 0 && b[0] == '[':
		var raw []*string
		if err := json.Unmarshal(b, &raw); err != nil || slices.Contains(raw, nil) {
			s.wrong = "expected an array of ids (strings) or one pattern string, got an array holding something else"
			return nil
		}
		s.ids, s.isList = make([]string, len(raw)), true
		for i, id := range raw {
			s.ids[i] = *id
		}
	default:
		s.wrong = "expected an array of ids or one pattern string such as \"*-OIS\""
	}
	return nil
}

// hasWildcard reports whether the selector is a pattern with '*'.
func (s *Selector) hasWildcard() bool { return !s.isList && strings.Contains(s.pattern, "*") }

// matchPattern reports whether id matches pattern, where '*' matches any
// run of characters (possibly empty) and every other character itself.
func matchPattern(pattern, id string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == id
	}
	if !strings.HasPrefix(id, parts[0]) {
		return false
	}
	id = id[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(id, p)
		if i < 0 {
			return false
		}
		id = id[i+len(p):]
	}
	return len(id) >= len(last) && strings.HasSuffix(id, last)
}

// resolve returns the ids of available that the selector names, in the
// order of available for a pattern and in the selector's order for an
// array, and the ids it names that available lacks. A pattern with '*'
// that matches nothing is reported in missing as the pattern itself.
func (s *Selector) resolve(available []string, has func(string) bool) (picked, missing []string) {
	switch {
	case s.isList:
		for _, id := range s.ids {
			if has(id) {
				picked = append(picked, id)
			} else {
				missing = append(missing, id)
			}
		}
	case !s.hasWildcard():
		if has(s.pattern) {
			picked = []string{s.pattern}
		} else {
			missing = []string{s.pattern}
		}
	default:
		for _, id := range available {
			if matchPattern(s.pattern, id) {
				picked = append(picked, id)
			}
		}
		if len(picked) == 0 {
			missing = []string{s.pattern}
		}
	}
	return picked, missing
}

// SetProblem is one thing wrong with a scenario set: a JSON Pointer into
// the set document ("/scenarios/2/shocks/0/relative") and what is wrong.
// Missing names the curve id, FX pair or pattern a market lacks or that
// matches nothing, for the problems of Requirements (empty otherwise).
type SetProblem struct {
	Pointer string `json:"pointer"`
	Detail  string `json:"detail"`
	Missing string `json:"missing,omitempty"`
}

func (p SetProblem) Error() string { return p.Pointer + ": " + p.Detail }

// SetError is a scenario set's list of problems as an error.
type SetError struct {
	SetID    string
	Problems []SetProblem
}

func (e *SetError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "scenario set %q:", e.SetID)
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(" " + p.Error())
	}
	return b.String()
}

// pointerToken escapes one reference token of an RFC 6901 JSON Pointer.
func pointerToken(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// CheckSetID returns what is wrong with a set or scenario id ("" when it
// is fine): empty, longer than MaxSetIDBytes, not UTF-8, white space at
// either end, or control characters; a set id (pathSegment) also may not
// hold '/', since it is a path segment of GET …/scenario-sets/{id}.
func CheckSetID(id string, pathSegment bool) string {
	switch {
	case id == "":
		return "must not be empty"
	case len(id) > MaxSetIDBytes:
		return fmt.Sprintf("is longer than %d bytes", MaxSetIDBytes)
	case !utf8.ValidString(id):
		return "is not valid UTF-8"
	case strings.TrimSpace(id) != id:
		return "must not begin or end with white space"
	case strings.ContainsFunc(id, unicode.IsControl):
		return "must not contain control characters"
	case pathSegment && strings.Contains(id, "/"):
		return "must not contain '/'"
	}
	return ""
}

// Validate returns every problem of the set, each with a JSON Pointer, in
// document order: a bad id (set or scenario), no scenarios, a scenario id
// twice or equal to a built-in scenario id, no shocks, an unknown shock
// type, a member missing or not applying to the shock's type, an empty
// curve or pair list or pattern (or an empty or repeated id in a list), a
// tenor that does not parse or two tenors at the same point, a number that
// is not finite, a relative move not above −1.
func (s *ScenarioSet) Validate() []SetProblem {
	var ps []SetProblem
	add := func(ptr, format string, args ...any) {
		ps = append(ps, SetProblem{Pointer: ptr, Detail: fmt.Sprintf(format, args...)})
	}
	if msg := CheckSetID(s.ScenarioSetID, true); msg != "" {
		add("/scenario_set_id", "scenario_set_id %s", msg)
	} else if IsScenario(s.ScenarioSetID) {
		// A run's {"scenario_set_id": ID} with a built-in id names that
		// scenario (the first wave's clients send {"scenario_set_id": "BASE"}).
		add("/scenario_set_id", "scenario_set_id %q is a built-in scenario id, which a run's {\"scenario_set_id\": …} names; choose another", s.ScenarioSetID)
	}
	if len(s.Scenarios) == 0 {
		add("/scenarios", "scenarios must list at least one scenario")
	}
	first := make(map[string]int, len(s.Scenarios))
	for i, sc := range s.Scenarios {
		base := "/scenarios/" + strconv.Itoa(i)
		switch msg := CheckSetID(sc.ScenarioID, false); {
		case msg != "":
			add(base+"/scenario_id", "scenario_id %s", msg)
		case IsScenario(sc.ScenarioID):
			add(base+"/scenario_id", "scenario_id %q is a built-in scenario id (%s); choose another", sc.ScenarioID, strings.Join(ScenarioIDs(), ", "))
		default:
			if j, dup := first[sc.ScenarioID]; dup {
				add(base+"/scenario_id", "scenario_id %q is used twice in the set; first by /scenarios/%d", sc.ScenarioID, j)
			} else {
				first[sc.ScenarioID] = i
			}
		}
		if len(sc.Shocks) == 0 {
			add(base+"/shocks", "shocks must list at least one shock")
		}
		for j := range sc.Shocks {
			validateShock(&sc.Shocks[j], base+"/shocks/"+strconv.Itoa(j), add)
		}
	}
	return ps
}

// validateShock adds the problems of one shock at ptr.
func validateShock(sh *Shock, ptr string, add func(ptr, format string, args ...any)) {
	type member struct {
		name    string
		present bool
	}
	members := []member{
		{"curves", sh.Curves != nil}, {"shift_bp", sh.ShiftBP != nil}, {"shifts_bp", sh.ShiftsBP != nil},
		{"pairs", sh.Pairs != nil}, {"relative", sh.Relative != nil},
	}
	var want []string
	switch sh.Type {
	case ShockCurveShift:
		want = []string{"curves", "shift_bp"}
	case ShockCurveTenorShifts:
		want = []string{"curves", "shifts_bp"}
	case ShockFXSpot:
		want = []string{"pairs", "relative"}
	case "":
		add(ptr+"/type", "type is required (%s, %s or %s)", ShockCurveShift, ShockCurveTenorShifts, ShockFXSpot)
		return
	default:
		add(ptr+"/type", "unknown shock type %q (want %s, %s or %s)", sh.Type, ShockCurveShift, ShockCurveTenorShifts, ShockFXSpot)
		return
	}
	for _, m := range members {
		wanted := slices.Contains(want, m.name)
		switch {
		case wanted && !m.present:
			add(ptr+"/"+m.name, "%s is required for a %s shock", m.name, sh.Type)
		case !wanted && m.present:
			add(ptr+"/"+m.name, "%s does not apply to a %s shock (it takes %s)", m.name, sh.Type, strings.Join(want, " and "))
		}
	}
	if sh.Curves != nil && slices.Contains(want, "curves") {
		validateSelector(sh.Curves, ptr+"/curves", "curve", add)
	}
	if sh.Pairs != nil && slices.Contains(want, "pairs") {
		validateSelector(sh.Pairs, ptr+"/pairs", "pair", add)
	}
	if sh.ShiftBP != nil && sh.Type == ShockCurveShift && !isFinite(*sh.ShiftBP) {
		add(ptr+"/shift_bp", "shift_bp must be a finite number")
	}
	if sh.ShiftsBP != nil && sh.Type == ShockCurveTenorShifts {
		validateTenorShifts(sh.ShiftsBP, ptr+"/shifts_bp", add)
	}
	if r := sh.Relative; r != nil && sh.Type == ShockFXSpot {
		switch {
		case !isFinite(*r):
			add(ptr+"/relative", "relative must be a finite number")
		case *r <= -1:
			add(ptr+"/relative", "relative must be above -1 (a spot multiplied by 1 + relative must stay positive), got %v", *r)
		}
	}
}

func validateSelector(s *Selector, ptr, what string, add func(ptr, format string, args ...any)) {
	if s.wrong != "" {
		add(ptr, "%s", s.wrong)
		return
	}
	if !s.isList {
		if s.pattern == "" {
			add(ptr, "the %s pattern must not be empty (an id, or a pattern such as \"*-OIS\")", what)
		}
		return
	}
	if len(s.ids) == 0 {
		add(ptr, "the %s list must name at least one %s", what, what)
	}
	first := make(map[string]int, len(s.ids))
	for i, id := range s.ids {
		p := ptr + "/" + strconv.Itoa(i)
		if id == "" {
			add(p, "a %s id must not be empty", what)
			continue
		}
		if j, dup := first[id]; dup {
			add(p, "%s %q is listed twice (first at index %d)", what, id, j)
			continue
		}
		first[id] = i
	}
}

func validateTenorShifts(m map[string]float64, ptr string, add func(ptr, format string, args ...any)) {
	if len(m) == 0 {
		add(ptr, "shifts_bp must give at least one tenor, e.g. {\"2Y\": 10, \"10Y\": 25}")
		return
	}
	tenors := make([]string, 0, len(m))
	for k := range m {
		tenors = append(tenors, k)
	}
	slices.Sort(tenors)
	at := make(map[float64]string, len(m))
	for _, k := range tenors {
		p := ptr + "/" + pointerToken(k)
		t, err := ParseTenor(k)
		if err != nil {
			add(p, "%v", err)
		} else if other, dup := at[t]; dup {
			add(p, "tenors %s and %s are the same point (%v years)", other, k, t)
		} else {
			at[t] = k
		}
		if !isFinite(m[k]) {
			add(p, "the shift at %s must be a finite number", k)
		}
	}
}

func isFinite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// DecodeScenarioSet decodes and validates a scenario set document (a stored
// payload, say). Unknown members are refused; every problem is reported in
// a *SetError.
func DecodeScenarioSet(data []byte) (*ScenarioSet, error) {
	var s ScenarioSet
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("decode scenario set: %w", err)
	}
	if probs := s.Validate(); len(probs) > 0 {
		return nil, &SetError{SetID: s.ScenarioSetID, Problems: probs}
	}
	return &s, nil
}

// ScenarioIDs returns the ids of the set's scenarios in set order.
func (s *ScenarioSet) ScenarioIDs() []string {
	out := make([]string, len(s.Scenarios))
	for i, sc := range s.Scenarios {
		out[i] = sc.ScenarioID
	}
	return out
}

// scenario returns the scenario with the given id.
func (s *ScenarioSet) scenario(id string) (*SetScenario, bool) {
	for i := range s.Scenarios {
		if s.Scenarios[i].ScenarioID == id {
			return &s.Scenarios[i], true
		}
	}
	return nil, false
}

// Requirements returns what the set needs that the market lacks: every
// curve or FX pair named by id that the market does not have, and every
// pattern that matches none of its curves (pairs), once each (pointing at
// its first use, with the count of shocks that name it). The run check
// answers them as 422. A set with no such problem can be applied to the
// market (ScenarioMarket).
func (s *ScenarioSet) Requirements(m *Market) []SetProblem {
	type need struct {
		first string
		kind  string // "curve" or "FX pair"
		id    string
		wild  bool
		count int
	}
	var order []string
	needs := map[string]*need{}
	note := func(ptr, kind, id string, wild bool) {
		key := kind + "\x00" + id
		if n, ok := needs[key]; ok {
			n.count++
			return
		}
		needs[key] = &need{first: ptr, kind: kind, id: id, wild: wild, count: 1}
		order = append(order, key)
	}
	curves, pairs := m.curveOrder(), m.FXPairs()
	for i, sc := range s.Scenarios {
		for j, sh := range sc.Shocks {
			ptr := "/scenarios/" + strconv.Itoa(i) + "/shocks/" + strconv.Itoa(j)
			var sel *Selector
			var kind, member string
			var available []string
			var has func(string) bool
			switch sh.Type {
			case ShockCurveShift, ShockCurveTenorShifts:
				sel, kind, member, available, has = sh.Curves, "curve", "curves", curves, m.HasCurve
			case ShockFXSpot:
				sel, kind, member, available, has = sh.Pairs, "FX pair", "pairs", pairs, m.HasFXSpot
			default:
				continue
			}
			if sel == nil {
				continue
			}
			_, missing := sel.resolve(available, has)
			for _, id := range missing {
				p := ptr + "/" + member
				if sel.isList {
					p += "/" + strconv.Itoa(slices.Index(sel.ids, id))
				}
				note(p, kind, id, sel.hasWildcard())
			}
		}
	}
	out := make([]SetProblem, 0, len(order))
	for _, key := range order {
		n := needs[key]
		uses := ""
		if n.count > 1 {
			uses = fmt.Sprintf(" (named by %d shocks; this is the first)", n.count)
		}
		var detail string
		if n.wild {
			detail = fmt.Sprintf("scenario set %q: pattern %q matches no %s of market snapshot %q%s", s.ScenarioSetID, n.id, n.kind, m.snapshotID, uses)
		} else {
			detail = fmt.Sprintf("scenario set %q: %s %s is not in market snapshot %q%s", s.ScenarioSetID, n.kind, n.id, m.snapshotID, uses)
		}
		out = append(out, SetProblem{Pointer: n.first, Detail: detail, Missing: n.id})
	}
	return out
}

// ScenarioMarket returns the market of the set's scenario id: its shocks
// applied in order to base. It fails for an unknown id or when the market
// lacks what the scenario needs (see Requirements). base is not changed.
func (s *ScenarioSet) ScenarioMarket(base *Market, id string) (*Market, error) {
	sc, ok := s.scenario(id)
	if !ok {
		return nil, fmt.Errorf("scenario set %q has no scenario %q", s.ScenarioSetID, id)
	}
	m := base
	for j := range sc.Shocks {
		var err error
		if m, err = applyShock(m, &sc.Shocks[j]); err != nil {
			return nil, fmt.Errorf("scenario set %q, scenario %q, shock %d: %w", s.ScenarioSetID, id, j, err)
		}
	}
	return m, nil
}

// applyShock returns a copy of m with one shock applied.
func applyShock(m *Market, sh *Shock) (*Market, error) {
	switch sh.Type {
	case ShockCurveShift, ShockCurveTenorShifts:
		if sh.Curves == nil {
			return nil, fmt.Errorf("%s shock without curves", sh.Type)
		}
		ids, missing := sh.Curves.resolve(m.curveOrder(), m.HasCurve)
		if len(missing) > 0 {
			return nil, fmt.Errorf("market snapshot %q lacks curves %s", m.snapshotID, strings.Join(missing, ", "))
		}
		out := m.clone()
		if sh.Type == ShockCurveShift {
			if sh.ShiftBP == nil {
				return nil, fmt.Errorf("%s shock without shift_bp", sh.Type)
			}
			shift := *sh.ShiftBP / bpPerUnit
			for _, id := range ids {
				i := m.curveIndex[id]
				out.curves[i] = out.curves[i].bumped(shift)
			}
			return out, nil
		}
		shift, err := tenorShift(sh.ShiftsBP)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			i := m.curveIndex[id]
			out.curves[i] = out.curves[i].withShift(shift)
		}
		return out, nil
	case ShockFXSpot:
		if sh.Pairs == nil || sh.Relative == nil {
			return nil, fmt.Errorf("%s shock without pairs or relative", sh.Type)
		}
		pairs, missing := sh.Pairs.resolve(m.FXPairs(), m.HasFXSpot)
		if len(missing) > 0 {
			return nil, fmt.Errorf("market snapshot %q lacks FX pairs %s", m.snapshotID, strings.Join(missing, ", "))
		}
		factor := 1 + *sh.Relative
		out := m.clone()
		out.spots = make(map[string]float64, len(m.spots))
		for p, v := range m.spots {
			out.spots[p] = v
		}
		for _, p := range pairs {
			out.spots[p] = m.spots[p] * factor
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown shock type %q", sh.Type)
}

// tenorShift turns {tenor: bp} into a Shift: points in increasing t, each
// value bp/10,000.
func tenorShift(bp map[string]float64) (Shift, error) {
	if len(bp) == 0 {
		return Shift{}, fmt.Errorf("%s shock without shifts_bp", ShockCurveTenorShifts)
	}
	type pt struct{ t, v float64 }
	pts := make([]pt, 0, len(bp))
	for k, v := range bp {
		t, err := ParseTenor(k)
		if err != nil {
			return Shift{}, err
		}
		pts = append(pts, pt{t, v / bpPerUnit})
	}
	slices.SortFunc(pts, func(a, b pt) int {
		switch {
		case a.t < b.t:
			return -1
		case a.t > b.t:
			return 1
		}
		return 0
	})
	s := Shift{Ts: make([]float64, len(pts)), Vs: make([]float64, len(pts))}
	for i, p := range pts {
		if i > 0 && p.t == pts[i-1].t {
			return Shift{}, fmt.Errorf("two tenors of shifts_bp are the same point (%v years)", p.t)
		}
		s.Ts[i], s.Vs[i] = p.t, p.v
	}
	return s, nil
}

// curveOrder returns the market's curve ids in snapshot order.
func (m *Market) curveOrder() []string {
	out := make([]string, len(m.curves))
	for i, c := range m.curves {
		out[i] = c.id
	}
	return out
}

// WithScenarioSets lets the engine's scenario ids name the scenarios of
// these sets besides the built-in ones. Each set must be valid, and no
// scenario id may appear in two of them. Each scenario the run names is
// built once, in NewEngine, and must find in the run's market what it
// needs (see ScenarioSet.Requirements).
func WithScenarioSets(sets ...*ScenarioSet) EngineOption {
	return func(c *engineConfig) error {
		if c.setScenarios == nil {
			c.setScenarios = map[string]*ScenarioSet{}
		}
		for _, s := range sets {
			if s == nil {
				return errors.New("nil scenario set")
			}
			if probs := s.Validate(); len(probs) > 0 {
				return &SetError{SetID: s.ScenarioSetID, Problems: probs}
			}
			for _, sc := range s.Scenarios {
				if other, dup := c.setScenarios[sc.ScenarioID]; dup {
					return fmt.Errorf("scenario %q is in scenario sets %q and %q", sc.ScenarioID, other.ScenarioSetID, s.ScenarioSetID)
				}
				c.setScenarios[sc.ScenarioID] = s
			}
		}
		return nil
	}
}

// scenarioMarket builds the market of a built-in scenario or of a scenario
// of one of the configured sets.
func (c *engineConfig) scenarioMarket(base *Market, id string) (*Market, error) {
	if def, ok := lookupScenario(id); ok {
		return def.apply(base), nil
	}
	if s, ok := c.setScenarios[id]; ok {
		return s.ScenarioMarket(base, id)
	}
	return nil, fmt.Errorf("unknown scenario %q", id)
}
