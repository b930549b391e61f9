package agg

import "encoding/json"

// AttrKeyBy is the grouping of the attribute name: "attr:NAME".
func AttrKeyBy(name string) string { return "attr:" + name }

// MaxTaskAttrGroups bounds the groups of a task's partial by an attribute:
// a task whose positions have more values of the attribute stores its
// partial as too wide (an empty payload) rather than keep them all, and the
// results service scans the run for that grouping instead.
const MaxTaskAttrGroups = 4096

// AttrKey is the group key of an attribute's JSON text (SPEC §4.6): a
// string's value, the text of any other value, NA when absent (nil) or
// null. The results service's scans and the tasks' partials key by it, so
// both give the same groups.
func AttrKey(raw []byte) string {
	if raw == nil || string(raw) == "null" {
		return NA
	}
	if s, ok := JSONString(raw); ok {
		return s
	}
	return string(raw)
}

// JSONString returns the value of a JSON string's text.
func JSONString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	if body := raw[1 : len(raw)-1]; raw[len(raw)-1] == '"' && plainJSONString(body) {
		return string(body), true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// plainJSONString reports whether b, the text between a JSON string's
// quotes, is its value as it stands: printable ASCII without escapes or
// quotes (anything else takes the full decoder).
func plainJSONString(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c >= 0x80 || c == '\\' || c == '"' {
			return false
		}
	}
	return true
}
