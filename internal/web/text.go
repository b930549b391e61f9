package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/iprs/iprs/internal/apperr"
)

// Details of the text problems. A string and a member name get the same
// ones, prefixed by what holds them.
const (
	detailNUL = "must not contain the NUL character (U+0000)"
	detailDup = "appears more than once in this object"
)

// StringProblem says what is wrong with the JSON string literal lit (its
// quotes included; otherwise valid JSON) as text IPRS can store, or ""
// when nothing is: it must hold no NUL (U+0000), which PostgreSQL text
// cannot store, only valid UTF-8, and no unpaired surrogate escape
// ("\ud800" names half of a UTF-16 pair, not a character). encoding/json
// would decode the last two as U+FFFD, silently storing another name than
// the one sent; they are refused on every store alike. The detail reads
// after the name of the value: "position_id " + StringProblem(lit).
func StringProblem(lit []byte) string {
	if len(lit) >= 2 && lit[0] == '"' && lit[len(lit)-1] == '"' {
		lit = lit[1 : len(lit)-1]
	}
	nul := false // reported last: text that is not Unicode says more
	for i := 0; i < len(lit); {
		c := lit[i]
		switch {
		case c == '\\':
			if i+1 >= len(lit) {
				return "ends inside an escape"
			}
			if lit[i+1] != 'u' {
				i += 2
				continue
			}
			r, ok := hex4(lit, i+2)
			if !ok {
				return "holds a malformed \\u escape"
			}
			i += 6
			switch {
			case r == 0:
				nul = true
			case utf16.IsSurrogate(r) && r < 0xdc00:
				lo, ok := rune(0), false
				if i+1 < len(lit) && lit[i] == '\\' && lit[i+1] == 'u' {
					lo, ok = hex4(lit, i+2)
				}
				if !ok || lo < 0xdc00 || lo > 0xdfff {
					return fmt.Sprintf("holds an unpaired surrogate escape \\u%04x (half of a UTF-16 pair, not a Unicode character)", r)
				}
				i += 6
			case utf16.IsSurrogate(r):
				return fmt.Sprintf("holds an unpaired surrogate escape \\u%04x (half of a UTF-16 pair, not a Unicode character)", r)
			}
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(lit[i:])
			if r == utf8.RuneError && size <= 1 {
				return fmt.Sprintf("is not valid UTF-8 (byte 0x%02x at byte %d of the string)", c, i)
			}
			i += size
		}
	}
	if nul {
		return detailNUL
	}
	return ""
}

// hex4 reads the four hex digits of a \u escape at b[i:].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// TextProblems points at every string value and member name of the valid
// JSON in data that StringProblem refuses, and, with dups, at every member
// name repeated within its object (encoding/json keeps the last value
// silently, so {"run_id":"A","run_id":"B"} would make run B). Pointers
// are prefixed by base; at most 100 problems are listed. UnmarshalStrict
// calls it with dups; streaming decoders call it on the parts they keep as
// they are.
func TextProblems(data []byte, base string, dups bool) []apperr.FieldError {
	t := &textScan{data: data, dups: dups}
	t.value(base, 0)
	return t.out
}

// NULProblems points at the strings and member names holding U+0000 in
// canonical JSON (RFC 8785, as canon writes it: valid UTF-8, no unpaired
// surrogate, NUL written \u0000), prefixed by base. It looks no further
// when data holds no such escape, so it costs one byte search.
func NULProblems(data []byte, base string) []apperr.FieldError {
	if !bytes.Contains(data, []byte(`\u0000`)) {
		return nil
	}
	return TextProblems(data, base, false)
}

// textScan walks a document already known to be valid JSON; on anything
// else it ends without fault (every step moves forward).
type textScan struct {
	data []byte
	pos  int
	dups bool
	out  []apperr.FieldError
}

func (t *textScan) add(ptr, detail string) {
	if len(t.out) < maxLocatedProblems {
		t.out = append(t.out, apperr.FieldError{Pointer: ptr, Detail: detail})
	}
}

func (t *textScan) space() {
	for t.pos < len(t.data) {
		switch t.data[t.pos] {
		case ' ', '\t', '\r', '\n':
			t.pos++
		default:
			return
		}
	}
}

// str returns the literal of the string at t.pos and moves past it.
func (t *textScan) str() []byte {
	start := t.pos
	t.pos++
	for t.pos < len(t.data) && t.data[t.pos] != '"' {
		if t.data[t.pos] == '\\' {
			t.pos++
		}
		t.pos++
	}
	t.pos = min(t.pos+1, len(t.data))
	return t.data[start:t.pos]
}

// value walks the value at t.pos, whose pointer is ptr. Depth is bounded
// by encoding/json's own limit, which accepted the document first.
func (t *textScan) value(ptr string, depth int) {
	t.space()
	if t.pos >= len(t.data) || depth > 10000 {
		t.pos = len(t.data)
		return
	}
	switch t.data[t.pos] {
	case '"':
		if p := StringProblem(t.str()); p != "" {
			t.add(ptr, "a string "+p)
		}
	case '{':
		t.pos++
		var seen map[string]struct{}
		for {
			t.space()
			if t.pos >= len(t.data) {
				return
			}
			switch t.data[t.pos] {
			case '}':
				t.pos++
				return
			case ',':
				t.pos++
				continue
			}
			lit := t.str()
			name := memberName(lit)
			kptr := ptr + "/" + EscapePointerToken(name)
			if p := StringProblem(lit); p != "" {
				t.add(kptr, "a member name "+p)
			}
			if t.dups {
				if seen == nil {
					seen = make(map[string]struct{}, 8)
				}
				if _, dup := seen[name]; dup {
					t.add(kptr, fmt.Sprintf("member %s %s", strconv.Quote(name), detailDup))
				}
				seen[name] = struct{}{}
			}
			t.space()
			t.pos++ // the colon
			at := t.pos
			t.value(kptr, depth+1)
			if t.pos == at {
				t.pos++ // not JSON: step over what no value starts with
			}
		}
	case '[':
		t.pos++
		for i := 0; ; {
			t.space()
			if t.pos >= len(t.data) {
				return
			}
			switch t.data[t.pos] {
			case ']':
				t.pos++
				return
			case ',':
				t.pos++
				continue
			}
			at := t.pos
			t.value(ptr+"/"+strconv.Itoa(i), depth+1)
			if t.pos == at {
				t.pos++ // not JSON: step over what no value starts with
			}
			i++
		}
	default:
		for t.pos < len(t.data) {
			switch t.data[t.pos] {
			case ',', '}', ']', ' ', '\t', '\r', '\n':
				return
			}
			t.pos++
		}
	}
}

// memberName decodes a member name literal; a plain one without copying
// more than the name.
func memberName(lit []byte) string {
	body := lit
	if len(body) >= 2 {
		body = body[1 : len(body)-1]
	}
	plain := true
	for _, c := range body {
		if c == '\\' || c >= utf8.RuneSelf {
			plain = false
			break
		}
	}
	if plain {
		return string(body)
	}
	var s string
	if json.Unmarshal(lit, &s) != nil {
		return string(body)
	}
	return s
}
