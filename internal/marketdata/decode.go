package marketdata

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/canon"
	"github.com/iprs/iprs/internal/web"
)

// MaxSnapshotIDBytes bounds the length of a snapshot id.
const MaxSnapshotIDBytes = 128

// MinAsOfYear is the earliest year of an accepted as_of_time.
const MinAsOfYear = 1900

// snapshotDoc is the request body of POST /mkt/snapshots. Pointers tell a
// missing member from an empty one.
type snapshotDoc struct {
	SnapshotID *string       `json:"snapshot_id"`
	AsOfTime   *string       `json:"as_of_time"`
	Vendor     *string       `json:"vendor"`
	UniverseID *string       `json:"universe_id"`
	FXSpots    *[]*fxSpotDoc `json:"fx_spots"`
	Curves     *[]*curveDoc  `json:"curves"`
	Quality    *qualityDoc   `json:"quality"`
}

type fxSpotDoc struct {
	Pair *string `json:"pair"`
	Spot number  `json:"spot"`
	TS   *string `json:"ts"`
}

type curveDoc struct {
	CurveID   *string       `json:"curve_id"`
	CurveType *string       `json:"curve_type"`
	Nodes     *[]*curveNode `json:"nodes"`
}

type curveNode struct {
	Tenor    *string `json:"tenor"`
	ZeroRate number  `json:"zero_rate"`
}

type qualityDoc struct {
	DQStatus *string            `json:"dq_status"`
	Issues   *[]json.RawMessage `json:"issues"`
}

// number is a JSON number kept as its literal, so that a literal beyond the
// range of a double (1e400) decodes and is flagged by the data-quality
// checks instead of failing the request. Any other JSON value, a string
// holding a number included, is recorded in wrong and refused by validate
// (decoding goes on, so that every problem is found); null leaves the
// number absent.
type number struct {
	text    string
	present bool
	wrong   string // what was given instead of a number
}

func (n *number) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		*n = number{}
	case len(b) > 0 && (b[0] == '-' || (b[0] >= '0' && b[0] <= '9')):
		*n = number{text: string(b), present: true}
	default:
		*n = number{wrong: describeLiteral(b)}
	}
	return nil
}

// check adds the problem with the number at ptr, if any.
func (n number) check(ptr, name string, add func(ptr, format string, args ...any)) {
	switch {
	case n.wrong != "":
		add(ptr, "%s: expected a number, got %s", name, n.wrong)
	case !n.present:
		add(ptr, "%s is required", name)
	}
}

// float returns the number's value; finite is false when it is beyond the
// range of a double.
func (n number) float() (v float64, finite bool) { return finiteLiteral(n.text) }

