package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scimgate/scimgate/config"
	"github.com/scimgate/scimgate/internal/adminapi"
)

const newUser = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ada@example.com","active":true}`

func TestHealthAndReadiness(t *testing.T) {
	s := startServer(t, serverOptions{})
	for _, base := range []string{s.public, s.admin} {
		for path, want := range map[string]int{"/healthz": 200, "/readyz": 200} {
			resp, err := s.client.Get(base + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want || resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("%s%s: %d, Cache-Control %q", base, path, resp.StatusCode, resp.Header.Get("Cache-Control"))
			}
		}
	}

	s.kv.Fail(errStoreDown)
	r := s.do(http.MethodGet, "/readyz", "")
	if r.status != http.StatusServiceUnavailable || !strings.Contains(r.body, errStoreDown.Error()) {
		t.Errorf("/readyz with the store down: %d %q", r.status, r.body)
	}
	if r := s.do(http.MethodGet, "/healthz", ""); r.status != http.StatusOK {
		t.Errorf("/healthz with the store down: %d, want 200 (alive)", r.status)
	}
	s.kv.Fail(nil)
	if r := s.do(http.MethodGet, "/readyz", ""); r.status != http.StatusOK {
		t.Errorf("/readyz after the store is back: %d %q", r.status, r.body)
	}
}

// metricLine matches one sample of the text exposition format.
var metricLine = regexp.MustCompile(`(?m)^(\w+)(\{[^}]*\})? (\S+)$`)

// scrape reads /metrics and returns the value of every sample by its name
// and labels as written.
func (s *server) scrape() map[string]float64 {
	s.t.Helper()
	r := s.getAdmin("/metrics")
	if r.status != http.StatusOK {
		s.t.Fatalf("/metrics: %d", r.status)
	}
	samples := map[string]float64{}
	for _, m := range metricLine.FindAllStringSubmatch(r.body, -1) {
		v, err := strconv.ParseFloat(m[3], 64)
		if err == nil {
			samples[m[1]+m[2]] = v
		}
	}
	return samples
}

func TestMetricsEndToEnd(t *testing.T) {
	s := startServer(t, serverOptions{config: func(c *config.Config) {
		c.RateLimit.Gateway = config.GatewayLimits{TenantRate: 100, TenantBurst: 100, CredentialRate: 1, CredentialBurst: 3}
	}})
	acme := s.newCredentials("acme")
	token, _ := s.token(acme.clientID, acme.clientSecret)
	if _, r := s.token(acme.clientID, "wrong-"+acme.clientSecret); r.status != http.StatusUnauthorized {
		t.Fatalf("wrong secret: %d", r.status)
	}
	if r := s.do(http.MethodPost, "/scim/v2/Users", newUser, "Authorization", "Bearer "+token); r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var limited response
	for range 5 {
		if limited = s.do(http.MethodGet, "/scim/v2/Users", "", "Authorization", "Bearer "+token); limited.status == http.StatusTooManyRequests {
			break
		}
	}
	if limited.status != http.StatusTooManyRequests || limited.header.Get("Retry-After") == "" ||
		!strings.Contains(limited.body, `"status":"429"`) || !strings.Contains(limited.body, "urn:ietf:params:scim:api:messages:2.0:Error") {
		t.Errorf("over the credential's limit: %d, Retry-After %q, %s", limited.status, limited.header.Get("Retry-After"), limited.body)
	}
	s.do(http.MethodGet, "/no/such/path", "")

	m := s.scrape()
	for sample, atLeast := range map[string]float64{
		`scimgate_http_requests_total{code="201",method="POST",route="/scim/v2"}`:                 1,
		`scimgate_http_requests_total{code="200",method="GET",route="/scim/v2"}`:                  1,
		`scimgate_http_requests_total{code="429",method="GET",route="/scim/v2"}`:                  1,
		`scimgate_http_requests_total{code="200",method="POST",route="/oauth2/token"}`:            1,
		`scimgate_http_requests_total{code="401",method="POST",route="/oauth2/token"}`:            1,
		`scimgate_http_requests_total{code="404",method="GET",route="unmatched"}`:                 1,
		`scimgate_http_request_duration_seconds_count{code="201",method="POST",route="/scim/v2"}`: 1,
		`scimgate_tokens_issued_total{grant="client_credentials"}`:                                1,
		`scimgate_tokens_refused_total{grant="client_credentials",reason="wrong_secret"}`:         1,
		`scimgate_upstream_request_duration_seconds_count{code="201",route="/scim/v2"}`:           1,
		`scimgate_cache_lookups_total{cache="token",result="miss"}`:                               1,
		`scimgate_cache_lookups_total{cache="token",result="hit"}`:                                1,
		`scimgate_ratelimit_rejections_total{limit="credential"}`:                                 1,
		`scimgate_build_info{goversion="` + runtime.Version() + `",version="test"}`:               1,
	} {
		if m[sample] < atLeast {
			t.Errorf("%s = %v, want at least %v", sample, m[sample], atLeast)
		}
	}
	for sample := range m {
		if strings.Contains(sample, "/no/such/path") || strings.Contains(sample, "acme") {
			t.Errorf("unbounded label in %s", sample)
		}
	}
	if r := s.do(http.MethodGet, "/metrics", ""); r.status != http.StatusNotFound {
		t.Errorf("/metrics on the public listener: %d, want 404", r.status)
	}
	if r := s.getAdmin("/debug/pprof/"); r.status != http.StatusNotFound {
		t.Errorf("pprof while disabled: %d, want 404", r.status)
	}
}

