package marketdata

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/apperr"
)

// testNow is the server clock of the tests.
var testNow = time.Date(2026, 1, 24, 12, 0, 0, 0, time.UTC)

// validDoc returns a snapshot that passes every check, as a JSON tree the
// tests mutate.
func validDoc() map[string]any {
	return map[string]any{
		"snapshot_id": "MKT-T-1",
		"as_of_time":  "2026-01-23T17:00:00Z",
		"vendor":      "TEST",
		"universe_id": "USD",
		"fx_spots": []any{
			map[string]any{"pair": "EURUSD", "spot": 1.0842, "ts": "2026-01-23T16:59:30Z"},
			map[string]any{"pair": "GBPUSD", "spot": 1.27},
		},
		"curves": []any{
			map[string]any{"curve_id": "USD-OIS", "curve_type": "DISCOUNT", "nodes": []any{
				map[string]any{"tenor": "ON", "zero_rate": 0.039},
				map[string]any{"tenor": "1M", "zero_rate": 0.04},
				map[string]any{"tenor": "1Y", "zero_rate": 0.0415},
			}},
			map[string]any{"curve_id": "LOAN-SPREAD", "curve_type": "SPREAD", "nodes": []any{
				map[string]any{"tenor": "1Y", "zero_rate": 0.012},
				map[string]any{"tenor": "5Y", "zero_rate": 0.014},
			}},
		},
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// curve returns curve i of a validDoc tree.
func curve(doc map[string]any, i int) map[string]any {
	return doc["curves"].([]any)[i].(map[string]any)
}

func node(doc map[string]any, c, n int) map[string]any {
	return curve(doc, c)["nodes"].([]any)[n].(map[string]any)
}

func spot(doc map[string]any, i int) map[string]any {
	return doc["fx_spots"].([]any)[i].(map[string]any)
}

// checkBody decodes and checks a body the way the service does.
func checkBody(t *testing.T, body []byte) []Issue {
	t.Helper()
	d, err := decodeSnapshot(body)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return check(&d.doc, d.asOf, testNow, DefaultFutureTolerance)
}

type want struct{ severity, code, pointer string }

func issuesOf(issues []Issue) []want {
	out := []want{}
	for _, is := range issues {
		out = append(out, want{is.Severity, is.Code, is.Pointer})
	}
	return out
}

func TestValidDocPasses(t *testing.T) {
	issues := checkBody(t, mustJSON(t, validDoc()))
	if len(issues) != 0 {
		t.Fatalf("issues %+v", issues)
	}
}

// TestCompatFixturesOnlyWarnOfFlatSpreads: the compat fixtures are sound
// but quote their spread curves with one node each, which SPEC §1 makes a
// WARN (usable by a run), and nothing else.
func TestCompatFixturesOnlyWarnOfFlatSpreads(t *testing.T) {
	for name, flat := range map[string][]string{
		"market_snapshot_demo.json":    {"/curves/2/nodes"},
		"marketdata_snapshot_eod.json": {"/curves/2/nodes", "/curves/3/nodes"},
	} {
		body, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		issues := checkBody(t, body)
		if len(issues) != len(flat) {
			t.Errorf("%s: issues %+v, want one SINGLE_NODE_CURVE warning at each of %v", name, issues, flat)
			continue
		}
		for i, is := range issues {
			if is.Severity != SeverityWarn || is.Code != CodeSingleNodeCurve || is.Pointer != flat[i] {
				t.Errorf("%s: issue %d is %+v, want WARN SINGLE_NODE_CURVE at %s", name, i, is, flat[i])
			}
		}
	}
}

// TestQualityRules has one case per data-quality rule.
func TestQualityRules(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(d map[string]any)
		raw    func(body string) string // edits the JSON text, for literals json.Marshal cannot write
		want   []want
	}{
		{
			name:   "curve without nodes",
			mutate: func(d map[string]any) { curve(d, 0)["nodes"] = []any{} },
			want:   []want{{"FAIL", CodeEmptyCurve, "/curves/0/nodes"}},
		},
		{
			name:   "tenor that does not parse",
			mutate: func(d map[string]any) { node(d, 0, 1)["tenor"] = "1X" },
			want:   []want{{"FAIL", CodeInvalidTenor, "/curves/0/nodes/1/tenor"}},
		},
		{
			name:   "zero count tenor",
			mutate: func(d map[string]any) { node(d, 0, 1)["tenor"] = "0M" },
			want:   []want{{"FAIL", CodeInvalidTenor, "/curves/0/nodes/1/tenor"}},
		},
		{
			name:   "lower-case tenor",
			mutate: func(d map[string]any) { node(d, 0, 1)["tenor"] = "1m" },
			want:   []want{{"FAIL", CodeInvalidTenor, "/curves/0/nodes/1/tenor"}},
		},
		{
			name:   "tenor twice",
			mutate: func(d map[string]any) { node(d, 0, 2)["tenor"] = "1M" },
			want:   []want{{"FAIL", CodeDuplicateTenor, "/curves/0/nodes/2/tenor"}},
		},
		{
			name:   "12M and 1Y are one point",
			mutate: func(d map[string]any) { node(d, 0, 1)["tenor"] = "12M" },
			want:   []want{{"FAIL", CodeDuplicateTenor, "/curves/0/nodes/2/tenor"}},
		},
		{
			name:   "365D and 1Y are one point",
			mutate: func(d map[string]any) { node(d, 0, 1)["tenor"] = "365D" },
			want:   []want{{"FAIL", CodeDuplicateTenor, "/curves/0/nodes/2/tenor"}},
		},
		{
			name:   "7D and 1W are not",
			mutate: func(d map[string]any) { node(d, 0, 0)["tenor"] = "7D"; node(d, 0, 1)["tenor"] = "1W" },
			want:   []want{},
		},
		{
			name:   "curve id twice",
			mutate: func(d map[string]any) { curve(d, 1)["curve_id"] = "USD-OIS"; curve(d, 1)["curve_type"] = "DISCOUNT" },
			want: []want{
				{"FAIL", CodeDuplicateCurve, "/curves/1/curve_id"},
			},
		},
		{
			name: "non-finite rate",
			raw:  func(b string) string { return strings.Replace(b, `"zero_rate":0.04}`, `"zero_rate":1e400}`, 1) },
			want: []want{{"FAIL", CodeNonFiniteRate, "/curves/0/nodes/1/zero_rate"}},
		},
		{
			name: "negative non-finite rate",
			raw:  func(b string) string { return strings.Replace(b, `"zero_rate":0.04}`, `"zero_rate":-2.5E+999}`, 1) },
			want: []want{{"FAIL", CodeNonFiniteRate, "/curves/0/nodes/1/zero_rate"}},
		},
		{
			name:   "zero spot",
			mutate: func(d map[string]any) { spot(d, 1)["spot"] = 0 },
			want:   []want{{"FAIL", CodeInvalidSpot, "/fx_spots/1/spot"}},
		},
		{
			name:   "negative spot",
			mutate: func(d map[string]any) { spot(d, 0)["spot"] = -1.08 },
			want:   []want{{"FAIL", CodeInvalidSpot, "/fx_spots/0/spot"}},
		},
		{
			name: "non-finite spot",
			raw:  func(b string) string { return strings.Replace(b, `"spot":1.27`, `"spot":1e309`, 1) },
			want: []want{{"FAIL", CodeInvalidSpot, "/fx_spots/1/spot"}},
		},
		{
			name:   "FX pair twice",
			mutate: func(d map[string]any) { spot(d, 1)["pair"] = "EURUSD" },
			want:   []want{{"FAIL", CodeDuplicateFXPair, "/fx_spots/1/pair"}},
		},
		{
			name:   "rate above 30%",
			mutate: func(d map[string]any) { node(d, 0, 2)["zero_rate"] = 0.3000001 },
			want:   []want{{"WARN", CodeRateOutOfRange, "/curves/0/nodes/2/zero_rate"}},
		},
		{
			name:   "rate below -5%",
			mutate: func(d map[string]any) { node(d, 0, 0)["zero_rate"] = -0.0500001 },
			want:   []want{{"WARN", CodeRateOutOfRange, "/curves/0/nodes/0/zero_rate"}},
		},
		{
			name:   "bounds included",
			mutate: func(d map[string]any) { node(d, 0, 0)["zero_rate"] = -0.05; node(d, 0, 2)["zero_rate"] = 0.30 },
			want:   []want{},
		},
		{
			name:   "negative spread by type",
			mutate: func(d map[string]any) { node(d, 1, 0)["zero_rate"] = -0.001 },
			want:   []want{{"WARN", CodeNegativeSpread, "/curves/1/nodes/0/zero_rate"}},
		},
		{
			name: "negative spread by id suffix",
			mutate: func(d map[string]any) {
				curve(d, 1)["curve_type"] = "OTHER"
				curve(d, 1)["nodes"] = []any{
					map[string]any{"tenor": "1Y", "zero_rate": 0.01},
					map[string]any{"tenor": "2Y", "zero_rate": -0.002},
				}
			},
			want: []want{{"WARN", CodeNegativeSpread, "/curves/1/nodes/1/zero_rate"}},
		},
		{
			name:   "negative rate on a discount curve is no spread",
			mutate: func(d map[string]any) { node(d, 0, 0)["zero_rate"] = -0.004 },
			want:   []want{},
		},
		{
			name:   "negative spread below -5% gets both warnings",
			mutate: func(d map[string]any) { node(d, 1, 0)["zero_rate"] = -0.06 },
			want: []want{
				{"WARN", CodeRateOutOfRange, "/curves/1/nodes/0/zero_rate"},
				{"WARN", CodeNegativeSpread, "/curves/1/nodes/0/zero_rate"},
			},
		},
		{
			name: "single-node discount curve",
			mutate: func(d map[string]any) {
				curve(d, 0)["nodes"] = []any{map[string]any{"tenor": "1Y", "zero_rate": 0.04}}
			},
			want: []want{{"WARN", CodeSingleNodeCurve, "/curves/0/nodes"}},
		},
		{
			name:   "as_of_time more than a day ahead",
			mutate: func(d map[string]any) { d["as_of_time"] = "2026-01-25T12:00:01Z" },
			want:   []want{{"WARN", CodeAsOfInFuture, "/as_of_time"}},
		},
		{
			name:   "as_of_time exactly a day ahead",
			mutate: func(d map[string]any) { d["as_of_time"] = "2026-01-25T13:00:00+01:00" },
			want:   []want{},
		},
		{
			name: "several problems in document order",
			mutate: func(d map[string]any) {
				d["as_of_time"] = "2027-01-01T00:00:00Z"
				spot(d, 0)["spot"] = 0
				node(d, 0, 0)["tenor"] = "XX"
				node(d, 0, 2)["zero_rate"] = 0.5
				node(d, 1, 0)["zero_rate"] = -0.01
			},
			want: []want{
				{"WARN", CodeAsOfInFuture, "/as_of_time"},
				{"FAIL", CodeInvalidSpot, "/fx_spots/0/spot"},
				{"FAIL", CodeInvalidTenor, "/curves/0/nodes/0/tenor"},
				{"WARN", CodeRateOutOfRange, "/curves/0/nodes/2/zero_rate"},
				{"WARN", CodeNegativeSpread, "/curves/1/nodes/0/zero_rate"},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := validDoc()
			if tc.mutate != nil {
				tc.mutate(d)
			}
			body := string(mustJSON(t, d))
			if tc.raw != nil {
				edited := tc.raw(body)
				if edited == body {
					t.Fatal("raw edit did not apply")
				}
				body = edited
			}
			issues := checkBody(t, []byte(body))
			if got := issuesOf(issues); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("issues %+v\nwant %+v", got, tc.want)
			}
			for _, is := range issues {
				if is.Source != SourceServer || is.Detail == "" {
					t.Errorf("issue %+v: want source server and a detail", is)
				}
			}
		})
	}
}

