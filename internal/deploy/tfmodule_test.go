package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// terraformDir is the Terraform root module, relative to this package.
const terraformDir = "../../terraform"

// tfModule is a parsed Terraform root module: its blocks indexed by kind and
// name, with the source of every file kept for rendering expressions.
type tfModule struct {
	files     map[string][]byte // file name -> source
	variables map[string]*tfVariable
	locals    map[string]hclsyntax.Expression
	resources map[string]*tfResource // "type.name"
	data      map[string]*tfResource // "type.name"
	outputs   map[string]*tfOutput
	// overrides replaces variable defaults, as -var would.
	overrides map[string]any
}

type tfVariable struct {
	name       string
	file       string
	body       *hclsyntax.Body
	hasDefault bool
	def        any // static value of the default
	sensitive  bool
}

type tfResource struct {
	typ, name string
	file      string
	body      *hclsyntax.Body
}

type tfOutput struct {
	name      string
	file      string
	body      *hclsyntax.Body
	sensitive bool
}

// mustLoadModule parses every *.tf file of terraformDir.
func mustLoadModule(tb testing.TB) *tfModule {
	tb.Helper()
	m, err := loadModule(terraformDir)
	if err != nil {
		tb.Fatalf("load terraform module: %v", err)
	}
	return m
}

func loadModule(dir string) (*tfModule, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("no .tf files in %s", dir)
	}
	sort.Strings(paths)
	files := make(map[string][]byte, len(paths))
	for _, path := range paths {
		src, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		files[filepath.Base(path)] = src
	}
	return parseModule(files)
}

