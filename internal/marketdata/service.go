package marketdata

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/audit"
	"github.com/iprs/iprs/internal/canon"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/web"
)

// Prefix is the path prefix of the marketdata routes.
const Prefix = "/mkt"

// Options configure a Service.
type Options struct {
	// Now is the clock for created_at and the future as_of_time check.
	// Default time.Now.
	Now func() time.Time
	// FutureTolerance is how far as_of_time may lie ahead of Now before
	// the snapshot is WARN. Default DefaultFutureTolerance (a day).
	FutureTolerance time.Duration
	// Registerer receives the service's metrics (web/metrics'
	// Registry()). nil keeps them unregistered.
	Registerer prometheus.Registerer
}

// Service serves market data snapshots.
type Service struct {
	store   store.Store
	logger  *slog.Logger
	now     func() time.Time
	future  time.Duration
	metrics *serviceMetrics
}

// New returns the marketdata service on st. It panics if the metrics
// cannot be registered (a second Service on one registry), a programming
// error.
func New(st store.Store, logger *slog.Logger, opts Options) *Service {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.FutureTolerance <= 0 {
		opts.FutureTolerance = DefaultFutureTolerance
	}
	return &Service{
		store:   st,
		logger:  logger,
		now:     opts.Now,
		future:  opts.FutureTolerance,
		metrics: newServiceMetrics(opts.Registerer),
	}
}

// Register adds the routes to m, whose prefix must be /mkt:
//
//	POST /mkt/snapshots        create (201), replay (200) or conflict (409)
//	GET  /mkt/snapshots/{id}   the stored snapshot with its metadata
//	GET  /mkt/snapshots        the list, newest as_of_time first
//
// and the scenario set routes (scenarioset.go):
//
//	POST /mkt/scenario-sets             create (201), replay (200) or conflict (409)
//	POST /mkt/scenario-sets/historical  build a set from stored snapshots and store it alike
//	GET  /mkt/scenario-sets/{id}        the stored set with its metadata
//	GET  /mkt/scenario-sets             the list, newest first
func (s *Service) Register(m *web.Mux) {
	m.HandleFunc("POST "+Prefix+"/snapshots", onlyParams(s.create))
	m.HandleFunc("GET "+Prefix+"/snapshots/{id}", onlyParams(s.get))
	m.HandleFunc("GET "+Prefix+"/snapshots", onlyParams(s.list, "limit", "cursor"))
	s.registerScenarioSets(m)
	s.registerModelSets(m)
}

// Receipt answers POST /mkt/snapshots.
type Receipt struct {
	SnapshotID  string  `json:"snapshot_id"`
	PayloadHash string  `json:"payload_hash"`
	DQStatus    string  `json:"dq_status"`
	Issues      []Issue `json:"issues"`
	CreatedAt   string  `json:"created_at"`
}

