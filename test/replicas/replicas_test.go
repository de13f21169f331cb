package replicas

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scimgate/scimgate/internal/secret"
)

const newUser = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ada@example.com","active":true}`

// startPair runs replicas a and b of one cluster; top is more top-level
// configuration.
func startPair(t *testing.T, top ...string) (*cluster, *replica, *replica) {
	c := newCluster(t, "")
	c.top = strings.Join(top, "")
	a, b := c.replica("a"), c.replica("b")
	a.start()
	b.start()
	return c, a, b
}

func TestCredentialsWorkOnEveryReplica(t *testing.T) {
	c, a, b := startPair(t)
	acme := c.newClient(a, "acme")
	tokA, err := token(a.public, acme)
	if err != nil {
		t.Fatal(err)
	}
	status, body, err := scim(http.MethodPost, b.public, "/scim/v2/Users", "Bearer "+tokA, newUser)
	if err != nil || status != http.StatusCreated {
		t.Fatalf("token from a, create on b: %d %v %s", status, err, body)
	}
	tokB, err := token(b.public, acme) // a's client authenticates on b
	if err != nil {
		t.Fatal(err)
	}
	for _, check := range []struct{ name, base, auth string }{
		{"token from b on a", a.public, "Bearer " + tokB},
		{"API key from a's admin API on b", b.public, "Bearer " + acme.apiKey},
	} {
		if status, body, err := scim(http.MethodGet, check.base, "/scim/v2/Users", check.auth, ""); err != nil || status != http.StatusOK {
			t.Errorf("%s: %d %v %s", check.name, status, err, body)
		}
	}
	b.stop()
	a.stop()
	assertNoSecrets(t, []*replica{a, b}, acme.secret, acme.apiKey, tokA, tokB, c.adminToken, c.masterKey)
}

// TestChangesReachTheOtherReplica makes each change the README's table
// ("How long a revoked credential keeps working") lists through replica a
// and measures how long b, which has just accepted the credential and
// holds it in its caches, goes on accepting it: within 500ms (the deny-list's
// "not revoked" and the status answers), or keys.refresh_interval (200ms
// here) for a signing key. Each change has a tenant of its own; the signing
// key, shared by all, goes last.
func TestChangesReachTheOtherReplica(t *testing.T) {
	c, a, b := startPair(t)
	ctx := context.Background()
	ops := a.ops()
	keyID := func(cl client) string { id, _ := secret.ParseAPIKey(cl.apiKey); return id }
	viaToken := func(t *testing.T, cl client) string {
		tok, err := token(a.public, cl)
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + tok
	}
	viaKey := func(_ *testing.T, cl client) string { return "Bearer " + cl.apiKey }
	for i, tc := range []struct {
		name   string
		auth   func(*testing.T, client) string
		change func(cl client, auth string) error
	}{
		{"access token revoked", viaToken, func(cl client, auth string) error {
			return revoke(a.public, cl, strings.TrimPrefix(auth, "Bearer "))
		}},
		{"API key revoked", viaKey, func(cl client, _ string) error { _, err := ops.RevokeAPIKey(ctx, keyID(cl)); return err }},
		{"API key deleted", viaKey, func(cl client, _ string) error { return ops.DeleteAPIKey(ctx, keyID(cl)) }},
		{"client disabled", viaToken, func(cl client, _ string) error { _, err := ops.SetClientDisabled(ctx, cl.id, true); return err }},
		{"client deleted", viaToken, func(cl client, _ string) error { return ops.DeleteClient(ctx, cl.id) }},
		{"tenant disabled, access token", viaToken, func(cl client, _ string) error {
			_, err := ops.SetTenantDisabled(ctx, cl.tenant, true)
			return err
		}},
		{"tenant disabled, API key", viaKey, func(cl client, _ string) error {
			_, err := ops.SetTenantDisabled(ctx, cl.tenant, true)
			return err
		}},
		{"signing key revoked", viaToken, func(client, string) error {
			ring, err := ops.SigningKeys(ctx)
			if err != nil {
				return err
			}
			for _, k := range ring {
				if k.State == "active" {
					_, err = ops.RevokeSigningKey(ctx, k.KID)
					return err
				}
			}
			return errors.New("no active signing key")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := c.newClient(a, fmt.Sprintf("t%d", i))
			auth := tc.auth(t, cl)
			for range 3 { // cache the credential and its "not revoked" and status answers on b
				if status, body, err := scim(http.MethodGet, b.public, "/scim/v2/Users", auth, ""); err != nil || status != http.StatusOK {
					t.Fatalf("before the change: %d %v %s", status, err, body)
				}
			}
			if err := tc.change(cl, auth); err != nil {
				t.Fatal(err)
			}
			t.Logf("made through a, refused by b after %s", refusedWithin(t, b, auth))
		})
	}
	// The next key took over on both replicas: a fresh token from a works on b.
	fresh := c.newClient(a, "fresh")
	tok, err := token(a.public, fresh)
	if err != nil {
		t.Fatal(err)
	}
	if status, body, err := scim(http.MethodGet, b.public, "/scim/v2/Users", "Bearer "+tok, ""); err != nil || status != http.StatusOK {
		t.Fatalf("a token signed after the revocation, on b: %d %v %s", status, err, body)
	}
}

