package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimgate/scimgate/config"
	"github.com/scimgate/scimgate/internal/adminapi"
	"github.com/scimgate/scimgate/internal/store/storetest"
	"github.com/scimgate/scimgate/internal/testkit"
)

func TestVersion(t *testing.T) {
	c := newCLI(t, "")
	if out := c.ok("version"); !strings.HasPrefix(out, "scimgate ") || !strings.Contains(out, "go1.") {
		t.Errorf("version: %q", out)
	}
	if b := okJSON[buildInfo](c, "version"); b.Version == "" || b.Commit == "" || !strings.HasPrefix(b.Go, "go") {
		t.Errorf("version --json: %+v", b)
	}
}

func TestConfigCheck(t *testing.T) {
	good := newCLI(t, oneRoute)
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("issuer: ftp://x\nlisten:\n  public: nowhere\nstore:\n  backend: floppy\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		args           []string
		code           int
		stdout, stderr string
		errLines       int
	}{
		"valid":          {[]string{"config", "check", good.cfgPath}, 0, "ok\n", "", 0},
		"valid json":     {[]string{"config", "check", good.cfgPath, "--json"}, 0, `"ok": true`, "", 0},
		"invalid":        {[]string{"config", "check", bad}, 1, "", "bad.yaml:1: issuer", 3},
		"invalid json":   {[]string{"config", "check", bad, "--json"}, 1, `"key": "store.backend"`, "", 0},
		"missing file":   {[]string{"config", "check", filepath.Join(t.TempDir(), "none.yaml")}, 1, "", "no such file", 1},
		"the --config":   {[]string{"config", "check"}, 0, "ok\n", "", 0},
		"extra argument": {[]string{"config", "check", "a", "b"}, 2, "", `unexpected argument "b"`, 2},
	} {
		t.Run(name, func(t *testing.T) {
			out := good.run(tc.args...)
			if out.code != tc.code || !strings.Contains(out.stdout, tc.stdout) || !strings.Contains(out.stderr, tc.stderr) {
				t.Fatalf("exit %d, stdout %q, stderr %q", out.code, out.stdout, out.stderr)
			}
			if n := strings.Count(out.stderr, "\n"); tc.errLines > 0 && n != tc.errLines {
				t.Errorf("%d lines on stderr, want %d: %q", n, tc.errLines, out.stderr)
			}
		})
	}
}

// Without FILE, config check checks the file serve would read: --config,
// else SCIMGATE_CONFIG.
func TestConfigCheckDefaultFile(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("log: {level: loud}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		args, vars []string
		code       int
		stderr     string
	}{
		"neither":         {[]string{"config", "check"}, nil, exitUsage, "missing FILE (or --config FILE, or SCIMGATE_CONFIG)"},
		"SCIMGATE_CONFIG": {[]string{"config", "check"}, []string{"SCIMGATE_CONFIG=" + bad}, exitError, "bad.yaml:1: log.level"},
		"--config":        {[]string{"--config", bad, "config", "check"}, nil, exitError, "bad.yaml:1: log.level"},
	} {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, Env{Vars: tc.vars, Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr})
			if code != tc.code || !strings.Contains(stderr.String(), tc.stderr) {
				t.Fatalf("exit %d, stderr %q", code, stderr.String())
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	c := newCLI(t, oneRoute)
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"missing argument": {[]string{"tenant", "show"}, "missing ID"},
		"extra argument":   {[]string{"tenant", "list", "x"}, `unexpected argument "x"`},
		"unknown flag":     {[]string{"tenant", "list", "--nope"}, "unknown flag: --nope"},
		"required flag":    {[]string{"client", "create", "--tenant", "acme", "--name", "x"}, "--kind is required"},
		"admin tenant":     {[]string{"admin", "list"}, "--tenant is required"},
		"bad duration":     {[]string{"apikey", "create", "--tenant", "a", "--name", "b", "--ttl", "soon"}, "invalid argument"},
		"unknown command":  {[]string{"bogus"}, `unknown command "bogus" for "scimgate"`},
		"misspelt command": {[]string{"tenant", "craete"}, `unknown command "craete" for "scimgate tenant"; did you mean create?`},
		"client rotate":    {[]string{"client", "rotat", "X"}, `unknown command "rotat" for "scimgate client"; did you mean rotate?`},
		"client secret":    {[]string{"client", "secret", "del", "X", "Y"}, `unknown command "del" for "scimgate client secret"; did you mean delete?`},
		"apikey":           {[]string{"apikey", "revoek", "X"}, `did you mean revoke?`},
		"admin":            {[]string{"admin", "nope"}, `unknown command "nope" for "scimgate admin"`},
		"key":              {[]string{"key", "rotat"}, `did you mean rotate?`},
		"config":           {[]string{"config", "chek", "f"}, `did you mean check?`},
		"okta without callbacks": {[]string{"client", "create", "--tenant", "acme", "--name", "x", "--kind", "okta"},
			"an okta client needs --okta-app NAME (Okta's callback URIs for the app) or --redirect-uri URI"},
	} {
		t.Run(name, func(t *testing.T) {
			out := c.run(tc.args...)
			if out.code != exitUsage || !strings.Contains(out.stderr, tc.want) || !strings.Contains(out.stderr, "--help") {
				t.Fatalf("exit %d, stderr %q", out.code, out.stderr)
			}
		})
	}
}

