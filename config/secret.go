package config

import "log/slog"

// redacted stands in for a secret wherever a value would be shown.
const redacted = "[REDACTED]"

// Secret is a configuration value that must never be shown: admin token,
// Redis password, upstream header values. fmt, log/slog, encoding/json and
// YAML all render it as [REDACTED] (or as "" when it is empty, so that an
// unset secret is still visible as unset). Reveal returns the value itself.
type Secret string

// Reveal returns the secret value. Call it only where the value is used.
func (s Secret) Reveal() string { return string(s) }

// String redacts the secret for fmt's %v, %s and %q.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString redacts the secret for fmt's %#v.
func (s Secret) GoString() string { return `config.Secret("` + s.String() + `")` }

// MarshalText redacts the secret for encoding/json and YAML.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue redacts the secret for log/slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }
