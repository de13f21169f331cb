package config

import (
	"errors"
	"os"
	"testing"
)

// FuzzLoad feeds arbitrary file content and one arbitrary environment entry
// to Load: it must never panic, and must return either a configuration that
// validates or field errors that each name a key.
func FuzzLoad(f *testing.F) {
	example, err := os.ReadFile("example.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example, "UPSTREAM_KEY=k")
	f.Add([]byte(""), "SCIMGATE_TOKENS_ACCESS_TTL=2h")
	f.Add([]byte("listen: {public: ':8080', trusted_proxies: [10.0.0.0/8]}"), "SCIMGATE_LISTEN_TRUSTED_PROXIES=10.0.0.0/8,::1/128")
	f.Add([]byte("gateway:\n  routes:\n    - &r {prefix: /a, upstream: 'http://h', headers: {X-K: '${K}'}}\n    - {<<: *r, prefix: /b}\n"), "K=v")
	f.Add([]byte("a: &a [*a]\n"), "SCIMGATE_STORE_REDIS_ADDRS=a:1,b")
	f.Add([]byte("store: {backend: redis, redis: {url: 'rediss://u@h:1/2'}}\n---\nx: 1"), "SCIMGATE_NOPE=1")
	f.Fuzz(func(t *testing.T, data []byte, envEntry string) {
		cfg, err := load("fuzz.yaml", data, []string{envEntry})
		if err == nil {
			if err := cfg.Validate(); err != nil {
				t.Fatalf("Load accepted a configuration that Validate rejects:\n%v", err)
			}
			return
		}
		var errs Errors
		if !errors.As(err, &errs) || len(errs) == 0 {
			t.Fatalf("error %v is not a non-empty Errors", err)
		}
		for _, e := range errs {
			if e.Key == "" || e.Problem == "" {
				t.Fatalf("error without key or problem: %#v", e)
			}
		}
	})
}
