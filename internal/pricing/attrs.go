package pricing

import (
	"encoding/json"
	"math"
	"strconv"
)

// attrs reads a position's free-form attributes, recording a Problem for
// every required attribute that is missing and every attribute of the wrong
// type.
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
	if !isJSONNumber(raw) {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

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

func attrPointer(name string) string { return "/attributes/" + name }

// has reports whether the attribute is present and not null.
func (a *attrs) has(name string) bool { return !isAbsent(a.fields.get(name)) }

func (a *attrs) missing(name string) {
	a.probs.addf(attrPointer(name), "required attribute %s is missing", name)
}

// number reads a finite number attribute.
func (a *attrs) number(name string, required bool) (float64, bool) {
	raw := a.fields.get(name)
	if isAbsent(raw) {
		if required {
			a.missing(name)
		}
		return 0, false
	}
	f, ok := rawNumber(raw)
	if !ok {
		a.probs.addf(attrPointer(name), "attribute %s must be a finite number", name)
		return 0, false
	}
	return f, true
}

// maxTermMonths bounds remaining_term_months (100 years).
const maxTermMonths = 1200

// positiveInt reads a whole-number attribute from 1 to maxTermMonths.
func (a *attrs) positiveInt(name string, required bool) (int, bool) {
	raw := a.fields.get(name)
	if isAbsent(raw) {
		if required {
			a.missing(name)
		}
		return 0, false
	}
	f, ok := rawNumber(raw)
	if !ok || f != math.Trunc(f) || f < 1 || f > maxTermMonths {
		a.probs.addf(attrPointer(name), "attribute %s must be a whole number from 1 to %d", name, maxTermMonths)
		return 0, false
	}
	return int(f), true
}

// str reads a non-empty string attribute.
func (a *attrs) str(name string, required bool) (string, bool) {
	return a.strAt(a.fields, attrPointer(name), name, required)
}

func (a *attrs) strAt(fields fields, pointer, name string, required bool) (string, bool) {
	raw := fields.get(name)
	if isAbsent(raw) {
		if required {
			a.probs.addf(pointer, "required attribute %s is missing", name)
		}
		return "", false
	}
	s, ok := rawString(raw)
	if !ok || s == "" {
		a.probs.addf(pointer, "attribute %s must be a non-empty string", name)
		return "", false
	}
	return s, true
}

// date reads a YYYY-MM-DD attribute as a day number.
func (a *attrs) date(name string, required bool) (int32, bool) {
	return a.dateAt(a.fields, attrPointer(name), name, name, required)
}

// dateAt reads fields[key] as a date; label names it in messages.
func (a *attrs) dateAt(fields fields, pointer, key, label string, required bool) (int32, bool) {
	raw := fields.get(key)
	if isAbsent(raw) {
		if required {
			a.probs.addf(pointer, "required attribute %s is missing", label)
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
		a.probs.addf(pointer, "%s must be a date string YYYY-MM-DD", label)
		return 0, false
	}
	d, ok := parseDate(s)
	if !ok {
		a.probs.addf(pointer, "%s %q is not a calendar date YYYY-MM-DD", label, s)
		return 0, false
	}
	return d, true
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
			s, ok := a.strAt(fields, pointer, key, false)
			return s, pointer, ok
		}
		obj, ok := rawObject(raw)
		if !ok {
			a.probs.addf(pointer, "attribute %s must be an object", key)
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
		a.missing(name)
		return nil, false
	}
	items, ok := rawArray(raw)
	if !ok {
		a.probs.addf(attrPointer(name), "attribute %s must be a list", name)
		return nil, false
	}
	if len(items) == 0 {
		a.probs.addf(attrPointer(name), "attribute %s must not be empty", name)
		return nil, false
	}
	return items, true
}

// item reads one object in a list attribute; fields are read with the
// returned itemReader.
func (a *attrs) item(list string, i int, raw json.RawMessage) (itemReader, bool) {
	obj, ok, err := scanMembers(raw, a.itemBuf)
	if !ok || err != nil {
		a.probs.addf(attrPointer(list)+"/"+strconv.Itoa(i), "%s[%d] must be an object", list, i)
		return itemReader{}, false
	}
	a.itemBuf = obj
	return itemReader{a: a, fields: obj, list: list, index: i}, true
}

// itemReader reads the fields of one list item. Its pointer and label are
// built only when a problem is reported.
type itemReader struct {
	a      *attrs
	fields fields
	list   string
	index  int
}

func (r itemReader) pointer(name string) string {
	return attrPointer(r.list) + "/" + strconv.Itoa(r.index) + "/" + name
}

func (r itemReader) label(name string) string {
	return r.list + "[" + strconv.Itoa(r.index) + "]." + name
}

func (r itemReader) number(name string) (float64, bool) {
	raw := r.fields.get(name)
	if isAbsent(raw) {
		r.a.probs.addf(r.pointer(name), "%s is missing", r.label(name))
		return 0, false
	}
	f, ok := rawNumber(raw)
	if !ok {
		r.a.probs.addf(r.pointer(name), "%s must be a finite number", r.label(name))
		return 0, false
	}
	return f, true
}

func (r itemReader) date(name string) (int32, bool) {
	raw := r.fields.get(name)
	if isAbsent(raw) {
		r.a.probs.addf(r.pointer(name), "%s is missing", r.label(name))
		return 0, false
	}
	if body, ok := plainString(raw); ok {
		if d, ok := parseDate(body); ok {
			return d, true
		}
	}
	return r.a.dateAt(r.fields, r.pointer(name), name, r.label(name), true)
}
