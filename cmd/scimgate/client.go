package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/scimgate/scimgate/internal/adminapi"
)

// requireFlags reports the first of names not given on the command line.
func requireFlags(c *cobra.Command, names ...string) error {
	for _, n := range names {
		if !c.Flags().Changed(n) {
			return usageError{c.CommandPath(), fmt.Errorf("--%s is required", n)}
		}
	}
	return nil
}

// secretLifetimeFlags adds --secret-ttl and --secret-never-expires; the
// returned function reads them.
func secretLifetimeFlags(fs *pflag.FlagSet) func() adminapi.SecretLifetime {
	var ttl time.Duration
	var never bool
	fs.DurationVar(&ttl, "secret-ttl", 0, "secret lifetime (`DURATION`), at least 1h (default 8760h, one year)")
	fs.BoolVar(&never, "secret-never-expires", false, "make a secret that never expires")
	return func() adminapi.SecretLifetime {
		return adminapi.SecretLifetime{SecretTTL: adminapi.Duration(ttl), SecretNeverExpires: never}
	}
}

func (a *app) clientCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "client", Short: "Manage OAuth clients: Entra (client credentials), Okta (authorization code) and API clients"}
	cmd.AddCommand(
		a.clientCreateCommand(),
		a.clientListCommand(),
		showCommand(a, "Show a client and its secrets (never the secrets themselves)", adminapi.Operations.Client, printClient),
		a.clientRotateCommand(),
		a.clientSecretCommand(),
		a.deleteCommand("client", "Delete a client: it gets no more tokens, and the gateway refuses those it holds", adminapi.Operations.DeleteClient),
	)
	cmd.AddCommand(toggleCommands(a, "client", "it gets no more tokens, and the gateway refuses those it holds", adminapi.Operations.SetClientDisabled)...)
	return cmd
}

func (a *app) clientCreateCommand() *cobra.Command {
	var req adminapi.NewClient
	var scopes []string
	var accessTTL time.Duration
	c := &cobra.Command{
		Use:   "create --tenant T --name N --kind entra|okta|api",
		Short: "Register a client and print what to paste into the identity provider",
		Long: `Register an OAuth client and print, once, the values to paste into the identity
provider: for Entra the Tenant URL, Token URL, Client ID and Client Secret; for
Okta the authorize and token endpoints, Client ID and secret, and the scopes.

--audience defaults to the audience of the only gateway route. With several
routes, name one or more; the audience of a per-tenant route (/t/{tenant}/...)
is its literal audience, {tenant} included: the token's tenant_id claim binds
it to the tenant.`,
		Args: args(),
	}
	fs := c.Flags()
	fs.StringVar(&req.TenantID, "tenant", "", "tenant `ID` the client belongs to (required)")
	fs.StringVar(&req.Name, "name", "", "client `NAME`, such as \"Entra ID production\" (required)")
	fs.StringVar(&req.Kind, "kind", "", "`KIND`: entra, okta or api (required)")
	fs.StringSliceVar(&scopes, "scope", nil, "allowed `SCOPES`: scim.read, scim.write, scim.full, offline_access (default: scim.full, plus offline_access for okta)")
	fs.StringArrayVar(&req.Audiences, "audience", nil, "gateway route `AUDIENCE` the tokens are for (repeatable; default: the only route's)")
	fs.StringVar(&req.OktaApp, "okta-app", "", "Okta app `NAME`: registers Okta's five callback URIs for it")
	fs.StringArrayVar(&req.RedirectURIs, "redirect-uri", nil, "exact redirect `URI` for authorization-code clients (repeatable)")
	fs.DurationVar(&accessTTL, "access-ttl", 0, "access-token lifetime (`DURATION`), 5m to 24h; Entra 1h to 6h (default: tokens.access_ttl, clamped to 1h-6h for Entra)")
	fs.BoolVar(&req.RequirePKCE, "require-pkce", false, "require PKCE on the authorization-code flow")
	lifetime := secretLifetimeFlags(fs)
	c.RunE = func(c *cobra.Command, _ []string) error {
		if err := requireFlags(c, "tenant", "name", "kind"); err != nil {
			return err
		}
		if req.Kind == "okta" && req.OktaApp == "" && len(req.RedirectURIs) == 0 {
			return usageError{c.CommandPath(), errors.New("an okta client needs --okta-app NAME (Okta's callback URIs for the app) or --redirect-uri URI")}
		}
		req.Scope, req.AccessTTL, req.SecretLifetime = strings.Join(scopes, " "), adminapi.Duration(accessTTL), lifetime()
		return a.manage(c, func(ops adminapi.Operations) error {
			cl, err := ops.CreateClient(c.Context(), req)
			if err != nil {
				return err
			}
			return a.printSecret(cl, "client secret", func(w io.Writer) { printIssuedClient(w, cl, false) })
		})
	}
	return c
}

