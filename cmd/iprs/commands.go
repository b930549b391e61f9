package main

import "github.com/spf13/cobra"

// commands lists the subcommands of iprs; each lives in its own file.
func commands(a *app) []*cobra.Command {
	return []*cobra.Command{
		newDevCmd(a),
		newServeCmd(a),
		newMigrateCmd(a),
		newPriceCmd(),
		newGenCmd(),
		newBenchCmd(a),
		newPushCmd(a),
		newRunCmd(a),
		newPurgeCmd(a),
		newScenarioSetCmd(a),
		newStratsCmd(a),
		newExplainCmd(a),
	}
}
