// Package webhook delivers the webhook events that the store queues (SPEC
// §5 "Webhooks") following the Standard Webhooks specification: every
// request carries the headers webhook-id (the delivery's message id, the
// same on every retry), webhook-timestamp (Unix seconds of the attempt)
// and webhook-signature ("v1," + base64 of HMAC-SHA256 keyed with the
// secret's bytes over "<id>.<timestamp>.<body>").
//
// A Dispatcher claims due deliveries from the store, posts them, and
// reports each attempt: a 2xx answer delivers; anything else (another
// status, a redirect, no answer within the client timeout) is retried
// with exponential backoff, Backoff: 5 s after the first attempt, then
// doubling up to an hour between attempts. A delivery whose attempt fails
// when GiveUpAfter (24 h) has passed since the event is given up (FAILED):
// so every event is tried for at least 24 hours. The store hands out a
// run's deliveries to one webhook in order, the next only once the one
// before is delivered or given up.
//
// Readings taken: "retried … for at least 24 hours" counts from the
// event (the delivery's creation), and the attempt that fails after that
// horizon is the last. A delivery is at least once: a process that dies
// between the receiver's 2xx and recording it delivers again after the
// claim's lease, with the same webhook-id, which receivers use to drop
// duplicates.
package webhook

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// SecretPrefix starts every signing secret.
const SecretPrefix = "whsec_"

// SecretBytes is the size of the key of a new secret.
const SecretBytes = 32

// NewSecret returns a new signing secret: "whsec_" and the base64 of
// SecretBytes random bytes.
func NewSecret() string {
	b := make([]byte, SecretBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return SecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// Sign returns the webhook-signature header value of a message:
// "v1," + base64(HMAC-SHA256(key, id + "." + timestamp + "." + body)),
// where key is the base64-decoded part of secret after "whsec_". The
// signing is the Standard Webhooks reference library's.
func Sign(secret, msgID string, timestamp int64, body []byte) (string, error) {
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		return "", fmt.Errorf("webhook: secret is not whsec_ and base64: %w", err)
	}
	sig, err := wh.Sign(msgID, time.Unix(timestamp, 0), body)
	if err != nil {
		return "", fmt.Errorf("webhook: sign message %s: %w", msgID, err)
	}
	return sig, nil
}

// URLPolicy says which webhook URLs are accepted.
type URLPolicy int

const (
	// HTTPSOnly accepts https URLs only (`iprs serve`).
	HTTPSOnly URLPolicy = iota
	// LoopbackHTTP also accepts http URLs whose host is a loopback
	// address or "localhost" (`iprs dev`).
	LoopbackHTTP
	// AnyHTTP accepts http URLs too (IPRS_WEBHOOK_ALLOW_HTTP=true).
	AnyHTTP
)

// CheckURL returns an error, fit for a client, unless raw is an absolute
// http(s) URL with a host, without user info or fragment, that the policy
// accepts.
func (p URLPolicy) CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Hostname() == "" {
		return errors.New("must be an absolute http or https URL with a host")
	}
	if u.User != nil {
		return errors.New("must not carry user information")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return errors.New("must not have a fragment")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		switch p {
		case AnyHTTP:
			return nil
		case LoopbackHTTP:
			host := u.Hostname()
			if ip := net.ParseIP(host); (ip != nil && ip.IsLoopback()) || strings.EqualFold(host, "localhost") {
				return nil
			}
			return errors.New("must be https, or http to a loopback address")
		}
		return errors.New("must be https (http is refused unless IPRS_WEBHOOK_ALLOW_HTTP=true)")
	}
	return errors.New("must be an http or https URL")
}

// Backoff is the wait after the attempt-th failed attempt (1-based):
// 5 s, 10 s, 20 s, … doubling, at most an hour.
func Backoff(attempt int) time.Duration {
	const first, most = 5 * time.Second, time.Hour
	d := first
	for i := 1; i < attempt; i++ {
		d *= 2
		if d >= most {
			return most
		}
	}
	return d
}
