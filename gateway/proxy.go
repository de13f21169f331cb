package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/scimgate/scimgate/internal/h1client"
	"github.com/scimgate/scimgate/internal/scim"
)

// Upstream connection pool and limits (gateway.md §7).
const (
	dialTimeout         = 5 * time.Second
	tlsHandshakeTimeout = 5 * time.Second
	idleConnTimeout     = 90 * time.Second
	maxIdleConnsPerHost = 256
	maxIdleConns        = 1024
	maxResponseHeader   = 64 << 10
	// maxBufferedBody bounds the upstream answers held in memory to be
	// normalized and have their URLs rewritten; larger ones stream through
	// unchanged.
	maxBufferedBody = 16 << 20
	// copyBufferSize is the size of the buffers the proxy copies response
	// bodies through; freeCopyBuffers of them are kept for reuse.
	copyBufferSize  = 32 << 10
	freeCopyBuffers = 256
	// maxPooledBody is the largest body buffer returned to the pool.
	maxPooledBody = 256 << 10
)

// exchange is one request on its way to the upstream.
type exchange struct {
	ctx context.Context // the client's request: done when the client goes away
	// deadline is when the route's timeout ends the round trip, answer
	// body included.
	deadline time.Time

	route        *route
	principal    *principal
	target       target
	tenantInPath string
	requestID    [1]string // X-Request-Id, as the header value slice
	upstreamPath string
	// upstreamRawPath is the client's encoding of upstreamPath when it
	// differs from the canonical one, else "".
	upstreamRawPath string
	rawQuery        string
	contentType     string // the normalized Content-Type, or "" to keep the client's
	dialect         scim.Dialect
	normalize       bool
	in              scim.Request // the client's request, for the response normalizer
	event           string       // audit event of a write, or ""
}

// proxy relays requests to the upstreams of every route: one upstream
// connection pool, buffer pools, and the gateway's header rules, response
// rewriting and error handling. It does what httputil.ReverseProxy would,
// without the per-request copies a general proxy needs: the outbound
// request is built once, with only the headers the upstream may see.
type proxy struct {
	g *Gateway
	// transport makes the round trips: pool, or a test's fake.
	transport upstreamTransport
	// pool does http:// round trips on the request's goroutine, and hands
	// https:// ones to net/http's Transport.
	pool        *h1client.Transport
	bodies      sync.Pool // *bytes.Buffer holding upstream answers
	copyBuffers copyBuffers
}

// upstreamTransport makes round trips that end by a deadline, the
// request's context only cancelling them; *h1client.Transport is one.
type upstreamTransport interface {
	RoundTripDeadline(req *http.Request, deadline time.Time) (*http.Response, error)
}

func newProxy(g *Gateway) *proxy {
	dialer := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	p := &proxy{
		g: g,
		pool: &h1client.Transport{
			DialContext:            dialer.DialContext,
			MaxIdlePerHost:         maxIdleConnsPerHost,
			IdleTimeout:            idleConnTimeout,
			MaxResponseHeaderBytes: maxResponseHeader,
			Fallback: &http.Transport{
				// Upstreams are internal services: environment proxy settings
				// meant for outbound traffic must not reroute them.
				Proxy:                  nil,
				DialContext:            dialer.DialContext,
				TLSHandshakeTimeout:    tlsHandshakeTimeout,
				MaxIdleConns:           maxIdleConns,
				MaxIdleConnsPerHost:    maxIdleConnsPerHost,
				IdleConnTimeout:        idleConnTimeout,
				ExpectContinueTimeout:  time.Second,
				MaxResponseHeaderBytes: maxResponseHeader,
				// Identity encoding upstream, so answers can be normalized.
				DisableCompression: true,
				ForceAttemptHTTP2:  true,
			},
		},
		copyBuffers: make(copyBuffers, freeCopyBuffers),
	}
	p.transport = p.pool
	p.bodies.New = func() any { return new(bytes.Buffer) }
	return p
}

