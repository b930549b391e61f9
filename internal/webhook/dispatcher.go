package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/iprs/iprs/internal/store"
)

// Defaults of Options.
const (
	DefaultPoll        = time.Second
	DefaultBatch       = 16
	DefaultTimeout     = 10 * time.Second
	DefaultLease       = 2 * time.Minute
	DefaultGiveUpAfter = 24 * time.Hour
	// recordTimeout bounds the recording of an attempt.
	recordTimeout = 5 * time.Second
)

// Options configure a Dispatcher; zero fields take the defaults.
type Options struct {
	// Client posts the deliveries; nil means one with Timeout that does
	// not follow redirects (a redirect is a failed attempt).
	Client  *http.Client
	Timeout time.Duration
	// Poll is the wait between claims when nothing was due.
	Poll time.Duration
	// Batch is the most deliveries claimed (and posted concurrently) at once.
	Batch int
	// Lease is how long a claimed delivery is held; it must exceed the
	// client's timeout.
	Lease time.Duration
	// Backoff is the wait after the n-th failed attempt; nil means Backoff.
	Backoff func(attempt int) time.Duration
	// GiveUpAfter is the time since the event after which a failed
	// attempt is the last.
	GiveUpAfter time.Duration
	// Now stamps webhook-timestamp; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Dispatcher delivers queued webhook events. Several may run on one
// database: the store never hands a delivery to two at once.
type Dispatcher struct {
	st   store.Store
	opts Options
	log  *slog.Logger
}

// New returns a Dispatcher over st.
func New(st store.Store, opts Options) *Dispatcher {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Client == nil {
		opts.Client = &http.Client{
			Timeout:       opts.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if opts.Poll <= 0 {
		opts.Poll = DefaultPoll
	}
	if opts.Batch <= 0 {
		opts.Batch = DefaultBatch
	}
	if opts.Lease <= 0 {
		opts.Lease = DefaultLease
	}
	if opts.Backoff == nil {
		opts.Backoff = Backoff
	}
	if opts.GiveUpAfter <= 0 {
		opts.GiveUpAfter = DefaultGiveUpAfter
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Dispatcher{st: st, opts: opts, log: log}
}

// Run delivers until ctx ends, then returns nil. A store failure is
// logged and retried after Poll.
func (d *Dispatcher) Run(ctx context.Context) error {
	for {
		n, err := d.DispatchOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			d.log.WarnContext(ctx, "webhook dispatch failed", "error", err)
		}
		if n > 0 && err == nil {
			continue // more may be due
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(d.opts.Poll):
		}
	}
}

// DispatchOnce claims the deliveries due now, posts them concurrently and
// records their attempts; it returns how many it claimed.
func (d *Dispatcher) DispatchOnce(ctx context.Context) (int, error) {
	claimed, err := d.st.WebhookDeliveryClaim(ctx, store.WebhookClaimParams{Limit: d.opts.Batch, Lease: d.opts.Lease})
	if err != nil {
		return 0, fmt.Errorf("webhook: claim deliveries: %w", err)
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, del := range claimed {
		wg.Go(func() {
			if err := d.deliver(ctx, del); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return len(claimed), errors.Join(errs...)
}

// deliver makes one attempt of a claimed delivery and records it.
func (d *Dispatcher) deliver(ctx context.Context, del *store.WebhookDelivery) error {
	code, failure := d.post(ctx, del)
	p := store.WebhookAttemptParams{DeliveryID: del.ID, Attempt: del.Attempts, StatusCode: code, Error: failure}
	switch {
	case failure == "":
		p.Delivered = true
	case del.ClaimedAt.Sub(del.CreatedAt) >= d.opts.GiveUpAfter:
		p.GiveUp = true
	default:
		p.RetryAfter = d.opts.Backoff(del.Attempts)
	}
	log := d.log.With("webhook_id", del.WebhookID, "message_id", del.MessageID, "event", del.EventType,
		"run_id", del.RunID, "attempt", del.Attempts, "status_code", code)
	// An attempt cut short by shutdown is still recorded (it may have
	// reached the receiver), on a context that outlives the cancellation
	// briefly.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if err := d.st.WebhookAttemptRecord(rctx, p); err != nil {
		return fmt.Errorf("webhook: record attempt %d of %s: %w", del.Attempts, del.MessageID, err)
	}
	switch {
	case p.Delivered:
		log.InfoContext(ctx, "webhook delivered")
	case p.GiveUp:
		log.WarnContext(ctx, "webhook given up", "error", failure)
	default:
		log.InfoContext(ctx, "webhook attempt failed", "error", failure, "retry_after", p.RetryAfter)
	}
	return nil
}

// post sends the delivery once: the status code (0 without an answer) and
// "" on a 2xx, else what went wrong.
func (d *Dispatcher) post(ctx context.Context, del *store.WebhookDelivery) (int, string) {
	ts := d.opts.Now().Unix()
	sig, err := Sign(del.Secret, del.MessageID, ts, del.Payload)
	if err != nil {
		return 0, err.Error()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, del.URL, bytes.NewReader(del.Payload))
	if err != nil {
		return 0, "bad request: " + err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "iprs-webhooks")
	req.Header.Set("webhook-id", del.MessageID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := d.opts.Client.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp.StatusCode, ""
	}
	return resp.StatusCode, "HTTP " + strconv.Itoa(resp.StatusCode)
}
