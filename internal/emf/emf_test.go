package emf_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/emf"
)

// TestWriteEmbeddedMetricFormat writes a record through a slog JSON
// handler and reads the line back as CloudWatch Logs would: one JSON
// object whose _aws member declares the namespace, the dimension set and
// each metric with its unit, with the Timestamp in milliseconds since the
// epoch, and whose root holds every dimension and metric it names.
func TestWriteEmbeddedMetricFormat(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	at := time.Date(2026, 1, 23, 17, 0, 0, 250_000_000, time.UTC)
	rec := emf.Record{
		Namespace:  "IPRS/iprs-dev",
		Dimensions: []emf.Dimension{{Name: "Service", Value: "orchestrator"}},
		Metrics: []emf.Metric{
			{Name: "QueueDepth", Unit: emf.Count, Value: 12},
			{Name: "OldestQueuedTaskAge", Unit: emf.Seconds, Value: 1.5},
		},
		Time: at,
	}
	if err := emf.Write(t.Context(), logger, rec); err != nil {
		t.Fatal(err)
	}
	line := buf.String()
	if strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "}\n") || !strings.HasPrefix(line, "{") {
		t.Fatalf("want one JSON object on one line, got %q", line)
	}
	var got map[string]any
	dec := json.NewDecoder(strings.NewReader(line))
	dec.UseNumber()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("line is not JSON: %v\n%s", err, line)
	}
	// 2026-01-23T17:00:00.25Z is 1,769,187,600 s after the epoch.
	wantAWS := map[string]any{
		"Timestamp": json.Number("1769187600250"),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace":  "IPRS/iprs-dev",
			"Dimensions": []any{[]any{"Service"}},
			"Metrics": []any{
				map[string]any{"Name": "QueueDepth", "Unit": "Count"},
				map[string]any{"Name": "OldestQueuedTaskAge", "Unit": "Seconds"},
			},
		}},
	}
	if !reflect.DeepEqual(got["_aws"], wantAWS) {
		t.Errorf("_aws = %#v\nwant %#v", got["_aws"], wantAWS)
	}
	for name, want := range map[string]any{
		"Service":             "orchestrator",
		"QueueDepth":          json.Number("12"),
		"OldestQueuedTaskAge": json.Number("1.5"),
		"msg":                 emf.Message,
		"level":               "INFO",
	} {
		if got[name] != want {
			t.Errorf("%s = %#v, want %#v", name, got[name], want)
		}
	}
	if len(got) != 7 { // _aws, Service, two metrics, time, level, msg
		t.Errorf("line has %d members, want 7: %v", len(got), got)
	}
}

// TestRecordValidate checks the records CloudWatch would drop or
// misread.
func TestRecordValidate(t *testing.T) {
	t.Parallel()
	ok := emf.Record{Namespace: "N", Metrics: []emf.Metric{{Name: "A"}}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid record: %v", err)
	}
	many := make([]emf.Metric, 101)
	for i := range many {
		many[i].Name = "m" + strings.Repeat("x", i)
	}
	for name, r := range map[string]emf.Record{
		"no namespace":       {Metrics: []emf.Metric{{Name: "A"}}},
		"no metric":          {Namespace: "N"},
		"101 metrics":        {Namespace: "N", Metrics: many},
		"unnamed metric":     {Namespace: "N", Metrics: []emf.Metric{{}}},
		"metric named _aws":  {Namespace: "N", Metrics: []emf.Metric{{Name: "_aws"}}},
		"metric named msg":   {Namespace: "N", Metrics: []emf.Metric{{Name: "msg"}}},
		"dimension = metric": {Namespace: "N", Dimensions: []emf.Dimension{{Name: "A", Value: "x"}}, Metrics: []emf.Metric{{Name: "A"}}},
		"31 dimensions":      {Namespace: "N", Dimensions: make([]emf.Dimension, 31), Metrics: []emf.Metric{{Name: "A"}}},
	} {
		if err := r.Validate(); err == nil {
			t.Errorf("%s: Validate accepted it", name)
		}
		if err := emf.Write(t.Context(), slog.New(slog.DiscardHandler), r); err == nil {
			t.Errorf("%s: Write accepted it", name)
		}
	}
}