// relay sends the normalized request of ex upstream, with body as its
// body, and the answer, normalized and rewritten, to the client.
func (p *proxy) relay(w http.ResponseWriter, r *http.Request, ex *exchange, body []byte) {
	out := p.outbound(r, ex, body)
	start := time.Now()
	resp, err := p.transport.RoundTripDeadline(out, ex.deadline)
	status := 0
	if err == nil {
		status = resp.StatusCode
		if status == http.StatusSwitchingProtocols {
			// Nothing the gateway sends asks for an upgrade.
			resp.Body.Close()
			err = errors.New("the upstream switched protocols unasked")
		}
	}
	p.g.metrics.Upstream(ex.route.prefix, status, err, time.Since(start))
	if status == http.StatusUnauthorized && !ex.route.forwardAuthorization {
		// The caller's credential was checked here and is not forwarded, so
		// the upstream refused the gateway's own (the route's headers).
		// Relayed, that 401 would tell the identity provider its credential
		// is wrong: Entra quarantines the job for it and the admin rotates a
		// secret that is fine. A 502 points at the gateway, and providers
		// retry it.
		resp.Body.Close()
		err = errUpstreamRefusedGateway
	}
	if err == nil {
		err = p.modifyResponse(resp, ex)
		if err != nil {
			resp.Body.Close()
		}
	}
	if err != nil {
		p.fail(w, ex, err)
		return
	}
	dst := w.Header()
	connection := resp.Header["Connection"]
	for name, values := range resp.Header {
		if isHopByHop(name) || listedIn(connection, name) {
			continue
		}
		dst[name] = append(dst[name], values...)
	}
	w.WriteHeader(resp.StatusCode)
	if err := p.copyBody(w, resp); err != nil {
		resp.Body.Close()
		// The status is sent; all that is left is to break the answer off
		// (net/http's server recovers this panic and closes the connection).
		p.g.log.DebugContext(ex.ctx, "gateway: copying the upstream answer failed", "route", ex.route.prefix, "err", err)
		panic(http.ErrAbortHandler)
	}
	resp.Body.Close()
}

// outbound is the request the upstream receives: the client's, addressed
// to the upstream, with the normalized query and body and the headers the
// upstream may see, plus the gateway's.
func (p *proxy) outbound(r *http.Request, ex *exchange, body []byte) *http.Request {
	rt := ex.route
	out := r.WithContext(ex.ctx)
	out.URL = &url.URL{Scheme: rt.upstream.Scheme, Host: rt.upstream.Host, Path: ex.upstreamPath, RawPath: ex.upstreamRawPath,
		// The query exactly as the normalizer produced it: SCIM filters
		// keep their quotes, "+" and %22.
		RawQuery: ex.rawQuery}
	out.Host, out.RequestURI, out.Close = "", "", false
	out.Trailer, out.TransferEncoding = nil, nil
	out.Body, out.ContentLength, out.GetBody = nil, 0, nil
	if len(body) > 0 {
		out.Body, out.ContentLength = &requestBody{Reader: bytes.NewReader(body)}, int64(len(body))
	}

	rules := &p.g.headers
	h := rules.outbound(r.Header, rt.forwardAuthorization, outboundHeaders+len(rt.headers))
	h[rules.tenant] = ex.principal.tenantHeader
	h[rules.client] = ex.principal.credentialHeader
	h[headerAuthMethod] = ex.principal.method.header
	h[headerRequestID] = ex.requestID[:]
	h[headerIdPProfile] = profileHeader(ex.dialect)
	for _, fh := range rt.headers {
		h[fh.name] = fh.value
	}
	if ex.contentType != "" {
		h["Content-Type"] = []string{ex.contentType}
	}
	if _, ok := h["User-Agent"]; !ok {
		h["User-Agent"] = noUserAgent // rather than Go's
	}
	out.Header = h
	return out
}

