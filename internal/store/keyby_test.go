package store

import "testing"

func TestAttrKey(t *testing.T) {
	t.Parallel()
	for keyBy, want := range map[string]string{
		"attr:state": "state", "attr:_x": "_x", "attr:fico2": "fico2", "attr:A_b_9": "A_b_9",
	} {
		if got, ok := AttrKey(keyBy); !ok || got != want {
			t.Errorf("AttrKey(%q) = %q, %v; want %q", keyBy, got, ok, want)
		}
	}
	for _, bad := range []string{"state", "attr:", "attr:9lives", "attr:a-b", "attr:a.b", "attr:a b", "attr:é", "ATTR:x", "attr:x\x00"} {
		if got, ok := AttrKey(bad); ok {
			t.Errorf("AttrKey(%q) = %q, accepted", bad, got)
		}
	}
}
