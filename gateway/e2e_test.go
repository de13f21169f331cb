package gateway_test

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/redis/go-redis/v9"

	"github.com/scimgate/scimgate/config"
	"github.com/scimgate/scimgate/internal/accesstoken"
	"github.com/scimgate/scimgate/internal/credentials"
	"github.com/scimgate/scimgate/internal/ratelimit"
	"github.com/scimgate/scimgate/internal/scim"
	"github.com/scimgate/scimgate/internal/secret"
	"github.com/scimgate/scimgate/internal/stacktest"
	"github.com/scimgate/scimgate/internal/store/storetest"
	"github.com/scimgate/scimgate/internal/testkit"
	"github.com/scimgate/scimgate/keys"
)

const (
	probeGUID   = "7d420df3-9995-4831-a406-ecf8166f5f6a"
	entraProbe  = "/Users?filter=userName+eq+%22" + probeGUID + "%22"
	emptyGroups = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"Resources":[],"startIndex":1,"itemsPerPage":0}`
)

type scimError struct {
	Schemas  []string `json:"schemas"`
	Status   string   `json:"status"`
	ScimType string   `json:"scimType"`
	Detail   string   `json:"detail"`
}

// wantError checks a SCIM error answer: status, string status in the body,
// the Error URN and a detail.
func wantError(t *testing.T, r response, status int) scimError {
	t.Helper()
	var e scimError
	if err := json.Unmarshal([]byte(r.body), &e); err != nil || r.status != status {
		t.Fatalf("status %d body %s, want SCIM error %d", r.status, r.body, status)
	}
	if len(e.Schemas) != 1 || e.Schemas[0] != "urn:ietf:params:scim:api:messages:2.0:Error" || e.Status != itoa(status) || e.Detail == "" {
		t.Fatalf("not a SCIM error: %s", r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/scim+json") {
		t.Fatalf("error Content-Type %q", ct)
	}
	return e
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestEntraCycleWithTokenFromTokenEndpoint(t *testing.T) {
	s := newStack(t, stackOptions{})
	tok := s.token(s.acme)

	// Test Connection: the user probe, on the wire as Entra sends it.
	r := s.do(http.MethodGet, shared+entraProbe, bearer(tok), "")
	if r.status != 200 || !strings.Contains(r.body, `"totalResults":0`) {
		t.Fatalf("probe: %d %s", r.status, r.body)
	}
	seen := s.up.last()
	if seen.Path != "/legacy/Users" || seen.RawQuery != "filter=userName+eq+%22"+probeGUID+"%22" {
		t.Fatalf("upstream saw %s ?%s", seen.Path, seen.RawQuery)
	}
	h := seen.Header
	if h.Get("X-Scim-Tenant") != "acme" || h.Get("X-Scim-Client") != s.acme.id || h.Get("X-Auth-Method") != "jwt" ||
		h.Get("X-Request-Id") == "" || h.Get("X-Idp-Profile") == "" || h.Get("Authorization") != "" {
		t.Fatalf("upstream headers %v", h)
	}
	if r.header.Get("X-Request-Id") != h.Get("X-Request-Id") {
		t.Fatalf("request id %q to the client, %q upstream", r.header.Get("X-Request-Id"), h.Get("X-Request-Id"))
	}

	// The flag of Entra's non-gallery job never reaches the upstream; the
	// rest of the query stays byte for byte, quotes and all.
	s.do(http.MethodGet, shared+`/Users?aadOptscim062020&filter=userName+eq+"x"&count=5`, bearer(tok), "")
	if q := s.up.last().RawQuery; q != `filter=userName+eq+"x"&count=5` {
		t.Fatalf("upstream query %q", q)
	}
	// Entra's Tenant URL ends with "/": //Users must work.
	if r := s.do(http.MethodGet, shared+"/"+entraProbe, bearer(tok), ""); r.status != 200 {
		t.Fatalf("//Users: %d %s", r.status, r.body)
	}
	// Groups probe on an upstream without /Groups (404 → empty list).
	r = s.do(http.MethodGet, shared+"/Groups?excludedAttributes=members&filter=displayName+eq+%22"+probeGUID+"%22", bearer(tok), "")
	if r.status != 200 || !strings.Contains(r.body, `"totalResults":0`) {
		t.Fatalf("groups probe: %d %s", r.status, r.body)
	}

	// Create: the upstream's own URLs become public ones.
	r = s.do(http.MethodPost, shared+"/Users", bearer(tok),
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"babs@acme.example","active":true,"externalId":"babs"}`,
		"Content-Type", "application/json")
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var user struct {
		ID   string `json:"id"`
		Meta struct {
			Location string `json:"location"`
		} `json:"meta"`
	}
	_ = json.Unmarshal([]byte(r.body), &user)
	public := s.URL + shared + "/Users/" + user.ID
	if r.header.Get("Location") != public || user.Meta.Location != public {
		t.Fatalf("create answer: Location %q body %s", r.header.Get("Location"), r.body)
	}
	if ct := s.up.last().Header.Get("Content-Type"); ct != "application/scim+json" {
		t.Fatalf("upstream Content-Type %q", ct)
	}

	// Deactivate as Entra's default job does it: capitalised op, string
	// boolean. The strict upstream accepts only the normalized form.
	r = s.do(http.MethodPatch, shared+"/Users/"+user.ID, bearer(tok),
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}`,
		"Content-Type", "application/scim+json")
	if r.status != 200 || !strings.Contains(r.body, `"active":false`) {
		t.Fatalf("deactivate: %d %s", r.status, r.body)
	}
	if r = s.do(http.MethodDelete, shared+"/Users/"+user.ID, bearer(tok), ""); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	log := s.Audit.String()
	for _, want := range []string{
		`"event":"scim.create"`, `"id":"` + user.ID + `"`, `"event":"scim.deactivate"`, `"event":"scim.delete"`,
		`"tenant":"acme"`, `"resource":"Users"`, `"status":201`, `"status":204`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("audit log lacks %s:\n%s", want, log)
		}
	}
}

func TestAPIKeys(t *testing.T) {
	s := newStack(t, stackOptions{})
	t.Run("bearer", func(t *testing.T) {
		if r := s.do(http.MethodGet, shared+entraProbe, bearer(s.acmeKey), ""); r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		if h := s.up.last().Header; h.Get("X-Auth-Method") != "api_key" || h.Get("X-Scim-Tenant") != "acme" || !strings.HasPrefix(h.Get("X-Scim-Client"), "") {
			t.Fatalf("upstream headers %v", h)
		}
	})
	t.Run("raw header (Okta Header mode)", func(t *testing.T) {
		if r := s.do(http.MethodGet, "/t/acme/scim/v2/Users?startIndex=1&count=2", s.acmeKey, "", "User-Agent", "Okta SCIM Client 1.0.0"); r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		if h := s.up.last().Header; h.Get("X-Idp-Profile") != "okta" || h.Get("Authorization") != "" {
			t.Fatalf("upstream headers %v", h)
		}
		r := s.do(http.MethodPost, "/t/acme/scim/v2/Users", s.acmeKey, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"okta@acme.example","active":"true"}`,
			"User-Agent", "Okta SCIM Client 1.0.0", "Content-Type", "application/scim+json; charset=utf-8")
		if r.status != 201 {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		if len(s.up.scim.Resources("acme", scim.Users)) != 1 || len(s.up.scim.Resources("globex", scim.Users)) != 0 {
			t.Fatal("the user was not stored under the caller's tenant only")
		}
	})
	t.Run("raw header where not enabled", func(t *testing.T) {
		wantError(t, s.do(http.MethodGet, shared+"/Users", s.acmeKey, ""), 401)
	})
	t.Run("route with the upstream's own credential", func(t *testing.T) {
		if r := s.do(http.MethodGet, advisors+"/Users", bearer(s.acmeKey), ""); r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		if seen := s.up.last(); seen.Path != "/advisors/Users" || seen.Header.Get("Authorization") != "Bearer "+upstreamPW {
			t.Fatalf("upstream saw %s with Authorization %q", seen.Path, seen.Header.Get("Authorization"))
		}
	})
	t.Run("JWT on an API-key-only route", func(t *testing.T) {
		wantError(t, s.do(http.MethodGet, advisors+"/Users", bearer(s.token(s.acme)), ""), 401)
	})
	t.Run("API key on a JWT-only route", func(t *testing.T) {
		wantError(t, s.do(http.MethodGet, rooms+"/Users", bearer(s.acmeKey), ""), 401)
	})
	t.Run("unknown and damaged keys", func(t *testing.T) {
		// The damage must change the key: its last character may be "x".
		last := "x"
		if strings.HasSuffix(s.acmeKey, last) {
			last = "y"
		}
		for _, k := range []string{s.acmeKey[:len(s.acmeKey)-1] + last, "sk_scim_nope"} {
			e := wantError(t, s.do(http.MethodGet, shared+"/Users", bearer(k), ""), 401)
			if e.Detail != "unknown API key" {
				t.Fatalf("detail %q", e.Detail)
			}
		}
	})
}

