package orchestrator

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/iprs/iprs/internal/auth"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/web"
	"github.com/iprs/iprs/internal/webhook"
)

// Defaults of Options.
const (
	// DefaultMaxUploadBytes bounds a position snapshot upload: room for a
	// million positions with their cashflow schedules.
	DefaultMaxUploadBytes = 2 << 30
	// DefaultBatchSize is the number of position rows added to the store
	// at a time during an upload.
	DefaultBatchSize = 5000
	// DefaultWriteWaitLimit is how long the body of an upload writing
	// while it reads may stall before the write lets go of the store
	// (Options.WriteWaitLimit).
	DefaultWriteWaitLimit = 2 * time.Second
	// DefaultTaskSize is the number of positions a task aims at when the
	// server picks hash_mod.
	DefaultTaskSize = 5000
	// MaxDefaultHashMod caps the hash_mod the server picks.
	MaxDefaultHashMod = 256
	// DefaultMaxAttempts is a task's attempt budget when the run request
	// does not give execution.max_attempts.
	DefaultMaxAttempts = 3
)

// Bounds of a run request's execution settings.
const (
	MinHashMod     = 1
	MaxHashMod     = 4096
	MinMaxAttempts = 1
	MaxMaxAttempts = 20
)

// Options configure a Service. The zero value of each field picks its
// default.
type Options struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// EngineVersion names the pricing code that values runs; it is stored
	// with every run and enters its publish hash.
	EngineVersion string
	// MaxUploadBytes bounds the body of POST /orch/position-snapshots; 0
	// means DefaultMaxUploadBytes, negative means no bound. Every other
	// route has the Mux's normal bound.
	MaxUploadBytes int64
	// BatchSize is the number of rows per store Add; 0 means
	// DefaultBatchSize.
	BatchSize int
	// TaskSize is the positions per task aimed at when the server picks
	// hash_mod; 0 means DefaultTaskSize.
	TaskSize int
	// MaxProblems caps the problems listed in a 400 or 422 answer; 0 means
	// DefaultMaxProblems.
	MaxProblems int
	// SpoolDir holds the rows of each upload in progress, read and checked
	// in full before the store is touched; "" means os.TempDir().
	SpoolDir string
	// BodyIdleTimeout is how long an upload's body may stall (no byte
	// arrives) before the upload fails with 408; 0 means
	// web.DefaultBodyIdleTimeout. The body may take any time while it
	// keeps arriving.
	BodyIdleTimeout time.Duration
	// WriteWhileReading lets an upload write its rows to the store while
	// its body is still being read (at most two uploads at a time): the
	// write no longer waits for the whole body (see the package doc). A
	// body that stalls for WriteWaitLimit makes the upload let go of the
	// store and write after the read instead. Worth it on PostgreSQL,
	// where the write holds one pooled connection; on SQLite it would
	// hold the single writer for as long as the body takes.
	WriteWhileReading bool
	// WriteWaitLimit is how long the body of an upload writing while it
	// reads may give no bytes before the write is rolled back; 0 means
	// DefaultWriteWaitLimit.
	WriteWaitLimit time.Duration
	// Registerer receives the service's metrics (the registry of
	// internal/web/metrics); nil leaves them unregistered.
	Registerer prometheus.Registerer
	// FourEyes forbids a principal to publish a run it submitted
	// (IPRS_FOUR_EYES).
	FourEyes bool
	// WebhookURLs says which webhook URLs POST /orch/webhooks accepts:
	// https only (the zero value), or http to loopback too (`iprs dev`),
	// or any http (IPRS_WEBHOOK_ALLOW_HTTP).
	WebhookURLs webhook.URLPolicy
}

// Service is the orchestrator: position snapshots, runs, pre-run checks,
// task fan-out and the run lifecycle. It is safe for concurrent use.
type Service struct {
	store   store.Store
	logger  *slog.Logger
	opts    Options
	metrics *serviceMetrics
	// earlySlots holds a token per upload writing while it reads
	// (maxEarlyWrites).
	earlySlots chan struct{}
}

