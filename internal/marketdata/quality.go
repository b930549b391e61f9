package marketdata

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/iprs/iprs/internal/pricing"
	"github.com/iprs/iprs/internal/web"
)

// Data-quality statuses, from best to worst.
const (
	StatusPass = "PASS"
	StatusWarn = "WARN"
	StatusFail = "FAIL"
)

// Issue severities. A client-reported issue whose severity is not WARN or
// FAIL is INFO.
const (
	SeverityInfo = "INFO"
	SeverityWarn = "WARN"
	SeverityFail = "FAIL"
)

// Issue sources.
const (
	SourceServer = "server"
	SourceClient = "client"
)

// Codes of the issues the server finds.
const (
	// FAIL
	CodeEmptyCurve      = "EMPTY_CURVE"
	CodeInvalidTenor    = "INVALID_TENOR"
	CodeDuplicateTenor  = "DUPLICATE_TENOR"
	CodeDuplicateCurve  = "DUPLICATE_CURVE"
	CodeNonFiniteRate   = "NON_FINITE_RATE"
	CodeInvalidSpot     = "INVALID_SPOT"
	CodeDuplicateFXPair = "DUPLICATE_FX_PAIR"
	// WARN
	CodeRateOutOfRange  = "RATE_OUT_OF_RANGE"
	CodeNegativeSpread  = "NEGATIVE_SPREAD"
	CodeSingleNodeCurve = "SINGLE_NODE_CURVE"
	CodeAsOfInFuture    = "AS_OF_IN_FUTURE"
	// Client-reported issues without a code of their own.
	CodeClientReported = "CLIENT_REPORTED"
)

// Bounds of a plausible zero rate; a rate outside is a warning.
const (
	MinPlausibleRate = -0.05
	MaxPlausibleRate = 0.30
)

// DefaultFutureTolerance is how far as_of_time may lie ahead of the
// server's clock before it is a warning.
const DefaultFutureTolerance = 24 * time.Hour

// Issue is one data-quality finding, stored with the snapshot.
type Issue struct {
	Severity string `json:"severity"`
	Code     string `json:"code"`
	// Pointer is the RFC 6901 JSON Pointer of the value in the submitted
	// document ("/curves/0/nodes/3/tenor"); for a client-reported issue it
	// points at the issue in quality.issues.
	Pointer string `json:"pointer"`
	Detail  string `json:"detail"`
	// Source is "server" for the server's checks and "client" for the
	// issues the client reported in quality.issues.
	Source string `json:"source"`
	// Reported is the client's issue exactly as sent (canonical JSON);
	// absent for the server's issues.
	Reported json.RawMessage `json:"reported,omitempty"`
}

// statusRank orders statuses and severities: PASS/INFO < WARN < FAIL.
func statusRank(s string) int {
	switch s {
	case StatusFail:
		return 2
	case StatusWarn:
		return 1
	}
	return 0
}

// Worse returns the worse of two statuses (PASS < WARN < FAIL).
func Worse(a, b string) string {
	if statusRank(b) > statusRank(a) {
		return b
	}
	return a
}

// StatusOf is the status the issues call for: FAIL if any is FAIL, WARN if
// any is WARN, PASS otherwise.
func StatusOf(issues []Issue) string {
	status := StatusPass
	for _, is := range issues {
		switch is.Severity {
		case SeverityFail:
			status = Worse(status, StatusFail)
		case SeverityWarn:
			status = Worse(status, StatusWarn)
		}
	}
	return status
}

// isSpreadCurve tells whether a curve holds credit spreads: its curve_type
// is SPREAD or its id ends in -SPREAD (the suffix the scenarios use).
func isSpreadCurve(c *curveDoc) bool {
	return strings.EqualFold(str(c.CurveType), "SPREAD") || strings.HasSuffix(str(c.CurveID), "-SPREAD")
}