func describeLiteral(b []byte) string {
	if len(b) == 0 {
		return "nothing"
	}
	switch b[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	}
	return "another value"
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// decoded is a snapshot request that passed validation.
type decoded struct {
	doc       snapshotDoc
	asOf      time.Time
	canonical []byte // the canonical JSON of the whole request
	hash      string
	client    []Issue // the client's reported issues
}

// decodeSnapshot validates a POST /mkt/snapshots body. Every problem found
// is reported at once as an apperr.Invalid with one JSON Pointer per
// problem, in pointer order.
func decodeSnapshot(body []byte) (*decoded, error) {
	var problems []apperr.FieldError

	// Canonical form first: it catches what encoding/json lets through
	// (a member name twice, invalid UTF-8, lone surrogates). Numbers too
	// large for a double are kept, so they reach the data-quality checks.
	canonical, cerr := canon.Options{AllowOutOfRange: true}.Canonicalize(body)
	if cerr != nil {
		f := apperr.FieldError{Detail: cerr.Error()}
		if ce, ok := errors.AsType[*canon.Error](cerr); ok {
			f = apperr.FieldError{Pointer: ce.Pointer, Detail: ce.Detail}
			if errors.Is(cerr, canon.ErrSyntax) {
				f.Detail = fmt.Sprintf("%s (byte offset %d)", ce.Detail, ce.Offset)
			}
		}
		problems = append(problems, f)
	}

	var d decoded
	if err := web.UnmarshalStrict(body, &d.doc, ""); err != nil {
		ae, ok := apperr.As(err)
		if !ok || ae.Code != apperr.Invalid {
			return nil, err
		}
		if isMalformed(ae) {
			return nil, err // not JSON: the canonicalizer's view adds nothing
		}
		// The canonicalizer and the strict decoder both refuse text that
		// is not Unicode and repeated member names: one problem each.
		for _, f := range ae.Fields {
			if cerr == nil || !slices.ContainsFunc(problems, func(p apperr.FieldError) bool { return p.Pointer == f.Pointer }) {
				problems = append(problems, f)
			}
		}
		// The shape is wrong somewhere; decode leniently to report the
		// missing members too, except where a wrong type was reported.
		var lenient snapshotDoc
		_ = json.Unmarshal(body, &lenient)
		reported := make(map[string]bool, len(ae.Fields))
		for _, f := range ae.Fields {
			reported[f.Pointer] = true
		}
		for _, f := range validate(&lenient) {
			if !reported[f.Pointer] && !underReported(f.Pointer, reported) {
				problems = append(problems, f)
			}
		}
		return nil, invalid(problems)
	}
	problems = append(problems, validate(&d.doc)...)
	if len(problems) > 0 {
		return nil, invalid(problems)
	}
	d.asOf, _ = time.Parse(time.RFC3339Nano, *d.doc.AsOfTime) // validated
	d.canonical = canonical
	d.hash = canon.SHA256Hex(canonical)
	if d.doc.Quality != nil && d.doc.Quality.Issues != nil {
		raw := *d.doc.Quality.Issues
		for i, r := range raw {
			c, err := canon.Options{AllowOutOfRange: true}.Canonicalize(r)
			if err != nil {
				return nil, fmt.Errorf("canonicalize quality issue %d: %w", i, err)
			}
			raw[i] = c
		}
		d.client = clientIssues(raw)
	}
	return &d, nil
}

// isMalformed tells whether a decoding error is about the document as a
// whole (empty, not JSON, trailing data), when nothing more can be said.
func isMalformed(ae *apperr.Error) bool {
	return len(ae.Fields) == 1 && ae.Fields[0].Pointer == ""
}

// underReported tells whether ptr lies under a pointer already reported
// (a member of a value whose type was wrong).
func underReported(ptr string, reported map[string]bool) bool {
	for p := range reported {
		if p != "" && strings.HasPrefix(ptr, p+"/") {
			return true
		}
	}
	return false
}

// MaxProblems bounds the problems listed in one 400 answer; a last entry
// then says how many more there were.
const MaxProblems = 100

func invalid(problems []apperr.FieldError) error {
	sortProblems(problems)
	if n := len(problems); n > MaxProblems {
		problems = append(problems[:MaxProblems:MaxProblems], apperr.FieldError{
			Pointer: "",
			Detail:  fmt.Sprintf("%d more problems not listed", n-MaxProblems),
		})
	}
	return apperr.WithFields(apperr.Invalid, "the market snapshot is not valid; see errors", problems)
}

// sortProblems orders problems by pointer, comparing array indexes as
// numbers, which is document order for members in the documented order.
func sortProblems(ps []apperr.FieldError) {
	slices.SortStableFunc(ps, func(a, b apperr.FieldError) int { return comparePointers(a.Pointer, b.Pointer) })
}

func comparePointers(a, b string) int {
	as, bs := strings.Split(a, "/"), strings.Split(b, "/")
	for i := 0; i < len(as) && i < len(bs); i++ {
		if as[i] == bs[i] {
			continue
		}
		ai, aerr := strconv.Atoi(as[i])
		bi, berr := strconv.Atoi(bs[i])
		if aerr == nil && berr == nil {
			return ai - bi
		}
		return memberRank(as[i]) - memberRank(bs[i])
	}
	return len(as) - len(bs)
}

// memberRank orders member names as the documented shape lists them;
// names outside it come last, alphabetically.
func memberRank(name string) int {
	order := []string{"snapshot_id", "as_of_time", "vendor", "universe_id", "fx_spots", "pair", "spot", "ts",
		"curves", "curve_id", "curve_type", "nodes", "tenor", "zero_rate", "quality", "dq_status", "issues"}
	if i := slices.Index(order, name); i >= 0 {
		return i - len(order)
	}
	// Unknown names sort after every known one and among themselves by
	// their first byte, which keeps the order stable.
	if name == "" {
		return 0
	}
	return int(name[0])
}

// validate checks the members encoding/json cannot: presence, non-empty
// identifiers and RFC 3339 times. Values the data-quality checks judge
// (tenors, rates, spots) are not checked here.
func validate(d *snapshotDoc) []apperr.FieldError {
	var ps []apperr.FieldError
	add := func(ptr, format string, args ...any) {
		ps = append(ps, apperr.FieldError{Pointer: ptr, Detail: fmt.Sprintf(format, args...)})
	}
	switch {
	case d.SnapshotID == nil:
		add("/snapshot_id", "snapshot_id is required")
	default:
		if msg := checkID(*d.SnapshotID); msg != "" {
			add("/snapshot_id", "snapshot_id %s", msg)
		}
	}
	switch {
	case d.AsOfTime == nil:
		add("/as_of_time", "as_of_time is required (RFC 3339, e.g. 2026-01-23T17:00:00Z)")
	default:
		t, err := time.Parse(time.RFC3339Nano, *d.AsOfTime)
		switch {
		case err != nil:
			add("/as_of_time", "as_of_time %q is not an RFC 3339 time such as 2026-01-23T17:00:00Z", *d.AsOfTime)
		case t.UTC().Year() < MinAsOfYear:
			add("/as_of_time", "as_of_time %q is before %d", *d.AsOfTime, MinAsOfYear)
		}
	}
	if d.Vendor == nil {
		add("/vendor", "vendor is required")
	}
	if d.UniverseID == nil {
		add("/universe_id", "universe_id is required")
	}
	if d.FXSpots == nil {
		add("/fx_spots", "fx_spots is required (an empty list when the snapshot has no FX spots)")
	} else {
		for i, s := range *d.FXSpots {
			base := "/fx_spots/" + strconv.Itoa(i)
			if s == nil {
				add(base, "expected an FX spot object, got null")
				continue
			}
			switch {
			case s.Pair == nil:
				add(base+"/pair", "pair is required")
			case strings.TrimSpace(*s.Pair) == "":
				add(base+"/pair", "pair must not be empty")
			}
			s.Spot.check(base+"/spot", "spot", add)
			if s.TS != nil {
				if _, err := time.Parse(time.RFC3339Nano, *s.TS); err != nil {
					add(base+"/ts", "ts %q is not an RFC 3339 time", *s.TS)
				}
			}
		}
	}
	if d.Curves == nil {
		add("/curves", "curves is required (an empty list when the snapshot has no curves)")
	} else {
		for i, c := range *d.Curves {
			base := "/curves/" + strconv.Itoa(i)
			if c == nil {
				add(base, "expected a curve object, got null")
				continue
			}
			switch {
			case c.CurveID == nil:
				add(base+"/curve_id", "curve_id is required")
			case strings.TrimSpace(*c.CurveID) == "":
				add(base+"/curve_id", "curve_id must not be empty")
			}
			if c.CurveType == nil {
				add(base+"/curve_type", "curve_type is required (DISCOUNT or SPREAD, say)")
			}
			if c.Nodes == nil {
				add(base+"/nodes", "nodes is required")
				continue
			}
			for j, n := range *c.Nodes {
				nb := base + "/nodes/" + strconv.Itoa(j)
				if n == nil {
					add(nb, "expected a curve node object, got null")
					continue
				}
				if n.Tenor == nil {
					add(nb+"/tenor", "tenor is required")
				}
				n.ZeroRate.check(nb+"/zero_rate", "zero_rate", add)
			}
		}
	}
	if q := d.Quality; q != nil {
		switch {
		case q.DQStatus == nil:
			add("/quality/dq_status", "dq_status is required in quality (PASS, WARN or FAIL)")
		case *q.DQStatus != StatusPass && *q.DQStatus != StatusWarn && *q.DQStatus != StatusFail:
			add("/quality/dq_status", "dq_status %q is not one of PASS, WARN, FAIL", *q.DQStatus)
		}
	}
	return ps
}

// checkID returns what is wrong with a snapshot id, or "".
func checkID(id string) string {
	switch {
	case id == "":
		return "must not be empty"
	case len(id) > MaxSnapshotIDBytes:
		return fmt.Sprintf("is longer than %d bytes", MaxSnapshotIDBytes)
	case !utf8.ValidString(id):
		return "is not valid UTF-8"
	case strings.TrimSpace(id) != id:
		return "must not begin or end with white space"
	case strings.ContainsFunc(id, func(r rune) bool { return unicode.IsControl(r) || r == '/' }):
		return "must not contain control characters or '/'"
	}
	return ""
}
