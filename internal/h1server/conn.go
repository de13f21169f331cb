package h1server

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
)

// Connection states (conn.state); a larger value is a new connection's
// accept time in Unix nanoseconds.
const (
	stateActive int64 = iota + 1
	stateIdle
)

const (
	// bufferSize is the read and write buffer of a connection, as
	// net/http's; a request head must fit in it to be served here.
	bufferSize = 4 << 10
	// maxPostHandlerReadBytes is how much request body a handler left
	// unread is read and dropped to keep the connection; with more left
	// the connection closes after the answer (net/http's rule).
	maxPostHandlerReadBytes = 256 << 10
	// watchAfter is how long a handler runs before the connection is
	// watched for the client going away. net/http watches every request
	// from its start, at the price of a goroutine, a read and its abort
	// each time; answers within watchAfter never pay it here.
	watchAfter = 50 * time.Millisecond
)

// aLongTimeAgo is a deadline in the past: it wakes a blocked read.
var aLongTimeAgo = time.Unix(1, 0)

// conn is one client connection served here.
type conn struct {
	s          *Server
	nc         net.Conn
	remoteAddr string
	state      atomic.Int64

	src source
	br  *bufio.Reader
	bw  *bufio.Writer
	// head and headReader hold a copy of the request head for the parser,
	// so that a head the parser refuses is still unread for the Fallback.
	head       bytes.Reader
	headReader *bufio.Reader

	// ctx is the connection's context, parent of its requests' (as in
	// net/http: cancelling a request registers with its connection only).
	ctx    context.Context
	w      response
	body   body
	broken bool // a read failed while a handler ran: close after its answer
	// lastPost says the request served last was a POST: net/http then
	// skips up to 4 CR or LF bytes before the next one (old clients).
	lastPost bool

	// The watch for the client going away while a handler runs. The timer
	// orders startWatch's writes before watch runs; watchDone orders
	// watch's writes before endWatch returns.
	watchTimer *time.Timer
	watchDone  chan struct{}
	cancel     context.CancelFunc // of the request served
	deadline   time.Time          // the request's read deadline, for the watch
	aborting   atomic.Bool        // the watch is being ended, not the client gone
}

// source is what a connection reads: the byte the watch read ahead, if
// any, then the network.
type source struct {
	nc       net.Conn
	ahead    [1]byte
	hasAhead bool
}

func (s *source) Read(p []byte) (int, error) {
	if s.hasAhead && len(p) > 0 {
		p[0], s.hasAhead = s.ahead[0], false
		return 1, nil
	}
	return s.nc.Read(p)
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{s: s, nc: nc, remoteAddr: nc.RemoteAddr().String(), watchDone: make(chan struct{}, 1)}
	c.state.Store(time.Now().UnixNano())
	c.src.nc = nc
	c.br = bufio.NewReaderSize(&c.src, bufferSize)
	c.bw = bufio.NewWriterSize(nc, bufferSize)
	c.headReader = bufio.NewReaderSize(&c.head, bufferSize)
	c.body.c = c
	c.w.c = c
	c.watchTimer = time.AfterFunc(time.Hour, c.watch)
	c.watchTimer.Stop()
	return c
}

