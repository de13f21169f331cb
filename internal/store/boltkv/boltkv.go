// Package boltkv implements store.KV on a single embedded bbolt file, the
// default backend of a single scimgate instance.
//
// Every acknowledged write is fsynced before it returns; reads run in
// read-only transactions that never wait for writers. Expired entries are
// invisible at once and removed from the file by a background sweeper.
package boltkv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/scimgate/scimgate/internal/atomicfile"
	"github.com/scimgate/scimgate/internal/store"
)

// FileName is the name of the database file inside the data directory.
const FileName = "scimgate.db"

// Defaults applied to zero Options fields.
const (
	DefaultLockTimeout   = time.Second
	DefaultSweepInterval = time.Minute
)

// formatVersion identifies the record layout (see record.go). Open refuses a
// file written in another layout instead of misreading it.
const formatVersion = 1

var (
	dataBucket = []byte("kv")
	metaBucket = []byte("meta")
	formatKey  = []byte("format")
)

// ErrLocked reports that another process holds the database file open. The
// CLI uses it to fall back to the running server's admin API.
var ErrLocked = errors.New("boltkv: database is locked by another process")

// ErrUnreadable reports a database file that is not a bbolt database, or a
// damaged one.
var ErrUnreadable = errors.New("boltkv: the file is not a scimgate database, or it is damaged")

// Options tunes Open. The zero value is ready to use.
type Options struct {
	// LockTimeout bounds the wait for the file lock held by another process
	// (DefaultLockTimeout when zero or negative, since bbolt would otherwise
	// wait forever). After it Open fails with ErrLocked.
	LockTimeout time.Duration
	// Logger receives sweeper diagnostics; nil discards them.
	Logger *slog.Logger
	// SweepInterval is how often expired entries are deleted from the file
	// (DefaultSweepInterval when zero; negative disables the sweeper).
	// Expired entries are invisible either way; sweeping only reclaims space.
	SweepInterval time.Duration
	// MustExist opens only an existing store: without one Open fails with
	// an error wrapping fs.ErrNotExist instead of creating the directory
	// and the file.
	MustExist bool
}

// Store is a store.KV kept in one bbolt file. It is safe for concurrent use.
type Store struct {
	db  *bolt.DB
	log *slog.Logger

	stopSweeper context.CancelFunc
	sweeperDone chan struct{}

	closeOnce sync.Once
	closeErr  error
}

var _ store.KV = (*Store)(nil)

// Open opens (creating if needed) the database in directory dir: the
// directory with mode 0700, the file <dir>/scimgate.db with mode 0600.
// If another process holds the file, Open fails after opts.LockTimeout with
// an error wrapping ErrLocked.
func Open(dir string, opts Options) (*Store, error) {
	if dir == "" {
		return nil, errors.New("boltkv: empty data directory")
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	if opts.SweepInterval == 0 {
		opts.SweepInterval = DefaultSweepInterval
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}

	path := filepath.Join(dir, FileName)
	_, statErr := os.Stat(path)
	created := errors.Is(statErr, fs.ErrNotExist)
	if created && opts.MustExist {
		return nil, fmt.Errorf("boltkv: %w", statErr)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("boltkv: create data directory: %w", err)
	}

	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.LockTimeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("boltkv: open %s: %w", path, ErrLocked)
	}
	if errors.Is(err, bolterrors.ErrInvalid) || errors.Is(err, bolterrors.ErrVersionMismatch) || errors.Is(err, bolterrors.ErrChecksum) {
		return nil, fmt.Errorf("%w: %s: %w", ErrUnreadable, path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("boltkv: open %s: %w", path, err)
	}
	if err := initBuckets(db); err != nil {
		_ = db.Close()
		return nil, err
	}
	if created {
		// The file's own contents are fsynced by bbolt; its directory entry
		// is not, and a power loss could otherwise lose the whole file.
		if err := atomicfile.SyncDir(dir); err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("boltkv: %w", err)
		}
	}
	warnIfExposed(log, dir, path)

	s := &Store{db: db, log: log}
	if opts.SweepInterval > 0 {
		ctx, cancel := context.WithCancel(context.Background())
		s.stopSweeper = cancel
		s.sweeperDone = make(chan struct{})
		go s.runSweeper(ctx, opts.SweepInterval)
	}
	return s, nil
}

