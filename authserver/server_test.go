package authserver

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/scimgate/scimgate/internal/accesstoken"
	"github.com/scimgate/scimgate/internal/audit"
	"github.com/scimgate/scimgate/internal/credentials"
	"github.com/scimgate/scimgate/internal/denylist"
	"github.com/scimgate/scimgate/internal/ratelimit"
	"github.com/scimgate/scimgate/internal/secret"
	"github.com/scimgate/scimgate/internal/store/storetest"
	"github.com/scimgate/scimgate/keys"
)

const testAudience = "http://scim.test/scim/v2"

// env is one authorization server on a real embedded store, served over
// HTTP, with one tenant "acme" and an Entra client.
type env struct {
	t        testing.TB
	handler  http.Handler
	kv       *storetest.Faulty // the real store, until a test makes it fail
	url      string
	creds    *credentials.Service
	hasher   *secret.Hasher
	keys     *keys.Manager
	deny     *denylist.List
	verifier *accesstoken.Verifier
	audit    *bytes.Buffer
	auditMu  *sync.Mutex
	clientID string
	secret   string
}

type lockedBuffer struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (l lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func newEnv(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	kv := &storetest.Faulty{KV: storetest.OpenBolt(t)}
	master := bytes.Repeat([]byte{42}, 32)
	hasher, err := secret.NewHasher(master)
	if err != nil {
		t.Fatal(err)
	}
	creds := credentials.New(kv, hasher, credentials.Options{PasswordParams: secret.PasswordParams{MemoryKiB: 64, Time: 1, Threads: 1}})
	if _, err := creds.CreateTenant(ctx, "acme", "Acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := creds.CreateTenant(ctx, "globex", "Globex"); err != nil {
		t.Fatal(err)
	}
	km, err := keys.New(kv, master, keys.Options{Leeway: 30 * time.Second, MinRefetch: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := km.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(km.Close)
	deny := denylist.New(kv, denylist.Options{})
	e := &env{t: t, kv: kv, creds: creds, hasher: hasher, keys: km, deny: deny, audit: &bytes.Buffer{}, auditMu: &sync.Mutex{}}
	ts := httptest.NewUnstartedServer(nil)
	ts.Start()
	t.Cleanup(ts.Close)
	e.url = ts.URL
	srv, err := New(Config{
		Issuer:            ts.URL,
		Leeway:            30 * time.Second,
		FailuresPerClient: ratelimit.PerWindow(10, time.Minute),
		FailuresPerIP:     ratelimit.PerWindow(30, time.Minute),
		ClientIP: func(r *http.Request) string { // tests choose their address
			if ip := r.Header.Get("X-Test-IP"); ip != "" {
				return ip
			}
			return peerIP(r)
		},
		Audit: audit.New(lockedBuffer{e.auditMu, e.audit}),
	}, Deps{Clients: creds, Keys: km, Revocations: deny, Limiter: ratelimit.NewLocal(ratelimit.LocalOptions{})})
	if err != nil {
		t.Fatal(err)
	}
	r := mux.NewRouter()
	srv.Register(r)
	ts.Config.Handler = r
	e.handler = r
	e.verifier = accesstoken.NewVerifier(ts.URL, 30*time.Second, km.Keyfunc, nil)
	e.clientID, e.secret = e.newClient(credentials.ClientSpec{TenantID: "acme", Name: "Entra", Kind: credentials.KindEntra, Audiences: []string{testAudience}})
	return e
}

func (e *env) newClient(spec credentials.ClientSpec) (string, string) {
	e.t.Helper()
	c, sec, err := e.creds.CreateClient(context.Background(), spec)
	if err != nil {
		e.t.Fatal(err)
	}
	return c.ID, sec
}

// post sends a raw token-endpoint style request.
func (e *env) post(path string, form url.Values, hdr map[string]string) (int, http.Header, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.url+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	return e.do(req)
}

func (e *env) do(req *http.Request) (int, http.Header, map[string]any) {
	e.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		e.t.Fatalf("%s %s: status %d, body is not JSON: %q", req.Method, req.URL.Path, resp.StatusCode, raw)
	}
	if d, ok := body["error_description"].(string); ok && !isErrorDescription(d) {
		e.t.Errorf("%s %s: error_description %q has characters RFC 6749 §5.2 does not allow", req.Method, req.URL.Path, d)
	}
	return resp.StatusCode, resp.Header, body
}

// isErrorDescription reports whether d is made of RFC 6749 §5.2's
// error_description characters: %x20-21 / %x23-5B / %x5D-7E.
func isErrorDescription(d string) bool {
	for i := 0; i < len(d); i++ {
		if c := d[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func basic(id, sec string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(sec)))
}

func ccForm(extra ...string) url.Values {
	f := url.Values{"grant_type": {"client_credentials"}}
	for i := 0; i+1 < len(extra); i += 2 {
		f.Set(extra[i], extra[i+1])
	}
	return f
}

func decodeSegment(t *testing.T, tok string, i int) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestClientCredentialsWithRealClient(t *testing.T) {
	e := newEnv(t)
	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
		cfg := clientcredentials.Config{ClientID: e.clientID, ClientSecret: e.secret, TokenURL: e.url + TokenPath, AuthStyle: style}
		tok, err := cfg.Token(context.Background())
		if err != nil {
			t.Fatalf("style %d: %v", style, err)
		}
		if tok.TokenType != "Bearer" || tok.RefreshToken != "" || time.Until(tok.Expiry) < 59*time.Minute || tok.Extra("scope") != "scim.full" {
			t.Fatalf("style %d: token %+v scope %v", style, tok, tok.Extra("scope"))
		}
		claims, err := e.verifier.Verify(tok.AccessToken, testAudience)
		if err != nil {
			t.Fatalf("style %d: issued token does not verify: %v", style, err)
		}
		if claims.ClientID != e.clientID || claims.Subject != e.clientID || claims.TenantID != "acme" || claims.ExpiresAt-claims.IssuedAt != 3600 {
			t.Fatalf("claims %+v", claims)
		}
		hdr := decodeSegment(t, tok.AccessToken, 0)
		if hdr["typ"] != "at+jwt" || hdr["alg"] != "ES256" || hdr["kid"] == "" {
			t.Fatalf("header %v", hdr)
		}
	}
}

func TestTokenEndpointChecklist(t *testing.T) {
	e := newEnv(t)
	okta, oktaSecret := e.newClient(credentials.ClientSpec{TenantID: "acme", Name: "Okta", Kind: credentials.KindOkta, OktaAppName: "acme", Audiences: []string{testAudience}})
	reader, readerSecret := e.newClient(credentials.ClientSpec{TenantID: "acme", Name: "Reader", Scopes: []string{credentials.ScopeRead}, Audiences: []string{testAudience, "http://scim.test/rooms"}})
	auth := basic(e.clientID, e.secret)
	for _, tc := range []struct {
		name   string
		path   string // default: token endpoint, with a query string if any
		form   url.Values
		hdr    map[string]string
		status int
		err    string
		desc   string // in error_description, when set
		scope  string
	}{
		{name: "A2 basic (entra A-01)", form: ccForm(), hdr: map[string]string{"Authorization": auth}, status: 200, scope: "scim.full"},
		{name: "A2 explicit scope (entra A-04)", form: ccForm("scope", "scim.full"), hdr: map[string]string{"Authorization": auth}, status: 200, scope: "scim.full"},
		{name: "A3 raw basic (unencoded halves)", form: ccForm(), hdr: map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(e.clientID+":"+e.secret))}, status: 200},
		{name: "A4 post (entra A-02)", form: ccForm("client_id", e.clientID, "client_secret", e.secret), status: 200},
		{name: "A5 both agree (entra A-03)", form: ccForm("client_id", e.clientID, "client_secret", e.secret), hdr: map[string]string{"Authorization": auth}, status: 200},
		{name: "A5 both disagree (entra A-11)", form: ccForm("client_id", e.clientID, "client_secret", "other"), hdr: map[string]string{"Authorization": auth}, status: 400, err: "invalid_request"},
		{name: "A5 both different ids", form: ccForm("client_id", okta), hdr: map[string]string{"Authorization": auth}, status: 400, err: "invalid_request"},
		{name: "A6 wrong secret basic (entra A-05)", form: ccForm(), hdr: map[string]string{"Authorization": basic(e.clientID, "wrong")}, status: 401, err: "invalid_client"},
		{name: "A6 wrong secret post", form: ccForm("client_id", e.clientID, "client_secret", "wrong"), status: 401, err: "invalid_client"},
		{name: "A6 no secret", form: ccForm("client_id", e.clientID), status: 401, err: "invalid_client"},
		{name: "A6 no credentials (entra A-06, the Both defect)", form: ccForm(), status: 401, err: "invalid_client"},
		{name: "A7 unknown client", form: ccForm(), hdr: map[string]string{"Authorization": basic("nobody", e.secret)}, status: 401, err: "invalid_client"},
		{name: "A8 missing grant_type", form: url.Values{}, hdr: map[string]string{"Authorization": auth}, status: 400, err: "invalid_request"},
		{name: "A8 unknown grant", form: url.Values{"grant_type": {"urn:x"}}, hdr: map[string]string{"Authorization": auth}, status: 400, err: "unsupported_grant_type"},
		{name: "A8 password grant (entra A-07)", form: url.Values{"grant_type": {"password"}, "username": {"a"}, "password": {"b"}}, hdr: map[string]string{"Authorization": auth}, status: 400, err: "unsupported_grant_type"},
		{name: "A8 implicit as grant", form: url.Values{"grant_type": {"implicit"}}, hdr: map[string]string{"Authorization": auth}, status: 400, err: "unsupported_grant_type"},
		{name: "A8 grant not allowed for client", form: ccForm(), hdr: map[string]string{"Authorization": basic(okta, oktaSecret)}, status: 400, err: "unauthorized_client"},
		{name: "O12 Okta's client-credentials variant, scope in the token URL", path: TokenPath + "?scope=scim.full", form: ccForm(), hdr: map[string]string{"Authorization": basic(okta, oktaSecret)}, status: 400, err: "unauthorized_client"},
		{name: "A10 unknown scope", form: ccForm("scope", "admin"), hdr: map[string]string{"Authorization": auth}, status: 400, err: "invalid_scope"},
		{name: "A10 narrower scope", form: ccForm("scope", "scim.read"), hdr: map[string]string{"Authorization": auth}, status: 200, scope: "scim.read"},
		{name: "A10 wider than client", form: ccForm("scope", "scim.write"), hdr: map[string]string{"Authorization": basic(reader, readerSecret)}, status: 400, err: "invalid_scope"},
		{name: "A10 offline_access on cc", form: ccForm("scope", "offline_access"), hdr: map[string]string{"Authorization": auth}, status: 400, err: "invalid_scope"},
		{name: "resource picks an audience", form: ccForm("resource", "http://scim.test/rooms"), hdr: map[string]string{"Authorization": basic(reader, readerSecret)}, status: 200, scope: "scim.read"},
		{name: "resource not the client's", form: ccForm("resource", "http://evil.test/"), hdr: map[string]string{"Authorization": auth}, status: 400, err: "invalid_target"},
		{name: "okta scope in the URL", path: TokenPath + "?scope=scim.read", form: ccForm(), hdr: map[string]string{"Authorization": auth}, status: 200, scope: "scim.read"},
		{name: "scope in URL and body disagree", path: TokenPath + "?scope=scim.read", form: ccForm("scope", "scim.full"), hdr: map[string]string{"Authorization": auth}, status: 400, err: "invalid_request"},
		{name: "A1 grant in the query", path: TokenPath + "?grant_type=client_credentials", form: url.Values{}, hdr: map[string]string{"Authorization": auth}, status: 400, err: "invalid_request"},
		{name: "A1 secret in the query", path: TokenPath + "?client_secret=" + e.secret, form: ccForm("client_id", e.clientID), status: 400, err: "invalid_request"},
		{name: "wrong content type", form: ccForm(), hdr: map[string]string{"Authorization": auth, "Content-Type": "application/json"}, status: 400, err: "invalid_request"},
		{name: "bearer instead of basic", form: ccForm(), hdr: map[string]string{"Authorization": "Bearer x"}, status: 400, err: "invalid_request"},
		{name: "broken basic", form: ccForm(), hdr: map[string]string{"Authorization": "Basic !!!"}, status: 400, err: "invalid_request"},
		{name: "basic with bad percent-encoding", form: ccForm(), hdr: map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("%zz:x"))}, status: 400, err: "invalid_request"},
		// A trailing slash typed into Entra's "Token Endpoint" or Okta's
		// "Token endpoint" field: an RFC 6749 error naming the endpoint,
		// not the gateway's SCIM 404.
		{name: "token endpoint with a trailing slash", path: TokenPath + "/", form: ccForm(), hdr: map[string]string{"Authorization": auth}, status: 404, err: "invalid_request", desc: "token endpoint is " + e.url + TokenPath + " exactly"},
		{name: "path below the token endpoint, without client authentication", path: TokenPath + "/x?grant_type=client_credentials", form: ccForm(), status: 404, err: "invalid_request", desc: e.url + TokenPath + " exactly"},
		{name: "introspection endpoint with a trailing slash", path: IntrospectPath + "/", form: url.Values{"token": {"x"}}, hdr: map[string]string{"Authorization": auth}, status: 404, err: "invalid_request", desc: e.url + IntrospectPath + " exactly"},
		{name: "revocation endpoint with a trailing slash", path: RevokePath + "/", form: url.Values{"token": {"x"}}, hdr: map[string]string{"Authorization": auth}, status: 404, err: "invalid_request", desc: e.url + RevokePath + " exactly"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if path == "" {
				path = TokenPath
			}
			status, hdr, body := e.post(path, tc.form, tc.hdr)
			if status != tc.status {
				t.Fatalf("status %d, want %d; body %v", status, tc.status, body)
			}
			if hdr.Get("Cache-Control") != "no-store" || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
				t.Fatalf("headers %v", hdr)
			}
			if tc.err != "" {
				if body["error"] != tc.err {
					t.Fatalf("error %v, want %s", body["error"], tc.err)
				}
				if d, _ := body["error_description"].(string); !strings.Contains(d, tc.desc) {
					t.Fatalf("error_description %q, want it to contain %q", d, tc.desc)
				}
				for k := range body { // A11: only RFC fields
					if k != "error" && k != "error_description" && k != "error_uri" {
						t.Fatalf("non-RFC field %q in %v", k, body)
					}
				}
				if status == 401 && !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Basic ") {
					t.Fatalf("401 without a Basic challenge: %v", hdr)
				}
				return
			}
			if body["token_type"] != "Bearer" || body["access_token"] == nil || body["refresh_token"] != nil {
				t.Fatalf("body %v", body)
			}
			if exp, ok := body["expires_in"].(float64); !ok || exp != 3600 {
				t.Fatalf("expires_in %v", body["expires_in"])
			}
			if tc.scope != "" && body["scope"] != tc.scope {
				t.Fatalf("scope %v, want %s", body["scope"], tc.scope)
			}
		})
	}
}