// New returns the orchestrator over st. It panics only when the metrics
// cannot be registered (a second Service on one registry), a programming
// error.
func New(st store.Store, logger *slog.Logger, opts Options) *Service {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxUploadBytes == 0 {
		opts.MaxUploadBytes = DefaultMaxUploadBytes
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	if opts.WriteWaitLimit <= 0 {
		opts.WriteWaitLimit = DefaultWriteWaitLimit
	}
	if opts.TaskSize <= 0 {
		opts.TaskSize = DefaultTaskSize
	}
	if opts.MaxProblems <= 0 {
		opts.MaxProblems = DefaultMaxProblems
	}
	if opts.SpoolDir == "" {
		opts.SpoolDir = os.TempDir()
	}
	m := newServiceMetrics()
	if opts.Registerer != nil {
		if err := m.register(opts.Registerer); err != nil {
			panic(fmt.Sprintf("orchestrator: register metrics: %v", err))
		}
	}
	return &Service{store: st, logger: logger, opts: opts, metrics: m, earlySlots: make(chan struct{}, maxEarlyWrites)}
}

// Register adds the orchestrator's routes to m, whose prefix must be
// "/orch" (or "" in a combined router).
func (s *Service) Register(m *web.Mux) {
	m.HandleFunc("POST /orch/position-snapshots", s.handleUpload, web.MaxBody(s.opts.MaxUploadBytes), web.StreamedBody(s.opts.BodyIdleTimeout))
	m.HandleFunc("GET /orch/position-snapshots/{id}", s.handleGetSnapshot)
	m.HandleFunc("GET /orch/position-snapshots/{id}/positions", s.handleListPositions)
	m.HandleFunc("GET /orch/position-snapshots/{id}/strats", s.handleStrats)
	m.HandleFunc("POST /orch/runs", s.handleCreateRun)
	m.HandleFunc("GET /orch/runs", s.handleListRuns)
	m.HandleFunc("GET /orch/runs/{id}", s.handleGetRun)
	m.HandleFunc("GET /orch/runs/{id}/tasks", s.handleRunTasks)
	m.HandleFunc("POST /orch/runs/{id}/cancel", s.handleCancelRun)
	m.HandleFunc("POST /orch/runs/{id}/publish", s.handlePublishRun, web.Role(auth.Publish))
	m.HandleFunc("DELETE /orch/runs/{id}", s.handleDeleteRun)
	m.HandleFunc("POST /orch/explains", s.handleCreateExplain)
	m.HandleFunc("GET /orch/explains", s.handleListExplains)
	m.HandleFunc("GET /orch/explains/{id}", s.handleGetExplain)
	m.HandleFunc("POST /orch/explains/{id}/cancel", s.handleCancelExplain)
	m.HandleFunc("POST /orch/runs/{id}/verify", s.handleCreateVerify)
	m.HandleFunc("GET /orch/runs/{id}/verify", s.handleGetVerify)
	m.HandleFunc("POST /orch/runs/{id}/verify/cancel", s.handleCancelVerify)
	m.HandleFunc("GET /orch/audit", s.handleAuditList)
	m.HandleFunc("POST /orch/webhooks", s.handleCreateWebhook)
	m.HandleFunc("GET /orch/webhooks/{id}", s.handleGetWebhook)
	m.HandleFunc("DELETE /orch/webhooks/{id}", s.handleDeleteWebhook)
	m.HandleFunc("GET /orch/webhooks/{id}/deliveries", s.handleWebhookDeliveries)
}

// log returns the service's logger with the request id of ctx, if any.
func (s *Service) log(ctx context.Context) *slog.Logger {
	if id := web.RequestID(ctx); id != "" {
		return s.logger.With(slog.String("request_id", id))
	}
	return s.logger
}

// now returns the clock's time in UTC at the store's microsecond
// precision.
func (s *Service) now() time.Time {
	return s.opts.Now().UTC().Truncate(time.Microsecond)
}
