package gateway_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimgate/scimgate/internal/scim/scimtest"
)

// upstream is the SCIM user service behind the gateway: scimtest's strict
// in-memory server (it refuses anything but the canonical form the
// normalizer emits, so a test that passes proves the normalization), in a
// layer that records every request exactly as it arrived and injects what
// real services do:
//
//   - X-Test-Delay: <duration> delays the answer (until the request is
//     cancelled, which is reported on canceled);
//   - X-Test-Refuse: 1 answers 401, as a service refusing the credential
//     the route's headers give it;
//   - below /legacy it plays an older user-only service: /Groups is a
//     plain-text 404.
//
// Location and meta.location are absolute URLs of the upstream itself, as
// scimtest writes them; the gateway must rewrite them.
type upstream struct {
	t    testing.TB
	srv  *httptest.Server
	scim *scimtest.Server

	mu       sync.Mutex
	seen     []seenRequest
	canceled chan string // paths whose request context ended before the answer
}

type seenRequest struct {
	Method, Path, RawQuery string
	EscapedPath            string // the path as it came on the wire
	Header                 http.Header
	Body                   string
}

func newUpstream(t testing.TB) *upstream {
	u := &upstream{t: t, scim: scimtest.New(scimtest.PerTenant()), canceled: make(chan string, 16)}
	u.srv = httptest.NewServer(http.HandlerFunc(u.serve))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) requests() []seenRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]seenRequest(nil), u.seen...)
}

func (u *upstream) last() seenRequest {
	u.t.Helper()
	seen := u.requests()
	if len(seen) == 0 {
		u.t.Fatal("the upstream saw no request")
	}
	return seen[len(seen)-1]
}

func (u *upstream) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	u.mu.Lock()
	u.seen = append(u.seen, seenRequest{r.Method, r.URL.Path, r.URL.RawQuery, r.URL.EscapedPath(), r.Header.Clone(), string(body)})
	u.mu.Unlock()
	if d, err := time.ParseDuration(r.Header.Get("X-Test-Delay")); err == nil {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			u.canceled <- r.URL.Path
			return
		}
	}
	if r.Header.Get("X-Test-Refuse") != "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="upstream", error="invalid_token"`)
		http.Error(w, "bad service token", http.StatusUnauthorized)
		return
	}
	if strings.HasPrefix(r.URL.Path, "/legacy/Groups") {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, "404 page not found")
		return
	}
	u.scim.ServeHTTP(w, r)
}
