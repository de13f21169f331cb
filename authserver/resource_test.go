package authserver

import (
	"slices"
	"testing"

	"github.com/scimgate/scimgate/internal/credentials"
)

// RFC 8707 §2.2: a resource parameter on a code or refresh-token request
// narrows the token's audience to one granted at authorization, and one
// that was not granted is invalid_target — as for client credentials —
// instead of being ignored.
func TestResourceNarrowsCodeAndRefreshTokens(t *testing.T) {
	const other = "http://other.test/scim/v2"
	ce := newCodeEnv(t)
	id, sec := ce.newClient(credentials.ClientSpec{TenantID: "acme", Name: "Okta two audiences", Kind: credentials.KindOkta,
		RedirectURIs: []string{oktaCallback}, Audiences: []string{testAudience, other}})
	auth := map[string]string{"Authorization": basic(id, sec)}
	both := []string{testAudience, other}
	for _, tc := range []struct {
		name    string
		refresh bool // a refresh request (of a fresh grant), else a code exchange
		// narrowCode is the resource of the code exchange before a refresh.
		narrowCode string
		resource   string
		status     int
		err        string
		aud        []string
	}{
		{name: "code without resource", status: 200, aud: both},
		{name: "code narrowed", resource: other, status: 200, aud: []string{other}},
		{name: "code, resource not granted", resource: "http://evil.test/", status: 400, err: "invalid_target"},
		{name: "refresh without resource", refresh: true, status: 200, aud: both},
		{name: "refresh narrowed", refresh: true, resource: testAudience, status: 200, aud: []string{testAudience}},
		{name: "refresh of a grant whose code exchange was narrowed", refresh: true, narrowCode: other, status: 200, aud: both},
		{name: "refresh, resource not granted", refresh: true, resource: "http://evil.test/", status: 400, err: "invalid_target"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form := codeForm(ce.code(t, ce.authorizeQuery("client_id", id)))
			var rt string
			if tc.refresh {
				if tc.narrowCode != "" {
					form.Set("resource", tc.narrowCode)
				}
				status, _, body := ce.post(TokenPath, form, auth)
				if status != 200 {
					t.Fatalf("code exchange: %d %v", status, body)
				}
				rt = body["refresh_token"].(string)
				form = refreshForm(rt)
			}
			if tc.resource != "" {
				form.Set("resource", tc.resource)
			}
			status, _, body := ce.post(TokenPath, form, auth)
			if status != tc.status || (tc.err != "" && body["error"] != tc.err) {
				t.Fatalf("%d %v, want %d %s", status, body, tc.status, tc.err)
			}
			if tc.status != 200 {
				if tc.refresh { // a refused refresh leaves the family as it was
					if status, _, body := ce.post(TokenPath, refreshForm(rt), auth); status != 200 {
						t.Fatalf("refresh after the refused one: %d %v", status, body)
					}
				}
				return
			}
			claims, err := ce.verifier.Verify(body["access_token"].(string), "")
			if err != nil || !slices.Equal(claims.Audience, tc.aud) {
				t.Fatalf("aud %v (%v), want %v", claims.Audience, err, tc.aud)
			}
		})
	}
}
