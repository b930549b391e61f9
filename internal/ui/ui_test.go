package ui

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, target string, header map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func TestHandlerServesTheFiles(t *testing.T) {
	t.Parallel()
	h := Handler()
	for target, wantType := range map[string]string{
		"/ui/":                 "text/html; charset=utf-8",
		"/ui/index.html":       "text/html; charset=utf-8",
		"/ui/app.css":          "text/css; charset=utf-8",
		"/ui/js/app.js":        "text/javascript; charset=utf-8",
		"/ui/js/pages/cube.js": "text/javascript; charset=utf-8",
		"/ui/icon.svg":         "image/svg+xml",
	} {
		res := get(t, h, target, nil)
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK || len(body) == 0 {
			t.Errorf("GET %s: %d, %d bytes", target, res.StatusCode, len(body))
			continue
		}
		if got := res.Header.Get("Content-Type"); got != wantType {
			t.Errorf("GET %s: Content-Type %q, want %q", target, got, wantType)
		}
		if res.Header.Get("Content-Security-Policy") != ContentSecurityPolicy || res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: security headers %v", target, res.Header)
		}
		if res.Header.Get("Cache-Control") != "no-cache" || !strings.HasPrefix(res.Header.Get("ETag"), `"`) {
			t.Errorf("GET %s: caching headers %v", target, res.Header)
		}
	}
	index := get(t, h, "/ui/", nil)
	body, _ := io.ReadAll(index.Body)
	if !strings.Contains(string(body), `<script type="module" src="js/app.js">`) {
		t.Errorf("the page does not load js/app.js as a module:\n%s", body)
	}
}

func TestHandlerRevalidatesWithETag(t *testing.T) {
	t.Parallel()
	h := Handler()
	first := get(t, h, "/ui/js/app.js", nil)
	etag := first.Header.Get("ETag")
	if res := get(t, h, "/ui/js/app.js", map[string]string{"If-None-Match": etag}); res.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match with the current ETag: %d, want 304", res.StatusCode)
	}
	if res := get(t, h, "/ui/js/app.js", map[string]string{"If-None-Match": `"stale"`}); res.StatusCode != http.StatusOK {
		t.Errorf("If-None-Match with another ETag: %d, want 200", res.StatusCode)
	}
	if other := get(t, h, "/ui/app.css", nil).Header.Get("ETag"); other == etag {
		t.Error("two files share an ETag")
	}
}

func TestHandlerUnknownFileIsAProblem(t *testing.T) {
	t.Parallel()
	for _, target := range []string{"/ui/nope.js", "/ui/js/", "/ui/../go.mod", "/elsewhere"} {
		res := get(t, Handler(), target, nil)
		if res.StatusCode != http.StatusNotFound || res.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("GET %s: %d %s, want a 404 problem", target, res.StatusCode, res.Header.Get("Content-Type"))
		}
	}
}

// TestModulesResolve: every relative import of every module names an
// embedded file, and every page module is in the route table, so a
// missing or unrouted file fails here and not only in a browser.
func TestModulesResolve(t *testing.T) {
	t.Parallel()
	root, err := fs.Sub(static, "static")
	if err != nil {
		t.Fatal(err)
	}
	imp := regexp.MustCompile(`(?m)^import\s+(?:[^'"]*\sfrom\s+)?'(\.[^']+)'`)
	var pages []string
	err = fs.WalkDir(root, "js", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if strings.HasPrefix(p, "js/pages/") {
			pages = append(pages, path.Base(p))
		}
		src, err := fs.ReadFile(root, p)
		if err != nil {
			return err
		}
		for _, m := range imp.FindAllStringSubmatch(string(src), -1) {
			target := path.Join(path.Dir(p), m[1])
			if _, err := fs.Stat(root, target); err != nil {
				t.Errorf("%s imports %s, which is not embedded", p, m[1])
			}
		}
		if strings.Contains(string(src), "setAttribute('style'") || strings.Contains(string(src), "innerHTML") {
			t.Errorf("%s sets inline styles or HTML (the CSP forbids the first; the second bypasses escaping)", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	app, err := fs.ReadFile(root, "js/app.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pages {
		if !strings.Contains(string(app), "from './pages/"+p+"'") {
			t.Errorf("page module %s is not imported by app.js", p)
		}
	}
	if len(pages) < 9 {
		t.Errorf("%d page modules, want at least 9", len(pages))
	}
}
