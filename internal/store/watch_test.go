package store_test

import (
	"bytes"
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"log/slog"
	"strings"
	"testing"

	"github.com/iprs/iprs/internal/apperr"
	"github.com/iprs/iprs/internal/store"
)

var (
	errDown = errors.New("dial tcp 127.0.0.1:1: connect: connection refused")
	errBusy = errors.New("database is locked (5) (SQLITE_BUSY)")
)

// fakeStore answers Ping and RunGet with whatever err holds.
type fakeStore struct {
	store.Store
	err error
}

func (f *fakeStore) Ping(context.Context) error { return f.err }
func (f *fakeStore) RunGet(context.Context, string) (*store.Run, error) {
	if f.err != nil {
		return nil, f.err
	}
	return &store.Run{ID: "R"}, nil
}

func classifyFake(_ context.Context, err error) store.Fault {
	switch {
	case errors.Is(err, errDown):
		return store.FaultUnreachable
	case errors.Is(err, errBusy):
		return store.FaultBusy
	}
	return store.FaultNone
}

func TestWatchLogsEachOutageOnce(t *testing.T) {
	ctx := context.Background()
	var logs bytes.Buffer
	fake := &fakeStore{}
	w := store.Watch(fake, classifyFake, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	count := func(msg string) int { return strings.Count(logs.String(), "msg=\""+msg+"\"") }

	if err := w.Ping(ctx); err != nil || w.Down() {
		t.Fatalf("ping: %v, down %v", err, w.Down())
	}
	fake.err = errDown
	for i := 0; i < 5; i++ {
		_, err := w.RunGet(ctx, "R")
		e, ok := apperr.As(err)
		if !ok || e.Code != apperr.Unavailable || e.Message != store.UnreachableMessage || !errors.Is(err, errDown) {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if !w.Down() || count("database unreachable") != 1 {
		t.Fatalf("down %v, log:\n%s", w.Down(), logs.String())
	}
	// Back: the first success logs the end of the outage, once.
	fake.err = nil
	if _, err := w.RunGet(ctx, "R"); err != nil {
		t.Fatal(err)
	}
	_ = w.Ping(ctx)
	if w.Down() || count("database reachable again") != 1 || !strings.Contains(logs.String(), "failed_calls=5") {
		t.Fatalf("down %v, log:\n%s", w.Down(), logs.String())
	}
	// A second outage is logged again; a not-found ends it (the database
	// answered).
	fake.err = errDown
	_ = w.Ping(ctx)
	fake.err = apperr.Errorf(apperr.NotFound, "run R not found")
	if _, err := w.RunGet(ctx, "R"); apperr.CodeOf(err) != apperr.NotFound {
		t.Fatalf("not found: %v", err)
	}
	if w.Down() || count("database unreachable") != 2 || count("database reachable again") != 2 {
		t.Fatalf("log:\n%s", logs.String())
	}
	// A driver's own Unavailable (postgres Ping) is an outage too.
	fake.err = &apperr.Error{Code: apperr.Unavailable, Message: "database unavailable", Err: errors.New("x")}
	if err := w.Ping(ctx); apperr.CodeOf(err) != apperr.Unavailable || !w.Down() {
		t.Fatalf("ping: %v", err)
	}
	// A busy database is a 503 but no outage: logged each time.
	fake.err = nil
	_ = w.Ping(ctx)
	fake.err = errBusy
	for i := 0; i < 2; i++ {
		err := w.Ping(ctx)
		if e, ok := apperr.As(err); !ok || e.Code != apperr.Unavailable || e.Message != store.BusyMessage {
			t.Fatalf("busy: %v", err)
		}
	}
	if w.Down() || count("database busy") != 2 {
		t.Fatalf("log:\n%s", logs.String())
	}
	// Anything else is left as it is.
	other := errors.New("syntax error at or near SELECT")
	fake.err = other
	if err := w.Ping(ctx); err != other {
		t.Fatalf("other: %v", err)
	}
}

// TestWatchWrapsEveryMethod reads the package's source: every method of
// the Store interface must have its own wrapper on *Watched, or its
// outages would answer 500 instead of 503.
func TestWatchWrapsEveryMethod(t *testing.T) {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, ".", func(fi fs.FileInfo) bool {
		return !strings.HasSuffix(fi.Name(), "_test.go")
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	have := map[string]bool{}
	for _, pkg := range pkgs {
		for _, f := range pkg.Files {
			for _, d := range f.Decls {
				switch d := d.(type) {
				case *ast.GenDecl:
					for _, s := range d.Specs {
						ts, ok := s.(*ast.TypeSpec)
						if !ok || ts.Name.Name != "Store" {
							continue
						}
						for _, m := range ts.Type.(*ast.InterfaceType).Methods.List {
							for _, n := range m.Names {
								want = append(want, n.Name)
							}
						}
					}
				case *ast.FuncDecl:
					if d.Recv == nil {
						continue
					}
					if star, ok := d.Recv.List[0].Type.(*ast.StarExpr); ok {
						if id, ok := star.X.(*ast.Ident); ok && id.Name == "Watched" {
							have[d.Name.Name] = true
						}
					}
				}
			}
		}
	}
	if len(want) < 20 {
		t.Fatalf("found only %d methods of Store: %v", len(want), want)
	}
	for _, m := range want {
		if !have[m] {
			t.Errorf("store.Store.%s has no wrapper on *Watched (watch.go): its outages would answer 500", m)
		}
	}
}
