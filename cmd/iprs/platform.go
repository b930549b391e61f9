package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/iprs/iprs/internal/config"
	"github.com/iprs/iprs/internal/explainrun"
	"github.com/iprs/iprs/internal/marketdata"
	"github.com/iprs/iprs/internal/orchestrator"
	"github.com/iprs/iprs/internal/results"
	"github.com/iprs/iprs/internal/service"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/store/postgres"
	"github.com/iprs/iprs/internal/store/sqlite"
	"github.com/iprs/iprs/internal/verify"
	"github.com/iprs/iprs/internal/web"
	"github.com/iprs/iprs/internal/web/metrics"
	"github.com/iprs/iprs/internal/webhook"
	"github.com/iprs/iprs/internal/worker"
	"github.com/prometheus/client_golang/prometheus"
)

// openedStore is a store with the driver-specific calls the commands need.
type openedStore interface {
	store.Store
	SchemaVersion(ctx context.Context) (int, error)
}

// openStore opens the database that db names, picking the driver from the
// URL scheme. With migrate, pending migrations are applied first; without
// it, a database whose schema is older than this build is refused.
func openStore(ctx context.Context, db config.Database, cfg config.Config, migrate bool, logger *slog.Logger) (openedStore, error) {
	switch db.Driver {
	case config.DriverPostgres:
		st, err := postgres.Open(ctx, db.DSN, postgres.Options{
			Logger:   logger,
			MaxConns: int32(cfg.DBMaxConns),
			Migrate:  migrate,
		})
		if err != nil {
			return nil, fmt.Errorf("open PostgreSQL %s: %w", db.Redacted(), err)
		}
		return watch(st, postgres.Classify, logger), nil
	case config.DriverSQLite:
		st, err := sqlite.Open(ctx, db.Path, sqlite.Options{Logger: logger, Migrate: migrate})
		if err != nil {
			return nil, fmt.Errorf("open SQLite %s: %w", db.Path, err)
		}
		return watch(st, sqlite.Classify, logger), nil
	case "":
		return nil, errors.New("no database: set DATABASE_URL (postgres://… or sqlite:PATH)")
	default:
		return nil, fmt.Errorf("unsupported database driver %q", db.Driver)
	}
}

// platform builds the services on one store.
type platform struct {
	st      store.Store
	cfg     config.Config
	logger  *slog.Logger
	version string
	// webhookURLs is what POST /orch/webhooks accepts (webhookPolicy).
	webhookURLs webhook.URLPolicy
	// driver is the store's database driver (config.DriverPostgres, …).
	driver string
}

// webhookPolicy is the webhook URL policy of a process: https only, http
// too with IPRS_WEBHOOK_ALLOW_HTTP, and in dev (dev) http to loopback.
func webhookPolicy(cfg config.Config, dev bool) webhook.URLPolicy {
	switch {
	case cfg.WebhookAllowHTTP:
		return webhook.AnyHTTP
	case dev:
		return webhook.LoopbackHTTP
	}
	return webhook.HTTPSOnly
}

// webhookDispatcher delivers the queued webhook events until ctx ends.
func (p *platform) webhookDispatcher() *webhook.Dispatcher {
	return webhook.New(p.st, webhook.Options{Logger: p.logger.With("service", "webhooks")})
}

// handler builds the HTTP handler of a service that serves an API.
func (p *platform) handler(spec service.Spec) (http.Handler, error) {
	mux, err := p.mux(spec)
	if err != nil {
		return nil, err
	}
	return mux.Handler(), nil
}

