package rediskv

import (
	"crypto/tls"
	"math"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestBuildConfig(t *testing.T) {
	tests := []struct {
		name     string
		opts     Options
		wantMode string // single, cluster, failover; "" for an error
		check    func(t *testing.T, c clientConfig)
	}{
		{"redis URL", Options{URL: "redis://u:p@h:6380/2"}, "single", func(t *testing.T, c clientConfig) {
			if c.single.Addr != "h:6380" || c.single.Username != "u" || c.single.Password != "p" || c.single.DB != 2 || c.single.TLSConfig != nil {
				t.Errorf("got %+v", c.single)
			}
		}},
		{"rediss URL enables TLS", Options{URL: "rediss://h"}, "single", func(t *testing.T, c clientConfig) {
			if c.single.TLSConfig == nil || c.single.Addr != "h:6379" {
				t.Errorf("got %+v", c.single)
			}
		}},
		{"URL query tunes the client", Options{URL: "redis://h?pool_size=7&dial_timeout=3s&read_timeout=-1"}, "single", func(t *testing.T, c clientConfig) {
			if c.single.PoolSize != 7 || c.single.DialTimeout != 3*time.Second || c.single.ReadTimeout != -1 || c.single.WriteTimeout != defaultIOTimeout {
				t.Errorf("got %+v", c.single)
			}
		}},
		{"short timeouts unless the URL sets them", Options{URL: "redis://h"}, "single", func(t *testing.T, c clientConfig) {
			if c.single.DialTimeout != defaultDialTimeout || c.single.ReadTimeout != defaultIOTimeout || c.single.WriteTimeout != defaultIOTimeout {
				t.Errorf("timeouts %v %v %v", c.single.DialTimeout, c.single.ReadTimeout, c.single.WriteTimeout)
			}
		}},
		{"short timeouts for a cluster", Options{Addrs: []string{"a:1", "b:2"}}, "cluster", func(t *testing.T, c clientConfig) {
			if c.cluster.DialTimeout != defaultDialTimeout || c.cluster.ReadTimeout != defaultIOTimeout || c.cluster.WriteTimeout != defaultIOTimeout {
				t.Errorf("timeouts %v %v %v", c.cluster.DialTimeout, c.cluster.ReadTimeout, c.cluster.WriteTimeout)
			}
		}},
		{"short timeouts for sentinels", Options{URL: "redis://s1:26379?master_name=m&write_timeout=4s"}, "failover", func(t *testing.T, c clientConfig) {
			if c.failover.DialTimeout != defaultDialTimeout || c.failover.ReadTimeout != defaultIOTimeout || c.failover.WriteTimeout != 4*time.Second {
				t.Errorf("timeouts %v %v %v", c.failover.DialTimeout, c.failover.ReadTimeout, c.failover.WriteTimeout)
			}
		}},
		{"unix URL", Options{URL: "unix:///run/redis.sock"}, "single", nil},
		{"URL with addr params is a cluster", Options{URL: "redis://a:1?addr=b:2&addr=c:3"}, "cluster", func(t *testing.T, c clientConfig) {
			if strings.Join(c.cluster.Addrs, ",") != "a:1,b:2,c:3" {
				t.Errorf("addrs %v", c.cluster.Addrs)
			}
		}},
		{"URL with master_name is sentinel", Options{URL: "redis://s1:26379?master_name=mymaster&addr=s2:26379&password=mp"}, "failover", func(t *testing.T, c clientConfig) {
			if c.failover.MasterName != "mymaster" || len(c.failover.SentinelAddrs) != 2 || c.failover.Password != "mp" {
				t.Errorf("got %+v", c.failover)
			}
		}},
		{"one address", Options{Addrs: []string{"h:1"}, Password: "p", DB: 3}, "single", func(t *testing.T, c clientConfig) {
			if c.single.Addr != "h:1" || c.single.Password != "p" || c.single.DB != 3 {
				t.Errorf("got %+v", c.single)
			}
		}},
		{"several addresses", Options{Addrs: []string{"a:1", "b:2"}}, "cluster", nil},
		{"addresses with master name", Options{Addrs: []string{"a:1", "b:2"}, MasterName: "m"}, "failover", nil},
		{"TLS flag", Options{Addrs: []string{"h:1"}, TLS: true}, "single", func(t *testing.T, c clientConfig) {
			if c.single.TLSConfig == nil || c.single.TLSConfig.MinVersion != tls.VersionTLS12 {
				t.Errorf("TLS config %+v", c.single.TLSConfig)
			}
		}},
		{"TLSConfig overrides the URL", Options{URL: "rediss://h", TLSConfig: &tls.Config{ServerName: "x"}}, "single", func(t *testing.T, c clientConfig) {
			if c.single.TLSConfig.ServerName != "x" {
				t.Errorf("TLS config %+v", c.single.TLSConfig)
			}
		}},
		{"nothing given", Options{}, "", nil},
		{"URL and addresses", Options{URL: "redis://h", Addrs: []string{"h:1"}}, "", nil},
		{"URL and password", Options{URL: "redis://h", Password: "p"}, "", nil},
		{"DB in cluster", Options{Addrs: []string{"a:1", "b:2"}, DB: 1}, "", nil},
		{"unknown scheme", Options{URL: "http://h"}, "", nil},
		{"unknown query parameter", Options{URL: "redis://h?bogus=1"}, "", nil},
		{"empty master name", Options{URL: "redis://h?master_name="}, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := buildConfig(tc.opts)
			if tc.wantMode == "" {
				if err == nil {
					t.Fatalf("buildConfig succeeded, want an error")
				}
				return
			}
			if err != nil {
				t.Fatalf("buildConfig: %v", err)
			}
			if got := mode(c); got != tc.wantMode {
				t.Fatalf("mode %s, want %s", got, tc.wantMode)
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}

func mode(c clientConfig) string {
	switch {
	case c.cluster != nil:
		if !c.cluster.ContextTimeoutEnabled {
			return "cluster without context timeouts"
		}
		return "cluster"
	case c.failover != nil:
		if !c.failover.ContextTimeoutEnabled {
			return "failover without context timeouts"
		}
		return "failover"
	case c.single != nil:
		if !c.single.ContextTimeoutEnabled {
			return "single without context timeouts"
		}
		return "single"
	}
	return "none"
}

func TestBuildConfigErrorsHideSecrets(t *testing.T) {
	for _, raw := range []string{
		"redis://user:s3cret@h:6379/notanumber",
		"redis://user:s3cret@h:6379?bogus=1",
		"redis://user:s3cret@h:port",
		"redis://h?master_name=m&password=s3cret&bogus=1",
		"rediss://user:s3cret@h?addr=bad",
	} {
		_, err := buildConfig(Options{URL: raw})
		if err == nil {
			t.Errorf("%s: no error", raw)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("error leaks the password: %v", err)
		}
	}
}

func TestExpiry(t *testing.T) {
	tests := []struct {
		ttl, want time.Duration
	}{
		{0, 0},
		{time.Nanosecond, time.Millisecond},
		{time.Millisecond, time.Millisecond},
		{1500 * time.Microsecond, 2 * time.Millisecond},
		{time.Hour, time.Hour},
		{math.MaxInt64, math.MaxInt64},
	}
	for _, tc := range tests {
		if got := expiry(tc.ttl); got != tc.want {
			t.Errorf("expiry(%v) = %v, want %v", tc.ttl, got, tc.want)
		}
	}
}

func TestCommandBudget(t *testing.T) {
	tests := []struct {
		readTimeout, want time.Duration
	}{
		{defaultIOTimeout, 2 * time.Second},
		{3 * time.Second, 6 * time.Second},
		{-1, 0}, // read_timeout=-1: the URL asks for no deadline
		{-2, 0}, // -2: go-redis sets no socket deadline at all
	}
	for _, tc := range tests {
		if got := commandBudget(tc.readTimeout); got != tc.want {
			t.Errorf("commandBudget(%v) = %v, want %v", tc.readTimeout, got, tc.want)
		}
	}
}

func TestEscapeGlob(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"scimgate:client:", "scimgate:client:"},
		{"a*b?c", `a\*b\?c`},
		{"[x]", `\[x\]`},
		{`back\slash`, `back\\slash`},
		{"^-", "^-"},
	}
	for _, tc := range tests {
		if got := escapeGlob(tc.in); got != tc.want {
			t.Errorf("escapeGlob(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestBackoffStaysBounded(t *testing.T) {
	for attempt := 1; attempt <= 100; attempt++ {
		if d := backoff(attempt); d <= 0 || d > maxBackoff {
			t.Fatalf("backoff(%d) = %v", attempt, d)
		}
	}
}

// FuzzBuildConfig feeds arbitrary connection URLs, as they come from
// configuration files and environment: no panic, no password in errors.
func FuzzBuildConfig(f *testing.F) {
	for _, seed := range []string{
		"redis://127.0.0.1:6379/0",
		"rediss://user:pw@h:6380?dial_timeout=3s",
		"redis://h?addr=a:1&addr=b:2",
		"redis://h?master_name=m&password=pw",
		"unix:///tmp/r.sock?db=2",
		"redis://[::1]:6379",
		"redis://%zz",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		const secret = "fuzz-s3cret-pw"
		withSecret := strings.Replace(raw, "pw", secret, 1)
		c, err := buildConfig(Options{URL: withSecret})
		if err != nil {
			if carriesPassword(withSecret, secret) && strings.Contains(err.Error(), secret) {
				t.Fatalf("error leaks the password: %v", err)
			}
			return
		}
		if mode(c) == "none" {
			t.Fatalf("no options built for %q", withSecret)
		}
		_ = c.describe()
	})
}

// carriesPassword reports whether secret sits where a URL carries a
// password; elsewhere (host, path) it is not a secret and may be quoted.
func carriesPassword(raw, secret string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	if p, ok := u.User.Password(); ok && strings.Contains(p, secret) {
		return true
	}
	q := u.Query()
	return slices.ContainsFunc(append(q["password"], q["sentinel_password"]...), func(v string) bool {
		return strings.Contains(v, secret)
	})
}

// FuzzEscapeGlob checks that an escaped prefix is a pattern with no live
// metacharacter that reads back as the prefix itself.
func FuzzEscapeGlob(f *testing.F) {
	f.Add("a*b?c[d]e\\")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		pattern := escapeGlob(s)
		var literal []byte
		for i := 0; i < len(pattern); i++ {
			c := pattern[i]
			switch c {
			case '\\':
				i++
				if i == len(pattern) {
					t.Fatalf("escapeGlob(%q) = %q ends in a lone backslash", s, pattern)
				}
				literal = append(literal, pattern[i])
			case '*', '?', '[', ']':
				t.Fatalf("escapeGlob(%q) = %q has an unescaped %q", s, pattern, c)
			default:
				literal = append(literal, c)
			}
		}
		if string(literal) != s {
			t.Fatalf("escapeGlob(%q) = %q reads back as %q", s, pattern, literal)
		}
	})
}
