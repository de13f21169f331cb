package gateway

import (
	"time"
)

// Metrics is told what the gateway's caches, rate limits and upstreams do;
// *metrics.Metrics is one. Calls come from the request path, so they must
// be cheap and must not block.
type Metrics interface {
	// CacheLookup counts one lookup in the token, api_key, client or
	// tenant cache.
	CacheLookup(cache string, hit bool)
	// RateLimited counts a request refused by the tenant or credential limit.
	RateLimited(limit string)
	// Upstream observes one round trip to route's upstream: the answer's
	// status, or the error when there was none, and the time to the
	// answer's headers.
	Upstream(route string, status int, err error, elapsed time.Duration)
}

// noMetrics counts nothing.
type noMetrics struct{}

func (noMetrics) CacheLookup(string, bool)                   {}
func (noMetrics) RateLimited(string)                         {}
func (noMetrics) Upstream(string, int, error, time.Duration) {}
