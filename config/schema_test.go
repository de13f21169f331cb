package config

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/scimgate/scimgate/internal/testkit"
)

// The configuration reference is generated from the comments in config.go,
// so every field must carry one and a yaml tag.
func TestEveryFieldIsDocumented(t *testing.T) {
	for _, f := range testkit.StructFields(t, "config.go") {
		if f.Doc == "" || !strings.Contains(f.Tag, `yaml:"`) {
			t.Errorf("%s.%s needs a doc comment and a yaml tag", f.Type, f.Name)
		}
	}
}

// schemaKeys lists the dotted key of every value in the schema; list items
// appear as [0] and map entries as a single name.
func schemaKeys(t reflect.Type, key string) []string {
	var keys []string
	for _, f := range yamlFields(t) {
		ft, k := t.Field(f.index).Type, join(key, f.name)
		switch {
		case isScalar(ft):
		case ft.Kind() == reflect.Struct:
			keys = append(keys, schemaKeys(ft, k)...)
			continue
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct && !isScalar(ft.Elem()):
			keys = append(keys, schemaKeys(ft.Elem(), k+"[0]")...)
		}
		keys = append(keys, k)
	}
	return keys
}

func TestExampleShowsEveryKey(t *testing.T) {
	data, err := os.ReadFile("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	l := newLoader("example.yaml")
	l.decodeFile(data, Default())
	if len(l.errs) > 0 {
		t.Fatal(l.errs)
	}
	for _, key := range schemaKeys(reflect.TypeFor[Config](), "") {
		if _, ok := l.origins[key]; !ok {
			t.Errorf("example.yaml does not show %s", key)
		}
	}
}

func TestEnvNames(t *testing.T) {
	vars := envVars(reflect.TypeFor[Config](), "", nil)
	byName := map[string]string{}
	for _, v := range vars {
		if other, dup := byName[v.name]; dup {
			t.Errorf("%s and %s both map to %s", other, v.key, v.name)
		}
		byName[v.name] = v.key
	}
	for name, key := range map[string]string{
		"SCIMGATE_ADMIN_TOKEN":             "admin.token",
		"SCIMGATE_STORE_BACKEND":           "store.backend",
		"SCIMGATE_STORE_REDIS_URL":         "store.redis.url",
		"SCIMGATE_STORE_REDIS_MASTER_NAME": "store.redis.master_name",
		"SCIMGATE_LISTEN_PUBLIC":           "listen.public",
		"SCIMGATE_LISTEN_TRUSTED_PROXIES":  "listen.trusted_proxies",
		"SCIMGATE_TOKENS_ACCESS_TTL":       "tokens.access_ttl",
		"SCIMGATE_RATELIMIT_TOKEN_WINDOW":  "ratelimit.token.window",
	} {
		if byName[name] != key {
			t.Errorf("%s sets %q, want %s", name, byName[name], key)
		}
	}
	for _, elsewhere := range []string{EnvMasterKey, EnvConfig} {
		if _, clash := byName[elsewhere]; clash {
			t.Errorf("%s is read elsewhere but also sets %s", elsewhere, byName[elsewhere])
		}
	}
	if _, ok := byName["SCIMGATE_GATEWAY_ROUTES"]; ok {
		t.Error("routes must not be settable from the environment")
	}
	settable := map[string]bool{}
	for _, key := range byName {
		settable[key] = true
	}
	for _, key := range schemaKeys(reflect.TypeFor[Config](), "") {
		if !strings.HasPrefix(key, "gateway.routes") && !settable[key] {
			t.Errorf("%s has no variable", key)
		}
	}
}
