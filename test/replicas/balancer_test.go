package replicas

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// balancer is a load balancer for tests: it sends each request to the next
// backend, round robin, among those whose admin /readyz answered 200 at its
// last health check, as a cloud load balancer or a Kubernetes Service does.
// It never retries.
type balancer struct {
	srv      *httptest.Server
	backends []*backend
	next     atomic.Uint64
	stop     chan struct{}
	done     sync.WaitGroup
}

type backend struct {
	public  *url.URL
	readyz  string
	healthy atomic.Bool
	served  atomic.Int64
}

// The balancer checks each backend every healthInterval and takes it out
// after unhealthyAfter failed checks in a row, a check failing when it
// takes longer than healthTimeout or answers other than 200; one success
// puts it back. Like a cloud balancer's or Kubernetes' probes, compressed
// in time: a single slow answer of a machine whose cores are busy with
// other tests does not take a backend out (with a 100 ms timeout and one
// failure, both replicas were taken out together). The replicas'
// listen.shutdown_delay must exceed unhealthyAfter intervals, plus the
// time of the checks.
const (
	healthInterval = 100 * time.Millisecond
	healthTimeout  = time.Second
	unhealthyAfter = 2
)

func newBalancer(addr string, replicas ...*replica) *balancer {
	b := &balancer{stop: make(chan struct{})}
	for _, r := range replicas {
		u, _ := url.Parse(r.public)
		b.backends = append(b.backends, &backend{public: u, readyz: r.admin + "/readyz"})
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(pr.In.Context().Value(backendKey{}).(*backend).public)
			pr.SetXForwarded()
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, _ error) { w.WriteHeader(http.StatusBadGateway) },
	}
	b.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		be := b.pick()
		if be == nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		be.served.Add(1)
		proxy.ServeHTTP(w, r.WithContext(withBackend(r.Context(), be)))
	}))
	b.srv.Listener.Close()
	ln, err := listen(addr)
	if err != nil {
		panic(err)
	}
	b.srv.Listener = ln
	b.srv.Start()
	for _, be := range b.backends {
		b.done.Go(func() { b.check(be) })
	}
	return b
}

func (b *balancer) pick() *backend {
	n := uint64(len(b.backends))
	start := b.next.Add(1)
	for i := range n {
		if be := b.backends[(start+i)%n]; be.healthy.Load() {
			return be
		}
	}
	return nil
}

func (b *balancer) check(be *backend) {
	client := &http.Client{Timeout: healthTimeout}
	failures := 0
	for {
		resp, err := client.Get(be.readyz)
		if err == nil {
			resp.Body.Close()
		}
		if err == nil && resp.StatusCode == http.StatusOK {
			failures = 0
			be.healthy.Store(true)
		} else if failures++; failures >= unhealthyAfter {
			be.healthy.Store(false)
		}
		select {
		case <-b.stop:
			return
		case <-time.After(healthInterval):
		}
	}
}

func (b *balancer) close() {
	close(b.stop)
	b.done.Wait()
	b.srv.Close()
}

type backendKey struct{}

func withBackend(ctx context.Context, be *backend) context.Context {
	return context.WithValue(ctx, backendKey{}, be)
}

func listen(addr string) (net.Listener, error) { return net.Listen("tcp", addr) }
