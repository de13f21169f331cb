package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/scimgate/scimgate/internal/adminapi"
)

func (a *app) apikeyCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "apikey", Short: "Manage API keys: Entra Secret Token, OneLogin and Okta bearer tokens"}
	cmd.AddCommand(
		a.apikeyCreateCommand(),
		a.apikeyListCommand(),
		showCommand(a, "Show an API key (never the key itself)", adminapi.Operations.APIKey, printAPIKey),
		a.apikeyRotateCommand(),
		a.apikeyRevokeCommand(),
		a.deleteCommand("API key", "Delete an API key's record; revoke it first to keep it in the audit trail", adminapi.Operations.DeleteAPIKey),
	)
	return cmd
}

func (a *app) apikeyCreateCommand() *cobra.Command {
	var req adminapi.NewAPIKey
	var scopes []string
	var ttl time.Duration
	c := &cobra.Command{
		Use:   "create --tenant T --name N",
		Short: "Issue an API key and print it once with the SCIM base URL to paste",
		Long: `Issue an API key and print it once, with the SCIM base URL to paste next to it:
Entra "Tenant URL" and "Secret Token", OneLogin "SCIM Base URL" and "SCIM Bearer
Token", Okta "Base URL" and the header or bearer token.

Keys never expire unless --ttl is given: Entra quarantines a provisioning job
whose Secret Token expires. --audience works as for 'client create'.`,
		Args: args(),
	}
	fs := c.Flags()
	fs.StringVar(&req.TenantID, "tenant", "", "tenant `ID` the key belongs to (required)")
	fs.StringVar(&req.Name, "name", "", "key `NAME`, such as \"OneLogin\" (required)")
	fs.StringSliceVar(&scopes, "scope", nil, "allowed `SCOPES`: scim.read, scim.write, scim.full (default scim.full)")
	fs.StringArrayVar(&req.Audiences, "audience", nil, "gateway route `AUDIENCE` the key is for (repeatable; default: the only route's)")
	fs.DurationVar(&ttl, "ttl", 0, "key lifetime (`DURATION`, at least 1m; default: never expires)")
	c.RunE = func(c *cobra.Command, _ []string) error {
		if err := requireFlags(c, "tenant", "name"); err != nil {
			return err
		}
		req.Scope, req.TTL = strings.Join(scopes, " "), adminapi.Duration(ttl)
		return a.manage(c, func(ops adminapi.Operations) error {
			k, err := ops.CreateAPIKey(c.Context(), req)
			if err != nil {
				return err
			}
			return a.printSecret(k, "API key", func(w io.Writer) { printIssuedAPIKey(w, k) })
		})
	}
	return c
}

func printIssuedAPIKey(w io.Writer, k *adminapi.APIKeyWithSecret) {
	fields(w,
		[2]string{"SCIM base URL", scimBase(k.SCIMBaseURL, k.Audiences)},
		[2]string{"API key", k.Key},
	)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Paste them into the identity provider:")
	fields(w,
		[2]string{"  Entra ID", `"Tenant URL" and "Secret Token"`},
		[2]string{"  OneLogin", `"SCIM Base URL" and "SCIM Bearer Token"`},
		[2]string{"  Okta", `"Base URL" and the API token (Bearer, or Header with raw_api_key on the route)`},
	)
	fmt.Fprintln(w, shownOnce("API key")+expiresSentence(k.Expires))
}

func (a *app) apikeyListCommand() *cobra.Command {
	var tenant string
	c := &cobra.Command{
		Use:   "list [--tenant T]",
		Short: "List API keys, of one tenant or of all",
		Args:  args(),
		RunE: func(c *cobra.Command, _ []string) error {
			return a.manage(c, func(ops adminapi.Operations) error {
				ks, err := ops.APIKeys(c.Context(), tenant)
				if err != nil {
					return err
				}
				return a.print(ks, func(w io.Writer) {
					rows := make([][]string, len(ks))
					for i, k := range ks {
						rows[i] = []string{k.ID, k.TenantID, k.Name, k.Scope, keyStatus(&k), expiry(k.Expires), at(k.LastUsed)}
					}
					table(w, []string{"ID", "TENANT", "NAME", "SCOPE", "STATUS", "EXPIRES", "LAST USED"}, rows)
				})
			})
		},
	}
	c.Flags().StringVar(&tenant, "tenant", "", "only this tenant's keys")
	return c
}

func keyStatus(k *adminapi.APIKey) string {
	switch {
	case !k.Revoked.IsZero():
		return "revoked"
	case !k.Expires.IsZero() && !time.Now().Before(k.Expires):
		return "expired"
	}
	return "active"
}

func printAPIKey(w io.Writer, k *adminapi.APIKey) {
	fields(w,
		[2]string{"ID", k.ID},
		[2]string{"Tenant", k.TenantID},
		[2]string{"Name", k.Name},
		[2]string{"Status", keyStatus(k)},
		[2]string{"Scope", k.Scope},
		[2]string{"Audiences", strings.Join(k.Audiences, " ")},
		[2]string{"SCIM base URL", scimBase(k.SCIMBaseURL, k.Audiences)},
		[2]string{"Created", at(k.Created)},
		[2]string{"Expires", expiry(k.Expires)},
		[2]string{"Last used", at(k.LastUsed)},
		[2]string{"Revoked", at(k.Revoked)},
	)
}

func (a *app) apikeyRotateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "rotate ID",
		Short: "Issue a new key like ID and print it once; ID keeps working until revoked",
		Args:  args("ID"),
		RunE: func(c *cobra.Command, argv []string) error {
			return a.manage(c, func(ops adminapi.Operations) error {
				k, err := ops.RotateAPIKey(c.Context(), argv[0])
				if err != nil {
					return err
				}
				return a.printSecret(k, "API key", func(w io.Writer) {
					printIssuedAPIKey(w, k)
					fmt.Fprintf(w, "The old key %s keeps working until you revoke it: scimgate apikey revoke %s\n", argv[0], argv[0])
				})
			})
		},
	}
}

func (a *app) apikeyRevokeCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an API key: it stops working at once, its record stays",
		Args:  args("ID"),
		RunE: func(c *cobra.Command, argv []string) error {
			return a.manage(c, func(ops adminapi.Operations) error {
				k, err := ops.RevokeAPIKey(c.Context(), argv[0])
				if err != nil {
					return err
				}
				return a.print(k, func(w io.Writer) { fmt.Fprintf(w, "Revoked API key %s: it no longer authenticates.\n", k.ID) })
			})
		},
	}
}