func TestTenantIsolation(t *testing.T) {
	s := newStack(t, stackOptions{})
	globexTok := s.token(s.globex)
	before := len(s.up.requests())
	for name, auth := range map[string]string{"JWT": bearer(globexTok), "API key": bearer(s.globexKey), "raw key": s.globexKey} {
		t.Run("tenant B's "+name+" on tenant A's route", func(t *testing.T) {
			r := s.do(http.MethodGet, "/t/acme/scim/v2"+entraProbe, auth, "")
			unknown := s.do(http.MethodGet, "/no/such/path", auth, "")
			wantError(t, r, 404)
			if r.body != unknown.body {
				t.Fatalf("tenant mismatch %s differs from an unknown path %s", r.body, unknown.body)
			}
		})
	}
	if n := len(s.up.requests()); n != before {
		t.Fatalf("the upstream saw %d requests from the wrong tenant", n-before)
	}
	if !strings.Contains(s.Audit.String(), `"reason":"tenant_mismatch"`) {
		t.Error("tenant mismatch not audited")
	}

	t.Run("spoofed identity headers never reach the upstream", func(t *testing.T) {
		r := s.do(http.MethodGet, "/t/acme/scim/v2/Users", bearer(s.token(s.acme)), "",
			"X-Scim-Tenant", "globex", "X_Scim_Tenant", "globex", "X-Scim-Client", "admin", "X-Auth-Method", "none",
			"X-Forwarded-For", "10.0.0.1", "Forwarded", "for=10.0.0.1", "X-Real-Ip", "10.0.0.1",
			"X-Http-Method-Override", "DELETE", "X-Scimgate-Admin", "1",
			// Naming them hop-by-hop must not strip the gateway's own values.
			"Connection", "X-Scim-Tenant, X-Scim-Client, X-Auth-Method")
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		h := s.up.last().Header
		if got := h.Values("X-Scim-Tenant"); len(got) != 1 || got[0] != "acme" || h.Get("X-Scim-Client") != s.acme.id || h.Get("X-Auth-Method") != "jwt" {
			t.Fatalf("identity headers %v", h)
		}
		for _, name := range []string{"X_scim_tenant", "X-Forwarded-For", "Forwarded", "X-Real-Ip", "X-Http-Method-Override", "X-Scimgate-Admin"} {
			if _, ok := h[name]; ok {
				t.Errorf("%s reached the upstream", name)
			}
		}
	})
}

