package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/iprs/iprs/internal/store"
)

// enqueueWebhooks writes, in tx (the transaction of the event), one PENDING
// delivery of the event for every webhook not deleted that subscribes to
// it. The webhook rows are locked FOR SHARE, so a concurrent
// WebhookDelete either sees these deliveries (and fails them) or commits
// first (and the webhook is skipped).
func enqueueWebhooks(ctx context.Context, tx pgx.Tx, eventType, runID, status, runError string, now time.Time) error {
	if eventType == "" {
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT webhook_id FROM webhook WHERE deleted_at IS NULL AND $1 = ANY(events)
ORDER BY webhook_id FOR SHARE`, eventType)
	if err != nil {
		return fmt.Errorf("postgres: find webhooks of %s: %w", eventType, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("postgres: find webhooks of %s: %w", eventType, err)
	}
	if len(ids) == 0 {
		return nil
	}
	now = stamp(now)
	payload := string(store.WebhookPayload(eventType, now, runID, status, runError))
	for _, id := range ids {
		if _, err := tx.Exec(ctx, `INSERT INTO webhook_delivery (webhook_id, event_type, run_id, payload, message_id, status,
    next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, 'PENDING', $6, $6)`,
			id, eventType, runID, payload, store.NewMessageID(), now); err != nil {
			return fmt.Errorf("postgres: queue %s for webhook %q: %w", eventType, id, err)
		}
	}
	return nil
}

// WebhookCreate stores a webhook.
func (db *DB) WebhookCreate(ctx context.Context, w *store.Webhook) (*store.Webhook, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	in := *w
	in.CreatedAt = db.stampOr(w.CreatedAt)
	in.DeletedAt = nil
	in.Events = append([]string{}, w.Events...)
	err := db.inTx(ctx, "WebhookCreate", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO webhook (webhook_id, url, events, description, secret, created_at)
VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (webhook_id) DO NOTHING`, in.ID, in.URL, in.Events, in.Description, in.Secret, in.CreatedAt)
		if err != nil {
			return fmt.Errorf("postgres: create webhook %q: %w", in.ID, err)
		}
		if tag.RowsAffected() == 0 {
			return conflict("webhook %q already exists", in.ID)
		}
		return db.recordAudit(ctx, tx, in.ID)
	})
	if err != nil {
		return nil, err
	}
	return &in, nil
}

// WebhookGet returns a webhook that is not deleted.
func (db *DB) WebhookGet(ctx context.Context, id string) (*store.Webhook, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	var w store.Webhook
	err := db.pool.QueryRow(ctx, `SELECT webhook_id, url, events, description, secret, created_at
FROM webhook WHERE webhook_id = $1 AND deleted_at IS NULL`, id).Scan(&w.ID, &w.URL, &w.Events, &w.Description, &w.Secret, &w.CreatedAt)
	if err != nil {
		return nil, noRows(err, fmt.Sprintf("webhook %q", id))
	}
	w.CreatedAt = w.CreatedAt.UTC()
	return &w, nil
}

// WebhookDelete marks a webhook deleted and fails its pending deliveries.
func (db *DB) WebhookDelete(ctx context.Context, id string) error {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	return db.inTx(ctx, "WebhookDelete", func(tx pgx.Tx) error {
		var now time.Time
		err := tx.QueryRow(ctx, `UPDATE webhook SET deleted_at = `+nowSQL+` WHERE webhook_id = $2 AND deleted_at IS NULL
RETURNING deleted_at`, db.clock(), id).Scan(&now)
		if err != nil {
			return noRows(err, fmt.Sprintf("webhook %q", id))
		}
		if _, err := tx.Exec(ctx, `UPDATE webhook_delivery SET status = 'FAILED', last_error = 'webhook deleted'
WHERE webhook_id = $1 AND status = 'PENDING'`, id); err != nil {
			return fmt.Errorf("postgres: fail deliveries of webhook %q: %w", id, err)
		}
		return db.recordAudit(ctx, tx, id)
	})
}

