// Command iprs is the one binary of IPRS: it runs each service
// (`iprs serve marketdata|orchestrator|results|worker`), all of them in one
// process for a laptop (`iprs dev`), applies the schema (`iprs migrate`),
// values a snapshot offline (`iprs price`) and talks to a running platform as
// a client.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// version is the build's version, set with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// app carries what every command needs from the process, so that tests run
// the real command tree in-process with their own environment and streams.
type app struct {
	getenv func(string) string
	stdout io.Writer
	stderr io.Writer
}

// exitError carries a specific exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// run executes the command line and returns the process exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{getenv: getenv, stdout: stdout, stderr: stderr}
	root := newRootCmd(a)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(stderr, "iprs: %v\n", err)
		if h := hint(err); h != "" {
			fmt.Fprintf(stderr, "iprs: hint: %s\n", h)
		}
		var ee *exitError
		if errors.As(err, &ee) {
			return ee.code
		}
		return 1
	}
	return 0
}

func newRootCmd(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:           "iprs",
		Short:         "Institutional Portfolio Risk & analytics System",
		Long:          "IPRS values a loan-heavy portfolio under market scenarios, reproducibly, with an audit trail.",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(commands(a)...)
	strictCommands(root)
	return root
}
