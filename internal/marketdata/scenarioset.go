package marketdata

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/audit"
	"github.com/iprs/iprs/internal/canon"
	"github.com/iprs/iprs/internal/pricing"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/web"
)

// MaxHistoricalSnapshots bounds the snapshots (dates) one historical set
// is built from: about forty years of business days.
const MaxHistoricalSnapshots = 10000

// registerScenarioSets adds the scenario set routes (SPEC §4.3).
func (s *Service) registerScenarioSets(m *web.Mux) {
	m.HandleFunc("POST "+Prefix+"/scenario-sets", onlyParams(s.createScenarioSet))
	m.HandleFunc("POST "+Prefix+"/scenario-sets/historical", onlyParams(s.createHistoricalSet))
	m.HandleFunc("GET "+Prefix+"/scenario-sets/{id}", onlyParams(s.getSet(scenarioSets)))
	m.HandleFunc("GET "+Prefix+"/scenario-sets", onlyParams(s.listSets(scenarioSets), "limit", "cursor"))
}

// setKind describes one kind of immutable analytic set the service keeps
// (scenario sets, model sets): the routes, messages and list items differ
// only by these.
type setKind struct {
	kind        string // store.SetKind…
	action      string // audit.…Create
	noun        string // "scenario set"
	path        string // Prefix + "/scenario-sets"
	countMember string // "scenario_count": the number of items, in answers
}

var (
	scenarioSets = setKind{store.SetKindScenario, audit.ScenarioSetCreate, "scenario set", Prefix + "/scenario-sets", "scenario_count"}
	modelSets    = setKind{store.SetKindModel, audit.ModelSetCreate, "model set", Prefix + "/model-sets", "rule_count"}
)

// setSummary is one item of GET /mkt/scenario-sets and /mkt/model-sets:
// the id (as scenario_set_id or model_set_id), the description, the number
// of items (as scenario_count or rule_count), the payload hash and the
// creation time.
type setSummary struct {
	kind        setKind
	ID          string
	Description string
	Count       int
	PayloadHash string
	CreatedAt   string
}

// MarshalJSON names the members after the kind of set.
func (it setSummary) MarshalJSON() ([]byte, error) {
	idMember := strings.ReplaceAll(it.kind.kind, "-", "_") + "_id"
	return json.Marshal(map[string]any{
		idMember:            it.ID,
		"description":       it.Description,
		it.kind.countMember: it.Count,
		"payload_hash":      it.PayloadHash,
		"created_at":        it.CreatedAt,
	})
}

// setProblems turns a set's problems into field errors.
func setProblems(ps []pricing.SetProblem) []apperr.FieldError {
	out := make([]apperr.FieldError, len(ps))
	for i, p := range ps {
		out[i] = apperr.FieldError{Pointer: p.Pointer, Detail: p.Detail}
	}
	return out
}

// Member names of the scenario set documents in their documented order,
// which orders the problems of a request.
var (
	setMembers        = []string{"scenario_set_id", "description", "scenarios", "scenario_id", "shocks", "type", "curves", "shift_bp", "shifts_bp", "pairs", "relative"}
	historicalMembers = []string{"scenario_set_id", "from", "to", "horizon_days", "curves", "pairs"}
)

// sortByPointer orders problems in document order: array indexes as
// numbers, member names as members lists them (others after them, by
// name), a pointer before those below it. Problems at the same pointer keep
// their order; a second problem with the same pointer and detail is
// dropped.
func sortByPointer(ps []apperr.FieldError, members []string) []apperr.FieldError {
	rank := func(name string) (int, string) {
		if i := slices.Index(members, name); i >= 0 {
			return i, ""
		}
		return len(members), name
	}
	slices.SortStableFunc(ps, func(a, b apperr.FieldError) int {
		as, bs := strings.Split(a.Pointer, "/"), strings.Split(b.Pointer, "/")
		for i := 0; i < len(as) && i < len(bs); i++ {
			if as[i] == bs[i] {
				continue
			}
			ai, aerr := strconv.Atoi(as[i])
			bi, berr := strconv.Atoi(bs[i])
			if aerr == nil && berr == nil {
				return cmp.Compare(ai, bi)
			}
			ar, an := rank(as[i])
			br, bn := rank(bs[i])
			if ar != br {
				return cmp.Compare(ar, br)
			}
			return strings.Compare(an, bn)
		}
		return cmp.Compare(len(as), len(bs))
	})
	return slices.CompactFunc(ps, func(a, b apperr.FieldError) bool { return a == b })
}

