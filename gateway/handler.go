package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/scimgate/scimgate/internal/audit"
	"github.com/scimgate/scimgate/internal/ratelimit"
	"github.com/scimgate/scimgate/internal/requestid"
	"github.com/scimgate/scimgate/internal/scim"
)

// realm names the gateway in every Bearer challenge.
const realm = "scimgate"

// emptyGroups answers Groups queries on routes whose upstream keeps no
// groups, so that Entra's Test Connection, which queries /Groups too, passes
// (entra.md §3, C-08).
const emptyGroups = `{"schemas":["` + scim.URNListResponse + `"],"totalResults":0,"Resources":[],"startIndex":1,"itemsPerPage":0}`

var (
	errUnavailable = &scim.Error{Status: http.StatusServiceUnavailable, Detail: "the credential could not be checked; retry shortly"}
	errNoGroups    = &scim.Error{Status: http.StatusNotImplemented, Detail: "this service keeps no groups"}
	errNoSuchGroup = &scim.Error{Status: http.StatusNotFound, Detail: "group not found"}
	errReadBody    = &scim.Error{Status: http.StatusBadRequest, ScimType: scim.InvalidSyntax, Detail: "the request body could not be read"}
	errReadScope   = &scim.Error{Status: http.StatusForbidden, Detail: "insufficient scope: scim.read or scim.full is required"}
	errWriteScope  = &scim.Error{Status: http.StatusForbidden, Detail: "insufficient scope: scim.write or scim.full is required"}
)

// Challenges of a 403 (RFC 6750 §3.1).
const (
	challengeRead  = `Bearer realm="` + realm + `", error="insufficient_scope", scope="scim.read"`
	challengeWrite = `Bearer realm="` + realm + `", error="insufficient_scope", scope="scim.write"`
)

// ServeHTTP runs the pipeline for one request on the route.
func (rt *route) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	pathTenant, rest, matched := rt.match(r.URL.Path)
	if !matched {
		writeError(w, r, errNotFound) // only a router that is not gorilla/mux gets here
		return
	}
	rest, perr := cleanRest(rest, r.URL.RawPath)
	if perr != nil {
		writeError(w, r, perr)
		return
	}
	start := rt.g.now()
	p, t, ok := rt.admit(w, r, pathTenant, rest, start)
	if !ok {
		return
	}
	if rt.groupsEmpty && t.resource == scim.Groups {
		answerNoGroups(w, r, t)
		return
	}
	rt.forward(w, r, p, t, pathTenant, rest)
	if log := rt.g.log; log.Enabled(r.Context(), slog.LevelDebug) {
		log.DebugContext(r.Context(), "gateway: request", "route", rt.prefix, "method", r.Method, "tenant", p.tenant,
			"client", p.credential, "auth_method", p.method.header[0], "latency", time.Since(start))
	}
}

// admit decides whether the request may reach the upstream: who is
// calling, whether it is their tenant's route, whether the endpoint and
// method exist, whether they are within their rate and scope. It has
// answered the request when ok is false. Nothing here reads the body.
func (rt *route) admit(w http.ResponseWriter, r *http.Request, pathTenant, rest string, now time.Time) (p *principal, t target, ok bool) {
	g, ctx := rt.g, r.Context()
	kind, cred, prob := parseAuthorization(r.Header["Authorization"], r.URL.RawQuery, rt.rawAPIKey)
	if prob == nil {
		var err error
		if p, prob, err = g.auth.authenticate(ctx, kind, cred, rt, now); err != nil {
			g.log.ErrorContext(ctx, "gateway: authentication unavailable", "route", rt.prefix, "err", err)
			w.Header().Set("Retry-After", "1")
			writeError(w, r, errUnavailable)
			return nil, t, false
		}
	}
	if prob != nil {
		g.refuse(w, r, rt, prob)
		return nil, t, false
	}
	if rt.perTenant && pathTenant != p.tenant {
		// Another tenant's base URL: the same answer as a path that does
		// not exist, so that tenants cannot be discovered.
		g.recordRefusal(ctx, r, rt, "tenant_mismatch", http.StatusNotFound, p)
		writeError(w, r, errNotFound)
		return nil, t, false
	}
	t, terr := classify(rest)
	switch {
	case terr != nil:
		writeError(w, r, terr)
		return nil, t, false
	case !t.allows(r.Method):
		w.Header().Set("Allow", t.allow)
		writeError(w, r, &scim.Error{Status: http.StatusMethodNotAllowed, Detail: r.Method + " is not allowed here; use " + t.allow})
		return nil, t, false
	case !g.withinRate(ctx, w, r, p):
		return nil, t, false
	}
	write := isWrite(r.Method)
	if need := scopeFor(write); p.scopes&need == 0 {
		g.recordRefusal(ctx, r, rt, "insufficient_scope", http.StatusForbidden, p)
		if write {
			w.Header().Set("WWW-Authenticate", challengeWrite)
			writeError(w, r, errWriteScope)
		} else {
			w.Header().Set("WWW-Authenticate", challengeRead)
			writeError(w, r, errReadScope)
		}
		return nil, t, false
	}
	return p, t, true
}

