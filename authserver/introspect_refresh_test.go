package authserver

import (
	"net/url"
	"testing"

	"github.com/scimgate/scimgate/internal/credentials"
	"github.com/scimgate/scimgate/internal/grants"
)

func TestRefreshTokenIntrospectionAndRevocation(t *testing.T) {
	ce := newCodeEnv(t)
	globex, globexSecret := ce.newClient(credentials.ClientSpec{TenantID: "globex", Name: "Globex", Audiences: []string{testAudience}})
	tok := ce.tokens(t)
	rt, at := tok["refresh_token"].(string), tok["access_token"].(string)
	_, _, intro := ce.post(IntrospectPath, url.Values{"token": {rt}, "token_type_hint": {"refresh_token"}}, ce.oktaAuth())
	if intro["active"] != true || intro["client_id"] != ce.okta || intro["scope"] != "scim.full offline_access" || intro["sub"] != "admin:acme/ada" ||
		intro["tenant_id"] != "acme" || intro["exp"] == nil {
		t.Fatalf("refresh introspection: %v", intro)
	}
	other := map[string]string{"Authorization": basic(globex, globexSecret)}
	if _, _, intro := ce.post(IntrospectPath, url.Values{"token": {rt}}, other); len(intro) != 1 || intro["active"] != false {
		t.Fatalf("another tenant sees the refresh token: %v", intro)
	}
	if status, _, _ := ce.post(RevokePath, url.Values{"token": {rt}}, other); status != 400 {
		t.Fatalf("cross-tenant revoke: %d", status)
	}
	if status, _, _ := ce.post(RevokePath, url.Values{"token": {grants.NewRefreshToken("AAAAAAAAAAAAAAAAAAAAAA")}}, ce.oktaAuth()); status != 200 {
		t.Fatalf("unknown refresh token: %d", status)
	}
	if status, _, _ := ce.post(RevokePath, url.Values{"token": {rt}, "token_type_hint": {"access_token"}}, ce.oktaAuth()); status != 200 {
		t.Fatalf("revoke: %d", status)
	}
	for _, token := range []string{rt, at} {
		if _, _, intro := ce.post(IntrospectPath, url.Values{"token": {token}}, ce.oktaAuth()); len(intro) != 1 || intro["active"] != false {
			t.Fatalf("token still active after its family was revoked: %v", intro)
		}
	}
	if status, _, body := ce.post(TokenPath, refreshForm(rt), ce.oktaAuth()); status != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("refresh after revocation: %d %v", status, body)
	}
}
