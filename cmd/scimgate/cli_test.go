package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scimgate/scimgate/config"
)

// cli runs scimgate commands in-process against one data directory.
type cli struct {
	t       *testing.T
	dir     string // temporary directory holding config, data and audit log
	cfgPath string
	vars    []string
}

// baseConfig is prepended to every test configuration; %[1]s is the
// temporary directory.
const baseConfig = `
issuer: https://scim.example.com
store:
  embedded:
    path: %[1]s/data
audit:
  sink: file
  file: %[1]s/audit.log
`

// oneRoute is the usual gateway: one shared route.
const oneRoute = `
gateway:
  routes:
    - prefix: /scim/v2
      upstream: http://127.0.0.1:9000/scim/v2
`

// newCLI writes a configuration (baseConfig plus extra) into a fresh
// directory, sets a master key in the environment and creates the embedded
// store, as the first start of serve does.
func newCLI(t *testing.T, extra string) *cli {
	t.Helper()
	c := newCLIWithoutStore(t, extra)
	cfg, err := config.Load(c.cfgPath, c.vars)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := openRuntime(context.Background(), cfg, Env{Vars: c.vars, Stderr: io.Discard}, runtimeOptions{CreateMissing: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Close(); err != nil {
		t.Fatal(err)
	}
	return c
}

// holdStore opens c's embedded store and holds it until the test ends, as
// a running serve does.
func holdStore(t *testing.T, c *cli) {
	t.Helper()
	cfg, err := config.Load(c.cfgPath, c.vars)
	if err != nil {
		t.Fatal(err)
	}
	holder, err := openRuntime(context.Background(), cfg, Env{Vars: c.vars, Stderr: io.Discard}, runtimeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = holder.Close() })
}

// newCLIWithoutStore is newCLI before serve has ever run.
func newCLIWithoutStore(t *testing.T, extra string) *cli {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "scimgate.yaml")
	cfg := strings.ReplaceAll(baseConfig, "%[1]s", dir) + extra
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return &cli{t: t, dir: dir, cfgPath: path, vars: []string{"SCIMGATE_MASTER_KEY=" + base64.StdEncoding.EncodeToString(key)}}
}

type output struct {
	stdout, stderr string
	code           int
}

// run runs one command line with --config set.
func (c *cli) run(args ...string) output {
	c.t.Helper()
	return c.runWithStdin("", args...)
}

func (c *cli) runWithStdin(stdin string, args ...string) output {
	c.t.Helper()
	var stdout, stderr bytes.Buffer
	env := Env{Vars: c.vars, Stdin: strings.NewReader(stdin), Stdout: &stdout, Stderr: &stderr}
	code := run(context.Background(), append([]string{"--config", c.cfgPath}, args...), env)
	return output{stdout.String(), stderr.String(), code}
}

// ok runs a command that must succeed and returns its stdout.
func (c *cli) ok(args ...string) string {
	c.t.Helper()
	out := c.run(args...)
	if out.code != 0 {
		c.t.Fatalf("scimgate %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), out.code, out.stdout, out.stderr)
	}
	return out.stdout
}

// okJSON runs a command with --json that must succeed and decodes stdout.
func okJSON[T any](c *cli, args ...string) T {
	c.t.Helper()
	var v T
	out := c.ok(append(args, "--json")...)
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		c.t.Fatalf("scimgate %s --json: %v\n%s", strings.Join(args, " "), err, out)
	}
	return v
}

func (c *cli) auditLog() string {
	c.t.Helper()
	b, err := os.ReadFile(filepath.Join(c.dir, "audit.log"))
	if err != nil && !os.IsNotExist(err) {
		c.t.Fatal(err)
	}
	return string(b)
}
