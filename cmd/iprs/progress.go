package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/iprs/iprs/internal/client"
	"github.com/spf13/cobra"
)

// isTerminal reports whether w is a terminal (a character device other
// than /dev/null). Progress is drawn as a bar that redraws itself only
// there; a file, a pipe or a CI log gets plain lines.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	if null, err := os.Stat(os.DevNull); err == nil && os.SameFile(fi, null) {
		return false
	}
	return true
}

// progress reports how far a job of a known size is: on a terminal a bar
// redrawn in place (at most ten times a second), elsewhere one plain line
// at each tenth of the way. It is safe for concurrent use.
type progress struct {
	mu      sync.Mutex
	w       io.Writer
	tty     bool
	label   string
	total   int64
	format  func(int64) string
	start   time.Time
	drawn   time.Time
	decile  int
	done    int64
	written bool
}

const barWidth = 30

func newProgress(w io.Writer, tty bool, label string, total int64, format func(int64) string) *progress {
	return &progress{w: w, tty: tty, label: label, total: total, format: format, start: time.Now(), decile: -1}
}

// update records that done units of the total are done.
func (p *progress) update(done int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done = done
	if p.tty {
		if time.Since(p.drawn) >= 100*time.Millisecond {
			p.draw()
		}
		return
	}
	if d := p.fraction10(); d > p.decile {
		p.decile = d
		p.line()
	}
}

// finish draws the last state and ends the bar's line.
func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		p.draw()
		fmt.Fprintln(p.w)
		return
	}
	if d := p.fraction10(); d > p.decile {
		p.decile = d
		p.line()
	}
}

func (p *progress) fraction() float64 {
	if p.total <= 0 {
		return 0
	}
	return min(1, float64(p.done)/float64(p.total))
}

func (p *progress) fraction10() int { return int(p.fraction() * 10) }

func (p *progress) text() string {
	return fmt.Sprintf("%5.1f%%  %s of %s  %s", 100*p.fraction(), p.format(p.done), p.format(p.total),
		time.Since(p.start).Round(100*time.Millisecond))
}

func (p *progress) draw() {
	p.drawn = time.Now()
	filled := int(p.fraction() * barWidth)
	fmt.Fprintf(p.w, "\r%s %s%s %s ", p.label, strings.Repeat("█", filled), strings.Repeat("░", barWidth-filled), p.text())
}

func (p *progress) line() {
	fmt.Fprintf(p.w, "%s %s\n", p.label, p.text())
}

// formatBytes writes a byte count in binary units ("12.5 MiB").
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// minProgressBytes is the smallest upload that shows its progress.
const minProgressBytes = 4 << 20

// uploadProgress wraps a file being uploaded so that its progress goes to
// the command's standard error (a bar on a terminal, else plain lines),
// for files of a known size of at least minProgressBytes. Once every byte
// is sent it says that the server is storing the upload.
func uploadProgress(cmd *cobra.Command, name string, in io.Reader) io.Reader {
	f, ok := in.(*os.File)
	if !ok {
		return in
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() < minProgressBytes {
		return in
	}
	w := cmd.ErrOrStderr()
	return &progressReader{r: in, size: fi.Size(), p: newProgress(w, isTerminal(w), "uploading "+name, fi.Size(), formatBytes)}
}

type progressReader struct {
	r    io.Reader
	size int64
	n    int64
	p    *progress
	done bool
}

func (r *progressReader) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	r.n += int64(n)
	r.p.update(r.n)
	if err == io.EOF && !r.done {
		r.done = true
		r.p.finish()
		fmt.Fprintln(r.p.w, "uploaded; waiting for the server to check and store it")
	}
	return n, err
}

// minProgressPositions is the smallest generated book that shows its
// progress.
const minProgressPositions = 50_000

// genProgress returns the progress callback of `iprs gen` for a book of
// total positions, drawing on the command's standard error; nil for small
// books.
func genProgress(cmd *cobra.Command, total int) func(int) {
	if total < minProgressPositions {
		return nil
	}
	w := cmd.ErrOrStderr()
	p := newProgress(w, isTerminal(w), "generating", int64(total), func(n int64) string { return client.FormatCount(n) + " positions" })
	return func(n int) {
		if n%1000 == 0 || n == total {
			p.update(int64(n))
		}
		if n == total {
			p.finish()
		}
	}
}

// watchRun follows a run until it ends: on a terminal a progress bar
// redrawn in place, elsewhere a plain line whenever the status changes or
// another tenth of the positions is done. A run that does not end
// COMPLETED or PUBLISHED is an error.
func watchRun(ctx context.Context, w io.Writer, c *client.Client, id string) error {
	return watchJob(ctx, w, "run", func(ctx context.Context) (client.Run, error) { return c.GetRun(ctx, id) })
}

// watchJob is watchRun for anything that progresses as a run does (an
// explain): what names it in the failure, and how to read it.
func watchJob(ctx context.Context, w io.Writer, what string, get func(context.Context) (client.Run, error)) error {
	tty := isTerminal(w)
	run, err := client.Wait(ctx, 250*time.Millisecond, get, runProgress(w, tty))
	if tty {
		fmt.Fprintln(w)
	}
	if err != nil {
		return err
	}
	switch run.Status {
	case "COMPLETED", "PUBLISHED":
		return nil
	}
	msg := ""
	if run.Error != nil {
		msg = ": " + *run.Error
	}
	return fmt.Errorf("%s %s ended %s%s", what, run.RunID, run.Status, msg)
}

// runProgress returns what draws each poll of a run (or of anything with
// a run's status and progress): on a terminal a bar redrawn in place,
// elsewhere a plain line whenever the status changes or another tenth of
// the positions is done. The caller ends the bar's line.
func runProgress(w io.Writer, tty bool) func(client.Run) {
	start := time.Now()
	lastStatus, lastDecile := "", -1
	return func(r client.Run) {
		line := progressLine(r, time.Since(start), tty)
		if tty {
			fmt.Fprintf(w, "\r%s", line)
			return
		}
		decile := 0
		if p := r.Progress; p.PositionsTotal > 0 {
			decile = int(10 * float64(p.PositionsDone) / float64(p.PositionsTotal))
		}
		if r.Status != lastStatus || decile > lastDecile {
			lastStatus, lastDecile = r.Status, decile
			fmt.Fprintln(w, strings.TrimRight(line, " "))
		}
	}
}

// progressLine is one line of watchRun, with a bar when withBar.
func progressLine(r client.Run, elapsed time.Duration, withBar bool) string {
	p := r.Progress
	frac := 0.0
	if p.PositionsTotal > 0 {
		frac = float64(p.PositionsDone) / float64(p.PositionsTotal)
	}
	bar := ""
	if withBar {
		filled := int(frac * barWidth)
		bar = strings.Repeat("█", filled) + strings.Repeat("░", barWidth-filled) + " "
	}
	return fmt.Sprintf("%s %-10s %s%5.1f%%  %s/%s positions  tasks %d/%d  %s ",
		r.RunID, r.Status, bar, 100*frac, client.FormatCount(p.PositionsDone), client.FormatCount(p.PositionsTotal),
		p.TasksByStatus["SUCCEEDED"], p.TasksTotal, elapsed.Round(100*time.Millisecond))
}
