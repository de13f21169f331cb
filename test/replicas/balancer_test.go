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

// healthInterval is how often the balancer checks each backend; the
// replicas' listen.shutdown_delay must exceed it.
const healthInterval = 100 * time.Millisecond

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
	client := &http.Client{Timeout: healthInterval}
	for {
		resp, err := client.Get(be.readyz)
		if err == nil {
			resp.Body.Close()
		}
		be.healthy.Store(err == nil && resp.StatusCode == http.StatusOK)
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