func (c *conn) serve() {
	handed := false
	defer func() {
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler {
				stack := make([]byte, 64<<10)
				stack = stack[:runtime.Stack(stack, false)]
				c.s.log().Error("h1server: panic serving "+c.remoteAddr, "panic", p, "stack", string(stack))
			}
			// As net/http after a panic: the rest of a small body is read
			// (no reset for the client) and what the answer has in the
			// write buffer goes out before the close.
			_ = c.body.Close()
			_ = c.bw.Flush()
		}
		c.watchTimer.Stop()
		if !handed {
			c.nc.Close()
		}
		c.s.forget(c)
	}()
	ctx, cancel := context.WithCancel(c.s.serverContext())
	defer cancel()
	c.ctx = ctx
	fb := c.s.Fallback
	for first := true; ; first = false {
		if !first {
			if c.s.inShutdown.Load() {
				return
			}
			c.setReadDeadline(time.Now(), idleTimeout(fb))
			c.state.Store(stateIdle)
			if c.s.inShutdown.Load() {
				return // Shutdown may have looked before the state said idle
			}
		} else {
			c.setReadDeadline(time.Now(), headerTimeout(fb))
		}
		// net/http waits for 4 bytes of a kept connection's next request
		// and closes without an answer if fewer come.
		wait := 4
		if first {
			wait = 1
		}
		if _, err := c.br.Peek(wait); err != nil {
			return
		}
		c.state.Store(stateActive)
		t0 := time.Now()
		if c.lastPost {
			peek, _ := c.br.Peek(4)
			_, _ = c.br.Discard(leadingCRorLF(peek))
		}
		// Deadlines only where a read may wait: a head or body already
		// buffered needs none (each costs a timer update). The first
		// request's header deadline was set before its first byte.
		req, err := c.readRequest(t0, !first)
		if err != nil {
			return // the client hung up or timed out, as net/http closes then
		}
		if req == nil {
			handed = true
			c.s.handOver(c)
			return
		}
		c.lastPost = req.Method == http.MethodPost
		c.deadline = time.Time{}
		if fb.ReadTimeout > 0 {
			c.deadline = t0.Add(fb.ReadTimeout)
		}
		if req.ContentLength > int64(c.br.Buffered()) {
			_ = c.nc.SetReadDeadline(c.deadline)
		}
		if d := fb.WriteTimeout; d > 0 {
			_ = c.nc.SetWriteDeadline(time.Now().Add(d))
		}
		if !c.serveRequest(req) {
			return
		}
	}
}

// readRequest parses the next request once its head is buffered. It
// returns nil and no error, having read nothing, when the head is not
// plain, so that the Fallback gets it whole.
func (c *conn) readRequest(t0 time.Time, needDeadline bool) (*http.Request, error) {
	n, err := c.bufferHead(t0, needDeadline)
	if err != nil || n == 0 {
		return nil, err
	}
	head, _ := c.br.Peek(n)
	c.head.Reset(head)
	c.headReader.Reset(&c.head)
	req, err := http.ReadRequest(c.headReader)
	if err != nil || !plain(req) || hostFields(head) != 1 {
		return nil, nil
	}
	_, _ = c.br.Discard(n)
	req.RemoteAddr = c.remoteAddr
	// Reset for a request without a body too: the watch and the end of
	// the request look at the body's state, not the last request's.
	c.body.reset(req.ContentLength, req.Close)
	if req.ContentLength > 0 {
		req.Body = &c.body
	}
	return req, nil
}

// serveRequest runs the handler and finishes its answer; it reports
// whether the connection may serve another request.
func (c *conn) serveRequest(req *http.Request) bool {
	ctx, cancel := context.WithCancel(c.ctx)
	// req is ours, fresh from readRequest: given its context in place, the
	// copy WithContext makes stays on the stack.
	*req = *req.WithContext(ctx)
	c.w.reset(req)
	c.startWatch(cancel)
	c.s.Handler.ServeHTTP(&c.w, req)
	c.endWatch()
	cancel()
	c.w.finish()
	flushErr := c.bw.Flush()
	// As net/http's finishRequest: the body is closed, which reads what
	// is left of a small one.
	_ = c.body.Close()
	// As net/http's shouldReuseConnection: an answer shorter or longer
	// than its Content-Length ends the connection too.
	if flushErr != nil || c.w.closeAfter || c.broken || c.w.lengthMismatch() || c.body.earlyClose ||
		req.ContentLength > 0 && !c.body.drained() {
		if c.w.tooBig || c.body.earlyClose {
			c.closeWriteAndWait()
		}
		return false
	}
	return true
}

// rstAvoidanceDelay is net/http's wait between ending the sending side of
// a connection and closing it when the client may still be sending.
const rstAvoidanceDelay = 500 * time.Millisecond

// closeWriteAndWait ends the sending side and waits a little before the
// caller closes the connection, as net/http does after leaving a large
// body unread: the client then reads the answer and an end of stream,
// not a reset for the bytes still coming in.
func (c *conn) closeWriteAndWait() {
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	time.Sleep(rstAvoidanceDelay)
}

