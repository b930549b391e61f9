package web

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/canon"
)

// FuzzCursor: DecodeCursor never panics, refuses as apperr.Invalid naming
// "cursor", and what it accepts encodes back to a cursor with the same
// values.
func FuzzCursor(f *testing.F) {
	for _, s := range []string{
		EncodeCursor("2026-01-23T00:00:00Z", "R-1"), EncodeCursor(), EncodeCursor("a\x00b"), EncodeCursor("\xed\xa0\x80"),
		"", "bnVsbA", "W10", "WyJhIl0=", "!!!", strings.Repeat("A", 5000), "WzEsMl0", "eyJhIjoxfQ",
	} {
		f.Add(s, 2)
	}
	f.Fuzz(func(t *testing.T, s string, n int) {
		vals, err := DecodeCursor(s, n)
		if err != nil {
			e, ok := apperr.As(err)
			if !ok || e.Code != apperr.Invalid || len(e.Fields) != 1 || e.Fields[0].Parameter != "cursor" {
				t.Fatalf("DecodeCursor(%q, %d) = %v", s, n, err)
			}
			return
		}
		if len(vals) != n {
			t.Fatalf("DecodeCursor(%q, %d) gave %d values", s, n, len(vals))
		}
		again, err := DecodeCursor(EncodeCursor(vals...), n)
		if err != nil || !reflect.DeepEqual(again, vals) {
			t.Fatalf("round trip of %q: %q %v", vals, again, err)
		}
	})
}

// FuzzQuery: Query and ParsePage never panic; what Query accepts holds
// only allowed parameters, once each, in UTF-8 without NUL; every refusal
// is an apperr.Invalid naming parameters.
func FuzzQuery(f *testing.F) {
	for _, s := range []string{
		"limit=10&cursor=" + EncodeCursor("x", "y"), "limit=0", "limit=1001", "limit=-1", "limit=1e3", "limit=1&limit=2",
		"status=QUEUED&bogus", "%zz", "a=%ff", "a=%00", "cursor=%00", "=x", "&&&", ";", "limit=%31%30", "",
		"status=" + strings.Repeat("Q", 10000),
	} {
		f.Add(s)
	}
	allowed := []string{"limit", "cursor", "status"}
	f.Fuzz(func(t *testing.T, raw string) {
		r := httptest.NewRequest(http.MethodGet, "/orch/runs", nil)
		r.URL.RawQuery = raw
		q, err := Query(r, allowed...)
		if err != nil {
			e, ok := apperr.As(err)
			if !ok || e.Code != apperr.Invalid || len(e.Fields) == 0 {
				t.Fatalf("Query(%q) = %v", raw, err)
			}
			return
		}
		for name, vals := range q {
			if !strings.Contains("limit cursor status", name) || name == "" || len(vals) != 1 ||
				!utf8.ValidString(vals[0]) || strings.IndexByte(vals[0], 0) >= 0 {
				t.Fatalf("Query(%q) accepted %q=%q", raw, name, vals)
			}
		}
		p, err := ParsePage(r)
		if err != nil {
			if e, ok := apperr.As(err); !ok || e.Code != apperr.Invalid {
				t.Fatalf("ParsePage(%q) = %v", raw, err)
			}
			return
		}
		if p.Limit < 1 || p.Limit > MaxPageLimit {
			t.Fatalf("ParsePage(%q) limit %d", raw, p.Limit)
		}
	})
}

// FuzzTextProblems checks TextProblems against the RFC 8785
// canonicalizer on valid JSON: it finds a repeated member or text that is
// not Unicode exactly when canon refuses the document for one.
func FuzzTextProblems(f *testing.F) {
	for _, s := range []string{
		`{"a":"\ud800","b":[1,"ok",{"c\ud800":"x","d":"\u0000"}],"a":2}`, `{"a":{"x":1},"b":{"x":2}}`,
		`"\ud83d\ude00"`, `"\ude00\ud83d"`, `["\ud800\u0041"]`, "\"\xff\"", "{\"\xc0\xaf\":1}", `{"a":1,"a\u0000":2}`,
		`{"k":1,"\u006b":2}`, `[` + strings.Repeat(`{"a":[`, 100) + strings.Repeat(`]}`, 100) + `]`, `1e400`, `[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got := TextProblems(data, "/x", true)
		for _, p := range got {
			if !strings.HasPrefix(p.Pointer, "/x") {
				t.Fatalf("pointer %q without its base", p.Pointer)
			}
		}
		if !json.Valid(data) {
			return // TextProblems is for valid JSON only; it must not panic
		}
		_, err := canon.Options{AllowOutOfRange: true}.Canonicalize(data)
		refused := err != nil && (errors.Is(err, canon.ErrSyntax) || errors.Is(err, canon.ErrDuplicateKey))
		found := false
		for _, p := range got {
			if !strings.Contains(p.Detail, "NUL") {
				found = true
			}
		}
		if err != nil && errors.Is(err, canon.ErrTooDeep) {
			return
		}
		if refused != found {
			t.Fatalf("%q: canon %v, TextProblems %+v", data, err, got)
		}
	})
}

// FuzzRewritePlainError: the rewrite of net/http's own answers never
// panics, leaves other writes alone, and writes a well-formed response
// with a problem body.
func FuzzRewritePlainError(f *testing.F) {
	const h = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
	for _, s := range []string{
		"HTTP/1.1 431 Request Header Fields Too Large" + h + "431 Request Header Fields Too Large",
		"HTTP/1.1 400 Bad Request: missing required Host header" + h + "400 Bad Request: missing required Host header",
		"HTTP/1.1 501 Not Implemented" + h + "Unsupported transfer encoding",
		"HTTP/1.1 505 HTTP Version Not Supported: unsupported protocol version" + h + "505 HTTP Version Not Supported: unsupported protocol version",
		"HTTP/1.1 417 Expectation Failed\r\nConnection: close\r\nDate: Mon, 01 Jan 2026 00:00:00 GMT\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", "HTTP/1.1 400 Bad Request\r\nX-Request-Id: r\r\n\r\n", "HTTP/1.1 4", "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		out, ok := rewritePlainError(p)
		if !ok {
			return
		}
		res, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(out)), nil)
		if err != nil {
			t.Fatalf("rewrite of %q is not a response: %v", p, err)
		}
		var pb Problem
		if err := json.NewDecoder(res.Body).Decode(&pb); err != nil || pb.Status != res.StatusCode || res.Header.Get("Content-Type") != ProblemContentType {
			t.Fatalf("rewrite of %q: %d %+v %v", p, res.StatusCode, pb, err)
		}
		if !bytes.HasPrefix(p, []byte("HTTP/1.1 "+res.Status[:3])) {
			t.Fatalf("rewrite of %q changed the status to %s", p, res.Status)
		}
	})
}
