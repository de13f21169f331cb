package gateway_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/scimgate/scimgate/config"
)

// userJSON is what the benchmark upstream answers for one user: about the
// size of an Entra-provisioned user.
const userJSON = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],` +
	`"id":"2819c223-7f76-453a-919d-413861904646","externalId":"bjensen","userName":"bjensen@example.com","active":true,` +
	`"name":{"formatted":"Ms. Barbara J Jensen III","familyName":"Jensen","givenName":"Barbara"},"displayName":"Babs Jensen",` +
	`"emails":[{"value":"bjensen@example.com","type":"work","primary":true}],"title":"Tour Guide",` +
	`"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"701984","department":"Tour Operations","manager":{"value":"26118915-6090-4610-87e4-49d8ca9f808d"}},` +
	`"meta":{"resourceType":"User","created":"2010-01-23T04:56:22Z","lastModified":"2011-05-13T04:42:34Z","version":"W/\"3694e05e9dff591\"","location":"https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646"}}`

const userPath = "/Users/2819c223-7f76-453a-919d-413861904646"

// fastUpstream answers every request with userJSON, as cheaply as net/http
// allows, so that the benchmarks measure the gateway.
func fastUpstream(b *testing.B) *httptest.Server {
	length := strconv.Itoa(len(userJSON))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Content-Type"] = []string{"application/scim+json"}
		h["Content-Length"] = []string{length}
		_, _ = io.WriteString(w, userJSON)
	}))
	b.Cleanup(srv.Close)
	return srv
}

// unlimited keeps the rate limits out of the way of benchmarks.
func unlimited() config.GatewayLimits {
	return config.GatewayLimits{TenantRate: 1e9, TenantBurst: 1e9, CredentialRate: 1e9, CredentialBurst: 1e9}
}

func benchStack(b *testing.B) (*stack, *httptest.Server) {
	up := fastUpstream(b)
	return newStack(b, stackOptions{upstream: up.URL, limits: unlimited()}), up
}

// benchGet sends GETs to url, with the given header name-value pairs, over
// one keep-alive client until b is done.
func benchGet(b *testing.B, url string, header ...string) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.Cleanup(client.CloseIdleConnections)
	b.ReportAllocs()
	b.SetParallelism(8) // 16 clients on two cores, as a load generator would
	b.ResetTimer()
	cpu := processCPU()
	b.RunParallel(func(pb *testing.PB) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		for pb.Next() {
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	})
	// CPU time per request of the whole process (load generator, gateway
	// and upstream alike): on a saturated machine throughput is inversely
	// proportional to it, and unlike ns/op it hardly moves when other
	// processes compete for the cores.
	b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDirect is the baseline: the same GET straight to the upstream.
func BenchmarkDirect(b *testing.B) {
	up := fastUpstream(b)
	benchGet(b, up.URL+"/scim/v2"+userPath)
}

// BenchmarkBareReverseProxy is the floor: httputil.ReverseProxy with a
// tuned transport and nothing else.
func BenchmarkBareReverseProxy(b *testing.B) {
	up := fastUpstream(b)
	target, _ := url.Parse(up.URL)
	rp := &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(target) },
		Transport: &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true},
	}
	srv := httptest.NewServer(rp)
	b.Cleanup(srv.Close)
	benchGet(b, srv.URL+"/scim/v2"+userPath, "")
}

// BenchmarkGatewayJWT is an authenticated GET through the gateway with a
// token already in the verified-token cache (Entra reuses one for an hour).
func BenchmarkGatewayJWT(b *testing.B) {
	s, _ := benchStack(b)
	benchGet(b, s.URL+shared+userPath, "Authorization", bearer(s.token(s.acme)))
}

// BenchmarkGatewayAPIKey is the same with an API key (Okta, OneLogin).
func BenchmarkGatewayAPIKey(b *testing.B) {
	s, _ := benchStack(b)
	benchGet(b, s.URL+shared+userPath, "Authorization", bearer(s.acmeKey))
}

// BenchmarkGatewayJWTUncached verifies the signature on every request.
func BenchmarkGatewayJWTUncached(b *testing.B) {
	up := fastUpstream(b)
	s := newStack(b, stackOptions{upstream: up.URL, limits: unlimited(), cacheSize: -1})
	benchGet(b, s.URL+shared+userPath, "Authorization", bearer(s.token(s.acme)))
}

// BenchmarkHandlerJWT calls the gateway's handler in process (no inbound
// connection), so allocs/op are the gateway's and its upstream round trip's.
func BenchmarkHandlerJWT(b *testing.B) {
	s, _ := benchStack(b)
	h := s.Gateway.Handler()
	req := httptest.NewRequest(http.MethodGet, s.URL+shared+userPath+"?attributes=userName", nil)
	req.Header.Set("Authorization", bearer(s.token(s.acme)))
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d %s", w.Code, w.Body)
		}
	}
}

// BenchmarkGatewayJWTDialectOff is BenchmarkGatewayJWT on a route whose
// dialect is off: the normalizers' share is the difference.
func BenchmarkGatewayJWTDialectOff(b *testing.B) {
	s, _ := benchStack(b)
	benchGet(b, s.URL+rooms+userPath, "Authorization", bearer(s.token(s.acme)))
}

// The same comparison against scimtest, the upstream of the load runs: a
// GET of one stored user, directly and through the gateway.

func scimtestUser(b *testing.B, s *stack) string {
	r := s.do(http.MethodPost, "/t/acme/scim/v2/Users", bearer(s.acmeKey), `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],`+
		`"userName":"bjensen@example.com","externalId":"bjensen","active":true,"displayName":"Babs Jensen",`+
		`"name":{"familyName":"Jensen","givenName":"Barbara"},"emails":[{"value":"bjensen@example.com","type":"work","primary":true}]}`)
	var u struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(r.body), &u); err != nil || r.status != http.StatusCreated {
		b.Fatalf("create: %d %s", r.status, r.body)
	}
	return "/Users/" + u.ID
}

func BenchmarkDirectSCIMTest(b *testing.B) {
	s := newStack(b, stackOptions{limits: unlimited()})
	path := scimtestUser(b, s)
	benchGet(b, s.up.srv.URL+"/scim/v2"+path, "X-Scim-Tenant", "acme", "X-Scim-Client", "c")
}

func BenchmarkGatewaySCIMTestJWT(b *testing.B) {
	s := newStack(b, stackOptions{limits: unlimited()})
	path := scimtestUser(b, s)
	benchGet(b, s.URL+"/t/acme/scim/v2"+path, "Authorization", bearer(s.token(s.acme)))
}
