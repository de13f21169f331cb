package app

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimgate/scimgate/config"
	"github.com/scimgate/scimgate/internal/adminapi"
	"github.com/scimgate/scimgate/internal/audit"
	"github.com/scimgate/scimgate/internal/credentials"
	"github.com/scimgate/scimgate/internal/logging"
	"github.com/scimgate/scimgate/internal/requestid"
	"github.com/scimgate/scimgate/internal/scim/scimtest"
	"github.com/scimgate/scimgate/internal/secret"
	"github.com/scimgate/scimgate/internal/store/storetest"
	"github.com/scimgate/scimgate/internal/testkit"
	"github.com/scimgate/scimgate/keys"
)

const testIssuer = "http://127.0.0.1:8080"

// server is a running App on the embedded store with a recording SCIM
// upstream, its logs at debug level and its audit stream in buffers.
type server struct {
	t          *testing.T
	app        *App
	public     string // base URL of the public listener
	admin      string // base URL of the admin listener
	adminToken string
	master     []byte
	kv         *storetest.Faulty
	logs       *testkit.SyncBuffer
	audit      *testkit.SyncBuffer
	upstream   *recordingUpstream
	client     *http.Client
	ops        *adminapi.Remote
	stop       context.CancelFunc
	done       chan error
}

type serverOptions struct {
	config func(*config.Config)
	// upstream wraps the SCIM upstream, e.g. to slow it down.
	upstream func(http.Handler) http.Handler
	scheme   string // "https" when the config sets TLS
	client   *http.Client
}