// forward reads and normalizes the request and hands it to the proxy.
func (rt *route) forward(w http.ResponseWriter, r *http.Request, p *principal, t target, pathTenant, rest string) {
	body, berr := readBody(w, r, rt)
	if berr != nil {
		writeError(w, r, berr)
		return
	}
	res, err := scim.NormalizeRequest(rt.dialect, scim.Request{
		Method: r.Method, Path: rest, RawQuery: r.URL.RawQuery, Header: r.Header, Body: body,
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	if res.Dialect == scim.Off {
		// Only X-Idp-Profile uses the provider; the response normalizer
		// stays off.
		res.Dialect = scim.Detect(scim.Request{Header: r.Header, RawQuery: r.URL.RawQuery})
	}
	ctx := r.Context()
	ex := &exchange{
		ctx:          ctx,
		deadline:     time.Now().Add(rt.timeout),
		route:        rt,
		principal:    p,
		target:       t,
		tenantInPath: pathTenant,
		requestID:    [1]string{requestid.From(ctx)},
		upstreamPath: rt.upstreamPath + rest,
		rawQuery:     res.RawQuery,
		dialect:      res.Dialect,
		normalize:    rt.dialect != scim.Off,
		in:           scim.Request{Method: r.Method, Path: rest, RawQuery: r.URL.RawQuery, Header: r.Header},
	}
	if r.URL.RawPath != "" {
		ex.upstreamRawPath = rt.upstreamRawPath + rawRest(rest, r.URL.RawPath)
	}
	if ex.requestID[0] == "" {
		ex.requestID[0] = requestid.New()
	}
	// The client's Content-Type goes upstream unless the normalizer changed
	// it (also by making two headers one), or the client named it in
	// Connection, which drops it from the outbound headers: the body was
	// checked as what res.ContentType says, and the upstream must be told so.
	if res.ContentType != r.Header.Get("Content-Type") || slices.Contains(res.Rewrites, scim.RewriteContentType) ||
		res.ContentType != "" && listedIn(r.Header["Connection"], "Content-Type") {
		ex.contentType = res.ContentType
	}
	if isWrite(r.Method) {
		ex.event = writeEvent(r.Method, t, res.Body)
	}
	rt.g.proxy.relay(w, r, ex, res.Body)
}

func isWrite(method string) bool { return method != http.MethodGet && method != http.MethodHead }

func scopeFor(write bool) scopeSet {
	if write {
		return scopeWrite
	}
	return scopeRead
}

// withinRate applies the per-credential and per-tenant rate limits. A limiter
// failure admits the request (Kong's fault_tolerant): provisioning should
// not stop because the limit store is down.
func (g *Gateway) withinRate(ctx context.Context, w http.ResponseWriter, r *http.Request, p *principal) bool {
	for _, l := range [...]struct {
		key, what string
		rule      ratelimit.Rule
	}{{p.credLimitKey, "credential", g.credRule}, {p.tenantLimitKey, "tenant", g.tenantRule}} {
		d, err := g.limiter.Allow(ctx, l.key, l.rule)
		if err != nil {
			g.log.WarnContext(ctx, "gateway: rate limiter failed; request admitted", "err", err)
			continue
		}
		if !d.Allowed {
			g.metrics.RateLimited(l.what)
			retry := strconv.Itoa(d.RetryAfterSeconds())
			w.Header().Set("Retry-After", retry)
			writeError(w, r, &scim.Error{Status: http.StatusTooManyRequests, Detail: "rate limit of this " + l.what + " exceeded; retry after " + retry + "s"})
			return false
		}
	}
	return true
}

// answerNoGroups serves /Groups for an upstream without groups: an empty
// list for queries, 404 for one group, 501 for writes (nothing could be
// stored, and a silent 2xx would make the IdP believe groups exist).
func answerNoGroups(w http.ResponseWriter, r *http.Request, t target) {
	switch {
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		writeError(w, r, errNoGroups)
	case t.id != "":
		writeError(w, r, errNoSuchGroup)
	default:
		h := w.Header()
		h.Set("Content-Type", scim.ResponseContentType(scim.Unknown, r.Header.Get("Accept")))
		h.Set("Content-Length", strconv.Itoa(len(emptyGroups)))
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = io.WriteString(w, emptyGroups)
		}
	}
}

// readBody reads the request body whole, up to the route's limit, so that
// the normalizer can rewrite it and an oversized body is refused with 413
// before anything reaches the upstream. It returns nil when there is none.
func readBody(w http.ResponseWriter, r *http.Request, rt *route) ([]byte, *scim.Error) {
	if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	tooLarge := &scim.Error{Status: http.StatusRequestEntityTooLarge, Detail: "the request body is larger than " + rt.maxBodyText}
	if r.ContentLength > rt.maxBody {
		return nil, tooLarge
	}
	size := r.ContentLength
	if size < 0 {
		size = 512
	}
	buf := bytes.NewBuffer(make([]byte, 0, size+1))
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, rt.maxBody))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, tooLarge
	case err != nil:
		return nil, errReadBody
	}
	return buf.Bytes(), nil
}

