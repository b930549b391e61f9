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

// checkPositionMembers records a problem for each unknown or repeated
// member of the position object raw (valid JSON, as the decoder returned
// it) at index i.
func (u *upload) checkPositionMembers(i int, raw []byte) {
	var seen [8]string
	n := 0
	eachMember(raw, func(key string) {
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
	})
}

// eachMember calls fn with the name of each top-level member of the JSON
// object raw, in order, without decoding the values. raw must be valid
// JSON; anything but an object calls fn never.
func eachMember(raw []byte, fn func(key string)) {
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
			if depth == 1 && expectKey {
				key := internName(raw[i+1 : end-1])
				if esc {
					var s string
					if json.Unmarshal(raw[i:end], &s) == nil {
						key = s
					}
				}
				fn(key)
				expectKey = false
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
