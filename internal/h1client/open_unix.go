//go:build unix

package h1client

import (
	"errors"
	"net"
	"syscall"
)

// probe looks at an idle connection without blocking. It is made once per
// connection, so that a look allocates nothing.
type probe struct {
	raw   syscall.RawConn // nil: the connection has no descriptor to look at
	alive bool
	buf   [1]byte
	peek  func(fd uintptr) bool
}

func (p *probe) init(nc net.Conn) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return
	}
	p.raw = raw
	p.peek = func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), p.buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		p.alive = errors.Is(err, syscall.EAGAIN)
		return true // never wait
	}
}

// open reports whether the peer has not closed an idle connection, with
// one non-blocking peek: an idle HTTP/1.1 connection has nothing to read
// unless the server hung up (or misbehaved).
func (c *conn) open() bool {
	p := &c.probe
	if p.raw == nil {
		return true
	}
	p.alive = false
	err := p.raw.Read(p.peek)
	return err == nil && p.alive
}
