package h1server_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// get is a plain GET request for target.
func get(target string, headers ...string) string {
	return "GET " + target + " HTTP/1.1\r\nHost: example.com\r\n" + lines(headers) + "\r\n"
}

// post is a plain POST request for target with body.
func post(target, body string, headers ...string) string {
	return fmt.Sprintf("POST %s HTTP/1.1\r\nHost: example.com\r\nContent-Length: %d\r\n%s\r\n%s", target, len(body), lines(headers), body)
}

func lines(headers []string) string {
	var b strings.Builder
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	return b.String()
}

func hello(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "hello") }

// echo answers with what it saw of the request, the body read fully.
func echo(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	fmt.Fprintf(w, "%s %s %s host=%q length=%d te=%q close=%v body=%q err=%v\n",
		r.Method, r.RequestURI, r.Proto, r.Host, r.ContentLength, r.TransferEncoding, r.Close, body, err)
	for _, name := range slices.Sorted(keys(r.Header)) {
		fmt.Fprintf(w, "%s: %q\n", name, r.Header[name])
	}
}

func keys(h http.Header) func(func(string) bool) {
	return func(yield func(string) bool) {
		for name := range h {
			if !yield(name) {
				return
			}
		}
	}
}

// readN reads n bytes of the request body and answers "ok".
func readN(n int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		io.CopyN(io.Discard, r.Body, int64(n))
		io.WriteString(w, "ok")
	}
}

// writes writes each of sizes bytes in turn.
func writes(sizes ...int) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i, n := range sizes {
			w.Write([]byte(strings.Repeat(string(rune('a'+i)), n)))
		}
	}
}

func repeat(n int) string { return strings.Repeat("x", n) }

// copies answers with io.Copy from a reader of n bytes that has no WriteTo:
// io.Copy then uses the ResponseWriter's ReadFrom, if it has one.
func copies(n int, headers ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		io.Copy(w, struct{ io.Reader }{strings.NewReader(repeat(n))})
	}
}

type diffCase struct {
	name    string
	raw     string
	handler http.HandlerFunc
	// methods of the requests answered, when not all GET.
	methods []string
	// served is which path served each request that reached the handler.
	served []string
	// status is the status codes net/http answers with: a check that
	// the case tests what it says.
	status []string
	// configure sets up both net/http servers, if not nil.
	configure func(*http.Server)
}

// runDiff sends each case's request stream to net/http's server and to
// h1server and requires the same answer, and the path that served it.
func runDiff(t *testing.T, cases []diffCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := tt.handler
			if h == nil {
				h = echo
			}
			p := startPair(t, h, tt.configure)
			// exchange also requires both streams to end cleanly (no reset).
			std := normalize(scrubDates([]byte(exchange(t, p.std, tt.raw))), tt.methods, false)
			h1 := normalize(scrubDates([]byte(exchange(t, p.h1, tt.raw))), tt.methods, false)
			if std != h1 {
				t.Errorf("answers differ for %q\nnet/http:\n%s\nh1server:\n%s", tt.raw[:min(len(tt.raw), 300)], std, h1)
			}
			if got := statuses(std); !slices.Equal(got, tt.status) {
				t.Errorf("net/http answered %v, want %v:\n%s", got, tt.status, std)
			}
			if got := p.served.take(); !slices.Equal(got, tt.served) {
				t.Errorf("served by %v, want %v", got, tt.served)
			}
		})
	}
}

func TestDifferentialFastPath(t *testing.T) { runDiff(t, fastPathCases(t)) }

func TestDifferentialFallback(t *testing.T) { runDiff(t, fallbackCases()) }