// outboundHeaders is the number of headers outbound adds.
const outboundHeaders = 7

// noUserAgent makes the transport send no User-Agent; read-only.
var noUserAgent = []string{""}

// requestBody is an outbound request body held in memory.
type requestBody struct{ *bytes.Reader }

func (requestBody) Close() error { return nil }

// Values of X-Idp-Profile; read-only.
var (
	profileEntra    = []string{"entra"}
	profileOkta     = []string{"okta"}
	profileOneLogin = []string{"onelogin"}
	profileUnknown  = []string{"unknown"}
)

func profileHeader(d scim.Dialect) []string {
	switch d {
	case scim.Entra:
		return profileEntra
	case scim.Okta:
		return profileOkta
	case scim.OneLogin:
		return profileOneLogin
	}
	return profileUnknown
}

// modifyResponse normalizes the upstream's answer for the provider and
// points upstream URLs at the public one.
func (p *proxy) modifyResponse(resp *http.Response, ex *exchange) error {
	rt := ex.route
	h := resp.Header
	// The client sees the request id of the gateway (requestid.Middleware).
	delete(h, headerRequestID)
	// No identity provider keeps cookies, and the public origin is the
	// sign-in and consent pages' too: an upstream's cookie would only be
	// set beside theirs.
	delete(h, "Set-Cookie")
	// Location and Content-Location (RFC 9110 §8.7, which SCIM servers
	// send with a resource's representation) both name the resource by
	// the upstream's own URL.
	for _, name := range [...]string{"Location", "Content-Location"} {
		if loc := h[name]; len(loc) == 1 {
			if s, ok := rt.publicLocation(loc[0], rt.publicBase(ex.tenantInPath)); ok {
				h[name] = []string{s}
			}
		}
	}
	// An empty answer is normalized too: user services often answer a bare
	// 404 or 200 (Content-Length: 0), and those are the answers the
	// normalizer turns into an empty ListResponse, a 204 or a SCIM error.
	bodiless := resp.Body == nil || resp.Body == http.NoBody
	if ex.in.Method == http.MethodHead || bodiless && !ex.normalize ||
		h.Get("Content-Encoding") != "" && h.Get("Content-Encoding") != "identity" {
		p.g.recordWrite(ex, resp.StatusCode, h, nil)
		return nil
	}
	if resp.Body == nil {
		resp.Body = http.NoBody
	}

	buf := p.bodies.Get().(*bytes.Buffer)
	buf.Reset()
	var src io.Reader = resp.Body
	if n := resp.ContentLength; n >= 0 && n <= maxBufferedBody {
		// The transport stops at Content-Length itself.
		buf.Grow(int(n) + bytes.MinRead)
	} else {
		src = io.LimitReader(resp.Body, maxBufferedBody+1)
	}
	if _, err := buf.ReadFrom(src); err != nil {
		p.release(buf)
		return fmt.Errorf("read upstream response: %w", err)
	}
	if buf.Len() > maxBufferedBody {
		p.g.log.WarnContext(ex.ctx, "gateway: upstream answer too large to normalize; passed through", "route", rt.prefix)
		resp.Body = &streamedBody{Reader: io.MultiReader(bytes.NewReader(buf.Bytes()), resp.Body), upstream: resp.Body}
		p.g.recordWrite(ex, resp.StatusCode, h, nil)
		return nil
	}
	_ = resp.Body.Close()

	body, status, ctype := buf.Bytes(), resp.StatusCode, h.Get("Content-Type")
	upstreamStatus := status // audited as the upstream gave it, before the rewrites below
	read := len(body)
	if ex.normalize {
		out, _ := scim.NormalizeResponse(ex.dialect, ex.in, scim.Response{Status: status, ContentType: ctype, Body: body})
		if out.ContentType != ctype && out.ContentType != "" {
			h["Content-Type"] = []string{out.ContentType}
		}
		if out.Status != status {
			resp.StatusCode, resp.Status = out.Status, strconv.Itoa(out.Status)+" "+http.StatusText(out.Status)
		}
		body, status = out.Body, out.Status
	}
	body = rewriteBodyURLs(body, rt, ex.tenantInPath)
	p.g.recordWrite(ex, upstreamStatus, h, body)

	if len(body) == 0 {
		delete(h, "Content-Length")
		if status == http.StatusNoContent {
			delete(h, "Content-Type")
		}
		resp.Body, resp.ContentLength = http.NoBody, 0
		p.release(buf)
		return nil
	}
	if len(body) != read || resp.ContentLength != int64(read) {
		h["Content-Length"] = []string{strconv.Itoa(len(body))}
	}
	resp.ContentLength = int64(len(body))
	resp.Body = &bufferedBody{Reader: bytes.NewReader(body), buf: buf, p: p}
	return nil
}