// parseModule parses the files of a module, by file name.
func parseModule(files map[string][]byte) (*tfModule, error) {
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	m := &tfModule{
		files:     map[string][]byte{},
		variables: map[string]*tfVariable{},
		locals:    map[string]hclsyntax.Expression{},
		resources: map[string]*tfResource{},
		data:      map[string]*tfResource{},
		outputs:   map[string]*tfOutput{},
	}
	parser := hclparse.NewParser()
	for _, name := range names {
		src := files[name]
		f, diags := parser.ParseHCL(src, name)
		if diags.HasErrors() {
			return nil, fmt.Errorf("parse %s: %s", name, diags.Error())
		}
		m.files[name] = src
		body, ok := f.Body.(*hclsyntax.Body)
		if !ok {
			return nil, fmt.Errorf("%s: not native HCL syntax", name)
		}
		if err := m.addBlocks(name, body); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *tfModule) addBlocks(file string, body *hclsyntax.Body) error {
	if len(body.Attributes) > 0 {
		for name := range body.Attributes {
			return fmt.Errorf("%s: top-level attribute %q", file, name)
		}
	}
	for _, b := range body.Blocks {
		switch b.Type {
		case "terraform", "provider":
		case "variable":
			name := b.Labels[0]
			if _, dup := m.variables[name]; dup {
				return fmt.Errorf("%s: variable %q declared twice", file, name)
			}
			v := &tfVariable{name: name, file: file, body: b.Body}
			if a, ok := b.Body.Attributes["default"]; ok {
				val, diags := a.Expr.Value(nil)
				if diags.HasErrors() {
					return fmt.Errorf("%s: default of variable %q is not a constant: %s", file, name, diags.Error())
				}
				v.hasDefault = true
				v.def = fromCty(val)
			}
			if a, ok := b.Body.Attributes["sensitive"]; ok {
				val, diags := a.Expr.Value(nil)
				if diags.HasErrors() || val.Type() != cty.Bool {
					return fmt.Errorf("%s: sensitive of variable %q is not a bool", file, name)
				}
				v.sensitive = val.True()
			}
			m.variables[name] = v
		case "locals":
			for name, a := range b.Body.Attributes {
				if _, dup := m.locals[name]; dup {
					return fmt.Errorf("%s: local %q declared twice", file, name)
				}
				m.locals[name] = a.Expr
			}
		case "resource", "data":
			r := &tfResource{typ: b.Labels[0], name: b.Labels[1], file: file, body: b.Body}
			index := m.resources
			if b.Type == "data" {
				index = m.data
			}
			key := r.typ + "." + r.name
			if _, dup := index[key]; dup {
				return fmt.Errorf("%s: %s %s declared twice", file, b.Type, key)
			}
			index[key] = r
		case "output":
			name := b.Labels[0]
			if _, dup := m.outputs[name]; dup {
				return fmt.Errorf("%s: output %q declared twice", file, name)
			}
			o := &tfOutput{name: name, file: file, body: b.Body}
			if a, ok := b.Body.Attributes["sensitive"]; ok {
				val, diags := a.Expr.Value(nil)
				if diags.HasErrors() || val.Type() != cty.Bool {
					return fmt.Errorf("%s: sensitive of output %q is not a bool", file, name)
				}
				o.sensitive = val.True()
			}
			m.outputs[name] = o
		default:
			return fmt.Errorf("%s: unexpected top-level block %q", file, b.Type)
		}
	}
	return nil
}

// with returns a copy of the module whose variables take the given values.
func (m *tfModule) with(overrides map[string]any) *tfModule {
	c := *m
	c.overrides = map[string]any{}
	for k, v := range m.overrides {
		c.overrides[k] = v
	}
	for k, v := range overrides {
		c.overrides[k] = v
	}
	return &c
}

// root is the scope of module-level expressions (locals, outputs, resources
// without for_each or count).
func (m *tfModule) root() scope { return scope{m: m} }

// resourcesOfType lists the resources of one type, by name.
func (m *tfModule) resourcesOfType(typ string) []*tfResource {
	var out []*tfResource
	for _, r := range m.resources {
		if r.typ == typ {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// tfInstance is one instance of a resource: the only one, one key of its
// for_each, or one index of its count.
type tfInstance struct {
	res *tfResource
	key any // nil, string (for_each) or int (count)
	tfBody
}

// address renders the instance like Terraform does: type.name["key"] or type.name[0].
func (i tfInstance) address() string {
	a := i.res.typ + "." + i.res.name
	if i.key != nil {
		a += "[" + renderKey(i.key) + "]"
	}
	return a
}

// instances expands a resource's for_each or count under the module's variables.
func (m *tfModule) instances(r *tfResource) ([]tfInstance, error) {
	s := m.root()
	if a, ok := r.body.Attributes["for_each"]; ok {
		switch v := s.eval(a.Expr).(type) {
		case map[string]any:
			keys := sortedKeys(v)
			out := make([]tfInstance, 0, len(keys))
			for _, k := range keys {
				is := s
				is.each = &iterValue{key: k, value: v[k]}
				out = append(out, tfInstance{res: r, key: k, tfBody: tfBody{body: r.body, scope: is}})
			}
			return out, nil
		case []any: // a set of strings
			out := make([]tfInstance, 0, len(v))
			for _, e := range v {
				k, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("%s.%s: for_each set element %v is not a string", r.typ, r.name, e)
				}
				is := s
				is.each = &iterValue{key: k, value: k}
				out = append(out, tfInstance{res: r, key: k, tfBody: tfBody{body: r.body, scope: is}})
			}
			return out, nil
		default:
			return nil, fmt.Errorf("%s.%s: for_each does not evaluate statically (%v)", r.typ, r.name, v)
		}
	}
	if a, ok := r.body.Attributes["count"]; ok {
		n, ok := asInt(s.eval(a.Expr))
		if !ok {
			return nil, fmt.Errorf("%s.%s: count does not evaluate statically", r.typ, r.name)
		}
		out := make([]tfInstance, 0, n)
		for i := 0; i < n; i++ {
			is := s
			idx := i
			is.count = &idx
			out = append(out, tfInstance{res: r, key: i, tfBody: tfBody{body: r.body, scope: is}})
		}
		return out, nil
	}
	return []tfInstance{{res: r, tfBody: tfBody{body: r.body, scope: s}}}, nil
}

// mustInstances is instances for every resource of a type, failing the test
// on an expansion error.
func (m *tfModule) mustInstances(tb testing.TB, typ string) []tfInstance {
	tb.Helper()
	var out []tfInstance
	for _, r := range m.resourcesOfType(typ) {
		is, err := m.instances(r)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, is...)
	}
	return out
}

// resolve finds the instance a reference such as
// `aws_lb_target_group.service["results"].arn` points at, and the attribute
// it reads. It fails when v is not such a reference.
func (m *tfModule) resolve(v any) (tfInstance, string, error) {
	r, ok := v.(ref)
	if !ok {
		return tfInstance{}, "", fmt.Errorf("%v is not a resource reference", v)
	}
	tr, diags := hclsyntax.ParseTraversalAbs([]byte(r), "", hcl.InitialPos)
	if diags.HasErrors() {
		return tfInstance{}, "", fmt.Errorf("reference %s: %s", r, diags.Error())
	}
	if len(tr) < 2 {
		return tfInstance{}, "", fmt.Errorf("reference %s is too short", r)
	}
	typ := tr.RootName()
	nameStep, ok := tr[1].(hcl.TraverseAttr)
	if !ok {
		return tfInstance{}, "", fmt.Errorf("reference %s has no resource name", r)
	}
	res, ok := m.resources[typ+"."+nameStep.Name]
	if !ok {
		return tfInstance{}, "", fmt.Errorf("reference %s: no resource %s.%s", r, typ, nameStep.Name)
	}
	rest := tr[2:]
	var key any
	if len(rest) > 0 {
		if ix, ok := rest[0].(hcl.TraverseIndex); ok {
			key = fromCty(ix.Key)
			rest = rest[1:]
		}
	}
	var attr []string
	for _, step := range rest {
		a, ok := step.(hcl.TraverseAttr)
		if !ok {
			return tfInstance{}, "", fmt.Errorf("reference %s: unexpected index after the attribute", r)
		}
		attr = append(attr, a.Name)
	}
	insts, err := m.instances(res)
	if err != nil {
		return tfInstance{}, "", err
	}
	for _, in := range insts {
		if keysEqual(in.key, key) {
			return in, strings.Join(attr, "."), nil
		}
	}
	return tfInstance{}, "", fmt.Errorf("reference %s: %s has no instance %v", r, res.typ+"."+res.name, key)
}

func keysEqual(a, b any) bool {
	if ai, ok := asInt(a); ok {
		bi, ok := asInt(b)
		return ok && ai == bi
	}
	return a == b
}

// tfBody is a block body seen from a scope: the attributes and nested blocks
// of a resource instance, or of one of its blocks.
type tfBody struct {
	body  *hclsyntax.Body
	scope scope
}

// has reports whether the body sets the attribute.
func (b tfBody) has(name string) bool {
	_, ok := b.body.Attributes[name]
	return ok
}

// attr evaluates an attribute; nil when it is not set.
func (b tfBody) attr(name string) any {
	a, ok := b.body.Attributes[name]
	if !ok {
		return nil
	}
	return b.scope.eval(a.Expr)
}

// expr is the unevaluated expression of an attribute.
func (b tfBody) expr(name string) hclsyntax.Expression {
	a, ok := b.body.Attributes[name]
	if !ok {
		return nil
	}
	return a.Expr
}

// blocks lists the nested blocks of a type, with `dynamic` blocks of that
// type expanded over their for_each.
func (b tfBody) blocks(typ string) []tfBody {
	var out []tfBody
	for _, blk := range b.body.Blocks {
		switch {
		case blk.Type == typ:
			out = append(out, tfBody{body: blk.Body, scope: b.scope})
		case blk.Type == "dynamic" && len(blk.Labels) == 1 && blk.Labels[0] == typ:
			out = append(out, b.expandDynamic(blk)...)
		}
	}
	return out
}

// block is the only nested block of a type, or ok=false.
func (b tfBody) block(typ string) (tfBody, bool) {
	bs := b.blocks(typ)
	if len(bs) != 1 {
		return tfBody{}, false
	}
	return bs[0], true
}

func (b tfBody) expandDynamic(blk *hclsyntax.Block) []tfBody {
	iter := blk.Labels[0]
	if a, ok := blk.Body.Attributes["iterator"]; ok {
		if kw := hcl.ExprAsKeyword(a.Expr); kw != "" {
			iter = kw
		}
	}
	var content *hclsyntax.Body
	for _, c := range blk.Body.Blocks {
		if c.Type == "content" {
			content = c.Body
		}
	}
	fe, ok := blk.Body.Attributes["for_each"]
	if !ok || content == nil {
		return nil
	}
	var items []iterValue
	switch v := b.scope.eval(fe.Expr).(type) {
	case []any:
		for i, e := range v {
			items = append(items, iterValue{key: i, value: e})
		}
	case map[string]any:
		for _, k := range sortedKeys(v) {
			items = append(items, iterValue{key: k, value: v[k]})
		}
	default:
		// Not statically known: the block's expansion cannot be checked,
		// and a test asking for it sees none.
		return nil
	}
	out := make([]tfBody, 0, len(items))
	for _, it := range items {
		s := b.scope
		s.iters = map[string]iterValue{}
		for k, v := range b.scope.iters {
			s.iters[k] = v
		}
		s.iters[iter] = it
		out = append(out, tfBody{body: content, scope: s})
	}
	return out
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
