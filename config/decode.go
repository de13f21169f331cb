package config

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// maxNodes bounds the YAML nodes visited while decoding, aliases expanded,
// so that a file of nested aliases cannot make decoding explode.
const maxNodes = 100_000

// docKey names the document itself in errors that concern no single key.
const docKey = "(document)"

// decodeFile decodes one YAML document from data into cfg.
//
// The file is parsed into a yaml.Node tree, which is then walked alongside
// the Config struct, guided by the yaml tags, so that every error carries
// the dotted key and the line. This walk replaces the library's own struct
// mapping: Decoder.KnownFields(true) reports an unknown key as text naming a
// Go type ("field x not found in type config.TLS"), not the dotted key, and
// stops at the first error of a custom unmarshaler.
func (l *loader) decodeFile(data []byte, cfg *Config) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	switch err := dec.Decode(&doc); {
	case errors.Is(err, io.EOF):
		return // empty file: defaults
	case err != nil:
		line, msg := splitSyntaxError(err)
		l.add(docKey, l.at(line), "%s", msg)
		return
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		l.add(docKey, l.at(extra.Line), "the file must hold a single YAML document")
	}
	l.value(&doc, reflect.ValueOf(cfg).Elem(), "", doc.Line)
}

// splitSyntaxError splits a yaml syntax error ("yaml: line 3: did not find
// expected key") into its line and its message.
func splitSyntaxError(err error) (line int, msg string) {
	msg = strings.TrimPrefix(err.Error(), "yaml: ")
	rest, ok := strings.CutPrefix(msg, "line ")
	if !ok {
		return 0, msg
	}
	digits, rest, ok := strings.Cut(rest, ": ")
	if n, convErr := strconv.Atoi(digits); ok && convErr == nil {
		return n, rest
	}
	return 0, msg
}

func (l *loader) at(line int) Origin { return Origin{File: l.file, Line: line} }

// resolve follows aliases and documents to the node that holds the value,
// charging the node budget. It returns nil once the budget is spent.
func (l *loader) resolve(n *yaml.Node) *yaml.Node {
	for n != nil && (n.Kind == yaml.AliasNode || n.Kind == yaml.DocumentNode) {
		if n.Kind == yaml.AliasNode {
			n = n.Alias
		} else if len(n.Content) == 0 {
			return nil
		} else {
			n = n.Content[0]
		}
	}
	if n == nil || !l.spend(1, n.Line) {
		return nil
	}
	return n
}

// spend charges n nodes to the budget and reports whether any was left.
func (l *loader) spend(n, line int) bool {
	if l.budget <= 0 {
		return false
	}
	if l.budget -= n; l.budget <= 0 {
		l.add(docKey, l.at(line), "the document is too large or expands too many aliases")
		return false
	}
	return true
}

// value decodes n into v. key is v's dotted path and line the line of the
// key (or list item) that introduced it.
func (l *loader) value(n *yaml.Node, v reflect.Value, key string, line int) {
	n = l.resolve(n)
	if n == nil || n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // keep the default
	}
	l.origins[key] = l.at(line)
	switch {
	case isScalar(v.Type()):
		if n.Kind != yaml.ScalarNode {
			l.add(key, l.at(line), "expected a single value, found %s", kindName(n))
			return
		}
		if err := setScalar(v, n.Value); err != nil {
			l.add(key, l.at(line), "%v", err)
		}
	case v.Kind() == reflect.Struct:
		l.structure(n, v, key, line)
	case v.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			l.add(key, l.at(line), "expected a list, found %s", kindName(n))
			return
		}
		list := reflect.Zero(v.Type()) // an empty list is nil, as in Default
		for i, item := range n.Content {
			elem := newElem(v.Type().Elem())
			l.value(item, elem, fmt.Sprintf("%s[%d]", key, i), item.Line)
			list = reflect.Append(list, elem)
		}
		v.Set(list)
	case v.Kind() == reflect.Map:
		pairs := l.pairs(n, key, line)
		if pairs == nil {
			return
		}
		m := reflect.MakeMapWithSize(v.Type(), len(pairs))
		for _, p := range pairs {
			elem := newElem(v.Type().Elem())
			l.value(p.value, elem, join(key, p.key.Value), p.key.Line)
			m.SetMapIndex(reflect.ValueOf(p.key.Value).Convert(v.Type().Key()), elem)
		}
		v.Set(m)
	default:
		panic("config: no decoding for " + v.Type().String()) // a schema bug, caught by the tests
	}
}

// structure decodes a mapping into the fields of struct v.
func (l *loader) structure(n *yaml.Node, v reflect.Value, key string, line int) {
	pairs := l.pairs(n, key, line)
	fields := yamlFields(v.Type())
	for _, p := range pairs {
		i := slices.IndexFunc(fields, func(f field) bool { return f.name == p.key.Value })
		if i < 0 {
			l.add(join(key, p.key.Value), l.at(p.key.Line), "unknown key%s", suggest(p.key.Value, fields))
			continue
		}
		l.value(p.value, v.Field(fields[i].index), join(key, p.key.Value), p.key.Line)
	}
}

