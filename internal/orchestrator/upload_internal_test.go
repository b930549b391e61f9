package orchestrator

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"
)

func TestEachMember(t *testing.T) {
	for _, c := range []struct {
		raw  string
		want []string
	}{
		{`{}`, nil},
		{` { "a" : 1 , "b":{"c":[1,{"d":2}],"e":"}"} ,"f\"g":"x\\","h\u0069":null}`, []string{"a", "b", `f"g`, "hi"}},
		{`[{"a":1}]`, nil},
		{`"a"`, nil},
		{`{"a":[],"b":[[],[{}]],"c":"\\\""}`, []string{"a", "b", "c"}},
	} {
		var got []string
		eachMember([]byte(c.raw), func(k string, _ []byte) { got = append(got, k) })
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("eachMember(%s) = %q, want %q", c.raw, got, c.want)
		}
	}
}

func TestEachMemberStringLiterals(t *testing.T) {
	raw := `{"a" : "x\\\"y", "b":1, "c":{"d":"e"}, "f":[ "g" ], "h":  "",` + "\n" + `"i":null}`
	var got []string
	eachMember([]byte(raw), func(k string, lit []byte) {
		got = append(got, k+"="+string(lit))
	})
	want := []string{`a="x\\\"y"`, "b=", "c=", "f=", `h=""`, "i="}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// FuzzEachMember checks eachMember against encoding/json on valid JSON:
// the top-level member names in order, and the literal of each string
// value.
func FuzzEachMember(f *testing.F) {
	for _, s := range []string{
		`{"a":"x","b":{"c":"}"},"d":["]",{"e":"\""}],"f\"g":"h\\"}`,
		`{"position_id":"\ud800","instrument_id":"\u00e9"}`,
		` { "a" : "" , "b" : [ ] , "c" : { } } `,
		`{"a":1e400,"b":-0,"c":true,"d":null}`,
		`[{"a":1}]`, `"s"`, `{}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) != nil || !json.Valid(raw) || !utf8.Valid(raw) || bytes.TrimSpace(raw)[0] != '{' {
			eachMember(raw, func(string, []byte) {}) // must not panic
			return
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		_, _ = dec.Token() // {
		var want []string
		var wantLits []string
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return // invalid text encoding/json took leniently
			}
			key := tok.(string)
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				return
			}
			want = append(want, key)
			if len(v) > 0 && v[0] == '"' {
				wantLits = append(wantLits, string(v))
			} else {
				wantLits = append(wantLits, "")
			}
		}
		var got, gotLits []string
		eachMember(raw, func(k string, lit []byte) {
			got = append(got, k)
			gotLits = append(gotLits, string(lit))
		})
		if !reflect.DeepEqual(got, want) && len(want) > 0 {
			t.Fatalf("eachMember(%q) keys %q, encoding/json %q", raw, got, want)
		}
		if len(want) > 0 && !reflect.DeepEqual(gotLits, wantLits) {
			t.Fatalf("eachMember(%q) string literals %q, encoding/json %q", raw, gotLits, wantLits)
		}
	})
}
