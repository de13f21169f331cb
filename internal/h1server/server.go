// Package h1server serves plain-text HTTP/1.1 connections on a loop of its
// own for the requests that need no judgement, and hands every other
// connection to a net/http server.
//
// net/http's server spends about as much CPU on each small request as the
// gateway's own work does: a background read and its abort, a context and
// response per request, header copies. This server reads each request with
// the standard library's parser (http.ReadRequest) and serves it on the
// connection's goroutine, but only when the request head is plain:
// HTTP/1.1, CRLF line ends, no folded lines, origin-form target, one valid
// Host, no Transfer-Encoding, Expect or Upgrade, Connection only "close"
// or "keep-alive", header names and values valid, the head within one
// buffer. Anything else — malformed, unusual or simply large — is not
// judged here: the connection, with every byte read so far, goes to the
// Fallback net/http server, which answers it as it would have from the
// start. So the framing questions that request smuggling lives on are
// only ever answered by net/http, and this server serves bodies delimited
// by a single Content-Length or none.
//
// Answers are written as net/http writes them: Date, Content-Length when
// the handler finished within the first 2 KiB, chunked otherwise, content
// sniffing, HEAD and 1xx/204/304 rules, unread request bodies discarded up
// to 256 KiB or the connection closed. It does not support trailers,
// Hijack or HTTP/1.0; no handler of scimgate uses them on this listener.
// Nor can http.MaxBytesReader tell it to close the connection when the
// limit is hit (net/http's hook for that is unexported): a handler that
// relies on that close must set "Connection: close" itself.
package h1server

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Server serves connections from Serve's listener. Set its fields before
// Serve; Fallback must not be started by anyone else.
type Server struct {
	// Handler answers the requests served here; the Fallback's Handler
	// should be the same.
	Handler http.Handler
	// Fallback serves the connections handed over. Its ReadHeaderTimeout,
	// ReadTimeout, WriteTimeout and IdleTimeout apply here too.
	Fallback *http.Server
	// BaseContext is the parent of every request's context (default
	// context.Background()).
	BaseContext context.Context
	// Log receives handler panics (default slog.Default()).
	Log *slog.Logger

	start   sync.Once
	handoff handoffListener
	// fallbackDone is closed when Fallback.Serve returned fallbackErr (a
	// channel receive would let a second Shutdown wait forever).
	fallbackDone chan struct{}
	fallbackErr  error

	mu         sync.Mutex
	listeners  map[net.Listener]struct{}
	conns      map[*conn]struct{}
	inShutdown atomic.Bool
}

// Serve accepts connections on ln until it is closed, by Shutdown or
// Close (then it returns http.ErrServerClosed) or by anyone else.
func (s *Server) Serve(ln net.Listener) error {
	if !s.track(ln) {
		return http.ErrServerClosed
	}
	defer s.untrack(ln)
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.inShutdown.Load() {
				return http.ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// Out of descriptors, an aborted handshake: wait, as net/http
			// does, rather than spin or give up serving.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log().Warn("h1server: accept failed; retrying", "err", err, "in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		c := s.newConn(nc)
		if c == nil {
			nc.Close()
			continue
		}
		go c.serve()
	}
}

func (s *Server) init(addr net.Addr) {
	s.start.Do(func() {
		s.handoff = handoffListener{conns: make(chan net.Conn), done: make(chan struct{}), addr: addr}
		s.fallbackDone = make(chan struct{})
		go func() {
			s.fallbackErr = s.Fallback.Serve(&s.handoff)
			close(s.fallbackDone)
		}()
	})
}

func (s *Server) track(ln net.Listener) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inShutdown.Load() {
		return false
	}
	// Under s.mu, after the check: Shutdown and Close, which set
	// inShutdown under s.mu, see the Fallback started, or it never starts
	// (starting it before left it serving after a Shutdown that came
	// first, and raced on its fields).
	s.init(ln.Addr())
	if s.listeners == nil {
		s.listeners = map[net.Listener]struct{}{}
	}
	s.listeners[ln] = struct{}{}
	return true
}

func (s *Server) untrack(ln net.Listener) {
	s.mu.Lock()
	delete(s.listeners, ln)
	s.mu.Unlock()
}

