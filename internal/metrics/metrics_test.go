package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// A nil Metrics is what the app passes when metrics are disabled: every
// method must be callable on it.
func TestNilMetricsRecordNothing(t *testing.T) {
	var m *Metrics
	m.TokenIssued("client_credentials")
	m.TokenRefused("client_credentials", "wrong_secret")
	m.CacheLookup("token", true)
	m.RateLimited("tenant")
	m.Upstream("/scim/v2", 200, nil, time.Millisecond)
	r := m.Route("/oauth2/token")
	r.Start()
	r.Done(http.MethodPost, 200, time.Millisecond)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("nil Metrics handler answered %d, want 404", rec.Code)
	}
}

func TestRecordsWithBoundedLabels(t *testing.T) {
	m := New("v1.2.3")
	route := m.Route("/scim/v2")
	for _, c := range []struct {
		method string
		code   int
	}{{"GET", 200}, {"GET", 200}, {"BREW", 418}, {"POST", 1000}} {
		route.Start()
		route.Done(c.method, c.code, 2*time.Millisecond)
	}
	m.TokenIssued("client_credentials")
	m.TokenIssued("urn:made:up:grant")
	m.TokenRefused("client_credentials", "wrong_secret")
	m.TokenRefused("password", "Evil Label\n")
	m.CacheLookup("token", true)
	m.CacheLookup("token", false)
	m.RateLimited("tenant")
	m.Upstream("/scim/v2", 201, nil, 3*time.Millisecond)
	m.Upstream("/scim/v2", 0, context.DeadlineExceeded, time.Second)
	m.Upstream("/scim/v2", 0, fmt.Errorf("dial: %w", syscall.ECONNREFUSED), time.Millisecond)
	m.Upstream("/scim/v2", 0, &net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}, 5*time.Second) // connect timed out: unreachable
	m.Upstream("/scim/v2", 0, context.Canceled, time.Millisecond)

	for _, c := range []struct {
		name   string
		got    float64
		expect float64
	}{
		{"GET 200", testutil.ToFloat64(m.requests.WithLabelValues("/scim/v2", "GET", "200")), 2},
		{"unknown method", testutil.ToFloat64(m.requests.WithLabelValues("/scim/v2", "other", "418")), 1},
		{"impossible code", testutil.ToFloat64(m.requests.WithLabelValues("/scim/v2", "POST", "other")), 1},
		{"in flight", testutil.ToFloat64(m.inFlight), 0},
		{"issued", testutil.ToFloat64(m.issued.WithLabelValues("client_credentials")), 1},
		{"issued other grant", testutil.ToFloat64(m.issued.WithLabelValues("other")), 1},
		{"refused", testutil.ToFloat64(m.refused.WithLabelValues("client_credentials", "wrong_secret")), 1},
		{"refused odd reason", testutil.ToFloat64(m.refused.WithLabelValues("other", "other")), 1},
		{"cache hit", testutil.ToFloat64(m.cacheLookups.WithLabelValues("token", "hit")), 1},
		{"cache miss", testutil.ToFloat64(m.cacheLookups.WithLabelValues("token", "miss")), 1},
		{"rate limited", testutil.ToFloat64(m.rateLimited.WithLabelValues("tenant")), 1},
		{"upstream timeout", testutil.ToFloat64(m.upstreamErrors.WithLabelValues("/scim/v2", "timeout")), 1},
		{"upstream unavailable", testutil.ToFloat64(m.upstreamErrors.WithLabelValues("/scim/v2", "unavailable")), 2},
		{"upstream canceled", testutil.ToFloat64(m.upstreamErrors.WithLabelValues("/scim/v2", "canceled")), 1},
	} {
		if c.got != c.expect {
			t.Errorf("%s: %v, want %v", c.name, c.got, c.expect)
		}
	}
	if n := testutil.CollectAndCount(m.upstreamDuration); n != 1 {
		t.Errorf("upstream histogram has %d series, want 1", n)
	}
}

func TestHandlerServesEveryFamily(t *testing.T) {
	m := New("v1.2.3")
	m.Route("/oauth2/token").Done(http.MethodPost, 200, time.Millisecond)
	m.TokenIssued("client_credentials")
	m.TokenRefused("client_credentials", "wrong_secret")
	m.CacheLookup("token", true)
	m.RateLimited("tenant")
	m.Upstream("/scim/v2", 200, nil, time.Millisecond)
	m.Upstream("/scim/v2", 0, errors.New("broken"), time.Millisecond)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	for _, name := range Names() {
		if !strings.Contains(body, "\n# TYPE "+name+" ") {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	for _, want := range []string{`scimgate_build_info{goversion="go`, `version="v1.2.3"} 1`, "go_goroutines ", "process_cpu_seconds_total "} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// Names lists what the operating guide must document; it must match the
// registry.
func TestNamesMatchRegistry(t *testing.T) {
	m := New("test")
	m.Route("x").Done("GET", 200, 0)
	m.TokenIssued("")
	m.TokenRefused("", "x")
	m.CacheLookup("token", true)
	m.RateLimited("tenant")
	m.Upstream("x", 200, nil, 0)
	m.Upstream("x", 0, errors.New("x"), 0)
	families, err := m.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, f := range families {
		if strings.HasPrefix(f.GetName(), Namespace+"_") {
			have[f.GetName()] = true
		}
	}
	names := Names()
	if len(have) != len(names) {
		t.Errorf("registry has %d scimgate families, Names lists %d", len(have), len(names))
	}
	for _, n := range names {
		if !have[n] {
			t.Errorf("Names lists %s, which the registry lacks", n)
		}
	}
}

// BenchmarkRouteDone is the per-request cost of the public listener's
// request metrics once a route's label children are resolved.
func BenchmarkRouteDone(b *testing.B) {
	r := New("bench").Route("/scim/v2")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r.Start()
			r.Done(http.MethodGet, 200, time.Millisecond)
		}
	})
}

func BenchmarkTokenIssued(b *testing.B) {
	m := New("bench")
	b.ReportAllocs()
	for b.Loop() {
		m.TokenIssued("client_credentials")
	}
}

func BenchmarkCacheLookup(b *testing.B) {
	m := New("bench")
	b.ReportAllocs()
	for b.Loop() {
		m.CacheLookup("token", true)
	}
}
