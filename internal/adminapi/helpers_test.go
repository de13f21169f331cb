package adminapi

import (
	"crypto/rand"
	"log/slog"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/scimgate/scimgate/config"
	"github.com/scimgate/scimgate/internal/audit"
	"github.com/scimgate/scimgate/internal/credentials"
	"github.com/scimgate/scimgate/internal/secret"
	"github.com/scimgate/scimgate/internal/store"
	"github.com/scimgate/scimgate/internal/store/storetest"
	"github.com/scimgate/scimgate/internal/testkit"
	"github.com/scimgate/scimgate/keys"
)

const testToken = "test-admin-token-0123456789abcdefghijklmnop"

// testSite has one shared route and one per-tenant route with a custom audience.
var testSite = Site{
	Issuer: "https://scim.example.com",
	Routes: []config.Route{
		{Prefix: "/scim/v2"},
		{Prefix: "/t/{tenant}/scim/v2", Audience: "urn:scimgate:tenant-routes"},
	},
}

// oneRouteSite is the common single-route deployment.
var oneRouteSite = Site{Issuer: "https://scim.example.com", Routes: []config.Route{{Prefix: "/scim/v2"}}}

// fixture is one implementation of Operations over a fresh store, with
// everything it wrote to the audit stream and the operational log.
type fixture struct {
	ops   Operations
	audit *testkit.SyncBuffer
	log   *testkit.SyncBuffer
}

// newLocal returns a Local over kv recording into a fresh fixture.
func newLocal(t testing.TB, kv store.KV, site Site, actor string) (*Local, *testkit.SyncBuffer, *testkit.SyncBuffer) {
	t.Helper()
	master := make([]byte, 32)
	_, _ = rand.Read(master)
	hasher, err := secret.NewHasher(master)
	if err != nil {
		t.Fatal(err)
	}
	logBuf, auditBuf := &testkit.SyncBuffer{}, &testkit.SyncBuffer{}
	log := slog.New(slog.NewTextHandler(logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	creds := credentials.New(kv, hasher, credentials.Options{
		PasswordParams: secret.PasswordParams{MemoryKiB: 64, Time: 1, Threads: 1},
		Logger:         log,
	})
	ring, err := keys.New(kv, master, keys.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ring.Close)
	return NewLocal(creds, ring, audit.New(auditBuf), site, LocalOptions{Actor: actor}), auditBuf, logBuf
}

// newRemote serves a Local over kv through the admin API and returns a
// Remote talking to it.
func newRemote(t testing.TB, kv store.KV, site Site) (*Remote, *testkit.SyncBuffer, *testkit.SyncBuffer) {
	t.Helper()
	local, auditBuf, logBuf := newLocal(t, kv, site, "admin_api")
	h, err := NewHandler(local, testToken, slog.New(slog.NewTextHandler(logBuf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return NewRemote(srv.URL, testToken, srv.Client()), auditBuf, logBuf
}

// eachImplementation runs fn for Local and Remote on every store backend,
// each with a fresh store, so that both implementations are held to one
// contract.
func eachImplementation(t *testing.T, site Site, fn func(t *testing.T, f fixture)) {
	backends := storetest.Backends(t)
	names := make([]string, 0, len(backends))
	for name := range backends {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, backend := range names {
		t.Run(backend+"/local", func(t *testing.T) {
			ops, a, l := newLocal(t, backends[backend](t), site, "cli")
			fn(t, fixture{ops, a, l})
		})
		t.Run(backend+"/remote", func(t *testing.T) {
			ops, a, l := newRemote(t, backends[backend](t), site)
			fn(t, fixture{ops, a, l})
		})
	}
}
