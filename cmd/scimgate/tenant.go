package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/scimgate/scimgate/internal/adminapi"
)

func (a *app) tenantCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "tenant", Short: "Manage tenants: the customer organisations every credential belongs to"}

	var name string
	create := &cobra.Command{
		Use:   "create ID",
		Short: "Create a tenant with a slug ID such as acme",
		Args:  args("ID"),
		RunE: func(c *cobra.Command, argv []string) error {
			return a.manage(c, func(ops adminapi.Operations) error {
				t, err := ops.CreateTenant(c.Context(), adminapi.NewTenant{ID: argv[0], DisplayName: name})
				if err != nil {
					return err
				}
				return a.print(t, func(w io.Writer) {
					fmt.Fprintf(w, "Created tenant %s (%s).\n", t.ID, t.DisplayName)
					fmt.Fprintf(w, "Next: scimgate client create --tenant %s --name NAME --kind entra|okta|api\n", t.ID)
					fmt.Fprintf(w, "  or: scimgate apikey create --tenant %s --name NAME\n", t.ID)
				})
			})
		},
	}
	create.Flags().StringVar(&name, "name", "", "display name (default: the ID)")

	list := &cobra.Command{
		Use:   "list",
		Short: "List tenants",
		Args:  args(),
		RunE: func(c *cobra.Command, _ []string) error {
			return a.manage(c, func(ops adminapi.Operations) error {
				ts, err := ops.Tenants(c.Context())
				if err != nil {
					return err
				}
				return a.print(ts, func(w io.Writer) {
					rows := make([][]string, len(ts))
					for i, t := range ts {
						rows[i] = []string{t.ID, t.DisplayName, status(t.Disabled), at(t.Created)}
					}
					table(w, []string{"ID", "NAME", "STATUS", "CREATED"}, rows)
				})
			})
		},
	}

	cmd.AddCommand(
		create,
		list,
		showCommand(a, "Show a tenant", adminapi.Operations.Tenant, printTenant),
		a.deleteCommand("tenant", "Delete a tenant that owns no clients, API keys or admins", adminapi.Operations.DeleteTenant),
	)
	cmd.AddCommand(toggleCommands(a, "tenant", "its clients get no tokens and its credentials are refused", adminapi.Operations.SetTenantDisabled)...)
	return cmd
}

func printTenant(w io.Writer, t *adminapi.Tenant) {
	fields(w,
		[2]string{"ID", t.ID},
		[2]string{"Name", t.DisplayName},
		[2]string{"Status", status(t.Disabled)},
		[2]string{"Created", at(t.Created)},
	)
}
