//go:build !unix

package h1client

// open cannot look without blocking here; a closed connection is then found
// by the request, and replayable requests are retried.
func (c *conn) open() bool { return true }
