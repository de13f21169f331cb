// Package app assembles a running scimgate from configuration and opened
// stores: it builds the authorization server, the gateway and the admin API,
// serves them on the public and admin listeners, and shuts them down
// gracefully.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/gorilla/mux"
	"github.com/redis/go-redis/v9"

	"github.com/scimgate/scimgate/authserver"
	"github.com/scimgate/scimgate/config"
	"github.com/scimgate/scimgate/gateway"
	"github.com/scimgate/scimgate/internal/adminapi"
	"github.com/scimgate/scimgate/internal/audit"
	"github.com/scimgate/scimgate/internal/clientip"
	"github.com/scimgate/scimgate/internal/credentials"
	"github.com/scimgate/scimgate/internal/denylist"
	"github.com/scimgate/scimgate/internal/ratelimit"
	"github.com/scimgate/scimgate/internal/requestid"
	"github.com/scimgate/scimgate/internal/scim/scimtest"
	"github.com/scimgate/scimgate/internal/store"
	"github.com/scimgate/scimgate/internal/tlsreload"
	"github.com/scimgate/scimgate/keys"
)

// Deps are the opened stores and services the app runs on.
type Deps struct {
	KV store.KV
	// Redis is the Redis client when Redis is the store; rate limits are then
	// shared between replicas. Nil on the embedded store.
	Redis       redis.UniversalClient
	Credentials *credentials.Service
	Keys        *keys.Manager
	AdminToken  string
	Logger      *slog.Logger
	Audit       *audit.Logger
}

// App is a configured scimgate, ready to Run.
type App struct {
	cfg    *config.Config
	deps   Deps
	public http.Handler
	admin  http.Handler
	ready  []func(context.Context) error
	// closers stop what New started (the built-in upstreams).
	closers []func() error
}

// revocationPropagation bounds how long another replica may keep accepting
// a token revoked here: the deny-list's negative cache lifetime.
const revocationPropagation = 500 * time.Millisecond

// New builds the handlers.
func New(cfg *config.Config, deps Deps) (*App, error) {
	a := &App{cfg: cfg, deps: deps}
	ips := clientip.New(cfg.Listen.TrustedProxies)
	deny := denylist.New(deps.KV, denylist.Options{NegativeTTL: revocationPropagation})
	limiter := a.limiter()

	as, err := authserver.New(authserver.Config{
		Issuer:            cfg.Issuer,
		Leeway:            cfg.Tokens.Leeway,
		FailuresPerClient: ratelimit.PerWindow(cfg.RateLimit.Token.FailuresPerClient, cfg.RateLimit.Token.Window),
		FailuresPerIP:     ratelimit.PerWindow(cfg.RateLimit.Token.FailuresPerIP, cfg.RateLimit.Token.Window),
		ClientIP:          ips.IP,
		Logger:            deps.Logger,
		Audit:             deps.Audit,
	}, authserver.Deps{Clients: deps.Credentials, Keys: deps.Keys, Revocations: deny, Limiter: limiter})
	if err != nil {
		return nil, err
	}

	gwCfg, err := a.startDemoUpstreams(cfg.Gateway)
	if err != nil {
		return nil, err
	}
	gw, err := gateway.New(gateway.Options{
		Issuer: cfg.Issuer, Leeway: cfg.Tokens.Leeway, Gateway: gwCfg, Limits: cfg.RateLimit.Gateway,
		StatusTTL: revocationPropagation, Logger: deps.Logger, Audit: deps.Audit,
	}, gateway.Deps{Keys: deps.Keys, Credentials: deps.Credentials, Revocations: deny, Limiter: limiter})
	if err != nil {
		return nil, err
	}

	public := mux.NewRouter()
	public.HandleFunc("/healthz", a.healthz).Methods(http.MethodGet, http.MethodHead)
	public.HandleFunc("/readyz", a.readyz).Methods(http.MethodGet, http.MethodHead)
	as.Register(public)
	gw.Register(public)
	a.public = requestid.Middleware(public)
	a.ready = append(a.ready, func(ctx context.Context) error { return deps.KV.Ping(ctx) },
		func(context.Context) error { return deps.Keys.Ready() },
		func(context.Context) error { return gw.Ready() })

	ops := adminapi.NewLocal(deps.Credentials, deps.Keys, deps.Audit, adminapi.SiteOf(cfg), adminapi.LocalOptions{Actor: "admin_api"})
	adminHandler, err := adminapi.NewHandler(ops, deps.AdminToken, deps.Logger)
	if err != nil {
		return nil, err
	}
	admin := http.NewServeMux()
	admin.Handle("/admin/", adminHandler)
	admin.HandleFunc("/healthz", a.healthz)
	admin.HandleFunc("/readyz", a.readyz)
	a.admin = requestid.Middleware(admin)
	return a, nil
}

