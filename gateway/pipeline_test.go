package gateway

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/scimgate/scimgate/config"
	"github.com/scimgate/scimgate/internal/accesstoken"
	"github.com/scimgate/scimgate/internal/credentials"
	"github.com/scimgate/scimgate/internal/secret"
	"github.com/scimgate/scimgate/keys"
)

// The pipeline tests run the gateway in process against fakes of its
// dependencies and a canned upstream transport, so that they measure and
// check the gateway alone.

type fakeKeys struct{ key keys.SigningKey }

func (k fakeKeys) PublicKey(_ context.Context, kid string) (crypto.PublicKey, jwt.SigningMethod, error) {
	if kid != k.key.KID {
		return nil, nil, keys.ErrUnknownKey
	}
	return k.key.Key.Public(), k.key.Method, nil
}

func (k fakeKeys) Keyfunc(t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	pub, method, err := k.PublicKey(context.Background(), kid)
	if err != nil || t.Method != method {
		return nil, errors.New("unknown kid")
	}
	return pub, nil
}

type fakeCreds struct {
	apiKey string
	reads  int
}

func (f *fakeCreds) AuthenticateAPIKey(_ context.Context, presented string) (*credentials.APIKey, error) {
	f.reads++
	if presented != f.apiKey {
		return nil, &credentials.AuthError{Reason: credentials.ReasonUnknown}
	}
	return &credentials.APIKey{ID: "key1", TenantID: "acme", Scopes: []string{"scim.full"}, Audiences: []string{testIssuer + "/scim/v2"}}, nil
}

func (f *fakeCreds) Tenant(_ context.Context, id string) (*credentials.Tenant, error) {
	f.reads++
	return &credentials.Tenant{ID: id}, nil
}

func (f *fakeCreds) Client(_ context.Context, id string) (*credentials.Client, error) {
	f.reads++
	return &credentials.Client{ID: id, TenantID: "acme"}, nil
}

type notRevoked struct{}

func (notRevoked) Revoked(context.Context, string) (bool, error) { return false, nil }

// cannedUpstream answers every round trip with one user and keeps the
// last request's headers.
type cannedUpstream struct {
	body string
	last http.Header
}

func (c *cannedUpstream) RoundTripDeadline(r *http.Request, _ time.Time) (*http.Response, error) {
	c.last = r.Header
	return &http.Response{
		StatusCode: 200, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Request: r,
		Header:        http.Header{"Content-Type": {"application/scim+json"}, "Content-Length": {strconv.Itoa(len(c.body))}},
		Body:          io.NopCloser(strings.NewReader(c.body)),
		ContentLength: int64(len(c.body)),
	}, nil
}

