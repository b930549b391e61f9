package deploy

import (
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// Static evaluation of Terraform expressions.
//
// A value is one of: nil, bool, string, int, float64, []any, map[string]any,
// or ref. Variables take their defaults (or the module's overrides), locals
// are evaluated where they are used, each/count/dynamic iterators are bound
// by the instance being looked at, and what only a provider knows (resource
// and data source attributes, functions Terraform has and cty does not)
// stays symbolic as a ref holding its canonical text, with the statically
// known parts substituted: `aws_ecr_repository.service["worker"].repository_url`.
// Inside a string template a ref shows as "${...}".
//
// jsonencode is transparent: its value is the structure it encodes, so a
// container definition reads as a list of objects.

// ref is an expression whose value only Terraform with a provider knows.
type ref string

// iterValue is the binding of each, or of a dynamic block's iterator.
type iterValue struct {
	key   any
	value any
}

// scope is what an expression can see.
type scope struct {
	m     *tfModule
	each  *iterValue
	count *int
	iters map[string]iterValue
	depth int
}

// maxDepth bounds the nesting of locals referring to locals.
const maxDepth = 64

// functions are the Terraform functions static evaluation knows; an
// expression calling any other stays a ref.
var functions = map[string]function.Function{
	"concat":     stdlib.ConcatFunc,
	"contains":   stdlib.ContainsFunc,
	"floor":      stdlib.FloorFunc,
	"format":     stdlib.FormatFunc,
	"join":       stdlib.JoinFunc,
	"jsonencode": stdlib.JSONEncodeFunc,
	"keys":       stdlib.KeysFunc,
	"length":     stdlib.LengthFunc,
	"lower":      stdlib.LowerFunc,
	"merge":      stdlib.MergeFunc,
	"split":      stdlib.SplitFunc,
	"tolist":     stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
	"tomap":      stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)),
	"toset":      stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
	"tostring":   stdlib.MakeToFunc(cty.String),
	"trimsuffix": stdlib.TrimSuffixFunc,
	"upper":      stdlib.UpperFunc,
	"values":     stdlib.ValuesFunc,
}

// eval evaluates an expression as far as it statically can.
func (s scope) eval(expr hclsyntax.Expression) any {
	if s.depth > maxDepth {
		return ref("<too deep: " + s.text(expr) + ">")
	}
	// jsonencode first, so that its structure stays visible even when all of
	// it is known.
	if fc, ok := expr.(*hclsyntax.FunctionCallExpr); ok && fc.Name == "jsonencode" && len(fc.Args) == 1 {
		return s.eval(fc.Args[0])
	}
	if v, ok := s.evalNative(expr); ok {
		return v
	}
	switch e := expr.(type) {
	case *hclsyntax.ParenthesesExpr:
		return s.eval(e.Expression)
	case *hclsyntax.TemplateWrapExpr:
		return s.eval(e.Wrapped)
	case *hclsyntax.TemplateExpr:
		var b strings.Builder
		for _, p := range e.Parts {
			b.WriteString(templateText(s.eval(p)))
		}
		return b.String()
	case *hclsyntax.ObjectConsExpr:
		out := make(map[string]any, len(e.Items))
		for _, item := range e.Items {
			key := hcl.ExprAsKeyword(item.KeyExpr)
			if key == "" {
				k, ok := s.eval(item.KeyExpr).(string)
				if !ok {
					return ref(s.text(expr))
				}
				key = k
			}
			out[key] = s.eval(item.ValueExpr)
		}
		return out
	case *hclsyntax.ObjectConsKeyExpr:
		return s.eval(e.Wrapped)
	case *hclsyntax.TupleConsExpr:
		out := make([]any, 0, len(e.Exprs))
		for _, x := range e.Exprs {
			out = append(out, s.eval(x))
		}
		return out
	case *hclsyntax.FunctionCallExpr:
		return s.evalCall(e)
	case *hclsyntax.ConditionalExpr:
		if c, ok := s.eval(e.Condition).(bool); ok {
			if c {
				return s.eval(e.TrueResult)
			}
			return s.eval(e.FalseResult)
		}
	case *hclsyntax.ScopeTraversalExpr:
		return s.traverse(e.Traversal)
	case *hclsyntax.RelativeTraversalExpr:
		return applyTraversal(s.eval(e.Source), e.Traversal)
	case *hclsyntax.IndexExpr:
		return index(s.eval(e.Collection), s.eval(e.Key))
	}
	return ref(s.text(expr))
}

