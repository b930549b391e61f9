package deploy

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iprs/iprs/internal/service"
)

// repoRoot is the repository root, relative to this package.
const repoRoot = "../.."

// dockerInstr is one Dockerfile instruction, continuation lines joined.
type dockerInstr struct {
	line int
	cmd  string // upper case: FROM, RUN, ...
	args string
}

// dockerStage is one FROM and the instructions after it.
type dockerStage struct {
	line     int
	base     string // image or earlier stage name
	name     string // AS name, may be empty
	platform string
	instrs   []dockerInstr
}

// parseDockerfile splits a Dockerfile into stages. Instructions before the
// first FROM (global ARGs) are returned apart.
func parseDockerfile(src []byte) (global []dockerInstr, stages []*dockerStage, err error) {
	sc := bufio.NewScanner(bytes.NewReader(src))
	lineNo := 0
	var cur strings.Builder
	start := 0
	var instrs []dockerInstr
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		// Comments (and parser directives) and blank lines, also inside a
		// continued instruction.
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if cur.Len() == 0 {
			start = lineNo
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\"))
			cur.WriteString(" ")
			continue
		}
		cur.WriteString(trimmed)
		text := cur.String()
		cur.Reset()
		cmd, args, _ := strings.Cut(text, " ")
		instrs = append(instrs, dockerInstr{line: start, cmd: strings.ToUpper(cmd), args: strings.Join(strings.Fields(args), " ")})
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("read Dockerfile: %w", err)
	}
	if cur.Len() > 0 {
		return nil, nil, fmt.Errorf("Dockerfile ends inside a continued instruction (line %d)", start)
	}
	for _, in := range instrs {
		if in.cmd != "FROM" {
			if len(stages) == 0 {
				if in.cmd != "ARG" {
					return nil, nil, fmt.Errorf("line %d: %s before the first FROM", in.line, in.cmd)
				}
				global = append(global, in)
				continue
			}
			st := stages[len(stages)-1]
			st.instrs = append(st.instrs, in)
			continue
		}
		st := &dockerStage{line: in.line}
		fields := strings.Fields(in.args)
		for len(fields) > 0 && strings.HasPrefix(fields[0], "--") {
			if v, ok := strings.CutPrefix(fields[0], "--platform="); ok {
				st.platform = v
			}
			fields = fields[1:]
		}
		switch {
		case len(fields) == 1:
			st.base = fields[0]
		case len(fields) == 3 && strings.EqualFold(fields[1], "AS"):
			st.base, st.name = fields[0], strings.ToLower(fields[2])
		default:
			return nil, nil, fmt.Errorf("line %d: cannot read FROM %s", in.line, in.args)
		}
		stages = append(stages, st)
	}
	return global, stages, nil
}

// last is the last instruction of a kind in the stage, or ok=false.
func (s *dockerStage) last(cmd string) (dockerInstr, bool) {
	for i := len(s.instrs) - 1; i >= 0; i-- {
		if s.instrs[i].cmd == cmd {
			return s.instrs[i], true
		}
	}
	return dockerInstr{}, false
}

// dockerfile is the parsed Dockerfile, with stages by name.
type dockerfile struct {
	global []dockerInstr
	stages []*dockerStage
	byName map[string]*dockerStage
}

func mustParseDockerfile(t *testing.T) *dockerfile {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	global, stages, err := parseDockerfile(src)
	if err != nil {
		t.Fatal(err)
	}
	d := &dockerfile{global: global, stages: stages, byName: map[string]*dockerStage{}}
	for _, s := range stages {
		if s.name != "" {
			if _, dup := d.byName[s.name]; dup {
				t.Fatalf("Dockerfile: stage %q defined twice", s.name)
			}
			d.byName[s.name] = s
		}
	}
	return d
}

// chain is a stage and the earlier stages it is built FROM, nearest first;
// the last one's base is an image.
func (d *dockerfile) chain(s *dockerStage) []*dockerStage {
	var out []*dockerStage
	for s != nil && len(out) <= len(d.stages) {
		out = append(out, s)
		s = d.byName[strings.ToLower(s.base)]
	}
	return out
}

