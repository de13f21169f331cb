package credentials

import (
	"context"
	"encoding/json"
	"sync"
	"time"
)

// usageRecorder remembers when credentials were last used and writes that to
// the store in batches. Writing on every request would turn each token
// request and each API-key call into a store write (an fsync on the
// embedded store); "last used" only needs minute precision.
type usageRecorder struct {
	s       *Service
	mu      sync.Mutex
	pending map[usageKey]time.Time
}

type usageKey struct{ record, secretID string }

func newUsageRecorder(s *Service) *usageRecorder {
	return &usageRecorder{s: s, pending: map[usageKey]time.Time{}}
}

func (u *usageRecorder) touch(record, secretID string, t time.Time) {
	u.mu.Lock()
	u.pending[usageKey{record, secretID}] = t
	u.mu.Unlock()
}

// FlushUsage writes pending last-used times to the store. Run calls it
// periodically; callers should call it once more on shutdown.
func (s *Service) FlushUsage(ctx context.Context) error {
	u := s.usage
	u.mu.Lock()
	batch := u.pending
	u.pending = map[usageKey]time.Time{}
	u.mu.Unlock()
	var firstErr error
	for k, t := range batch {
		err := s.kv.Update(ctx, k.record, func(old []byte) ([]byte, time.Duration, error) {
			if old == nil {
				return nil, 0, ErrNotFound // deleted meanwhile: nothing to record
			}
			return setLastUsed(old, k, t)
		})
		if err != nil && err != ErrNotFound && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

func setLastUsed(old []byte, k usageKey, t time.Time) ([]byte, time.Duration, error) {
	if k.secretID == "" {
		var key APIKey
		if err := json.Unmarshal(old, &key); err != nil {
			return nil, 0, err
		}
		if !t.After(key.LastUsed) {
			return old, 0, nil
		}
		key.LastUsed = t.UTC()
		b, err := json.Marshal(&key)
		return b, 0, err
	}
	var c Client
	if err := json.Unmarshal(old, &c); err != nil {
		return nil, 0, err
	}
	for i := range c.Secrets {
		if c.Secrets[i].ID == k.secretID && t.After(c.Secrets[i].LastUsed) {
			c.Secrets[i].LastUsed = t.UTC()
		}
	}
	b, err := json.Marshal(&c)
	return b, 0, err
}

// RunUsageFlusher flushes last-used times every interval until ctx ends,
// then once more.
func (s *Service) RunUsageFlusher(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := s.FlushUsage(flushCtx); err != nil {
				s.log.Warn("flush credential usage", "err", err)
			}
			cancel()
			return
		case <-t.C:
			if err := s.FlushUsage(ctx); err != nil {
				s.log.Warn("flush credential usage", "err", err)
			}
		}
	}
}