// mux builds the route table of a service that serves an API: its routes
// and the public ones (registerPublic).
func (p *platform) mux(spec service.Spec) (*web.Mux, error) {
	m := metrics.New(string(spec.Name))
	mux := web.NewMux(web.Config{
		Service:      string(spec.Name),
		Version:      p.version,
		Prefix:       spec.Prefix,
		Logger:       p.logger.With("service", string(spec.Name)),
		Principals:   p.cfg.Principals,
		MaxBodyBytes: p.cfg.MaxBodyBytes,
		Ping:         p.st.Ping,
		Metrics:      m,
	})
	logger := p.logger.With("service", string(spec.Name))
	switch spec.Name {
	case service.Marketdata:
		marketdata.New(p.st, logger, marketdata.Options{Registerer: m.Registry()}).Register(mux)
	case service.Orchestrator:
		orchestrator.New(p.st, logger, orchestrator.Options{
			EngineVersion:   engineVersion(p.version),
			MaxUploadBytes:  p.cfg.MaxUploadBytes,
			BodyIdleTimeout: p.cfg.BodyIdle(),
			Registerer:      m.Registry(),
			FourEyes:        p.cfg.FourEyes,
			WebhookURLs:     p.webhookURLs,
			// On PostgreSQL an upload's write holds one pooled
			// connection, so it may overlap the read; on SQLite it
			// would hold the single writer for as long as the body.
			WriteWhileReading: p.driver == config.DriverPostgres,
		}).Register(mux)
	case service.Results:
		results.New(p.st, logger, results.Options{}).Register(mux)
	default:
		return nil, fmt.Errorf("service %q serves no API", spec.Name)
	}
	registerPublic(spec, mux)
	return mux, nil
}

// workerHealth builds the worker's own HTTP handler: health and metrics,
// plus whatever routes extra (when not nil) registers.
func (p *platform) workerHealth(extra func(*web.Mux)) (http.Handler, *prometheus.Registry) {
	mux, reg := p.workerMux(extra)
	return mux.Handler(), reg
}

// workerMux is the route table of workerHealth.
func (p *platform) workerMux(extra func(*web.Mux)) (*web.Mux, *prometheus.Registry) {
	m := metrics.New(string(service.Worker))
	mux := web.NewMux(web.Config{
		Service:    string(service.Worker),
		Version:    p.version,
		Logger:     p.logger.With("service", string(service.Worker)),
		Principals: p.cfg.Principals,
		Ping:       p.st.Ping,
		Metrics:    m,
	})
	if extra != nil {
		extra(mux)
	}
	return mux, m.Registry()
}

// newWorker makes a worker. A named worker's metrics carry its owner as a
// label, so that several workers in one process share one registry; an
// empty owner lets the worker name itself.
func (p *platform) newWorker(reg *prometheus.Registry, owner string, concurrency int) *worker.Worker {
	opts := worker.Options{
		Owner:         owner,
		Concurrency:   concurrency,
		Lease:         p.cfg.Lease(),
		Grace:         p.cfg.WorkerGrace(),
		EngineVersion: engineVersion(p.version),
		Kinds:         workerKinds(p.cfg.AggregateAttrs),
		// A run that declares execution.aggregate_attrs overrides these.
		AggregateAttrs: p.cfg.AggregateAttrs,
	}
	if opts.Grace == 0 {
		opts.Grace = -1 // worker.Options reads 0 as its default: none means release at once
	}
	switch {
	case reg != nil && owner != "":
		opts.Registry = prometheus.WrapRegistererWith(prometheus.Labels{"worker": owner}, reg)
	case reg != nil:
		opts.Registry = reg
	}
	// The worker adds its owner to its log lines itself.
	return worker.New(p.st, p.logger.With("service", string(service.Worker)), opts)
}

// verifyValuer values the tasks of a replay (package verify).
func verifyValuer(ctx context.Context, st store.Store, run *store.Run) (worker.TaskValuer, error) {
	v, err := verify.Build(ctx, st, run)
	if err != nil {
		return nil, err
	}
	return v, nil
}

// engineVersion names the pricing code of this build, stored with every
// run (by the orchestrator) and with every task a worker completes, so
// that a number can be traced to the code that made it.
func engineVersion(version string) string { return "iprs-pricing/" + version }

// shutdownGrace bounds how long servers wait for requests in flight.
const shutdownGrace = 20 * time.Second

// jsonReader encodes v for a request body.
func jsonReader(v any) (io.Reader, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	return bytes.NewReader(b), nil
}

// workerKinds values the runs that are not valuations: explains (whose
// tasks aggregate by attrs unless their second run declares its own) and
// replays.
func workerKinds(attrs []string) map[string]worker.ValuerBuilder {
	return map[string]worker.ValuerBuilder{
		store.KindExplain: func(ctx context.Context, st store.Store, run *store.Run) (worker.TaskValuer, error) {
			return explainrun.Build(ctx, st, run, attrs)
		},
		store.KindVerify: verifyValuer,
	}
}