// invalidSet is the 400 of a scenario set request.
func invalidSet(what string, problems []apperr.FieldError) error {
	if n := len(problems); n > MaxProblems {
		problems = append(problems[:MaxProblems:MaxProblems], apperr.FieldError{
			Pointer: "",
			Detail:  fmt.Sprintf("%d more problems not listed", n-MaxProblems),
		})
	}
	return apperr.WithFields(apperr.Invalid, what+" is not valid; see errors", problems)
}

// canonicalProblem is the problem of a body the canonicalizer refuses (a
// member name twice, a number beyond the range of a double, invalid
// UTF-8), or nil.
func canonicalProblem(body []byte) ([]byte, *apperr.FieldError) {
	canonical, err := canon.Canonicalize(body)
	if err == nil {
		return canonical, nil
	}
	f := apperr.FieldError{Detail: err.Error()}
	if ce, ok := errors.AsType[*canon.Error](err); ok {
		f = apperr.FieldError{Pointer: ce.Pointer, Detail: ce.Detail}
		if errors.Is(err, canon.ErrSyntax) {
			f.Detail = fmt.Sprintf("%s (byte offset %d)", ce.Detail, ce.Offset)
		}
		if errors.Is(err, canon.ErrNumberRange) {
			f.Detail = "the number is beyond the range of a double (numbers must be finite)"
		}
	}
	return nil, &f
}

// decodeStrict decodes body into dst with web.UnmarshalStrict and returns
// its canonical form and every problem found: the canonicalizer's, the
// shape's (unknown members, wrong types) and validate's. On a shape problem
// it decodes again leniently into lenient and adds validate's problems that
// lie outside what was reported. err is set when body is not JSON at all
// (or cannot be read), when nothing more can be said.
func decodeStrict[T any](body []byte, dst, lenient *T, validate func(*T) []apperr.FieldError) (canonical []byte, problems []apperr.FieldError, err error) {
	canonical, cp := canonicalProblem(body)
	if cp != nil {
		problems = append(problems, *cp)
	}
	if err := web.UnmarshalStrict(body, dst, ""); err != nil {
		ae, ok := apperr.As(err)
		if !ok || ae.Code != apperr.Invalid {
			return nil, nil, err
		}
		if isMalformed(ae) {
			return nil, nil, err
		}
		for _, f := range ae.Fields {
			if cp == nil || f.Pointer != cp.Pointer {
				problems = append(problems, f)
			}
		}
		_ = json.Unmarshal(body, lenient)
		reported := make(map[string]bool, len(problems))
		for _, f := range problems {
			reported[f.Pointer] = true
		}
		for _, f := range validate(lenient) {
			if !reported[f.Pointer] && !underReported(f.Pointer, reported) {
				problems = append(problems, f)
			}
		}
		return nil, problems, nil
	}
	problems = append(problems, validate(dst)...)
	return canonical, problems, nil
}

func (s *Service) createScenarioSet(w http.ResponseWriter, r *http.Request) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return web.BodyReadError(err)
	}
	var set, lenient pricing.ScenarioSet
	validate := func(ss *pricing.ScenarioSet) []apperr.FieldError { return setProblems(ss.Validate()) }
	canonical, problems, err := decodeStrict(body, &set, &lenient, validate)
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		return invalidSet("the scenario set", sortByPointer(problems, setMembers))
	}
	return s.storeSet(w, r, scenarioSets, set.ScenarioSetID, set.Description, len(set.Scenarios), canonical)
}

