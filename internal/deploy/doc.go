// Package deploy checks the deployment files of the repository against the
// service table of internal/service: the Terraform configuration in
// terraform/ (routes, ports, health checks, task definitions, images,
// variables, outputs, secrets, formatting), the Dockerfile (static build, one
// target per service) and the Makefile (build, tag and push per service).
//
// The package has no code of its own; everything is in its tests, which read
// the files relative to this directory (../../terraform, ../../Dockerfile).
// Terraform files are parsed with HCL and their expressions evaluated
// statically: variables take their defaults, locals and for_each/count are
// expanded, and references to resources stay symbolic
// (`aws_lb_target_group.service["results"].arn`), so a test can follow a
// reference from a listener rule to its target group without a provider.
package deploy
