package authserver

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"golang.org/x/oauth2"

	"github.com/scimgate/scimgate/internal/accesstoken"
	"github.com/scimgate/scimgate/internal/audit"
	"github.com/scimgate/scimgate/internal/credentials"
	"github.com/scimgate/scimgate/internal/grants"
	"github.com/scimgate/scimgate/internal/ratelimit"
	"github.com/scimgate/scimgate/internal/store/storetest"
	"github.com/scimgate/scimgate/internal/testkit"
)

const (
	oktaCallback  = "https://okta.test/admin/app/cpc/acme/oauth/callback"
	adminPassword = "correct horse battery staple"
)

// codeEnv is env with the authorization-code flow enabled: a second server
// on the same stores, an Okta client of tenant acme, and admins in acme and
// globex.
type codeEnv struct {
	*env
	clock              *testkit.Clock
	grants             *grants.Store
	grantsKV           *storetest.Faulty // the grants' view of the store
	okta, oktaSecret   string
	okta2, okta2Secret string // another Okta client of acme
}

// newCodeEnv builds the authorization-code environment; change, if given,
// adjusts the server's dependencies first.
func newCodeEnv(t testing.TB, change ...func(*Deps)) *codeEnv {
	t.Helper()
	e := newEnv(t)
	clk := &testkit.Clock{}
	grantsKV := &storetest.Faulty{KV: e.kv}
	g, err := grants.New(grantsKV, grants.Options{RefreshGrace: 30 * time.Second, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(nil)
	ts.Start()
	t.Cleanup(ts.Close)
	deps := Deps{Clients: e.creds, Keys: e.keys, Revocations: e.deny, Limiter: ratelimit.NewLocal(ratelimit.LocalOptions{}),
		Grants: g, Admins: e.creds, Directory: e.creds}
	for _, c := range change {
		c(&deps)
	}
	srv, err := New(Config{
		Issuer:            ts.URL,
		Leeway:            30 * time.Second,
		FailuresPerClient: ratelimit.PerWindow(10, time.Minute),
		FailuresPerIP:     ratelimit.PerWindow(30, time.Minute),
		ClientIP: func(r *http.Request) string {
			if ip := r.Header.Get("X-Test-IP"); ip != "" {
				return ip
			}
			return peerIP(r)
		},
		Audit:  audit.New(lockedBuffer{e.auditMu, e.audit}),
		Now:    clk.Now,
		Logger: slog.New(slog.NewTextHandler(testLog{t}, nil)),
	}, deps)
	if err != nil {
		t.Fatal(err)
	}
	r := mux.NewRouter()
	srv.Register(r)
	ts.Config.Handler = r
	e.url, e.handler = ts.URL, r
	e.verifier = accesstoken.NewVerifier(ts.URL, 30*time.Second, e.keys.Keyfunc, clk.Now)
	ce := &codeEnv{env: e, clock: clk, grants: g, grantsKV: grantsKV}
	ce.okta, ce.oktaSecret = e.newClient(credentials.ClientSpec{TenantID: "acme", Name: "Okta SCIM", Kind: credentials.KindOkta,
		OktaAppName: "acme", RedirectURIs: []string{oktaCallback}, Audiences: []string{testAudience}})
	ce.okta2, ce.okta2Secret = e.newClient(credentials.ClientSpec{TenantID: "acme", Name: "Second Okta", Kind: credentials.KindOkta,
		RedirectURIs: []string{oktaCallback}, Audiences: []string{testAudience}})
	for _, a := range [][2]string{{"acme", "ada"}, {"globex", "bob"}} {
		if _, _, err := e.creds.CreateAdmin(context.Background(), a[0], a[1], adminPassword); err != nil {
			t.Fatal(err)
		}
	}
	return ce
}

// testLog sends the server's operational log to the test log.
type testLog struct{ t testing.TB }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// browser stands in for the admin's browser without JavaScript.
type browser = testkit.Browser

func (ce *codeEnv) browser(t testing.TB) *browser { return testkit.NewBrowser(t, ce.url) }

// authorizeQuery is what Okta sends, plus extra key/value pairs.
func (ce *codeEnv) authorizeQuery(extra ...string) url.Values {
	q := url.Values{"response_type": {"code"}, "client_id": {ce.okta}, "redirect_uri": {oktaCallback},
		"state": {"okta-state-123"}, "scope": {"scim.full offline_access"}}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == "" {
			q.Del(extra[i])
			continue
		}
		q.Set(extra[i], extra[i+1])
	}
	return q
}

// signIn opens the authorize URL and signs in; it returns the consent page.
func (ce *codeEnv) signIn(t testing.TB, b *browser, q url.Values, username string) string {
	t.Helper()
	resp, page := b.Get(ce.url + AuthorizePath + "?" + q.Encode())
	if resp.StatusCode != 200 {
		t.Fatalf("authorize: %d %s %s", resp.StatusCode, resp.Header.Get("Location"), page)
	}
	resp, page = b.Post(ce.url+SignInPath, url.Values{"csrf": {testkit.CSRF(t, page)}, "username": {username}, "password": {adminPassword}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != ConsentPath || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("sign-in: %d %s (Cache-Control %q) %s", resp.StatusCode, resp.Header.Get("Location"), resp.Header.Get("Cache-Control"), page)
	}
	resp, page = b.Get(ce.url + ConsentPath)
	if resp.StatusCode != 200 {
		t.Fatalf("consent page: %d %s", resp.StatusCode, page)
	}
	return page
}

// authorize runs the whole browser part and returns where the admin was
// sent back to.
func (ce *codeEnv) authorize(t testing.TB, q url.Values, decision string) *url.URL {
	t.Helper()
	b := ce.browser(t)
	page := ce.signIn(t, b, q, "ada")
	resp, body := b.Post(ce.url+ConsentPath, url.Values{"csrf": {testkit.CSRF(t, page)}, "decision": {decision}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("consent: %d %s", resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func (ce *codeEnv) code(t testing.TB, q url.Values) string {
	t.Helper()
	loc := ce.authorize(t, q, "allow")
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != oktaCallback || loc.Query().Get("state") != q.Get("state") {
		t.Fatalf("redirect %s", loc)
	}
	code := loc.Query().Get("code")
	if !strings.HasPrefix(code, grants.CodePrefix) {
		t.Fatalf("no code in %s", loc)
	}
	return code
}

func codeForm(code string, extra ...string) url.Values {
	f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {oktaCallback}}
	for i := 0; i+1 < len(extra); i += 2 {
		f.Set(extra[i], extra[i+1])
	}
	return f
}

func refreshForm(token string, extra ...string) url.Values {
	f := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}}
	for i := 0; i+1 < len(extra); i += 2 {
		f.Set(extra[i], extra[i+1])
	}
	return f
}

func (ce *codeEnv) oktaAuth() map[string]string {
	return map[string]string{"Authorization": basic(ce.okta, ce.oktaSecret)}
}

func pkcePair() (verifier, challenge string) {
	verifier = oauth2.GenerateVerifier()
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

func TestCodeFlowIssuesAdminTokens(t *testing.T) {
	ce := newCodeEnv(t)
	verifier, challenge := pkcePair()
	code := ce.code(t, ce.authorizeQuery("code_challenge", challenge, "code_challenge_method", "S256"))
	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
		cfg := oauth2.Config{ClientID: ce.okta, ClientSecret: ce.oktaSecret, RedirectURL: oktaCallback,
			Endpoint: oauth2.Endpoint{AuthURL: ce.url + AuthorizePath, TokenURL: ce.url + TokenPath, AuthStyle: style}}
		tok, err := cfg.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("style %d: %v", style, err)
		}
		if tok.TokenType != "Bearer" || !strings.HasPrefix(tok.RefreshToken, grants.RefreshPrefix) || tok.Extra("scope") != "scim.full offline_access" ||
			time.Until(tok.Expiry) < 59*time.Minute {
			t.Fatalf("token %+v scope %v", tok, tok.Extra("scope"))
		}
		claims, err := ce.verifier.Verify(tok.AccessToken, testAudience)
		if err != nil {
			t.Fatal(err)
		}
		if claims.Subject != "admin:acme/ada" || claims.TenantID != "acme" || claims.ClientID != ce.okta || claims.AuthTime == 0 ||
			claims.ExpiresAt-claims.IssuedAt != 3600 || claims.Scope != "scim.full offline_access" {
			t.Fatalf("claims %+v", claims)
		}
		// A fresh code for the second auth style.
		code = ce.code(t, ce.authorizeQuery("code_challenge", challenge, "code_challenge_method", "S256"))
	}
	ce.auditMu.Lock()
	defer ce.auditMu.Unlock()
	for _, ev := range []string{audit.AdminSignIn, audit.ConsentGranted, audit.TokenIssued} {
		if !strings.Contains(ce.audit.String(), `"event":"`+ev+`"`) {
			t.Errorf("audit stream lacks %s", ev)
		}
	}
	if strings.Contains(ce.audit.String(), adminPassword) || strings.Contains(ce.audit.String(), code) {
		t.Fatal("a password or code reached the audit stream")
	}
}

func TestNoOfflineAccessNoRefreshToken(t *testing.T) {
	ce := newCodeEnv(t)
	code := ce.code(t, ce.authorizeQuery("scope", "scim.read"))
	status, _, body := ce.post(TokenPath, codeForm(code), ce.oktaAuth())
	if status != 200 || body["refresh_token"] != nil || body["scope"] != "scim.read" {
		t.Fatalf("%d %v", status, body)
	}
	// No scope at all grants the client's scopes, offline_access included.
	code = ce.code(t, ce.authorizeQuery("scope", ""))
	if status, _, body := ce.post(TokenPath, codeForm(code), ce.oktaAuth()); status != 200 || body["refresh_token"] == nil || body["scope"] != "scim.full offline_access" {
		t.Fatalf("no scope: %d %v", status, body)
	}
}

// TestOktaRedirectURIs is O2: each of the five callback URIs Okta requires
// of OIN apps (okta.md §3.2), registered by the client's Okta app name,
// the plain-http one on port 1802 included, gets its code and redeems it.
func TestOktaRedirectURIs(t *testing.T) {
	ce := newCodeEnv(t)
	for _, uri := range credentials.OktaRedirectURIs("acme") {
		t.Run(uri, func(t *testing.T) {
			q := ce.authorizeQuery("redirect_uri", uri)
			loc := ce.authorize(t, q, "allow")
			if got := loc.Scheme + "://" + loc.Host + loc.Path; got != uri || loc.Query().Get("state") != q.Get("state") || loc.Query().Get("code") == "" {
				t.Fatalf("redirect %s", loc)
			}
			if status, _, body := ce.post(TokenPath, codeForm(loc.Query().Get("code"), "redirect_uri", uri), ce.oktaAuth()); status != 200 {
				t.Fatalf("redeem: %d %v", status, body)
			}
		})
	}
}

// TestOktaTokenLifecycle follows one Okta connection: the code redeemed
// with client_secret_basic and no PKCE gives everything Okta stores (O4);
// refreshes work with either client authentication (O8), after weeks
// without a SCIM call, each one sliding the lifetime (O9), and only a
// connection idle for longer than tokens.refresh_ttl ends.
func TestOktaTokenLifecycle(t *testing.T) {
	ce := newCodeEnv(t)
	status, _, body := ce.post(TokenPath, codeForm(ce.code(t, ce.authorizeQuery())), ce.oktaAuth())
	if status != 200 || body["token_type"] != "Bearer" || body["expires_in"] != 3600.0 || body["scope"] != "scim.full offline_access" ||
		body["access_token"] == nil || !strings.HasPrefix(fmt.Sprint(body["refresh_token"]), grants.RefreshPrefix) {
		t.Fatalf("O4: %d %v", status, body)
	}
	day := 24 * time.Hour
	post := map[string]string{"Authorization": ""}
	for _, tc := range []struct {
		name  string
		idle  time.Duration
		auth  map[string]string
		extra []string
	}{
		{"O8 client_secret_basic", time.Hour, ce.oktaAuth(), nil},
		{"O8 client_secret_post", time.Hour, post, []string{"client_id", ce.okta, "client_secret", ce.oktaSecret}},
		{"O9 after 30 idle days", 30 * day, ce.oktaAuth(), nil},
		{"O9 after 89 more idle days", 89 * day, post, []string{"client_id", ce.okta, "client_secret", ce.oktaSecret}},
	} {
		ce.clock.Advance(tc.idle)
		rt := body["refresh_token"].(string)
		status, _, next := ce.post(TokenPath, refreshForm(rt, tc.extra...), tc.auth)
		if status != 200 || next["refresh_token"] == nil || next["refresh_token"] == rt || next["token_type"] != "Bearer" || next["scope"] != "scim.full offline_access" {
			t.Fatalf("%s: %d %v", tc.name, status, next)
		}
		body = next
	}
	ce.clock.Advance(grants.DefaultRefreshTTL + time.Second)
	if status, _, next := ce.post(TokenPath, refreshForm(body["refresh_token"].(string)), ce.oktaAuth()); status != 400 || next["error"] != "invalid_grant" {
		t.Fatalf("after a full idle lifetime: %d %v", status, next)
	}
}

// TestAuthorizeNeverRedirectsToUntrustedURIs is checklist item 27: every
// request whose client or redirect URI is not trusted gets an error page
// and no Location.
func TestAuthorizeNeverRedirectsToUntrustedURIs(t *testing.T) {
	ce := newCodeEnv(t)
	ctx := context.Background()
	disabled, _ := ce.newClient(credentials.ClientSpec{TenantID: "acme", Name: "Off", Kind: credentials.KindOkta, RedirectURIs: []string{oktaCallback}, Audiences: []string{testAudience}})
	ce.creds.SetClientDisabled(ctx, disabled, true)
	ce.creds.CreateTenant(ctx, "initech", "Initech")
	frozen, _ := ce.newClient(credentials.ClientSpec{TenantID: "initech", Name: "Frozen", Kind: credentials.KindOkta, RedirectURIs: []string{oktaCallback}, Audiences: []string{testAudience}})
	ce.creds.SetTenantDisabled(ctx, "initech", true)
	for name, q := range map[string]url.Values{
		"unknown client":        ce.authorizeQuery("client_id", "nobody"),
		"no client":             ce.authorizeQuery("client_id", ""),
		"disabled client":       ce.authorizeQuery("client_id", disabled),
		"disabled tenant":       ce.authorizeQuery("client_id", frozen),
		"no redirect":           ce.authorizeQuery("redirect_uri", ""),
		"evil- host prefix":     ce.authorizeQuery("redirect_uri", "https://evil-okta.test/admin/app/cpc/acme/oauth/callback"),
		"host suffix":           ce.authorizeQuery("redirect_uri", "https://okta.test.evil.example/admin/app/cpc/acme/oauth/callback"),
		"other path":            ce.authorizeQuery("redirect_uri", "https://okta.test/admin/app/cpc/other/oauth/callback"),
		"longer path":           ce.authorizeQuery("redirect_uri", oktaCallback+"/x"),
		"http instead of https": ce.authorizeQuery("redirect_uri", strings.Replace(oktaCallback, "https:", "http:", 1)),
		"https instead of http": ce.authorizeQuery("redirect_uri", "https://system-admin.okta1.com:1802/admin/app/cpc/acme/oauth/callback"),
		"javascript":            ce.authorizeQuery("redirect_uri", "javascript://okta.test/%0aalert(1)"),
		"extra query":           ce.authorizeQuery("redirect_uri", oktaCallback+"?next=https://evil.example"),
		"fragment":              ce.authorizeQuery("redirect_uri", oktaCallback+"#x"),
		"explicit port":         ce.authorizeQuery("redirect_uri", "https://okta.test:443/admin/app/cpc/acme/oauth/callback"),
		"case":                  ce.authorizeQuery("redirect_uri", strings.ToUpper(oktaCallback)),
		"attacker":              ce.authorizeQuery("redirect_uri", "https://attacker.example/x"),
		"bad response type too": ce.authorizeQuery("redirect_uri", "https://attacker.example/x", "response_type", "token"),
	} {
		t.Run(name, func(t *testing.T) {
			resp, page := ce.browser(t).Get(ce.url + AuthorizePath + "?" + q.Encode())
			if resp.StatusCode != 400 || resp.Header.Get("Location") != "" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
				t.Fatalf("%d Location=%q %s", resp.StatusCode, resp.Header.Get("Location"), page)
			}
			if !strings.Contains(page, `role="alert"`) || resp.Header.Get("X-Frame-Options") != "DENY" {
				t.Fatalf("error page lacks alert or frame protection: %s", page)
			}
		})
	}
	// Duplicated client_id or redirect_uri cannot be trusted either.
	resp, _ := ce.browser(t).Get(ce.url + AuthorizePath + "?" + ce.authorizeQuery().Encode() + "&redirect_uri=" + url.QueryEscape("https://attacker.example/x"))
	if resp.StatusCode != 400 || resp.Header.Get("Location") != "" {
		t.Fatalf("duplicate redirect_uri: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// The fifth Okta URI, plain http on port 1802, is registered exactly.
	resp, _ = ce.browser(t).Get(ce.url + AuthorizePath + "?" + ce.authorizeQuery("redirect_uri", "http://system-admin.okta1.com:1802/admin/app/cpc/acme/oauth/callback").Encode())
	if resp.StatusCode != 200 {
		t.Fatalf("Okta's http callback: %d", resp.StatusCode)
	}
}

// TestAuthorizeErrorsGoBackToTheClient: after the redirect URI is trusted,
// errors are redirected with error and the unchanged state (RFC 6749
// §4.1.2.1).
func TestAuthorizeErrorsGoBackToTheClient(t *testing.T) {
	ce := newCodeEnv(t)
	strict, _ := ce.newClient(credentials.ClientSpec{TenantID: "acme", Name: "Strict", Kind: credentials.KindOkta, RequirePKCE: true,
		RedirectURIs: []string{oktaCallback}, Audiences: []string{testAudience}})
	machine, _ := ce.newClient(credentials.ClientSpec{TenantID: "acme", Name: "Machine", RedirectURIs: []string{oktaCallback}, Audiences: []string{testAudience}})
	_, challenge := pkcePair()
	for _, tc := range []struct {
		name  string
		q     url.Values
		raw   string // appended to the query
		error string
	}{
		{name: "no response_type", q: ce.authorizeQuery("response_type", ""), error: "invalid_request"},
		{name: "implicit", q: ce.authorizeQuery("response_type", "token"), error: "unsupported_response_type"},
		{name: "hybrid", q: ce.authorizeQuery("response_type", "code token"), error: "unsupported_response_type"},
		{name: "unknown scope", q: ce.authorizeQuery("scope", "scim.full admin"), error: "invalid_scope"},
		{name: "plain PKCE", q: ce.authorizeQuery("code_challenge", challenge, "code_challenge_method", "plain"), error: "invalid_request"},
		{name: "PKCE method defaults to plain", q: ce.authorizeQuery("code_challenge", challenge), error: "invalid_request"},
		{name: "short challenge", q: ce.authorizeQuery("code_challenge", challenge[:42], "code_challenge_method", "S256"), error: "invalid_request"},
		{name: "challenge charset", q: ce.authorizeQuery("code_challenge", challenge[:42]+"~", "code_challenge_method", "S256"), error: "invalid_request"},
		{name: "long challenge", q: ce.authorizeQuery("code_challenge", strings.Repeat("a", 128), "code_challenge_method", "S256"), error: "invalid_request"},
		{name: "method without challenge", q: ce.authorizeQuery("code_challenge_method", "S256"), error: "invalid_request"},
		{name: "client requires PKCE", q: ce.authorizeQuery("client_id", strict), error: "invalid_request"},
		{name: "client without code grant", q: ce.authorizeQuery("client_id", machine), error: "unauthorized_client"},
		{name: "repeated state", q: ce.authorizeQuery(), raw: "&state=again", error: "invalid_request"},
		{name: "repeated scope", q: ce.authorizeQuery(), raw: "&scope=scim.read", error: "invalid_request"},
		{name: "fragment response mode", q: ce.authorizeQuery("response_mode", "fragment"), error: "invalid_request"},
		{name: "state too long", q: ce.authorizeQuery("state", strings.Repeat("s", maxStateLen+1)), error: "invalid_request"},
		{name: "resource of another service", q: ce.authorizeQuery("resource", "https://evil.example/"), error: "invalid_target"},
		{name: "no state", q: ce.authorizeQuery("state", "", "response_type", "token"), error: "unsupported_response_type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, page := ce.browser(t).Get(ce.url + AuthorizePath + "?" + tc.q.Encode() + tc.raw)
			loc, _ := url.Parse(resp.Header.Get("Location"))
			if resp.StatusCode != http.StatusFound || loc == nil || !strings.HasPrefix(loc.String(), oktaCallback+"?") {
				t.Fatalf("%d Location=%q %s", resp.StatusCode, resp.Header.Get("Location"), page)
			}
			got := loc.Query()
			if got.Get("error") != tc.error || got.Get("code") != "" || got.Get("state") != tc.q.Get("state") || (tc.q.Get("state") == "" && got.Has("state")) {
				t.Fatalf("redirected with %v, want error %s and state %q", got, tc.error, tc.q.Get("state"))
			}
		})
	}
	// A client that requires PKCE gets through with it.
	if resp, _ := ce.browser(t).Get(ce.url + AuthorizePath + "?" + ce.authorizeQuery("client_id", strict, "code_challenge", challenge, "code_challenge_method", "S256").Encode()); resp.StatusCode != 200 {
		t.Fatalf("PKCE-requiring client with S256: %d", resp.StatusCode)
	}
}

func TestMissingStateIsAllowedAndNotInvented(t *testing.T) {
	ce := newCodeEnv(t)
	loc := ce.authorize(t, ce.authorizeQuery("state", ""), "allow")
	if loc.Query().Get("code") == "" || loc.Query().Has("state") {
		t.Fatalf("redirect %s", loc)
	}
	// State with characters that need encoding comes back unchanged.
	odd := `a b&c=d/é"<>`
	if loc := ce.authorize(t, ce.authorizeQuery("state", odd), "deny"); loc.Query().Get("state") != odd || loc.Query().Get("error") != "access_denied" {
		t.Fatalf("redirect %s", loc)
	}
}

func TestSignInPage(t *testing.T) {
	ce := newCodeEnv(t)
	b := ce.browser(t)
	resp, page := b.Get(ce.url + AuthorizePath + "?" + ce.authorizeQuery().Encode())
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, page)
	}
	checkPageHeaders(t, resp)
	cookies := resp.Cookies()
	if len(cookies) != 1 || !cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteLaxMode || cookies[0].Path != AuthorizePath ||
		cookies[0].MaxAge <= 0 || cookies[0].MaxAge > 600 || cookies[0].Secure || cookies[0].Name != cookieName {
		t.Fatalf("cookie %+v", cookies)
	}
	for _, want := range []string{`<label for="username">`, `id="username"`, `autocomplete="username"`, `<label for="password">`, `id="password"`,
		`autocomplete="current-password"`, `role="alert"`, "Okta SCIM", "Acme", `lang="en"`} {
		if !strings.Contains(page, want) {
			t.Errorf("sign-in page lacks %s", want)
		}
	}
	if strings.Contains(strings.ToLower(page), "<script") {
		t.Error("sign-in page has a script")
	}
	csrf := testkit.CSRF(t, page)

	signIn := func(form url.Values, origin string, header ...string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, ce.url+SignInPath, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, page := b.Do(req)
		return resp.StatusCode, page
	}
	for _, tc := range []struct {
		name   string
		form   url.Values
		origin string
		header []string
		status int
		text   string
	}{
		{name: "wrong password", form: url.Values{"csrf": {csrf}, "username": {"ada"}, "password": {"wrong password!"}}, status: 401, text: wrongCredentials},
		{name: "unknown user", form: url.Values{"csrf": {csrf}, "username": {"eve"}, "password": {adminPassword}}, status: 401, text: wrongCredentials},
		{name: "admin of another tenant", form: url.Values{"csrf": {csrf}, "username": {"bob"}, "password": {adminPassword}}, status: 401, text: wrongCredentials},
		{name: "empty fields", form: url.Values{"csrf": {csrf}, "username": {"ada"}}, status: 400, text: "Enter your username and password."},
		{name: "no csrf", form: url.Values{"username": {"ada"}, "password": {adminPassword}}, status: 403},
		{name: "wrong csrf", form: url.Values{"csrf": {csrf + "x"}, "username": {"ada"}, "password": {adminPassword}}, status: 403},
		{name: "cross-site origin", form: url.Values{"csrf": {csrf}, "username": {"ada"}, "password": {adminPassword}}, origin: "https://evil.example", status: 403},
		{name: "cross-site fetch", form: url.Values{"csrf": {csrf}, "username": {"ada"}, "password": {adminPassword}}, header: []string{"Sec-Fetch-Site", "cross-site"}, status: 403},
		{name: "same-site fetch", form: url.Values{"csrf": {csrf}, "username": {"ada"}, "password": {adminPassword}}, header: []string{"Sec-Fetch-Site", "same-site"}, status: 403},
	} {
		origin := ce.url
		if tc.origin != "" {
			origin = tc.origin
		}
		status, page := signIn(tc.form, origin, tc.header...)
		if status != tc.status || !strings.Contains(page, tc.text) || !strings.Contains(page, `role="alert"`) {
			t.Errorf("%s: %d, want %d with %q:\n%s", tc.name, status, tc.status, tc.text, page)
		}
	}
	// Our pages send no referrer, so a browser posts them with "Origin:
	// null" and Sec-Fetch-Site: same-origin.
	if status, _ := signIn(url.Values{"csrf": {csrf}, "username": {"ada"}, "password": {adminPassword}}, "null", "Sec-Fetch-Site", "same-origin"); status != http.StatusSeeOther {
		t.Fatalf("correct sign-in as a browser sends it: %d", status)
	}
	// The pre-sign-in CSRF token died with the pre-sign-in request.
	if status, _ := signIn(url.Values{"csrf": {csrf}, "username": {"ada"}, "password": {adminPassword}}, ce.url); status != http.StatusForbidden && status != 400 {
		t.Fatalf("old session after sign-in: %d", status)
	}
	// No cookie at all.
	other := ce.browser(t)
	if resp, page := other.Post(ce.url+SignInPath, url.Values{"csrf": {csrf}, "username": {"ada"}, "password": {adminPassword}}); resp.StatusCode != 400 || !strings.Contains(page, "expired") {
		t.Fatalf("no cookie: %d %s", resp.StatusCode, page)
	}
	if resp, _ := other.Get(ce.url + SignInPath); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET sign-in: %d", resp.StatusCode)
	}
	ce.auditMu.Lock()
	defer ce.auditMu.Unlock()
	if !strings.Contains(ce.audit.String(), `"event":"admin.sign_in_failed"`) || strings.Contains(ce.audit.String(), "wrong password!") {
		t.Fatalf("audit: %s", ce.audit)
	}
}

