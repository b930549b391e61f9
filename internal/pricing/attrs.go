package pricing

import (
	"encoding/json"
	"math"
	"strconv"
)

// attrs reads a position's free-form attributes, recording a Problem for
// every required attribute that is missing and every attribute of the wrong
// type. Its fields come from a checking scan (scanMembers), so the values
// nested in them are valid JSON and are split with the shallow scanners.
type attrs struct {
	fields fields
	probs  *problemList
	// itemBuf is reused for the members of one list item at a time.
	itemBuf fields
}

// trimSpace drops JSON whitespace around a raw value.
func trimSpace(raw []byte) []byte {
	i, j := 0, len(raw)
	for i < j && isSpace(raw[i]) {
		i++
	}
	for j > i && isSpace(raw[j-1]) {
		j--
	}
	return raw[i:j]
}

// isAbsent reports whether a raw value is missing or JSON null.
func isAbsent(raw json.RawMessage) bool {
	raw = trimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

// plainString returns the contents of a JSON string of plain ASCII without
// escapes, and whether raw is one; it allocates nothing. Other strings go
// through encoding/json, which also replaces invalid UTF-8.
func plainString(raw []byte) ([]byte, bool) {
	raw = trimSpace(raw)
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return nil, false
	}
	body := raw[1 : len(raw)-1]
	for _, c := range body {
		if c == '\\' || c == '"' || c < 0x20 || c >= 0x80 {
			return nil, false
		}
	}
	return body, true
}

// rawString decodes a JSON string.
func rawString(raw json.RawMessage) (string, bool) {
	if body, ok := plainString(raw); ok {
		return string(body), true
	}
	raw = trimSpace(raw)
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// rawNumber decodes a finite JSON number.
func rawNumber(raw json.RawMessage) (float64, bool) {
	raw = trimSpace(raw)
	if f, ok := exactDecimal(raw); ok {
		return f, true
	}
	if !isJSONNumber(raw) {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// exactDecimal reads a number literal -?(0|[1-9][0-9]*)(\.[0-9]+)? whose
// digits, read as one integer m, are below 2^53 and with at most 22 of them
// after the point: m and 10^k are then exact doubles and their quotient,
// rounded once by the division, is the double nearest to the literal —
// what strconv.ParseFloat returns (Clinger's fast path, which strconv takes
// too, after checking and reading the text a second time). Any other
// literal, valid or not, is left to the caller (ok false). A loan
// schedule's amounts are such literals: this reads each in one pass.
func exactDecimal(b []byte) (float64, bool) {
	i := 0
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		i++
	}
	if i >= len(b) || b[i] < '0' || b[i] > '9' || (b[i] == '0' && i+1 < len(b) && b[i+1] >= '0' && b[i+1] <= '9') {
		return 0, false // not a number, or a leading zero
	}
	var m uint64
	frac := -1
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case c >= '0' && c <= '9':
			m = m*10 + uint64(c-'0')
			if m > 1<<53 { // so m*10+9 never overflows
				return 0, false
			}
			if frac >= 0 {
				frac++
			}
		case c == '.' && frac < 0:
			frac = 0
		default:
			return 0, false // an exponent, or not a number
		}
	}
	if frac == 0 || frac > 22 {
		return 0, false // "1." or too many decimals for an exact 10^k
	}
	f := float64(m)
	if frac > 0 {
		f /= exactPow10[frac]
	}
	if neg {
		f = -f
	}
	return f, true
}

// exactPow10 are the powers of ten that are exact doubles.
var exactPow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// rawObject decodes a JSON object one level deep.
func rawObject(raw json.RawMessage) (fields, bool) {
	f, ok, err := scanMembers(raw, nil)
	return f, ok && err == nil
}

// rawArray decodes a JSON array one level deep.
func rawArray(raw json.RawMessage) ([]json.RawMessage, bool) {
	a, ok, err := scanElements(raw, nil)
	return a, ok && err == nil
}

// place says where a value sits in the position, for problem messages. The
// strings are built only when there is a problem.
type place struct {
	pointer string // a full pointer, for nested attributes; else built
	list    string // the list attribute of an item, "" for none
	index   int    // the item's index in list
	name    string // the attribute or item field
}

func (p place) ptr() string {
	switch {
	case p.pointer != "":
		return p.pointer
	case p.list != "":
		return "/attributes/" + p.list + "/" + strconv.Itoa(p.index) + "/" + p.name
	}
	return "/attributes/" + p.name
}

func (p place) label() string {
	if p.list != "" {
		return p.list + "[" + strconv.Itoa(p.index) + "]." + p.name
	}
	return "attribute " + p.name
}

func attrPointer(name string) string { return "/attributes/" + name }

// has reports whether the attribute is present and not null.
func (a *attrs) has(name string) bool { return !isAbsent(a.fields.get(name)) }

func (a *attrs) problem(at place, detail string) {
	a.probs.addf(at.ptr(), "%s %s", at.label(), detail)
}

