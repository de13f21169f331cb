package h1server_test

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// fuzzHandler echoes what it saw of a request, so that differences in
// parsing show, and varies its answer by the first path segment, so that
// the fuzzer reaches the ways of answering too.
func fuzzHandler(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Method", r.Method) // lets normalize know a HEAD's answer
	var body []byte
	var err error
	segment, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	switch segment {
	case "noread":
	case "part":
		body, err = io.ReadAll(io.LimitReader(r.Body, 5))
	case "closebody":
		err = r.Body.Close()
	default:
		body, err = io.ReadAll(r.Body)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %q %s host=%q length=%d te=%q close=%v body=%q err=%v\n",
		r.Method, r.RequestURI, r.Proto, r.Host, r.ContentLength, r.TransferEncoding, r.Close, body, err)
	for _, name := range slices.Sorted(keys(r.Header)) {
		fmt.Fprintf(&b, "%s: %q\n", name, r.Header[name])
	}
	switch segment {
	case "close":
		w.Header().Set("Connection", "close")
	case "cl":
		w.Header().Set("Content-Length", fmt.Sprint(b.Len()))
	case "short":
		w.Header().Set("Content-Length", "3")
	case "long":
		w.Header().Set("Content-Length", "100000")
	case "204":
		w.WriteHeader(http.StatusNoContent)
	case "304":
		w.WriteHeader(http.StatusNotModified)
	case "103":
		w.WriteHeader(http.StatusEarlyHints)
	case "big":
		b.WriteString(strings.Repeat("big ", 1000))
	case "flush":
		w.Write(b.Bytes()[:b.Len()/2])
		w.(http.Flusher).Flush()
		b.Next(b.Len() / 2)
	case "panic":
		w.Write(b.Bytes())
		panic(http.ErrAbortHandler)
	}
	w.Write(b.Bytes())
}

// undialled reports whether an exchange's outcome is a failed dial.
func undialled(outcome string) bool { return strings.Contains(outcome, "stream: dial: ") }

// fuzzTimeout bounds each exchange of the fuzz target.
const fuzzTimeout = time.Second

// FuzzDifferential sends each input to net/http's server and to
// h1server, both serving fuzzHandler, and requires the same answers; a
// request net/http refuses must not have been served by h1server's own
// loop.
//
// Each run is two TCP exchanges, so minimizing a new input by the default
// budget (up to 60 s of O(n²) tries) would leave the workers little time
// to fuzz: unless -fuzzminimizetime is given, it is 300 tries.
func FuzzDifferential(f *testing.F) {
	explicit := false
	flag.Visit(func(fl *flag.Flag) { explicit = explicit || fl.Name == "test.fuzzminimizetime" })
	if !explicit {
		if err := flag.Set("test.fuzzminimizetime", "300x"); err != nil {
			f.Logf("setting -fuzzminimizetime: %v", err)
		}
	}
	for _, raw := range fuzzSeeds(f) {
		f.Add([]byte(raw))
	}
	p := startPair(f, http.HandlerFunc(fuzzHandler), nil)
	f.Fuzz(func(t *testing.T, raw []byte) {
		p.served.take()
		std, h1 := compareOnce(p, string(raw), nil, true, fuzzTimeout)
		if undialled(std) || undialled(h1) {
			// A loopback dial that timed out on a loaded machine never
			// reached a server: nothing to compare. Once more, with time.
			p.served.take()
			if std, h1 = compareOnce(p, string(raw), nil, true, 5*fuzzTimeout); undialled(std) || undialled(h1) {
				t.Skipf("could not connect to both servers: %q, %q", std, h1)
			}
		}
		served := p.served.take()
		if strings.HasSuffix(std, "stream: timeout\n") && strings.HasSuffix(h1, "stream: timeout\n") {
			return // both waited for more: nothing to compare
		}
		if len(raw) > 4<<10 {
			// net/http reads a connection 4 KiB at a time, and a byte
			// ahead while a handler runs if that read gets to run before
			// the handler ends: past 4 KiB, whether its close finds bytes
			// of the client unread, and so resets the connection instead
			// of ending the stream, varies from run to run of net/http
			// itself. There a reset counts as the end.
			std = strings.Replace(std, "stream: reset\n", "stream: EOF\n", 1)
			h1 = strings.Replace(h1, "stream: reset\n", "stream: EOF\n", 1)
		}
		if std != h1 {
			t.Fatalf("answers differ for %q\nnet/http:\n%s\nh1server:\n%s", raw, std, h1)
		}
		fastServed := 0
		for _, path := range served {
			if path == fast {
				fastServed++
			}
		}
		if n, refused := answeredBeforeRefusal(std); refused && fastServed > n {
			t.Fatalf("h1server served %d requests itself (%v); net/http refused all after the first %d:\n%s", fastServed, served, n, std)
		}
	})
}

// answeredBeforeRefusal counts the handler's answers in a normalized
// stream before net/http's server refused a request itself (an error
// answer without the handler's X-Method), if it did.
func answeredBeforeRefusal(norm string) (n int, refused bool) {
	status, handler := "", false
	// done takes in the answer read; it reports a refusal.
	done := func() bool {
		switch {
		case status == "":
		case handler && !strings.HasPrefix(status, "1"):
			n++
		case !handler && status >= "400":
			return true
		}
		status, handler = "", false
		return false
	}
	for line := range strings.Lines(norm) {
		switch {
		case strings.HasPrefix(line, "HTTP/"):
			if done() {
				return n, true
			}
			status = strings.Fields(line)[1]
		case strings.HasPrefix(line, "  X-Method: "):
			handler = true
		}
	}
	return n, done()
}

// fuzzSeeds are the request streams of the table tests, but the largest,
// and a few for each of fuzzHandler's ways of answering.
func fuzzSeeds(t testing.TB) []string {
	var seeds []string
	for _, tt := range slices.Concat(fastPathCases(t), fallbackCases()) {
		if len(tt.raw) <= 16<<10 {
			seeds = append(seeds, tt.raw)
		}
	}
	for _, segment := range []string{"noread", "part", "closebody", "close", "cl", "short", "long", "204", "304", "103", "big", "flush", "panic"} {
		seeds = append(seeds,
			get("/"+segment)+get("/"),
			post("/"+segment, "0123456789")+get("/"),
			"HEAD /"+segment+" HTTP/1.1\r\nHost: x\r\n\r\n"+get("/"),
			"POST /"+segment+" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"+get("/"),
		)
	}
	return seeds
}
