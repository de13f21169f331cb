// Package okta_test connects scimgate to "Okta" the way an Okta admin does:
// a real headless Chromium opens the authorize URL Okta would build, signs
// in as a tenant admin and consents; a local callback server stands in for
// Okta's redirect URI; golang.org/x/oauth2 exchanges and refreshes like
// Okta's token client; the access token is used on the SCIM gateway.
//
// Chromium comes from the Debian package `chromium` (CI installs it). The
// test skips loudly when it is missing locally and fails when CI=true.
// Set SCIMGATE_E2E_SCREENSHOTS to a directory to keep the page screenshots.
package okta_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/scimgate/scimgate/authserver"
	"github.com/scimgate/scimgate/config"
	"github.com/scimgate/scimgate/internal/accesstoken"
	"github.com/scimgate/scimgate/internal/audit"
	"github.com/scimgate/scimgate/internal/credentials"
	"github.com/scimgate/scimgate/internal/grants"
	"github.com/scimgate/scimgate/internal/scim/scimtest"
	"github.com/scimgate/scimgate/internal/secret"
	"github.com/scimgate/scimgate/internal/stacktest"
)

const (
	scimPrefix    = "/scim/v2"
	callbackPath  = "/admin/app/cpc/test/oauth/callback"
	adminName     = "ada"
	adminPassword = "correct horse battery staple"
)

// stack is scimgate's public listener as cmd/scimgate serve wires it
// (stacktest), with the authorization-code flow, plus a SCIM upstream and
// Okta's callback.
type stack struct {
	*stacktest.Stack
	verifier         *accesstoken.Verifier
	upstream         *scimtest.Server
	callback         *callback
	okta, oktaSecret string
}