// bufferHead waits until a whole request head is in the read buffer and
// returns its length, or 0 when it is not plain or does not fit. With
// needDeadline it sets the header deadline (from t0) before it first has
// to wait.
func (c *conn) bufferHead(t0 time.Time, needDeadline bool) (int, error) {
	for {
		buf, _ := c.br.Peek(c.br.Buffered())
		if n := headLength(buf); n != 0 {
			return max(n, 0), nil
		}
		if len(buf) == c.br.Size() {
			return 0, nil
		}
		if needDeadline {
			c.setReadDeadline(t0, headerTimeout(c.s.Fallback))
			needDeadline = false
		}
		if _, err := c.br.Peek(len(buf) + 1); err != nil {
			if err == io.EOF && len(buf) > 0 {
				// The client ended within a head: net/http answers it
				// (mostly 400), the Fallback shall.
				return 0, nil
			}
			return 0, err
		}
	}
}

// headLength returns the length of the request head at the start of buf,
// its empty line included; 0 while buf holds no whole head; -1 when the
// head is not plain: a line end other than CRLF, a CR elsewhere, a line
// starting with white space (folding), an empty first line.
func headLength(buf []byte) int {
	start := 0
	for {
		i := bytes.IndexByte(buf[start:], '\n')
		if i < 0 {
			return 0
		}
		end := start + i
		if end == start || buf[end-1] != '\r' {
			return -1
		}
		line := buf[start : end-1]
		switch {
		case len(line) == 0 && start == 0:
			return -1
		case len(line) == 0:
			return end + 1
		case line[0] == ' ' || line[0] == '\t' || bytes.IndexByte(line, '\r') >= 0:
			return -1
		}
		start = end + 1
	}
}

// plain reports whether req is one this server serves: anything that
// needs a judgement on framing, protocol or host goes to the Fallback.
// The number of Host fields is hostFields' to check. Header values need
// no check here: http.ReadRequest's reader (net/textproto) refuses the
// bytes that net/http's server looks for with httpguts. It accepts a
// space in a name though ("Bad Name: x", "Name : x"), which net/http's
// server answers 400: names are checked.
func plain(req *http.Request) bool {
	if req.ProtoMajor != 1 || req.ProtoMinor != 1 || req.Method == http.MethodConnect ||
		!strings.HasPrefix(req.RequestURI, "/") || len(req.TransferEncoding) > 0 || req.ContentLength < 0 ||
		!httpguts.ValidHostHeader(req.Host) {
		return false
	}
	for name, values := range req.Header {
		if !httpguts.ValidHeaderFieldName(name) {
			return false
		}
		switch name {
		case "Expect", "Upgrade", "Transfer-Encoding", "Http2-Settings":
			return false
		case "Connection":
			if !plainConnection(values) {
				return false
			}
		}
	}
	return true
}

// hostFields counts the Host fields of a request head, which
// http.ReadRequest has taken out of the header by the time plain looks.
// A name with white space before its colon ("Host :") is not one: plain
// refuses such a name anyway.
func hostFields(head []byte) int {
	n := 0
	for line := range bytes.Lines(head) {
		if len(line) > 5 && line[4] == ':' && bytes.EqualFold(line[:4], []byte("Host")) {
			n++
		}
	}
	return n
}

// leadingCRorLF counts the CR and LF bytes b starts with.
func leadingCRorLF(b []byte) int {
	for i, c := range b {
		if c != '\r' && c != '\n' {
			return i
		}
	}
	return len(b)
}

// plainConnection reports whether a Connection header only says close or
// keep-alive.
func plainConnection(values []string) bool {
	for _, v := range values {
		for token := range strings.SplitSeq(v, ",") {
			token = strings.TrimSpace(token)
			if !strings.EqualFold(token, "close") && !strings.EqualFold(token, "keep-alive") {
				return false
			}
		}
	}
	return true
}

// setReadDeadline sets the read deadline d after t0, or none for d 0.
func (c *conn) setReadDeadline(t0 time.Time, d time.Duration) {
	var deadline time.Time
	if d > 0 {
		deadline = t0.Add(d)
	}
	_ = c.nc.SetReadDeadline(deadline)
}

func headerTimeout(s *http.Server) time.Duration {
	if s.ReadHeaderTimeout > 0 {
		return s.ReadHeaderTimeout
	}
	return s.ReadTimeout
}