// effective is the last instruction of a kind along a stage's chain: what
// the built image has (USER, CMD, ENTRYPOINT, EXPOSE...).
func (d *dockerfile) effective(s *dockerStage, cmd string) (dockerInstr, bool) {
	for _, st := range d.chain(s) {
		if in, ok := st.last(cmd); ok {
			return in, true
		}
	}
	return dockerInstr{}, false
}

// execForm reads the JSON (exec) form of CMD or ENTRYPOINT.
func execForm(in dockerInstr) ([]string, error) {
	var out []string
	if err := json.Unmarshal([]byte(in.args), &out); err != nil {
		return nil, fmt.Errorf("line %d: %s %s is not in exec (JSON) form: %w", in.line, in.cmd, in.args, err)
	}
	return out, nil
}

// TestDockerfileStaticBuild checks that the build stage compiles ./cmd/iprs
// with CGO_ENABLED=0 on the Go version of go.mod.
func TestDockerfileStaticBuild(t *testing.T) {
	d := mustParseDockerfile(t)
	var builds []dockerInstr
	var buildStage *dockerStage
	for _, s := range d.stages {
		for _, in := range s.instrs {
			if in.cmd == "RUN" && regexp.MustCompile(`\bgo build\b`).MatchString(in.args) {
				builds = append(builds, in)
				buildStage = s
			}
		}
	}
	if len(builds) != 1 {
		t.Fatalf("Dockerfile has %d RUN go build, want 1", len(builds))
	}
	run := builds[0].args
	for _, want := range []string{"CGO_ENABLED=0", "./cmd/iprs", "-o /out/iprs"} {
		if !strings.Contains(run, want) {
			t.Errorf("Dockerfile line %d: %q does not contain %q", builds[0].line, run, want)
		}
	}
	if !strings.HasPrefix(buildStage.base, "golang:") {
		t.Errorf("build stage FROM %s, want a golang image", buildStage.base)
	}

	// The Go version of the build image is the one go.mod asks for.
	mod, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	var goVersion string
	for _, in := range d.global {
		if v, ok := strings.CutPrefix(in.args, "GO_VERSION="); ok {
			goVersion = v
		}
	}
	if goVersion != string(m[1]) {
		t.Errorf("ARG GO_VERSION=%s, go.mod asks for go %s", goVersion, m[1])
	}
	if buildStage.base != "golang:${GO_VERSION}" {
		t.Errorf("build stage FROM %s, want golang:${GO_VERSION}", buildStage.base)
	}
}

