// Package denylist remembers revoked access-token ids (jti) until the tokens
// they name would have expired anyway, so that a self-contained JWT can be
// revoked before its exp.
package denylist

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/scimgate/scimgate/internal/store"
)

const keyPrefix = "deny/"

// List is a jti deny-list kept in the shared store, with a short in-process
// memory of "not revoked" answers so that the gateway does not pay a store
// round trip per request. Revocations made through this List are seen at
// once; revocations made by another replica are seen within NegativeTTL.
type List struct {
	kv          store.KV
	now         func() time.Time
	negativeTTL time.Duration

	mu      sync.Mutex
	revoked map[string]time.Time // jti → token expiry
	clean   map[string]time.Time // jti → when the "not revoked" answer goes stale
}

// Options configure a List.
type Options struct {
	// NegativeTTL bounds how long a "not revoked" answer is reused. Zero
	// disables the cache (every check reads the store).
	NegativeTTL time.Duration
	Now         func() time.Time
}

// maxCached bounds both caches; when full they are simply cleared, which
// costs a few store reads and never a wrong answer.
const maxCached = 100_000

// New returns a List over kv.
func New(kv store.KV, opts Options) *List {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &List{kv: kv, now: opts.Now, negativeTTL: opts.NegativeTTL,
		revoked: map[string]time.Time{}, clean: map[string]time.Time{}}
}

// Revoke puts jti on the list until expires: as long as any verifier may
// still accept the token (the authorization server passes exp plus twice
// the leeway, since the verifier's clock may lag the one that times the
// entry). An expires already past is a no-op.
func (l *List) Revoke(ctx context.Context, jti string, expires time.Time) error {
	if jti == "" {
		return errors.New("denylist: empty jti")
	}
	ttl := expires.Sub(l.now())
	if ttl <= 0 {
		return nil
	}
	if err := l.kv.Set(ctx, keyPrefix+jti, []byte{'1'}, ttl); err != nil {
		return fmt.Errorf("denylist: revoke: %w", err)
	}
	l.mu.Lock()
	if len(l.revoked) >= maxCached {
		clear(l.revoked)
	}
	l.revoked[jti] = expires
	delete(l.clean, jti)
	l.mu.Unlock()
	return nil
}

// Revoked reports whether jti is on the list.
func (l *List) Revoked(ctx context.Context, jti string) (bool, error) {
	now := l.now()
	l.mu.Lock()
	if exp, ok := l.revoked[jti]; ok && now.Before(exp) {
		l.mu.Unlock()
		return true, nil
	}
	if stale, ok := l.clean[jti]; ok && now.Before(stale) {
		l.mu.Unlock()
		return false, nil
	}
	l.mu.Unlock()

	_, err := l.kv.Get(ctx, keyPrefix+jti)
	switch {
	case err == nil:
		return true, nil
	case !errors.Is(err, store.ErrNotFound):
		return false, fmt.Errorf("denylist: check: %w", err)
	}
	if l.negativeTTL > 0 {
		l.mu.Lock()
		if len(l.clean) >= maxCached {
			clear(l.clean)
		}
		l.clean[jti] = now.Add(l.negativeTTL)
		l.mu.Unlock()
	}
	return false, nil
}