// storeSet stores a valid set under its canonical JSON and answers 201
// (created), 200 (the same content again) or 409 (other content).
func (s *Service) storeSet(w http.ResponseWriter, r *http.Request, k setKind, id, description string, count int, canonical []byte) error {
	ctx := audit.For(r, k.action, id)
	row := &store.AnalyticSet{
		Kind:        k.kind,
		ID:          id,
		Description: description,
		ItemCount:   count,
		Payload:     canonical,
		PayloadHash: canon.SHA256Hex(canonical),
		CreatedAt:   s.now().UTC().Truncate(time.Microsecond),
	}
	stored, created, err := s.store.SetCreate(ctx, row)
	if err != nil {
		if errors.Is(err, apperr.ErrConflict) {
			return &apperr.Error{
				Code: apperr.Conflict,
				Message: fmt.Sprintf("%s %q already exists with other content (this payload_hash is %s); "+
					"%ss are immutable: send a changed one under a new id", k.noun, row.ID, row.PayloadHash, k.noun),
				Err: err,
			}
		}
		return fmt.Errorf("store %s %q: %w", k.noun, row.ID, err)
	}
	view, err := setView(k, stored)
	if err != nil {
		return err
	}
	if !created {
		return web.WriteJSON(w, http.StatusOK, json.RawMessage(view))
	}
	logger := web.Logger(ctx)
	if logger == nil {
		logger = s.logger
	}
	logger.LogAttrs(ctx, slog.LevelInfo, k.noun+" created",
		slog.String("kind", k.kind), slog.String("id", stored.ID), slog.Int("items", stored.ItemCount),
		slog.String("payload_hash", stored.PayloadHash))
	w.Header().Set("Location", k.path+"/"+stored.ID)
	return web.WriteJSON(w, http.StatusCreated, json.RawMessage(view))
}

// setView is the stored document with payload_hash, the item count and
// created_at added (the document cannot hold these members itself).
func setView(k setKind, set *store.AnalyticSet) ([]byte, error) {
	meta, err := json.Marshal(map[string]any{
		"payload_hash": set.PayloadHash,
		k.countMember:  set.ItemCount,
		"created_at":   formatTime(set.CreatedAt),
	})
	if err != nil {
		return nil, fmt.Errorf("encode metadata of %s %q: %w", k.noun, set.ID, err)
	}
	p := set.Payload
	if len(p) < 2 || p[0] != '{' || p[len(p)-1] != '}' {
		return nil, fmt.Errorf("%s %q: stored payload is not a JSON object", k.noun, set.ID)
	}
	out := make([]byte, 0, len(p)+len(meta))
	out = append(out, p[:len(p)-1]...)
	if len(p) > 2 {
		out = append(out, ',')
	}
	return append(out, meta[1:]...), nil
}

// getSet answers GET …/{id} for a kind of set.
func (s *Service) getSet(k setKind) func(w http.ResponseWriter, r *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		id := r.PathValue("id")
		set, err := s.store.SetGet(r.Context(), k.kind, id)
		if err != nil {
			if errors.Is(err, apperr.ErrNotFound) {
				return &apperr.Error{Code: apperr.NotFound, Message: fmt.Sprintf("%s %q does not exist", k.noun, id), Err: err}
			}
			return fmt.Errorf("get %s %q: %w", k.noun, id, err)
		}
		view, err := setView(k, set)
		if err != nil {
			return err
		}
		return web.WriteJSON(w, http.StatusOK, json.RawMessage(view))
	}
}

// listSets answers the list of a kind of set, newest first.
func (s *Service) listSets(k setKind) func(w http.ResponseWriter, r *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		page, params, err := listParams(r)
		if err != nil {
			return err
		}
		rows, err := s.store.SetList(r.Context(), k.kind, params)
		if err != nil {
			return fmt.Errorf("list %ss: %w", k.noun, err)
		}
		items := make([]setSummary, 0, len(rows))
		for _, row := range rows {
			items = append(items, setSummary{kind: k, ID: row.ID, Description: row.Description, Count: row.ItemCount,
				PayloadHash: row.PayloadHash, CreatedAt: formatTime(row.CreatedAt)})
		}
		return web.WriteJSON(w, http.StatusOK, web.PageOf(items, page.Limit, func(it setSummary) []string {
			return []string{it.CreatedAt, it.ID}
		}))
	}
}

// historicalRequest is the body of POST /mkt/scenario-sets/historical.
type historicalRequest struct {
	ScenarioSetID *string           `json:"scenario_set_id"`
	From          *string           `json:"from"`
	To            *string           `json:"to"`
	HorizonDays   *int              `json:"horizon_days"`
	Curves        *pricing.Selector `json:"curves"`
	Pairs         *pricing.Selector `json:"pairs"`
}