const deliveryColumns = `d.delivery_id, d.webhook_id, d.event_type, d.run_id, d.payload, d.message_id, d.status, d.attempts,
    d.next_attempt_at, d.last_status_code, d.last_error, d.created_at, d.delivered_at`

func deliveryDest(d *store.WebhookDelivery, payload *string) []any {
	return []any{&d.ID, &d.WebhookID, &d.EventType, &d.RunID, payload, &d.MessageID, &d.Status, &d.Attempts,
		&d.NextAttemptAt, &d.LastStatusCode, &d.LastError, &d.CreatedAt, &d.DeliveredAt}
}

func deliveryUTC(d *store.WebhookDelivery, payload string) {
	d.Payload = []byte(payload)
	d.NextAttemptAt = d.NextAttemptAt.UTC()
	d.CreatedAt = d.CreatedAt.UTC()
	d.DeliveredAt = utcPtr(d.DeliveredAt)
}

// WebhookDeliveryList lists a webhook's deliveries newest first with
// their attempts.
func (db *DB) WebhookDeliveryList(ctx context.Context, webhookID string, limit int) ([]*store.WebhookDelivery, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	var out []*store.WebhookDelivery
	err := db.inTx(ctx, "WebhookDeliveryList", func(tx pgx.Tx) error {
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM webhook WHERE webhook_id = $1 AND deleted_at IS NULL`, webhookID).Scan(&one); err != nil {
			return noRows(err, fmt.Sprintf("webhook %q", webhookID))
		}
		if limit <= 0 {
			limit = -1
		}
		rows, err := tx.Query(ctx, `SELECT `+deliveryColumns+` FROM webhook_delivery d WHERE d.webhook_id = $1
ORDER BY d.delivery_id DESC LIMIT CASE WHEN $2::integer < 0 THEN NULL ELSE $2::integer END`, webhookID, limit)
		if err != nil {
			return fmt.Errorf("postgres: list deliveries of webhook %q: %w", webhookID, err)
		}
		byID := map[int64]*store.WebhookDelivery{}
		var ids []int64
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (*store.WebhookDelivery, error) {
			var (
				d       store.WebhookDelivery
				payload string
			)
			if err := r.Scan(deliveryDest(&d, &payload)...); err != nil {
				return nil, err
			}
			deliveryUTC(&d, payload)
			byID[d.ID] = &d
			ids = append(ids, d.ID)
			return &d, nil
		})
		if err != nil {
			return fmt.Errorf("postgres: list deliveries of webhook %q: %w", webhookID, err)
		}
		if len(ids) == 0 {
			return nil
		}
		rows, err = tx.Query(ctx, `SELECT delivery_id, attempt, attempted_at, status_code, error FROM webhook_attempt
WHERE delivery_id = ANY($1) ORDER BY delivery_id, attempt`, ids)
		if err != nil {
			return fmt.Errorf("postgres: list attempts of webhook %q: %w", webhookID, err)
		}
		defer rows.Close()
		for rows.Next() {
			var (
				id int64
				a  store.WebhookAttempt
			)
			if err := rows.Scan(&id, &a.Attempt, &a.Time, &a.StatusCode, &a.Error); err != nil {
				return fmt.Errorf("postgres: list attempts of webhook %q: %w", webhookID, err)
			}
			a.Time = a.Time.UTC()
			byID[id].AttemptLog = append(byID[id].AttemptLog, a)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// claimDeliveriesSQL claims due deliveries in one statement, skipping rows
// another claimer holds. $1 clock, $2 limit, $3 lease (µs).
const claimDeliveriesSQL = `WITH due AS (
    SELECT d.delivery_id
    FROM webhook_delivery d JOIN webhook w ON w.webhook_id = d.webhook_id
    WHERE d.status = 'PENDING' AND d.next_attempt_at <= ` + nowSQL + ` AND w.deleted_at IS NULL
      AND NOT EXISTS (SELECT 1 FROM webhook_delivery e
          WHERE e.webhook_id = d.webhook_id AND e.run_id = d.run_id AND e.status = 'PENDING' AND e.delivery_id < d.delivery_id)
    ORDER BY d.next_attempt_at, d.delivery_id
    LIMIT $2
    FOR UPDATE OF d SKIP LOCKED
)
UPDATE webhook_delivery d SET attempts = d.attempts + 1,
    next_attempt_at = ` + nowSQL + ` + $3::bigint * interval '1 microsecond'
FROM due, webhook w
WHERE d.delivery_id = due.delivery_id AND w.webhook_id = d.webhook_id
RETURNING ` + deliveryColumns + `, w.url, w.secret, ` + nowSQL

// WebhookDeliveryClaim claims due deliveries.
func (db *DB) WebhookDeliveryClaim(ctx context.Context, p store.WebhookClaimParams) ([]*store.WebhookDelivery, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	if p.Limit <= 0 || p.Lease < time.Microsecond {
		return nil, errors.New("postgres: claim deliveries: limit and lease must be positive")
	}
	rows, err := db.pool.Query(ctx, claimDeliveriesSQL, db.clock(), p.Limit, micros(p.Lease))
	if err != nil {
		return nil, fmt.Errorf("postgres: claim deliveries: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*store.WebhookDelivery, error) {
		var (
			d       store.WebhookDelivery
			payload string
		)
		if err := r.Scan(append(deliveryDest(&d, &payload), &d.URL, &d.Secret, &d.ClaimedAt)...); err != nil {
			return nil, err
		}
		deliveryUTC(&d, payload)
		d.ClaimedAt = d.ClaimedAt.UTC()
		return &d, nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: claim deliveries: %w", err)
	}
	return out, nil
}

// WebhookAttemptRecord logs an attempt and moves its delivery.
func (db *DB) WebhookAttemptRecord(ctx context.Context, p store.WebhookAttemptParams) error {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	return db.inTx(ctx, "WebhookAttemptRecord", func(tx pgx.Tx) error {
		var (
			status   string
			attempts int
			now      time.Time
		)
		if err := tx.QueryRow(ctx, `SELECT status, attempts, `+nowSQL+` FROM webhook_delivery WHERE delivery_id = $2 FOR UPDATE`,
			db.clock(), p.DeliveryID).Scan(&status, &attempts, &now); err != nil {
			return noRows(err, fmt.Sprintf("webhook delivery %d", p.DeliveryID))
		}
		if status != store.DeliveryPending || attempts != p.Attempt {
			return conflict("webhook delivery %d: attempt %d lost (the delivery is %s at attempt %d)", p.DeliveryID, p.Attempt, status, attempts)
		}
		now = now.UTC()
		if _, err := tx.Exec(ctx, `INSERT INTO webhook_attempt (delivery_id, attempt, attempted_at, status_code, error)
VALUES ($1, $2, $3, $4, $5)`, p.DeliveryID, p.Attempt, now, p.StatusCode, p.Error); err != nil {
			return fmt.Errorf("postgres: log attempt %d of webhook delivery %d: %w", p.Attempt, p.DeliveryID, err)
		}
		next, delivered := store.DeliveryPending, (*time.Time)(nil)
		switch {
		case p.Delivered:
			next, delivered = store.DeliveryDelivered, &now
		case p.GiveUp:
			next = store.DeliveryFailed
		}
		if _, err := tx.Exec(ctx, `UPDATE webhook_delivery SET status = $2, last_status_code = $3, last_error = $4, delivered_at = $5,
    next_attempt_at = $6 WHERE delivery_id = $1`,
			p.DeliveryID, next, p.StatusCode, p.Error, delivered, now.Add(max(p.RetryAfter, 0))); err != nil {
			return fmt.Errorf("postgres: update webhook delivery %d: %w", p.DeliveryID, err)
		}
		return nil
	})
}
