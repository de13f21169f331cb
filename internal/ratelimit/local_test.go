package ratelimit

import (
	"fmt"
	"strconv"
	"testing"
	"time"
)

func TestLocal(t *testing.T) {
	runLimiterSuite(t, func(t *testing.T) subject {
		clock := newFakeClock()
		l := NewLocal(LocalOptions{Now: clock.Now})
		return subject{limiters: []Limiter{l}, sleep: clock.Advance, exact: true, stored: l.stored}
	})
}

func (l *Local) stored(*testing.T) []string {
	var names []string
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		for name := range s.tats {
			names = append(names, name)
		}
		s.mu.Unlock()
	}
	return names
}

func (l *Local) keys() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.tats)
		s.mu.Unlock()
	}
	return n
}

func TestLocalForgetsRecoveredKeys(t *testing.T) {
	clock := newFakeClock()
	l := NewLocal(LocalOptions{Now: clock.Now})
	r := Rule{Rate: 1, Burst: 10}
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = "k" + strconv.Itoa(i)
		mustAllow(t, l, keys[i], r)
		mustPeek(t, l, "peeked"+keys[i], r) // Peek never stores a key
	}
	if got := l.keys(); got != len(keys) {
		t.Fatalf("%d keys remembered, want %d", got, len(keys))
	}
	clock.Advance(time.Duration(sweepEvery))
	for _, k := range keys { // touching every shard lets it sweep
		mustPeek(t, l, k, r)
	}
	if got := l.keys(); got != 0 {
		t.Fatalf("%d keys remembered after all recovered, want 0", got)
	}
}

func TestLocalMaxKeys(t *testing.T) {
	tests := []struct {
		maxKeys, wantCap int
	}{
		{maxKeys: 1, wantCap: 2 * numShards},
		{maxKeys: 4 * numShards, wantCap: 4 * numShards},
		{maxKeys: 1000, wantCap: 16 * numShards},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.maxKeys), func(t *testing.T) {
			clock := newFakeClock()
			l := NewLocal(LocalOptions{MaxKeys: tt.maxKeys, Now: clock.Now})
			slow := Rule{Rate: 1.0 / 3600, Burst: 100}
			// The attacker's key is deep in debt; a flood of fresh keys,
			// each owing less, must not make the limiter forget it.
			for range slow.Burst {
				mustAllow(t, l, "attacker", slow)
			}
			for i := range 20_000 {
				mustAllow(t, l, "spray"+strconv.Itoa(i), slow)
				clock.Advance(time.Microsecond)
			}
			if got := l.keys(); got > tt.wantCap {
				t.Fatalf("%d keys remembered, want at most %d", got, tt.wantCap)
			}
			if d := mustPeek(t, l, "attacker", slow); d.Allowed {
				t.Fatalf("attacker key forgotten under key pressure: %+v", d)
			}
		})
	}
}

func TestLocalClockBeforeEpoch(t *testing.T) {
	clock := newFakeClock()
	l := NewLocal(LocalOptions{Now: clock.Now})
	r := Rule{Rate: 1, Burst: 1}
	mustAllow(t, l, "k", r)
	clock.Advance(-100 * 365 * 24 * time.Hour)
	if d := mustAllow(t, l, "k", r); d.Allowed || d.RetryAfter != time.Second {
		t.Fatalf("after the clock went back: %+v, want denied for 1s", d)
	}
}

func BenchmarkLocalAllow(b *testing.B) {
	l := NewLocal(LocalOptions{})
	r := Rule{Rate: 1e9, Burst: 1000}
	mustAllow(&testing.T{}, l, "client:3f9a6c2e-tenant-42", r)
	b.ReportAllocs()
	for b.Loop() {
		_, _ = l.Allow(ctx, "client:3f9a6c2e-tenant-42", r)
	}
}

func BenchmarkLocalPeek(b *testing.B) {
	l := NewLocal(LocalOptions{})
	r := Rule{Rate: 50, Burst: 100}
	_, _ = l.Allow(ctx, "client:3f9a6c2e-tenant-42", r)
	b.ReportAllocs()
	for b.Loop() {
		_, _ = l.Peek(ctx, "client:3f9a6c2e-tenant-42", r)
	}
}

func BenchmarkLocalAllowParallel(b *testing.B) {
	l := NewLocal(LocalOptions{})
	r := Rule{Rate: 1e9, Burst: 1000}
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = "client:" + strconv.Itoa(i)
		_, _ = l.Allow(ctx, keys[i], r)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			_, _ = l.Allow(ctx, keys[i%len(keys)], r)
			i++
		}
	})
}