// startDemoUpstreams serves scimgate's in-memory SCIM service on a loopback
// port for every route whose upstream is builtin:memory, and returns the
// gateway configuration pointing there. The data lives only in memory: it
// is a demo and test upstream, and the log says so.
func (a *App) startDemoUpstreams(g config.Gateway) (config.Gateway, error) {
	routes := slices.Clone(g.Routes)
	for i, r := range routes {
		if r.Upstream != config.UpstreamMemory {
			continue
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return g, fmt.Errorf("built-in upstream for %s: %w", r.Prefix, err)
		}
		srv := &http.Server{Handler: scimtest.New(scimtest.PerTenant(), scimtest.WithTenantHeader(g.TenantHeader), scimtest.WithClientHeader(g.ClientHeader)), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		a.closers = append(a.closers, srv.Close)
		routes[i].Upstream = "http://" + ln.Addr().String()
		a.deps.Logger.Warn("route uses the built-in in-memory SCIM service: a demo, its data is lost on restart; point gateway.routes[].upstream at your user service",
			"prefix", r.Prefix)
	}
	g.Routes = routes
	return g, nil
}

// limiter shares rate limits through Redis when Redis is the store, and
// falls back to in-process limits when Redis fails rather than failing
// requests.
func (a *App) limiter() ratelimit.Limiter {
	local := ratelimit.NewLocal(ratelimit.LocalOptions{})
	if a.deps.Redis == nil {
		return local
	}
	return ratelimit.NewFallback(ratelimit.NewRedis(a.deps.Redis, a.cfg.Store.Redis.Prefix), local, a.deps.Logger)
}

func (a *App) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte("ok\n"))
}

// readyz answers 200 when the store answers, the key ring is loaded and the
// routes are valid; 503 with the reasons otherwise.
func (a *App) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	var errs []error
	for _, check := range a.ready {
		if err := check(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := errors.Join(errs...); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = fmt.Fprintf(w, "not ready:\n%v\n", err)
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// Run serves both listeners until ctx ends, then stops accepting, lets
// in-flight requests finish within the shutdown timeout, and returns.
// ready, when not nil, receives the bound addresses once both listen.
func (a *App) Run(ctx context.Context, ready func(public, admin net.Addr)) error {
	l := a.cfg.Listen
	newServer := func(h http.Handler) *http.Server {
		return &http.Server{Handler: h, ReadHeaderTimeout: l.ReadHeaderTimeout, ReadTimeout: l.ReadTimeout,
			WriteTimeout: l.WriteTimeout, IdleTimeout: l.IdleTimeout, MaxHeaderBytes: 64 << 10,
			ErrorLog: slog.NewLogLogger(a.deps.Logger.Handler(), slog.LevelWarn)}
	}
	pub, adm := newServer(a.public), newServer(a.admin)
	pubLn, err := net.Listen("tcp", l.Public)
	if err != nil {
		return fmt.Errorf("public listener %s: %w", l.Public, err)
	}
	admLn, err := net.Listen("tcp", l.Admin)
	if err != nil {
		pubLn.Close()
		return fmt.Errorf("admin listener %s: %w", l.Admin, err)
	}
	if l.TLS.CertFile != "" {
		reloader, err := tlsreload.New(l.TLS.CertFile, l.TLS.KeyFile, 5*time.Second, a.deps.Logger)
		if err != nil {
			pubLn.Close()
			admLn.Close()
			return err
		}
		pubLn = tls.NewListener(pubLn, &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: reloader.GetCertificate,
			NextProtos: []string{"h2", "http/1.1"}})
	}
	a.deps.Logger.Info("scimgate listening", "public", pubLn.Addr().String(), "admin", admLn.Addr().String(),
		"issuer", a.cfg.Issuer, "tls", l.TLS.CertFile != "")
	if ready != nil {
		ready(pubLn.Addr(), admLn.Addr())
	}

	errc := make(chan error, 2)
	var wg sync.WaitGroup
	for _, s := range []struct {
		srv *http.Server
		ln  net.Listener
	}{{pub, pubLn}, {adm, admLn}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	a.deps.Logger.Info("scimgate shutting down", "timeout", l.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.ShutdownTimeout)
	defer cancel()
	err1 := pub.Shutdown(sctx)
	err2 := adm.Shutdown(sctx)
	wg.Wait()
	errs := []error{runErr, err1, err2}
	for _, c := range a.closers {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}