func TestDuplicateTenorDetailNamesTheFirst(t *testing.T) {
	d := validDoc()
	node(d, 0, 1)["tenor"] = "12M"
	issues := checkBody(t, mustJSON(t, d))
	if len(issues) != 1 || !strings.Contains(issues[0].Detail, "12M") || !strings.Contains(issues[0].Detail, "/curves/0/nodes/1") {
		t.Fatalf("issues %+v", issues)
	}
}

func TestStatus(t *testing.T) {
	if got := Worse(StatusPass, StatusWarn); got != StatusWarn {
		t.Error(got)
	}
	if got := Worse(StatusFail, StatusWarn); got != StatusFail {
		t.Error(got)
	}
	if got := Worse(StatusPass, StatusPass); got != StatusPass {
		t.Error(got)
	}
	if got := StatusOf(nil); got != StatusPass {
		t.Error(got)
	}
	if got := StatusOf([]Issue{{Severity: SeverityInfo}, {Severity: SeverityWarn}}); got != StatusWarn {
		t.Error(got)
	}
	if got := StatusOf([]Issue{{Severity: SeverityWarn}, {Severity: SeverityFail}, {Severity: SeverityWarn}}); got != StatusFail {
		t.Error(got)
	}
}

func TestClientIssues(t *testing.T) {
	d := validDoc()
	d["quality"] = map[string]any{"dq_status": "WARN", "issues": []any{
		map[string]any{"severity": "warn", "code": "STALE_SPOT", "detail": "EURUSD is 2h old", "extra": []any{1}},
		"curve USD-OIS interpolated at 7Y",
		map[string]any{"message": "note", "severity": 3},
	}}
	dec, err := decodeSnapshot(mustJSON(t, d))
	if err != nil {
		t.Fatal(err)
	}
	got := dec.client
	want := []Issue{
		{Severity: "WARN", Code: "STALE_SPOT", Pointer: "/quality/issues/0", Detail: "EURUSD is 2h old", Source: "client",
			Reported: json.RawMessage(`{"code":"STALE_SPOT","detail":"EURUSD is 2h old","extra":[1],"severity":"warn"}`)},
		{Severity: "INFO", Code: CodeClientReported, Pointer: "/quality/issues/1", Detail: "curve USD-OIS interpolated at 7Y", Source: "client",
			Reported: json.RawMessage(`"curve USD-OIS interpolated at 7Y"`)},
		{Severity: "INFO", Code: CodeClientReported, Pointer: "/quality/issues/2", Detail: "note", Source: "client",
			Reported: json.RawMessage(`{"message":"note","severity":3}`)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
}

// problemsOf decodes a body that must be refused and returns its
// problems' pointers.
func problemsOf(t *testing.T, body string) []apperr.FieldError {
	t.Helper()
	_, err := decodeSnapshot([]byte(body))
	ae, ok := apperr.As(err)
	if !ok || ae.Code != apperr.Invalid {
		t.Fatalf("decode %s: err %v, want Invalid", body, err)
	}
	return ae.Fields
}

func pointers(fs []apperr.FieldError) []string {
	out := []string{}
	for _, f := range fs {
		out = append(out, f.Pointer)
	}
	return out
}

func TestDecodeRefusals(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(d map[string]any)
		raw    func(body string) string
		want   []string
	}{
		{name: "unknown top-level member", mutate: func(d map[string]any) { d["extra"] = 1 }, want: []string{"/extra"}},
		{name: "unknown nested member", mutate: func(d map[string]any) { node(d, 0, 1)["rate"] = 0.04 }, want: []string{"/curves/0/nodes/1/rate"}},
		{name: "missing snapshot_id", mutate: func(d map[string]any) { delete(d, "snapshot_id") }, want: []string{"/snapshot_id"}},
		{name: "empty snapshot_id", mutate: func(d map[string]any) { d["snapshot_id"] = "" }, want: []string{"/snapshot_id"}},
		{name: "snapshot_id with a slash", mutate: func(d map[string]any) { d["snapshot_id"] = "A/B" }, want: []string{"/snapshot_id"}},
		{name: "snapshot_id too long", mutate: func(d map[string]any) { d["snapshot_id"] = strings.Repeat("X", 129) }, want: []string{"/snapshot_id"}},
		{name: "null snapshot_id", mutate: func(d map[string]any) { d["snapshot_id"] = nil }, want: []string{"/snapshot_id"}},
		{name: "missing as_of_time", mutate: func(d map[string]any) { delete(d, "as_of_time") }, want: []string{"/as_of_time"}},
		{name: "as_of_time not RFC 3339", mutate: func(d map[string]any) { d["as_of_time"] = "2026-01-23" }, want: []string{"/as_of_time"}},
		{name: "as_of_time before 1900", mutate: func(d map[string]any) { d["as_of_time"] = "0001-01-01T00:00:00Z" }, want: []string{"/as_of_time"}},
		{name: "missing vendor and universe", mutate: func(d map[string]any) { delete(d, "vendor"); delete(d, "universe_id") }, want: []string{"/vendor", "/universe_id"}},
		{name: "missing fx_spots", mutate: func(d map[string]any) { delete(d, "fx_spots") }, want: []string{"/fx_spots"}},
		{name: "missing curves", mutate: func(d map[string]any) { delete(d, "curves") }, want: []string{"/curves"}},
		{name: "curves not a list", mutate: func(d map[string]any) { d["curves"] = map[string]any{} }, want: []string{"/curves"}},
		{name: "rate as a string", mutate: func(d map[string]any) { node(d, 0, 0)["zero_rate"] = "0.04" }, want: []string{"/curves/0/nodes/0/zero_rate"}},
		{name: "spot as a boolean", mutate: func(d map[string]any) { spot(d, 0)["spot"] = true }, want: []string{"/fx_spots/0/spot"}},
		{name: "tenor as a number", mutate: func(d map[string]any) { node(d, 0, 2)["tenor"] = 12 }, want: []string{"/curves/0/nodes/2/tenor"}},
		{name: "missing node members", mutate: func(d map[string]any) { curve(d, 0)["nodes"].([]any)[1] = map[string]any{} },
			want: []string{"/curves/0/nodes/1/tenor", "/curves/0/nodes/1/zero_rate"}},
		{name: "null node", mutate: func(d map[string]any) { curve(d, 0)["nodes"].([]any)[1] = nil }, want: []string{"/curves/0/nodes/1"}},
		{name: "missing curve members", mutate: func(d map[string]any) { d["curves"].([]any)[1] = map[string]any{} },
			want: []string{"/curves/1/curve_id", "/curves/1/curve_type", "/curves/1/nodes"}},
		{name: "missing spot members", mutate: func(d map[string]any) { d["fx_spots"].([]any)[0] = map[string]any{"ts": "yesterday"} },
			want: []string{"/fx_spots/0/pair", "/fx_spots/0/spot", "/fx_spots/0/ts"}},
		{name: "bad client status", mutate: func(d map[string]any) { d["quality"] = map[string]any{"dq_status": "OK"} }, want: []string{"/quality/dq_status"}},
		{name: "client status missing", mutate: func(d map[string]any) { d["quality"] = map[string]any{"issues": []any{}} }, want: []string{"/quality/dq_status"}},
		{name: "member twice", raw: func(b string) string {
			return strings.Replace(b, `"vendor":"TEST"`, `"vendor":"TEST","vendor":"OTHER"`, 1)
		},
			want: []string{"/vendor"}},
		{name: "invalid UTF-8", raw: func(b string) string { return strings.Replace(b, `"TEST"`, "\"T\xffST\"", 1) }, want: []string{"/vendor"}},
		{
			name: "every problem at once",
			mutate: func(d map[string]any) {
				delete(d, "as_of_time")
				d["surprise"] = true
				node(d, 0, 0)["zero_rate"] = "abc"
				curve(d, 1)["nodes"] = "none"
				spot(d, 1)["colour"] = "red"
				delete(spot(d, 0), "pair")
			},
			want: []string{"/as_of_time", "/fx_spots/0/pair", "/fx_spots/1/colour", "/curves/0/nodes/0/zero_rate", "/curves/1/nodes", "/surprise"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := validDoc()
			if tc.mutate != nil {
				tc.mutate(d)
			}
			body := string(mustJSON(t, d))
			if tc.raw != nil {
				body = tc.raw(body)
			}
			fs := problemsOf(t, body)
			if got := pointers(fs); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("pointers %q, want %q (%+v)", got, tc.want, fs)
			}
			for _, f := range fs {
				if f.Detail == "" {
					t.Errorf("problem at %s has no detail", f.Pointer)
				}
			}
		})
	}
}

