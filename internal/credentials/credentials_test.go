package credentials

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimgate/scimgate/internal/secret"
	"github.com/scimgate/scimgate/internal/store"
	"github.com/scimgate/scimgate/internal/store/storetest"
)

const aud = "http://127.0.0.1:8080/scim/v2"

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newService(t *testing.T, kv store.KV) (*Service, *clock) {
	t.Helper()
	h, err := secret.NewHasher(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	s := New(kv, h, Options{Now: clk.now, PasswordParams: secret.PasswordParams{MemoryKiB: 64, Time: 1, Threads: 1}})
	if _, err := s.CreateTenant(context.Background(), "acme", "Acme Corp"); err != nil {
		t.Fatal(err)
	}
	return s, clk
}

func reason(err error) string {
	var ae *AuthError
	if errors.As(err, &ae) {
		return ae.Reason
	}
	if err == nil {
		return ""
	}
	return "error: " + err.Error()
}

func TestCredentials(t *testing.T) {
	for name, test := range map[string]func(*testing.T, store.KV){
		"tenants":                        testTenants,
		"client defaults and validation": testClientValidation,
		"client authentication":          testClientAuth,
		"secret rotation":                testSecretRotation,
		"api keys":                       testAPIKeys,
		"api key lifetime":               testAPIKeyTTL,
		"admins":                         testAdmins,
		"admins in any Unicode form":     testAdminsUnicode,
		"usage is written behind":        testUsage,
		"concurrent rotate and revoke lose nothing":    testConcurrency,
		"no secret in clear in the store":              testNoClearSecrets,
		"two replicas":                                 testTwoReplicas,
		"tenant deleted while a credential is created": testDeleteTenantRace,
	} {
		t.Run(name, func(t *testing.T) { forEachBackend(t, test) })
	}
}

func testTenants(t *testing.T, kv store.KV) {
	ctx := context.Background()
	s, _ := newService(t, kv)
	for _, id := range []string{"", "Acme", "ac_me", "-acme", "acme-", strings.Repeat("a", 64), "a b"} {
		if _, err := s.CreateTenant(ctx, id, ""); !errors.Is(err, ErrInvalid) {
			t.Errorf("CreateTenant(%q) = %v, want ErrInvalid", id, err)
		}
	}
	if _, err := s.CreateTenant(ctx, "acme", ""); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate tenant: %v", err)
	}
	if _, err := s.CreateTenant(ctx, "globex", ""); err != nil {
		t.Fatal(err)
	}
	ts, err := s.Tenants(ctx)
	if err != nil || len(ts) != 2 || ts[0].ID != "acme" || ts[1].DisplayName != "globex" {
		t.Fatalf("Tenants = %+v, %v", ts, err)
	}
	if _, _, err := s.CreateClient(ctx, ClientSpec{TenantID: "globex", Name: "x", Audiences: []string{aud}}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTenant(ctx, "globex"); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `tenant "globex" still owns 1 client; delete it first`) {
		t.Errorf("deleting a tenant with clients: %v", err)
	}
	for range 2 {
		if _, _, err := s.CreateAPIKey(ctx, APIKeySpec{TenantID: "globex", Name: "k", Audiences: []string{aud}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteTenant(ctx, "globex"); err == nil || !strings.Contains(err.Error(), "still owns 1 client and 2 API keys; delete them first") {
		t.Errorf("deleting a tenant with a client and keys: %v", err)
	}
	if err := s.DeleteTenant(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleting unknown tenant: %v", err)
	}
}

func testClientValidation(t *testing.T, kv store.KV) {
	ctx := context.Background()
	s, clk := newService(t, kv)
	c, plain, err := s.CreateClient(ctx, ClientSpec{TenantID: "acme", Name: "Entra", Kind: KindEntra, Audiences: []string{aud}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.GrantTypes, []string{GrantClientCredentials}) || !slices.Equal(c.Scopes, []string{ScopeFull}) ||
		c.AccessTTL != 0 || s.AccessTTL(c) != time.Hour || len(c.Secrets) != 1 || !c.Secrets[0].Expires.Equal(clk.now().Add(DefaultSecretTTL)) {
		t.Fatalf("entra defaults: %+v", c)
	}
	if len(plain) != secret.SecretLen || len(c.ID) != clientIDLen {
		t.Fatalf("id %q secret length %d", c.ID, len(plain))
	}
	ok, _, err := s.CreateClient(ctx, ClientSpec{TenantID: "acme", Name: "Okta", Kind: KindOkta, OktaAppName: "acmescim", Audiences: []string{aud}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ok.RedirectURIs) != 5 || ok.RedirectURIs[4] != "http://system-admin.okta1.com:1802/admin/app/cpc/acmescim/oauth/callback" ||
		!slices.Equal(ok.Scopes, []string{ScopeFull, ScopeOfflineAccess}) {
		t.Fatalf("okta defaults: %+v", ok)
	}
	for name, spec := range map[string]ClientSpec{
		"unknown tenant":        {TenantID: "nope", Name: "x", Audiences: []string{aud}},
		"no name":               {TenantID: "acme", Audiences: []string{aud}},
		"no audience":           {TenantID: "acme", Name: "x"},
		"password grant":        {TenantID: "acme", Name: "x", GrantTypes: []string{"password"}, Audiences: []string{aud}},
		"implicit grant":        {TenantID: "acme", Name: "x", GrantTypes: []string{"implicit"}, Audiences: []string{aud}},
		"refresh without code":  {TenantID: "acme", Name: "x", GrantTypes: []string{GrantClientCredentials, GrantRefreshToken}, Audiences: []string{aud}},
		"unknown scope":         {TenantID: "acme", Name: "x", Scopes: []string{"admin"}, Audiences: []string{aud}},
		"entra ttl too short":   {TenantID: "acme", Name: "x", Kind: KindEntra, AccessTTL: 30 * time.Minute, Audiences: []string{aud}},
		"entra ttl too long":    {TenantID: "acme", Name: "x", Kind: KindEntra, AccessTTL: 7 * time.Hour, Audiences: []string{aud}},
		"code without redirect": {TenantID: "acme", Name: "x", Kind: KindOkta, Audiences: []string{aud}},
		"http redirect":         {TenantID: "acme", Name: "x", Kind: KindOkta, RedirectURIs: []string{"http://evil.example/cb"}, Audiences: []string{aud}},
		"fragment redirect":     {TenantID: "acme", Name: "x", Kind: KindOkta, RedirectURIs: []string{"https://ok.example/cb#x"}, Audiences: []string{aud}},
		"relative redirect":     {TenantID: "acme", Name: "x", Kind: KindOkta, RedirectURIs: []string{"/cb"}, Audiences: []string{aud}},
		"javascript redirect":   {TenantID: "acme", Name: "x", Kind: KindOkta, RedirectURIs: []string{"javascript://localhost/%0aalert(1)"}, Audiences: []string{aud}},
		"bad okta app":          {TenantID: "acme", Name: "x", Kind: KindOkta, OktaAppName: "a/b", Audiences: []string{aud}},
		"secret never and ttl":  {TenantID: "acme", Name: "x", Audiences: []string{aud}, Secret: SecretSpec{TTL: time.Hour, NeverExpire: true}},
		"unknown kind":          {TenantID: "acme", Name: "x", Kind: "saml", Audiences: []string{aud}},
	} {
		if _, _, err := s.CreateClient(ctx, spec); err == nil {
			t.Errorf("%s: CreateClient accepted %+v", name, spec)
		}
	}
	never, _, err := s.CreateClient(ctx, ClientSpec{TenantID: "acme", Name: "x", Audiences: []string{aud}, Secret: SecretSpec{NeverExpire: true}})
	if err != nil || !never.Secrets[0].Expires.IsZero() {
		t.Fatalf("never-expiring secret: %+v %v", never, err)
	}
}

func TestCheckRedirectURI(t *testing.T) {
	for _, tc := range []struct {
		uri string
		ok  bool
	}{
		{"https://acme.okta.com/admin/app/acme/oauth/callback", true},
		{"https://acme.okta.com:8443/cb?x=1", true},
		{"https://xn--bcher-kva.example/cb", true},
		{"https://okta.example./cb", true},
		{"http://127.0.0.1:9999/cb", true},
		{"http://[::1]:9999/cb", true},
		{"https://[2001:db8::1]/cb", true},
		{"http://system-admin.okta1.com:1802/admin/app/cpc/acme/oauth/callback", true},
		{"https://a.example;sandbox/cb", false},
		{"https://a.example%3Bsandbox/cb", false},
		{"https://a.example'/cb", false},
		{"https://a_b.example/cb", false},
		{"https://-a.example/cb", false},
		{"https://a..example/cb", false},
		{"https://bücher.example/cb", false},
		{"https://user@acme.okta.com/cb", false},
		{"https://user:pass@acme.okta.com/cb", false},
		{"https://acme.okta.com:port/cb", false},
		{"https://" + strings.Repeat("a", 64) + ".example/cb", false},
	} {
		if err := checkRedirectURI(tc.uri); (err == nil) != tc.ok {
			t.Errorf("checkRedirectURI(%q) = %v, want ok %v", tc.uri, err, tc.ok)
		}
	}
}

func testClientAuth(t *testing.T, kv store.KV) {
	ctx := context.Background()
	s, clk := newService(t, kv)
	c, plain, err := s.CreateClient(ctx, ClientSpec{TenantID: "acme", Name: "Entra", Kind: KindEntra, Audiences: []string{aud},
		Secret: SecretSpec{TTL: 24 * time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, id, secret, want string
	}{
		{"right", c.ID, plain, ""},
		{"wrong secret", c.ID, secret.New(), ReasonWrongSecret},
		{"empty secret", c.ID, "", ReasonWrongSecret},
		{"unknown client", secret.NewID(24), plain, ReasonUnknown},
		{"empty client", "", plain, ReasonUnknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.AuthenticateClient(ctx, tc.id, tc.secret)
			if got := reason(err); got != tc.want {
				t.Fatalf("reason = %q, want %q", got, tc.want)
			}
			if err != nil && err.Error() != (&AuthError{}).Error() {
				t.Fatalf("error text reveals the reason: %q", err)
			}
		})
	}
	if _, err := s.SetClientDisabled(ctx, c.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AuthenticateClient(ctx, c.ID, plain); reason(err) != ReasonDisabled {
		t.Fatalf("disabled client: %v", err)
	}
	s.SetClientDisabled(ctx, c.ID, false)
	s.SetTenantDisabled(ctx, "acme", true)
	if _, err := s.AuthenticateClient(ctx, c.ID, plain); reason(err) != ReasonTenantDisabled {
		t.Fatalf("disabled tenant: %v", err)
	}
	s.SetTenantDisabled(ctx, "acme", false)
	clk.add(24 * time.Hour)
	if _, err := s.AuthenticateClient(ctx, c.ID, plain); reason(err) != ReasonExpired {
		t.Fatalf("expired secret: %v", err)
	}
}

func testSecretRotation(t *testing.T, kv store.KV) {
	ctx := context.Background()
	s, clk := newService(t, kv)
	c, first, err := s.CreateClient(ctx, ClientSpec{TenantID: "acme", Name: "Entra", Kind: KindEntra, Audiences: []string{aud}})
	if err != nil {
		t.Fatal(err)
	}
	_, second, plain2, err := s.AddClientSecret(ctx, c.ID, SecretSpec{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{first, plain2} {
		if _, err := s.AuthenticateClient(ctx, c.ID, p); err != nil {
			t.Fatalf("during rotation a secret stopped working: %v", err)
		}
	}
	if _, _, _, err := s.AddClientSecret(ctx, c.ID, SecretSpec{TTL: 2 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := s.AddClientSecret(ctx, c.ID, SecretSpec{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a fourth active secret: %v", err)
	}
	clk.add(3 * time.Hour) // the 2h secret expired: room for another
	if _, _, _, err := s.AddClientSecret(ctx, c.ID, SecretSpec{}); err != nil {
		t.Fatalf("expired secrets must not count: %v", err)
	}
	if _, err := s.DeleteClientSecret(ctx, c.ID, c.Secrets[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AuthenticateClient(ctx, c.ID, first); reason(err) != ReasonWrongSecret {
		t.Fatalf("deleted secret still works: %v", err)
	}
	if _, err := s.AuthenticateClient(ctx, c.ID, plain2); err != nil {
		t.Fatalf("new secret: %v", err)
	}
	if _, err := s.DeleteClientSecret(ctx, c.ID, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleting unknown secret: %v", err)
	}
	// Down to one active secret: deleting it is refused.
	got, _ := s.Client(ctx, c.ID)
	for _, sec := range got.ActiveSecrets(clk.now()) {
		if sec.ID != second.ID {
			if _, err := s.DeleteClientSecret(ctx, c.ID, sec.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := s.DeleteClientSecret(ctx, c.ID, second.ID); !errors.Is(err, ErrInvalid) {
		t.Fatalf("deleting the last active secret: %v", err)
	}
}

func testAPIKeyTTL(t *testing.T, kv store.KV) {
	s, _ := newService(t, kv)
	for ttl, ok := range map[time.Duration]bool{0: true, time.Minute: true, 720 * time.Hour: true, time.Second: false, 59 * time.Second: false, -time.Hour: false} {
		_, _, err := s.CreateAPIKey(context.Background(), APIKeySpec{TenantID: "acme", Name: "k", Audiences: []string{aud}, TTL: ttl})
		if ok != (err == nil) || err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("ttl %s: %v", ttl, err)
		}
	}
}

func testAPIKeys(t *testing.T, kv store.KV) {
	ctx := context.Background()
	s, clk := newService(t, kv)
	k, plain, err := s.CreateAPIKey(ctx, APIKeySpec{TenantID: "acme", Name: "OneLogin", Audiences: []string{aud}})
	if err != nil {
		t.Fatal(err)
	}
	if !k.Expires.IsZero() || !slices.Equal(k.Scopes, []string{ScopeFull}) || !strings.HasPrefix(plain, secret.APIKeyPrefix) {
		t.Fatalf("defaults: %+v", k)
	}
	short, shortPlain, err := s.CreateAPIKey(ctx, APIKeySpec{TenantID: "acme", Name: "short", Scopes: []string{ScopeRead}, Audiences: []string{aud}, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	forged, _ := secret.NewAPIKey()
	wrongSecret := plain[:len(secret.APIKeyPrefix)+17] + strings.Repeat("A", secret.SecretLen)
	for _, tc := range []struct{ name, key, want string }{
		{"right", plain, ""},
		{"garbage", "hello", ReasonUnknown},
		{"jwt", "eyJhbGciOiJFUzI1NiJ9.e30.x", ReasonUnknown},
		{"unknown id", forged, ReasonUnknown},
		{"right id wrong secret (bad checksum)", wrongSecret, ReasonUnknown},
	} {
		if _, err := s.AuthenticateAPIKey(ctx, tc.key); reason(err) != tc.want {
			t.Errorf("%s: reason %q, want %q", tc.name, reason(err), tc.want)
		}
	}
	rotated, rotatedPlain, err := s.RotateAPIKey(ctx, k.ID)
	if err != nil || rotated.Name != k.Name || rotated.ID == k.ID {
		t.Fatalf("rotate: %+v %v", rotated, err)
	}
	if _, err := s.AuthenticateAPIKey(ctx, plain); err != nil {
		t.Fatalf("old key must keep working until revoked: %v", err)
	}
	if _, err := s.RevokeAPIKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AuthenticateAPIKey(ctx, plain); reason(err) != ReasonRevoked {
		t.Fatalf("revoked key: %v", err)
	}
	if _, _, err := s.RotateAPIKey(ctx, k.ID); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "is revoked") {
		t.Fatalf("rotating a revoked key: %v", err)
	}
	if _, err := s.AuthenticateAPIKey(ctx, rotatedPlain); err != nil {
		t.Fatalf("rotated key: %v", err)
	}
	clk.add(time.Hour)
	if _, err := s.AuthenticateAPIKey(ctx, shortPlain); reason(err) != ReasonExpired {
		t.Fatalf("expired key: %v", err)
	}
	keys, err := s.APIKeys(ctx, "acme")
	if err != nil || len(keys) != 3 {
		t.Fatalf("APIKeys = %d, %v", len(keys), err)
	}
	if err := s.DeleteAPIKey(ctx, short.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.APIKey(ctx, short.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted key still there: %v", err)
	}
}

func testAdmins(t *testing.T, kv store.KV) {
	ctx := context.Background()
	s, _ := newService(t, kv)
	if _, _, err := s.CreateAdmin(ctx, "acme", "alice", "short"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("short password: %v", err)
	}
	_, pw, err := s.CreateAdmin(ctx, "acme", "Alice", "")
	if err != nil || len(pw) < MinPasswordLen {
		t.Fatalf("generated password: %q %v", pw, err)
	}
	if _, _, err := s.CreateAdmin(ctx, "acme", "alice", "another long password"); !errors.Is(err, ErrExists) {
		t.Fatalf("usernames are case-insensitive: %v", err)
	}
	for _, tc := range []struct{ tenant, user, pw, want string }{
		{"acme", "alice", pw, ""},
		{"acme", "ALICE", pw, ""},
		{"acme", "alice", pw + "x", ReasonWrongSecret},
		{"acme", "bob", pw, ReasonUnknown},
		{"globex", "alice", pw, ReasonUnknown},
		{"acme", "a/../alice", pw, ReasonUnknown},
	} {
		if _, err := s.AuthenticateAdmin(ctx, tc.tenant, tc.user, tc.pw); reason(err) != tc.want {
			t.Errorf("%s/%s: reason %q, want %q", tc.tenant, tc.user, reason(err), tc.want)
		}
	}
	if _, _, err := s.SetAdminPassword(ctx, "acme", "alice", "a brand new password"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AuthenticateAdmin(ctx, "acme", "alice", pw); reason(err) != ReasonWrongSecret {
		t.Fatalf("old password still works: %v", err)
	}
	if err := s.DeleteAdmin(ctx, "acme", "alice"); err != nil {
		t.Fatal(err)
	}
	if as, _ := s.Admins(ctx, "acme"); len(as) != 0 {
		t.Fatalf("admins after delete: %+v", as)
	}
}

// A username or password with an accent is the same whether the keyboard,
// the terminal or the browser sent "é" as one code point (NFC) or as "e"
// plus a combining accent (NFD).
func testAdminsUnicode(t *testing.T, kv store.KV) {
	ctx := context.Background()
	s, _ := newService(t, kv)
	const (
		nfcUser, nfdUser = "Jos\u00e9", "Jose\u0301"
		nfcPass, nfdPass = "p\u00e4ssw\u00f6rd \u00f1and\u00fa", "pa\u0308ssw\u00f6rd n\u0303and\u00fa"
	)
	if _, _, err := s.CreateAdmin(ctx, "acme", nfcUser, nfcPass); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.CreateAdmin(ctx, "acme", "ren\u00e9e", nfdPass); err != nil {
		t.Fatal(err)
	}
	// An admin stored before names and passwords were normalized: under
	// its name lower-cased only, with a hash of the password as given.
	legacy := &AdminUser{TenantID: "acme", Username: "Zo" + "e\u0308", PasswordHash: secret.HashPassword(nfdPass, s.pwp)}
	if err := createJSON(ctx, s.kv, adminPrefix+"acme/zoe\u0308", legacy); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, user, pw, want string }{
		{"NFC as created", nfcUser, nfcPass, ""},
		{"NFD name", nfdUser, nfcPass, ""},
		{"NFD password", nfcUser, nfdPass, ""},
		{"NFD both, lower case", "jose\u0301", nfdPass, ""},
		{"created NFD, typed NFC", "ren\u00e9e", nfcPass, ""},
		{"created NFD, typed NFD", "rene\u0301e", nfdPass, ""},
		{"wrong password", nfdUser, nfdPass + "x", ReasonWrongSecret},
		{"legacy as stored", "zoe\u0308", nfdPass, ""},
		{"legacy, other case", "ZOE\u0308", nfdPass, ""},
	} {
		if _, err := s.AuthenticateAdmin(ctx, "acme", tc.user, tc.pw); reason(err) != tc.want {
			t.Errorf("%s: reason %q, want %q", tc.name, reason(err), tc.want)
		}
	}
	if _, _, err := s.CreateAdmin(ctx, "acme", nfdUser, "another long password"); !errors.Is(err, ErrExists) {
		t.Fatalf("the NFD form of an existing name: %v", err)
	}
	if _, _, err := s.CreateAdmin(ctx, "acme", "zo\u00eb", "another long password"); !errors.Is(err, ErrExists) {
		t.Fatalf("the NFC form of a legacy name: %v", err)
	}
	if a, err := s.Admin(ctx, "acme", "zo\u00eb"); err != nil || a.Username != legacy.Username {
		t.Fatalf("legacy admin by its NFC name: %+v %v", a, err)
	}
	// A new password for the legacy admin is normalized like any other.
	if _, _, err := s.SetAdminPassword(ctx, "acme", "zo\u00eb", nfcPass); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AuthenticateAdmin(ctx, "acme", "zo\u00eb", nfdPass); err != nil {
		t.Fatalf("legacy admin after a new password: %v", err)
	}
	for _, u := range []string{nfdUser, "ren\u00e9e", "zo\u00eb"} {
		if err := s.DeleteAdmin(ctx, "acme", u); err != nil {
			t.Fatalf("delete %q: %v", u, err)
		}
	}
	if as, _ := s.Admins(ctx, "acme"); len(as) != 0 {
		t.Fatalf("admins after delete: %+v", as)
	}
}

func testUsage(t *testing.T, kv store.KV) {
	ctx := context.Background()
	s, clk := newService(t, kv)
	c, plain, _ := s.CreateClient(ctx, ClientSpec{TenantID: "acme", Name: "x", Audiences: []string{aud}})
	k, kplain, _ := s.CreateAPIKey(ctx, APIKeySpec{TenantID: "acme", Name: "k", Audiences: []string{aud}})
	clk.add(time.Minute)
	s.AuthenticateClient(ctx, c.ID, plain)
	s.AuthenticateAPIKey(ctx, kplain)
	if got, _ := s.Client(ctx, c.ID); !got.Secrets[0].LastUsed.IsZero() {
		t.Fatal("last used written on the request path")
	}
	if err := s.FlushUsage(ctx); err != nil {
		t.Fatal(err)
	}
	gotC, _ := s.Client(ctx, c.ID)
	gotK, _ := s.APIKey(ctx, k.ID)
	if !gotC.Secrets[0].LastUsed.Equal(clk.now()) || !gotK.LastUsed.Equal(clk.now()) {
		t.Fatalf("last used not flushed: %v %v", gotC.Secrets[0].LastUsed, gotK.LastUsed)
	}
}

// testConcurrency rotates, revokes and creates from many goroutines at once
// and checks that every acknowledged change is in the store.
func testConcurrency(t *testing.T, kv store.KV) {
	ctx := context.Background()
	s, _ := newService(t, kv)
	const workers = 16
	clients := make([]*Client, workers)
	for i := range clients {
		c, _, err := s.CreateClient(ctx, ClientSpec{TenantID: "acme", Name: fmt.Sprint("c", i), Audiences: []string{aud}})
		if err != nil {
			t.Fatal(err)
		}
		clients[i] = c
	}
	shared := clients[0]
	var wg sync.WaitGroup
	var mu sync.Mutex
	added := map[string]bool{}   // secret ids acknowledged on the shared client
	deleted := map[string]bool{} // secret ids acknowledged as deleted
	revoked := map[string]bool{} // API key ids acknowledged as revoked
	created := map[string]bool{}
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 6 {
				_, sec, _, err := s.AddClientSecret(ctx, shared.ID, SecretSpec{})
				if err == nil {
					mu.Lock()
					added[sec.ID] = true
					mu.Unlock()
					if _, err := s.DeleteClientSecret(ctx, shared.ID, sec.ID); err == nil {
						mu.Lock()
						deleted[sec.ID] = true
						mu.Unlock()
					} else if !errors.Is(err, ErrInvalid) {
						t.Error(err)
					}
				} else if !errors.Is(err, ErrInvalid) {
					t.Error(err)
				}
				k, _, err := s.CreateAPIKey(ctx, APIKeySpec{TenantID: "acme", Name: fmt.Sprint("w", w, "-", i), Audiences: []string{aud}})
				if err != nil {
					t.Error(err)
					continue
				}
				mu.Lock()
				created[k.ID] = true
				mu.Unlock()
				if i%2 == 0 {
					if _, err := s.RevokeAPIKey(ctx, k.ID); err != nil {
						t.Error(err)
						continue
					}
					mu.Lock()
					revoked[k.ID] = true
					mu.Unlock()
				}
				if _, err := s.SetClientDisabled(ctx, clients[w].ID, i%2 == 0); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	got, err := s.Client(ctx, shared.ID)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, sec := range got.Secrets {
		have[sec.ID] = true
	}
	for id := range added {
		if have[id] == deleted[id] {
			t.Errorf("secret %s: in store %v, acknowledged deleted %v", id, have[id], deleted[id])
		}
	}
	if len(got.ActiveSecrets(time.Now())) > MaxActiveSecrets {
		t.Errorf("%d active secrets, limit %d", len(got.ActiveSecrets(time.Now())), MaxActiveSecrets)
	}
	keys, _ := s.APIKeys(ctx, "acme")
	if len(keys) != len(created) {
		t.Errorf("%d keys in store, %d acknowledged", len(keys), len(created))
	}
	for _, k := range keys {
		if revoked[k.ID] == k.Revoked.IsZero() {
			t.Errorf("key %s revoked=%v, acknowledged %v", k.ID, !k.Revoked.IsZero(), revoked[k.ID])
		}
	}
	for w, c := range clients[1:] {
		got, _ := s.Client(ctx, c.ID)
		if got.Disabled || w+1 == 0 { // every worker's last write (i=5) re-enabled its client
			t.Errorf("client %s: last acknowledged write lost", c.ID)
		}
	}
}

// testNoClearSecrets dumps every key and value in the store after creating
// every kind of credential and looks for the secrets in clear.
func testNoClearSecrets(t *testing.T, kv store.KV) {
	ctx := context.Background()
	s, _ := newService(t, kv)
	var secrets []string
	_, p1, _ := s.CreateClient(ctx, ClientSpec{TenantID: "acme", Name: "c", Audiences: []string{aud}})
	c, _, _ := s.CreateClient(ctx, ClientSpec{TenantID: "acme", Name: "d", Audiences: []string{aud}})
	_, _, p2, _ := s.AddClientSecret(ctx, c.ID, SecretSpec{})
	_, p3, _ := s.CreateAPIKey(ctx, APIKeySpec{TenantID: "acme", Name: "k", Audiences: []string{aud}})
	_, p4, _ := s.CreateAdmin(ctx, "acme", "alice", "")
	secrets = append(secrets, p1, p2, p3, p3[len(secret.APIKeyPrefix)+17:len(p3)-6], p4)
	entries, err := kv.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) < 5 {
		t.Fatalf("only %d entries dumped", len(entries))
	}
	for _, e := range entries {
		for _, sec := range secrets {
			if strings.Contains(e.Key, sec) || bytes.Contains(e.Value, []byte(sec)) {
				t.Errorf("secret %q found in clear under %s", sec, e.Key)
			}
		}
	}
}

// newReplicas returns two services on one store through separate clients,
// as two replicas have them, sharing a clock and the hashing key.
func newReplicas(t *testing.T, kv store.KV) (a, b *Service, clk *clock) {
	a, clk = newService(t, kv)
	h, err := secret.NewHasher(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	b = New(storetest.SecondClient(t, kv), h, Options{Now: clk.now, PasswordParams: secret.PasswordParams{MemoryKiB: 64, Time: 1, Threads: 1}})
	return a, b, clk
}

// testTwoReplicas races writes that must have one outcome through two
// clients of one store, as two replicas make them: one tenant id is
// created once, the cap on active secrets holds, and the last active
// secret survives two concurrent deletions.
func testTwoReplicas(t *testing.T, kv store.KV) {
	ctx := context.Background()
	a, b, clk := newReplicas(t, kv)
	replicas := [2]*Service{a, b}
	concurrently := func(n int, fn func(s *Service) error) (ok int, errs []error) {
		var (
			mu sync.Mutex
			wg sync.WaitGroup
		)
		for i := range n {
			wg.Go(func() {
				err := fn(replicas[i%2])
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					ok++
				} else {
					errs = append(errs, err)
				}
			})
		}
		wg.Wait()
		return ok, errs
	}
	for trial := range 5 {
		id := fmt.Sprint("t", trial)
		ok, errs := concurrently(8, func(s *Service) error { _, err := s.CreateTenant(ctx, id, ""); return err })
		if ok != 1 {
			t.Fatalf("tenant %s created %d times", id, ok)
		}
		for _, err := range errs {
			if !errors.Is(err, ErrExists) {
				t.Fatalf("losing CreateTenant: %v", err)
			}
		}
		c, _, err := a.CreateClient(ctx, ClientSpec{TenantID: id, Name: "c", Audiences: []string{aud}})
		if err != nil {
			t.Fatal(err)
		}
		ok, _ = concurrently(8, func(s *Service) error { _, _, _, err := s.AddClientSecret(ctx, c.ID, SecretSpec{}); return err })
		got, _ := b.Client(ctx, c.ID)
		if active := len(got.ActiveSecrets(clk.now())); ok != MaxActiveSecrets-1 || active != MaxActiveSecrets {
			t.Fatalf("%d secrets added, %d active; want %d and %d", ok, active, MaxActiveSecrets-1, MaxActiveSecrets)
		}
		// Every secret deleted at once, half through each replica: the last
		// active one must survive.
		var next atomic.Int64
		ok, errs = concurrently(len(got.Secrets), func(s *Service) error {
			_, err := s.DeleteClientSecret(ctx, c.ID, got.Secrets[next.Add(1)-1].ID)
			return err
		})
		if ok != len(got.Secrets)-1 || len(errs) != 1 || !errors.Is(errs[0], ErrInvalid) {
			t.Fatalf("%d of %d secrets deleted at once (errors %v), want all but the last", ok, len(got.Secrets), errs)
		}
		if got, _ := a.Client(ctx, c.ID); len(got.ActiveSecrets(clk.now())) != 1 {
			t.Fatalf("%d active secrets after concurrent deletions, want the last one kept", len(got.ActiveSecrets(clk.now())))
		}
	}
}

// testDeleteTenantRace deletes a tenant while another replica creates a
// credential for it. Either may win, never both: a credential that
// outlived its tenant would belong to whoever next creates a tenant with
// the same id.
func testDeleteTenantRace(t *testing.T, kv store.KV) {
	ctx := context.Background()
	a, b, _ := newReplicas(t, kv)
	creates := []struct {
		kind   string
		create func(tenant string) error
	}{
		{"client", func(id string) error {
			_, _, err := b.CreateClient(ctx, ClientSpec{TenantID: id, Name: "c", Audiences: []string{aud}})
			return err
		}},
		{"api key", func(id string) error {
			_, _, err := b.CreateAPIKey(ctx, APIKeySpec{TenantID: id, Name: "k", Audiences: []string{aud}})
			return err
		}},
		{"admin", func(id string) error { _, _, err := b.CreateAdmin(ctx, id, "ann", ""); return err }},
	}
	for _, c := range creates {
		var deleted, created int
		for trial := range 40 {
			id := fmt.Sprintf("race-%s-%d", strings.ReplaceAll(c.kind, " ", ""), trial)
			if _, err := a.CreateTenant(ctx, id, ""); err != nil {
				t.Fatal(err)
			}
			var delErr, createErr error
			var wg sync.WaitGroup
			wg.Go(func() { delErr = a.DeleteTenant(ctx, id) })
			wg.Go(func() { createErr = c.create(id) })
			wg.Wait()
			if delErr == nil {
				deleted++
			}
			if createErr == nil {
				created++
			}
			owned := 0
			for _, prefix := range []string{clientPrefix, apiKeyPrefix, adminPrefix + id + "/"} {
				entries, err := kv.List(ctx, prefix)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range entries {
					if strings.Contains(string(e.Value), `"tenant_id":"`+id+`"`) {
						owned++
					}
				}
			}
			_, tenantErr := a.Tenant(ctx, id)
			switch {
			case delErr == nil && createErr == nil:
				t.Fatalf("%s, trial %d: the tenant was deleted and a %s created for it", c.kind, trial, c.kind)
			case delErr == nil && (owned != 0 || tenantErr != ErrNotFound):
				t.Fatalf("%s, trial %d: tenant deleted (%v) but it still owns %d credentials", c.kind, trial, tenantErr, owned)
			case createErr == nil && (owned != 1 || tenantErr != nil):
				t.Fatalf("%s, trial %d: %s created, but the tenant is %v and owns %d credentials", c.kind, trial, c.kind, tenantErr, owned)
			case delErr != nil && createErr != nil && owned != 0:
				t.Fatalf("%s, trial %d: both failed (%v; %v) yet %d credentials remain", c.kind, trial, delErr, createErr, owned)
			}
			if tenantErr == nil {
				if tn, _ := a.Tenant(ctx, id); tn.Deleting {
					t.Fatalf("%s, trial %d: a refused deletion left the tenant marked as being deleted", c.kind, trial)
				}
			}
		}
		t.Logf("%s: %d deletions and %d creations won", c.kind, deleted, created)
	}
}

// FuzzCheckRedirectURI holds an accepted redirect URI to what the consent
// page and the code redirect rely on: it parses, its origin (named in the
// page's Content-Security-Policy form-action) has only the bytes of a
// scheme, a DNS name or IP literal and a port, and it carries no control
// byte into the Location header.
func FuzzCheckRedirectURI(f *testing.F) {
	for _, s := range []string{
		"https://acme.okta.com/admin/app/cpc/acme/oauth/callback", "https://system-admin.okta1.com/admin/app/cpc/acme/oauth/callback",
		"http://system-admin.okta1.com:1802/admin/app/cpc/acme/oauth/callback", "http://127.0.0.1:9999/cb", "http://[::1]:9999/cb",
		"https://[2001:db8::1]/cb", "https://okta.example./cb", "https://a.example;sandbox/cb", "https://a.example%3Bsandbox/cb",
		"https://[fe80::1%25eth0]/cb", "https://a.example:/cb", "https://a.example/c b?x=1", "https://user@a.example/cb", "javascript:alert(1)",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if checkRedirectURI(raw) != nil {
			return
		}
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("accepted %q, which does not parse: %v", raw, err)
		}
		if u.Scheme != "https" && u.Scheme != "http" {
			t.Fatalf("accepted %q with scheme %q", raw, u.Scheme)
		}
		for _, c := range []byte(u.Host) {
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(".-:[]", c) >= 0) {
				t.Fatalf("accepted %q, whose origin host %q has %q", raw, u.Host, c)
			}
		}
		for _, c := range []byte(raw) {
			if c < 0x20 || c == 0x7f {
				t.Fatalf("accepted %q with control byte %#x", raw, c)
			}
		}
	})
}
