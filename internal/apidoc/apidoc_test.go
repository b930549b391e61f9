package apidoc

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

func mustParse(t *testing.T) *Doc {
	t.Helper()
	d, err := Parse()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestDocumentIsWellFormed checks the document as OpenAPI 3.1 needs it:
// version, unique operation ids, every path parameter declared exactly
// where the template has it, every $ref resolving, every operation
// answering something, and only the schema keywords Validate knows.
func TestDocumentIsWellFormed(t *testing.T) {
	t.Parallel()
	d := mustParse(t)
	if d.root["openapi"] != "3.1.0" {
		t.Errorf("openapi = %v, want 3.1.0", d.root["openapi"])
	}
	ids := map[string]string{}
	templ := regexp.MustCompile(`\{([^}]+)\}`)
	for _, op := range d.Operations() {
		o, _ := d.Operation(op)
		id, _ := o["operationId"].(string)
		if id == "" {
			t.Errorf("%s: no operationId", op)
		} else if other, dup := ids[id]; dup {
			t.Errorf("%s: operationId %s already used by %s", op, id, other)
		}
		ids[id] = op
		if r, _ := o["responses"].(map[string]any); len(r) == 0 {
			t.Errorf("%s: no responses", op)
		}
		_, path, _ := strings.Cut(op, " ")
		var want []string
		for _, m := range templ.FindAllStringSubmatch(path, -1) {
			want = append(want, m[1])
		}
		var got []string
		params, _ := o["parameters"].([]any)
		for _, p := range params {
			pm, _ := p.(map[string]any)
			if ref, ok := pm["$ref"].(string); ok {
				r, err := d.Resolve(ref)
				if err != nil {
					t.Errorf("%s: %v", op, err)
					continue
				}
				pm, _ = r.(map[string]any)
			}
			if pm["in"] == "path" {
				got = append(got, pm["name"].(string))
				if pm["required"] != true {
					t.Errorf("%s: path parameter %v is not required", op, pm["name"])
				}
			}
		}
		sort.Strings(want)
		sort.Strings(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: path parameters declared %v, template has %v", op, got, want)
		}
	}
	var walk func(v any, where string, inSchema bool)
	walk = func(v any, where string, inSchema bool) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				if _, err := d.Resolve(ref); err != nil {
					t.Errorf("%s: %v", where, err)
				}
			}
			for k, e := range x {
				child := inSchema
				switch {
				case inSchema && k == "properties":
					for name, ps := range e.(map[string]any) {
						walk(ps, where+"/properties/"+name, true)
					}
					continue
				case inSchema && !slices.Contains(SchemaKeywords, k):
					t.Errorf("%s: schema keyword %q is not one Validate knows", where, k)
				case k == "schema" || k == "schemas":
					child = true
				}
				if k == "schemas" {
					for name, s := range e.(map[string]any) {
						walk(s, where+"/schemas/"+name, true)
					}
					continue
				}
				walk(e, where+"/"+k, child)
			}
		case []any:
			for _, e := range x {
				walk(e, where, inSchema)
			}
		}
	}
	walk(d.root, "#", false)
}

