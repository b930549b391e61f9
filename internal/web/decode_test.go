package web_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/web"
)

type cashflow struct {
	PayDate  string  `json:"pay_date"`
	Interest float64 `json:"interest"`
}

type position struct {
	PositionID  string          `json:"position_id"`
	ProductType string          `json:"product_type"`
	Quantity    *float64        `json:"quantity"`
	Attributes  json.RawMessage `json:"attributes"`
	Cashflows   []cashflow      `json:"cashflows"`
}

type upload struct {
	AsOfTime  time.Time         `json:"as_of_time"`
	NodeID    string            `json:"portfolio_node_id"`
	Positions []position        `json:"positions"`
	Tags      map[string]string `json:"tags"`
	Bucket    uint8             `json:"bucket"`
	Extra     any               `json:"extra"`
}

// fields decodes in into a fresh upload and returns the field problems of
// the apperr.Invalid it must fail with.
func fields(t *testing.T, in string) []apperr.FieldError {
	t.Helper()
	var u upload
	err := web.UnmarshalStrict([]byte(in), &u, "")
	if err == nil {
		t.Fatalf("UnmarshalStrict(%s) succeeded", in)
	}
	e, ok := apperr.As(err)
	if !ok || e.Code != apperr.Invalid {
		t.Fatalf("UnmarshalStrict(%s) = %v, want apperr.Invalid", in, err)
	}
	return e.Fields
}

func pointers(fs []apperr.FieldError) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Pointer)
	}
	return out
}

func TestUnmarshalStrictAccepts(t *testing.T) {
	t.Parallel()
	in := `{"as_of_time":"2026-01-23T00:00:00Z","portfolio_node_id":"BOOK","positions":[
		{"position_id":"P1","product_type":"FIXED_BOND","quantity":2,"attributes":{"anything":{"goes":[1,"x"]}},
		 "cashflows":[{"pay_date":"2027-01-01","interest":5}]}],
		"tags":{"desk":"loans"},"bucket":255,"extra":[null,{"k":1}]}
	` // trailing whitespace is fine
	var u upload
	if err := web.UnmarshalStrict([]byte(in), &u, ""); err != nil {
		t.Fatalf("UnmarshalStrict: %v", err)
	}
	if u.Positions[0].Cashflows[0].Interest != 5 || *u.Positions[0].Quantity != 2 || u.Bucket != 255 {
		t.Errorf("decoded %+v", u)
	}
	if string(u.Positions[0].Attributes) != `{"anything":{"goes":[1,"x"]}}` {
		t.Errorf("attributes = %s", u.Positions[0].Attributes)
	}
}

func TestUnmarshalStrictTypeErrorPointers(t *testing.T) {
	t.Parallel()
	in := `{"positions":[
		{"position_id":"P0"},
		{"position_id":"P1"},
		{"position_id":"P2"},
		{"position_id":"P3","quantity":"ten"},
		{"position_id":7,"cashflows":[{"interest":1},{"interest":2},{"pay_date":false}]}
	],"bucket":300}`
	got := fields(t, in)
	want := []string{"/positions/3/quantity", "/positions/4/position_id", "/positions/4/cashflows/2/pay_date", "/bucket"}
	if strings.Join(pointers(got), " ") != strings.Join(want, " ") {
		t.Fatalf("pointers = %q, want %q", pointers(got), want)
	}
	for _, f := range got {
		if f.Detail == "" {
			t.Errorf("%s has no detail", f.Pointer)
		}
	}
	if !strings.Contains(got[0].Detail, "number") || !strings.Contains(got[0].Detail, "string") {
		t.Errorf("detail %q should say a number was expected and a string given", got[0].Detail)
	}
	if !strings.Contains(got[3].Detail, "300") {
		t.Errorf("out-of-range detail %q should quote the value", got[3].Detail)
	}
}