func idleTimeout(s *http.Server) time.Duration {
	if s.IdleTimeout > 0 {
		return s.IdleTimeout
	}
	return s.ReadTimeout
}

// startWatch arms the watch of the request about to be served.
func (c *conn) startWatch(cancel context.CancelFunc) {
	c.cancel = cancel
	c.aborting.Store(false)
	c.watchTimer.Reset(watchAfter)
}

// endWatch ends the watch of the request just served: if it began, its
// read is woken and waited for.
func (c *conn) endWatch() {
	if c.watchTimer.Stop() {
		return
	}
	c.aborting.Store(true)
	_ = c.nc.SetReadDeadline(aLongTimeAgo)
	<-c.watchDone
	_ = c.nc.SetReadDeadline(c.deadline) // for what is left of the body
}

// watch runs when a handler has taken watchAfter: with the request body
// read and nothing more buffered, a read on the connection returns only
// when the client sends its next request (the byte is kept) or goes away
// (the request's context is cancelled, as net/http's server does).
func (c *conn) watch() {
	defer func() { c.watchDone <- struct{}{} }()
	if !c.body.done.Load() || c.br.Buffered() > 0 || c.src.hasAhead || c.aborting.Load() {
		return
	}
	_ = c.nc.SetReadDeadline(c.deadline)
	if c.aborting.Load() {
		return // endWatch's deadline may have come before this one
	}
	n, err := c.nc.Read(c.src.ahead[:])
	if n == 1 {
		c.src.hasAhead = true
		return
	}
	if err != nil && !c.aborting.Load() {
		c.broken = true
		c.cancel()
	}
}

// body is a request body of known length, read from the connection. It
// behaves as net/http's server's body does, as seen by a handler and by
// the client.
type body struct {
	c         *conn
	remaining int64
	closing   bool // the request said Connection: close
	closed    bool
	// earlyClose says Close left more than maxPostHandlerReadBytes unread,
	// or read exactly that much: the connection ends after the answer.
	earlyClose bool
	err        error
	// done says the body ended, or the client's side of the connection
	// did before it (net/http's body says io.EOF from then on). Atomic for
	// the watch, which looks at it while the handler runs.
	done atomic.Bool
}

func (b *body) reset(n int64, closing bool) {
	b.remaining, b.closing, b.closed, b.earlyClose, b.err = n, closing, false, false, nil
	b.done.Store(n == 0)
}

func (b *body) Read(p []byte) (int, error) {
	switch {
	case b.closed:
		return 0, http.ErrBodyReadAfterClose
	case b.done.Load():
		return 0, io.EOF
	case b.err != nil:
		return 0, b.err
	}
	if int64(len(p)) > b.remaining {
		p = p[:b.remaining]
	}
	n, err := b.c.br.Read(p)
	b.remaining -= int64(n)
	switch {
	case b.remaining == 0:
		err = io.EOF
	case err == io.EOF:
		err = io.ErrUnexpectedEOF
	case err != nil:
		b.err = err
		return n, err
	default:
		return n, nil
	}
	b.done.Store(true)
	return n, err
}

// Close is net/http's: with at most maxPostHandlerReadBytes left, it
// reads the rest so that the connection can go on; with more, or when the
// request closes the connection anyway, it reads nothing.
func (b *body) Close() error {
	if b.closed {
		return nil
	}
	var err error
	switch {
	case b.done.Load(), b.closing:
	case b.remaining > maxPostHandlerReadBytes:
		b.earlyClose = true
	default:
		var n int64
		n, err = io.Copy(io.Discard, b)
		b.earlyClose = n == maxPostHandlerReadBytes
	}
	b.closed = true
	return err
}

// drained reports whether the body was read to its end.
func (b *body) drained() bool { return b.remaining == 0 && b.err == nil }

// discard does with the body what net/http's server does when it writes
// the head of an answer that keeps the connection: a body closed before
// its end, or one of maxPostHandlerReadBytes or more left (tooBig), ends
// the connection; what is left of a smaller one is read and dropped.
func (b *body) discard() (keep, tooBig bool) {
	switch {
	case b.closed:
		return b.done.Load(), false
	case b.remaining >= maxPostHandlerReadBytes:
		return false, true
	}
	_, err := io.Copy(io.Discard, b)
	b.closed = err == nil
	return err == nil, false
}
