package apidoc

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Doc is the parsed document, for the checks that compare it with the
// services and with documents sent to them.
type Doc struct {
	root map[string]any
}

// Parse reads the embedded document.
func Parse() (*Doc, error) {
	var root map[string]any
	if err := json.Unmarshal(document, &root); err != nil {
		return nil, fmt.Errorf("apidoc: parse openapi.json: %w", err)
	}
	return &Doc{root: root}, nil
}

// Methods of an OpenAPI path item.
var methods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// Operations returns "METHOD /path" for every operation of the document,
// sorted ("GET /orch/runs/{id}").
func (d *Doc) Operations() []string {
	var out []string
	paths, _ := d.root["paths"].(map[string]any)
	for p, item := range paths {
		ops, _ := item.(map[string]any)
		for _, m := range methods {
			if _, ok := ops[m]; ok {
				out = append(out, strings.ToUpper(m)+" "+p)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Operation returns the operation object of "METHOD /path".
func (d *Doc) Operation(op string) (map[string]any, bool) {
	method, path, _ := strings.Cut(op, " ")
	paths, _ := d.root["paths"].(map[string]any)
	item, _ := paths[path].(map[string]any)
	o, ok := item[strings.ToLower(method)].(map[string]any)
	return o, ok
}

// RequestSchema is the pointer of an operation's JSON request body schema.
func (d *Doc) RequestSchema(op string) (string, bool) {
	method, path, _ := strings.Cut(op, " ")
	ptr := "#/paths/" + escape(path) + "/" + strings.ToLower(method) + "/requestBody/content/application~1json/schema"
	_, err := d.Resolve(ptr)
	return ptr, err == nil
}

// ResponseSchema is the pointer of the schema of an operation's answer with
// status and media type (application/json or application/problem+json),
// following a $ref to a shared response.
func (d *Doc) ResponseSchema(op string, status int, mediaType string) (string, bool) {
	method, path, _ := strings.Cut(op, " ")
	base := "#/paths/" + escape(path) + "/" + strings.ToLower(method) + "/responses/" + strconv.Itoa(status)
	r, err := d.Resolve(base)
	if err != nil {
		return "", false
	}
	if m, ok := r.(map[string]any); ok {
		if target, ok := m["$ref"].(string); ok {
			base = target
		}
	}
	ptr := base + "/content/" + escape(mediaType) + "/schema"
	_, err = d.Resolve(ptr)
	return ptr, err == nil
}

func escape(token string) string {
	return strings.ReplaceAll(strings.ReplaceAll(token, "~", "~0"), "/", "~1")
}

// Resolve returns the value at a local reference ("#/components/schemas/Run").
func (d *Doc) Resolve(ref string) (any, error) {
	ptr, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil, fmt.Errorf("reference %q is not local", ref)
	}
	var cur any = d.root
	if ptr == "" {
		return cur, nil
	}
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[tok]
			if !ok {
				return nil, fmt.Errorf("reference %q: no member %q", ref, tok)
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil, fmt.Errorf("reference %q: no index %q", ref, tok)
			}
			cur = c[i]
		default:
			return nil, fmt.Errorf("reference %q: %q is inside a scalar", ref, tok)
		}
	}
	return cur, nil
}

// SchemaKeywords are the JSON Schema keywords the document may use: the
// ones Validate checks, and annotations it ignores.
var SchemaKeywords = []string{
	"$ref", "type", "properties", "required", "additionalProperties", "items", "enum", "oneOf",
	"minItems", "minLength", "minimum", "maximum", "format",
	"description", "title", "examples", "default",
}

// Validate checks a decoded JSON value (from encoding/json into any)
// against the schema at ref, and returns every violation found, each with
// the JSON Pointer of the value.
func (d *Doc) Validate(ref string, v any) error {
	s, err := d.Resolve(ref)
	if err != nil {
		return err
	}
	var problems []string
	d.check(s, v, "", &problems, 0)
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// ValidateJSON decodes data and validates it against the schema at ref.
func (d *Doc) ValidateJSON(ref string, data []byte) error {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return d.Validate(ref, v)
}

var (
	dateRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
)

func (d *Doc) check(schema, v any, ptr string, problems *[]string, depth int) {
	add := func(format string, args ...any) {
		where := ptr
		if where == "" {
			where = "(document)"
		}
		*problems = append(*problems, where+": "+fmt.Sprintf(format, args...))
	}
	if depth > 64 {
		add("schema nesting too deep")
		return
	}
	s, ok := schema.(map[string]any)
	if !ok {
		if b, isBool := schema.(bool); isBool && !b {
			add("no value is allowed here")
		}
		return
	}
	if ref, ok := s["$ref"].(string); ok {
		target, err := d.Resolve(ref)
		if err != nil {
			add("%v", err)
			return
		}
		d.check(target, v, ptr, problems, depth+1)
	}
	if t, ok := s["type"]; ok && !typeMatches(t, v) {
		add("is %s, want %v", jsonType(v), t)
		return
	}
	if enum, ok := s["enum"].([]any); ok && !slices.ContainsFunc(enum, func(e any) bool { return equalJSON(e, v) }) {
		add("%v is not one of %v", v, enum)
	}
	if alts, ok := s["oneOf"].([]any); ok {
		matched := 0
		var last []string
		for _, alt := range alts {
			var p []string
			d.check(alt, v, ptr, &p, depth+1)
			if len(p) == 0 {
				matched++
			} else {
				last = p
			}
		}
		if matched != 1 {
			add("matches %d of the %d alternatives, want exactly one (%s)", matched, len(alts), strings.Join(last, "; "))
		}
	}
	switch x := v.(type) {
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		for _, r := range asStrings(s["required"]) {
			if _, ok := x[r]; !ok {
				add("member %q is required", r)
			}
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			child := ptr + "/" + escape(k)
			if ps, ok := props[k]; ok {
				d.check(ps, x[k], child, problems, depth+1)
				continue
			}
			if ap, ok := s["additionalProperties"]; ok {
				if b, isBool := ap.(bool); isBool && !b {
					*problems = append(*problems, child+": unknown member")
					continue
				}
				d.check(ap, x[k], child, problems, depth+1)
			}
		}
	case []any:
		if n, ok := number(s["minItems"]); ok && float64(len(x)) < n {
			add("has %d items, want at least %v", len(x), n)
		}
		if items, ok := s["items"]; ok {
			for i, e := range x {
				d.check(items, e, ptr+"/"+strconv.Itoa(i), problems, depth+1)
			}
		}
	case string:
		if n, ok := number(s["minLength"]); ok && float64(len([]rune(x))) < n {
			add("is shorter than %v", n)
		}
		switch s["format"] {
		case "date-time":
			if _, err := time.Parse(time.RFC3339Nano, x); err != nil {
				add("%q is not an RFC 3339 time", x)
			}
		case "date":
			if _, err := time.Parse(time.DateOnly, x); err != nil || !dateRE.MatchString(x) {
				add("%q is not a YYYY-MM-DD date", x)
			}
		}
	case float64:
		if n, ok := number(s["minimum"]); ok && x < n {
			add("%v is below the minimum %v", x, n)
		}
		if n, ok := number(s["maximum"]); ok && x > n {
			add("%v is above the maximum %v", x, n)
		}
	}
}

func typeMatches(t, v any) bool {
	switch tt := t.(type) {
	case string:
		return oneType(tt, v)
	case []any:
		for _, e := range tt {
			if s, ok := e.(string); ok && oneType(s, v) {
				return true
			}
		}
	}
	return false
}

func oneType(t string, v any) bool {
	switch t {
	case "null":
		return v == nil
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "number":
		_, ok := v.(float64)
		return ok
	case "integer":
		f, ok := v.(float64)
		return ok && f == math.Trunc(f) && !math.IsInf(f, 0)
	case "array":
		_, ok := v.([]any)
		return ok
	case "object":
		_, ok := v.(map[string]any)
		return ok
	}
	return false
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case float64:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func equalJSON(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(ja) == string(jb)
}

func asStrings(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, e := range list {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func number(v any) (float64, bool) {
	f, ok := v.(float64)
	return f, ok
}
