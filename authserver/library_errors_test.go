package authserver

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// Errors raised while go-oauth2 runs the grant (PKCE, the refresh grant)
// keep the error_description scimgate wrote, instead of repeating the error
// code: the library's error path used to replace it with the bare code.
func TestErrorDescriptionsSurviveTheLibrary(t *testing.T) {
	ce := newCodeEnv(t)
	_, challenge := pkcePair()
	other, _ := pkcePair()
	pkce := ce.authorizeQuery("code_challenge", challenge, "code_challenge_method", "S256")
	for _, tc := range []struct {
		name string
		// request returns the token request's form and client auth.
		request func(t *testing.T) (url.Values, map[string]string)
		status  int
		err     string
		// desc is a word the description must contain.
		desc string
	}{
		{name: "wrong verifier", request: func(t *testing.T) (url.Values, map[string]string) {
			return codeForm(ce.code(t, pkce), "code_verifier", other), ce.oktaAuth()
		}, status: 400, err: "invalid_grant", desc: "code_verifier does not match"},
		{name: "missing verifier", request: func(t *testing.T) (url.Values, map[string]string) {
			return codeForm(ce.code(t, pkce)), ce.oktaAuth()
		}, status: 400, err: "invalid_grant", desc: "code_verifier does not match"},
		{name: "malformed verifier", request: func(t *testing.T) (url.Values, map[string]string) {
			// A description written in ASCII arrives as written, not with
			// '?' where a section sign was.
			return codeForm(ce.code(t, pkce), "code_verifier", "short"), ce.oktaAuth()
		}, status: 400, err: "invalid_grant", desc: "(RFC 7636 section 4.1)"},
		{name: "refresh with a wider scope", request: func(t *testing.T) (url.Values, map[string]string) {
			return refreshForm(ce.tokens(t)["refresh_token"].(string), "scope", "scim.full admin"), ce.oktaAuth()
		}, status: 400, err: "invalid_scope", desc: "'admin' was not granted"},
		{name: "refresh with a scope of quotes and non-ASCII", request: func(t *testing.T) (url.Values, map[string]string) {
			// env.do checks every error_description's characters.
			return refreshForm(ce.tokens(t)["refresh_token"].(string), "scope", "scim.full \"r\u00e9\\ad\""), ce.oktaAuth()
		}, status: 400, err: "invalid_scope", desc: "''r?/ad'' was not granted"},
		{name: "refresh token of another client", request: func(t *testing.T) (url.Values, map[string]string) {
			return refreshForm(ce.tokens(t)["refresh_token"].(string)), map[string]string{"Authorization": basic(ce.okta2, ce.okta2Secret)}
		}, status: 400, err: "invalid_grant", desc: "another client"},
		{name: "reused refresh token", request: func(t *testing.T) (url.Values, map[string]string) {
			rt := ce.tokens(t)["refresh_token"].(string)
			if status, _, body := ce.post(TokenPath, refreshForm(rt), ce.oktaAuth()); status != 200 {
				t.Fatalf("first refresh: %d %v", status, body)
			}
			ce.clock.Advance(time.Minute)
			return refreshForm(rt), ce.oktaAuth()
		}, status: 400, err: "invalid_grant", desc: "already used"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form, auth := tc.request(t)
			status, _, body := ce.post(TokenPath, form, auth)
			desc, _ := body["error_description"].(string)
			if status != tc.status || body["error"] != tc.err || !strings.Contains(desc, tc.desc) {
				t.Fatalf("%d %v, want %d %s with a description saying %q", status, body, tc.status, tc.err, tc.desc)
			}
		})
	}
}
