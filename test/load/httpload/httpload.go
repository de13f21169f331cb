// Package httpload drives an HTTP/1.1 server at fixed concurrency for a
// fixed time and measures it. Each connection is one goroutine that writes
// a pre-built request and reads the answer on a keep-alive connection, with
// no allocation per request, so that the generator takes as little as it
// can of the CPU it shares with the server under test.
package httpload

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/scimgate/scimgate/test/load/latency"
)

// Request is one HTTP/1.1 request, serialized once.
type Request struct {
	raw []byte
}

// NewRequest serializes a request for host. header lines are "Name: value";
// Host, Content-Length and keep-alive are added.
func NewRequest(method, host, target string, header []string, body []byte) Request {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, target, host)
	for _, h := range header {
		b.WriteString(h)
		b.WriteString("\r\n")
	}
	if body != nil || method == "POST" || method == "PUT" || method == "PATCH" {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n")
	b.Write(body)
	return Request{raw: b.Bytes()}
}

// Plan is what one scenario sends: every connection goes through Cycle in
// order, again and again, starting at a different step.
type Plan struct {
	Addr        string // host:port
	Connections int
	Warmup      time.Duration // run, not measured
	Duration    time.Duration // measured
	Cycle       []Request
}

// Result is what a run measured. Requests that end during the warm-up are
// not counted.
type Result struct {
	Requests uint64
	Errors   uint64 // non-2xx answers and transport failures
	// FirstError describes one error, for the report.
	FirstError string
	Elapsed    time.Duration
	Latency    latency.Histogram
}

// PerSecond is the measured throughput.
func (r *Result) PerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// Run sends the plan's requests until its warm-up and duration have passed
// or ctx ends.
func Run(ctx context.Context, p Plan) (*Result, error) {
	if p.Connections < 1 || len(p.Cycle) == 0 || p.Duration <= 0 {
		return nil, errors.New("httpload: a plan needs connections, requests and a duration")
	}
	start := time.Now()
	measureFrom := start.Add(p.Warmup)
	end := measureFrom.Add(p.Duration)
	ctx, cancel := context.WithDeadline(ctx, end)
	defer cancel()

	results := make([]*Result, p.Connections)
	var wg sync.WaitGroup
	for i := range results {
		results[i] = new(Result)
		w := &worker{plan: &p, res: results[i], next: i % len(p.Cycle), measureFrom: measureFrom, end: end}
		wg.Go(func() { w.run(ctx) })
	}
	wg.Wait()

	total := &Result{Elapsed: p.Duration}
	for _, r := range results {
		total.Requests += r.Requests
		total.Errors += r.Errors
		if total.FirstError == "" {
			total.FirstError = r.FirstError
		}
		total.Latency.Merge(&r.Latency)
	}
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return total, err
	}
	return total, nil
}

type worker struct {
	plan             *Plan
	res              *Result
	next             int
	measureFrom, end time.Time
	conn             net.Conn
	rd               *bufio.Reader
}

func (w *worker) run(ctx context.Context) {
	defer w.drop()
	for ctx.Err() == nil {
		req := w.plan.Cycle[w.next]
		w.next = (w.next + 1) % len(w.plan.Cycle)
		began := time.Now()
		status, err := w.roundTrip(req.raw)
		done := time.Now()
		if !began.Before(w.measureFrom) && !done.After(w.end) {
			w.record(status, err, done.Sub(began))
		}
		if err != nil {
			w.drop()
			if ctx.Err() != nil {
				return
			}
		}
	}
}

func (w *worker) record(status int, err error, took time.Duration) {
	w.res.Requests++
	w.res.Latency.Record(took)
	switch {
	case err != nil:
		w.fail(err.Error())
	case status < 200 || status > 299:
		w.fail("HTTP " + strconv.Itoa(status))
	}
}

func (w *worker) fail(what string) {
	w.res.Errors++
	if w.res.FirstError == "" {
		w.res.FirstError = what
	}
}

func (w *worker) drop() {
	if w.conn != nil {
		w.conn.Close()
		w.conn = nil
	}
}

func (w *worker) roundTrip(raw []byte) (status int, err error) {
	if w.conn == nil {
		c, err := net.DialTimeout("tcp", w.plan.Addr, 5*time.Second)
		if err != nil {
			return 0, err
		}
		// A request still running at the end fails then, unrecorded.
		_ = c.SetDeadline(w.end)
		w.conn = c
		if w.rd == nil {
			w.rd = bufio.NewReaderSize(c, 32<<10)
		} else {
			w.rd.Reset(c)
		}
	}
	if _, err := w.conn.Write(raw); err != nil {
		return 0, err
	}
	status, keep, err := readResponse(w.rd)
	if err == nil && !keep {
		w.drop()
	}
	return status, err
}

var (
	errMalformed   = errors.New("malformed HTTP response")
	headerLength   = []byte("content-length:")
	headerEncoding = []byte("transfer-encoding:")
	headerConn     = []byte("connection:")
	valueClose     = []byte("close")
	valueChunked   = []byte("chunked")
)

// readResponse reads one answer and discards its body. keep is false when
// the server will close the connection.
func readResponse(rd *bufio.Reader) (status int, keep bool, err error) {
	line, err := rd.ReadSlice('\n')
	if err != nil {
		return 0, false, err
	}
	// "HTTP/1.1 200 OK"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, false, errMalformed
	}
	status = int(line[9]-'0')*100 + int(line[10]-'0')*10 + int(line[11]-'0')
	keep = line[7] == '1'
	length, chunked := int64(-1), false
	for {
		line, err := rd.ReadSlice('\n')
		if err != nil {
			return status, false, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		switch {
		case hasPrefixFold(line, headerLength):
			n, err := strconv.ParseInt(string(bytes.TrimSpace(line[len(headerLength):])), 10, 64)
			if err != nil {
				return status, false, errMalformed
			}
			length = n
		case hasPrefixFold(line, headerEncoding):
			chunked = bytes.EqualFold(bytes.TrimSpace(line[len(headerEncoding):]), valueChunked)
		case hasPrefixFold(line, headerConn):
			if bytes.EqualFold(bytes.TrimSpace(line[len(headerConn):]), valueClose) {
				keep = false
			}
		}
	}
	switch {
	case status == 204 || status == 304 || status/100 == 1:
	case chunked:
		err = discardChunked(rd)
	case length >= 0:
		_, err = rd.Discard(int(length))
	default:
		_, err = io.Copy(io.Discard, rd)
		keep = false
	}
	return status, keep, err
}

func discardChunked(rd *bufio.Reader) error {
	for {
		line, err := rd.ReadSlice('\n')
		if err != nil {
			return err
		}
		size, _, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(";"))
		n, err := strconv.ParseInt(string(size), 16, 64)
		if err != nil {
			return errMalformed
		}
		if n == 0 {
			// Trailers, then the empty line.
			for {
				line, err := rd.ReadSlice('\n')
				if err != nil {
					return err
				}
				if len(bytes.TrimRight(line, "\r\n")) == 0 {
					return nil
				}
			}
		}
		if _, err := rd.Discard(int(n) + 2); err != nil {
			return err
		}
	}
}

func hasPrefixFold(s, prefix []byte) bool {
	return len(s) >= len(prefix) && bytes.EqualFold(s[:len(prefix)], prefix)
}
