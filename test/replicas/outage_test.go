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

// TestStoreOutage cuts a replica off from Redis and back, twice: once as
// a Redis that went away (connections reset), once as a partition (Redis
// accepts connections and never answers). Meanwhile the replica fails
// closed: every request that needs the store, reads included, gets a 503
// with Retry-After and the protocol's error body, within a few seconds,
// nothing reaches the upstream, /readyz says not ready; once Redis is back
// it serves again without a restart.
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
	credentials := []string{"Bearer " + tok, "Bearer " + acme.apiKey}
	for _, outage := range []struct {
		name string
		mode relayMode
	}{
		{"Redis went away", resetting},
		{"network partition", silent},
	} {
		t.Run(outage.name, func(t *testing.T) {
			for _, auth := range credentials {
				if status, body, err := scim(http.MethodGet, a.public, "/scim/v2/Users", auth, ""); err != nil || status != http.StatusOK {
					t.Fatalf("before the outage: %d %v %s", status, err, body)
				}
			}
			redis.set(outage.mode)
			// The gateway keeps "not revoked" and status answers for 500ms:
			// past them, every credential must be checked against the store.
			time.Sleep(700 * time.Millisecond)
			// Reads fail closed like writes (gateway.md §9 left reads open to
			// choice): a read answered for a revoked credential is a leak.
			for _, auth := range credentials {
				for _, req := range []struct{ method, contentType, body string }{
					{http.MethodPost, "application/scim+json", newUser},
					{http.MethodGet, "", ""},
				} {
					resp := sendRefused(t, req.method, a.public+"/scim/v2/Users", auth, req.contentType, req.body)
					if resp.status != http.StatusServiceUnavailable || resp.header.Get("Retry-After") == "" ||
						!strings.Contains(resp.body, `"status":"503"`) || !strings.Contains(resp.body, "urn:ietf:params:scim:api:messages:2.0:Error") {
						t.Errorf("SCIM %s during the outage: %d, Retry-After %q, %s", req.method, resp.status, resp.header.Get("Retry-After"), resp.body)
					}
				}
			}
			resp := sendRefused(t, http.MethodPost, a.public+"/oauth2/token", basicAuth(acme), "application/x-www-form-urlencoded", "grant_type=client_credentials")
			if resp.status != http.StatusServiceUnavailable || resp.header.Get("Retry-After") == "" ||
				!strings.Contains(resp.body, `"error":"temporarily_unavailable"`) || resp.header.Get("Cache-Control") != "no-store" {
				t.Errorf("token request during the outage: %d, Retry-After %q, Cache-Control %q, %s",
					resp.status, resp.header.Get("Retry-After"), resp.header.Get("Cache-Control"), resp.body)
			}
			if resp := sendRefused(t, http.MethodGet, a.admin+"/readyz", "", "", ""); resp.status != http.StatusServiceUnavailable {
				t.Errorf("/readyz during the outage: %d %s", resp.status, resp.body)
			}

			redis.set(forwarding)
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
			for _, auth := range credentials {
				status, body, err := scim(http.MethodGet, a.public, filter, auth, "")
				if err != nil || status != http.StatusOK || !strings.Contains(body, `"totalResults":0`) {
					t.Errorf("after the outage (the refused creates must not have reached the upstream): %d %v %s", status, err, body)
				}
			}
		})
	}
	a.stop()
	assertNoSecrets(t, []*replica{a}, acme.secret, acme.apiKey, tok, c.adminToken, c.masterKey)
}

// refusalBound is how long a request may wait for its 503 while Redis is
// out: its socket timeouts (dial 2 s, answer 1 s) within a budget of 2 s
// per command, go-redis's retries included, not the minutes a client would
// wait without them.
const refusalBound = 5 * time.Second

// sendRefused is send for a request that the outage must refuse in time.
func sendRefused(t *testing.T, method, url, auth, contentType, body string) answer {
	t.Helper()
	start := time.Now()
	resp := send(t, method, url, auth, contentType, body)
	took := time.Since(start)
	t.Logf("%s %s refused in %s", method, url, took.Round(time.Millisecond))
	if took > refusalBound {
		t.Errorf("%s %s took %s to be refused, more than %s", method, url, took, refusalBound)
	}
	return resp
}

// send is request for a test's own goroutine: a transport error fails it.
func send(t *testing.T, method, url, auth, contentType, body string) answer {
	t.Helper()
	resp, err := request(method, url, auth, contentType, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return resp
}

// relay forwards TCP connections to Redis. Cut, it resets every open
// connection and every new one, as a Redis that went away would; silenced,
// it resets the open ones and accepts new ones without ever answering, as
// a Redis behind a network partition looks; restored, it forwards again.
type relay struct {
	t    *testing.T
	url  string
	to   string
	mu   sync.Mutex
	mode relayMode
	open map[net.Conn]struct{}
}

type relayMode int

const (
	forwarding relayMode = iota
	resetting
	silent
)

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
	t.Cleanup(func() { ln.Close(); r.set(resetting) })
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

// track registers conn, to be reset when the mode changes, and reports
// whether to forward it: a resetting relay resets it at once, a silent
// one keeps it open and never answers.
func (r *relay) track(conn net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mode == resetting {
		reset(conn)
		return false
	}
	r.open[conn] = struct{}{}
	return r.mode == forwarding
}

// set changes the mode; leaving forwarding resets the open connections.
func (r *relay) set(mode relayMode) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mode = mode
	if mode == forwarding {
		return
	}
	for conn := range r.open {
		reset(conn)
	}
	clear(r.open)
}

func reset(conn net.Conn) {
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	conn.Close()
}
