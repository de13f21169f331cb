package ratelimit

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"
)

const (
	// primaryPause is how long the fallback answers locally after the
	// primary failed, before trying it again: during an outage only one call
	// per pause waits for the primary's timeouts, not every request.
	primaryPause = time.Second
	// warnEvery bounds the outage warnings to one per interval.
	warnEvery = 10 * time.Second
)

// Fallback is a Limiter that asks a shared primary (Redis) and, while the
// primary fails, answers from an in-process limiter instead of failing the
// request (Kong's fault_tolerant). During an outage each replica enforces the
// rules on its own, so the cluster as a whole admits up to replicas times the
// rate; the primary's state is not updated meanwhile.
type Fallback struct {
	primary, local Limiter
	log            *slog.Logger
	now            func() time.Time

	pausedUntil atomic.Int64 // unix nanoseconds; primary skipped before then
	lastWarning atomic.Int64 // unix nanoseconds
	failures    atomic.Int64 // primary failures since the last warning
	degraded    atomic.Bool  // the last primary call failed
}

// NewFallback returns a Limiter over primary that falls back to local.
func NewFallback(primary, local Limiter, logger *slog.Logger) *Fallback {
	return &Fallback{primary: primary, local: local, log: logger, now: time.Now}
}

// Allow implements Limiter.
func (f *Fallback) Allow(ctx context.Context, key string, r Rule) (Decision, error) {
	return f.decide(ctx, Limiter.Allow, key, r)
}

// Peek implements Limiter.
func (f *Fallback) Peek(ctx context.Context, key string, r Rule) (Decision, error) {
	return f.decide(ctx, Limiter.Peek, key, r)
}

type limiterCall func(Limiter, context.Context, string, Rule) (Decision, error)

func (f *Fallback) decide(ctx context.Context, call limiterCall, key string, r Rule) (Decision, error) {
	now := f.now().UnixNano()
	if now < f.pausedUntil.Load() {
		return call(f.local, ctx, key, r)
	}
	d, err := call(f.primary, ctx, key, r)
	switch {
	case err == nil:
		if f.degraded.Load() && f.degraded.Swap(false) {
			f.log.InfoContext(ctx, "rate limiter: shared store answers again")
		}
		return d, nil
	case errors.Is(err, ErrInvalidRule), ctx.Err() != nil:
		// The local limiter would fail the same way, and a caller that has
		// gone away needs no answer.
		return d, err
	}
	f.degraded.Store(true)
	f.pausedUntil.Store(now + int64(primaryPause))
	f.warn(ctx, now, err)
	return call(f.local, ctx, key, r)
}

func (f *Fallback) warn(ctx context.Context, now int64, err error) {
	failures := f.failures.Add(1)
	last := f.lastWarning.Load()
	if now-last < int64(warnEvery) || !f.lastWarning.CompareAndSwap(last, now) {
		return
	}
	f.failures.Add(-failures)
	f.log.WarnContext(ctx, "rate limiter: shared store failed, enforcing limits per replica",
		"err", err, "failures", failures)
}
