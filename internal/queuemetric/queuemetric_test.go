package queuemetric_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/queuemetric"
	"github.com/iprs/iprs/internal/store"
)

// splitLines splits a log into its lines.
func splitLines(b *bytes.Buffer) []string {
	return strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
}

// script is a Source that answers its readings in turn, then cancels the
// run.
type script struct {
	readings []func() (*store.QueueDepth, error)
	n        int
	cancel   context.CancelFunc
}

func (s *script) TaskQueueDepth(ctx context.Context) (*store.QueueDepth, error) {
	if s.n == len(s.readings) {
		s.cancel()
		return nil, ctx.Err()
	}
	r := s.readings[s.n]
	s.n++
	return r()
}

// TestRunPublishesEachReading runs the publisher over four readings — two
// good, one failed, one good — and reads the EMF lines back: one per good
// reading with its figures, nothing for the failed one, and the failure
// logged once.
func TestRunPublishesEachReading(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 23, 17, 0, 0, 0, time.UTC)
	good := func(queued, running int64, wait time.Duration, sec int) func() (*store.QueueDepth, error) {
		return func() (*store.QueueDepth, error) {
			return &store.QueueDepth{Queued: queued, Running: running, OldestWait: wait, At: at.Add(time.Duration(sec) * time.Second)}, nil
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	src := &script{cancel: cancel, readings: []func() (*store.QueueDepth, error){
		good(40, 8, 95*time.Second+500*time.Millisecond, 0),
		good(0, 3, 0, 1),
		func() (*store.QueueDepth, error) { return nil, errors.New("connection refused") },
		good(0, 0, 0, 3),
	}}
	var metrics, logs bytes.Buffer // Run writes from the calling goroutine
	err := queuemetric.Run(ctx, src, queuemetric.Options{
		Namespace: "IPRS/test", Service: "orchestrator", Interval: time.Millisecond,
		Metrics: slog.New(slog.NewJSONHandler(&metrics, nil)),
		Logger:  slog.New(slog.NewJSONHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	type figures struct {
		QueueDepth, TasksQueued, TasksRunning, OldestQueuedTaskAge float64
		Service                                                    string
		AWS                                                        struct {
			Timestamp         int64
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name, Unit string }
			}
		} `json:"_aws"`
	}
	want := []figures{
		{QueueDepth: 48, TasksQueued: 40, TasksRunning: 8, OldestQueuedTaskAge: 95.5},
		{QueueDepth: 3, TasksRunning: 3},
		{},
	}
	lines := splitLines(&metrics)
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), strings.Join(lines, "\n"))
	}
	stamps := []int64{at.UnixMilli(), at.UnixMilli() + 1000, at.UnixMilli() + 3000}
	for i, line := range lines {
		var got figures
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if got.QueueDepth != want[i].QueueDepth || got.TasksQueued != want[i].TasksQueued ||
			got.TasksRunning != want[i].TasksRunning || got.OldestQueuedTaskAge != want[i].OldestQueuedTaskAge {
			t.Errorf("line %d: %+v, want %+v", i, got, want[i])
		}
		if got.Service != "orchestrator" || got.AWS.Timestamp != stamps[i] || len(got.AWS.CloudWatchMetrics) != 1 {
			t.Errorf("line %d: Service %q Timestamp %d, want orchestrator and %d: %s", i, got.Service, got.AWS.Timestamp, stamps[i], line)
			continue
		}
		d := got.AWS.CloudWatchMetrics[0]
		var names []string
		for _, m := range d.Metrics {
			names = append(names, m.Name+"/"+m.Unit)
		}
		if d.Namespace != "IPRS/test" || len(d.Dimensions) != 1 || strings.Join(d.Dimensions[0], ",") != "Service" ||
			strings.Join(names, ",") != "QueueDepth/Count,TasksQueued/Count,TasksRunning/Count,OldestQueuedTaskAge/Seconds" {
			t.Errorf("line %d: directive %+v", i, d)
		}
	}
	logLines := splitLines(&logs)
	if len(logLines) != 2 || !strings.Contains(logLines[0], "connection refused") || !strings.Contains(logLines[1], "published again") {
		t.Errorf("logs:\n%s\nwant the failure once, then the recovery", strings.Join(logLines, "\n"))
	}
}

// TestRunRefusesBadOptions checks that a publisher that could only write
// lines CloudWatch drops does not start.
func TestRunRefusesBadOptions(t *testing.T) {
	t.Parallel()
	err := queuemetric.Run(t.Context(), &script{}, queuemetric.Options{Service: "orchestrator", Metrics: slog.New(slog.DiscardHandler)})
	if err == nil {
		t.Fatal("Run without a namespace returned nil")
	}
}
