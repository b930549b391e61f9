// Package service is the single table of IPRS services: their names, the
// path prefix the load balancer routes to each, the port each listens on in
// serve mode, and the command a container runs. The HTTP wiring, the dev
// router, the container images and the Terraform tests all read this table,
// so a renamed route or port shows up everywhere at once.
package service

import "fmt"

// Name identifies one of the four IPRS services.
type Name string

const (
	Marketdata   Name = "marketdata"
	Orchestrator Name = "orchestrator"
	Results      Name = "results"
	Worker       Name = "worker"
)

// HealthPath is the path every service answers for the load balancer's
// target-group health check (besides Prefix+"/health").
const HealthPath = "/health"

// MetricsPath is where every service exposes Prometheus metrics.
const MetricsPath = "/metrics"

// UIPath is where the results service serves the analyst's dashboard; the
// load balancer and `iprs dev` redirect "/" there.
const UIPath = "/ui/"

// APIDocPath is where the OpenAPI description of the whole API is served
// (by every API service; the load balancer routes it to results).
const APIDocPath = "/openapi.json"

// Spec describes one service.
type Spec struct {
	Name Name
	// Prefix is the path prefix the load balancer forwards unchanged to
	// this service ("/mkt"); empty for the worker, which serves no API.
	Prefix string
	// Port is the TCP port the service listens on under `iprs serve`.
	Port int
	// Public reports whether the load balancer routes traffic to it.
	Public bool
}

// Command is the argument list a container of this service runs after the
// binary name.
func (s Spec) Command() []string { return []string{"serve", string(s.Name)} }

// Addr is the default listen address in serve mode.
func (s Spec) Addr() string { return fmt.Sprintf(":%d", s.Port) }

// RoutePattern is the load balancer path pattern for the service ("/mkt/*"),
// empty for the worker.
func (s Spec) RoutePattern() string {
	if s.Prefix == "" {
		return ""
	}
	return s.Prefix + "/*"
}

// ExtraRoutePatterns are the load balancer path patterns routed to the
// service besides RoutePattern: to results, the dashboard ("/ui", which
// redirects into it, and "/ui/*") and the API description.
func (s Spec) ExtraRoutePatterns() []string {
	if s.Name == Results {
		return []string{"/ui", "/ui/*", APIDocPath}
	}
	return nil
}

// All returns the services in a fixed order.
func All() []Spec {
	return []Spec{
		{Name: Marketdata, Prefix: "/mkt", Port: 8001, Public: true},
		{Name: Orchestrator, Prefix: "/orch", Port: 8002, Public: true},
		{Name: Results, Prefix: "/results", Port: 8003, Public: true},
		{Name: Worker, Prefix: "", Port: 8004, Public: false},
	}
}

// Lookup returns the spec of the named service.
func Lookup(name string) (Spec, bool) {
	for _, s := range All() {
		if string(s.Name) == name {
			return s, true
		}
	}
	return Spec{}, false
}
