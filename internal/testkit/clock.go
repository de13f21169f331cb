package testkit

import (
	"sync"
	"time"
)

// Clock is a test's clock, moved forward by Advance so that tests never
// sleep for time to pass. A StoppedClock stands still between Advances, so
// durations compare exactly. The zero Clock runs on real time plus all that
// was advanced: for code beside a store whose own TTLs run on real time,
// which are then never stricter than the code's checks.
type Clock struct {
	mu      sync.Mutex
	stopped time.Time // zero: real time
	offset  time.Duration
}

// StoppedClock returns a Clock that reads start until it is advanced.
func StoppedClock(start time.Time) *Clock { return &Clock{stopped: start} }

// Now is the clock's time; pass it where code takes a clock function.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped.IsZero() {
		return time.Now().Add(c.offset)
	}
	return c.stopped.Add(c.offset)
}

// Advance moves the clock d forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}
