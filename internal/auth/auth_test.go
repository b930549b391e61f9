package auth_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/iprs/iprs/internal/auth"
)

func TestParseEntries(t *testing.T) {
	t.Parallel()
	ps, err := auth.Parse("reader:read:tok-r, writer:write+read:tok-w ,,pub:publish:tok-p,bare-token")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := []struct {
		name, token string
		roles       []auth.Role
	}{
		{"reader", "tok-r", []auth.Role{auth.Read}},
		{"writer", "tok-w", []auth.Role{auth.Read, auth.Write}},
		{"pub", "tok-p", []auth.Role{auth.Publish}},
		{"default", "bare-token", []auth.Role{auth.Read, auth.Write, auth.Publish}},
	}
	if len(ps) != len(want) {
		t.Fatalf("Parse = %v, want %d principals", ps, len(want))
	}
	for i, w := range want {
		p := ps[i]
		if p.Name() != w.name || p.Token() != w.token || fmt.Sprint(p.Roles()) != fmt.Sprint(w.roles) {
			t.Errorf("principal %d = %v token %q, want %s %v token %q", i, p, p.Token(), w.name, w.roles, w.token)
		}
		for _, r := range auth.Roles() {
			has := strings.Contains(fmt.Sprint(w.roles), string(r))
			if p.Has(r) != has {
				t.Errorf("%s.Has(%s) = %v, want %v", p.Name(), r, p.Has(r), has)
			}
		}
	}
	if ps, err := auth.Parse(" , "); err != nil || len(ps) != 0 {
		t.Errorf("Parse(blank) = %v, %v; want none", ps, err)
	}
}

func TestPrincipalNeverPrintsItsToken(t *testing.T) {
	t.Parallel()
	p := auth.New("alice", "very-secret-token", auth.Write, auth.Read)
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "principal", p)
	for _, out := range []string{fmt.Sprint(p), fmt.Sprintf("%v %+v %#v %s", p, p, p, p), buf.String()} {
		if strings.Contains(out, "very-secret-token") {
			t.Errorf("printed principal leaks its token: %s", out)
		}
		if !strings.Contains(out, "alice") {
			t.Errorf("printed principal lacks its name: %s", out)
		}
	}
	if got := p.String(); got != "alice(read+write)" {
		t.Errorf("String() = %q", got)
	}
}

func TestKeyringLookup(t *testing.T) {
	t.Parallel()
	ps := []auth.Principal{
		auth.New("a", "token-a", auth.Read),
		auth.New("b", "token-b", auth.Write),
		auth.New("c", "token-c", auth.Publish),
	}
	k := auth.NewKeyring(ps)
	if k.Len() != 3 {
		t.Errorf("Len = %d", k.Len())
	}
	for _, p := range ps {
		got, ok := k.Lookup(p.Token())
		if !ok || got.Name() != p.Name() {
			t.Errorf("Lookup(%s's token) = %v, %v", p.Name(), got, ok)
		}
	}
	for _, bad := range []string{"", "token-", "token-a ", "TOKEN-A", "token-ab", "token-d"} {
		if got, ok := k.Lookup(bad); ok {
			t.Errorf("Lookup(%q) = %v, want no principal", bad, got)
		}
	}
	if _, ok := auth.NewKeyring(nil).Lookup(""); ok {
		t.Error("an empty keyring matched the empty token")
	}
}

func TestContext(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if _, ok := auth.FromContext(ctx); ok || auth.NameOf(ctx) != "" {
		t.Error("a bare context carries a principal")
	}
	ctx = auth.WithPrincipal(ctx, auth.New("bob", "t", auth.Read))
	if p, ok := auth.FromContext(ctx); !ok || p.Name() != "bob" || auth.NameOf(ctx) != "bob" {
		t.Errorf("FromContext = %v, %v", p, ok)
	}
	if a := auth.Anonymous(); a.Name() != "anonymous" || !a.Has(auth.Read) || !a.Has(auth.Write) || !a.Has(auth.Publish) {
		t.Errorf("Anonymous() = %v, want every role", a)
	}
}
