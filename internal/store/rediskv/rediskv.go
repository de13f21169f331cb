// Package rediskv implements store.KV on Redis (single node, Cluster or
// Sentinel), the backend shared by several scimgate replicas.
//
// Requires Redis 6.2 or later (Take uses GETDEL). Durability is what the
// server is configured for: a write is acknowledged once Redis accepted it.
package rediskv

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/scimgate/scimgate/internal/store"
)

// Update backs off between conflicting attempts with full jitter, doubling
// from minBackoff up to maxBackoff, so that many writers on one hot key
// spread out instead of colliding in lockstep.
const (
	minBackoff = time.Millisecond
	maxBackoff = 32 * time.Millisecond
)

// listBatch is how many keys List reads per pipelined round trip, and the
// COUNT hint of its SCAN.
const listBatch = 512

// Store is a store.KV on Redis. It is safe for concurrent use.
type Store struct {
	client      redis.UniversalClient
	prefix      string
	maxAttempts int

	closeOnce sync.Once
	closeErr  error
}

var _ store.KV = (*Store)(nil)

// Open connects to the deployment described by opts and pings it; an
// unreachable server fails Open.
func Open(ctx context.Context, opts Options) (*Store, error) {
	cfg, err := buildConfig(opts)
	if err != nil {
		return nil, err
	}
	maxAttempts := opts.MaxUpdateAttempts
	if maxAttempts <= 0 {
		maxAttempts = DefaultMaxUpdateAttempts
	}
	s := &Store{client: cfg.newClient(), prefix: opts.Prefix, maxAttempts: maxAttempts}
	if err := s.client.Ping(ctx).Err(); err != nil {
		_ = s.client.Close()
		return nil, &UnreachableError{Server: cfg.describe(), Err: err}
	}
	if err := s.probeGetDel(ctx); err != nil {
		_ = s.client.Close()
		return nil, fmt.Errorf("rediskv: %s: %w", cfg.describe(), err)
	}
	return s, nil
}

// UnreachableError is the failure of Open's first command: no connection,
// or a server that refused it (a wrong password, database or user).
type UnreachableError struct {
	Server string // "tcp host:port", "cluster a,b", "master \"m\" via sentinels a,b"
	Err    error
}

func (e *UnreachableError) Error() string {
	var opErr *net.OpError
	if errors.As(e.Err, &opErr) && opErr.Err != nil {
		// Without "dial tcp host:port", which repeats Server.
		return fmt.Sprintf("cannot reach Redis (%s): %v", e.Server, opErr.Err)
	}
	if errors.Is(e.Err, context.DeadlineExceeded) || os.IsTimeout(e.Err) {
		return fmt.Sprintf("cannot reach Redis (%s): no answer in time", e.Server)
	}
	return fmt.Sprintf("Redis (%s) refused scimgate: %s", e.Server, strings.TrimSuffix(e.Err.Error(), "."))
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// Refused reports that the server answered, with an error: credentials,
// database number or ACL, rather than the network.
func (e *UnreachableError) Refused() bool {
	var opErr *net.OpError
	return !errors.As(e.Err, &opErr) && !errors.Is(e.Err, context.DeadlineExceeded) && !os.IsTimeout(e.Err)
}

// probeGetDel runs GETDEL on a key that never exists, so that a server
// without it (Redis before 6.2) is refused at start with a message that
// says why, not at the first authorization code a user redeems. Asking
// the command itself, rather than parsing INFO's version, also holds for
// proxies and Redis-compatible servers that answer INFO differently.
func (s *Store) probeGetDel(ctx context.Context) error {
	err := s.client.GetDel(ctx, s.key("scimgate:probe:getdel")).Err()
	switch {
	case err == nil, errors.Is(err, redis.Nil):
		return nil
	case strings.Contains(strings.ToLower(err.Error()), "unknown command"):
		return fmt.Errorf("the server does not support GETDEL; scimgate needs Redis 6.2 or later: %w", err)
	}
	return fmt.Errorf("probing GETDEL: %w", err)
}

// Client returns the underlying client for packages that need Redis itself
// (rate limiting, revocation cache). Keys written through it are not
// namespaced; use Prefix to stay inside this store's namespace.
func (s *Store) Client() redis.UniversalClient { return s.client }

// Prefix returns the namespace prepended to every key of this store.
func (s *Store) Prefix() string { return s.prefix }

func (s *Store) key(k string) string { return s.prefix + k }

// Get implements store.KV.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	v, err := s.client.Get(ctx, s.key(key)).Bytes()
	if err != nil {
		return nil, wrap("get", err)
	}
	return v, nil
}

// Set implements store.KV. A zero ttl removes any earlier expiry.
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := checkWrite(ctx, ttl); err != nil {
		return err
	}
	return wrap("set", s.client.Set(ctx, s.key(key), value, expiry(ttl)).Err())
}

// Create implements store.KV with SET NX.
func (s *Store) Create(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := checkWrite(ctx, ttl); err != nil {
		return err
	}
	created, err := s.client.SetNX(ctx, s.key(key), value, expiry(ttl)).Result()
	if err != nil {
		return wrap("create", err)
	}
	if !created {
		return store.ErrExists
	}
	return nil
}