// readNumber reads a finite number.
func (a *attrs) readNumber(raw json.RawMessage, at place, required bool) (float64, bool) {
	if isAbsent(raw) {
		if required {
			a.problem(at, "is missing")
		}
		return 0, false
	}
	f, ok := rawNumber(raw)
	if !ok {
		a.problem(at, "must be a finite number")
		return 0, false
	}
	return f, true
}

// readString reads a non-empty string.
func (a *attrs) readString(raw json.RawMessage, at place, required bool) (string, bool) {
	if isAbsent(raw) {
		if required {
			a.problem(at, "is missing")
		}
		return "", false
	}
	s, ok := rawString(raw)
	if !ok || s == "" {
		a.problem(at, "must be a non-empty string")
		return "", false
	}
	return s, true
}

// readDate reads a YYYY-MM-DD date as a day number, without allocating
// when it is well formed.
func (a *attrs) readDate(raw json.RawMessage, at place, required bool) (int32, bool) {
	if isAbsent(raw) {
		if required {
			a.problem(at, "is missing")
		}
		return 0, false
	}
	if body, ok := plainString(raw); ok {
		if d, ok := parseDate(body); ok {
			return d, true
		}
	}
	s, ok := rawString(raw)
	if !ok {
		a.problem(at, "must be a date string YYYY-MM-DD")
		return 0, false
	}
	d, ok := parseDate(s)
	if !ok {
		a.problem(at, strconv.Quote(s)+" is not a calendar date YYYY-MM-DD")
		return 0, false
	}
	return d, true
}

// number reads a finite number attribute.
func (a *attrs) number(name string, required bool) (float64, bool) {
	return a.readNumber(a.fields.get(name), place{name: name}, required)
}

// str reads a non-empty string attribute.
func (a *attrs) str(name string, required bool) (string, bool) {
	return a.readString(a.fields.get(name), place{name: name}, required)
}

// date reads a YYYY-MM-DD attribute as a day number.
func (a *attrs) date(name string, required bool) (int32, bool) {
	return a.readDate(a.fields.get(name), place{name: name}, required)
}

// maxTermMonths bounds remaining_term_months (100 years).
const maxTermMonths = 1200

// termMonths reads a whole number of months from 1 to maxTermMonths.
func (a *attrs) termMonths(name string, required bool) (int, bool) {
	f, ok := a.readNumber(a.fields.get(name), place{name: name}, required)
	if !ok {
		return 0, false
	}
	if f != math.Trunc(f) || f < 1 || f > maxTermMonths {
		a.problem(place{name: name}, "must be a whole number from 1 to "+strconv.Itoa(maxTermMonths))
		return 0, false
	}
	return int(f), true
}

// nestedString reads an optional string at attributes/path[0]/…/path[n-1].
// It returns the value, its pointer and whether it was given. An
// intermediate value that is present but not an object is a problem.
func (a *attrs) nestedString(path ...string) (string, string, bool) {
	fields := a.fields
	pointer := "/attributes"
	for i, key := range path {
		raw := fields.get(key)
		pointer += "/" + key
		if isAbsent(raw) {
			return "", pointer, false
		}
		if i == len(path)-1 {
			s, ok := a.readString(raw, place{pointer: pointer, name: key}, false)
			return s, pointer, ok
		}
		obj, ok := shallowMembers(raw, nil) // checked with the attributes
		if !ok {
			a.problem(place{pointer: pointer, name: key}, "must be an object")
			return "", pointer, false
		}
		fields = obj
	}
	return "", pointer, false
}

// list reads a required non-empty array attribute.
func (a *attrs) list(name string) ([]json.RawMessage, bool) {
	raw := a.fields.get(name)
	if isAbsent(raw) {
		a.problem(place{name: name}, "is missing")
		return nil, false
	}
	items, ok := shallowElements(raw, nil) // checked with the attributes
	if !ok {
		a.problem(place{name: name}, "must be a list")
		return nil, false
	}
	if len(items) == 0 {
		a.problem(place{name: name}, "must not be empty")
		return nil, false
	}
	return items, true
}

// item reads one object in a list attribute; its fields are read with the
// returned itemReader, which is valid until the next call of item.
func (a *attrs) item(list string, i int, raw json.RawMessage) (itemReader, bool) {
	obj, ok := shallowMembers(raw, a.itemBuf) // checked with the attributes
	if !ok {
		a.probs.addf(attrPointer(list)+"/"+strconv.Itoa(i), "%s[%d] must be an object", list, i)
		return itemReader{}, false
	}
	a.itemBuf = obj
	return itemReader{a: a, fields: obj, list: list, index: i}, true
}

// itemReader reads the required fields of one list item.
type itemReader struct {
	a      *attrs
	fields fields
	list   string
	index  int
}

func (r itemReader) place(name string) place {
	return place{list: r.list, index: r.index, name: name}
}

func (r itemReader) number(name string) (float64, bool) {
	return r.a.readNumber(r.fields.get(name), r.place(name), true)
}

func (r itemReader) date(name string) (int32, bool) {
	return r.a.readDate(r.fields.get(name), r.place(name), true)
}
