package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/iprs/iprs/internal/service"
)

// TestTerraformFiles checks the module structure of the seed document.
func TestTerraformFiles(t *testing.T) {
	for _, name := range []string{
		"main.tf", "variables.tf", "outputs.tf", "vpc.tf", "rds.tf", "ecs.tf", "ecr.tf", "autoscaling.tf",
		".gitignore", "README.md",
	} {
		if _, err := os.Stat(filepath.Join(terraformDir, name)); err != nil {
			t.Errorf("terraform/%s: %v", name, err)
		}
	}
	ignore, err := os.ReadFile(filepath.Join(terraformDir, ".gitignore"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(ignore), "\n")
	for _, want := range []string{".terraform/", "*.tfstate", "*.tfstate.*", "*.tfvars"} {
		if !slices.Contains(lines, want) {
			t.Errorf("terraform/.gitignore does not ignore %s", want)
		}
	}
}

// TestTerraformVariables checks the variables table of the seed, and that
// the production settings are variables that are off by default.
func TestTerraformVariables(t *testing.T) {
	m := mustLoadModule(t)
	want := map[string]any{
		"aws_region":         "us-east-1",
		"environment":        "dev",
		"project_name":       "iprs",
		"vpc_cidr":           "10.0.0.0/16",
		"availability_zones": []any{"us-east-1a", "us-east-1b"},
		// Sizing the seed describes.
		"db_instance_class":        "db.t3.medium",
		"db_instance_count":        2,
		"db_backup_retention_days": 7,
		"service_cpu":              256,
		"service_memory":           512,
		// Production advice, off by default.
		"enable_https":        false,
		"deletion_protection": false,
		"nat_gateway_per_az":  false,
		"enable_flow_logs":    false,
	}
	for name, def := range want {
		v, ok := m.variables[name]
		if !ok {
			t.Errorf("variable %q is missing", name)
			continue
		}
		if !v.hasDefault {
			t.Errorf("variable %q has no default, want %v", name, def)
			continue
		}
		if !reflect.DeepEqual(v.def, def) {
			t.Errorf("variable %q defaults to %#v, want %#v", name, v.def, def)
		}
	}

	pw, ok := m.variables["db_master_password"]
	switch {
	case !ok:
		t.Error("variable db_master_password is missing")
	case pw.hasDefault:
		t.Error("db_master_password has a default; it must be required")
	case !pw.sensitive:
		t.Error("db_master_password is not sensitive")
	}

	wc, ok := m.variables["worker_desired_count"]
	if !ok {
		t.Fatal("variable worker_desired_count is missing")
	}
	if n, ok := asInt(wc.def); !ok || n < 1 {
		t.Errorf("worker_desired_count defaults to %v, want a positive number", wc.def)
	}

	for name, v := range m.variables {
		if _, ok := v.body.Attributes["description"]; !ok {
			t.Errorf("variable %q has no description", name)
		}
		if _, ok := v.body.Attributes["type"]; !ok {
			t.Errorf("variable %q has no type", name)
		}
	}
}

// TestTerraformOutputs checks the outputs of the seed and the ids the
// migration task needs.
func TestTerraformOutputs(t *testing.T) {
	m := mustLoadModule(t)
	s := m.root()
	value := func(name string) any {
		o, ok := m.outputs[name]
		if !ok {
			t.Fatalf("output %q is missing", name)
		}
		return tfBody{body: o.body, scope: s}.attr("value")
	}
	sensitive := map[string]bool{"database_url": true}
	for name, o := range m.outputs {
		if o.sensitive != sensitive[name] {
			t.Errorf("output %q: sensitive = %v, want %v", name, o.sensitive, sensitive[name])
		}
	}

	mustRefAttr(t, m, value("alb_dns_name"), "aws_lb", "dns_name")
	mustRefAttr(t, m, value("rds_proxy_endpoint"), "aws_db_proxy", "endpoint")
	mustRefAttr(t, m, value("ecs_security_group_id"), "aws_security_group", "id")
	mustRefAttr(t, m, value("migrate_task_definition_arn"), "aws_ecs_task_definition", "arn")
	mustRefAttr(t, m, value("ecs_cluster_name"), "aws_ecs_cluster", "name")
	if got := value("private_subnet_ids"); got != ref("aws_subnet.private[*].id") {
		t.Errorf("private_subnet_ids = %v, want the ids of the private subnets", got)
	}

	// ecr_repository_urls maps each service to its repository.
	urls := value("ecr_repository_urls")
	if r, ok := urls.(ref); !ok || !strings.Contains(string(r), "aws_ecr_repository.service") || !strings.Contains(string(r), "repository_url") {
		t.Errorf("ecr_repository_urls = %v, want the repository_url of every aws_ecr_repository.service", urls)
	}

	// database_url is the same string as the secret the containers read.
	if got, want := value("database_url"), databaseURLSecretString(t, m); got != want {
		t.Errorf("output database_url = %v, want the DATABASE_URL secret's value %v", got, want)
	}

	// The run-task command uses the migration task, the private subnets and
	// the tasks' security group, without a public address.
	cmd, ok := value("migrate_command").(string)
	if !ok {
		t.Fatalf("migrate_command = %v, want a string", value("migrate_command"))
	}
	for _, want := range []string{
		"aws ecs run-task", "--launch-type FARGATE", "--region us-east-1",
		"--task-definition ${aws_ecs_task_definition.migrate.arn}",
		"${aws_ecs_cluster.main.name}",
		"securityGroups=[${aws_security_group.ecs.id}]", "assignPublicIp=DISABLED",
		"aws_subnet.private[*].id",
	} {
		if !strings.Contains(cmd, want) {
			t.Errorf("migrate_command %q does not contain %q", cmd, want)
		}
	}
}

// TestTerraformServiceTable checks local.services against service.All().
func TestTerraformServiceTable(t *testing.T) {
	m := mustLoadModule(t)
	s := m.root()
	services, ok := s.local("services").(map[string]any)
	if !ok {
		t.Fatalf("local.services = %v, want an object", s.local("services"))
	}
	if got, want := sortedKeys(services), serviceNames(); !reflect.DeepEqual(got, want) {
		t.Errorf("local.services has %v, want %v", got, want)
	}
	for _, spec := range service.All() {
		svc, ok := services[string(spec.Name)].(map[string]any)
		if !ok {
			continue
		}
		if port, _ := asInt(svc["port"]); port != spec.Port {
			t.Errorf("local.services.%s.port = %v, want %d", spec.Name, svc["port"], spec.Port)
		}
		if svc["public"] != spec.Public {
			t.Errorf("local.services.%s.public = %v, want %v", spec.Name, svc["public"], spec.Public)
		}
		var wantPattern any
		if spec.RoutePattern() != "" {
			wantPattern = spec.RoutePattern()
		}
		if svc["route_pattern"] != wantPattern {
			t.Errorf("local.services.%s.route_pattern = %v, want %v", spec.Name, svc["route_pattern"], wantPattern)
		}
	}
	if got := s.local("health_path"); got != service.HealthPath {
		t.Errorf("local.health_path = %v, want %s", got, service.HealthPath)
	}
}

// TestTerraformListenerRoutes checks that the load balancer routes each
// public service's path pattern, and its extra patterns (results: the
// dashboard and the API description), to a target group on the service's
// port, health-checked at service.HealthPath; routes nothing to the worker;
// and redirects "/" to the dashboard, service.UIPath.
func TestTerraformListenerRoutes(t *testing.T) {
	m := mustLoadModule(t)
	routed := map[service.Name][][]string{}
	priorities := map[int]string{}
	redirects := 0
	for _, rule := range m.mustInstances(t, "aws_lb_listener_rule") {
		listener, _, err := m.resolve(rule.attr("listener_arn"))
		if err != nil {
			t.Errorf("%s: listener_arn: %v", rule.address(), err)
		} else if port, _ := asInt(listener.attr("port")); port != 80 || listener.attr("protocol") != "HTTP" {
			t.Errorf("%s: attached to %s (port %v %v), want the HTTP listener on 80 by default",
				rule.address(), listener.address(), listener.attr("port"), listener.attr("protocol"))
		}
		if p, ok := asInt(rule.attr("priority")); !ok {
			t.Errorf("%s: priority %v is not a number", rule.address(), rule.attr("priority"))
		} else if other, dup := priorities[p]; dup {
			t.Errorf("%s: priority %d already used by %s", rule.address(), p, other)
		} else {
			priorities[p] = rule.address()
		}

		var patterns []string
		for _, c := range rule.blocks("condition") {
			for _, pp := range c.blocks("path_pattern") {
				vals, ok := asStrings(pp.attr("values"))
				if !ok {
					t.Errorf("%s: path_pattern values %v are not strings", rule.address(), pp.attr("values"))
				}
				patterns = append(patterns, vals...)
			}
		}
		actions := rule.blocks("action")
		if len(actions) == 1 && actions[0].attr("type") == "redirect" {
			redirects++
			checkRootRedirect(t, rule, actions[0], patterns)
			continue
		}
		if len(actions) != 1 || actions[0].attr("type") != "forward" {
			t.Errorf("%s: want one forward action (or the redirect of /)", rule.address())
			continue
		}
		tg, attr, err := m.resolve(actions[0].attr("target_group_arn"))
		if err != nil || tg.res.typ != "aws_lb_target_group" || attr != "arn" {
			t.Errorf("%s: target_group_arn does not name a target group: %v", rule.address(), err)
			continue
		}
		port, _ := asInt(tg.attr("port"))
		spec, ok := specByPort(port)
		if !ok {
			t.Errorf("%s: forwards to %s on port %d, which no service listens on", rule.address(), tg.address(), port)
			continue
		}
		if !spec.Public {
			t.Errorf("%s: routes to %s, which serves no API", rule.address(), spec.Name)
			continue
		}
		if tg.key != string(spec.Name) {
			t.Errorf("%s: %s on port %d is keyed %v, want %q", rule.address(), tg.address(), port, tg.key, spec.Name)
		}
		checkTargetGroup(t, tg)
		routed[spec.Name] = append(routed[spec.Name], patterns)
	}
	for _, spec := range service.All() {
		var want [][]string
		if spec.Public {
			want = append(want, []string{spec.RoutePattern()})
			if extra := spec.ExtraRoutePatterns(); len(extra) > 0 {
				want = append(want, extra)
			}
		}
		got := routed[spec.Name]
		slices.SortFunc(got, func(a, b []string) int { return strings.Compare(strings.Join(a, " "), strings.Join(b, " ")) })
		slices.SortFunc(want, func(a, b []string) int { return strings.Compare(strings.Join(a, " "), strings.Join(b, " ")) })
		if len(got) != len(want) || (len(want) > 0 && !reflect.DeepEqual(got, want)) {
			t.Errorf("%s: listener rules route path patterns %v to it, want one rule for each of %v", spec.Name, got, want)
		}
	}
	if redirects != 1 {
		t.Errorf("%d redirect rules, want one (/ to %s)", redirects, service.UIPath)
	}

	// No target group for the worker, nor for any port but the public ones.
	for _, tg := range m.mustInstances(t, "aws_lb_target_group") {
		port, _ := asInt(tg.attr("port"))
		if spec, ok := specByPort(port); !ok || !spec.Public {
			t.Errorf("%s: target group on port %d, which is not a public service's", tg.address(), port)
		}
	}
}

// checkRootRedirect checks the rule that sends "/" to the dashboard: only
// that path, to service.UIPath on the same host, port and protocol (the
// redirect block's defaults), as a temporary redirect.
func checkRootRedirect(t *testing.T, rule tfInstance, action tfBody, patterns []string) {
	t.Helper()
	if !reflect.DeepEqual(patterns, []string{"/"}) {
		t.Errorf("%s: redirects %v, want only /", rule.address(), patterns)
	}
	r, ok := action.block("redirect")
	if !ok {
		t.Errorf("%s: redirect action without a redirect block", rule.address())
		return
	}
	if r.attr("path") != service.UIPath {
		t.Errorf("%s: redirects to path %v, want %s", rule.address(), r.attr("path"), service.UIPath)
	}
	if code := r.attr("status_code"); code != "HTTP_302" && code != "HTTP_301" {
		t.Errorf("%s: status_code %v, want HTTP_302 or HTTP_301", rule.address(), code)
	}
	for _, a := range []string{"host", "port", "protocol"} {
		if r.has(a) {
			t.Errorf("%s: redirect sets %s = %v; it must keep the request's", rule.address(), a, r.attr(a))
		}
	}
}

func checkTargetGroup(t *testing.T, tg tfInstance) {
	t.Helper()
	if tg.attr("protocol") != "HTTP" || tg.attr("target_type") != "ip" {
		t.Errorf("%s: protocol %v target_type %v, want HTTP and ip (Fargate awsvpc)", tg.address(), tg.attr("protocol"), tg.attr("target_type"))
	}
	hc, ok := tg.block("health_check")
	if !ok {
		t.Errorf("%s: no health_check block", tg.address())
		return
	}
	if hc.attr("path") != service.HealthPath {
		t.Errorf("%s: health check path %v, want %s", tg.address(), hc.attr("path"), service.HealthPath)
	}
	if hc.has("port") && hc.attr("port") != "traffic-port" {
		t.Errorf("%s: health check port %v, want the traffic port", tg.address(), hc.attr("port"))
	}
	if hc.has("matcher") && hc.attr("matcher") != "200" {
		t.Errorf("%s: health check matcher %v, want 200", tg.address(), hc.attr("matcher"))
	}
}

// TestTerraformTaskDefinitions checks one task definition per service:
// `serve <name>`, the service's port, the service's ECR image, Fargate sizing.
func TestTerraformTaskDefinitions(t *testing.T) {
	m := mustLoadModule(t)
	found := map[service.Name]int{}
	for _, td := range m.mustInstances(t, "aws_ecs_task_definition") {
		containers := mustContainers(t, td)
		if len(containers) != 1 {
			t.Errorf("%s: %d containers, want 1", td.address(), len(containers))
			continue
		}
		c := containers[0]
		cmd, _ := asStrings(c["command"])
		if len(cmd) == 0 || cmd[0] != "serve" {
			continue // the migration task; see TestTerraformMigrationTask
		}
		if len(cmd) != 2 {
			t.Errorf("%s: command %v", td.address(), cmd)
			continue
		}
		spec, ok := service.Lookup(cmd[1])
		if !ok {
			t.Errorf("%s: command %v names no service", td.address(), cmd)
			continue
		}
		found[spec.Name]++
		if !reflect.DeepEqual(cmd, spec.Command()) {
			t.Errorf("%s: command %v, want %v", td.address(), cmd, spec.Command())
		}
		if c["name"] != string(spec.Name) || c["essential"] != true {
			t.Errorf("%s: container name %v essential %v, want %q and true", td.address(), c["name"], c["essential"], spec.Name)
		}
		ports, _ := c["portMappings"].([]any)
		if len(ports) != 1 {
			t.Errorf("%s: port mappings %v, want exactly the service port", td.address(), c["portMappings"])
		} else if pm, _ := ports[0].(map[string]any); pm == nil {
			t.Errorf("%s: port mapping %v is not an object", td.address(), ports[0])
		} else if p, _ := asInt(pm["containerPort"]); p != spec.Port || pm["protocol"] != "tcp" {
			t.Errorf("%s: container port %v/%v, want %d/tcp", td.address(), pm["containerPort"], pm["protocol"], spec.Port)
		}
		checkImage(t, m, td, c, spec.Name)
		checkFargate(t, td)
		checkLogging(t, m, td, c)
		checkReadOnlyRoot(t, td, c)
	}
	for _, spec := range service.All() {
		if found[spec.Name] != 1 {
			t.Errorf("%s: %d task definitions run `serve %s`, want 1", spec.Name, found[spec.Name], spec.Name)
		}
	}
}

// checkImage checks that a container runs the image of the ECR repository
// of a service, at the image_tag variable.
func checkImage(t *testing.T, m *tfModule, td tfInstance, c map[string]any, name service.Name) {
	t.Helper()
	image, _ := c["image"].(string)
	repoRef, tag, ok := strings.Cut(image, "}:")
	if !ok || !strings.HasPrefix(repoRef, "${") {
		t.Errorf("%s: image %q, want ${<ecr repository_url>}:<tag>", td.address(), c["image"])
		return
	}
	if tag != m.root().variable("image_tag") {
		t.Errorf("%s: image tag %q, want var.image_tag (%v)", td.address(), tag, m.root().variable("image_tag"))
	}
	repo, attr, err := m.resolve(ref(strings.TrimPrefix(repoRef, "${")))
	if err != nil || repo.res.typ != "aws_ecr_repository" || attr != "repository_url" {
		t.Errorf("%s: image %q is not an ECR repository URL: %v", td.address(), image, err)
		return
	}
	if want := "iprs-" + string(name); repo.attr("name") != want {
		t.Errorf("%s: image from repository %v, want %s", td.address(), repo.attr("name"), want)
	}
}

func checkFargate(t *testing.T, td tfInstance) {
	t.Helper()
	if got, _ := asStrings(td.attr("requires_compatibilities")); !reflect.DeepEqual(got, []string{"FARGATE"}) {
		t.Errorf("%s: requires_compatibilities %v, want [FARGATE]", td.address(), got)
	}
	if td.attr("network_mode") != "awsvpc" {
		t.Errorf("%s: network_mode %v, want awsvpc", td.address(), td.attr("network_mode"))
	}
	if cpu, _ := asInt(td.attr("cpu")); cpu != 256 {
		t.Errorf("%s: cpu %v, want 256 by default", td.address(), td.attr("cpu"))
	}
	if mem, _ := asInt(td.attr("memory")); mem != 512 {
		t.Errorf("%s: memory %v, want 512 by default", td.address(), td.attr("memory"))
	}
	if _, err := td.scope.m.resolveAttr(td.attr("execution_role_arn"), "aws_iam_role", "arn"); err != nil {
		t.Errorf("%s: execution_role_arn: %v", td.address(), err)
	}
}

// checkReadOnlyRoot checks that a container's root filesystem is read-only
// and that what it mounts is a volume of the task.
func checkReadOnlyRoot(t *testing.T, td tfInstance, c map[string]any) {
	t.Helper()
	if c["readonlyRootFilesystem"] != true {
		t.Errorf("%s: readonlyRootFilesystem %v, want true", td.address(), c["readonlyRootFilesystem"])
	}
	volumes := map[any]bool{}
	for _, v := range td.blocks("volume") {
		volumes[v.attr("name")] = true
	}
	mounts, _ := c["mountPoints"].([]any)
	for _, mp := range mounts {
		kv, _ := mp.(map[string]any)
		if !volumes[kv["sourceVolume"]] {
			t.Errorf("%s: mount %v of no volume of the task", td.address(), mp)
		}
	}
}

// checkLogging checks that a container logs to the /ecs/iprs-dev group.
func checkLogging(t *testing.T, m *tfModule, td tfInstance, c map[string]any) {
	t.Helper()
	lc, _ := c["logConfiguration"].(map[string]any)
	opts, _ := lc["options"].(map[string]any)
	if lc["logDriver"] != "awslogs" || opts == nil {
		t.Errorf("%s: logConfiguration %v, want awslogs", td.address(), c["logConfiguration"])
		return
	}
	group, err := m.resolveAttr(opts["awslogs-group"], "aws_cloudwatch_log_group", "name")
	if err != nil {
		t.Errorf("%s: awslogs-group: %v", td.address(), err)
		return
	}
	if group.attr("name") != "/ecs/iprs-dev" {
		t.Errorf("%s: logs to %v, want /ecs/iprs-dev", td.address(), group.attr("name"))
	}
	if opts["awslogs-region"] != "us-east-1" {
		t.Errorf("%s: awslogs-region %v, want var.aws_region", td.address(), opts["awslogs-region"])
	}
	if p, _ := opts["awslogs-stream-prefix"].(string); p == "" {
		t.Errorf("%s: no awslogs-stream-prefix", td.address())
	}
}

// TestTerraformMigrationTask checks the one-off `iprs migrate` task: it
// reads DATABASE_URL from Secrets Manager and runs one of the service images.
func TestTerraformMigrationTask(t *testing.T) {
	m := mustLoadModule(t)
	var migrate []tfInstance
	for _, td := range m.mustInstances(t, "aws_ecs_task_definition") {
		for _, c := range mustContainers(t, td) {
			if cmd, _ := asStrings(c["command"]); reflect.DeepEqual(cmd, []string{"migrate"}) {
				migrate = append(migrate, td)
				checkFargate(t, td)
				checkLogging(t, m, td, c)
				checkReadOnlyRoot(t, td, c)
				image, _ := c["image"].(string)
				repoRef, _, _ := strings.Cut(image, "}:")
				repo, _, err := m.resolve(ref(strings.TrimPrefix(repoRef, "${")))
				if err != nil || repo.res.typ != "aws_ecr_repository" {
					t.Errorf("%s: image %q is not a service image: %v", td.address(), image, err)
				}
				if !hasSecret(c, "DATABASE_URL") {
					t.Errorf("%s: DATABASE_URL is not among the secrets", td.address())
				}
			}
		}
	}
	if len(migrate) != 1 {
		t.Fatalf("%d task definitions run `iprs migrate`, want 1", len(migrate))
	}
	if got, err := m.resolveAttr(m.root().eval(m.outputs["migrate_task_definition_arn"].body.Attributes["value"].Expr), "aws_ecs_task_definition", "arn"); err != nil || got.address() != migrate[0].address() {
		t.Errorf("output migrate_task_definition_arn does not name %s: %v", migrate[0].address(), err)
	}
	readme, err := os.ReadFile(filepath.Join(terraformDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"aws ecs run-task", "iprs migrate", "psql $DATABASE_URL -f sql/001_mvp_core.sql"} {
		if !strings.Contains(string(readme), want) {
			t.Errorf("terraform/README.md does not mention %q", want)
		}
	}
}

// secretName matches environment variable names that must never hold a
// plain value in a task definition.
var secretName = regexp.MustCompile(`(?i)PASSWORD|SECRET|TOKEN|DATABASE_URL|CREDENTIAL|PRIVATE_KEY|API_KEY`)

// TestTerraformNoPlaintextSecrets checks that no task definition carries a
// secret: DATABASE_URL comes from Secrets Manager through `secrets`, the
// environment holds nothing secret-like, and the master password appears
// nowhere in a container definition.
func TestTerraformNoPlaintextSecrets(t *testing.T) {
	m := mustLoadModule(t)
	for _, td := range m.mustInstances(t, "aws_ecs_task_definition") {
		for _, c := range mustContainers(t, td) {
			env, _ := c["environment"].([]any)
			for _, e := range env {
				kv, _ := e.(map[string]any)
				name, _ := kv["name"].(string)
				if secretName.MatchString(name) {
					t.Errorf("%s: environment variable %q is secret-like; pass it through secrets", td.address(), name)
				}
			}
			for _, r := range refsIn(c) {
				if strings.Contains(string(r), "db_master_password") || strings.Contains(string(r), "var.api_tokens") ||
					strings.Contains(string(r), "database_url") && !strings.HasPrefix(string(r), "aws_secretsmanager_secret.") {
					t.Errorf("%s: container %v uses %s directly", td.address(), c["name"], r)
				}
			}
			if strings.Contains(exprText(c), "db_master_password") {
				t.Errorf("%s: the master password appears in the container definition", td.address())
			}
			secrets, _ := c["secrets"].([]any)
			for _, s := range secrets {
				kv, _ := s.(map[string]any)
				if _, err := m.resolveAttr(kv["valueFrom"], "aws_secretsmanager_secret", "arn"); err != nil {
					t.Errorf("%s: secret %v: valueFrom is not a Secrets Manager secret: %v", td.address(), kv["name"], err)
				}
			}
			if !hasSecret(c, "DATABASE_URL") {
				t.Errorf("%s: container %v does not get DATABASE_URL through secrets", td.address(), c["name"])
			}
		}
	}

	// The secret holds the full URL, through the RDS Proxy, TLS required.
	url := databaseURLSecretString(t, m)
	s, _ := url.(string)
	if !strings.HasPrefix(s, "postgres://") || !strings.Contains(s, "@${aws_db_proxy.main.endpoint}:5432/iprs") || !strings.HasSuffix(s, "?sslmode=require") {
		t.Errorf("DATABASE_URL secret = %v, want postgres://…@<RDS Proxy endpoint>:5432/iprs?sslmode=require", url)
	}
	if !strings.Contains(s, "urlencode(var.db_master_password)") {
		t.Errorf("DATABASE_URL secret = %v, want the password URL-encoded", url)
	}
}

// databaseURLSecretString is the static value of the secret that the
// service containers read as DATABASE_URL.
func databaseURLSecretString(t *testing.T, m *tfModule) any {
	t.Helper()
	var td tfInstance
	for _, in := range m.mustInstances(t, "aws_ecs_task_definition") {
		if in.key == string(service.Orchestrator) {
			td = in
		}
	}
	if td.res == nil {
		t.Fatal("no task definition for the orchestrator")
	}
	var valueFrom any
	for _, c := range mustContainers(t, td) {
		secrets, _ := c["secrets"].([]any)
		for _, s := range secrets {
			if kv, _ := s.(map[string]any); kv["name"] == "DATABASE_URL" {
				valueFrom = kv["valueFrom"]
			}
		}
	}
	secret, err := m.resolveAttr(valueFrom, "aws_secretsmanager_secret", "arn")
	if err != nil {
		t.Fatalf("DATABASE_URL valueFrom: %v", err)
	}
	for _, v := range m.mustInstances(t, "aws_secretsmanager_secret_version") {
		in, _, err := m.resolve(v.attr("secret_id"))
		if err == nil && in.address() == secret.address() {
			return v.attr("secret_string")
		}
	}
	t.Fatalf("no secret version for %s", secret.address())
	return nil
}

func hasSecret(c map[string]any, name string) bool {
	secrets, _ := c["secrets"].([]any)
	for _, s := range secrets {
		if kv, _ := s.(map[string]any); kv["name"] == name {
			return true
		}
	}
	return false
}

// TestTerraformECRRepositories checks one repository per service, named
// iprs-<service>.
func TestTerraformECRRepositories(t *testing.T) {
	m := mustLoadModule(t)
	var names []string
	for _, repo := range m.mustInstances(t, "aws_ecr_repository") {
		name, _ := repo.attr("name").(string)
		names = append(names, name)
		scan, ok := repo.block("image_scanning_configuration")
		if !ok || scan.attr("scan_on_push") != true {
			t.Errorf("%s: images are not scanned on push", repo.address())
		}
	}
	sort.Strings(names)
	var want []string
	for _, n := range serviceNames() {
		want = append(want, "iprs-"+n)
	}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("ECR repositories %v, want %v", names, want)
	}
}

// TestTerraformECSServices checks one ECS service per IPRS service: the API
// services behind their target groups, the worker with none and a desired
// count that is a variable.
func TestTerraformECSServices(t *testing.T) {
	m := mustLoadModule(t)
	found := map[service.Name]int{}
	for _, svc := range m.mustInstances(t, "aws_ecs_service") {
		td, err := m.resolveAttr(svc.attr("task_definition"), "aws_ecs_task_definition", "arn")
		if err != nil {
			t.Errorf("%s: task_definition: %v", svc.address(), err)
			continue
		}
		containers := mustContainers(t, td)
		cmd, _ := asStrings(containers[0]["command"])
		spec, ok := service.Lookup(cmd[len(cmd)-1])
		if !ok || len(cmd) != 2 {
			t.Errorf("%s: runs %v, not a service", svc.address(), cmd)
			continue
		}
		found[spec.Name]++
		// make deploy-aws addresses the ECS services by the service names.
		if svc.attr("name") != string(spec.Name) {
			t.Errorf("%s: named %v, want %q", svc.address(), svc.attr("name"), spec.Name)
		}
		if svc.attr("launch_type") != "FARGATE" {
			t.Errorf("%s: launch_type %v, want FARGATE", svc.address(), svc.attr("launch_type"))
		}
		nc, ok := svc.block("network_configuration")
		if !ok {
			t.Errorf("%s: no network_configuration", svc.address())
		} else {
			if nc.attr("assign_public_ip") != false {
				t.Errorf("%s: assign_public_ip %v, want false", svc.address(), nc.attr("assign_public_ip"))
			}
			if nc.attr("subnets") != ref("aws_subnet.private[*].id") {
				t.Errorf("%s: subnets %v, want the private subnets", svc.address(), nc.attr("subnets"))
			}
		}

		lbs := svc.blocks("load_balancer")
		if !spec.Public {
			if len(lbs) != 0 {
				t.Errorf("%s: the worker has %d load_balancer blocks, want none", svc.address(), len(lbs))
			}
			dc, ok := svc.expr("desired_count").(*hclsyntax.ScopeTraversalExpr)
			if !ok || dc.Traversal.RootName() != "var" || len(dc.Traversal) != 2 {
				t.Errorf("%s: desired_count is not a variable", svc.address())
				continue
			}
			name := dc.Traversal[1].(hcl.TraverseAttr).Name
			if v, ok := m.variables[name]; !ok || !v.hasDefault {
				t.Errorf("%s: desired_count is var.%s, which is not declared with a default", svc.address(), name)
			} else if n, ok := asInt(v.def); !ok || n < 1 {
				t.Errorf("%s: var.%s defaults to %v, want a positive number", svc.address(), name, v.def)
			}
			continue
		}
		if len(lbs) != 1 {
			t.Errorf("%s: %d load_balancer blocks, want 1", svc.address(), len(lbs))
			continue
		}
		lb := lbs[0]
		tg, err := m.resolveAttr(lb.attr("target_group_arn"), "aws_lb_target_group", "arn")
		if err != nil {
			t.Errorf("%s: target_group_arn: %v", svc.address(), err)
			continue
		}
		if port, _ := asInt(tg.attr("port")); port != spec.Port {
			t.Errorf("%s: target group %s on port %d, want %d", svc.address(), tg.address(), port, spec.Port)
		}
		if port, _ := asInt(lb.attr("container_port")); port != spec.Port {
			t.Errorf("%s: container_port %v, want %d", svc.address(), lb.attr("container_port"), spec.Port)
		}
		if lb.attr("container_name") != containers[0]["name"] {
			t.Errorf("%s: container_name %v, want the task's container %v", svc.address(), lb.attr("container_name"), containers[0]["name"])
		}
	}
	for _, spec := range service.All() {
		if found[spec.Name] != 1 {
			t.Errorf("%s: %d ECS services run it, want 1", spec.Name, found[spec.Name])
		}
	}
}

// TestTerraformDatabaseIsPrivate checks the Aurora cluster of the seed and
// that only the RDS Proxy and the ECS tasks can reach it.
func TestTerraformDatabaseIsPrivate(t *testing.T) {
	m := mustLoadModule(t)
	clusters := m.mustInstances(t, "aws_rds_cluster")
	if len(clusters) != 1 {
		t.Fatalf("%d Aurora clusters, want 1", len(clusters))
	}
	c := clusters[0]
	if c.attr("engine") != "aurora-postgresql" {
		t.Errorf("engine %v, want aurora-postgresql", c.attr("engine"))
	}
	if v, _ := c.attr("engine_version").(string); !strings.HasPrefix(v, "15.") {
		t.Errorf("engine_version %v, want 15.x", c.attr("engine_version"))
	}
	if c.attr("storage_encrypted") != true {
		t.Error("Aurora storage is not encrypted")
	}
	if n, _ := asInt(c.attr("backup_retention_period")); n != 7 {
		t.Errorf("backup_retention_period %v, want 7", c.attr("backup_retention_period"))
	}
	if c.attr("master_password") != ref("var.db_master_password") {
		t.Errorf("master_password %v, want var.db_master_password", c.attr("master_password"))
	}

	instances := m.mustInstances(t, "aws_rds_cluster_instance")
	if len(instances) != 2 {
		t.Errorf("%d Aurora instances, want 2", len(instances))
	}
	for _, in := range instances {
		if in.attr("instance_class") != "db.t3.medium" {
			t.Errorf("%s: instance_class %v, want db.t3.medium", in.address(), in.attr("instance_class"))
		}
		if in.attr("publicly_accessible") != false {
			t.Errorf("%s: publicly_accessible %v, want false", in.address(), in.attr("publicly_accessible"))
		}
	}

	proxies := m.mustInstances(t, "aws_db_proxy")
	if len(proxies) != 1 {
		t.Fatalf("%d RDS proxies, want 1", len(proxies))
	}
	proxy := proxies[0]
	if proxy.attr("engine_family") != "POSTGRESQL" || proxy.attr("require_tls") != true {
		t.Errorf("RDS Proxy engine_family %v require_tls %v, want POSTGRESQL and true", proxy.attr("engine_family"), proxy.attr("require_tls"))
	}

	dbSG := onlySecurityGroup(t, m, c.attr("vpc_security_group_ids"))
	proxySG := onlySecurityGroup(t, m, proxy.attr("vpc_security_group_ids"))
	var ecsSG string
	for _, svc := range m.mustInstances(t, "aws_ecs_service") {
		nc, _ := svc.block("network_configuration")
		sg := onlySecurityGroup(t, m, nc.attr("security_groups"))
		if ecsSG != "" && sg != ecsSG {
			t.Errorf("%s: security group %s, the other services use %s", svc.address(), sg, ecsSG)
		}
		ecsSG = sg
	}

	// Security groups carry no inline rules; the rule resources below are
	// the whole truth.
	for _, sg := range m.mustInstances(t, "aws_security_group") {
		if len(sg.blocks("ingress")) > 0 || len(sg.blocks("egress")) > 0 {
			t.Errorf("%s: inline ingress/egress rules", sg.address())
		}
	}
	sources := func(target string) []string {
		var out []string
		for _, rule := range m.mustInstances(t, "aws_vpc_security_group_ingress_rule") {
			sg, err := m.resolveAttr(rule.attr("security_group_id"), "aws_security_group", "id")
			if err != nil || sg.address() != target {
				continue
			}
			for _, open := range []string{"cidr_ipv4", "cidr_ipv6", "prefix_list_id"} {
				if rule.has(open) {
					t.Errorf("%s: %s is open to %s %v", rule.address(), target, open, rule.attr(open))
				}
			}
			src, err := m.resolveAttr(rule.attr("referenced_security_group_id"), "aws_security_group", "id")
			if err != nil {
				t.Errorf("%s: source: %v", rule.address(), err)
				continue
			}
			if from, _ := asInt(rule.attr("from_port")); from != 5432 {
				t.Errorf("%s: from_port %v, want 5432", rule.address(), rule.attr("from_port"))
			}
			if to, _ := asInt(rule.attr("to_port")); to != 5432 {
				t.Errorf("%s: to_port %v, want 5432", rule.address(), rule.attr("to_port"))
			}
			out = append(out, src.address())
		}
		sort.Strings(out)
		return out
	}
	if got, want := sources(dbSG), sortedStrings(proxySG, ecsSG); !reflect.DeepEqual(got, want) {
		t.Errorf("Aurora (%s) accepts connections from %v, want %v", dbSG, got, want)
	}
	if got, want := sources(proxySG), []string{ecsSG}; !reflect.DeepEqual(got, want) {
		t.Errorf("RDS Proxy (%s) accepts connections from %v, want %v", proxySG, got, want)
	}
}

// TestTerraformProductionSwitches checks the production settings: off by
// default, and doing what they say when turned on.
func TestTerraformProductionSwitches(t *testing.T) {
	base := mustLoadModule(t)
	count := func(m *tfModule, typ string) int { return len(m.mustInstances(t, typ)) }
	httpDefaultAction := func(m *tfModule) any {
		for _, l := range m.mustInstances(t, "aws_lb_listener") {
			if l.res.name == "http" {
				a, _ := l.block("default_action")
				return a.attr("type")
			}
		}
		return nil
	}

	// Defaults: one NAT gateway, no flow logs, HTTP only, no deletion protection.
	if n := count(base, "aws_nat_gateway"); n != 1 {
		t.Errorf("%d NAT gateways by default, want 1", n)
	}
	if n := count(base, "aws_flow_log"); n != 0 {
		t.Errorf("%d flow logs by default, want 0", n)
	}
	if n := count(base, "aws_lb_listener"); n != 1 {
		t.Errorf("%d listeners by default, want 1 (HTTP)", n)
	}
	if got := httpDefaultAction(base); got != "fixed-response" {
		t.Errorf("HTTP listener default action %v, want fixed-response", got)
	}
	for _, l := range base.mustInstances(t, "aws_lb_listener") {
		a, _ := l.block("default_action")
		if fr, ok := a.block("fixed_response"); !ok || fr.attr("status_code") != "404" || len(a.blocks("redirect")) != 0 {
			t.Errorf("%s: by default, want a 404 fixed response and no redirect", l.address())
		}
	}
	cluster := base.mustInstances(t, "aws_rds_cluster")[0]
	if cluster.attr("deletion_protection") != false || cluster.attr("skip_final_snapshot") != true {
		t.Errorf("default deletion_protection %v skip_final_snapshot %v, want false and true",
			cluster.attr("deletion_protection"), cluster.attr("skip_final_snapshot"))
	}

	// Production.
	prod := base.with(map[string]any{
		"enable_https":        true,
		"acm_certificate_arn": "arn:aws:acm:us-east-1:123456789012:certificate/example",
		"deletion_protection": true,
		"nat_gateway_per_az":  true,
		"enable_flow_logs":    true,
	})
	if n := count(prod, "aws_nat_gateway"); n != 2 {
		t.Errorf("%d NAT gateways with nat_gateway_per_az, want 2 (one per zone)", n)
	}
	for _, rt := range prod.mustInstances(t, "aws_route_table") {
		if rt.res.name != "private" {
			continue
		}
		r, _ := rt.block("route")
		want := ref("aws_nat_gateway.main[" + renderKey(rt.key) + "].id")
		if got := r.attr("nat_gateway_id"); got != want {
			t.Errorf("%s routes through %v, want its zone's %v", rt.address(), got, want)
		}
	}
	if n := count(prod, "aws_flow_log"); n != 1 {
		t.Errorf("%d flow logs with enable_flow_logs, want 1", n)
	}
	if got := httpDefaultAction(prod); got != "redirect" {
		t.Errorf("HTTP listener default action %v with enable_https, want redirect", got)
	}
	for _, l := range prod.mustInstances(t, "aws_lb_listener") {
		if l.res.name == "https" && (l.attr("protocol") != "HTTPS" || l.attr("certificate_arn") != "arn:aws:acm:us-east-1:123456789012:certificate/example") {
			t.Errorf("%s: protocol %v certificate %v", l.address(), l.attr("protocol"), l.attr("certificate_arn"))
		}
	}
	for _, rule := range prod.mustInstances(t, "aws_lb_listener_rule") {
		if got := rule.attr("listener_arn"); got != ref("aws_lb_listener.https[0].arn") {
			t.Errorf("%s: listener %v with enable_https, want the HTTPS listener", rule.address(), got)
		}
	}
	cluster = prod.mustInstances(t, "aws_rds_cluster")[0]
	if cluster.attr("deletion_protection") != true || cluster.attr("skip_final_snapshot") != false {
		t.Errorf("with deletion_protection: deletion_protection %v skip_final_snapshot %v, want true and false",
			cluster.attr("deletion_protection"), cluster.attr("skip_final_snapshot"))
	}
	if lb := prod.mustInstances(t, "aws_lb")[0]; lb.attr("enable_deletion_protection") != true {
		t.Error("load balancer not protected with deletion_protection")
	}
}

// mustContainers reads the container definitions of a task definition.
func mustContainers(t *testing.T, td tfInstance) []map[string]any {
	t.Helper()
	list, ok := td.attr("container_definitions").([]any)
	if !ok {
		t.Fatalf("%s: container_definitions %v is not a list", td.address(), td.attr("container_definitions"))
	}
	out := make([]map[string]any, 0, len(list))
	for _, c := range list {
		obj, ok := c.(map[string]any)
		if !ok {
			t.Fatalf("%s: container %v is not an object", td.address(), c)
		}
		out = append(out, obj)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no containers", td.address())
	}
	return out
}

// resolveAttr resolves a reference that must read attr of a resource of type typ.
func (m *tfModule) resolveAttr(v any, typ, attr string) (tfInstance, error) {
	in, a, err := m.resolve(v)
	if err != nil {
		return tfInstance{}, err
	}
	if in.res.typ != typ || a != attr {
		return tfInstance{}, fmt.Errorf("%v reads %s of %s, want %s of a %s", v, a, in.address(), attr, typ)
	}
	return in, nil
}

func mustRefAttr(t *testing.T, m *tfModule, v any, typ, attr string) {
	t.Helper()
	if _, err := m.resolveAttr(v, typ, attr); err != nil {
		t.Error(err)
	}
}

// onlySecurityGroup reads a list holding one security group reference and
// returns the group's address.
func onlySecurityGroup(t *testing.T, m *tfModule, v any) string {
	t.Helper()
	l, ok := v.([]any)
	if !ok || len(l) != 1 {
		t.Fatalf("security groups %v, want exactly one", v)
	}
	sg, err := m.resolveAttr(l[0], "aws_security_group", "id")
	if err != nil {
		t.Fatal(err)
	}
	return sg.address()
}

func specByPort(port int) (service.Spec, bool) {
	for _, s := range service.All() {
		if s.Port == port {
			return s, true
		}
	}
	return service.Spec{}, false
}

func serviceNames() []string {
	var out []string
	for _, s := range service.All() {
		out = append(out, string(s.Name))
	}
	sort.Strings(out)
	return out
}

func sortedStrings(s ...string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return out
}
