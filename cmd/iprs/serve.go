package main

import (
	"context"
	"io"
	"log/slog"
	"runtime/debug"
	"strings"

	"github.com/iprs/iprs/internal/config"
	"github.com/iprs/iprs/internal/queuemetric"
	"github.com/iprs/iprs/internal/service"
	"github.com/iprs/iprs/internal/store"
	"github.com/iprs/iprs/internal/web"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"
)

func newServeCmd(a *app) *cobra.Command {
	names := make([]string, 0, 4)
	for _, s := range service.All() {
		names = append(names, string(s.Name))
	}
	return &cobra.Command{
		Use:       "serve " + strings.Join(names, "|"),
		Short:     "Run one service (one ECS task); DATABASE_URL is required",
		Args:      serviceArg(names),
		ValidArgs: names,
		RunE: func(cmd *cobra.Command, args []string) error {
			spec, _ := service.Lookup(args[0])
			cfg, err := config.Load(a.getenv)
			if err != nil {
				return err
			}
			if err := cfg.RequireDatabase(); err != nil {
				return err
			}
			return serve(cmd.Context(), cfg, spec, config.NewLogger(cfg, a.stderr), a.stdout)
		},
	}
}

// serve runs one service until ctx is done (SIGTERM or SIGINT), then stops
// gracefully: the HTTP server drains; a worker stops claiming and finishes
// or releases the tasks in hand. The platform's handlers and worker name
// the service in their own log lines, so only the lines logged here add it.
// With IPRS_METRICS_NAMESPACE the orchestrator also writes the task queue's
// metrics to stdout (queueMetrics).
func serve(ctx context.Context, cfg config.Config, spec service.Spec, base *slog.Logger, stdout io.Writer) error {
	logger := base.With("service", string(spec.Name))
	st, err := openStore(ctx, cfg.Database, cfg, false, logger)
	if err != nil {
		return err
	}
	defer st.Close()
	p := &platform{st: st, cfg: cfg, logger: base, version: buildVersion(), webhookURLs: webhookPolicy(cfg, false), driver: cfg.Database.Driver}
	addr := spec.Addr()
	if cfg.Addr != "" {
		addr = cfg.Addr
	}
	logger.Info("starting", "addr", addr, "version", p.version, "database", cfg.Database.Redacted())

	g, ctx := errgroup.WithContext(ctx)
	if spec.Name == service.Worker {
		h, reg := p.workerHealth(nil)
		w := p.newWorker(reg, "", cfg.WorkerConcurrency)
		g.Go(func() error { return w.Run(ctx) })
		g.Go(func() error { return web.Serve(ctx, web.NewServer(addr, h, logger), nil, shutdownGrace) })
	} else {
		h, err := p.handler(spec)
		if err != nil {
			return err
		}
		g.Go(func() error { return web.Serve(ctx, web.NewServer(addr, h, logger), nil, shutdownGrace) })
		if spec.Name == service.Orchestrator {
			d := p.webhookDispatcher()
			g.Go(func() error { return d.Run(ctx) })
			if cfg.MetricsNamespace != "" {
				g.Go(func() error { return queueMetrics(ctx, st, cfg.MetricsNamespace, stdout, logger) })
			}
		}
	}
	err = g.Wait()
	logger.Info("stopped", "error", err)
	return err
}

// queueMetrics publishes the task queue's depth each minute as CloudWatch
// Embedded Metric Format lines on stdout, JSON whatever IPRS_LOG_FORMAT
// says (the awslogs driver sends stdout and stderr to the same stream; the
// lines must be JSON objects for CloudWatch to read them).
func queueMetrics(ctx context.Context, st store.Store, namespace string, stdout io.Writer, logger *slog.Logger) error {
	return queuemetric.Run(ctx, st, queuemetric.Options{
		Namespace: namespace,
		Service:   string(service.Orchestrator),
		Metrics:   config.NewLogger(config.Config{LogFormat: "json", LogLevel: slog.LevelInfo}, stdout),
		Logger:    logger,
	})
}

// buildVersion is the version string of this build: the -ldflags version
// when set, else the VCS revision Go recorded, marked dirty when the tree
// had uncommitted changes.
func buildVersion() string {
	if version != "dev" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return version
	}
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if rev == "" {
		return version
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	return "dev+" + rev + dirty
}

// serviceArg accepts exactly one argument naming a service, and lists the
// valid names otherwise.
func serviceArg(names []string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) == 0:
			return usageError("serve needs the service to run: one of %s", strings.Join(names, ", "))
		case len(args) > 1:
			return usageError("serve runs one service, got %d arguments: %s", len(args), strings.Join(args, " "))
		}
		if _, ok := service.Lookup(args[0]); !ok {
			return usageError("unknown service %q: the services are %s", args[0], strings.Join(names, ", "))
		}
		return nil
	}
}
