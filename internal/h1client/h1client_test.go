package h1client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingServer is an httptest server that counts the connections it
// accepted.
func countingServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

func do(t *testing.T, tr http.RoundTripper, method, url, body string) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, url, rd)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("%s %s: body: %v", method, url, err)
	}
	return resp, string(b)
}

func TestAnswersAndConnectionReuse(t *testing.T) {
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/length":
			w.Header().Set("Content-Length", "2")
			io.WriteString(w, "ok")
		case "/chunked":
			w.(http.Flusher).Flush()
			io.WriteString(w, strings.Repeat("x", 50_000))
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/echo":
			fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.RawQuery, body)
		case "/close":
			w.Header().Set("Connection", "close")
			io.WriteString(w, "bye")
		}
	})
	tr := &Transport{}
	defer tr.CloseIdleConnections()
	tests := []struct {
		method, path, body string
		status             int
		want               string
		newConns           int32
	}{
		{"GET", "/length", "", 200, "ok", 1},
		{"GET", "/length", "", 200, "ok", 0},
		{"GET", "/chunked", "", 200, strings.Repeat("x", 50_000), 0},
		{"DELETE", "/empty", "", 204, "", 0},
		{"HEAD", "/length", "", 200, "", 0},
		{"POST", "/echo?a=%22b%22", `{"op":"add"}`, 200, `POST a=%22b%22 {"op":"add"}`, 0},
		{"PATCH", "/echo", "", 200, "PATCH  ", 0},
		{"GET", "/close", "", 200, "bye", 0},
		{"GET", "/length", "", 200, "ok", 1}, // after Connection: close
	}
	for _, tt := range tests {
		before := conns.Load()
		resp, got := do(t, tr, tt.method, srv.URL+tt.path, tt.body)
		if resp.StatusCode != tt.status || got != tt.want {
			t.Errorf("%s %s: %d %q, want %d %q", tt.method, tt.path, resp.StatusCode, got, tt.status, tt.want)
		}
		if n := conns.Load() - before; n != tt.newConns {
			t.Errorf("%s %s: %d new connections, want %d", tt.method, tt.path, n, tt.newConns)
		}
	}
}

// rawServer answers each connection's requests with the given answers in
// turn, then closes it. It counts the connections it accepted and closed.
func rawServer(t *testing.T, answers ...string) (addr string, accepted, closed *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted, closed = new(atomic.Int32), new(atomic.Int32)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			go func() {
				defer closed.Add(1)
				defer c.Close()
				br := bufio.NewReader(c)
				for _, a := range answers {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					if _, err := io.WriteString(c, a); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String(), accepted, closed
}

func TestRawAnswers(t *testing.T) {
	const ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	tests := []struct {
		name    string
		answer  string
		want    string
		wantErr string
	}{
		{"interim answers are skipped", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + ok, "ok", ""},
		{"body until close", "HTTP/1.1 200 OK\r\n\r\nuntil close", "until close", ""},
		{"header too large", "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", 2000) + "\r\n\r\n", "", "larger than 1024 bytes"},
		{"no answer", "", "", "EOF"},
		{"garbage", "SSH-2.0-OpenSSH\r\n\r\n", "", "malformed HTTP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, _, _ := rawServer(t, tt.answer)
			tr := &Transport{MaxResponseHeaderBytes: 1024}
			defer tr.CloseIdleConnections()
			req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
			resp, err := tr.RoundTrip(req)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != tt.want {
				t.Fatalf("body %q, want %q", b, tt.want)
			}
		})
	}
}

// A server that closes a kept connection: the next request, GET or POST,
// goes over a new one.
func TestServerClosedIdleConnection(t *testing.T) {
	addr, accepted, closed := rawServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	tr := &Transport{}
	defer tr.CloseIdleConnections()
	// Requests with a body are sent only on a connection looked at first;
	// bodiless GETs go without a look and again on a new connection.
	requests := []struct{ method, body string }{{"GET", ""}, {"GET", ""}, {"GET", "x"}, {"POST", "x"}, {"PUT", "x"}, {"GET", ""}}
	for i, r := range requests {
		resp, body := do(t, tr, r.method, "http://"+addr+"/", r.body)
		if resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
		// The server has closed the kept connection before the next request.
		for deadline := time.Now().Add(5 * time.Second); closed.Load() <= int32(i) && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
	}
	if n := accepted.Load(); n != int32(len(requests)) {
		t.Fatalf("%d connections, want %d", n, len(requests))
	}
}