type pair struct{ key, value *yaml.Node }

// pairs lists the key/value pairs of a mapping with merge keys (<<: *base)
// applied: explicit keys win over merged ones, earlier merges over later.
// Keys must be strings and appear once. It returns nil if n is not a mapping.
func (l *loader) pairs(n *yaml.Node, key string, line int) []pair {
	if n.Kind != yaml.MappingNode {
		l.add(key, l.at(line), "expected a mapping of keys to values, found %s", kindName(n))
		return nil
	}
	if l.inMapping[n] {
		l.add(key, l.at(n.Line), "a merge key (<<) includes the mapping it is in")
		return nil
	}
	l.inMapping[n] = true
	defer delete(l.inMapping, n)
	var explicit, merged []pair
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			merged = append(merged, l.merge(val, key)...)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			l.add(key, l.at(k.Line), "keys must be plain strings, found %s", kindName(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			l.add(join(key, k.Value), l.at(k.Line), "duplicate key (first at line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		explicit = append(explicit, pair{k, val})
	}
	out := explicit
	for _, p := range merged {
		if _, dup := seen[p.key.Value]; !dup {
			seen[p.key.Value] = p.key.Line
			out = append(out, p)
		}
	}
	return out
}

// merge returns the pairs a merge key's value contributes: one mapping or a
// list of mappings.
func (l *loader) merge(n *yaml.Node, key string) []pair {
	if n = l.resolve(n); n == nil {
		return nil
	}
	sources := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		sources = n.Content
	}
	var out []pair
	for _, s := range sources {
		if s = l.resolve(s); s != nil {
			out = append(out, l.pairs(s, key, s.Line)...) // merged keys belong to key itself
		}
	}
	if !l.spend(len(out), n.Line) { // chains of merges copy pairs at every link
		return nil
	}
	return out
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return "a single value"
	}
}

// join appends a mapping key to a dotted path.
func join(key, name string) string {
	if key == "" {
		return name
	}
	return key + "." + name
}

// field is one yaml-tagged struct field.
type field struct {
	name  string
	index int
}

func yamlFields(t reflect.Type) []field {
	fields := make([]field, 0, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			fields = append(fields, field{name, i})
		}
	}
	return fields
}

// suggest names the closest valid key, or lists the valid keys.
func suggest(name string, fields []field) string {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	if c := closest(name, names); c != "" {
		return fmt.Sprintf(" (did you mean %s?)", c)
	}
	return " (valid keys: " + strings.Join(names, ", ") + ")"
}

// closest returns the candidate within edit distance 2 of name
// (case-insensitively), or "".
func closest(name string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if dist := editDistance(strings.ToLower(name), strings.ToLower(c)); dist < bestDist {
			best, bestDist = c, dist
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// newElem makes a fresh list or map element; routes start from DefaultRoute.
func newElem(t reflect.Type) reflect.Value {
	v := reflect.New(t).Elem()
	if t == reflect.TypeFor[Route]() {
		v.Set(reflect.ValueOf(DefaultRoute()))
	}
	return v
}

// isScalar reports whether values of t are written as one YAML scalar or
// one environment value.
func isScalar(t reflect.Type) bool {
	if t == reflect.TypeFor[time.Duration]() || reflect.PointerTo(t).Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) {
		return true
	}
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int64, reflect.Float64:
		return true
	}
	return false
}

// setScalar parses s into v, which isScalar accepts. Its errors quote s, so
// it must not be used for secrets (which are strings and cannot fail).
func setScalar(v reflect.Value, s string) error {
	if l, ok := v.Addr().Interface().(*slog.Level); ok {
		// slog's own error ("unknown name") does not say what is known.
		if err := l.UnmarshalText([]byte(s)); err != nil {
			return fmt.Errorf("%q is not a log level: use debug, info, warn or error", s)
		}
		return nil
	}
	if p, ok := v.Addr().Interface().(*netip.Prefix); ok {
		// A bare address is the one host, as nginx's set_real_ip_from reads it.
		if a, err := netip.ParseAddr(s); err == nil {
			*p = netip.PrefixFrom(a, a.BitLen())
			return nil
		}
		if _, err := netip.ParsePrefix(s); err != nil {
			return fmt.Errorf("%q is not an address or a CIDR such as 10.0.0.0/8", s)
		}
	}
	if u, ok := v.Addr().Interface().(encoding.TextUnmarshaler); ok {
		return u.UnmarshalText([]byte(s)) // the errors of all our types quote s
	}
	if v.Type() == reflect.TypeFor[time.Duration]() {
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("%q is not a duration: use Go syntax such as 90s, 10m or 1h30m", s)
		}
		v.SetInt(int64(d))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%q is not true or false", s)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v.OverflowInt(n) {
			return fmt.Errorf("%q is not a whole number", s)
		}
		v.SetInt(n)
	case reflect.Float64:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("%q is not a number", s)
		}
		v.SetFloat(f)
	}
	return nil
}
