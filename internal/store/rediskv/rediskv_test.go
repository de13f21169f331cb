package rediskv_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/scimgate/scimgate/internal/store/rediskv"
	"github.com/scimgate/scimgate/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Backends(t)["redis"])
}

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, storetest.OpenRedis(b))
}

// TestUpdateRetriesOnConflict makes fn itself write the watched key, the way
// a concurrent replica would, so that EXEC fails on purpose.
func TestUpdateRetriesOnConflict(t *testing.T) {
	base := storetest.OpenRedis(t)
	tests := []struct {
		name        string
		maxAttempts int
		conflicts   int
		wantCalls   int
		wantErr     bool
	}{
		{"succeeds after conflicts", 3, 2, 3, false},
		{"gives up when attempts run out", 2, 5, 2, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			kv, err := rediskv.Open(ctx, rediskv.Options{URL: storetest.RedisURL(), Prefix: base.Prefix(), MaxUpdateAttempts: tc.maxAttempts})
			if err != nil {
				t.Fatal(err)
			}
			defer kv.Close()
			key := "conflict:" + tc.name
			calls := 0
			err = kv.Update(ctx, key, func(old []byte) ([]byte, time.Duration, error) {
				calls++
				if calls <= tc.conflicts {
					if err := kv.Client().Set(ctx, kv.Prefix()+key, "intruder", 0).Err(); err != nil {
						t.Fatal(err)
					}
				}
				return []byte("mine"), 0, nil
			})
			if calls != tc.wantCalls {
				t.Errorf("fn called %d times, want %d", calls, tc.wantCalls)
			}
			if tc.wantErr {
				if !errors.Is(err, redis.TxFailedErr) {
					t.Fatalf("err = %v, want one wrapping redis.TxFailedErr", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, err := kv.Get(ctx, key); err != nil || string(got) != "mine" {
				t.Fatalf("Get = %q, %v", got, err)
			}
		})
	}
}

func TestClientSharesNamespace(t *testing.T) {
	kv := storetest.OpenRedis(t)
	ctx := t.Context()
	if err := kv.Set(ctx, "k", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	got, err := kv.Client().Get(ctx, kv.Prefix()+"k").Result()
	if err != nil || got != "v" {
		t.Fatalf("raw GET = %q, %v", got, err)
	}
	ttl, err := kv.Client().PTTL(ctx, kv.Prefix()+"k").Result()
	if err != nil || ttl <= 0 || ttl > time.Minute {
		t.Fatalf("PTTL = %v, %v; want within a minute", ttl, err)
	}
}

func TestOpenUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, err := rediskv.Open(ctx, rediskv.Options{URL: "redis://user:s3cret@127.0.0.1:1?max_retries=-1&dialer_retries=1"})
	if err == nil {
		t.Fatal("Open of a closed port succeeded")
	}
	if msg := err.Error(); !strings.Contains(msg, "127.0.0.1:1") || strings.Contains(msg, "s3cret") {
		t.Fatalf("error %q should name the address and hide the password", msg)
	}
}

// TestOpenRefusesServerWithoutGetDel opens against a server that answers as
// Redis before 6.2 does: PING works, GETDEL (and the newer handshake
// commands) are unknown. No such Redis runs here, so a few lines of RESP
// stand in for it.
func TestOpenRefusesServerWithoutGetDel(t *testing.T) {
	addr := serveOldRedis(t)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, err := rediskv.Open(ctx, rediskv.Options{URL: "redis://" + addr})
	if err == nil {
		t.Fatal("Open succeeded against a server without GETDEL")
	}
	if msg := err.Error(); !strings.Contains(msg, "Redis 6.2 or later") || !strings.Contains(msg, addr) {
		t.Fatalf("error %q should say that Redis 6.2 is needed and name the server", msg)
	}
}

// serveOldRedis answers RESP2 commands: +PONG to PING, the error Redis 6.0
// gives for an unknown command to anything else.
func serveOldRedis(t *testing.T) string {
	return serveRESP(t, func(args []string) string {
		if strings.EqualFold(args[0], "PING") {
			return "+PONG\r\n"
		}
		return fmt.Sprintf("-ERR unknown command `%s`, with args beginning with: \r\n", args[0])
	})
}

// serveRESP stands in for a Redis server on a loopback port: it reads RESP
// commands and writes what reply returns for each, or nothing at all when
// reply returns "", keeping the connection open as a stalled server does.
func serveRESP(t *testing.T, reply func(args []string) string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go answerRESP(c, reply)
		}
	}()
	return ln.Addr().String()
}

func answerRESP(c net.Conn, reply func(args []string) string) {
	defer c.Close()
	r := bufio.NewReader(c)
	for {
		args, err := readCommand(r)
		if err != nil {
			return
		}
		if answer := reply(args); answer != "" {
			if _, err := io.WriteString(c, answer); err != nil {
				return
			}
		}
	}
}

