package h1client

import (
	"bufio"
	"bytes"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestWriteRequestAsRequestWrite holds writeRequest to what req.Write
// sends, read back by a server: the same request line, Host, header
// fields (in any order) and body.
func TestWriteRequestAsRequestWrite(t *testing.T) {
	body := func(s string) io.ReadCloser { return io.NopCloser(strings.NewReader(s)) }
	for _, tc := range []struct {
		name string
		req  func() *http.Request
	}{
		{"GET", func() *http.Request {
			return &http.Request{Method: "GET", URL: &url.URL{Scheme: "http", Host: "up:8080", Path: "/scim/v2/Users", RawQuery: `filter=userName+eq+%22a%22`},
				Header: http.Header{"Accept": {"application/scim+json"}, "X-Scim-Tenant": {"acme"}, "User-Agent": {""}}}
		}},
		{"GET, default User-Agent, escaped path", func() *http.Request {
			return &http.Request{Method: "GET", URL: &url.URL{Scheme: "http", Host: "up", Path: "/Users/a b"}, Header: http.Header{}}
		}},
		{"empty method and path, forced query", func() *http.Request {
			return &http.Request{URL: &url.URL{Scheme: "http", Host: "up", ForceQuery: true}, Header: http.Header{"User-Agent": {"x"}}}
		}},
		{"POST with body", func() *http.Request {
			return &http.Request{Method: "POST", URL: &url.URL{Scheme: "http", Host: "up", Path: "/Users"}, ContentLength: 11, Body: body(`{"a":"b\r"}`),
				Header: http.Header{"Content-Type": {"application/scim+json"}, "Content-Length": {"99"}, "User-Agent": {" Entra \n x "}}}
		}},
		{"POST without body", func() *http.Request {
			return &http.Request{Method: "POST", URL: &url.URL{Scheme: "http", Host: "up", Path: "/Users"}, Header: http.Header{}}
		}},
		{"DELETE without body", func() *http.Request {
			return &http.Request{Method: "DELETE", URL: &url.URL{Scheme: "http", Host: "up", Path: "/Users/1"}, Body: http.NoBody, Header: http.Header{}}
		}},
		{"odd header values and names", func() *http.Request {
			return &http.Request{Method: "GET", URL: &url.URL{Scheme: "http", Host: "up", Path: "/"}, Host: "public.example:443",
				Header: http.Header{"X-Multi": {"1", " 2\t"}, "X-Break": {"a\r\nInjected: yes"}, "Bad Name": {"x"}, "Trailer": {"X"}, "Transfer-Encoding": {"chunked"}, "Host": {"evil"}}}
		}},
		{"unknown length: req.Write", func() *http.Request {
			return &http.Request{Method: "PUT", URL: &url.URL{Scheme: "http", Host: "up", Path: "/Users/1"}, Body: body("streamed"), Header: http.Header{}}
		}},
		{"connection close: req.Write", func() *http.Request {
			return &http.Request{Method: "GET", URL: &url.URL{Scheme: "http", Host: "up", Path: "/"}, Close: true, Header: http.Header{}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ours, theirs bytes.Buffer
			w := bufio.NewWriter(&ours)
			if err := writeRequest(w, tc.req()); err != nil {
				t.Fatal(err)
			}
			w.Flush()
			if err := tc.req().Write(&theirs); err != nil {
				t.Fatal(err)
			}
			got, want := readBack(t, ours.Bytes()), readBack(t, theirs.Bytes())
			if got.line != want.line || got.host != want.host || got.body != want.body || !maps.EqualFunc(got.header, want.header, slices.Equal) {
				t.Errorf("writeRequest sent\n%q\nreq.Write sends\n%q", ours.Bytes(), theirs.Bytes())
			}
		})
	}
}

type sent struct {
	line, host, body string
	header           http.Header
}

func readBack(t *testing.T, raw []byte) sent {
	t.Helper()
	r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatalf("%v: %q", err, raw)
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatalf("%v: %q", err, raw)
	}
	return sent{line: r.Method + " " + r.RequestURI + " " + r.Proto, host: r.Host, body: string(b), header: r.Header}
}

func TestWriteRequestRefusesWrongLengths(t *testing.T) {
	for _, tc := range []struct {
		length int64
		body   string
	}{{5, "abc"}, {2, "abc"}} {
		req := &http.Request{Method: "POST", URL: &url.URL{Scheme: "http", Host: "up", Path: "/"}, Header: http.Header{},
			ContentLength: tc.length, Body: io.NopCloser(strings.NewReader(tc.body))}
		var out bytes.Buffer
		w := bufio.NewWriter(&out)
		if err := writeRequest(w, req); err == nil {
			t.Errorf("ContentLength %d with body %q accepted", tc.length, tc.body)
		}
	}
}

func BenchmarkWriteRequest(b *testing.B) {
	req := &http.Request{Method: "GET", URL: &url.URL{Scheme: "http", Host: "127.0.0.1:8080", Path: "/scim/v2/Users", RawQuery: `filter=userName+eq+%22a%22`},
		Header: http.Header{"Accept": {"application/scim+json"}, "X-Scim-Tenant": {"acme"}, "X-Scim-Client": {"c1"}, "X-Auth-Method": {"jwt"},
			"X-Request-Id": {"abcdefghijkl"}, "X-Idp-Profile": {"entra"}, "User-Agent": {""}}}
	w := bufio.NewWriter(io.Discard)
	b.ReportAllocs()
	for b.Loop() {
		if err := writeRequest(w, req); err != nil {
			b.Fatal(err)
		}
		w.Flush()
	}
}