func (p *proxy) release(buf *bytes.Buffer) {
	if buf.Cap() <= maxPooledBody {
		p.bodies.Put(buf)
	}
}

// bufferedBody is an upstream answer held in a pooled buffer until the
// proxy has copied it to the client.
type bufferedBody struct {
	*bytes.Reader
	buf *bytes.Buffer
	p   *proxy
}

func (b *bufferedBody) Close() error {
	if b.buf != nil {
		b.p.release(b.buf)
		b.buf = nil
	}
	return nil
}

// streamedBody is an answer too large to buffer: the part read so far, then
// the rest from the upstream.
type streamedBody struct {
	io.Reader
	upstream io.Closer
}

func (s *streamedBody) Close() error { return s.upstream.Close() }

// publicLocation maps a Location the upstream sent, absolute or relative
// to its root, into the public URL space.
func (rt *route) publicLocation(loc, public string) (string, bool) {
	if s, ok := rewriteURL(loc, rt.upstreamBase, public); ok {
		return s, true
	}
	if strings.HasPrefix(loc, "/") && !strings.HasPrefix(loc, "//") {
		return rewriteURL(loc, rt.upstreamPath, public)
	}
	return loc, false
}

// rewriteURL replaces the upstream base at the start of s by public; it
// only matches whole path segments (http://u:90 is not a base of
// http://u:9000).
func rewriteURL(s, base, public string) (string, bool) {
	if len(s) < len(base) || s[:len(base)] != base || len(s) > len(base) && !isURLBoundary(s[len(base)]) {
		return s, false
	}
	return public + s[len(base):], true
}

func isURLBoundary(c byte) bool {
	return c == '/' || c == '?' || c == '#' || c == '"' || c == '\\'
}

// rewriteBodyURLs points meta.location, $ref and any other upstream URL in
// a JSON body at the public base, in plain and in \/-escaped form. Bodies
// without the upstream base (the usual case: upstreams that know their
// public URL, or answer relative URLs) are returned as they are after one
// scan.
func rewriteBodyURLs(body []byte, rt *route, tenant string) []byte {
	if bytes.Contains(body, rt.upstreamBaseBytes) {
		body = replaceURLPrefix(body, rt.upstreamBaseBytes, rt.publicBase(tenant))
	}
	if bytes.Contains(body, rt.upstreamBaseEscapedBytes) {
		body = replaceURLPrefix(body, rt.upstreamBaseEscapedBytes, escapeSlashes(rt.publicBase(tenant)))
	}
	return body
}

func replaceURLPrefix(body, from []byte, to string) []byte {
	var out []byte
	last := 0
	for i := 0; i < len(body); {
		j := bytes.Index(body[i:], from)
		if j < 0 {
			break
		}
		start, end := i+j, i+j+len(from)
		if end == len(body) || isURLBoundary(body[end]) {
			out = append(out, body[last:start]...)
			out = append(out, to...)
			last = end
		}
		i = end
	}
	if out == nil {
		return body
	}
	return append(out, body[last:]...)
}

