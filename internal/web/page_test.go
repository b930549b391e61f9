package web_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/web"
)

func paramOf(t *testing.T, err error) string {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok || e.Code != apperr.Invalid || len(e.Fields) != 1 {
		t.Fatalf("err = %v, want apperr.Invalid with one field", err)
	}
	return e.Fields[0].Parameter
}

func TestParsePageLimit(t *testing.T) {
	t.Parallel()
	for query, want := range map[string]int{"": 100, "?limit=": 100, "?limit=1": 1, "?limit=1000": 1000, "?limit=37&x=1": 37} {
		p, err := web.ParsePage(httptest.NewRequest("GET", "/orch/runs"+query, nil))
		if err != nil || p.Limit != want || p.Cursor != "" {
			t.Errorf("ParsePage(%q) = %+v, %v; want limit %d", query, p, err, want)
		}
	}
	for _, query := range []string{"?limit=0", "?limit=1001", "?limit=-5", "?limit=ten", "?limit=1e2", "?limit=99999999999999999999"} {
		_, err := web.ParsePage(httptest.NewRequest("GET", "/orch/runs"+query, nil))
		if got := paramOf(t, err); got != "limit" {
			t.Errorf("ParsePage(%q): parameter %q, want limit", query, got)
		}
		if web.StatusOf(err) != 400 {
			t.Errorf("ParsePage(%q): status %d", query, web.StatusOf(err))
		}
	}
}

func TestCursorRoundTrip(t *testing.T) {
	t.Parallel()
	values := []string{"2026-01-23T00:00:00Z", "snap/with?odd&chars=é", ""}
	c := web.EncodeCursor(values...)
	if strings.ContainsAny(c, "+/=") {
		t.Errorf("cursor %q is not URL-safe", c)
	}
	p, err := web.ParsePage(httptest.NewRequest("GET", "/mkt/snapshots?limit=5&cursor="+c, nil))
	if err != nil || p.Cursor != c || p.Limit != 5 {
		t.Fatalf("ParsePage = %+v, %v", p, err)
	}
	got, err := web.DecodeCursor(p.Cursor, 3)
	if err != nil {
		t.Fatalf("DecodeCursor: %v", err)
	}
	if strings.Join(got, "|") != strings.Join(values, "|") {
		t.Errorf("round trip = %q, want %q", got, values)
	}
	// Independent check of the format: base64url of a JSON array.
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		t.Fatal(err)
	}
	var arr []string
	if err := json.Unmarshal(raw, &arr); err != nil || len(arr) != 3 {
		t.Errorf("cursor payload %s", raw)
	}
}

func TestMalformedCursor(t *testing.T) {
	t.Parallel()
	notArray := base64.RawURLEncoding.EncodeToString([]byte(`{"a":1}`))
	numbers := base64.RawURLEncoding.EncodeToString([]byte(`[1,2]`))
	nul := web.EncodeCursor("2026-01-23T00:00:00Z", "a\x00b") // no list gives out a NUL
	for _, c := range []string{"!!!", "abc", notArray, numbers, strings.Repeat("A", 5000), nul} {
		_, err := web.ParsePage(httptest.NewRequest("GET", "/mkt/snapshots?cursor="+c, nil))
		if got := paramOf(t, err); got != "cursor" {
			t.Errorf("cursor %q: parameter %q", c, got)
		}
	}
	// Well formed but with the wrong number of values for this list.
	_, err := web.DecodeCursor(web.EncodeCursor("a", "b"), 3)
	if got := paramOf(t, err); got != "cursor" {
		t.Errorf("wrong arity: parameter %q", got)
	}
	rec := httptest.NewRecorder()
	web.WriteError(rec, httptest.NewRequest("GET", "/mkt/snapshots", nil), nil, err)
	p, _ := MustProblem(t, rec.Result(), 400)
	if len(p.Errors) != 1 || p.Errors[0].Parameter != "cursor" {
		t.Errorf("problem = %+v", p)
	}
}

func TestListJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		list any
		want string
	}{
		{web.List[int]{}, `{"items":[],"next_cursor":null}`},
		{web.NewList([]string{"a"}, ""), `{"items":["a"],"next_cursor":null}`},
		{web.NewList([]int{1, 2}, "CUR"), `{"items":[1,2],"next_cursor":"CUR"}`},
		{&web.List[int]{Items: []int{}}, `{"items":[],"next_cursor":null}`},
		{web.NewList([]string{"<a&b>"}, ""), `{"items":["<a&b>"],"next_cursor":null}`},
	}
	for _, tt := range tests {
		b, err := web.MarshalJSON(tt.list)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(string(b)); got != tt.want {
			t.Errorf("got %s, want %s", got, tt.want)
		}
	}
}

func TestPageOf(t *testing.T) {
	t.Parallel()
	type row struct{ ID, Key string }
	rows := []row{{"a", "1"}, {"b", "2"}, {"c", "3"}}
	key := func(r row) []string { return []string{r.Key, r.ID} }

	last := web.PageOf(rows, 3, key)
	if len(last.Items) != 3 || last.NextCursor != nil {
		t.Errorf("exactly limit rows: %+v", last)
	}
	more := web.PageOf(rows, 2, key)
	if len(more.Items) != 2 || more.NextCursor == nil {
		t.Fatalf("limit+1 rows: %+v", more)
	}
	got, err := web.DecodeCursor(*more.NextCursor, 2)
	if err != nil || got[0] != "2" || got[1] != "b" {
		t.Errorf("next cursor holds %q, %v; want the last kept row [2 b]", got, err)
	}
	empty := web.PageOf([]row(nil), 10, key)
	if b, _ := web.MarshalJSON(empty); strings.TrimSpace(string(b)) != `{"items":[],"next_cursor":null}` {
		t.Errorf("empty page = %s", b)
	}
}