func TestUnmarshalStrictUnknownFields(t *testing.T) {
	t.Parallel()
	in := `{"positions":[{"position_id":"P0","attributes":{"free":1}},{"position_id":"P1","colour":"red"}],
		"tags":{"any key":"ok"},"a/b~c":1,"portfolio_node_id":"N"}`
	got := fields(t, in)
	want := []string{"/positions/1/colour", "/a~1b~0c"}
	if strings.Join(pointers(got), " ") != strings.Join(want, " ") {
		t.Fatalf("pointers = %q, want %q", pointers(got), want)
	}
	if got[0].Detail != "unknown field" {
		t.Errorf("detail = %q", got[0].Detail)
	}
}

func TestUnmarshalStrictUnmarshalerErrors(t *testing.T) {
	t.Parallel()
	got := fields(t, `{"as_of_time":"yesterday"}`)
	if len(got) != 1 || got[0].Pointer != "/as_of_time" {
		t.Fatalf("fields = %+v", got)
	}
	if !strings.Contains(got[0].Detail, "yesterday") || !strings.Contains(got[0].Detail, "RFC 3339") {
		t.Errorf("detail %q should quote the bad value", got[0].Detail)
	}
	got = fields(t, `{"as_of_time":12}`)
	if len(got) != 1 || got[0].Pointer != "/as_of_time" {
		t.Fatalf("fields = %+v", got)
	}
}

func TestUnmarshalStrictMalformed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in     string
		detail string
	}{
		{``, "a JSON document is required"},
		{"  \n\t", "a JSON document is required"},
		{`{"positions":[}`, "byte offset 14"},
		{`{"portfolio_node_id":"N"`, "ends early"},
		{`{"portfolio_node_id":"N"} {"x":1}`, "unexpected data after the JSON value at byte offset 26"},
		{`{"portfolio_node_id":"N"}]`, "byte offset 25"},
		{`[1,2]`, "expected an object, got an array"},
		{`nul`, "malformed"},
	}
	for _, tt := range tests {
		got := fields(t, tt.in)
		if len(got) != 1 || got[0].Pointer != "" || !strings.Contains(got[0].Detail, tt.detail) {
			t.Errorf("UnmarshalStrict(%q): fields %+v, want pointer \"\" and detail containing %q", tt.in, got, tt.detail)
		}
	}
}

func TestUnmarshalStrictBase(t *testing.T) {
	t.Parallel()
	var p position
	err := web.UnmarshalStrict([]byte(`{"position_id":"P","cashflows":[{"interest":"x"}],"zzz":1}`), &p, web.Pointer("positions", "41"))
	e, ok := apperr.As(err)
	if !ok {
		t.Fatalf("err = %v", err)
	}
	want := []string{"/positions/41/cashflows/0/interest", "/positions/41/zzz"}
	if strings.Join(pointers(e.Fields), " ") != strings.Join(want, " ") {
		t.Errorf("pointers = %q, want %q", pointers(e.Fields), want)
	}
}

