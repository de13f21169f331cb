package testkit

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// Browser is a cookie-keeping HTTP client that does not follow redirects,
// standing in for an admin's browser without JavaScript on the sign-in and
// consent pages. Its form posts carry Origin, as a browser's do.
type Browser struct {
	t      testing.TB
	client *http.Client
	origin string
}

// NewBrowser returns a Browser whose posts say they come from origin.
func NewBrowser(t testing.TB, origin string) *Browser {
	jar, _ := cookiejar.New(nil)
	return &Browser{t: t, origin: origin, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// Do sends req with the browser's cookies and returns the answer and its
// body.
func (b *Browser) Do(req *http.Request) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// Get opens u.
func (b *Browser) Get(u string) (*http.Response, string) {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return b.Do(req)
}

// Post submits form to u as a page of the browser's origin does.
func (b *Browser) Post(u string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.origin)
	return b.Do(req)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// CSRF is the CSRF token of a sign-in or consent page.
func CSRF(t testing.TB, page string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF field in page:\n%s", page)
	}
	return m[1]
}
