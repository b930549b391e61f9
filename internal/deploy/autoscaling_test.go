package deploy

import (
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/config"
	"github.com/iprs/iprs/internal/queuemetric"
	"github.com/iprs/iprs/internal/service"
)

// serviceEnv is what the task definition of a service (`serve <name>`)
// puts in its container's environment, by variable name.
func serviceEnv(t *testing.T, m *tfModule) map[service.Name]map[string]string {
	t.Helper()
	out := map[service.Name]map[string]string{}
	for _, td := range m.mustInstances(t, "aws_ecs_task_definition") {
		c := mustContainers(t, td)[0]
		cmd, _ := asStrings(c["command"])
		if len(cmd) != 2 || cmd[0] != "serve" {
			continue
		}
		env := map[string]string{}
		list, ok := c["environment"].([]any)
		if !ok {
			t.Fatalf("%s: environment %v is not a list", td.address(), c["environment"])
		}
		for _, e := range list {
			kv, _ := e.(map[string]any)
			name, nok := kv["name"].(string)
			value, vok := kv["value"].(string)
			if !nok || !vok || len(kv) != 2 {
				t.Fatalf("%s: environment entry %v, want {name, value} strings known without a provider", td.address(), e)
			}
			if _, dup := env[name]; dup {
				t.Errorf("%s: %s set twice", td.address(), name)
			}
			env[name] = value
		}
		out[service.Name(cmd[1])] = env
	}
	return out
}

// readBy says which services read each setting of internal/config, from
// the code: the worker leases and prices tasks; the API services bound
// request bodies; the orchestrator takes uploads, publishes runs, keeps
// webhooks and publishes the queue's metrics; every service logs and
// holds a pool. The secrets and IPRS_ADDR are not environment values:
// see TestTerraformPassesEveryDeploymentSetting.
var readBy = map[string][]service.Name{
	config.EnvLogLevel:          all(),
	config.EnvLogFormat:         all(),
	config.EnvDBMaxConns:        all(),
	config.EnvMaxBodyBytes:      {service.Marketdata, service.Orchestrator, service.Results},
	config.EnvFourEyes:          {service.Orchestrator},
	config.EnvWebhookAllowHTTP:  {service.Orchestrator},
	config.EnvMaxUploadBytes:    {service.Orchestrator},
	config.EnvBodyIdleSeconds:   {service.Orchestrator},
	config.EnvMetricsNamespace:  {service.Orchestrator},
	config.EnvWorkerConcurrency: {service.Worker},
	config.EnvLeaseSeconds:      {service.Worker},
	config.EnvWorkerGrace:       {service.Worker},
	config.EnvAggregateAttrs:    {service.Worker},
}

func all() []service.Name {
	var out []service.Name
	for _, s := range service.All() {
		out = append(out, s.Name)
	}
	return out
}

// TestTerraformPassesEveryDeploymentSetting checks every variable
// internal/config reads against the task definitions: each setting reaches
// exactly the services that read it, the secrets come through `secrets`,
// and IPRS_ADDR stays unset so that each service listens on the port of
// its port mapping. A new variable in internal/config fails this test
// until the deployment passes it (or says here why not).
func TestTerraformPassesEveryDeploymentSetting(t *testing.T) {
	m := mustLoadModule(t)
	env := serviceEnv(t, m)
	secret := map[string]bool{config.EnvDatabaseURL: true, config.EnvAPITokens: true}
	for _, name := range config.Variables() {
		switch {
		case secret[name]:
			for svc, e := range env {
				if _, ok := e[name]; ok {
					t.Errorf("%s: %s is in the environment; it is a secret", svc, name)
				}
			}
		case name == config.EnvAddr:
			for svc, e := range env {
				if _, ok := e[name]; ok {
					t.Errorf("%s: %s is set; the service's own port is the one its port mapping and target group use", svc, name)
				}
			}
		default:
			want, ok := readBy[name]
			if !ok {
				t.Errorf("%s: internal/config reads it, and neither Terraform nor this test says which services need it", name)
				continue
			}
			var got []service.Name
			for svc, e := range env {
				if _, ok := e[name]; ok {
					got = append(got, svc)
				}
			}
			slices.Sort(got)
			want = slices.Sorted(slices.Values(want))
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s reaches %v, want %v", name, got, want)
			}
		}
	}
	for svc, e := range env {
		for name := range e {
			if !slices.Contains(config.Variables(), name) {
				t.Errorf("%s: environment variable %s is not one internal/config reads", svc, name)
			}
		}
	}

	// With api_tokens, every service gets them as a secret.
	withTokens := m.with(map[string]any{"api_tokens": "ops:read+write:tok-a,head:read+publish:tok-b"})
	for _, td := range withTokens.mustInstances(t, "aws_ecs_task_definition") {
		c := mustContainers(t, td)[0]
		if cmd, _ := asStrings(c["command"]); len(cmd) == 2 && !hasSecret(c, config.EnvAPITokens) {
			t.Errorf("%s: no %s secret with api_tokens set", td.address(), config.EnvAPITokens)
		}
	}
}

