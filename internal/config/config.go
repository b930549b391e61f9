// Package config reads the IPRS configuration from environment variables,
// applies defaults, and validates everything at startup, naming the
// variable at fault. The environment is passed in as a lookup function
// (os.Getenv in main, a map in tests), so nothing here reads global state.
//
// Variables:
//
//	DATABASE_URL             postgres://… or postgresql://… (PostgreSQL),
//	                         sqlite:PATH, sqlite:///ABS/PATH or a plain file path (SQLite);
//	                         unset means none (RequireDatabase refuses that)
//	IPRS_API_TOKENS          comma-separated principals, name:role[+role…]:token
//	                         or a bare token (principal "default", every role);
//	                         empty: no auth (see package auth)
//	IPRS_FOUR_EYES           true: a run cannot be published by the principal
//	                         that submitted it; default false
//	IPRS_MAX_BODY_BYTES      request body bound, default 16MiB
//	IPRS_MAX_UPLOAD_BYTES    position snapshot upload bound, default 2GiB
//	IPRS_LOG_LEVEL           debug | info | warn | error, default info
//	IPRS_LOG_FORMAT          json | text, default json
//	IPRS_WORKER_CONCURRENCY  tasks a worker process prices at once, default GOMAXPROCS
//	IPRS_LEASE_SECONDS       task lease, default 60
//	IPRS_WORKER_GRACE_SECONDS how long a stopping worker lets a task in hand
//	                         finish before it releases it, default 20
//	IPRS_DB_MAX_CONNS        database connection pool size, default 10
//	IPRS_BODY_IDLE_SECONDS   how long a position upload's body may stall
//	                         before it fails with 408, default 30
//	IPRS_ADDR                listen address override ("host:port" or ":port")
//	IPRS_WEBHOOK_ALLOW_HTTP  true: `iprs serve` accepts http webhook URLs too
//	                         (default false: https only; `iprs dev` always
//	                         accepts http to loopback addresses)
//	IPRS_METRICS_NAMESPACE   CloudWatch namespace under which `iprs serve
//	                         orchestrator` publishes the task queue's depth
//	                         each minute as Embedded Metric Format lines on
//	                         stdout; empty (default): not published
//	IPRS_AGGREGATE_ATTRS     comma-separated attribute names a worker's tasks
//	                         aggregate by (as by product type) for runs whose
//	                         request declares no execution.aggregate_attrs, so
//	                         cubes and VaR by them need no scan; "none" for
//	                         none; at most 8; default
//	                         state,loan_program,program,platform,desk
//
// Sizes are bytes, optionally with a unit: B, KB, MB, GB (powers of 1000)
// or KiB, MiB, GiB (powers of 1024), as in "16MiB".
package config

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/iprs/iprs/internal/auth"
	"github.com/iprs/iprs/internal/store"
)

// Environment variable names.
const (
	EnvDatabaseURL       = "DATABASE_URL"
	EnvAPITokens         = "IPRS_API_TOKENS"
	EnvFourEyes          = "IPRS_FOUR_EYES"
	EnvWebhookAllowHTTP  = "IPRS_WEBHOOK_ALLOW_HTTP"
	EnvMaxBodyBytes      = "IPRS_MAX_BODY_BYTES"
	EnvMaxUploadBytes    = "IPRS_MAX_UPLOAD_BYTES"
	EnvLogLevel          = "IPRS_LOG_LEVEL"
	EnvLogFormat         = "IPRS_LOG_FORMAT"
	EnvWorkerConcurrency = "IPRS_WORKER_CONCURRENCY"
	EnvLeaseSeconds      = "IPRS_LEASE_SECONDS"
	EnvWorkerGrace       = "IPRS_WORKER_GRACE_SECONDS"
	EnvDBMaxConns        = "IPRS_DB_MAX_CONNS"
	EnvBodyIdleSeconds   = "IPRS_BODY_IDLE_SECONDS"
	EnvAddr              = "IPRS_ADDR"
	EnvMetricsNamespace  = "IPRS_METRICS_NAMESPACE"
	EnvAggregateAttrs    = "IPRS_AGGREGATE_ATTRS"
)