func checkPageHeaders(t *testing.T, resp *http.Response) {
	t.Helper()
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "style-src 'sha256-", "frame-ancestors 'none'", "form-action 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %s", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "script-src") {
		t.Errorf("CSP allows scripts: %q", csp)
	}
	for k, v := range map[string]string{"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"} {
		if resp.Header.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, resp.Header.Get(k), v)
		}
	}
}

func TestSecureCookieForHTTPSIssuer(t *testing.T) {
	s := &Server{secureCookies: true, issuerPath: "/as"}
	rec := httptest.NewRecorder()
	s.setPendingCookie(rec, "id", time.Now().Add(10*time.Minute))
	c := rec.Result().Cookies()[0]
	if c.Name != "__Host-"+cookieName || !c.Secure || !c.HttpOnly || c.Path != "/" || c.SameSite != http.SameSiteLaxMode || c.Domain != "" {
		t.Fatalf("cookie %+v", c)
	}
}

func TestSignInThrottle(t *testing.T) {
	ce := newCodeEnv(t)
	attempt := func(b *browser, ip, password string) (*http.Response, string) {
		resp, page := b.Get(ce.url + AuthorizePath + "?" + ce.authorizeQuery().Encode())
		if resp.StatusCode != 200 {
			t.Fatalf("authorize: %d", resp.StatusCode)
		}
		req, _ := http.NewRequest(http.MethodPost, ce.url+SignInPath, strings.NewReader(url.Values{"csrf": {testkit.CSRF(t, page)}, "username": {"ada"}, "password": {password}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Test-IP", ip)
		return b.Do(req)
	}
	attacker := ce.browser(t)
	var throttled bool
	for range 8 {
		resp, page := attempt(attacker, "203.0.113.9", "guess guess guess")
		if resp.StatusCode == http.StatusTooManyRequests {
			throttled = true
			if resp.Header.Get("Retry-After") == "" || !strings.Contains(page, "Too many failed sign-in attempts") {
				t.Fatalf("429 without Retry-After or message: %s", page)
			}
			break
		}
	}
	if !throttled {
		t.Fatal("8 wrong passwords were never throttled")
	}
	// The attacker's address stays blocked even with the right password...
	if resp, _ := attempt(attacker, "203.0.113.9", adminPassword); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("attacker address with the right password: %d", resp.StatusCode)
	}
	// ...while the real admin, from another address, signs in.
	if resp, page := attempt(ce.browser(t), "198.51.100.7", adminPassword); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the real admin was locked out: %d %s", resp.StatusCode, page)
	}
}

// slowAdmins checks passwords as slowly as argon2id does at its default
// cost (tens of ms; the tests' cheap parameters take microseconds),
// counting the checks and the most that ran at once.
type slowAdmins struct {
	AdminAuthenticator
	mu              sync.Mutex
	checks, running int
	mostAtOnce      int
}

func (s *slowAdmins) AuthenticateAdmin(ctx context.Context, tenantID, username, password string) (*credentials.AdminUser, error) {
	s.mu.Lock()
	s.checks++
	s.running++
	s.mostAtOnce = max(s.mostAtOnce, s.running)
	s.mu.Unlock()
	time.Sleep(20 * time.Millisecond)
	defer func() { s.mu.Lock(); s.running--; s.mu.Unlock() }()
	return s.AdminAuthenticator.AuthenticateAdmin(ctx, tenantID, username, password)
}

// A burst of wrong passwords sent at once gets no more checks than the
// same attempts one after the other: the throttle counts failures only
// after argon2id, so attempts checked side by side would all pass it.
func TestSignInThrottleUnderABurst(t *testing.T) {
	admins := &slowAdmins{}
	ce := newCodeEnv(t, func(d *Deps) { admins.AdminAuthenticator = d.Admins; d.Admins = admins })
	b := ce.browser(t)
	_, page := b.Get(ce.url + AuthorizePath + "?" + ce.authorizeQuery().Encode())
	csrf := testkit.CSRF(t, page)
	const attempts = 60
	statuses := make(chan int, attempts)
	var wg sync.WaitGroup
	for i := range attempts {
		wg.Go(func() {
			form := url.Values{"csrf": {csrf}, "username": {"ada"}, "password": {"guess " + strconv.Itoa(i)}}
			req, _ := http.NewRequest(http.MethodPost, ce.url+SignInPath, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-Test-IP", "203.0.113.66")
			resp, _ := b.Do(req)
			statuses <- resp.StatusCode
		})
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	// The user's limit is 5 failures from an address that has failed.
	if count[http.StatusUnauthorized] != 5 || count[http.StatusTooManyRequests] != attempts-5 || admins.checks != 5 {
		t.Fatalf("answers %v after %d password checks; want 5 × 401, the rest 429, 5 checks", count, admins.checks)
	}
	if admins.mostAtOnce != 1 {
		t.Fatalf("%d checks of one user's password ran at once", admins.mostAtOnce)
	}
}

func TestConsentPage(t *testing.T) {
	ce := newCodeEnv(t)
	b := ce.browser(t)
	page := ce.signIn(t, b, ce.authorizeQuery("scope", "scim.read offline_access"), "ada")
	for _, want := range []string{"Okta SCIM", "Acme", "ada", "Read users and groups", "Stay connected", "90 days", "okta.test", `value="allow"`, `value="deny"`} {
		if !strings.Contains(page, want) {
			t.Errorf("consent page lacks %q", want)
		}
	}
	resp, _ := b.Get(ce.url + ConsentPath)
	checkPageHeaders(t, resp)
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://okta.test") {
		t.Errorf("consent CSP does not allow the redirect: %q", csp)
	}
	csrf := testkit.CSRF(t, page)
	if resp, _ := b.Post(ce.url+ConsentPath, url.Values{"csrf": {"nope"}, "decision": {"allow"}}); resp.StatusCode != 403 {
		t.Fatalf("wrong CSRF on consent: %d", resp.StatusCode)
	}
	if resp, _ := b.Post(ce.url+ConsentPath, url.Values{"csrf": {csrf}, "decision": {"maybe"}}); resp.StatusCode != 400 {
		t.Fatalf("unknown decision: %d", resp.StatusCode)
	}
	resp, _ = b.Post(ce.url+ConsentPath, url.Values{"csrf": {csrf}, "decision": {"allow"}})
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "code=sgc_") {
		t.Fatalf("allow: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	// The consent is spent: submitting again yields no second code.
	if resp, page := b.Post(ce.url+ConsentPath, url.Values{"csrf": {csrf}, "decision": {"allow"}}); resp.StatusCode != 400 || resp.Header.Get("Location") != "" {
		t.Fatalf("second allow: %d %s %s", resp.StatusCode, resp.Header.Get("Location"), page)
	}
	// A consent page without a signed-in request shows the sign-in form.
	fresh := ce.browser(t)
	fresh.Get(ce.url + AuthorizePath + "?" + ce.authorizeQuery().Encode())
	resp, page = fresh.Get(ce.url + ConsentPath)
	if resp.StatusCode != 200 || !strings.Contains(page, `autocomplete="current-password"`) {
		t.Fatalf("consent before sign-in: %d", resp.StatusCode)
	}
	if resp, _ := fresh.Post(ce.url+ConsentPath, url.Values{"csrf": {testkit.CSRF(t, page)}, "decision": {"allow"}}); resp.StatusCode != 400 || resp.Header.Get("Location") != "" {
		t.Fatalf("allow before sign-in: %d", resp.StatusCode)
	}
}

func TestConsentDenied(t *testing.T) {
	ce := newCodeEnv(t)
	loc := ce.authorize(t, ce.authorizeQuery(), "deny")
	if q := loc.Query(); q.Get("error") != "access_denied" || q.Get("state") != "okta-state-123" || q.Get("code") != "" {
		t.Fatalf("deny: %s", loc)
	}
}

func TestCodeGrantErrors(t *testing.T) {
	ce := newCodeEnv(t)
	verifier, challenge := pkcePair()
	pkce := ce.authorizeQuery("code_challenge", challenge, "code_challenge_method", "S256")
	for _, tc := range []struct {
		name   string
		query  url.Values
		form   func(code string) url.Values
		auth   map[string]string
		status int
		err    string
	}{
		{name: "wrong verifier", query: pkce, form: func(c string) url.Values { v, _ := pkcePair(); return codeForm(c, "code_verifier", v) }, status: 400, err: "invalid_grant"},
		{name: "missing verifier", query: pkce, form: func(c string) url.Values { return codeForm(c) }, status: 400, err: "invalid_grant"},
		{name: "malformed verifier", query: pkce, form: func(c string) url.Values { return codeForm(c, "code_verifier", "short") }, status: 400, err: "invalid_grant"},
		{name: "verifier without challenge", query: ce.authorizeQuery(), form: func(c string) url.Values { return codeForm(c, "code_verifier", verifier) }, status: 400, err: "invalid_grant"},
		{name: "redirect mismatch", query: ce.authorizeQuery(), form: func(c string) url.Values { return codeForm(c, "redirect_uri", "https://attacker.example/x") }, status: 400, err: "invalid_grant"},
		{name: "other registered redirect", query: ce.authorizeQuery(), form: func(c string) url.Values {
			return codeForm(c, "redirect_uri", credentials.OktaRedirectURIs("acme")[0])
		}, status: 400, err: "invalid_grant"},
		{name: "no redirect", query: ce.authorizeQuery(), form: func(c string) url.Values { f := codeForm(c); f.Del("redirect_uri"); return f }, status: 400, err: "invalid_request"},
		{name: "no code", query: ce.authorizeQuery(), form: func(string) url.Values { return codeForm("") }, status: 400, err: "invalid_request"},
		{name: "unknown code", query: ce.authorizeQuery(), form: func(string) url.Values { return codeForm(grants.NewCode()) }, status: 400, err: "invalid_grant"},
		{name: "code of another client", query: ce.authorizeQuery(), form: func(c string) url.Values { return codeForm(c) },
			auth: map[string]string{"Authorization": basic(ce.okta2, ce.okta2Secret)}, status: 400, err: "invalid_grant"},
		{name: "wrong secret", query: ce.authorizeQuery(), form: func(c string) url.Values { return codeForm(c) },
			auth: map[string]string{"Authorization": basic(ce.okta, "wrong")}, status: 401, err: "invalid_client"},
		{name: "client credentials client", query: ce.authorizeQuery(), form: func(c string) url.Values { return codeForm(c) },
			auth: map[string]string{"Authorization": basic(ce.clientID, ce.secret)}, status: 400, err: "unauthorized_client"},
		{name: "code in the query", query: ce.authorizeQuery(), form: func(c string) url.Values { return url.Values{"grant_type": {"authorization_code"}, "code": {c}} },
			status: 400, err: "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code := ce.code(t, tc.query)
			auth := tc.auth
			if auth == nil {
				auth = ce.oktaAuth()
			}
			path := TokenPath
			if tc.name == "code in the query" {
				path += "?redirect_uri=" + url.QueryEscape(oktaCallback)
			}
			status, _, body := ce.post(path, tc.form(code), auth)
			if status != tc.status || body["error"] != tc.err {
				t.Fatalf("%d %v, want %d %s", status, body, tc.status, tc.err)
			}
		})
	}
}

func TestReplayedCodeRevokesFirstTokens(t *testing.T) {
	ce := newCodeEnv(t)
	code := ce.code(t, ce.authorizeQuery())
	status, _, first := ce.post(TokenPath, codeForm(code), ce.oktaAuth())
	if status != 200 {
		t.Fatalf("first redemption: %d %v", status, first)
	}
	status, _, body := ce.post(TokenPath, codeForm(code), ce.oktaAuth())
	if status != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("replay: %d %v", status, body)
	}
	self := ce.oktaAuth()
	if _, _, intro := ce.post(IntrospectPath, url.Values{"token": {first["access_token"].(string)}}, self); intro["active"] != false {
		t.Fatalf("first access token still active after replay: %v", intro)
	}
	if status, _, body := ce.post(TokenPath, refreshForm(first["refresh_token"].(string)), self); status != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("first refresh token after replay: %d %v", status, body)
	}
}

