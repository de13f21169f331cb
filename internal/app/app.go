// Package app assembles a running scimgate from configuration and opened
// stores: it builds the authorization server, the gateway and the admin API,
// serves them on the public and admin listeners with health checks, metrics
// and request logging, and shuts them down gracefully.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
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
	"github.com/scimgate/scimgate/internal/grants"
	"github.com/scimgate/scimgate/internal/h1server"
	"github.com/scimgate/scimgate/internal/metrics"
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
	// Logger is the operational log; logging.New adds the request id to
	// each line about a request. Nil discards.
	Logger *slog.Logger
	Audit  *audit.Logger
	// Version is reported by the scimgate_build_info metric.
	Version string
}

// App is a configured scimgate, ready to Run.
type App struct {
	cfg     *config.Config
	deps    Deps
	log     *slog.Logger
	metrics *metrics.Metrics // nil when metrics are disabled
	gateway *gateway.Gateway
	public  http.Handler
	admin   http.Handler
	ready   []func(context.Context) error
	// draining is set when shutdown begins: /readyz fails from then on.
	draining atomic.Bool
	// closers stop what New started (the built-in upstreams).
	closers []func() error
}

// revocationPropagation bounds how long another replica may keep accepting
// a token revoked here: the deny-list's negative cache lifetime.
const revocationPropagation = 500 * time.Millisecond

// New builds the handlers.
func New(cfg *config.Config, deps Deps) (*App, error) {
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	a := &App{cfg: cfg, deps: deps, log: deps.Logger}
	if cfg.Metrics.Enabled {
		a.metrics = metrics.New(deps.Version)
	}
	deny := denylist.New(deps.KV, denylist.Options{NegativeTTL: revocationPropagation})
	limiter := a.limiter()

	// The client address is resolved once, by clientAddress below, into
	// RemoteAddr: the token endpoint's throttles, the gateway's audit
	// events and the request log all read it from there.
	asCfg := authserver.Config{
		Issuer:            cfg.Issuer,
		Leeway:            cfg.Tokens.Leeway,
		FailuresPerClient: ratelimit.PerWindow(cfg.RateLimit.Token.FailuresPerClient, cfg.RateLimit.Token.Window),
		FailuresPerIP:     ratelimit.PerWindow(cfg.RateLimit.Token.FailuresPerIP, cfg.RateLimit.Token.Window),
		AuthorizePerIP:    ratelimit.PerWindow(cfg.RateLimit.Authorize.PerIP, cfg.RateLimit.Authorize.Window),
		Logger:            deps.Logger,
		Audit:             deps.Audit,
	}
	gwOpts := gateway.Options{
		Issuer: cfg.Issuer, Leeway: cfg.Tokens.Leeway, Limits: cfg.RateLimit.Gateway,
		StatusTTL: revocationPropagation, Logger: deps.Logger, Audit: deps.Audit,
	}
	if a.metrics != nil {
		asCfg.Metrics, gwOpts.Metrics = a.metrics, a.metrics
	}
	// Authorization codes, refresh-token families and pending sign-ins: the
	// Okta authorization-code flow.
	grantStore, err := grants.New(deps.KV, grants.Options{CodeTTL: cfg.Tokens.CodeTTL, RefreshTTL: cfg.Tokens.RefreshTTL, RefreshGrace: cfg.Tokens.RefreshGrace})
	if err != nil {
		return nil, err
	}
	as, err := authserver.New(asCfg, authserver.Deps{Clients: deps.Credentials, Keys: deps.Keys, Revocations: deny, Limiter: limiter,
		Grants: grantStore, Admins: deps.Credentials, Directory: deps.Credentials})
	if err != nil {
		return nil, err
	}
	if gwOpts.Gateway, err = a.startDemoUpstreams(cfg.Gateway); err != nil {
		a.close()
		return nil, err
	}
	a.gateway, err = gateway.New(gwOpts, gateway.Deps{Keys: deps.Keys, Credentials: deps.Credentials, Revocations: deny, Limiter: limiter})
	if err != nil {
		a.close()
		return nil, err
	}

	public := mux.NewRouter()
	public.HandleFunc("/healthz", a.healthz).Methods(http.MethodGet, http.MethodHead)
	public.HandleFunc("/readyz", a.readyz).Methods(http.MethodGet, http.MethodHead)
	as.Register(public)
	a.gateway.Register(public)
	if err := a.observeRoutes(public); err != nil {
		a.close()
		return nil, err
	}
	a.public = closeAfterTransferCoding(requestid.Middleware(clientAddress(clientip.New(cfg.Listen.TrustedProxies), a.gateway.Dispatcher(public))))
	a.ready = append(a.ready, func(ctx context.Context) error { return deps.KV.Ping(ctx) },
		func(context.Context) error { return deps.Keys.Ready() },
		func(context.Context) error { return a.gateway.Ready() })

	ops := adminapi.NewLocal(deps.Credentials, deps.Keys, deps.Audit, adminapi.SiteOf(cfg), adminapi.LocalOptions{Actor: "admin_api"})
	adminHandler, err := adminapi.NewHandler(ops, deps.AdminToken, deps.Logger)
	if err != nil {
		a.close()
		return nil, err
	}
	admin := http.NewServeMux()
	admin.Handle(adminapi.PathPrefix+"/", adminHandler)
	admin.HandleFunc("/healthz", a.healthz)
	admin.HandleFunc("/readyz", a.readyz)
	if a.metrics != nil {
		admin.Handle("GET /metrics", a.metrics.Handler())
	}
	if cfg.Pprof.Enabled {
		admin.HandleFunc("/debug/pprof/", pprof.Index)
		admin.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		admin.HandleFunc("/debug/pprof/profile", pprof.Profile)
		admin.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		admin.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	a.admin = requestid.Middleware(admin)
	return a, nil
}

// Handlers returns the public and the admin handler, for tests that serve
// them without Run.
func (a *App) Handlers() (public, admin http.Handler) { return a.public, a.admin }

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
		a.log.Warn("route uses the built-in in-memory SCIM service: a demo, its data is lost on restart; point gateway.routes[].upstream at your user service",
			"prefix", r.Prefix)
	}
	g.Routes = routes
	return g, nil
}