func escapeSlashes(s string) string {
	return string(bytes.ReplaceAll([]byte(s), []byte("/"), []byte(`\/`)))
}

// fail answers a request the upstream did not: 504 when the route's
// timeout passed, 502 when the upstream could not be reached (a connect
// that timed out too) or broke off. A client that went away, or only
// half-closed its connection, had its request cancelled upstream with it;
// it is recorded as nginx's 499 but still answered, so that a client still
// reading never takes the server's empty default answer for a success.
func (p *proxy) fail(w http.ResponseWriter, ex *exchange, err error) {
	if ex.ctx.Err() != nil {
		p.g.log.DebugContext(ex.ctx, "gateway: client went away", "route", ex.route.prefix, "err", err)
		p.g.recordWrite(ex, 499, nil, nil)
		writeErrorFor(w, ex.in.Header, errClientGone)
		return
	}
	e := &scim.Error{Status: http.StatusBadGateway, Detail: "the upstream service is unavailable"}
	switch {
	case errors.Is(err, errUpstreamRefusedGateway):
		e = &scim.Error{Status: http.StatusBadGateway, Detail: "the upstream service refused scimgate's credential for it; " +
			"this is not about the credential of this request: the scimgate operator must fix the route's upstream headers"}
	case upstreamTimedOut(err, !time.Now().Before(ex.deadline)):
		e = &scim.Error{Status: http.StatusGatewayTimeout, Detail: "the upstream service did not answer within " + ex.route.timeout.String()}
	}
	p.g.log.WarnContext(ex.ctx, "gateway: upstream failed", "route", ex.route.prefix, "status", e.Status, "err", err)
	p.g.recordWrite(ex, e.Status, nil, nil)
	writeErrorFor(w, ex.in.Header, e)
}

var errUpstreamRefusedGateway = errors.New("the upstream answered 401 to the gateway's own credential (the route's headers)")

var errClientGone = &scim.Error{Status: http.StatusBadGateway, Detail: "the request was cancelled: the client closed its connection"}

// upstreamTimedOut reports whether a round trip that failed with err ran
// out of the route's time (deadlinePassed: its deadline is behind us). A
// connect that timed out earlier is the dialer's own limit: the upstream
// could not be reached, which is a 502.
func upstreamTimedOut(err error, deadlinePassed bool) bool {
	if deadlinePassed {
		return true
	}
	if oe := (*net.OpError)(nil); errors.As(err, &oe) && oe.Op == "dial" {
		return false
	}
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// copyBody sends the answer's body to the client: a buffered one in one
// write, a streamed one through a pooled buffer, flushed after each write
// when its length is unknown, as httputil.ReverseProxy does.
func (p *proxy) copyBody(w http.ResponseWriter, resp *http.Response) error {
	if b, ok := resp.Body.(*bufferedBody); ok {
		_, err := b.WriteTo(w)
		return err
	}
	if resp.Body == http.NoBody {
		return nil
	}
	buf := p.copyBuffers.Get()
	defer p.copyBuffers.Put(buf)
	flush := resp.ContentLength < 0
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			if flush {
				if err := http.NewResponseController(w).Flush(); err != nil {
					return err
				}
			}
		}
		switch {
		case rerr == io.EOF:
			return nil
		case rerr != nil:
			return rerr
		}
	}
}

// copyBuffers is the proxy's httputil.BufferPool: a free list of copy
// buffers (a channel, so that Put does not allocate as sync.Pool would
// for a slice).
type copyBuffers chan []byte

func (c copyBuffers) Get() []byte {
	select {
	case b := <-c:
		return b
	default:
		return make([]byte, copyBufferSize)
	}
}

func (c copyBuffers) Put(b []byte) {
	select {
	case c <- b:
	default:
	}
}
