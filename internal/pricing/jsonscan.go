package pricing

import (
	"bytes"
	"encoding/json"
	"errors"
	"sync"
)

// A small single-pass JSON scanner for position objects and their
// attributes. encoding/json validates and re-scans a value at every level
// it is decoded into a json.RawMessage, which made parsing a loan with 60
// cashflows cost about ten passes over its text; uploads of a million
// positions need one. The scanner checks structure (strings, brackets,
// literals, commas and colons) and never panics on bad input; numbers are
// checked against the JSON grammar when they are read (isJSONNumber).

var errBadJSON = errors.New("not valid JSON")

// maxJSONDepth bounds nesting so that hostile input cannot exhaust the stack.
const maxJSONDepth = 512

// member is one key and raw value of a JSON object.
type member struct {
	key []byte
	val []byte
}

// fields are the members of an object, in order.
type fields []member

// get returns the raw value of the last member named name (as
// encoding/json does with repeated keys), or nil.
func (f fields) get(name string) json.RawMessage {
	for i := len(f) - 1; i >= 0; i-- {
		if string(f[i].key) == name {
			return f[i].val
		}
	}
	return nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// skipValue returns the index just past the value that starts at or after
// b[i].
func skipValue(b []byte, i, depth int) (int, error) {
	i = skipSpace(b, i)
	if i >= len(b) {
		return 0, errBadJSON
	}
	switch c := b[i]; {
	case c == '"':
		return skipString(b, i)
	case c == '{':
		if depth >= maxJSONDepth {
			return 0, errBadJSON
		}
		return scanObject(b, i, depth+1, nil)
	case c == '[':
		if depth >= maxJSONDepth {
			return 0, errBadJSON
		}
		return scanArray(b, i, depth+1, nil)
	case c == 't':
		return skipLiteral(b, i, "true")
	case c == 'f':
		return skipLiteral(b, i, "false")
	case c == 'n':
		return skipLiteral(b, i, "null")
	case c == '-' || (c >= '0' && c <= '9'):
		j := i + 1
		for j < len(b) && (b[j] >= '0' && b[j] <= '9' || b[j] == '.' || b[j] == 'e' || b[j] == 'E' || b[j] == '+' || b[j] == '-') {
			j++
		}
		if !isJSONNumber(b[i:j]) {
			return 0, errBadJSON
		}
		return j, nil
	}
	return 0, errBadJSON
}

func skipLiteral(b []byte, i int, lit string) (int, error) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return 0, errBadJSON
	}
	return i + len(lit), nil
}

// skipString returns the index just past the string starting at b[i] == '"'.
func skipString(b []byte, i int) (int, error) {
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return j + 1, nil
		case c == '\\':
			j++
			if j >= len(b) {
				return 0, errBadJSON
			}
			switch b[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(b)-j <= 4 || !isHex(b[j+1]) || !isHex(b[j+2]) || !isHex(b[j+3]) || !isHex(b[j+4]) {
					return 0, errBadJSON
				}
				j += 4
			default:
				return 0, errBadJSON
			}
		case c < 0x20:
			return 0, errBadJSON
		}
	}
	return 0, errBadJSON
}

// scanObject scans the object starting at b[i] == '{', calling fn (if not
// nil) for each member, and returns the index just past it.
func scanObject(b []byte, i, depth int, fn func(key, val []byte)) (int, error) {
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return 0, errBadJSON
		}
		end, err := skipString(b, i)
		if err != nil {
			return 0, err
		}
		key := b[i+1 : end-1]
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return 0, errBadJSON
		}
		start := skipSpace(b, i+1)
		end, err = skipValue(b, start, depth)
		if err != nil {
			return 0, err
		}
		if fn != nil {
			fn(key, b[start:end])
		}
		i = skipSpace(b, end)
		if i >= len(b) {
			return 0, errBadJSON
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return i + 1, nil
		default:
			return 0, errBadJSON
		}
	}
}

// scanArray scans the array starting at b[i] == '[', calling fn (if not
// nil) for each element, and returns the index just past it.
func scanArray(b []byte, i, depth int, fn func(val []byte)) (int, error) {
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, nil
	}
	for {
		start := skipSpace(b, i)
		end, err := skipValue(b, start, depth)
		if err != nil {
			return 0, err
		}
		if fn != nil {
			fn(b[start:end])
		}
		i = skipSpace(b, end)
		if i >= len(b) {
			return 0, errBadJSON
		}
		switch b[i] {
		case ',':
			i++
		case ']':
			return i + 1, nil
		default:
			return 0, errBadJSON
		}
	}
}

// A value inside an object or array that scanMembers or scanElements has
// accepted is valid JSON. Splitting it again (a list attribute into its
// items, then each item into its fields) need not check it again: the
// shallow scanners below split a valid value one level deep and step over
// nested values by structure alone (a string ends at the first quote not
// escaped; brackets balance outside strings), several times faster than
// checking every byte. Their answers on valid JSON are those of the
// checking scanners (FuzzScanner compares them); on anything else they
// are unspecified (but they return, without panicking), so they are only
// ever given values a checking scan accepted.