func TestDuplicateParametersAndMethod(t *testing.T) {
	e := newEnv(t)
	req, _ := http.NewRequest(http.MethodPost, e.url+TokenPath, strings.NewReader("grant_type=client_credentials&grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", basic(e.clientID, e.secret))
	if status, _, body := e.do(req); status != 400 || body["error"] != "invalid_request" {
		t.Fatalf("A9 duplicate grant_type: %d %v", status, body)
	}
	get, _ := http.NewRequest(http.MethodGet, e.url+TokenPath+"?grant_type=client_credentials", nil)
	get.Header.Set("Authorization", basic(e.clientID, e.secret))
	if status, _, body := e.do(get); status != 405 && status != 400 {
		t.Fatalf("GET token: %d %v", status, body)
	}
	big, _ := http.NewRequest(http.MethodPost, e.url+TokenPath, strings.NewReader("grant_type=client_credentials&x="+strings.Repeat("a", 20<<10)))
	big.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	big.Header.Set("Authorization", basic(e.clientID, e.secret))
	if status, _, body := e.do(big); status != 400 || body["error"] != "invalid_request" {
		t.Fatalf("oversized body: %d %v", status, body)
	}
}

// TestEveryUnreservedCharacter gives a client a secret and id made of every
// RFC 3986 unreserved character and authenticates with each method. Clients
// encode Basic differently (x/oauth2 encodes, curl -u does not, oauth4webapi
// encodes even "-"); all must work.
func TestEveryUnreservedCharacter(t *testing.T) {
	e := newEnv(t)
	const unreserved = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
	custom := unreserved + unreserved
	err := e.kv.Update(context.Background(), "clients/"+e.clientID, func(old []byte) ([]byte, time.Duration, error) {
		var c credentials.Client
		json.Unmarshal(old, &c)
		c.Secrets[0].Hash = e.hasher.Hash(custom)
		b, _ := json.Marshal(&c)
		return b, 0, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	encodeAll := func(s string) string { // percent-encode every character, like the strictest clients
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			b.WriteString("%" + strings.ToUpper(hexByte(s[i])))
		}
		return b.String()
	}
	for name, hdr := range map[string]string{
		"raw":          "Basic " + base64.StdEncoding.EncodeToString([]byte(e.clientID+":"+custom)),
		"form-encoded": basic(e.clientID, custom),
		"all encoded":  "Basic " + base64.StdEncoding.EncodeToString([]byte(e.clientID+":"+encodeAll(custom))),
	} {
		if status, _, body := e.post(TokenPath, ccForm(), map[string]string{"Authorization": hdr}); status != 200 {
			t.Errorf("%s: %d %v", name, status, body)
		}
	}
	if status, _, body := e.post(TokenPath, ccForm("client_id", e.clientID, "client_secret", custom), nil); status != 200 {
		t.Errorf("post: %d %v", status, body)
	}
	cfg := clientcredentials.Config{ClientID: e.clientID, ClientSecret: custom, TokenURL: e.url + TokenPath, AuthStyle: oauth2.AuthStyleInHeader}
	if _, err := cfg.Token(context.Background()); err != nil {
		t.Errorf("x/oauth2: %v", err)
	}
}

func hexByte(c byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[c>>4], digits[c&15]})
}

func TestSecretLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	token := func(sec string) int {
		status, _, _ := e.post(TokenPath, ccForm(), map[string]string{"Authorization": basic(e.clientID, sec)})
		return status
	}
	_, added, newSecret, err := e.creds.AddClientSecret(ctx, e.clientID, credentials.SecretSpec{TTL: 2 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if token(e.secret) != 200 || token(newSecret) != 200 {
		t.Fatal("A13 (entra A-10): during rotation both secrets must work")
	}
	c, _ := e.creds.Client(ctx, e.clientID)
	if _, err := e.creds.DeleteClientSecret(ctx, e.clientID, c.Secrets[0].ID); err != nil {
		t.Fatal(err)
	}
	if token(e.secret) != 401 || token(newSecret) != 200 {
		t.Fatal("A13: after deletion only the new secret works")
	}
	// Expire the remaining secret by rewriting its expiry into the past.
	err = e.kv.Update(ctx, "clients/"+e.clientID, func(old []byte) ([]byte, time.Duration, error) {
		var c credentials.Client
		json.Unmarshal(old, &c)
		for i := range c.Secrets {
			if c.Secrets[i].ID == added.ID {
				c.Secrets[i].Expires = time.Now().Add(-time.Second)
			}
		}
		b, _ := json.Marshal(&c)
		return b, 0, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if token(newSecret) != 401 {
		t.Fatal("A13 (entra A-12): an expired secret must fail with invalid_client")
	}
	if _, err := e.creds.SetTenantDisabled(ctx, "acme", true); err != nil {
		t.Fatal(err)
	}
}

func TestDisabledClientAndTenant(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	token := func() int {
		status, _, _ := e.post(TokenPath, ccForm(), map[string]string{"Authorization": basic(e.clientID, e.secret)})
		return status
	}
	e.creds.SetClientDisabled(ctx, e.clientID, true)
	if token() != 401 {
		t.Fatal("disabled client got a token")
	}
	e.creds.SetClientDisabled(ctx, e.clientID, false)
	e.creds.SetTenantDisabled(ctx, "acme", true)
	if token() != 401 {
		t.Fatal("client of a disabled tenant got a token")
	}
	e.creds.SetTenantDisabled(ctx, "acme", false)
	if token() != 200 {
		t.Fatal("re-enabled client got no token")
	}
}

func TestBruteForceThrottle(t *testing.T) {
	e := newEnv(t)
	attacker := map[string]string{"Authorization": basic(e.clientID, "guess"), "X-Test-IP": "203.0.113.9"}
	var throttled int
	for range 40 {
		status, hdr, body := e.post(TokenPath, ccForm(), attacker)
		switch status {
		case 401:
		case 429:
			throttled++
			if hdr.Get("Retry-After") == "" || body["error"] == nil {
				t.Fatalf("429 without Retry-After or error: %v %v", hdr, body)
			}
		default:
			t.Fatalf("unexpected status %d", status)
		}
	}
	if throttled == 0 {
		t.Fatal("A12: 40 wrong secrets were never throttled")
	}
	// The attacker's address is blocked even with the right secret...
	if status, _, _ := e.post(TokenPath, ccForm(), map[string]string{"Authorization": basic(e.clientID, e.secret), "X-Test-IP": "203.0.113.9"}); status != 429 {
		t.Fatalf("attacker address with the right secret: %d", status)
	}
	// ...while the real IdP, from its own address, is not locked out.
	if status, _, body := e.post(TokenPath, ccForm(), map[string]string{"Authorization": basic(e.clientID, e.secret), "X-Test-IP": "198.51.100.7"}); status != 200 {
		t.Fatalf("A12: the real client was locked out: %d %v", status, body)
	}
	// A second attacker address spraying the same client id is cut off by
	// the per-client budget after its first failure.
	other := map[string]string{"Authorization": basic(e.clientID, "guess2"), "X-Test-IP": "203.0.113.10"}
	e.post(TokenPath, ccForm(), other)
	if status, _, _ := e.post(TokenPath, ccForm(), other); status != 429 {
		t.Fatalf("per-client budget did not apply to a second failing address: %d", status)
	}
}

func TestKeyRotationKeepsOldTokensValid(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cfg := clientcredentials.Config{ClientID: e.clientID, ClientSecret: e.secret, TokenURL: e.url + TokenPath, AuthStyle: oauth2.AuthStyleInHeader}
	before, err := cfg.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.keys.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	after, err := cfg.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	kidBefore, kidAfter := decodeSegment(t, before.AccessToken, 0)["kid"], decodeSegment(t, after.AccessToken, 0)["kid"]
	if kidBefore == kidAfter {
		t.Fatal("C19: new tokens must carry the new kid")
	}
	for name, tok := range map[string]string{"pre-rotation": before.AccessToken, "post-rotation": after.AccessToken} {
		if _, err := e.verifier.Verify(tok, testAudience); err != nil {
			t.Errorf("C19: %s token does not verify: %v", name, err)
		}
	}
	_, _, jwks := e.get(JWKSPath)
	kids := map[any]bool{}
	for _, k := range jwks["keys"].([]any) {
		kids[k.(map[string]any)["kid"]] = true
	}
	if !kids[kidBefore] || !kids[kidAfter] {
		t.Fatalf("C19: JWKS %v lacks the old or new kid", kids)
	}
}

func (e *env) get(path string) (int, http.Header, map[string]any) {
	req, _ := http.NewRequest(http.MethodGet, e.url+path, nil)
	return e.do(req)
}

func TestMetadataAndJWKS(t *testing.T) {
	e := newEnv(t)
	status, hdr, md := e.get("/.well-known/oauth-authorization-server")
	if status != 200 || md["issuer"] != e.url || md["token_endpoint"] != e.url+TokenPath || md["jwks_uri"] != e.url+JWKSPath {
		t.Fatalf("D20 metadata %d %v", status, md)
	}
	for k, want := range map[string]string{
		"response_types_supported":              `["code"]`,
		"code_challenge_methods_supported":      `["S256"]`,
		"token_endpoint_auth_methods_supported": `["client_secret_basic","client_secret_post"]`,
	} {
		if got, _ := json.Marshal(md[k]); string(got) != want {
			t.Errorf("D20 %s = %s, want %s", k, got, want)
		}
	}
	for _, k := range []string{"introspection_endpoint", "revocation_endpoint", "scopes_supported", "grant_types_supported"} {
		if md[k] == nil {
			t.Errorf("D20 metadata lacks %s", k)
		}
	}
	if !strings.Contains(hdr.Get("Cache-Control"), "max-age") {
		t.Errorf("metadata Cache-Control %q", hdr.Get("Cache-Control"))
	}
	status, hdr, jwks := e.get(JWKSPath)
	if status != 200 || !strings.Contains(hdr.Get("Cache-Control"), "max-age=") {
		t.Fatalf("C18 jwks %d %v", status, hdr)
	}
	for _, k := range jwks["keys"].([]any) {
		m := k.(map[string]any)
		if m["kty"] == nil || m["kid"] == nil || m["use"] != "sig" || m["alg"] == nil {
			t.Errorf("C18 key lacks kty/kid/use/alg: %v", m)
		}
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
			if _, ok := m[private]; ok {
				t.Errorf("C18 private member %s published", private)
			}
		}
	}
}

func TestIntrospectionAndRevocation(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	globex, globexSecret := e.newClient(credentials.ClientSpec{TenantID: "globex", Name: "Globex", Audiences: []string{testAudience}})
	peer, peerSecret := e.newClient(credentials.ClientSpec{TenantID: "acme", Name: "Peer", Audiences: []string{testAudience}})
	_, _, body := e.post(TokenPath, ccForm(), map[string]string{"Authorization": basic(e.clientID, e.secret)})
	tok := body["access_token"].(string)
	self := map[string]string{"Authorization": basic(e.clientID, e.secret)}

	if status, hdr, body := e.post(IntrospectPath, url.Values{"token": {tok}}, nil); status != 401 || body["error"] != "invalid_client" || hdr.Get("WWW-Authenticate") == "" {
		t.Fatalf("E21 unauthenticated introspection: %d %v", status, body)
	}
	status, _, intro := e.post(IntrospectPath, url.Values{"token": {tok}}, self)
	if status != 200 || intro["active"] != true || intro["client_id"] != e.clientID || intro["scope"] != "scim.full" ||
		intro["token_type"] != "Bearer" || intro["iss"] != e.url || intro["sub"] != e.clientID || intro["exp"] == nil || intro["iat"] == nil || intro["aud"] != testAudience {
		t.Fatalf("E22 introspection %d %v", status, intro)
	}
	if _, _, intro := e.post(IntrospectPath, url.Values{"token": {tok}}, map[string]string{"Authorization": basic(peer, peerSecret)}); intro["active"] != true {
		t.Fatalf("a client of the same tenant must see the token: %v", intro)
	}
	for name, other := range map[string]string{"garbage": "x.y.z", "empty-ish": "abc"} {
		if _, _, intro := e.post(IntrospectPath, url.Values{"token": {other}}, self); len(intro) != 1 || intro["active"] != false {
			t.Fatalf("E23 %s: %v", name, intro)
		}
	}
	if _, _, intro := e.post(IntrospectPath, url.Values{"token": {tok}}, map[string]string{"Authorization": basic(globex, globexSecret)}); len(intro) != 1 || intro["active"] != false {
		t.Fatalf("another tenant sees the token: %v", intro)
	}
	if status, _, body := e.post(IntrospectPath, url.Values{}, self); status != 400 || body["error"] != "invalid_request" {
		t.Fatalf("introspection without token: %d %v", status, body)
	}

	// F25: neither another tenant nor another client of the same tenant can revoke it.
	for name, other := range map[string]string{"other tenant": basic(globex, globexSecret), "same tenant, other client": basic(peer, peerSecret)} {
		if status, _, body := e.post(RevokePath, url.Values{"token": {tok}}, map[string]string{"Authorization": other}); status != 400 || body["error"] != "unauthorized_client" {
			t.Fatalf("F25 %s revokes: %d %v", name, status, body)
		}
	}
	if _, _, intro := e.post(IntrospectPath, url.Values{"token": {tok}}, self); intro["active"] != true {
		t.Fatal("F25 token no longer active after a refused revocation")
	}
	// F24: unknown token and wrong hint.
	if status, _, _ := e.post(RevokePath, url.Values{"token": {"nonsense"}}, self); status != 200 {
		t.Fatalf("F24 unknown token: %d", status)
	}
	if status, _, _ := e.post(RevokePath, url.Values{"token": {tok}, "token_type_hint": {"refresh_token"}}, self); status != 200 {
		t.Fatalf("F24 revoke with a wrong hint: %d", status)
	}
	if _, _, intro := e.post(IntrospectPath, url.Values{"token": {tok}}, self); len(intro) != 1 || intro["active"] != false {
		t.Fatalf("F26 revoked token still active: %v", intro)
	}
	claims, _ := e.verifier.Verify(tok, testAudience)
	if revoked, _ := e.deny.Revoked(ctx, claims.ID); !revoked {
		t.Fatal("F26 jti not on the deny-list")
	}
	e.auditMu.Lock()
	defer e.auditMu.Unlock()
	if !strings.Contains(e.audit.String(), `"event":"token.revoked"`) || !strings.Contains(e.audit.String(), `"event":"token.issued"`) {
		t.Fatalf("audit stream lacks events: %s", e.audit)
	}
}

// TestNothingSecretInAudit issues and refuses tokens and checks that neither
// a client secret nor an access token reaches the audit stream.
func TestNothingSecretInAudit(t *testing.T) {
	e := newEnv(t)
	_, _, body := e.post(TokenPath, ccForm(), map[string]string{"Authorization": basic(e.clientID, e.secret)})
	e.post(TokenPath, ccForm(), map[string]string{"Authorization": basic(e.clientID, e.secret+"x")})
	e.auditMu.Lock()
	defer e.auditMu.Unlock()
	out := e.audit.String()
	tok := body["access_token"].(string)
	for _, s := range []string{e.secret, tok, strings.Split(tok, ".")[2]} {
		if strings.Contains(out, s) {
			t.Fatalf("secret material in the audit stream: %s", out)
		}
	}
	if !strings.Contains(out, `"reason":"wrong_secret"`) {
		t.Fatalf("refusal reason missing: %s", out)
	}
}

// FuzzTokenRequest throws arbitrary bodies and Authorization headers at the
// token endpoint: it must never answer 500 and always answer RFC 6749 JSON.
func FuzzTokenRequest(f *testing.F) {
	f.Add("grant_type=client_credentials", "Basic Y2lkOnNlYw==", "application/x-www-form-urlencoded")
	f.Add("grant_type=client_credentials&client_id=a&client_secret=b&scope=scim.full", "", "application/x-www-form-urlencoded")
	f.Add("grant_type=authorization_code&code=x&redirect_uri=https://a", "Basic %%%", "application/x-www-form-urlencoded; charset=utf-8")
	f.Add("grant_type=refresh_token&refresh_token=x&scope=a%20b", "Bearer x", "text/plain")
	f.Add("%zz=1&grant_type=client_credentials", "Basic OjpAQA==", "application/x-www-form-urlencoded")
	e := newEnv(f)
	f.Fuzz(func(t *testing.T, body, authz, contentType string) {
		req := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		rec := httptest.NewRecorder()
		e.handler.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for body %q auth %q: %s", rec.Code, body, authz, rec.Body)
		}
		var out map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("non-JSON answer %q", rec.Body)
		}
		if rec.Code != 200 && out["error"] == nil {
			t.Fatalf("error answer without error field: %s", rec.Body)
		}
	})
}