// Check runs the server's data-quality checks on a decoded snapshot whose
// required fields are present, and returns the issues in document order.
// now is the server's clock for the future as_of_time check.
func check(d *snapshotDoc, asOf time.Time, now time.Time, futureTolerance time.Duration) []Issue {
	var issues []Issue
	add := func(sev, code, ptr, format string, args ...any) {
		issues = append(issues, Issue{Severity: sev, Code: code, Pointer: ptr, Detail: fmt.Sprintf(format, args...), Source: SourceServer})
	}

	if asOf.After(now.Add(futureTolerance)) {
		add(SeverityWarn, CodeAsOfInFuture, "/as_of_time",
			"as_of_time %s is %s ahead of the server clock (%s); more than %s ahead is suspicious",
			asOf.UTC().Format(time.RFC3339), asOf.Sub(now).Round(time.Second), now.UTC().Format(time.RFC3339), futureTolerance)
	}

	// Documents list fx_spots before curves, so do they here.
	firstPair := make(map[string]int)
	for i, s := range *d.FXSpots {
		base := "/fx_spots/" + strconv.Itoa(i)
		v, finite := s.Spot.float()
		switch {
		case !finite:
			add(SeverityFail, CodeInvalidSpot, base+"/spot", "spot %s of %s is not a finite number", s.Spot.text, str(s.Pair))
		case v <= 0:
			add(SeverityFail, CodeInvalidSpot, base+"/spot", "spot %s of %s must be positive", s.Spot.text, str(s.Pair))
		}
		pair := str(s.Pair)
		if j, dup := firstPair[pair]; dup {
			add(SeverityFail, CodeDuplicateFXPair, base+"/pair", "FX pair %s appears twice, first at /fx_spots/%d", pair, j)
		} else {
			firstPair[pair] = i
		}
	}

	firstCurve := make(map[string]int)
	for i, c := range *d.Curves {
		base := "/curves/" + strconv.Itoa(i)
		id := str(c.CurveID)
		if j, dup := firstCurve[id]; dup {
			add(SeverityFail, CodeDuplicateCurve, base+"/curve_id", "curve %s appears twice, first at /curves/%d", id, j)
		} else {
			firstCurve[id] = i
		}
		nodes := *c.Nodes
		spread := isSpreadCurve(c)
		switch {
		case len(nodes) == 0:
			add(SeverityFail, CodeEmptyCurve, base+"/nodes", "curve %s has no nodes", id)
		case len(nodes) == 1:
			// SPEC: any single-node curve is WARN, flat spreads included:
			// the run may use it, but someone should look at it.
			add(SeverityWarn, CodeSingleNodeCurve, base+"/nodes", "curve %s has a single node, so it is flat at %s", id, nodes[0].ZeroRate.text)
		}
		type seen struct {
			index int
			tenor string
		}
		firstTime := make(map[float64]seen, len(nodes))
		for j, n := range nodes {
			nb := base + "/nodes/" + strconv.Itoa(j)
			tenor := str(n.Tenor)
			if t, err := pricing.ParseTenor(tenor); err != nil {
				add(SeverityFail, CodeInvalidTenor, nb+"/tenor",
					"tenor %q of curve %s does not parse: want ON or a positive integer followed by D, W, M or Y", tenor, id)
			} else if prev, dup := firstTime[t]; dup {
				add(SeverityFail, CodeDuplicateTenor, nb+"/tenor",
					"tenor %s of curve %s is the same point (%s years) as tenor %s at %s/nodes/%d",
					tenor, id, strconv.FormatFloat(t, 'g', -1, 64), prev.tenor, base, prev.index)
			} else {
				firstTime[t] = seen{j, tenor}
			}
			r, finite := n.ZeroRate.float()
			if !finite {
				add(SeverityFail, CodeNonFiniteRate, nb+"/zero_rate", "zero_rate %s of curve %s at %s is not a finite number", n.ZeroRate.text, id, tenor)
				continue
			}
			if r < MinPlausibleRate || r > MaxPlausibleRate {
				add(SeverityWarn, CodeRateOutOfRange, nb+"/zero_rate",
					"zero_rate %s of curve %s at %s is outside the plausible range [-5%%, 30%%]", n.ZeroRate.text, id, tenor)
			}
			if spread && r < 0 {
				add(SeverityWarn, CodeNegativeSpread, nb+"/zero_rate",
					"spread %s of curve %s at %s is negative", n.ZeroRate.text, id, tenor)
			}
		}
	}
	return issues
}

// clientIssues turns the client's quality.issues into stored issues,
// marked as client-reported. Each keeps the client's value verbatim in
// Reported; severity, code and detail are taken from the client's
// "severity", "code" and "detail" (or "message") members when they are
// strings, and a bare string issue is its own detail.
func clientIssues(raw []json.RawMessage) []Issue {
	out := make([]Issue, 0, len(raw))
	for i, r := range raw {
		is := Issue{
			Severity: SeverityInfo,
			Code:     CodeClientReported,
			Pointer:  web.Pointer("quality", "issues", strconv.Itoa(i)),
			Source:   SourceClient,
			Reported: r,
		}
		var s string
		if json.Unmarshal(r, &s) == nil {
			is.Detail = s
			out = append(out, is)
			continue
		}
		var obj map[string]json.RawMessage
		if json.Unmarshal(r, &obj) == nil {
			if sev := strings.ToUpper(jsonString(obj["severity"])); sev == SeverityWarn || sev == SeverityFail {
				is.Severity = sev
			}
			if code := jsonString(obj["code"]); code != "" {
				is.Code = code
			}
			is.Detail = jsonString(obj["detail"])
			if is.Detail == "" {
				is.Detail = jsonString(obj["message"])
			}
		}
		out = append(out, is)
	}
	return out
}

func jsonString(raw json.RawMessage) string {
	var s string
	if len(raw) == 0 || json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// finiteLiteral parses a JSON number literal; finite is false when its
// magnitude is beyond the largest double.
func finiteLiteral(text string) (float64, bool) {
	v, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, false
	}
	return v, true
}
