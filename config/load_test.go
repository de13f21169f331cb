package config_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/scimgate/scimgate/config"
)

// writeFile writes a configuration file into a fresh directory.
func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "scimgate.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// loadErrors loads content and returns its field errors; it fails the test
// if loading succeeds or fails otherwise.
func loadErrors(t *testing.T, content string, env ...string) config.Errors {
	t.Helper()
	_, err := config.Load(writeFile(t, content), env)
	var errs config.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Load error = %v, want config.Errors", err)
	}
	return errs
}

func mustLoad(t *testing.T, content string, env ...string) *config.Config {
	t.Helper()
	cfg, err := config.Load(writeFile(t, content), env)
	if err != nil {
		t.Fatalf("Load:\n%v", err)
	}
	return cfg
}

// loadedDefault is Default() as Load returns it: route audiences filled in.
func loadedDefault() *config.Config {
	c := config.Default()
	for i := range c.Gateway.Routes {
		c.Gateway.Routes[i].Audience = c.Issuer + c.Gateway.Routes[i].Prefix
	}
	return c
}

func TestDefaultsAreValid(t *testing.T) {
	if err := config.Default().Validate(); err != nil {
		t.Fatalf("Default().Validate():\n%v", err)
	}
	cfg, err := config.Load("", nil)
	if err != nil {
		t.Fatalf("Load without a file:\n%v", err)
	}
	if !reflect.DeepEqual(cfg, loadedDefault()) {
		t.Errorf("Load without a file = %+v, want Default()", cfg)
	}
	if cfg.Store.Backend != config.BackendEmbedded || cfg.Store.Embedded.Path != "./scimgate-data" {
		t.Errorf("defaults: backend %s, path %s", cfg.Store.Backend, cfg.Store.Embedded.Path)
	}
	// Without a file, one demo route reaches the built-in in-memory upstream.
	if r := cfg.Gateway.Routes; len(r) != 1 || r[0].Prefix != "/scim/v2" || r[0].Upstream != config.UpstreamMemory {
		t.Errorf("default routes = %+v", r)
	}
}

func TestRoutesInAFileReplaceTheDemoRoute(t *testing.T) {
	cfg := mustLoad(t, "gateway:\n  routes:\n    - prefix: /advisors/scim\n      upstream: http://127.0.0.1:9000/scim/v2\n")
	if r := cfg.Gateway.Routes; len(r) != 1 || r[0].Prefix != "/advisors/scim" {
		t.Fatalf("routes = %+v", r)
	}
	if cfg := mustLoad(t, "gateway:\n  routes: []\n"); len(cfg.Gateway.Routes) != 0 {
		t.Fatalf("an empty list must remove the demo route: %+v", cfg.Gateway.Routes)
	}
}

func TestEmptyFileGivesDefaults(t *testing.T) {
	for _, content := range []string{"", "# only a comment\n", "---\n", "listen:\n", "listen: ~\n"} {
		if cfg := mustLoad(t, content); !reflect.DeepEqual(cfg, loadedDefault()) {
			t.Errorf("%q: got %+v, want Default()", content, cfg)
		}
	}
}

func TestExampleIsValid(t *testing.T) {
	cfg, err := config.Load("example.yaml", []string{"UPSTREAM_KEY=upstream-secret"})
	if err != nil {
		t.Fatalf("example.yaml:\n%v", err)
	}
	if len(cfg.Gateway.Routes) != 2 {
		t.Fatalf("routes = %d, want 2", len(cfg.Gateway.Routes))
	}
	first, second := cfg.Gateway.Routes[0], cfg.Gateway.Routes[1]
	if got := first.Headers["X-Upstream-Key"].Reveal(); got != "upstream-secret" {
		t.Errorf("expanded header = %q", got)
	}
	if first.Audience != "http://127.0.0.1:8080/scim/v2" || second.Audience != "http://127.0.0.1:8080/t/{tenant}/scim/v2" {
		t.Errorf("default audiences = %q, %q", first.Audience, second.Audience)
	}
	if second.MaxBody != 8*config.MiB || second.Timeout != 30*time.Second || second.Dialect != config.DialectOkta {
		t.Errorf("second route = %+v", second)
	}
	// Apart from its routes, the example spells out the defaults.
	cfg.Gateway.Routes = nil
	want := config.Default()
	want.Gateway.Routes = nil
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("example without routes = %+v\nwant Default() = %+v", cfg, config.Default())
	}
}

func TestExampleNeedsItsVariable(t *testing.T) {
	errs := loadErrorsFromPath(t, "example.yaml")
	if len(errs) != 1 || errs[0].Key != "gateway.routes[0].headers.X-Upstream-Key" || !strings.Contains(errs[0].Problem, "${UPSTREAM_KEY}") {
		t.Fatalf("errors = %v", errs)
	}
	if !strings.HasPrefix(errs[0].Error(), "example.yaml:") {
		t.Errorf("error %q does not start with the file and line", errs[0])
	}
}