// An Entra client prints exactly the four values to paste, the two hints
// and the shown-once line.
func TestEntraClientOutput(t *testing.T) {
	c := newCLI(t, oneRoute)
	c.ok("tenant", "create", "acme")
	out := c.ok("client", "create", "--tenant", "acme", "--name", "Entra ID", "--kind", "entra")
	want := regexp.MustCompile(`^Tenant URL     https://scim\.example\.com/scim/v2
Token URL      https://scim\.example\.com/oauth2/token
Client ID      [0-9A-Za-z]{24}
Client Secret  [0-9A-Za-z]{43}

How credentials are sent: any \(Header, Body or Both\)
Scope: leave empty or scim\.full
This client secret is shown only this once: copy it now, scimgate keeps only a hash of it\. It expires \d{4}-\d\d-\d\d \d\d:\d\d UTC \(in 365 days\)\.
$`)
	if !want.MatchString(out) {
		t.Fatalf("output:\n%s", out)
	}
}

func TestOktaAndAPIClientOutput(t *testing.T) {
	c := newCLI(t, `
gateway:
  routes:
    - prefix: /scim/v2
      upstream: http://127.0.0.1:9000/scim/v2
    - prefix: /t/{tenant}/scim/v2
      upstream: http://127.0.0.1:9000/scim/v2
`)
	c.ok("tenant", "create", "acme")
	perTenant := "https://scim.example.com/t/{tenant}/scim/v2"
	out := c.run("client", "create", "--tenant", "acme", "--name", "Okta", "--kind", "okta", "--okta-app", "acmescim")
	if out.code != 1 || !strings.Contains(out.stderr, perTenant) || !strings.Contains(out.stderr, "--audience") {
		t.Fatalf("with two routes and no --audience: exit %d, %s", out.code, out.stderr)
	}
	okta := c.ok("client", "create", "--tenant", "acme", "--name", "Okta", "--kind", "okta", "--okta-app", "acmescim", "--audience", perTenant)
	for _, want := range []string{
		"SCIM connector base URL  https://scim.example.com/t/acme/scim/v2\n",
		"Authorize endpoint       https://scim.example.com/oauth2/authorize\n",
		"Token endpoint           https://scim.example.com/oauth2/token\n",
		"Scope to put in the authorize URL: scim.full offline_access\n",
		"shown only this once",
	} {
		if !strings.Contains(okta, want) {
			t.Errorf("okta output lacks %q:\n%s", want, okta)
		}
	}
	api := okJSON[adminapi.ClientWithSecret](c, "client", "create", "--tenant", "acme", "--name", "Script", "--kind", "api",
		"--audience", "https://scim.example.com/scim/v2", "--scope", "scim.read,scim.write", "--secret-never-expires", "--access-ttl", "30m")
	if api.Scope != "scim.read scim.write" || api.ClientSecretExpiresAt != 0 || api.AccessTTL != adminapi.Duration(30*time.Minute) {
		t.Errorf("api client: %+v", api)
	}
}

// The JSON of a new client uses RFC 7591 names.
func TestClientJSON(t *testing.T) {
	c := newCLI(t, oneRoute)
	c.ok("tenant", "create", "acme")
	out := c.run("client", "create", "--tenant", "acme", "--name", "Entra", "--kind", "entra", "--secret-ttl", "720h", "--json")
	if out.code != 0 || !strings.Contains(out.stderr, "shown only this once") {
		t.Fatalf("exit %d, stderr %q", out.code, out.stderr)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out.stdout), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"client_id", "client_secret", "client_secret_expires_at", "client_id_issued_at", "grant_types",
		"scope", "redirect_uris", "token_endpoint", "scim_base_url", "tenant_id", "kind", "client_secret_id"} {
		if _, ok := m[k]; !ok {
			t.Errorf("no %s in %s", k, out.stdout)
		}
	}
	if exp := int64(m["client_secret_expires_at"].(float64)); exp < time.Now().Add(719*time.Hour).Unix() || exp > time.Now().Add(721*time.Hour).Unix() {
		t.Errorf("client_secret_expires_at %d", exp)
	}
}

