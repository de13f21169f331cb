package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/scimgate/scimgate/config"
	scimapp "github.com/scimgate/scimgate/internal/app"
	"github.com/scimgate/scimgate/internal/logging"
	"github.com/scimgate/scimgate/internal/store/rediskv"
)

// usageFlushInterval is how often credentials' last-used times are written.
const usageFlushInterval = time.Minute

// runServe runs the server until ctx ends (SIGINT or SIGTERM).
func runServe(ctx context.Context, cfgPath string, env Env) error {
	cfg, err := config.Load(cfgPath, env.Vars)
	if err != nil {
		return err
	}
	log := logging.New(cfg.Log, env.Stderr)
	tuneGC(env, log)
	if w := defaultIssuerWarning(cfg); w != "" {
		log.Warn(w, "issuer", cfg.Issuer, "public", cfg.Listen.Public)
	}
	rt, err := openRuntime(ctx, cfg, env, runtimeOptions{Actor: "admin_api", Logger: log, AuditStdout: env.Stdout, BufferAudit: true, CreateMissing: true})
	if err != nil {
		return err
	}
	redis.SetLogger(redisLogger{log})
	defer rt.Close()
	if err := rt.Keys.Start(ctx); err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	deps := scimapp.Deps{KV: rt.Store, Credentials: rt.Credentials, Keys: rt.Keys, AdminToken: rt.AdminToken.Reveal(),
		Logger: log, Audit: rt.Audit, Version: currentBuild().Version}
	if r, ok := rt.Store.(*rediskv.Store); ok {
		deps.Redis = r.Client()
	}
	a, err := scimapp.New(cfg, deps)
	if err != nil {
		return err
	}
	flushCtx, stopFlush := context.WithCancel(context.WithoutCancel(ctx))
	flushed := make(chan struct{})
	go func() {
		defer close(flushed)
		rt.Credentials.RunUsageFlusher(flushCtx, usageFlushInterval)
	}()
	defer func() { stopFlush(); <-flushed }()
	return a.Run(ctx, func(public, admin net.Addr) {
		// On a terminal a person reads it; elsewhere stderr is the JSON (or
		// key=value) log, and the "scimgate listening" line says the same.
		if isTerminal(env.Stderr) {
			printWelcome(env.Stderr, cfg, public, admin)
		}
	})
}

// defaultIssuerWarning is a warning when the issuer was left at its default
// while the public listener was moved: the issuer is not derived from the
// listener, so tokens, the metadata document and the URLs client create
// prints would name an address the identity providers cannot use.
func defaultIssuerWarning(cfg *config.Config) string {
	def := config.Default()
	if cfg.Issuer != def.Issuer || cfg.Listen.Public == def.Listen.Public {
		return ""
	}
	return "issuer is left at its default while listen.public is not: tokens, the metadata and the URLs that client create prints name the issuer; " +
		"set issuer (SCIMGATE_ISSUER) to the public URL the identity providers reach"
}

// isTerminal reports whether w is a character device, as a terminal is,
// rather than a file, a pipe or a buffer that a log collector reads.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// defaultGCPercent is the collector's target heap growth when GOGC is not
// set. scimgate's live heap is a few MiB, so Go's 100 collects a dozen
// times a second under load, for 8-12% of the CPU; 400 takes about a
// sixth less CPU per request for some 13 MiB more heap (docs/PERFORMANCE.md).
const defaultGCPercent = 400

// tuneGC applies defaultGCPercent unless the environment sets GOGC, which
// the runtime has applied itself. GOMEMLIMIT, when set, still bounds the
// heap: the collector then runs more often as the limit nears.
func tuneGC(env Env, log *slog.Logger) {
	if _, set := env.lookup("GOGC"); set {
		return
	}
	debug.SetGCPercent(defaultGCPercent)
	limit, _ := env.lookup("GOMEMLIMIT")
	log.Info("garbage collection target raised: GOGC is not set, so scimgate uses GOGC="+strconv.Itoa(defaultGCPercent)+
		"; set GOGC=100 for Go's default, and GOMEMLIMIT to cap the heap", "gomemlimit", limit)
}

// printWelcome tells a first-time operator where things are. It names the
// admin token file, never the token.
func printWelcome(w io.Writer, cfg *config.Config, public, admin net.Addr) {
	tokenSource := "admin.token / SCIMGATE_ADMIN_TOKEN"
	if cfg.Admin.Token == "" {
		tokenSource = filepath.Join(cfg.Store.Embedded.Path, adminTokenFile)
	}
	var routes []string
	for _, r := range cfg.Gateway.Routes {
		routes = append(routes, fmt.Sprintf("    %s%s -> %s", cfg.Issuer, r.Prefix, r.Upstream))
	}
	if len(routes) == 0 {
		routes = append(routes, "    (none configured: add gateway.routes to a config file, see config/example.yaml)")
	}
	fmt.Fprintf(w, `scimgate is running
  issuer / token endpoint: %s/oauth2/token
  public listener:         %s
  admin API:               http://%s/admin/v1   (bearer token in %s)
  SCIM routes:
%s
  next: scimgate tenant create acme && scimgate client create --tenant acme --name "Entra" --kind entra
`, cfg.Issuer, public, admin, tokenSource, strings.Join(routes, "\n"))
}

// redisLogger sends go-redis's own messages (connection errors, which it
// otherwise prints with the standard logger) to slog.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	// go-redis starts most of its messages with "redis: " itself.
	l.log.WarnContext(ctx, "redis: "+strings.TrimPrefix(fmt.Sprintf(format, v...), "redis: "))
}
