package orchestrator

import (
	"encoding/json"
	"strconv"

	"github.com/iprs/iprs/internal/web"
)

// positionMembers are the members a position object may have. Anything
// else is refused: a misspelt "quantity" must not silently value a
// position at quantity 1. Free-form data goes in attributes.
var positionMembers = map[string]bool{
	"position_id":   true,
	"instrument_id": true,
	"product_type":  true,
	"quantity":      true,
	"attributes":    true,
}

// textMembers are the string members of a position whose text is stored
// as sent (or names a product type): they must be valid Unicode text.
var textMembers = [...]string{"position_id", "instrument_id", "product_type"}

// badText flags, by their index in textMembers, the members whose text
// was refused.
type badText uint8

func (b badText) has(name string) bool {
	for k, m := range textMembers {
		if m == name {
			return b&(1<<k) != 0
		}
	}
	return false
}

// checkPositionMembers records a problem for each unknown or repeated
// member of the position object raw (valid JSON, as the decoder returned
// it) at index i, and for each of its textMembers that holds text a store
// cannot keep as sent (StringProblem); it returns the latter.
func (u *upload) checkPositionMembers(i int, raw []byte) badText {
	var seen [8]string
	var bad badText
	n := 0
	eachMember(raw, func(key string, lit []byte) {
		if !positionMembers[key] {
			u.probs.addf(web.Pointer("positions", strconv.Itoa(i), key),
				"unknown member %q of a position (a position has position_id, instrument_id, product_type, quantity, attributes; free-form data goes in attributes)", key)
			return
		}
		for _, k := range seen[:n] {
			if k == key {
				u.probs.addf(web.Pointer("positions", strconv.Itoa(i), key), "member %s appears more than once in the position", key)
				return
			}
		}
		if n < len(seen) {
			seen[n] = key
			n++
		}
		if lit == nil {
			return
		}
		for k, m := range textMembers {
			if m != key {
				continue
			}
			if p := web.StringProblem(lit); p != "" {
				u.probs.add(web.Pointer("positions", strconv.Itoa(i), key), key+" "+p)
				bad |= 1 << k
			}
		}
	})
	return bad
}

// eachMember calls fn with the name of each top-level member of the JSON
// object raw, in order, and, when the member's value is a string, its
// literal (quotes included; nil for any other value), without decoding
// the values. raw should be valid JSON (anything but an object calls fn
// never); on other input it stops where the JSON ends, without fault.
func eachMember(raw []byte, fn func(key string, lit []byte)) {
	i := 0
	skipSpace := func() {
		for i < len(raw) && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\n' || raw[i] == '\r') {
			i++
		}
	}
	// str returns the end (exclusive) of the string starting at raw[i] and
	// whether it has escapes.
	str := func() (int, bool) {
		esc := false
		for j := i + 1; j < len(raw); j++ {
			switch raw[j] {
			case '\\':
				esc = true
				j++
			case '"':
				return j + 1, esc
			}
		}
		return len(raw), esc
	}
	skipSpace()
	if i >= len(raw) || raw[i] != '{' {
		return
	}
	i++
	depth := 1
	expectKey := true
	for i < len(raw) && depth > 0 {
		c := raw[i]
		switch {
		case c == '"':
			end, esc := str()
			if end-1 <= i {
				return // an unterminated string: not JSON
			}
			if depth == 1 && expectKey {
				key := internName(raw[i+1 : end-1])
				if esc {
					var s string
					if json.Unmarshal(raw[i:end], &s) == nil {
						key = s
					}
				}
				expectKey = false
				// The value: a string is handed over whole.
				i = end
				skipSpace()
				if i < len(raw) && raw[i] == ':' {
					i++
				}
				skipSpace()
				if i < len(raw) && raw[i] == '"' {
					vend, _ := str()
					if vend-1 <= i {
						return
					}
					fn(key, raw[i:vend])
					i = vend
				} else {
					fn(key, nil)
				}
				continue
			}
			i = end
			continue
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
		case c == ',' && depth == 1:
			expectKey = true
		}
		i++
	}
}

// internName returns the member name b, without allocating for the names a
// position is expected to have.
func internName(b []byte) string {
	switch string(b) {
	case "position_id":
		return "position_id"
	case "instrument_id":
		return "instrument_id"
	case "product_type":
		return "product_type"
	case "quantity":
		return "quantity"
	case "attributes":
		return "attributes"
	}
	return string(b)
}