func TestUnmarshalStrictProblemCap(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString(`{"positions":[`)
	for i := range 250 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"position_id":1}`)
	}
	b.WriteString(`]}`)
	got := fields(t, b.String())
	if len(got) != 100 || got[99].Pointer != "/positions/99/position_id" {
		t.Errorf("got %d problems (last %+v), want the first 100", len(got), got[len(got)-1])
	}
}

func TestPointerEscaping(t *testing.T) {
	t.Parallel()
	if got := web.Pointer("attributes", "a/b", "m~n", "0"); got != "/attributes/a~1b/m~0n/0" {
		t.Errorf("Pointer = %q", got)
	}
	if web.Pointer() != "" {
		t.Error("Pointer() should be the whole document")
	}
	if web.EscapePointerToken("~1") != "~01" {
		t.Errorf("EscapePointerToken(~1) = %q, want ~01 (~ first)", web.EscapePointerToken("~1"))
	}
}

func TestDecodeJSONOverHTTP(t *testing.T) {
	t.Parallel()
	m := web.NewMux(web.Config{Service: "orchestrator", Prefix: "/orch", MaxBodyBytes: 64})
	var got upload
	m.HandleFunc("POST /orch/things", func(w http.ResponseWriter, r *http.Request) error {
		if err := web.DecodeJSON(r, &got); err != nil {
			return err
		}
		return web.WriteJSON(w, http.StatusCreated, map[string]string{"node": got.NodeID})
	})
	m.HandleFunc("POST /orch/uploads", func(w http.ResponseWriter, r *http.Request) error {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			return web.BodyReadError(err)
		}
		return web.WriteJSON(w, http.StatusCreated, map[string]int64{"bytes": n})
	}, web.MaxBody(1000))
	h := m.Handler()

	post := func(path, body string, chunked bool) *http.Response {
		req := httptest.NewRequest("POST", path, strings.NewReader(body))
		if chunked {
			req.ContentLength = -1 // unknown length: only the reader can tell
		}
		return serve(h, req)
	}
	if res := post("/orch/things", `{"portfolio_node_id":"BOOK"}`, false); res.StatusCode != 201 {
		t.Errorf("small body: status %d", res.StatusCode)
	}
	big := `{"portfolio_node_id":"` + strings.Repeat("x", 100) + `"}`
	for _, chunked := range []bool{false, true} {
		p, _ := MustProblem(t, post("/orch/things", big, chunked), 413)
		if !strings.Contains(p.Detail, "64 bytes") {
			t.Errorf("413 detail %q should state the limit", p.Detail)
		}
	}
	// The upload route has its own, larger bound.
	if res := post("/orch/uploads", strings.Repeat("y", 900), true); res.StatusCode != 201 {
		t.Errorf("upload within its route limit: status %d", res.StatusCode)
	}
	MustProblem(t, post("/orch/uploads", strings.Repeat("y", 1001), true), 413)
	MustProblem(t, post("/orch/uploads", strings.Repeat("y", 1001), false), 413)

	p, _ := MustProblem(t, post("/orch/things", `{"portfolio_node_id":"A"}{}`, false), 400)
	if len(p.Errors) != 1 || !strings.Contains(p.Errors[0].Detail, "unexpected data") {
		t.Errorf("trailing data problem = %+v", p)
	}
	p, _ = MustProblem(t, post("/orch/things", ``, false), 400)
	if len(p.Errors) != 1 || p.Errors[0].Pointer != "" {
		t.Errorf("empty body problem = %+v", p)
	}
	p, _ = MustProblem(t, post("/orch/things", `{"nope":1}`, false), 400)
	if len(p.Errors) != 1 || p.Errors[0].Pointer != "/nope" || p.Errors[0].Detail != "unknown field" {
		t.Errorf("unknown field problem = %+v", p)
	}
}

func TestIsTooLarge(t *testing.T) {
	t.Parallel()
	if !web.IsTooLarge(fmt.Errorf("read: %w", &http.MaxBytesError{Limit: 3})) {
		t.Error("MaxBytesError not recognised")
	}
	if web.IsTooLarge(io.ErrUnexpectedEOF) {
		t.Error("unexpected EOF taken for too large")
	}
	if web.StatusOf(web.BodyReadError(&http.MaxBytesError{Limit: 3})) != 413 {
		t.Error("BodyReadError(MaxBytesError) is not 413")
	}
	if web.StatusOf(web.BodyReadError(io.ErrUnexpectedEOF)) != 400 {
		t.Error("BodyReadError(unexpected EOF) is not 400")
	}
}

// TestUnmarshalStrictRefusesNUL: a string or member name holding U+0000 is
// refused with its pointer (PostgreSQL text cannot store it), wherever it
// sits, free-form members included; an escaped backslash before "u0000"
// is not a NUL.
func TestUnmarshalStrictRefusesNUL(t *testing.T) {
	t.Parallel()
	got := pointers(fields(t, `{"portfolio_node_id": "B\u0000", "positions": [{"position_id": "P"}, {"position_id": "x\u0000y"}], "tags": {"k\u0000": "v"}, "extra": ["\u0000"]}`))
	want := []string{"/portfolio_node_id", "/positions/1/position_id", "/tags/k\u0000", "/extra/0"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("pointers %q, want %q", got, want)
	}
	var u upload
	if err := web.UnmarshalStrict([]byte(`{"portfolio_node_id": "a\\u0000"}`), &u, ""); err != nil || u.NodeID != `a\u0000` {
		t.Errorf("escaped backslash: %v, %q", err, u.NodeID)
	}
}
