package replicas

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestRollingRestartUnderLoad restarts both replicas one after the other,
// with SIGTERM, while a steady 50 requests a second (token requests and
// SCIM reads) go through a health-checking balancer: not one may fail.
// It relies on graceful shutdown: /readyz fails first, requests are still
// served for listen.shutdown_delay, then in-flight ones finish.
func TestRollingRestartUnderLoad(t *testing.T) {
	lbPort := freePort(t)
	c := newCluster(t, "http://127.0.0.1:"+lbPort)
	c.extra = "  shutdown_delay: 1s\n  trusted_proxies: [127.0.0.0/8]\n"
	a, b := c.replica("a"), c.replica("b")
	a.start()
	b.start()
	lb := newBalancer("127.0.0.1:"+lbPort, a, b)
	defer lb.close()
	waitHealthy(t, lb, 0, 1)
	base := lb.srv.URL
	acme := c.newClient(a, "acme")
	first, err := token(base, acme)
	if err != nil {
		t.Fatal(err)
	}
	var current atomic.Pointer[string]
	current.Store(&first)

	var total, failed atomic.Int64
	var failuresMu sync.Mutex
	var failures []string
	fail := func(format string, args ...any) {
		failed.Add(1)
		failuresMu.Lock()
		if len(failures) < 10 {
			failures = append(failures, time.Now().Format("15:04:05.000 ")+fmt.Sprintf(format, args...))
		}
		failuresMu.Unlock()
	}
	stop := make(chan struct{})
	var inFlight sync.WaitGroup
	var loop sync.WaitGroup
	loop.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond) // 50 requests a second
		defer tick.Stop()
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			total.Add(1)
			inFlight.Go(func() {
				if n%2 == 0 {
					tok, err := token(base, acme)
					if err != nil {
						fail("token: %v", err)
						return
					}
					current.Store(&tok)
					return
				}
				status, body, err := scim(http.MethodGet, base, "/scim/v2/Users", "Bearer "+*current.Load(), "")
				if err != nil || status != http.StatusOK {
					fail("GET /scim/v2/Users: %d %v %.200s", status, err, body)
				}
			})
		}
	})

	time.Sleep(time.Second)
	for i, r := range []*replica{a, b} {
		before := lb.backends[i].served.Load()
		r.stop()
		r.start()
		waitHealthy(t, lb, i)
		time.Sleep(time.Second)
		if lb.backends[i].served.Load() == before {
			t.Errorf("replica %s served nothing after its restart", r.name)
		}
	}
	close(stop)
	loop.Wait()
	inFlight.Wait()

	t.Logf("rolling restart of 2 replicas: %d requests, %d failed; served by a %d, by b %d",
		total.Load(), failed.Load(), lb.backends[0].served.Load(), lb.backends[1].served.Load())
	if failed.Load() > 0 {
		t.Errorf("%d requests failed during the rolling restart:\n%v", failed.Load(), failures)
	}
	if total.Load() < 200 {
		t.Errorf("only %d requests were sent", total.Load())
	}
	a.stop()
	b.stop()
	assertNoSecrets(t, []*replica{a, b}, acme.secret, acme.apiKey, first, c.adminToken, c.masterKey)
}

// waitHealthy waits until the balancer sends to the backends numbered.
func waitHealthy(t *testing.T, lb *balancer, backends ...int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for _, i := range backends {
		for !lb.backends[i].healthy.Load() {
			if time.Now().After(deadline) {
				t.Fatalf("backend %d not healthy after 30s", i)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}