// printIssuedClient writes what the IdP admin pastes, for the client's kind.
func printIssuedClient(w io.Writer, c *adminapi.ClientWithSecret, rotated bool) {
	base := scimBase(c.SCIMBaseURL, c.Audiences)
	switch c.Kind {
	case "entra":
		fields(w,
			[2]string{"Tenant URL", base},
			[2]string{"Token URL", c.TokenEndpoint},
			[2]string{"Client ID", c.ClientID},
			[2]string{"Client Secret", c.ClientSecret},
		)
		fmt.Fprintln(w)
		fmt.Fprintln(w, "How credentials are sent: any (Header, Body or Both)")
		fmt.Fprintln(w, "Scope: leave empty or "+c.Scope)
	case "okta":
		fields(w,
			[2]string{"SCIM connector base URL", base},
			[2]string{"Authorize endpoint", c.AuthorizationEndpoint},
			[2]string{"Token endpoint", c.TokenEndpoint},
			[2]string{"Client ID", c.ClientID},
			[2]string{"Client secret", c.ClientSecret},
		)
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Scope to put in the authorize URL: "+c.Scope)
	default:
		fields(w,
			[2]string{"SCIM base URL", base},
			[2]string{"Token URL", c.TokenEndpoint},
			[2]string{"Client ID", c.ClientID},
			[2]string{"Client Secret", c.ClientSecret},
		)
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Scope: "+c.Scope)
	}
	fmt.Fprintln(w, shownOnce("client secret")+expiresSentence(expiresAt(c.ClientSecretExpiresAt)))
	if rotated {
		fmt.Fprintf(w, "This secret's id is %s. The client's other secrets keep working until you delete them:\n"+
			"scimgate client secret delete %s SECRET_ID (scimgate client show %s lists them)\n", c.ClientSecretID, c.ClientID, c.ClientID)
	}
}

// expiresAt turns RFC 7591 seconds (0: never) into a time.
func expiresAt(unix int64) time.Time {
	if unix == 0 {
		return time.Time{}
	}
	return time.Unix(unix, 0)
}

func (a *app) clientListCommand() *cobra.Command {
	var tenant string
	c := &cobra.Command{
		Use:   "list [--tenant T]",
		Short: "List clients, of one tenant or of all",
		Args:  args(),
		RunE: func(c *cobra.Command, _ []string) error {
			return a.manage(c, func(ops adminapi.Operations) error {
				cs, err := ops.Clients(c.Context(), tenant)
				if err != nil {
					return err
				}
				return a.print(cs, func(w io.Writer) {
					rows := make([][]string, len(cs))
					for i, cl := range cs {
						rows[i] = []string{cl.ClientID, cl.TenantID, cl.Kind, cl.Name, status(cl.Disabled), fmt.Sprintf("%d active", activeSecrets(cl.Secrets))}
					}
					table(w, []string{"CLIENT ID", "TENANT", "KIND", "NAME", "STATUS", "SECRETS"}, rows)
				})
			})
		},
	}
	c.Flags().StringVar(&tenant, "tenant", "", "only this tenant's clients")
	return c
}

func activeSecrets(secrets []adminapi.ClientSecret) int {
	n := 0
	for _, s := range secrets {
		if !s.Expired {
			n++
		}
	}
	return n
}

// accessTTL says where a client's token lifetime comes from when it is not
// its own, since a change of tokens.access_ttl then changes it.
func accessTTL(c *adminapi.Client) string {
	if c.AccessTTLDefault {
		return c.AccessTTL.String() + " (default: tokens.access_ttl)"
	}
	return c.AccessTTL.String()
}

func printClient(w io.Writer, c *adminapi.Client) {
	pairs := [][2]string{
		{"Client ID", c.ClientID},
		{"Tenant", c.TenantID},
		{"Name", c.Name},
		{"Kind", c.Kind},
		{"Status", status(c.Disabled)},
		{"Grant types", strings.Join(c.GrantTypes, " ")},
		{"Scope", c.Scope},
		{"Audiences", strings.Join(c.Audiences, " ")},
		{"Access token TTL", accessTTL(c)},
		{"SCIM base URL", scimBase(c.SCIMBaseURL, c.Audiences)},
		{"Token URL", c.TokenEndpoint},
	}
	if c.AuthorizationEndpoint != "" {
		pairs = append(pairs, [2]string{"Authorize URL", c.AuthorizationEndpoint}, [2]string{"Require PKCE", fmt.Sprint(c.RequirePKCE)})
	}
	for i, u := range c.RedirectURIs {
		label := ""
		if i == 0 {
			label = "Redirect URIs"
		}
		pairs = append(pairs, [2]string{label, u})
	}
	pairs = append(pairs, [2]string{"Created", at(time.Unix(c.ClientIDIssuedAt, 0))})
	fields(w, pairs...)
	fmt.Fprintln(w)
	rows := make([][]string, len(c.Secrets))
	for i, s := range c.Secrets {
		state := "active"
		if s.Expired {
			state = "expired"
		}
		rows[i] = []string{s.ID, at(s.Created), expiry(s.Expires), at(s.LastUsed), state}
	}
	table(w, []string{"SECRET ID", "CREATED", "EXPIRES", "LAST USED", "STATUS"}, rows)
}

func (a *app) clientRotateCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "rotate ID",
		Short: "Add a new secret and print it once; the other secrets keep working until deleted",
		Args:  args("ID"),
	}
	lifetime := secretLifetimeFlags(c.Flags())
	c.RunE = func(c *cobra.Command, argv []string) error {
		return a.manage(c, func(ops adminapi.Operations) error {
			cl, err := ops.AddClientSecret(c.Context(), argv[0], lifetime())
			if err != nil {
				return err
			}
			return a.printSecret(cl, "client secret", func(w io.Writer) { printIssuedClient(w, cl, true) })
		})
	}
	return c
}

func (a *app) clientSecretCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "secret", Short: "Manage a client's secrets"}
	cmd.AddCommand(&cobra.Command{
		Use:   "delete ID SECRET_ID",
		Short: "Delete one secret of a client (not its last active one)",
		Args:  args("ID", "SECRET_ID"),
		RunE: func(c *cobra.Command, argv []string) error {
			return a.manage(c, func(ops adminapi.Operations) error {
				cl, err := ops.DeleteClientSecret(c.Context(), argv[0], argv[1])
				if err != nil {
					return err
				}
				return a.print(cl, func(w io.Writer) {
					fmt.Fprintf(w, "Deleted secret %s of client %s; %d active secrets remain.\n", argv[1], cl.ClientID, activeSecrets(cl.Secrets))
				})
			})
		},
	})
	return cmd
}
