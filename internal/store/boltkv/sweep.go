package boltkv

import (
	"bytes"
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// sweepChunk bounds how many entries one read transaction scans. Short
// transactions keep the sweeper from delaying writers that must grow the
// memory map, which waits for all open readers.
const sweepChunk = 4096

func (s *Store) runSweeper(ctx context.Context, every time.Duration) {
	defer close(s.sweeperDone)
	ticker := time.NewTicker(every)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			removed, err := s.sweep(ctx)
			if err != nil && ctx.Err() == nil {
				s.log.Warn("boltkv: sweeping expired entries failed", "err", err, "removed", removed)
				continue
			}
			if removed > 0 {
				s.log.Debug("boltkv: swept expired entries", "removed", removed)
			}
		}
	}
}

// sweep deletes every expired entry, chunk by chunk, and reports how many it
// removed. Each deletion re-checks expiry inside the write transaction, so an
// entry rewritten since the scan survives.
func (s *Store) sweep(ctx context.Context) (int, error) {
	removed := 0
	var from []byte
	for {
		expired, next, err := s.scanExpired(ctx, from)
		if err != nil {
			return removed, err
		}
		if len(expired) > 0 {
			n, err := s.deleteExpired(ctx, expired)
			removed += n
			if err != nil {
				return removed, err
			}
		}
		if next == nil {
			return removed, nil
		}
		from = next
	}
}

// scanExpired looks at up to sweepChunk entries starting at from and returns
// the expired keys among them and where the next chunk starts (nil at the end).
func (s *Store) scanExpired(ctx context.Context, from []byte) (expired [][]byte, next []byte, err error) {
	err = s.read(ctx, func(b *bolt.Bucket, now int64) error {
		c := b.Cursor()
		k, rec := c.First()
		if from != nil {
			k, rec = c.Seek(from)
		}
		for scanned := 0; k != nil; k, rec = c.Next() {
			if scanned == sweepChunk {
				next = bytes.Clone(k)
				return nil
			}
			scanned++
			if _, live, err := liveValue(rec, now); err == nil && !live {
				expired = append(expired, bytes.Clone(k))
			}
		}
		return nil
	})
	return expired, next, err
}

func (s *Store) deleteExpired(ctx context.Context, keys [][]byte) (int, error) {
	removed := 0
	err := s.write(ctx, func(b *bolt.Bucket, now int64) (bool, error) {
		for _, k := range keys {
			rec := b.Get(k)
			if rec == nil {
				continue
			}
			if _, live, err := liveValue(rec, now); err != nil || live {
				continue
			}
			if err := del(b, k); err != nil {
				return false, err
			}
			removed++
		}
		return removed > 0, nil
	})
	if err != nil {
		return 0, fmt.Errorf("boltkv: sweep: %w", err)
	}
	return removed, nil
}
