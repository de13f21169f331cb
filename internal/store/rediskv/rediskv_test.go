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
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go answerOldRedis(c)
		}
	}()
	return ln.Addr().String()
}

func answerOldRedis(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	for {
		args, err := readCommand(r)
		if err != nil {
			return
		}
		reply := "+PONG\r\n"
		if !strings.EqualFold(args[0], "PING") {
			reply = fmt.Sprintf("-ERR unknown command `%s`, with args beginning with: \r\n", args[0])
		}
		if _, err := io.WriteString(c, reply); err != nil {
			return
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