// Every command runs as a user would: human output, then --json.
func TestCommands(t *testing.T) {
	c := newCLI(t, oneRoute)
	steps := []struct {
		args     []string
		stdin    string
		code     int
		contains string
	}{
		{[]string{"tenant", "create", "acme", "--name", "ACME Corp"}, "", 0, "Created tenant acme (ACME Corp)."},
		{[]string{"tenant", "create", "acme"}, "", 1, `tenant "acme": already exists`},
		{[]string{"tenant", "list"}, "", 0, "acme  ACME Corp  active"},
		{[]string{"tenant", "show", "acme"}, "", 0, "Name     ACME Corp"},
		{[]string{"tenant", "show", "nope"}, "", 1, `tenant "nope": not found`},
		{[]string{"tenant", "disable", "acme"}, "", 0, "The tenant acme is now disabled."},
		{[]string{"apikey", "create", "--tenant", "acme", "--name", "x"}, "", 1, `tenant "acme" is disabled`},
		{[]string{"tenant", "enable", "acme"}, "", 0, "The tenant acme is now enabled."},
		{[]string{"apikey", "create", "--tenant", "acme", "--name", "OneLogin", "--ttl", "8760h"}, "", 0, "SCIM base URL  https://scim.example.com/scim/v2"},
		{[]string{"apikey", "list", "--tenant", "acme"}, "", 0, "OneLogin  scim.full  active"},
		{[]string{"admin", "create", "--tenant", "acme", "ann"}, "", 0, "Password  "},
		{[]string{"admin", "create", "--tenant", "acme", "bob", "--password-stdin"}, "a long enough passphrase\n", 0, "Created admin bob of tenant acme."},
		{[]string{"admin", "create", "--tenant", "acme", "eve", "--password-stdin"}, "short\n", 1, "password: must be"},
		{[]string{"admin", "list", "--tenant", "acme"}, "", 0, "bob       active"},
		{[]string{"admin", "passwd", "--tenant", "acme", "ann"}, "", 0, "shown only this once"},
		{[]string{"admin", "delete", "--tenant", "acme", "bob"}, "", 0, "Deleted admin bob of tenant acme."},
		{[]string{"key", "list"}, "", 0, "No signing keys yet"},
		{[]string{"key", "rotate"}, "", 0, "ES256  active"},
		{[]string{"key", "revoke", "nope"}, "", 1, `signing key "nope": not found`},
		{[]string{"tenant", "delete", "acme"}, "", 1, `tenant "acme" still owns 1 API key and 1 admin; delete them first (client, apikey and admin list --tenant acme show them)`},
	}
	for _, s := range steps {
		out := c.runWithStdin(s.stdin, s.args...)
		if out.code != s.code || !strings.Contains(out.stdout+out.stderr, s.contains) {
			t.Fatalf("scimgate %s: exit %d\nstdout: %s\nstderr: %s\nwant exit %d and %q", strings.Join(s.args, " "), out.code, out.stdout, out.stderr, s.code, s.contains)
		}
		if s.code == 0 && out.stderr != "" {
			t.Errorf("scimgate %s wrote to stderr: %s", strings.Join(s.args, " "), out.stderr)
		}
	}

	cl := okJSON[adminapi.ClientWithSecret](c, "client", "create", "--tenant", "acme", "--name", "Entra", "--kind", "entra")
	if list := okJSON[[]adminapi.Client](c, "client", "list", "--tenant", "acme"); len(list) != 1 || list[0].ClientID != cl.ClientID {
		t.Fatalf("client list: %+v", list)
	}
	rotated := okJSON[adminapi.ClientWithSecret](c, "client", "rotate", cl.ClientID)
	if show := c.ok("client", "show", cl.ClientID); !strings.Contains(show, cl.ClientSecretID) || !strings.Contains(show, rotated.ClientSecretID) {
		t.Fatalf("client show lists neither secret:\n%s", show)
	}
	if out := c.ok("client", "rotate", cl.ClientID); !strings.Contains(out, "This secret's id is ") {
		t.Errorf("client rotate does not name the new secret's id:\n%s", out)
	}
	if out := c.ok("client", "secret", "delete", cl.ClientID, cl.ClientSecretID); !strings.Contains(out, "2 active secrets remain") {
		t.Errorf("secret delete: %s", out)
	}
	if got := okJSON[adminapi.Client](c, "client", "disable", cl.ClientID); !got.Disabled {
		t.Error("client disable --json: not disabled")
	}
	c.ok("client", "enable", cl.ClientID)
	if got := okJSON[deleted](c, "client", "delete", cl.ClientID); !got.Deleted || got.ID != cl.ClientID {
		t.Errorf("client delete --json: %+v", got)
	}

	keys := okJSON[[]adminapi.APIKey](c, "apikey", "list")
	newKey := okJSON[adminapi.APIKeyWithSecret](c, "apikey", "rotate", keys[0].ID)
	if newKey.ID == keys[0].ID || newKey.Expires.IsZero() {
		t.Errorf("apikey rotate: %+v", newKey.APIKey)
	}
	if out := c.ok("apikey", "revoke", keys[0].ID); !strings.Contains(out, "no longer authenticates") {
		t.Errorf("apikey revoke: %s", out)
	}
	if out := c.ok("apikey", "show", keys[0].ID); !strings.Contains(out, "Status         revoked") {
		t.Errorf("apikey show:\n%s", out)
	}
	for _, id := range []string{keys[0].ID, newKey.ID} {
		c.ok("apikey", "delete", id)
	}
	c.ok("admin", "delete", "--tenant", "acme", "ann")
	c.ok("tenant", "delete", "acme")
	if ts := okJSON[[]adminapi.Tenant](c, "tenant", "list"); len(ts) != 0 {
		t.Errorf("tenants left: %+v", ts)
	}

	audit := c.auditLog()
	for _, want := range []string{`"event":"credential.created"`, `"event":"credential.rotated"`, `"event":"credential.revoked"`,
		`"event":"credential.deleted"`, `"event":"key.rotated"`, `"via":"cli"`} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit log lacks %s", want)
		}
	}
}