// Delete implements store.KV.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return wrap("delete", s.client.Del(ctx, s.key(key)).Err())
}

// Take implements store.KV with GETDEL, which Redis executes atomically.
func (s *Store) Take(ctx context.Context, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	v, err := s.client.GetDel(ctx, s.key(key)).Bytes()
	if err != nil {
		return nil, wrap("take", err)
	}
	return v, nil
}

// Update implements store.KV with WATCH/GET/MULTI/EXEC. When another client
// writes the key in between, EXEC fails and the whole step, fn included, is
// retried after a jittered backoff, up to Options.MaxUpdateAttempts times.
func (s *Store) Update(ctx context.Context, key string, fn func(old []byte) ([]byte, time.Duration, error)) error {
	k := s.key(key)
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		var fnErr error
		err := s.client.Watch(ctx, func(tx *redis.Tx) error {
			old, err := tx.Get(ctx, k).Bytes()
			if err != nil && !errors.Is(err, redis.Nil) {
				return err
			}
			next, ttl, err := fn(old)
			if err == nil && next != nil {
				err = checkTTL(ttl)
			}
			if err != nil {
				fnErr = err
				return err
			}
			if next == nil && old == nil {
				return nil
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				if next == nil {
					p.Del(ctx, k)
				} else {
					p.Set(ctx, k, next, expiry(ttl))
				}
				return nil
			})
			return err
		}, k)
		switch {
		case fnErr != nil:
			return fnErr
		case err == nil:
			return nil
		case !errors.Is(err, redis.TxFailedErr):
			return wrap("update", err)
		case attempt >= s.maxAttempts:
			return fmt.Errorf("rediskv: update: key still contended after %d attempts: %w", attempt, err)
		}
		if err := sleep(ctx, backoff(attempt)); err != nil {
			return err
		}
	}
}

func backoff(attempt int) time.Duration {
	ceiling := maxBackoff
	if attempt < 6 {
		ceiling = min(maxBackoff, minBackoff<<attempt)
	}
	return rand.N(ceiling) + 1
}

func sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// List implements store.KV: SCAN on every master, then pipelined GETs.
// Keys that vanish between the two steps are skipped.
func (s *Store) List(ctx context.Context, prefix string) ([]store.Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	keys, err := s.scan(ctx, escapeGlob(s.prefix+prefix)+"*")
	if err != nil {
		return nil, wrap("list", err)
	}
	slices.Sort(keys)
	keys = slices.Compact(keys) // SCAN may report a key twice

	var out []store.Entry
	for batch := range slices.Chunk(keys, listBatch) {
		cmds := make([]*redis.StringCmd, len(batch))
		_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, k := range batch {
				cmds[i] = p.Get(ctx, k)
			}
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, wrap("list", err)
		}
		for i, cmd := range cmds {
			v, err := cmd.Bytes()
			if errors.Is(err, redis.Nil) {
				continue
			}
			if err != nil {
				return nil, wrap("list", err)
			}
			out = append(out, store.Entry{Key: strings.TrimPrefix(batch[i], s.prefix), Value: v})
		}
	}
	return out, nil
}

// scan collects the keys matching pattern. A Cluster spreads keys over its
// masters, so each master is scanned.
func (s *Store) scan(ctx context.Context, pattern string) ([]string, error) {
	cluster, ok := s.client.(*redis.ClusterClient)
	if !ok {
		return scanNode(ctx, s.client, pattern)
	}
	var mu sync.Mutex
	var keys []string
	err := cluster.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		found, err := scanNode(ctx, node, pattern)
		mu.Lock()
		keys = append(keys, found...)
		mu.Unlock()
		return err
	})
	return keys, err
}

func scanNode(ctx context.Context, node redis.Cmdable, pattern string) ([]string, error) {
	var keys []string
	it := node.Scan(ctx, 0, pattern, listBatch).Iterator()
	for it.Next(ctx) {
		keys = append(keys, it.Val())
	}
	return keys, it.Err()
}

// escapeGlob quotes the characters Redis MATCH patterns treat specially, so a
// prefix matches only itself.
func escapeGlob(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := range len(s) {
		switch c := s[i]; c {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Ping implements store.KV.
func (s *Store) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return wrap("ping", s.client.Ping(ctx).Err())
}

// Close closes the client. Later calls return the first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if err := s.client.Close(); err != nil {
			s.closeErr = fmt.Errorf("rediskv: close: %w", err)
		}
	})
	return s.closeErr
}

// wrap maps redis.Nil to store.ErrNotFound and labels other errors, leaving
// context errors recognisable through errors.Is.
func wrap(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, redis.Nil):
		return store.ErrNotFound
	default:
		return fmt.Errorf("rediskv: %s: %w", op, err)
	}
}

func checkWrite(ctx context.Context, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return checkTTL(ttl)
}

func checkTTL(ttl time.Duration) error {
	if ttl < 0 {
		return fmt.Errorf("rediskv: negative ttl %v", ttl)
	}
	return nil
}
