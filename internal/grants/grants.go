// Package grants keeps the server-side state of OAuth authorization grants in
// the shared store: authorization requests waiting for an admin's sign-in and
// consent, single-use authorization codes, and refresh-token families that
// rotate on every use and are revoked as a whole when a rotated-out token
// comes back (RFC 6749 §4.1.2, §10.4; RFC 9700 §4.14.2).
//
// Every record is keyed by the SHA-256 of the secret that finds it (or by a
// public family id), never by the secret itself, so a copy of the store
// yields no usable code, session or refresh token. Every decision that must
// have exactly one winner across replicas — redeeming a code, taking a
// pending request, rotating a family — is one store.KV Take or Update.
package grants

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/scimgate/scimgate/internal/store"
)

var (
	// ErrNotFound reports an unknown, expired or already used code, pending
	// request or refresh token. Callers answer it like a wrong value.
	ErrNotFound = errors.New("grants: unknown, expired or already used")
	// ErrCodeReplayed is wrapped by *CodeReplayError.
	ErrCodeReplayed = errors.New("grants: authorization code presented again")
	// ErrRefreshReused is wrapped by *ReuseError.
	ErrRefreshReused = errors.New("grants: rotated-out refresh token presented again")
	// ErrRevoked reports a refresh token of a revoked family.
	ErrRevoked = errors.New("grants: refresh-token family revoked")
	// ErrWrongClient reports a refresh token presented by a client other
	// than the one it was issued to. Nothing changes in the family.
	ErrWrongClient = errors.New("grants: refresh token issued to another client")
	// ErrTooManyAccess refuses a refresh while the family already has as
	// many live access tokens as it can remember for revocation.
	ErrTooManyAccess = errors.New("grants: too many live access tokens for one refresh-token family")
)

// Lifetime defaults and bounds.
const (
	DefaultCodeTTL = 60 * time.Second
	// MinCodeTTL and MaxCodeTTL: node-oidc-provider uses 60 s, RFC 6749
	// §4.1.2 recommends at most 10 minutes.
	MinCodeTTL = 60 * time.Second
	MaxCodeTTL = 10 * time.Minute
	// DefaultRefreshTTL is 90 days since last use: Okta refreshes only when
	// it provisions, and a quiet tenant may provision once a month.
	DefaultRefreshTTL = 2160 * time.Hour
	MinRefreshTTL     = time.Hour
	// MaxRefreshGrace follows Hydra's ceiling for a rotation grace period.
	MaxRefreshGrace = 5 * time.Minute
	// DefaultPendingTTL bounds the whole sign-in and consent step.
	DefaultPendingTTL = 10 * time.Minute
)

// Options configure a Store. Zero durations take the defaults, except
// RefreshGrace, where zero means no grace at all.
type Options struct {
	CodeTTL      time.Duration
	RefreshTTL   time.Duration
	RefreshGrace time.Duration
	PendingTTL   time.Duration
	// Now is the clock; time.Now when nil. Expiry is checked against it as
	// well as through the store's TTLs, so tests can move time forward.
	Now func() time.Time
}

// Store keeps grants in a store.KV. It is safe for concurrent use by any
// number of goroutines and replicas.
type Store struct {
	kv   store.KV
	opts Options
}

// New returns a Store over kv.
func New(kv store.KV, opts Options) (*Store, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.CodeTTL == 0 {
		opts.CodeTTL = DefaultCodeTTL
	}
	if opts.RefreshTTL == 0 {
		opts.RefreshTTL = DefaultRefreshTTL
	}
	if opts.PendingTTL == 0 {
		opts.PendingTTL = DefaultPendingTTL
	}
	switch {
	case opts.CodeTTL < MinCodeTTL || opts.CodeTTL > MaxCodeTTL:
		return nil, fmt.Errorf("grants: code lifetime %s must be between %s and %s", opts.CodeTTL, MinCodeTTL, MaxCodeTTL)
	case opts.RefreshTTL < MinRefreshTTL:
		return nil, fmt.Errorf("grants: refresh-token lifetime %s must be at least %s", opts.RefreshTTL, MinRefreshTTL)
	case opts.RefreshGrace < 0 || opts.RefreshGrace >= MaxRefreshGrace:
		return nil, fmt.Errorf("grants: refresh grace %s must be at least 0s and less than %s", opts.RefreshGrace, MaxRefreshGrace)
	case opts.PendingTTL <= 0:
		return nil, fmt.Errorf("grants: pending-request lifetime %s must be positive", opts.PendingTTL)
	}
	return &Store{kv: kv, opts: opts}, nil
}

// CodeTTL is the lifetime of new authorization codes.
func (s *Store) CodeTTL() time.Duration { return s.opts.CodeTTL }

// RefreshTTL is the sliding lifetime of refresh-token families.
func (s *Store) RefreshTTL() time.Duration { return s.opts.RefreshTTL }

// Store key prefixes. Everything this package keeps lives under "grants/".
const (
	pendingPrefix = "grants/pending/"
	codePrefix    = "grants/code/"
	codeUsePrefix = "grants/codeuse/"
	familyPrefix  = "grants/family/"
	spentPrefix   = "grants/spent/"
)

// hashKey is prefix + hex(SHA-256(secret)). The secrets are 256-bit random
// values, so an unkeyed hash is enough to make the key useless to a reader
// of the store.
func hashKey(prefix, secret string) string {
	return prefix + hashOf(secret)
}

func hashOf(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

func decode[T any](key string, b []byte) (*T, error) {
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("grants: decode %s: %w", key, err)
	}
	return &v, nil
}

func encode(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("grants: encode: %w", err)
	}
	return b, nil
}

// getJSON reads the record under key; an absent key is ErrNotFound.
func getJSON[T any](ctx context.Context, kv store.KV, key string) (*T, error) {
	b, err := kv.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("grants: read: %w", err)
	}
	return decode[T](key, b)
}

// takeJSON reads and removes the record under key in one atomic step.
func takeJSON[T any](ctx context.Context, kv store.KV, key string) (*T, error) {
	b, err := kv.Take(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("grants: take: %w", err)
	}
	return decode[T](key, b)
}

// ttlUntil is the store TTL for a record that expires at t; at least a
// second, so a deadline that is (almost) reached never becomes "no expiry".
func ttlUntil(t, now time.Time) time.Duration {
	return max(t.Sub(now), time.Second)
}