// serveAdminAPI does what serve does with the embedded store: it opens the
// runtime, holding the store's lock, and serves the admin API on the admin
// listener it adds to c's configuration. It returns the count of requests
// and the server's operational log.
func serveAdminAPI(t *testing.T, c *cli) (*atomic.Int32, *testkit.SyncBuffer) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(c.cfgPath, os.O_APPEND|os.O_WRONLY, 0)
	if err == nil {
		_, err = f.WriteString("listen:\n  admin: " + ln.Addr().String() + "\n")
		err = errors.Join(err, f.Close())
	}
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(c.cfgPath, c.vars)
	if err != nil {
		t.Fatal(err)
	}
	serverLog := &testkit.SyncBuffer{}
	log := slog.New(slog.NewTextHandler(serverLog, &slog.HandlerOptions{Level: slog.LevelDebug}))
	rt, err := openRuntime(context.Background(), cfg, Env{Vars: c.vars, Stderr: serverLog}, runtimeOptions{Actor: "admin_api", Logger: log, CreateMissing: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close() })
	api, err := adminapi.NewHandler(rt.Operations, rt.AdminToken.Reveal(), log)
	if err != nil {
		t.Fatal(err)
	}
	requests := &atomic.Int32{}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		api.ServeHTTP(w, r)
	}), ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return requests, serverLog
}

// While a server holds the embedded store, commands go through its admin
// API, authenticating with the token the server generated.
func TestLockedStoreGoesThroughAdminAPI(t *testing.T) {
	c := newCLI(t, oneRoute)
	requests, _ := serveAdminAPI(t, c)

	out := c.run("tenant", "create", "acme")
	if out.code != 0 || !strings.Contains(out.stderr, "working through its admin API at http://127.0.0.1:") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", out.code, out.stdout, out.stderr)
	}
	cl := okJSON[adminapi.ClientWithSecret](c, "client", "create", "--tenant", "acme", "--name", "Entra", "--kind", "entra")
	if list := okJSON[[]adminapi.Client](c, "client", "list"); len(list) != 1 || list[0].ClientID != cl.ClientID {
		t.Fatalf("client list through the API: %+v", list)
	}
	if out := c.run("tenant", "show", "nope"); out.code != 1 || !strings.Contains(out.stderr, `tenant "nope": not found`) {
		t.Fatalf("error through the API: exit %d, %s", out.code, out.stderr)
	}
	if n := requests.Load(); n != 4 {
		t.Errorf("%d admin API requests, want 4", n)
	}
	if audit := c.auditLog(); !strings.Contains(audit, `"via":"admin_api"`) || strings.Contains(audit, `"via":"cli"`) {
		t.Errorf("audit log:\n%s", audit)
	}

	// A wrong token is explained.
	c.vars = append(c.vars, "SCIMGATE_ADMIN_TOKEN="+strings.Repeat("x", 40))
	if out := c.run("tenant", "list"); out.code != 1 || !strings.Contains(out.stderr, "refused the admin token") {
		t.Fatalf("wrong token: exit %d, %s", out.code, out.stderr)
	}
}

// Secrets as printed in text and in JSON.
var (
	textSecret = regexp.MustCompile(`(?m)^(?:Client [Ss]ecret|API key|Password) +(\S+)$`)
	jsonSecret = regexp.MustCompile(`"(?:client_secret|api_key|password)": "([^"]+)"`)
)

// Every secret appears in exactly one output, the one of the command that
// made it, next to the shown-once notice; never in another command's
// output, on stderr, in the audit log or in the server's log.
func TestSecretsShownOnce(t *testing.T) {
	for _, viaAPI := range []bool{false, true} {
		name := "direct"
		if viaAPI {
			name = "through the admin API"
		}
		t.Run(name, func(t *testing.T) {
			c := newCLI(t, oneRoute)
			serverLog := &testkit.SyncBuffer{}
			if viaAPI {
				_, serverLog = serveAdminAPI(t, c)
			}
			var outputs []output
			runAll := func(args ...string) output {
				out := c.run(args...)
				if out.code != 0 {
					t.Fatalf("scimgate %s: exit %d: %s", strings.Join(args, " "), out.code, out.stderr)
				}
				outputs = append(outputs, out)
				return out
			}
			runAll("tenant", "create", "acme")
			var cl adminapi.ClientWithSecret
			var key adminapi.APIKeyWithSecret
			mustDecode(t, runAll("client", "create", "--tenant", "acme", "--name", "Entra", "--kind", "entra", "--json").stdout, &cl)
			runAll("client", "create", "--tenant", "acme", "--name", "API", "--kind", "api")
			runAll("client", "rotate", cl.ClientID)
			runAll("client", "rotate", cl.ClientID, "--json")
			mustDecode(t, runAll("apikey", "create", "--tenant", "acme", "--name", "OneLogin", "--json").stdout, &key)
			runAll("apikey", "create", "--tenant", "acme", "--name", "Okta")
			runAll("apikey", "rotate", key.ID)
			runAll("admin", "create", "--tenant", "acme", "ann")
			runAll("admin", "passwd", "--tenant", "acme", "ann", "--json")
			for _, args := range [][]string{{"tenant", "list"}, {"tenant", "show", "acme"}, {"client", "list"}, {"client", "show", cl.ClientID},
				{"apikey", "list"}, {"apikey", "show", key.ID}, {"admin", "list", "--tenant", "acme"}, {"key", "list"}} {
				runAll(args...)
				runAll(append(args, "--json")...)
			}

			var all strings.Builder
			for _, o := range outputs {
				all.WriteString(o.stdout + o.stderr)
			}
			found := 0
			for _, o := range outputs {
				var secrets [][]string
				secrets = append(secrets, textSecret.FindAllStringSubmatch(o.stdout, -1)...)
				secrets = append(secrets, jsonSecret.FindAllStringSubmatch(o.stdout, -1)...)
				for _, s := range secrets {
					found++
					if n := strings.Count(all.String(), s[1]); n != 1 {
						t.Errorf("a secret appears %d times in the outputs", n)
					}
					if !strings.Contains(o.stdout+o.stderr, "shown only this once") {
						t.Errorf("output with a secret lacks the shown-once notice:\n%s", o.stdout)
					}
					for where, text := range map[string]string{"stderr": o.stderr, "audit log": c.auditLog(), "server log": serverLog.String()} {
						if strings.Contains(text, s[1]) {
							t.Errorf("a secret leaked to the %s", where)
						}
					}
				}
			}
			if found != 9 { // 2 clients, 2 rotations, 3 API keys, 2 passwords
				t.Errorf("found %d secrets, want 9", found)
			}
		})
	}
}

