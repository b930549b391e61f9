package teststore

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cluster is a PostgreSQL server of the test's own, for tests that stop the
// database: initdb in a temporary directory, served on a free loopback
// port with trust authentication, removed at cleanup. Never stop the shared
// server of IPRS_TEST_DATABASE_URL; stop one of these.
type Cluster struct {
	tb   testing.TB
	bin  string // the directory of initdb and pg_ctl
	dir  string // the cluster's directory: data, socket, log
	port int
	cred *syscall.Credential // whom to run the server as when the test runs as root
}

// clusterTimeout bounds each initdb and pg_ctl call.
const clusterTimeout = 2 * time.Minute

// NewCluster creates and starts a private cluster. It skips the test,
// saying why, when the PostgreSQL server binaries are missing (it looks in
// /usr/lib/postgresql/*/bin, the newest version first, then on PATH) —
// unless CI=true, where that fails the test. Run as root, it runs the
// server as the "postgres" user, as initdb requires.
func NewCluster(tb testing.TB) *Cluster {
	tb.Helper()
	bin, err := serverBinaries()
	if err != nil {
		missing(tb, err.Error())
	}
	c := &Cluster{tb: tb, bin: bin}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			missing(tb, "running as root, and initdb refuses root: no \"postgres\" user to run the test cluster as")
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			tb.Fatalf("user postgres has ids %q/%q", u.Uid, u.Gid)
		}
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	// Not t.TempDir: its parents are private to the test's user, and the
	// server may run as another.
	c.dir, err = os.MkdirTemp("", "iprs-pg-")
	if err != nil {
		tb.Fatalf("cluster directory: %v", err)
	}
	tb.Cleanup(func() {
		c.pgctl("stop", "-m", "immediate") // error ignored: it may be stopped already
		if err := os.RemoveAll(c.dir); err != nil {
			tb.Errorf("remove the test cluster: %v", err)
		}
	})
	if c.cred != nil {
		if err := os.Chown(c.dir, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			tb.Fatalf("chown the cluster directory: %v", err)
		}
	}
	c.port = freePort(tb)
	if out, err := c.run("initdb", "-D", c.data(), "-U", "postgres", "--auth=trust", "--no-sync", "--no-locale", "-E", "UTF8"); err != nil {
		tb.Fatalf("initdb: %v\n%s", err, out)
	}
	c.Start()
	return c
}

// missing skips the test, or fails it under CI, for want of a server.
func missing(tb testing.TB, why string) {
	tb.Helper()
	if os.Getenv("CI") == "true" {
		tb.Fatalf("CI=true and the test needs a private PostgreSQL cluster: %s", why)
	}
	tb.Skipf("skipping: the test needs a private PostgreSQL cluster (initdb, pg_ctl): %s", why)
}

// serverBinaries finds the directory holding initdb and pg_ctl.
func serverBinaries() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// Newest major version first: "17" before "9".
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	for _, d := range dirs {
		if isExecutable(filepath.Join(d, "initdb")) && isExecutable(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		d := filepath.Dir(p)
		if isExecutable(filepath.Join(d, "initdb")) {
			return d, nil
		}
	}
	return "", fmt.Errorf("no initdb and pg_ctl in /usr/lib/postgresql/*/bin or on PATH")
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// freePort returns a loopback port nothing listened on a moment ago.
func freePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("find a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func (c *Cluster) data() string { return filepath.Join(c.dir, "data") }

// run runs one of the server binaries as the cluster's user.
func (c *Cluster) run(name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, name), args...)
	cmd.Dir = c.dir
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	return cmd.CombinedOutput()
}

func (c *Cluster) pgctl(args ...string) ([]byte, error) {
	return c.run("pg_ctl", append([]string{"-D", c.data(), "-w", "-t", "60"}, args...)...)
}

// Start starts the server (again, on the same port) and waits until it
// accepts connections. fsync is off (the machine does not crash in a
// test, only the server); commits stay synchronous, so that what a client
// saw committed survives an immediate stop.
func (c *Cluster) Start() {
	c.tb.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=100", c.port, c.dir)
	if out, err := c.pgctl("-l", filepath.Join(c.dir, "server.log"), "-o", opts, "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "server.log"))
		c.tb.Fatalf("pg_ctl start: %v\n%s\nserver log:\n%s", err, out, log)
	}
}

// Stop stops the server with pg_ctl's mode ("fast": sessions are ended and
// the server shuts down cleanly; "immediate": it quits at once, as in a
// crash, and recovers from its log at the next start).
func (c *Cluster) Stop(mode string) {
	c.tb.Helper()
	if out, err := c.pgctl("-m", mode, "stop"); err != nil {
		c.tb.Fatalf("pg_ctl stop: %v\n%s", err, out)
	}
}

// Addr is the server's host:port.
func (c *Cluster) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)) }

// CreateDatabase creates a database on the cluster and returns its URL.
func (c *Cluster) CreateDatabase(name string) string {
	c.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, "postgres://postgres@"+c.Addr()+"/postgres?sslmode=disable")
	if err != nil {
		c.tb.Fatalf("connect to the test cluster: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		c.tb.Fatalf("create database %s: %v", name, err)
	}
	return "postgres://postgres@" + c.Addr() + "/" + name + "?sslmode=disable"
}