func TestExpiredCode(t *testing.T) {
	ce := newCodeEnv(t)
	code := ce.code(t, ce.authorizeQuery())
	ce.clock.Advance(grants.DefaultCodeTTL + time.Second)
	if status, _, body := ce.post(TokenPath, codeForm(code), ce.oktaAuth()); status != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("expired code: %d %v", status, body)
	}
}

// TestParallelCodeRedemption is checklist item 30 over HTTP. Exactly one
// request consumes the code (internal/grants proves that on both
// backends). The other 15 are replays, and a replay revokes what the code
// issued (RFC 6749 §4.1.2) — also while the winner is still being served.
// So the winner is either refused (the revocation landed first) or gets
// tokens that are already dead; nobody ends up holding live tokens.
func TestParallelCodeRedemption(t *testing.T) {
	ce := newCodeEnv(t)
	for trial := range 5 {
		code := ce.code(t, ce.authorizeQuery())
		var (
			mu      sync.Mutex
			winners []map[string]any
		)
		statuses := parallel(16, func() int {
			status, _, body := ce.post(TokenPath, codeForm(code), ce.oktaAuth())
			if status == 200 {
				mu.Lock()
				winners = append(winners, body)
				mu.Unlock()
			}
			return status
		})
		if statuses[200] > 1 || statuses[200]+statuses[400] != 16 {
			t.Fatalf("trial %d: 16 parallel redemptions: %v, want at most one 200", trial, statuses)
		}
		for _, w := range winners {
			if _, _, intro := ce.post(IntrospectPath, url.Values{"token": {w["access_token"].(string)}}, ce.oktaAuth()); intro["active"] != false {
				t.Fatalf("trial %d: the winner's access token survived 15 replays", trial)
			}
			if status, _, _ := ce.post(TokenPath, refreshForm(w["refresh_token"].(string)), ce.oktaAuth()); status != 400 {
				t.Fatalf("trial %d: the winner's refresh token survived 15 replays: %d", trial, status)
			}
		}
	}
}

