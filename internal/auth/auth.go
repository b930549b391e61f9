// Package auth is who may do what (SPEC §5 "Principals and roles"): the
// principals configured by IPRS_API_TOKENS, their roles, the constant-time
// lookup of a bearer token, and the principal a request carries in its
// context.
//
// # IPRS_API_TOKENS
//
// A comma-separated list of entries, each either
//
//	name:role[+role…]:token   a named principal with those roles
//	token                     a bare token: principal "default", every role
//
// Roles are read (every GET, the audit log included), write (snapshots,
// sets, runs, cancel, explains, webhooks, verify, DELETE of runs) and
// publish (POST /orch/runs/{id}/publish). A name is 1 to 64 characters of
// letters, digits and "._@-"; a token holds no whitespace, control
// character, comma or colon (a colon would make "name:roles:token"
// ambiguous). Two entries may share a name (a token being rotated) only with
// the same roles; two entries may not share a token. Parse names a bad entry
// by its position and, when it has one, its principal name, never by its
// token.
//
// Without any entry, authentication is off and every request is the
// principal "anonymous" with every role.
//
// # Tokens
//
// A Keyring compares the SHA-256 digest of the presented token with the
// digest of every configured token, each with crypto/subtle, with no early
// exit, so the time taken does not depend on whether or which token matched.
// A Principal never prints its token (String, GoString, LogValue), and
// nothing in IPRS logs or answers one.
package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
)

// Role is a permission a route requires.
type Role string

// The roles of SPEC §5.
const (
	Read    Role = "read"
	Write   Role = "write"
	Publish Role = "publish"
)

// Roles returns every role, in a fixed order.
func Roles() []Role { return []Role{Read, Write, Publish} }

// ParseRole reads one role name.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles() {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("unknown role %q (roles are read, write, publish)", s)
}

// Principal names.
const (
	// DefaultName is the principal of a bare token.
	DefaultName = "default"
	// AnonymousName is the principal of every request when no token is
	// configured (authentication off).
	AnonymousName = "anonymous"
)

// Principal is a configured caller: a name, its roles and its token.
type Principal struct {
	name  string
	roles []Role // sorted as Roles() lists them, no repeats
	token string
}

// New returns a principal. It does not validate; Parse does.
func New(name, token string, roles ...Role) Principal {
	return Principal{name: name, roles: normalize(roles), token: token}
}

// Anonymous is the principal of every request when authentication is off:
// every role.
func Anonymous() Principal { return Principal{name: AnonymousName, roles: Roles()} }

func normalize(roles []Role) []Role {
	var out []Role
	for _, r := range Roles() {
		if slices.Contains(roles, r) {
			out = append(out, r)
		}
	}
	return out
}

// Name is the principal's name, as audit rows and access logs record it.
func (p Principal) Name() string { return p.name }

// Roles returns the principal's roles in the order Roles lists them.
func (p Principal) Roles() []Role { return slices.Clone(p.roles) }

// Has reports whether the principal holds the role.
func (p Principal) Has(r Role) bool { return slices.Contains(p.roles, r) }

// Token is the principal's bearer token, for a client that must present it
// (iprs dev loading its demo). Never log it.
func (p Principal) Token() string { return p.token }

// RoleList is the roles joined by "+", as in IPRS_API_TOKENS ("read+write").
func (p Principal) RoleList() string {
	parts := make([]string, len(p.roles))
	for i, r := range p.roles {
		parts[i] = string(r)
	}
	return strings.Join(parts, "+")
}

// String is "name(roles)", without the token.
func (p Principal) String() string { return p.name + "(" + p.RoleList() + ")" }

// GoString keeps %#v from printing the token.
func (p Principal) GoString() string {
	return fmt.Sprintf("auth.Principal{name: %q, roles: %q, token: <redacted>}", p.name, p.RoleList())
}

// LogValue logs the name and roles only.
func (p Principal) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", p.name), slog.String("roles", p.RoleList()))
}

// maxNameLen bounds a principal name.
const maxNameLen = 64

