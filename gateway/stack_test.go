package gateway_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/scimgate/scimgate/authserver"
	"github.com/scimgate/scimgate/config"
	"github.com/scimgate/scimgate/internal/credentials"
	"github.com/scimgate/scimgate/internal/ratelimit"
	"github.com/scimgate/scimgate/internal/stacktest"
)

// stack is the real public listener of scimgate (stacktest) in front of a
// real SCIM upstream, with clients and API keys of two tenants.
type stack struct {
	*stacktest.Stack
	t      testing.TB
	up     *upstream
	client *http.Client

	acme, acmeReader, globex clientCreds
	acmeKey, globexKey       string
}

type clientCreds struct{ id, secret string }

// Route prefixes of the test stack.
const (
	shared     = "/scim/v2"            // jwt and api_key, groups proxied to a user-only upstream
	perTenant  = "/t/{tenant}/scim/v2" // Okta Header mode, no groups upstream
	advisors   = "/advisors/scim"      // api_key only, with the upstream's own credential
	rooms      = "/rooms/scim"         // jwt only, short timeout, 1 KiB bodies, dialect off
	down       = "/down/scim"          // nothing listens upstream
	upstreamPW = "upstream-credential"
)

type stackOptions struct {
	upstream  string // base URL of another upstream than the recording one
	limits    config.GatewayLimits
	limiter   ratelimit.Limiter // nil: in process
	statusTTL time.Duration
	cacheSize int              // 0: 1000; -1: none
	now       func() time.Time // the stack's clock (time.Now)
}

func newStack(t testing.TB, o stackOptions) *stack {
	t.Helper()
	s := &stack{t: t, up: newUpstream(t), client: &http.Client{Timeout: 10 * time.Second}}
	upURL := s.up.srv.URL
	if o.upstream != "" {
		upURL = o.upstream
	}
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	downURL := "http://" + closed.Addr().String() + "/scim"
	closed.Close()
	route := func(prefix, upstream string, change func(*config.Route)) config.Route {
		r := config.DefaultRoute()
		r.Prefix, r.Upstream = prefix, upstream
		if change != nil {
			change(&r)
		}
		return r
	}
	cacheSize := o.cacheSize // -1: no verified-token cache
	switch {
	case cacheSize == 0:
		cacheSize = 1000
	case cacheSize < 0:
		cacheSize = 0
	}
	s.Stack = stacktest.Start(t, stacktest.Options{
		Gateway: config.Gateway{TokenCacheSize: cacheSize, Routes: []config.Route{
			route(shared, upURL+"/legacy", nil),
			route(perTenant, upURL+"/scim/v2/", func(r *config.Route) { r.RawAPIKey, r.Groups = true, config.GroupsEmpty }),
			route(advisors, upURL+"/advisors", func(r *config.Route) {
				r.Credentials = []config.Credential{config.CredentialAPIKey}
				r.Headers = map[string]config.Secret{"Authorization": "Bearer " + upstreamPW}
			}),
			route(rooms, upURL+"/rooms", func(r *config.Route) {
				r.Credentials = []config.Credential{config.CredentialJWT}
				r.Timeout, r.MaxBody, r.Dialect = 300*time.Millisecond, config.KiB, config.DialectOff
			}),
			route(down, downURL, nil),
		}},
		Limits:    o.limits,
		Limiter:   o.limiter,
		StatusTTL: o.statusTTL,
		Now:       o.now,
	})
	for _, id := range []string{"acme", "globex"} {
		if _, err := s.Credentials.CreateTenant(context.Background(), id, ""); err != nil {
			t.Fatal(err)
		}
	}

	audiences := []string{s.URL + shared, s.URL + perTenant, s.URL + advisors, s.URL + rooms, s.URL + down}
	s.acme = s.newClient("acme", nil, audiences)
	s.acmeReader = s.newClient("acme", []string{credentials.ScopeRead}, audiences)
	s.globex = s.newClient("globex", nil, audiences)
	s.acmeKey = s.newAPIKey("acme", audiences)
	s.globexKey = s.newAPIKey("globex", audiences)
	return s
}

func (s *stack) newClient(tenant string, scopes, audiences []string) clientCreds {
	s.t.Helper()
	c, sec, err := s.Credentials.CreateClient(context.Background(), credentials.ClientSpec{
		TenantID: tenant, Name: "Entra " + tenant, Kind: credentials.KindEntra, Scopes: scopes, Audiences: audiences,
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return clientCreds{c.ID, sec}
}

func (s *stack) newAPIKey(tenant string, audiences []string) string {
	s.t.Helper()
	_, key, err := s.Credentials.CreateAPIKey(context.Background(), credentials.APIKeySpec{TenantID: tenant, Name: "Okta", Audiences: audiences})
	if err != nil {
		s.t.Fatal(err)
	}
	return key
}

// token gets an access token from the real token endpoint, as Entra does.
func (s *stack) token(c clientCreds) string {
	s.t.Helper()
	cc := clientcredentials.Config{ClientID: c.id, ClientSecret: c.secret, TokenURL: s.URL + authserver.TokenPath}
	tok, err := cc.Token(context.Background())
	if err != nil {
		s.t.Fatalf("token endpoint: %v", err)
	}
	return tok.AccessToken
}

type response struct {
	status int
	header http.Header
	body   string
}

// do sends one request; auth is the whole Authorization value ("" for none).
func (s *stack) do(method, path, auth, body string, header ...string) response {
	s.t.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, string(b)}
}

// revoke revokes token at the real revocation endpoint (RFC 7009) with the
// credentials of c, the client it was issued to.
func (s *stack) revoke(c clientCreds, token string) {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+authserver.RevokePath, strings.NewReader(url.Values{"token": {token}}.Encode()))
	if err != nil {
		s.t.Fatal(err)
	}
	req.SetBasicAuth(url.QueryEscape(c.id), url.QueryEscape(c.secret))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatalf("revoke: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		s.t.Fatalf("revoke: %d", resp.StatusCode)
	}
}

func bearer(token string) string { return "Bearer " + token }
