package client

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestProblemIsDecodedWithItsPointers(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Authorization"); got != "Bearer s3cret" {
			t.Errorf("Authorization = %q", got)
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusUnprocessableEntity)
		w.Write([]byte(`{"type":"/problems/unprocessable","title":"Unprocessable","status":422,"detail":"the run cannot start",
			"errors":[{"pointer":"/market_snapshot_id","detail":"market snapshot M is FAIL"},{"pointer":"","parameter":"limit","detail":"too big"}]}`))
	}))
	defer srv.Close()
	c := New(srv.URL, "s3cret", srv.Client())
	_, _, err := c.SubmitRun(context.Background(), map[string]any{"run_type": "SANDBOX"})
	if StatusOf(err) != 422 {
		t.Fatalf("StatusOf = %d (%v)", StatusOf(err), err)
	}
	msg := err.Error()
	for _, want := range []string{"422", "the run cannot start", "/market_snapshot_id: market snapshot M is FAIL", "?limit: too big"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
}

func TestWaitRunPollsUntilFinal(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.EscapedPath() != "/orch/runs/R%201" {
			t.Errorf("path %q", r.URL.EscapedPath())
		}
		status := "RUNNING"
		if calls.Add(1) >= 3 {
			status = "COMPLETED"
		}
		w.Write([]byte(`{"run_id":"R 1","status":"` + status + `","progress":{"tasks_total":2}}`))
	}))
	defer srv.Close()
	c := New(srv.URL, "", srv.Client())
	seen := 0
	run, err := c.WaitRun(context.Background(), "R 1", time.Millisecond, func(Run) { seen++ })
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != "COMPLETED" || seen != 3 || run.Progress.TasksTotal != 2 {
		t.Fatalf("status %s after %d polls", run.Status, seen)
	}
}

func TestFormatCount(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -45000: "-45,000"} {
		if got := FormatCount(n); got != want {
			t.Errorf("FormatCount(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestListRunsFollowsTheCursor(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.URL.Path != "/orch/runs" || q.Get("status") != "COMPLETED" || q.Get("limit") != "1" {
			t.Errorf("request %s", r.URL)
		}
		if q.Get("cursor") == "" {
			w.Write([]byte(`{"items":[{"run_id":"B"}],"next_cursor":"c1"}`))
			return
		}
		w.Write([]byte(`{"items":[{"run_id":"A"}],"next_cursor":null}`))
	}))
	defer srv.Close()
	c := New(srv.URL, "", srv.Client())
	runs, next, err := c.ListRuns(context.Background(), "COMPLETED", 1, "")
	if err != nil || len(runs) != 1 || runs[0].RunID != "B" || next != "c1" {
		t.Fatalf("first page: %v %q %v", runs, next, err)
	}
	runs, next, err = c.ListRuns(context.Background(), "COMPLETED", 1, next)
	if err != nil || len(runs) != 1 || runs[0].RunID != "A" || next != "" {
		t.Fatalf("last page: %v %q %v", runs, next, err)
	}
}

func TestUnreachableAndNoRoute(t *testing.T) {
	t.Parallel()
	ln := httptest.NewServer(http.NotFoundHandler())
	addr := ln.URL
	ln.Close() // nothing listens there any more
	_, err := New(addr, "", nil).GetRun(context.Background(), "R")
	if !IsUnreachable(err) || NoRoute(err) {
		t.Errorf("closed port: IsUnreachable %v NoRoute %v (%v)", IsUnreachable(err), NoRoute(err), err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusNotFound)
		if r.URL.Path == "/orch/runs/R" {
			w.Write([]byte(`{"title":"Not found","status":404,"detail":"run R does not exist"}`))
			return
		}
		w.Write([]byte(`{"title":"Not found","status":404,"detail":"no route matches GET /orch/runs"}`))
	}))
	defer srv.Close()
	c := New(srv.URL, "", srv.Client())
	if _, err := c.GetRun(context.Background(), "R"); IsUnreachable(err) || NoRoute(err) || StatusOf(err) != 404 {
		t.Errorf("unknown run: %v", err)
	}
	if _, _, err := c.ListRuns(context.Background(), "", 0, ""); !NoRoute(err) || IsUnreachable(err) {
		t.Errorf("no route: %v", err)
	}
}