func parallel(n int, fn func() int) map[int]int {
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		out   = map[int]int{}
		start = make(chan struct{})
	)
	for range n {
		wg.Go(func() {
			<-start
			s := fn()
			mu.Lock()
			out[s]++
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	return out
}

func (ce *codeEnv) tokens(t testing.TB) map[string]any {
	t.Helper()
	status, _, body := ce.post(TokenPath, codeForm(ce.code(t, ce.authorizeQuery())), ce.oktaAuth())
	if status != 200 {
		t.Fatalf("code exchange: %d %v", status, body)
	}
	return body
}

func TestRefreshGrant(t *testing.T) {
	ce := newCodeEnv(t)
	first := ce.tokens(t)
	rt := first["refresh_token"].(string)

	// Checklist H31/H32 and P2/P10.
	for _, tc := range []struct {
		name   string
		path   string // TokenPath unless set
		form   url.Values
		auth   map[string]string
		status int
		err    string
	}{
		{name: "scope in the URL and the body disagree", path: TokenPath + "?scope=scim.full", form: refreshForm(rt, "scope", "scim.read"), status: 400, err: "invalid_request"},
		{name: "scope repeated in the URL", path: TokenPath + "?scope=scim.read&scope=scim.full", form: refreshForm(rt), status: 400, err: "invalid_request"},
		{name: "wider scope in the URL", path: TokenPath + "?scope=admin", form: refreshForm(rt), status: 400, err: "invalid_scope"},
		{name: "another client of the tenant", form: refreshForm(rt), auth: map[string]string{"Authorization": basic(ce.okta2, ce.okta2Secret)}, status: 400, err: "invalid_grant"},
		{name: "wrong secret", form: refreshForm(rt), auth: map[string]string{"Authorization": basic(ce.okta, "wrong")}, status: 401, err: "invalid_client"},
		{name: "no client authentication", form: refreshForm(rt, "client_id", ce.okta), auth: map[string]string{}, status: 401, err: "invalid_client"},
		{name: "wider scope", form: refreshForm(rt, "scope", "scim.full offline_access admin"), status: 400, err: "invalid_scope"},
		{name: "unknown token", form: refreshForm(grants.NewRefreshToken("AAAAAAAAAAAAAAAAAAAAAA")), status: 400, err: "invalid_grant"},
		{name: "garbage token", form: refreshForm("nonsense"), status: 400, err: "invalid_grant"},
		{name: "no token", form: url.Values{"grant_type": {"refresh_token"}}, status: 400, err: "invalid_request"},
	} {
		auth := tc.auth
		if auth == nil {
			auth = ce.oktaAuth()
		}
		path := tc.path
		if path == "" {
			path = TokenPath
		}
		if status, _, body := ce.post(path, tc.form, auth); status != tc.status || body["error"] != tc.err {
			t.Errorf("%s: %d %v, want %d %s", tc.name, status, body, tc.status, tc.err)
		}
	}
	// None of the refused attempts touched the family: a narrower scope
	// now works and rotates.
	status, _, second := ce.post(TokenPath, refreshForm(rt, "scope", "scim.read"), ce.oktaAuth())
	if status != 200 || second["scope"] != "scim.read" || second["refresh_token"] == rt || second["refresh_token"] == nil {
		t.Fatalf("narrower refresh: %d %v", status, second)
	}
	claims, err := ce.verifier.Verify(second["access_token"].(string), testAudience)
	if err != nil || claims.Scope != "scim.read" || claims.Subject != "admin:acme/ada" || claims.AuthTime == 0 {
		t.Fatalf("refreshed claims %+v %v", claims, err)
	}
	// Inside the grace window the old token yields the same successor.
	status, _, retry := ce.post(TokenPath, refreshForm(rt), ce.oktaAuth())
	if status != 200 || retry["refresh_token"] != second["refresh_token"] || retry["scope"] != "scim.full offline_access" {
		t.Fatalf("grace retry: %d %v", status, retry)
	}
	// The family keeps its full scope; the next refresh asks for nothing.
	status, _, third := ce.post(TokenPath, refreshForm(second["refresh_token"].(string)), ce.oktaAuth())
	if status != 200 || third["scope"] != "scim.full offline_access" {
		t.Fatalf("third: %d %v", status, third)
	}
	// H33: the first token, two rotations back, is reuse: the whole family
	// goes, including the newest token and every access token.
	ce.clock.Advance(time.Minute)
	if status, _, body := ce.post(TokenPath, refreshForm(rt), ce.oktaAuth()); status != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("reuse: %d %v", status, body)
	}
	if status, _, body := ce.post(TokenPath, refreshForm(third["refresh_token"].(string)), ce.oktaAuth()); status != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("newest token after reuse: %d %v", status, body)
	}
	for _, tok := range []map[string]any{first, second, retry, third} {
		if _, _, intro := ce.post(IntrospectPath, url.Values{"token": {tok["access_token"].(string)}}, ce.oktaAuth()); intro["active"] != false {
			t.Fatalf("access token of a revoked family still active")
		}
	}
	ce.auditMu.Lock()
	defer ce.auditMu.Unlock()
	if !strings.Contains(ce.audit.String(), `"event":"refresh.reuse_detected"`) {
		t.Fatal("no refresh.reuse_detected audit event")
	}
	if strings.Contains(ce.audit.String(), rt) {
		t.Fatal("a refresh token reached the audit stream")
	}
}