func TestContextEndsTheRoundTrip(t *testing.T) {
	release := make(chan struct{})
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10")
		io.WriteString(w, "12345")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	tr := &Transport{}
	defer tr.CloseIdleConnections()

	t.Run("deadline while reading the body", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		start := time.Now()
		_, err = io.ReadAll(resp.Body)
		if err == nil || time.Since(start) > 5*time.Second {
			t.Fatalf("read %v after %v", err, time.Since(start))
		}
	})
	t.Run("RoundTripDeadline while waiting for the answer", func(t *testing.T) {
		slow, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
		req, _ := http.NewRequest("GET", slow.URL, nil)
		start := time.Now()
		_, err := tr.RoundTripDeadline(req, start.Add(100*time.Millisecond))
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() || time.Since(start) > 5*time.Second {
			t.Fatalf("error %v after %v, want a timeout", err, time.Since(start))
		}
	})
	t.Run("cancel before the answer", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(50*time.Millisecond, cancel)
		slow, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
		req, _ := http.NewRequestWithContext(ctx, "GET", slow.URL, nil)
		_, err := tr.RoundTrip(req)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v, want context.Canceled", err)
		}
	})
}

// A connection idle for longer than a poll is still reused: the watch's
// deadline does not outlive the round trip.
func TestIdleLongerThanAPoll(t *testing.T) {
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	tr := &Transport{}
	defer tr.CloseIdleConnections()
	for range 2 {
		req, _ := http.NewRequestWithContext(context.Background(), "GET", srv.URL, nil)
		resp, err := tr.RoundTripDeadline(req, time.Now().Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		time.Sleep(3 * pollInterval)
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections for two requests", n)
	}
}

// An upstream slower than many polls still answers within the deadline.
func TestSlowerThanAPoll(t *testing.T) {
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(3 * pollInterval)
		io.WriteString(w, "late")
	})
	tr := &Transport{}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
	resp, err := tr.RoundTripDeadline(req, time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if b, err := io.ReadAll(resp.Body); err != nil || string(b) != "late" {
		t.Fatalf("%q %v", b, err)
	}
}

func TestBodyClosedEarlyClosesTheConnection(t *testing.T) {
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("y", 100_000))
	})
	tr := &Transport{}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest("GET", srv.URL, nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Read(make([]byte, 10))
	resp.Body.Close()
	if _, body := do(t, tr, "GET", srv.URL, ""); len(body) != 100_000 || conns.Load() != 2 {
		t.Fatalf("body %d bytes, %d connections", len(body), conns.Load())
	}
}

type recordingTransport struct{ got []string }

func (r *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r.got = append(r.got, req.URL.Scheme+" "+req.Header.Get("Upgrade"))
	return &http.Response{StatusCode: 200, Body: http.NoBody, Request: req}, nil
}