func startServer(t *testing.T, o serverOptions) *server {
	t.Helper()
	ctx := context.Background()
	s := &server{t: t, logs: &testkit.SyncBuffer{}, audit: &testkit.SyncBuffer{}, adminToken: secret.New(),
		upstream: &recordingUpstream{h: scimtest.New(scimtest.PerTenant())}, client: o.client}
	if s.client == nil {
		s.client = &http.Client{Timeout: 10 * time.Second}
	}
	var up http.Handler = s.upstream
	if o.upstream != nil {
		up = o.upstream(up)
	}
	upSrv := httptest.NewServer(up)
	t.Cleanup(upSrv.Close)

	cfg := config.Default()
	cfg.Issuer = testIssuer
	cfg.Listen.Public, cfg.Listen.Admin = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Listen.ShutdownTimeout = 5 * time.Second
	cfg.Log = config.Log{Level: slog.LevelDebug, Format: config.LogJSON}
	route := config.DefaultRoute()
	route.Prefix, route.Upstream = "/scim/v2", upSrv.URL+"/scim/v2"
	tenantRoute := config.DefaultRoute()
	tenantRoute.Prefix, tenantRoute.Upstream = "/t/{tenant}/scim/v2", upSrv.URL+"/scim/v2"
	cfg.Gateway.Routes = []config.Route{route, tenantRoute}
	if o.config != nil {
		o.config(cfg)
	}

	s.kv = &storetest.Faulty{KV: storetest.OpenBolt(t)}
	s.master = make([]byte, 32)
	_, _ = rand.Read(s.master)
	hasher, err := secret.NewHasher(s.master)
	if err != nil {
		t.Fatal(err)
	}
	log := logging.New(cfg.Log, s.logs)
	creds := credentials.New(s.kv, hasher, credentials.Options{Logger: log, DefaultAccessTTL: cfg.Tokens.AccessTTL,
		PasswordParams: secret.PasswordParams{MemoryKiB: 64, Time: 1, Threads: 1}})
	km, err := keys.New(s.kv, s.master, keys.Options{Leeway: cfg.Tokens.Leeway, MinRefetch: time.Millisecond, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := km.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(km.Close)
	s.app, err = New(cfg, Deps{KV: s.kv, Credentials: creds, Keys: km, AdminToken: s.adminToken,
		Logger: log, Audit: audit.New(s.audit), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	s.stop, s.done = stop, make(chan error, 1)
	addrs := make(chan [2]net.Addr, 1)
	go func() {
		s.done <- s.app.Run(runCtx, func(public, admin net.Addr) { addrs <- [2]net.Addr{public, admin} })
	}()
	scheme := o.scheme
	if scheme == "" {
		scheme = "http"
	}
	select {
	case a := <-addrs:
		s.public, s.admin = scheme+"://"+a[0].String(), scheme+"://"+a[1].String()
	case err := <-s.done:
		t.Fatalf("Run: %v", err)
	}
	t.Cleanup(func() { s.shutdown() })
	s.ops = adminapi.NewRemote(s.admin, s.adminToken, s.client)
	return s
}

// shutdown stops the server (once) and returns what Run returned.
func (s *server) shutdown() error {
	s.stop()
	select {
	case err, ok := <-s.done:
		if ok {
			close(s.done)
		}
		return err
	case <-time.After(30 * time.Second):
		s.t.Fatal("Run did not return after shutdown")
		return nil
	}
}

// credentials are a tenant's OAuth client and API key.
type testCredentials struct {
	tenant, clientID, clientSecret, apiKey string
}

func (s *server) newCredentials(tenant string) testCredentials {
	s.t.Helper()
	ctx := context.Background()
	if _, err := s.ops.CreateTenant(ctx, adminapi.NewTenant{ID: tenant}); err != nil {
		s.t.Fatal(err)
	}
	audiences := []string{testIssuer + "/scim/v2", testIssuer + "/t/{tenant}/scim/v2"}
	c, err := s.ops.CreateClient(ctx, adminapi.NewClient{TenantID: tenant, Name: "Entra", Kind: "entra", Audiences: audiences})
	if err != nil {
		s.t.Fatal(err)
	}
	k, err := s.ops.CreateAPIKey(ctx, adminapi.NewAPIKey{TenantID: tenant, Name: "okta", Audiences: audiences})
	if err != nil {
		s.t.Fatal(err)
	}
	return testCredentials{tenant: tenant, clientID: c.ClientID, clientSecret: c.ClientSecret, apiKey: k.Key}
}

type response struct {
	status int
	header http.Header
	body   string
}

// do sends one request to the public listener; header holds name, value pairs.
func (s *server) do(method, path, body string, header ...string) response {
	s.t.Helper()
	req, err := http.NewRequest(method, s.public+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, string(b)}
}

// token asks the token endpoint for a client-credentials token; extra
// holds header name, value pairs. It returns the token, or "" and the
// response when refused.
func (s *server) token(clientID, clientSecret string, extra ...string) (string, response) {
	s.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	req, _ := http.NewRequest(http.MethodPost, s.public+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(clientSecret))
	for i := 0; i+1 < len(extra); i += 2 {
		req.Header.Set(extra[i], extra[i+1])
	}
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := response{resp.StatusCode, resp.Header, string(b)}
	if resp.StatusCode != http.StatusOK {
		return "", r
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(b, &tok); err != nil || tok.AccessToken == "" {
		s.t.Fatalf("token response %s", b)
	}
	return tok.AccessToken, r
}

// get fetches a path of the admin listener without credentials.
func (s *server) getAdmin(path string) response {
	s.t.Helper()
	resp, err := s.client.Get(s.admin + path)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, string(b)}
}

// auditEvents parses the audit stream.
func (s *server) auditEvents() []map[string]any {
	var events []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(s.audit.String()), "\n") {
		if line == "" {
			continue
		}
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			s.t.Fatalf("audit line is not JSON: %q", line)
		}
		events = append(events, e)
	}
	return events
}

// recordingUpstream is the SCIM upstream, remembering the request ids it saw.
type recordingUpstream struct {
	h          http.Handler
	mu         sync.Mutex
	requestIDs []string
}

func (u *recordingUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.requestIDs = append(u.requestIDs, r.Header.Get(requestid.Header))
	u.mu.Unlock()
	u.h.ServeHTTP(w, r)
}

func (u *recordingUpstream) sawRequestID(id string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, got := range u.requestIDs {
		if got == id {
			return true
		}
	}
	return false
}

var errStoreDown = errors.New("store unreachable (test)")