// While the store cannot be read, every endpoint that needs it answers 503
// temporarily_unavailable with Retry-After, as the gateway does, not 500
// and not invalid_client: a client must retry, not distrust its secret.
func TestStoreDownAnswers503(t *testing.T) {
	e := newEnv(t)
	status, _, body := e.post(TokenPath, url.Values{"grant_type": {"client_credentials"}}, map[string]string{"Authorization": basic(e.clientID, e.secret)})
	if status != http.StatusOK {
		t.Fatalf("token before the failure: %d %v", status, body)
	}
	tok := body["access_token"].(string)
	e.kv.Fail(errors.New("store unreachable (test)"))
	for _, tc := range []struct {
		path string
		form url.Values
	}{
		{TokenPath, url.Values{"grant_type": {"client_credentials"}}},
		{IntrospectPath, url.Values{"token": {tok}}},
		{RevokePath, url.Values{"token": {tok}}},
	} {
		status, hdr, body := e.post(tc.path, tc.form, map[string]string{"Authorization": basic(e.clientID, e.secret)})
		if status != http.StatusServiceUnavailable || body["error"] != "temporarily_unavailable" || hdr.Get("Retry-After") != "1" ||
			hdr.Get("Cache-Control") != "no-store" || strings.Contains(fmt.Sprint(body), "unreachable") {
			t.Errorf("%s with the store down: %d %v %v", tc.path, status, hdr, body)
		}
	}
	e.kv.Fail(nil)
	if status, _, body := e.post(TokenPath, url.Values{"grant_type": {"client_credentials"}}, map[string]string{"Authorization": basic(e.clientID, e.secret)}); status != http.StatusOK {
		t.Fatalf("token once the store is back: %d %v", status, body)
	}
}