// shallowMembers is scanMembers for a value known to be valid JSON.
func shallowMembers(b []byte, buf fields) (f fields, ok bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, false
	}
	f = buf[:0]
	if cap(f) == 0 {
		f = make(fields, 0, 16)
	}
	i = skipSpace(b, i+1)
	for i < len(b) && b[i] == '"' {
		end := skipValidString(b, i)
		if end < i+2 {
			break // not valid JSON after all: stop rather than fail
		}
		key := b[i+1 : end-1]
		i = skipSpace(b, end)                   // at the colon
		start := min(skipSpace(b, i+1), len(b)) // at the value
		end = skipValid(b, start)
		f = append(f, member{key: key, val: b[start:end]})
		i = skipSpace(b, end)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	unescapeKeys(f)
	return f, true
}

// shallowElements is scanElements for a value known to be valid JSON.
func shallowElements(b []byte, buf []json.RawMessage) (elems []json.RawMessage, ok bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return nil, false
	}
	elems = buf[:0]
	i = skipSpace(b, i+1)
	for i < len(b) && b[i] != ']' {
		end := skipValid(b, i)
		if end == i {
			break // not valid JSON after all: stop rather than loop
		}
		elems = append(elems, b[i:end])
		i = skipSpace(b, end)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	return elems, true
}

// skipValid returns the index just past the valid value starting at b[i].
func skipValid(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return skipValidString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = skipValidString(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(b)
	}
	// A number or a literal: it ends at a delimiter.
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && !isSpace(b[j]) {
		j++
	}
	return j
}

// skipValidString returns the index just past the valid string starting at
// b[i] == '"': after the first quote not escaped by an odd run of
// backslashes.
func skipValidString(b []byte, i int) int {
	j := i + 1
	for {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return len(b)
		}
		j += k
		n := 0
		for m := j - 1; m > i && b[m] == '\\'; m-- {
			n++
		}
		if n%2 == 0 {
			return j + 1
		}
		j++
	}
}

// fieldsPool keeps member lists between parses. A position's members are
// read while it is parsed and never kept (what a product keeps, such as a
// loan's attributes for model matching, it copies), so a parse borrows a
// list and gives it back: a loan tape's 20-odd attributes made a new list
// of 48-byte members, twice over, for every loan parsed.
var fieldsPool = sync.Pool{New: func() any { return new(fields) }}

func getFields() *fields { return fieldsPool.Get().(*fields) }

// putFields returns a list to the pool, dropping its references to the
// parsed text.
func putFields(f *fields) {
	clear((*f)[:cap(*f)]) // a failed scan may have filled it past its length
	*f = (*f)[:0]
	fieldsPool.Put(f)
}

// scanMembers returns the members of a JSON object that is the whole of b
// (whitespace aside), appending to buf. ok is false when b is not an
// object; err is set when it is not valid JSON. Keys with escapes are
// unescaped.
func scanMembers(b []byte, buf fields) (f fields, ok bool, err error) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		if _, err := wholeValue(b); err != nil {
			return nil, false, err
		}
		return nil, false, nil
	}
	f = buf[:0]
	if cap(f) == 0 {
		f = make(fields, 0, 16)
	}
	end, err := scanObject(b, i, 1, func(key, val []byte) {
		f = append(f, member{key: key, val: val})
	})
	if err != nil {
		return nil, true, err
	}
	if skipSpace(b, end) != len(b) {
		return nil, true, errBadJSON
	}
	if !unescapeKeys(f) {
		return nil, true, errBadJSON
	}
	return f, true, nil
}

// unescapeKeys replaces the keys written with escapes by their text; it
// reports false for a key that is not a valid string's content.
func unescapeKeys(f fields) bool {
	for k := range f {
		if bytes.IndexByte(f[k].key, '\\') >= 0 {
			var s string
			if err := json.Unmarshal(append(append([]byte{'"'}, f[k].key...), '"'), &s); err != nil {
				return false
			}
			f[k].key = []byte(s)
		}
	}
	return true
}

// scanElements returns the elements of a JSON array that is the whole of b,
// appending to buf; ok and err as for scanMembers.
func scanElements(b []byte, buf []json.RawMessage) (elems []json.RawMessage, ok bool, err error) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		if _, err := wholeValue(b); err != nil {
			return nil, false, err
		}
		return nil, false, nil
	}
	elems = buf[:0]
	end, err := scanArray(b, i, 1, func(val []byte) { elems = append(elems, val) })
	if err != nil {
		return nil, true, err
	}
	if skipSpace(b, end) != len(b) {
		return nil, true, errBadJSON
	}
	return elems, true, nil
}

// wholeValue checks that b is exactly one JSON value (whitespace aside).
func wholeValue(b []byte) (int, error) {
	end, err := skipValue(b, 0, 0)
	if err != nil {
		return 0, err
	}
	if skipSpace(b, end) != len(b) {
		return 0, errBadJSON
	}
	return end, nil
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// isJSONNumber reports whether b is a number in JSON's grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func isJSONNumber(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	if i >= len(b) {
		return false
	}
	switch {
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	return i == len(b)
}