func newStack(t *testing.T) *stack {
	t.Helper()
	ctx := context.Background()
	s := &stack{upstream: scimtest.New(), callback: newCallback(t)}
	up := httptest.NewServer(s.upstream)
	t.Cleanup(up.Close)
	route := config.DefaultRoute()
	route.Prefix, route.Upstream = scimPrefix, up.URL+"/scim"
	s.Stack = stacktest.Start(t, stacktest.Options{
		Gateway:           config.Gateway{TokenCacheSize: 100, Routes: []config.Route{route}},
		AuthorizationCode: true,
	})
	s.verifier = accesstoken.NewVerifier(s.URL, stacktest.Leeway, s.Keys.Keyfunc, nil)

	if _, err := s.Credentials.CreateTenant(ctx, "acme", "Acme Corporation"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Credentials.CreateAdmin(ctx, "acme", adminName, adminPassword); err != nil {
		t.Fatal(err)
	}
	// An Okta client as an operator creates it: Okta's five callbacks for
	// the app name, plus this test's callback as one more exact URI.
	c, sec, err := s.Credentials.CreateClient(ctx, credentials.ClientSpec{TenantID: "acme", Name: "Okta (Acme)", Kind: credentials.KindOkta,
		OktaAppName: "acme", RedirectURIs: []string{s.callback.url()}, Audiences: []string{s.URL + scimPrefix}})
	if err != nil {
		t.Fatal(err)
	}
	s.okta, s.oktaSecret = c.ID, sec
	return s
}

func (s *stack) oauthConfig(style oauth2.AuthStyle) *oauth2.Config {
	return &oauth2.Config{
		ClientID: s.okta, ClientSecret: s.oktaSecret, RedirectURL: s.callback.url(),
		Scopes:   []string{credentials.ScopeFull, credentials.ScopeOfflineAccess},
		Endpoint: oauth2.Endpoint{AuthURL: s.URL + authserver.AuthorizePath, TokenURL: s.URL + authserver.TokenPath, AuthStyle: style},
	}
}

// callback stands in for https://system-admin.okta.com/admin/app/cpc/{app}/oauth/callback.
type callback struct {
	srv *httptest.Server
	got chan url.Values
}

func newCallback(t *testing.T) *callback {
	c := &callback{got: make(chan url.Values, 4)}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		switch r.URL.Path {
		case callbackPath:
			c.got <- r.URL.Query()
			io.WriteString(w, `<!doctype html><title>Okta</title><h1>Connected</h1>`)
		case "/js-probe":
			// The title says whether scripts ran in this tab.
			io.WriteString(w, `<!doctype html><title>scripts off</title><script>document.title = "scripts on"</script>`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *callback) url() string { return c.srv.URL + callbackPath }

func (c *callback) wait(t *testing.T) url.Values {
	t.Helper()
	select {
	case q := <-c.got:
		return q
	case <-time.After(20 * time.Second):
		t.Fatal("the browser never reached the callback")
		return nil
	}
}

// newBrowser starts headless Chromium with a fresh profile.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("CHROMIUM")
	if path == "" {
		var err error
		if path, err = exec.LookPath("chromium"); err != nil {
			msg := "!!! CHROMIUM NOT FOUND — the Okta browser test is NOT being run !!!\n" +
				"    Install it: apt-get install chromium (or set CHROMIUM to its path)"
			if os.Getenv("CI") == "true" {
				t.Fatal(msg)
			}
			fmt.Fprintln(os.Stderr, msg)
			t.Skip(msg)
		}
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1000, 760))
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first Run starts the browser; it must not carry a timeout.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// tab opens a new tab in the browser of ctx.
func tab(t *testing.T, browser context.Context) context.Context {
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
	return ctx
}

type screenshots struct {
	t   *testing.T
	dir string
}

func newScreenshots(t *testing.T) *screenshots {
	dir := os.Getenv("SCIMGATE_E2E_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return &screenshots{t: t, dir: dir}
}

func (s *screenshots) take(ctx context.Context, name string) {
	s.t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		s.t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(s.dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		s.t.Fatal(err)
	}
	s.t.Logf("screenshot: %s", path)
}

// run is one connection attempt as Okta makes it.
type run struct {
	name      string
	style     oauth2.AuthStyle
	pkce      bool
	noScripts bool
	// wrongPasswordFirst types a wrong password once, to see the error.
	wrongPasswordFirst bool
}

// connect drives the browser through authorize, sign-in and consent, and
// exchanges the code at the callback for tokens.
func (s *stack) connect(t *testing.T, browser context.Context, shots *screenshots, r run) *oauth2.Token {
	t.Helper()
	ctx := tab(t, browser)
	if r.noScripts {
		if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(s.callback.srv.URL+"/js-probe")); err != nil {
			t.Fatal(err)
		}
		if title, err := chromedp.Run(ctx, chromedp.Title()); err != nil || title != "scripts off" {
			t.Fatalf("scripts are not disabled in the tab: title %q, %v", title, err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	cfg := s.oauthConfig(r.style)
	state := "okta-" + r.name + "-" + secret.NewID(12)
	var authOpts, exchangeOpts []oauth2.AuthCodeOption
	if r.pkce {
		verifier := oauth2.GenerateVerifier()
		authOpts = append(authOpts, oauth2.S256ChallengeOption(verifier))
		exchangeOpts = append(exchangeOpts, oauth2.VerifierOption(verifier))
	}
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(cfg.AuthCodeURL(state, authOpts...)))
	if err != nil || resp.Status != 200 {
		t.Fatalf("%s: authorize page: %v %v", r.name, resp, err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("username"))); err != nil {
		t.Fatal(err)
	}
	shots.take(ctx, r.name+"-1-signin")
	if !r.noScripts {
		checkRenderedPage(t, ctx)
	}
	if r.wrongPasswordFirst {
		resp, err := chromedp.RunResponse(ctx, chromedp.SendKeys(chromedp.ID("username"), adminName),
			chromedp.SendKeys(chromedp.ID("password"), "not the password"), chromedp.Click(chromedp.CSS(`button[type=submit]`)))
		if err != nil || resp.Status != http.StatusUnauthorized {
			t.Fatalf("%s: wrong password: %v %v", r.name, resp, err)
		}
		alert, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`[role=alert]`)))
		if err != nil || !strings.Contains(alert, "not correct") {
			t.Fatalf("%s: no error message in the alert region: %q %v", r.name, alert, err)
		}
		shots.take(ctx, r.name+"-2-signin-error")
		// The username stays filled in; only the password is typed again.
		if err := chromedp.Do(ctx, chromedp.Clear(chromedp.ID("username"))); err != nil {
			t.Fatal(err)
		}
	}
	resp, err = chromedp.RunResponse(ctx, chromedp.SendKeys(chromedp.ID("username"), adminName),
		chromedp.SendKeys(chromedp.ID("password"), adminPassword), chromedp.Click(chromedp.CSS(`button[type=submit]`)))
	if err != nil || resp.Status != 200 || !strings.HasSuffix(resp.URL, authserver.ConsentPath) {
		t.Fatalf("%s: sign-in: %+v %v", r.name, resp, err)
	}
	consent, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Okta (Acme)", "Acme Corporation", adminName, "Manage users and groups", "Stay connected"} {
		if !strings.Contains(consent, want) {
			t.Errorf("%s: consent page does not show %q:\n%s", r.name, want, consent)
		}
	}
	shots.take(ctx, r.name+"-3-consent")
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`button[value=allow]`))); err != nil {
		t.Fatalf("%s: allow: %v", r.name, err)
	}
	q := s.callback.wait(t)
	if q.Get("state") != state || !strings.HasPrefix(q.Get("code"), grants.CodePrefix) || q.Get("error") != "" {
		t.Fatalf("%s: callback got %v", r.name, q)
	}
	tok, err := cfg.Exchange(ctx, q.Get("code"), exchangeOpts...)
	if err != nil {
		t.Fatalf("%s: exchange: %v", r.name, err)
	}
	if tok.TokenType != "Bearer" || tok.RefreshToken == "" || tok.Extra("scope") != "scim.full offline_access" || time.Until(tok.Expiry) < 59*time.Minute {
		t.Fatalf("%s: token %+v scope %v", r.name, tok, tok.Extra("scope"))
	}
	claims, err := s.verifier.Verify(tok.AccessToken, s.URL+scimPrefix)
	if err != nil || claims.Subject != "admin:acme/"+adminName || claims.TenantID != "acme" || claims.ClientID != s.okta || claims.AuthTime == 0 {
		t.Fatalf("%s: claims %+v %v", r.name, claims, err)
	}
	return tok
}

