package replicas

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scimgate/scimgate/internal/adminapi"
	"github.com/scimgate/scimgate/internal/scim/scimtest"
	"github.com/scimgate/scimgate/internal/secret"
	"github.com/scimgate/scimgate/internal/store/storetest"
	"github.com/scimgate/scimgate/internal/testkit"
)

// binary is the scimgate executable TestMain builds.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "scimgate-replicas-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "scimgate")
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		goTool = "go"
	}
	build := exec.Command(goTool, "build", "-o", binary, "github.com/scimgate/scimgate/cmd/scimgate")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building scimgate:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// cluster is what several replicas share: one Redis key prefix, the master
// key, the admin token, a SCIM upstream and the issuer.
type cluster struct {
	t          *testing.T
	dir        string
	issuer     string
	prefix     string
	masterKey  string
	adminToken string
	upstream   string
	redisURL   string          // what the replicas connect to: Redis, or a relay to it
	ports      map[string]bool // handed out to the issuer and the replicas
	extra      string          // more YAML under listen:
	top        string          // more top-level YAML
}

func newCluster(t *testing.T, issuer string) *cluster {
	t.Helper()
	kv := storetest.OpenRedis(t) // a unique prefix, deleted at the end; skips or fails without Redis
	master := make([]byte, 32)
	_, _ = rand.Read(master)
	up := httptest.NewServer(scimtest.New(scimtest.PerTenant()))
	t.Cleanup(up.Close)
	if issuer == "" {
		issuer = "http://127.0.0.1:" + freePort(t)
	}
	c := &cluster{t: t, dir: t.TempDir(), issuer: issuer, prefix: kv.Prefix(),
		masterKey: base64.StdEncoding.EncodeToString(master), adminToken: secret.New(), upstream: up.URL + "/scim/v2",
		redisURL: storetest.RedisURL(), ports: map[string]bool{}}
	if u, err := url.Parse(issuer); err == nil && u.Port() != "" {
		c.ports[u.Port()] = true
	}
	return c
}

// port picks a free loopback port not yet handed out in this cluster: the
// kernel may give a port that freePort just closed to the next caller
// again, and two listeners of one replica on one port make it refuse to
// start.
func (c *cluster) port() string {
	for {
		if p := freePort(c.t); !c.ports[p] {
			c.ports[p] = true
			return p
		}
	}
}

// replica is one scimgate process.
type replica struct {
	c          *cluster
	name       string
	config     string
	public     string // base URLs
	admin      string
	cmd        *exec.Cmd
	exited     chan error
	stdout     *testkit.SyncBuffer
	stderr     *testkit.SyncBuffer
	publicPort string
	adminPort  string
}

// replica writes the configuration of a new replica; start runs it.
func (c *cluster) replica(name string) *replica {
	c.t.Helper()
	r := &replica{c: c, name: name, publicPort: c.port(), adminPort: c.port(),
		stdout: &testkit.SyncBuffer{}, stderr: &testkit.SyncBuffer{}}
	r.public, r.admin = "http://127.0.0.1:"+r.publicPort, "http://127.0.0.1:"+r.adminPort
	r.config = filepath.Join(c.dir, name+".yaml")
	yaml := fmt.Sprintf(`issuer: %s
listen:
  public: 127.0.0.1:%s
  admin: 127.0.0.1:%s
%s
store:
  backend: redis
  redis:
    url: %s
    prefix: %q
log:
  level: debug
keys:
  # Replicas re-read the key ring this often; it also bounds how soon a
  # forced rotation may follow the previous one (refresh + 1s).
  refresh_interval: 200ms
gateway:
  routes:
    - prefix: /scim/v2
      upstream: %s
%s`, c.issuer, r.publicPort, r.adminPort, c.extra, c.redisURL, c.prefix, c.upstream, c.top)
	if err := os.WriteFile(r.config, []byte(yaml), 0o600); err != nil {
		c.t.Fatal(err)
	}
	return r
}