func TestDecodeMalformed(t *testing.T) {
	for _, body := range []string{``, `{`, `[]`, `{"snapshot_id":"A"} x`, `nul`} {
		_, err := decodeSnapshot([]byte(body))
		ae, ok := apperr.As(err)
		if !ok || ae.Code != apperr.Invalid || len(ae.Fields) == 0 {
			t.Errorf("%q: err %v, want Invalid with a problem", body, err)
		}
	}
}

func TestHashIgnoresFormatting(t *testing.T) {
	a := `{"snapshot_id":"H","as_of_time":"2026-01-23T00:00:00Z","vendor":"V","universe_id":"U","fx_spots":[],"curves":[{"curve_id":"USD-OIS","curve_type":"DISCOUNT","nodes":[{"tenor":"1Y","zero_rate":0.04},{"tenor":"2Y","zero_rate":0.041}]}]}`
	b := "{ \"curves\": [ { \"nodes\": [ {\"zero_rate\": 4.0e-2, \"tenor\": \"1Y\"}, {\"zero_rate\": 0.0410, \"tenor\": \"2\\u0059\"} ],\n \"curve_type\": \"DISCOUNT\", \"curve_id\": \"USD-OIS\" } ],\n \"fx_spots\": [], \"universe_id\": \"U\", \"vendor\": \"V\", \"as_of_time\": \"2026-01-23T00:00:00Z\", \"snapshot_id\": \"H\" }"
	da, err := decodeSnapshot([]byte(a))
	if err != nil {
		t.Fatal(err)
	}
	db, err := decodeSnapshot([]byte(b))
	if err != nil {
		t.Fatal(err)
	}
	// The canonical form, written out by hand: members sorted, no spaces.
	const canonical = `{"as_of_time":"2026-01-23T00:00:00Z","curves":[{"curve_id":"USD-OIS","curve_type":"DISCOUNT","nodes":[{"tenor":"1Y","zero_rate":0.04},{"tenor":"2Y","zero_rate":0.041}]}],"fx_spots":[],"snapshot_id":"H","universe_id":"U","vendor":"V"}`
	if string(da.canonical) != canonical || string(db.canonical) != canonical {
		t.Fatalf("canonical forms\n%s\n%s\nwant\n%s", da.canonical, db.canonical, canonical)
	}
	if da.hash != db.hash || da.hash != sha256Hex(canonical) {
		t.Fatalf("hashes %s %s, want %s", da.hash, db.hash, sha256Hex(canonical))
	}
}

