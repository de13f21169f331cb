package main

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/scimgate/scimgate/config"
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
