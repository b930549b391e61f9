package orchestrator

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/audit"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/web"
)

// AuditEntryView is one item of GET /orch/audit.
type AuditEntryView struct {
	Principal string `json:"principal"`
	Action    string `json:"action"`
	ObjectID  string `json:"object_id"`
	RequestID string `json:"request_id"`
	Time      string `json:"time"`
}

// auditParams are the query parameters of GET /orch/audit.
var auditParams = []string{"object_id", "principal", "action", "limit", "cursor"}

// handleAuditList serves GET /orch/audit?object_id=&principal=&action=&limit=&cursor=:
// the audit log newest first, each filter an exact match.
func (s *Service) handleAuditList(w http.ResponseWriter, r *http.Request) error {
	if err := knownParams(r, auditParams...); err != nil {
		return err
	}
	page, err := web.ParsePage(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	p := store.AuditListParams{
		ObjectID:  q.Get("object_id"),
		Principal: q.Get("principal"),
		Action:    q.Get("action"),
		Limit:     page.Limit + 1,
	}
	for name, v := range map[string]string{"object_id": p.ObjectID, "principal": p.Principal} {
		if strings.IndexByte(v, 0) >= 0 || !utf8.ValidString(v) {
			return web.ParamError(name, "holds NUL or invalid UTF-8, which no stored name does")
		}
	}
	if p.Action != "" && !audit.IsAction(p.Action) {
		return web.ParamError("action", fmt.Sprintf("%q is not one of %s", p.Action, strings.Join(audit.Actions(), ", ")))
	}
	if page.Cursor != "" {
		vals, err := web.DecodeCursor(page.Cursor, 2)
		if err != nil {
			return err
		}
		t, terr := time.Parse(time.RFC3339Nano, vals[0])
		id, ierr := strconv.ParseInt(vals[1], 10, 64)
		if terr != nil || ierr != nil {
			return web.ParamError("cursor", "is not a cursor this list gave out")
		}
		p.AfterTime, p.AfterID = t, id
	}
	entries, err := s.store.AuditList(r.Context(), p)
	if err != nil {
		return fmt.Errorf("list audit entries: %w", err)
	}
	list := web.PageOf(entries, page.Limit, func(e *store.AuditEntry) []string {
		return []string{formatTime(e.Time), strconv.FormatInt(e.ID, 10)}
	})
	items := make([]AuditEntryView, len(list.Items))
	for i, e := range list.Items {
		items[i] = AuditEntryView{Principal: e.Principal, Action: e.Action, ObjectID: e.ObjectID, RequestID: e.RequestID, Time: formatTime(e.Time)}
	}
	return web.WriteJSON(w, http.StatusOK, web.List[AuditEntryView]{Items: items, NextCursor: list.NextCursor})
}

// knownParams is a 400 naming every query parameter not in allowed.
func knownParams(r *http.Request, allowed ...string) error {
	var fields []apperr.FieldError
	for name := range r.URL.Query() {
		if !slices.Contains(allowed, name) {
			fields = append(fields, apperr.FieldError{Parameter: name,
				Detail: "is not a parameter of this route; its parameters are " + strings.Join(allowed, ", ")})
		}
	}
	if len(fields) == 0 {
		return nil
	}
	slices.SortFunc(fields, func(a, b apperr.FieldError) int { return strings.Compare(a.Parameter, b.Parameter) })
	msg := fmt.Sprintf("unknown query parameter %q", fields[0].Parameter)
	if len(fields) > 1 {
		msg = "unknown query parameters"
	}
	return apperr.WithFields(apperr.Invalid, msg, fields)
}
