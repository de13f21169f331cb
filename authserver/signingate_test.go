package authserver

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestSignInGate(t *testing.T) {
	g := newSignInGate()
	slots := cap(g.slots)

	t.Run("slots bound the checks of different keys", func(t *testing.T) {
		var running, most atomic.Int32
		var wg sync.WaitGroup
		for i := range 4 * slots {
			wg.Go(func() {
				leave, err := g.enter(context.Background(), "ip:"+strconv.Itoa(i), "user:"+strconv.Itoa(i))
				if err != nil {
					t.Error(err)
					return
				}
				n := running.Add(1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				time.Sleep(5 * time.Millisecond)
				running.Add(-1)
				leave()
			})
		}
		wg.Wait()
		if m := int(most.Load()); m > slots {
			t.Fatalf("%d checks at once, %d slots", m, slots)
		}
	})

	t.Run("a waiter that gives up leaves nothing behind", func(t *testing.T) {
		leave, err := g.enter(context.Background(), "ip:a", "user:a")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		if _, err := g.enter(ctx, "ip:b", "user:a"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("waiting for a held key: %v", err)
		}
		leave()
		if leave, err = g.enter(context.Background(), "ip:b", "user:a"); err != nil {
			t.Fatal(err)
		}
		leave()
	})

	t.Run("no free slot within the wait", func(t *testing.T) {
		busy := &signInGate{slots: make(chan struct{}, 1), wait: 10 * time.Millisecond, held: map[string]*turn{}}
		leave, _ := busy.enter(context.Background(), "ip:1")
		if _, err := busy.enter(context.Background(), "ip:2"); !errors.Is(err, errSignInBusy) {
			t.Fatalf("full gate: %v", err)
		}
		leave()
		if len(busy.held) != 0 {
			t.Fatalf("keys left held: %v", busy.held)
		}
	})

	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.held) != 0 {
		t.Fatalf("keys left held: %v", g.held)
	}
}
