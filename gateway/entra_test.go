package gateway_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/scimgate/scimgate/authserver"
	"github.com/scimgate/scimgate/internal/testkit"
)

// TestEntraRequestRate plays S-04 and S-05 of entra.md on the default
// limits: Entra's 25 requests per second per tenant (a mix of Test
// Connection probes, queries and updates) for a minute are never refused,
// and a tenant beyond its limit gets a SCIM 429 with an integer
// Retry-After. The stack's clock moves 40 ms per request, so the minute
// takes no minute.
func TestEntraRequestRate(t *testing.T) {
	clock := &testkit.Clock{}
	s := newStack(t, stackOptions{now: clock.Now})
	tok := bearer(s.token(s.acme))
	r := s.do(http.MethodPost, shared+"/Users", tok, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"Test_User_1","emails":[{"type":"work","value":"a@example.com"}],"name":{"familyName":"F"}}`,
		"Content-Type", "application/scim+json; charset=utf-8")
	var user struct{ ID string }
	if r.status != 201 || json.Unmarshal([]byte(r.body), &user) != nil || user.ID == "" {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	mix := []struct{ method, path, body string }{
		{http.MethodGet, shared + entraProbe, ""},                                    // C-01
		{http.MethodGet, shared + "/Users?filter=userName+eq+%22Test_User_1%22", ""}, // U-02
		{http.MethodPatch, shared + "/Users/" + user.ID, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` + // U-09
			`{"op":"Replace","path":"emails[type eq \"work\"].value","value":"updatedEmail@microsoft.com"},{"op":"Replace","path":"name.familyName","value":"updatedFamilyName"}]}`},
	}
	for i := range 25 * 60 {
		m := mix[i%len(mix)]
		var header []string // Entra's GETs carry no Content-Type
		if m.body != "" {
			header = []string{"Content-Type", "application/scim+json; charset=utf-8"}
		}
		if r := s.do(m.method, m.path, tok, m.body, header...); r.status != 200 && r.status != 204 {
			t.Fatalf("request %d (%s %s) at 25/s: %d %s", i, m.method, m.path, r.status, r.body)
		}
		clock.Advance(40 * time.Millisecond)
	}
	for i := 0; ; i++ {
		r := s.do(http.MethodGet, shared+entraProbe, tok, "")
		if r.status == 200 && i < 1000 {
			continue
		}
		wantError(t, r, 429)
		if n, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || n < 1 {
			t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
		}
		break
	}
}

// entraToken asks the token endpoint for a token as Entra's "How credentials
// are sent" setting does: HTTP Basic (each half form-encoded, RFC 6749
// §2.3.1), the form body, both, or — the "Both" defect — neither.
func (s *stack) entraToken(c clientCreds, basic, body bool) response {
	s.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	if body {
		form.Set("client_id", c.id)
		form.Set("client_secret", c.secret)
	}
	header := []string{"Content-Type", "application/x-www-form-urlencoded"}
	if basic {
		header = append(header, "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(c.id)+":"+url.QueryEscape(c.secret))))
	}
	return s.do(http.MethodPost, authserver.TokenPath, "", form.Encode(), header...)
}

// accessToken reads a token response as Entra does (entra.md §2.3).
func accessToken(t *testing.T, r response) string {
	t.Helper()
	var tok struct {
		AccessToken  string `json:"access_token"`
		TokenType    string `json:"token_type"`
		ExpiresIn    *int   `json:"expires_in"`
		RefreshToken string `json:"refresh_token"`
		Scope        string
	}
	if r.status != 200 || json.Unmarshal([]byte(r.body), &tok) != nil {
		t.Fatalf("token endpoint: %d %s", r.status, r.body)
	}
	if r.header.Get("Content-Type") != "application/json" || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("token response headers %v", r.header)
	}
	if tok.AccessToken == "" || tok.TokenType != "Bearer" || tok.ExpiresIn == nil || *tok.ExpiresIn < 3600 || *tok.ExpiresIn > 21600 ||
		tok.RefreshToken != "" || tok.Scope != "scim.full" {
		t.Fatalf("token response %s", r.body)
	}
	return tok.AccessToken
}

// testConnection runs Entra's Test Connection probes (C-01, C-03) with tok.
func (s *stack) testConnection(t *testing.T, tok string) {
	t.Helper()
	for _, p := range []string{entraProbe, "/Groups?excludedAttributes=members&filter=displayName+eq+%22" + probeGUID + "%22"} {
		r := s.do(http.MethodGet, shared+p, bearer(tok), "")
		if r.status != 200 || !strings.Contains(r.body, `"totalResults":0`) || !strings.Contains(r.body, `"Resources":[]`) {
			t.Fatalf("probe %s: %d %s", p, r.status, r.body)
		}
	}
}

