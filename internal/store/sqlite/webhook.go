package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/iprs/iprs/internal/store"
)

// enqueueWebhooks writes, in tx (the transaction of the event), one PENDING
// delivery of the event for every webhook not deleted that subscribes to
// it. The single writer orders it with WebhookDelete.
func enqueueWebhooks(ctx context.Context, tx *sql.Tx, eventType, runID, status, runError string, now time.Time) error {
	if eventType == "" {
		return nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT webhook_id, events FROM webhook WHERE deleted_at IS NULL ORDER BY webhook_id`)
	if err != nil {
		return fmt.Errorf("find webhooks of %s: %w", eventType, err)
	}
	var ids []string
	for rows.Next() {
		var id, events string
		if err := rows.Scan(&id, &events); err != nil {
			rows.Close()
			return fmt.Errorf("find webhooks of %s: %w", eventType, err)
		}
		var list []string
		if err := json.Unmarshal([]byte(events), &list); err != nil {
			rows.Close()
			return fmt.Errorf("events of webhook %q: %w", id, err)
		}
		if store.WebhookSubscribed(list, eventType) {
			ids = append(ids, id)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("find webhooks of %s: %w", eventType, err)
	}
	if len(ids) == 0 {
		return nil
	}
	payload := string(store.WebhookPayload(eventType, now, runID, status, runError))
	for _, id := range ids {
		if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_delivery (webhook_id, event_type, run_id, payload, message_id, status,
    next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, 'PENDING', ?, ?)`,
			id, eventType, runID, payload, store.NewMessageID(), toMicros(now), toMicros(now)); err != nil {
			return fmt.Errorf("queue %s for webhook %q: %w", eventType, id, err)
		}
	}
	return nil
}

// WebhookCreate stores a webhook.
func (db *DB) WebhookCreate(ctx context.Context, w *store.Webhook) (*store.Webhook, error) {
	in := *w
	in.DeletedAt = nil
	in.Events = append([]string{}, w.Events...)
	events, err := json.Marshal(in.Events)
	if err != nil {
		return nil, fmt.Errorf("sqlite: encode webhook events: %w", err)
	}
	err = db.write(ctx, func(tx *sql.Tx) error {
		if in.CreatedAt.IsZero() {
			in.CreatedAt = db.now()
		}
		in.CreatedAt = fromMicros(toMicros(in.CreatedAt))
		res, err := tx.ExecContext(ctx, `INSERT INTO webhook (webhook_id, url, events, description, secret, created_at)
VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (webhook_id) DO NOTHING`, in.ID, in.URL, string(events), in.Description, in.Secret, toMicros(in.CreatedAt))
		if err != nil {
			return fmt.Errorf("create webhook %q: %w", in.ID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return conflictf("webhook %q already exists", in.ID)
		}
		return db.recordAudit(ctx, tx, in.ID)
	})
	if err != nil {
		return nil, sqliteErr("create webhook", err)
	}
	return &in, nil
}

// WebhookGet returns a webhook that is not deleted.
func (db *DB) WebhookGet(ctx context.Context, id string) (*store.Webhook, error) {
	var w *store.Webhook
	err := db.read(ctx, func(tx *sql.Tx) error {
		var err error
		w, err = webhookGet(ctx, tx, id)
		return err
	})
	if err != nil {
		return nil, sqliteErr("get webhook", err)
	}
	return w, nil
}

func webhookGet(ctx context.Context, tx *sql.Tx, id string) (*store.Webhook, error) {
	var (
		w       store.Webhook
		events  string
		created int64
	)
	err := tx.QueryRowContext(ctx, `SELECT webhook_id, url, events, description, secret, created_at
FROM webhook WHERE webhook_id = ? AND deleted_at IS NULL`, id).Scan(&w.ID, &w.URL, &events, &w.Description, &w.Secret, &created)
	if err != nil {
		return nil, notFound(err, "webhook %q", id)
	}
	if err := json.Unmarshal([]byte(events), &w.Events); err != nil {
		return nil, fmt.Errorf("events of webhook %q: %w", id, err)
	}
	w.CreatedAt = fromMicros(created)
	return &w, nil
}

// WebhookDelete marks a webhook deleted and fails its pending deliveries.
func (db *DB) WebhookDelete(ctx context.Context, id string) error {
	err := db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE webhook SET deleted_at = ? WHERE webhook_id = ? AND deleted_at IS NULL`, toMicros(db.now()), id)
		if err != nil {
			return fmt.Errorf("delete webhook %q: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFound(sql.ErrNoRows, "webhook %q", id)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE webhook_delivery SET status = 'FAILED', last_error = 'webhook deleted'
WHERE webhook_id = ? AND status = 'PENDING'`, id); err != nil {
			return fmt.Errorf("fail deliveries of webhook %q: %w", id, err)
		}
		return db.recordAudit(ctx, tx, id)
	})
	if err != nil {
		return sqliteErr("delete webhook", err)
	}
	return nil
}