const cannedUser = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"2819c223","userName":"bjensen@example.com","active":true,` +
	`"name":{"familyName":"Jensen","givenName":"Barbara"},"emails":[{"value":"bjensen@example.com","type":"work","primary":true}],` +
	`"meta":{"resourceType":"User","location":"http://upstream.internal/scim/v2/Users/2819c223"}}`

type pipeline struct {
	g      *Gateway
	h      http.Handler
	up     *cannedUpstream
	creds  *fakeCreds
	token  string
	apiKey string
}

func newPipeline(tb testing.TB, dialect config.Dialect, change ...func(*config.Route)) *pipeline {
	tb.Helper()
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sk := keys.SigningKey{KID: "k1", Method: jwt.SigningMethodES256, Key: ec}
	apiKey, _ := secret.NewAPIKey()
	creds := &fakeCreds{apiKey: apiKey}
	route := config.DefaultRoute()
	route.Prefix, route.Upstream, route.Dialect = "/scim/v2", "http://upstream.internal/scim/v2", dialect
	for _, c := range change {
		c(&route)
	}
	g, err := New(Options{
		Issuer:  testIssuer,
		Gateway: config.Gateway{TokenCacheSize: 100, Routes: []config.Route{route}},
		Limits:  config.GatewayLimits{TenantRate: 1e9, TenantBurst: 1e9, CredentialRate: 1e9, CredentialBurst: 1e9},
	}, Deps{Keys: fakeKeys{sk}, Credentials: creds, Revocations: notRevoked{}})
	if err != nil {
		tb.Fatal(err)
	}
	up := &cannedUpstream{body: cannedUser}
	g.proxy.transport = up
	now := time.Now()
	token, err := accesstoken.Sign(&accesstoken.Claims{Issuer: testIssuer, Subject: "c1", Audience: accesstoken.Audience{testIssuer + "/scim/v2"},
		ClientID: "c1", Scope: "scim.full", ID: "j1", IssuedAt: now.Unix(), ExpiresAt: now.Add(time.Hour).Unix(), TenantID: "acme"}, sk)
	if err != nil {
		tb.Fatal(err)
	}
	return &pipeline{g: g, h: g.Handler(), up: up, creds: creds, token: token, apiKey: apiKey}
}

// discard is a ResponseWriter that keeps the status and drops the body.
type discard struct {
	h      http.Header
	status int
	body   strings.Builder
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) WriteHeader(s int)           { d.status = s }
func (d *discard) Write(b []byte) (int, error) { d.body.Write(b); return len(b), nil }

func TestPipelineCachesVerdicts(t *testing.T) {
	p := newPipeline(t, config.DialectAuto)
	for _, auth := range []string{"Bearer " + p.token, "Bearer " + p.apiKey} {
		for range 3 {
			w := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, testIssuer+"/scim/v2/Users/2819c223", nil)
			req.Header.Set("Authorization", auth)
			p.h.ServeHTTP(w, req)
			if w.Code != 200 || !strings.Contains(w.Body.String(), `"location":"`+testIssuer+`/scim/v2/Users/2819c223"`) {
				t.Fatalf("%d %s", w.Code, w.Body)
			}
		}
	}
	// One client and one tenant read for the token, one key check: the
	// status TTL outlives this test.
	if p.creds.reads != 3 {
		t.Fatalf("%d credential store reads for 6 requests", p.creds.reads)
	}
}

func TestPipelineForwardsAuthorizationWhenAsked(t *testing.T) {
	for _, forward := range []bool{false, true} {
		p := newPipeline(t, config.DialectAuto, func(r *config.Route) { r.ForwardAuthorization = forward })
		req := httptest.NewRequest(http.MethodGet, testIssuer+"/scim/v2/Users", nil)
		req.Header.Set("Authorization", "Bearer "+p.apiKey)
		w := httptest.NewRecorder()
		p.h.ServeHTTP(w, req)
		if got := p.up.last.Get("Authorization"); w.Code != 200 || (got != "") != forward {
			t.Fatalf("forward_authorization %v: status %d, upstream Authorization %q", forward, w.Code, got)
		}
	}
}

// An upstream's 401 is about the gateway's credential for it unless the
// caller's own is forwarded; only then does it reach the provider.
func TestPipelineUpstreamRefusingTheGateway(t *testing.T) {
	const refusal = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"401","detail":"bad service token"}`
	refuse := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{
			StatusCode: 401, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Request: r,
			Header: http.Header{"Content-Type": {"application/scim+json"}, "Www-Authenticate": {`Bearer realm="upstream"`},
				"Content-Length": {strconv.Itoa(len(refusal))}},
			Body: io.NopCloser(strings.NewReader(refusal)), ContentLength: int64(len(refusal)),
		}, nil
	})
	for _, tc := range []struct {
		forward bool
		status  int
		detail  string
	}{
		{forward: false, status: 502, detail: "refused scimgate's credential"},
		{forward: true, status: 401, detail: "bad service token"},
	} {
		p := newPipeline(t, config.DialectAuto, func(r *config.Route) { r.ForwardAuthorization = tc.forward })
		p.g.proxy.transport = refuse
		req := httptest.NewRequest(http.MethodGet, testIssuer+"/scim/v2/Users", nil)
		req.Header.Set("Authorization", "Bearer "+p.apiKey)
		w := httptest.NewRecorder()
		p.h.ServeHTTP(w, req)
		challenge := w.Header().Get("WWW-Authenticate")
		if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.detail) || (challenge != "") != tc.forward {
			t.Errorf("forward_authorization %v: %d %q, WWW-Authenticate %q; want %d with %q",
				tc.forward, w.Code, w.Body, challenge, tc.status, tc.detail)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTripDeadline(r *http.Request, _ time.Time) (*http.Response, error) {
	return f(r)
}

// failingReader gives n bytes, then fails.
type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, errors.New("connection reset")
	}
	k := min(len(p), f.n)
	clear(p[:k])
	f.n -= k
	return k, nil
}

