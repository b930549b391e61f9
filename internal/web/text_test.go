package web_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/iprs/iprs/internal/web"
)

func TestStringProblem(t *testing.T) {
	for _, c := range []struct {
		lit  string
		want string // a part of the detail; "" for none
	}{
		{`""`, ""},
		{`"plain"`, ""},
		{`"caf\u00e9 café \" \\ \/ \n"`, ""},
		{`"\ud83d\ude00 😀"`, ""},      // a pair is one character
		{`"\uD83D\uDE00"`, ""},        // upper-case hex
		{`"\ud800"`, "\\ud800"},       // high alone
		{`"\ud800x"`, "unpaired"},     // high then a letter
		{`"\ud800\n"`, "unpaired"},    // high then another escape
		{`"\ud800\u0041"`, "\\ud800"}, // high then a non-surrogate
		{`"\udc00"`, "\\udc00"},       // low alone
		{`"\ude00\ud83d"`, "\\ude00"}, // pair in the wrong order
		{`"\ud800\ud800"`, "unpaired"},
		{`"a\u0000b"`, "NUL"},
		{"\"\xff\"", "0xff at byte 0"},
		{"\"ab\xc3\"", "0xc3 at byte 2"},  // truncated sequence
		{"\"\xc0\xaf\"", "UTF-8"},         // overlong
		{"\"\xed\xa0\x80\"", "UTF-8"},     // a surrogate encoded in UTF-8
		{"\"\xf4\x90\x80\x80\"", "UTF-8"}, // beyond U+10FFFF
	} {
		got := web.StringProblem([]byte(c.lit))
		switch {
		case c.want == "" && got != "":
			t.Errorf("StringProblem(%q) = %q, want none", c.lit, got)
		case c.want != "" && !strings.Contains(got, c.want):
			t.Errorf("StringProblem(%q) = %q, want one containing %q", c.lit, got, c.want)
		}
	}
}

func TestTextProblemsPointers(t *testing.T) {
	doc := `{"a":"\ud800","b":[1,"ok",{"c\ud800":"x","d":"\u0000"}],"a":2,"e":{"f":1,"f":{"g":"` + "\xff" + `"}},"h/~":"\udfff"}`
	got := web.TextProblems([]byte(doc), "/base", true)
	var ptrs []string
	for _, f := range got {
		ptrs = append(ptrs, f.Pointer)
	}
	want := []string{"/base/a", "/base/b/2/c\ufffd", "/base/b/2/d", "/base/a", "/base/e/f", "/base/e/f/g", "/base/h~1~0"}
	if !reflect.DeepEqual(ptrs, want) {
		t.Fatalf("pointers %q, want %q (%+v)", ptrs, want, got)
	}
	if !strings.Contains(got[3].Detail, "more than once") || !strings.Contains(got[1].Detail, "member name") {
		t.Fatalf("details %+v", got)
	}
	// Without dups, the repeats are not reported.
	if n := len(web.TextProblems([]byte(doc), "", false)); n != 5 {
		t.Fatalf("%d problems without dups, want 5", n)
	}
	// Valid text, repeated names in different objects: nothing.
	if got := web.TextProblems([]byte(`{"a":{"x":1},"b":{"x":2},"c":[{"x":3},{"x":4}],"d":"\ud83d\ude00"}`), "", true); len(got) != 0 {
		t.Fatalf("problems %+v", got)
	}
}

func TestUnmarshalStrictRefusesInvalidUnicode(t *testing.T) {
	for _, c := range []struct {
		in, pointer, detail string
	}{
		{`{"portfolio_node_id":"\ud800"}`, "/portfolio_node_id", "surrogate"},
		{"{\"portfolio_node_id\":\"\xfe\"}", "/portfolio_node_id", "UTF-8"},
		{`{"positions":[{"position_id":"ok"},{"position_id":"\udc01"}]}`, "/positions/1/position_id", "surrogate"},
		{`{"tags":{"\ud800":"x"}}`, "/tags/\ufffd", "member name"},
		// Also when the shape is wrong elsewhere.
		{`{"bucket":"x","portfolio_node_id":"\ud800"}`, "/portfolio_node_id", "surrogate"},
	} {
		fs := fields(t, c.in)
		found := false
		for _, f := range fs {
			if f.Pointer == c.pointer && strings.Contains(f.Detail, c.detail) {
				found = true
			}
		}
		if !found {
			t.Errorf("UnmarshalStrict(%q): no problem at %q with %q in %+v", c.in, c.pointer, c.detail, fs)
		}
	}
}

func TestUnmarshalStrictRefusesRepeatedMembers(t *testing.T) {
	for _, c := range []struct {
		in, pointer, detail string
	}{
		{`{"portfolio_node_id":"A","portfolio_node_id":"B"}`, "/portfolio_node_id", "more than once"},
		{`{"portfolio_node_id":"A","portfolio_node\u005fid":"B"}`, "/portfolio_node_id", "more than once"},
		{`{"positions":[{"position_id":"A"},{"position_id":"A","position_id":"B"}]}`, "/positions/1/position_id", "more than once"},
		{`{"tags":{"k":"1","k":"2"}}`, "/tags/k", "more than once"},
		{`{"extra":{"x":1,"x":1}}`, "/extra/x", "more than once"},
		// encoding/json matches a key to a field in any case.
		{`{"portfolio_node_id":"A","Portfolio_Node_ID":"B"}`, "/Portfolio_Node_ID", "case-sensitive"},
		{`{"positions":[{"POSITION_ID":"B"}]}`, "/positions/0/POSITION_ID", "case-sensitive"},
		// With the shape wrong elsewhere too.
		{`{"bucket":"x","tags":{"k":"1","k":"2"}}`, "/tags/k", "more than once"},
	} {
		fs := fields(t, c.in)
		found := false
		for _, f := range fs {
			if f.Pointer == c.pointer && strings.Contains(f.Detail, c.detail) {
				found = true
			}
		}
		if !found {
			t.Errorf("UnmarshalStrict(%q): no problem at %q with %q in %+v", c.in, c.pointer, c.detail, fs)
		}
	}
	// Keys that differ only in case are distinct in a map.
	var u upload
	if err := web.UnmarshalStrict([]byte(`{"tags":{"k":"1","K":"2"}}`), &u, ""); err != nil || u.Tags["K"] != "2" {
		t.Fatalf("UnmarshalStrict: %v, %v", err, u.Tags)
	}
}