// forge signs claims with the real active key unless told otherwise.
func forge(t *testing.T, s *stack, change func(*accesstoken.Claims), header map[string]any, key *keys.SigningKey) string {
	t.Helper()
	signer, err := s.Keys.Signer()
	if err != nil {
		t.Fatal(err)
	}
	if key == nil {
		key = &signer
	}
	now := time.Now()
	c := &accesstoken.Claims{Issuer: s.URL, Subject: s.acme.id, Audience: accesstoken.Audience{s.URL + shared}, ClientID: s.acme.id,
		Scope: "scim.full", ID: accesstoken.NewID(), IssuedAt: now.Unix(), ExpiresAt: now.Add(time.Hour).Unix(), TenantID: "acme"}
	if change != nil {
		change(c)
	}
	tk := jwt.NewWithClaims(key.Method, c)
	tk.Header["typ"], tk.Header["kid"] = accesstoken.Type, key.KID
	for k, v := range header {
		tk.Header[k] = v
	}
	out, err := tk.SignedString(key.Key)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAttackTokens(t *testing.T) {
	s := newStack(t, stackOptions{})
	b64 := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	signer, _ := s.Keys.Signer()
	der, _ := x509.MarshalPKIXPublicKey(signer.Key.Public())
	publicPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	valid := forge(t, s, nil, nil, nil)
	claims := strings.Split(valid, ".")[1]

	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": s.URL, "aud": s.URL + shared, "tenant_id": "acme", "client_id": s.acme.id,
		"sub": s.acme.id, "jti": "x", "scope": "scim.full", "exp": time.Now().Add(time.Hour).Unix()})
	hs.Header["typ"], hs.Header["kid"] = accesstoken.Type, signer.KID
	hsToken, _ := hs.SignedString(publicPEM)

	otherRing, err := keys.New(storetest.OpenBolt(t), make([]byte, 32), keys.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := otherRing.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(otherRing.Close)
	stranger, _ := otherRing.Signer()

	revoked := s.token(s.acme)
	if r := s.do(http.MethodGet, shared+"/Users", bearer(revoked), ""); r.status != 200 {
		t.Fatalf("before revocation: %d %s", r.status, r.body) // now in the verified-token cache
	}
	s.revoke(s.acme, revoked)

	before := len(s.up.requests())
	for _, tc := range []struct{ name, token, detail string }{
		{"alg none", b64(map[string]string{"alg": "none", "typ": "at+jwt", "kid": signer.KID}) + "." + claims + ".", "algorithm not allowed"},
		{"HS256 signed with the public key", hsToken, "algorithm not allowed"},
		{"unknown kid", forge(t, s, nil, nil, &stranger), "unknown"},
		{"expired", forge(t, s, func(c *accesstoken.Claims) { c.ExpiresAt = time.Now().Add(-time.Minute).Unix() }, nil, nil), "expired"},
		{"not yet valid", forge(t, s, func(c *accesstoken.Claims) { c.NotBefore = time.Now().Add(time.Hour).Unix() }, nil, nil), "not valid yet"},
		{"wrong aud", forge(t, s, func(c *accesstoken.Claims) { c.Audience = accesstoken.Audience{"https://other.example/scim/v2"} }, nil, nil), "audience"},
		{"wrong iss", forge(t, s, func(c *accesstoken.Claims) { c.Issuer = "https://evil.example" }, nil, nil), "issuer"},
		{"typ JWT", forge(t, s, nil, map[string]any{"typ": "JWT"}, nil), "typ"},
		{"jku ignored, never fetched", forge(t, s, nil, map[string]any{"jku": "http://127.0.0.1:1/jwks"}, &stranger), "unknown"},
		{"tampered tenant", strings.Join([]string{strings.Split(valid, ".")[0], b64(map[string]any{"tenant_id": "globex"}), strings.Split(valid, ".")[2]}, "."), "signature"},
		{"revoked", revoked, "revoked"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do(http.MethodGet, shared+"/Users", bearer(tc.token), "")
			e := wantError(t, r, 401)
			if !strings.Contains(e.Detail, tc.detail) {
				t.Errorf("detail %q, want it to mention %q", e.Detail, tc.detail)
			}
			if ch := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, `Bearer realm="scimgate", error="invalid_token"`) {
				t.Errorf("WWW-Authenticate %q", ch)
			}
		})
	}
	if n := len(s.up.requests()); n != before {
		t.Fatalf("%d attack requests reached the upstream", n-before)
	}
	if !strings.Contains(s.Audit.String(), `"event":"gateway.refused"`) {
		t.Error("refusals not audited")
	}
}