// Parse reads IPRS_API_TOKENS (see the package documentation). It reports
// every bad entry at once; no message holds a token.
func Parse(s string) ([]Principal, error) {
	var (
		out  []Principal
		errs []error
	)
	byName := map[string]int{}  // name → index in out
	byToken := map[string]int{} // token → index in out
	n := 0
	for raw := range strings.SplitSeq(s, ",") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		n++
		p, err := parseEntry(raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("entry %d%s: %w", n, nameHint(raw), err))
			continue
		}
		if i, dup := byToken[p.token]; dup {
			errs = append(errs, fmt.Errorf("entry %d (principal %q) has the same token as principal %q: every token names one principal", n, p.name, out[i].name))
			continue
		}
		if i, seen := byName[p.name]; seen && !slices.Equal(out[i].roles, p.roles) {
			errs = append(errs, fmt.Errorf("entry %d: principal %q is listed again with other roles (%s, before %s): give a principal the same roles in every entry",
				n, p.name, p.RoleList(), out[i].RoleList()))
			continue
		}
		byToken[p.token] = len(out)
		if _, seen := byName[p.name]; !seen {
			byName[p.name] = len(out)
		}
		out = append(out, p)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// nameHint names the principal of a bad entry of the name:roles:token
// shape, so that the message points at it without the token. Other shapes
// are named by position only: their text may be all token.
func nameHint(raw string) string {
	parts := strings.Split(raw, ":")
	if len(parts) != 3 || !validName(parts[0]) {
		return ""
	}
	return fmt.Sprintf(" (principal %q)", parts[0])
}

func parseEntry(raw string) (Principal, error) {
	parts := strings.Split(raw, ":")
	switch len(parts) {
	case 1:
		if err := checkToken(parts[0]); err != nil {
			return Principal{}, err
		}
		return New(DefaultName, parts[0], Roles()...), nil
	case 3:
	default:
		return Principal{}, fmt.Errorf("has %d colons: an entry is name:role[+role…]:token, or a bare token without colons", len(parts)-1)
	}
	name, roleList, token := parts[0], parts[1], parts[2]
	if !validName(name) {
		return Principal{}, fmt.Errorf("the principal name must be 1 to %d characters of letters, digits and ._@-", maxNameLen)
	}
	if roleList == "" {
		return Principal{}, errors.New("names no role (roles are read, write, publish, joined by +)")
	}
	var roles []Role
	for r := range strings.SplitSeq(roleList, "+") {
		role, err := ParseRole(r)
		if err != nil {
			return Principal{}, err
		}
		roles = append(roles, role)
	}
	if err := checkToken(token); err != nil {
		return Principal{}, err
	}
	return New(name, token, roles...), nil
}

func checkToken(t string) error {
	switch {
	case t == "":
		return errors.New("has an empty token")
	case strings.ContainsFunc(t, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return errors.New("the token holds whitespace or a control character")
	}
	return nil
}

func validName(s string) bool {
	if s == "" || len(s) > maxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.' || c == '_' || c == '@' || c == '-':
		default:
			return false
		}
	}
	return true
}

// Keyring finds the principal of a bearer token.
type Keyring struct {
	principals []Principal
	digests    [][sha256.Size]byte
}

// NewKeyring holds the principals' token digests.
func NewKeyring(principals []Principal) *Keyring {
	k := &Keyring{principals: slices.Clone(principals), digests: make([][sha256.Size]byte, len(principals))}
	for i, p := range principals {
		k.digests[i] = sha256.Sum256([]byte(p.token))
	}
	return k
}

// Len is the number of configured tokens; 0 means authentication is off.
func (k *Keyring) Len() int { return len(k.principals) }

// Lookup returns the principal whose token is token. It compares the
// token's digest with every configured digest in constant time and visits
// all of them whatever matched, so its time depends on neither whether nor
// which token matched.
func (k *Keyring) Lookup(token string) (Principal, bool) {
	got := sha256.Sum256([]byte(token))
	found := -1
	for i := range k.digests {
		eq := subtle.ConstantTimeCompare(got[:], k.digests[i][:])
		found = subtle.ConstantTimeSelect(eq, i, found)
	}
	if found < 0 {
		return Principal{}, false
	}
	return k.principals[found], true
}

type ctxKey struct{}

// WithPrincipal returns ctx carrying the principal of a request.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the principal of the request ctx belongs to.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(Principal)
	return p, ok
}

// NameOf is the name of the request's principal, "" outside of a request
// that passed authentication.
func NameOf(ctx context.Context) string {
	p, _ := FromContext(ctx)
	return p.name
}