// TestRevokedFamilyDeniesTokensInTheirLeeway: an access token past its exp
// but within the leeway still verifies (at the gateway too), so revoking its
// family must deny-list it, also after a refresh that came in between.
func TestRevokedFamilyDeniesTokensInTheirLeeway(t *testing.T) {
	ce := newCodeEnv(t)
	first := ce.tokens(t)
	old := first["access_token"].(string)
	ce.clock.Advance(time.Hour + 10*time.Second) // past exp, inside the 30s leeway
	if _, err := ce.verifier.Verify(old, testAudience); err != nil {
		t.Fatalf("the old token should still verify inside the leeway: %v", err)
	}
	status, _, second := ce.post(TokenPath, refreshForm(first["refresh_token"].(string)), ce.oktaAuth())
	if status != 200 {
		t.Fatalf("refresh: %d %v", status, second)
	}
	if status, _, body := ce.post(RevokePath, url.Values{"token": {second["refresh_token"].(string)}}, ce.oktaAuth()); status != 200 {
		t.Fatalf("revoke: %d %v", status, body)
	}
	// Introspection calls a token past its exp inactive on the issuer's
	// clock; the gateway, like any verifier, goes by the deny-list.
	for name, tok := range map[string]string{"inside its leeway": old, "fresh": second["access_token"].(string)} {
		claims, err := ce.verifier.Verify(tok, testAudience)
		if err != nil {
			t.Fatal(err)
		}
		if revoked, err := ce.deny.Revoked(context.Background(), claims.ID); err != nil || !revoked {
			t.Errorf("access token %s not deny-listed after its family was revoked: %v %v", name, revoked, err)
		}
	}
}

