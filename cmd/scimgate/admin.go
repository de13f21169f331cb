package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/scimgate/scimgate/internal/adminapi"
)

func (a *app) adminCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "admin", Short: "Manage a tenant's admin users, who sign in to connect Okta"}
	var tenant string
	cmd.PersistentFlags().StringVar(&tenant, "tenant", "", "tenant `ID` (required)")
	needTenant := func(c *cobra.Command) error { return requireFlags(c, "tenant") }

	create := a.adminPasswordCommand("create --tenant T USERNAME",
		"Add an admin user; the password is generated and printed once unless given on stdin", "Created admin", &tenant,
		func(ctx context.Context, ops adminapi.Operations, tenant, username, password string) (*adminapi.AdminWithPassword, error) {
			return ops.CreateAdmin(ctx, tenant, adminapi.NewAdmin{Username: username, Password: password})
		})

	list := &cobra.Command{
		Use:   "list --tenant T",
		Short: "List a tenant's admin users",
		Args:  args(),
		RunE: func(c *cobra.Command, _ []string) error {
			if err := needTenant(c); err != nil {
				return err
			}
			return a.manage(c, func(ops adminapi.Operations) error {
				as, err := ops.Admins(c.Context(), tenant)
				if err != nil {
					return err
				}
				return a.print(as, func(w io.Writer) {
					rows := make([][]string, len(as))
					for i, adm := range as {
						rows[i] = []string{adm.Username, status(adm.Disabled), at(adm.Created)}
					}
					table(w, []string{"USERNAME", "STATUS", "CREATED"}, rows)
				})
			})
		},
	}

	passwd := a.adminPasswordCommand("passwd --tenant T USERNAME",
		"Replace an admin's password; a generated one is printed once", "Changed the password of admin", &tenant,
		func(ctx context.Context, ops adminapi.Operations, tenant, username, password string) (*adminapi.AdminWithPassword, error) {
			return ops.SetAdminPassword(ctx, tenant, username, adminapi.NewPassword{Password: password})
		})

	del := &cobra.Command{
		Use:   "delete --tenant T USERNAME",
		Short: "Delete an admin user",
		Args:  args("USERNAME"),
		RunE: func(c *cobra.Command, argv []string) error {
			if err := needTenant(c); err != nil {
				return err
			}
			return a.manage(c, func(ops adminapi.Operations) error {
				if err := ops.DeleteAdmin(c.Context(), tenant, argv[0]); err != nil {
					return err
				}
				return a.print(deleted{true, argv[0]}, func(w io.Writer) { fmt.Fprintf(w, "Deleted admin %s of tenant %s.\n", argv[0], tenant) })
			})
		},
	}

	cmd.AddCommand(create, list, passwd, del)
	return cmd
}

// adminPasswordCommand returns an admin subcommand that sets a password,
// create or passwd: set applies it, done starts the sentence that reports
// it. The password comes from stdin with --password-stdin; otherwise
// scimgate generates one, printed once with the shown-once notice.
func (a *app) adminPasswordCommand(use, short, done string, tenant *string,
	set func(ctx context.Context, ops adminapi.Operations, tenant, username, password string) (*adminapi.AdminWithPassword, error),
) *cobra.Command {
	var fromStdin bool
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  args("USERNAME"),
		RunE: func(c *cobra.Command, argv []string) error {
			if err := requireFlags(c, "tenant"); err != nil {
				return err
			}
			password, err := a.passwordFromStdin(fromStdin)
			if err != nil {
				return err
			}
			return a.manage(c, func(ops adminapi.Operations) error {
				adm, err := set(c.Context(), ops, *tenant, argv[0], password)
				if err != nil {
					return err
				}
				human := func(w io.Writer) { fmt.Fprintf(w, "%s %s of tenant %s.\n", done, adm.Username, adm.TenantID) }
				if adm.Password == "" {
					return a.print(adm, human)
				}
				return a.printSecret(adm, "password", func(w io.Writer) {
					human(w)
					fields(w, [2]string{"Password", adm.Password})
					fmt.Fprintln(w, shownOnce("password"))
				})
			})
		},
	}
	cmd.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from the first line of stdin")
	return cmd
}

// passwordFromStdin reads the first line of stdin when asked to; "" asks
// scimgate to generate a password.
func (a *app) passwordFromStdin(asked bool) (string, error) {
	if !asked {
		return "", nil
	}
	line, err := bufio.NewReader(io.LimitReader(a.env.Stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the password from stdin: %w", err)
	}
	password := strings.TrimRight(line, "\r\n")
	if password == "" {
		return "", errors.New("--password-stdin: stdin holds no password")
	}
	return password, nil
}
