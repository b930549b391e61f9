package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/iprs/iprs/internal/auth"
	"github.com/iprs/iprs/internal/client"
	"github.com/iprs/iprs/internal/config"
	"github.com/iprs/iprs/internal/service"
	"github.com/iprs/iprs/internal/web"
)

// specRole is the role SPEC §5 gives a route: read for every GET, publish
// for publishing a run, write for every other change.
func specRole(pattern string) auth.Role {
	method, path, _ := strings.Cut(pattern, " ")
	switch {
	case method == http.MethodGet:
		return auth.Read
	case method == http.MethodPost && path == "/orch/runs/{id}/publish":
		return auth.Publish
	}
	return auth.Write
}

// routeTables builds every mux the binary serves on one store: the three
// API services and the worker's (which iprs dev also serves at the root).
func routeTables(t *testing.T, tokens string) map[string]*web.Mux {
	t.Helper()
	cfg, err := config.Load(func(k string) string {
		if k == config.EnvAPITokens {
			return tokens
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	db := config.Database{Driver: config.DriverSQLite, Path: filepath.Join(t.TempDir(), "iprs.db")}
	st, err := openStore(context.Background(), db, cfg, true, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	p := &platform{st: st, cfg: cfg, logger: slog.New(slog.DiscardHandler), version: "test"}
	out := map[string]*web.Mux{}
	for _, spec := range service.All() {
		if spec.Prefix == "" {
			continue
		}
		m, err := p.mux(spec)
		if err != nil {
			t.Fatal(err)
		}
		out[string(spec.Name)] = m
	}
	out["worker (and the iprs dev root)"], _ = p.rootMux()
	return out
}

// TestEveryRouteHasItsRole walks the route table of every service: each
// route but health needs a role, and it is the one SPEC §5 gives it.
func TestEveryRouteHasItsRole(t *testing.T) {
	t.Parallel()
	publishRoutes := 0
	for name, m := range routeTables(t, "") {
		routes := m.Routes()
		if len(routes) < 3 {
			t.Errorf("%s: only %d routes", name, len(routes))
		}
		for _, rt := range routes {
			if rt.Public {
				// Health, and what holds no data: the dashboard's files, the
				// API description and the redirect of /.
				if !strings.HasSuffix(rt.Pattern, "/health") && !slices.Contains([]string{"GET /ui/", "GET /openapi.json", "GET /{$}"}, rt.Pattern) {
					t.Errorf("%s: %s needs no token, but only health and the public pages may", name, rt.Pattern)
				}
				continue
			}
			if rt.Role == "" || rt.Role != specRole(rt.Pattern) {
				t.Errorf("%s: %s needs role %q, want %q", name, rt.Pattern, rt.Role, specRole(rt.Pattern))
			}
			if rt.Role == auth.Publish {
				publishRoutes++
			}
		}
	}
	if publishRoutes != 1 {
		t.Errorf("%d routes need the publish role, want 1 (POST /orch/runs/{id}/publish)", publishRoutes)
	}
}

// pathParam matches the wildcards of a ServeMux pattern.
var pathParam = regexp.MustCompile(`\{[^}]*\}`)

// TestRolesOverHTTP sends, for every route of every service, a request
// without a token (401), and one as a principal holding each single role:
// the route's role gets past authorization, any other is a 403 problem
// naming the role needed and never the token.
func TestRolesOverHTTP(t *testing.T) {
	t.Parallel()
	tokens := map[auth.Role]string{auth.Read: "tok-only-read", auth.Write: "tok-only-write", auth.Publish: "tok-only-publish"}
	muxes := routeTables(t, "r:read:tok-only-read,w:write:tok-only-write,p:publish:tok-only-publish")
	checked := 0
	for name, m := range muxes {
		h := m.Handler()
		for _, rt := range m.Routes() {
			method, pattern, _ := strings.Cut(rt.Pattern, " ")
			path := pathParam.ReplaceAllStringFunc(pattern, func(w string) string {
				if w == "{$}" {
					return ""
				}
				return "x"
			})
			send := func(token string) *http.Response {
				req := httptest.NewRequest(method, path, nil)
				if token != "" {
					req.Header.Set("Authorization", "Bearer "+token)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				return rec.Result()
			}
			if rt.Public {
				if res := send(""); res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden {
					t.Errorf("%s: %s without a token: %d", name, rt.Pattern, res.StatusCode)
				}
				continue
			}
			checked++
			if res := send(""); res.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s: %s without a token: %d, want 401", name, rt.Pattern, res.StatusCode)
			}
			if res := send("tok-nobody"); res.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s: %s with an unknown token: %d, want 401", name, rt.Pattern, res.StatusCode)
			}
			for role, token := range tokens {
				res := send(token)
				body, _ := io.ReadAll(res.Body)
				if role == specRole(rt.Pattern) {
					if res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden {
						t.Errorf("%s: %s as the %s role: %d %s", name, rt.Pattern, role, res.StatusCode, body)
					}
					continue
				}
				var p struct {
					Type   string `json:"type"`
					Detail string `json:"detail"`
				}
				if res.StatusCode != http.StatusForbidden || json.Unmarshal(body, &p) != nil {
					t.Errorf("%s: %s as the %s role: %d %s, want 403", name, rt.Pattern, role, res.StatusCode, body)
					continue
				}
				if ct := res.Header.Get("Content-Type"); ct != web.ProblemContentType || p.Type != web.ProblemTypeBase+"forbidden" ||
					!strings.Contains(p.Detail, `needs the role "`+string(specRole(rt.Pattern))+`"`) || strings.Contains(string(body), "tok-") {
					t.Errorf("%s: %s as the %s role: %s %s, want a forbidden problem naming the role %s and no token",
						name, rt.Pattern, role, ct, body, specRole(rt.Pattern))
				}
			}
		}
	}
	if checked < 20 {
		t.Errorf("only %d routes checked", checked)
	}
}

// TestDevPrincipalsFourEyesAndAudit runs iprs dev with named principals
// and four-eyes publishing: the submitter cannot publish its run, another
// principal can, and the audit log names who did what.
func TestDevPrincipalsFourEyesAndAudit(t *testing.T) {
	t.Parallel()
	db := config.Database{Driver: config.DriverSQLite, Path: filepath.Join(t.TempDir(), "iprs.db")}
	d := MustStartDev(t, db, map[string]string{
		"IPRS_API_TOKENS": "alice:read+write+publish:tok-alice,bob:read+publish:tok-bob",
		"IPRS_FOUR_EYES":  "true",
	})
	ctx := t.Context()
	alice, bob := client.New(d.URL, "tok-alice", nil), client.New(d.URL, "tok-bob", nil)
	runID, err := loadDemo(ctx, alice, demoOptions{Loans: 30}, io.Discard)
	if err != nil {
		t.Fatalf("load the demo as alice: %v", err)
	}
	if _, err := alice.PublishRun(ctx, runID); client.StatusOf(err) != http.StatusForbidden {
		t.Fatalf("alice publishing her own run: %v, want 403", err)
	}
	if _, _, err := bob.SubmitRun(ctx, map[string]any{}); client.StatusOf(err) != http.StatusForbidden {
		t.Fatalf("bob submitting a run: %v, want 403 (no write role)", err)
	}
	run, err := bob.PublishRun(ctx, runID)
	if err != nil || run.Status != "PUBLISHED" {
		t.Fatalf("bob publishing: %+v, %v", run, err)
	}
	var raw struct {
		Items []map[string]string `json:"items"`
	}
	if _, err := bob.Do(ctx, http.MethodGet, "/orch/audit?object_id="+runID, nil, "", &raw); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range raw.Items {
		got = append(got, it["principal"]+" "+it["action"])
	}
	if want := "bob run.publish|alice run.create"; strings.Join(got, "|") != want {
		t.Errorf("audit of %s = %v, want %s", runID, got, want)
	}
}
