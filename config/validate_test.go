package config_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// route is a valid route to which test cases add keys.
const route = `
gateway:
  routes:
    - prefix: /scim/v2
      upstream: http://127.0.0.1:9000/scim/v2
`

func TestValidationErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		yaml string
		env  []string
		key  string // the one expected error names this key...
		want string // ...and says this
	}{
		"issuer empty":               {yaml: `issuer: ""`, key: "issuer", want: "must be set"},
		"issuer http on public host": {yaml: `issuer: http://login.example.com`, key: "issuer", want: "https"},
		"issuer trailing slash":      {yaml: `issuer: https://login.example.com/`, key: "issuer", want: "must not end with /"},
		"issuer query":               {yaml: `issuer: https://login.example.com?a=1`, key: "issuer", want: "query"},
		"issuer fragment":            {yaml: `issuer: "https://login.example.com#x"`, key: "issuer", want: "fragment"},
		"issuer relative":            {yaml: `issuer: /login`, key: "issuer", want: "absolute"},
		"issuer user info":           {yaml: `issuer: https://a@login.example.com`, key: "issuer", want: "user name"},
		"issuer not a URL":           {yaml: `issuer: "https://login example.com"`, key: "issuer", want: "not a URL"},

		"public not host:port":     {yaml: `listen: {public: "8080"}`, key: "listen.public", want: "not host:port"},
		"admin port out of range":  {yaml: `listen: {admin: "127.0.0.1:70000"}`, key: "listen.admin", want: "0 to 65535"},
		"admin named port":         {yaml: `listen: {admin: "127.0.0.1:http"}`, key: "listen.admin", want: "0 to 65535"},
		"admin bad host":           {yaml: `listen: {admin: "bad_host:1"}`, key: "listen.admin", want: "neither an IP"},
		"admin same as public":     {yaml: `listen: {public: ":8080", admin: "127.0.0.1:8080"}`, key: "listen.admin", want: "listen.public"},
		"tls cert without key":     {yaml: `listen: {tls: {cert_file: cert.pem}}`, key: "listen.tls.key_file", want: "must be set"},
		"tls key without cert":     {yaml: `listen: {tls: {key_file: key.pem}}`, key: "listen.tls.cert_file", want: "must be set"},
		"trusted proxy host bits":  {yaml: `listen: {trusted_proxies: [10.1.2.3/8]}`, key: "listen.trusted_proxies[0]", want: "write 10.0.0.0/8"},
		"trusted proxy not a CIDR": {yaml: `listen: {trusted_proxies: [10.0.0.0/8, bogus]}`, key: "listen.trusted_proxies[1]", want: `"bogus"`},
		"read timeout zero":        {yaml: `listen: {read_timeout: 0s}`, key: "listen.read_timeout", want: "longer than 0s"},
		"shutdown negative":        {yaml: `listen: {shutdown_timeout: -1s}`, key: "listen.shutdown_timeout", want: "longer than 0s"},
		"shutdown delay too long":  {yaml: `listen: {shutdown_delay: 2m}`, key: "listen.shutdown_delay", want: "between 0s and 1m"},
		"shutdown delay negative":  {yaml: `listen: {shutdown_delay: -1s}`, key: "listen.shutdown_delay", want: "between 0s and 1m"},
		"read header over read":    {yaml: `listen: {read_header_timeout: 40s}`, key: "listen.read_header_timeout", want: "listen.read_timeout (30s)"},

		"admin token short":      {yaml: `admin: {token: short}`, key: "admin.token", want: "at least 32"},
		"admin token with space": {yaml: `admin: {token: "` + strings.Repeat("a", 20) + ` ` + strings.Repeat("a", 20) + `"}`, key: "admin.token", want: "printable ASCII"},

		"backend unknown":             {yaml: `store: {backend: memory}`, key: "store.backend", want: `embedded, redis, got "memory"`},
		"embedded path empty":         {yaml: `store: {embedded: {path: ""}}`, key: "store.embedded.path", want: "must be set"},
		"redis url scheme":            {yaml: `store: {redis: {url: "http://127.0.0.1:6379"}}`, key: "store.redis.url", want: "must be a redis://, rediss:// (TLS) or unix:// URL, such as redis://127.0.0.1:6379/0"},
		"redis url bad database":      {yaml: `store: {redis: {url: "redis://127.0.0.1:6379/x"}}`, key: "store.redis.url", want: `invalid database number: "x"`},
		"redis url and addrs":         {yaml: `store: {redis: {url: "redis://h:1", addrs: ["h:1"]}}`, key: "store.redis.addrs", want: "not both"},
		"redis neither":               {yaml: `store: {backend: redis, redis: {url: ""}}`, key: "store.redis.url", want: "set store.redis.url or store.redis.addrs"},
		"redis addr bad":              {yaml: `store: {redis: {addrs: ["h:1", "nope"]}}`, key: "store.redis.addrs[1]", want: "not host:port"},
		"redis master no addrs":       {yaml: `store: {redis: {master_name: mymaster}}`, key: "store.redis.master_name", want: "requires store.redis.addrs"},
		"redis tls with url":          {yaml: `store: {redis: {tls: true}}`, key: "store.redis.tls", want: "rediss://"},
		"redis prefix with space":     {yaml: `store: {redis: {prefix: "a b"}}`, key: "store.redis.prefix", want: "printable"},
		"keys algorithm":              {yaml: `keys: {algorithm: HS256}`, key: "keys.algorithm", want: `ES256, EdDSA, RS256, got "HS256"`},
		"keys publish not > refresh":  {yaml: `keys: {publish_before_use: 5s}`, key: "keys.publish_before_use", want: "keys.refresh_interval (5s)"},
		"keys rotation not > publish": {yaml: `keys: {rotation_interval: 10m}`, key: "keys.rotation_interval", want: "keys.publish_before_use (10m)"},
		"keys refresh zero":           {yaml: `keys: {refresh_interval: 0s}`, key: "keys.refresh_interval", want: "longer than 0s"},

		"access ttl too short":   {yaml: `tokens: {access_ttl: 1m}`, key: "tokens.access_ttl", want: "between 5m and 24h, got 1m"},
		"access ttl too long":    {yaml: `tokens: {access_ttl: 48h}`, key: "tokens.access_ttl", want: "got 48h"},
		"code ttl too short":     {yaml: `tokens: {code_ttl: 30s}`, key: "tokens.code_ttl", want: "between 1m and 10m"},
		"code ttl too long":      {yaml: `tokens: {code_ttl: 11m}`, key: "tokens.code_ttl", want: "got 11m"},
		"refresh under access":   {yaml: `tokens: {refresh_ttl: 30m}`, key: "tokens.refresh_ttl", want: "tokens.access_ttl (1h)"},
		"refresh grace 5m":       {yaml: `tokens: {refresh_grace: 5m}`, key: "tokens.refresh_grace", want: "less than 5m"},
		"refresh grace negative": {yaml: `tokens: {refresh_grace: -1s}`, key: "tokens.refresh_grace", want: "at least 0s"},
		"leeway too long":        {yaml: `tokens: {leeway: 61s}`, key: "tokens.leeway", want: "between 0s and 1m"},

		"tenant header invalid":   {yaml: `gateway: {tenant_header: "X Tenant"}`, key: "gateway.tenant_header", want: "not a valid header name"},
		"tenant header forwarded": {yaml: `gateway: {tenant_header: X-Forwarded-For}`, key: "gateway.tenant_header", want: "client address"},
		"client header authz":     {yaml: `gateway: {client_header: authorization}`, key: "gateway.client_header", want: "Authorization"},
		"client equals tenant":    {yaml: `gateway: {client_header: x-scim-tenant}`, key: "gateway.client_header", want: "differ"},
		"token cache negative":    {yaml: `gateway: {token_cache_size: -1}`, key: "gateway.token_cache_size", want: "between 0 and"},

		"prefix missing":           {yaml: "gateway: {routes: [{upstream: 'http://h'}]}", key: "gateway.routes[0].prefix", want: "must be set"},
		"prefix relative":          {yaml: "gateway: {routes: [{prefix: scim, upstream: 'http://h'}]}", key: "gateway.routes[0].prefix", want: "start with /"},
		"prefix root":              {yaml: "gateway: {routes: [{prefix: /, upstream: 'http://h'}]}", key: "gateway.routes[0].prefix", want: "/ alone"},
		"prefix trailing slash":    {yaml: "gateway: {routes: [{prefix: /scim/, upstream: 'http://h'}]}", key: "gateway.routes[0].prefix", want: "end with /"},
		"prefix dot dot":           {yaml: "gateway: {routes: [{prefix: /a/../b, upstream: 'http://h'}]}", key: "gateway.routes[0].prefix", want: ".."},
		"prefix empty segment":     {yaml: "gateway: {routes: [{prefix: /a//b, upstream: 'http://h'}]}", key: "gateway.routes[0].prefix", want: "empty segment"},
		"prefix partial tenant":    {yaml: "gateway: {routes: [{prefix: '/t-{tenant}/scim', upstream: 'http://h'}]}", key: "gateway.routes[0].prefix", want: "whole segment"},
		"prefix other placeholder": {yaml: "gateway: {routes: [{prefix: '/{org}/scim', upstream: 'http://h'}]}", key: "gateway.routes[0].prefix", want: "whole segment"},
		"prefix two tenants":       {yaml: "gateway: {routes: [{prefix: '/{tenant}/{tenant}', upstream: 'http://h'}]}", key: "gateway.routes[0].prefix", want: "only once"},
		"prefix query char":        {yaml: "gateway: {routes: [{prefix: '/scim?x', upstream: 'http://h'}]}", key: "gateway.routes[0].prefix", want: "letters, digits"},
		"prefix encoded":           {yaml: "gateway: {routes: [{prefix: '/a%2fb', upstream: 'http://h'}]}", key: "gateway.routes[0].prefix", want: "letters, digits"},
		"prefix reserved":          {yaml: "gateway: {routes: [{prefix: /oauth2/scim, upstream: 'http://h'}]}", key: "gateway.routes[0].prefix", want: "reserved"},
		"prefix duplicate": {
			yaml: "gateway: {routes: [{prefix: /a, upstream: 'http://h'}, {prefix: /b, upstream: 'http://h'}, {prefix: /a, upstream: 'http://h'}]}",
			key:  "gateway.routes[2].prefix", want: "gateway.routes[0]",
		},

		"upstream missing":     {yaml: "gateway: {routes: [{prefix: /a}]}", key: "gateway.routes[0].upstream", want: "must be set"},
		"upstream scheme":      {yaml: "gateway: {routes: [{prefix: /a, upstream: 'ftp://h/x'}]}", key: "gateway.routes[0].upstream", want: "http or https"},
		"upstream relative":    {yaml: "gateway: {routes: [{prefix: /a, upstream: /scim}]}", key: "gateway.routes[0].upstream", want: "absolute"},
		"upstream query":       {yaml: "gateway: {routes: [{prefix: /a, upstream: 'http://h/x?y=1'}]}", key: "gateway.routes[0].upstream", want: "query"},
		"upstream fragment":    {yaml: "gateway: {routes: [{prefix: /a, upstream: 'http://h/x#y'}]}", key: "gateway.routes[0].upstream", want: "fragment"},
		"upstream credentials": {yaml: "gateway: {routes: [{prefix: /a, upstream: 'http://u:p@h/x'}]}", key: "gateway.routes[0].upstream", want: "headers"},
		"audience relative":    {yaml: route + "      audience: scim", key: "gateway.routes[0].audience", want: "absolute URI"},

		"credentials empty":      {yaml: route + "      credentials: []", key: "gateway.routes[0].credentials", want: "at least one"},
		"credentials unknown":    {yaml: route + "      credentials: [jwt, basic]", key: "gateway.routes[0].credentials[1]", want: `got "basic"`},
		"credentials twice":      {yaml: route + "      credentials: [jwt, jwt]", key: "gateway.routes[0].credentials[1]", want: "twice"},
		"raw api key needs key":  {yaml: route + "      credentials: [jwt]\n      raw_api_key: true", key: "gateway.routes[0].raw_api_key", want: "api_key"},
		"timeout zero":           {yaml: route + "      timeout: 0s", key: "gateway.routes[0].timeout", want: "longer than 0s"},
		"timeout over write":     {yaml: route + "      timeout: 60s", key: "gateway.routes[0].timeout", want: "listen.write_timeout (1m)"},
		"max body zero":          {yaml: route + "      max_body: 0", key: "gateway.routes[0].max_body", want: "more than 0"},
		"max body too large":     {yaml: route + "      max_body: 65MiB", key: "gateway.routes[0].max_body", want: "at most 64MiB, got 65MiB"},
		"max body decimal unit":  {yaml: route + "      max_body: 1MB", key: "gateway.routes[0].max_body", want: "KiB, MiB or GiB"},
		"groups unknown":         {yaml: route + "      groups: all", key: "gateway.routes[0].groups", want: "proxy, empty"},
		"dialect unknown":        {yaml: route + "      dialect: azure", key: "gateway.routes[0].dialect", want: "auto, entra, okta, onelogin, off"},
		"header name invalid":    {yaml: route + "      headers: {'Bad Header': x}", key: "gateway.routes[0].headers.Bad Header", want: "not a valid header name"},
		"header tenant":          {yaml: route + "      headers: {x-scim-tenant: acme}", key: "gateway.routes[0].headers.x-scim-tenant", want: "identity"},
		"header forwarded":       {yaml: route + "      headers: {X-Forwarded-For: 1.2.3.4}", key: "gateway.routes[0].headers.X-Forwarded-For", want: "client address"},
		"header forwarded alone": {yaml: route + "      headers: {Forwarded: for=1.2.3.4}", key: "gateway.routes[0].headers.Forwarded", want: "client address"},
		"header auth method":     {yaml: route + "      headers: {X-Auth-Method: jwt}", key: "gateway.routes[0].headers.X-Auth-Method", want: "set by the gateway"},
		"header hop by hop":      {yaml: route + "      headers: {Connection: close}", key: "gateway.routes[0].headers.Connection", want: "transport"},
		"header host":            {yaml: route + "      headers: {Host: other}", key: "gateway.routes[0].headers.Host", want: "transport"},
		"header authorization forwarded": {
			yaml: route + "      forward_authorization: true\n      headers: {Authorization: x}",
			key:  "gateway.routes[0].headers.Authorization", want: "forward_authorization",
		},
		"header case duplicate": {yaml: route + "      headers: {X-Key: a, x-key: b}", key: "gateway.routes[0].headers.x-key", want: "X-Key"},
		"header control char":   {yaml: route + "      headers: {X-Key: \"a\\nb\"}", key: "gateway.routes[0].headers.X-Key", want: "control characters"},
		"header variable unset": {yaml: route + "      headers: {X-Key: '${NOPE}'}", key: "gateway.routes[0].headers.X-Key", want: "${NOPE}, which is not set"},
		"header variable empty": {yaml: route + "      headers: {X-Key: '${EMPTY}'}", env: []string{"EMPTY="}, key: "gateway.routes[0].headers.X-Key", want: "empty"},
		"header unterminated":   {yaml: route + "      headers: {X-Key: 'a${B'}", key: "gateway.routes[0].headers.X-Key", want: "closing }"},
		"header bad variable":   {yaml: route + "      headers: {X-Key: '${1A}'}", key: "gateway.routes[0].headers.X-Key", want: "not a variable name"},

		"tenant rate zero":     {yaml: `ratelimit: {gateway: {tenant_rate: 0}}`, key: "ratelimit.gateway.tenant_rate", want: "more than 0"},
		"credential burst 0":   {yaml: `ratelimit: {gateway: {credential_burst: 0}}`, key: "ratelimit.gateway.credential_burst", want: "at least 1"},
		"failures per ip 0":    {yaml: `ratelimit: {token: {failures_per_ip: 0}}`, key: "ratelimit.token.failures_per_ip", want: "at least 1"},
		"token window 0":       {yaml: `ratelimit: {token: {window: 0s}}`, key: "ratelimit.token.window", want: "longer than 0s"},
		"authorize per ip 0":   {yaml: `ratelimit: {authorize: {per_ip: 0}}`, key: "ratelimit.authorize.per_ip", want: "at least 1"},
		"authorize window 0":   {yaml: `ratelimit: {authorize: {window: 0s}}`, key: "ratelimit.authorize.window", want: "longer than 0s"},
		"log format":           {yaml: `log: {format: xml}`, key: "log.format", want: `json, text, got "xml"`},
		"log level":            {yaml: `log: {level: verbose}`, key: "log.level", want: `"verbose" is not a log level: use debug, info, warn or error`},
		"audit sink":           {yaml: `audit: {sink: syslog}`, key: "audit.sink", want: "stdout, file"},
		"audit file missing":   {yaml: `audit: {sink: file}`, key: "audit.file", want: "must be set"},
		"audit file unused":    {yaml: `audit: {file: /tmp/audit.log}`, key: "audit.file", want: "only when"},
		"audit directory gone": {yaml: `audit: {sink: file, file: /nonexistent-dir/audit.log}`, key: "audit.file", want: "does not exist"},
	} {
		t.Run(name, func(t *testing.T) {
			errs := loadErrors(t, tc.yaml, tc.env...)
			if len(errs) != 1 {
				t.Fatalf("want one error about %s, got %d:\n%v", tc.key, len(errs), errs)
			}
			if errs[0].Key != tc.key || !strings.Contains(errs[0].Problem, tc.want) {
				t.Errorf("got %q\nwant key %s, problem containing %q", errs[0], tc.key, tc.want)
			}
			// The key says what the value is; a library's own prefix
			// ("redis: ", "yaml: ") would say it again.
			if p := errs[0].Problem; strings.HasPrefix(p, "redis: ") || strings.HasPrefix(p, "yaml: ") {
				t.Errorf("problem %q starts with a library's prefix", p)
			}
			if errs[0].Origin.Line == 0 {
				t.Errorf("error %q has no line", errs[0])
			}
		})
	}
}

