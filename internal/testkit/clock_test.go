package testkit

import (
	"testing"
	"time"
)

func TestClock(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	tests := []struct {
		name  string
		clock *Clock
		// at reports whether now is where the clock should read after
		// advancing by an hour, given the real time before and after.
		at func(now, before, after time.Time) bool
	}{
		{"stopped", StoppedClock(start), func(now, _, _ time.Time) bool { return now.Equal(start.Add(time.Hour)) }},
		{"real time", &Clock{}, func(now, before, after time.Time) bool {
			return !now.Before(before.Add(time.Hour)) && !now.After(after.Add(time.Hour))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.clock.Advance(time.Hour)
			before := time.Now()
			now := tc.clock.Now()
			after := time.Now()
			if !tc.at(now, before, after) {
				t.Fatalf("Now() = %v after advancing an hour (real time %v)", now, before)
			}
		})
	}
}
