package web_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/iprs/iprs/internal/auth"
	"github.com/iprs/iprs/internal/web"
)

// TestPublicRoutes: a public route needs no token and may lie outside the
// prefix, a subtree pattern exempts its whole subtree and nothing else,
// "/{$}" exempts only the root, and Routes lists every pattern.
func TestPublicRoutes(t *testing.T) {
	t.Parallel()
	m := web.NewMux(web.Config{Service: "results", Prefix: "/results", Principals: []auth.Principal{auth.New("analyst", "tok", auth.Read)}})
	m.HandleFunc("GET /results/runs/{id}/summary", func(w http.ResponseWriter, r *http.Request) error {
		return web.WriteJSON(w, http.StatusOK, map[string]string{"run_id": r.PathValue("id")})
	})
	text := func(body string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, body) })
	}
	m.Public("GET /ui/", text("ui"))
	m.Public("GET /openapi.json", text("doc"))
	m.Public("GET /{$}", http.RedirectHandler("/ui/", http.StatusFound))
	h := m.Handler()

	for path, want := range map[string]string{"/ui/": "ui", "/ui/app.js": "ui", "/ui/pages/run.js": "ui", "/openapi.json": "doc"} {
		res := serve(h, httptest.NewRequest("GET", path, nil))
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK || string(body) != want {
			t.Errorf("GET %s without a token: %d %q, want 200 %q", path, res.StatusCode, body, want)
		}
	}
	if res := serve(h, httptest.NewRequest("GET", "/", nil)); res.StatusCode != http.StatusFound || res.Header.Get("Location") != "/ui/" {
		t.Errorf("GET / without a token: %d to %q, want 302 to /ui/", res.StatusCode, res.Header.Get("Location"))
	}
	if res := serve(h, httptest.NewRequest("GET", "/ui", nil)); res.StatusCode != http.StatusTemporaryRedirect || res.Header.Get("Location") != "/ui/" {
		t.Errorf("GET /ui without a token: %d to %q, want 307 to /ui/", res.StatusCode, res.Header.Get("Location"))
	}
	// The exemptions are exactly those paths: the API, unknown paths and
	// a path that climbs out of the public subtree still need the token.
	for _, path := range []string{"/results/runs/R/summary", "/nothing", "/openapi.json/x", "/uix"} {
		MustProblem(t, serve(h, httptest.NewRequest("GET", path, nil)), http.StatusUnauthorized)
	}
	res := serve(h, httptest.NewRequest("GET", "/ui/../results/runs/R/summary", nil))
	if body, _ := io.ReadAll(res.Body); res.StatusCode == http.StatusOK {
		t.Errorf("a path climbing out of /ui/ was served without a token: %s", body)
	}
	req := httptest.NewRequest("GET", "/results/runs/R/summary", nil)
	req.Header.Set("Authorization", "Bearer tok")
	if res := serve(h, req); res.StatusCode != http.StatusOK {
		t.Errorf("API route with the token: %d", res.StatusCode)
	}

	want := []string{"GET /health", "GET /results/health", "GET /results/runs/{id}/summary", "GET /ui/", "GET /openapi.json", "GET /{$}"}
	var got []string
	for _, r := range m.Routes() {
		got = append(got, r.Pattern)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Routes() = %v, want %v", got, want)
	}
}

func TestPublicPanicsOnMalformedPattern(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Error("Public accepted a pattern without a method")
		}
	}()
	web.NewMux(web.Config{}).Public("/ui/", http.NotFoundHandler())
}