// TestEntraTokenModes plays A-01…A-03, A-06 and A-08: each "How credentials
// are sent" setting gets a token that Test Connection's probes then pass
// with, through the public listener as Entra reaches it; the "Both" setting
// that sends no credentials at all gets RFC 6749's invalid_client.
func TestEntraTokenModes(t *testing.T) {
	s := newStack(t, stackOptions{})
	for _, tc := range []struct {
		name        string
		basic, body bool
	}{
		{"A-01 Header", true, false},
		{"A-02 Body", false, true},
		{"A-03 Both", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.testConnection(t, accessToken(t, s.entraToken(s.acme, tc.basic, tc.body)))
		})
	}
	t.Run("A-06 Both sending nothing", func(t *testing.T) {
		r := s.entraToken(s.acme, false, false)
		if r.status != 401 || !strings.Contains(r.body, `"error":"invalid_client"`) || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic ") {
			t.Fatalf("%d %v %s", r.status, r.header, r.body)
		}
	})
}

// TestEntraTokenOverlap plays A-09: two tokens minted back to back are both
// good until they expire; a new one never ends an older one.
func TestEntraTokenOverlap(t *testing.T) {
	s := newStack(t, stackOptions{})
	t1 := accessToken(t, s.entraToken(s.acme, true, false))
	t2 := accessToken(t, s.entraToken(s.acme, true, false))
	if t1 == t2 {
		t.Fatal("the same token twice")
	}
	s.testConnection(t, t1)
	s.testConnection(t, t2)
	s.testConnection(t, t1)
}

// TestEntraTokenExpiry plays SC-06: Entra reuses one token for its whole
// expires_in (3600 s), the gateway accepts it until then — its
// verified-token cache included — and refuses it after with
// error="invalid_token"; a newly minted token carries on.
func TestEntraTokenExpiry(t *testing.T) {
	clock := &testkit.Clock{}
	s := newStack(t, stackOptions{now: clock.Now})
	tok := accessToken(t, s.entraToken(s.acme, true, false))
	s.testConnection(t, tok) // the token is now in the verified-token cache
	clock.Advance(59 * time.Minute)
	s.testConnection(t, tok)
	clock.Advance(2 * time.Minute)
	r := s.do(http.MethodGet, shared+entraProbe, bearer(tok), "")
	if e := wantError(t, r, 401); !strings.Contains(e.Detail, "expired") {
		t.Fatalf("detail %q", e.Detail)
	}
	if ch := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, `Bearer realm="scimgate", error="invalid_token"`) {
		t.Fatalf("WWW-Authenticate %q", ch)
	}
	s.testConnection(t, accessToken(t, s.entraToken(s.acme, true, false)))
}

// TestEntraIssuedToken plays B-05: with the Secret Token left blank, Entra
// sends a token it issued itself. scimgate does not accept it (README,
// "Secret Token"), and says why in terms an admin can act on.
func TestEntraIssuedToken(t *testing.T) {
	s := newStack(t, stackOptions{})
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, iss := range []string{"https://sts.windows.net/0e9f0b4c-3c4f-4b8a-9f6e-1d2c3b4a5f60/", "https://login.microsoftonline.com/0e9f0b4c-3c4f-4b8a-9f6e-1d2c3b4a5f60/v2.0"} {
		entra := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
			"aud": "8adf8e6e-67b2-4cf2-a259-e3dc5476c621", "iss": iss, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
			"appid": "00000014-0000-0000-c000-000000000000", "tid": "0e9f0b4c-3c4f-4b8a-9f6e-1d2c3b4a5f60", "ver": "1.0",
		})
		entra.Header["kid"], entra.Header["x5t"] = "nOo3ZDrODXEK1jKWhXslHR_KXEg", "nOo3ZDrODXEK1jKWhXslHR_KXEg"
		tok, err := entra.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		before := len(s.up.requests())
		r := s.do(http.MethodGet, shared+entraProbe, bearer(tok), "")
		if e := wantError(t, r, 401); !strings.Contains(e.Detail, "Microsoft Entra ID") || !strings.Contains(e.Detail, "Secret Token") {
			t.Errorf("%s: detail %q", iss, e.Detail)
		}
		if ch := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, `Bearer realm="scimgate", error="invalid_token"`) {
			t.Errorf("WWW-Authenticate %q", ch)
		}
		if len(s.up.requests()) != before {
			t.Fatal("an Entra-issued token reached the upstream")
		}
	}
	if !strings.Contains(s.Audit.String(), `"reason":"entra_token"`) {
		t.Error("refusal not audited with its reason")
	}
}
