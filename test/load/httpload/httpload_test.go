package httpload

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestRunCountsAnswersAndErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/length":
			w.Header().Set("Content-Length", "5")
			_, _ = io.WriteString(w, "hello")
		case "/chunked":
			w.(http.Flusher).Flush() // forces chunked encoding
			_, _ = w.Write([]byte(strings.Repeat("x", 10000)))
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/close":
			w.Header().Set("Connection", "close")
			_, _ = io.WriteString(w, "bye")
		case "/echo":
			if string(body) != "ping" {
				w.WriteHeader(http.StatusBadRequest)
			}
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	tests := []struct {
		name      string
		cycle     []Request
		wantError string
	}{
		{"content-length, chunked, 204, close and a body", []Request{
			NewRequest("GET", host, "/length", nil, nil),
			NewRequest("GET", host, "/chunked", []string{"Accept: */*"}, nil),
			NewRequest("DELETE", host, "/empty", nil, nil),
			NewRequest("GET", host, "/close", nil, nil),
			NewRequest("POST", host, "/echo", []string{"Content-Type: text/plain"}, []byte("ping")),
		}, ""},
		{"non-2xx is an error", []Request{NewRequest("GET", host, "/missing", nil, nil)}, "HTTP 404"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Run(context.Background(), Plan{Addr: host, Connections: 3, Warmup: 50 * time.Millisecond,
				Duration: 200 * time.Millisecond, Cycle: tt.cycle})
			if err != nil {
				t.Fatal(err)
			}
			if res.Requests < 10 || res.Latency.Count() != res.Requests || res.PerSecond() <= 0 {
				t.Fatalf("requests %d, latency samples %d", res.Requests, res.Latency.Count())
			}
			if tt.wantError == "" && res.Errors != 0 {
				t.Fatalf("%d errors, first: %s", res.Errors, res.FirstError)
			}
			if tt.wantError != "" && (res.Errors != res.Requests || res.FirstError != tt.wantError) {
				t.Fatalf("errors %d of %d, first %q; want all %q", res.Errors, res.Requests, res.FirstError, tt.wantError)
			}
		})
	}
}

func TestRunCountsRefusedConnections(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	host := strings.TrimPrefix(srv.URL, "http://")
	srv.Close()
	res, err := Run(context.Background(), Plan{Addr: host, Connections: 1, Duration: 50 * time.Millisecond,
		Cycle: []Request{NewRequest("GET", host, "/", nil, nil)}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors == 0 || !strings.Contains(res.FirstError, "refused") {
		t.Fatalf("errors %d, first %q", res.Errors, res.FirstError)
	}
}
