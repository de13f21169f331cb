package stacktest

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/scimgate/scimgate/authserver"
	"github.com/scimgate/scimgate/internal/testkit"
)

// Authorize plays the admin's browser through the authorization-code flow
// Okta starts (okta.md §3.2, O1): it opens authorizeQuery at the
// authorization endpoint, signs in as username, allows the consent and
// returns the code from the redirect, with no JavaScript and no Chromium.
// It needs Options.AuthorizationCode.
func (s *Stack) Authorize(t testing.TB, authorizeQuery url.Values, username, password string) string {
	t.Helper()
	b := testkit.NewBrowser(t, s.URL)
	resp, page := b.Get(s.URL + authserver.AuthorizePath + "?" + authorizeQuery.Encode())
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("authorize: %d %s %s", resp.StatusCode, resp.Header.Get("Location"), page)
	}
	resp, page = b.Post(s.URL+authserver.SignInPath, url.Values{"csrf": {testkit.CSRF(t, page)}, "username": {username}, "password": {password}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d %s", resp.StatusCode, page)
	}
	if _, page = b.Get(s.URL + authserver.ConsentPath); !strings.Contains(page, `value="allow"`) {
		t.Fatalf("consent page:\n%s", page)
	}
	resp, page = b.Post(s.URL+authserver.ConsentPath, url.Values{"csrf": {testkit.CSRF(t, page)}, "decision": {"allow"}})
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
