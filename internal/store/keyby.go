package store

import "strings"

// AttrKey returns NAME when keyBy is "attr:NAME" with a NAME that
// ValidAttrName accepts.
func AttrKey(keyBy string) (name string, ok bool) {
	name, ok = strings.CutPrefix(keyBy, "attr:")
	if !ok || !ValidAttrName(name) {
		return "", false
	}
	return name, true
}

// ValidAttrName reports whether name can be asked for as a top-level
// position attribute (ResultScanParams.Attrs): it matches
// [A-Za-z_][A-Za-z0-9_]*, so that drivers can put it in a JSON path.
func ValidAttrName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		letter := c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}
