package config

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	c, err := Load(env(nil))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.Database.Driver != "" {
		t.Errorf("Database.Driver = %q, want none", c.Database.Driver)
	}
	if c.Principals != nil || c.FourEyes {
		t.Errorf("Principals = %v, FourEyes = %v; want none, false", c.Principals, c.FourEyes)
	}
	if c.MaxBodyBytes != 16*1024*1024 {
		t.Errorf("MaxBodyBytes = %d, want 16 MiB", c.MaxBodyBytes)
	}
	if c.MaxUploadBytes != 2*1024*1024*1024 {
		t.Errorf("MaxUploadBytes = %d, want 2 GiB", c.MaxUploadBytes)
	}
	if c.LogLevel != slog.LevelInfo || c.LogFormat != "json" {
		t.Errorf("log = %v/%s, want info/json", c.LogLevel, c.LogFormat)
	}
	if c.WorkerGrace() != 20*time.Second {
		t.Errorf("worker grace = %v, want 20s", c.WorkerGrace())
	}
	if c.LeaseSeconds != 60 || c.Lease() != time.Minute {
		t.Errorf("lease = %d s (%v), want 60 s", c.LeaseSeconds, c.Lease())
	}
	if c.DBMaxConns != 10 {
		t.Errorf("DBMaxConns = %d, want 10", c.DBMaxConns)
	}
	if c.WorkerConcurrency < 1 {
		t.Errorf("WorkerConcurrency = %d, want >= 1", c.WorkerConcurrency)
	}
	if c.Addr != "" {
		t.Errorf("Addr = %q, want empty", c.Addr)
	}
	if err := c.RequireDatabase(); err == nil || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Errorf("RequireDatabase() = %v, want an error naming DATABASE_URL", err)
	}
}

