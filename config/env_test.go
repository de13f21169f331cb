package config_test

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/scimgate/scimgate/config"
)

func TestEnvOverrides(t *testing.T) {
	for name, tc := range map[string]struct {
		env   []string
		check func(*config.Config) bool
	}{
		"redis backend": {
			[]string{"SCIMGATE_STORE_BACKEND=redis", "SCIMGATE_STORE_REDIS_URL=redis://redis.internal:6379/1"},
			func(c *config.Config) bool {
				return c.Store.Backend == config.BackendRedis && c.Store.Redis.URL == "redis://redis.internal:6379/1"
			},
		},
		"redis addrs clear the default url": {
			[]string{"SCIMGATE_STORE_REDIS_ADDRS=a:6379, b:6379", "SCIMGATE_STORE_REDIS_MASTER_NAME=m"},
			func(c *config.Config) bool {
				return c.Store.Redis.URL == "" && reflect.DeepEqual(c.Store.Redis.Addrs, []string{"a:6379", "b:6379"}) && c.Store.Redis.MasterName == "m"
			},
		},
		"public listener": {
			[]string{"SCIMGATE_LISTEN_PUBLIC=0.0.0.0:8080"},
			func(c *config.Config) bool { return c.Listen.Public == "0.0.0.0:8080" },
		},
		"access ttl": {
			[]string{"SCIMGATE_TOKENS_ACCESS_TTL=2h"},
			func(c *config.Config) bool { return c.Tokens.AccessTTL == 2*time.Hour },
		},
		"trusted proxies list": {
			[]string{"SCIMGATE_LISTEN_TRUSTED_PROXIES=10.0.0.0/8, ,192.168.0.0/16,"},
			func(c *config.Config) bool {
				return reflect.DeepEqual(c.Listen.TrustedProxies, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.0.0/16")})
			},
		},
		"trusted proxies as bare addresses": {
			[]string{"SCIMGATE_LISTEN_TRUSTED_PROXIES=10.0.0.1,2001:db8::1"},
			func(c *config.Config) bool {
				return reflect.DeepEqual(c.Listen.TrustedProxies, []netip.Prefix{netip.MustParsePrefix("10.0.0.1/32"), netip.MustParsePrefix("2001:db8::1/128")})
			},
		},
		"bool, float, int, level": {
			[]string{"SCIMGATE_METRICS_ENABLED=false", "SCIMGATE_RATELIMIT_GATEWAY_TENANT_RATE=25.5", "SCIMGATE_GATEWAY_TOKEN_CACHE_SIZE=0", "SCIMGATE_LOG_LEVEL=debug"},
			func(c *config.Config) bool {
				return !c.Metrics.Enabled && c.RateLimit.Gateway.TenantRate == 25.5 && c.Gateway.TokenCacheSize == 0 && c.Log.Level.String() == "DEBUG"
			},
		},
		"secrets": {
			[]string{"SCIMGATE_ADMIN_TOKEN=" + strings.Repeat("t", 40), "SCIMGATE_STORE_REDIS_PASSWORD=pw"},
			func(c *config.Config) bool {
				return c.Admin.Token.Reveal() == strings.Repeat("t", 40) && c.Store.Redis.Password.Reveal() == "pw"
			},
		},
		"later entry wins": {
			[]string{"SCIMGATE_LOG_FORMAT=json", "SCIMGATE_LOG_FORMAT=text"},
			func(c *config.Config) bool { return c.Log.Format == config.LogText },
		},
		"variables read elsewhere and foreign ones are ignored": {
			[]string{config.EnvMasterKey + "=k", config.EnvConfig + "=/etc/scimgate.yaml", "HOME=/root", "scimgate_log_format=xml", "NOEQUALS"},
			func(c *config.Config) bool { return reflect.DeepEqual(c, loadedDefault()) },
		},
	} {
		t.Run(name, func(t *testing.T) {
			cfg, err := config.Load("", tc.env)
			if err != nil {
				t.Fatalf("Load:\n%v", err)
			}
			if !tc.check(cfg) {
				t.Errorf("unexpected configuration %+v", cfg)
			}
		})
	}
}

func TestEnvOverridesFile(t *testing.T) {
	cfg := mustLoad(t, "listen:\n  trusted_proxies: [10.0.0.0/8]\ntokens:\n  access_ttl: 2h\n",
		"SCIMGATE_TOKENS_ACCESS_TTL=3h", "SCIMGATE_LISTEN_TRUSTED_PROXIES=")
	if cfg.Tokens.AccessTTL != 3*time.Hour || cfg.Listen.TrustedProxies != nil {
		t.Errorf("access ttl %s, trusted proxies %v", cfg.Tokens.AccessTTL, cfg.Listen.TrustedProxies)
	}
}

func TestEnvErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		env  []string
		want string // the whole rendered error
	}{
		"unparsable":          {[]string{"SCIMGATE_TOKENS_ACCESS_TTL=forever"}, `SCIMGATE_TOKENS_ACCESS_TTL: tokens.access_ttl: "forever" is not a duration: use Go syntax such as 90s, 10m or 1h30m`},
		"invalid":             {[]string{"SCIMGATE_TOKENS_ACCESS_TTL=48h"}, `SCIMGATE_TOKENS_ACCESS_TTL: tokens.access_ttl: must be between 5m and 24h, got 48h`},
		"bad list item":       {[]string{"SCIMGATE_LISTEN_TRUSTED_PROXIES=10.0.0.0/8,nope"}, `SCIMGATE_LISTEN_TRUSTED_PROXIES: listen.trusted_proxies[1]: "nope" is not an address or a CIDR such as 10.0.0.0/8`},
		"invalid list item":   {[]string{"SCIMGATE_STORE_REDIS_ADDRS=a:1,b"}, `SCIMGATE_STORE_REDIS_ADDRS: store.redis.addrs[1]: "b" is not host:port`},
		"unknown":             {[]string{"SCIMGATE_STORE_BACKNED=redis"}, `SCIMGATE_STORE_BACKNED: unknown variable (did you mean SCIMGATE_STORE_BACKEND?)`},
		"unknown, far off":    {[]string{"SCIMGATE_WHATEVER=secret-value"}, `SCIMGATE_WHATEVER: unknown variable`},
		"routes not settable": {[]string{"SCIMGATE_GATEWAY_ROUTES=/a"}, `SCIMGATE_GATEWAY_ROUTES: gateway.routes can be set only in the configuration file (--config or SCIMGATE_CONFIG), not from the environment`},
		"a route's key":       {[]string{"SCIMGATE_GATEWAY_ROUTES_0_UPSTREAM=http://h"}, `SCIMGATE_GATEWAY_ROUTES_0_UPSTREAM: gateway.routes can be set only in the configuration file (--config or SCIMGATE_CONFIG), not from the environment`},
		"empty duration":      {[]string{"SCIMGATE_KEYS_REFRESH_INTERVAL="}, `SCIMGATE_KEYS_REFRESH_INTERVAL: keys.refresh_interval: "" is not a duration: use Go syntax such as 90s, 10m or 1h30m`},
		"url and addrs both":  {[]string{"SCIMGATE_STORE_REDIS_URL=redis://h:1", "SCIMGATE_STORE_REDIS_ADDRS=h:1"}, `SCIMGATE_STORE_REDIS_ADDRS: store.redis.addrs: set either store.redis.url or store.redis.addrs, not both`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := config.Load("", tc.env)
			if err == nil || err.Error() != tc.want {
				t.Errorf("error:\n%v\nwant:\n%s", err, tc.want)
			}
		})
	}
}

func TestHeaderVariablesAreNotUnknown(t *testing.T) {
	cfg := mustLoad(t, route+"      headers: {X-Key: '${SCIMGATE_UPSTREAM_KEY}'}", "SCIMGATE_UPSTREAM_KEY=k")
	if got := cfg.Gateway.Routes[0].Headers["X-Key"].Reveal(); got != "k" {
		t.Errorf("header = %q", got)
	}
	// A variable that is also a key's override still overrides it.
	cfg = mustLoad(t, route+"      headers: {X-Format: '${SCIMGATE_LOG_FORMAT}'}", "SCIMGATE_LOG_FORMAT=text")
	if cfg.Log.Format != config.LogText || cfg.Gateway.Routes[0].Headers["X-Format"].Reveal() != "text" {
		t.Errorf("log format %q", cfg.Log.Format)
	}
}