// TestPipelineRelaysAnswers covers what the relay does besides
// normalizing: the request the upstream gets, hop-by-hop answer headers,
// answers too large to normalize, and answers that break off.
func TestPipelineRelaysAnswers(t *testing.T) {
	p := newPipeline(t, config.DialectAuto)
	answer := func(status int, h http.Header, length int64, body io.Reader) {
		p.g.proxy.transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
			p.up.last = r.Header
			if r.URL.String() != "http://upstream.internal/scim/v2/Users?filter=userName+eq+%22a%22" || r.Host != "" || r.RequestURI != "" || r.Body != nil {
				t.Errorf("outbound request %s %q %q body %v", r.URL, r.Host, r.RequestURI, r.Body)
			}
			return &http.Response{StatusCode: status, Header: h, ContentLength: length, Body: io.NopCloser(body), Request: r}, nil
		})
	}
	get := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, testIssuer+"/scim/v2/Users?filter=userName+eq+%22a%22", nil)
		req.Header.Set("Authorization", "Bearer "+p.token)
		req.Header.Set("Connection", "X-Hop")
		req.Header.Set("X-Hop", "1")
		w := httptest.NewRecorder()
		p.h.ServeHTTP(w, req)
		return w
	}

	list := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"Resources":[]}`
	answer(200, http.Header{"Content-Type": {"application/scim+json"}, "Connection": {"close, X-Upstream-Hop"},
		"X-Upstream-Hop": {"1"}, "Keep-Alive": {"timeout=5"}, "X-Kept": {"1"}}, int64(len(list)), strings.NewReader(list))
	w := get()
	if w.Code != 200 || w.Body.String() != list || w.Header().Get("X-Kept") != "1" {
		t.Fatalf("%d %v %s", w.Code, w.Header(), w.Body)
	}
	for _, name := range []string{"Connection", "X-Upstream-Hop", "Keep-Alive"} {
		if _, ok := w.Header()[name]; ok {
			t.Errorf("answer header %s relayed", name)
		}
	}
	if _, ok := p.up.last["X-Hop"]; ok || p.up.last.Get("User-Agent") != "" || len(p.up.last["User-Agent"]) != 1 {
		t.Errorf("upstream request headers %v", p.up.last)
	}

	big := strings.Repeat("x", maxBufferedBody+1)
	answer(200, http.Header{"Content-Type": {"text/plain"}}, -1, strings.NewReader(big))
	if w := get(); w.Code != 200 || w.Body.Len() != len(big) || !w.Flushed {
		t.Fatalf("large answer: %d, %d bytes, flushed %v", w.Code, w.Body.Len(), w.Flushed)
	}

	answer(200, http.Header{"Content-Type": {"text/plain"}}, -1, &failingReader{n: maxBufferedBody + 100})
	func() {
		defer func() {
			if v := recover(); v != http.ErrAbortHandler {
				t.Fatalf("a broken answer did not abort the response: %v", v)
			}
		}()
		get()
	}()

	answer(200, http.Header{"Content-Type": {"application/scim+json"}}, 500, &failingReader{n: 10})
	if w := get(); w.Code != http.StatusBadGateway {
		t.Fatalf("an answer broken before its end: %d %s", w.Code, w.Body)
	}
}

func benchmarkPipeline(b *testing.B, dialect config.Dialect, auth func(*pipeline) string) {
	benchmarkPipelineGET(b, dialect, "/Users/2819c223", cannedUser, auth)
}

func benchmarkPipelineGET(b *testing.B, dialect config.Dialect, path, answer string, auth func(*pipeline) string) {
	p := newPipeline(b, dialect)
	p.up.body = answer
	req := httptest.NewRequest(http.MethodGet, testIssuer+"/scim/v2"+path, nil)
	req.Header.Set("Authorization", auth(p))
	req.Header.Set("Accept", "application/scim+json")
	req.Header.Set("User-Agent", "Microsoft.Identity.Provisioning")
	w := &discard{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		w.body.Reset()
		p.h.ServeHTTP(w, req)
		if w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
	}
}

// BenchmarkPipelineJWT is the gateway's own cost of an authenticated GET
// with a cached token, upstream round trip excluded.
func BenchmarkPipelineJWT(b *testing.B) {
	benchmarkPipeline(b, config.DialectAuto, func(p *pipeline) string { return "Bearer " + p.token })
}

// BenchmarkPipelineAPIKey is the same with an API key.
func BenchmarkPipelineAPIKey(b *testing.B) {
	benchmarkPipeline(b, config.DialectAuto, func(p *pipeline) string { return "Bearer " + p.apiKey })
}

// BenchmarkPipelineJWTDialectOff skips both normalizers.
func BenchmarkPipelineJWTDialectOff(b *testing.B) {
	benchmarkPipeline(b, config.DialectOff, func(p *pipeline) string { return "Bearer " + p.token })
}

// BenchmarkPipelineEntraProbe is Entra's most frequent request: a filter
// on the matching attribute that finds nobody.
func BenchmarkPipelineEntraProbe(b *testing.B) {
	benchmarkPipelineGET(b, config.DialectAuto, "/Users?filter=userName+eq+%227d420df3-9995-4831-a406-ecf8166f5f6a%22",
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"startIndex":1,"itemsPerPage":0,"Resources":[]}`,
		func(p *pipeline) string { return "Bearer " + p.token })
}