// checkRenderedPage asks the browser about the page as it renders it:
// every visible input has a label, the CSP-hashed stylesheet applied, and
// the username field has focus.
func checkRenderedPage(t *testing.T, ctx context.Context) {
	t.Helper()
	labelled, err := chromedp.Run(ctx, chromedp.Evaluate[bool](
		`[...document.querySelectorAll('input:not([type=hidden])')].every(i => i.id && document.querySelector('label[for="' + i.id + '"]'))`))
	if err != nil || !labelled {
		t.Errorf("an input without a <label for>: %v", err)
	}
	styled, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector('button')).backgroundColor`))
	if err != nil || styled != "rgb(31, 79, 209)" {
		t.Errorf("the stylesheet did not apply (blocked by the CSP?): button background %q %v", styled, err)
	}
	focused, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.id`))
	if err != nil || focused != "username" {
		t.Errorf("focus on %q, want the username field: %v", focused, err)
	}
}

// gatewayStatus sends GET /scim/v2/Users with the access token.
func (s *stack) gatewayStatus(t *testing.T, access string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.URL+scimPrefix+"/Users?count=1", nil)
	req.Header.Set("Authorization", "Bearer "+access)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (s *stack) refresh(t *testing.T, style oauth2.AuthStyle, refreshToken string) (*oauth2.Token, error) {
	t.Helper()
	return s.oauthConfig(style).TokenSource(context.Background(), &oauth2.Token{RefreshToken: refreshToken}).Token()
}

func wantInvalidGrant(t *testing.T, what string, err error) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("%s: %v, want invalid_grant", what, err)
	}
}

func TestOktaConnectsInChromium(t *testing.T) {
	s := newStack(t)
	browser := newBrowser(t)
	shots := newScreenshots(t)

	// First connection: state and offline_access, client_secret_basic,
	// scripts on, one mistyped password.
	tok := s.connect(t, browser, shots, run{name: "basic", style: oauth2.AuthStyleInHeader, wrongPasswordFirst: true})
	if status := s.gatewayStatus(t, tok.AccessToken); status != 200 {
		t.Fatalf("gateway with the first access token: %d", status)
	}
	seen := s.upstream.Seen()
	if last := seen[len(seen)-1]; last.Tenant != "acme" || last.Client != s.okta {
		t.Fatalf("the upstream saw %+v, want tenant acme and the Okta client", last)
	}

	// Okta refreshes when it next provisions: every refresh rotates.
	second, err := s.refresh(t, oauth2.AuthStyleInHeader, tok.RefreshToken)
	if err != nil || second.RefreshToken == tok.RefreshToken || s.gatewayStatus(t, second.AccessToken) != 200 {
		t.Fatalf("first refresh: %+v %v", second, err)
	}
	third, err := s.refresh(t, oauth2.AuthStyleInParams, second.RefreshToken)
	if err != nil || third.RefreshToken == second.RefreshToken || s.gatewayStatus(t, third.AccessToken) != 200 {
		t.Fatalf("second refresh: %+v %v", third, err)
	}

	// A stolen old refresh token comes back: the whole family is revoked,
	// the newest refresh token and every access token included.
	_, err = s.refresh(t, oauth2.AuthStyleInHeader, tok.RefreshToken)
	wantInvalidGrant(t, "reused refresh token", err)
	_, err = s.refresh(t, oauth2.AuthStyleInHeader, third.RefreshToken)
	wantInvalidGrant(t, "newest refresh token after reuse", err)
	for i, access := range []string{tok.AccessToken, second.AccessToken, third.AccessToken} {
		if status := s.gatewayStatus(t, access); status != http.StatusUnauthorized {
			t.Fatalf("access token %d of the revoked family: gateway answered %d", i, status)
		}
	}

	// Second connection: PKCE S256, client_secret_post, scripts disabled.
	tok = s.connect(t, browser, shots, run{name: "pkce-noscript", style: oauth2.AuthStyleInParams, pkce: true, noScripts: true})
	if status := s.gatewayStatus(t, tok.AccessToken); status != 200 {
		t.Fatalf("gateway with the second connection's token: %d", status)
	}
	if _, err := s.refresh(t, oauth2.AuthStyleInParams, tok.RefreshToken); err != nil {
		t.Fatalf("refresh of the second connection: %v", err)
	}

	events := s.Audit.String()
	for _, ev := range []string{audit.AdminSignInFailed, audit.AdminSignIn, audit.ConsentGranted, audit.TokenIssued, audit.RefreshReuse} {
		if !strings.Contains(events, `"event":"`+ev+`"`) {
			t.Errorf("audit stream lacks %s", ev)
		}
	}
	if strings.Contains(events, adminPassword) || strings.Contains(events, tok.RefreshToken) {
		t.Error("a password or refresh token reached the audit stream")
	}
}