// DefaultAggregateAttrs are the attributes tasks aggregate by when neither
// the run nor IPRS_AGGREGATE_ATTRS names any: the low-cardinality
// categories of a loan tape (about 50 states, a handful of programs and
// platforms) and of an FX book (desks). Numeric attributes (fico, rates,
// balances) are wide and are asked for in bands, which partials cannot
// anticipate; city and ids are nearly one key per position.
func DefaultAggregateAttrs() []string {
	return []string{"state", "loan_program", "program", "platform", "desk"}
}

// MaxAggregateAttrs bounds IPRS_AGGREGATE_ATTRS.
const MaxAggregateAttrs = 8

// Defaults.
const (
	DefaultMaxBodyBytes       int64 = 16 << 20
	DefaultMaxUploadBytes     int64 = 2 << 30
	DefaultLeaseSeconds             = 60
	DefaultWorkerGraceSeconds       = 20
	DefaultDBMaxConns               = 10
	DefaultBodyIdleSeconds          = 30
	DefaultLogFormat                = "json"
)

// Bounds enforced by Load.
const (
	minBodyBytes      = 1 << 10
	maxLeaseSeconds   = 3600
	maxDBConns        = 1000
	maxWorkerParallel = 1024
)

// Database drivers.
const (
	DriverPostgres = "postgres"
	DriverSQLite   = "sqlite"
)

// Database is a parsed DATABASE_URL.
type Database struct {
	// Driver is DriverPostgres, DriverSQLite, or "" when DATABASE_URL is unset.
	Driver string
	// DSN is the PostgreSQL connection URL as given (with its password);
	// empty for SQLite.
	DSN string
	// Path is the SQLite database file (or ":memory:"); empty for PostgreSQL.
	Path string
	// Query holds the SQLite URL's query parameters ("_pragma=busy_timeout(5000)"), raw.
	Query string
}

// Config is the validated configuration.
type Config struct {
	Database Database
	// Principals are the callers IPRS_API_TOKENS configures; none means
	// authentication is off.
	Principals []auth.Principal
	// FourEyes forbids a principal to publish a run it submitted.
	FourEyes          bool
	MaxBodyBytes      int64
	MaxUploadBytes    int64
	LogLevel          slog.Level
	LogFormat         string // "json" or "text"
	WorkerConcurrency int
	LeaseSeconds      int
	// WorkerGraceSeconds is how long a worker that is stopping lets the
	// tasks in hand finish before it releases them (0: release at once).
	WorkerGraceSeconds int
	DBMaxConns         int
	// BodyIdleSeconds is how long a streamed upload body may stall.
	BodyIdleSeconds int
	// Addr overrides the service's default listen address when not empty.
	Addr string
	// WebhookAllowHTTP lets webhooks use http URLs (IPRS_WEBHOOK_ALLOW_HTTP).
	WebhookAllowHTTP bool
	// MetricsNamespace is the CloudWatch namespace of the task queue's
	// metrics; "" publishes none.
	MetricsNamespace string
	// AggregateAttrs are the attributes tasks aggregate by for runs that
	// declare none (IPRS_AGGREGATE_ATTRS); empty: none.
	AggregateAttrs []string
}

// Lease is the task lease as a duration.
func (c Config) Lease() time.Duration { return time.Duration(c.LeaseSeconds) * time.Second }

// BodyIdle is the upload body's stall bound as a duration.
func (c Config) BodyIdle() time.Duration { return time.Duration(c.BodyIdleSeconds) * time.Second }

// WorkerGrace is the worker's shutdown grace as a duration.
func (c Config) WorkerGrace() time.Duration { return time.Duration(c.WorkerGraceSeconds) * time.Second }