// evalCall evaluates the functions whose arguments may hold refs: concat of
// lists, join of strings and merge of objects keep the known structure
// around the refs.
func (s scope) evalCall(e *hclsyntax.FunctionCallExpr) any {
	args := make([]any, len(e.Args))
	for i, a := range e.Args {
		args[i] = s.eval(a)
	}
	switch e.Name {
	case "concat":
		var out []any
		for _, a := range args {
			l, ok := a.([]any)
			if !ok {
				return ref(s.text(e))
			}
			out = append(out, l...)
		}
		if out == nil {
			out = []any{}
		}
		return out
	case "join":
		if len(args) != 2 {
			break
		}
		sep, ok := args[0].(string)
		list, lok := args[1].([]any)
		if !ok || !lok {
			break
		}
		parts := make([]string, len(list))
		for i, e := range list {
			parts[i] = templateText(e)
		}
		return strings.Join(parts, sep)
	case "merge":
		out := map[string]any{}
		for _, a := range args {
			o, ok := a.(map[string]any)
			if !ok {
				return ref(s.text(e))
			}
			for k, v := range o {
				out[k] = v
			}
		}
		return out
	}
	// Any other call: render it with its arguments evaluated, so that a
	// reference through each.key reads with the key.
	parts := make([]string, len(args))
	for i, a := range args {
		parts[i] = exprText(a)
	}
	return ref(e.Name + "(" + strings.Join(parts, ", ") + ")")
}

// evalNative evaluates an expression with HCL itself when every variable it
// uses is statically known; for expressions, operators and the functions
// above then behave exactly as in Terraform.
func (s scope) evalNative(expr hclsyntax.Expression) (any, bool) {
	vars := map[string]map[string]cty.Value{}
	set := func(root, attr string, v any) bool {
		cv, ok := toCty(v)
		if !ok {
			return false
		}
		if vars[root] == nil {
			vars[root] = map[string]cty.Value{}
		}
		vars[root][attr] = cv
		return true
	}
	for _, tr := range expr.Variables() {
		root := tr.RootName()
		switch root {
		case "var", "local", "each":
			if len(tr) < 2 {
				return nil, false
			}
			a, ok := tr[1].(hcl.TraverseAttr)
			if !ok {
				return nil, false
			}
			var v any
			switch root {
			case "var":
				v = s.variable(a.Name)
			case "local":
				v = s.local(a.Name)
			case "each":
				if s.each == nil {
					return nil, false
				}
				switch a.Name {
				case "key":
					v = s.each.key
				case "value":
					v = s.each.value
				default:
					return nil, false
				}
			}
			if !set(root, a.Name, v) {
				return nil, false
			}
		case "count":
			if s.count == nil || !set("count", "index", *s.count) {
				return nil, false
			}
		default:
			it, ok := s.iters[root]
			if !ok || !set(root, "key", it.key) || !set(root, "value", it.value) {
				return nil, false
			}
		}
	}
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{}, Functions: functions}
	for root, attrs := range vars {
		ctx.Variables[root] = cty.ObjectVal(attrs)
	}
	val, diags := expr.Value(ctx)
	if diags.HasErrors() || !val.IsWhollyKnown() {
		return nil, false
	}
	return fromCty(val), true
}

// traverse resolves a root traversal such as var.x, local.y.z, each.value.port
// or aws_lb.main.arn.
func (s scope) traverse(tr hcl.Traversal) any {
	root := tr.RootName()
	attrAt := func(i int) (string, bool) {
		if len(tr) <= i {
			return "", false
		}
		a, ok := tr[i].(hcl.TraverseAttr)
		return a.Name, ok
	}
	switch root {
	case "var", "local":
		name, ok := attrAt(1)
		if !ok {
			break
		}
		var v any
		if root == "var" {
			v = s.variable(name)
		} else {
			v = s.local(name)
		}
		return applyTraversal(v, tr[2:])
	case "each":
		name, ok := attrAt(1)
		if !ok || s.each == nil {
			break
		}
		switch name {
		case "key":
			return applyTraversal(s.each.key, tr[2:])
		case "value":
			return applyTraversal(s.each.value, tr[2:])
		}
	case "count":
		if name, ok := attrAt(1); ok && name == "index" && s.count != nil {
			return *s.count
		}
	default:
		if it, ok := s.iters[root]; ok {
			switch name, _ := attrAt(1); name {
			case "key":
				return applyTraversal(it.key, tr[2:])
			case "value":
				return applyTraversal(it.value, tr[2:])
			}
		}
	}
	return ref(traversalText(tr))
}

// variable is the value of var.name: its override, its default, or a ref
// when it has neither (a required variable).
func (s scope) variable(name string) any {
	if v, ok := s.m.overrides[name]; ok {
		return v
	}
	if v, ok := s.m.variables[name]; ok && v.hasDefault {
		return v.def
	}
	return ref("var." + name)
}

// local is the value of local.name, evaluated in the module's scope.
func (s scope) local(name string) any {
	e, ok := s.m.locals[name]
	if !ok {
		return ref("local." + name)
	}
	return scope{m: s.m, depth: s.depth + 1}.eval(e)
}

// text is the source text of an expression.
func (s scope) text(expr hclsyntax.Expression) string {
	rng := expr.Range()
	if src, ok := s.m.files[rng.Filename]; ok {
		return string(rng.SliceBytes(src))
	}
	return fmt.Sprintf("<expression at %s>", rng)
}

// applyTraversal follows attribute and index steps into a value; on a ref
// it extends the ref's text.
func applyTraversal(v any, steps hcl.Traversal) any {
	for _, step := range steps {
		switch st := step.(type) {
		case hcl.TraverseAttr:
			if r, ok := v.(ref); ok {
				v = ref(string(r) + "." + st.Name)
				continue
			}
			v = index(v, st.Name)
		case hcl.TraverseIndex:
			v = index(v, fromCty(st.Key))
		case hcl.TraverseSplat:
			if r, ok := v.(ref); ok {
				return ref(string(r) + "[*]")
			}
			return ref(exprText(v) + "[*]")
		}
	}
	return v
}