// TestRevokedFamilyDeniesEveryLiveToken: a family remembers a bounded
// number of access tokens for revocation, so a client refreshing in a loop
// (a thief with a copy of the refresh token, say) is refused past that bound
// instead of pushing its oldest tokens out of the record, where revoking
// the family would no longer reach them.
func TestRevokedFamilyDeniesEveryLiveToken(t *testing.T) {
	ce := newCodeEnv(t)
	first := ce.tokens(t)
	rt, issued := first["refresh_token"].(string), []string{first["access_token"].(string)}
	for {
		status, _, next := ce.post(TokenPath, refreshForm(rt), ce.oktaAuth())
		if status != 200 {
			if status != 400 || next["error"] != "invalid_grant" || len(issued) < 2 {
				t.Fatalf("refresh %d: %d %v", len(issued), status, next)
			}
			break
		}
		rt = next["refresh_token"].(string)
		if issued = append(issued, next["access_token"].(string)); len(issued) > 1000 {
			t.Fatal("1000 live access tokens from one grant")
		}
	}
	t.Logf("one grant issued %d live access tokens, then was refused", len(issued))
	if status, _, body := ce.post(RevokePath, url.Values{"token": {rt}}, ce.oktaAuth()); status != 200 {
		t.Fatalf("revoke: %d %v", status, body)
	}
	for i, tok := range issued {
		claims, err := ce.verifier.Verify(tok, testAudience)
		if err != nil {
			t.Fatal(err)
		}
		if revoked, err := ce.deny.Revoked(context.Background(), claims.ID); err != nil || !revoked {
			t.Fatalf("access token %d of %d not deny-listed after its family was revoked: %v %v", i, len(issued), revoked, err)
		}
	}
}

