// Package metrics keeps scimgate's Prometheus metrics on a registry of their
// own and serves them: HTTP requests by route, method and status; tokens
// issued and refused; the gateway's upstream round trips, caches and rate
// limits; and the Go runtime and process collectors.
//
// Every method is safe on a nil *Metrics, which records nothing, so callers
// need no "metrics enabled?" branches. Labels are bounded: routes are the
// configured path templates, never raw paths or tenant ids.
package metrics

import (
	"context"
	"errors"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace starts every scimgate metric name.
const Namespace = "scimgate"

// latencyBuckets span a cached token check (under a millisecond) to an
// upstream at its timeout (30s by default), in seconds.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// Metrics holds the collectors. Build it with New.
type Metrics struct {
	reg *prometheus.Registry

	requests *prometheus.CounterVec   // route, method, code
	duration *prometheus.HistogramVec // route, method, code
	inFlight prometheus.Gauge

	issued  *prometheus.CounterVec // grant
	refused *prometheus.CounterVec // grant, reason

	upstreamDuration *prometheus.HistogramVec // route, code
	upstreamErrors   *prometheus.CounterVec   // route, error
	cacheLookups     *prometheus.CounterVec   // cache, result
	rateLimited      *prometheus.CounterVec   // limit

	// Children of the fixed label values, resolved once.
	issuedBy  map[string]prometheus.Counter
	cacheBy   map[string][2]prometheus.Counter // miss, hit
	limitedBy map[string]prometheus.Counter

	upstreamMu sync.RWMutex
	upstream   map[upstreamKey]prometheus.Observer
}

// The gateway's caches and limits, as it names them.
var (
	caches = []string{"token", "api_key", "client", "tenant"}
	limits = []string{"tenant", "credential"}
)

type upstreamKey struct {
	route string
	code  int
}

// New registers every collector on a fresh registry. version is reported
// by scimgate_build_info.
func New(version string) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "http_requests_total",
			Help: "Requests answered on the public listener, by route template, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "http_request_duration_seconds",
			Help:    "Time from a request's arrival to the end of its answer on the public listener, by route template, method and status code.",
			Buckets: latencyBuckets,
		}, []string{"route", "method", "code"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Name: "http_requests_in_flight",
			Help: "Requests being served on the public listener.",
		}),
		issued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "tokens_issued_total",
			Help: "Access tokens issued by the token endpoint, by grant type.",
		}, []string{"grant"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "tokens_refused_total",
			Help: "Token requests refused, by grant type and reason (the reason of the token.refused audit event).",
		}, []string{"grant", "reason"}),
		upstreamDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "upstream_request_duration_seconds",
			Help:    "Time from sending a request to an upstream SCIM service to its answer's headers, by route and upstream status code.",
			Buckets: latencyBuckets,
		}, []string{"route", "code"}),
		upstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "upstream_errors_total",
			Help: "Upstream requests that got no answer, by route and error: timeout, unavailable (refused, reset, DNS) or canceled (the client went away).",
		}, []string{"route", "error"}),
		cacheLookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "cache_lookups_total",
			Help: "Lookups in the gateway's in-memory caches (token, api_key, client, tenant), by result: hit or miss.",
		}, []string{"cache", "result"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "ratelimit_rejections_total",
			Help: "SCIM requests answered 429, by the limit that refused them: tenant or credential.",
		}, []string{"limit"}),
		upstream: map[upstreamKey]prometheus.Observer{},
	}
	m.issuedBy = map[string]prometheus.Counter{"other": m.issued.WithLabelValues("other")}
	for _, g := range grants {
		m.issuedBy[g] = m.issued.WithLabelValues(g)
	}
	m.cacheBy = map[string][2]prometheus.Counter{}
	for _, c := range caches {
		m.cacheBy[c] = [2]prometheus.Counter{m.cacheLookups.WithLabelValues(c, "miss"), m.cacheLookups.WithLabelValues(c, "hit")}
	}
	m.limitedBy = map[string]prometheus.Counter{}
	for _, l := range limits {
		m.limitedBy[l] = m.rateLimited.WithLabelValues(l)
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "build_info",
		Help:        "Always 1; the labels say which scimgate runs.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()},
	})
	build.Set(1)
	m.reg.MustRegister(m.requests, m.duration, m.inFlight, m.issued, m.refused,
		m.upstreamDuration, m.upstreamErrors, m.cacheLookups, m.rateLimited, build,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in the Prometheus text (or OpenMetrics)
// format; a nil Metrics serves 404.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, EnableOpenMetrics: true})
}

