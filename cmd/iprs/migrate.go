package main

import (
	"fmt"

	"github.com/iprs/iprs/internal/config"
	"github.com/spf13/cobra"
)

func newMigrateCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply pending schema migrations to DATABASE_URL and record them",
		Long: `migrate applies the schema migrations this build knows and the database lacks,
in order, each in its own transaction, and records each in schema_migration.
Running it again, or from several processes at once, is harmless.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(a.getenv)
			if err != nil {
				return err
			}
			if err := cfg.RequireDatabase(); err != nil {
				return err
			}
			logger := config.NewLogger(cfg, a.stderr)
			st, err := openStore(cmd.Context(), cfg.Database, cfg, true, logger)
			if err != nil {
				return err
			}
			defer st.Close()
			v, err := st.SchemaVersion(cmd.Context())
			if err != nil {
				return fmt.Errorf("read schema version: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "schema of %s is at version %d\n", cfg.Database.Redacted(), v)
			return nil
		},
	}
}
