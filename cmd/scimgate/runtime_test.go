package main

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"

	"github.com/scimgate/scimgate/config"
	"github.com/scimgate/scimgate/internal/store/boltkv"
)

func TestRedisOptions(t *testing.T) {
	for name, tc := range map[string]struct {
		in      config.Redis
		wantURL string
		addrs   string
	}{
		"url only":                 {config.Redis{URL: "redis://127.0.0.1:6379/0"}, "redis://127.0.0.1:6379/0", ""},
		"password into the url":    {config.Redis{URL: "rediss://cache:6380/2", Password: "p@ss word"}, "rediss://:p%40ss%20word@cache:6380/2", ""},
		"user and password":        {config.Redis{URL: "redis://cache:6379", Username: "app", Password: "pw"}, "redis://app:pw@cache:6379", ""},
		"user in the url wins":     {config.Redis{URL: "redis://svc@cache:6379", Username: "app", Password: "pw"}, "redis://svc:pw@cache:6379", ""},
		"user without password":    {config.Redis{URL: "redis://cache:6379", Username: "app"}, "redis://app@cache:6379", ""},
		"addresses keep the parts": {config.Redis{Addrs: []string{"a:1", "b:2"}, Username: "app", Password: "pw", TLS: true}, "", "a:1,b:2"},
	} {
		t.Run(name, func(t *testing.T) {
			o, err := redisOptions(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if o.URL != tc.wantURL || strings.Join(o.Addrs, ",") != tc.addrs {
				t.Fatalf("got URL %q addrs %v", o.URL, o.Addrs)
			}
			if tc.addrs != "" && (o.Username != "app" || o.Password != "pw" || !o.TLS) {
				t.Fatalf("addresses lost credentials or TLS: %+v", o)
			}
		})
	}
}

func TestTuneGC(t *testing.T) {
	before := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(before) })
	for _, tc := range []struct {
		vars []string
		want int
		log  bool
	}{
		{vars: []string{"HOME=/root"}, want: defaultGCPercent, log: true},
		{vars: []string{"GOGC=100", "GOMEMLIMIT=1GiB"}, want: 100},
		{vars: []string{"GOGC=off"}, want: 100}, // the runtime applied it; tuneGC leaves it
	} {
		debug.SetGCPercent(100)
		var logged bytes.Buffer
		tuneGC(Env{Vars: tc.vars}, slog.New(slog.NewTextHandler(&logged, nil)))
		if got := debug.SetGCPercent(100); got != tc.want || strings.Contains(logged.String(), "GOGC") != tc.log {
			t.Errorf("%v: GC percent %d, want %d; log %q", tc.vars, got, tc.want, logged.String())
		}
	}
}

// The welcome text goes only to a terminal: anywhere else stderr is the
// JSON log, one object per line.
func TestIsTerminal(t *testing.T) {
	file, err := os.Create(filepath.Join(t.TempDir(), "stderr.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	for _, tc := range []struct {
		name string
		w    io.Writer
		want bool
	}{
		{"buffer", &bytes.Buffer{}, false},
		{"regular file", file, false},
		{"pipe", w, false},
	} {
		if got := isTerminal(tc.w); got != tc.want {
			t.Errorf("%s: isTerminal %v, want %v", tc.name, got, tc.want)
		}
	}
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		defer tty.Close()
		if !isTerminal(tty) {
			t.Error("/dev/tty: isTerminal false, want true")
		}
	}
}