const deliveryColumns = `d.delivery_id, d.webhook_id, d.event_type, d.run_id, d.payload, d.message_id, d.status, d.attempts,
    d.next_attempt_at, d.last_status_code, d.last_error, d.created_at, d.delivered_at`

func scanDelivery(scan func(...any) error, extra ...any) (*store.WebhookDelivery, error) {
	var (
		d             store.WebhookDelivery
		payload       string
		next, created int64
		delivered     sql.NullInt64
	)
	dest := append([]any{&d.ID, &d.WebhookID, &d.EventType, &d.RunID, &payload, &d.MessageID, &d.Status, &d.Attempts,
		&next, &d.LastStatusCode, &d.LastError, &created, &delivered}, extra...)
	if err := scan(dest...); err != nil {
		return nil, err
	}
	d.Payload = []byte(payload)
	d.NextAttemptAt = fromMicros(next)
	d.CreatedAt = fromMicros(created)
	d.DeliveredAt = fromNullMicros(delivered)
	return &d, nil
}

// WebhookDeliveryList lists a webhook's deliveries newest first with
// their attempts.
func (db *DB) WebhookDeliveryList(ctx context.Context, webhookID string, limit int) ([]*store.WebhookDelivery, error) {
	var out []*store.WebhookDelivery
	err := db.read(ctx, func(tx *sql.Tx) error {
		if _, err := webhookGet(ctx, tx, webhookID); err != nil {
			return err
		}
		if limit <= 0 {
			limit = -1
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+deliveryColumns+` FROM webhook_delivery d WHERE d.webhook_id = ?
ORDER BY d.delivery_id DESC LIMIT ?`, webhookID, limit)
		if err != nil {
			return fmt.Errorf("list deliveries of webhook %q: %w", webhookID, err)
		}
		byID := map[int64]*store.WebhookDelivery{}
		for rows.Next() {
			d, err := scanDelivery(rows.Scan)
			if err != nil {
				rows.Close()
				return fmt.Errorf("list deliveries of webhook %q: %w", webhookID, err)
			}
			byID[d.ID] = d
			out = append(out, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("list deliveries of webhook %q: %w", webhookID, err)
		}
		if len(out) == 0 {
			return nil
		}
		rows, err = tx.QueryContext(ctx, `SELECT a.delivery_id, a.attempt, a.attempted_at, a.status_code, a.error
FROM webhook_attempt a JOIN webhook_delivery d ON d.delivery_id = a.delivery_id
WHERE d.webhook_id = ? AND a.delivery_id >= ? ORDER BY a.delivery_id, a.attempt`, webhookID, out[len(out)-1].ID)
		if err != nil {
			return fmt.Errorf("list attempts of webhook %q: %w", webhookID, err)
		}
		defer rows.Close()
		for rows.Next() {
			var (
				id, at int64
				a      store.WebhookAttempt
			)
			if err := rows.Scan(&id, &a.Attempt, &at, &a.StatusCode, &a.Error); err != nil {
				return fmt.Errorf("list attempts of webhook %q: %w", webhookID, err)
			}
			a.Time = fromMicros(at)
			if d := byID[id]; d != nil {
				d.AttemptLog = append(d.AttemptLog, a)
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, sqliteErr("list webhook deliveries", err)
	}
	return out, nil
}

// WebhookDeliveryClaim claims due deliveries; the single writer keeps
// concurrent claimers apart.
func (db *DB) WebhookDeliveryClaim(ctx context.Context, p store.WebhookClaimParams) ([]*store.WebhookDelivery, error) {
	if p.Limit <= 0 || p.Lease < time.Microsecond {
		return nil, errors.New("sqlite: claim deliveries: limit and lease must be positive")
	}
	var out []*store.WebhookDelivery
	err := db.write(ctx, func(tx *sql.Tx) error {
		out = nil
		now := fromMicros(toMicros(db.now()))
		rows, err := tx.QueryContext(ctx, `SELECT `+deliveryColumns+`, w.url, w.secret
FROM webhook_delivery d JOIN webhook w ON w.webhook_id = d.webhook_id
WHERE d.status = 'PENDING' AND d.next_attempt_at <= ? AND w.deleted_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM webhook_delivery e
      WHERE e.webhook_id = d.webhook_id AND e.run_id = d.run_id AND e.status = 'PENDING' AND e.delivery_id < d.delivery_id)
ORDER BY d.next_attempt_at, d.delivery_id LIMIT ?`, toMicros(now), p.Limit)
		if err != nil {
			return fmt.Errorf("claim deliveries: %w", err)
		}
		for rows.Next() {
			var url, secret string
			d, err := scanDelivery(rows.Scan, &url, &secret)
			if err != nil {
				rows.Close()
				return fmt.Errorf("claim deliveries: %w", err)
			}
			d.URL, d.Secret, d.ClaimedAt = url, secret, now
			out = append(out, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("claim deliveries: %w", err)
		}
		next := toMicros(now.Add(p.Lease))
		for _, d := range out {
			if _, err := tx.ExecContext(ctx, `UPDATE webhook_delivery SET attempts = attempts + 1, next_attempt_at = ? WHERE delivery_id = ?`,
				next, d.ID); err != nil {
				return fmt.Errorf("claim delivery %d: %w", d.ID, err)
			}
			d.Attempts++
			d.NextAttemptAt = fromMicros(next)
		}
		return nil
	})
	if err != nil {
		return nil, sqliteErr("claim webhook deliveries", err)
	}
	return out, nil
}

// WebhookAttemptRecord logs an attempt and moves its delivery.
func (db *DB) WebhookAttemptRecord(ctx context.Context, p store.WebhookAttemptParams) error {
	err := db.write(ctx, func(tx *sql.Tx) error {
		var (
			status   string
			attempts int
		)
		if err := tx.QueryRowContext(ctx, `SELECT status, attempts FROM webhook_delivery WHERE delivery_id = ?`, p.DeliveryID).Scan(&status, &attempts); err != nil {
			return notFound(err, "webhook delivery %d", p.DeliveryID)
		}
		if status != store.DeliveryPending || attempts != p.Attempt {
			return conflictf("webhook delivery %d: attempt %d lost (the delivery is %s at attempt %d)", p.DeliveryID, p.Attempt, status, attempts)
		}
		now := toMicros(db.now())
		if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_attempt (delivery_id, attempt, attempted_at, status_code, error)
VALUES (?, ?, ?, ?, ?)`, p.DeliveryID, p.Attempt, now, p.StatusCode, p.Error); err != nil {
			return fmt.Errorf("log attempt %d of webhook delivery %d: %w", p.Attempt, p.DeliveryID, err)
		}
		next, delivered := store.DeliveryPending, sql.NullInt64{}
		switch {
		case p.Delivered:
			next, delivered = store.DeliveryDelivered, sql.NullInt64{Int64: now, Valid: true}
		case p.GiveUp:
			next = store.DeliveryFailed
		}
		if _, err := tx.ExecContext(ctx, `UPDATE webhook_delivery SET status = ?, last_status_code = ?, last_error = ?, delivered_at = ?,
    next_attempt_at = ? WHERE delivery_id = ?`,
			next, p.StatusCode, p.Error, delivered, now+max(p.RetryAfter, 0).Microseconds(), p.DeliveryID); err != nil {
			return fmt.Errorf("update webhook delivery %d: %w", p.DeliveryID, err)
		}
		return nil
	})
	if err != nil {
		return sqliteErr("record webhook attempt", err)
	}
	return nil
}
