package web

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/iprs/iprs/internal/apperr"
)

// Query reads a request's query parameters strictly: a query that is not
// well formed (a bad %-escape, say), a parameter not in allowed, one given
// more than once, and a value holding NUL or bytes that are not UTF-8 are
// each refused, all in one apperr.Invalid whose field problems name the
// parameter (SPEC: an unknown query parameter is a 400 naming it). The
// problems list the parameters in name order. url.Values.Get would take
// the first of two values silently, and Request.URL.Query drops a
// malformed pair.
func Query(r *http.Request, allowed ...string) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, &apperr.Error{Code: apperr.Invalid, Message: "the query string is malformed",
			Fields: []apperr.FieldError{{Parameter: "", Detail: "the query string is not well formed: " + strings.TrimPrefix(err.Error(), "invalid URL escape ")}}, Err: err}
	}
	var fields []apperr.FieldError
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		vals := q[name]
		switch {
		case !slices.Contains(allowed, name):
			detail := "unknown query parameter"
			if len(allowed) > 0 {
				detail += " (this route takes " + strings.Join(allowed, ", ") + ")"
			} else {
				detail += " (this route takes none)"
			}
			if !utf8.ValidString(name) || strings.IndexByte(name, 0) >= 0 {
				name = fmt.Sprintf("%q", name)
			}
			fields = append(fields, apperr.FieldError{Parameter: name, Detail: detail})
		case len(vals) > 1:
			fields = append(fields, apperr.FieldError{Parameter: name, Detail: fmt.Sprintf("given %d times; give it once", len(vals))})
		case strings.IndexByte(vals[0], 0) >= 0:
			fields = append(fields, apperr.FieldError{Parameter: name, Detail: "must not contain the NUL character (U+0000)"})
		case !utf8.ValidString(vals[0]):
			fields = append(fields, apperr.FieldError{Parameter: name, Detail: "is not valid UTF-8"})
		}
	}
	if len(fields) > 0 {
		msg := fmt.Sprintf("invalid query parameter %q", fields[0].Parameter)
		if len(fields) > 1 {
			msg = fmt.Sprintf("%d query parameters are invalid", len(fields))
		}
		return nil, apperr.WithFields(apperr.Invalid, msg, fields)
	}
	return q, nil
}