func TestMetricsAndPprofSwitches(t *testing.T) {
	s := startServer(t, serverOptions{config: func(c *config.Config) {
		c.Metrics.Enabled, c.Pprof.Enabled = false, true
	}})
	if r := s.getAdmin("/metrics"); r.status != http.StatusNotFound {
		t.Errorf("/metrics while disabled: %d, want 404", r.status)
	}
	if r := s.getAdmin("/debug/pprof/"); r.status != http.StatusOK || !strings.Contains(r.body, "goroutine") {
		t.Errorf("/debug/pprof/ while enabled: %d", r.status)
	}
	// Without metrics the requests are still served and logged.
	if r := s.do(http.MethodGet, "/no/such/path", ""); r.status != http.StatusNotFound {
		t.Errorf("unmatched path: %d", r.status)
	}
	if !strings.Contains(s.logs.String(), `"route":"unmatched"`) {
		t.Error("no debug line for the unmatched request")
	}
}

func TestRequestIDOnLogsAuditAndUpstream(t *testing.T) {
	s := startServer(t, serverOptions{})
	acme := s.newCredentials("acme")
	token, _ := s.token(acme.clientID, acme.clientSecret)
	r := s.do(http.MethodPost, "/scim/v2/Users", newUser, "Authorization", "Bearer "+token, "X-Request-Id", "trace-create-1")
	if r.status != http.StatusCreated || r.header.Get("X-Request-Id") != "trace-create-1" {
		t.Fatalf("create: %d, X-Request-Id %q", r.status, r.header.Get("X-Request-Id"))
	}
	if !s.upstream.sawRequestID("trace-create-1") {
		t.Error("the upstream did not get X-Request-Id")
	}
	r = s.do(http.MethodGet, "/scim/v2/Users", "", "Authorization", "Bearer "+token)
	generated := r.header.Get("X-Request-Id")
	if generated == "" || !s.upstream.sawRequestID(generated) {
		t.Errorf("generated request id %q not sent upstream", generated)
	}

	var created bool
	for _, e := range s.auditEvents() {
		if e["event"] == "scim.create" {
			created = true
			if e["request_id"] != "trace-create-1" || e["tenant"] != "acme" || e["client"] != acme.clientID ||
				e["resource"] != "Users" || e["id"] == "" || e["status"] != float64(201) {
				t.Errorf("scim.create event: %v", e)
			}
		}
	}
	if !created {
		t.Error("no scim.create audit event")
	}

	// Every log line written while serving a request names it.
	var requestLines int
	for line := range strings.SplitSeq(strings.TrimSpace(s.logs.String()), "\n") {
		var l map[string]any
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if l["msg"] == "http request" || l["msg"] == "gateway: request" {
			requestLines++
			if id, _ := l["request_id"].(string); id == "" {
				t.Errorf("request log line without request_id: %s", line)
			}
		}
	}
	if requestLines < 4 {
		t.Errorf("%d request log lines at debug level, want at least 4", requestLines)
	}
}

