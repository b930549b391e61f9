package web

import (
	"bytes"
	"encoding"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/iprs/iprs/internal/apperr"
)

// maxLocatedProblems bounds the field problems reported for one document.
const maxLocatedProblems = 100

// locateProblems walks the syntactically valid JSON in data alongside the
// Go type of dst and reports, in document order, every value encoding/json
// (with DisallowUnknownFields) refuses: unknown struct keys, JSON types
// that do not fit, integers out of range, and values that an Unmarshaler
// rejects. It exists because encoding/json reports only the first problem
// and without array indexes.
func locateProblems(data []byte, dst any, base string) []apperr.FieldError {
	t := reflect.TypeOf(dst)
	if t == nil || t.Kind() != reflect.Pointer {
		return nil
	}
	root, ok := parseTree(data)
	if !ok {
		return nil
	}
	l := &locator{}
	l.walk(root, t.Elem(), base)
	return l.fields
}

// caseProblems points at every object key of the valid JSON in data that
// names a struct field of dst in another case ("RUN_ID" for "run_id").
// encoding/json matches such keys to the field, so that {"run_id":"A",
// "Run_Id":"B"} would decode as run B: IPRS member names are
// case-sensitive, and such a key is refused as unknown. Values decoded by
// a json.Unmarshaler are not looked into.
func caseProblems(data []byte, dst any, base string) []apperr.FieldError {
	t := reflect.TypeOf(dst)
	if t == nil || t.Kind() != reflect.Pointer || !hasStruct(t.Elem(), 0) {
		return nil
	}
	root, ok := parseTree(data)
	if !ok {
		return nil
	}
	l := &locator{keysOnly: true}
	l.walk(root, t.Elem(), base)
	return l.fields
}

