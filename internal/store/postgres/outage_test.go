package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/store/postgres"
	"github.com/iprs/iprs/internal/store/teststore"
)

// syncBuffer is a log destination safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestClassifyClosedPort(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := postgres.Open(ctx, "postgres://postgres@"+closedPort(t)+"/iprs?sslmode=disable&connect_timeout=5", postgres.Options{})
	if err == nil {
		t.Fatal("Open on a closed port succeeded")
	}
	if f := postgres.Classify(ctx, err); f != store.FaultUnreachable {
		t.Fatalf("Classify(%v) = %v, want FaultUnreachable", err, f)
	}
	// What the server says when it is there is no outage, and neither is
	// a failure after the caller gave up.
	gone, stop := context.WithCancel(context.Background())
	stop()
	for _, c := range []struct {
		ctx context.Context
		err error
	}{
		{ctx, errors.New("closed pool")},
		{ctx, apperr.Errorf(apperr.Conflict, "taken")},
		{gone, context.Canceled},
		{gone, &net.OpError{Op: "read", Err: errors.New("reset")}},
	} {
		if f := postgres.Classify(c.ctx, c.err); f != store.FaultNone {
			t.Errorf("Classify(%v) = %v, want FaultNone", c.err, f)
		}
	}
}

// TestOutageThroughProxy runs a store whose server goes away and comes
// back: a proxy between them is stopped (the port closes, every pooled
// connection is cut) and started again.
func TestOutageThroughProxy(t *testing.T) {
	ctx := context.Background()
	url, proxy := teststore.ProxyURL(t, teststore.PostgresURL(t))
	db, err := postgres.Open(ctx, url, postgres.Options{Migrate: true, MaxConns: 4, QueryTimeout: 3 * time.Second})
	if err != nil {
		t.Fatalf("Open through the proxy: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	var logs syncBuffer
	w := store.Watch(db, postgres.Classify, slog.New(slog.NewTextHandler(&logs, nil)))

	// Every connection of the pool is in use once, so that the outage
	// cuts established connections, not only new ones.
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := w.RunList(ctx, store.RunListParams{ListParams: store.ListParams{Limit: 10}}); err != nil {
				t.Errorf("RunList: %v", err)
			}
		}()
	}
	wg.Wait()
	if _, err := w.MarketSnapshotGet(ctx, "NONE"); apperr.CodeOf(err) != apperr.NotFound {
		t.Fatalf("before the outage: %v", err)
	}

	proxy.Stop()
	calls := map[string]func() error{
		"Ping":              func() error { return w.Ping(ctx) },
		"MarketSnapshotGet": func() error { _, err := w.MarketSnapshotGet(ctx, "NONE"); return err },
		"RunList": func() error {
			_, err := w.RunList(ctx, store.RunListParams{ListParams: store.ListParams{Limit: 10}})
			return err
		},
		"PositionScan": func() error { return w.PositionScan(ctx, []string{"PS"}, func(*store.Position) error { return nil }) },
		"TaskClaim": func() error {
			_, err := w.TaskClaim(ctx, store.TaskClaimParams{Owner: "o", Lease: time.Minute})
			return err
		},
		"PositionSnapshotBegin": func() error {
			pw, err := w.PositionSnapshotBegin(ctx, "PS-OUT")
			if err == nil {
				_ = pw.Rollback(ctx)
			}
			return err
		},
	}
	for round := 0; round < 2; round++ {
		for name, call := range calls {
			start := time.Now()
			err := call()
			e, ok := apperr.As(err)
			if !ok || e.Code != apperr.Unavailable || e.Message != store.UnreachableMessage {
				t.Fatalf("%s during the outage: %v, want apperr.Unavailable", name, err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("%s took %s to fail", name, d)
			}
		}
	}
	if n := strings.Count(logs.String(), `msg="database unreachable"`); n != 1 {
		t.Fatalf("%d outage lines, want 1:\n%s", n, logs.String())
	}

	// Back: the pool reconnects by itself.
	proxy.Start()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := w.Ping(ctx)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still unreachable after the server came back: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for name, call := range calls {
		if err := call(); err != nil && apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("%s after the outage: %v", name, err)
		}
	}
	if w.Down() || strings.Count(logs.String(), `msg="database reachable again"`) != 1 ||
		strings.Count(logs.String(), `msg="database unreachable"`) != 1 {
		t.Fatalf("log:\n%s", logs.String())
	}
}
