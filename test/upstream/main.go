// Command upstream is the example SCIM upstream of docker-compose.yml: the
// strict in-memory SCIM 2.0 service scimgate's tests use, keeping one set of
// users and groups per tenant (the X-Scim-Tenant header scimgate sets). Its
// data lives in memory only. It is a demo and test tool, not a user store.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/scimgate/scimgate/internal/scim/scimtest"
)

func main() {
	listen := flag.String("listen", ":9000", "`address` to serve SCIM on, below any path (/scim/v2/Users)")
	tenantHeader := flag.String("tenant-header", "X-Scim-Tenant", "`header` that names the tenant (gateway.tenant_header)")
	clientHeader := flag.String("client-header", "X-Scim-Client", "`header` that names the client (gateway.client_header)")
	flag.Parse()
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, *listen, scimtest.New(scimtest.PerTenant(), scimtest.WithTenantHeader(*tenantHeader), scimtest.WithClientHeader(*clientHeader)), log); err != nil {
		fmt.Fprintln(os.Stderr, "upstream:", err)
		os.Exit(1)
	}
}

// serve runs h on addr until ctx ends.
func serve(ctx context.Context, addr string, h http.Handler, log *slog.Logger) error {
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("example SCIM upstream listening; data is kept in memory only", "addr", addr)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
