package main

import (
	"fmt"
	"strings"

	"github.com/iprs/iprs/internal/client"
	"github.com/spf13/cobra"
)

// exitUsage is the exit code of a command line that names no command or
// flag iprs knows.
const exitUsage = 2

// usageError is an exitError with exitUsage.
func usageError(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// strictCommands makes the command tree refuse what it does not know with
// exit code 2: an unknown subcommand of a command that only groups others
// (cobra prints the group's help and exits 0), an unknown subcommand of the
// root, and a bad flag. A group without a subcommand prints its help.
func strictCommands(root *cobra.Command) {
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageError("%w (see %s --help)", err, cmd.CommandPath())
	})
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if !c.HasSubCommands() || c.Run != nil || c.RunE != nil {
			return
		}
		c.Args = cobra.ArbitraryArgs
		if c.SuggestionsMinimumDistance <= 0 {
			c.SuggestionsMinimumDistance = 2
		}
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				msg += "; did you mean " + strings.Join(s, " or ") + "?"
			}
			var names []string
			for _, sub := range cmd.Commands() {
				if sub.IsAvailableCommand() {
					names = append(names, sub.Name())
				}
			}
			return usageError("%s\nthe commands of %s are: %s", msg, cmd.CommandPath(), strings.Join(names, ", "))
		}
	}
	walk(root)
}

// hint is a line of advice for a client command's error, or "".
func hint(err error) string {
	switch {
	case client.IsUnreachable(err):
		return "nothing answers at the platform's URL: is `iprs dev` running? Set --url or " + EnvURL + " (default " + defaultURL + ")."
	case client.NoRoute(err):
		return "the server at that URL does not serve this route: with the services run as separate processes, point --url at the service that owns it (see --help)."
	case client.StatusOf(err) == 401 && strings.Contains(err.Error(), "not valid"):
		return "the platform refused the token: check " + EnvToken + " (or --token)."
	case client.StatusOf(err) == 401:
		return "the platform requires a bearer token: set " + EnvToken + " (or --token)."
	}
	return ""
}
