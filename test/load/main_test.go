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

	"github.com/scimgate/scimgate/test/load/httpload"
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

// measured is a row of a run that served rate requests a second, each
// taking latency, on cpu of server time.
func measured(name, compare string, tgt target, rate int, latency, cpu time.Duration) row {
	res := &httpload.Result{Requests: uint64(rate), Elapsed: time.Second}
	res.Latency.Record(latency)
	return row{scenario: scenario{name: name, through: name, compare: compare, target: tgt}, res: res, serverCPU: cpu}
}

// Several runs end with each row's median and range, ratios paired within
// a run, and the targets judged on the medians.
func TestMedians(t *testing.T) {
	run := func(direct, nginx, gateway int, gatewayP50 time.Duration) []row {
		return []row{
			measured("get-direct", "", noTarget, direct, 200*time.Microsecond, 10*time.Microsecond),
			measured("get-nginx", "get-direct", noTarget, nginx, 400*time.Microsecond, 15*time.Microsecond),
			measured("get-gateway-jwt", "get-direct", gatewayTarget, gateway, gatewayP50, 30*time.Microsecond),
			{scenario: scenario{name: "get-skipped"}, skipped: true},
		}
	}
	runs := [][]row{
		run(60000, 30000, 24000, 450*time.Microsecond), // 0.40×
		run(50000, 30000, 15000, 800*time.Microsecond), // 0.30×
		run(40000, 30000, 20000, 500*time.Microsecond), // 0.50×
	}
	sums := summarize(runs)
	if len(sums) != 3 {
		t.Fatalf("%d summaries, want 3 (skipped rows have none)", len(sums))
	}
	gw := sums[2]
	if gw.ratio != (spread{n: 3, median: 0.40, lo: 0.30, hi: 0.50}) {
		t.Errorf("ratio %+v: each run's rate over its own direct rate", gw.ratio)
	}
	if gw.rate != (spread{n: 3, median: 20000, lo: 15000, hi: 24000}) {
		t.Errorf("rate %+v", gw.rate)
	}
	if sums[0].ratio.n != 0 || sums[0].ratio.format(times) != "" {
		t.Errorf("the direct row has a ratio: %+v", sums[0].ratio)
	}
	if got := spreadOf([]float64{4, 1, 3, 2}); got.median != 2.5 {
		t.Errorf("median of an even count: %v", got.median)
	}

	var b strings.Builder
	medians(&b, sums, len(runs))
	targets(&b, sums, len(runs))
	out := b.String()
	for _, want := range []string{
		"| get-gateway-jwt | get-gateway-jwt | 20,000 (15,000 – 24,000) | 0.40× (0.30× – 0.50×) |",
		"| get-direct | get-direct | 50,000 (40,000 – 60,000) |  |",
		"Targets (medians of 3 runs):",
		"- get-gateway-jwt: 0.40× direct (target ≥ 0.40×)",
		"; 0.67× nginx",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	// One run: no medians table, the targets as before.
	b.Reset()
	targets(&b, summarize(runs[:1]), 1)
	if !strings.HasPrefix(b.String(), "Targets:\n- get-gateway-jwt: 0.40× direct") {
		t.Errorf("one run:\n%s", b.String())
	}
}

func TestSpreadFormat(t *testing.T) {
	us := nanos(duration)
	tests := []struct {
		s    spread
		want string
	}{
		{spread{}, ""},
		{spreadOf([]float64{15e3}), "15 µs"},
		{spreadOf([]float64{15.2e3, 15.4e3}), "15 µs"}, // the same when written
		{spreadOf([]float64{15e3, 17e3, 30e3}), "17 µs (15 µs – 30 µs)"},
	}
	for _, tt := range tests {
		if got := tt.s.format(us); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.s, got, tt.want)
		}
	}
}