// Load reads and validates the configuration. It reports every invalid
// variable at once, each message naming its variable.
func Load(getenv func(string) string) (Config, error) {
	if getenv == nil {
		return Config{}, errors.New("config: no environment lookup given")
	}
	get := func(name string) string { return strings.TrimSpace(getenv(name)) }
	var errs []error
	fail := func(err error) { errs = append(errs, err) }

	c := Config{
		MaxBodyBytes:       DefaultMaxBodyBytes,
		MaxUploadBytes:     DefaultMaxUploadBytes,
		LogLevel:           slog.LevelInfo,
		LogFormat:          DefaultLogFormat,
		WorkerConcurrency:  max(1, runtime.GOMAXPROCS(0)),
		LeaseSeconds:       DefaultLeaseSeconds,
		WorkerGraceSeconds: DefaultWorkerGraceSeconds,
		DBMaxConns:         DefaultDBMaxConns,
		BodyIdleSeconds:    DefaultBodyIdleSeconds,
	}

	if s := get(EnvDatabaseURL); s != "" {
		db, err := ParseDatabaseURL(s)
		if err != nil {
			fail(fmt.Errorf("%s: %w", EnvDatabaseURL, err))
		}
		c.Database = db
	}
	if ps, err := auth.Parse(getenv(EnvAPITokens)); err != nil {
		fail(fmt.Errorf("%s: %w", EnvAPITokens, err))
	} else {
		c.Principals = ps
	}
	if s := get(EnvFourEyes); s != "" {
		on, err := strconv.ParseBool(s)
		switch {
		case err != nil:
			fail(fmt.Errorf("%s: %q is not true or false", EnvFourEyes, s))
		case on:
			c.FourEyes = true
			if err := checkFourEyes(c.Principals); err != nil {
				fail(fmt.Errorf("%s: %w", EnvFourEyes, err))
			}
		}
	}
	if s := get(EnvWebhookAllowHTTP); s != "" {
		on, err := strconv.ParseBool(s)
		if err != nil {
			fail(fmt.Errorf("%s: %q is not true or false", EnvWebhookAllowHTTP, s))
		}
		c.WebhookAllowHTTP = on
	}
	if s := get(EnvMaxBodyBytes); s != "" {
		n, err := ParseSize(s)
		switch {
		case err != nil:
			fail(fmt.Errorf("%s: %w", EnvMaxBodyBytes, err))
		case n < minBodyBytes:
			fail(fmt.Errorf("%s: %d bytes is below the minimum of %d", EnvMaxBodyBytes, n, minBodyBytes))
		default:
			c.MaxBodyBytes = n
		}
	}
	if s := get(EnvMaxUploadBytes); s != "" {
		n, err := ParseSize(s)
		switch {
		case err != nil:
			fail(fmt.Errorf("%s: %w", EnvMaxUploadBytes, err))
		case n < minBodyBytes:
			fail(fmt.Errorf("%s: %d bytes is below the minimum of %d", EnvMaxUploadBytes, n, minBodyBytes))
		default:
			c.MaxUploadBytes = n
		}
	}
	if s := get(EnvLogLevel); s != "" {
		lvl, err := ParseLevel(s)
		if err != nil {
			fail(fmt.Errorf("%s: %w", EnvLogLevel, err))
		}
		c.LogLevel = lvl
	}
	if s := strings.ToLower(get(EnvLogFormat)); s != "" {
		if s != "json" && s != "text" {
			fail(fmt.Errorf("%s: %q is not one of json, text", EnvLogFormat, s))
		} else {
			c.LogFormat = s
		}
	}
	intVar := func(name string, dst *int, lo, hi int) {
		s := get(name)
		if s == "" {
			return
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < lo || n > hi {
			fail(fmt.Errorf("%s: %q is not an integer from %d to %d", name, s, lo, hi))
			return
		}
		*dst = n
	}
	intVar(EnvWorkerConcurrency, &c.WorkerConcurrency, 1, maxWorkerParallel)
	intVar(EnvLeaseSeconds, &c.LeaseSeconds, 5, maxLeaseSeconds)
	intVar(EnvWorkerGrace, &c.WorkerGraceSeconds, 0, maxLeaseSeconds)
	intVar(EnvDBMaxConns, &c.DBMaxConns, 1, maxDBConns)
	intVar(EnvBodyIdleSeconds, &c.BodyIdleSeconds, 1, maxLeaseSeconds)
	if s := get(EnvAddr); s != "" {
		if _, port, err := net.SplitHostPort(s); err != nil {
			fail(fmt.Errorf("%s: %q is not host:port or :port: %w", EnvAddr, s, err))
		} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
			fail(fmt.Errorf("%s: %q has no valid port", EnvAddr, s))
		} else {
			c.Addr = s
		}
	}
	if s := get(EnvMetricsNamespace); s != "" {
		if err := checkNamespace(s); err != nil {
			fail(fmt.Errorf("%s: %w", EnvMetricsNamespace, err))
		} else {
			c.MetricsNamespace = s
		}
	}
	c.AggregateAttrs = DefaultAggregateAttrs()
	if s := get(EnvAggregateAttrs); s != "" {
		attrs, err := parseAggregateAttrs(s)
		if err != nil {
			fail(fmt.Errorf("%s: %w", EnvAggregateAttrs, err))
		} else {
			c.AggregateAttrs = attrs
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("invalid configuration: %w", err)
	}
	return c, nil
}

// parseAggregateAttrs reads IPRS_AGGREGATE_ATTRS: "none", or attribute
// names separated by commas, at most MaxAggregateAttrs once repeats are
// dropped.
func parseAggregateAttrs(s string) ([]string, error) {
	if strings.TrimSpace(s) == "none" {
		return []string{}, nil
	}
	var out []string
	for _, name := range SplitList(s) {
		if !store.ValidAttrName(name) {
			return nil, fmt.Errorf("%q is not an attribute name (^[A-Za-z_][A-Za-z0-9_]*$)", name)
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	if len(out) > MaxAggregateAttrs {
		return nil, fmt.Errorf("%d attributes: at most %d", len(out), MaxAggregateAttrs)
	}
	return out, nil
}

// checkFourEyes refuses a four-eyes setting that nobody could satisfy: it
// needs a principal that may submit runs (write) and another that may
// publish them.
func checkFourEyes(ps []auth.Principal) error {
	if len(ps) == 0 {
		return fmt.Errorf("four-eyes publishing needs principals: set %s (name:role[+role…]:token entries)", EnvAPITokens)
	}
	for _, w := range ps {
		for _, p := range ps {
			if w.Has(auth.Write) && p.Has(auth.Publish) && w.Name() != p.Name() {
				return nil
			}
		}
	}
	return fmt.Errorf("with four-eyes publishing no run could ever be published: %s needs a principal with the write role and another principal with the publish role", EnvAPITokens)
}

// checkNamespace accepts what CloudWatch takes as a namespace: 1 to 255
// characters of letters, digits and ".-_/#: ", not in the AWS/ namespace
// of AWS's own services.
func checkNamespace(s string) error {
	if len(s) > 255 {
		return fmt.Errorf("a CloudWatch namespace is at most 255 characters, got %d", len(s))
	}
	if strings.HasPrefix(s, "AWS/") {
		return fmt.Errorf("%q: namespaces starting with AWS/ are reserved for AWS services", s)
	}
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".-_/#: ", r)
		if !ok {
			return fmt.Errorf("%q: a CloudWatch namespace holds only letters, digits and .-_/#: and spaces", s)
		}
	}
	return nil
}

// RequireDatabase reports an error naming DATABASE_URL when none is set
// (serve mode needs one; dev mode falls back to an embedded SQLite file).
func (c Config) RequireDatabase() error {
	if c.Database.Driver == "" {
		return fmt.Errorf("%s is required: set it to postgres://user:password@host:5432/dbname or sqlite:PATH", EnvDatabaseURL)
	}
	return nil
}

// ParseDatabaseURL parses a DATABASE_URL value: postgres:// or postgresql://
// URLs select PostgreSQL; sqlite:PATH, sqlite://PATH (relative),
// sqlite:///ABS/PATH, file:PATH and plain paths select SQLite. Other URL
// schemes and libpq "key=value" strings are refused.
func ParseDatabaseURL(s string) (Database, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Database{}, errors.New("empty")
	}
	scheme, rest, hasScheme := strings.Cut(s, ":")
	lower := strings.ToLower(scheme)
	switch {
	case hasScheme && (lower == "postgres" || lower == "postgresql"):
		u, err := url.Parse(s)
		if err != nil {
			return Database{}, fmt.Errorf("not a valid PostgreSQL URL: %w", redactURLError(err))
		}
		if u.Opaque != "" || !strings.HasPrefix(rest, "//") {
			return Database{}, errors.New("a PostgreSQL URL looks like postgres://user:password@host:5432/dbname")
		}
		return Database{Driver: DriverPostgres, DSN: s}, nil
	case hasScheme && (lower == "sqlite" || lower == "sqlite3" || lower == "file"):
		path, query, _ := strings.Cut(rest, "?")
		if strings.HasPrefix(path, "//") {
			// sqlite:///abs/path is /abs/path; sqlite://rel/path is rel/path.
			path = strings.TrimPrefix(path, "//")
		}
		if path == "" {
			return Database{}, fmt.Errorf("%q names no database file: use sqlite:PATH", s)
		}
		return Database{Driver: DriverSQLite, Path: path, Query: query}, nil
	case hasScheme && strings.HasPrefix(rest, "//"):
		return Database{}, fmt.Errorf("unsupported scheme %q: use postgres:// or sqlite:", scheme)
	case looksLikeKeywordDSN(s):
		return Database{}, errors.New("keyword/value connection strings are not supported: use postgres://user:password@host:5432/dbname")
	}
	if strings.ContainsAny(s, "\r\n\x00") {
		return Database{}, errors.New("not a file path")
	}
	return Database{Driver: DriverSQLite, Path: s}, nil
}