// start runs the replica and waits until its /readyz answers 200.
func (r *replica) start() {
	t := r.c.t
	t.Helper()
	cmd := exec.Command(binary, "serve", "--config", r.config)
	cmd.Env = append(environment(), "SCIMGATE_MASTER_KEY="+r.c.masterKey, "SCIMGATE_ADMIN_TOKEN="+r.c.adminToken)
	cmd.Stdout, cmd.Stderr = r.stdout, r.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.cmd, r.exited = cmd, make(chan error, 1)
	go func() { r.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if r.cmd == cmd && cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-r.exited
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-r.exited:
			t.Fatalf("replica %s exited at start: %v\n%s", r.name, err, r.stderr.String())
		default:
		}
		if resp, err := http.Get(r.admin + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica %s not ready after 30s:\n%s", r.name, r.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (r *replica) stop() {
	t := r.c.t
	t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-r.exited:
		if err != nil {
			t.Errorf("replica %s exited with %v:\n%s", r.name, err, r.stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("replica %s did not exit within 60s of SIGTERM", r.name)
	}
}

// logs is everything the replica wrote: operational log and audit stream.
func (r *replica) logs() string { return r.stderr.String() + r.stdout.String() }

func (r *replica) ops() *adminapi.Remote {
	return adminapi.NewRemote(r.admin, r.c.adminToken, &http.Client{Timeout: 10 * time.Second})
}

// environment is the test's environment without SCIMGATE_ variables, which
// would configure the replicas.
func environment() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SCIMGATE_") {
			env = append(env, kv)
		}
	}
	return env
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// client is an OAuth client and an API key of one tenant.
type client struct {
	tenant, id, secret, apiKey string
}

func (c *cluster) newClient(via *replica, tenant string) client {
	c.t.Helper()
	ctx := context.Background()
	ops := via.ops()
	if _, err := ops.CreateTenant(ctx, adminapi.NewTenant{ID: tenant}); err != nil {
		c.t.Fatal(err)
	}
	cl, err := ops.CreateClient(ctx, adminapi.NewClient{TenantID: tenant, Name: "Entra", Kind: "entra"})
	if err != nil {
		c.t.Fatal(err)
	}
	k, err := ops.CreateAPIKey(ctx, adminapi.NewAPIKey{TenantID: tenant, Name: "okta"})
	if err != nil {
		c.t.Fatal(err)
	}
	return client{tenant: tenant, id: cl.ClientID, secret: cl.ClientSecret, apiKey: k.Key}
}

// httpClient is shared by the load and the checks; no retries of its own.
var httpClient = &http.Client{Timeout: 10 * time.Second}

// token asks base's token endpoint for a client-credentials token.
func token(base string, c client) (string, error) {
	form := url.Values{"grant_type": {"client_credentials"}}
	resp, err := request(http.MethodPost, base+"/oauth2/token", basicAuth(c), "application/x-www-form-urlencoded", form.Encode())
	if err != nil {
		return "", err
	}
	if resp.status != http.StatusOK {
		return "", fmt.Errorf("token endpoint: %d %s", resp.status, resp.body)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal([]byte(resp.body), &tok); err != nil {
		return "", err
	}
	return tok.AccessToken, nil
}

// basicAuth is c's client authentication in HTTP Basic, both halves
// form-encoded (RFC 6749 §2.3.1).
func basicAuth(c client) string {
	req, _ := http.NewRequest(http.MethodGet, "/", nil)
	req.SetBasicAuth(url.QueryEscape(c.id), url.QueryEscape(c.secret))
	return req.Header.Get("Authorization")
}

// scim sends one SCIM request and returns the status and the body.
func scim(method, base, path, auth, body string) (int, string, error) {
	contentType := ""
	if body != "" {
		contentType = "application/scim+json"
	}
	resp, err := request(method, base+path, auth, contentType, body)
	return resp.status, resp.body, err
}

type answer struct {
	status int
	header http.Header
	body   string
}

// request sends one request; auth and contentType are left out when "".
func request(method, url, auth, contentType, body string) (answer, error) {
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(b)}, nil
}

// revoke revokes token at base's revocation endpoint (RFC 7009).
func revoke(base string, c client, token string) error {
	req, _ := http.NewRequest(http.MethodPost, base+"/oauth2/revoke", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(c.id, c.secret)
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("revoke: %d", resp.StatusCode)
	}
	return nil
}
