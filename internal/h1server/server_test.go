package h1server_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scimgate/scimgate/internal/h1server"
)

// startH1 starts an h1server alone, closed when the test ends; its Serve
// result arrives on done.
func startH1(t *testing.T, h http.Handler, configure func(*http.Server)) (s *h1server.Server, addr string, served *servedLog, done chan error) {
	t.Helper()
	served = &servedLog{}
	wrapped := served.wrap(h)
	fb := &http.Server{Handler: wrapped, ReadHeaderTimeout: 2 * time.Second, ErrorLog: quietLog}
	if configure != nil {
		configure(fb)
	}
	s = &h1server.Server{Handler: wrapped, Fallback: fb, Log: slog.New(slog.DiscardHandler)}
	ln := listen(t)
	done = make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() { s.Close() })
	return s, ln.Addr().String(), served, done
}

// client is a connection that sends requests and reads answers.
type client struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	return &client{t: t, c: c, br: bufio.NewReader(c)}
}

func (c *client) send(raw string) {
	c.t.Helper()
	if _, err := io.WriteString(c.c, raw); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// answer reads the next answer to a GET, body included.
func (c *client) answer() (*http.Response, string) {
	c.t.Helper()
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		c.t.Fatalf("reading an answer: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("reading an answer's body: %v", err)
	}
	return resp, string(body)
}

// closed waits for the server to close the connection, having sent
// nothing more.
func (c *client) closed() {
	c.t.Helper()
	n, err := c.br.Read(make([]byte, 1))
	if n != 0 || err == nil || isTimeout(err) {
		c.t.Fatalf("connection still open: read %d, %v", n, err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// blocking is a handler that runs until released, reporting each start.
type blocking struct {
	started chan *http.Request
	release chan struct{}
}

func newBlocking() *blocking {
	return &blocking{started: make(chan *http.Request, 10), release: make(chan struct{})}
}

func (b *blocking) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	if r.URL.Path == "/block" {
		b.started <- r
		<-b.release
	}
	io.WriteString(w, "done "+r.URL.Path)
}

func (b *blocking) waitStarted(t *testing.T) *http.Request {
	t.Helper()
	select {
	case r := <-b.started:
		return r
	case <-time.After(2 * time.Second):
		t.Fatal("the handler did not start")
		return nil
	}
}

func TestContextCancelledWhenClientGoesAway(t *testing.T) {
	tests := []struct {
		name, raw string
		served    string
	}{
		{"GET", get("/"), fast},
		{"GET after another", get("/first") + get("/"), fast},
		{"POST with its body read", post("/", "abc"), fast},
		{"handed over", "GET / HTTP/1.1\r\nHost: x\r\nX-A: folded\r\n line\r\n\r\n", fallback},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			started := make(chan struct{})
			cancelled := make(chan time.Duration, 1)
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				if r.URL.Path == "/first" {
					return
				}
				t0 := time.Now()
				close(started)
				select {
				case <-r.Context().Done():
					cancelled <- time.Since(t0)
				case <-time.After(2 * time.Second):
					cancelled <- -1
				}
			})
			_, addr, served, _ := startH1(t, h, nil)
			c := dial(t, addr)
			c.send(tt.raw)
			select {
			case <-started:
			case <-time.After(2 * time.Second):
				t.Fatal("the handler did not start")
			}
			c.c.Close()
			if d := <-cancelled; d < 0 || d > time.Second {
				t.Fatalf("context cancelled after %v, want within 1s", d)
			}
			if got := served.take(); got[len(got)-1] != tt.served {
				t.Errorf("served by %v, want %s", got, tt.served)
			}
		})
	}
}