// refusedWithin polls b with auth until it answers 401, failing after one
// second, and returns how long that took.
func refusedWithin(t *testing.T, b *replica, auth string) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		status, body, err := scim(http.MethodGet, b.public, "/scim/v2/Users", auth, "")
		switch {
		case err != nil:
			t.Fatal(err)
		case status == http.StatusUnauthorized:
			return time.Since(start)
		case status != http.StatusOK:
			t.Fatalf("unexpected %d %s", status, body)
		}
		if time.Since(start) > time.Second {
			t.Fatalf("b still accepts the credential %s after the revocation", time.Since(start))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Signing keys rotated through a's admin API while b verifies fresh tokens
// from a: b never answers 401, because a rotation promotes a key that was
// published before it signs, and b re-reads the ring on an unknown kid.
func TestKeyRotationNeverRefusedByTheOtherReplica(t *testing.T) {
	c, a, b := startPair(t)
	acme := c.newClient(a, "acme")
	ctx := context.Background()
	stop := make(chan struct{})
	results := make(chan [2]int, 1)
	go func() {
		var ok, refused int
		for {
			select {
			case <-stop:
				results <- [2]int{ok, refused}
				return
			default:
			}
			tok, err := token(a.public, acme)
			if err != nil {
				t.Error(err)
				continue
			}
			status, body, err := scim(http.MethodGet, b.public, "/scim/v2/Users", "Bearer "+tok, "")
			switch {
			case err != nil:
				t.Error(err)
			case status == http.StatusOK:
				ok++
			default:
				if refused++; refused <= 3 {
					t.Errorf("b answered %d: %s", status, body)
				}
			}
			// 40 requests a second: within the default limit of 50 per
			// credential, which the replicas share through Redis.
			time.Sleep(25 * time.Millisecond)
		}
	}()
	kids := map[string]bool{}
	for range 3 {
		// keys refuse a forced rotation sooner than refresh_interval + 1s
		// after the previous one (see keys.RotationTooSoonError).
		time.Sleep(1500 * time.Millisecond)
		ring, err := a.ops().RotateSigningKey(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range ring {
			if k.State == "active" {
				kids[k.KID] = true
			}
		}
	}
	// A fourth rotation at once would promote a key b may not know yet:
	// it is refused with the time to wait.
	if _, err := a.ops().RotateSigningKey(ctx); err == nil || !strings.Contains(err.Error(), "rotate again in") {
		t.Errorf("an immediate second rotation: %v, want a refusal saying when to retry", err)
	}
	time.Sleep(500 * time.Millisecond)
	close(stop)
	r := <-results
	t.Logf("3 rotations on a: b accepted %d fresh tokens from a, refused %d; active keys seen: %d", r[0], r[1], len(kids))
	if r[0] == 0 || len(kids) < 3 {
		t.Errorf("the test did not exercise rotations: %d requests, %d active keys", r[0], len(kids))
	}
}

// assertNoSecrets looks for each secret in everything the replicas wrote.
func assertNoSecrets(t *testing.T, replicas []*replica, secrets ...string) {
	t.Helper()
	for _, r := range replicas {
		logs := r.logs()
		if !strings.Contains(logs, "scimgate listening") {
			t.Errorf("replica %s logged nothing useful", r.name)
		}
		for i, s := range secrets {
			if strings.Contains(logs, s) {
				t.Errorf("replica %s logged secret #%d", r.name, i)
			}
		}
	}
}

// The gateway's limits are shared through Redis: a credential's burst and
// then its tenant's are spent across both replicas, and each refusal is a
// SCIM 429 with Retry-After naming the limit.
func TestRateLimitsAreShared(t *testing.T) {
	c, a, b := startPair(t, "ratelimit:\n  gateway:\n    credential_rate: 0.1\n    credential_burst: 4\n    tenant_rate: 0.1\n    tenant_burst: 6\n")
	acme := c.newClient(a, "acme")
	tok, err := token(a.public, acme)
	if err != nil {
		t.Fatal(err)
	}
	key, jwt := "Bearer "+acme.apiKey, "Bearer "+tok
	for i, step := range []struct {
		r       *replica
		auth    string
		refused string // the limit that refuses, "" when admitted
	}{
		{a, key, ""}, {b, key, ""}, {a, key, ""}, {b, key, ""}, // the key's burst of 4, across a and b
		{a, key, "credential"}, {b, key, "credential"},
		{b, jwt, ""}, {a, jwt, ""}, // another credential: the tenant's burst of 6 is spent
		{a, jwt, "tenant"}, {b, jwt, "tenant"},
	} {
		req, _ := http.NewRequest(http.MethodGet, step.r.public+"/scim/v2/Users", nil)
		req.Header.Set("Authorization", step.auth)
		resp, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case step.refused == "" && resp.StatusCode != http.StatusOK:
			t.Errorf("request %d on %s within the limits: %d %s", i, step.r.name, resp.StatusCode, body)
		case step.refused != "" && (resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" ||
			!strings.Contains(string(body), `"status":"429"`) || !strings.Contains(string(body), "this "+step.refused)):
			t.Errorf("request %d on %s over the shared %s limit: %d, Retry-After %q, %s", i, step.r.name, step.refused, resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	}
}
