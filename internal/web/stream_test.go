package web_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/web"
)

// streamServer serves a Mux with a streamed route (idle timeout idle) and
// an ordinary one on a real listener, with the server's ReadTimeout set
// to readTimeout.
func streamServer(t *testing.T, idle, readTimeout time.Duration) string {
	t.Helper()
	logger, _ := newLogger()
	m := web.NewMux(web.Config{Service: "orchestrator", Prefix: "/orch", Logger: logger})
	echo := func(w http.ResponseWriter, r *http.Request) error {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return web.BodyReadError(err)
		}
		// Work after the body: no read deadline may cut it short.
		select {
		case <-time.After(2 * idle):
		case <-r.Context().Done():
			return r.Context().Err()
		}
		return web.WriteJSON(w, http.StatusOK, map[string]int{"bytes": len(b)})
	}
	m.HandleFunc("POST /orch/streamed", echo, web.StreamedBody(idle))
	m.HandleFunc("POST /orch/plain", echo)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := web.NewServer("", m.Handler(), logger)
	srv.ReadTimeout = readTimeout
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- web.Serve(ctx, srv, ln, time.Second) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}

// send posts a body of n chunks of 100 bytes, gap apart, announcing total
// bytes, and returns the status and body of the answer.
func send(t *testing.T, addr, path string, chunks int, gap time.Duration, total int) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", path, total)
	for i := 0; i < chunks; i++ {
		if i > 0 {
			time.Sleep(gap)
		}
		if _, err := conn.Write([]byte(strings.Repeat("x", 100))); err != nil {
			break // the server gave up on us
		}
	}
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s: read answer: %v", path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestStreamedBody(t *testing.T) {
	t.Parallel()
	const idle = 600 * time.Millisecond
	addr := streamServer(t, idle, 400*time.Millisecond)

	// A body that keeps arriving may take longer than ReadTimeout and
	// the idle time, and the work after it longer than both again.
	if code, body := send(t, addr, "/orch/streamed", 12, 150*time.Millisecond, 1200); code != 200 || !strings.Contains(body, `"bytes":1200`) {
		t.Fatalf("flowing body: %d %s", code, body)
	}
	// One that stalls fails with 408 after about the idle time.
	start := time.Now()
	code, body := send(t, addr, "/orch/streamed", 2, 0, 1000)
	if code != http.StatusRequestTimeout || !strings.Contains(body, "stalled") || !strings.Contains(body, "request-timeout") {
		t.Fatalf("stalled body: %d %s", code, body)
	}
	if d := time.Since(start); d < idle*7/8 || d > idle+2*time.Second {
		t.Fatalf("stalled body cut off after %s, idle %s", d, idle)
	}
	// An ordinary route's body is bounded by ReadTimeout as a whole.
	if code, body := send(t, addr, "/orch/plain", 12, 150*time.Millisecond, 1200); code != http.StatusRequestTimeout || !strings.Contains(body, "in time") {
		t.Fatalf("slow ordinary body: %d %s", code, body)
	}
	// and its handler's work after the body is not cut short either.
	if code, body := send(t, addr, "/orch/plain", 1, 0, 100); code != 200 {
		t.Fatalf("ordinary body: %d %s", code, body)
	}
}
