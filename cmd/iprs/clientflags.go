package main

import (
	"github.com/iprs/iprs/internal/client"
	"github.com/spf13/cobra"
)

// defaultURL is where `iprs dev` listens by default.
const defaultURL = "http://localhost:8080"

// Environment variables of the client commands.
const (
	EnvURL   = "IPRS_URL"
	EnvToken = "IPRS_TOKEN"
)

// clientHelp is the part of the client commands' help about reaching the
// platform.
const clientHelp = `The platform is reached at --url, else $IPRS_URL, else ` + defaultURL + `
(where iprs dev listens). Behind the load balancer, or with iprs dev, one URL
serves every route. With the services run as separate processes (iprs serve
marketdata|orchestrator|results, on :8001, :8002 and :8003), give each command
the URL of the service that owns its routes:

  push market                                        marketdata    --url http://localhost:8001
  push positions, strats, run submit|list|status|
    watch|cancel|publish|verify                      orchestrator  --url http://localhost:8002
  run summary|cube|export, bench load --run         results       --url http://localhost:8003

When the platform requires a bearer token (IPRS_API_TOKENS), give it with
--token or, better, $IPRS_TOKEN: a command line can be seen by other users of
the machine. The token is never printed.`

// clientFlags are the flags every client command shares.
type clientFlags struct {
	url    string
	token  string
	getenv func(string) string
}

func (f *clientFlags) register(cmd *cobra.Command, a *app) {
	f.getenv = a.getenv
	url := a.getenv(EnvURL)
	if url == "" {
		url = defaultURL
	}
	cmd.PersistentFlags().StringVar(&f.url, "url", url, "base URL of the platform (env "+EnvURL+")")
	// No default shown: the token's value must not appear in --help.
	cmd.PersistentFlags().StringVar(&f.token, "token", "", "bearer token (default: the value of "+EnvToken+")")
}

// bearer is the token to send: --token, else $IPRS_TOKEN.
func (f *clientFlags) bearer() string {
	if f.token != "" {
		return f.token
	}
	if f.getenv != nil {
		return f.getenv(EnvToken)
	}
	return ""
}

func (f *clientFlags) client() *client.Client { return client.New(f.url, f.bearer(), nil) }