// Summary is one item of GET /mkt/snapshots.
type Summary struct {
	SnapshotID  string  `json:"snapshot_id"`
	AsOfTime    string  `json:"as_of_time"`
	Vendor      string  `json:"vendor"`
	UniverseID  string  `json:"universe_id"`
	PayloadHash string  `json:"payload_hash"`
	DQStatus    string  `json:"dq_status"`
	Issues      []Issue `json:"issues"`
	CreatedAt   string  `json:"created_at"`
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// storedIssues decodes the issues column.
func storedIssues(s *store.MarketSnapshot) ([]Issue, error) {
	issues := []Issue{}
	if len(s.Issues) == 0 {
		return issues, nil
	}
	if err := json.Unmarshal(s.Issues, &issues); err != nil {
		return nil, fmt.Errorf("decode issues of market snapshot %q: %w", s.ID, err)
	}
	return issues, nil
}

func receiptOf(s *store.MarketSnapshot) (Receipt, error) {
	issues, err := storedIssues(s)
	if err != nil {
		return Receipt{}, err
	}
	return Receipt{
		SnapshotID:  s.ID,
		PayloadHash: s.PayloadHash,
		DQStatus:    s.DQStatus,
		Issues:      issues,
		CreatedAt:   formatTime(s.CreatedAt),
	}, nil
}

func (s *Service) create(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return web.BodyReadError(err)
	}
	d, err := decodeSnapshot(body)
	if err != nil {
		s.metrics.rejected.Inc()
		return err
	}
	server := check(&d.doc, d.asOf, s.now(), s.future)
	status := StatusOf(server)
	if q := d.doc.Quality; q != nil {
		status = Worse(status, *q.DQStatus)
	}
	issues := append(server, d.client...)
	if issues == nil {
		issues = []Issue{}
	}
	issuesJSON, err := json.Marshal(issues)
	if err != nil {
		return fmt.Errorf("encode data-quality issues: %w", err)
	}
	row := &store.MarketSnapshot{
		ID:          *d.doc.SnapshotID,
		AsOfTime:    d.asOf.UTC().Truncate(time.Microsecond), // the stores' precision
		Vendor:      str(d.doc.Vendor),
		UniverseID:  str(d.doc.UniverseID),
		Payload:     d.canonical,
		PayloadHash: d.hash,
		DQStatus:    status,
		Issues:      issuesJSON,
		CreatedAt:   s.now().UTC().Truncate(time.Microsecond),
	}
	stored, created, err := s.store.MarketSnapshotCreate(audit.For(r, audit.MarketSnapshotCreate, row.ID), row)
	if err != nil {
		if errors.Is(err, apperr.ErrConflict) {
			s.metrics.outcome(outcomeConflict)
			return &apperr.Error{
				Code: apperr.Conflict,
				Message: fmt.Sprintf("market snapshot %q already exists with other content (this payload_hash is %s); "+
					"snapshots are immutable: send changed data under a new snapshot_id", row.ID, row.PayloadHash),
				Err: err,
			}
		}
		return fmt.Errorf("store market snapshot %q: %w", row.ID, err)
	}
	rec, err := receiptOf(stored)
	if err != nil {
		return err
	}
	if !created {
		s.metrics.outcome(outcomeReplayed)
		return web.WriteJSON(w, http.StatusOK, rec)
	}
	s.metrics.outcome(outcomeCreated)
	s.metrics.dqStatus.WithLabelValues(stored.DQStatus).Inc()
	for _, is := range server {
		s.metrics.issues.WithLabelValues(is.Severity, is.Code).Inc()
	}
	logger := web.Logger(ctx)
	if logger == nil {
		logger = s.logger
	}
	logger.LogAttrs(ctx, slog.LevelInfo, "market snapshot created",
		slog.String("snapshot_id", stored.ID), slog.String("dq_status", stored.DQStatus),
		slog.Int("issues", len(issues)), slog.String("payload_hash", stored.PayloadHash))
	w.Header().Set("Location", Prefix+"/snapshots/"+stored.ID)
	return web.WriteJSON(w, http.StatusCreated, rec)
}

func (s *Service) get(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	snap, err := s.store.MarketSnapshotGet(r.Context(), id)
	if err != nil {
		if errors.Is(err, apperr.ErrNotFound) {
			return &apperr.Error{Code: apperr.NotFound, Message: fmt.Sprintf("market snapshot %q does not exist", id), Err: err}
		}
		return fmt.Errorf("get market snapshot %q: %w", id, err)
	}
	body, err := snapshotView(snap)
	if err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, json.RawMessage(body))
}

// snapshotView is the stored document with the metadata members
// payload_hash, dq_status, issues and created_at added. The document
// cannot hold these members itself (unknown members are refused), so
// appending them to the canonical object keeps it valid JSON.
func snapshotView(snap *store.MarketSnapshot) ([]byte, error) {
	issues, err := storedIssues(snap)
	if err != nil {
		return nil, err
	}
	meta, err := json.Marshal(struct {
		PayloadHash string  `json:"payload_hash"`
		DQStatus    string  `json:"dq_status"`
		Issues      []Issue `json:"issues"`
		CreatedAt   string  `json:"created_at"`
	}{snap.PayloadHash, snap.DQStatus, issues, formatTime(snap.CreatedAt)})
	if err != nil {
		return nil, fmt.Errorf("encode metadata of market snapshot %q: %w", snap.ID, err)
	}
	p := snap.Payload
	if snap.DQStatus == "FAIL" {
		if p, err = finitePayload(p); err != nil {
			return nil, fmt.Errorf("market snapshot %q: %w", snap.ID, err)
		}
	}
	if len(p) < 2 || p[0] != '{' || p[len(p)-1] != '}' {
		return nil, fmt.Errorf("market snapshot %q: stored payload is not a JSON object", snap.ID)
	}
	out := make([]byte, 0, len(p)+len(meta))
	out = append(out, p[:len(p)-1]...)
	if len(p) > 2 {
		out = append(out, ',')
	}
	return append(out, meta[1:]...), nil
}

