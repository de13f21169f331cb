package ratelimit

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// closedPortClient is a Redis client aimed at a port nothing listens on.
func closedPortClient(t *testing.T) *redis.Client {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	client := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialerRetries: 1, DialTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { _ = client.Close() })
	return client
}

// logBuffer collects a logger's records as text.
func logBuffer() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewTextHandler(&buf, nil)), &buf
}

func TestFallbackAnswersWhenRedisIsUnreachable(t *testing.T) {
	runLimiterSuite(t, func(t *testing.T) subject {
		clock := newFakeClock()
		logger, _ := logBuffer()
		f := NewFallback(NewRedis(closedPortClient(t), "unreachable:"), NewLocal(LocalOptions{Now: clock.Now}), logger)
		f.now = clock.Now
		return subject{limiters: []Limiter{f}, sleep: clock.Advance, exact: true}
	})
}

func TestFallbackWarnsRarely(t *testing.T) {
	clock := newFakeClock()
	logger, logs := logBuffer()
	f := NewFallback(NewRedis(closedPortClient(t), "unreachable:"), NewLocal(LocalOptions{Now: clock.Now}), logger)
	f.now = clock.Now
	r := Rule{Rate: 1000, Burst: 1000}
	for range 50 {
		clock.Advance(primaryPause) // every call tries Redis again
		mustAllow(t, f, "k", r)
	}
	warnings := strings.Count(logs.String(), "level=WARN")
	// 50 failures 1s apart: a warning at the first, then one per 10s, each
	// counting the failures it stands for.
	if want := 5; warnings != want {
		t.Fatalf("%d warnings for 50 failures, want %d:\n%s", warnings, want, logs)
	}
	if !strings.Contains(logs.String(), "failures=10") {
		t.Errorf("warnings do not count the failures they stand for:\n%s", logs)
	}
}

// flakyLimiter fails while down is set and counts its calls.
type flakyLimiter struct {
	down  atomic.Bool
	calls atomic.Int64
}

var errDown = errors.New("connection refused")

func (l *flakyLimiter) Allow(ctx context.Context, key string, r Rule) (Decision, error) {
	return l.Peek(ctx, key, r)
}

func (l *flakyLimiter) Peek(_ context.Context, _ string, r Rule) (Decision, error) {
	l.calls.Add(1)
	if err := r.Validate(); err != nil {
		return Decision{}, err
	}
	if l.down.Load() {
		return Decision{}, errDown
	}
	return Decision{Allowed: true, Remaining: 42}, nil
}

func TestFallbackSwitching(t *testing.T) {
	fromPrimary := Decision{Allowed: true, Remaining: 42}
	r := Rule{Rate: 1, Burst: 5}
	type step struct {
		advance     time.Duration
		primaryDown bool
		want        Decision
		wantCalls   int64 // primary calls so far
	}
	tests := []struct {
		name     string
		steps    []step
		wantLogs []string
	}{
		{"healthy primary answers", []step{
			{want: fromPrimary, wantCalls: 1},
			{want: fromPrimary, wantCalls: 2},
		}, nil},
		{"failing primary is paused, local answers", []step{
			{primaryDown: true, want: Decision{Allowed: true, Remaining: 4}, wantCalls: 1},
			{primaryDown: true, want: Decision{Allowed: true, Remaining: 3}, wantCalls: 1},
			{advance: primaryPause - 1, want: Decision{Allowed: true, Remaining: 2}, wantCalls: 1},
			{advance: 1, want: fromPrimary, wantCalls: 2},
		}, []string{"level=WARN", "level=INFO msg=\"rate limiter: shared store answers again\""}},
		{"primary still down after the pause", []step{
			{primaryDown: true, want: Decision{Allowed: true, Remaining: 4}, wantCalls: 1},
			{primaryDown: true, advance: primaryPause, want: Decision{Allowed: true, Remaining: 4}, wantCalls: 2},
		}, []string{"level=WARN"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			logger, logs := logBuffer()
			primary := &flakyLimiter{}
			f := NewFallback(primary, NewLocal(LocalOptions{Now: clock.Now}), logger)
			f.now = clock.Now
			for i, s := range tt.steps {
				clock.Advance(s.advance)
				primary.down.Store(s.primaryDown)
				d := mustAllow(t, f, "k", r)
				if d != s.want || primary.calls.Load() != s.wantCalls {
					t.Fatalf("step %d: %+v after %d primary calls, want %+v after %d",
						i, d, primary.calls.Load(), s.want, s.wantCalls)
				}
			}
			lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
			if logs.Len() == 0 {
				lines = nil
			}
			if len(lines) != len(tt.wantLogs) {
				t.Fatalf("logged %d lines, want %d:\n%s", len(lines), len(tt.wantLogs), logs)
			}
			for i, want := range tt.wantLogs {
				if !strings.Contains(lines[i], want) {
					t.Errorf("log line %d = %s, want it to contain %s", i, lines[i], want)
				}
			}
		})
	}
}

func TestFallbackDoesNotHideCallerErrors(t *testing.T) {
	logger, logs := logBuffer()
	primary := &flakyLimiter{}
	primary.down.Store(true)
	f := NewFallback(primary, NewLocal(LocalOptions{}), logger)

	if _, err := f.Allow(ctx, "k", Rule{}); !errors.Is(err, ErrInvalidRule) {
		t.Errorf("invalid rule: err = %v, want ErrInvalidRule", err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := f.Allow(canceled, "k", Rule{Rate: 1, Burst: 1}); !errors.Is(err, errDown) {
		t.Errorf("canceled caller: err = %v, want the primary's error", err)
	}
	if logs.Len() != 0 {
		t.Errorf("caller errors logged as an outage:\n%s", logs)
	}
}