func TestTrustedProxyClientAddress(t *testing.T) {
	for _, c := range []struct {
		name    string
		trusted bool
		want    string
	}{{"behind a trusted proxy", true, "203.0.113.7"}, {"forged header", false, "127.0.0.1"}} {
		t.Run(c.name, func(t *testing.T) {
			s := startServer(t, serverOptions{config: func(cfg *config.Config) {
				if c.trusted {
					cfg.Listen.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
				}
				cfg.RateLimit.Token.FailuresPerIP = 2
				cfg.RateLimit.Authorize.PerIP = 2
			}})
			acme := s.newCredentials("acme")
			for range 2 {
				s.token(acme.clientID, "wrong", "X-Forwarded-For", "203.0.113.7")
			}
			_, third := s.token(acme.clientID, acme.clientSecret, "X-Forwarded-For", "203.0.113.7")
			_, other := s.token(acme.clientID, acme.clientSecret, "X-Forwarded-For", "198.51.100.9")
			s.do(http.MethodGet, "/scim/v2/Users", "", "Authorization", "Bearer wrong", "X-Forwarded-For", "203.0.113.7")

			// The per-address throttle counts the client, not the proxy:
			// behind a trusted proxy another client is not blocked.
			if third.status != http.StatusTooManyRequests {
				t.Errorf("third attempt from the failing address: %d, want 429", third.status)
			}
			if wantOther := map[bool]int{true: 200, false: 429}[c.trusted]; other.status != wantOther {
				t.Errorf("attempt from another client: %d, want %d", other.status, wantOther)
			}
			// So does the authorization endpoint's, configured through
			// ratelimit.authorize; a request without parameters is a 400 page.
			for range 2 {
				s.do(http.MethodGet, "/oauth2/authorize", "", "X-Forwarded-For", "203.0.113.7")
			}
			third = s.do(http.MethodGet, "/oauth2/authorize", "", "X-Forwarded-For", "203.0.113.7")
			other = s.do(http.MethodGet, "/oauth2/authorize", "", "X-Forwarded-For", "198.51.100.9")
			if third.status != http.StatusTooManyRequests || third.header.Get("Retry-After") == "" || !strings.HasPrefix(third.header.Get("Content-Type"), "text/html") {
				t.Errorf("third authorize request from one address: %d %v, want the 429 page with Retry-After", third.status, third.header)
			}
			if wantOther := map[bool]int{true: 400, false: 429}[c.trusted]; other.status != wantOther {
				t.Errorf("authorize request from another client: %d, want %d", other.status, wantOther)
			}
			var refused, gateway bool
			for _, e := range s.auditEvents() {
				switch e["event"] {
				case "token.refused":
					refused = true
					if e["ip"] != c.want && e["ip"] != "198.51.100.9" {
						t.Errorf("token.refused ip %v, want %s", e["ip"], c.want)
					}
				case "gateway.refused":
					gateway = true
					if e["remote"] != c.want {
						t.Errorf("gateway.refused remote %v, want %s", e["remote"], c.want)
					}
				}
			}
			if !refused || !gateway {
				t.Errorf("audit events missing: token.refused %v, gateway.refused %v", refused, gateway)
			}
			if !strings.Contains(s.logs.String(), `"client":"`+c.want+`"`) {
				t.Errorf("request log lines do not name client %s", c.want)
			}
		})
	}
}

// bothServers runs test with the public listener on h1server (the
// default) and on net/http's server alone.
func bothServers(t *testing.T, test func(t *testing.T, fastPath bool)) {
	for _, fastPath := range []bool{true, false} {
		t.Run(fmt.Sprintf("fast_path=%v", fastPath), func(t *testing.T) { test(t, fastPath) })
	}
}

func TestGracefulShutdown(t *testing.T) { bothServers(t, testGracefulShutdown) }

