package store

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Webhooks (SPEC §5 "Webhooks"). A Webhook subscribes a URL to event
// types. When an event happens, the write method that commits it inserts,
// IN THE SAME TRANSACTION, one WebhookDelivery (an outbox row) for every
// webhook that is not deleted and whose Events include the event's type:
// a committed event always has its deliveries and a rolled-back one never
// has any, whatever process dies when. The events and where they are
// written:
//
//	run.completed, run.failed, run.cancelled  when a run settles as COMPLETED,
//	                                          FAILED or CANCELLED (the drivers'
//	                                          settleRun, and RunCreate of a run
//	                                          without tasks, COMPLETED at once)
//	run.published                             RunPublish
//	explain.completed                         the write that completes an explain
//
// A dispatcher (package webhook) claims due deliveries with
// WebhookDeliveryClaim, posts them and reports each attempt with
// WebhookAttemptRecord.

// Webhook event types.
const (
	EventRunCompleted     = "run.completed"
	EventRunFailed        = "run.failed"
	EventRunCancelled     = "run.cancelled"
	EventRunPublished     = "run.published"
	EventExplainCompleted = "explain.completed"
)

// WebhookEvents lists every event type, in SPEC order.
var WebhookEvents = []string{EventRunCompleted, EventRunFailed, EventRunCancelled, EventRunPublished, EventExplainCompleted}

// RunSettledEvent is the event type of a run of kind that settled in
// status (COMPLETED, FAILED, CANCELLED); "" for any other status, and
// for what has no event: an explain that did not complete, a verify.
func RunSettledEvent(kind, status string) string {
	switch kind {
	case KindExplain:
		if status == RunCompleted {
			return EventExplainCompleted
		}
		return ""
	case KindVerify:
		return ""
	}
	switch status {
	case RunCompleted:
		return EventRunCompleted
	case RunFailed:
		return EventRunFailed
	case RunCancelled:
		return EventRunCancelled
	}
	return ""
}

// Delivery statuses.
const (
	DeliveryPending   = "PENDING"
	DeliveryDelivered = "DELIVERED"
	DeliveryFailed    = "FAILED"
)

// Webhook is a subscription.
type Webhook struct {
	ID          string
	URL         string
	Events      []string
	Description string
	// Secret is the signing secret, "whsec_" + base64 of the key bytes.
	Secret    string
	CreatedAt time.Time
	DeletedAt *time.Time
}

// WebhookDelivery is one event to deliver to one webhook.
type WebhookDelivery struct {
	ID        int64
	WebhookID string
	EventType string
	// RunID is the run the event is about: deliveries of one run to one
	// webhook are made in ID order.
	RunID string
	// Payload is the JSON body: {type, timestamp, data:{run_id, status, …}}.
	Payload []byte
	// MessageID is the webhook-id header, the same for every attempt.
	MessageID      string
	Status         string
	Attempts       int
	NextAttemptAt  time.Time
	LastStatusCode int
	LastError      string
	CreatedAt      time.Time
	DeliveredAt    *time.Time
	// AttemptLog lists the attempts (WebhookDeliveryList only).
	AttemptLog []WebhookAttempt
	// URL and Secret are the webhook's (WebhookDeliveryClaim only).
	URL, Secret string
	// ClaimedAt is the store's now at the claim (WebhookDeliveryClaim only).
	ClaimedAt time.Time
}

// WebhookAttempt is one logged delivery attempt.
type WebhookAttempt struct {
	Attempt    int
	Time       time.Time
	StatusCode int    // 0 when no answer came
	Error      string // "" on a 2xx
}

// WebhookClaimParams claims due deliveries.
type WebhookClaimParams struct {
	Limit int
	// Lease is how long a claimed delivery is held: if its attempt is not
	// recorded by then (the process died) it is due again.
	Lease time.Duration
}

// WebhookAttemptParams records the attempt of a claimed delivery.
type WebhookAttemptParams struct {
	DeliveryID int64
	// Attempt is the delivery's Attempts as claimed; another value is a
	// Conflict (the claim was lost).
	Attempt    int
	StatusCode int
	Error      string
	// Delivered marks it DELIVERED; else GiveUp marks it FAILED; else it is
	// due again RetryAfter after the store's now.
	Delivered  bool
	GiveUp     bool
	RetryAfter time.Duration
}

// WebhookPayload is the body of an event about a run: {type, timestamp,
// data:{run_id, status, error?}}, timestamp in RFC 3339 (UTC, µs).
func WebhookPayload(eventType string, at time.Time, runID, status, runError string) []byte {
	type data struct {
		RunID  string `json:"run_id"`
		Status string `json:"status"`
		Error  string `json:"error,omitempty"`
	}
	b, err := json.Marshal(struct {
		Type      string `json:"type"`
		Timestamp string `json:"timestamp"`
		Data      data   `json:"data"`
	}{eventType, at.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano), data{runID, status, runError}})
	if err != nil {
		panic(fmt.Sprintf("store: marshal webhook payload: %v", err)) // strings only: cannot fail
	}
	return b
}

// NewMessageID returns a new webhook-id: "msg_" and 26 base32 characters
// (128 random bits).
func NewMessageID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return "msg_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// WebhookSubscribed reports whether events include eventType.
func WebhookSubscribed(events []string, eventType string) bool {
	for _, e := range events {
		if e == eventType {
			return true
		}
	}
	return false
}
