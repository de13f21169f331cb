package ratelimit

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimgate/scimgate/internal/testkit"
)

// subject is a Limiter under test with its notion of time.
type subject struct {
	// limiters all share one state: a single one in process, one per
	// Redis client ("replica") for Redis.
	limiters []Limiter
	// sleep lets at least d pass on the limiter's clock.
	sleep func(d time.Duration)
	// exact is true when no time passes unless sleep is called, so that
	// durations can be compared exactly.
	exact bool
	// stored lists the names the limiter keeps state under, when it can
	// tell; nil when it cannot.
	stored func(t *testing.T) []string
}

func (s subject) limiter() Limiter { return s.limiters[0] }

func newFakeClock() *testkit.Clock { return testkit.StoppedClock(time.Unix(1_700_000_000, 0)) }

// runLimiterSuite runs the behaviour every Limiter must have against fresh
// subjects from newSubject.
func runLimiterSuite(t *testing.T, newSubject func(t *testing.T) subject) {
	tests := []struct {
		name string
		run  func(t *testing.T, s subject)
	}{
		{"burst then denied", testBurstThenDenied},
		{"recovers after one interval", testRecovers},
		{"peek does not consume", testPeekDoesNotConsume},
		{"denied allow does not consume", testDeniedDoesNotConsume},
		{"keys are independent", testKeysIndependent},
		{"long keys are bounded and independent", testLongKeys},
		{"invalid rule", testInvalidRule},
		{"concurrent allow admits at most burst", testConcurrentAllow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newSubject(t)) })
	}
}

var ctx = context.Background()

func mustAllow(t *testing.T, l Limiter, key string, r Rule) Decision {
	t.Helper()
	d, err := l.Allow(ctx, key, r)
	if err != nil {
		t.Fatalf("Allow(%q): %v", key, err)
	}
	return d
}

func mustPeek(t *testing.T, l Limiter, key string, r Rule) Decision {
	t.Helper()
	d, err := l.Peek(ctx, key, r)
	if err != nil {
		t.Fatalf("Peek(%q): %v", key, err)
	}
	return d
}

// exhaust admits r.Burst events under key and returns the denial that follows.
func exhaust(t *testing.T, l Limiter, key string, r Rule) Decision {
	t.Helper()
	for i := range r.Burst {
		if d := mustAllow(t, l, key, r); !d.Allowed {
			t.Fatalf("event %d of a burst of %d denied: %+v", i+1, r.Burst, d)
		}
	}
	d := mustAllow(t, l, key, r)
	if d.Allowed {
		t.Fatalf("event %d after a burst of %d allowed: %+v", r.Burst+1, r.Burst, d)
	}
	return d
}

func interval(r Rule) time.Duration { return time.Duration(float64(time.Second) / r.Rate) }

func testBurstThenDenied(t *testing.T, s subject) {
	for i, r := range []Rule{
		{Rate: 1.0 / 60, Burst: 1},
		{Rate: 1.0 / 60, Burst: 5},
		PerWindow(10, time.Hour),
	} {
		key := "burst" + strconv.Itoa(i)
		for i := range r.Burst {
			d := mustAllow(t, s.limiter(), key, r)
			want := Decision{Allowed: true, Remaining: r.Burst - 1 - i}
			if d != want {
				t.Fatalf("%+v: event %d = %+v, want %+v", r, i+1, d, want)
			}
		}
		d := mustAllow(t, s.limiter(), key, r)
		if d.Allowed || d.Remaining != 0 || d.RetryAfter <= 0 || d.RetryAfter > interval(r) {
			t.Fatalf("%+v: event after burst = %+v, want denied with 0 < RetryAfter <= %v", r, d, interval(r))
		}
		if s.exact && d.RetryAfter != interval(r) {
			t.Fatalf("%+v: RetryAfter = %v, want %v", r, d.RetryAfter, interval(r))
		}
		if got, want := d.RetryAfterSeconds(), int((interval(r)+time.Second-1)/time.Second); s.exact && got != want {
			t.Fatalf("RetryAfterSeconds = %d, want %d", got, want)
		}
	}
}

func testRecovers(t *testing.T, s subject) {
	for i, r := range []Rule{{Rate: 4, Burst: 2}, {Rate: 2, Burst: 1}} {
		key := "recovers" + strconv.Itoa(i)
		denied := exhaust(t, s.limiter(), key, r)
		s.sleep(denied.RetryAfter)
		if d := mustAllow(t, s.limiter(), key, r); !d.Allowed || d.Remaining != 0 {
			t.Fatalf("%+v: after waiting RetryAfter %v: %+v, want allowed with 0 remaining", r, denied.RetryAfter, d)
		}
		if d := mustAllow(t, s.limiter(), key, r); d.Allowed {
			t.Fatalf("%+v: second event after one interval allowed: %+v", r, d)
		}
		// After Burst intervals of quiet the whole burst is back.
		s.sleep(time.Duration(r.Burst) * interval(r))
		exhaust(t, s.limiter(), key, r)
	}
}

