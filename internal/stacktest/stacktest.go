// Package stacktest starts scimgate's public listener for end-to-end tests:
// the authorization server and the SCIM gateway on one gorilla/mux router
// behind requestid.Middleware, as cmd/scimgate serve wires them, over a
// fresh embedded store, on a local port. The caller brings the routes and
// the upstreams behind them, and creates the tenants and credentials its
// test needs. It is imported by tests only.
package stacktest

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/scimgate/scimgate/authserver"
	"github.com/scimgate/scimgate/config"
	"github.com/scimgate/scimgate/gateway"
	"github.com/scimgate/scimgate/internal/audit"
	"github.com/scimgate/scimgate/internal/credentials"
	"github.com/scimgate/scimgate/internal/denylist"
	"github.com/scimgate/scimgate/internal/grants"
	"github.com/scimgate/scimgate/internal/h1server"
	"github.com/scimgate/scimgate/internal/ratelimit"
	"github.com/scimgate/scimgate/internal/requestid"
	"github.com/scimgate/scimgate/internal/secret"
	"github.com/scimgate/scimgate/internal/store/storetest"
	"github.com/scimgate/scimgate/internal/testkit"
	"github.com/scimgate/scimgate/keys"
)

// Leeway is the clock skew the authorization server and the gateway allow.
const Leeway = 30 * time.Second

// Options shape the stack; a zero field leaves the component's default.
type Options struct {
	// Gateway holds the gateway's routes and its verified-token cache size.
	Gateway config.Gateway
	// Limits are the gateway's per-tenant and per-credential rate limits.
	Limits config.GatewayLimits
	// Limiter keeps the rate-limit state of both servers, as the app's
	// shared limiter does (an in-process one on the stack's clock).
	Limiter ratelimit.Limiter
	// StatusTTL is how long the gateway trusts a credential's status.
	StatusTTL time.Duration
	// AuthorizationCode serves the flow Okta connects with (sign-in and
	// consent pages, codes, refresh tokens) with internal/grants' defaults:
	// 60 s codes, 90-day refresh families, no grace. Without it the
	// authorization server issues client_credentials tokens only.
	AuthorizationCode bool
	// Now is the clock of the authorization server, the gateway, their
	// rate limiters, the key ring, the credentials (secret and API-key
	// expiry) and the deny-list (time.Now). A testkit.Clock that runs
	// on real time lets a test move an hour on without waiting, while the
	// store's own TTLs stay no stricter than the code's checks.
	Now func() time.Time
}

// Stack is a running public listener and the services behind it.
type Stack struct {
	URL         string // the issuer and public base URL, http://127.0.0.1:port
	Credentials *credentials.Service
	Keys        *keys.Manager
	Revocations *denylist.List
	Gateway     *gateway.Gateway
	Audit       *testkit.SyncBuffer // the audit stream of both servers
}

// Start starts a stack that stops when the test ends.
func Start(t testing.TB, o Options) *Stack {
	t.Helper()
	ctx := context.Background()
	kv := storetest.OpenBolt(t)
	master := bytes.Repeat([]byte{7}, keys.MasterKeySize)
	hasher, err := secret.NewHasher(master)
	if err != nil {
		t.Fatal(err)
	}
	s := &Stack{Audit: &testkit.SyncBuffer{}}
	// 64 KiB instead of secret.DefaultPasswordParams' 64 MiB keeps sign-ins cheap.
	s.Credentials = credentials.New(kv, hasher, credentials.Options{Now: o.Now, PasswordParams: secret.PasswordParams{MemoryKiB: 64, Time: 1, Threads: 1}})
	s.Keys, err = keys.New(kv, master, keys.Options{Leeway: Leeway, MinRefetch: time.Millisecond, Clock: o.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Keys.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Keys.Close)
	s.Revocations = denylist.New(kv, denylist.Options{NegativeTTL: 5 * time.Second, Now: o.Now})
	if o.Limiter == nil {
		o.Limiter = ratelimit.NewLocal(ratelimit.LocalOptions{Now: o.Now})
	}
	deps := authserver.Deps{Clients: s.Credentials, Keys: s.Keys, Revocations: s.Revocations, Limiter: o.Limiter}
	if o.AuthorizationCode {
		if deps.Grants, err = grants.New(kv, grants.Options{Now: o.Now}); err != nil {
			t.Fatal(err)
		}
		deps.Admins, deps.Directory = s.Credentials, s.Credentials
	}

	// The issuer is the listener's own URL, known before the server starts.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.URL = "http://" + ln.Addr().String()
	auditLog := audit.New(s.Audit)
	as, err := authserver.New(authserver.Config{
		Issuer: s.URL, Leeway: Leeway,
		FailuresPerClient: ratelimit.PerWindow(10, time.Minute), FailuresPerIP: ratelimit.PerWindow(30, time.Minute),
		Audit: auditLog, Now: o.Now,
	}, deps)
	if err != nil {
		t.Fatal(err)
	}
	s.Gateway, err = gateway.New(gateway.Options{
		Issuer:    s.URL,
		Leeway:    Leeway,
		Gateway:   o.Gateway,
		Limits:    o.Limits,
		StatusTTL: o.StatusTTL,
		Now:       o.Now,
		Audit:     auditLog,
	}, gateway.Deps{Keys: s.Keys, Credentials: s.Credentials, Revocations: s.Revocations, Limiter: o.Limiter})
	if err != nil {
		t.Fatal(err)
	}
	r := mux.NewRouter()
	as.Register(r)
	s.Gateway.Register(r)
	if err := s.Gateway.Ready(); err != nil {
		t.Fatal(err)
	}
	// Served as scimgate serves its public listener: plain requests on
	// h1server's loop, the others by net/http.
	h := requestid.Middleware(s.Gateway.Dispatcher(r))
	srv := &h1server.Server{Handler: h, Fallback: &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		// Handlers end before the stores they use close.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("stack shutdown: %v", err)
		}
	})
	return s
}
