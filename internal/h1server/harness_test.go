package h1server_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/scimgate/scimgate/internal/h1server"
)

// Which server answered a request: net/http's (the Fallback of the pair's
// h1server, or the plain one) or h1server's own loop.
const (
	fast     = "fast"
	fallback = "fallback"
)

// servedLog records, for each request a handler ran for, which path
// served it: net/http's server puts itself in the request's context under
// http.ServerContextKey, h1server does not.
type servedLog struct {
	mu    sync.Mutex
	paths []string
}

func (l *servedLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := fast
		if r.Context().Value(http.ServerContextKey) != nil {
			path = fallback
		}
		l.mu.Lock()
		l.paths = append(l.paths, path)
		l.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

// take returns the paths recorded since the last take.
func (l *servedLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	paths := l.paths
	l.paths = nil
	return paths
}

// pair is a plain net/http server and an h1server serving the same
// handler, each on its own listener.
type pair struct {
	std, h1 string // addresses
	stdSrv  *http.Server
	h1Srv   *h1server.Server
	served  *servedLog // of the h1server's requests only
	// Serve's results, once they returned.
	stdDone, h1Done chan error
}

// quietLog drops net/http's log lines (panics, superfluous WriteHeader).
var quietLog = log.New(io.Discard, "", 0)

// startPair starts both servers with handler h; configure, if not nil,
// sets up each net/http server (the plain one and the Fallback) alike.
// Both are shut down when the test ends.
func startPair(t testing.TB, h http.Handler, configure func(*http.Server)) *pair {
	t.Helper()
	p := &pair{served: &servedLog{}, stdDone: make(chan error, 1), h1Done: make(chan error, 1)}
	newStd := func(h http.Handler) *http.Server {
		s := &http.Server{Handler: h, ReadHeaderTimeout: 2 * time.Second, ErrorLog: quietLog}
		if configure != nil {
			configure(s)
		}
		return s
	}
	wrapped := p.served.wrap(h)
	p.stdSrv = newStd(h)
	p.h1Srv = &h1server.Server{Handler: wrapped, Fallback: newStd(wrapped), Log: slog.New(slog.DiscardHandler)}
	stdLn, h1Ln := listen(t), listen(t)
	p.std, p.h1 = stdLn.Addr().String(), h1Ln.Addr().String()
	go func() { p.stdDone <- p.stdSrv.Serve(stdLn) }()
	go func() { p.h1Done <- p.h1Srv.Serve(h1Ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := p.h1Srv.Shutdown(ctx); err != nil {
			t.Errorf("h1server Shutdown: %v", err)
			p.h1Srv.Close()
		}
		if err := p.stdSrv.Shutdown(ctx); err != nil {
			t.Errorf("net/http Shutdown: %v", err)
			p.stdSrv.Close()
		}
		for name, done := range map[string]chan error{"net/http": p.stdDone, "h1server": p.h1Done} {
			if err := <-done; !errors.Is(err, http.ErrServerClosed) {
				t.Errorf("%s Serve: %v, want http.ErrServerClosed", name, err)
			}
		}
	})
	return p
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// outcome is what a client saw of one exchange: the bytes, and how the
// stream ended ("EOF", "reset", "timeout" or another error).
type outcome struct {
	data []byte
	end  string
}

// exchangeTimeout bounds an exchange of the table tests.
const exchangeTimeout = 2 * time.Second

// exchange dials addr, writes raw, closes its write side and reads until
// the server closes the connection.
func exchange(t testing.TB, addr, raw string) string {
	t.Helper()
	o := exchangeWithin(addr, raw, exchangeTimeout)
	if o.end != "EOF" {
		t.Fatalf("exchange with %s: %s after %q", addr, o.end, o.data)
	}
	return string(o.data)
}

// exchangeWithin is exchange that reports how the stream ended instead of
// failing. It writes while it reads, so that a server answering and
// closing before it read all the request does not block it.
func exchangeWithin(addr, raw string, timeout time.Duration) outcome {
	c, err := (&net.Dialer{Timeout: timeout, LocalAddr: sourceAddr()}).Dial("tcp", addr)
	if err != nil {
		return outcome{end: "dial: " + err.Error()}
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		if _, err := io.WriteString(c, raw); err == nil {
			_ = c.(*net.TCPConn).CloseWrite()
		}
	}()
	data, err := io.ReadAll(c)
	<-wrote
	return outcome{data: data, end: endOf(err)}
}

var (
	sources     atomic.Uint32
	sourcesOnce sync.Once
	manySources bool
)

// sourceAddr is the local address of an exchange's connection: a new
// loopback address each time where the system has them all (Linux), else
// any. The client's side of a connection ends in TIME_WAIT; with one
// source address the fuzzer's thousands of exchanges a second use up the
// ephemeral ports, and dials stall on the ones still waiting.
func sourceAddr() *net.TCPAddr {
	sourcesOnce.Do(func() {
		ln, err := net.Listen("tcp", "127.1.0.1:0")
		if manySources = err == nil; manySources {
			ln.Close()
		}
	})
	if !manySources {
		return nil
	}
	n := sources.Add(1)
	return &net.TCPAddr{IP: net.IPv4(127, 1+byte(n>>16%200), byte(n>>8), byte(n))}
}

func endOf(err error) string {
	var ne net.Error
	switch {
	case err == nil:
		return "EOF"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNRESET):
		return "reset"
	}
	return err.Error()
}

// normalize renders a response stream as the client understands it: per
// response its status line, headers sorted (Date only as present or not),
// framing, body and body error; then how the stream ended. methods are
// the requests' methods in order (GET when left out); a 1xx answer takes
// none. Empty methods with detectHead set take HEAD for answers that
// carry "X-Method: HEAD" (the fuzz handler's).
func normalize(data []byte, methods []string, detectHead bool) string {
	var b strings.Builder
	src := bytes.NewReader(data)
	br := bufio.NewReader(src)
	for i := 0; ; {
		method := http.MethodGet
		if i < len(methods) {
			method = methods[i]
		}
		if detectHead {
			rest := data[len(data)-src.Len()-br.Buffered():]
			if end := bytes.Index(rest, []byte("\r\n\r\n")); end >= 0 && bytes.Contains(rest[:end+2], []byte("\r\nX-Method: HEAD\r\n")) {
				method = http.MethodHead
			}
		}
		if _, err := br.Peek(1); err == io.EOF {
			b.WriteString("end\n")
			return b.String()
		}
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			rest, _ := io.ReadAll(br)
			fmt.Fprintf(&b, "end: %v, then %q\n", err, rest)
			return b.String()
		}
		if resp.StatusCode >= 200 {
			i++
		}
		fmt.Fprintf(&b, "%s %s\n", resp.Proto, resp.Status)
		for _, name := range slices.Sorted(func(yield func(string) bool) {
			for name := range resp.Header {
				if !yield(name) {
					return
				}
			}
		}) {
			if name == "Date" {
				fmt.Fprintf(&b, "  Date: (%d)\n", len(resp.Header[name]))
				continue
			}
			for _, v := range resp.Header[name] {
				fmt.Fprintf(&b, "  %s: %q\n", name, v)
			}
		}
		body, err := io.ReadAll(resp.Body)
		fmt.Fprintf(&b, "  [length %d, transfer-encoding %q, close %v]\n  body %q", resp.ContentLength, resp.TransferEncoding, resp.Close, body)
		if err != nil {
			fmt.Fprintf(&b, " (%v)", err)
		}
		b.WriteString("\n")
		if err != nil {
			rest, _ := io.ReadAll(br)
			fmt.Fprintf(&b, "end, then %q\n", rest)
			return b.String()
		}
	}
}