func TestAuthorizationHeaderShapes(t *testing.T) {
	s := newStack(t, stackOptions{})
	tok := s.token(s.acme)
	for _, tc := range []struct {
		name, auth, path string
		status           int
		challenge        string
		detail           string // what the SCIM error's detail must say
	}{
		{"no credential (Okta A6)", "", shared + "/Users", 401, `Bearer realm="scimgate"`, "authentication required"},
		{"a word, not a credential (Okta A4)", "non-token", shared + "/Users", 401, `Bearer realm="scimgate", error="invalid_token"`, "send the credential as Authorization: Bearer"},
		{"a word on a raw-key route (Okta A4, Header mode)", "non-token", "/t/acme/scim/v2/Users", 401, `Bearer realm="scimgate", error="invalid_token"`, "send the credential as Authorization: Bearer"},
		{"Basic (Okta A3: not supported, README)", "Basic dXNlcjpwYXNz", shared + "/Users", 401, `Bearer realm="scimgate"`, "Basic authentication is not supported"},
		{"not a token (Okta A5)", "Bearer not-a-token", shared + "/Users", 401, `Bearer realm="scimgate", error="invalid_token"`, "neither an access token nor an API key"},
		{"malformed", "Bearer a b", shared + "/Users", 400, `Bearer realm="scimgate", error="invalid_request"`, "malformed"},
		{"Bearer without a token", "Bearer ", shared + "/Users", 400, `Bearer realm="scimgate", error="invalid_request"`, "malformed"},
		{"token in the query", bearer(tok), shared + "/Users?access_token=" + tok, 400, `Bearer realm="scimgate", error="invalid_request"`, "not accepted in the query string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do(http.MethodGet, tc.path, tc.auth, "")
			if e := wantError(t, r, tc.status); !strings.Contains(e.Detail, tc.detail) {
				t.Errorf("detail %q, want it to say %q", e.Detail, tc.detail)
			}
			if ch := r.header.Get("WWW-Authenticate"); ch != tc.challenge && !strings.HasPrefix(ch, tc.challenge+",") {
				t.Fatalf("WWW-Authenticate %q, want %q", ch, tc.challenge)
			}
		})
	}
	t.Run("several Authorization headers", func(t *testing.T) {
		wantError(t, s.do(http.MethodGet, shared+"/Users", bearer(tok), "", "Authorization", bearer(tok)), 400)
	})
}

func TestScopes(t *testing.T) {
	s := newStack(t, stackOptions{})
	reader := s.token(s.acmeReader)
	if r := s.do(http.MethodGet, shared+"/Users", bearer(reader), ""); r.status != 200 {
		t.Fatalf("read: %d %s", r.status, r.body)
	}
	r := s.do(http.MethodPost, shared+"/Users", bearer(reader), `{"userName":"x"}`)
	wantError(t, r, 403)
	if ch := r.header.Get("WWW-Authenticate"); ch != `Bearer realm="scimgate", error="insufficient_scope", scope="scim.write"` {
		t.Fatalf("WWW-Authenticate %q", ch)
	}
}

// TestCacheHitStillAuthorizes: a credential accepted on one route, and so
// in the verified-token or API-key cache, is checked again on every other
// request: the route's credential kinds and audience, the tenant of the
// path and the scope of the method. Nothing refused reaches the upstream.
func TestCacheHitStillAuthorizes(t *testing.T) {
	s := newStack(t, stackOptions{})
	sharedOnly := []string{s.URL + shared}
	narrowToken := bearer(s.token(s.newClient("acme", nil, sharedOnly)))
	narrowKey := bearer(s.newAPIKey("acme", sharedOnly))
	acmeToken, readerToken := bearer(s.token(s.acme)), bearer(s.token(s.acmeReader))
	for _, tc := range []struct {
		name, auth, warm string // warm is the path that puts auth in the cache
		method, path     string
		status           int
		detail           string
	}{
		{"token for one audience on another route", narrowToken, shared, http.MethodGet, rooms, 401, "not issued for this audience"},
		{"token for one audience on a per-tenant route", narrowToken, shared, http.MethodGet, "/t/acme/scim/v2", 401, "not issued for this audience"},
		{"token on an API-key-only route", narrowToken, shared, http.MethodGet, advisors, 401, "does not accept access tokens"},
		{"API key for one audience on a per-tenant route", narrowKey, shared, http.MethodGet, "/t/acme/scim/v2", 401, "not valid for this endpoint"},
		{"API key on a token-only route", narrowKey, shared, http.MethodGet, rooms, 401, "does not accept API keys"},
		{"token on another tenant's path", acmeToken, "/t/acme/scim/v2", http.MethodGet, "/t/globex/scim/v2", 404, "not found"},
		{"API key on another tenant's path", bearer(s.acmeKey), "/t/acme/scim/v2", http.MethodGet, "/t/globex/scim/v2", 404, "not found"},
		{"read-only token writing", readerToken, shared, http.MethodPost, shared, 403, "scim.write"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := s.do(http.MethodGet, tc.warm+"/Users", tc.auth, ""); r.status != 200 {
				t.Fatalf("on %s first: %d %s", tc.warm, r.status, r.body)
			}
			before := len(s.up.requests())
			body := ""
			if tc.method == http.MethodPost {
				body = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x"}`
			}
			e := wantError(t, s.do(tc.method, tc.path+"/Users", tc.auth, body, "Content-Type", "application/scim+json"), tc.status)
			if !strings.Contains(e.Detail, tc.detail) {
				t.Errorf("detail %q, want it to mention %q", e.Detail, tc.detail)
			}
			if n := len(s.up.requests()); n != before {
				t.Errorf("the upstream saw %d refused requests", n-before)
			}
		})
	}
}

func TestEndpointsAndPaths(t *testing.T) {
	s := newStack(t, stackOptions{})
	tok := bearer(s.token(s.acme))
	r := s.do(http.MethodPost, shared+"/Schemas", tok, `{"a":1}`)
	wantError(t, r, 405)
	if r.header.Get("Allow") != "GET, HEAD" {
		t.Fatalf("Allow %q", r.header.Get("Allow"))
	}
	for _, p := range []string{"/Bulk", "/Me", "/.search", "/Users/.search"} {
		wantError(t, s.do(http.MethodPost, shared+p, tok, `{}`), 501)
	}
	for _, p := range []string{"/..%2f..%2fadmin", "/Users/..%2f..%2fadmin", "/Users/%2e%2e/%2e%2e/admin", "/Users/../../admin", "/Users%5c..%5cadmin"} {
		wantError(t, s.do(http.MethodGet, shared+p, tok, ""), 400)
	}
	for _, p := range []string{"/admin", "", "/Users/a/b"} {
		wantError(t, s.do(http.MethodGet, shared+p, tok, ""), 404)
	}
	wantError(t, s.do(http.MethodGet, "/nothing/here", tok, ""), 404)
	if r := s.do(http.MethodGet, shared+"/ServiceProviderConfig", tok, ""); r.status != 200 {
		t.Fatalf("ServiceProviderConfig: %d %s", r.status, r.body)
	}
}

