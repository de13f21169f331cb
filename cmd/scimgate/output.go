package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/scimgate/scimgate/internal/adminapi"
)

// manage runs fn with the management operations open for command c.
func (a *app) manage(c *cobra.Command, fn func(ops adminapi.Operations) error) error {
	if a.adminURL != "" {
		base, err := adminURLFlag(a.adminURL)
		if err != nil {
			return usageError{c.CommandPath(), err}
		}
		a.adminURL = base
	}
	ops, closeOps, err := a.openOperations(c.Context())
	if err != nil {
		return err
	}
	err = fn(ops)
	if closeErr := closeOps(); err == nil {
		err = closeErr
	}
	var unreachable *adminapi.UnreachableError
	if errors.As(err, &unreachable) {
		// The address came from --admin-url or, when a server holds the
		// embedded store, from listen.admin of this command's configuration,
		// which may not be the server's.
		hint := "check --admin-url: it must be the admin listener (listen.admin) of a running scimgate serve"
		if a.adminURL == "" {
			hint = "another process holds the embedded store, and the address is listen.admin of this command's configuration: " +
				"give the command the server's configuration (--config, SCIMGATE_LISTEN_ADMIN) or its admin API with --admin-url URL"
		}
		err = fmt.Errorf("%w\n%s", err, hint)
	}
	return err
}

// adminURLFlag checks --admin-url and returns the admin API's base URL. The
// admin API's own path prefix is tolerated, as the README's curl examples
// use it.
func adminURLFlag(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("--admin-url %q: give the admin listener's URL, such as http://127.0.0.1:8081", raw)
	}
	u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), adminapi.PathPrefix)
	u.RawPath = ""
	return strings.TrimSuffix(u.String(), "/"), nil
}

// print writes a result: v as indented JSON with --json, else the text that
// human writes.
func (a *app) print(v any, human func(w io.Writer)) error {
	if a.json {
		enc := json.NewEncoder(a.env.Stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(v)
	}
	human(a.env.Stdout)
	return nil
}

// printSecret is print for a result that carries a secret named what: with
// --json the shown-once notice goes to stderr, keeping stdout pure JSON.
func (a *app) printSecret(v any, what string, human func(w io.Writer)) error {
	if a.json {
		fmt.Fprintln(a.env.Stderr, "scimgate: "+shownOnce(what))
	}
	return a.print(v, human)
}

// deleted is the JSON answer of the delete commands.
type deleted struct {
	Deleted bool   `json:"deleted"`
	ID      string `json:"id"`
}

// fields writes label/value lines with the values aligned.
func fields(w io.Writer, pairs ...[2]string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, p := range pairs {
		fmt.Fprintf(tw, "%s\t%s\n", p[0], p[1])
	}
	_ = tw.Flush()
}

// table writes rows under a header, in aligned columns.
func table(w io.Writer, header []string, rows [][]string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	_ = tw.Flush()
}

// at renders a time to the minute in UTC, "-" for none.
func at(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// expiry renders when something expires, with how long that is from now.
func expiry(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	left := time.Until(t)
	switch {
	case left <= 0:
		return at(t) + " (expired)"
	case left >= 48*time.Hour:
		return fmt.Sprintf("%s (in %d days)", at(t), int(left.Hours()/24+0.5))
	default:
		return fmt.Sprintf("%s (in %s)", at(t), adminapi.Duration(left.Round(time.Minute)))
	}
}

// shownOnce is the sentence under every secret scimgate prints.
func shownOnce(what string) string {
	return fmt.Sprintf("This %s is shown only this once: copy it now, scimgate keeps only a hash of it.", what)
}

// expiresSentence says when a secret expires.
func expiresSentence(t time.Time) string {
	if t.IsZero() {
		return " It never expires."
	}
	return " It expires " + expiry(t) + "."
}

// status renders a disabled flag.
func status(disabled bool) string {
	if disabled {
		return "disabled"
	}
	return "active"
}

// scimBase renders a SCIM base URL, explaining when no route accepts the
// credential.
func scimBase(url string, audiences []string) string {
	if url != "" {
		return url
	}
	return fmt.Sprintf("(no gateway route accepts %s yet: add one to gateway.routes)", strings.Join(audiences, ", "))
}
