package deploy

import (
	"reflect"
	"testing"
)

// TestStaticEval checks the static evaluator on a small module whose values
// are worked out by hand.
func TestStaticEval(t *testing.T) {
	src := `
variable "env" {
  type    = string
  default = "dev"
}

variable "secret" {
  type      = string
  sensitive = true
}

variable "tls" {
  type    = bool
  default = false
}

locals {
  apps   = { a = { port = 1, web = true }, b = { port = 2, web = false } }
  web    = { for k, v in local.apps : k => v if v.web }
  prefix = "p-${var.env}"
  extra  = var.tls ? ["x"] : []
}

resource "aws_thing" "app" {
  for_each = local.apps

  name  = "${local.prefix}-${each.key}"
  port  = each.value.port + 1000
  peer  = aws_other.main[each.key].arn
  url   = "https://${aws_other.main[each.key].dns}:${each.value.port}/"
  list  = concat([aws_other.one.id], local.extra, ["y"])
  pw    = "u:${urlencode(var.secret)}@${aws_other.one.host}"
  line  = join(" ", ["a", "--env ${var.env}", aws_other.one.id])
  pick  = var.tls ? aws_other.tls[0].arn : aws_other.one.arn
  doc   = jsonencode([{ name = each.key, opts = merge({ a = 1 }, { b = aws_other.one.id }) }])
  splat = aws_other.many[*].id

  dynamic "rule" {
    for_each = each.value.web ? [80, 443] : []
    content {
      port = rule.value
    }
  }
}

resource "aws_other" "many" {
  count = var.tls ? 3 : 2
}
`
	m, err := parseModule(map[string][]byte{"t.tf": []byte(src)})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.root().local("web"); !reflect.DeepEqual(got, map[string]any{"a": map[string]any{"port": 1, "web": true}}) {
		t.Errorf("local.web = %#v", got)
	}
	insts, err := m.instances(m.resources["aws_thing.app"])
	if err != nil {
		t.Fatal(err)
	}
	if len(insts) != 2 || insts[0].key != "a" || insts[1].key != "b" {
		t.Fatalf("instances %v", insts)
	}
	a, b := insts[0], insts[1]
	want := map[string]any{
		"name":  "p-dev-a",
		"port":  1001,
		"peer":  ref(`aws_other.main["a"].arn`),
		"url":   `https://${aws_other.main["a"].dns}:1/`,
		"list":  []any{ref("aws_other.one.id"), "y"},
		"pw":    "u:${urlencode(var.secret)}@${aws_other.one.host}",
		"line":  "a --env dev ${aws_other.one.id}",
		"pick":  ref("aws_other.one.arn"),
		"doc":   []any{map[string]any{"name": "a", "opts": map[string]any{"a": 1, "b": ref("aws_other.one.id")}}},
		"splat": ref("aws_other.many[*].id"),
	}
	for name, w := range want {
		if got := a.attr(name); !reflect.DeepEqual(got, w) {
			t.Errorf("%s = %#v, want %#v", name, got, w)
		}
	}
	var ports []any
	for _, r := range a.blocks("rule") {
		ports = append(ports, r.attr("port"))
	}
	if !reflect.DeepEqual(ports, []any{80, 443}) {
		t.Errorf("a's dynamic rules have ports %v, want [80 443]", ports)
	}
	if n := len(b.blocks("rule")); n != 0 {
		t.Errorf("b has %d dynamic rules, want 0", n)
	}

	// Overriding a variable changes what depends on it.
	tls := m.with(map[string]any{"tls": true, "env": "prod"})
	ti, err := tls.instances(tls.resources["aws_thing.app"])
	if err != nil {
		t.Fatal(err)
	}
	if got := ti[0].attr("list"); !reflect.DeepEqual(got, []any{ref("aws_other.one.id"), "x", "y"}) {
		t.Errorf("with tls, list = %#v", got)
	}
	if got := ti[0].attr("pick"); got != ref("aws_other.tls[0].arn") {
		t.Errorf("with tls, pick = %#v", got)
	}
	if got := ti[0].attr("name"); got != "p-prod-a" {
		t.Errorf("with env=prod, name = %#v", got)
	}
	many, err := tls.instances(tls.resources["aws_other.many"])
	if err != nil || len(many) != 3 {
		t.Errorf("with tls, %d aws_other.many (%v), want 3", len(many), err)
	}

	// References resolve to the instance and attribute they read.
	in, attr, err := m.resolve(ref(`aws_thing.app["b"].port`))
	if err != nil || in.key != "b" || attr != "port" {
		t.Errorf("resolve: %v %q %v", in.address(), attr, err)
	}
	if _, _, err := m.resolve(ref(`aws_thing.app["c"].port`)); err == nil {
		t.Error("resolved an instance that does not exist")
	}
}