// A request sent while the handler of the one before runs is served after
// it: the byte the watch for the client going away read is kept.
func TestPipelinedDuringSlowHandler(t *testing.T) {
	tests := []struct {
		name   string
		pieces []string // the next request, sent in these pieces
	}{
		{"whole", []string{get("/next")}},
		{"in pieces", []string{"G", "ET /next HTTP/1.1\r\n", "Host: x\r\n\r\n"}},
		{"POST", []string{"P", post("/next", "body")[1:]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newBlocking()
			_, addr, served, _ := startH1(t, b, nil)
			c := dial(t, addr)
			c.send(get("/block"))
			r := b.waitStarted(t)
			for _, piece := range tt.pieces {
				c.send(piece)
				// Long enough for the watch (after 50 ms) to read ahead.
				time.Sleep(80 * time.Millisecond)
			}
			if err := r.Context().Err(); err != nil {
				t.Errorf("the slow request's context ended: %v", err)
			}
			close(b.release)
			for _, want := range []string{"done /block", "done /next"} {
				if resp, body := c.answer(); resp.StatusCode != 200 || body != want {
					t.Fatalf("answer %d %q, want 200 %q", resp.StatusCode, body, want)
				}
			}
			if got := served.take(); strings.Join(got, " ") != "fast fast" {
				t.Errorf("served by %v", got)
			}
		})
	}
}

// shutdowner is what both servers offer.
type shutdowner interface {
	Shutdown(context.Context) error
	Close() error
}

// starters start a server of each kind serving h, closed when the test
// ends, for the tests that run alike on both; done gets Serve's result.
var starters = []struct {
	name  string
	start func(t *testing.T, h http.Handler, configure func(*http.Server)) (s shutdowner, addr string, done chan error)
}{
	{"net/http", func(t *testing.T, h http.Handler, configure func(*http.Server)) (shutdowner, string, chan error) {
		s := &http.Server{Handler: h, ReadHeaderTimeout: 2 * time.Second, ErrorLog: quietLog}
		if configure != nil {
			configure(s)
		}
		ln := listen(t)
		done := make(chan error, 1)
		go func() { done <- s.Serve(ln) }()
		t.Cleanup(func() { s.Close() })
		return s, ln.Addr().String(), done
	}},
	{"h1server", func(t *testing.T, h http.Handler, configure func(*http.Server)) (shutdowner, string, chan error) {
		s, addr, _, done := startH1(t, h, configure)
		return s, addr, done
	}},
}

func waitServe(t *testing.T, done chan error) {
	t.Helper()
	select {
	case err := <-done:
		if !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v, want http.ErrServerClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Error("Serve did not return")
	}
}

// waitListenerClosed waits until addr refuses connections: Shutdown or
// Close has begun.
func waitListenerClosed(t *testing.T, addr string) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return
		}
		c.Close()
	}
	t.Fatal("the listener is still open")
}

// folded is a request h1server hands over (a folded header line).
func folded(path string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: x\r\nX-A: folded\r\n line\r\n\r\n"
}

// Shutdown closes the idle connections, the handed over ones too, lets
// the requests in flight finish with "Connection: close" and returns nil
// once they have; Serve returns http.ErrServerClosed.
func TestShutdown(t *testing.T) {
	for _, st := range starters {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			b := newBlocking()
			s, addr, done := st.start(t, b, nil)
			idle := dial(t, addr)
			idle.send(get("/idle"))
			if _, body := idle.answer(); body != "done /idle" {
				t.Fatalf("idle: %q", body)
			}
			handed := dial(t, addr)
			handed.send(folded("/handed"))
			if _, body := handed.answer(); body != "done /handed" {
				t.Fatalf("handed: %q", body)
			}
			busy := dial(t, addr)
			busy.send(get("/block"))
			b.waitStarted(t)
			handedBusy := dial(t, addr)
			handedBusy.send(folded("/block"))
			b.waitStarted(t)
			fresh := dial(t, addr) // connected, nothing sent yet

			shutdown := make(chan error, 1)
			go func() { shutdown <- s.Shutdown(t.Context()) }()
			waitListenerClosed(t, addr)
			idle.closed()
			handed.closed()
			select {
			case err := <-shutdown:
				t.Fatalf("Shutdown returned %v with requests in flight", err)
			default:
			}
			close(b.release)
			for _, c := range []*client{busy, handedBusy} {
				resp, body := c.answer()
				if body != "done /block" || !resp.Close {
					t.Errorf("in flight: %q, close %v, want Connection: close", body, resp.Close)
				}
				c.closed()
			}
			// A new connection may still send its request (net/http waits
			// 5 s for it): this one says it has none.
			fresh.c.Close()
			select {
			case err := <-shutdown:
				if err != nil {
					t.Errorf("Shutdown: %v", err)
				}
			case <-time.After(2 * time.Second):
				t.Fatal("Shutdown did not return")
			}
			waitServe(t, done)
			if err := s.Shutdown(t.Context()); err != nil {
				t.Errorf("second Shutdown: %v", err)
			}
		})
	}
}

