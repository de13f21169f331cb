package replicas

import (
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimgate/scimgate/internal/store/storetest"
)

// TestStoreOutage cuts a replica off from Redis and back. Meanwhile it
// fails closed: every request that needs the store, reads included, gets
// a 503 with Retry-After and the protocol's error body, nothing reaches
// the upstream, /readyz says not ready; once Redis is back it serves again
// without a restart.
func TestStoreOutage(t *testing.T) {
	c := newCluster(t, "")
	redis := startRelay(t, c.redisURL)
	c.redisURL = redis.url
	a := c.replica("a")
	a.start()
	acme := c.newClient(a, "acme")
	tok, err := token(a.public, acme)
	if err != nil {
		t.Fatal(err)
	}
	for _, auth := range []string{"Bearer " + tok, "Bearer " + acme.apiKey} {
		if status, body, err := scim(http.MethodGet, a.public, "/scim/v2/Users", auth, ""); err != nil || status != http.StatusOK {
			t.Fatalf("before the outage: %d %v %s", status, err, body)
		}
	}

	redis.cut()
	// The gateway keeps "not revoked" and status answers for 500ms: past
	// them, every credential must be checked against the store again.
	time.Sleep(700 * time.Millisecond)
	start := time.Now()
	for _, auth := range []string{"Bearer " + tok, "Bearer " + acme.apiKey} {
		resp := send(t, http.MethodPost, a.public+"/scim/v2/Users", auth, "application/scim+json", newUser)
		if resp.status != http.StatusServiceUnavailable || resp.header.Get("Retry-After") == "" ||
			!strings.Contains(resp.body, `"status":"503"`) || !strings.Contains(resp.body, "urn:ietf:params:scim:api:messages:2.0:Error") {
			t.Errorf("SCIM create during the outage: %d, Retry-After %q, %s", resp.status, resp.header.Get("Retry-After"), resp.body)
		}
	}
	resp := send(t, http.MethodPost, a.public+"/oauth2/token", basicAuth(acme), "application/x-www-form-urlencoded", "grant_type=client_credentials")
	if resp.status != http.StatusServiceUnavailable || resp.header.Get("Retry-After") == "" ||
		!strings.Contains(resp.body, `"error":"temporarily_unavailable"`) || resp.header.Get("Cache-Control") != "no-store" {
		t.Errorf("token request during the outage: %d, Retry-After %q, Cache-Control %q, %s",
			resp.status, resp.header.Get("Retry-After"), resp.header.Get("Cache-Control"), resp.body)
	}
	if resp := send(t, http.MethodGet, a.admin+"/readyz", "", "", ""); resp.status != http.StatusServiceUnavailable {
		t.Errorf("/readyz during the outage: %d %s", resp.status, resp.body)
	}
	t.Logf("four refusals during the outage took %s", time.Since(start))

	redis.restore()
	deadline := time.Now().Add(10 * time.Second)
	for send(t, http.MethodGet, a.admin+"/readyz", "", "", "").status != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatalf("not ready 10s after Redis came back:\n%s", a.logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := token(a.public, acme); err != nil {
		t.Errorf("token after the outage: %v", err)
	}
	filter := "/scim/v2/Users?filter=" + url.QueryEscape(`userName eq "ada@example.com"`)
	for _, auth := range []string{"Bearer " + tok, "Bearer " + acme.apiKey} {
		status, body, err := scim(http.MethodGet, a.public, filter, auth, "")
		if err != nil || status != http.StatusOK || !strings.Contains(body, `"totalResults":0`) {
			t.Errorf("after the outage (the refused creates must not have reached the upstream): %d %v %s", status, err, body)
		}
	}
	a.stop()
	assertNoSecrets(t, []*replica{a}, acme.secret, acme.apiKey, tok, c.adminToken, c.masterKey)
}

type answer struct {
	status int
	header http.Header
	body   string
}

func send(t *testing.T, method, url, auth, contentType, body string) answer {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(b)}
}

func basicAuth(c client) string {
	req, _ := http.NewRequest(http.MethodGet, "/", nil)
	req.SetBasicAuth(url.QueryEscape(c.id), url.QueryEscape(c.secret))
	return req.Header.Get("Authorization")
}

// relay forwards TCP connections to Redis until it is cut: then it resets
// every open connection and every new one, as a Redis that went away
// would, until it is restored.
type relay struct {
	t    *testing.T
	url  string
	to   string
	mu   sync.Mutex
	down bool
	open map[net.Conn]struct{}
}

func startRelay(t *testing.T, redisURL string) *relay {
	t.Helper()
	storetest.OpenRedis(t) // skips, or fails with CI=true, without Redis
	u, err := url.Parse(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{t: t, to: u.Host, open: map[net.Conn]struct{}{}}
	u.Host = ln.Addr().String()
	r.url = u.String()
	t.Cleanup(func() { ln.Close(); r.cut() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go r.serve(conn)
		}
	}()
	return r
}

func (r *relay) serve(client net.Conn) {
	if !r.track(client) {
		return
	}
	server, err := net.Dial("tcp", r.to)
	if err != nil || !r.track(server) {
		client.Close()
		return
	}
	go func() { _, _ = io.Copy(server, client); server.Close() }()
	_, _ = io.Copy(client, server)
	client.Close()
}

// track registers conn to be reset by cut, or resets it at once while the
// relay is down.
func (r *relay) track(conn net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		reset(conn)
		return false
	}
	r.open[conn] = struct{}{}
	return true
}

func (r *relay) cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.down = true
	for conn := range r.open {
		reset(conn)
	}
	clear(r.open)
}

func (r *relay) restore() {
	r.mu.Lock()
	r.down = false
	r.mu.Unlock()
}

func reset(conn net.Conn) {
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	conn.Close()
}
