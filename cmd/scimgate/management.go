package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/scimgate/scimgate/config"
	"github.com/scimgate/scimgate/internal/adminapi"
	"github.com/scimgate/scimgate/internal/store/boltkv"
)

// cliLockTimeout is how long a command waits for the embedded store before
// concluding that `scimgate serve` holds it.
const cliLockTimeout = 200 * time.Millisecond

// remoteTimeout bounds one admin API call made by the CLI.
const remoteTimeout = 30 * time.Second

// openOperations gives a management command its operations: through the
// admin API at --admin-url when given, never touching a store; else
// directly on the store, or, when a running server holds the embedded
// store, through that server's admin API. With Redis the CLI works on the
// store.
func (a *app) openOperations(ctx context.Context) (adminapi.Operations, func() error, error) {
	cfg, err := a.loadConfig()
	if err != nil {
		return nil, nil, err
	}
	if a.adminURL != "" {
		return a.remoteOperations(cfg, a.adminURL)
	}
	rt, err := openRuntime(ctx, cfg, a.env, runtimeOptions{
		LockTimeout: cliLockTimeout, Actor: "cli", Logger: a.log(), AuditStdout: a.env.Stderr,
	})
	if err == nil {
		return rt.Operations, rt.Close, nil
	}
	if !errors.Is(err, boltkv.ErrLocked) {
		return nil, nil, err
	}
	base, err := adminBaseURL(cfg)
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(a.env.Stderr, "scimgate: the store is in use by a running server; working through its admin API at %s\n", base)
	return a.remoteOperations(cfg, base)
}

// remoteOperations are the operations of the admin API at base.
func (a *app) remoteOperations(cfg *config.Config, base string) (adminapi.Operations, func() error, error) {
	token, err := cliAdminToken(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("the admin API at %s needs the admin token: %w", base, err)
	}
	client, err := adminHTTPClient(cfg.Listen.TLS)
	if err != nil {
		return nil, nil, err
	}
	return adminapi.NewRemote(base, token, client), func() error { return nil }, nil
}

// adminBaseURL is the admin listener of the configuration, reached over
// loopback when it listens on every interface.
func adminBaseURL(cfg *config.Config) (string, error) {
	host, port, err := net.SplitHostPort(cfg.Listen.Admin)
	if err != nil {
		return "", fmt.Errorf("listen.admin %q: %w", cfg.Listen.Admin, err)
	}
	if port == "0" {
		return "", errors.New("listen.admin uses port 0, so the running server's admin port is unknown: pass --admin-url")
	}
	switch ip := net.ParseIP(host); {
	case host == "" || ip != nil && ip.Equal(net.IPv4zero):
		host = "127.0.0.1"
	case ip != nil && ip.Equal(net.IPv6unspecified):
		host = "::1"
	}
	scheme := "http"
	if cfg.Listen.TLS.CertFile != "" {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port), nil
}

// cliAdminToken is the configured admin token, or the one the server
// generated into the data directory.
func cliAdminToken(cfg *config.Config) (string, error) {
	if cfg.Admin.Token != "" {
		return cfg.Admin.Token.Reveal(), nil
	}
	path := filepath.Join(cfg.Store.Embedded.Path, adminTokenFile)
	token, err := readAdminToken(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("set %s to the server's admin token (admin.token), or point store.embedded.path at the server's data directory, where it keeps a generated one (there is no %s)",
			config.EnvName("admin.token"), path)
	}
	if err != nil {
		return "", fmt.Errorf("%w (or set SCIMGATE_ADMIN_TOKEN)", err)
	}
	return token, nil
}

// adminHTTPClient trusts the system roots and, with TLS configured, the
// server's own certificate, so that a self-signed admin listener works.
func adminHTTPClient(c config.TLS) (*http.Client, error) {
	client := &http.Client{Timeout: remoteTimeout}
	if c.CertFile == "" {
		return client, nil
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	pem, err := os.ReadFile(c.CertFile)
	if err != nil {
		return nil, fmt.Errorf("listen.tls.cert_file: %w", err)
	}
	roots.AppendCertsFromPEM(pem)
	client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}
	return client, nil
}