// validate returns the request's 400 problems; opts and the dates are
// filled when there are none.
func (q *historicalRequest) validate() (opts pricing.HistoricalOptions, from, to time.Time, problems []apperr.FieldError) {
	add := func(ptr, format string, args ...any) {
		problems = append(problems, apperr.FieldError{Pointer: ptr, Detail: fmt.Sprintf(format, args...)})
	}
	if q.ScenarioSetID == nil {
		add("/scenario_set_id", "scenario_set_id is required")
	} else {
		opts.SetID = *q.ScenarioSetID
	}
	date := func(ptr, name string, v *string) time.Time {
		if v == nil {
			add(ptr, "%s is required (a UTC date such as 2026-01-23)", name)
			return time.Time{}
		}
		t, err := time.Parse(time.DateOnly, *v)
		switch {
		case err != nil:
			add(ptr, "%s %q is not a date such as 2026-01-23 (YYYY-MM-DD)", name, *v)
		case t.Year() < MinAsOfYear:
			add(ptr, "%s %q is before %d", name, *v, MinAsOfYear)
		}
		return t
	}
	from = date("/from", "from", q.From)
	to = date("/to", "to", q.To)
	if !from.IsZero() && !to.IsZero() && to.Before(from) {
		add("/to", "to (%s) is before from (%s)", *q.To, *q.From)
	}
	if q.HorizonDays != nil {
		if *q.HorizonDays < 1 {
			add("/horizon_days", "horizon_days must be a whole number of at least 1, got %d", *q.HorizonDays)
		} else {
			opts.Horizon = *q.HorizonDays
		}
	}
	opts.Curves, opts.Pairs = q.Curves, q.Pairs
	if q.ScenarioSetID != nil {
		problems = append(problems, setProblems(opts.Validate())...)
	} else {
		// The set id's problem is reported above; check the rest.
		o := opts
		o.SetID = "x"
		problems = append(problems, setProblems(o.Validate())...)
	}
	return opts, from, to, problems
}

func (s *Service) createHistoricalSet(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return web.BodyReadError(err)
	}
	var req, lenient historicalRequest
	_, problems, err := decodeStrict(body, &req, &lenient, func(q *historicalRequest) []apperr.FieldError {
		_, _, _, ps := q.validate()
		return ps
	})
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		return invalidSet("the historical scenario set request", sortByPointer(problems, historicalMembers))
	}
	opts, from, to, _ := req.validate()
	rows, err := s.store.MarketSnapshotDaily(ctx, store.DailyParams{From: from, To: to, Limit: MaxHistoricalSnapshots + 1})
	if err != nil {
		return fmt.Errorf("read market snapshots from %s to %s: %w", *req.From, *req.To, err)
	}
	if len(rows) > MaxHistoricalSnapshots {
		return apperr.WithFields(apperr.Unprocessable, "the date range holds too many market snapshots",
			[]apperr.FieldError{{Pointer: "/to", Detail: fmt.Sprintf(
				"more than %d dates from %s to %s have a market snapshot; narrow the range", MaxHistoricalSnapshots, *req.From, *req.To)}})
	}
	snaps := make([]pricing.HistoricalSnapshot, len(rows))
	for i, row := range rows {
		d, err := LoadMarketData(row.Payload)
		if err != nil {
			return fmt.Errorf("market snapshot %q: %w", row.ID, err)
		}
		snaps[i] = pricing.HistoricalSnapshot{Date: row.AsOfTime.UTC().Format(time.DateOnly), Data: d}
	}
	if len(snaps) > 0 {
		h := max(opts.Horizon, 1)
		opts.Description = fmt.Sprintf("historical: changes over %d snapshot date(s) of the latest market snapshot that is not FAIL "+
			"of each UTC date from %s to %s: %d snapshots, %s (%s) to %s (%s)", h, *req.From, *req.To, len(snaps),
			rows[0].ID, snaps[0].Date, rows[len(rows)-1].ID, snaps[len(snaps)-1].Date)
	}
	set, err := pricing.HistoricalSet(snaps, opts)
	if err != nil {
		if he, ok := errors.AsType[*pricing.HistoricalError](err); ok {
			return apperr.WithFields(apperr.Unprocessable, "the scenario set cannot be built from the stored market snapshots",
				setProblems(he.Problems))
		}
		return fmt.Errorf("build historical scenario set %q: %w", opts.SetID, err)
	}
	canonical, err := canon.Marshal(set)
	if err != nil {
		return fmt.Errorf("encode historical scenario set %q: %w", set.ScenarioSetID, err)
	}
	return s.storeSet(w, r, scenarioSets, set.ScenarioSetID, set.Description, len(set.Scenarios), canonical)
}
