package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"testing"
)

func TestUpstreamTimedOut(t *testing.T) {
	dialTimeout := &net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}
	readTimeout := &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	for _, tc := range []struct {
		name           string
		err            error
		deadlinePassed bool
		want           bool
	}{
		{"read past the route's deadline", readTimeout, true, true},
		{"read timed out", readTimeout, false, true},
		{"context deadline", fmt.Errorf("round trip: %w", context.DeadlineExceeded), false, true},
		{"connect timed out before the route's deadline", fmt.Errorf("h1client: %w", dialTimeout), false, false},
		{"connect still going at the route's deadline", dialTimeout, true, true},
		{"connection refused", refused, false, false},
		{"broken off", errors.New("unexpected EOF"), false, false},
	} {
		if got := upstreamTimedOut(tc.err, tc.deadlinePassed); got != tc.want {
			t.Errorf("%s: upstreamTimedOut = %v, want %v", tc.name, got, tc.want)
		}
	}
}