func TestLoadAll(t *testing.T) {
	t.Parallel()
	c, err := Load(env(map[string]string{
		"DATABASE_URL":              "postgres://iprs:s3cret@db.internal:5432/iprs?sslmode=require",
		"IPRS_API_TOKENS":           " tok-a, ,tok-b ,, ",
		"IPRS_MAX_BODY_BYTES":       "1MiB",
		"IPRS_MAX_UPLOAD_BYTES":     "3 GB",
		"IPRS_LOG_LEVEL":            "WARN",
		"IPRS_LOG_FORMAT":           "text",
		"IPRS_WORKER_CONCURRENCY":   "7",
		"IPRS_LEASE_SECONDS":        "90",
		"IPRS_WORKER_GRACE_SECONDS": "0",
		"IPRS_DB_MAX_CONNS":         "25",
		"IPRS_ADDR":                 "127.0.0.1:9000",
	}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := Database{Driver: DriverPostgres, DSN: "postgres://iprs:s3cret@db.internal:5432/iprs?sslmode=require"}
	if c.Database != want {
		t.Errorf("Database = %+v, want %+v", c.Database, want)
	}
	if len(c.Principals) != 2 || c.Principals[0].Token() != "tok-a" || c.Principals[1].Token() != "tok-b" ||
		c.Principals[0].String() != "default(read+write+publish)" {
		t.Errorf("Principals = %v, want two default principals with every role, tokens tok-a and tok-b", c.Principals)
	}
	if c.MaxBodyBytes != 1<<20 || c.MaxUploadBytes != 3_000_000_000 {
		t.Errorf("sizes = %d, %d; want 1048576, 3000000000", c.MaxBodyBytes, c.MaxUploadBytes)
	}
	if c.LogLevel != slog.LevelWarn || c.LogFormat != "text" {
		t.Errorf("log = %v/%s, want warn/text", c.LogLevel, c.LogFormat)
	}
	if c.WorkerConcurrency != 7 || c.LeaseSeconds != 90 || c.WorkerGrace() != 0 || c.DBMaxConns != 25 || c.Addr != "127.0.0.1:9000" {
		t.Errorf("got %+v", c)
	}
	if err := c.RequireDatabase(); err != nil {
		t.Errorf("RequireDatabase: %v", err)
	}
}

func TestLoadAggregateAttrs(t *testing.T) {
	t.Parallel()
	cases := []struct {
		value string
		want  []string
	}{
		{"", []string{"state", "loan_program", "program", "platform", "desk"}},
		{" state , fico,state ", []string{"state", "fico"}},
		{"none", []string{}},
	}
	for _, tc := range cases {
		c, err := Load(env(map[string]string{"IPRS_AGGREGATE_ATTRS": tc.value}))
		if err != nil {
			t.Fatalf("Load(%q): %v", tc.value, err)
		}
		if !slices.Equal(c.AggregateAttrs, tc.want) || c.AggregateAttrs == nil {
			t.Errorf("IPRS_AGGREGATE_ATTRS=%q: %q, want %q", tc.value, c.AggregateAttrs, tc.want)
		}
	}
	if _, err := Load(env(map[string]string{"IPRS_AGGREGATE_ATTRS": "a,b,c,d,e,f,g,h,i"})); err == nil || !strings.Contains(err.Error(), "at most 8") {
		t.Errorf("nine attributes: %v, want at most 8", err)
	}
}

func TestLoadReportsEveryBadVariable(t *testing.T) {
	t.Parallel()
	_, err := Load(env(map[string]string{
		"DATABASE_URL":              "mysql://root@localhost/x",
		"IPRS_MAX_BODY_BYTES":       "lots",
		"IPRS_MAX_UPLOAD_BYTES":     "12",
		"IPRS_LOG_LEVEL":            "verbose",
		"IPRS_LOG_FORMAT":           "xml",
		"IPRS_WORKER_CONCURRENCY":   "0",
		"IPRS_LEASE_SECONDS":        "sixty",
		"IPRS_WORKER_GRACE_SECONDS": "-5",
		"IPRS_DB_MAX_CONNS":         "-1",
		"IPRS_BODY_IDLE_SECONDS":    "0",
		"IPRS_ADDR":                 "localhost",
		"IPRS_API_TOKENS":           "ops:admin:tok-x",
		"IPRS_FOUR_EYES":            "perhaps",
		"IPRS_WEBHOOK_ALLOW_HTTP":   "sometimes",
		"IPRS_METRICS_NAMESPACE":    "AWS/ECS",
		"IPRS_AGGREGATE_ATTRS":      "state,loan-program",
	}))
	if err == nil {
		t.Fatal("Load accepted invalid variables")
	}
	for _, name := range Variables() {
		if !strings.Contains(err.Error(), name+":") {
			t.Errorf("error does not name %s:\n%v", name, err)
		}
	}
}

func TestParseDatabaseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want Database
	}{
		{"postgres://u:p@h:5432/d", Database{Driver: DriverPostgres, DSN: "postgres://u:p@h:5432/d"}},
		{"postgresql://h/d?sslmode=disable", Database{Driver: DriverPostgres, DSN: "postgresql://h/d?sslmode=disable"}},
		{"sqlite:data/iprs.db", Database{Driver: DriverSQLite, Path: "data/iprs.db"}},
		{"sqlite:///var/lib/iprs.db", Database{Driver: DriverSQLite, Path: "/var/lib/iprs.db"}},
		{"sqlite://rel.db", Database{Driver: DriverSQLite, Path: "rel.db"}},
		{"sqlite:x.db?_pragma=busy_timeout(5000)", Database{Driver: DriverSQLite, Path: "x.db", Query: "_pragma=busy_timeout(5000)"}},
		{"sqlite::memory:", Database{Driver: DriverSQLite, Path: ":memory:"}},
		{"file:x.db", Database{Driver: DriverSQLite, Path: "x.db"}},
		{"/tmp/iprs.db", Database{Driver: DriverSQLite, Path: "/tmp/iprs.db"}},
		{"iprs.db", Database{Driver: DriverSQLite, Path: "iprs.db"}},
	}
	for _, tt := range tests {
		got, err := ParseDatabaseURL(tt.in)
		if err != nil {
			t.Errorf("ParseDatabaseURL(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseDatabaseURL(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
	for _, bad := range []string{"", "sqlite:", "mysql://h/d", "host=localhost dbname=iprs", "postgres:d"} {
		if got, err := ParseDatabaseURL(bad); err == nil {
			t.Errorf("ParseDatabaseURL(%q) = %+v, want an error", bad, got)
		}
	}
}

func TestParseDatabaseURLErrorHidesPassword(t *testing.T) {
	t.Parallel()
	_, err := ParseDatabaseURL("postgres://u:hunter2@h:99999999999/d%zz")
	if err == nil {
		t.Fatal("want an error for a malformed URL")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error leaks the password: %v", err)
	}
}

func TestParseSize(t *testing.T) {
	t.Parallel()
	tests := map[string]int64{
		"0": 0, "1024": 1024, "16MiB": 16 << 20, "16 mib": 16 << 20, "2GiB": 2 << 30,
		"5KB": 5000, "3GB": 3e9, "7B": 7, "1TiB": 1 << 40,
	}
	for in, want := range tests {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "MiB", "-5", "1.5GiB", "10 parsecs", "99999999999TiB"} {
		if got, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", bad, got)
		}
	}
}

func TestDumpRedactsSecrets(t *testing.T) {
	t.Parallel()
	c, err := Load(env(map[string]string{
		"DATABASE_URL":    "postgres://iprs:s3cret@db:5432/iprs?password=other",
		"IPRS_API_TOKENS": "tok-alpha,alice:read+write:tok-beta,bob:publish:tok-gamma",
		"IPRS_FOUR_EYES":  "true",
	}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	out := c.Dump()
	for _, secret := range []string{"s3cret", "other", "tok-alpha", "tok-beta", "tok-gamma"} {
		if strings.Contains(out, secret) {
			t.Errorf("Dump leaks %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{
		"DATABASE_URL=postgres://iprs:xxxxx@db:5432/iprs?password=xxxxx\n",
		"IPRS_API_TOKENS=default:read+write+publish:(redacted),alice:read+write:(redacted),bob:publish:(redacted)\n",
		"IPRS_FOUR_EYES=true\n",
		"IPRS_MAX_BODY_BYTES=16777216\n",
		"IPRS_LOG_LEVEL=info\n",
		"IPRS_LEASE_SECONDS=60\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("Dump lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "\n"); n != len(Variables()) {
		t.Errorf("Dump has %d lines, want one per variable (%d)", n, len(Variables()))
	}

	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("configuration", slog.Any("config", c))
	logged := buf.String()
	for _, secret := range []string{"s3cret", "tok-alpha", "tok-beta", "tok-gamma"} {
		if strings.Contains(logged, secret) {
			t.Errorf("logged configuration leaks %q: %s", secret, logged)
		}
	}
	if !strings.Contains(logged, `"iprs_lease_seconds":"60"`) {
		t.Errorf("logged configuration = %s", logged)
	}
}

func TestNewLogger(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := NewLogger(Config{LogLevel: slog.LevelWarn, LogFormat: "json"}, &buf)
	log.Info("dropped")
	log.Warn("kept", slog.String("run_id", "R1"))
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("got %d lines, want 1: %q", len(lines), buf.String())
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if rec["msg"] != "kept" || rec["run_id"] != "R1" || rec["level"] != "WARN" {
		t.Errorf("record = %v", rec)
	}
	ts, _ := rec["time"].(string)
	if !strings.HasSuffix(ts, "Z") {
		t.Errorf("time %q is not UTC", ts)
	}

	buf.Reset()
	NewLogger(Config{LogLevel: slog.LevelDebug, LogFormat: "text"}, &buf).Debug("hello", slog.Int("n", 3))
	if !strings.Contains(buf.String(), "msg=hello n=3") {
		t.Errorf("text output = %q", buf.String())
	}
}

func TestAPITokens(t *testing.T) {
	t.Parallel()
	c, err := Load(env(map[string]string{
		"IPRS_API_TOKENS": " ops-bot:read:tok-r1 , alice:write+read:tok-w1,bob:publish+read+publish:tok-p1,alice:read+write:tok-w2, legacy-token",
	}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := []string{"ops-bot(read)", "alice(read+write)", "bob(read+publish)", "alice(read+write)", "default(read+write+publish)"}
	tokens := []string{"tok-r1", "tok-w1", "tok-p1", "tok-w2", "legacy-token"}
	if len(c.Principals) != len(want) {
		t.Fatalf("Principals = %v, want %v", c.Principals, want)
	}
	for i, p := range c.Principals {
		if p.String() != want[i] || p.Token() != tokens[i] {
			t.Errorf("principal %d = %v (token %q), want %s (token %q)", i, p, p.Token(), want[i], tokens[i])
		}
	}
}

func TestAPITokensBadEntries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		value string
		want  string // in the message
	}{
		{"alice:read", "entry 1: has 1 colons"},
		{"ok-token,alice:read:write:s3cr3t-x", "entry 2: has 3 colons"},
		{"alice:admin:s3cr3t-x", `entry 1 (principal "alice"): unknown role "admin"`},
		{"alice::s3cr3t-x", `entry 1 (principal "alice"): names no role`},
		{"alice:read+:s3cr3t-x", `unknown role ""`},
		{"al ice:read:s3cr3t-x", "entry 1: the principal name must be"},
		{":read:s3cr3t-x", "entry 1: the principal name must be"},
		{"alice:read:", `entry 1 (principal "alice"): has an empty token`},
		{"alice:read:s3cr	t-x", "whitespace"},
		{"alice:read:s3cr3t-x,bob:write:s3cr3t-x", `entry 2 (principal "bob") has the same token as principal "alice"`},
		{"alice:read:s3cr3t-x,alice:write:s3cr3t-y", `entry 2: principal "alice" is listed again with other roles`},
	}
	for _, tt := range tests {
		_, err := Load(env(map[string]string{"IPRS_API_TOKENS": tt.value}))
		if err == nil {
			t.Errorf("Load(IPRS_API_TOKENS=%q) succeeded, want an error", tt.value)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, "IPRS_API_TOKENS: ") || !strings.Contains(msg, tt.want) {
			t.Errorf("Load(IPRS_API_TOKENS=%q) = %q, want it to name the variable and say %q", tt.value, msg, tt.want)
		}
		for _, secret := range []string{"s3cr3t-x", "s3cr3t-y", "s3cr\tt-x", "ok-token"} {
			if strings.Contains(msg, secret) {
				t.Errorf("Load(IPRS_API_TOKENS=%q) error echoes a token: %q", tt.value, msg)
			}
		}
	}
	// Every bad entry is reported at once.
	_, err := Load(env(map[string]string{"IPRS_API_TOKENS": "a:nope:t1-xxxxx,good:read:t2-xxxxx,b:read"}))
	if err == nil || !strings.Contains(err.Error(), "entry 1") || !strings.Contains(err.Error(), "entry 3") {
		t.Errorf("err = %v, want entries 1 and 3 named", err)
	}
}

func TestFourEyes(t *testing.T) {
	t.Parallel()
	good := "alice:read+write:tok-a1,bob:read+publish:tok-b1"
	for value, want := range map[string]bool{"true": true, "TRUE": true, "1": true, "false": false, "0": false, "": false} {
		c, err := Load(env(map[string]string{"IPRS_FOUR_EYES": value, "IPRS_API_TOKENS": good}))
		if err != nil || c.FourEyes != want {
			t.Errorf("IPRS_FOUR_EYES=%q: FourEyes = %v, %v; want %v", value, c.FourEyes, err, want)
		}
	}
	for tokens, want := range map[string]string{
		"": "needs principals",
		// One principal that may do everything cannot publish its own runs.
		"only-token": "no run could ever be published",
		"alice:read+write+publish:tok-a1,bob:read:tok-b1": "no run could ever be published",
		"alice:write:tok-a1,alice:write:tok-a2":           "no run could ever be published",
	} {
		_, err := Load(env(map[string]string{"IPRS_FOUR_EYES": "true", "IPRS_API_TOKENS": tokens}))
		if err == nil || !strings.Contains(err.Error(), "IPRS_FOUR_EYES: ") || !strings.Contains(err.Error(), want) {
			t.Errorf("four eyes with IPRS_API_TOKENS=%q: %v, want an error naming IPRS_FOUR_EYES saying %q", tokens, err, want)
		}
	}
	// Off, a single all-powerful principal is fine.
	if _, err := Load(env(map[string]string{"IPRS_FOUR_EYES": "false", "IPRS_API_TOKENS": "only-token"})); err != nil {
		t.Errorf("four eyes off: %v", err)
	}
}

func TestWebhookAllowHTTP(t *testing.T) {
	t.Parallel()
	c, err := Load(env(map[string]string{"IPRS_WEBHOOK_ALLOW_HTTP": "true"}))
	if err != nil || !c.WebhookAllowHTTP {
		t.Errorf("IPRS_WEBHOOK_ALLOW_HTTP=true: %v, %v", c.WebhookAllowHTTP, err)
	}
	c, err = Load(env(map[string]string{}))
	if err != nil || c.WebhookAllowHTTP {
		t.Errorf("unset: %v, %v; want false", c.WebhookAllowHTTP, err)
	}
}

func TestMetricsNamespace(t *testing.T) {
	t.Parallel()
	if c, err := Load(env(nil)); err != nil || c.MetricsNamespace != "" {
		t.Fatalf("default MetricsNamespace = %q, %v; want none", c.MetricsNamespace, err)
	}
	for _, ok := range []string{"IPRS", "IPRS/iprs-dev", "team.risk_1/#prod: eu"} {
		c, err := Load(env(map[string]string{EnvMetricsNamespace: ok}))
		if err != nil || c.MetricsNamespace != ok {
			t.Errorf("%q: MetricsNamespace = %q, %v", ok, c.MetricsNamespace, err)
		}
		if !strings.Contains(c.Dump(), EnvMetricsNamespace+"="+ok+"\n") {
			t.Errorf("%q: Dump does not show it:\n%s", ok, c.Dump())
		}
	}
	for _, bad := range []string{"AWS/ECS", "IPRS|dev", "IPRS\u00e9", strings.Repeat("n", 256)} {
		if _, err := Load(env(map[string]string{EnvMetricsNamespace: bad})); err == nil || !strings.Contains(err.Error(), EnvMetricsNamespace+":") {
			t.Errorf("%q: Load = %v, want an error naming %s", bad, err, EnvMetricsNamespace)
		}
	}
}