// close stops what New started, for a New that fails half-way and for Run.
func (a *App) close() error {
	var errs []error
	for _, c := range a.closers {
		errs = append(errs, c())
	}
	a.closers = nil
	return errors.Join(errs...)
}

// limiter shares rate limits through Redis when Redis is the store, and
// falls back to in-process limits when Redis fails rather than failing
// requests.
func (a *App) limiter() ratelimit.Limiter {
	local := ratelimit.NewLocal(ratelimit.LocalOptions{})
	if a.deps.Redis == nil {
		return local
	}
	return ratelimit.NewFallback(ratelimit.NewRedis(a.deps.Redis, a.cfg.Store.Redis.Prefix), local, a.log)
}

func (a *App) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte("ok\n"))
}

// errDraining is the readiness failure while the server shuts down.
var errDraining = errors.New("shutting down")

// readyz answers 200 when the store answers, the key ring is loaded and the
// routes are valid; 503 with the reasons otherwise, and from the moment
// shutdown begins.
func (a *App) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	var errs []error
	if a.draining.Load() {
		errs = append(errs, errDraining)
	} else {
		for _, check := range a.ready {
			if err := check(ctx); err != nil {
				errs = append(errs, err)
			}
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

// Run serves both listeners until ctx ends, then shuts down gracefully:
// /readyz fails at once, requests are still served for the configured
// shutdown delay (so that load balancers stop sending first), then the
// listeners close and in-flight requests get the shutdown timeout to
// finish. ready, when not nil, receives the bound addresses once both listen.
func (a *App) Run(ctx context.Context, ready func(public, admin net.Addr)) error {
	defer a.close()
	l := a.cfg.Listen
	// Requests live in base, not in ctx: they go on after ctx ends, until
	// the shutdown timeout cancels whatever still runs.
	base, cutOff := context.WithCancel(context.WithoutCancel(ctx))
	defer cutOff()
	newServer := func(h http.Handler) *http.Server {
		return &http.Server{Handler: h, ReadHeaderTimeout: l.ReadHeaderTimeout, ReadTimeout: l.ReadTimeout,
			WriteTimeout: l.WriteTimeout, IdleTimeout: l.IdleTimeout, MaxHeaderBytes: 64 << 10,
			ErrorLog:    slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
			BaseContext: func(net.Listener) context.Context { return base }}
	}
	adm := newServer(a.admin)
	pubLn, admLn, err := a.listen()
	if err != nil {
		return err
	}
	netHTTP := newServer(a.public)
	var pub listenerServer = netHTTP
	if l.FastPath && l.TLS.CertFile == "" {
		pub = &h1server.Server{Handler: a.public, Fallback: netHTTP, BaseContext: base, Log: a.log}
	}
	a.log.Info("scimgate listening", "public", pubLn.Addr().String(), "admin", admLn.Addr().String(),
		"issuer", a.cfg.Issuer, "tls", l.TLS.CertFile != "")
	if ready != nil {
		ready(pubLn.Addr(), admLn.Addr())
	}

	errc := make(chan error, 2)
	var wg sync.WaitGroup
	for _, s := range []struct {
		srv listenerServer
		ln  net.Listener
	}{{pub, pubLn}, {adm, admLn}} {
		wg.Go(func() {
			if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		})
	}
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	a.draining.Store(true)
	if runErr == nil && l.ShutdownDelay > 0 {
		a.log.Info("scimgate draining: /readyz fails, requests are still served", "delay", l.ShutdownDelay.String())
		select {
		case <-time.After(l.ShutdownDelay):
		case runErr = <-errc:
		}
	}
	a.log.Info("scimgate shutting down", "timeout", l.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.ShutdownTimeout)
	defer cancel()
	var shut sync.WaitGroup
	var err1, err2 error
	shut.Go(func() { err1 = pub.Shutdown(sctx) })
	shut.Go(func() { err2 = adm.Shutdown(sctx) })
	shut.Wait()
	wg.Wait()
	a.gateway.CloseIdleConnections()
	if err1 != nil || err2 != nil {
		// Past the deadline: cancel the remaining requests (and so their
		// upstream calls) and close their connections.
		cutOff()
		_ = pub.Close()
		_ = adm.Close()
		a.log.Warn("scimgate: requests still running at the shutdown timeout were cut off", "timeout", l.ShutdownTimeout.String())
	}
	return errors.Join(runErr, err1, err2, a.close())
}

// listenTCP listens on addr, the value of configuration key key. Its error
// says what the operator can do, naming the address and the key once, where
// net.Listen's would repeat the address after "listen tcp".
func listenTCP(key, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		return ln, nil
	}
	variable := config.EnvName(key)
	var opErr *net.OpError
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return nil, fmt.Errorf("%s %s: the address is already in use by another process (another scimgate?): stop it, or choose another address with %s or %s", key, addr, key, variable)
	case errors.Is(err, syscall.EACCES):
		return nil, fmt.Errorf("%s %s: permission denied: a port below 1024 needs root or CAP_NET_BIND_SERVICE; choose a port above 1023 with %s or %s", key, addr, key, variable)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return nil, fmt.Errorf("%s %s: no network interface of this machine has that address; use one it has, or 0.0.0.0 for every interface", key, addr)
	case errors.As(err, &opErr) && opErr.Err != nil:
		return nil, fmt.Errorf("%s %s: %w", key, addr, opErr.Err)
	}
	return nil, fmt.Errorf("%s %s: %w", key, addr, err)
}

// listenerServer serves a listener: *http.Server, or *h1server.Server in front of
// one.
type listenerServer interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
	Close() error
}

// listen opens both listeners, with TLS from the certificate files when
// they are configured (reloaded when the files change).
func (a *App) listen() (public, admin net.Listener, err error) {
	l := a.cfg.Listen
	if public, err = listenTCP("listen.public", l.Public); err != nil {
		return nil, nil, err
	}
	if admin, err = listenTCP("listen.admin", l.Admin); err != nil {
		public.Close()
		return nil, nil, err
	}
	if l.TLS.CertFile == "" {
		return public, admin, nil
	}
	reloader, err := tlsreload.New(l.TLS.CertFile, l.TLS.KeyFile, 5*time.Second, a.log)
	if err != nil {
		public.Close()
		admin.Close()
		return nil, nil, err
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: reloader.GetCertificate, NextProtos: []string{"h2", "http/1.1"}}
	return tls.NewListener(public, tc), tls.NewListener(admin, tc), nil
}
