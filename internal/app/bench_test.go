package app

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/scimgate/scimgate/internal/clientip"
	"github.com/scimgate/scimgate/internal/metrics"
	"github.com/scimgate/scimgate/internal/requestid"
)

// BenchmarkPublicMiddleware is what the public listener adds around every
// route: request id, client address (behind a trusted proxy), metrics and
// the disabled debug line. "bare" is the handler alone; the difference is
// the middleware's cost.
func BenchmarkPublicMiddleware(b *testing.B) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	a := &App{log: slog.New(slog.DiscardHandler), metrics: metrics.New("bench")}
	ips := clientip.New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	for _, c := range []struct {
		name string
		h    http.Handler
	}{
		{"bare", ok},
		{"observe", a.observe("/scim/v2", ok)},
		{"full", requestid.Middleware(clientAddress(ips, a.observe("/scim/v2", ok)))},
		{"full without metrics", requestid.Middleware(clientAddress(ips, (&App{log: a.log}).observe("/scim/v2", ok)))},
	} {
		b.Run(c.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/scim/v2/Users", nil)
			req.RemoteAddr = "10.1.2.3:4567"
			req.Header.Set("X-Forwarded-For", "203.0.113.7")
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				c.h.ServeHTTP(w, req)
			}
		})
	}
}