// TestTerraformSettingsLoad reads each container's environment with
// internal/config itself: the defaults of the variables are the code's
// defaults, and the production switches turn on what they name.
func TestTerraformSettingsLoad(t *testing.T) {
	m := mustLoadModule(t)
	load := func(m *tfModule, svc service.Name, extra map[string]string) config.Config {
		t.Helper()
		e := maps.Clone(serviceEnv(t, m)[svc])
		maps.Copy(e, extra)
		c, err := config.Load(func(k string) string { return e[k] })
		if err != nil {
			t.Fatalf("%s: config.Load of the task definition's environment: %v", svc, err)
		}
		return c
	}
	for _, spec := range service.All() {
		c := load(m, spec.Name, nil)
		if c.LogFormat != "json" || c.LogLevel.String() != "INFO" || c.DBMaxConns != config.DefaultDBMaxConns ||
			c.MaxBodyBytes != config.DefaultMaxBodyBytes {
			t.Errorf("%s: log %s/%v, pool %d, body %d; want the code's defaults", spec.Name, c.LogFormat, c.LogLevel, c.DBMaxConns, c.MaxBodyBytes)
		}
	}
	orch := load(m, service.Orchestrator, nil)
	if orch.FourEyes || orch.WebhookAllowHTTP || orch.MaxUploadBytes != config.DefaultMaxUploadBytes ||
		orch.BodyIdleSeconds != config.DefaultBodyIdleSeconds || orch.MetricsNamespace != "IPRS/iprs-dev" {
		t.Errorf("orchestrator by default: %+v", orch)
	}
	w := load(m, service.Worker, nil)
	if w.LeaseSeconds != config.DefaultLeaseSeconds || w.WorkerGraceSeconds != config.DefaultWorkerGraceSeconds || w.WorkerConcurrency != 2 {
		t.Errorf("worker by default: lease %d grace %d concurrency %d, want %d, %d and 2",
			w.LeaseSeconds, w.WorkerGraceSeconds, w.WorkerConcurrency, config.DefaultLeaseSeconds, config.DefaultWorkerGraceSeconds)
	}

	tokens := "ops:read+write:tok-a,head:read+publish:tok-b"
	prod := m.with(map[string]any{
		"four_eyes": true, "webhook_allow_http": true, "api_tokens": tokens, "log_level": "warn",
		"db_max_conns": 4, "lease_seconds": 120, "worker_grace_seconds": 100, "worker_concurrency": 4,
		"environment": "prod",
	})
	orch = load(prod, service.Orchestrator, map[string]string{config.EnvAPITokens: tokens})
	if !orch.FourEyes || !orch.WebhookAllowHTTP || orch.DBMaxConns != 4 || orch.LogLevel.String() != "WARN" || orch.MetricsNamespace != "IPRS/iprs-prod" {
		t.Errorf("orchestrator with four_eyes, webhook_allow_http, db_max_conns 4, log_level warn: %+v", orch)
	}
	w = load(prod, service.Worker, nil)
	if w.LeaseSeconds != 120 || w.WorkerGraceSeconds != 100 || w.WorkerConcurrency != 4 {
		t.Errorf("worker with lease 120, grace 100, concurrency 4: %+v", w)
	}

	// four_eyes without principals would stop the orchestrator at
	// startup (config refuses it): the plan refuses it first.
	if ok := preconditionsHold(t, m.with(map[string]any{"four_eyes": true}), "aws_ecs_task_definition"); ok {
		t.Error("four_eyes without api_tokens passes the task definitions' preconditions")
	}
	if ok := preconditionsHold(t, prod, "aws_ecs_task_definition"); !ok {
		t.Error("four_eyes with api_tokens fails the task definitions' preconditions")
	}

	// A stopping worker's grace fits in its container's stop timeout.
	if !validates(t, m, "worker_grace_seconds", 100) || validates(t, m, "worker_grace_seconds", 101) {
		t.Error("worker_grace_seconds: want 100 accepted and 101 refused")
	}
	for _, td := range m.mustInstances(t, "aws_ecs_task_definition") {
		if td.key == string(service.Worker) {
			if stop, _ := asInt(mustContainers(t, td)[0]["stopTimeout"]); stop <= 100 {
				t.Errorf("%s: stopTimeout %d, want more than the largest worker_grace_seconds (100)", td.address(), stop)
			}
		}
	}
	for name, bad := range map[string]any{"log_level": "verbose", "db_max_conns": 0, "lease_seconds": 4, "worker_concurrency": 0, "body_idle_seconds": 0} {
		if validates(t, m, name, bad) {
			t.Errorf("%s = %v passes the variable's validation", name, bad)
		}
	}
}

