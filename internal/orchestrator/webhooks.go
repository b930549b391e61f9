package orchestrator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/audit"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/web"
	"github.com/iprs/iprs/internal/webhook"
)

// Bounds of a webhook subscription.
const (
	maxWebhookURLLen         = 2048
	maxWebhookDescriptionLen = 1024
)

// webhookWire is the body of POST /orch/webhooks.
type webhookWire struct {
	URL         string   `json:"url"`
	Events      []string `json:"events"`
	Description *string  `json:"description"`
}

// WebhookView is a webhook as the API shows it; Secret only in the answer
// of its creation.
type WebhookView struct {
	ID          string   `json:"id"`
	URL         string   `json:"url"`
	Events      []string `json:"events"`
	Description string   `json:"description"`
	CreatedAt   string   `json:"created_at"`
	Secret      string   `json:"secret,omitempty"`
}

// DeliveryView is one item of GET /orch/webhooks/{id}/deliveries.
type DeliveryView struct {
	ID             int64           `json:"id"`
	WebhookID      string          `json:"webhook_id"`
	EventType      string          `json:"event_type"`
	RunID          string          `json:"run_id"`
	Status         string          `json:"status"`
	Attempts       int             `json:"attempts"`
	NextAttemptAt  *string         `json:"next_attempt_at"`
	LastStatusCode *int            `json:"last_status_code"`
	LastError      string          `json:"last_error"`
	CreatedAt      string          `json:"created_at"`
	DeliveredAt    *string         `json:"delivered_at"`
	Payload        json.RawMessage `json:"payload"`
	AttemptLog     []AttemptView   `json:"attempt_log"`
}

// AttemptView is one logged attempt of a delivery, with the webhook-id it
// was sent with.
type AttemptView struct {
	Attempt    int    `json:"attempt"`
	WebhookID  string `json:"webhook_id"`
	Time       string `json:"time"`
	StatusCode *int   `json:"status_code"`
	Error      string `json:"error"`
}

func webhookView(w *store.Webhook) WebhookView {
	return WebhookView{ID: w.ID, URL: w.URL, Events: w.Events, Description: w.Description, CreatedAt: formatTime(w.CreatedAt)}
}

// parseWebhook checks a subscription, listing every problem with a
// pointer to it.
func parseWebhook(wire *webhookWire, policy webhook.URLPolicy) (*store.Webhook, error) {
	var fields []apperr.FieldError
	bad := func(pointer, detail string) {
		fields = append(fields, apperr.FieldError{Pointer: pointer, Detail: detail})
	}
	switch {
	case wire.URL == "":
		bad("/url", "is required")
	case len(wire.URL) > maxWebhookURLLen || !utf8.ValidString(wire.URL):
		bad("/url", fmt.Sprintf("must be a valid URL of at most %d bytes", maxWebhookURLLen))
	default:
		if err := policy.CheckURL(wire.URL); err != nil {
			bad("/url", err.Error())
		}
	}
	if len(wire.Events) == 0 {
		bad("/events", "must list at least one of "+strings.Join(store.WebhookEvents, ", "))
	}
	for i, e := range wire.Events {
		p := web.Pointer("events", fmt.Sprint(i))
		switch {
		case !slices.Contains(store.WebhookEvents, e):
			bad(p, fmt.Sprintf("%q is not an event; events are %s", e, strings.Join(store.WebhookEvents, ", ")))
		case slices.Contains(wire.Events[:i], e):
			bad(p, fmt.Sprintf("%q is listed twice", e))
		}
	}
	description := ""
	if wire.Description != nil {
		description = *wire.Description
		if utf8.RuneCountInString(description) > maxWebhookDescriptionLen || !utf8.ValidString(description) || strings.IndexByte(description, 0) >= 0 {
			bad("/description", fmt.Sprintf("must be text of at most %d characters without NUL", maxWebhookDescriptionLen))
		}
	}
	if len(fields) > 0 {
		return nil, apperr.WithFields(apperr.Invalid, "invalid webhook", fields)
	}
	return &store.Webhook{URL: wire.URL, Events: slices.Clone(wire.Events), Description: description}, nil
}