// What keeps the embedded store from opening is said once, with the
// directory and what to do, for serve and the CLI alike.
func TestEmbeddedStoreErrors(t *testing.T) {
	held := newCLI(t, oneRoute)
	holdStore(t, held)

	notADir := newCLIWithoutStore(t, oneRoute)
	if err := os.WriteFile(filepath.Join(notADir.dir, "data"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	damaged := newCLIWithoutStore(t, oneRoute)
	if err := os.MkdirAll(filepath.Join(damaged.dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(damaged.dir, "data", boltkv.FileName), bytes.Repeat([]byte("not bbolt "), 1000), 0o600); err != nil {
		t.Fatal(err)
	}

	for name, tc := range map[string]struct {
		c    *cli
		args []string
		want string
	}{
		"held by another serve":  {held, []string{"serve"}, "/data is in use by another process, most likely another 'scimgate serve': stop it, or give this server a data directory of its own"},
		"data path is a file":    {notADir, []string{"serve"}, "/data (store.embedded.path, SCIMGATE_STORE_EMBEDDED_PATH): not a directory\n"},
		"damaged, serve":         {damaged, []string{"serve"}, "scimgate.db is not a scimgate database, or it is damaged; restore the data directory from a backup\n"},
		"damaged, a CLI command": {damaged, []string{"tenant", "list"}, "scimgate.db is not a scimgate database, or it is damaged; restore the data directory from a backup\n"},
	} {
		t.Run(name, func(t *testing.T) {
			out := tc.c.run(tc.args...)
			if out.code != exitError || !strings.Contains(out.stderr, tc.want) {
				t.Fatalf("exit %d, stderr lacks %q:\n%s", out.code, tc.want, out.stderr)
			}
			if n := strings.Count(out.stderr, tc.c.dir); n != 1 || strings.Contains(out.stderr, "boltkv") {
				t.Fatalf("the directory %d times, or the package's name, in:\n%s", n, out.stderr)
			}
		})
	}
}

func TestEmbeddedStoreErrorPermission(t *testing.T) {
	dir := "/srv/scimgate"
	for _, create := range []bool{true, false} {
		err := embeddedStoreError(dir, fmt.Errorf("boltkv: open %s: %w", dir+"/scimgate.db",
			&fs.PathError{Op: "open", Path: dir + "/scimgate.db", Err: syscall.EACCES}), create)
		want := "cannot open the embedded store in /srv/scimgate (store.embedded.path, SCIMGATE_STORE_EMBEDDED_PATH): permission denied; " +
			"run scimgate as the user that owns the directory, or give that user read and write access to it and its files"
		if err == nil || err.Error() != want {
			t.Errorf("create=%t: %v", create, err)
		}
	}
}

// A Redis that cannot be reached is said once, with the address and where
// it comes from, by serve and the CLI: no go-redis log lines before it.
func TestRedisUnreachable(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := closed.Addr().String()
	closed.Close()
	c := newCLIWithoutStore(t, oneRoute)
	c.vars = append(c.vars, "SCIMGATE_STORE_BACKEND=redis", "SCIMGATE_STORE_REDIS_URL=redis://"+addr+"/0",
		"SCIMGATE_ADMIN_TOKEN="+strings.Repeat("t", 40))
	want := "scimgate: cannot reach Redis (tcp " + addr + "): connect: connection refused; check that Redis runs there and that store.redis.url"
	for _, args := range [][]string{{"serve"}, {"tenant", "list"}} {
		out := c.run(args...)
		if out.code != exitError || !strings.Contains(out.stderr, want) || strings.Count(out.stderr, addr) != 1 || strings.Contains(out.stderr, "redis: ") {
			t.Errorf("%v: exit %d, want one line %q:\n%s", args, out.code, want, out.stderr)
		}
	}
}

func TestDefaultIssuerWarning(t *testing.T) {
	for name, tc := range map[string]struct {
		issuer, public string
		warn           bool
	}{
		"all defaults":                  {"", "", false},
		"issuer set":                    {"https://scim.example.com", "0.0.0.0:8080", false},
		"listener moved, issuer not":    {"", "0.0.0.0:9000", true},
		"listener on every interface":   {"", "0.0.0.0:8080", true},
		"issuer set to its own default": {"http://127.0.0.1:8080", "127.0.0.1:8080", false},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := config.Default()
			if tc.issuer != "" {
				cfg.Issuer = tc.issuer
			}
			if tc.public != "" {
				cfg.Listen.Public = tc.public
			}
			if got := defaultIssuerWarning(cfg); (got != "") != tc.warn || tc.warn && !strings.Contains(got, "SCIMGATE_ISSUER") {
				t.Errorf("warning %q, want one: %t", got, tc.warn)
			}
		})
	}
}