// index reads coll[key] (coll.key for an object attribute); on a ref it
// extends the ref's text with the key.
func index(coll, key any) any {
	switch c := coll.(type) {
	case ref:
		return ref(string(c) + "[" + renderKey(key) + "]")
	case map[string]any:
		if k, ok := key.(string); ok {
			if v, ok := c[k]; ok {
				return v
			}
		}
	case []any:
		if i, ok := asInt(key); ok && i >= 0 && i < len(c) {
			return c[i]
		}
	}
	return ref(fmt.Sprintf("<no %s in %s>", renderKey(key), exprText(coll)))
}

// renderKey renders an index key as HCL: "name" or 0.
func renderKey(k any) string {
	switch v := k.(type) {
	case string:
		return strconv.Quote(v)
	case ref:
		return string(v)
	default:
		return fmt.Sprint(v)
	}
}

// traversalText renders a traversal canonically: a.b["k"].c[0].
func traversalText(tr hcl.Traversal) string {
	var b strings.Builder
	for _, step := range tr {
		switch st := step.(type) {
		case hcl.TraverseRoot:
			b.WriteString(st.Name)
		case hcl.TraverseAttr:
			b.WriteString("." + st.Name)
		case hcl.TraverseIndex:
			b.WriteString("[" + renderKey(fromCty(st.Key)) + "]")
		case hcl.TraverseSplat:
			b.WriteString("[*]")
		}
	}
	return b.String()
}

// templateText is how a value shows inside a string template.
func templateText(v any) string {
	switch x := v.(type) {
	case ref:
		return "${" + string(x) + "}"
	case string:
		return x
	case nil:
		return ""
	default:
		return fmt.Sprint(x)
	}
}

// exprText renders a value back as an HCL expression (for refs built from
// function calls).
func exprText(v any) string {
	switch x := v.(type) {
	case ref:
		return string(x)
	case string:
		return strconv.Quote(x)
	case nil:
		return "null"
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = exprText(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		keys := sortedKeys(x)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + " = " + exprText(x[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	default:
		return fmt.Sprint(x)
	}
}

// fromCty converts a known cty value to the static representation.
func fromCty(v cty.Value) any {
	if v.IsNull() {
		return nil
	}
	if !v.IsKnown() {
		return ref("<unknown>")
	}
	t := v.Type()
	switch {
	case t == cty.String:
		return v.AsString()
	case t == cty.Bool:
		return v.True()
	case t == cty.Number:
		bf := v.AsBigFloat()
		if bf.IsInt() {
			if i, acc := bf.Int64(); acc == big.Exact {
				return int(i)
			}
		}
		f, _ := bf.Float64()
		return f
	case t.IsListType() || t.IsSetType() || t.IsTupleType():
		out := make([]any, 0, v.LengthInt())
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			out = append(out, fromCty(e))
		}
		return out
	case t.IsMapType() || t.IsObjectType():
		out := map[string]any{}
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			out[k.AsString()] = fromCty(e)
		}
		return out
	}
	return ref("<" + t.FriendlyName() + ">")
}

// toCty converts a static value without refs to cty.
func toCty(v any) (cty.Value, bool) {
	switch x := v.(type) {
	case nil:
		return cty.NullVal(cty.DynamicPseudoType), true
	case bool:
		return cty.BoolVal(x), true
	case string:
		return cty.StringVal(x), true
	case int:
		return cty.NumberIntVal(int64(x)), true
	case float64:
		return cty.NumberFloatVal(x), true
	case []any:
		if len(x) == 0 {
			return cty.EmptyTupleVal, true
		}
		elems := make([]cty.Value, len(x))
		for i, e := range x {
			c, ok := toCty(e)
			if !ok {
				return cty.NilVal, false
			}
			elems[i] = c
		}
		return cty.TupleVal(elems), true
	case map[string]any:
		if len(x) == 0 {
			return cty.EmptyObjectVal, true
		}
		attrs := make(map[string]cty.Value, len(x))
		for k, e := range x {
			c, ok := toCty(e)
			if !ok {
				return cty.NilVal, false
			}
			attrs[k] = c
		}
		return cty.ObjectVal(attrs), true
	}
	return cty.NilVal, false
}

// asInt reads an integral number.
func asInt(v any) (int, bool) {
	switch x := v.(type) {
	case int:
		return x, true
	case float64:
		if x == float64(int(x)) {
			return int(x), true
		}
	}
	return 0, false
}

// asStrings reads a list of strings.
func asStrings(v any) ([]string, bool) {
	l, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, len(l))
	for i, e := range l {
		s, ok := e.(string)
		if !ok {
			return nil, false
		}
		out[i] = s
	}
	return out, true
}

// refsIn lists every ref inside a value, sorted.
func refsIn(v any) []ref {
	var out []ref
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case ref:
			out = append(out, x)
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