func testPeekDoesNotConsume(t *testing.T, s subject) {
	r := Rule{Rate: 1.0 / 60, Burst: 3}
	for range 10 {
		if d := mustPeek(t, s.limiter(), "peek", r); d != (Decision{Allowed: true, Remaining: 3}) {
			t.Fatalf("Peek on a fresh key = %+v, want allowed with 3 remaining", d)
		}
	}
	if d := mustAllow(t, s.limiter(), "peek", r); d.Remaining != 2 {
		t.Fatalf("Allow after Peeks = %+v, want 2 remaining", d)
	}
	if d := mustPeek(t, s.limiter(), "peek", r); d != (Decision{Allowed: true, Remaining: 2}) {
		t.Fatalf("Peek after one Allow = %+v, want allowed with 2 remaining", d)
	}
	mustAllow(t, s.limiter(), "peek", r)
	mustAllow(t, s.limiter(), "peek", r)
	peeked := mustPeek(t, s.limiter(), "peek", r)
	denied := mustAllow(t, s.limiter(), "peek", r)
	if peeked.Allowed || peeked.RetryAfter <= 0 || peeked.RetryAfter < denied.RetryAfter {
		t.Fatalf("Peek on an exhausted key = %+v, then Allow = %+v", peeked, denied)
	}
	if s.exact && peeked != denied {
		t.Fatalf("Peek on an exhausted key = %+v, Allow = %+v: want the same", peeked, denied)
	}
}

func testDeniedDoesNotConsume(t *testing.T, s subject) {
	r := Rule{Rate: 4, Burst: 2}
	first := exhaust(t, s.limiter(), "denied", r)
	last := first
	for range 20 {
		d := mustAllow(t, s.limiter(), "denied", r)
		if d.Allowed || d.RetryAfter > last.RetryAfter {
			t.Fatalf("repeated denial = %+v after %+v: want denied, RetryAfter not growing", d, last)
		}
		last = d
	}
	s.sleep(first.RetryAfter)
	if d := mustAllow(t, s.limiter(), "denied", r); !d.Allowed {
		t.Fatalf("after waiting the first RetryAfter %v: %+v, want allowed", first.RetryAfter, d)
	}
}

func testKeysIndependent(t *testing.T, s subject) {
	r := Rule{Rate: 1.0 / 60, Burst: 1}
	exhaust(t, s.limiter(), "client:a", r)
	if d := mustPeek(t, s.limiter(), "client:b", r); !d.Allowed {
		t.Fatalf("Peek on another key = %+v, want allowed", d)
	}
	if d := mustAllow(t, s.limiter(), "client:b", r); !d.Allowed {
		t.Fatalf("Allow on another key = %+v, want allowed", d)
	}
	if d := mustPeek(t, s.limiter(), "client:a", r); d.Allowed {
		t.Fatalf("exhausted key after another key's Allow = %+v, want denied", d)
	}
	// The same key under another rule is still the same key: one TAT.
	if d := mustPeek(t, s.limiter(), "client:b", Rule{Rate: 1.0 / 60, Burst: 2}); d != (Decision{Allowed: true, Remaining: 1}) {
		t.Fatalf("Peek under a larger burst = %+v, want allowed with 1 remaining", d)
	}
}

func testLongKeys(t *testing.T, s subject) {
	r := Rule{Rate: 1.0 / 60, Burst: 2}
	long := strings.Repeat("k", 10<<10)
	exhaust(t, s.limiter(), long, r)
	// Keys alike but for their last byte share the stored prefix and must
	// still be limited apart.
	for _, key := range []string{long + "a", long + "b"} {
		exhaust(t, s.limiter(), key, r)
	}
	if d := mustPeek(t, s.limiter(), long+"c", r); !d.Allowed {
		t.Fatalf("a fresh long key after others with its prefix = %+v, want allowed", d)
	}
	// Nor may a key that spells a long key's stored name reach its state.
	if d := mustPeek(t, s.limiter(), storedKey(long), r); !d.Allowed {
		t.Fatalf("a key spelling the exhausted long key's stored name = %+v, want allowed", d)
	}
	if d := mustPeek(t, s.limiter(), long, r); d.Allowed {
		t.Fatalf("the exhausted long key after its neighbours = %+v, want denied", d)
	}
	if s.stored == nil {
		return
	}
	names := s.stored(t)
	if len(names) == 0 {
		t.Fatal("no state stored for the long keys")
	}
	for _, name := range names {
		if len(name) > hashedKeyLen {
			t.Errorf("state kept under a %d-byte name, want at most %d", len(name), hashedKeyLen)
		}
	}
}

func testInvalidRule(t *testing.T, s subject) {
	for _, r := range []Rule{{}, {Rate: 1, Burst: 0}, {Rate: -1, Burst: 1}, PerWindow(5, 0)} {
		if _, err := s.limiter().Allow(ctx, "invalid", r); !errors.Is(err, ErrInvalidRule) {
			t.Errorf("Allow with %+v: err = %v, want ErrInvalidRule", r, err)
		}
		if _, err := s.limiter().Peek(ctx, "invalid", r); !errors.Is(err, ErrInvalidRule) {
			t.Errorf("Peek with %+v: err = %v, want ErrInvalidRule", r, err)
		}
	}
}

func testConcurrentAllow(t *testing.T, s subject) {
	const goroutines, attempts = 32, 20
	for i, r := range []Rule{{Rate: 1.0 / 60, Burst: 10}, {Rate: 50, Burst: 100}} {
		key := "concurrent" + strconv.Itoa(i)
		var admitted atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for g := range goroutines {
			l := s.limiters[g%len(s.limiters)]
			wg.Go(func() {
				for range attempts {
					d, err := l.Allow(ctx, key, r)
					if err != nil {
						t.Error(err)
						return
					}
					if d.Allowed {
						admitted.Add(1)
					}
				}
			})
		}
		wg.Wait()
		elapsed := time.Since(start)
		if s.exact {
			elapsed = 0
		}
		// Every admission moves the TAT one interval on, and the TAT never
		// runs more than Burst intervals ahead of the clock.
		limit := int64(r.Burst) + int64(elapsed/interval(r)) + 1
		if got := admitted.Load(); got < int64(r.Burst) || got > limit {
			t.Errorf("%+v: %d of %d events admitted in %v, want between %d and %d",
				r, got, goroutines*attempts, elapsed, r.Burst, limit)
		}
	}
}
