package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestFormatting(t *testing.T) {
	tests := []struct{ got, want string }{
		{thousands(0), "0"},
		{thousands(999.6), "1,000"},
		{thousands(1234567), "1,234,567"},
		{duration(183 * time.Microsecond), "183 µs"},
		{duration(12345 * time.Microsecond), "12.3 ms"},
		{signed(-40 * time.Microsecond), "−40 µs"},
		{mib(3 << 20), "3 MiB"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

// The upstream's fixed answers are valid SCIM JSON, or the gateway's
// normalizer would measure its error path.
func TestUpstreamAnswers(t *testing.T) {
	srv := httptest.NewServer(upstream())
	defer srv.Close()
	tests := []struct {
		method string
		status int
	}{{"GET", 200}, {"POST", 201}, {"PATCH", 200}, {"DELETE", 204}}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, srv.URL+routePath+"/Users", strings.NewReader("{}"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || tt.status != 204 && err != nil {
			t.Errorf("%s: %d %v", tt.method, resp.StatusCode, err)
		}
	}
}

// Both minimal relays pass the upstream's answer on intact over kept
// connections, and refuse what they do not relay.
func TestRelays(t *testing.T) {
	up := httptest.NewServer(upstream())
	defer up.Close()
	target := strings.TrimPrefix(up.URL, "http://")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { _ = serveRelay(ln, newRelayPool(target)) }()
	viaNetHTTP := httptest.NewServer(relayHandler(newRelayPool(target)))
	defer viaNetHTTP.Close()

	for name, base := range map[string]string{"own loop": "http://" + ln.Addr().String(), "net/http": viaNetHTTP.URL} {
		t.Run(name, func(t *testing.T) {
			for range 3 {
				resp, err := http.Get(base + getUsers)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || string(body) != upstreamList || resp.Header.Get("Content-Type") != "application/scim+json" {
					t.Fatalf("%d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
				}
			}
			resp, err := http.Post(base+routePath+"/Users", "application/scim+json", strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadGateway {
				t.Errorf("POST: %d, want 502", resp.StatusCode)
			}
		})
	}
}