func TestGroupsEmptyMode(t *testing.T) {
	s := newStack(t, stackOptions{})
	tok := bearer(s.token(s.acme))
	before := len(s.up.requests())
	r := s.do(http.MethodGet, "/t/acme/scim/v2/Groups?excludedAttributes=members&filter=displayName+eq+%22"+probeGUID+"%22", tok, "")
	if r.status != 200 || r.body != emptyGroups || r.header.Get("Content-Type") != "application/scim+json" {
		t.Fatalf("Entra's group probe: %d %q %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	wantError(t, s.do(http.MethodGet, "/t/acme/scim/v2/Groups/g1", tok, ""), 404)
	wantError(t, s.do(http.MethodPost, "/t/acme/scim/v2/Groups", tok, `{"displayName":"x"}`), 501)
	if n := len(s.up.requests()); n != before {
		t.Fatalf("the upstream saw %d /Groups requests", n-before)
	}
}

func TestUpstreamFailures(t *testing.T) {
	s := newStack(t, stackOptions{})
	tok := bearer(s.token(s.acme))
	t.Run("unreachable", func(t *testing.T) {
		wantError(t, s.do(http.MethodGet, down+"/Users", tok, ""), 502)
	})
	t.Run("slow", func(t *testing.T) {
		wantError(t, s.do(http.MethodGet, rooms+"/Users", tok, "", "X-Test-Delay", "5s"), 504)
		select {
		case <-s.up.canceled:
		case <-time.After(5 * time.Second):
			t.Fatal("the upstream request was not cancelled at the timeout")
		}
	})
	t.Run("refuses the gateway's own credential", func(t *testing.T) {
		r := s.do(http.MethodGet, rooms+"/Users", tok, "", "X-Test-Refuse", "1")
		if e := wantError(t, r, 502); !strings.Contains(e.Detail, "refused scimgate's credential") || r.header.Get("WWW-Authenticate") != "" {
			t.Errorf("detail %q, WWW-Authenticate %q", e.Detail, r.header.Get("WWW-Authenticate"))
		}
	})
	t.Run("client half-closes", func(t *testing.T) {
		// Sending the request, then shutting the write side, cancels it
		// upstream as a client gone would; the client still reading gets
		// an error, never an empty 200 it could take for a done create.
		conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		body := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"half"}`
		fmt.Fprintf(conn, "POST %s/Users HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\nX-Test-Delay: 5s\r\nContent-Type: application/scim+json\r\nContent-Length: %d\r\n\r\n%s",
			shared, tok, len(body), body)
		conn.(*net.TCPConn).CloseWrite()
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		wantError(t, response{resp.StatusCode, resp.Header, string(b)}, 502)
		select {
		case <-s.up.canceled:
		case <-time.After(5 * time.Second):
			t.Fatal("the upstream request outlived the client")
		}
	})
	t.Run("client goes away", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+shared+"/Users", nil)
		req.Header.Set("Authorization", tok)
		req.Header.Set("X-Test-Delay", "5s")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			t.Fatal("answered although the client gave up")
		}
		select {
		case <-s.up.canceled:
		case <-time.After(5 * time.Second):
			t.Fatal("the upstream request outlived the client")
		}
	})
}

func TestBodyLimit(t *testing.T) {
	s := newStack(t, stackOptions{})
	tok := bearer(s.token(s.acme))
	before := len(s.up.requests())
	big := `{"userName":"` + strings.Repeat("x", int(config.KiB)) + `"}`
	wantError(t, s.do(http.MethodPost, rooms+"/Users", tok, big), 413)
	huge := `{"userName":"` + strings.Repeat("x", int(config.MiB)) + `"}`
	wantError(t, s.do(http.MethodPost, shared+"/Users", tok, huge), 413)
	if n := len(s.up.requests()); n != before {
		t.Fatalf("the upstream saw %d oversized bodies", n-before)
	}
}

// TestRateLimits: a credential beyond its burst gets a SCIM 429 with
// Retry-After while another credential of its tenant goes on; the same
// when the shared limiter's Redis fails and each replica limits on its own
// (README, "Rate limits").
func TestRateLimits(t *testing.T) {
	unreachable := func(t *testing.T) ratelimit.Limiter {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		client := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
		t.Cleanup(func() { client.Close() })
		return ratelimit.NewFallback(ratelimit.NewRedis(client, "gw:"), ratelimit.NewLocal(ratelimit.LocalOptions{}), slog.New(slog.DiscardHandler))
	}
	for _, tc := range []struct {
		name    string
		limiter func(*testing.T) ratelimit.Limiter
	}{
		{"in process", func(*testing.T) ratelimit.Limiter { return nil }},
		{"Redis unreachable", unreachable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStack(t, stackOptions{limiter: tc.limiter(t),
				limits: config.GatewayLimits{TenantRate: 1000, TenantBurst: 1000, CredentialRate: 0.1, CredentialBurst: 2}})
			tok := bearer(s.token(s.acme))
			for range 2 {
				if r := s.do(http.MethodGet, shared+"/Users", tok, ""); r.status != 200 {
					t.Fatalf("within the burst: %d %s", r.status, r.body)
				}
			}
			r := s.do(http.MethodGet, shared+"/Users", tok, "")
			wantError(t, r, 429)
			if n, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || n < 1 {
				t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
			}
			// Another credential of the same tenant has its own allowance.
			if r := s.do(http.MethodGet, shared+"/Users", bearer(s.acmeKey), ""); r.status != 200 {
				t.Fatalf("other credential: %d %s", r.status, r.body)
			}
		})
	}
}

// TestChangesBiteWithinTheirBound is how long a credential keeps working
// at the gateway after it is revoked, disabled, deleted or expires, on the
// replica where the change was made (README, "How long a revoked
// credential keeps working"; test/replicas has the other replicas). The
// stack's clock stands still, so each bound is checked exactly: at the
// bound the credential is refused, whatever the caches hold.
func TestChangesBiteWithinTheirBound(t *testing.T) {
	const statusTTL = 500 * time.Millisecond
	ctx := context.Background()
	must := func(t *testing.T, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	apiKeyID := func(key string) string { id, _ := secret.ParseAPIKey(key); return id }
	for _, tc := range []struct {
		name   string
		cred   func(t *testing.T, s *stack) string // the Authorization value
		change func(t *testing.T, s *stack, auth string, clock *testkit.Clock)
		bound  time.Duration // how long after change the credential may still pass
		detail string
	}{
		{
			name: "access token revoked (RFC 7009)", cred: acmeToken, bound: 0, detail: "revoked",
			change: func(t *testing.T, s *stack, auth string, _ *testkit.Clock) {
				s.revoke(s.acme, strings.TrimPrefix(auth, "Bearer "))
			},
		},
		{
			name: "access token expired", cred: acmeToken, bound: stacktest.Leeway, detail: "expired",
			change: func(_ *testing.T, _ *stack, _ string, clock *testkit.Clock) { clock.Advance(time.Hour) },
		},
		{
			name: "signing key revoked", cred: acmeToken, bound: 0, detail: "no longer valid",
			change: func(t *testing.T, s *stack, _ string, _ *testkit.Clock) {
				k, err := s.Keys.Signer()
				must(t, err)
				must(t, s.Keys.Revoke(ctx, k.KID))
			},
		},
		{
			name: "client disabled", cred: acmeToken, bound: statusTTL, detail: "client disabled",
			change: func(t *testing.T, s *stack, _ string, _ *testkit.Clock) {
				_, err := s.Credentials.SetClientDisabled(ctx, s.acme.id, true)
				must(t, err)
			},
		},
		{
			name: "client deleted", cred: acmeToken, bound: statusTTL, detail: "client unknown",
			change: func(t *testing.T, s *stack, _ string, _ *testkit.Clock) {
				must(t, s.Credentials.DeleteClient(ctx, s.acme.id))
			},
		},
		{
			name: "tenant disabled, access token", cred: globexToken, bound: statusTTL, detail: "tenant disabled",
			change: disableGlobex,
		},
		{
			name: "tenant disabled, API key", cred: func(_ *testing.T, s *stack) string { return bearer(s.globexKey) },
			bound: statusTTL, detail: "tenant disabled", change: disableGlobex,
		},
		{
			// A tenant is deleted only once it owns nothing, so its
			// credentials go first.
			name: "tenant deleted", cred: globexToken, bound: statusTTL, detail: "client unknown",
			change: func(t *testing.T, s *stack, _ string, _ *testkit.Clock) {
				must(t, s.Credentials.DeleteClient(ctx, s.globex.id))
				must(t, s.Credentials.DeleteAPIKey(ctx, apiKeyID(s.globexKey)))
				must(t, s.Credentials.DeleteTenant(ctx, "globex"))
			},
		},
		{
			name: "API key revoked", cred: acmeKey, bound: statusTTL, detail: "API key revoked",
			change: func(t *testing.T, s *stack, _ string, _ *testkit.Clock) {
				_, err := s.Credentials.RevokeAPIKey(ctx, apiKeyID(s.acmeKey))
				must(t, err)
			},
		},
		{
			name: "API key deleted", cred: acmeKey, bound: statusTTL, detail: "unknown API key",
			change: func(t *testing.T, s *stack, _ string, _ *testkit.Clock) {
				must(t, s.Credentials.DeleteAPIKey(ctx, apiKeyID(s.acmeKey)))
			},
		},
		{
			name: "API key expired",
			cred: func(t *testing.T, s *stack) string {
				_, key, err := s.Credentials.CreateAPIKey(ctx, credentials.APIKeySpec{TenantID: "acme", Name: "short-lived",
					Audiences: []string{s.URL + shared}, TTL: time.Minute})
				must(t, err)
				return bearer(key)
			},
			change: func(_ *testing.T, _ *stack, _ string, clock *testkit.Clock) { clock.Advance(time.Minute) },
			bound:  0, detail: "API key expired",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := testkit.StoppedClock(time.Now())
			s := newStack(t, stackOptions{statusTTL: statusTTL, now: clock.Now})
			auth := tc.cred(t, s)
			for range 2 { // the second answer comes from the caches
				if r := s.do(http.MethodGet, shared+"/Users", auth, ""); r.status != 200 {
					t.Fatalf("before the change: %d %s", r.status, r.body)
				}
			}
			tc.change(t, s, auth, clock)
			clock.Advance(tc.bound)
			r := s.do(http.MethodGet, shared+"/Users", auth, "")
			if e := wantError(t, r, 401); !strings.Contains(e.Detail, tc.detail) {
				t.Fatalf("%s after the change: detail %q, want it to mention %q", tc.bound, e.Detail, tc.detail)
			}
		})
	}
}

// TestDisablingIsAPause records the README's decision on gateway.md §9's
// bulk revocation: disabling a client or a tenant refuses its credentials
// for as long as it stays disabled, and enabling it again lets the tokens
// issued before work again until their exp (Entra keeps reusing the token
// it holds, and what it does after a 401 is undocumented). There is no
// "revoked before" stamp; deleting the client ends its tokens for good.
func TestDisablingIsAPause(t *testing.T) {
	const statusTTL = 500 * time.Millisecond
	ctx := context.Background()
	clock := testkit.StoppedClock(time.Now())
	s := newStack(t, stackOptions{statusTTL: statusTTL, now: clock.Now})
	for _, tc := range []struct {
		name    string
		auth    string
		disable func(bool) error
		detail  string
	}{
		{"client", acmeToken(t, s), func(d bool) error { _, err := s.Credentials.SetClientDisabled(ctx, s.acme.id, d); return err }, "client disabled"},
		{"tenant, access token", globexToken(t, s), func(d bool) error { _, err := s.Credentials.SetTenantDisabled(ctx, "globex", d); return err }, "tenant disabled"},
		{"tenant, API key", bearer(s.globexKey), func(d bool) error { _, err := s.Credentials.SetTenantDisabled(ctx, "globex", d); return err }, "tenant disabled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, step := range []struct {
				disabled bool
				status   int
			}{{true, 401}, {false, 200}} {
				if err := tc.disable(step.disabled); err != nil {
					t.Fatal(err)
				}
				clock.Advance(statusTTL)
				r := s.do(http.MethodGet, shared+"/Users", tc.auth, "")
				if r.status != step.status || step.status == 401 && !strings.Contains(r.body, tc.detail) {
					t.Fatalf("disabled %v: %d %s, want %d", step.disabled, r.status, r.body, step.status)
				}
			}
		})
	}
}

func acmeToken(_ *testing.T, s *stack) string   { return bearer(s.token(s.acme)) }
func globexToken(_ *testing.T, s *stack) string { return bearer(s.token(s.globex)) }
func acmeKey(_ *testing.T, s *stack) string     { return bearer(s.acmeKey) }

func disableGlobex(t *testing.T, s *stack, _ string, _ *testkit.Clock) {
	t.Helper()
	if _, err := s.Credentials.SetTenantDisabled(context.Background(), "globex", true); err != nil {
		t.Fatal(err)
	}
}

// TestBodilessUpstreamAnswers: user services often answer with a bare
// status (Content-Length: 0, what a Go handler that only calls WriteHeader
// sends). Those answers are normalized like any other: Entra's probe still
// gets an empty ListResponse, a delete 204, an error a SCIM error body.
func TestBodilessUpstreamAnswers(t *testing.T) {
	statuses := map[string]int{
		http.MethodGet + " /Users":         http.StatusNotFound,
		http.MethodGet + " /Groups":        http.StatusNotFound,
		http.MethodGet + " /Users/missing": http.StatusNotFound,
		http.MethodGet + " /Users/broken":  http.StatusInternalServerError,
		http.MethodDelete + " /Users/abc":  http.StatusOK,
		http.MethodPatch + " /Users/abc":   http.StatusNoContent,
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status := http.StatusTeapot
		for k, v := range statuses { // the route's upstream base path comes first
			if method, p, _ := strings.Cut(k, " "); r.Method == method && strings.HasSuffix(r.URL.Path, p) {
				status = v
			}
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(up.Close)
	s := newStack(t, stackOptions{upstream: up.URL})
	tok := bearer(s.token(s.acme))
	const patch = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}`
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		emptyList, scimError     bool
	}{
		{"C-01 probe, upstream 404", http.MethodGet, shared + entraProbe, "", 200, true, false},
		{"C-03 Groups probe, upstream 404", http.MethodGet, shared + "/Groups?excludedAttributes=members&filter=displayName+eq+%22" + probeGUID + "%22", "", 200, true, false},
		{"U-08 unknown user", http.MethodGet, shared + "/Users/missing", "", 404, false, true},
		{"upstream 500", http.MethodGet, shared + "/Users/broken", "", 500, false, true},
		{"U-28 delete answered 200", http.MethodDelete, shared + "/Users/abc", "", 204, false, false},
		{"patch answered 204", http.MethodPatch, shared + "/Users/abc", patch, 204, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do(tc.method, tc.path, tok, tc.body, "Content-Type", "application/scim+json")
			switch {
			case tc.scimError:
				wantError(t, r, tc.status)
			case r.status != tc.status:
				t.Fatalf("status %d body %q, want %d", r.status, r.body, tc.status)
			case tc.emptyList:
				var list struct {
					Schemas      []string
					TotalResults *int
					Resources    []any
				}
				if err := json.Unmarshal([]byte(r.body), &list); err != nil || list.TotalResults == nil || *list.TotalResults != 0 ||
					len(list.Schemas) != 1 || list.Schemas[0] != "urn:ietf:params:scim:api:messages:2.0:ListResponse" {
					t.Fatalf("not an empty ListResponse: %q", r.body)
				}
			case r.body != "":
				t.Fatalf("body %q, want none", r.body)
			}
		})
	}
}

// TestWriteAuditRecordsUpstreamStatus: the scim.* audit events carry the
// status the upstream answered, not the one the gateway rewrote it to for
// the provider (200 to a create becomes 201, 200 to a DELETE becomes 204).
func TestWriteAuditRecordsUpstreamStatus(t *testing.T) {
	type answer struct {
		status      int
		ctype, body string
	}
	answers := map[string]answer{
		http.MethodPost + " /Users":     {200, "application/scim+json", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"u200","userName":"a"}`},
		http.MethodPost + " /Groups":    {201, "application/scim+json", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"g201","displayName":"g"}`},
		http.MethodDelete + " /Users/a": {200, "", ""},
		http.MethodDelete + " /Users/b": {204, "", ""},
		http.MethodPatch + " /Users/c":  {500, "text/plain", "boom"},
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := answer{status: http.StatusTeapot}
		for k, v := range answers {
			if method, p, _ := strings.Cut(k, " "); r.Method == method && strings.HasSuffix(r.URL.Path, p) {
				a = v
			}
		}
		if a.ctype != "" {
			w.Header().Set("Content-Type", a.ctype)
		}
		w.WriteHeader(a.status)
		io.WriteString(w, a.body)
	}))
	t.Cleanup(up.Close)
	s := newStack(t, stackOptions{upstream: up.URL})
	tok := bearer(s.token(s.acme))
	const patch = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName","value":"x"}]}`
	for _, tc := range []struct {
		name, method, path, body string
		answered                 int // to the provider
		event, id                string
		audited                  int // in the audit event
	}{
		{"create answered 200", http.MethodPost, "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a"}`, 201, "scim.create", "u200", 200},
		{"create answered 201", http.MethodPost, "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"g"}`, 201, "scim.create", "g201", 201},
		{"delete answered 200", http.MethodDelete, "/Users/a", "", 204, "scim.delete", "a", 200},
		{"delete answered 204", http.MethodDelete, "/Users/b", "", 204, "scim.delete", "b", 204},
		{"update answered 500 in plain text", http.MethodPatch, "/Users/c", patch, 500, "scim.update", "c", 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do(tc.method, shared+tc.path, tok, tc.body, "Content-Type", "application/scim+json")
			if r.status != tc.answered {
				t.Fatalf("answered %d %q, want %d", r.status, r.body, tc.answered)
			}
			id := r.header.Get("X-Request-Id")
			var found bool
			for _, line := range strings.Split(s.Audit.String(), "\n") {
				var e struct {
					Event, ID, RequestID string
					Status               int
				}
				if json.Unmarshal([]byte(line), &e) != nil || !strings.Contains(line, `"request_id":"`+id+`"`) {
					continue
				}
				found = true
				if e.Event != tc.event || e.ID != tc.id || e.Status != tc.audited {
					t.Errorf("audit event %s", line)
				}
			}
			if !found {
				t.Errorf("no audit event for request %s in %s", id, s.Audit.String())
			}
		})
	}
}

