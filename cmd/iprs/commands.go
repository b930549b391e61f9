package main

import "github.com/spf13/cobra"

// commands lists the subcommands of iprs; each lives in its own file.
func commands(a *app) []*cobra.Command {
	return []*cobra.Command{
		newGenCmd(),
		newPushCmd(a),
		newRunCmd(a),
	}
}