// hasStruct reports whether decoding into t can meet a struct whose keys
// encoding/json matches without regard to case.
func hasStruct(t reflect.Type, depth int) bool {
	if depth > 32 {
		return true
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if implements(t, jsonUnmarshalerType) || implements(t, textUnmarshalerType) {
		return false
	}
	switch t.Kind() {
	case reflect.Struct:
		return true
	case reflect.Slice, reflect.Array, reflect.Map:
		return hasStruct(t.Elem(), depth+1)
	}
	return false
}

// jnode is one JSON value of a parsed document.
type jnode struct {
	kind byte // '{', '[', '"', 'n' (number), 't', 'f', '0' (null)
	raw  []byte
	keys []string // object keys, in order
	vals []*jnode // object member values or array elements
}

// parseTree reads data, a document encoding/json accepted, into a tree
// of jnodes with the token decoder of jsontext. Duplicate member names and
// invalid UTF-8 are let through, as encoding/json lets them through: the
// tree must hold what encoding/json decoded.
func parseTree(data []byte) (*jnode, bool) {
	dec := jsontext.NewDecoder(bytes.NewReader(data),
		jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	n, err := readNode(dec, data)
	if err != nil {
		return nil, false
	}
	return n, true
}

// readNode reads the next value of dec, the decoder of data, into a
// jnode whose raw is the value's text.
func readNode(dec *jsontext.Decoder, data []byte) (*jnode, error) {
	switch kind := dec.PeekKind(); kind {
	case '{', '[':
		if _, err := dec.ReadToken(); err != nil {
			return nil, err
		}
		// The offset is just past the opening delimiter.
		start := dec.InputOffset() - 1
		n := &jnode{kind: byte(kind)}
		end := jsontext.Kind('}')
		if kind == '[' {
			end = ']'
		}
		for dec.PeekKind() != end {
			if kind == '{' {
				name, err := dec.ReadToken()
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, name.String())
			}
			v, err := readNode(dec, data)
			if err != nil {
				return nil, err
			}
			n.vals = append(n.vals, v)
		}
		if _, err := dec.ReadToken(); err != nil {
			return nil, err
		}
		n.raw = data[start:dec.InputOffset()]
		return n, nil
	default:
		raw, err := dec.ReadValue()
		if err != nil {
			return nil, err
		}
		n := &jnode{kind: byte(kind), raw: data[dec.InputOffset()-int64(len(raw)) : dec.InputOffset()]}
		switch kind {
		case '0':
			n.kind = 'n'
		case 'n':
			n.kind = '0'
		}
		return n, nil
	}
}

// describe names the JSON type of n for a detail message.
func (n *jnode) describe() string {
	switch n.kind {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 'n':
		return "a number"
	case 't', 'f':
		return "a boolean"
	}
	return "null"
}

type locator struct {
	fields []apperr.FieldError
	// keysOnly checks object keys against struct fields only (caseProblems):
	// the values were decoded without fault.
	keysOnly bool
}

func (l *locator) add(ptr, detail string) {
	if len(l.fields) < maxLocatedProblems {
		l.fields = append(l.fields, apperr.FieldError{Pointer: ptr, Detail: detail})
	}
}

func (l *locator) mismatch(n *jnode, t reflect.Type, ptr string) {
	l.add(ptr, fmt.Sprintf("expected %s, got %s", describeGoType(t), n.describe()))
}

var (
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	jsonNumberType      = reflect.TypeFor[json.Number]()
)

func implements(t, iface reflect.Type) bool {
	return t.Implements(iface) || (t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(iface))
}

// walk checks n against t; ptr is n's JSON Pointer.
func (l *locator) walk(n *jnode, t reflect.Type, ptr string) {
	if len(l.fields) >= maxLocatedProblems || n.kind == '0' {
		return // null leaves any Go value as it is
	}
	for t.Kind() == reflect.Pointer && !implements(t, jsonUnmarshalerType) && !implements(t, textUnmarshalerType) {
		t = t.Elem()
	}
	if l.keysOnly && (implements(t, jsonUnmarshalerType) || implements(t, textUnmarshalerType)) {
		return
	}
	if implements(t, jsonUnmarshalerType) {
		target := reflect.New(t)
		if err := json.Unmarshal(n.raw, target.Interface()); err != nil {
			l.add(ptr, unmarshalerDetail(err))
		}
		return
	}
	if implements(t, textUnmarshalerType) {
		if n.kind != '"' {
			l.mismatch(n, t, ptr)
			return
		}
		var s string
		if err := json.Unmarshal(n.raw, &s); err != nil {
			l.add(ptr, "invalid string")
			return
		}
		target := reflect.New(t)
		if t.Kind() == reflect.Pointer {
			target.Elem().Set(reflect.New(t.Elem()))
			target = target.Elem()
		}
		if err := target.Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			l.add(ptr, unmarshalerDetail(err))
		}
		return
	}
	if t == jsonNumberType {
		switch n.kind {
		case 'n':
		case '"':
			var s string
			if json.Unmarshal(n.raw, &s) != nil || !validJSONNumber(s) {
				l.add(ptr, "expected a number")
			}
		default:
			l.mismatch(n, t, ptr)
		}
		return
	}
	switch t.Kind() {
	case reflect.Interface:
		if t.NumMethod() > 0 {
			l.add(ptr, "this value cannot be decoded")
		}
	case reflect.Struct:
		if n.kind != '{' {
			l.mismatch(n, t, ptr)
			return
		}
		fields := structFieldsOf(t)
		for i, key := range n.keys {
			kptr := ptr + "/" + EscapePointerToken(key)
			f, ok := fields.lookup(key)
			if !ok {
				if !l.keysOnly {
					l.add(kptr, "unknown field")
				}
				continue
			}
			if f.name != key {
				l.add(kptr, fmt.Sprintf("unknown field; member names are case-sensitive (did you mean %q?)", f.name))
				continue
			}
			if f.quoted {
				l.walkQuoted(n.vals[i], f.typ, kptr)
				continue
			}
			l.walk(n.vals[i], f.typ, kptr)
		}
	case reflect.Map:
		if n.kind != '{' {
			l.mismatch(n, t, ptr)
			return
		}
		kt := t.Key()
		for i, key := range n.keys {
			kptr := ptr + "/" + EscapePointerToken(key)
			if !implements(kt, textUnmarshalerType) && kt.Kind() != reflect.String {
				if !fitsNumber(key, kt) {
					l.add(kptr, fmt.Sprintf("key %q is not %s", key, describeGoType(kt)))
					continue
				}
			}
			l.walk(n.vals[i], t.Elem(), kptr)
		}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 && !implements(t.Elem(), jsonUnmarshalerType) && !implements(t.Elem(), textUnmarshalerType) {
			if n.kind != '"' {
				l.mismatch(n, t, ptr)
				return
			}
			var s string
			if json.Unmarshal(n.raw, &s) != nil {
				l.add(ptr, "invalid string")
				return
			}
			if _, err := base64.StdEncoding.DecodeString(s); err != nil {
				l.add(ptr, "expected a base64 string")
			}
			return
		}
		l.walkArray(n, t, ptr, -1)
	case reflect.Array:
		l.walkArray(n, t, ptr, t.Len())
	case reflect.String:
		if n.kind != '"' && !l.keysOnly {
			l.mismatch(n, t, ptr)
		}
	case reflect.Bool:
		if n.kind != 't' && n.kind != 'f' {
			l.mismatch(n, t, ptr)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		if n.kind != 'n' {
			l.mismatch(n, t, ptr)
			return
		}
		if !fitsNumber(string(n.raw), t) {
			l.add(ptr, fmt.Sprintf("%s does not fit: expected %s", string(n.raw), describeGoType(t)))
		}
	}
}

func (l *locator) walkArray(n *jnode, t reflect.Type, ptr string, limit int) {
	if n.kind != '[' {
		l.mismatch(n, t, ptr)
		return
	}
	for i, v := range n.vals {
		if limit >= 0 && i >= limit {
			return // encoding/json ignores the excess of a Go array
		}
		l.walk(v, t.Elem(), ptr+"/"+strconv.Itoa(i))
	}
}

// walkQuoted checks a field tagged `json:",string"`: the JSON value is a
// string holding the literal for t.
func (l *locator) walkQuoted(n *jnode, t reflect.Type, ptr string) {
	if n.kind == '0' {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.kind != '"' {
		l.add(ptr, fmt.Sprintf("expected a string holding %s, got %s", describeGoType(t), n.describe()))
		return
	}
	var s string
	if json.Unmarshal(n.raw, &s) != nil {
		l.add(ptr, "invalid string")
		return
	}
	switch t.Kind() {
	case reflect.Bool:
		if s != "true" && s != "false" {
			l.add(ptr, "expected a string holding true or false")
		}
	case reflect.String:
		var inner string
		if json.Unmarshal([]byte(s), &inner) != nil {
			l.add(ptr, "expected a string holding a JSON string")
		}
	default:
		if !fitsNumber(s, t) {
			l.add(ptr, fmt.Sprintf("expected a string holding %s", describeGoType(t)))
		}
	}
}

// fitsNumber reports whether the literal s decodes into a number of kind t.
func fitsNumber(s string, t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		_, err := strconv.ParseInt(s, 10, t.Bits())
		return err == nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		_, err := strconv.ParseUint(s, 10, t.Bits())
		return err == nil
	case reflect.Float32, reflect.Float64:
		if !validJSONNumber(s) {
			return false
		}
		_, err := strconv.ParseFloat(s, t.Bits())
		return err == nil
	}
	return false
}

func unmarshalerDetail(err error) string {
	var pe *time.ParseError
	if errors.As(err, &pe) {
		return fmt.Sprintf("expected an RFC 3339 time such as 2026-01-23T00:00:00Z, got %q", pe.Value)
	}
	if ae, ok := apperr.As(err); ok {
		if len(ae.Fields) > 0 && ae.Fields[0].Detail != "" {
			return ae.Fields[0].Detail
		}
		return ae.Message
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// describeGoType names what a Go type accepts, in JSON terms.
func describeGoType(t reflect.Type) string {
	if t == nil {
		return "a value"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if implements(t, textUnmarshalerType) && !implements(t, jsonUnmarshalerType) {
		return "a string"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return fmt.Sprintf("an integer (%d-bit)", t.Bits())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return fmt.Sprintf("a non-negative integer (%d-bit)", t.Bits())
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return "a base64 string"
		}
		return "an array"
	case reflect.Array:
		return "an array"
	}
	return "a value"
}

// describeJSONValue turns json.UnmarshalTypeError.Value ("string",
// "number 1.5", "object") into a phrase.
func describeJSONValue(v string) string {
	switch {
	case v == "object", v == "array":
		return "an " + v
	case v == "bool":
		return "a boolean"
	case v == "string":
		return "a string"
	case strings.HasPrefix(v, "number"):
		return v
	}
	return v
}

// structField is one JSON-visible field of a struct.
type structField struct {
	name   string
	typ    reflect.Type
	quoted bool
	depth  int
	tagged bool
}

type structFields struct {
	exact map[string]structField
	list  []structField
}

// lookup finds a key as encoding/json does: an exact name first, then a
// case-insensitive match.
func (s structFields) lookup(key string) (structField, bool) {
	if f, ok := s.exact[key]; ok {
		return f, true
	}
	for _, f := range s.list {
		if strings.EqualFold(f.name, key) {
			return f, true
		}
	}
	return structField{}, false
}

// structFieldsOf lists the JSON fields of t following encoding/json's
// rules: exported fields, `json` tag names and "-", fields of untagged
// embedded structs promoted, the shallowest (then the tagged) of equal
// names winning and remaining ties dropped.
func structFieldsOf(t reflect.Type) structFields {
	var all []structField
	var collect func(t reflect.Type, depth int, seen map[reflect.Type]bool)
	collect = func(t reflect.Type, depth int, seen map[reflect.Type]bool) {
		if seen[t] {
			return
		}
		seen[t] = true
		defer delete(seen, t)
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			tag := sf.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			ft := sf.Type
			if sf.Anonymous {
				et := ft
				if et.Kind() == reflect.Pointer {
					et = et.Elem()
				}
				if !sf.IsExported() && et.Kind() != reflect.Struct {
					continue
				}
				if name == "" && et.Kind() == reflect.Struct {
					collect(et, depth+1, seen)
					continue
				}
			} else if !sf.IsExported() {
				continue
			}
			tagged := name != ""
			if !tagged {
				name = sf.Name
			}
			quoted := false
			for _, o := range strings.Split(opts, ",") {
				if o == "string" {
					switch k := ft.Kind(); {
					case k == reflect.Bool, k == reflect.String, k >= reflect.Int && k <= reflect.Float64:
						quoted = true
					case k == reflect.Pointer:
						if ek := ft.Elem().Kind(); ek == reflect.Bool || ek == reflect.String || (ek >= reflect.Int && ek <= reflect.Float64) {
							quoted = true
						}
					}
				}
			}
			all = append(all, structField{name: name, typ: ft, quoted: quoted, depth: depth, tagged: tagged})
		}
	}
	collect(t, 0, map[reflect.Type]bool{})

	byName := map[string][]structField{}
	var order []string
	for _, f := range all {
		if _, ok := byName[f.name]; !ok {
			order = append(order, f.name)
		}
		byName[f.name] = append(byName[f.name], f)
	}
	out := structFields{exact: map[string]structField{}}
	for _, name := range order {
		if f, ok := dominant(byName[name]); ok {
			out.exact[name] = f
			out.list = append(out.list, f)
		}
	}
	return out
}

func dominant(fs []structField) (structField, bool) {
	minDepth := fs[0].depth
	for _, f := range fs {
		minDepth = min(minDepth, f.depth)
	}
	var shallow []structField
	for _, f := range fs {
		if f.depth == minDepth {
			shallow = append(shallow, f)
		}
	}
	if len(shallow) == 1 {
		return shallow[0], true
	}
	var tagged []structField
	for _, f := range shallow {
		if f.tagged {
			tagged = append(tagged, f)
		}
	}
	if len(tagged) == 1 {
		return tagged[0], true
	}
	return structField{}, false
}

// validJSONNumber reports whether s is a number literal of the JSON grammar
// (RFC 8259 section 6): -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func validJSONNumber(s string) bool {
	i := 0
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}
