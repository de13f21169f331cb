package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/scimgate/scimgate/internal/adminapi"
)

// toggleCommands returns "disable ID" and "enable ID" for one kind of
// record; set changes it and returns the record printed with --json.
func toggleCommands[T any](a *app, noun, effect string, set func(ops adminapi.Operations, ctx context.Context, id string, disabled bool) (T, error)) []*cobra.Command {
	command := func(disable bool) *cobra.Command {
		verb, short := "enable", "Enable a disabled "+noun+" again"
		if disable {
			verb, short = "disable", "Disable a "+noun+": "+effect
		}
		return &cobra.Command{
			Use:   verb + " ID",
			Short: short,
			Args:  args("ID"),
			RunE: func(c *cobra.Command, argv []string) error {
				return a.manage(c, func(ops adminapi.Operations) error {
					v, err := set(ops, c.Context(), argv[0], disable)
					if err != nil {
						return err
					}
					return a.print(v, func(w io.Writer) { fmt.Fprintf(w, "The %s %s is now %sd.\n", noun, argv[0], verb) })
				})
			},
		}
	}
	return []*cobra.Command{command(true), command(false)}
}

// deleteCommand returns "delete ID" for one kind of record.
func (a *app) deleteCommand(noun, short string, del func(ops adminapi.Operations, ctx context.Context, id string) error) *cobra.Command {
	return &cobra.Command{
		Use:   "delete ID",
		Short: short,
		Args:  args("ID"),
		RunE: func(c *cobra.Command, argv []string) error {
			return a.manage(c, func(ops adminapi.Operations) error {
				if err := del(ops, c.Context(), argv[0]); err != nil {
					return err
				}
				return a.print(deleted{true, argv[0]}, func(w io.Writer) { fmt.Fprintf(w, "Deleted %s %s.\n", noun, argv[0]) })
			})
		},
	}
}

// showCommand returns "show ID" for one kind of record.
func showCommand[T any](a *app, short string, get func(ops adminapi.Operations, ctx context.Context, id string) (T, error), human func(io.Writer, T)) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: short,
		Args:  args("ID"),
		RunE: func(c *cobra.Command, argv []string) error {
			return a.manage(c, func(ops adminapi.Operations) error {
				v, err := get(ops, c.Context(), argv[0])
				if err != nil {
					return err
				}
				return a.print(v, func(w io.Writer) { human(w, v) })
			})
		},
	}
}