// TestDockerfileServiceTargets checks one target per service, checked
// against service.All(): a minimal non-root image holding the binary, whose
// default command is `serve <service>` and which exposes the service port.
func TestDockerfileServiceTargets(t *testing.T) {
	d := mustParseDockerfile(t)
	for _, spec := range service.All() {
		st, ok := d.byName[string(spec.Name)]
		if !ok {
			t.Errorf("Dockerfile has no stage %q", spec.Name)
			continue
		}
		chain := d.chain(st)
		base := chain[len(chain)-1].base
		if !strings.HasPrefix(base, "gcr.io/distroless/static") && base != "scratch" {
			t.Errorf("%s: image built on %s, want distroless static or scratch", spec.Name, base)
		}
		if strings.HasPrefix(base, "gcr.io/distroless/") && !strings.HasSuffix(base, ":nonroot") {
			t.Errorf("%s: image built on %s, want the :nonroot variant", spec.Name, base)
		}
		user, ok := d.effective(st, "USER")
		if !ok || isRootUser(user.args) {
			t.Errorf("%s: runs as %q, want a non-root USER", spec.Name, user.args)
		}

		entry, ok := d.effective(st, "ENTRYPOINT")
		if !ok {
			t.Errorf("%s: no ENTRYPOINT", spec.Name)
			continue
		}
		ep, err := execForm(entry)
		if err != nil {
			t.Error(err)
			continue
		}
		binary := copiedBinary(t, d, chain)
		if !reflect.DeepEqual(ep, []string{binary}) {
			t.Errorf("%s: ENTRYPOINT %v, want [%s], the binary copied from the build stage", spec.Name, ep, binary)
		}

		cmdIn, ok := st.last("CMD")
		if !ok {
			t.Errorf("%s: no CMD in its stage", spec.Name)
			continue
		}
		cmd, err := execForm(cmdIn)
		if err != nil {
			t.Error(err)
		} else if !reflect.DeepEqual(cmd, spec.Command()) {
			t.Errorf("%s: CMD %v, want %v", spec.Name, cmd, spec.Command())
		}

		expose, ok := st.last("EXPOSE")
		if !ok {
			t.Errorf("%s: no EXPOSE", spec.Name)
		} else if want := fmt.Sprint(spec.Port); expose.args != want && expose.args != want+"/tcp" {
			t.Errorf("%s: EXPOSE %s, want %d", spec.Name, expose.args, spec.Port)
		}
	}

	// Only services, the build and the shared runtime name stages.
	for name := range d.byName {
		if _, ok := service.Lookup(name); !ok && !slices.Contains([]string{"build", "runtime", "iprs"}, name) {
			t.Errorf("Dockerfile stage %q is not a service", name)
		}
	}
}

// copiedBinary is the path the binary is copied to in the runtime stages:
// COPY --from=<stage with go build> /out/iprs <dest>.
func copiedBinary(t *testing.T, d *dockerfile, chain []*dockerStage) string {
	t.Helper()
	for _, st := range chain {
		for _, in := range st.instrs {
			if in.cmd != "COPY" {
				continue
			}
			f := strings.Fields(in.args)
			if len(f) == 3 && strings.HasPrefix(f[0], "--from=") && f[1] == "/out/iprs" {
				return f[2]
			}
		}
	}
	t.Error("no COPY --from=<build> /out/iprs in the runtime stages")
	return ""
}

func isRootUser(u string) bool {
	name, _, _ := strings.Cut(strings.TrimSpace(u), ":")
	return name == "" || name == "root" || name == "0"
}

// TestDockerignore checks that the build context leaves out git, terraform
// (state and variable files may hold secrets) and local data, and keeps
// what the build needs.
func TestDockerignore(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, l := range strings.Split(string(src), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, l)
		}
	}
	for _, want := range []string{".git", "terraform"} {
		if !slices.Contains(patterns, want) {
			t.Errorf(".dockerignore does not exclude %s", want)
		}
	}
	for _, needed := range []string{"go.mod", "go.sum", "cmd/iprs/main.go", "internal/service/service.go", "sql/001_mvp_core.sql"} {
		for _, p := range patterns {
			if strings.HasPrefix(p, "!") {
				continue
			}
			if ok, _ := filepath.Match(p, needed); ok || strings.HasPrefix(needed, strings.TrimSuffix(p, "/")+"/") {
				t.Errorf(".dockerignore pattern %q leaves %s out of the build", p, needed)
			}
		}
	}
}

// TestStaticBinary builds ./cmd/iprs as the Dockerfile does and checks that
// the result needs no dynamic loader, so it runs on distroless static.
func TestStaticBinary(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the whole binary")
	}
	if _, err := os.Stat(filepath.Join(repoRoot, "cmd", "iprs")); err != nil {
		t.Skip("cmd/iprs does not exist yet")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH")
	}
	out := filepath.Join(t.TempDir(), "iprs")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", out, "./cmd/iprs")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build ./cmd/iprs: %v\n%s", err, msg)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatalf("open built binary: %v", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary asks for a dynamic loader (PT_INTERP); it is not static")
		}
	}
	if libs, err := f.ImportedLibraries(); err == nil && len(libs) > 0 {
		t.Errorf("the binary links shared libraries %v", libs)
	}
}