func mustDecode(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatal(err)
	}
}

// Without SCIMGATE_MASTER_KEY the embedded store keeps a generated master
// key and admin token next to the data, with a loud warning the first time.
func TestGeneratedMasterKeyAndAdminToken(t *testing.T) {
	c := newCLIWithoutStore(t, oneRoute)
	c.vars = nil
	cfg, err := config.Load(c.cfgPath, c.vars)
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	rt, err := openRuntime(context.Background(), cfg, Env{Stderr: &stderr}, runtimeOptions{CreateMissing: true}) // as serve
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Close(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), "WARNING") || !strings.Contains(stderr.String(), "export SCIMGATE_MASTER_KEY=") {
		t.Fatalf("first start:\n%s", stderr.String())
	}
	for _, name := range []string{masterKeyFile, adminTokenFile} {
		info, err := os.Stat(filepath.Join(c.dir, "data", name))
		if err != nil || info.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", name, info, err)
		}
	}
	second := c.run("tenant", "list")
	if second.code != 0 || strings.Contains(second.stderr, "WARNING") || !strings.Contains(second.stderr, "master key read from a file next to the data") {
		t.Fatalf("second run: exit %d\n%s", second.code, second.stderr)
	}
	// The key moved into the variable as told, the file left behind.
	text, err := os.ReadFile(filepath.Join(c.dir, "data", masterKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	c.vars = []string{"SCIMGATE_MASTER_KEY=" + strings.TrimSpace(string(text))}
	moved := c.run("tenant", "list")
	if want := "a copy is still next to the data: once the variable is kept safe elsewhere, delete it: rm " + filepath.Join(c.dir, "data", masterKeyFile); moved.code != 0 || !strings.Contains(moved.stderr, want) {
		t.Fatalf("key in the variable, file kept: exit %d\n%s", moved.code, moved.stderr)
	}
	if err := os.Remove(filepath.Join(c.dir, "data", masterKeyFile)); err != nil {
		t.Fatal(err)
	}
	if deleted := c.run("tenant", "list"); deleted.code != 0 || strings.Contains(deleted.stderr, "master key") {
		t.Fatalf("key in the variable only: exit %d\n%s", deleted.code, deleted.stderr)
	}
	c.vars = nil
	token, err := readAdminToken(filepath.Join(c.dir, "data", adminTokenFile))
	if err != nil || len(token) < 32 {
		t.Fatalf("admin token %q: %v", token, err)
	}
	if err := os.Chmod(filepath.Join(c.dir, "data", adminTokenFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := c.run("--admin-url", "http://127.0.0.1:1", "tenant", "list"); out.code != 1 || !strings.Contains(out.stderr, "chmod 600") {
		t.Fatalf("readable token file: exit %d, %s", out.code, out.stderr)
	}
}

// Management commands never create a store or a master key: a command run
// with the wrong configuration must not start a second, empty store.
func TestCommandsCreateNoStore(t *testing.T) {
	for name, tc := range map[string]struct {
		store     bool // serve has run
		masterKey bool // SCIMGATE_MASTER_KEY is set
		want      string
	}{
		"no store":      {false, true, "no scimgate data in "},
		"no master key": {true, false, "SCIMGATE_MASTER_KEY is not set and there is no "},
	} {
		t.Run(name, func(t *testing.T) {
			c := newCLIWithoutStore(t, oneRoute)
			if tc.store {
				c = newCLI(t, oneRoute)
			}
			if !tc.masterKey {
				c.vars = nil
			}
			before, _ := os.ReadDir(filepath.Join(c.dir, "data"))
			out := c.run("tenant", "create", "acme")
			if out.code != 1 || !strings.Contains(out.stderr, tc.want) || strings.Contains(out.stderr, "WARNING") {
				t.Fatalf("exit %d, %s", out.code, out.stderr)
			}
			if after, _ := os.ReadDir(filepath.Join(c.dir, "data")); len(after) != len(before) {
				t.Errorf("data directory changed: %v -> %v", before, after)
			}
		})
	}
}

// --admin-url always goes through the admin API, even when a store could
// be opened or created here.
func TestAdminURLAlwaysUsesTheAPI(t *testing.T) {
	server := newCLI(t, oneRoute)
	requests, _ := serveAdminAPI(t, server)
	admin, token := adminAPIOf(t, server)
	for name, c := range map[string]*cli{"no store here": newCLIWithoutStore(t, oneRoute), "a store here": newCLI(t, oneRoute)} {
		t.Run(name, func(t *testing.T) {
			c.vars = append(c.vars, "SCIMGATE_ADMIN_TOKEN="+token)
			tenant := strings.ReplaceAll(name, " ", "-")
			n := requests.Load()
			if out := c.run("--admin-url", "http://"+admin, "tenant", "create", tenant); out.code != 0 || requests.Load() != n+1 {
				t.Fatalf("exit %d, %d requests\n%s", out.code, requests.Load()-n, out.stderr)
			}
			if out := server.ok("tenant", "show", tenant); !strings.Contains(out, tenant) {
				t.Fatalf("tenant not on the server: %s", out)
			}
			if out := c.run("tenant", "show", tenant); out.code != 1 {
				t.Fatalf("the tenant was created here too: %s", out.stdout)
			}
		})
	}
}

// adminAPIOf is the admin listener's address and admin token of server's
// configuration.
func adminAPIOf(t *testing.T, server *cli) (addr, token string) {
	t.Helper()
	cfg, err := config.Load(server.cfgPath, server.vars)
	if err != nil {
		t.Fatal(err)
	}
	token, err = readAdminToken(filepath.Join(server.dir, "data", adminTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Listen.Admin, token
}

// A wrong admin API address is a clear error: a malformed --admin-url is a
// usage error, and an address where nothing or something else answers is
// named once, with what to check.
func TestAdminURLErrors(t *testing.T) {
	server := newCLI(t, oneRoute)
	serveAdminAPI(t, server)
	admin, token := adminAPIOf(t, server)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nothing := closed.Addr().String()
	closed.Close()
	other := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(other.Close)

	c := newCLIWithoutStore(t, oneRoute)
	c.vars = append(c.vars, "SCIMGATE_ADMIN_TOKEN="+token)
	for name, tc := range map[string]struct {
		url    string
		code   int
		stderr []string
	}{
		"no scheme":          {admin, exitUsage, []string{`--admin-url "` + admin + `": give the admin listener's URL, such as http://127.0.0.1:8081`}},
		"not http":           {"ftp://" + admin, exitUsage, []string{"give the admin listener's URL"}},
		"nothing listens":    {"http://" + nothing, exitError, []string{"scimgate: no admin API at http://" + nothing + ": nothing listens there (connection refused)\n", "check --admin-url"}},
		"another server":     {other.URL, exitError, []string{other.URL + " answered HTTP 404 (Not Found) without an admin API error: is it the admin listener"}},
		"with the API path":  {"http://" + admin + "/admin/v1/", exitOK, nil},
		"the listener's URL": {"http://" + admin, exitOK, nil},
	} {
		t.Run(name, func(t *testing.T) {
			out := c.run("--admin-url", tc.url, "tenant", "list")
			if out.code != tc.code {
				t.Fatalf("exit %d, want %d: %s", out.code, tc.code, out.stderr)
			}
			for _, want := range tc.stderr {
				if !strings.Contains(out.stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, out.stderr)
				}
			}
			if strings.Count(out.stderr, "scimgate:") > 1 || strings.Count(out.stderr, tc.url) > 1 {
				t.Errorf("the error repeats itself:\n%s", out.stderr)
			}
		})
	}
}

// --admin-url without a token to send says where the CLI looks for one.
func TestAdminURLWithoutToken(t *testing.T) {
	c := newCLIWithoutStore(t, oneRoute)
	out := c.run("--admin-url", "http://127.0.0.1:8081", "tenant", "list")
	want := "scimgate: the admin API at http://127.0.0.1:8081 needs the admin token: set SCIMGATE_ADMIN_TOKEN to the server's admin token (admin.token), " +
		"or point store.embedded.path at the server's data directory, where it keeps a generated one (there is no " + filepath.Join(c.dir, "data", adminTokenFile) + ")\n"
	if out.code != exitError || out.stderr != want {
		t.Fatalf("exit %d, stderr:\n%s\nwant:\n%s", out.code, out.stderr, want)
	}
}

// When another process holds the embedded store and nothing answers at this
// configuration's listen.admin, the error says where the CLI looked and why.
func TestLockedStoreWithoutAdminAPI(t *testing.T) {
	c := newCLI(t, oneRoute)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nothing := closed.Addr().String()
	closed.Close()
	c.vars = append(c.vars, "SCIMGATE_LISTEN_ADMIN="+nothing)
	holdStore(t, c)
	out := c.run("tenant", "list")
	for _, want := range []string{
		"no admin API at http://" + nothing + ": nothing listens there (connection refused)\n",
		"give the command the server's configuration (--config, SCIMGATE_LISTEN_ADMIN) or its admin API with --admin-url URL",
	} {
		if out.code != exitError || !strings.Contains(out.stderr, want) {
			t.Errorf("exit %d, stderr lacks %q:\n%s", out.code, want, out.stderr)
		}
	}
}

// serve, the CLI and config check refuse the same master key and admin
// token problems: a malformed SCIMGATE_MASTER_KEY, and with Redis a missing
// master key or admin token.
func TestServeSecretsChecked(t *testing.T) {
	goodKey := newCLIWithoutStore(t, "").vars[0]
	redis := "SCIMGATE_STORE_BACKEND=redis"
	token := "SCIMGATE_ADMIN_TOKEN=" + strings.Repeat("t", 40)
	for name, tc := range map[string]struct {
		vars []string
		want string // "": no problem
	}{
		"embedded, no master key": {nil, ""},
		"malformed master key":    {[]string{"SCIMGATE_MASTER_KEY=not-a-key"}, "SCIMGATE_MASTER_KEY: is neither hex nor base64 (generate one with: openssl rand -base64 32)"},
		"patterned master key":    {[]string{"SCIMGATE_MASTER_KEY=" + strings.Repeat("ab", 32)}, "SCIMGATE_MASTER_KEY: is too repetitive"},
		"redis, no master key":    {[]string{redis, token}, "SCIMGATE_MASTER_KEY: required with the redis store"},
		"redis, no admin token":   {[]string{redis, goodKey}, "admin.token: required with the redis store"},
		"redis, malformed key":    {[]string{redis, token, "SCIMGATE_MASTER_KEY=xyz"}, "SCIMGATE_MASTER_KEY: decodes to 2 bytes, need at least 32 random bytes (generate one with: openssl rand -base64 32)"},
	} {
		t.Run(name, func(t *testing.T) {
			c := newCLIWithoutStore(t, oneRoute)
			c.vars = tc.vars
			check := c.run("config", "check", c.cfgPath)
			if tc.want == "" {
				if check.code != 0 {
					t.Fatalf("config check: exit %d, %s", check.code, check.stderr)
				}
				return
			}
			if check.code != 1 || !strings.Contains(check.stderr, tc.want) {
				t.Errorf("config check: exit %d, %s", check.code, check.stderr)
			}
			if serve := c.run("serve"); serve.code != 1 || !strings.Contains(serve.stderr, tc.want) {
				t.Errorf("serve: exit %d, %s", serve.code, serve.stderr)
			}
			if _, err := os.Stat(filepath.Join(c.dir, "data")); !os.IsNotExist(err) {
				t.Errorf("serve created the data directory: %v", err)
			}
		})
	}
}

// With Redis the CLI always works on the store itself.
func TestRedisStore(t *testing.T) {
	kv := storetest.OpenRedis(t) // a unique prefix, deleted when the test ends
	c := newCLIWithoutStore(t, oneRoute)
	c.vars = append(c.vars, "SCIMGATE_STORE_BACKEND=redis", "SCIMGATE_STORE_REDIS_URL="+storetest.RedisURL(),
		"SCIMGATE_STORE_REDIS_PREFIX="+kv.Prefix(), "SCIMGATE_ADMIN_TOKEN="+strings.Repeat("t", 40))
	c.ok("tenant", "create", "acme")
	cl := okJSON[adminapi.ClientWithSecret](c, "client", "create", "--tenant", "acme", "--name", "Entra", "--kind", "entra")
	if list := okJSON[[]adminapi.Client](c, "client", "list", "--tenant", "acme"); len(list) != 1 || list[0].ClientID != cl.ClientID {
		t.Fatalf("client list: %+v", list)
	}
	if _, err := kv.Get(context.Background(), "tenants/acme"); err != nil {
		t.Fatalf("tenant not in redis: %v", err)
	}
	if _, err := os.Stat(filepath.Join(c.dir, "data")); !os.IsNotExist(err) {
		t.Errorf("the embedded data directory was created: %v", err)
	}
}

func TestConfigExampleChecksOK(t *testing.T) {
	c := newCLI(t, oneRoute)
	out := c.run("config", "example")
	if out.code != 0 || !strings.Contains(out.stdout, "gateway:") {
		t.Fatalf("config example: exit %d, stderr %q", out.code, out.stderr)
	}
	path := filepath.Join(t.TempDir(), "example.yaml")
	if err := os.WriteFile(path, []byte(out.stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	c.vars = append(c.vars, "UPSTREAM_KEY=secret")
	if out := c.run("config", "check", path); out.code != 0 {
		t.Fatalf("the printed example does not pass config check: %q", out.stderr)
	}
}

// client show prints the lifetime tokens get, saying when it is
// tokens.access_ttl's, which the CLI reads like serve, variables included.
func TestClientShowsEffectiveAccessTTL(t *testing.T) {
	c := newCLI(t, oneRoute)
	c.vars = append(c.vars, "SCIMGATE_TOKENS_ACCESS_TTL=30m")
	c.ok("tenant", "create", "acme")
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"api default":   {[]string{"--kind", "api"}, "Access token TTL  30m (default: tokens.access_ttl)\n"},
		"entra clamped": {[]string{"--kind", "entra"}, "Access token TTL  1h (default: tokens.access_ttl)\n"},
		"own":           {[]string{"--kind", "api", "--access-ttl", "15m"}, "Access token TTL  15m\n"},
	} {
		t.Run(name, func(t *testing.T) {
			cl := okJSON[adminapi.ClientWithSecret](c, append([]string{"client", "create", "--tenant", "acme", "--name", name}, tc.args...)...)
			if out := c.ok("client", "show", cl.ClientID); !strings.Contains(out, tc.want) {
				t.Fatalf("client show:\n%s", out)
			}
		})
	}
}

// A group command alone, or asked for help, prints its help and succeeds.
func TestGroupHelp(t *testing.T) {
	c := newCLIWithoutStore(t, "")
	for _, args := range [][]string{{}, {"client"}, {"client", "secret"}, {"client", "--help"}, {"help", "tenant"}} {
		if out := c.run(args...); out.code != 0 || !strings.Contains(out.stdout, "Available Commands") {
			t.Errorf("scimgate %s: exit %d, stdout %q, stderr %q", strings.Join(args, " "), out.code, out.stdout, out.stderr)
		}
	}
}

// TestServeLogsJSONLines: with its stderr going to a file or a pipe, as in
// a container, serve writes nothing there but the log, one JSON object per
// line (the README's "Logs"); the welcome text is for terminals.
func TestServeLogsJSONLines(t *testing.T) {
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			c := newCLI(t, oneRoute+"listen:\n  public: 127.0.0.1:0\n  admin: 127.0.0.1:0\nlog:\n  format: "+format+"\n")
			c.vars = append(c.vars, "GOGC=100") // keep the test process's collector as it is
			ctx, cancel := context.WithCancel(context.Background())
			var stderr testkit.SyncBuffer
			done := make(chan int, 1)
			go func() {
				done <- run(ctx, []string{"--config", c.cfgPath, "serve"}, Env{Vars: c.vars, Stdout: io.Discard, Stderr: &stderr})
			}()
			deadline := time.Now().Add(10 * time.Second)
			for !strings.Contains(stderr.String(), "scimgate listening") && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			cancel()
			if code := <-done; code != 0 {
				t.Fatalf("serve exited %d\n%s", code, stderr.String())
			}
			logLine := regexp.MustCompile(`^time=\S+ level=[A-Z]+ msg=`)
			for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
				var obj map[string]any
				if format == "json" && json.Unmarshal([]byte(line), &obj) != nil || format == "text" && !logLine.MatchString(line) {
					t.Errorf("not a %s log line: %q", format, line)
				}
			}
		})
	}
}

// A master key other than the one the store was set up with is refused
// before anything is written: a client secret or API key hashed under it
// would be printed once and then never verify on the server. Without any
// master key, serve does not generate a fresh one for a store that
// already holds signing keys.
func TestWrongMasterKeyRefused(t *testing.T) {
	for _, backend := range []string{"embedded", "redis"} {
		t.Run(backend, func(t *testing.T) {
			c := newCLIWithoutStore(t, oneRoute)
			if backend == "redis" {
				kv := storetest.OpenRedis(t)
				c.vars = append(c.vars, "SCIMGATE_STORE_BACKEND=redis", "SCIMGATE_STORE_REDIS_URL="+storetest.RedisURL(),
					"SCIMGATE_STORE_REDIS_PREFIX="+kv.Prefix(), "SCIMGATE_ADMIN_TOKEN="+strings.Repeat("t", 40))
			}
			cfg, err := config.Load(c.cfgPath, c.vars)
			if err != nil {
				t.Fatal(err)
			}
			// The first start of serve creates the signing-key ring.
			rt, err := openRuntime(t.Context(), cfg, Env{Vars: c.vars, Stderr: io.Discard}, runtimeOptions{CreateMissing: true})
			if err != nil {
				t.Fatal(err)
			}
			if err := rt.Keys.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			if err := rt.Close(); err != nil {
				t.Fatal(err)
			}
			c.ok("tenant", "create", "acme")

			right := c.vars
			c.vars = append(slices.Clone(right), newCLIWithoutStore(t, "").vars[0]) // a later value wins
			for _, args := range [][]string{
				{"client", "create", "--tenant", "acme", "--name", "Entra", "--kind", "entra"},
				{"apikey", "create", "--tenant", "acme", "--name", "OneLogin"},
			} {
				out := c.run(args...)
				if out.code != 1 || !strings.Contains(out.stderr, "SCIMGATE_MASTER_KEY") || !strings.Contains(out.stderr, "does not match") {
					t.Errorf("%s with another master key: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), out.code, out.stdout, out.stderr)
				}
			}
			c.vars = right
			if out := c.ok("client", "list", "--tenant", "acme"); strings.Contains(out, "Entra") {
				t.Errorf("a client was created under the wrong master key:\n%s", out)
			}
			if out := c.ok("apikey", "list", "--tenant", "acme"); strings.Contains(out, "OneLogin") {
				t.Errorf("an API key was created under the wrong master key:\n%s", out)
			}
			if backend != "embedded" {
				return
			}
			// No master key at all: serve must not make up a new one.
			var stderr strings.Builder
			_, err = openRuntime(t.Context(), cfg, Env{Stderr: &stderr}, runtimeOptions{CreateMissing: true})
			if err == nil || !strings.Contains(err.Error(), "but this store was set up with a master key: set SCIMGATE_MASTER_KEY to that key") || strings.Contains(stderr.String(), "WARNING") {
				t.Errorf("serve without the master key: err %v\n%s", err, stderr.String())
			}
			if _, err := os.Stat(filepath.Join(c.dir, "data", masterKeyFile)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("a new master key file was generated for a store set up with another key: %v", err)
			}
		})
	}
}
