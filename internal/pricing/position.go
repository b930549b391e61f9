package pricing

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// PositionInput is one position object of a position snapshot:
// {position_id, instrument_id, product_type, quantity?, attributes}.
// Decoding is lenient: a field of the wrong JSON type does not fail the
// decode but becomes a Problem reported by ParsePosition, so that one bad
// position is reported with a pointer instead of failing a whole upload.
// Unknown fields are ignored.
type PositionInput struct {
	PositionID   string          `json:"position_id"`
	InstrumentID string          `json:"instrument_id"`
	ProductType  string          `json:"product_type"`
	Quantity     *float64        `json:"quantity,omitempty"` // nil means 1
	Attributes   json.RawMessage `json:"attributes"`

	decodeProblems []Problem
	// checkedAttrs is the attributes value UnmarshalJSON checked while
	// scanning the position object: while Attributes is still that same
	// slice, ParsePosition splits it without checking it again.
	checkedAttrs []byte
}

// UnmarshalJSON decodes a position object, keeping type problems for
// ParsePosition.
func (in *PositionInput) UnmarshalJSON(data []byte) error {
	buf := getFields()
	defer putFields(buf)
	f, ok, err := scanMembers(data, *buf)
	*buf = f
	if err != nil {
		return fmt.Errorf("position: %w", err)
	}
	if !ok {
		return errors.New("position must be a JSON object")
	}
	*in = PositionInput{}
	var probs []Problem
	str := func(name string) string {
		raw := f.get(name)
		if isAbsent(raw) {
			return ""
		}
		s, ok := rawString(raw)
		if !ok {
			probs = append(probs, Problem{Pointer: "/" + name, Detail: name + " must be a string"})
		}
		return s
	}
	in.PositionID = str("position_id")
	in.InstrumentID = str("instrument_id")
	in.ProductType = str("product_type")
	if raw := f.get("quantity"); !isAbsent(raw) {
		q, ok := rawNumber(raw)
		if ok {
			in.Quantity = &q
		} else {
			probs = append(probs, Problem{Pointer: "/quantity", Detail: "quantity must be a finite number"})
		}
	}
	if raw := f.get("attributes"); !isAbsent(raw) {
		in.Attributes = append(json.RawMessage(nil), raw...)
		in.checkedAttrs = in.Attributes // checked by the scan above
	}
	for i := range probs {
		probs[i].PositionID = in.PositionID
	}
	in.decodeProblems = probs
	return nil
}

// Position is a parsed, market-independent position: its attributes are
// decoded once into a typed product with dates as day numbers. Make one with
// ParsePosition and treat it as read-only; it is then safe for concurrent
// use.
type Position struct {
	ID           string
	InstrumentID string
	ProductType  string
	Quantity     float64

	asOf    int32
	hasAsOf bool
	typ     *productType
	prod    product
}

// AsOfDate returns the position's own attributes.as_of_date, if it has one.
func (p *Position) AsOfDate() (string, bool) {
	if !p.hasAsOf {
		return "", false
	}
	return formatDate(p.asOf), true
}

// SupportedMeasures returns the measures that apply to the position's
// product, in canonical order. Other measures are absent from its results.
func (p *Position) SupportedMeasures() []Measure {
	return append([]Measure(nil), p.typ.measures...)
}

// Supports reports whether measure m applies to the position's product.
func (p *Position) Supports(m Measure) bool { return p.typ.supports(m) }

// CheckClearFrom tells from which run as-of date Engine.Check finds nothing
// wrong with the position's own data (its market data aside): Check of an
// engine whose run as-of falls on that UTC date or later finds no problem
// but a missing curve or FX spot. from is the zero time when any date
// will do (also when the position has its own as_of_date and is clear
// there); ok is false when Check finds a problem whatever the date. The
// pre-run check of a whole snapshot can then be answered from the latest
// such date and the snapshot's requirements.
func (p *Position) CheckClearFrom() (from time.Time, ok bool) {
	day, ok := p.prod.clearFrom()
	switch {
	case !ok:
		return time.Time{}, false
	case p.hasAsOf:
		return time.Time{}, day <= p.asOf
	case day == anyDay:
		return time.Time{}, true
	}
	y, m, d := civilFromDays(day)
	return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC), true
}

// Requirements lists the market data a position needs.
type Requirements struct {
	Curves  []string // curve ids, sorted, without repeats
	FXPairs []string // FX pairs, sorted, without repeats
}