func testGracefulShutdown(t *testing.T, fastPath bool) {
	inUpstream := make(chan struct{}, 1)
	release := make(chan struct{})
	s := startServer(t, serverOptions{
		config: func(c *config.Config) { c.Listen.ShutdownDelay, c.Listen.FastPath = 2*time.Second, fastPath },
		upstream: func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPost {
					inUpstream <- struct{}{}
					<-release
				}
				h.ServeHTTP(w, r)
			})
		},
	})
	acme := s.newCredentials("acme")
	token, _ := s.token(acme.clientID, acme.clientSecret)

	inFlight := make(chan response, 1)
	go func() {
		inFlight <- s.do(http.MethodPost, "/scim/v2/Users", newUser, "Authorization", "Bearer "+token)
	}()
	<-inUpstream
	s.stop()
	for s.do(http.MethodGet, "/readyz", "").status != http.StatusServiceUnavailable {
		time.Sleep(10 * time.Millisecond)
	}
	// Draining: not ready, but requests are still served.
	if r := s.do(http.MethodGet, "/scim/v2/Users", "", "Authorization", "Bearer "+token); r.status != http.StatusOK {
		t.Errorf("request while draining: %d", r.status)
	}
	if r := s.do(http.MethodGet, "/healthz", ""); r.status != http.StatusOK {
		t.Errorf("/healthz while draining: %d", r.status)
	}
	close(release)
	if r := <-inFlight; r.status != http.StatusCreated {
		t.Errorf("in-flight request: %d %s", r.status, r.body)
	}
	if err := s.shutdown(); err != nil {
		t.Errorf("Run: %v", err)
	}
	if _, err := s.client.Get(s.public + "/healthz"); err == nil {
		t.Error("the public listener still accepts after shutdown")
	}
}

// TestShutdownTimeoutCutsOff shows the shutdown timeout is a bound: a
// request that outlives it does not hold the process.
func TestShutdownTimeoutCutsOff(t *testing.T) { bothServers(t, testShutdownTimeoutCutsOff) }

func testShutdownTimeoutCutsOff(t *testing.T, fastPath bool) {
	inUpstream := make(chan struct{}, 1)
	s := startServer(t, serverOptions{
		config: func(c *config.Config) { c.Listen.ShutdownTimeout, c.Listen.FastPath = 200*time.Millisecond, fastPath },
		upstream: func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPost {
					// A server notices a closed connection only once the
					// body is read.
					_, _ = io.Copy(io.Discard, r.Body)
					inUpstream <- struct{}{}
					<-r.Context().Done()
					return
				}
				h.ServeHTTP(w, r)
			})
		},
	})
	acme := s.newCredentials("acme")
	token, _ := s.token(acme.clientID, acme.clientSecret)
	go func() {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, s.public+"/scim/v2/Users", strings.NewReader(newUser))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/scim+json")
		if resp, err := s.client.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	<-inUpstream
	if err := s.shutdown(); err == nil {
		t.Error("Run returned no error although a request was cut off")
	}
	if !strings.Contains(s.logs.String(), "cut off") {
		t.Error("the log does not say requests were cut off")
	}
	// Durations as an operator reads them, not slog's nanoseconds.
	if !strings.Contains(s.logs.String(), `"timeout":"200ms"`) {
		t.Errorf("the shutdown lines do not say the timeout as 200ms:\n%s", s.logs)
	}
}

// The built-in demo upstream (the default route without a configuration)
// behaves as a SCIM service that knows its address: a created user's URI
// reaches the client as scimgate's public URL, in Location and in
// meta.location, never as the loopback port the demo service listens on.
func TestDemoUpstreamLocations(t *testing.T) {
	demo := config.Default().Gateway.Routes
	if len(demo) != 1 || demo[0].Prefix != "/scim/v2" || demo[0].Upstream != config.UpstreamMemory {
		t.Fatalf("the default routes are %+v", demo)
	}
	s := startServer(t, serverOptions{config: func(c *config.Config) { c.Gateway.Routes[0] = demo[0] }})
	acme := s.newCredentials("acme")
	token, _ := s.token(acme.clientID, acme.clientSecret)
	r := s.do(http.MethodPost, "/scim/v2/Users", newUser, "Authorization", "Bearer "+token)
	var created struct {
		ID   string
		Meta struct{ Location string }
	}
	_ = json.Unmarshal([]byte(r.body), &created)
	want := testIssuer + "/scim/v2/Users/" + created.ID // the configured public URL
	if r.status != http.StatusCreated || created.ID == "" || r.header.Get("Location") != want || created.Meta.Location != want {
		t.Fatalf("create: %d Location %q body %s; want %s", r.status, r.header.Get("Location"), r.body, want)
	}
	r = s.do(http.MethodGet, "/scim/v2/Users/"+created.ID, "", "Authorization", "Bearer "+token)
	if r.status != http.StatusOK || !strings.Contains(r.body, `"location":"`+want+`"`) {
		t.Fatalf("read: %d %s", r.status, r.body)
	}
}