// readCommand reads one RESP array of bulk strings.
func readCommand(r *bufio.Reader) ([]string, error) {
	n, err := readHeader(r, '*')
	if err != nil || n < 1 {
		return nil, fmt.Errorf("not a command: %v", err)
	}
	args := make([]string, n)
	for i := range args {
		size, err := readHeader(r, '$')
		if err != nil {
			return nil, err
		}
		buf := make([]byte, size+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		args[i] = string(buf[:size])
	}
	return args, nil
}

// readHeader reads a RESP line of kind (`*` array, `$` bulk string) and
// returns its non-negative length.
func readHeader(r *bufio.Reader, kind byte) (int, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return 0, err
	}
	if line[0] != kind {
		return 0, fmt.Errorf("want %c, got %q", kind, line)
	}
	n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad length in %q", line)
	}
	return n, nil
}

// TestPrefixWithGlobCharacters keeps two deployments apart whose prefixes
// differ only where one has a Redis MATCH metacharacter: listing one never
// returns the other's keys.
func TestPrefixWithGlobCharacters(t *testing.T) {
	base := storetest.OpenRedis(t) // its cleanup deletes everything under base.Prefix()
	ctx := t.Context()
	open := func(prefix string) *rediskv.Store {
		kv, err := rediskv.Open(ctx, rediskv.Options{URL: storetest.RedisURL(), Prefix: base.Prefix() + prefix})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = kv.Close() })
		return kv
	}
	prefixes := []string{"a*:", "ab:", "a?:", "a[b]:", "a\\:"}
	for _, p := range prefixes {
		if err := open(p).Set(ctx, "clients/x", []byte(p), 0); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range prefixes {
		entries, err := open(p).List(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 || entries[0].Key != "clients/x" || string(entries[0].Value) != p {
			t.Errorf("List under prefix %q = %+v, want only its own clients/x", p, entries)
		}
	}
}

// TestStalledServerFailsFast points the store at a server that accepts
// connections and reads commands but stops answering, as a Redis behind a
// network partition or stuck in a long fork does: every operation, and every
// command sent through Client, must fail within a few seconds instead of
// holding the request that waits for it.
func TestStalledServerFailsFast(t *testing.T) {
	const bound = 3 * time.Second
	var stalled atomic.Bool
	addr := serveRESP(t, func(args []string) string {
		if stalled.Load() {
			return ""
		}
		switch strings.ToUpper(args[0]) {
		case "PING":
			return "+PONG\r\n"
		case "GETDEL":
			return "$-1\r\n"
		}
		return fmt.Sprintf("-ERR unknown command `%s`\r\n", args[0])
	})
	ctx := t.Context()
	kv, err := rediskv.Open(ctx, rediskv.Options{URL: "redis://" + addr + "?pool_size=64"})
	if err != nil {
		t.Fatalf("Open while the server answers: %v", err)
	}
	t.Cleanup(func() { _ = kv.Close() })
	// A busy store holds many pooled connections, each of which a retry
	// may pick once the server stalls, and wait on again.
	var warm sync.WaitGroup
	for range 64 {
		warm.Go(func() {
			if err := kv.Ping(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	warm.Wait()
	stalled.Store(true)

	ops := []struct {
		name   string
		call   func() error
		within time.Duration // bound when not zero
	}{
		{"Get", func() error { _, err := kv.Get(ctx, "k"); return err }, 0},
		{"Set", func() error { return kv.Set(ctx, "k", []byte("v"), time.Minute) }, 0},
		{"Create", func() error { return kv.Create(ctx, "k", []byte("v"), 0) }, 0},
		{"Delete", func() error { return kv.Delete(ctx, "k") }, 0},
		{"Take", func() error { _, err := kv.Take(ctx, "k"); return err }, 0},
		{"Update", func() error {
			return kv.Update(ctx, "k", func([]byte) ([]byte, time.Duration, error) { return []byte("v"), 0, nil })
		}, 0},
		{"List", func() error { _, err := kv.List(ctx, ""); return err }, 0},
		{"Ping", func() error { return kv.Ping(ctx) }, 0},
		{"Client", func() error { return kv.Client().Get(ctx, "raw").Err() }, 0},
		{"Open", func() error {
			kv, err := rediskv.Open(ctx, rediskv.Options{URL: "redis://" + addr})
			if err == nil {
				_ = kv.Close()
			}
			return err
		}, 0},
		// A caller's own, earlier deadline is kept, and its error is the
		// caller's.
		{"Get with a shorter deadline", func() error {
			short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			defer cancel()
			_, err := kv.Get(short, "k")
			if err != nil && !errors.Is(err, context.DeadlineExceeded) {
				return fmt.Errorf("not the caller's deadline: %w", err)
			}
			return err
		}, time.Second},
	}
	// Side by side, so that the test takes the bound once, not once per
	// operation.
	var wg sync.WaitGroup
	for _, op := range ops {
		wg.Go(func() {
			within := bound
			if op.within != 0 {
				within = op.within
			}
			start := time.Now()
			err := op.call()
			took := time.Since(start)
			if err == nil || took > within {
				t.Errorf("%s on a stalled server: %v after %v, want an error within %v", op.name, err, took.Round(time.Millisecond), within)
			} else {
				t.Logf("%s: %v after %v", op.name, err, took.Round(time.Millisecond))
			}
		})
	}
	wg.Wait()
}