// preconditionsHold evaluates the lifecycle preconditions of every
// instance of a resource type.
func preconditionsHold(t *testing.T, m *tfModule, typ string) bool {
	t.Helper()
	for _, in := range m.mustInstances(t, typ) {
		for _, lc := range in.blocks("lifecycle") {
			for _, pc := range lc.blocks("precondition") {
				c, ok := pc.attr("condition").(bool)
				if !ok {
					t.Fatalf("%s: precondition %v does not evaluate statically", in.address(), pc.attr("condition"))
				}
				if !c {
					return false
				}
			}
		}
	}
	return true
}

// validates reports whether every validation of a variable accepts value.
func validates(t *testing.T, m *tfModule, name string, value any) bool {
	t.Helper()
	v, ok := m.variables[name]
	if !ok {
		t.Fatalf("variable %q is missing", name)
	}
	s := m.with(map[string]any{name: value}).root()
	for _, b := range v.body.Blocks {
		if b.Type != "validation" {
			continue
		}
		c, ok := s.eval(b.Body.Attributes["condition"].Expr).(bool)
		if !ok {
			t.Fatalf("variable %q: validation does not evaluate statically", name)
		}
		if !c {
			return false
		}
	}
	return true
}

// TestTerraformWorkerSize checks that the workers' size has variables of
// its own, and the API services keep theirs.
func TestTerraformWorkerSize(t *testing.T) {
	m := mustLoadModule(t).with(map[string]any{"worker_cpu": 1024, "worker_memory": 2048})
	for _, td := range m.mustInstances(t, "aws_ecs_task_definition") {
		cpu, _ := asInt(td.attr("cpu"))
		mem, _ := asInt(td.attr("memory"))
		want := [2]int{256, 512}
		if td.key == string(service.Worker) {
			want = [2]int{1024, 2048}
		}
		if cpu != want[0] || mem != want[1] {
			t.Errorf("%s: cpu %d memory %d, want %d and %d", td.address(), cpu, mem, want[0], want[1])
		}
	}
}