// A token.refused event names the client's tenant and id once the client is
// known, also when it fails to authenticate, and never for an unknown id.
func TestRefusalAuditNamesKnownClient(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	disabledID, disabledSecret := e.newClient(credentials.ClientSpec{TenantID: "acme", Name: "Off", Kind: credentials.KindAPI, Audiences: []string{testAudience}})
	if _, err := e.creds.SetClientDisabled(ctx, disabledID, true); err != nil {
		t.Fatal(err)
	}
	globexID, globexSecret := e.newClient(credentials.ClientSpec{TenantID: "globex", Name: "Globex", Kind: credentials.KindAPI, Audiences: []string{testAudience}})
	if _, err := e.creds.SetTenantDisabled(ctx, "globex", true); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		id, secret     string
		reason, tenant string // tenant "": no tenant or client_id
	}{
		"unknown":         {"nosuchclient", "not-a-secret-of-anyone", "unknown", ""},
		"wrong secret":    {e.clientID, e.secret + "x", "wrong_secret", "acme"},
		"disabled":        {disabledID, disabledSecret, "disabled", "acme"},
		"tenant disabled": {globexID, globexSecret, "tenant_disabled", "globex"},
	} {
		t.Run(name, func(t *testing.T) {
			e.auditMu.Lock()
			e.audit.Reset()
			e.auditMu.Unlock()
			if status, _, _ := e.post(TokenPath, ccForm(), map[string]string{"Authorization": basic(tc.id, tc.secret), "X-Test-IP": "192.0.2." + strconv.Itoa(len(name))}); status != http.StatusUnauthorized {
				t.Fatalf("status %d", status)
			}
			e.auditMu.Lock()
			out := e.audit.String()
			e.auditMu.Unlock()
			var ev map[string]any
			if err := json.Unmarshal([]byte(out), &ev); err != nil || ev["event"] != "token.refused" || ev["reason"] != tc.reason {
				t.Fatalf("audit: %v %s", err, out)
			}
			wantID := tc.id
			if tc.tenant == "" {
				wantID = ""
			}
			if tenant, _ := ev["tenant"].(string); tenant != tc.tenant {
				t.Errorf("tenant %q, want %q", tenant, tc.tenant)
			}
			if id, _ := ev["client_id"].(string); id != wantID {
				t.Errorf("client_id %q, want %q", id, wantID)
			}
			if strings.Contains(out, tc.secret) {
				t.Errorf("secret in the audit stream: %s", out)
			}
		})
	}
}
