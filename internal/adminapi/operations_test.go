package adminapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimgate/scimgate/internal/credentials"
	"github.com/scimgate/scimgate/internal/secret"
	"github.com/scimgate/scimgate/keys"
)

// result holds a call's two results so that a test can demand success in
// one expression: got(f()).must(t).
type result[T any] struct {
	v   T
	err error
}

func got[T any](v T, err error) result[T] { return result[T]{v, err} }

func (r result[T]) must(t *testing.T) T {
	t.Helper()
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.v
}

func TestTenantLifecycle(t *testing.T) {
	eachImplementation(t, oneRouteSite, func(t *testing.T, f fixture) {
		ctx := context.Background()
		tn := got(f.ops.CreateTenant(ctx, NewTenant{ID: "acme", DisplayName: "ACME Corp"})).must(t)
		if tn.ID != "acme" || tn.DisplayName != "ACME Corp" || tn.Disabled || tn.Created.IsZero() {
			t.Fatalf("created %+v", tn)
		}
		if tn := got(f.ops.SetTenantDisabled(ctx, "acme", true)).must(t); !tn.Disabled {
			t.Fatal("not disabled")
		}
		if _, err := f.ops.CreateAPIKey(ctx, NewAPIKey{TenantID: "acme", Name: "k"}); !errors.Is(err, credentials.ErrInvalid) || !strings.Contains(err.Error(), "disabled") {
			t.Fatalf("create on disabled tenant: %v", err)
		}
		if tn := got(f.ops.SetTenantDisabled(ctx, "acme", false)).must(t); tn.Disabled {
			t.Fatal("not enabled")
		}
		if ts := got(f.ops.Tenants(ctx)).must(t); len(ts) != 1 || ts[0].ID != "acme" {
			t.Fatalf("tenants %+v", ts)
		}
		c := got(f.ops.CreateClient(ctx, NewClient{TenantID: "acme", Name: "Entra", Kind: "entra"})).must(t)
		if err := f.ops.DeleteTenant(ctx, "acme"); !errors.Is(err, credentials.ErrInvalid) {
			t.Fatalf("delete of a tenant with a client: %v", err)
		}
		if err := f.ops.DeleteClient(ctx, c.ClientID); err != nil {
			t.Fatal(err)
		}
		if err := f.ops.DeleteTenant(ctx, "acme"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.ops.Tenant(ctx, "acme"); !errors.Is(err, credentials.ErrNotFound) {
			t.Fatalf("deleted tenant: %v", err)
		}
		for _, event := range []string{"credential.created", "credential.revoked", "credential.enabled", "credential.deleted"} {
			if !strings.Contains(f.audit.String(), `"event":"`+event+`"`) {
				t.Errorf("audit has no %s:\n%s", event, f.audit.String())
			}
		}
	})
}

func TestRequestErrors(t *testing.T) {
	eachImplementation(t, testSite, func(t *testing.T, f fixture) {
		ctx := context.Background()
		got(f.ops.CreateTenant(ctx, NewTenant{ID: "acme"})).must(t)
		audience := testSite.Issuer + "/scim/v2"
		for name, tc := range map[string]struct {
			op      func() error
			want    error
			message string
		}{
			"tenant exists": {func() error { _, err := f.ops.CreateTenant(ctx, NewTenant{ID: "acme"}); return err }, credentials.ErrExists, `tenant "acme"`},
			"tenant id":     {func() error { _, err := f.ops.CreateTenant(ctx, NewTenant{ID: "Bad_ID"}); return err }, credentials.ErrInvalid, "tenant id"},
			"unknown tenant": {func() error { _, err := f.ops.Clients(ctx, "nope"); return err },
				credentials.ErrNotFound, `tenant "nope"`},
			"kind required": {func() error {
				_, err := f.ops.CreateClient(ctx, NewClient{TenantID: "acme", Name: "x", Audiences: []string{audience}})
				return err
			},
				credentials.ErrInvalid, "kind"},
			"audience required with several routes": {func() error {
				_, err := f.ops.CreateClient(ctx, NewClient{TenantID: "acme", Name: "x", Kind: "entra"})
				return err
			}, credentials.ErrInvalid, audience + ", urn:scimgate:tenant-routes"},
			"audience must be a route's": {func() error {
				_, err := f.ops.CreateAPIKey(ctx, NewAPIKey{TenantID: "acme", Name: "x", Audiences: []string{"https://typo"}})
				return err
			}, credentials.ErrInvalid, `"https://typo"`},
			"okta needs redirect uris": {func() error {
				_, err := f.ops.CreateClient(ctx, NewClient{TenantID: "acme", Name: "x", Kind: "okta", Audiences: []string{audience}})
				return err
			}, credentials.ErrInvalid, "redirect"},
			"client of unknown tenant": {func() error {
				_, err := f.ops.CreateClient(ctx, NewClient{TenantID: "nope", Name: "x", Kind: "api", Audiences: []string{audience}})
				return err
			}, credentials.ErrNotFound, "nope"},
			"unknown client":           {func() error { _, err := f.ops.Client(ctx, "nope"); return err }, credentials.ErrNotFound, "client nope"},
			"unknown secret":           {func() error { _, err := f.ops.AddClientSecret(ctx, "nope", SecretLifetime{}); return err }, credentials.ErrNotFound, "client nope"},
			"unknown api key":          {func() error { _, err := f.ops.RevokeAPIKey(ctx, "nope"); return err }, credentials.ErrNotFound, "api key nope"},
			"unknown admin":            {func() error { return f.ops.DeleteAdmin(ctx, "acme", "nobody") }, credentials.ErrNotFound, `admin "nobody"`},
			"admins of unknown tenant": {func() error { _, err := f.ops.Admins(ctx, "nope"); return err }, credentials.ErrNotFound, "nope"},
			"dot username": {func() error {
				_, err := f.ops.CreateAdmin(ctx, "acme", NewAdmin{Username: "..", Password: "a long enough passphrase"})
				return err
			}, credentials.ErrInvalid, "username"},
			"short password": {func() error {
				_, err := f.ops.CreateAdmin(ctx, "acme", NewAdmin{Username: "ann", Password: "short"})
				return err
			}, credentials.ErrInvalid, "password"},
			"unknown signing key": {func() error { _, err := f.ops.RevokeSigningKey(ctx, "nope"); return err }, credentials.ErrNotFound, `signing key "nope"`},
			"odd path segment":    {func() error { _, err := f.ops.Tenant(ctx, ".."); return err }, credentials.ErrNotFound, ""},
		} {
			t.Run(name, func(t *testing.T) {
				err := tc.op()
				if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.message) {
					t.Fatalf("got %v, want %v containing %q", err, tc.want, tc.message)
				}
			})
		}
	})
}