// TestTerraformWorkerAutoscaling checks the worker's scalable target, its
// two step policies and the alarms that drive them against the metrics
// the orchestrator publishes (package queuemetric, from `serve
// orchestrator` with the namespace of its task definition).
func TestTerraformWorkerAutoscaling(t *testing.T) {
	m := mustLoadModule(t)
	for name, def := range map[string]any{
		"worker_autoscaling": true, "worker_min_count": 1, "worker_max_count": 8,
		"worker_scale_out_wait_seconds": 30, "worker_scale_in_idle_minutes": 15,
	} {
		if v, ok := m.variables[name]; !ok || !v.hasDefault || !reflect.DeepEqual(v.def, def) {
			t.Errorf("variable %s: want it declared with default %v", name, def)
		}
	}
	if validates(t, m, "worker_min_count", -1) || !validates(t, m, "worker_min_count", 0) || validates(t, m, "worker_max_count", 0) {
		t.Error("worker_min_count must accept 0 and refuse -1; worker_max_count must refuse 0")
	}

	targets := m.mustInstances(t, "aws_appautoscaling_target")
	if len(targets) != 1 {
		t.Fatalf("%d scalable targets, want 1 (the workers)", len(targets))
	}
	target := targets[0]
	if target.attr("service_namespace") != "ecs" || target.attr("scalable_dimension") != "ecs:service:DesiredCount" {
		t.Errorf("%s: %v %v, want ecs and ecs:service:DesiredCount", target.address(), target.attr("service_namespace"), target.attr("scalable_dimension"))
	}
	if got := target.attr("resource_id"); got != "service/${aws_ecs_cluster.main.name}/${aws_ecs_service.worker.name}" {
		t.Errorf("%s: resource_id %v, want the worker service of the cluster", target.address(), got)
	}
	if lo, _ := asInt(target.attr("min_capacity")); lo != 1 {
		t.Errorf("min_capacity %v, want worker_min_count (1)", target.attr("min_capacity"))
	}
	if hi, _ := asInt(target.attr("max_capacity")); hi != 8 {
		t.Errorf("max_capacity %v, want worker_max_count (8)", target.attr("max_capacity"))
	}
	if !preconditionsHold(t, m, "aws_appautoscaling_target") ||
		preconditionsHold(t, m.with(map[string]any{"worker_min_count": 9}), "aws_appautoscaling_target") {
		t.Error("the scalable target must refuse worker_min_count above worker_max_count")
	}
	for _, svc := range m.mustInstances(t, "aws_ecs_service") {
		if svc.res.name != "worker" {
			continue
		}
		lc, ok := svc.block("lifecycle")
		if !ok || !strings.Contains(exprText(lc.attr("ignore_changes")), "desired_count") {
			t.Errorf("%s: does not ignore changes of desired_count; every apply would undo the scaling", svc.address())
		}
	}

	orchEnv := serviceEnv(t, m)[service.Orchestrator]
	alarmFor := func(m *tfModule, policy tfInstance) tfInstance {
		t.Helper()
		var found []tfInstance
		for _, a := range m.mustInstances(t, "aws_cloudwatch_metric_alarm") {
			actions, _ := a.attr("alarm_actions").([]any)
			for _, act := range actions {
				if p, err := m.resolveAttr(act, "aws_appautoscaling_policy", "arn"); err == nil && p.address() == policy.address() {
					found = append(found, a)
				}
			}
		}
		if len(found) != 1 {
			t.Fatalf("%d alarms act on %s, want 1", len(found), policy.address())
		}
		a := found[0]
		if a.attr("namespace") != orchEnv[config.EnvMetricsNamespace] {
			t.Errorf("%s: namespace %v, want the orchestrator's %s %q", a.address(), a.attr("namespace"), config.EnvMetricsNamespace, orchEnv[config.EnvMetricsNamespace])
		}
		if dims := a.attr("dimensions"); !reflect.DeepEqual(dims, map[string]any{queuemetric.DimensionService: string(service.Orchestrator)}) {
			t.Errorf("%s: dimensions %v, want %s = %s as serve publishes them", a.address(), dims, queuemetric.DimensionService, service.Orchestrator)
		}
		if p, _ := asInt(a.attr("period")); time.Duration(p)*time.Second != queuemetric.DefaultInterval || a.attr("statistic") != "Maximum" {
			t.Errorf("%s: period %v statistic %v, want the publishing interval (%v) and Maximum", a.address(), a.attr("period"), a.attr("statistic"), queuemetric.DefaultInterval)
		}
		return a
	}
	policies := map[string]tfInstance{}
	for _, p := range m.mustInstances(t, "aws_appautoscaling_policy") {
		policies[p.res.name] = p
		if p.attr("policy_type") != "StepScaling" {
			t.Errorf("%s: policy_type %v, want StepScaling", p.address(), p.attr("policy_type"))
		}
		for _, a := range []string{"resource_id", "scalable_dimension", "service_namespace"} {
			if _, err := m.resolveAttr(p.attr(a), "aws_appautoscaling_target", a); err != nil {
				t.Errorf("%s: %s: %v", p.address(), a, err)
			}
		}
	}
	step := func(p tfInstance) (cfg, adj tfBody) {
		t.Helper()
		cfg, ok := p.block("step_scaling_policy_configuration")
		if !ok {
			t.Fatalf("%s: no step_scaling_policy_configuration", p.address())
		}
		steps := cfg.blocks("step_adjustment")
		if len(steps) != 1 {
			t.Fatalf("%s: %d step adjustments, want 1", p.address(), len(steps))
		}
		return cfg, steps[0]
	}

	// Out: while the oldest claimable task has waited 30 s or more, double
	// the workers, at least one more; no figure is no reason.
	out, ok := policies["worker_scale_out"]
	if !ok {
		t.Fatal("no worker_scale_out policy")
	}
	cfg, adj := step(out)
	if cfg.attr("adjustment_type") != "PercentChangeInCapacity" || adj.attr("scaling_adjustment") != 100 ||
		cfg.attr("min_adjustment_magnitude") != 1 || adj.attr("metric_interval_lower_bound") != 0 || adj.has("metric_interval_upper_bound") {
		t.Errorf("%s: want +100%% (at least 1) from the threshold up", out.address())
	}
	a := alarmFor(m, out)
	if a.attr("metric_name") != queuemetric.OldestQueuedTaskAge || a.attr("comparison_operator") != "GreaterThanOrEqualToThreshold" ||
		a.attr("threshold") != 30 || a.attr("evaluation_periods") != 1 || a.attr("treat_missing_data") != "notBreaching" {
		t.Errorf("%s: %v %v %v over %v periods, missing %v; want %s >= 30 for one minute, missing not breaching", a.address(),
			a.attr("metric_name"), a.attr("comparison_operator"), a.attr("threshold"), a.attr("evaluation_periods"), a.attr("treat_missing_data"), queuemetric.OldestQueuedTaskAge)
	}

	// In: once no task was open for 15 minutes, back to the minimum.
	in, ok := policies["worker_scale_in"]
	if !ok {
		t.Fatal("no worker_scale_in policy")
	}
	cfg, adj = step(in)
	if cfg.attr("adjustment_type") != "ExactCapacity" || adj.attr("scaling_adjustment") != 1 ||
		adj.attr("metric_interval_upper_bound") != 0 || adj.has("metric_interval_lower_bound") {
		t.Errorf("%s: want exactly worker_min_count (1) at or below the threshold", in.address())
	}
	a = alarmFor(m, in)
	if a.attr("metric_name") != queuemetric.QueueDepth || a.attr("comparison_operator") != "LessThanOrEqualToThreshold" ||
		a.attr("threshold") != 0 || a.attr("evaluation_periods") != 15 || a.attr("treat_missing_data") != "missing" {
		t.Errorf("%s: want %s <= 0 for 15 minutes, missing data missing", a.address(), queuemetric.QueueDepth)
	}
	if len(policies) != 2 || len(m.mustInstances(t, "aws_cloudwatch_metric_alarm")) != 2 {
		t.Errorf("%d policies and %d alarms, want 2 and 2", len(policies), len(m.mustInstances(t, "aws_cloudwatch_metric_alarm")))
	}

	// Off: no policy, no alarm, the count pinned at worker_desired_count.
	off := m.with(map[string]any{"worker_autoscaling": false, "worker_desired_count": 3})
	if n, k := len(off.mustInstances(t, "aws_appautoscaling_policy")), len(off.mustInstances(t, "aws_cloudwatch_metric_alarm")); n != 0 || k != 0 {
		t.Errorf("worker_autoscaling off: %d policies, %d alarms; want none", n, k)
	}
	pinned := off.mustInstances(t, "aws_appautoscaling_target")[0]
	if lo, _ := asInt(pinned.attr("min_capacity")); lo != 3 {
		t.Errorf("worker_autoscaling off: min_capacity %v, want worker_desired_count (3)", pinned.attr("min_capacity"))
	}
	if hi, _ := asInt(pinned.attr("max_capacity")); hi != 3 {
		t.Errorf("worker_autoscaling off: max_capacity %v, want worker_desired_count (3)", pinned.attr("max_capacity"))
	}
}
