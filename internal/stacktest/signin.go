package stacktest

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/scimgate/scimgate/authserver"
)

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// Authorize plays the admin's browser through the authorization-code flow
// Okta starts (okta.md §3.2, O1): it opens authorizeQuery at the
// authorization endpoint, signs in as username, allows the consent and
// returns the code from the redirect, with no JavaScript and no Chromium.
// It needs Options.AuthorizationCode.
func (s *Stack) Authorize(t testing.TB, authorizeQuery url.Values, username, password string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, path string, form url.Values) (*http.Response, string) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequest(method, s.URL+path, body)
		if err != nil {
			t.Fatal(err)
		}
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", s.URL)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		page, _ := io.ReadAll(resp.Body)
		return resp, string(page)
	}
	csrf := func(page string) string {
		t.Helper()
		m := csrfField.FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("no CSRF field in page:\n%s", page)
		}
		return m[1]
	}
	resp, page := do(http.MethodGet, authserver.AuthorizePath+"?"+authorizeQuery.Encode(), nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("authorize: %d %s %s", resp.StatusCode, resp.Header.Get("Location"), page)
	}
	resp, page = do(http.MethodPost, authserver.SignInPath, url.Values{"csrf": {csrf(page)}, "username": {username}, "password": {password}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d %s", resp.StatusCode, page)
	}
	if _, page = do(http.MethodGet, authserver.ConsentPath, nil); !strings.Contains(page, `value="allow"`) {
		t.Fatalf("consent page:\n%s", page)
	}
	resp, page = do(http.MethodPost, authserver.ConsentPath, url.Values{"csrf": {csrf(page)}, "decision": {"allow"}})
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || err != nil {
		t.Fatalf("consent: %d %q %s", resp.StatusCode, resp.Header.Get("Location"), page)
	}
	q := loc.Query()
	if q.Get("code") == "" || q.Get("state") != authorizeQuery.Get("state") {
		t.Fatalf("redirect %s", loc)
	}
	return q.Get("code")
}