func TestClients(t *testing.T) {
	eachImplementation(t, testSite, func(t *testing.T, f fixture) {
		ctx := context.Background()
		got(f.ops.CreateTenant(ctx, NewTenant{ID: "acme"})).must(t)
		before := time.Now().Add(-time.Second)

		entra := got(f.ops.CreateClient(ctx, NewClient{TenantID: "acme", Name: "Entra", Kind: "entra", Audiences: []string{testSite.Issuer + "/scim/v2"}})).must(t)
		switch {
		case entra.ClientSecret == "" || entra.ClientSecretID == "":
			t.Fatalf("no secret: %+v", entra)
		case entra.ClientSecretExpiresAt < before.Add(364*24*time.Hour).Unix():
			t.Fatalf("secret expires at %d, want a year from now", entra.ClientSecretExpiresAt)
		case entra.TokenEndpoint != "https://scim.example.com/oauth2/token" || entra.SCIMBaseURL != "https://scim.example.com/scim/v2":
			t.Fatalf("urls: %q %q", entra.TokenEndpoint, entra.SCIMBaseURL)
		case entra.AuthorizationEndpoint != "" || entra.Scope != "scim.full" || strings.Join(entra.GrantTypes, " ") != "client_credentials":
			t.Fatalf("entra client: %+v", entra.Client)
		case entra.AccessTTL != Duration(time.Hour) || entra.ClientIDIssuedAt < before.Unix():
			t.Fatalf("entra client: %+v", entra.Client)
		}

		okta := got(f.ops.CreateClient(ctx, NewClient{
			TenantID: "acme", Name: "Okta", Kind: "okta", OktaApp: "acmescim", Audiences: []string{"urn:scimgate:tenant-routes"},
			SecretLifetime: SecretLifetime{SecretNeverExpires: true},
		})).must(t)
		switch {
		case okta.ClientSecretExpiresAt != 0:
			t.Fatalf("never-expiring secret expires at %d", okta.ClientSecretExpiresAt)
		case okta.AuthorizationEndpoint != "https://scim.example.com/oauth2/authorize" || len(okta.RedirectURIs) != 5:
			t.Fatalf("okta client: %+v", okta.Client)
		case okta.SCIMBaseURL != "https://scim.example.com/t/acme/scim/v2" || okta.Scope != "scim.full offline_access":
			t.Fatalf("okta client: %+v", okta.Client)
		}

		rotated := got(f.ops.AddClientSecret(ctx, entra.ClientID, SecretLifetime{SecretTTL: Duration(48 * time.Hour)})).must(t)
		if rotated.ClientSecret == entra.ClientSecret || len(rotated.Secrets) != 2 || rotated.ClientSecretExpiresAt > time.Now().Add(49*time.Hour).Unix() {
			t.Fatalf("rotated: %+v", rotated)
		}
		after := got(f.ops.DeleteClientSecret(ctx, entra.ClientID, entra.ClientSecretID)).must(t)
		if len(after.Secrets) != 1 || after.Secrets[0].ID != rotated.ClientSecretID {
			t.Fatalf("after delete: %+v", after.Secrets)
		}
		if _, err := f.ops.DeleteClientSecret(ctx, entra.ClientID, rotated.ClientSecretID); !errors.Is(err, credentials.ErrInvalid) {
			t.Fatalf("deleting the last secret: %v", err)
		}
		if c := got(f.ops.SetClientDisabled(ctx, entra.ClientID, true)).must(t); !c.Disabled {
			t.Fatal("not disabled")
		}
		if c := got(f.ops.Client(ctx, entra.ClientID)).must(t); !c.Disabled || c.Name != "Entra" {
			t.Fatalf("show: %+v", c)
		}
		if cs := got(f.ops.Clients(ctx, "acme")).must(t); len(cs) != 2 {
			t.Fatalf("clients: %+v", cs)
		}
		if cs := got(f.ops.Clients(ctx, "")).must(t); len(cs) != 2 {
			t.Fatalf("all clients: %+v", cs)
		}
		if err := f.ops.DeleteClient(ctx, okta.ClientID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.ops.Client(ctx, okta.ClientID); !errors.Is(err, credentials.ErrNotFound) {
			t.Fatalf("deleted client: %v", err)
		}
	})
}

func TestAPIKeys(t *testing.T) {
	eachImplementation(t, oneRouteSite, func(t *testing.T, f fixture) {
		ctx := context.Background()
		got(f.ops.CreateTenant(ctx, NewTenant{ID: "acme"})).must(t)
		k := got(f.ops.CreateAPIKey(ctx, NewAPIKey{TenantID: "acme", Name: "OneLogin"})).must(t)
		switch {
		case !strings.HasPrefix(k.Key, "sk_scim_"+k.ID+"_"):
			t.Fatalf("key %q for id %s", k.Key, k.ID)
		case !k.Expires.IsZero() || k.Scope != "scim.full" || k.SCIMBaseURL != "https://scim.example.com/scim/v2":
			t.Fatalf("key: %+v", k.APIKey)
		}
		short := got(f.ops.CreateAPIKey(ctx, NewAPIKey{TenantID: "acme", Name: "Short", Scope: "scim.read", TTL: Duration(24 * time.Hour)})).must(t)
		if short.Expires.IsZero() || short.Scope != "scim.read" {
			t.Fatalf("short-lived key: %+v", short.APIKey)
		}
		rotated := got(f.ops.RotateAPIKey(ctx, k.ID)).must(t)
		if rotated.ID == k.ID || rotated.Key == k.Key || rotated.Name != "OneLogin" {
			t.Fatalf("rotated: %+v", rotated.APIKey)
		}
		if r := got(f.ops.RevokeAPIKey(ctx, k.ID)).must(t); r.Revoked.IsZero() {
			t.Fatal("not revoked")
		}
		if ks := got(f.ops.APIKeys(ctx, "acme")).must(t); len(ks) != 3 {
			t.Fatalf("keys: %+v", ks)
		}
		if err := f.ops.DeleteAPIKey(ctx, k.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.ops.APIKey(ctx, k.ID); !errors.Is(err, credentials.ErrNotFound) {
			t.Fatalf("deleted key: %v", err)
		}
	})
}

// A whole API key pasted where its id belongs is refused with the id, and
// the key's secret is not repeated in the error.
func TestAPIKeyInsteadOfItsID(t *testing.T) {
	eachImplementation(t, oneRouteSite, func(t *testing.T, f fixture) {
		ctx := context.Background()
		got(f.ops.CreateTenant(ctx, NewTenant{ID: "acme"})).must(t)
		k := got(f.ops.CreateAPIKey(ctx, NewAPIKey{TenantID: "acme", Name: "OneLogin"})).must(t)
		secretPart := strings.TrimPrefix(k.Key, "sk_scim_"+k.ID+"_")
		// The key with its last character changed, so that its checksum
		// fails; "x" alone would leave one key in 62 as it was.
		mistyped := k.Key[:len(k.Key)-1] + "x"
		if strings.HasSuffix(k.Key, "x") {
			mistyped = k.Key[:len(k.Key)-1] + "y"
		}
		for name, tc := range map[string]struct {
			op   func(string) error
			key  string
			want string
		}{
			"show":     {func(s string) error { _, err := f.ops.APIKey(ctx, s); return err }, k.Key, "pass its id, " + k.ID},
			"rotate":   {func(s string) error { _, err := f.ops.RotateAPIKey(ctx, s); return err }, k.Key, "pass its id, " + k.ID},
			"revoke":   {func(s string) error { _, err := f.ops.RevokeAPIKey(ctx, s); return err }, k.Key, "pass its id, " + k.ID},
			"delete":   {func(s string) error { return f.ops.DeleteAPIKey(ctx, s) }, k.Key, "pass its id, " + k.ID},
			"mistyped": {func(s string) error { return f.ops.DeleteAPIKey(ctx, s) }, mistyped, "the 16 characters after sk_scim_"},
		} {
			t.Run(name, func(t *testing.T) {
				err := tc.op(tc.key)
				if !errors.Is(err, credentials.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error %v, want invalid saying %q", err, tc.want)
				}
				if strings.Contains(err.Error(), secretPart[:20]) {
					t.Fatalf("the error repeats the key's secret: %v", err)
				}
			})
		}
		if k := got(f.ops.APIKey(ctx, k.ID)).must(t); !k.Revoked.IsZero() {
			t.Fatal("the key was revoked")
		}
	})
}

// Remote refuses a whole API key as an id before sending anything: the
// request's URL would carry the key's secret past every proxy and access
// log between the command line and the server.
func TestRemoteNeverSendsAnAPIKey(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	ops := NewRemote(srv.URL, testToken, srv.Client())
	ctx := context.Background()
	key, id := secret.NewAPIKey()
	for name, op := range map[string]func() error{
		"show":   func() error { _, err := ops.APIKey(ctx, key); return err },
		"rotate": func() error { _, err := ops.RotateAPIKey(ctx, key); return err },
		"revoke": func() error { _, err := ops.RevokeAPIKey(ctx, key); return err },
		"delete": func() error { return ops.DeleteAPIKey(ctx, key) },
	} {
		if err := op(); !errors.Is(err, credentials.ErrInvalid) || !strings.Contains(err.Error(), "pass its id, "+id) {
			t.Errorf("%s: error %v, want invalid naming the id", name, err)
		}
	}
	if n := requests.Load(); n != 0 {
		t.Fatalf("%d requests carried the key to the server", n)
	}
}

func TestAdmins(t *testing.T) {
	eachImplementation(t, oneRouteSite, func(t *testing.T, f fixture) {
		ctx := context.Background()
		got(f.ops.CreateTenant(ctx, NewTenant{ID: "acme"})).must(t)
		gen := got(f.ops.CreateAdmin(ctx, "acme", NewAdmin{Username: "ann@acme.example"})).must(t)
		if len(gen.Password) < credentials.MinPasswordLen {
			t.Fatalf("generated password %q", gen.Password)
		}
		chosen := got(f.ops.CreateAdmin(ctx, "acme", NewAdmin{Username: "bob", Password: "correct horse battery"})).must(t)
		if chosen.Password != "" {
			t.Fatal("a chosen password was echoed")
		}
		if as := got(f.ops.Admins(ctx, "acme")).must(t); len(as) != 2 {
			t.Fatalf("admins: %+v", as)
		}
		if p := got(f.ops.SetAdminPassword(ctx, "acme", "ann@acme.example", NewPassword{})).must(t); p.Password == "" || p.Password == gen.Password {
			t.Fatalf("new generated password %q", p.Password)
		}
		if p := got(f.ops.SetAdminPassword(ctx, "acme", "bob", NewPassword{Password: "another long passphrase"})).must(t); p.Password != "" {
			t.Fatal("a chosen password was echoed")
		}
		if err := f.ops.DeleteAdmin(ctx, "acme", "bob"); err != nil {
			t.Fatal(err)
		}
		if as := got(f.ops.Admins(ctx, "acme")).must(t); len(as) != 1 || as[0].Username != "ann@acme.example" {
			t.Fatalf("admins: %+v", as)
		}
	})
}

func TestSigningKeys(t *testing.T) {
	eachImplementation(t, oneRouteSite, func(t *testing.T, f fixture) {
		ctx := context.Background()
		if ks := got(f.ops.SigningKeys(ctx)).must(t); len(ks) != 0 {
			t.Fatalf("fresh store has keys: %+v", ks)
		}
		ring := got(f.ops.RotateSigningKey(ctx)).must(t)
		active := stateOf(ring, keys.StateActive)
		if active == "" || stateOf(ring, keys.StateNext) == "" {
			t.Fatalf("after rotate: %+v", ring)
		}
		ring = got(f.ops.RevokeSigningKey(ctx, active)).must(t)
		if stateOf(ring, keys.StateRevoked) != active || stateOf(ring, keys.StateActive) == "" {
			t.Fatalf("after revoke: %+v", ring)
		}
		for _, event := range []string{`"event":"key.rotated"`, `"event":"key.revoked"`, `"kid":"` + active + `"`} {
			if !strings.Contains(f.audit.String(), event) {
				t.Errorf("audit lacks %s:\n%s", event, f.audit)
			}
		}
	})
}

func stateOf(ring []keys.KeyInfo, s keys.State) string {
	for _, k := range ring {
		if k.State == s {
			return k.KID
		}
	}
	return ""
}

func TestDuration(t *testing.T) {
	for in, want := range map[time.Duration]string{
		time.Hour: "1h", 8760 * time.Hour: "8760h", 90 * time.Minute: "1h30m", 5 * time.Minute: "5m",
		30 * time.Second: "30s", time.Hour + 30*time.Second: "1h0m30s", 0: "0s",
	} {
		d := Duration(in)
		if got := d.String(); got != want {
			t.Errorf("%v: got %q, want %q", in, got, want)
		}
		var back Duration
		if err := back.UnmarshalText([]byte(d.String())); err != nil || back != d {
			t.Errorf("%v: round trip gave %v, %v", in, back, err)
		}
	}
	var d Duration
	if err := d.UnmarshalText([]byte("a year")); err == nil || !strings.Contains(err.Error(), "8760h") {
		t.Errorf("bad duration: %v", err)
	}
}

func TestSite(t *testing.T) {
	for name, tc := range map[string]struct {
		site      Site
		requested []string
		want      string // joined audiences, or the start of the error
	}{
		"one route, default":     {oneRouteSite, nil, "https://scim.example.com/scim/v2"},
		"one route, named":       {oneRouteSite, []string{"https://scim.example.com/scim/v2"}, "https://scim.example.com/scim/v2"},
		"several routes, none":   {testSite, nil, "invalid: audiences: the gateway has 2 routes"},
		"several routes, one":    {testSite, []string{"urn:scimgate:tenant-routes"}, "urn:scimgate:tenant-routes"},
		"no routes, none":        {Site{Issuer: "https://x"}, nil, "invalid: audiences: the gateway has no routes"},
		"no routes, named":       {Site{Issuer: "https://x"}, []string{"https://x/scim"}, "https://x/scim"},
		"not a route's audience": {oneRouteSite, []string{"https://scim.example.com/scim"}, "invalid: audience"},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := tc.site.Audiences(tc.requested)
			if err != nil {
				if !strings.HasPrefix(err.Error(), tc.want) {
					t.Fatalf("error %v, want %q", err, tc.want)
				}
				return
			}
			if strings.Join(got, " ") != tc.want {
				t.Fatalf("got %v, want %q", got, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		audiences []string
		want      string
	}{
		{[]string{"https://scim.example.com/scim/v2"}, "https://scim.example.com/scim/v2"},
		{[]string{"urn:scimgate:tenant-routes"}, "https://scim.example.com/t/acme/scim/v2"},
		{[]string{"urn:other"}, ""},
	} {
		if got := testSite.SCIMBaseURL("acme", tc.audiences); got != tc.want {
			t.Errorf("SCIMBaseURL(%v) = %q, want %q", tc.audiences, got, tc.want)
		}
	}
}