func TestFallback(t *testing.T) {
	req := func(url, upgrade string) *http.Request {
		r, _ := http.NewRequest("GET", url, nil)
		if upgrade != "" {
			r.Header.Set("Upgrade", upgrade)
		}
		return r
	}
	if _, err := (&Transport{}).RoundTrip(req("https://example.com/", "")); !errors.Is(err, errNoFallback) {
		t.Fatalf("no fallback: %v", err)
	}
	fb := &recordingTransport{}
	tr := &Transport{Fallback: fb}
	for _, r := range []*http.Request{req("https://example.com/", ""), req("http://127.0.0.1:1/", "websocket")} {
		if _, err := tr.RoundTrip(r); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Join(fb.got, ",") != "https ,http websocket" {
		t.Fatalf("fallback got %q", fb.got)
	}

	// The Fallback gets the deadline in the request's context, for as long
	// as the answer's body is open.
	var got context.Context
	tr.Fallback = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		got = r.Context()
		return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
	})
	deadline := time.Now().Add(time.Hour)
	resp, err := tr.RoundTripDeadline(req("https://example.com/", ""), deadline)
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := got.Deadline(); !ok || !d.Equal(deadline) || got.Err() != nil {
		t.Fatalf("fallback context deadline %v %v, err %v", d, ok, got.Err())
	}
	resp.Body.Close()
	if got.Err() == nil {
		t.Fatal("the fallback's context outlived the body")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestConcurrentUseKeepsThePoolBounded(t *testing.T) {
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.URL.Query().Get("n"))
	})
	tr := &Transport{MaxIdlePerHost: 4}
	defer tr.CloseIdleConnections()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				n := fmt.Sprint(g*1000 + i)
				req, _ := http.NewRequest("GET", srv.URL+"/?n="+n, nil)
				resp, err := tr.RoundTrip(req)
				if err != nil {
					t.Error(err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != n {
					t.Errorf("answer %q to request %s", b, n)
					return
				}
			}
		})
	}
	wg.Wait()
	tr.mu.Lock()
	idle := len(tr.idle[strings.TrimPrefix(srv.URL, "http://")])
	tr.mu.Unlock()
	if idle > 4 || conns.Load() > 8*200/2 {
		t.Fatalf("%d idle connections (max 4), %d opened for 1600 requests", idle, conns.Load())
	}
}

// BenchmarkRoundTrip is one pooled GET and its answer over loopback, the
// server a plain net/http one; allocs/op is the transport's and the
// server's together.
func BenchmarkRoundTrip(b *testing.B) {
	answer := []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"Resources":[]}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = []string{"application/scim+json"}
		w.Write(answer)
	}))
	b.Cleanup(srv.Close)
	tr := &Transport{}
	b.Cleanup(tr.CloseIdleConnections)
	req, _ := http.NewRequest("GET", srv.URL+"/scim/v2/Users?filter=userName+eq+%22a%22", nil)
	req.Header["User-Agent"] = []string{""}
	buf := make([]byte, 512)
	b.ReportAllocs()
	for b.Loop() {
		resp, err := tr.RoundTripDeadline(req, time.Now().Add(time.Minute))
		if err != nil {
			b.Fatal(err)
		}
		for err == nil {
			_, err = resp.Body.Read(buf)
		}
		resp.Body.Close()
	}
}

// An upstream that closes connections idle longer than its keep-alive
// timeout: after a pause every pooled connection is closed, and a GET that
// takes one of them goes again on a live one, not on the next closed one.
func TestUpstreamIdleTimeoutClosesThePool(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(20 * time.Millisecond) // keeps the three requests on three connections
		io.WriteString(w, "ok")
	}))
	srv.Config.IdleTimeout = 100 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)
	tr := &Transport{}
	defer tr.CloseIdleConnections()
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() { do(t, tr, "GET", srv.URL+"/", "") })
	}
	wg.Wait()
	time.Sleep(300 * time.Millisecond)
	for _, method := range []string{"GET", "HEAD", "GET"} {
		if resp, _ := do(t, tr, method, srv.URL+"/", ""); resp.StatusCode != 200 {
			t.Fatalf("%s after the upstream closed its idle connections: %d", method, resp.StatusCode)
		}
	}
}

// Bytes after an answer are not taken for the next request's answer: the
// connection they came on is not reused.
func TestBytesAfterTheAnswer(t *testing.T) {
	const ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	tests := []struct {
		name, method, answer string
	}{
		{"HEAD answered with a body", "HEAD", ok},
		{"204 with a body", "DELETE", "HTTP/1.1 204 No Content\r\nContent-Length: 2\r\n\r\n{}"},
		{"CRLF after the body", "GET", ok + "\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The first request on each connection gets the answer under
			// test, GETs after it a plain one.
			addr, accepted, _ := rawServer(t, tt.answer, ok)
			tr := &Transport{}
			defer tr.CloseIdleConnections()
			do(t, tr, tt.method, "http://"+addr+"/", "")
			do(t, tr, tt.method, "http://"+addr+"/", "")
			if n := accepted.Load(); n != 2 {
				t.Fatalf("%d connections, want 2: the first must not be reused", n)
			}
		})
	}
}