// refuse answers an authentication failure: 400 or 401 with a Bearer
// challenge (RFC 6750 §3) and a SCIM error body saying what was wrong.
func (g *Gateway) refuse(w http.ResponseWriter, r *http.Request, rt *route, prob *authProblem) {
	challenge := `Bearer realm="` + realm + `"`
	if prob.errorCode != "" {
		challenge += `, error="` + prob.errorCode + `", error_description="` + quotable(prob.detail) + `"`
	}
	w.Header().Set("WWW-Authenticate", challenge)
	g.recordRefusal(r.Context(), r, rt, prob.reason, prob.status, nil)
	writeError(w, r, &scim.Error{Status: prob.status, Detail: prob.detail})
}

// quotable makes s safe inside an RFC 7235 quoted-string as RFC 6750
// restricts error_description (no '"' or '\').
func quotable(s string) string {
	if !strings.ContainsAny(s, `"\`) {
		return s
	}
	return strings.NewReplacer(`"`, "'", `\`, "/").Replace(s)
}

func (g *Gateway) recordRefusal(ctx context.Context, r *http.Request, rt *route, reason string, status int, p *principal) {
	if g.audit == nil {
		return
	}
	attrs := []slog.Attr{
		slog.String("reason", reason), slog.Int("status", status),
		slog.String("route", rt.prefix), slog.String("method", r.Method), slog.String("remote", remoteAddress(r.RemoteAddr)),
	}
	if p != nil {
		attrs = append(attrs, slog.String("tenant", p.tenant), slog.String("client", p.credential), slog.String("auth_method", p.method.header[0]))
	}
	g.audit.Record(ctx, audit.GatewayRefused, attrs...)
}

// remoteAddress is the client address of a RemoteAddr without its port:
// the connection's host:port, or the bare address the server resolved
// from a trusted proxy's X-Forwarded-For.
func remoteAddress(remote string) string {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return host
	}
	return remote
}

// writeError answers err as a SCIM error in the media type r asks for, as
// the upstream's answers are: application/json for a client that accepts
// only that (OneLogin), else application/scim+json.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	writeErrorFor(w, r.Header, err)
}

// writeErrorFor is writeError for the request headers h.
func writeErrorFor(w http.ResponseWriter, h http.Header, err error) {
	scim.WriteErrorAs(w, err, scim.ResponseContentType(scim.Unknown, h.Get("Accept")))
}