// Gatherer exposes the registry, for tests and embedding.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }

// Names lists every scimgate metric family, for the operating guide and
// its test.
func Names() []string {
	return []string{
		Namespace + "_http_requests_total", Namespace + "_http_request_duration_seconds", Namespace + "_http_requests_in_flight",
		Namespace + "_tokens_issued_total", Namespace + "_tokens_refused_total",
		Namespace + "_upstream_request_duration_seconds", Namespace + "_upstream_errors_total",
		Namespace + "_cache_lookups_total", Namespace + "_ratelimit_rejections_total", Namespace + "_build_info",
	}
}

// Grant types, as labels. Any other presented grant_type is "other", so
// that a client cannot create series at will.
var grants = map[string]string{
	"client_credentials": "client_credentials",
	"authorization_code": "authorization_code",
	"refresh_token":      "refresh_token",
	"":                   "none",
}

func grantLabel(grant string) string {
	if g, ok := grants[grant]; ok {
		return g
	}
	return "other"
}

// TokenIssued counts an access token issued with grant.
func (m *Metrics) TokenIssued(grant string) {
	if m == nil {
		return
	}
	m.issuedBy[grantLabel(grant)].Inc()
}

// TokenRefused counts a refused token request. reason is one of the
// authorization server's fixed reason codes.
func (m *Metrics) TokenRefused(grant, reason string) {
	if m == nil {
		return
	}
	m.refused.WithLabelValues(grantLabel(grant), boundedReason(reason)).Inc()
}

// boundedReason passes a reason code (lower-case letters, digits and
// underscores, as every reason the servers use is) and replaces anything
// else by "other".
func boundedReason(s string) string {
	if s == "" || len(s) > 48 {
		return "other"
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return "other"
		}
	}
	return s
}

// CacheLookup counts one lookup in a gateway cache.
func (m *Metrics) CacheLookup(cache string, hit bool) {
	if m == nil {
		return
	}
	i := 0
	if hit {
		i = 1
	}
	if c, ok := m.cacheBy[cache]; ok {
		c[i].Inc()
		return
	}
	m.cacheLookups.WithLabelValues(cache, [2]string{"miss", "hit"}[i]).Inc()
}

// RateLimited counts a SCIM request refused by limit (tenant or credential).
func (m *Metrics) RateLimited(limit string) {
	if m == nil {
		return
	}
	if c, ok := m.limitedBy[limit]; ok {
		c.Inc()
		return
	}
	m.rateLimited.WithLabelValues(limit).Inc()
}

// Upstream observes one upstream round trip on route: its status and
// duration, or, when err is not nil, the kind of failure.
func (m *Metrics) Upstream(route string, status int, err error, elapsed time.Duration) {
	if m == nil {
		return
	}
	if err != nil {
		m.upstreamErrors.WithLabelValues(route, upstreamError(err)).Inc()
		return
	}
	k := upstreamKey{route, status}
	m.upstreamMu.RLock()
	obs := m.upstream[k]
	m.upstreamMu.RUnlock()
	if obs == nil {
		obs = m.upstreamDuration.WithLabelValues(route, codeLabel(status))
		m.upstreamMu.Lock()
		m.upstream[k] = obs
		m.upstreamMu.Unlock()
	}
	obs.Observe(elapsed.Seconds())
}

// upstreamError names err's kind as the gateway answers it: a connect
// that timed out means the upstream could not be reached (502), not that
// it was slow (504); the dialer's limit is shorter than route timeouts.
func upstreamError(err error) string {
	var ne net.Error
	var oe *net.OpError
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &oe) && oe.Op == "dial":
		return "unavailable"
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return "unavailable"
}

// codeLabel renders an HTTP status; anything outside 100–599 is "other".
func codeLabel(code int) string {
	if code < 100 || code > 599 {
		return "other"
	}
	return strconv.Itoa(code)
}