func TestNonFiniteKeptInPayload(t *testing.T) {
	d := validDoc()
	body := strings.Replace(string(mustJSON(t, d)), `"zero_rate":0.04}`, `"zero_rate":10e399}`, 1)
	dec, err := decodeSnapshot([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(dec.canonical), `"zero_rate":1e+400`) {
		t.Fatalf("canonical payload %s", dec.canonical)
	}
	if _, err := LoadMarketData(dec.canonical); err == nil {
		t.Fatal("LoadMarketData accepted a non-finite rate")
	}
}

func TestLoadMarketData(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("testdata", "marketdata_snapshot_eod.json"))
	if err != nil {
		t.Fatal(err)
	}
	dec, err := decodeSnapshot(body)
	if err != nil {
		t.Fatal(err)
	}
	md, err := LoadMarketData(dec.canonical)
	if err != nil {
		t.Fatal(err)
	}
	if md.SnapshotID != "MDS-20260123-1700Z" || !md.AsOfTime.Equal(time.Date(2026, 1, 23, 17, 0, 0, 0, time.UTC)) ||
		len(md.Curves) != 4 || len(md.FXSpots) != 1 || md.FXSpots[0].Spot != 1.0842 || md.Curves[0].Nodes[6].ZeroRate != 0.044 {
		t.Fatalf("market data %+v", md)
	}
	m, err := LoadMarket(dec.canonical)
	if err != nil {
		t.Fatal(err)
	}
	// Linear in the zero rate between 1Y (4.15%) and 2Y (4.2%): 4.175% at 1.5Y.
	if r, ok := m.ZeroRate("USD-OIS", 1.5); !ok || abs(r-0.04175) > 1e-15 {
		t.Fatalf("zero rate at 1.5Y = %v, %v", r, ok)
	}
	if _, err := LoadMarketData([]byte(`{"curves":`)); err == nil || errors.Unwrap(err) == nil {
		t.Fatalf("truncated payload: err %v", err)
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestProblemsAreCapped(t *testing.T) {
	d := validDoc()
	nodes := make([]any, 250)
	for i := range nodes {
		nodes[i] = map[string]any{"tenor": fmt.Sprintf("%dM", i+1)} // zero_rate missing
	}
	curve(d, 0)["nodes"] = nodes
	fs := problemsOf(t, string(mustJSON(t, d)))
	if len(fs) != MaxProblems+1 {
		t.Fatalf("%d problems, want %d", len(fs), MaxProblems+1)
	}
	if fs[0].Pointer != "/curves/0/nodes/0/zero_rate" || fs[MaxProblems-1].Pointer != "/curves/0/nodes/99/zero_rate" {
		t.Fatalf("first %s, last listed %s", fs[0].Pointer, fs[MaxProblems-1].Pointer)
	}
	if last := fs[MaxProblems]; last.Pointer != "" || last.Detail != "150 more problems not listed" {
		t.Fatalf("last %+v", last)
	}
}

func FuzzDecodeSnapshot(f *testing.F) {
	seed, err := os.ReadFile(filepath.Join("testdata", "market_snapshot_demo.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(`{"snapshot_id":"X","as_of_time":"2026-01-01T00:00:00Z","vendor":"","universe_id":"","fx_spots":[{"pair":"A","spot":1e400}],"curves":[{"curve_id":"C","curve_type":"SPREAD","nodes":[{"tenor":"1Y","zero_rate":-1}]}]}`))
	f.Add([]byte(`{"curves":[null,{"nodes":"x"}],"fx_spots":[{"spot":"1"}],"quality":{"dq_status":1}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := decodeSnapshot(body)
		if err != nil {
			if ae, ok := apperr.As(err); !ok || ae.Code != apperr.Invalid || len(ae.Fields) == 0 {
				t.Fatalf("error %v is not a 400 with problems", err)
			}
			return
		}
		issues := check(&d.doc, d.asOf, testNow, DefaultFutureTolerance)
		if _, err := json.Marshal(issues); err != nil {
			t.Fatalf("issues do not encode: %v", err)
		}
		if !json.Valid(d.canonical) { // 1e+400 is valid JSON syntax too
			t.Fatalf("canonical payload %q is not JSON", d.canonical)
		}
	})
}
