package h1client

import (
	"bufio"
	"bytes"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
)

var answers = []string{
	"HTTP/1.1 200 OK\r\nContent-Type: application/scim+json\r\nContent-Length: 2\r\nDate: Mon, 02 Jan 2026 03:04:05 GMT\r\n\r\n{}",
	"HTTP/1.1 201 Created\r\nLocation: http://up/Users/1\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 404\r\nContent-Length: 3\r\n\r\nno!",
	"HTTP/1.1 200 \r\ncontent-length: 2\r\nx-custom-thing:  spaced  \t\r\nX-Multi: 1\r\nx-multi: 2\r\nX-Empty:\r\n\r\nok",
	"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 5\r\n\r\nshort",
	"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\ntruncated",
	"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
	"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok",
	"HTTP/1.1 200 OK\r\nContent-Length: 0002\r\n\r\nok",
	"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\nok",
	"HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\nok",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Hop\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.1 200 OK\r\nTrailer: X\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.1 200 OK\r\n\r\nuntil close",
	"HTTP/1.1 204 No Content\r\nContent-Length: 2\r\n\r\n",
	"HTTP/1.1 304 Not Modified\r\n\r\n",
	"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
	"http/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.1  200 OK\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.1 +20 OK\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.1 200 OK\r\nFolded: a\r\n b\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.1 200 OK\r\nBad Name: a\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.1 200 OK\r\nBad : a\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.1 200 OK\r\nNo-Colon\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.1 200 OK\r\nCtl: a\x01b\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.1 200 OK\r\nObs: caf\xe9\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.1 200 OK\nContent-Length: 2\n\nok\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 2\nX: y\r\n\r\nok",
	"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r",
	"HTTP/1.1 200 O\x7fK\r\nContent-Length: 2\r\n\r\nok",
	"",
	"garbage\r\n\r\n",
}

// TestReadResponseAsReadResponse holds readResponse to http.ReadResponse
// on answers it parses itself and answers it leaves to it.
func TestReadResponseAsReadResponse(t *testing.T) {
	direct := 0
	for _, raw := range answers {
		if sameAsReadResponse(t, "GET", []byte(raw)) {
			direct++
		}
	}
	if direct < 5 {
		t.Errorf("only %d answers parsed in place", direct)
	}
	sameAsReadResponse(t, "HEAD", []byte(answers[0]))
}

func FuzzReadResponse(f *testing.F) {
	for _, raw := range answers {
		f.Add([]byte(raw))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		sameAsReadResponse(t, "GET", raw)
	})
}

// sameAsReadResponse compares the two on raw and reports whether
// readResponse parsed it in place.
func sameAsReadResponse(t *testing.T, method string, raw []byte) bool {
	t.Helper()
	req := &http.Request{Method: method}
	br := bufio.NewReaderSize(bytes.NewReader(raw), 512)
	ours, direct, err1 := readResponse(br, req)
	theirs, err2 := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), req)
	if (err1 == nil) != (err2 == nil) {
		t.Fatalf("%q: readResponse error %v, http.ReadResponse error %v", raw, err1, err2)
	}
	if err1 != nil {
		return direct
	}
	if ours.Status != theirs.Status || ours.StatusCode != theirs.StatusCode || ours.Proto != theirs.Proto ||
		ours.ProtoMajor != theirs.ProtoMajor || ours.ProtoMinor != theirs.ProtoMinor || ours.ContentLength != theirs.ContentLength ||
		ours.Close != theirs.Close || !slices.Equal(ours.TransferEncoding, theirs.TransferEncoding) ||
		!maps.EqualFunc(ours.Header, theirs.Header, slices.Equal) {
		t.Fatalf("%q:\nreadResponse %q %d %s %d close=%v %v\nReadResponse %q %d %s %d close=%v %v", raw,
			ours.Status, ours.StatusCode, ours.Proto, ours.ContentLength, ours.Close, ours.Header,
			theirs.Status, theirs.StatusCode, theirs.Proto, theirs.ContentLength, theirs.Close, theirs.Header)
	}
	var got []byte
	var errGot error
	if direct {
		// As the transport reads it: a Content-Length of 10^14 on a short
		// answer must not be allocated up front (fuzzing found the test
		// doing that).
		got, errGot = readAllLength(&body{c: &conn{br: br}, remaining: ours.ContentLength})
	} else {
		got, errGot = io.ReadAll(ours.Body)
	}
	want, errWant := io.ReadAll(theirs.Body)
	if !bytes.Equal(got, want) || (errGot == nil) != (errWant == nil) {
		t.Fatalf("%q: body %q (%v), want %q (%v)", raw, got, errGot, want, errWant)
	}
	return direct
}

// readAllLength reads b's body of known length to its end through
// readLength, and returns io.ReadAll's error for it (nil at the length).
func readAllLength(b *body) ([]byte, error) {
	var got []byte
	buf := make([]byte, 4096)
	for {
		n, err := b.readLength(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			return got, nil
		}
		if err != nil {
			return got, err
		}
	}
}

func TestBodyOfKnownLength(t *testing.T) {
	for _, tc := range []struct {
		stream string
		length int64
		want   string
		err    error
	}{{"okrest", 2, "ok", nil}, {"o", 2, "o", io.ErrUnexpectedEOF}} {
		b := &body{c: &conn{br: bufio.NewReader(strings.NewReader(tc.stream))}, remaining: tc.length}
		var got []byte
		buf := make([]byte, 1)
		var err error
		for err == nil {
			var n int
			n, err = b.readLength(buf)
			got = append(got, buf[:n]...)
		}
		if string(got) != tc.want || tc.err == nil && err != io.EOF || tc.err != nil && err != tc.err {
			t.Errorf("%q of %d: read %q, %v", tc.stream, tc.length, got, err)
		}
	}
}