// finitePayload returns the stored payload with every number too large
// for a double (a NON_FINITE_RATE or INVALID_SPOT literal such as 1e400,
// kept in the stored document) answered as null: SPEC §1 "Numbers are JSON
// numbers and always finite", and such a literal breaks clients' decoders.
// The issue at the same pointer says what was sent. A payload without such
// a number is returned as it is.
func finitePayload(p []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(p))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("decode stored payload: %w", err)
	}
	if !dropNonFinite(&doc) {
		return p, nil
	}
	out, err := web.MarshalJSON(doc)
	if err != nil {
		return nil, fmt.Errorf("encode stored payload: %w", err)
	}
	return canon.Canonicalize(out)
}

// dropNonFinite replaces, in place, every number of v that is beyond the
// range of a double with nil, and reports whether it found one.
func dropNonFinite(v *any) bool {
	found := false
	switch x := (*v).(type) {
	case json.Number:
		if f, err := strconv.ParseFloat(string(x), 64); err != nil || math.IsInf(f, 0) {
			*v = nil
			return true
		}
	case map[string]any:
		for k, e := range x {
			if dropNonFinite(&e) {
				x[k] = e
				found = true
			}
		}
	case []any:
		for i := range x {
			found = dropNonFinite(&x[i]) || found
		}
	}
	return found
}

func (s *Service) list(w http.ResponseWriter, r *http.Request) error {
	page, params, err := listParams(r)
	if err != nil {
		return err
	}
	rows, err := s.store.MarketSnapshotList(r.Context(), params)
	if err != nil {
		return fmt.Errorf("list market snapshots: %w", err)
	}
	items := make([]Summary, 0, len(rows))
	for _, row := range rows {
		issues, err := storedIssues(row)
		if err != nil {
			return err
		}
		items = append(items, Summary{
			SnapshotID:  row.ID,
			AsOfTime:    formatTime(row.AsOfTime),
			Vendor:      row.Vendor,
			UniverseID:  row.UniverseID,
			PayloadHash: row.PayloadHash,
			DQStatus:    row.DQStatus,
			Issues:      issues,
			CreatedAt:   formatTime(row.CreatedAt),
		})
	}
	return web.WriteJSON(w, http.StatusOK, web.PageOf(items, page.Limit, func(it Summary) []string {
		return []string{it.AsOfTime, it.SnapshotID}
	}))
}

// onlyParams refuses, with a 400 naming each, the query parameters a route
// does not take (SPEC §1: on every route, an unknown query parameter is a
// 400), before h runs.
func onlyParams(h func(http.ResponseWriter, *http.Request) error, allowed ...string) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		if _, err := web.Query(r, allowed...); err != nil {
			return err
		}
		return h(w, r)
	}
}

// listParams reads a newest-first list's page and its cursor, the (time,
// id) of the last item of the previous page, asking the store for one item
// more than the page (to know whether another page follows).
func listParams(r *http.Request) (web.Page, store.ListParams, error) {
	page, err := web.ParsePage(r)
	if err != nil {
		return page, store.ListParams{}, err
	}
	params := store.ListParams{Limit: page.Limit + 1}
	if page.Cursor != "" {
		vals, err := web.DecodeCursor(page.Cursor, 2)
		if err != nil {
			return page, params, err
		}
		t, terr := time.Parse(time.RFC3339Nano, vals[0])
		if terr != nil || vals[1] == "" {
			return page, params, web.ParamError("cursor", "the cursor does not come from this list")
		}
		params.AfterTime, params.AfterID = t, vals[1]
	}
	return page, params, nil
}
