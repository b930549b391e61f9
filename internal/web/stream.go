package web

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/iprs/iprs/internal/apperr"
)

// streamBody is the middleware of StreamedBody.
func streamBody(idle time.Duration) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Body != nil && r.Body != http.NoBody {
				r.Body = &idleBody{ReadCloser: r.Body, rc: http.NewResponseController(w), idle: idle}
			}
			next.ServeHTTP(w, r)
		})
	}
}

// idleBody moves the connection's read deadline to now + idle before
// reads, so that a body that keeps arriving may take any time and one
// that stalls fails. It sets the deadline at most every idle/8 (a
// deadline is a timer update, not worth one per 32 kB read), so a stall is
// cut off after between 7/8 of idle and idle. After the body's end (or
// its first error) it sets no deadline any more: net/http then reads
// the connection in the background to notice a client that leaves, and a
// deadline there would cancel the request in mid-work.
type idleBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	idle time.Duration
	last time.Time
	done bool
}

func (b *idleBody) Read(p []byte) (int, error) {
	if !b.done {
		if now := time.Now(); now.Sub(b.last) >= b.idle/8 {
			if err := b.rc.SetReadDeadline(now.Add(b.idle)); err != nil {
				b.done = true // not a server connection (a test recorder): nothing to bound
			} else {
				b.last = now
			}
		}
	}
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.done = true
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return n, &apperr.Error{
				Code:    apperr.Timeout,
				Message: fmt.Sprintf("the request body stalled: nothing arrived for %s", b.idle),
				Err:     err,
			}
		}
	}
	return n, err
}
