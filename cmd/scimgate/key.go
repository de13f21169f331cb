package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/scimgate/scimgate/internal/adminapi"
	"github.com/scimgate/scimgate/keys"
)

func (a *app) keyCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "key", Short: "Manage the keys that sign access tokens"}
	cmd.AddCommand(
		&cobra.Command{
			Use:   "list",
			Short: "List the signing keys and their states",
			Args:  args(),
			RunE: func(c *cobra.Command, _ []string) error {
				return a.manage(c, func(ops adminapi.Operations) error {
					ring, err := ops.SigningKeys(c.Context())
					if err != nil {
						return err
					}
					return a.print(ring, func(w io.Writer) {
						if len(ring) == 0 {
							fmt.Fprintln(w, "No signing keys yet: 'scimgate serve' creates them when it starts.")
							return
						}
						printRing(w, ring)
					})
				})
			},
		},
		&cobra.Command{
			Use:   "rotate",
			Short: "Make the next key sign now; the old one stays published until its tokens expire",
			Args:  args(),
			RunE: func(c *cobra.Command, _ []string) error {
				return a.manage(c, func(ops adminapi.Operations) error {
					ring, err := ops.RotateSigningKey(c.Context())
					if err != nil {
						return err
					}
					return a.print(ring, func(w io.Writer) {
						fmt.Fprintln(w, "Rotated. The previous key verifies the tokens it signed until they expire.")
						printRing(w, ring)
					})
				})
			},
		},
		&cobra.Command{
			Use:   "revoke KID",
			Short: "Emergency: withdraw a key at once; every token it signed is refused",
			Args:  args("KID"),
			RunE: func(c *cobra.Command, argv []string) error {
				return a.manage(c, func(ops adminapi.Operations) error {
					ring, err := ops.RevokeSigningKey(c.Context(), argv[0])
					if err != nil {
						return err
					}
					return a.print(ring, func(w io.Writer) {
						fmt.Fprintf(w, "Revoked %s: tokens it signed are refused (by other replicas within keys.refresh_interval).\n", argv[0])
						printRing(w, ring)
					})
				})
			},
		},
	)
	return cmd
}

func printRing(w io.Writer, ring []keys.KeyInfo) {
	rows := make([][]string, len(ring))
	for i, k := range ring {
		since := k.CreatedAt
		for _, t := range []time.Time{k.ActivatedAt, k.RetiringSince, k.RetiredAt, k.RevokedAt} {
			if t.After(since) {
				since = t
			}
		}
		rows[i] = []string{k.KID, string(k.Algorithm), string(k.State), at(since), at(k.CreatedAt)}
	}
	table(w, []string{"KID", "ALG", "STATE", "SINCE", "CREATED"}, rows)
}
