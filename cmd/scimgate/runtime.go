package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/scimgate/scimgate/config"
	"github.com/scimgate/scimgate/internal/adminapi"
	"github.com/scimgate/scimgate/internal/atomicfile"
	"github.com/scimgate/scimgate/internal/audit"
	"github.com/scimgate/scimgate/internal/credentials"
	"github.com/scimgate/scimgate/internal/secret"
	"github.com/scimgate/scimgate/internal/store"
	"github.com/scimgate/scimgate/internal/store/boltkv"
	"github.com/scimgate/scimgate/internal/store/rediskv"
	"github.com/scimgate/scimgate/keys"
)

// Files kept in the embedded store's data directory next to the database.
const (
	masterKeyFile  = "master.key"
	adminTokenFile = "admin.token"
)

// maxAccessTokenTTL is the longest access-token lifetime credentials and
// config allow (24h); signing keys stay published at least that long after
// they stop signing.
const maxAccessTokenTTL = 24 * time.Hour

// Env is what a scimgate process takes from its surroundings. Commands and
// the runtime read variables from Vars only, never from os.Getenv, so that
// tests can run them in-process.
type Env struct {
	Vars   []string // NAME=value, as os.Environ()
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// lookup returns the last value of variable name in Vars.
func (e Env) lookup(name string) (string, bool) {
	value, found := "", false
	for _, kv := range e.Vars {
		if n, v, ok := strings.Cut(kv, "="); ok && n == name {
			value, found = v, true
		}
	}
	return value, found
}

// runtimeOptions are what differ between the CLI and serve.
type runtimeOptions struct {
	// LockTimeout bounds the wait for the embedded store's file lock;
	// zero takes boltkv's default. The error then wraps boltkv.ErrLocked.
	LockTimeout time.Duration
	// Actor says in audit events how changes were made: "cli", "admin_api".
	Actor string
	// Logger receives operational messages; nil discards them.
	Logger *slog.Logger
	// AuditStdout receives audit events when audit.sink is stdout.
	AuditStdout io.Writer
	// BufferAudit writes audit events in batches from a background
	// goroutine (serve: the requests that record them do not wait for the
	// sink); Close writes the last ones.
	BufferAudit bool
	// CreateMissing creates the embedded store, its master key file and
	// its admin token file when they do not exist (serve). Without it (the
	// CLI) only what exists is opened, so that a command run with the wrong
	// configuration or in the wrong directory fails instead of writing to a
	// new, empty store under a master key of its own.
	CreateMissing bool
}

// Runtime is scimgate opened on its configured store: what the CLI and
// serve both work with. Close releases it.
type Runtime struct {
	Config      *config.Config
	Store       store.KV
	Hasher      *secret.Hasher
	Credentials *credentials.Service
	// Keys is not started: serve starts it, the CLI only lists and changes
	// the ring in the store.
	Keys  *keys.Manager
	Audit *audit.Logger
	// Operations are the management operations over the above, recording
	// opts.Actor in the audit log.
	Operations *adminapi.Local
	// AdminToken is the admin API's bearer token; without
	// runtimeOptions.CreateMissing only a configured one, since the CLI
	// serves no admin API.
	AdminToken config.Secret

	closers []func() error // in the order to run them
}

// Close releases everything openRuntime opened.
func (r *Runtime) Close() error {
	var errs []error
	for _, c := range r.closers {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}

// openRuntime opens the store cfg names, obtains the master key and the
// admin token, and builds the services on top. With the embedded store and
// opts.CreateMissing, a missing master key or admin token is generated once
// into the data directory; with Redis both must be configured, since every
// replica needs the same ones.
func openRuntime(ctx context.Context, cfg *config.Config, env Env, opts runtimeOptions) (_ *Runtime, err error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	master, problems := serveSecrets(cfg, env)
	if problems != nil {
		return nil, problems
	}

	rt := &Runtime{Config: cfg}
	defer func() {
		if err != nil {
			_ = rt.Close() // what was opened before the failure
		}
	}()
	if rt.Store, err = openStore(ctx, cfg.Store, opts, log); err != nil {
		return nil, err
	}
	rt.closers = append(rt.closers, rt.Store.Close)

	if master == nil { // embedded store without the variable
		// A store a server has already run on was set up with some master
		// key: generating another one would only make every stored secret
		// and signing key unusable.
		inUse, err := keys.HasRing(ctx, rt.Store)
		if err != nil {
			return nil, err
		}
		if master, err = masterKeyFromFile(cfg.Store.Embedded.Path, opts.CreateMissing && !inUse, env.Stderr, log); err != nil {
			return nil, err
		}
	} else if cfg.Store.Backend == config.BackendEmbedded {
		// Moved into the variable as the first start said, but the copy
		// beside the data still gives whoever reads the directory every
		// secret in it.
		if path := filepath.Join(cfg.Store.Embedded.Path, masterKeyFile); fileExists(path) {
			log.Warn("the master key is set in "+keys.MasterKeyEnv+", but a copy is still next to the data: once the variable is kept safe elsewhere, delete it: rm "+path, "path", path)
		}
	}
	if rt.Hasher, err = secret.NewHasher(master); err != nil {
		return nil, err
	}
	rt.Credentials = credentials.New(rt.Store, rt.Hasher, credentials.Options{Logger: log, DefaultAccessTTL: cfg.Tokens.AccessTTL})
	rt.Keys, err = keys.New(rt.Store, master, keys.Options{
		Algorithm:        keys.Algorithm(cfg.Keys.Algorithm),
		RotationInterval: cfg.Keys.RotationInterval,
		PublishBeforeUse: cfg.Keys.PublishBeforeUse,
		RefreshInterval:  cfg.Keys.RefreshInterval,
		MaxTokenTTL:      maxAccessTokenTTL,
		Replicated:       cfg.Store.Backend != config.BackendEmbedded,
		Leeway:           cfg.Tokens.Leeway,
		Logger:           log,
	})
	if err != nil {
		return nil, err
	}
	// Runs first: the manager's refresh loop reads the store.
	rt.closers = append([]func() error{func() error { rt.Keys.Close(); return nil }}, rt.closers...)
	// Before anything is written: a secret hashed under a master key the
	// server does not have would be shown once and then never verify.
	if err := rt.Keys.CheckMasterKey(ctx); errors.Is(err, keys.ErrMasterKeyMismatch) {
		return nil, fmt.Errorf("the master key (%s) does not match the one this store was set up with; "+
			"every replica and every command must use the same master key", keys.MasterKeyEnv)
	} else if err != nil {
		return nil, err
	}

	if rt.Audit, err = openAudit(cfg.Audit, opts, rt); err != nil {
		return nil, err
	}
	if rt.AdminToken = cfg.Admin.Token; rt.AdminToken == "" && opts.CreateMissing {
		token, err := loadOrCreateAdminToken(filepath.Join(cfg.Store.Embedded.Path, adminTokenFile))
		if err != nil {
			return nil, err
		}
		rt.AdminToken = config.Secret(token)
	}
	rt.Operations = adminapi.NewLocal(rt.Credentials, rt.Keys, rt.Audit, adminapi.SiteOf(cfg), adminapi.LocalOptions{Actor: opts.Actor})
	return rt, nil
}

// serveSecrets checks the master key and the admin token as serve needs
// them beyond what the configuration checks itself: SCIMGATE_MASTER_KEY, when
// set, must be a usable key, and the redis store needs both configured, since
// every replica must use the same ones. It returns the master key, nil when
// the variable is not set. config check reports the same problems.
func serveSecrets(cfg *config.Config, env Env) ([]byte, config.Errors) {
	var problems config.Errors
	masterText, haveMaster := env.lookup(keys.MasterKeyEnv)
	var master []byte
	if haveMaster {
		var err error
		if master, err = keys.ParseMasterKey(masterText); err != nil {
			problems = append(problems, config.FieldError{Key: keys.MasterKeyEnv, Problem: err.Error(), Origin: config.Origin{Env: keys.MasterKeyEnv}})
		}
	}
	if cfg.Store.Backend != config.BackendEmbedded {
		if !haveMaster {
			problems = append(problems, config.FieldError{Key: keys.MasterKeyEnv,
				Problem: "required with the redis store: every replica must use the same master key (generate one with: openssl rand -base64 32)"})
		}
		if cfg.Admin.Token == "" {
			problems = append(problems, config.FieldError{Key: "admin.token",
				Problem: "required with the redis store, since replicas cannot share a generated one: set SCIMGATE_ADMIN_TOKEN (or admin.token) to 32 or more random characters, e.g. openssl rand -base64 32"})
		}
	}
	return master, problems
}

// openStore opens the configured backend.
func openStore(ctx context.Context, c config.Store, opts runtimeOptions, log *slog.Logger) (store.KV, error) {
	if c.Backend == config.BackendEmbedded {
		kv, err := boltkv.Open(c.Embedded.Path, boltkv.Options{LockTimeout: opts.LockTimeout, Logger: log, MustExist: !opts.CreateMissing})
		if err != nil {
			return nil, embeddedStoreError(c.Embedded.Path, err, opts.CreateMissing)
		}
		return kv, nil
	}
	ro, err := redisOptions(c.Redis)
	if err != nil {
		return nil, err
	}
	// go-redis logs every failed dial on its own; until the store is open
	// the error returned here says it once. serve then logs them (serve.go).
	redis.SetLogger(redisLogger{slog.New(slog.DiscardHandler)})
	kv, err := rediskv.Open(ctx, ro)
	var unreachable *rediskv.UnreachableError
	if errors.As(err, &unreachable) {
		hint := "check that Redis runs there and that store.redis.url or store.redis.addrs (SCIMGATE_STORE_REDIS_URL, SCIMGATE_STORE_REDIS_ADDRS) name it"
		if unreachable.Refused() {
			hint = "check store.redis.username, store.redis.password (SCIMGATE_STORE_REDIS_PASSWORD) and the database number in store.redis.url"
		}
		return nil, fmt.Errorf("%w; %s", err, hint)
	}
	return kv, err
}

// embeddedStoreError says what keeps the embedded store in dir from
// opening and what to do about it; create is set for serve, which creates a
// missing store. The CLI's error still wraps boltkv.ErrLocked, on which it
// turns to the running server's admin API.
func embeddedStoreError(dir string, err error, create bool) error {
	const where = "store.embedded.path, SCIMGATE_STORE_EMBEDDED_PATH"
	var pathErr *fs.PathError
	switch {
	case errors.Is(err, boltkv.ErrLocked) && !create:
		return err
	case errors.Is(err, boltkv.ErrLocked):
		return fmt.Errorf("the embedded store in %s is in use by another process, most likely another 'scimgate serve': "+
			"stop it, or give this server a data directory of its own (%s); several replicas need the redis store", dir, where)
	case errors.Is(err, fs.ErrNotExist) && !create:
		return fmt.Errorf("no scimgate data in %s: 'scimgate serve' creates it on first start; "+
			"point --config or SCIMGATE_STORE_EMBEDDED_PATH at the data directory, or pass --admin-url to work through a running server", dir)
	case errors.Is(err, boltkv.ErrUnreadable):
		return fmt.Errorf("cannot read the embedded store in %s: %s is not a scimgate database, or it is damaged; "+
			"restore the data directory from a backup", dir, boltkv.FileName)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("cannot open the embedded store in %s (%s): permission denied; "+
			"run scimgate as the user that owns the directory, or give that user read and write access to it and its files", dir, where)
	case errors.As(err, &pathErr):
		// The operating system's word for it ("not a directory", "read-only
		// file system"), naming the path only when it is not the store's.
		problem := pathErr.Err.Error()
		if p := filepath.Clean(pathErr.Path); p != filepath.Clean(dir) && p != filepath.Join(dir, boltkv.FileName) {
			problem = pathErr.Path + ": " + problem
		}
		verb := "open"
		if create && errors.Is(err, fs.ErrNotExist) {
			verb = "create" // a parent directory is missing, or cannot have one
		}
		return fmt.Errorf("cannot %s the embedded store in %s (%s): %s", verb, dir, where, problem)
	}
	return fmt.Errorf("cannot open the embedded store in %s: %w", dir, err)
}

// redisOptions turns the configuration into rediskv options. A URL carries
// its own credentials there, so the configured user name and password are
// put into it; the configuration keeps the password out of the URL so that
// the URL can be shown.
func redisOptions(c config.Redis) (rediskv.Options, error) {
	o := rediskv.Options{Prefix: c.Prefix}
	if c.URL == "" {
		o.Addrs, o.MasterName, o.Username, o.Password, o.TLS = c.Addrs, c.MasterName, c.Username, c.Password.Reveal(), c.TLS
		return o, nil
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return o, errors.New("store.redis.url is not a URL") // config validated it; never echo it
	}
	user := u.User.Username()
	if user == "" {
		user = c.Username
	}
	switch {
	case c.Password != "":
		u.User = url.UserPassword(user, c.Password.Reveal())
	case user != "":
		u.User = url.User(user)
	}
	o.URL = u.String()
	return o, nil
}

// masterKeyFromFile reads, or on first use with create, creates the master
// key file in the data directory, warning that it defeats the purpose of
// encrypting the signing keys at rest for anyone who can read the directory.
func masterKeyFromFile(dir string, create bool, stderr io.Writer, log *slog.Logger) ([]byte, error) {
	path := filepath.Join(dir, masterKeyFile)
	var key []byte
	var created bool
	var err error
	if create {
		key, created, err = keys.LoadOrCreateMasterKeyFile(path)
	} else if key, err = keys.ReadMasterKeyFile(path); errors.Is(err, fs.ErrNotExist) {
		// A key of its own would make every stored secret fail to verify.
		return nil, fmt.Errorf("%s is not set and there is no %s, but this store was set up with a master key: "+
			"set %s to that key (the one the server and every other command use), or put the file back", keys.MasterKeyEnv, path, keys.MasterKeyEnv)
	}
	if err != nil {
		return nil, err
	}
	if created {
		fmt.Fprintf(stderr, `
!!! WARNING: no %[1]s was set, so scimgate generated a master key and saved it
!!! NEXT TO THE DATA, in %[2]s.
!!! The master key encrypts the signing keys and peppers every stored secret. Kept
!!! beside the database it only protects a database file copied on its own:
!!! anyone who can read %[3]s can use everything in it.
!!! Move it into the environment and delete the file:
!!!     export %[1]s="$(cat %[2]s)" && rm %[2]s
!!! and back it up: without it every signing key, client secret and API key is lost.

`, keys.MasterKeyEnv, path, dir)
	}
	if !created {
		log.Warn("master key read from a file next to the data; set "+keys.MasterKeyEnv+" to keep it apart", "path", path)
	}
	return key, nil
}

// openAudit opens the configured audit sink and registers its closing.
func openAudit(c config.Audit, opts runtimeOptions, rt *Runtime) (*audit.Logger, error) {
	newLogger := audit.New
	if opts.BufferAudit {
		newLogger = audit.NewBuffered
	}
	if c.Sink != config.AuditFile {
		stdout := opts.AuditStdout
		if stdout == nil {
			stdout = io.Discard
		}
		l := newLogger(stdout)
		rt.closers = append(rt.closers, l.Close)
		return l, nil
	}
	f, err := os.OpenFile(c.File, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit.file: %w", err)
	}
	l := newLogger(f)
	rt.closers = append(rt.closers, l.Close, f.Close)
	return l, nil
}

// loadOrCreateAdminToken returns the token kept in the file at path,
// creating the file (mode 0600) with a fresh 256-bit token if it is missing.
func loadOrCreateAdminToken(path string) (string, error) {
	token, err := readAdminToken(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return token, err
	}
	token = secret.New()
	err = atomicfile.CreateExclusive(path, []byte(token+"\n"))
	if errors.Is(err, fs.ErrExist) {
		return readAdminToken(path) // another process made it first
	}
	return token, err
}

// maxTokenFile bounds what is read from the token file.
const maxTokenFile = 4096

// readAdminToken reads the generated admin token, refusing a file other
// users can read.
func readAdminToken(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("admin token file: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("admin token file: %w", err)
	}
	if perm := info.Mode().Perm(); perm&0o007 != 0 {
		return "", fmt.Errorf("admin token file %s is accessible to other users (mode %04o); run: chmod 600 %s", path, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxTokenFile))
	if err != nil {
		return "", fmt.Errorf("admin token file: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if len(token) < 32 {
		return "", fmt.Errorf("admin token file %s holds no token of 32 or more characters; delete it to have one generated", path)
	}
	return token, nil
}

// fileExists reports whether path names something that exists.
func fileExists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
