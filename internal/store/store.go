// Package store defines the small key-value contract every scimgate record is
// kept behind, so that the embedded bbolt file and a shared Redis behave the
// same way for the domain packages built on top of it.
//
// Domain packages (credentials, keys, grants) never see a backend: they
// serialise their records to bytes and rely only on the guarantees documented
// here, which the conformance suite in storetest checks against every backend.
package store

import (
	"context"
	"errors"
	"time"
)

var (
	// ErrNotFound reports a key that is absent or whose TTL has passed.
	ErrNotFound = errors.New("store: not found")
	// ErrExists reports a Create on a key that is already present.
	ErrExists = errors.New("store: already exists")
)

// Entry is one key and its value, as returned by List.
type Entry struct {
	Key   string
	Value []byte
}

// KV is the contract both backends implement.
//
// Keys are printable ASCII without spaces; values are never empty. A ttl of
// zero means "no expiry"; a positive ttl makes the key disappear (Get, Take,
// List and Update all treat it as absent) once it has passed. A negative ttl
// is an error and writes nothing, so a deadline computed to lie in the past
// never turns into "no expiry". Every write (Set, Create, Update) sets the
// key's ttl afresh: writing with ttl zero removes an earlier expiry.
//
// Values returned to the caller (and old passed to Update's fn) are the
// caller's own copies, and the store keeps its own copy of values written.
// A call made with a context that is already done fails with ctx.Err().
//
// Every write that returns nil is durable: it survives a crash of the process
// (kill -9) on the embedded backend and is acknowledged by Redis.
type KV interface {
	// Get returns the value under key or ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)
	// Set stores value under key, replacing any previous value and ttl.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Create stores value under key only if the key is absent, else ErrExists.
	Create(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Delete removes key. Removing an absent key is not an error.
	Delete(ctx context.Context, key string) error
	// Take reads and removes key in one atomic step: among any number of
	// concurrent callers, across processes, exactly one receives the value and
	// the others ErrNotFound. Authorization codes rely on it.
	Take(ctx context.Context, key string) ([]byte, error)
	// Update replaces the value under key with fn(old) atomically: no other
	// write to key happens between the read and the write. old is nil when
	// the key is absent. fn may be called more than once (optimistic retry)
	// and must not have side effects. If fn returns a nil value the key is
	// deleted; if fn returns an error nothing is written and Update returns
	// that error unchanged (so callers can use sentinel errors).
	Update(ctx context.Context, key string, fn func(old []byte) (value []byte, ttl time.Duration, err error)) error
	// List returns every live entry whose key starts with prefix, sorted by
	// key. It is meant for management operations, not for hot paths.
	List(ctx context.Context, prefix string) ([]Entry, error)
	// Ping reports whether the backend is reachable.
	Ping(ctx context.Context) error
	// Close releases the backend.
	Close() error
}
