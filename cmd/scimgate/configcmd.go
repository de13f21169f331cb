package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/scimgate/scimgate/config"
)

// checkResult is the JSON answer of config check.
type checkResult struct {
	OK     bool         `json:"ok"`
	Errors []checkError `json:"errors,omitempty"`
}

type checkError struct {
	Key     string `json:"key"`
	Problem string `json:"problem"`
	Origin  string `json:"origin,omitempty"` // file:line or variable
	Message string `json:"message"`          // as printed
}

func (a *app) configCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Check configuration files, or print a commented example"}
	cmd.AddCommand(&cobra.Command{
		Use:   "example",
		Short: "Print a fully commented example configuration (every key, with its default)",
		Args:  args(),
		RunE: func(*cobra.Command, []string) error {
			_, err := a.env.Stdout.Write(config.Example())
			return err
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "check [FILE]",
		Short: "Validate FILE (default: --config or $" + config.EnvConfig + ") with the SCIMGATE_* environment, without starting anything",
		Long: `Validate FILE as 'scimgate serve' would load it, SCIMGATE_* variables included,
with serve's checks of SCIMGATE_MASTER_KEY and, for the redis store, of the
master key and admin token every replica must share. Without FILE, the file
serve would read: --config, else $` + config.EnvConfig + `.
Prints "ok" and exits 0, or prints every problem, one per line, and exits 1.`,
		Args: func(c *cobra.Command, argv []string) error {
			if len(argv) == 0 && a.cfgPath == "" {
				return usageError{c.CommandPath(), fmt.Errorf("missing FILE (or --config FILE, or %s)", config.EnvConfig)}
			}
			if len(argv) > 1 {
				return usageError{c.CommandPath(), fmt.Errorf("unexpected argument %q", argv[1])}
			}
			return nil
		},
		RunE: func(_ *cobra.Command, argv []string) error {
			path := a.cfgPath // what serve would read
			if len(argv) == 1 {
				path = argv[0]
			}
			cfg, err := config.Load(path, a.env.Vars)
			var problems config.Errors
			if err != nil && !errors.As(err, &problems) {
				return err // unreadable file: rendered like any other failure
			}
			if err == nil {
				_, problems = serveSecrets(cfg, a.env)
			}
			res := checkResult{OK: len(problems) == 0}
			for _, p := range problems {
				res.Errors = append(res.Errors, checkError{Key: p.Key, Problem: p.Problem, Origin: p.Origin.String(), Message: p.Error()})
			}
			if a.json {
				if err := a.print(res, nil); err != nil {
					return err
				}
			} else if res.OK {
				fmt.Fprintln(a.env.Stdout, "ok")
			} else {
				for _, e := range res.Errors {
					fmt.Fprintln(a.env.Stderr, e.Message)
				}
			}
			if !res.OK {
				return quietError{}
			}
			return nil
		},
	})
	return cmd
}
