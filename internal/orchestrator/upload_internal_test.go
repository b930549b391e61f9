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
		eachMember([]byte(c.raw), func(k string) { got = append(got, k) })
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("eachMember(%s) = %q, want %q", c.raw, got, c.want)
		}
	}
}
