package storetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimgate/scimgate/internal/store"
)

// testConcurrentAppends has many writers append distinct tokens to one
// record through Update; a lost update shows up as a missing token.
func testConcurrentAppends(t *testing.T, kv store.KV) {
	const workers, appendsEach = 64, 16
	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	start := make(chan struct{})
	for w := range workers {
		wg.Go(func() {
			<-start
			for i := range appendsEach {
				token := fmt.Sprintf("%d.%d;", w, i)
				err := kv.Update(ctx, "log", func(old []byte) ([]byte, time.Duration, error) {
					return append(old, token...), 0, nil
				})
				if err != nil {
					errs <- fmt.Errorf("worker %d append %d: %w", w, i, err)
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	got, err := kv.Get(ctx, "log")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	seen := map[string]int{}
	for _, tok := range strings.Split(strings.TrimSuffix(string(got), ";"), ";") {
		seen[tok]++
	}
	for w := range workers {
		for i := range appendsEach {
			if tok := fmt.Sprintf("%d.%d", w, i); seen[tok] != 1 {
				t.Errorf("token %s appears %d times, want once", tok, seen[tok])
			}
		}
	}
	if len(seen) != workers*appendsEach {
		t.Errorf("record holds %d distinct tokens, want %d", len(seen), workers*appendsEach)
	}
}

var errAbsent = errors.New("storetest: counter absent")

// testConcurrentMix races creators, incrementing updaters and deleters over
// a set of counters. Even keys are never deleted, so their final value must
// equal the number of increments that reported success; odd keys come and
// go. Afterwards List must agree with Get.
func testConcurrentMix(t *testing.T, kv store.KV) {
	const (
		keys                  = 40
		creators              = 4
		updaters, updatesEach = 16, 40
		deleters, deletesEach = 4, 20
	)
	ctx := t.Context()
	key := func(i int) string { return fmt.Sprintf("m:%02d", i) }
	increments := make([]atomic.Int64, keys)
	increment := func(old []byte) ([]byte, time.Duration, error) {
		if old == nil {
			return nil, 0, errAbsent
		}
		n, err := strconv.Atoi(string(old))
		if err != nil {
			return nil, 0, fmt.Errorf("corrupt counter %q", old)
		}
		return []byte(strconv.Itoa(n + 1)), 0, nil
	}

	var wg sync.WaitGroup
	errs := make(chan error, creators+updaters+deleters)
	start := make(chan struct{})
	for c := range creators {
		wg.Go(func() {
			<-start
			for _, i := range rand.Perm(keys) {
				if err := kv.Create(ctx, key(i), []byte("0"), 0); err != nil && !errors.Is(err, store.ErrExists) {
					errs <- fmt.Errorf("creator %d: Create(%s): %w", c, key(i), err)
					return
				}
			}
		})
	}
	for u := range updaters {
		wg.Go(func() {
			<-start
			for range updatesEach {
				i := rand.IntN(keys)
				err := kv.Update(ctx, key(i), increment)
				switch {
				case err == nil:
					increments[i].Add(1)
				case !errors.Is(err, errAbsent):
					errs <- fmt.Errorf("updater %d: Update(%s): %w", u, key(i), err)
					return
				}
			}
		})
	}
	for d := range deleters {
		wg.Go(func() {
			<-start
			for range deletesEach {
				i := 2*rand.IntN(keys/2) + 1
				if err := kv.Delete(ctx, key(i)); err != nil {
					errs <- fmt.Errorf("deleter %d: Delete(%s): %w", d, key(i), err)
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	present := map[string]string{}
	for i := range keys {
		got, err := kv.Get(ctx, key(i))
		switch {
		case errors.Is(err, store.ErrNotFound) && i%2 == 1:
			continue
		case err != nil:
			t.Fatalf("Get(%s): %v", key(i), err)
		}
		n, convErr := strconv.Atoi(string(got))
		if convErr != nil || n < 0 {
			t.Errorf("%s = %q, want a counter", key(i), got)
		}
		if i%2 == 0 && int64(n) != increments[i].Load() {
			t.Errorf("%s = %d, but %d increments succeeded", key(i), n, increments[i].Load())
		}
		present[key(i)] = string(got)
	}
	entries, err := kv.List(ctx, "m:")
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(entries) != len(present) {
		t.Errorf("List returned %d entries, Get finds %d keys", len(entries), len(present))
	}
	for _, e := range entries {
		if v, ok := present[e.Key]; !ok || v != string(e.Value) {
			t.Errorf("List has %s=%q, Get has %q (present %v)", e.Key, e.Value, v, ok)
		}
	}
}

// testConcurrentTake races many Takes on each of many keys: exactly one must
// receive the value, all others ErrNotFound.
func testConcurrentTake(t *testing.T, kv store.KV) {
	const rounds, racers = 50, 32
	ctx := t.Context()
	for r := range rounds {
		k, v := fmt.Sprintf("code:%02d", r), fmt.Sprintf("grant-%02d", r)
		mustSet(t, kv, k, v, 0)
		var winners atomic.Int32
		var wg sync.WaitGroup
		errs := make(chan error, racers)
		start := make(chan struct{})
		for range racers {
			wg.Go(func() {
				<-start
				got, err := kv.Take(ctx, k)
				switch {
				case err == nil && string(got) == v:
					winners.Add(1)
				case err == nil:
					errs <- fmt.Errorf("Take(%s) = %q, want %q", k, got, v)
				case !errors.Is(err, store.ErrNotFound):
					errs <- fmt.Errorf("Take(%s): %w", k, err)
				}
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if n := winners.Load(); n != 1 {
			t.Fatalf("round %d: %d Takes received the value, want exactly 1", r, n)
		}
		wantNotFound(t, kv, k)
	}
}

// testConcurrentCreate races many Creates on each of several keys: exactly one
// must succeed, and its value must be the one stored.
func testConcurrentCreate(t *testing.T, kv store.KV) {
	const rounds, racers = 10, 32
	ctx := t.Context()
	for r := range rounds {
		k := fmt.Sprintf("client:%02d", r)
		var winner atomic.Int32
		var winners atomic.Int32
		var wg sync.WaitGroup
		errs := make(chan error, racers)
		start := make(chan struct{})
		for c := range racers {
			wg.Go(func() {
				<-start
				err := kv.Create(ctx, k, []byte(strconv.Itoa(c)), 0)
				switch {
				case err == nil:
					winners.Add(1)
					winner.Store(int32(c))
				case !errors.Is(err, store.ErrExists):
					errs <- fmt.Errorf("Create(%s): %w", k, err)
				}
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if n := winners.Load(); n != 1 {
			t.Fatalf("round %d: %d Creates succeeded, want exactly 1", r, n)
		}
		wantValue(t, kv, k, strconv.Itoa(int(winner.Load())))
	}
}
