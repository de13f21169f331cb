// Package h1client is an HTTP/1.1 client transport for plain-HTTP upstreams
// close by: each round trip runs on the caller's goroutine over a pooled
// keep-alive connection. net/http's Transport hands every request to a
// writer and a reader goroutine per connection; for a gateway that relays
// small answers from a service on the same network those hand-offs cost
// more than the round trip itself.
//
// Requests with any other scheme, and protocol upgrades, go to the
// Fallback transport.
package h1client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// Transport is an http.RoundTripper. Its exported fields must not change
// once it is in use.
type Transport struct {
	// DialContext opens connections (a net.Dialer's by default).
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// MaxIdlePerHost bounds the idle connections kept per host:port
	// (default 64).
	MaxIdlePerHost int
	// IdleTimeout is how long an idle connection is kept (default 90s).
	IdleTimeout time.Duration
	// MaxResponseHeaderBytes bounds a response's status line and header
	// (default 1 MiB).
	MaxResponseHeaderBytes int64
	// Fallback serves other schemes and upgrades (nil: those fail).
	Fallback http.RoundTripper

	mu     sync.Mutex
	idle   map[string][]*conn // most recently used last
	closed bool
}

// Defaults of the zero fields.
const (
	defaultMaxIdlePerHost = 64
	defaultIdleTimeout    = 90 * time.Second
	defaultMaxHeaderBytes = 1 << 20
	bufferSize            = 16 << 10
)

var errNoFallback = errors.New("h1client: only http:// requests without upgrade are supported")

// RoundTrip implements http.RoundTripper. The context's deadline, if any,
// bounds the whole exchange, as RoundTripDeadline's deadline does.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	deadline, _ := req.Context().Deadline()
	return t.RoundTripDeadline(req, deadline)
}

// RoundTripDeadline is RoundTrip with a deadline kept apart from the
// request's context, which then only cancels: writing the request and
// reading the answer, body included, must end before deadline (zero: no
// deadline). It spares a caller with a deadline per request the timer
// context it would otherwise build for it.
func (t *Transport) RoundTripDeadline(req *http.Request, deadline time.Time) (*http.Response, error) {
	if req.URL.Scheme != "http" || req.Header.Get("Upgrade") != "" {
		return t.fallback(req, deadline)
	}
	addr := req.URL.Host
	if req.URL.Port() == "" {
		addr = net.JoinHostPort(req.URL.Hostname(), "80")
	}
	ctx := req.Context()
	// A request that may be sent twice needs no look at an idle
	// connection first: if the server closed it, the request fails before
	// any answer and goes again. The second time every idle connection is
	// looked at: an upstream that closes idle connections after a few
	// seconds (gunicorn, Node, uvicorn) has closed the others too.
	look := !replayable(req)
	for retried := false; ; retried, look = true, true {
		c, reused := t.idleConn(addr, look)
		if c == nil {
			var err error
			if c, err = t.dial(ctx, addr, deadline); err != nil {
				if req.Body != nil {
					req.Body.Close()
				}
				return nil, err
			}
		}
		resp, err := c.roundTrip(ctx, req, deadline)
		if err == nil {
			return resp, nil
		}
		// A kept connection the server closed meanwhile fails before any
		// answer; a request that can be sent twice then gets a new one,
		// as net/http's Transport does.
		var early *beforeAnswerError
		if !reused || retried || !errors.As(err, &early) || !replayable(req) || ctx.Err() != nil {
			return nil, err
		}
	}
}

// fallback hands req to the Fallback transport, its deadline in its
// context until the answer's body is closed.
func (t *Transport) fallback(req *http.Request, deadline time.Time) (*http.Response, error) {
	if t.Fallback == nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, errNoFallback
	}
	if d, ok := req.Context().Deadline(); deadline.IsZero() || ok && !d.After(deadline) {
		return t.Fallback.RoundTrip(req)
	}
	ctx, cancel := context.WithDeadline(req.Context(), deadline)
	resp, err := t.Fallback.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// cancelOnClose ends a fallback round trip's context with its body.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// replayable reports whether req may be sent a second time: a method that
// changes nothing, without a body.
func replayable(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return req.Body == nil || req.Body == http.NoBody
	}
	return false
}

// CloseIdleConnections closes the pooled connections, and the Fallback's.
func (t *Transport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = nil
	t.mu.Unlock()
	for _, list := range idle {
		for _, c := range list {
			c.nc.Close()
		}
	}
	if f, ok := t.Fallback.(interface{ CloseIdleConnections() }); ok {
		f.CloseIdleConnections()
	}
}

