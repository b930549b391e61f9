package orchestrator

import (
	"reflect"
	"testing"
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