// handleCreateWebhook serves POST /orch/webhooks: 201 with the webhook and
// its signing secret, which no other answer shows.
func (s *Service) handleCreateWebhook(w http.ResponseWriter, r *http.Request) error {
	if _, err := web.Query(r); err != nil {
		return err
	}
	var wire webhookWire
	if err := web.DecodeJSON(r, &wire); err != nil {
		return err
	}
	in, err := parseWebhook(&wire, s.opts.WebhookURLs)
	if err != nil {
		return err
	}
	in.ID = newID("WH-", s.opts.Now())
	in.Secret = webhook.NewSecret()
	stored, err := s.store.WebhookCreate(audit.For(r, audit.WebhookCreate, in.ID), in)
	if err != nil {
		return fmt.Errorf("create webhook: %w", err)
	}
	s.log(r.Context()).InfoContext(r.Context(), "webhook created", "webhook_id", stored.ID, "events", stored.Events)
	v := webhookView(stored)
	v.Secret = stored.Secret
	w.Header().Set("Location", "/orch/webhooks/"+stored.ID)
	return web.WriteJSON(w, http.StatusCreated, v)
}

// handleGetWebhook serves GET /orch/webhooks/{id}, without the secret.
func (s *Service) handleGetWebhook(w http.ResponseWriter, r *http.Request) error {
	if _, err := web.Query(r); err != nil {
		return err
	}
	id := r.PathValue("id")
	hook, err := s.store.WebhookGet(r.Context(), id)
	if err != nil {
		return notFoundOr(err, "webhook", id)
	}
	return web.WriteJSON(w, http.StatusOK, webhookView(hook))
}

// handleDeleteWebhook serves DELETE /orch/webhooks/{id}: 204; its pending
// deliveries are given up.
func (s *Service) handleDeleteWebhook(w http.ResponseWriter, r *http.Request) error {
	if _, err := web.Query(r); err != nil {
		return err
	}
	if err := refuseMembers(r); err != nil {
		return err
	}
	id := r.PathValue("id")
	if err := s.store.WebhookDelete(audit.For(r, audit.WebhookDelete, id), id); err != nil {
		return notFoundOr(err, "webhook", id)
	}
	s.log(r.Context()).InfoContext(r.Context(), "webhook deleted", "webhook_id", id)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleWebhookDeliveries serves GET /orch/webhooks/{id}/deliveries?limit=:
// the newest deliveries first, each with its attempts.
func (s *Service) handleWebhookDeliveries(w http.ResponseWriter, r *http.Request) error {
	if _, err := web.Query(r, "limit"); err != nil {
		return err
	}
	page, err := web.ParsePage(r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	list, err := s.store.WebhookDeliveryList(r.Context(), id, page.Limit)
	if err != nil {
		return notFoundOr(err, "webhook", id)
	}
	items := make([]DeliveryView, len(list))
	for i, d := range list {
		v := DeliveryView{ID: d.ID, WebhookID: d.MessageID, EventType: d.EventType, RunID: d.RunID, Status: d.Status,
			Attempts: d.Attempts, LastError: d.LastError, CreatedAt: formatTime(d.CreatedAt),
			Payload: json.RawMessage(d.Payload), AttemptLog: make([]AttemptView, len(d.AttemptLog))}
		if d.Status == store.DeliveryPending {
			v.NextAttemptAt = ptrTo(formatTime(d.NextAttemptAt))
		}
		if d.LastStatusCode != 0 {
			v.LastStatusCode = ptrTo(d.LastStatusCode)
		}
		if d.DeliveredAt != nil {
			v.DeliveredAt = ptrTo(formatTime(*d.DeliveredAt))
		}
		for j, a := range d.AttemptLog {
			av := AttemptView{Attempt: a.Attempt, WebhookID: d.MessageID, Time: formatTime(a.Time), Error: a.Error}
			if a.StatusCode != 0 {
				av.StatusCode = ptrTo(a.StatusCode)
			}
			v.AttemptLog[j] = av
		}
		items[i] = v
	}
	return web.WriteJSON(w, http.StatusOK, web.List[DeliveryView]{Items: items})
}

func ptrTo[T any](v T) *T { return &v }
