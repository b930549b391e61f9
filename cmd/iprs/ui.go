package main

import (
	"net/http"

	"github.com/iprs/iprs/internal/apidoc"
	"github.com/iprs/iprs/internal/service"
	"github.com/iprs/iprs/internal/ui"
	"github.com/iprs/iprs/internal/web"
)

// registerPublic adds to an API service's mux the routes that serve no
// data and need no token: the API description on every API service, and
// on results the analyst's dashboard and the redirect of "/" to it (the
// load balancer and `iprs dev` send "/ui/…" and "/openapi.json" to
// results, and redirect "/" themselves).
func registerPublic(spec service.Spec, m *web.Mux) {
	m.Public("GET "+service.APIDocPath, apidoc.Handler())
	if spec.Name == service.Results {
		m.Public("GET "+service.UIPath, ui.Handler())
		m.Public("GET /{$}", rootRedirect())
	}
}

// rootRedirect sends "/" to the dashboard.
func rootRedirect() http.Handler {
	return http.RedirectHandler(service.UIPath, http.StatusFound)
}

// devPublicPrefixes are the paths outside the service prefixes that the
// dev router, like the load balancer, sends to results.
func devPublicPrefixes() []string { return []string{"/ui", service.APIDocPath} }