// looksLikeKeywordDSN spots libpq "host=… dbname=…" strings, which would
// otherwise be taken for an odd file name.
func looksLikeKeywordDSN(s string) bool {
	first, _, _ := strings.Cut(s, " ")
	key, _, ok := strings.Cut(first, "=")
	if !ok || key == "" {
		return false
	}
	for _, r := range key {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// redactURLError drops the URL text (which may hold a password) from a
// url.Parse error.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// Redacted returns DATABASE_URL with any password replaced by "xxxxx",
// for logs and Dump.
func (d Database) Redacted() string {
	switch d.Driver {
	case DriverPostgres:
		u, err := url.Parse(d.DSN)
		if err != nil {
			return "(unparsable, redacted)"
		}
		q := u.Query()
		if q.Has("password") {
			q.Set("password", "xxxxx")
			u.RawQuery = q.Encode()
		}
		return u.Redacted()
	case DriverSQLite:
		if d.Query != "" {
			return "sqlite:" + d.Path + "?" + d.Query
		}
		return "sqlite:" + d.Path
	}
	return ""
}

// SplitList splits a comma-separated value, trimming each item and
// dropping empty ones.
func SplitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// ParseSize parses a byte count: digits with an optional unit B, KB, MB,
// GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024),
// case-insensitive, optionally separated by a space.
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("%q is not a size in bytes (such as 16777216 or 16MiB)", s)
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size in bytes: %w", s, err)
	}
	units := map[string]int64{
		"": 1, "b": 1,
		"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
		"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
	}
	mult, ok := units[strings.ToLower(strings.TrimSpace(s[i:]))]
	if !ok {
		return 0, fmt.Errorf("%q has an unknown unit (use B, KB, MB, GB, KiB, MiB or GiB)", s)
	}
	if n > (1<<63-1)/mult {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return n * mult, nil
}

// ParseLevel parses debug, info, warn (or warning) and error.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("%q is not one of debug, info, warn, error", s)
}

