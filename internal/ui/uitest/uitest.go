// Package uitest drives the dashboard in a real browser for tests: a
// headless Chromium with a fresh profile, started and stopped per test,
// through the DevTools protocol (chromedp). Without a browser the test is
// skipped, unless the environment variable CI is "true".
package uitest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// EnvChromium names a Chromium (or Chrome) binary for the browser tests;
// without it they look for chromium, chromium-browser, google-chrome and
// google-chrome-stable on PATH.
const EnvChromium = "IPRS_CHROMIUM"

// EnvScreenshots names a directory where the browser tests also copy their
// screenshots (they always write them to the test's temporary directory).
const EnvScreenshots = "IPRS_SCREENSHOTS"

// FindChromium returns the path of a Chromium binary, or "".
func FindChromium() string {
	if p := os.Getenv(EnvChromium); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Browser is a headless Chromium with a fresh profile, driven through the
// DevTools protocol for one test. JavaScript exceptions and console.error
// calls of the page fail the test at cleanup.
type Browser struct {
	t    *testing.T
	ctx  context.Context
	shot string // screenshot directory

	mu     sync.Mutex
	errors []string
}

// MustBrowser starts Chromium for the test. Without a browser the test is
// skipped, unless CI is "true": there a missing browser is a failure.
func MustBrowser(t *testing.T) *Browser {
	t.Helper()
	path := FindChromium()
	if path == "" {
		msg := "no Chromium found (install the chromium package, or set " + EnvChromium + " to a Chromium or Chrome binary)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + "; under CI the browser tests must run")
		}
		t.Skip(msg + ": browser tests skipped")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 900),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	b := &Browser{t: t, ctx: ctx, shot: t.TempDir()}
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("start Chromium %s: %v", path, err)
	}
	messages := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			// Source is empty for the page's own console calls and
			// exceptions; the browser's log (a 401 answer, say) is not
			// the page's fault.
			if m.Source == "" && (m.Type == chromedp.ConsoleError || m.IsException()) {
				b.mu.Lock()
				b.errors = append(b.errors, m.String())
				b.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		<-done
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, e := range b.errors {
			t.Errorf("browser console: %s", e)
		}
		t.Logf("screenshots in %s", b.shot)
	})
	return b
}

// Run runs actions with a timeout, failing the test on error.
func (b *Browser) Run(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.Screenshot("failed-" + sanitize(what))
		b.t.Fatalf("%s: %v", what, err)
	}
}

// Eval evaluates a JavaScript expression in the page; a promise is
// awaited.
func Eval[T any](b *Browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.Screenshot("failed-eval")
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// Open loads a URL and waits until the page at hash path has rendered.
func (b *Browser) Open(url, path string) {
	b.t.Helper()
	b.Run("open "+url, chromedp.Navigate(url))
	b.WaitPage(path)
}

// GoHash navigates inside the app (no reload) and waits for the page.
func (b *Browser) GoHash(hash, path string) {
	b.t.Helper()
	Eval[string](b, fmt.Sprintf(`location.hash = %q`, hash))
	b.WaitPage(path)
}

// WaitPage waits until the app has rendered the page of a hash path.
func (b *Browser) WaitPage(path string) {
	b.t.Helper()
	b.WaitJS("page "+path, fmt.Sprintf(`document.getElementById('main')?.dataset.ready === %q`, path))
}

// WaitJS polls a JavaScript expression until it is true.
func (b *Browser) WaitJS(what, expr string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil {
		b.Screenshot("failed-wait-" + sanitize(what))
		b.t.Fatalf("wait for %s: %v", what, err)
	}
}

// Media emulates a CSS media type ("print"; "" for the screen again).
func (b *Browser) Media(m string) {
	b.t.Helper()
	b.Run("emulate media "+m, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: m})
		return err
	}))
}

// Click clicks the first element matching a CSS selector.
func (b *Browser) Click(sel string) {
	b.t.Helper()
	b.Run("click "+sel, chromedp.Click(chromedp.CSS(sel)))
}

// TypeInto types text into the first element matching a CSS selector.
func (b *Browser) TypeInto(sel, text string) {
	b.t.Helper()
	b.Run("type into "+sel, chromedp.SendKeys(chromedp.CSS(sel), text))
}

// Text returns the visible text of the first element matching a selector.
func (b *Browser) Text(sel string) string {
	b.t.Helper()
	return Eval[string](b, fmt.Sprintf(`(document.querySelector(%q)?.innerText ?? '')`, sel))
}

// Count returns how many elements match a selector.
func (b *Browser) Count(sel string) int {
	b.t.Helper()
	return Eval[int](b, fmt.Sprintf(`document.querySelectorAll(%q).length`, sel))
}

// Screenshot saves a full-page PNG under the test's temporary directory
// (and under $IPRS_SCREENSHOTS when set).
func (b *Browser) Screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	file := sanitize(name) + ".png"
	if err := os.WriteFile(filepath.Join(b.shot, file), png, 0o644); err != nil {
		b.t.Errorf("save screenshot: %v", err)
	}
	if dir := os.Getenv(EnvScreenshots); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err == nil {
			_ = os.WriteFile(filepath.Join(dir, file), png, 0o644)
		}
	}
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '-'
	}, s)
}
