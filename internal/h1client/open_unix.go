//go:build unix

package h1client

import (
	"errors"
	"syscall"
)

// open reports whether the peer has not closed an idle connection, with
// one non-blocking peek: an idle HTTP/1.1 connection has nothing to read
// unless the server hung up (or misbehaved).
func (c *conn) open() bool {
	sc, ok := c.nc.(syscall.Conn)
	if !ok {
		return true
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	alive := false
	err = raw.Read(func(fd uintptr) bool {
		var b [1]byte
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		alive = errors.Is(err, syscall.EAGAIN)
		return true // never wait
	})
	return err == nil && alive
}
