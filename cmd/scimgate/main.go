// Command scimgate is the OAuth2 authorization server and SCIM 2.0 gateway,
// and the tool that manages it: `scimgate serve` runs the server; tenant,
// client, apikey, admin and key manage credentials, on the store directly or
// through the running server's admin API; config check validates a
// configuration file.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/scimgate/scimgate/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal, stop listening: a second SIGINT or SIGTERM
	// then ends the process at once instead of waiting for the graceful
	// shutdown.
	go func() { <-ctx.Done(); stop() }()
	code := run(ctx, os.Args[1:], Env{Vars: os.Environ(), Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
	stop()
	os.Exit(code)
}

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the command failed
	exitUsage = 2 // the command line was wrong
)

// run executes one command line and returns the exit code. Errors are
// rendered here, once.
func run(ctx context.Context, args []string, env Env) int {
	a := &app{env: env}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	err := root.ExecuteContext(ctx)
	var usage usageError
	var quiet quietError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &quiet):
		return exitError
	case errors.As(err, &usage):
		fmt.Fprintf(env.Stderr, "scimgate: %v\nRun '%s --help' for usage.\n", usage.err, usage.cmd)
		return exitUsage
	default:
		fmt.Fprintf(env.Stderr, "scimgate: %v\n", err)
		return exitError
	}
}

// usageError is a mistake on the command line.
type usageError struct {
	cmd string // "scimgate tenant show"
	err error
}

func (e usageError) Error() string { return e.err.Error() }

// quietError is a failure the command has already reported.
type quietError struct{}

func (quietError) Error() string { return "failed" }

// app holds what every command shares: the environment and global flags.
type app struct {
	env      Env
	cfgPath  string
	json     bool
	adminURL string
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "scimgate",
		Short: "OAuth2 authorization server and SCIM 2.0 gateway for Entra ID, Okta and OneLogin",
		Long: `scimgate issues OAuth2 tokens and API keys to identity providers and forwards
their SCIM requests to your user services.

Management commands work on the configured store directly, or through the
admin API of a running 'scimgate serve' that holds the embedded store.`,
		SilenceUsage:      true,
		SilenceErrors:     true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	defaultConfig, _ := a.env.lookup(config.EnvConfig)
	flags := root.PersistentFlags()
	flags.StringVar(&a.cfgPath, "config", defaultConfig, "configuration `FILE` (default $"+config.EnvConfig+"; none: built-in defaults)")
	flags.BoolVar(&a.json, "json", false, "print JSON instead of text")
	flags.StringVar(&a.adminURL, "admin-url", "", "work through the admin API at `URL` and never open a store (default: the store; listen.admin while a server holds it)")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{c.CommandPath(), err}
	})
	root.AddCommand(
		a.serveCommand(),
		a.versionCommand(),
		a.configCommand(),
		a.tenantCommand(),
		a.clientCommand(),
		a.apikeyCommand(),
		a.adminCommand(),
		a.keyCommand(),
	)
	refuseUnknownSubcommands(root)
	return root
}

// refuseUnknownSubcommands makes every command that only groups others
// treat an unknown subcommand as a usage error, naming the closest ones,
// where cobra would print the group's help and succeed (or, at the root,
// fail with exit 1). Alone, a group still prints its help.
func refuseUnknownSubcommands(c *cobra.Command) {
	for _, sub := range c.Commands() {
		refuseUnknownSubcommands(sub)
	}
	if !c.HasSubCommands() || c.Runnable() {
		return
	}
	c.SuggestionsMinimumDistance = 2
	c.Args = func(c *cobra.Command, argv []string) error {
		if len(argv) == 0 {
			return nil
		}
		err := fmt.Errorf("unknown command %q for %q", argv[0], c.CommandPath())
		if s := c.SuggestionsFor(argv[0]); len(s) > 0 {
			err = fmt.Errorf("%w; did you mean %s?", err, strings.Join(s, " or "))
		}
		return usageError{c.CommandPath(), err}
	}
	c.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
}

// loadConfig loads --config (or none) with the process environment.
func (a *app) loadConfig() (*config.Config, error) {
	cfg, err := config.Load(a.cfgPath, a.env.Vars)
	var problems config.Errors
	if errors.As(err, &problems) {
		return nil, fmt.Errorf("the configuration is invalid:\n%w", err)
	}
	return cfg, err
}

// log is the CLI's operational log: warnings and errors, as text on stderr.
func (a *app) log() *slog.Logger {
	return slog.New(slog.NewTextHandler(a.env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// args checks the number of positional arguments, naming them in the error.
func args(names ...string) cobra.PositionalArgs {
	return func(c *cobra.Command, got []string) error {
		switch {
		case len(got) < len(names):
			return usageError{c.CommandPath(), fmt.Errorf("missing %s", names[len(got)])}
		case len(got) > len(names):
			return usageError{c.CommandPath(), fmt.Errorf("unexpected argument %q", got[len(names)])}
		}
		return nil
	}
}

func (a *app) serveCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run the authorization server, the SCIM gateway and the admin API",
		Args:  args(),
		RunE: func(c *cobra.Command, _ []string) error {
			return runServe(c.Context(), a.cfgPath, a.env)
		},
	}
}
