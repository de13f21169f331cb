package authserver

import (
	"context"
	"net/url"
	"testing"
	"time"

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
	peer, peerSecret := ce.newClient(credentials.ClientSpec{TenantID: "acme", Name: "Peer", Audiences: []string{testAudience}})
	for name, other := range map[string]string{"other tenant": basic(globex, globexSecret), "same tenant, other client": basic(peer, peerSecret)} {
		if status, _, body := ce.post(RevokePath, url.Values{"token": {rt}}, map[string]string{"Authorization": other}); status != 400 || body["error"] != "unauthorized_client" {
			t.Fatalf("%s revokes the refresh token: %d %v", name, status, body)
		}
	}
	if _, _, intro := ce.post(IntrospectPath, url.Values{"token": {rt}}, ce.oktaAuth()); intro["active"] != true {
		t.Fatalf("a refused revocation revoked the family: %v", intro)
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

// E23 on the server's own clock: the verifier's leeway lets resource
// servers with other clocks accept a token briefly past exp, but
// introspection here says it is no longer active.
func TestIntrospectionOfExpiredToken(t *testing.T) {
	ce := newCodeEnv(t)
	self := map[string]string{"Authorization": basic(ce.clientID, ce.secret)}
	_, _, body := ce.post(TokenPath, ccForm(), self)
	tok := body["access_token"].(string)
	claims, err := ce.verifier.Verify(tok, testAudience)
	if err != nil {
		t.Fatal(err)
	}
	ce.clock.Advance(claims.Expiry().Sub(ce.clock.Now()) - time.Second)
	if _, _, intro := ce.post(IntrospectPath, url.Values{"token": {tok}}, self); intro["active"] != true {
		t.Fatalf("a second before exp: %v", intro)
	}
	ce.clock.Advance(2 * time.Second)
	if _, _, intro := ce.post(IntrospectPath, url.Values{"token": {tok}}, self); len(intro) != 1 || intro["active"] != false {
		t.Fatalf("a second after exp, inside the verifier's leeway: %v", intro)
	}
}

// Introspection agrees with the gateway: the tokens of a client that has
// been disabled or deleted since are not active (RFC 7662 §2.2), access and
// refresh tokens alike, and become active again when the client is enabled.
func TestIntrospectionOfDisabledOrDeletedClientsTokens(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, ce *codeEnv, id string)
		active bool
	}{
		{name: "enabled", change: func(*testing.T, *codeEnv, string) {}, active: true},
		{name: "disabled", change: func(t *testing.T, ce *codeEnv, id string) {
			if _, err := ce.creds.SetClientDisabled(ctx, id, true); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "disabled then enabled", change: func(t *testing.T, ce *codeEnv, id string) {
			for _, d := range []bool{true, false} {
				if _, err := ce.creds.SetClientDisabled(ctx, id, d); err != nil {
					t.Fatal(err)
				}
			}
		}, active: true},
		{name: "deleted", change: func(t *testing.T, ce *codeEnv, id string) {
			if err := ce.creds.DeleteClient(ctx, id); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ce := newCodeEnv(t)
			tok := ce.tokens(t)
			_, _, cc := ce.post(TokenPath, ccForm(), map[string]string{"Authorization": basic(ce.clientID, ce.secret)})
			// The second Okta client of acme introspects the tokens of the
			// first and of the Entra client.
			caller := map[string]string{"Authorization": basic(ce.okta2, ce.okta2Secret)}
			tc.change(t, ce, ce.okta)
			tc.change(t, ce, ce.clientID)
			for name, token := range map[string]string{"access": tok["access_token"].(string), "refresh": tok["refresh_token"].(string),
				"client credentials": cc["access_token"].(string)} {
				status, _, intro := ce.post(IntrospectPath, url.Values{"token": {token}}, caller)
				if status != 200 || intro["active"] != tc.active || (!tc.active && len(intro) != 1) {
					t.Errorf("%s token: %d %v, want active %v", name, status, intro, tc.active)
				}
			}
		})
	}
}

// Client-credentials tokens are issued on the server's clock (Config.Now),
// the one introspection and the gateway verify on: a token minted after
// the clock moved on lives its full expires_in on that clock.
func TestClientCredentialsTokensOnServerClock(t *testing.T) {
	ce := newCodeEnv(t)
	ce.clock.Advance(2 * time.Hour)
	self := map[string]string{"Authorization": basic(ce.clientID, ce.secret)}
	_, _, body := ce.post(TokenPath, ccForm(), self)
	tok, _ := body["access_token"].(string)
	claims, err := ce.verifier.Verify(tok, testAudience)
	if err != nil {
		t.Fatalf("a token just minted does not verify on the server's clock: %v", err)
	}
	if iat := time.Unix(claims.IssuedAt, 0); iat.Sub(ce.clock.Now()).Abs() > 5*time.Second {
		t.Fatalf("iat %s, server clock %s", iat, ce.clock.Now())
	}
	if _, _, intro := ce.post(IntrospectPath, url.Values{"token": {tok}}, self); intro["active"] != true {
		t.Fatalf("introspection: %v", intro)
	}
}