// Dump returns the effective configuration, one NAME=value line per
// variable in a fixed order, with secrets redacted: the database password
// and every API token.
func (c Config) Dump() string {
	tokens := "(none: authentication disabled)"
	if len(c.Principals) > 0 {
		// Names and roles are not secret; the tokens are.
		parts := make([]string, len(c.Principals))
		for i, p := range c.Principals {
			parts[i] = p.Name() + ":" + p.RoleList() + ":(redacted)"
		}
		tokens = strings.Join(parts, ",")
	}
	db := c.Database.Redacted()
	if db == "" {
		db = "(unset)"
	}
	addr := c.Addr
	if addr == "" {
		addr = "(service default)"
	}
	metrics := c.MetricsNamespace
	if metrics == "" {
		metrics = "(none: not published)"
	}
	aggAttrs := strings.Join(c.AggregateAttrs, ",")
	if aggAttrs == "" {
		aggAttrs = "none"
	}
	lines := [][2]string{
		{EnvDatabaseURL, db},
		{EnvAPITokens, tokens},
		{EnvFourEyes, strconv.FormatBool(c.FourEyes)},
		{EnvMaxBodyBytes, strconv.FormatInt(c.MaxBodyBytes, 10)},
		{EnvMaxUploadBytes, strconv.FormatInt(c.MaxUploadBytes, 10)},
		{EnvLogLevel, strings.ToLower(c.LogLevel.String())},
		{EnvLogFormat, c.LogFormat},
		{EnvWorkerConcurrency, strconv.Itoa(c.WorkerConcurrency)},
		{EnvLeaseSeconds, strconv.Itoa(c.LeaseSeconds)},
		{EnvWorkerGrace, strconv.Itoa(c.WorkerGraceSeconds)},
		{EnvDBMaxConns, strconv.Itoa(c.DBMaxConns)},
		{EnvBodyIdleSeconds, strconv.Itoa(c.BodyIdleSeconds)},
		{EnvAddr, addr},
		{EnvWebhookAllowHTTP, strconv.FormatBool(c.WebhookAllowHTTP)},
		{EnvMetricsNamespace, metrics},
		{EnvAggregateAttrs, aggAttrs},
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l[0])
		b.WriteByte('=')
		b.WriteString(l[1])
		b.WriteByte('\n')
	}
	return b.String()
}