// The pages fit a phone's screen whatever the names they show: a client,
// tenant or admin name without spaces wraps inside the card instead of
// widening the page, so nothing needs scrolling sideways, on the sign-in
// page, after a failed sign-in, on the consent page and on an error page.
func TestPagesFitANarrowScreen(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	long := strings.Repeat("Okta", 40) + "-Provisioning"
	if _, err := s.Credentials.CreateTenant(ctx, "wide", "Tenant"+strings.Repeat("X", 120)); err != nil {
		t.Fatal(err)
	}
	longAdmin := "admin" + strings.Repeat("z", 150)
	if _, _, err := s.Credentials.CreateAdmin(ctx, "wide", longAdmin, adminPassword); err != nil {
		t.Fatal(err)
	}
	c, _, err := s.Credentials.CreateClient(ctx, credentials.ClientSpec{TenantID: "wide", Name: long, Kind: credentials.KindOkta,
		OktaAppName: "wide", RedirectURIs: []string{s.callback.url()}, Audiences: []string{s.URL + scimPrefix}})
	if err != nil {
		t.Fatal(err)
	}
	shots := newScreenshots(t)
	tabCtx := tab(t, newBrowser(t))
	if err := chromedp.Do(tabCtx, chromedp.EmulateViewport(320, 640, chromedp.EmulateMobile)); err != nil {
		t.Fatal(err)
	}
	tabCtx, cancel := context.WithTimeout(tabCtx, 60*time.Second)
	defer cancel()
	fits := func(name string) {
		t.Helper()
		shots.take(tabCtx, "narrow-"+name)
		overflow, err := chromedp.Run(tabCtx, chromedp.Evaluate[int](`document.documentElement.scrollWidth - window.innerWidth`))
		if err != nil || overflow > 0 {
			t.Errorf("%s: the page is %d px wider than the 320 px screen (%v)", name, overflow, err)
		}
	}
	cfg := &oauth2.Config{ClientID: c.ID, RedirectURL: s.callback.url(),
		Endpoint: oauth2.Endpoint{AuthURL: s.URL + authserver.AuthorizePath}}
	if err := chromedp.Do(tabCtx, chromedp.Navigate(cfg.AuthCodeURL("narrow")), chromedp.WaitVisible(chromedp.ID("username"))); err != nil {
		t.Fatal(err)
	}
	fits("1-signin")
	if err := chromedp.Do(tabCtx, chromedp.SendKeys(chromedp.ID("username"), longAdmin), chromedp.SendKeys(chromedp.ID("password"), "not the password"),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(`[role=alert]`))); err != nil {
		t.Fatal(err)
	}
	fits("2-signin-error")
	resp, err := chromedp.RunResponse(tabCtx, chromedp.SendKeys(chromedp.ID("password"), adminPassword), chromedp.Click(chromedp.CSS(`button[type=submit]`)))
	if err != nil || !strings.HasSuffix(resp.URL, authserver.ConsentPath) {
		t.Fatalf("sign-in: %+v %v", resp, err)
	}
	fits("3-consent")
	bad := s.URL + authserver.AuthorizePath + "?response_type=code&client_id=" + c.ID + "&redirect_uri=https://" + strings.Repeat("a", 60) + ".example/" + strings.Repeat("b", 200)
	if err := chromedp.Do(tabCtx, chromedp.Navigate(bad)); err != nil {
		t.Fatal(err)
	}
	fits("4-error")
}