// Requirements returns the curves and FX pairs the position needs.
func (p *Position) Requirements() Requirements {
	var r Requirements
	for _, q := range p.prod.requirements() {
		if q.fxPair {
			r.FXPairs = appendUnique(r.FXPairs, q.id)
		} else {
			r.Curves = appendUnique(r.Curves, q.id)
		}
	}
	sort.Strings(r.Curves)
	sort.Strings(r.FXPairs)
	return r
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// ParsePosition checks a position on its own (the upload rules of SPEC §1)
// and decodes it. It reports every problem found: a missing position_id, a
// missing or unknown product_type, a required attribute of SPEC §2 missing
// or of the wrong type, an empty cashflows list, a date that is not
// YYYY-MM-DD. Repeated ids across a snapshot are found with PositionIDs;
// problems that depend on the market or the run are found by
// (*Engine).Check. On any problem the position is nil.
func ParsePosition(in PositionInput) (*Position, []Problem) {
	probs := &problemList{positionID: in.PositionID}
	probs.list = append(probs.list, in.decodeProblems...)
	if in.PositionID == "" && !hasPointer(in.decodeProblems, "/position_id") {
		probs.addf("/position_id", "position_id is missing")
	}
	qty := 1.0
	if in.Quantity != nil {
		qty = *in.Quantity
		if math.IsNaN(qty) || math.IsInf(qty, 0) {
			probs.addf("/quantity", "quantity must be a finite number")
		}
	}
	var pt *productType
	switch {
	case in.ProductType == "":
		if !hasPointer(in.decodeProblems, "/product_type") {
			probs.addf("/product_type", "product_type is missing")
		}
	default:
		var ok bool
		pt, ok = lookupProductType(in.ProductType)
		if !ok {
			probs.addf("/product_type", "unknown product_type %q (known: %s)", in.ProductType, strings.Join(ProductTypes(), ", "))
		}
	}
	var a *attrs
	buf := getFields()
	defer putFields(buf)
	if isAbsent(in.Attributes) {
		probs.addf("/attributes", "attributes is missing")
	} else if f, ok, err := in.attrMembers(*buf); err != nil {
		probs.addf("/attributes", "attributes is not valid JSON")
	} else if !ok {
		probs.addf("/attributes", "attributes must be an object")
	} else {
		*buf = f // its storage goes back to the pool
		a = &attrs{fields: f, probs: probs}
	}
	if a == nil || pt == nil {
		return nil, probs.list
	}
	pos := &Position{
		ID:           in.PositionID,
		InstrumentID: in.InstrumentID,
		ProductType:  in.ProductType,
		Quantity:     qty,
		typ:          pt,
	}
	pos.asOf, pos.hasAsOf = a.date("as_of_date", false)
	prod := pt.parse(a)
	if len(probs.list) > 0 {
		return nil, probs.list
	}
	pos.prod = prod
	return pos, nil
}

// StoredAttributes says that in.Attributes is an upload's attributes as
// the store keeps them: checked and canonicalized when they were uploaded,
// so valid JSON. ParsePosition then splits them without checking their
// syntax again (the problems it finds in their values are unchanged). The
// shallow split gives the same members as the checking one on valid JSON
// (FuzzScanner) and returns on any input, so a row changed in the database
// behind the service's back gives wrong values, not a crash: a replay,
// which proves that the stored inputs give the stored results, does not
// call this and checks everything.
func (in *PositionInput) StoredAttributes() { in.checkedAttrs = in.Attributes }

// attrMembers splits the attributes object into its members: without
// checking it again when it is the value UnmarshalJSON checked (an
// upload's position) or StoredAttributes vouched for, else with the
// checking scan.
func (in *PositionInput) attrMembers(buf fields) (fields, bool, error) {
	a, c := in.Attributes, in.checkedAttrs
	if len(a) > 0 && len(a) == len(c) && &a[0] == &c[0] {
		f, ok := shallowMembers(a, buf)
		return f, ok, nil
	}
	return scanMembers(a, buf)
}

func hasPointer(list []Problem, pointer string) bool {
	for _, p := range list {
		if p.Pointer == pointer {
			return true
		}
	}
	return false
}

// scalarMembers copies the members of an object whose values are strings,
// numbers or booleans into a new JSON object text.
func scalarMembers(f fields) []byte {
	n := 2
	for _, m := range f {
		if isScalar(m.val) {
			n += len(m.key) + len(m.val) + 4
		}
	}
	out := make([]byte, 0, n)
	out = append(out, '{')
	for _, m := range f {
		if !isScalar(m.val) {
			continue
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(out, '"')
		out = append(out, m.key...)
		out = append(out, '"', ':')
		out = append(out, trimSpace(m.val)...)
	}
	return append(out, '}')
}

func isScalar(raw []byte) bool {
	raw = trimSpace(raw)
	return len(raw) > 0 && raw[0] != '{' && raw[0] != '[' && raw[0] != 'n'
}
