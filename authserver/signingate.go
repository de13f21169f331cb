package authserver

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"time"
)

// signInGate orders password checks. The throttle counts a failure only
// once argon2id has judged the password, so attempts checked at the same
// time would all pass its look before any of them is counted: the gate
// lets one attempt at a time per address and per username through, each
// seeing the failures of the ones before it. It also bounds the checks in
// flight in all, since each holds 64 MiB while it runs and a burst must
// not make the process hold that many times over. Per replica: with Redis,
// replicas check at most one attempt each at a time per key.
type signInGate struct {
	slots chan struct{}
	wait  time.Duration // longest wait for a slot

	mu   sync.Mutex
	held map[string]*turn
}

// turn is the right to check a password for one key: a token in a
// one-slot channel, and how many hold or wait for it.
type turn struct {
	token   chan struct{}
	waiters int
}

// errSignInBusy is a sign-in that found no slot within the gate's wait.
var errSignInBusy = errors.New("authserver: too many sign-ins being checked")

// signInSlotWait bounds how long an attempt waits for a password-check slot.
const signInSlotWait = 10 * time.Second

func newSignInGate() *signInGate {
	return &signInGate{slots: make(chan struct{}, max(runtime.GOMAXPROCS(0), 2)), wait: signInSlotWait, held: map[string]*turn{}}
}

// enter waits for the turn of every key, in the order given (callers pass
// them in one fixed order, so two attempts never wait on each other), then
// for a slot. leave gives all back.
func (g *signInGate) enter(ctx context.Context, keys ...string) (leave func(), err error) {
	var taken []string
	release := func() {
		for _, k := range taken {
			g.unlock(k)
		}
	}
	for _, k := range keys {
		if err := g.lock(ctx, k); err != nil {
			release()
			return nil, err
		}
		taken = append(taken, k)
	}
	timer := time.NewTimer(g.wait)
	defer timer.Stop()
	select {
	case g.slots <- struct{}{}:
		return func() { <-g.slots; release() }, nil
	case <-timer.C:
		err = errSignInBusy
	case <-ctx.Done():
		err = ctx.Err()
	}
	release()
	return nil, err
}

func (g *signInGate) lock(ctx context.Context, key string) error {
	g.mu.Lock()
	t := g.held[key]
	if t == nil {
		t = &turn{token: make(chan struct{}, 1)}
		t.token <- struct{}{}
		g.held[key] = t
	}
	t.waiters++
	g.mu.Unlock()
	select {
	case <-t.token:
		return nil
	case <-ctx.Done():
		g.mu.Lock()
		g.leaveTurn(key, t)
		g.mu.Unlock()
		return ctx.Err()
	}
}

// unlock passes key's turn to the next waiter, if any.
func (g *signInGate) unlock(key string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	t := g.held[key]
	t.token <- struct{}{}
	g.leaveTurn(key, t)
}

// leaveTurn counts one holder or waiter of t out; the last one forgets
// the key. g.mu is held.
func (g *signInGate) leaveTurn(key string, t *turn) {
	if t.waiters--; t.waiters == 0 {
		delete(g.held, key)
	}
}
