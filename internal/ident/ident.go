// Package ident is the rule for the ids clients choose for what they store
// and later address in URL paths: runs, position snapshots, model sets.
// An id is 1 to MaxLen characters of ASCII letters, digits and "-_.:", so
// that it sits in a path unescaped ("/" and anything needing escapes are
// refused) and compares byte for byte in every database.
//
// The package imports nothing of IPRS, so that the pure pricing engine and
// the services can share it.
package ident

// MaxLen bounds an id, in bytes (every allowed character is one byte).
const MaxLen = 128

// Rule says what Valid requires, to follow an id's name in a problem's
// detail: `run_id "a/b" must be 1 to 128 characters of …`.
const Rule = "must be 1 to 128 characters of letters, digits and -_.:"

// Valid reports whether id follows the rule.
func Valid(id string) bool {
	if id == "" || len(id) > MaxLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-' || c == '_' || c == '.' || c == ':':
		default:
			return false
		}
	}
	return true
}
