package gateway_test

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"
)

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