// TestPipelineAnswerHeaders checks that the headers naming a resource by
// URL reach the client with the public URL, never the upstream's, and that
// the upstream's cookies stay behind.
func TestPipelineAnswerHeaders(t *testing.T) {
	public := testIssuer + "/scim/v2/Users/2819c223"
	for _, tc := range []struct {
		name, header, value, want string
	}{
		{"absolute Location", "Location", "http://upstream.internal/scim/v2/Users/2819c223", public},
		{"relative Location", "Location", "/scim/v2/Users/2819c223", public},
		{"absolute Content-Location", "Content-Location", "http://upstream.internal/scim/v2/Users/2819c223", public},
		{"relative Content-Location", "Content-Location", "/scim/v2/Users/2819c223", public},
		{"Content-Location elsewhere", "Content-Location", "https://elsewhere.example/x", "https://elsewhere.example/x"},
		{"Set-Cookie dropped", "Set-Cookie", "__Host-scimgate_csrf=x; Path=/; Secure", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPipeline(t, config.DialectAuto)
			p.g.proxy.transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
				h := http.Header{"Content-Type": {"application/scim+json"}, tc.header: {tc.value}}
				return &http.Response{StatusCode: 200, Header: h, ContentLength: int64(len(cannedUser)),
					Body: io.NopCloser(strings.NewReader(cannedUser)), Request: r}, nil
			})
			req := httptest.NewRequest(http.MethodGet, testIssuer+"/scim/v2/Users/2819c223", nil)
			req.Header.Set("Authorization", "Bearer "+p.token)
			w := httptest.NewRecorder()
			p.h.ServeHTTP(w, req)
			if got := w.Header().Get(tc.header); w.Code != 200 || got != tc.want {
				t.Fatalf("%d, %s %q; want %q", w.Code, tc.header, got, tc.want)
			}
		})
	}
}

// TestPipelineKeepsBodyContentType checks that the upstream always learns,
// in exactly one header, the media type the gateway checked the body as,
// whatever the client put in Connection and however many Content-Types it
// sent.
func TestPipelineKeepsBodyContentType(t *testing.T) {
	const user = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bjensen"}`
	for _, tc := range []struct {
		name         string
		contentTypes []string
		connection   string
	}{
		{"scim+json", []string{"application/scim+json"}, ""},
		{"no Content-Type", nil, ""},
		{"json", []string{"application/json"}, ""},
		{"Content-Type named in Connection", []string{"application/scim+json"}, "Content-Type"},
		{"Content-Type named in Connection among others", []string{"application/scim+json"}, "keep-alive, content-type"},
		// OneLogin's "Custom Headers", where vendors have admins add
		// Content-Type: application/scim+json beside OneLogin's own.
		{"a custom Content-Type after the client's own", []string{"application/json", "application/scim+json"}, ""},
		{"a custom Content-Type before the client's own", []string{"application/scim+json", "application/json"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPipeline(t, config.DialectAuto)
			req := httptest.NewRequest(http.MethodPost, testIssuer+"/scim/v2/Users", strings.NewReader(user))
			req.Header.Set("Authorization", "Bearer "+p.token)
			for _, ct := range tc.contentTypes {
				req.Header.Add("Content-Type", ct)
			}
			if tc.connection != "" {
				req.Header.Set("Connection", tc.connection)
			}
			w := httptest.NewRecorder()
			p.h.ServeHTTP(w, req)
			if got := p.up.last.Values("Content-Type"); w.Code >= 300 || len(got) != 1 || got[0] != "application/scim+json" {
				t.Fatalf("%d %s: upstream Content-Type %q", w.Code, w.Body, got)
			}
		})
	}
}