// LogValue lets a Config be logged as one attribute group with secrets
// redacted, the same values Dump shows:
// logger.Info("configuration", slog.Any("config", cfg)).
func (c Config) LogValue() slog.Value {
	var attrs []slog.Attr
	for _, line := range strings.Split(strings.TrimSuffix(c.Dump(), "\n"), "\n") {
		name, value, _ := strings.Cut(line, "=")
		attrs = append(attrs, slog.String(strings.ToLower(name), value))
	}
	return slog.GroupValue(attrs...)
}

// NewLogger returns the one slog logger of the process, writing to w in
// c.LogFormat at c.LogLevel, with times in UTC. Attribute keys are
// snake_case by convention throughout IPRS.
func NewLogger(c Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{
		Level: c.LogLevel,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey && a.Value.Kind() == slog.KindTime {
				a.Value = slog.TimeValue(a.Value.Time().UTC())
			}
			return a
		},
	}
	if c.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// Variables returns the names of every variable Load reads.
func Variables() []string {
	return []string{
		EnvDatabaseURL, EnvAPITokens, EnvFourEyes, EnvMaxBodyBytes, EnvMaxUploadBytes, EnvLogLevel,
		EnvLogFormat, EnvWorkerConcurrency, EnvLeaseSeconds, EnvWorkerGrace, EnvDBMaxConns, EnvBodyIdleSeconds, EnvAddr,
		EnvWebhookAllowHTTP, EnvMetricsNamespace, EnvAggregateAttrs,
	}
}