func TestValidConfigurations(t *testing.T) {
	for name, content := range map[string]string{
		"loopback http issuer":     `issuer: http://localhost:8080`,
		"ipv6 loopback issuer":     `issuer: "http://[::1]:8080"`,
		"issuer with path":         `issuer: https://login.example.com/tenant-a`,
		"wildcard listeners":       `listen: {public: ":8080", admin: "127.0.0.1:9090"}`,
		"ephemeral ports":          `listen: {public: "127.0.0.1:0", admin: "127.0.0.1:0"}`,
		"host name listener":       `listen: {admin: "admin.internal:8081"}`,
		"redis backend url":        `store: {backend: redis, redis: {url: "rediss://user@redis.internal:6380/2", password: pw}}`,
		"redis sentinel":           `store: {backend: redis, redis: {addrs: ["s1:26379", "s2:26379"], master_name: mymaster, tls: true}}`,
		"redis unix socket":        `store: {backend: redis, redis: {url: "unix:///run/redis.sock"}}`,
		"no routes":                `gateway: {routes: []}`,
		"tenant route":             "gateway: {routes: [{prefix: '/t/{tenant}/scim/v2', upstream: 'https://u.example/scim/v2'}]}",
		"authorization header":     route + "      headers: {Authorization: Bearer abc}",
		"dollar without brace":     route + "      headers: {X-Key: a$b}",
		"zero grace and leeway":    `tokens: {refresh_grace: 0s, leeway: 0s}`,
		"bounds":                   `tokens: {access_ttl: 24h, code_ttl: 10m, leeway: 60s, refresh_grace: 4m59s}`,
		"size byte count":          route + "      max_body: 67108864",
		"token cache off":          `gateway: {token_cache_size: 0}`,
		"audit file in temp dir":   `audit: {sink: file, file: ` + filepath.Join(os.TempDir(), "audit.log") + `}`,
		"fractional rate":          `ratelimit: {gateway: {tenant_rate: 0.5}}`,
		"api key only, raw header": route + "      credentials: [api_key]\n      raw_api_key: true",
	} {
		t.Run(name, func(t *testing.T) { mustLoad(t, content) })
	}
}

func TestDecodeErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		yaml string
		want string // the whole rendered error, file name stripped
	}{
		"unknown top-level key": {"listen: {}\nlistn:\n  public: x\n", ":2: listn: unknown key (did you mean listen?)"},
		"unknown nested key":    {"listen:\n  tls:\n    cert_fiel: a\n", ":3: listen.tls.cert_fiel: unknown key (did you mean cert_file?)"},
		"unknown key far off":   {"store: {zzzzzzzz: 1}", ":1: store.zzzzzzzz: unknown key (valid keys: backend, embedded, redis)"},
		"unknown route key":     {route + "      upstrem: x\n", ":6: gateway.routes[0].upstrem: unknown key (did you mean upstream?)"},
		"wrong case":            {"Issuer: https://a.example\n", ":1: Issuer: unknown key (did you mean issuer?)"},
		"duplicate key":         {"issuer: https://a.example\nissuer: https://b.example\n", ":2: issuer: duplicate key (first at line 1)"},
		"bad duration":          {"tokens:\n  access_ttl: 1hour\n", `:2: tokens.access_ttl: "1hour" is not a duration: use Go syntax such as 90s, 10m or 1h30m`},
		"duration without unit": {"tokens: {access_ttl: 3600}", `:1: tokens.access_ttl: "3600" is not a duration: use Go syntax such as 90s, 10m or 1h30m`},
		"bad integer":           {"gateway: {token_cache_size: many}", `:1: gateway.token_cache_size: "many" is not a whole number`},
		"bad bool":              {"metrics: {enabled: maybe}", `:1: metrics.enabled: "maybe" is not true or false`},
		"bad number":            {"ratelimit: {gateway: {tenant_rate: fast}}", `:1: ratelimit.gateway.tenant_rate: "fast" is not a number`},
		"scalar for list":       {route + "      credentials: jwt\n", ":6: gateway.routes[0].credentials: expected a list, found a single value"},
		"scalar for mapping":    {"listen: 8080\n", ":1: listen: expected a mapping of keys to values, found a single value"},
		"list for scalar":       {"issuer: [a, b]\n", ":1: issuer: expected a single value, found a list"},
		"mapping for route":     {"gateway:\n  routes:\n    - /scim\n", ":3: gateway.routes[0]: expected a mapping of keys to values, found a single value"},
		"non-string key":        {"? [a]\n: b\n", ":1: (document): keys must be plain strings, found a list"},
		"document not mapping":  {"just text\n", ":1: (document): expected a mapping of keys to values, found a single value"},
		"merge cycle":           {"listen: &l {<<: *l}\n", ":1: listen: a merge key (<<) includes the mapping it is in"},
		"merge of a list":       {"listen: {<<: [a]}\n", ":1: listen: expected a mapping of keys to values, found a single value"},
		"two documents":         {"issuer: https://a.example\n---\nissuer: https://b.example\n", ":2: (document): the file must hold a single YAML document"},
		"syntax error":          {"listen:\n  public: [\n", ":2: (document): did not find expected node content"},
		"tab indentation":       {"listen:\n\tpublic: x\n", ":2: (document): found character that cannot start any token"},
	} {
		t.Run(name, func(t *testing.T) {
			errs := loadErrors(t, tc.yaml)
			got := make([]string, len(errs))
			for i, e := range errs {
				got[i] = e.Error()[strings.Index(e.Error(), ".yaml")+5:]
			}
			if !slices.Contains(got, tc.want) {
				t.Errorf("errors:\n%s\nwant one to be:\n%s", strings.Join(got, "\n"), tc.want)
			}
		})
	}
}