func (s *Server) newConn(nc net.Conn) *conn {
	c := newConn(s, nc)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inShutdown.Load() {
		return nil
	}
	if s.conns == nil {
		s.conns = map[*conn]struct{}{}
	}
	s.conns[c] = struct{}{}
	return c
}

func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *Server) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// shutdownPoll is how often Shutdown looks for connections turned idle.
const shutdownPoll = 10 * time.Millisecond

// newConnGrace is how long a new connection that has sent nothing yet may
// still send its first request after Shutdown began, as net/http allows.
const newConnGrace = 5 * time.Second

// Shutdown stops accepting, closes idle connections, lets the others
// finish the request they are serving (their answers say "Connection:
// close") and waits until they have, or until ctx ends. The handed-over
// connections shut down by the Fallback's Shutdown alongside.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeListeners()
	fallback := make(chan error, 1)
	go func() { fallback <- s.shutdownFallback(ctx) }()
	tick := time.NewTicker(shutdownPoll)
	defer tick.Stop()
	for !s.closeIdle() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return <-fallback
}

func (s *Server) shutdownFallback(ctx context.Context) error {
	if s.fallbackDone == nil {
		return nil
	}
	if err := s.Fallback.Shutdown(ctx); err != nil {
		return err
	}
	<-s.fallbackDone
	if err := s.fallbackErr; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Close closes the listeners and every connection at once, the handed
// over ones included.
func (s *Server) Close() error {
	s.closeListeners()
	s.mu.Lock()
	for c := range s.conns {
		c.nc.Close()
	}
	s.mu.Unlock()
	if s.fallbackDone == nil {
		return nil
	}
	return s.Fallback.Close()
}

func (s *Server) closeListeners() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inShutdown.Store(true)
	for ln := range s.listeners {
		ln.Close()
	}
}

// closeIdle closes the connections waiting for a request and reports
// whether none is left.
func (s *Server) closeIdle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now().UnixNano()
	for c := range s.conns {
		switch st := c.state.Load(); {
		case st == stateIdle, st > stateIdle && now-st > int64(newConnGrace):
			c.nc.Close()
		}
	}
	return len(s.conns) == 0
}

// handoffListener passes handed-over connections to the Fallback.
type handoffListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
	addr  net.Addr
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *handoffListener) Addr() net.Addr { return l.addr }

// handOver gives c, with what it has read so far, to the Fallback.
func (s *Server) handOver(c *conn) {
	_ = c.nc.SetDeadline(time.Time{})
	hc := &handedConn{Conn: c.nc, br: c.br, src: &c.src}
	var handed net.Conn = hc
	if _, ok := c.nc.(io.ReaderFrom); ok {
		handed = handedConnRF{hc}
	}
	select {
	case s.handoff.conns <- handed:
	case <-s.handoff.done:
		c.nc.Close()
	}
}

// handedConn is a connection handed over: the bytes read ahead first.
type handedConn struct {
	net.Conn
	br  *bufio.Reader // drained, then dropped
	src *source
}

// handedConnRF is a handedConn over a connection with a ReadFrom (TCP),
// which it passes on: net/http's ResponseWriter.ReadFrom (io.Copy) sends
// the head after 512 bytes on such a connection, and only there.
type handedConnRF struct{ *handedConn }

func (h handedConnRF) ReadFrom(r io.Reader) (int64, error) { return h.Conn.(io.ReaderFrom).ReadFrom(r) }

// CloseWrite lets the Fallback end the sending side before it closes, as
// it does on a connection of its own (net/http's closeWriteAndWait):
// without it the client gets a reset, not the end of the stream.
func (h *handedConn) CloseWrite() error {
	if cw, ok := h.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (h *handedConn) Read(p []byte) (int, error) {
	if h.br != nil {
		if h.br.Buffered() > 0 {
			return h.br.Read(p)
		}
		h.br = nil
	}
	return h.src.Read(p)
}

// serverContext is the parent of the requests' contexts.
func (s *Server) serverContext() context.Context {
	if s.BaseContext != nil {
		return s.BaseContext
	}
	return context.Background()
}
