package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// gateway is a running scimgate with one tenant, an Entra client and an API
// key, and a route /scim/v2 to the trivial upstream.
type gateway struct {
	*server
	admin        string // host:port of the admin listener
	bin          string
	env          []string
	config       string
	clientID     string
	clientSecret string
	apiKey       string
}

const (
	loadTenant = "load"
	routePath  = "/scim/v2"
)

// buildScimgate compiles cmd/scimgate of the module this tool belongs to.
func buildScimgate(dir string) (string, error) {
	bin := filepath.Join(dir, "scimgate")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/scimgate/scimgate/cmd/scimgate")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/scimgate: %w", err)
	}
	return bin, nil
}

// startGateway configures scimgate on the embedded store in dir, serves,
// and creates the credentials with its CLI.
func startGateway(bin, dir, upstream string) (*gateway, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, fmt.Errorf("free ports: %w", err)
	}
	pub, adm := ports[0], ports[1]
	issuer := "http://127.0.0.1:" + strconv.Itoa(pub)
	// Rate limits far above the load: the limiter is still asked on every
	// request, and a 429 would count as an error.
	cfg := fmt.Sprintf(`issuer: %[1]s
listen:
  public: 127.0.0.1:%[2]d
  admin: 127.0.0.1:%[3]d
store:
  embedded:
    path: %[4]s/data
gateway:
  routes:
    - prefix: %[6]s
      upstream: http://%[5]s%[6]s
      credentials: [jwt, api_key]
      dialect: auto
ratelimit:
  gateway:
    tenant_rate: 1000000
    tenant_burst: 1000000
    credential_rate: 1000000
    credential_burst: 1000000
log:
  level: warn
audit:
  sink: file
  file: %[4]s/audit.log
pprof:
  enabled: true
`, issuer, pub, adm, dir, upstream, routePath)
	g := &gateway{bin: bin, config: filepath.Join(dir, "scimgate.yaml")}
	if err := os.WriteFile(g.config, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	var master [32]byte
	_, _ = rand.Read(master[:])
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SCIMGATE_") {
			g.env = append(g.env, kv)
		}
	}
	g.env = append(g.env, "SCIMGATE_MASTER_KEY="+base64.StdEncoding.EncodeToString(master[:]))

	cmd := exec.Command(bin, "--config", g.config, "serve")
	cmd.Env = g.env
	logFile, err := os.Create(filepath.Join(dir, "scimgate.log"))
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("scimgate serve: %w", err)
	}
	g.server = &server{name: "scimgate", addr: "127.0.0.1:" + strconv.Itoa(pub), cmd: cmd}
	g.admin = "127.0.0.1:" + strconv.Itoa(adm)
	if err := waitHTTP("http://"+g.addr+"/readyz", 30*time.Second); err != nil {
		g.stop()
		log, _ := os.ReadFile(logFile.Name())
		return nil, fmt.Errorf("scimgate did not become ready: %w\n%s", err, log)
	}
	// serve creates the store: the CLI then works through its admin API.
	if _, err := g.cli("tenant", "create", loadTenant, "--name", "Load test"); err != nil {
		g.stop()
		return nil, err
	}
	var client struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	if err := g.cliJSON(&client, "client", "create", "--tenant", loadTenant, "--name", "Entra", "--kind", "entra"); err != nil {
		g.stop()
		return nil, err
	}
	var key struct {
		Key string `json:"api_key"`
	}
	if err := g.cliJSON(&key, "apikey", "create", "--tenant", loadTenant, "--name", "OneLogin"); err != nil {
		g.stop()
		return nil, err
	}
	g.clientID, g.clientSecret, g.apiKey = client.ID, client.Secret, key.Key
	return g, nil
}

func (g *gateway) cli(args ...string) ([]byte, error) {
	cmd := exec.Command(g.bin, append([]string{"--config", g.config}, args...)...)
	cmd.Env = g.env
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		return nil, fmt.Errorf("scimgate %s: %w\n%s", strings.Join(args, " "), err, stderr)
	}
	return out, nil
}

func (g *gateway) cliJSON(v any, args ...string) error {
	out, err := g.cli(append([]string{"--json"}, args...)...)
	if err != nil {
		return err
	}
	return json.Unmarshal(out, v)
}

// basicAuth is the client's Authorization header (client_secret_basic).
func (g *gateway) basicAuth() string {
	return "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(g.clientID)+":"+url.QueryEscape(g.clientSecret)))
}

// accessToken gets one client-credentials token, as Entra does before a
// provisioning cycle; it reuses it for the hour the token lives.
func (g *gateway) accessToken(ctx context.Context) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+g.addr+"/oauth2/token",
		strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(g.clientID), url.QueryEscape(g.clientSecret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != http.StatusOK || tok.AccessToken == "" {
		return "", fmt.Errorf("token request: %s %v", resp.Status, err)
	}
	return tok.AccessToken, nil
}

// profile saves scimgate's CPU and allocation profiles of the measured
// period of a scenario into o.profile, from the admin listener's pprof.
func (g *gateway) profile(ctx context.Context, o options, scenario string) {
	select {
	case <-time.After(o.warmup):
	case <-ctx.Done():
		return
	}
	seconds := max(1, int((o.duration - 500*time.Millisecond).Seconds()))
	var wg sync.WaitGroup
	for _, p := range []string{"profile", "allocs"} {
		wg.Go(func() {
			url := fmt.Sprintf("http://%s/debug/pprof/%s?seconds=%d", g.admin, p, seconds)
			file := filepath.Join(o.profile, scenario+"."+strings.Replace(p, "profile", "cpu", 1)+".pprof")
			if err := download(ctx, url, file); err != nil {
				fmt.Fprintln(os.Stderr, "load: profile:", err)
			}
		})
	}
	wg.Wait()
}

func download(ctx context.Context, url, file string) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
