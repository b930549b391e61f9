package store

import "strings"

// AttrKey returns NAME when keyBy is "attr:NAME" with a NAME that
// ResultScanParams.KeyBy accepts: a top-level attribute name matching
// [A-Za-z_][A-Za-z0-9_]*.
func AttrKey(keyBy string) (name string, ok bool) {
	name, ok = strings.CutPrefix(keyBy, "attr:")
	if !ok || name == "" {
		return "", false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		letter := c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
		if !letter && (i == 0 || c < '0' || c > '9') {
			return "", false
		}
	}
	return name, true
}
