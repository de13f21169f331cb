package ratelimit

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestPerWindow(t *testing.T) {
	tests := []struct {
		n      int
		window time.Duration
		want   Rule
		valid  bool
	}{
		{30, time.Minute, Rule{Rate: 0.5, Burst: 30}, true},
		{100, 2 * time.Second, Rule{Rate: 50, Burst: 100}, true},
		{1, time.Hour, Rule{Rate: 1.0 / 3600, Burst: 1}, true},
		{0, time.Minute, Rule{Rate: 0, Burst: 0}, false},
		{5, 0, Rule{Burst: 5}, false},
		{5, -time.Second, Rule{Burst: 5}, false},
	}
	for _, tt := range tests {
		got := PerWindow(tt.n, tt.window)
		if got != tt.want {
			t.Errorf("PerWindow(%d, %v) = %+v, want %+v", tt.n, tt.window, got, tt.want)
		}
		if err := got.Validate(); (err == nil) != tt.valid {
			t.Errorf("PerWindow(%d, %v).Validate() = %v, want valid %v", tt.n, tt.window, err, tt.valid)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		rule  Rule
		valid bool
	}{
		{Rule{Rate: 50, Burst: 100}, true},
		{Rule{Rate: 1e-300, Burst: 1}, true},
		{Rule{Rate: math.MaxFloat64, Burst: math.MaxInt}, true},
		{Rule{Rate: 0, Burst: 1}, false},
		{Rule{Rate: -1, Burst: 1}, false},
		{Rule{Rate: math.NaN(), Burst: 1}, false},
		{Rule{Rate: math.Inf(1), Burst: 1}, false},
		{Rule{Rate: 1, Burst: 0}, false},
		{Rule{Rate: 1, Burst: -5}, false},
	}
	for _, tt := range tests {
		err := tt.rule.Validate()
		if tt.valid && err != nil || !tt.valid && !errors.Is(err, ErrInvalidRule) {
			t.Errorf("%+v.Validate() = %v, want valid %v", tt.rule, err, tt.valid)
		}
	}
}

func TestRuleUnits(t *testing.T) {
	tests := []struct {
		rule Rule
		unit time.Duration
		want gcra
	}{
		{Rule{Rate: 50, Burst: 100}, time.Nanosecond, gcra{interval: 20e6, capacity: 2e9}},
		{Rule{Rate: 50, Burst: 100}, time.Microsecond, gcra{interval: 20e3, capacity: 2e6}},
		{Rule{Rate: 3, Burst: 1}, time.Microsecond, gcra{interval: 333333, capacity: 333333}},
		{Rule{Rate: 2e6, Burst: 4}, time.Microsecond, gcra{interval: 1, capacity: 4}}, // 1µs is Redis's resolution
		{Rule{Rate: 1e-300, Burst: 1}, time.Nanosecond, gcra{interval: int64(maxSpan), capacity: int64(maxSpan)}},
		{Rule{Rate: 1, Burst: math.MaxInt}, time.Nanosecond, gcra{interval: 1e9, capacity: int64(maxSpan)}},
	}
	for _, tt := range tests {
		got, err := tt.rule.gcra(tt.unit)
		if err != nil || got != tt.want {
			t.Errorf("%+v in %v = %+v, %v; want %+v", tt.rule, tt.unit, got, err, tt.want)
		}
	}
}

func TestStoredKey(t *testing.T) {
	long := strings.Repeat("x", 10<<10)
	tests := []struct {
		name   string
		key    string
		hashed bool
	}{
		{"empty", "", false},
		{"short", "signin-fail:ip:192.0.2.1", false},
		{"at the limit", strings.Repeat("x", maxKeyLen), false},
		{"one byte over", strings.Repeat("x", maxKeyLen+1), true},
		{"10 KB", long, true},
		{"a stored name used as a key", storedKey(long), true},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		got := storedKey(tt.key)
		if !tt.hashed {
			if got != tt.key {
				t.Errorf("%s: storedKey = %q, want the key itself", tt.name, got)
			}
		} else {
			sum := sha256.Sum256([]byte(tt.key))
			if want := tt.key[:keptPrefixLen] + "#" + hex.EncodeToString(sum[:]); got != want {
				t.Errorf("%s: storedKey = %q, want %q", tt.name, got, want)
			}
		}
		if other, dup := seen[got]; dup {
			t.Errorf("%s and %s are stored under the same name %q", other, tt.name, got)
		}
		seen[got] = tt.name
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	tests := []struct {
		d    Decision
		want int
	}{
		{Decision{Allowed: true, Remaining: 3}, 0},
		{Decision{RetryAfter: time.Nanosecond}, 1},
		{Decision{RetryAfter: time.Second}, 1},
		{Decision{RetryAfter: time.Second + time.Millisecond}, 2},
		{Decision{RetryAfter: 0}, 1}, // a denial never says "retry now"
		{Decision{RetryAfter: time.Hour}, 3600},
	}
	for _, tt := range tests {
		if got := tt.d.RetryAfterSeconds(); got != tt.want {
			t.Errorf("%+v.RetryAfterSeconds() = %d, want %d", tt.d, got, tt.want)
		}
	}
}

// FuzzLocal drives an in-process limiter with any rule and any sequence of
// clock steps, Peeks and Allows, and checks the GCRA's invariants: no panic,
// answers consistent with themselves and with Peek, and never more admitted
// than the burst plus what the elapsed time allows.
func FuzzLocal(f *testing.F) {
	f.Add(50.0, 100, []byte{0, 1, 2, 3, 255, 1, 1, 1})
	f.Add(1.0/3600, 1, []byte{1, 1, 1, 200, 1})
	f.Add(1e-300, math.MaxInt, []byte{1, 255, 255, 1})
	f.Add(math.MaxFloat64, 1, []byte{1, 1, 0, 1})
	f.Add(math.Inf(1), 5, []byte{1})
	f.Add(math.NaN(), 5, []byte{1})
	f.Add(-3.0, -3, []byte{1})
	f.Fuzz(func(t *testing.T, rate float64, burst int, ops []byte) {
		r := Rule{Rate: rate, Burst: burst}
		clock := newFakeClock()
		l := NewLocal(LocalOptions{Now: clock.Now})
		g, err := r.gcra(time.Nanosecond)
		if err != nil {
			if _, err := l.Allow(ctx, "k", r); !errors.Is(err, ErrInvalidRule) {
				t.Fatalf("Allow with invalid %+v: %v", r, err)
			}
			return
		}
		var admitted int64
		var elapsed float64 // nanoseconds; may exceed what a Duration holds
		for _, op := range ops {
			// The low bits pick a clock step from none to half a year; the
			// top bit picks Peek alone or Peek then Allow.
			step := time.Duration(op&0x7f) << ((op & 0x3f) % 48)
			clock.Advance(step)
			elapsed += float64(step)
			peeked, err := l.Peek(ctx, "k", r)
			if err != nil {
				t.Fatal(err)
			}
			if again, _ := l.Peek(ctx, "k", r); again != peeked {
				t.Fatalf("Peek changed state: %+v then %+v", peeked, again)
			}
			checkDecision(t, r, peeked)
			if op&0x80 != 0 {
				continue
			}
			d, err := l.Allow(ctx, "k", r)
			if err != nil {
				t.Fatal(err)
			}
			checkDecision(t, r, d)
			if d.Allowed != peeked.Allowed || d.Allowed && d.Remaining != peeked.Remaining-1 ||
				!d.Allowed && d.RetryAfter != peeked.RetryAfter {
				t.Fatalf("Peek said %+v, Allow then said %+v", peeked, d)
			}
			if d.Allowed {
				admitted++
			}
		}
		// Each admission moves the TAT one interval on, and the TAT never
		// runs more than capacity ahead of the clock.
		if float64(admitted)*float64(g.interval) > float64(g.capacity)+elapsed {
			t.Fatalf("%+v: %d admitted in %vns", r, admitted, elapsed)
		}
	})
}

func checkDecision(t *testing.T, r Rule, d Decision) {
	t.Helper()
	switch {
	case d.RetryAfter < 0 || d.Remaining < 0 || d.Remaining > r.Burst:
		t.Fatalf("%+v: out of range: %+v", r, d)
	case d.Allowed && d.RetryAfter != 0:
		t.Fatalf("%+v: allowed with a RetryAfter: %+v", r, d)
	case !d.Allowed && (d.RetryAfter == 0 || d.Remaining != 0 || d.RetryAfterSeconds() < 1):
		t.Fatalf("%+v: denied without a RetryAfter or with events remaining: %+v", r, d)
	}
}

// FuzzStoredKey checks the name a key's state is kept under: never longer
// than hashedKeyLen, the key itself when short, its prefix kept when
// hashed, and two different keys never sharing a name.
func FuzzStoredKey(f *testing.F) {
	long := strings.Repeat("x", maxKeyLen+1)
	f.Add("signin-fail:ip:192.0.2.1", "signin-fail:user:acme/ada")
	f.Add(long, storedKey(long))
	f.Add(strings.Repeat("a", maxKeyLen), strings.Repeat("a", maxKeyLen+1))
	f.Add("authorize:ip:"+strings.Repeat("é", 80), "")
	f.Fuzz(func(t *testing.T, a, b string) {
		sa, sb := storedKey(a), storedKey(b)
		for _, c := range [][2]string{{a, sa}, {b, sb}} {
			key, name := c[0], c[1]
			switch {
			case len(key) <= maxKeyLen && name != key:
				t.Fatalf("storedKey(%q) = %q, want the key itself", key, name)
			case len(key) > maxKeyLen && (len(name) != hashedKeyLen || !strings.HasPrefix(name, key[:keptPrefixLen])):
				t.Fatalf("storedKey of a %d-byte key = %q", len(key), name)
			}
		}
		if (a == b) != (sa == sb) {
			t.Fatalf("keys %q and %q stored under %q and %q", a, b, sa, sb)
		}
	})
}

// FuzzRedisReply feeds any script reply {now, tat} to the decision the
// Redis limiter derives from it: the reply is read off the wire, and tat
// from a key that may hold anything. A reply out of the script's range is
// an error; any other gives a well-formed decision that admits exactly
// when the script does, and a Retry-After that is the script's backlog.
func FuzzRedisReply(f *testing.F) {
	now := int64(1_800_000_000_000_000)
	f.Add(50.0, 100, now, now, true)
	f.Add(0.5, 30, now, now+60_000_000, false)
	f.Add(1.0, 1, now, int64(math.MinInt64), true)
	f.Add(1.0, 1, now, int64(9e18), false)
	f.Add(1.0, 1, now, int64(1<<53-1), false)
	f.Add(1e-300, math.MaxInt, int64(0), int64(-1), true)
	f.Fuzz(func(t *testing.T, rate float64, burst int, now, tat int64, consume bool) {
		r := Rule{Rate: rate, Burst: burst}
		g, err := r.gcra(time.Microsecond)
		if err != nil {
			return
		}
		d, err := replyDecision(g, []int64{now, tat}, consume)
		inRange := now >= 0 && now < 1<<53 && tat >= 0 && tat < 1<<53
		if err != nil || !inRange {
			if err == nil || inRange {
				t.Fatalf("reply {%d, %d}: %+v, %v", now, tat, d, err)
			}
			return
		}
		checkDecision(t, r, d)
		// The script's arithmetic, exact below 2^53.
		after := max(tat-now, 0) + g.interval
		if admit := after <= g.capacity; d.Allowed != admit {
			t.Fatalf("%+v at %d, tat %d: allowed=%v, the script admits=%v", r, now, tat, d.Allowed, admit)
		}
		if !d.Allowed && d.RetryAfter != time.Duration(after-g.capacity)*time.Microsecond {
			t.Fatalf("%+v at %d, tat %d: retry after %v, want %dµs", r, now, tat, d.RetryAfter, after-g.capacity)
		}
	})
}
