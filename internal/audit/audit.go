// Package audit names the changes IPRS records in its audit trail (SPEC §5
// "Audit") and gives a handler the one line that has its change recorded:
//
//	ctx := audit.For(r, audit.RunCancel, id)
//	run, err := s.store.RunCancel(ctx, id, now) // records {principal, action, object_id, request_id, time}
//
// For puts a store.AuditEntry in the request's context: the principal that
// web.Auth found, the action, the object and the request's X-Request-ID
// (the one answered). The store's write methods insert it in the
// transaction of the change they commit (see store.WithAudit), so that a
// refused or failed request leaves nothing, and an idempotent replay that
// changes nothing (the 200 answer to the same snapshot or run again)
// records nothing. An empty objectID lets the store fill in the id of the
// object it makes (a server-made snapshot or run id).
package audit

import (
	"context"
	"net/http"
	"slices"

	"github.com/iprs/iprs/internal/auth"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/web"
)

// Actions recorded in the audit log, one per kind of accepted change.
const (
	MarketSnapshotCreate   = "market_snapshot.create"
	PositionSnapshotCreate = "position_snapshot.create"
	ModelSetCreate         = "model_set.create"
	ScenarioSetCreate      = "scenario_set.create"
	RunCreate              = "run.create"
	RunCancel              = "run.cancel"
	RunPublish             = "run.publish"
	RunDelete              = "run.delete"
	RunVerify              = "run.verify"
	ExplainCreate          = "explain.create"
	WebhookCreate          = "webhook.create"
	WebhookDelete          = "webhook.delete"
)

// Actions returns every action, sorted.
func Actions() []string {
	a := []string{
		MarketSnapshotCreate, PositionSnapshotCreate, ModelSetCreate, ScenarioSetCreate,
		RunCreate, RunCancel, RunPublish, RunDelete, RunVerify,
		ExplainCreate, WebhookCreate, WebhookDelete,
	}
	slices.Sort(a)
	return a
}

// IsAction reports whether s is one of Actions.
func IsAction(s string) bool { return slices.Contains(Actions(), s) }

// For returns r's context carrying the audit entry of the change the
// request asks for: the request's principal and request id, action and
// objectID ("" for the id of the object the store makes).
func For(r *http.Request, action, objectID string) context.Context {
	ctx := r.Context()
	return store.WithAudit(ctx, store.AuditEntry{
		Principal: auth.NameOf(ctx),
		Action:    action,
		ObjectID:  objectID,
		RequestID: web.RequestID(ctx),
	})
}