func TestValidate(t *testing.T) {
	t.Parallel()
	d := mustParse(t)
	const run = "#/components/schemas/RunRequest"
	good := `{"run_type":"SANDBOX","as_of_time":"2026-01-23T17:00:00Z","market_snapshot_id":"M","position_snapshot_id":"P",
		"measures":["PV"],"scenarios":["BASE",{"scenario_set_id":"S"}],"execution":{"hash_mod":8}}`
	if err := d.ValidateJSON(run, []byte(good)); err != nil {
		t.Errorf("a good run request: %v", err)
	}
	for _, c := range []struct{ doc, want string }{
		{`{"as_of_time":"2026-01-23T17:00:00Z","market_snapshot_id":"M","measures":["PV"],"scenarios":["BASE"]}`, `(document): member "run_type" is required`},
		{`{"run_type":"NIGHTLY","as_of_time":"2026-01-23T17:00:00Z","market_snapshot_id":"M","measures":["PV"],"scenarios":["BASE"]}`, `/run_type: NIGHTLY is not one of`},
		{`{"run_type":"SANDBOX","as_of_time":"yesterday","market_snapshot_id":"M","measures":["PV"],"scenarios":["BASE"]}`, `/as_of_time: "yesterday" is not an RFC 3339 time`},
		{`{"run_type":"SANDBOX","as_of_time":"2026-01-23T17:00:00Z","market_snapshot_id":"M","measures":[],"scenarios":["BASE"]}`, `/measures: has 0 items, want at least 1`},
		{`{"run_type":"SANDBOX","as_of_time":"2026-01-23T17:00:00Z","market_snapshot_id":"M","measures":["PV"],"scenarios":[7]}`, `/scenarios/0: matches 0 of the 2 alternatives`},
		{`{"run_type":"SANDBOX","as_of_time":"2026-01-23T17:00:00Z","market_snapshot_id":"M","measures":["PV"],"scenarios":["BASE"],"colour":1}`, `/colour: unknown member`},
		{`{"run_type":"SANDBOX","as_of_time":"2026-01-23T17:00:00Z","market_snapshot_id":"M","measures":["PV"],"scenarios":["BASE"],"execution":{"hash_mod":0.5}}`, `/execution/hash_mod: is a number, want integer`},
		{`{"run_type":"SANDBOX","as_of_time":"2026-01-23T17:00:00Z","market_snapshot_id":"M","measures":["PV"],"scenarios":["BASE"],"execution":{"hash_mod":5000}}`, `/execution/hash_mod: 5000 is above the maximum 4096`},
	} {
		err := d.ValidateJSON(run, []byte(c.doc))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.doc, err, c.want)
		}
	}
	// A measure value is a number or an object of numbers (or of objects of numbers).
	const mv = "#/components/schemas/MeasureValue"
	for doc, ok := range map[string]bool{`1.5`: true, `{"EUR":1,"GBP":-2}`: true, `{"USD-OIS":{"3M":0.1}}`: true, `"1.5"`: false, `{"EUR":"x"}`: false, `null`: false} {
		if err := d.ValidateJSON(mv, []byte(doc)); (err == nil) != ok {
			t.Errorf("measure value %s: %v, want valid %v", doc, err, ok)
		}
	}
}

// TestExamplesAreValid: each file of examples/ is valid under its request
// schema, and the schema is not a formality: the same file without a
// required member, or with a member the server does not know, is not.
func TestExamplesAreValid(t *testing.T) {
	t.Parallel()
	d := mustParse(t)
	for file, op := range map[string]string{
		"market.json": "POST /mkt/snapshots",
		"book.json":   "POST /orch/position-snapshots",
		"run.json":    "POST /orch/runs",
	} {
		raw, err := os.ReadFile(filepath.Join("..", "..", "examples", file))
		if err != nil {
			t.Fatal(err)
		}
		ref, ok := d.RequestSchema(op)
		if !ok {
			t.Fatalf("%s has no JSON request schema", op)
		}
		if err := d.ValidateJSON(ref, raw); err != nil {
			t.Errorf("examples/%s: %v", file, err)
		}
		var doc map[string]any
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		delete(doc, "as_of_time")
		doc["unknown_member"] = true
		err = d.Validate(ref, doc)
		if err == nil || !strings.Contains(err.Error(), `"as_of_time" is required`) || !strings.Contains(err.Error(), "/unknown_member: unknown member") {
			t.Errorf("examples/%s broken: %v", file, err)
		}
	}
}

func TestHandler(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/openapi.json", nil))
	res := rec.Result()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/json" || string(body) != string(Document()) {
		t.Errorf("GET /openapi.json: %d %s, %d bytes", res.StatusCode, res.Header.Get("Content-Type"), len(body))
	}
}