func TestAllErrorsAreCollected(t *testing.T) {
	errs := loadErrors(t, `
issuer: http://login.example.com
listen: {public: nowhere, bogus: 1}
tokens: {access_ttl: 48h, code_ttl: soon}
gateway:
  routes:
    - {prefix: /a, upstream: http://h}
    - {prefix: /a, upstream: "ftp://h", credentials: []}
`, "SCIMGATE_LOG_FORMAT=xml", "SCIMGATE_NOPE=1")
	var keys []string
	for _, e := range errs {
		keys = append(keys, e.Key)
	}
	want := []string{
		"listen.bogus", "tokens.code_ttl", // decoding, in file order
		"SCIMGATE_NOPE", // environment
		"issuer", "listen.public", "tokens.access_ttl", "gateway.routes[1].upstream",
		"gateway.routes[1].credentials", "gateway.routes[1].prefix", "log.format", // validation, in schema order
	}
	if !slices.Equal(keys, want) {
		t.Errorf("keys = %q\nwant %q\nerrors:\n%v", keys, want, errs)
	}
	if lines := strings.Count(errs.Error(), "\n") + 1; lines != len(want) {
		t.Errorf("Error() has %d lines, want one per problem:\n%s", lines, errs)
	}
}

func TestTLSFiles(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeKeyPair(t, cert, key)
	mustLoad(t, "listen: {tls: {cert_file: "+cert+", key_file: "+key+"}}")

	errs := loadErrors(t, "listen: {tls: {cert_file: "+filepath.Join(dir, "none.pem")+", key_file: "+dir+"}}")
	if len(errs) != 2 || errs[0].Key != "listen.tls.cert_file" || !strings.Contains(errs[0].Problem, "no such file") ||
		errs[1].Key != "listen.tls.key_file" || !strings.Contains(errs[1].Problem, "not a regular file") {
		t.Errorf("errors = %v", errs)
	}
	errs = loadErrors(t, "listen: {tls: {cert_file: "+key+", key_file: "+cert+"}}")
	if len(errs) != 1 || errs[0].Key != "listen.tls" || !strings.Contains(errs[0].Problem, "do not load") {
		t.Errorf("errors = %v", errs)
	}
}

func writeKeyPair(t *testing.T, certFile, keyFile string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	for file, block := range map[string]*pem.Block{certFile: {Type: "CERTIFICATE", Bytes: der}, keyFile: {Type: "EC PRIVATE KEY", Bytes: keyDER}} {
		if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
