// Package apidoc is the reference of the IPRS HTTP API: one OpenAPI 3.1
// document, openapi.json, that describes every route of every service
// (health and metrics included), their parameters, bodies, answers and
// problems. Every API service serves it at GET /openapi.json, without a
// token; the load balancer and `iprs dev` route that path to results.
//
// The document is written by hand and checked by tests against the real
// route tables of the services (every route is described, and nothing
// else) and against the examples/ folder of the repository (each example
// is valid under the document's schema and accepted by a running
// platform). A new route therefore needs its entry here in the same change.
package apidoc

import (
	"bytes"
	_ "embed"
	"net/http"
	"time"
)

//go:embed openapi.json
var document []byte

// Document returns the OpenAPI document (a copy).
func Document() []byte { return bytes.Clone(document) }

// Handler serves the document as application/json.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		http.ServeContent(w, r, "openapi.json", time.Time{}, bytes.NewReader(document))
	})
}