// fastPathCases are request streams h1server serves itself, at least in
// part; t reports what the handlers see wrong.
func fastPathCases(t testing.TB) []diffCase {
	bigBody := repeat(300 << 10)
	return []diffCase{
		{name: "simple GET", raw: get("/"), handler: hello, served: []string{fast}, status: []string{"200"}},
		{name: "GET with query", raw: get("/a/b%20c?d=e&f=%22g%22", "User-Agent: test", "Accept: */*"), served: []string{fast}, status: []string{"200"}},
		{name: "header names canonicalized", raw: get("/", "x-lower: a", "X-LOWER: b", "cOnTeNt-TyPe: text/plain"), served: []string{fast}, status: []string{"200"}},
		{name: "empty header value and spaces", raw: get("/", "X-Empty:", "X-Spaces:   a b  "), served: []string{fast}, status: []string{"200"}},
		{name: "two pipelined GETs", raw: get("/1") + get("/2"), served: []string{fast, fast}, status: []string{"200", "200"}},
		{
			name: "keep-alive then Connection: close",
			raw:  get("/1", "Connection: keep-alive") + get("/2", "Connection: close") + get("/3"), served: []string{fast, fast}, status: []string{"200", "200"},
		},
		{name: "Connection: Close, keep-alive", raw: get("/1", "Connection: keep-alive, Close") + get("/2"), served: []string{fast}, status: []string{"200"}},
		{name: "HEAD", raw: "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n" + get("/"), handler: hello, methods: []string{"HEAD", "GET"}, served: []string{fast, fast}, status: []string{"200", "200"}},
		{name: "HEAD, nothing written", raw: "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n" + get("/"), handler: func(http.ResponseWriter, *http.Request) {}, methods: []string{"HEAD", "GET"}, served: []string{fast, fast}, status: []string{"200", "200"}},
		{name: "HEAD, 3 KiB written", raw: "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n" + get("/"), handler: writes(3 << 10), methods: []string{"HEAD", "GET"}, served: []string{fast, fast}, status: []string{"200", "200"}},
		{
			name: "HEAD, Content-Length set", raw: "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n" + get("/"), methods: []string{"HEAD", "GET"}, served: []string{fast, fast}, status: []string{"200", "200"},
			handler: func(w http.ResponseWriter, _ *http.Request) { w.Header().Set("Content-Length", "10") },
		},
		{name: "POST body read", raw: post("/p?q", `{"op":"add"}`) + get("/"), served: []string{fast, fast}, status: []string{"200", "200"}},
		{name: "POST empty body", raw: post("/p", "") + get("/"), served: []string{fast, fast}, status: []string{"200", "200"}},
		{name: "POST body not read, small", raw: post("/", "abcdef") + get("/"), handler: hello, served: []string{fast, fast}, status: []string{"200", "200"}},
		{name: "POST body not read, 256 KiB - 1", raw: post("/", repeat(256<<10-1)) + get("/"), handler: hello, served: []string{fast, fast}, status: []string{"200", "200"}},
		{name: "POST body not read, 256 KiB", raw: post("/", repeat(256<<10)) + get("/"), handler: hello, served: []string{fast}, status: []string{"200"}},
		{name: "POST body not read, 300 KiB", raw: post("/", bigBody) + get("/"), handler: hello, served: []string{fast}, status: []string{"200"}},
		{name: "POST body partly read", raw: post("/", "0123456789") + get("/"), handler: readN(3), served: []string{fast, fast}, status: []string{"200", "200"}},
		{name: "POST body partly read, 300 KiB", raw: post("/", bigBody) + get("/"), handler: readN(40 << 10), served: []string{fast}, status: []string{"200"}},
		{name: "POST body read, 300 KiB", raw: post("/", bigBody) + get("/"), handler: readN(300 << 10), served: []string{fast, fast}, status: []string{"200", "200"}},
		{
			name: "POST body closed unread", raw: post("/", "0123456789") + get("/"), served: []string{fast, fast}, status: []string{"200", "200"},
			handler: func(w http.ResponseWriter, r *http.Request) {
				if err := r.Body.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
				if n, err := r.Body.Read(make([]byte, 1)); r.Method == http.MethodPost && (n != 0 || !errors.Is(err, http.ErrBodyReadAfterClose)) {
					t.Errorf("Read after Close: %d, %v", n, err)
				}
				io.WriteString(w, "closed")
			},
		},
		{
			name: "POST body closed partly read, 300 KiB", raw: post("/", bigBody) + get("/"), served: []string{fast}, status: []string{"200"},
			handler: func(w http.ResponseWriter, r *http.Request) {
				io.CopyN(io.Discard, r.Body, 10)
				r.Body.Close()
				io.WriteString(w, "closed")
			},
		},
		{
			name: "POST body closed with 256 KiB left", raw: post("/", repeat(256<<10+10)) + get("/"), served: []string{fast}, status: []string{"200"},
			handler: func(w http.ResponseWriter, r *http.Request) {
				io.CopyN(io.Discard, r.Body, 10)
				r.Body.Close()
				io.WriteString(w, "closed")
			},
		},
		{
			name: "POST body not read, request says close", raw: post("/", "abcdef", "Connection: close"), handler: hello, served: []string{fast}, status: []string{"200"},
		},
		{
			name: "POST body not read, handler says close", raw: post("/", "abcdef") + get("/"), served: []string{fast}, status: []string{"200"},
			handler: func(w http.ResponseWriter, _ *http.Request) { w.Header().Set("Connection", "close") },
		},
		{
			name: "POST body shorter than its Content-Length", raw: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc", served: []string{fast}, status: []string{"200"},
		},
		{
			name: "POST body shorter than its Content-Length, not read", raw: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc", handler: hello, served: []string{fast}, status: []string{"200"},
		},
		{
			name: "POST body read after the head went out", raw: post("/", "abcdef") + get("/"), served: []string{fast, fast}, status: []string{"200", "200"},
			handler: func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "head out; ")
				w.(http.Flusher).Flush()
				body, err := io.ReadAll(r.Body)
				fmt.Fprintf(w, "%q %v", body, err)
			},
		},
		{
			name: "POST body not read, slow handler", raw: post("/", "abcdef") + get("/"), served: []string{fast, fast}, status: []string{"200", "200"},
			handler: func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPost {
					time.Sleep(80 * time.Millisecond) // longer than h1server's watchAfter
				}
				io.WriteString(w, "slow")
			},
		},
		{name: "CRLF after a POST body", raw: post("/", "abc") + "\r\n" + get("/"), served: []string{fast, fast}, status: []string{"200", "200"}},
		{name: "CRLF CRLF after a POST body", raw: post("/", "abc") + "\r\n\r\n" + get("/"), served: []string{fast, fast}, status: []string{"200", "200"}},
		{name: "CRLF after a POST body, then garbage", raw: post("/", "abc") + "\r\nxy\n", served: []string{fast}, status: []string{"200", "400"}},
		{name: "CRLF after a GET", raw: get("/") + "\r\n" + get("/"), served: []string{fast}, status: []string{"200", "400"}},
		{name: "CRLF at the end", raw: get("/") + "\r\n", served: []string{fast}, status: []string{"200"}},
		{name: "three bytes at the end", raw: get("/") + "ab\n", served: []string{fast}, status: []string{"200"}},
		{name: "four bytes at the end", raw: get("/") + "abc\n", served: []string{fast}, status: []string{"200", "400"}},
		{name: "half a head at the end", raw: get("/") + "GET / HTTP/1.1\r\nHost: x\r\n", served: []string{fast}, status: []string{"200", "400"}},
		{name: "half a head alone", raw: "GET / HTTP/1.1\r\nHost: x\r\n", status: []string{"400"}},
		{name: "a request line alone", raw: "GET / HTTP/1.1", status: []string{"400"}},
		{name: "nothing", raw: ""},
		{name: "5 KiB answer", raw: get("/") + get("/"), handler: writes(5 << 10), served: []string{fast, fast}, status: []string{"200", "200"}},
		{name: "2 KiB answer", raw: get("/") + get("/"), handler: writes(2 << 10), served: []string{fast, fast}, status: []string{"200", "200"}},
		{name: "2 KiB + 1 answer", raw: get("/"), handler: writes(2<<10, 1), served: []string{fast}, status: []string{"200"}},
		{name: "answer in pieces", raw: get("/"), handler: writes(1000, 1500, 10, 3000, 2048, 1, 0, 7000), served: []string{fast}, status: []string{"200"}},
		{name: "answer of 100 KiB", raw: get("/") + get("/"), handler: writes(100 << 10), served: []string{fast, fast}, status: []string{"200", "200"}},
		{
			name: "Content-Length set", raw: get("/") + get("/"), served: []string{fast, fast}, status: []string{"200", "200"},
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Length", "5000")
				w.Write([]byte(repeat(5000)))
			},
		},
		{
			name: "Content-Length too short", raw: get("/") + get("/"), served: []string{fast}, status: []string{"200"},
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Length", "2")
				if _, err := io.WriteString(w, "hello"); !errors.Is(err, http.ErrContentLength) {
					t.Errorf("Write: %v, want http.ErrContentLength", err)
				}
			},
		},
		{
			name: "Content-Length too short, written in two", raw: get("/") + get("/"), served: []string{fast}, status: []string{"200"},
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Length", "3")
				io.WriteString(w, "he")
				if _, err := io.WriteString(w, "llo"); !errors.Is(err, http.ErrContentLength) {
					t.Errorf("Write: %v, want http.ErrContentLength", err)
				}
			},
		},
		{
			name: "Content-Length too long", raw: get("/") + get("/"), served: []string{fast}, status: []string{"200"},
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Length", "10")
				io.WriteString(w, "hello")
			},
		},
		{
			name: "Content-Length invalid", raw: get("/") + get("/"), served: []string{fast, fast}, status: []string{"200", "200"},
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Length", "abc")
				io.WriteString(w, "hello")
			},
		},
		{
			// net/http sends the invalid value, the client refuses it.
			name: "Content-Length invalid, HEAD", raw: "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n" + get("/"), methods: []string{"HEAD", "GET"}, served: []string{fast, fast},
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Length", "-1")
				io.WriteString(w, "hello")
			},
		},
		{
			name: "Content-Length and Transfer-Encoding set", raw: get("/") + get("/"), served: []string{fast}, status: []string{"200"},
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Length", "5")
				w.Header().Set("Transfer-Encoding", "chunked")
				io.WriteString(w, "hel")
				w.(http.Flusher).Flush()
				if _, err := io.WriteString(w, "lo, world"); !errors.Is(err, http.ErrContentLength) {
					t.Errorf("Write: %v, want http.ErrContentLength", err)
				}
			},
		},
		{
			name: "Transfer-Encoding: chunked set", raw: get("/") + get("/"), served: []string{fast, fast}, status: []string{"200", "200"},
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Transfer-Encoding", "chunked")
				io.WriteString(w, "hello")
			},
		},
		{
			name: "Transfer-Encoding: identity set", raw: get("/") + get("/"), served: []string{fast}, status: []string{"200"},
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Transfer-Encoding", "identity")
				io.WriteString(w, "hello")
			},
		},
		{
			// net/http sends both encodings, the client refuses them.
			name: "Transfer-Encoding: gzip set", raw: get("/"), served: []string{fast},
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Transfer-Encoding", "gzip")
				w.Header().Set("Content-Type", "text/plain")
				io.WriteString(w, "hello")
			},
		},
		{name: "io.Copy of 100 bytes", raw: get("/") + get("/"), handler: copies(100), served: []string{fast, fast}, status: []string{"200", "200"}},
		{name: "io.Copy of 600 bytes", raw: get("/") + get("/"), handler: copies(600), served: []string{fast, fast}, status: []string{"200", "200"}},
		{name: "io.Copy of 100 KiB", raw: get("/") + get("/"), handler: copies(100 << 10), served: []string{fast, fast}, status: []string{"200", "200"}},
		{name: "io.Copy with Content-Length", raw: get("/") + get("/"), handler: copies(5000, "Content-Length", "5000"), served: []string{fast, fast}, status: []string{"200", "200"}},
		{name: "io.Copy beyond Content-Length", raw: get("/") + get("/"), handler: copies(5000, "Content-Length", "4000"), served: []string{fast}, status: []string{"200"}},
		{name: "io.Copy, HEAD", raw: "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n" + get("/"), handler: copies(3000), methods: []string{"HEAD", "GET"}, served: []string{fast, fast}, status: []string{"200", "200"}},
		{name: "io.Copy, 204", raw: get("/"), handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204); copies(600)(w, r) }, served: []string{fast}, status: []string{"204"}},
		{name: "io.Copy of 600 bytes, handed over", raw: "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n" + get("/"), handler: copies(600), served: []string{fallback, fallback}, status: []string{"200", "200"}},
		{name: "nothing written", raw: get("/") + get("/"), handler: func(http.ResponseWriter, *http.Request) {}, served: []string{fast, fast}, status: []string{"200", "200"}},
		{
			name: "204 with a Write", raw: get("/") + get("/"), served: []string{fast, fast}, status: []string{"204", "204"},
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Length", "5")
				w.Header().Set("Content-Type", "text/plain")
				w.WriteHeader(http.StatusNoContent)
				if _, err := io.WriteString(w, "hello"); !errors.Is(err, http.ErrBodyNotAllowed) {
					t.Errorf("Write: %v, want http.ErrBodyNotAllowed", err)
				}
			},
		},
		{
			name: "304", raw: get("/") + get("/"), served: []string{fast, fast}, status: []string{"304", "304"},
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Length", "5")
				w.Header().Set("Content-Type", "text/plain")
				w.Header().Set("Transfer-Encoding", "chunked")
				w.Header().Set("Etag", `"x"`)
				w.WriteHeader(http.StatusNotModified)
			},
		},
		{
			name: "103 then 200", raw: get("/") + get("/"), served: []string{fast, fast}, status: []string{"103", "200", "103", "200"},
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Link", "</style.css>; rel=preload; as=style")
				w.Header().Set("Content-Length", "5")
				w.Header().Set("Transfer-Encoding", "chunked")
				w.WriteHeader(http.StatusEarlyHints)
				w.Header().Del("Transfer-Encoding")
				io.WriteString(w, "hello")
			},
		},
		{
			name: "101 without a hijack", raw: get("/", "Connection: close"), served: []string{fast}, status: []string{"101"},
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Upgrade", "foo")
				w.Header().Set("Connection", "Upgrade")
				w.WriteHeader(http.StatusSwitchingProtocols)
			},
		},
		{
			name: "status without text", raw: get("/"), served: []string{fast}, status: []string{"599"},
			handler: func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(599) },
		},
		{
			name: "Flush mid-answer", raw: get("/") + get("/"), served: []string{fast, fast}, status: []string{"200", "200"},
			handler: func(w http.ResponseWriter, _ *http.Request) {
				io.WriteString(w, "<html>")
				if err := http.NewResponseController(w).Flush(); err != nil {
					t.Errorf("Flush: %v", err)
				}
				io.WriteString(w, "hello")
			},
		},
		{
			name: "Flush before writing", raw: get("/") + get("/"), served: []string{fast, fast}, status: []string{"200", "200"},
			handler: func(w http.ResponseWriter, _ *http.Request) {
				http.NewResponseController(w).Flush()
				io.WriteString(w, "hello")
			},
		},
		{
			name: "Flush, HEAD", raw: "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n" + get("/"), methods: []string{"HEAD", "GET"}, served: []string{fast, fast}, status: []string{"200", "200"},
			handler: func(w http.ResponseWriter, _ *http.Request) {
				io.WriteString(w, "hello")
				http.NewResponseController(w).Flush()
			},
		},
		{
			name: "panic", raw: get("/") + get("/"), served: []string{fast},
			handler: func(http.ResponseWriter, *http.Request) { panic("boom") },
		},
		{
			name: "panic with http.ErrAbortHandler", raw: get("/") + get("/"), served: []string{fast},
			handler: func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) },
		},
		{
			name: "panic after 2.5 KiB written", raw: get("/") + get("/"), served: []string{fast}, status: []string{"200"},
			handler: func(w http.ResponseWriter, _ *http.Request) {
				writes(1000, 1500)(w, nil)
				panic(http.ErrAbortHandler)
			},
		},
		{
			name: "panic after 103", raw: get("/"), served: []string{fast}, status: []string{"103"},
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusEarlyHints)
				panic("boom")
			},
		},
		{
			name: "panic with a body unread", raw: post("/", "abcdef") + get("/"), served: []string{fast},
			handler: func(http.ResponseWriter, *http.Request) { panic("boom") },
		},
		{
			name: "Content-Type set", raw: get("/"), served: []string{fast}, status: []string{"200"},
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/scim+json")
				io.WriteString(w, "<html>")
			},
		},
		{name: "Content-Type sniffed", raw: get("/") + get("/"), handler: writes(0), served: []string{fast, fast}, status: []string{"200", "200"}},
		{
			name: "Content-Type sniffed, HTML", raw: get("/"), served: []string{fast}, status: []string{"200"},
			handler: func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "<!DOCTYPE html><p>") },
		},
		{
			name: "Content-Type suppressed", raw: get("/"), served: []string{fast}, status: []string{"200"},
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header()["Content-Type"] = nil
				io.WriteString(w, "<html>")
			},
		},
		{
			name: "Content-Type not sniffed, Content-Encoding set", raw: get("/"), served: []string{fast}, status: []string{"200"},
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Encoding", "gzip")
				io.WriteString(w, "<html>")
			},
		},
		{
			name: "Date suppressed", raw: get("/"), served: []string{fast}, status: []string{"200"},
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header()["Date"] = nil
				io.WriteString(w, "hello")
			},
		},
		{
			name: "handler says Connection: close", raw: get("/") + get("/"), served: []string{fast}, status: []string{"200"},
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Connection", "close")
				io.WriteString(w, "bye")
			},
		},
		{
			name: "handler says Connection: Close", raw: get("/", "Connection: close"), served: []string{fast}, status: []string{"200"},
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Connection", "Close, x")
				io.WriteString(w, "bye")
			},
		},
		{
			name: "handler says Connection: keep-alive", raw: get("/", "Connection: close"), served: []string{fast}, status: []string{"200"},
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Connection", "keep-alive")
				io.WriteString(w, "bye")
			},
		},
		{
			name: "invalid handler headers", raw: get("/") + get("/"), served: []string{fast, fast}, status: []string{"200", "200"},
			handler: func(w http.ResponseWriter, _ *http.Request) {
				h := w.Header()
				h["Bad Name"] = []string{"x"}
				h["Bad\r\nName"] = []string{"x"}
				h["X-Injected"] = []string{"a\r\nSet-Cookie: evil=1\r\n\r\nHTTP/1.1 200 OK"}
				h["X-Trimmed"] = []string{" \t a b \r\n"}
				h["x-not-canonical"] = []string{"v"}
				h["X-Empty"] = nil
				io.WriteString(w, "hello")
			},
		},
		{
			// net/http sends it, the client refuses it.
			name: "handler header value with a NUL", raw: get("/"), served: []string{fast},
			handler: func(w http.ResponseWriter, _ *http.Request) { w.Header().Set("X-Nul", "a\x00b") },
		},
		{
			name: "invalid headers in a 103", raw: get("/"), served: []string{fast}, status: []string{"103", "200"},
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header()["Bad Name"] = []string{"x"}
				w.Header()["X-Injected"] = []string{"a\r\nSet-Cookie: evil=1"}
				w.WriteHeader(http.StatusEarlyHints)
				io.WriteString(w, "hello")
			},
		},
		{
			name: "WriteHeader twice", raw: get("/") + get("/"), served: []string{fast, fast}, status: []string{"201", "201"},
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusCreated)
				w.WriteHeader(http.StatusInternalServerError)
				io.WriteString(w, "created")
				w.WriteHeader(http.StatusInternalServerError)
			},
		},
		{
			name: "header mutated after WriteHeader", raw: get("/") + get("/"), served: []string{fast, fast}, status: []string{"200", "200"},
			handler: func(w http.ResponseWriter, _ *http.Request) {
				h := w.Header()
				h.Set("X-Before", "1")
				w.WriteHeader(http.StatusOK)
				h.Set("X-After", "1")
				h.Set("Date", "Mon, 02 Jan 2006 15:04:05 GMT")
				h.Set("Content-Type", "text/csv")
				h.Set("Content-Length", "1")
				h.Set("Connection", "close")
				h.Del("X-Before")
				io.WriteString(w, "hello")
			},
		},
		{
			name: "header mutated after WriteHeader, untouched before", raw: get("/"), served: []string{fast}, status: []string{"200"},
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusOK)
				w.Header().Set("X-After", "1")
				io.WriteString(w, "hello")
			},
		},
		{
			name: "Date set by the handler", raw: get("/"), served: []string{fast}, status: []string{"200"},
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Date", "Mon, 02 Jan 2006 15:04:05 GMT")
			},
		},
		{
			name: "fast, then handed over", raw: get("/1") + "GET /2 HTTP/1.0\r\n\r\n" + get("/3"), served: []string{fast, fallback}, status: []string{"200", "200"},
		},
		{
			name: "fast, then chunked POST", raw: get("/1") + "POST /2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" + get("/3"),
			served: []string{fast, fallback, fallback}, status: []string{"200", "200", "200"},
		},
		{
			name: "fast, then malformed", raw: get("/1") + "GET /2 HTTP/1.1\r\nHost: x\r\nBad Name: x\r\n\r\n" + get("/3"), served: []string{fast}, status: []string{"200", "400"},
		},
		{
			name: "fast POST, then handed over", raw: post("/1", "abc") + "GET /2 HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n" + get("/3"),
			served: []string{fast, fallback, fallback}, status: []string{"200", "200", "200"},
		},
		{
			name: "handed over, then plain", raw: "GET /1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n" + get("/2") + get("/3"),
			served: []string{fallback, fallback, fallback}, status: []string{"200", "200", "200"},
		},
	}
}