// tokens.access_ttl is the lifetime of clients without their own, clamped to
// Entra's 1h–6h for Entra clients; a client's own --access-ttl wins.
func TestConfiguredAccessTTL(t *testing.T) {
	for name, tc := range map[string]struct {
		configured           time.Duration
		entra, api, apiOwn15 int // expires_in
	}{
		"30m": {30 * time.Minute, 3600, 1800, 900},
		"3h":  {3 * time.Hour, 3 * 3600, 3 * 3600, 900},
		"8h":  {8 * time.Hour, 6 * 3600, 8 * 3600, 900},
	} {
		t.Run(name, func(t *testing.T) {
			s := startServer(t, serverOptions{config: func(c *config.Config) { c.Tokens.AccessTTL = tc.configured }})
			creds := s.newCredentials("acme")
			newClient := func(own time.Duration) (string, string) {
				c, err := s.ops.CreateClient(context.Background(), adminapi.NewClient{TenantID: "acme", Name: "API", Kind: "api",
					Audiences: []string{testIssuer + "/scim/v2"}, AccessTTL: adminapi.Duration(own)})
				if err != nil {
					t.Fatal(err)
				}
				return c.ClientID, c.ClientSecret
			}
			apiID, apiSecret := newClient(0)
			ownID, ownSecret := newClient(15 * time.Minute)
			for _, c := range []struct {
				id, secret string
				want       int
			}{{creds.clientID, creds.clientSecret, tc.entra}, {apiID, apiSecret, tc.api}, {ownID, ownSecret, tc.apiOwn15}} {
				_, resp := s.token(c.id, c.secret)
				var body struct {
					ExpiresIn int `json:"expires_in"`
				}
				if err := json.Unmarshal([]byte(resp.body), &body); err != nil || body.ExpiresIn != c.want {
					t.Errorf("client %s: expires_in %d, want %d (%s)", c.id, body.ExpiresIn, c.want, resp.body)
				}
			}
		})
	}
}

// Disabling or deleting a client makes the gateway refuse the tokens it
// already holds within the status cache's lifetime (docs/management.md);
// enabling it again makes them work again.
func TestClientTokensFollowClientStatus(t *testing.T) {
	s := startServer(t, serverOptions{})
	creds := s.newCredentials("acme")
	token, _ := s.token(creds.clientID, creds.clientSecret)
	ctx := context.Background()
	wantStatus := func(step string, want int) {
		t.Helper()
		deadline := time.Now().Add(revocationPropagation + 2*time.Second)
		for {
			got := s.do(http.MethodGet, "/scim/v2/Users", "", "Authorization", "Bearer "+token).status
			if got == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: status %d, want %d", step, got, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	wantStatus("active", http.StatusOK)
	if _, err := s.ops.SetClientDisabled(ctx, creds.clientID, true); err != nil {
		t.Fatal(err)
	}
	wantStatus("disabled", http.StatusUnauthorized)
	if _, err := s.ops.SetClientDisabled(ctx, creds.clientID, false); err != nil {
		t.Fatal(err)
	}
	wantStatus("enabled again", http.StatusOK)
	if err := s.ops.DeleteClient(ctx, creds.clientID); err != nil {
		t.Fatal(err)
	}
	wantStatus("deleted", http.StatusUnauthorized)
}

// The public router (health, the authorization server, the gateway's
// routes, one with {tenant}) stays one the gateway dispatches directly: a
// route it cannot reason about sends every request through the router's
// regular expressions, which cost throughput unnoticed once (7ecead4).
func TestPublicRoutesAreDispatchedDirectly(t *testing.T) {
	s := startServer(t, serverOptions{})
	if strings.Contains(s.logs.String(), "routed by regular expression") {
		t.Fatalf("the gateway fell back to the router:\n%s", s.logs)
	}
}
