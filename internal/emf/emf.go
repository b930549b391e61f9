// Package emf writes CloudWatch metrics as log lines in the Embedded
// Metric Format: one JSON object per line whose "_aws" member tells
// CloudWatch Logs which of the line's other members are metrics, in what
// namespace, with what dimensions and units. A container that logs to
// CloudWatch (the ECS awslogs driver) thereby publishes metrics without
// calling any AWS API or holding any AWS permission.
//
// A line carries the values at the root, beside the metadata:
//
//	{"time":"…","level":"INFO","msg":"metrics",
//	 "_aws":{"Timestamp":1767225600000,"CloudWatchMetrics":[{"Namespace":"IPRS/iprs-dev",
//	   "Dimensions":[["Service"]],"Metrics":[{"Name":"QueueDepth","Unit":"Count"}]}]},
//	 "Service":"orchestrator","QueueDepth":12}
//
// (the time, level and msg members are what log/slog adds; CloudWatch
// keeps them as properties of the event and ignores them for metrics).
// Write logs a Record through a slog.Logger, which must have a JSON
// handler: that is what makes the line a JSON object.
package emf

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Units of CloudWatch metrics used here (the full list is CloudWatch's
// StandardUnit).
const (
	Count   = "Count"
	Seconds = "Seconds"
)

// Metric is one value to publish.
type Metric struct {
	Name  string
	Unit  string // Count, Seconds, ...; "" for none
	Value float64
}

// Dimension is a name and its value; every metric of a Record carries all
// the Record's dimensions as one dimension set.
type Dimension struct {
	Name, Value string
}

// Record is one EMF log event: metrics under one namespace and one
// dimension set, at one time.
type Record struct {
	Namespace  string
	Dimensions []Dimension
	Metrics    []Metric
	Time       time.Time
}

// Limits of the format.
const (
	maxDimensions = 30
	maxMetrics    = 100
)

// reserved are member names a metric or dimension may not take: the
// metadata, and what log/slog writes at the root of every line.
var reserved = map[string]bool{
	"_aws": true, slog.TimeKey: true, slog.LevelKey: true, slog.MessageKey: true, slog.SourceKey: true,
}

// Validate checks what CloudWatch would otherwise drop silently: a
// namespace, 1 to 100 metrics and at most 30 dimensions, names unique
// within the line and none of the members slog writes itself.
func (r Record) Validate() error {
	var errs []error
	if r.Namespace == "" {
		errs = append(errs, errors.New("no namespace"))
	}
	if len(r.Metrics) == 0 || len(r.Metrics) > maxMetrics {
		errs = append(errs, fmt.Errorf("%d metrics, want 1 to %d", len(r.Metrics), maxMetrics))
	}
	if len(r.Dimensions) > maxDimensions {
		errs = append(errs, fmt.Errorf("%d dimensions, want at most %d", len(r.Dimensions), maxDimensions))
	}
	seen := map[string]bool{}
	name := func(n string) {
		switch {
		case n == "":
			errs = append(errs, errors.New("a metric or dimension has no name"))
		case reserved[n]:
			errs = append(errs, fmt.Errorf("%q is a reserved member name", n))
		case seen[n]:
			errs = append(errs, fmt.Errorf("%q is named twice", n))
		}
		seen[n] = true
	}
	for _, d := range r.Dimensions {
		name(d.Name)
	}
	for _, m := range r.Metrics {
		name(m.Name)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("emf: %w", err)
	}
	return nil
}

// Attrs returns the record as the attributes of one slog line: "_aws"
// first, then the dimensions' values and the metrics' values at the root.
func (r Record) Attrs() []slog.Attr {
	dimNames := make([]any, len(r.Dimensions))
	for i, d := range r.Dimensions {
		dimNames[i] = d.Name
	}
	defs := make([]any, len(r.Metrics))
	for i, m := range r.Metrics {
		def := map[string]any{"Name": m.Name}
		if m.Unit != "" {
			def["Unit"] = m.Unit
		}
		defs[i] = def
	}
	meta := map[string]any{
		"Timestamp": r.Time.UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace":  r.Namespace,
			"Dimensions": []any{dimNames},
			"Metrics":    defs,
		}},
	}
	attrs := make([]slog.Attr, 0, 1+len(r.Dimensions)+len(r.Metrics))
	attrs = append(attrs, slog.Any("_aws", meta))
	for _, d := range r.Dimensions {
		attrs = append(attrs, slog.String(d.Name, d.Value))
	}
	for _, m := range r.Metrics {
		attrs = append(attrs, slog.Float64(m.Name, m.Value))
	}
	return attrs
}

// Message is the msg of every EMF line.
const Message = "metrics"

// Write validates the record and logs it as one line at Info level.
func Write(ctx context.Context, logger *slog.Logger, r Record) error {
	if err := r.Validate(); err != nil {
		return err
	}
	logger.LogAttrs(ctx, slog.LevelInfo, Message, r.Attrs()...)
	return nil
}