// fallbackCases are request streams h1server hands over from the start.
func fallbackCases() []diffCase {
	big := "X-Big: " + repeat(6<<10)
	return []diffCase{
		{name: "HTTP/1.0", raw: "GET / HTTP/1.0\r\n\r\n", served: []string{fallback}, status: []string{"200"}},
		{name: "HTTP/1.0 keep-alive", raw: "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + get("/"), handler: hello, served: []string{fallback, fallback}, status: []string{"200", "200"}},
		{name: "HTTP/1.2", raw: "GET / HTTP/1.2\r\nHost: x\r\n\r\n", served: []string{fallback}, status: []string{"200"}},
		{name: "HTTP/2.0", raw: "GET / HTTP/2.0\r\nHost: x\r\n\r\n", status: []string{"505"}},
		{name: "HTTP/2 preface", raw: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", served: []string{fallback}, status: []string{"200"}},
		{name: "bare LF", raw: "GET / HTTP/1.1\nHost: x\n\n", served: []string{fallback}, status: []string{"200"}},
		{name: "bare LF in a header", raw: "GET / HTTP/1.1\r\nHost: x\nX-A: b\r\n\r\n", served: []string{fallback}, status: []string{"200"}},
		{name: "bare CR in a header", raw: "GET / HTTP/1.1\r\nHost: x\r\nX-A: b\rc\r\n\r\n", status: []string{"400"}},
		{name: "obs-fold", raw: "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n  b\r\n\r\n", served: []string{fallback}, status: []string{"200"}},
		{name: "obs-fold with a tab", raw: "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\tb\r\n\r\n", served: []string{fallback}, status: []string{"200"}},
		{name: "leading empty line", raw: "\r\n" + get("/"), status: []string{"400"}},
		{name: "leading space", raw: " " + get("/"), status: []string{"400"}},
		{name: "chunked body", raw: "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + get("/"), served: []string{fallback, fallback}, status: []string{"200", "200"}},
		{name: "chunked body with trailers", raw: "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n", served: []string{fallback}, status: []string{"200"}},
		{name: "Transfer-Encoding: gzip", raw: "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", status: []string{"501"}},
		{name: "Transfer-Encoding: identity", raw: "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\nContent-Length: 1\r\n\r\na", status: []string{"501"}},
		{
			name: "Content-Length and Transfer-Encoding", raw: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
			served: []string{fallback}, status: []string{"200"},
		},
		{name: "two different Content-Lengths", raw: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", status: []string{"400"}},
		{name: "two equal Content-Lengths", raw: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", served: []string{fast}, status: []string{"200"}},
		{name: "negative Content-Length", raw: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\nabc", status: []string{"400"}},
		{name: "Content-Length with a sign", raw: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc", status: []string{"400"}},
		{name: "empty Content-Length", raw: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\r\nabc", status: []string{"400"}},
		{name: "Expect: 100-continue", raw: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\nabc", served: []string{fallback}, status: []string{"100", "200"}},
		{name: "Expect: 100-continue, body not read", raw: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\nabc" + get("/"), handler: hello, served: []string{fallback}, status: []string{"200"}},
		{name: "Expect: other", raw: "GET / HTTP/1.1\r\nHost: x\r\nExpect: other\r\n\r\n", status: []string{"417"}},
		{name: "Upgrade: h2c", raw: "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n", served: []string{fallback}, status: []string{"200"}},
		{name: "Upgrade: websocket", raw: "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", served: []string{fallback}, status: []string{"200"}},
		{name: "Upgrade alone", raw: "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: foo\r\n\r\n", served: []string{fallback}, status: []string{"200"}},
		{name: "Connection: Upgrade", raw: "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n\r\n", served: []string{fallback}, status: []string{"200"}},
		{name: "Connection: other", raw: "GET / HTTP/1.1\r\nHost: x\r\nConnection: X-Foo\r\nX-Foo: 1\r\n\r\n", served: []string{fallback}, status: []string{"200"}},
		{name: "absolute-form", raw: "GET http://other.example/a?b HTTP/1.1\r\nHost: x\r\n\r\n", served: []string{fallback}, status: []string{"200"}},
		{name: "target without slash", raw: "GET a HTTP/1.1\r\nHost: x\r\n\r\n", status: []string{"400"}},
		{name: "double slash target", raw: "GET //a/b HTTP/1.1\r\nHost: x\r\n\r\n", served: []string{fast}, status: []string{"200"}},
		{name: "OPTIONS *", raw: "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n" + get("/"), served: []string{fallback}, status: []string{"200", "200"}},
		{name: "CONNECT", raw: "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", served: []string{fallback}, status: []string{"200"}},
		{name: "missing Host", raw: "GET / HTTP/1.1\r\n\r\n", status: []string{"400"}},
		{name: "empty Host", raw: "GET / HTTP/1.1\r\nHost:\r\n\r\n", served: []string{fast}, status: []string{"200"}},
		{name: "two Hosts", raw: "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", status: []string{"400"}},
		{name: "two Hosts, cases differ", raw: "GET / HTTP/1.1\r\nHOST: a\r\nhost: b\r\n\r\n", status: []string{"400"}},
		{name: "white space before Host's colon", raw: "GET / HTTP/1.1\r\nHost : a\r\n\r\n", status: []string{"400"}},
		{name: "Host with a space", raw: "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", status: []string{"400"}},
		{name: "Host with a slash", raw: "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", status: []string{"400"}},
		{name: "lower-case host", raw: "GET / HTTP/1.1\r\nhost: a\r\n\r\n", served: []string{fast}, status: []string{"200"}},
		{name: "invalid header name", raw: "GET / HTTP/1.1\r\nHost: x\r\nBad Name: x\r\n\r\n", status: []string{"400"}},
		{name: "header name with a colon only", raw: "GET / HTTP/1.1\r\nHost: x\r\n: x\r\n\r\n", status: []string{"400"}},
		{name: "header line without a colon", raw: "GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", status: []string{"400"}},
		{name: "header name with trailing space", raw: "GET / HTTP/1.1\r\nHost: x\r\nX-A : x\r\n\r\n", status: []string{"400"}},
		{name: "header value with a NUL", raw: "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n", status: []string{"400"}},
		{name: "header value with a CTL", raw: "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n", status: []string{"400"}},
		{name: "header value with DEL", raw: "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x7fb\r\n\r\n", status: []string{"400"}},
		{name: "header value with UTF-8", raw: "GET / HTTP/1.1\r\nHost: x\r\nX-A: ä\r\n\r\n", served: []string{fast}, status: []string{"200"}},
		{name: "6 KiB head", raw: get("/", big) + get("/"), served: []string{fallback, fallback}, status: []string{"200", "200"}},
		{name: "6 KiB head after a fast one", raw: get("/") + get("/", big) + get("/"), served: []string{fast, fallback, fallback}, status: []string{"200", "200", "200"}},
		{name: "head of 4 KiB + 1", raw: get("/", "X-A: "+repeat(4<<10+1-len(get("/", "X-A: ")))) + get("/"), served: []string{fallback, fallback}, status: []string{"200", "200"}},
		{name: "head of 4 KiB", raw: get("/", "X-A: "+repeat(4<<10-len(get("/", "X-A: ")))) + get("/"), served: []string{fast, fast}, status: []string{"200", "200"}},
		{
			name: "head larger than MaxHeaderBytes", raw: get("/", "X-Big: "+repeat(16<<10)), status: []string{"431"},
			configure: func(s *http.Server) { s.MaxHeaderBytes = 8 << 10 },
		},
		{name: "malformed request line", raw: "GARBAGE\r\n\r\n", status: []string{"400"}},
		{name: "request line with extra space", raw: "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", status: []string{"400"}},
		{name: "invalid method", raw: "G(T / HTTP/1.1\r\nHost: x\r\n\r\n", status: []string{"400"}},
		{name: "lower-case method", raw: "get / HTTP/1.1\r\nHost: x\r\n\r\n", served: []string{fast}, status: []string{"200"}},
		{name: "lower-case protocol", raw: "GET / http/1.1\r\nHost: x\r\n\r\n", status: []string{"400"}},
		{name: "TLS handshake", raw: "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", status: []string{"400"}},
		{name: "binary garbage", raw: "\x00\x01\x02\x03\r\n\r\n", status: []string{"400"}},
	}
}
