package storetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
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
	race(t, each(workers, func(w int) error {
		for i := range appendsEach {
			token := fmt.Sprintf("%d.%d;", w, i)
			err := kv.Update(ctx, "log", func(old []byte) ([]byte, time.Duration, error) {
				return append(old, token...), 0, nil
			})
			if err != nil {
				return fmt.Errorf("worker %d append %d: %w", w, i, err)
			}
		}
		return nil
	}))

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

	create := func(c int) error {
		for _, i := range rand.Perm(keys) {
			if err := kv.Create(ctx, key(i), []byte("0"), 0); err != nil && !errors.Is(err, store.ErrExists) {
				return fmt.Errorf("creator %d: Create(%s): %w", c, key(i), err)
			}
		}
		return nil
	}
	update := func(u int) error {
		for range updatesEach {
			i := rand.IntN(keys)
			err := kv.Update(ctx, key(i), increment)
			switch {
			case err == nil:
				increments[i].Add(1)
			case !errors.Is(err, errAbsent):
				return fmt.Errorf("updater %d: Update(%s): %w", u, key(i), err)
			}
		}
		return nil
	}
	del := func(d int) error {
		for range deletesEach {
			i := 2*rand.IntN(keys/2) + 1
			if err := kv.Delete(ctx, key(i)); err != nil {
				return fmt.Errorf("deleter %d: Delete(%s): %w", d, key(i), err)
			}
		}
		return nil
	}
	race(t, slices.Concat(each(creators, create), each(updaters, update), each(deleters, del)))

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
		race(t, each(racers, func(int) error {
			got, err := kv.Take(ctx, k)
			switch {
			case err == nil && string(got) == v:
				winners.Add(1)
			case err == nil:
				return fmt.Errorf("Take(%s) = %q, want %q", k, got, v)
			case !errors.Is(err, store.ErrNotFound):
				return fmt.Errorf("Take(%s): %w", k, err)
			}
			return nil
		}))
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
		race(t, each(racers, func(c int) error {
			err := kv.Create(ctx, k, []byte(strconv.Itoa(c)), 0)
			switch {
			case err == nil:
				winners.Add(1)
				winner.Store(int32(c))
			case !errors.Is(err, store.ErrExists):
				return fmt.Errorf("Create(%s): %w", k, err)
			}
			return nil
		}))
		if n := winners.Load(); n != 1 {
			t.Fatalf("round %d: %d Creates succeeded, want exactly 1", r, n)
		}
		wantValue(t, kv, k, strconv.Itoa(int(winner.Load())))
	}
}

// race runs all workers at once: they wait for one start signal, so they
// contend for the store as hard as the scheduler allows. Each error a
// worker returns fails the test.
func race(t *testing.T, workers []func() error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(workers))
	start := make(chan struct{})
	for _, work := range workers {
		wg.Go(func() {
			<-start
			if err := work(); err != nil {
				errs <- err
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// each returns n workers for race: work called with 0 to n-1.
func each(n int, work func(i int) error) []func() error {
	workers := make([]func() error, n)
	for i := range workers {
		workers[i] = func() error { return work(i) }
	}
	return workers
}