// recordedDeny is a deny-list that remembers until when each jti was put
// on it.
type recordedDeny struct {
	Revocations
	mu    sync.Mutex
	until map[string]time.Time
}

func (r *recordedDeny) Revoke(ctx context.Context, jti string, until time.Time) error {
	r.mu.Lock()
	r.until[jti] = until
	r.mu.Unlock()
	return r.Revocations.Revoke(ctx, jti, until)
}

// TestDenyListOutlivesTokensOnLaggingVerifiers: a verifier accepts a token
// until exp plus the leeway on its own clock, which may lag the revoking
// replica's by up to the leeway; the deny-list entry, timed on the
// revoker's clock, must last that long, whichever way the token was
// revoked.
func TestDenyListOutlivesTokensOnLaggingVerifiers(t *testing.T) {
	const leeway = 30 * time.Second // newCodeEnv's
	deny := &recordedDeny{until: map[string]time.Time{}}
	ce := newCodeEnv(t, func(d *Deps) { deny.Revocations = d.Revocations; d.Revocations = deny })
	first, second := ce.tokens(t), ce.tokens(t)
	if status, _, body := ce.post(RevokePath, url.Values{"token": {first["access_token"].(string)}}, ce.oktaAuth()); status != 200 {
		t.Fatalf("revoke an access token: %d %v", status, body)
	}
	if status, _, body := ce.post(RevokePath, url.Values{"token": {second["refresh_token"].(string)}}, ce.oktaAuth()); status != 200 {
		t.Fatalf("revoke a refresh token: %d %v", status, body)
	}
	for name, tok := range map[string]map[string]any{"access token revoked": first, "family revoked": second} {
		claims, err := ce.verifier.Verify(tok["access_token"].(string), testAudience)
		if err != nil {
			t.Fatal(err)
		}
		deny.mu.Lock()
		until, ok := deny.until[claims.ID]
		deny.mu.Unlock()
		if want := claims.Expiry().Add(2 * leeway); !ok || until.Before(want) {
			t.Errorf("%s: deny-listed until %v (%v), want at least exp + 2 × leeway = %v", name, until, ok, want)
		}
	}
}

// TestParallelRefresh is checklist item 34 over HTTP: inside the grace
// window all 16 get the same successor.
func TestParallelRefresh(t *testing.T) {
	ce := newCodeEnv(t)
	rt := ce.tokens(t)["refresh_token"].(string)
	var (
		mu    sync.Mutex
		heads = map[any]int{}
	)
	statuses := parallel(16, func() int {
		status, _, body := ce.post(TokenPath, refreshForm(rt), ce.oktaAuth())
		mu.Lock()
		heads[body["refresh_token"]]++
		mu.Unlock()
		return status
	})
	if statuses[200] != 16 || len(heads) != 1 {
		t.Fatalf("16 parallel refreshes: statuses %v, %d distinct refresh tokens", statuses, len(heads))
	}
}

func TestCodeFlowDisabledWithoutGrants(t *testing.T) {
	e := newEnv(t)
	resp, err := http.Get(e.url + AuthorizePath + "?response_type=code&client_id=x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("authorize without the code flow: %d", resp.StatusCode)
	}
	if status, _, body := e.post(TokenPath, codeForm("sgc_x"), map[string]string{"Authorization": basic(e.clientID, e.secret)}); status != 400 || body["error"] != "unsupported_grant_type" {
		t.Fatalf("code grant without the code flow: %d %v", status, body)
	}
}

// FuzzAuthorizeRequest throws arbitrary query strings at the authorization
// endpoint: it never answers 5xx, and it redirects only to a registered
// redirect URI.
func FuzzAuthorizeRequest(f *testing.F) {
	f.Add("response_type=code&client_id=CLIENT&redirect_uri=" + url.QueryEscape(oktaCallback) + "&state=s&scope=scim.full")
	f.Add("response_type=token&client_id=CLIENT&redirect_uri=https%3A%2F%2Fevil-okta.test%2Fcb")
	f.Add("client_id=CLIENT&client_id=CLIENT&redirect_uri=javascript%3Aalert(1)")
	f.Add("response_type=code&client_id=CLIENT&redirect_uri=" + url.QueryEscape(oktaCallback) + "&code_challenge=abc&code_challenge_method=plain")
	f.Add("%zz&client_id=CLIENT")
	ce := newCodeEnv(f)
	okta, err := ce.creds.Client(context.Background(), ce.okta)
	if err != nil {
		f.Fatal(err)
	}
	var inputs atomic.Int64
	f.Fuzz(func(t *testing.T, query string) {
		query = strings.ReplaceAll(query, "CLIENT", ce.okta)
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.URL.Path, req.URL.RawQuery = AuthorizePath, query
		// Each input from its own address, or the per-address limit would
		// answer all but the first 30 without looking at them.
		req.Header.Set("X-Test-IP", "fuzz-"+strconv.FormatInt(inputs.Add(1), 10))
		rec := httptest.NewRecorder()
		ce.handler.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q", rec.Code, query)
		}
		if loc := rec.Header().Get("Location"); loc != "" && !slices.ContainsFunc(okta.RedirectURIs, func(u string) bool { return strings.HasPrefix(loc, u+"?") }) {
			t.Fatalf("redirect to %q for %q", loc, query)
		}
	})
}

// A refresh while the grants cannot be read goes through go-oauth2's error
// path: still a 503 with Retry-After and our description, and the family
// is unharmed once the store is back.
func TestRefreshWhileGrantsStoreDown(t *testing.T) {
	ce := newCodeEnv(t)
	rt := ce.tokens(t)["refresh_token"].(string)
	ce.grantsKV.Fail(errors.New("store unreachable (test)"))
	status, hdr, body := ce.post(TokenPath, refreshForm(rt), ce.oktaAuth())
	if status != http.StatusServiceUnavailable || body["error"] != "temporarily_unavailable" ||
		body["error_description"] == "temporarily_unavailable" || hdr.Get("Retry-After") != "1" || hdr.Get("Cache-Control") != "no-store" {
		t.Fatalf("refresh with the grants store down: %d %v %v", status, hdr, body)
	}
	ce.grantsKV.Fail(nil)
	if status, _, body := ce.post(TokenPath, refreshForm(rt), ce.oktaAuth()); status != http.StatusOK || body["refresh_token"] == nil {
		t.Fatalf("refresh once the store is back: %d %v", status, body)
	}
}

// disabledAdmins reports the named admins as disabled, as a record with
// Disabled set would read.
type disabledAdmins struct {
	Directory
	names map[string]bool
}

func (d disabledAdmins) Admin(ctx context.Context, tenantID, username string) (*credentials.AdminUser, error) {
	a, err := d.Directory.Admin(ctx, tenantID, username)
	if err == nil && d.names[username] {
		a.Disabled = true
	}
	return a, err
}

// What changes between sign-in and consent ends the request: no code is
// issued for a tenant, client or admin that is no longer active, and the
// consent page itself is not shown for it.
func TestConsentAfterTheWorldChanged(t *testing.T) {
	disabled := map[string]bool{}
	ce := newCodeEnv(t, func(d *Deps) { d.Directory = disabledAdmins{Directory: d.Directory, names: disabled} })
	ctx := context.Background()
	if _, _, err := ce.creds.CreateAdmin(ctx, "acme", "cy", adminPassword); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name         string
		admin        string
		change, undo func() error
		text         string
	}{
		{name: "tenant disabled", admin: "ada", text: "organisation",
			change: func() error { _, err := ce.creds.SetTenantDisabled(ctx, "acme", true); return err },
			undo:   func() error { _, err := ce.creds.SetTenantDisabled(ctx, "acme", false); return err }},
		{name: "client disabled", admin: "ada", text: "application",
			change: func() error { _, err := ce.creds.SetClientDisabled(ctx, ce.okta, true); return err },
			undo:   func() error { _, err := ce.creds.SetClientDisabled(ctx, ce.okta, false); return err }},
		{name: "admin disabled", admin: "ada", text: "administrator",
			change: func() error { disabled["ada"] = true; return nil },
			undo:   func() error { delete(disabled, "ada"); return nil }},
		{name: "admin deleted", admin: "cy", text: "administrator",
			change: func() error { return ce.creds.DeleteAdmin(ctx, "acme", "cy") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := ce.browser(t)
			csrf := testkit.CSRF(t, ce.signIn(t, b, ce.authorizeQuery(), tc.admin))
			if err := tc.change(); err != nil {
				t.Fatal(err)
			}
			if tc.undo != nil {
				defer func() {
					if err := tc.undo(); err != nil {
						t.Fatal(err)
					}
				}()
			}
			if resp, page := b.Get(ce.url + ConsentPath); resp.StatusCode != 400 || strings.Contains(page, `value="allow"`) || !strings.Contains(page, tc.text) {
				t.Errorf("consent page: %d\n%s", resp.StatusCode, page)
			}
			resp, page := b.Post(ce.url+ConsentPath, url.Values{"csrf": {csrf}, "decision": {"allow"}})
			if resp.StatusCode != 400 || resp.Header.Get("Location") != "" || !strings.Contains(page, tc.text) {
				t.Fatalf("allow: %d %q\n%s", resp.StatusCode, resp.Header.Get("Location"), page)
			}
		})
	}
	// Undone, the flow works again.
	ce.code(t, ce.authorizeQuery())
}

