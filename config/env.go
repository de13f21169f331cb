package config

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
)

// EnvPrefix starts every variable scimgate reads. A key's variable is the
// prefix plus its dotted path upper-cased, dots as underscores:
// store.redis.url is SCIMGATE_STORE_REDIS_URL, admin.token is
// SCIMGATE_ADMIN_TOKEN. List values are comma-separated. Lists of mappings
// (gateway.routes) and mappings (route headers) are set in the file only.
const EnvPrefix = "SCIMGATE_"

// EnvName is the variable that sets the configuration key key
// (listen.public: SCIMGATE_LISTEN_PUBLIC).
func EnvName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// Variables with EnvPrefix that other packages read; Load accepts them and
// reports any other unknown SCIMGATE_* variable as an error.
const (
	// EnvMasterKey holds the key that encrypts signing keys at rest.
	EnvMasterKey = "SCIMGATE_MASTER_KEY"
	// EnvConfig holds the path of the configuration file.
	EnvConfig = "SCIMGATE_CONFIG"
)

// envVar is one key that a variable can set.
type envVar struct {
	name  string // SCIMGATE_STORE_REDIS_URL
	key   string // store.redis.url
	index []int  // field index path from Config
}

// envVars lists the variables of every key of struct t that holds a single
// value or a list of single values.
func envVars(t reflect.Type, key string, index []int) []envVar {
	var out []envVar
	for _, f := range yamlFields(t) {
		ft := t.Field(f.index).Type
		k, idx := join(key, f.name), append(slices.Clip(index), f.index)
		switch {
		case isScalar(ft), ft.Kind() == reflect.Slice && isScalar(ft.Elem()):
			out = append(out, envVar{EnvName(k), k, idx})
		case ft.Kind() == reflect.Struct:
			out = append(out, envVars(ft, k, idx)...)
		}
	}
	return out
}

// envMap turns NAME=value entries into a map; a later entry wins.
func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, e := range env {
		if name, value, ok := strings.Cut(e, "="); ok {
			m[name] = value
		}
	}
	return m
}

// applyEnv sets the keys named by SCIMGATE_* variables in env. Any other
// SCIMGATE_* variable is an error unless it is read elsewhere or referenced
// by a route header (in referenced). Values are never echoed in errors of
// unknown variables, since they may be secrets.
func (l *loader) applyEnv(cfg *Config, env map[string]string, referenced map[string]bool) {
	vars := envVars(reflect.TypeFor[Config](), "", nil)
	names := make([]string, 0, len(env))
	for name := range env {
		if strings.HasPrefix(name, EnvPrefix) && name != EnvMasterKey && name != EnvConfig {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	root := reflect.ValueOf(cfg).Elem()
	for _, name := range names {
		i := slices.IndexFunc(vars, func(v envVar) bool { return v.name == name })
		switch {
		case i >= 0:
			l.setFromEnv(root.FieldByIndex(vars[i].index), vars[i], env[name])
		case strings.HasPrefix(name, EnvName("gateway.routes")):
			l.add(name, Origin{Env: name}, "gateway.routes can be set only in the configuration file (--config or %s), not from the environment", EnvConfig)
		case !referenced[name]:
			l.add(name, Origin{Env: name}, "unknown variable%s", suggestVar(name, vars))
		}
	}
}

// setFromEnv parses value into v. Earlier origins of the key and its list
// items are dropped, since the variable replaces the whole value.
func (l *loader) setFromEnv(v reflect.Value, ev envVar, value string) {
	for k := range l.origins {
		if strings.HasPrefix(k, ev.key+"[") {
			delete(l.origins, k)
		}
	}
	at := Origin{Env: ev.name}
	l.origins[ev.key] = at
	if isScalar(v.Type()) {
		if err := setScalar(v, value); err != nil {
			l.add(ev.key, at, "%v", err)
		}
		return
	}
	list := reflect.Zero(v.Type()) // an empty list is nil, as in Default
	for item := range strings.SplitSeq(value, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		elem := reflect.New(v.Type().Elem()).Elem()
		if err := setScalar(elem, item); err != nil {
			l.add(fmt.Sprintf("%s[%d]", ev.key, list.Len()), at, "%v", err)
		}
		list = reflect.Append(list, elem)
	}
	v.Set(list)
}

func suggestVar(name string, vars []envVar) string {
	names := make([]string, len(vars))
	for i, v := range vars {
		names[i] = v.name
	}
	if c := closest(name, names); c != "" {
		return fmt.Sprintf(" (did you mean %s?)", c)
	}
	return ""
}

// expandHeaders replaces ${NAME} in route header values with variables from
// env and returns the names it used.
func (l *loader) expandHeaders(cfg *Config, env map[string]string) map[string]bool {
	used := map[string]bool{}
	for i, r := range cfg.Gateway.Routes {
		for _, name := range slices.Sorted(maps.Keys(r.Headers)) {
			value, err := expand(r.Headers[name].Reveal(), env, used)
			if err != nil {
				l.problem(fmt.Sprintf("gateway.routes[%d].headers.%s", i, name), "%v", err)
				continue
			}
			r.Headers[name] = Secret(value)
		}
	}
	return used
}

// expand replaces every ${NAME} in s with env[NAME], recording NAME in used.
// A "$" not followed by "{" is kept. Errors never contain s or a value.
func expand(s string, env map[string]string, used map[string]bool) (string, error) {
	var b strings.Builder
	for {
		before, after, found := strings.Cut(s, "${")
		b.WriteString(before)
		if !found {
			return b.String(), nil
		}
		name, rest, closed := strings.Cut(after, "}")
		switch {
		case !closed:
			return "", fmt.Errorf("has a ${ without a closing }")
		case !isVarName(name):
			return "", fmt.Errorf("has a ${…} whose name is not a variable name (letters, digits, _)")
		}
		value, set := env[name]
		switch {
		case !set:
			return "", fmt.Errorf("refers to ${%s}, which is not set", name)
		case value == "":
			return "", fmt.Errorf("refers to ${%s}, which is empty", name)
		}
		used[name] = true
		b.WriteString(value)
		s = rest
	}
}

func isVarName(s string) bool {
	for i, c := range s {
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return s != ""
}
