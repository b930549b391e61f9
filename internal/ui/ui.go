// Package ui is the analyst's dashboard: static pages, JavaScript modules
// and a stylesheet, embedded in the binary and served under /ui/ by the
// results service (and so by `iprs dev` and through the load balancer).
//
// The pages use the same JSON API as every other client, from the
// browser, on the origin that served them: /mkt, /orch and /results must
// answer there, as they do behind the load balancer or `iprs dev`. A
// bearer token the analyst enters is kept in the tab's sessionStorage and
// sent as Authorization: Bearer; the files themselves hold no data and need
// no token. Nothing is built: the modules under static/js are plain
// JavaScript modules loaded by the browser as they are, one per page
// (static/js/pages) plus a small shared layer (api.js: requests, problems,
// paging; render.js: elements, numbers, tables, charts) and sections that a
// page embeds (static/js/views: the KR01 ladder of the run page). A page is
// added by writing its module and one line in the route table of app.js.
//
// SPEC §1 requires a bearer token on "every route except health" when
// IPRS_API_TOKENS is set. Read plainly, that is every route that answers
// with data: the dashboard's files (and the API description, and the
// redirect of "/") hold none, and a browser cannot send a token when it
// loads a page, so they are served without one; every request the pages
// make for data carries the token and is refused without it.
//
// Where the API offers no list or no filter, the pages make do with the
// routes there are: the position snapshots are found through the runs
// that used them (there is no list of snapshots), and a cube group's
// positions by reading the run's result rows (or, for an attribute
// grouping, its snapshots' positions) page by page and keeping the
// group's.
//
// Every answer carries a strong ETag (the SHA-256 of the file) with
// Cache-Control: no-cache, so browsers revalidate and never run a stale
// module after an upgrade, and a Content-Security-Policy that allows only
// the origin's own scripts, styles and API (no inline script or style).
package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/web"
)

// Path is the path prefix the dashboard is served under.
const Path = "/ui/"

//go:embed static
var static embed.FS

// ContentSecurityPolicy is sent with every file of the dashboard.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// file is one embedded file, read once.
type file struct {
	body        []byte
	etag        string
	contentType string
}

// Handler serves the dashboard: GET /ui/ is the page, GET /ui/NAME the
// file static/NAME. Unknown names are a 404 problem. Register it with
// web.Mux.Public("GET /ui/", ui.Handler()).
func Handler() http.Handler {
	files, err := load(static)
	if err != nil {
		// The files are compiled in; failing to read them is a broken build.
		panic(fmt.Sprintf("ui: %v", err))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, ok := strings.CutPrefix(r.URL.Path, Path)
		if !ok {
			web.WriteError(w, r, nil, apperr.Errorf(apperr.NotFound, "no dashboard file at %s", r.URL.Path))
			return
		}
		if name == "" {
			name = "index.html"
		}
		f, ok := files[name]
		if !ok {
			web.WriteError(w, r, nil, apperr.Errorf(apperr.NotFound, "the dashboard has no file %q", name))
			return
		}
		h := w.Header()
		h.Set("Content-Type", f.contentType)
		h.Set("ETag", f.etag)
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(f.body))
	})
}

// load reads every file under static/ into memory with its ETag and type.
func load(fsys fs.FS) (map[string]file, error) {
	root, err := fs.Sub(fsys, "static")
	if err != nil {
		return nil, err
	}
	files := map[string]file{}
	err = fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(root, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		files[p] = file{body: b, etag: `"` + hex.EncodeToString(sum[:16]) + `"`, contentType: contentType(p)}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read embedded files: %w", err)
	}
	return files, nil
}

// contentType names the media type of a file by its extension, with the
// JavaScript type browsers require for modules.
func contentType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".html":
		return "text/html; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}