// statuses lists the status codes of a normalized stream, for the tests'
// own sanity checks.
func statuses(norm string) []string {
	var codes []string
	for line := range strings.Lines(norm) {
		if strings.HasPrefix(line, "HTTP/") {
			codes = append(codes, strings.Fields(line)[1])
		}
	}
	return codes
}

// compareOnce sends raw to both servers of p at once and returns both
// normalized outcomes.
func compareOnce(p *pair, raw string, methods []string, detectHead bool, timeout time.Duration) (std, h1 string) {
	var wg sync.WaitGroup
	var stdOut, h1Out outcome
	wg.Go(func() { stdOut = exchangeWithin(p.std, raw, timeout) })
	wg.Go(func() { h1Out = exchangeWithin(p.h1, raw, timeout) })
	wg.Wait()
	std = normalize(scrubDates(stdOut.data), methods, detectHead) + "stream: " + stdOut.end + "\n"
	h1 = normalize(scrubDates(h1Out.data), methods, detectHead) + "stream: " + h1Out.end + "\n"
	return std, h1
}

var dateField = regexp.MustCompile(`\r\nDate: [A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT\r\n`)

// scrubDates replaces the values of the Date fields in a response stream
// by one of the same length, for the bytes normalize shows as they are
// (after what it cannot parse).
func scrubDates(data []byte) []byte {
	return dateField.ReplaceAll(data, []byte("\r\nDate: Mon, 01 Jan 0001 00:00:00 GMT\r\n"))
}
