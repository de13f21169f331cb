package app

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/scimgate/scimgate/internal/adminapi"
	"github.com/scimgate/scimgate/internal/secret"
)

// TestNoSecretInAnyLog runs the server with debug logs through everything
// that handles a secret — credentials created and rotated, tokens issued,
// refused, introspected and revoked, gateway calls that succeed and fail,
// wrong secrets, forged tokens, a bad admin token, a key rotation — and
// then looks for every secret in everything the server logged and audited.
func TestNoSecretInAnyLog(t *testing.T) {
	s := startServer(t, serverOptions{})
	ctx := context.Background()
	acme := s.newCredentials("acme")
	secrets := map[string]string{
		"client secret": acme.clientSecret, "API key": acme.apiKey, "admin token": s.adminToken,
		"master key (hex)": hex.EncodeToString(s.master), "master key (base64)": base64.StdEncoding.EncodeToString(s.master),
		"master key (base64url)": base64.RawURLEncoding.EncodeToString(s.master), "master key (raw)": string(s.master),
	}
	addToken := func(name, token string) {
		secrets[name] = token
		secrets[name+" signature"] = token[strings.LastIndexByte(token, '.')+1:]
	}

	token, _ := s.token(acme.clientID, acme.clientSecret)
	addToken("access token", token)
	wrongSecret := secret.New()
	secrets["wrong client secret"] = wrongSecret
	if _, r := s.token(acme.clientID, wrongSecret); r.status != http.StatusUnauthorized {
		t.Fatalf("wrong secret: %d", r.status)
	}

	rotated, err := s.ops.AddClientSecret(ctx, acme.clientID, adminapi.SecretLifetime{})
	if err != nil {
		t.Fatal(err)
	}
	secrets["rotated client secret"] = rotated.ClientSecret
	token2, _ := s.token(acme.clientID, rotated.ClientSecret)
	addToken("access token from the rotated secret", token2)

	bearer := "Bearer " + token
	created := s.do(http.MethodPost, "/scim/v2/Users", newUser, "Authorization", bearer)
	if created.status != http.StatusCreated {
		t.Fatalf("create: %d %s", created.status, created.body)
	}
	id := created.body[strings.Index(created.body, `"id":"`)+6:]
	id = id[:strings.IndexByte(id, '"')]
	for _, c := range []struct {
		method, path, body string
		want               int
	}{
		{http.MethodGet, "/scim/v2/Users?filter=" + url.QueryEscape(`userName eq "ada@example.com"`), "", 200},
		{http.MethodPatch, "/scim/v2/Users/" + id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}`, 200},
		{http.MethodDelete, "/scim/v2/Users/" + id, "", 204},
	} {
		if r := s.do(c.method, c.path, c.body, "Authorization", bearer); r.status != c.want {
			t.Errorf("%s %s: %d %s", c.method, c.path, r.status, r.body)
		}
	}

	forged := token[:len(token)-4] + "AAAA"
	addToken("forged token", forged)
	garbage := secret.New()
	secrets["garbage bearer"] = garbage
	for _, auth := range []string{"Bearer " + forged, "Bearer " + garbage, "Basic " + base64.StdEncoding.EncodeToString([]byte(":"+garbage))} {
		if r := s.do(http.MethodGet, "/scim/v2/Users", "", "Authorization", auth); r.status != http.StatusUnauthorized {
			t.Errorf("bad credential %.12s…: %d", auth, r.status)
		}
	}
	if r := s.do(http.MethodGet, "/scim/v2/Users?access_token="+token, ""); r.status < 400 {
		t.Errorf("token in the query: %d", r.status)
	}

	if r := s.do(http.MethodGet, "/scim/v2/Users", "", "Authorization", "Bearer "+acme.apiKey); r.status != http.StatusOK {
		t.Errorf("API key: %d %s", r.status, r.body)
	}
	keys, err := s.ops.APIKeys(ctx, "acme")
	if err != nil || len(keys) != 1 {
		t.Fatal(keys, err)
	}
	newKey, err := s.ops.RotateAPIKey(ctx, keys[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	secrets["rotated API key"] = newKey.Key
	if _, err := s.ops.RevokeAPIKey(ctx, keys[0].ID); err != nil {
		t.Fatal(err)
	}
	s.do(http.MethodGet, "/t/acme/scim/v2/Users", "", "Authorization", newKey.Key)
	s.do(http.MethodGet, "/scim/v2/Users", "", "Authorization", "Bearer "+acme.apiKey)

	form := func(v url.Values) string { return v.Encode() }
	for _, path := range []string{"/oauth2/introspect", "/oauth2/revoke"} {
		req, _ := http.NewRequest(http.MethodPost, s.public+path, strings.NewReader(form(url.Values{"token": {token}})))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(acme.clientID, acme.clientSecret)
		resp, err := s.client.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %v %v", path, resp, err)
		}
		resp.Body.Close()
	}
	if r := s.do(http.MethodGet, "/scim/v2/Users", "", "Authorization", bearer); r.status != http.StatusUnauthorized {
		t.Errorf("revoked token: %d", r.status)
	}

	wrongAdmin := secret.New()
	secrets["wrong admin token"] = wrongAdmin
	if _, err := adminapi.NewRemote(s.admin, wrongAdmin, s.client).Tenants(ctx); err == nil {
		t.Error("a wrong admin token was accepted")
	}
	if _, err := s.ops.RotateSigningKey(ctx); err != nil {
		t.Fatal(err)
	}
	token3, _ := s.token(acme.clientID, acme.clientSecret)
	addToken("token after key rotation", token3)
	s.do(http.MethodGet, "/scim/v2/Users", "", "Authorization", "Bearer "+token3)

	if err := s.shutdown(); err != nil {
		t.Fatal(err)
	}
	logs, auditLog := s.logs.String(), s.audit.String()
	if strings.Count(logs, "\n") < 20 || !strings.Contains(auditLog, `"event":"token.issued"`) {
		t.Fatalf("too little was logged to prove anything:\n%s\n%s", logs, auditLog)
	}
	for name, value := range secrets {
		for where, text := range map[string]string{"operational log": logs, "audit log": auditLog} {
			if strings.Contains(text, value) {
				t.Errorf("the %s contains the %s", where, name)
			}
		}
	}
}
