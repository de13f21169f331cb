package h1server

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// BenchmarkServe is one keep-alive GET round trip over loopback, answered
// by a handler like the gateway's (a few headers, a small JSON body),
// served here and by net/http's server: client, server and kernel time
// together, allocations of both sides.
func BenchmarkServe(b *testing.B) {
	body := []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"Resources":[]}`)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/scim+json")
		w.Header().Set("X-Request-Id", "4bf92f3577b34da6a3ce929d0e0e4736")
		_, _ = w.Write(body)
	})
	request := []byte("GET /scim/v2/Users?filter=userName+eq+%22ann%40example.com%22 HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
		"Accept: application/scim+json\r\nAuthorization: Bearer eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCJ9.e30.c2ln\r\n\r\n")
	for _, tc := range []struct {
		name  string
		serve func(net.Listener) func()
	}{
		{"h1server", func(ln net.Listener) func() {
			s := &Server{Handler: h, Fallback: &http.Server{Handler: h}}
			go func() { _ = s.Serve(ln) }()
			return func() { _ = s.Close() }
		}},
		{"net-http", func(ln net.Listener) func() {
			s := &http.Server{Handler: h}
			go func() { _ = s.Serve(ln) }()
			return func() { _ = s.Close() }
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer tc.serve(ln)()
			nc, err := (&net.Dialer{Timeout: time.Second}).DialContext(context.Background(), "tcp", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			defer nc.Close()
			br := bufio.NewReader(nc)
			get := &http.Request{Method: http.MethodGet}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := nc.Write(request); err != nil {
					b.Fatal(err)
				}
				resp, err := http.ReadResponse(br, get)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, resp.Body); err != nil || resp.StatusCode != http.StatusOK {
					b.Fatalf("%d %v", resp.StatusCode, err)
				}
			}
		})
	}
}