// TestPathEncodingReachesUpstream: the upstream reads the path after the
// prefix as the client encoded it. "a%3Bb" decoded to "a;b" would reach
// user "a" on servers that cut path parameters at ";".
func TestPathEncodingReachesUpstream(t *testing.T) {
	s := newStack(t, stackOptions{})
	tok := bearer(s.token(s.acme))
	for _, tc := range []struct{ sent, want string }{
		{shared + "/Users/plain", "/legacy/Users/plain"},
		{shared + "/Users/a%3Bb", "/legacy/Users/a%3Bb"},
		{shared + "/Users/a%2Bb%3D", "/legacy/Users/a%2Bb%3D"},
		{shared + "/Users/a%26b%24%2C", "/legacy/Users/a%26b%24%2C"},
		{shared + "/Users/caf%C3%A9%20x", "/legacy/Users/caf%C3%A9%20x"},
		{shared + "//Users//a%3Bb/", "/legacy/Users/a%3Bb"},
		{shared + "/Users/a;b", "/legacy/Users/a;b"},
	} {
		s.do(http.MethodGet, tc.sent, tok, "")
		if got := s.up.last().EscapedPath; got != tc.want {
			t.Errorf("%s reached the upstream as %s, want %s", tc.sent, got, tc.want)
		}
	}
}