func loadErrorsFromPath(t *testing.T, path string, env ...string) config.Errors {
	t.Helper()
	_, err := config.Load(path, env)
	var errs config.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Load error = %v, want config.Errors", err)
	}
	return errs
}

func TestDefaultRoundTripsThroughYAML(t *testing.T) {
	out, err := yaml.Marshal(config.Default())
	if err != nil {
		t.Fatal(err)
	}
	if cfg := mustLoad(t, string(out)); !reflect.DeepEqual(cfg, loadedDefault()) {
		t.Errorf("marshalled defaults load as %+v", cfg)
	}
}

func TestMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.yaml")
	_, err := config.Load(path, nil)
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want os.ErrNotExist", err)
	}
	if want := "configuration file " + path + ": no such file or directory"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}

func TestDirectoryForFile(t *testing.T) {
	dir := t.TempDir()
	_, err := config.Load(dir, nil)
	if want := "configuration file " + dir + ": is a directory"; err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
}

func TestTooLargeFile(t *testing.T) {
	_, err := config.Load(writeFile(t, "#"+strings.Repeat("x", 1<<20)), nil)
	if err == nil || !strings.Contains(err.Error(), "larger than 1MiB") {
		t.Fatalf("err = %v", err)
	}
}

func TestFileValues(t *testing.T) {
	cfg := mustLoad(t, `
issuer: https://login.example.com
listen:
  public: 0.0.0.0:443
  trusted_proxies: [10.0.0.0/8, "2001:db8::/32"]
tokens: {access_ttl: 1h30m}
log: {level: debug, format: text}
gateway:
  routes:
    - prefix: /scim/v2
      upstream: http://127.0.0.1:9000/scim/v2
      audience: https://scim.example.com/scim/v2
      max_body: 524288
      headers:
        Authorization: "Bearer ${TOKEN}-${TOKEN}"
`, "TOKEN=abc")
	if cfg.Issuer != "https://login.example.com" || cfg.Listen.Public != "0.0.0.0:443" || cfg.Tokens.AccessTTL != 90*time.Minute {
		t.Errorf("cfg = %+v", cfg)
	}
	if len(cfg.Listen.TrustedProxies) != 2 || cfg.Listen.TrustedProxies[1].String() != "2001:db8::/32" {
		t.Errorf("trusted proxies = %v", cfg.Listen.TrustedProxies)
	}
	if cfg.Log.Level.String() != "DEBUG" || cfg.Log.Format != config.LogText {
		t.Errorf("log = %+v", cfg.Log)
	}
	r := cfg.Gateway.Routes[0]
	if r.MaxBody != 512*config.KiB || r.Audience != "https://scim.example.com/scim/v2" || r.Headers["Authorization"].Reveal() != "Bearer abc-abc" {
		t.Errorf("route = %+v (header %q)", r, r.Headers["Authorization"].Reveal())
	}
	if !reflect.DeepEqual(r.Credentials, []config.Credential{config.CredentialJWT, config.CredentialAPIKey}) || r.Groups != config.GroupsProxy {
		t.Errorf("route defaults not applied: %+v", r)
	}
}

func TestAnchorsAndMergeKeys(t *testing.T) {
	cfg := mustLoad(t, `
gateway:
  routes:
    - &base
      prefix: /a
      upstream: http://127.0.0.1:9000/scim/v2
      timeout: 10s
      credentials: &creds [api_key]
    - <<: *base
      prefix: /b
      timeout: 20s
    - {prefix: /c, upstream: http://127.0.0.1:9001, credentials: *creds}
`)
	routes := cfg.Gateway.Routes
	if len(routes) != 3 || routes[1].Prefix != "/b" || routes[1].Upstream != routes[0].Upstream ||
		routes[0].Timeout != 10*time.Second || routes[1].Timeout != 20*time.Second ||
		!reflect.DeepEqual(routes[2].Credentials, []config.Credential{config.CredentialAPIKey}) {
		t.Errorf("routes = %+v", routes)
	}
}

func TestAliasBombIsRefused(t *testing.T) {
	// 400 aliases of a route with 400 headers expand to 160,000 values.
	var b strings.Builder
	b.WriteString("gateway:\n  routes:\n    - &r\n      prefix: /a\n      upstream: http://h\n      headers: {")
	for i := range 400 {
		fmt.Fprintf(&b, "H%d: v, ", i)
	}
	b.WriteString("}\n")
	b.WriteString(strings.Repeat("    - *r\n", 400))
	errs := loadErrors(t, b.String())
	if last := errs[len(errs)-1]; !strings.Contains(last.Problem, "too many aliases") || last.Key != "(document)" {
		t.Errorf("last error = %v", last)
	}
}