func (t *Transport) dial(ctx context.Context, addr string, deadline time.Time) (*conn, error) {
	dial := t.DialContext
	if dial == nil {
		dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	nc, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	limit := t.MaxResponseHeaderBytes
	if limit <= 0 {
		limit = defaultMaxHeaderBytes
	}
	c := &conn{t: t, addr: addr, nc: nc, headerLimit: limit}
	c.probe.init(nc)
	c.src.r = watched{c}
	c.br = bufio.NewReaderSize(&c.src, bufferSize)
	c.bw = bufio.NewWriterSize(watched{c}, bufferSize)
	return c, nil
}

// idleConn takes the most recently used idle connection to addr that is
// still open (looked at with look, else not expired), if any.
func (t *Transport) idleConn(addr string, look bool) (*conn, bool) {
	timeout := t.IdleTimeout
	if timeout <= 0 {
		timeout = defaultIdleTimeout
	}
	for {
		t.mu.Lock()
		list := t.idle[addr]
		if len(list) == 0 {
			t.mu.Unlock()
			return nil, false
		}
		c := list[len(list)-1]
		list[len(list)-1] = nil
		t.idle[addr] = list[:len(list)-1]
		t.mu.Unlock()
		if time.Since(c.idleSince) < timeout && (!look || c.open()) {
			return c, true
		}
		c.nc.Close()
	}
}

// release pools c for the next request to its host, or closes it.
func (t *Transport) release(c *conn) {
	max := t.MaxIdlePerHost
	if max <= 0 {
		max = defaultMaxIdlePerHost
	}
	c.idleSince = time.Now()
	t.mu.Lock()
	if t.idle == nil {
		t.idle = map[string][]*conn{}
	}
	if list := t.idle[c.addr]; len(list) < max {
		t.idle[c.addr] = append(list, c)
		t.mu.Unlock()
		return
	}
	t.mu.Unlock()
	c.nc.Close()
}

// conn is one connection to an upstream.
type conn struct {
	t           *Transport
	addr        string
	nc          net.Conn
	src         limitedReader // between nc and br: bounds the response header
	br          *bufio.Reader
	bw          *bufio.Writer
	headerLimit int64
	idleSince   time.Time
	probe       probe // for open
	watch       watch // of the round trip under way
}

// beforeAnswerError is a failure before any byte of the answer arrived.
type beforeAnswerError struct{ err error }

func (e *beforeAnswerError) Error() string { return e.err.Error() }
func (e *beforeAnswerError) Unwrap() error { return e.err }

// pollInterval bounds every wait of a round trip on its upstream: when
// one runs out before the round trip's deadline, the round trip looks
// whether its context ended (the client went away) and waits again, or
// gives up. Watching the context with context.AfterFunc would react at
// once, but costs every round trip a registration on the context (its
// done channel, children map and callback); this costs nothing unless the
// upstream takes longer than pollInterval.
const pollInterval = 100 * time.Millisecond

// watch is what ends the waits of a round trip.
type watch struct {
	ctx      context.Context // nil: none
	deadline time.Time       // zero: none
}

// arm sets the connection's deadline for the next wait.
func (c *conn) arm(now time.Time) error {
	next := now.Add(pollInterval)
	if d := c.watch.deadline; !d.IsZero() && d.Before(next) {
		next = d
	}
	return c.nc.SetDeadline(next)
}

// waitAgain reports whether a wait that failed with err goes on: it ran
// out at a poll, not at the round trip's deadline, and the context lives
// on. It then arms the next wait.
func (c *conn) waitAgain(err error) bool {
	if !errors.Is(err, os.ErrDeadlineExceeded) || c.watch.ctx == nil || c.watch.ctx.Err() != nil {
		return false
	}
	now := time.Now()
	if d := c.watch.deadline; !d.IsZero() && !now.Before(d) {
		return false
	}
	return c.arm(now) == nil
}

// watched is the connection as a round trip reads and writes it, waiting
// again at each poll until its watch ends.
type watched struct{ c *conn }

func (w watched) Read(p []byte) (int, error) {
	for {
		n, err := w.c.nc.Read(p)
		if err == nil || !w.c.waitAgain(err) {
			return n, err
		}
		if n > 0 {
			return n, nil
		}
	}
}

func (w watched) Write(p []byte) (int, error) {
	written := 0
	for {
		n, err := w.c.nc.Write(p[written:])
		written += n
		if err == nil || !w.c.waitAgain(err) {
			return written, err
		}
	}
}

func (c *conn) roundTrip(ctx context.Context, req *http.Request, deadline time.Time) (*http.Response, error) {
	c.watch = watch{ctx: ctx, deadline: deadline}
	if err := c.arm(time.Now()); err != nil {
		c.nc.Close()
		return nil, &beforeAnswerError{err}
	}
	fail := func(err error, answered bool) (*http.Response, error) {
		c.nc.Close()
		if ctxErr := ctx.Err(); ctxErr != nil {
			err = fmt.Errorf("%w (%w)", ctxErr, err)
		}
		if !answered {
			err = &beforeAnswerError{err}
		}
		return nil, err
	}
	// writeRequest closes the request body.
	if err := writeRequest(c.bw, req); err != nil {
		return fail(err, false)
	}
	if err := c.bw.Flush(); err != nil {
		return fail(err, false)
	}
	c.src.n = c.headerLimit
	var resp *http.Response
	var direct bool
	for {
		if _, err := c.br.Peek(1); err != nil {
			return fail(err, false)
		}
		var err error
		if resp, direct, err = readResponse(c.br, req); err != nil {
			if c.src.n <= 0 {
				err = fmt.Errorf("h1client: response header larger than %d bytes", c.headerLimit)
			}
			return fail(err, true)
		}
		// 1xx answers are interim (RFC 9110 §15.2); 101 would be an upgrade,
		// which goes to the Fallback.
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
	}
	c.src.n = -1
	if direct {
		if resp.ContentLength == 0 {
			resp.Body = http.NoBody
			c.done(true)
			return resp, nil
		}
		resp.Body = &body{c: c, remaining: resp.ContentLength, reusable: true}
		return resp, nil
	}
	if resp.Body == http.NoBody || resp.ContentLength == 0 && !isChunked(resp) {
		resp.Body.Close()
		resp.Body = http.NoBody
		c.done(!resp.Close)
		return resp, nil
	}
	// An answer without length nor chunks ends when the server closes.
	reusable := !resp.Close && (resp.ContentLength > 0 || isChunked(resp))
	resp.Body = &body{c: c, rc: resp.Body, reusable: reusable}
	return resp, nil
}

func isChunked(resp *http.Response) bool {
	return len(resp.TransferEncoding) > 0 && strings.EqualFold(resp.TransferEncoding[0], "chunked")
}

// done ends a round trip: the connection goes back to the pool, its watch
// and deadline cleared, when the answer was read whole, neither side asked
// to close it and nothing follows the answer. Bytes after it (a HEAD or
// 204 answered with a body, a stray CRLF) would be read as the next
// request's answer.
func (c *conn) done(reusable bool) {
	c.watch = watch{}
	if reusable && c.br.Buffered() == 0 && c.nc.SetDeadline(time.Time{}) == nil {
		c.t.release(c)
		return
	}
	c.nc.Close()
}

// body is an answer's body; reading it to the end returns its connection
// to the pool.
type body struct {
	c *conn
	// rc reads the body as net/http framed it; when nil, the body is the
	// next remaining bytes of c.br.
	rc        io.ReadCloser
	remaining int64
	reusable  bool
	finished  bool
}

func (b *body) Read(p []byte) (int, error) {
	if b.finished {
		return 0, io.EOF
	}
	var n int
	var err error
	if b.rc != nil {
		n, err = b.rc.Read(p)
	} else {
		n, err = b.readLength(p)
	}
	switch {
	case err == io.EOF:
		b.finish(true)
	case err != nil:
		b.finish(false)
	}
	return n, err
}

// readLength reads the rest of a body of known length from the
// connection, as net/http's io.LimitReader over it does: io.EOF at the
// length, io.ErrUnexpectedEOF when the connection ends before.
func (b *body) readLength(p []byte) (int, error) {
	if b.remaining == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.remaining {
		p = p[:b.remaining]
	}
	n, err := b.c.br.Read(p)
	b.remaining -= int64(n)
	switch {
	case err == io.EOF:
		return n, io.ErrUnexpectedEOF
	case err == nil && b.remaining == 0:
		return n, io.EOF
	}
	return n, err
}

// Close before the end closes the connection: the rest of the answer
// would have to be read first.
func (b *body) Close() error {
	if !b.finished {
		b.finish(false)
	}
	return nil
}

func (b *body) finish(whole bool) {
	b.finished = true
	b.c.done(whole && b.reusable)
}

// limitedReader fails once more than n bytes were read, while n >= 0.
type limitedReader struct {
	r io.Reader
	n int64 // -1: no limit
}

var errHeaderTooLarge = errors.New("h1client: response header too large")

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n < 0 {
		return l.r.Read(p)
	}
	if l.n == 0 {
		return 0, errHeaderTooLarge
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}
