//go:build !unix

package h1client

import "net"

// probe is empty where a connection cannot be looked at without blocking.
type probe struct{}

func (*probe) init(net.Conn) {}

// open cannot look without blocking here; a closed connection is then found
// by the request, and replayable requests are retried.
func (c *conn) open() bool { return true }