// Every page an admin's browser can land on under the authorization
// endpoint is an HTML page with the pages' security headers, never JSON:
// wrong paths (a trailing slash typed into Okta's field), wrong methods,
// bad requests and expired sessions alike.
func TestAuthorizePagesAreHTMLWithHeaders(t *testing.T) {
	ce := newCodeEnv(t)
	b := ce.browser(t)
	for _, tc := range []struct {
		name, method, path string
		status             int
		text               string
	}{
		{name: "trailing slash", method: "GET", path: AuthorizePath + "/?" + ce.authorizeQuery().Encode(), status: 404, text: ce.url + AuthorizePath + " exactly"},
		{name: "unknown page", method: "GET", path: AuthorizePath + "/nope", status: 404, text: "no page at this address"},
		{name: "consent with a slash", method: "POST", path: ConsentPath + "/", status: 404, text: "no page at this address"},
		{name: "unknown client", method: "GET", path: AuthorizePath + "?" + ce.authorizeQuery("client_id", "nope").Encode(), status: 400, text: "not known"},
		{name: "unregistered redirect", method: "GET", path: AuthorizePath + "?" + ce.authorizeQuery("redirect_uri", "https://evil.example/cb").Encode(), status: 400, text: "not registered"},
		{name: "POST authorize", method: "POST", path: AuthorizePath, status: 405, text: "GET"},
		{name: "consent without cookie", method: "GET", path: ConsentPath, status: 400, text: "expired"},
	} {
		req, _ := http.NewRequest(tc.method, ce.url+tc.path, nil)
		resp, page := b.Do(req)
		if resp.StatusCode != tc.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(page, tc.text) ||
			resp.Header.Get("Location") != "" {
			t.Errorf("%s: %d %s %q\n%s", tc.name, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Location"), page)
			continue
		}
		checkPageHeaders(t, resp)
	}
}

// The authorization endpoint admits 30 requests per address in 10 minutes,
// bad ones included; the next is the error page with 429 and Retry-After,
// and other addresses are not affected.
func TestAuthorizeLimitPerAddress(t *testing.T) {
	ce := newCodeEnv(t)
	b := ce.browser(t)
	open := func(ip string, q url.Values) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, ce.url+AuthorizePath+"?"+q.Encode(), nil)
		req.Header.Set("X-Test-IP", ip)
		return b.Do(req)
	}
	for i := range 30 {
		q, want := ce.authorizeQuery(), http.StatusOK
		if i%3 == 0 {
			q, want = ce.authorizeQuery("client_id", "probe-"+strconv.Itoa(i)), http.StatusBadRequest
		}
		if resp, page := open("203.0.113.5", q); resp.StatusCode != want {
			t.Fatalf("request %d: %d, want %d\n%s", i+1, resp.StatusCode, want, page)
		}
	}
	resp, page := open("203.0.113.5", ce.authorizeQuery())
	retry, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if resp.StatusCode != http.StatusTooManyRequests || err != nil || retry < 1 || retry > 20 ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(page, "Too many requests") ||
		!strings.Contains(page, `role="alert"`) || resp.Header.Get("Location") != "" || len(resp.Cookies()) != 0 {
		t.Fatalf("request 31: %d Retry-After %q Location %q cookies %v, want the 429 page with Retry-After 1–20\n%s",
			resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("Location"), resp.Cookies(), page)
	}
	checkPageHeaders(t, resp)
	if resp, page := open("198.51.100.8", ce.authorizeQuery()); resp.StatusCode != http.StatusOK {
		t.Fatalf("another address after the first was limited: %d\n%s", resp.StatusCode, page)
	}
}

// failingAdmins cannot check passwords, as when the admin records cannot
// be read.
type failingAdmins struct{ err error }

func (f failingAdmins) AuthenticateAdmin(context.Context, string, string, string) (*credentials.AdminUser, error) {
	return nil, f.err
}

// While the store cannot be read, every authorization page answers 503
// with Retry-After, as the token endpoint and the gateway do: not a 400
// that blames the link, nor a 500. A failed password check keeps the
// sign-in form; every other step shows the error page.
func TestAuthorizationPagesWhileStoreDown(t *testing.T) {
	storeDown := errors.New("store unreachable (test)")
	tests := []struct {
		name   string
		change []func(*Deps)
		// step takes b through the flow, makes the store fail where the
		// case says, and returns the answer to the step that needed it.
		step func(t *testing.T, ce *codeEnv, b *browser) (*http.Response, string)
		text string
	}{
		{name: "authorize", text: "The application could not be looked up.",
			step: func(t *testing.T, ce *codeEnv, b *browser) (*http.Response, string) {
				ce.kv.Fail(storeDown)
				return b.Get(ce.url + AuthorizePath + "?" + ce.authorizeQuery().Encode())
			}},
		{name: "sign-in", text: "The sign-in could not be continued.",
			step: func(t *testing.T, ce *codeEnv, b *browser) (*http.Response, string) {
				_, page := b.Get(ce.url + AuthorizePath + "?" + ce.authorizeQuery().Encode())
				ce.kv.Fail(storeDown)
				return b.Post(ce.url+SignInPath, url.Values{"csrf": {testkit.CSRF(t, page)}, "username": {"ada"}, "password": {adminPassword}})
			}},
		{name: "password check", text: "Signing in failed on our side.",
			change: []func(*Deps){func(d *Deps) { d.Admins = failingAdmins{storeDown} }},
			step: func(t *testing.T, ce *codeEnv, b *browser) (*http.Response, string) {
				_, page := b.Get(ce.url + AuthorizePath + "?" + ce.authorizeQuery().Encode())
				return b.Post(ce.url+SignInPath, url.Values{"csrf": {testkit.CSRF(t, page)}, "username": {"ada"}, "password": {adminPassword}})
			}},
		{name: "consent page", text: "The sign-in could not be continued.",
			step: func(t *testing.T, ce *codeEnv, b *browser) (*http.Response, string) {
				ce.signIn(t, b, ce.authorizeQuery(), "ada")
				ce.kv.Fail(storeDown)
				return b.Get(ce.url + ConsentPath)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ce := newCodeEnv(t, tt.change...)
			resp, page := tt.step(t, ce, ce.browser(t))
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" ||
				!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(page, tt.text) ||
				resp.Header.Get("Location") != "" || strings.Contains(page, "unreachable") {
				t.Fatalf("%d Retry-After %q Location %q, want 503 with Retry-After 1 and %q\n%s",
					resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("Location"), tt.text, page)
			}
			checkPageHeaders(t, resp)
		})
	}
}

// The per-username throttle counts one admin once, in whatever case or
// Unicode form the name is typed, as sign-in finds that one admin for all.
func TestSignInThrottleKeyIsTheAdmins(t *testing.T) {
	s := &Server{}
	want := s.signInThrottle("ip", "acme", "jos\u00e9").userKey
	for _, u := range []string{"jos\u00e9", "Jos\u00e9", "jose\u0301", "JOSE\u0301"} {
		if got := s.signInThrottle("ip", "acme", u).userKey; got != want {
			t.Errorf("%q: key %q, want %q", u, got, want)
		}
	}
}