func initBuckets(db *bolt.DB) error {
	err := db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(dataBucket); err != nil {
			return err
		}
		meta, err := tx.CreateBucketIfNotExists(metaBucket)
		if err != nil {
			return err
		}
		switch v := meta.Get(formatKey); {
		case v == nil:
			return meta.Put(formatKey, []byte{formatVersion})
		case len(v) != 1 || v[0] != formatVersion:
			return fmt.Errorf("unsupported file format %x (want %d)", v, formatVersion)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("boltkv: initialise: %w", err)
	}
	return nil
}

// warnIfExposed logs when the directory or file grants access beyond the
// owner, which happens when they were created by hand; Open does not change
// modes it did not set.
func warnIfExposed(log *slog.Logger, paths ...string) {
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil && fi.Mode().Perm()&0o077 != 0 {
			want := os.FileMode(0o600)
			if fi.IsDir() {
				want = 0o700
			}
			// The mode in octal, as chmod takes it: slog would write a
			// FileMode as a decimal number in JSON (493 for 0755).
			log.Warn("boltkv: data path is accessible to group or others; restrict it with: chmod "+fmt.Sprintf("%o", want)+" "+p,
				"path", p, "mode", fmt.Sprintf("%04o", fi.Mode().Perm()))
		}
	}
}

// Get implements store.KV.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	var out []byte
	err := s.read(ctx, func(b *bolt.Bucket, now int64) error {
		value, live, err := liveValue(b.Get([]byte(key)), now)
		if err != nil {
			return err
		}
		if !live {
			return store.ErrNotFound
		}
		out = bytes.Clone(value)
		return nil
	})
	return out, err
}

// Set implements store.KV.
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := checkTTL(ttl); err != nil {
		return err
	}
	return s.write(ctx, func(b *bolt.Bucket, now int64) (bool, error) {
		return true, put(b, []byte(key), encodeRecord(value, ttl, now))
	})
}

// Create implements store.KV. An expired entry under key counts as absent.
func (s *Store) Create(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := checkTTL(ttl); err != nil {
		return err
	}
	return s.write(ctx, func(b *bolt.Bucket, now int64) (bool, error) {
		k := []byte(key)
		_, live, err := liveValue(b.Get(k), now)
		if err != nil {
			return false, err
		}
		if live {
			return false, store.ErrExists
		}
		return true, put(b, k, encodeRecord(value, ttl, now))
	})
}

// Delete implements store.KV.
func (s *Store) Delete(ctx context.Context, key string) error {
	return s.write(ctx, func(b *bolt.Bucket, _ int64) (bool, error) {
		k := []byte(key)
		if b.Get(k) == nil {
			return false, nil
		}
		return true, del(b, k)
	})
}

// Take implements store.KV.
func (s *Store) Take(ctx context.Context, key string) ([]byte, error) {
	var taken []byte
	err := s.write(ctx, func(b *bolt.Bucket, now int64) (bool, error) {
		k := []byte(key)
		rec := b.Get(k)
		value, live, err := liveValue(rec, now)
		if err != nil {
			return false, err
		}
		if rec == nil {
			return false, nil
		}
		if live {
			taken = bytes.Clone(value)
		}
		// An expired leftover goes too, as the write lock is held anyway.
		return true, del(b, k)
	})
	if err != nil {
		return nil, err
	}
	if taken == nil {
		return nil, store.ErrNotFound
	}
	return taken, nil
}