func TestShutdownContextEnds(t *testing.T) {
	for _, st := range starters {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			b := newBlocking()
			s, addr, done := st.start(t, b, nil)
			busy := dial(t, addr)
			busy.send(get("/block"))
			b.waitStarted(t)
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
			defer cancel()
			if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Shutdown: %v, want context.DeadlineExceeded", err)
			}
			close(b.release)
			resp, body := busy.answer()
			if body != "done /block" || !resp.Close {
				t.Errorf("in flight: %q, close %v, want Connection: close", body, resp.Close)
			}
			waitServe(t, done)
		})
	}
}

// Close closes every connection at once, idle, busy and handed over; the
// handlers' contexts end.
func TestClose(t *testing.T) {
	for _, st := range starters {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			ended := make(chan struct{}, 2)
			b := newBlocking()
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/block" {
					b.started <- r
					select {
					case <-r.Context().Done():
						ended <- struct{}{}
					case <-time.After(2 * time.Second):
					}
				}
				io.WriteString(w, "done")
			})
			s, addr, done := st.start(t, h, nil)
			idle := dial(t, addr)
			idle.send(get("/idle"))
			idle.answer()
			handed := dial(t, addr)
			handed.send(folded("/handed"))
			handed.answer()
			busy := dial(t, addr)
			busy.send(get("/block"))
			b.waitStarted(t)
			handedBusy := dial(t, addr)
			handedBusy.send(folded("/block"))
			b.waitStarted(t)
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			for _, c := range []*client{idle, handed, busy, handedBusy} {
				c.closed()
			}
			for range 2 {
				select {
				case <-ended:
				case <-time.After(time.Second):
					t.Fatal("a handler's context did not end")
				}
			}
			waitServe(t, done)
			if _, err := net.Dial("tcp", addr); err == nil {
				t.Error("the listener is still open")
			}
		})
	}
}

// A client that sends half a head is cut off after ReadHeaderTimeout, on
// a new connection and on a kept one; a kept connection is closed after
// IdleTimeout, also when the next request has begun with fewer than 4
// bytes (net/http waits for 4 before it counts a request as begun).
func TestTimeoutsCloseTheConnection(t *testing.T) {
	const timeout = 200 * time.Millisecond
	readHeader := func(s *http.Server) { s.ReadHeaderTimeout = timeout }
	idle := func(s *http.Server) { s.IdleTimeout = timeout }
	const halfHead = "GET / HTTP/1.1\r\nHost: x\r\n"
	tests := []struct {
		name         string
		set          func(*http.Server)
		before, then string // a request answered first, if any; then what is sent
	}{
		{"header/new connection", readHeader, "", halfHead},
		{"header/kept connection", readHeader, get("/"), halfHead},
		{"idle/nothing", idle, get("/"), ""},
		{"idle/2 bytes", idle, get("/"), "GE"},
	}
	for _, st := range starters {
		for _, tt := range tests {
			t.Run(st.name+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				_, addr, _ := st.start(t, http.HandlerFunc(hello), tt.set)
				c := dial(t, addr)
				if tt.before != "" {
					c.send(tt.before)
					c.answer()
				}
				t0 := time.Now()
				c.send(tt.then)
				c.closed()
				if d := time.Since(t0); d < timeout-10*time.Millisecond || d > timeout+time.Second {
					t.Errorf("closed after %v, want about %v", d, timeout)
				}
			})
		}
	}
}

// Serve after Shutdown returns at once; Shutdown before Serve does not
// wait for it.
func TestShutdownBeforeServe(t *testing.T) {
	s := &h1server.Server{Handler: http.HandlerFunc(hello), Fallback: &http.Server{Handler: http.HandlerFunc(hello)}}
	serve := make(chan error, 1)
	ln := listen(t)
	defer ln.Close()
	go func() { serve <- s.Serve(ln) }() // racing with Shutdown
	if err := s.Shutdown(t.Context()); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	waitServe(t, serve)
	if err := s.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve after Shutdown: %v", err)
	}
	if err := s.Shutdown(t.Context()); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}
