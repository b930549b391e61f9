package web

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/iprs/iprs/internal/apperr"
)

const (
	// DefaultPageLimit is the page size when a request gives no limit.
	DefaultPageLimit = 100
	// MaxPageLimit is the largest page a request may ask for.
	MaxPageLimit = 1000
	// maxCursorLen bounds an incoming cursor.
	maxCursorLen = 4096
)

// Page is the page a list request asks for.
type Page struct {
	// Limit is the page size, 1 to MaxPageLimit.
	Limit int
	// Cursor is the opaque position after which the page starts; "" for
	// the first page. Decode it with DecodeCursor.
	Cursor string
}

// ParsePage reads the limit and cursor query parameters. An absent or empty
// limit is DefaultPageLimit; anything but an integer from 1 to MaxPageLimit
// is apperr.Invalid naming the parameter "limit". A cursor that is not one
// EncodeCursor made is apperr.Invalid naming "cursor".
func ParsePage(r *http.Request) (Page, error) {
	q := r.URL.Query()
	p := Page{Limit: DefaultPageLimit, Cursor: q.Get("cursor")}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxPageLimit {
			return Page{}, ParamError("limit", fmt.Sprintf("must be an integer from 1 to %d", MaxPageLimit))
		}
		p.Limit = n
	}
	if p.Cursor != "" {
		if _, err := decodeCursor(p.Cursor); err != nil {
			return Page{}, err
		}
	}
	return p, nil
}

// ParamError is an apperr.Invalid for one query or path parameter.
func ParamError(name, detail string) *apperr.Error {
	return apperr.WithFields(apperr.Invalid, fmt.Sprintf("invalid query parameter %q", name),
		[]apperr.FieldError{{Parameter: name, Detail: detail}})
}

// EncodeCursor packs the values that locate the last item of a page (the
// sort key and a tie-breaking id, say) into an opaque, URL-safe cursor:
// unpadded base64url of a JSON array of strings.
func EncodeCursor(values ...string) string {
	if values == nil {
		values = []string{}
	}
	b, err := json.Marshal(values)
	if err != nil {
		// A []string always marshals.
		panic(fmt.Sprintf("web: encode cursor: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor unpacks a cursor made by EncodeCursor with n values. A
// cursor that is malformed or holds another number of values is
// apperr.Invalid naming the parameter "cursor".
func DecodeCursor(s string, n int) ([]string, error) {
	vals, err := decodeCursor(s)
	if err != nil {
		return nil, err
	}
	if len(vals) != n {
		return nil, ParamError("cursor", "is not a cursor this list gave out")
	}
	return vals, nil
}

func decodeCursor(s string) ([]string, error) {
	bad := ParamError("cursor", "is not a cursor this list gave out")
	if len(s) > maxCursorLen {
		return nil, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		bad.Err = err
		return nil, bad
	}
	var vals []string
	if err := json.Unmarshal(b, &vals); err != nil || vals == nil {
		bad.Err = err
		return nil, bad
	}
	for _, v := range vals {
		// No list gives out a NUL (no stored name holds one).
		if strings.IndexByte(v, 0) >= 0 {
			return nil, bad
		}
	}
	return vals, nil
}

// List is the shape of every list answer:
// {"items": [...], "next_cursor": "..." | null}. Items render as [] when
// empty, never null; NextCursor is nil (null) on the last page.
type List[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// MarshalJSON renders nil Items as [].
func (l List[T]) MarshalJSON() ([]byte, error) {
	type plain List[T]
	if l.Items == nil {
		l.Items = []T{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // as MarshalJSON: an item's "<" stays "<"
	if err := enc.Encode(plain(l)); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// NewList returns a list page; next == "" marks the last page.
func NewList[T any](items []T, next string) List[T] {
	l := List[T]{Items: items}
	if next != "" {
		l.NextCursor = &next
	}
	return l
}

// PageOf builds a page from up to limit+1 items fetched in list order
// (fetching one more than the page is how a store tells whether another page
// follows): with more than limit items it keeps the first limit and sets
// the next cursor from the last kept item's cursorValues; otherwise it is
// the last page.
func PageOf[T any](items []T, limit int, cursorValues func(T) []string) List[T] {
	if limit < 0 {
		limit = 0
	}
	if len(items) <= limit {
		return NewList(items, "")
	}
	items = items[:limit]
	if limit == 0 {
		return NewList(items, "")
	}
	return NewList(items, EncodeCursor(cursorValues(items[limit-1])...))
}