// Update implements store.KV. fn runs exactly once, inside the write
// transaction, so it sees and replaces the value with no other writer in
// between.
func (s *Store) Update(ctx context.Context, key string, fn func(old []byte) ([]byte, time.Duration, error)) error {
	return s.write(ctx, func(b *bolt.Bucket, now int64) (bool, error) {
		k := []byte(key)
		rec := b.Get(k)
		value, live, err := liveValue(rec, now)
		if err != nil {
			return false, err
		}
		var old []byte
		if live {
			// fn must not see memory-mapped pages: writing to them faults.
			old = bytes.Clone(value)
		}
		next, ttl, err := fn(old)
		if err != nil {
			return false, err
		}
		if next == nil {
			if rec == nil {
				return false, nil
			}
			return true, del(b, k)
		}
		if err := checkTTL(ttl); err != nil {
			return false, err
		}
		return true, put(b, k, encodeRecord(next, ttl, now))
	})
}

// List implements store.KV.
func (s *Store) List(ctx context.Context, prefix string) ([]store.Entry, error) {
	var out []store.Entry
	err := s.read(ctx, func(b *bolt.Bucket, now int64) error {
		p := []byte(prefix)
		c := b.Cursor()
		for k, rec := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, rec = c.Next() {
			value, live, err := liveValue(rec, now)
			if err != nil {
				return fmt.Errorf("key %q: %w", k, err)
			}
			if live {
				out = append(out, store.Entry{Key: string(k), Value: bytes.Clone(value)})
			}
		}
		return nil
	})
	return out, err
}

// Ping implements store.KV: it fails once the store is closed.
func (s *Store) Ping(ctx context.Context) error {
	return s.read(ctx, func(*bolt.Bucket, int64) error { return nil })
}

// Close stops the sweeper and closes the file. Later calls return the first
// call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if s.stopSweeper != nil {
			s.stopSweeper()
			<-s.sweeperDone
		}
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("boltkv: close: %w", err)
		}
	})
	return s.closeErr
}

// read runs fn in a read-only transaction. Store errors pass through
// unwrapped so callers can compare them with errors.Is.
func (s *Store) read(ctx context.Context, fn func(b *bolt.Bucket, now int64) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		return fn(tx.Bucket(dataBucket), time.Now().UnixNano())
	})
	return wrapBoltErr(err)
}

// write runs fn in a read-write transaction and commits (with fsync) only
// when fn reports a change, so that misses such as a replayed authorization
// code cost no disk flush. An error from fn rolls back and is returned
// unchanged.
func (s *Store) write(ctx context.Context, fn func(b *bolt.Bucket, now int64) (changed bool, err error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	tx, err := s.db.Begin(true)
	if err != nil {
		return wrapBoltErr(err)
	}
	// Also releases the write lock if fn panics; a no-op after Commit.
	defer func() { _ = tx.Rollback() }()

	changed, err := fn(tx.Bucket(dataBucket), time.Now().UnixNano())
	if err != nil || !changed {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("boltkv: commit: %w", err)
	}
	return nil
}

// wrapBoltErr labels errors raised by bbolt itself (closed database,
// oversized key) and leaves store sentinels and context errors alone.
func wrapBoltErr(err error) error {
	if err == nil || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrExists) {
		return err
	}
	return fmt.Errorf("boltkv: %w", err)
}

func put(b *bolt.Bucket, key, rec []byte) error {
	if err := b.Put(key, rec); err != nil {
		return fmt.Errorf("boltkv: put: %w", err)
	}
	return nil
}

func del(b *bolt.Bucket, key []byte) error {
	if err := b.Delete(key); err != nil {
		return fmt.Errorf("boltkv: delete: %w", err)
	}
	return nil
}

func checkTTL(ttl time.Duration) error {
	if ttl < 0 {
		return fmt.Errorf("boltkv: negative ttl %v", ttl)
	}
	return nil
}