// TestErrorMediaType: the gateway's own errors come in the media type the
// client asks for, as the upstream's answers do: application/json for a
// client that accepts only that (OneLogin), application/scim+json otherwise.
func TestErrorMediaType(t *testing.T) {
	s := newStack(t, stackOptions{})
	reader := bearer(s.token(s.acmeReader))
	key := bearer(s.acmeKey)
	for _, tc := range []struct {
		name, method, path, auth string
		status                   int
	}{
		{"no credential", http.MethodGet, shared + "/Users", "", 401},
		{"read-only token writes", http.MethodDelete, shared + "/Users/abc", reader, 403},
		{"unknown path", http.MethodGet, "/nowhere/Users", key, 404},
		{"upstream down", http.MethodGet, down + "/Users", key, 502},
	} {
		for _, accept := range []struct{ header, want string }{
			{"", "application/scim+json"},
			{"application/json", "application/json"},
			{"application/json; charset=utf-8", "application/json"},
			{"application/scim+json, application/json", "application/scim+json"},
			{"*/*", "application/scim+json"},
		} {
			t.Run(tc.name+"/"+accept.header, func(t *testing.T) {
				var header []string
				if accept.header != "" {
					header = []string{"Accept", accept.header}
				}
				r := s.do(tc.method, tc.path, tc.auth, "", header...)
				var e scimError
				if err := json.Unmarshal([]byte(r.body), &e); err != nil || r.status != tc.status || e.Status != itoa(tc.status) ||
					len(e.Schemas) != 1 || e.Schemas[0] != "urn:ietf:params:scim:api:messages:2.0:Error" {
					t.Fatalf("status %d body %s, want SCIM error %d", r.status, r.body, tc.status)
				}
				if ct := r.header.Get("Content-Type"); ct != accept.want {
					t.Errorf("Content-Type %q, want %q", ct, accept.want)
				}
			})
		}
	}
}
