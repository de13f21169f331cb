package authserver

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/text/unicode/norm"

	"github.com/scimgate/scimgate/internal/testkit"
)

// FuzzPagePost posts any form, Origin and Sec-Fetch-Site to the sign-in
// page (sel even) or, after a real sign-in, the consent page, for a fresh
// pending request each time. "CSRF" and "PASSWORD" in the form stand for
// the page's token and the admin's password. The server never fails with
// 5xx, sends the browser only to its own consent page or the client's
// registered callback, and only a post that carried the page's token and
// same-site headers gets that far: a sign-in only with the password, a
// code only on an allow.
func FuzzPagePost(f *testing.F) {
	for _, s := range []string{
		"csrf=CSRF&username=ada&password=PASSWORD", "csrf=CSRF&username=+ada+&password=PASSWORD", "csrf=CSRF&username=ada&password=x",
		"csrf=CSRF&decision=allow", "csrf=CSRF&decision=deny", "csrf=CSRF&decision=maybe", "csrf=nope&decision=allow",
		"csrf=CSRF&csrf=CSRF&decision=allow", "csrf=CSRF&username=bob&password=PASSWORD", "%zz&csrf=CSRF", "",
	} {
		for sel := range uint8(4) {
			f.Add(sel, s, "", "")
		}
		f.Add(uint8(0), s, "", "same-origin")
		f.Add(uint8(1), s, "null", "")
		f.Add(uint8(1), s, "https://evil.test", "")
		f.Add(uint8(0), s, "", "cross-site")
	}
	ce := newCodeEnv(f)
	var inputs atomic.Int64
	f.Fuzz(func(t *testing.T, sel uint8, body, origin, fetchSite string) {
		ip := "fuzz-" + strconv.FormatInt(inputs.Add(1), 10)
		do := func(method, path, cookie, body string, hdr map[string]string) *httptest.ResponseRecorder {
			req := httptest.NewRequest(method, path, strings.NewReader(body))
			req.Header.Set("X-Test-IP", ip)
			if method == http.MethodPost {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			if cookie != "" {
				req.Header.Set("Cookie", cookie)
			}
			for k, v := range hdr {
				if v != "" {
					req.Header.Set(k, v)
				}
			}
			rec := httptest.NewRecorder()
			ce.handler.ServeHTTP(rec, req)
			if rec.Code >= 500 {
				t.Fatalf("%s %s %q: status %d: %s", method, path, body, rec.Code, rec.Body)
			}
			return rec
		}
		cookieOf := func(rec *httptest.ResponseRecorder) string {
			for _, c := range rec.Result().Cookies() {
				if c.Value != "" {
					return c.Name + "=" + c.Value
				}
			}
			return ""
		}
		page := do(http.MethodGet, AuthorizePath+"?"+ce.authorizeQuery().Encode(), "", "", nil)
		cookie := cookieOf(page)
		if page.Code != 200 || cookie == "" {
			t.Fatalf("authorize: %d %s", page.Code, page.Body)
		}
		csrf := testkit.CSRF(t, page.Body.String())
		path := SignInPath
		if sel&1 != 0 {
			rec := do(http.MethodPost, SignInPath, cookie, url.Values{"csrf": {csrf}, "username": {"ada"}, "password": {adminPassword}}.Encode(), nil)
			if rec.Code != http.StatusSeeOther {
				t.Fatalf("sign-in: %d %s", rec.Code, rec.Body)
			}
			cookie = cookieOf(rec)
			consent := do(http.MethodGet, ConsentPath, cookie, "", nil)
			csrf, path = testkit.CSRF(t, consent.Body.String()), ConsentPath
		}
		form := strings.NewReplacer("CSRF", url.QueryEscape(csrf), "PASSWORD", url.QueryEscape(adminPassword)).Replace(body)
		if sel&2 != 0 {
			cookie = "" // no pending request at all
		}
		rec := do(http.MethodPost, path, cookie, form, map[string]string{"Origin": origin, "Sec-Fetch-Site": fetchSite})
		loc := rec.Header().Get("Location")
		if loc == "" {
			return
		}
		parsed, _ := url.ParseQuery(form)
		sameSite := fetchSite == "same-origin" || fetchSite == "" && (origin == "" || origin == "null" || origin == ce.url)
		if cookie == "" || !sameSite || parsed.Get("csrf") != csrf || len(parsed["csrf"]) != 1 {
			t.Fatalf("post %q to %s (Origin %q, Sec-Fetch-Site %q, cookie %v) sent to %q", form, path, origin, fetchSite, cookie != "", loc)
		}
		switch {
		case loc == ConsentPath:
			if path == SignInPath && (norm.NFC.String(parsed.Get("password")) != adminPassword || credentialsUser(parsed.Get("username")) != "ada") {
				t.Fatalf("sign-in %q let through", form)
			}
		case strings.HasPrefix(loc, oktaCallback+"?"):
			u, _ := url.Parse(loc)
			if path != ConsentPath || u.Query().Has("code") != (parsed.Get("decision") == "allow") {
				t.Fatalf("post %q to %s answered %q", form, path, loc)
			}
		default:
			t.Fatalf("post %q to %s sent to %q", form, path, loc)
		}
	})
}

// credentialsUser is the username as sign-in compares it.
func credentialsUser(s string) string { return strings.ToLower(norm.NFC.String(strings.TrimSpace(s))) }

// FuzzIntrospectRequest sends any introspection or revocation request (sel
// picks which) with any Authorization; "CID", "SECRET", "ACCESS" and
// "REFRESH" stand for the Okta client's id and secret and a live token of
// each kind. Answers are never 5xx, errors are RFC 6749 JSON, and only a
// live token is ever reported active.
func FuzzIntrospectRequest(f *testing.F) {
	for _, s := range []string{
		"token=ACCESS", "token=REFRESH&token_type_hint=refresh_token", "token=ACCESS&token_type_hint=refresh_token",
		"token=x.y.z", "token=sgr_", "token=", "", "token=ACCESS&token=REFRESH", "token=REFRESH&client_id=CID&client_secret=SECRET",
		"token=ACCESS&client_id=CID", "%zz&token=ACCESS",
	} {
		f.Add(uint8(0), s, "Basic CIDSECRET", "application/x-www-form-urlencoded")
		f.Add(uint8(1), s, "Basic CIDSECRET", "application/x-www-form-urlencoded; charset=utf-8")
		f.Add(uint8(0), s, "", "application/x-www-form-urlencoded")
		f.Add(uint8(1), s, "Bearer ACCESS", "text/plain")
	}
	ce := newCodeEnv(f)
	tok := ce.tokens(f)
	access, refresh := tok["access_token"].(string), tok["refresh_token"].(string)
	basicAuth := strings.TrimPrefix(basic(ce.okta, ce.oktaSecret), "Basic ")
	var inputs atomic.Int64
	f.Fuzz(func(t *testing.T, sel uint8, body, authz, contentType string) {
		body = strings.NewReplacer("CID", url.QueryEscape(ce.okta), "SECRET", url.QueryEscape(ce.oktaSecret),
			"ACCESS", access, "REFRESH", refresh).Replace(body)
		authz = strings.NewReplacer("CIDSECRET", basicAuth, "ACCESS", access).Replace(authz)
		path := IntrospectPath
		if sel&1 != 0 {
			path = RevokePath
		}
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("X-Test-IP", "fuzz-"+strconv.FormatInt(inputs.Add(1), 10))
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		rec := httptest.NewRecorder()
		ce.handler.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %q (Authorization %q): status %d: %s", path, body, authz, rec.Code, rec.Body)
		}
		if rec.Code == 200 && path == RevokePath {
			return
		}
		var out map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s %q: non-JSON answer %d %q", path, body, rec.Code, rec.Body)
		}
		if rec.Code != 200 {
			if s, _ := out["error"].(string); s == "" {
				t.Fatalf("%s %q: error answer without error: %d %s", path, body, rec.Code, rec.Body)
			}
			return
		}
		active, ok := out["active"].(bool)
		if !ok {
			t.Fatalf("introspection without active: %s", rec.Body)
		}
		if form, _ := url.ParseQuery(body); active && form.Get("token") != access && form.Get("token") != refresh {
			t.Fatalf("introspection of %q: %s", form.Get("token"), rec.Body)
		}
	})
}
