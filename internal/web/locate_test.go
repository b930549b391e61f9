package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/canon"
)

func TestDotPathPointer(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"":                     "",
		"quantity":             "/quantity",
		"positions.3.quantity": "/positions/3/quantity",
		"a/b.c~d":              "/a~1b/c~0d",
	}
	for in, want := range tests {
		if got := dotPathPointer(in); got != want {
			t.Errorf("dotPathPointer(%q) = %q, want %q", in, got, want)
		}
	}
}

// What encoding/json itself reports for a type error inside a slice: the
// reason the locator exists. If a future Go records indexes, the fallback
// becomes exact too.
func TestEncodingJSONFieldHasNoIndex(t *testing.T) {
	t.Parallel()
	var v struct {
		Positions []struct {
			Quantity float64 `json:"quantity"`
		} `json:"positions"`
	}
	err := json.Unmarshal([]byte(`{"positions":[{},{"quantity":"x"}]}`), &v)
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) {
		t.Fatalf("err = %v", err)
	}
	if te.Field != "positions.quantity" && te.Field != "positions.1.quantity" {
		t.Errorf("Field = %q", te.Field)
	}
}

func TestValidJSONNumber(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"0", "-0", "1", "-12", "1.5", "0.25", "1e9", "1E+9", "2.5e-3"} {
		if !validJSONNumber(ok) {
			t.Errorf("validJSONNumber(%q) = false", ok)
		}
	}
	for _, bad := range []string{"", "-", "01", "1.", ".5", "+1", "1e", "0x10", "Inf", "NaN", "1_000", " 1", "1 "} {
		if validJSONNumber(bad) {
			t.Errorf("validJSONNumber(%q) = true", bad)
		}
	}
}

func TestParserKeys(t *testing.T) {
	t.Parallel()
	n, ok := parseTree([]byte(` {"a\"b": [1, "x\\", {"\u00e9/~": null}], "t": true} `))
	if !ok || n.kind != '{' || len(n.keys) != 2 {
		t.Fatalf("parsed %+v, %v", n, ok)
	}
	if n.keys[0] != `a"b` || n.keys[1] != "t" {
		t.Errorf("keys = %q", n.keys)
	}
	arr := n.vals[0]
	if arr.kind != '[' || len(arr.vals) != 3 || string(arr.vals[1].raw) != `"x\\"` || arr.vals[2].keys[0] != "é/~" {
		t.Errorf("array = %+v", arr)
	}
	// Every node keeps its own text, composites included (an Unmarshaler
	// is given it), and knows its kind: number 'n', null '0'.
	if string(arr.raw) != `[1, "x\\", {"\u00e9/~": null}]` || string(arr.vals[2].raw) != `{"\u00e9/~": null}` ||
		arr.vals[0].kind != 'n' || arr.vals[2].vals[0].kind != '0' || n.vals[1].kind != 't' {
		t.Errorf("raw texts and kinds: %q %q %c %c %c", arr.raw, arr.vals[2].raw, arr.vals[0].kind, arr.vals[2].vals[0].kind, n.vals[1].kind)
	}
	// Duplicate names and invalid UTF-8 pass, as encoding/json lets them.
	if d, ok := parseTree([]byte("{\"a\":1,\"a\":\"\xff\"}")); !ok || len(d.keys) != 2 {
		t.Errorf("duplicate names / invalid UTF-8: %+v, %v", d, ok)
	}
	var l locator
	var dst struct {
		T bool `json:"t"`
	}
	l.walk(n, reflect.TypeOf(&dst).Elem(), "")
	if len(l.fields) != 1 || l.fields[0].Pointer != `/a"b` {
		t.Errorf("fields = %+v", l.fields)
	}
}

// FuzzUnmarshalStrict checks UnmarshalStrict against encoding/json: it
// fails whenever a strict decoder refuses the input, and otherwise only
// for what IPRS refuses on top (text that is not Unicode or holds NUL, a
// member name twice, a field name in another case), which the RFC 8785
// canonicalizer confirms for the first two; every failure is an
// apperr.Invalid with at least one field problem, never a panic or an
// internal error.
func FuzzUnmarshalStrict(f *testing.F) {
	for _, seed := range []string{
		`{}`, `{"position_id":"P","quantity":1}`, `{"position_id":1}`, `{"cashflows":[{"amount":"x"}]}`,
		`{"attributes":{"a":[1,2,{"b":null}]}}`, `{"unknown":true}`, `{"n":300}`, `{"when":"2026-01-01T00:00:00Z"}`,
		`{"when":"nope"}`, `[]`, `"s"`, `{"position_id":"P"} x`, `{`, ``, `{"tags":{"k":1}}`, `{"ids":[1,"a"]}`,
		`{"nested":{"deep":{"x":1}}}`, `{"POSITION_ID":"case"}`, `{"quantity":1e999}`, `{"n":-1}`,
		`{"position_id":"A","position_id":"B"}`, `{"position_id":"\ud800"}`, "{\"position_id\":\"\xff\"}",
		`{"tags":{"a":"x","A":"y"}}`, `{"position_id":"a\u0000"}`, `{"nested":{"deep":{"x":1,"X":2}}}`,
	} {
		f.Add([]byte(seed))
	}
	type cash struct {
		Amount float64 `json:"amount"`
	}
	type target struct {
		PositionID string          `json:"position_id"`
		Quantity   *float64        `json:"quantity"`
		Attributes json.RawMessage `json:"attributes"`
		Cashflows  []cash          `json:"cashflows"`
		N          uint8           `json:"n"`
		When       *time.Time      `json:"when"`
		Tags       map[string]string
		IDs        []int `json:"ids"`
		Nested     *struct {
			Deep struct {
				X int `json:"x"`
			} `json:"deep"`
		} `json:"nested"`
		Any any `json:"any"`
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var a, b target
		err := UnmarshalStrict(data, &a, "")

		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		stdErr := dec.Decode(&b)
		if stdErr == nil && len(bytes.TrimLeft(data[dec.InputOffset():], " \t\r\n")) > 0 {
			stdErr = errors.New("trailing data")
		}
		_, canonErr := canon.Options{AllowOutOfRange: true}.Canonicalize(data)
		switch {
		case stdErr != nil && err == nil:
			t.Fatalf("UnmarshalStrict(%q) succeeded, encoding/json = %v", data, stdErr)
		case stdErr == nil && canonErr != nil && err == nil:
			t.Fatalf("UnmarshalStrict(%q) succeeded, canon = %v", data, canonErr)
		case err == nil:
			return
		}
		e, ok := apperr.As(err)
		if !ok || e.Code != apperr.Invalid || len(e.Fields) == 0 {
			t.Fatalf("UnmarshalStrict(%q) = %v, want apperr.Invalid with fields", data, err)
		}
		if stdErr == nil {
			for _, fe := range e.Fields {
				if !strings.Contains(fe.Detail, "more than once") && !strings.Contains(fe.Detail, "case-sensitive") &&
					!strings.Contains(fe.Detail, "UTF-8") && !strings.Contains(fe.Detail, "surrogate") && !strings.Contains(fe.Detail, "NUL") {
					t.Fatalf("UnmarshalStrict(%q): %+v, which encoding/json accepts", data, fe)
				}
			}
		}
		for _, fe := range e.Fields {
			if fe.Pointer != "" && !strings.HasPrefix(fe.Pointer, "/") {
				t.Fatalf("pointer %q is not a JSON Pointer", fe.Pointer)
			}
		}
	})
}
