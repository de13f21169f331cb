package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxFileSize bounds the configuration file; real ones are a few KiB.
const maxFileSize = 1 << 20

// Load reads the YAML file at path (none if path is ""), applies the
// SCIMGATE_* variables found in env (such as os.Environ()), and validates
// the result. On invalid configuration the error is an Errors listing every
// problem; other errors (an unreadable file) are returned wrapped.
//
// Empty route audiences are filled in as issuer + prefix.
func Load(path string, env []string) (*Config, error) {
	var data []byte
	if path != "" {
		var err error
		if data, err = readFile(path); err != nil {
			return nil, err
		}
	}
	return load(path, data, env)
}

// Validate checks c as Load does and returns an Errors, or nil. Use it for a
// Config built in code; errors name keys but no lines.
func (c *Config) Validate() error {
	l := newLoader("")
	l.validate(c)
	return l.err()
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fileError(path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fileError(path, err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("configuration file %s is larger than %s", path, Size(maxFileSize))
	}
	return data, nil
}

// fileError names the configuration file once, where the *fs.PathError of
// os.Open or Read would repeat it ("open x.yaml: ...", "read /etc: is a
// directory").
func fileError(path string, err error) error {
	var pathErr *fs.PathError
	if errors.As(err, &pathErr) {
		return fmt.Errorf("configuration file %s: %w", path, pathErr.Err)
	}
	return fmt.Errorf("configuration file %s: %w", path, err)
}

// load is Load after the file has been read: file data, then environment,
// then validation.
func load(path string, data []byte, env []string) (*Config, error) {
	cfg := Default()
	l := newLoader(path)
	if path != "" {
		l.decodeFile(data, cfg)
		if l.budget <= 0 {
			return nil, l.err() // the rest would only be noise about a half-read file
		}
	}
	vars := envMap(env)
	expanded := l.expandHeaders(cfg, vars)
	l.applyEnv(cfg, vars, expanded)
	l.settle(cfg)
	l.validate(cfg)
	if err := l.err(); err != nil {
		return nil, err
	}
	for i, r := range cfg.Gateway.Routes {
		if r.Audience == "" {
			cfg.Gateway.Routes[i].Audience = cfg.Issuer + r.Prefix
		}
	}
	return cfg, nil
}

// settle resolves defaults that depend on what was set explicitly: Redis
// addresses replace the default URL unless a URL was given as well.
func (l *loader) settle(cfg *Config) {
	if _, set := l.origins["store.redis.url"]; !set && len(cfg.Store.Redis.Addrs) > 0 {
		cfg.Store.Redis.URL = ""
	}
}

// loader collects the problems of one configuration and remembers where
// each value came from, so that an error can point at the line or variable.
type loader struct {
	file    string
	origins map[string]Origin // by dotted key
	errs    Errors
	budget  int // YAML nodes left to visit

	// inMapping holds the mappings being decoded, to refuse merge cycles.
	inMapping map[*yaml.Node]bool
}

func newLoader(file string) *loader {
	return &loader{file: file, origins: map[string]Origin{}, budget: maxNodes, inMapping: map[*yaml.Node]bool{}}
}

// add records a problem whose origin is known.
func (l *loader) add(key string, at Origin, format string, args ...any) {
	if key == "" {
		key = docKey
	}
	l.errs = append(l.errs, FieldError{Key: key, Origin: at, Problem: fmt.Sprintf(format, args...)})
}

// problem records a problem with the value at key, located at the nearest
// origin recorded for key or one of its parents.
func (l *loader) problem(key, format string, args ...any) {
	l.add(key, l.origin(key), format, args...)
}

func (l *loader) origin(key string) Origin {
	for k := key; k != ""; k = k[:max(strings.LastIndexAny(k, ".["), 0)] {
		if o, ok := l.origins[k]; ok {
			return o
		}
	}
	return Origin{}
}

func (l *loader) err() error {
	if len(l.errs) == 0 {
		return nil
	}
	return l.errs
}
