package metrics

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Route records the requests of one route of the public listener. Its
// label children are resolved once per method and status and then reused,
// so a request costs two atomic adds and a read-locked map lookup.
type Route struct {
	m    *Metrics
	name string

	mu       sync.RWMutex
	children map[routeKey]routeChildren
}

type routeKey struct {
	method uint8
	code   uint16
}

type routeChildren struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// Route returns the recorder of the route labelled name: a path template
// such as /oauth2/token or /t/{tenant}/scim/v2, or a fixed word such as
// "unmatched". It returns nil, which records nothing, on a nil Metrics.
func (m *Metrics) Route(name string) *Route {
	if m == nil {
		return nil
	}
	return &Route{m: m, name: name, children: map[routeKey]routeChildren{}}
}

// Start counts a request in flight; call Done when it is answered.
func (r *Route) Start() {
	if r != nil {
		r.m.inFlight.Inc()
	}
}

// Done records a request answered with code after elapsed.
func (r *Route) Done(method string, code int, elapsed time.Duration) {
	if r == nil {
		return
	}
	r.m.inFlight.Dec()
	mi := methodIndex(method)
	if code < 100 || code > 599 {
		code = 0
	}
	k := routeKey{mi, uint16(code)}
	r.mu.RLock()
	c, ok := r.children[k]
	r.mu.RUnlock()
	if !ok {
		labels := []string{r.name, methods[mi], codeLabel(code)}
		c = routeChildren{r.m.requests.WithLabelValues(labels...), r.m.duration.WithLabelValues(labels...)}
		r.mu.Lock()
		r.children[k] = c
		r.mu.Unlock()
	}
	c.requests.Inc()
	c.duration.Observe(elapsed.Seconds())
}

// methods are the method labels; any other method is "other", so that a
// client cannot create series at will.
var methods = [...]string{"other", http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions}

func methodIndex(method string) uint8 {
	for i := 1; i < len(methods); i++ {
		if methods[i] == method {
			return uint8(i)
		}
	}
	return 0
}
