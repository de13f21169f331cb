package gateway

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gorilla/mux"

	"github.com/scimgate/scimgate/config"
	"github.com/scimgate/scimgate/internal/scim"
)

// tenantVar is the one placeholder a route prefix may hold; restVar is the
// part of the path after the prefix, captured by the mux template.
const (
	tenantVar = "tenant"
	restVar   = "rest"
)

// route is one configured prefix, compiled for the request path.
type route struct {
	g *Gateway

	prefix    string // as configured: /scim/v2, /t/{tenant}/scim/v2
	template  string // gorilla/mux path template: prefix + {rest}
	literal   string // the prefix up to {tenant}: what every matching path starts with
	perTenant bool
	// afterTenant is the rest of a per-tenant prefix, after {tenant}.
	afterTenant string

	upstream        *url.URL // scheme and host of the upstream
	upstreamPath    string   // the upstream base path, without a trailing slash
	upstreamRawPath string   // upstreamPath as it goes on the wire
	// upstreamBase and its JSON-escaped twin (http:\/\/…) are what the
	// upstream writes into Location and meta.location; they are rewritten
	// to the public URL.
	upstreamBase             string
	upstreamBaseBytes        []byte
	upstreamBaseEscapedBytes []byte
	// publicPrefix is the public URL of the route: origin + prefix, with
	// {tenant} still in it for per-tenant routes.
	publicPrefix string

	audience             string
	acceptJWT            bool
	acceptAPIKey         bool
	rawAPIKey            bool
	forwardAuthorization bool
	headers              []fixedHeader
	timeout              time.Duration
	maxBody              int64
	maxBodyText          string
	groupsEmpty          bool
	dialect              scim.Dialect
}

// fixedHeader is a configured upstream header, its value slice shared by
// every request (the proxy copies header maps, never value slices it
// appends to).
type fixedHeader struct {
	name  string
	value []string
}

// compileRoute checks one configured route and prepares it. Zero fields
// take the values of config.DefaultRoute; an empty audience becomes
// issuer + prefix, as config.Load does.
func compileRoute(g *Gateway, c config.Route, issuer, publicURL string) (*route, error) {
	def := config.DefaultRoute()
	if len(c.Credentials) == 0 {
		c.Credentials = def.Credentials
	}
	if c.Timeout == 0 {
		c.Timeout = def.Timeout
	}
	if c.MaxBody == 0 {
		c.MaxBody = def.MaxBody
	}
	if c.Groups == "" {
		c.Groups = def.Groups
	}
	if c.Audience == "" {
		c.Audience = issuer + c.Prefix
	}
	if err := checkPrefix(c.Prefix); err != nil {
		return nil, fmt.Errorf("prefix: %w", err)
	}
	u, err := url.Parse(c.Upstream)
	switch {
	case err != nil:
		return nil, fmt.Errorf("upstream: %w", errors.Unwrap(err)) // the url.Error would quote credentials
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		return nil, errors.New("upstream: must be an absolute http or https URL")
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return nil, errors.New("upstream: must have no user, query or fragment")
	}
	dialect, err := scim.ParseDialect(string(c.Dialect))
	if err != nil {
		return nil, fmt.Errorf("dialect: %w", err)
	}
	r := &route{
		g:                    g,
		prefix:               c.Prefix,
		template:             c.Prefix + "{" + restVar + ":(?:/.*)?}",
		perTenant:            strings.Contains(c.Prefix, "{"+tenantVar+"}"),
		literal:              c.Prefix[:strings.Index(c.Prefix+"{", "{")],
		upstream:             &url.URL{Scheme: u.Scheme, Host: u.Host},
		upstreamPath:         strings.TrimSuffix(u.Path, "/"),
		upstreamRawPath:      strings.TrimSuffix(u.EscapedPath(), "/"),
		publicPrefix:         publicURL + c.Prefix,
		audience:             c.Audience,
		rawAPIKey:            c.RawAPIKey,
		forwardAuthorization: c.ForwardAuthorization,
		timeout:              c.Timeout,
		maxBody:              int64(c.MaxBody),
		maxBodyText:          c.MaxBody.String(),
		dialect:              dialect,
	}
	if r.perTenant {
		r.afterTenant = c.Prefix[len(r.literal)+len("{"+tenantVar+"}"):]
	}
	r.upstreamBase = u.Scheme + "://" + u.Host + r.upstreamPath
	r.upstreamBaseBytes = []byte(r.upstreamBase)
	r.upstreamBaseEscapedBytes = []byte(strings.ReplaceAll(r.upstreamBase, "/", `\/`))
	for _, k := range c.Credentials {
		switch k {
		case config.CredentialJWT:
			r.acceptJWT = true
		case config.CredentialAPIKey:
			r.acceptAPIKey = true
		default:
			return nil, fmt.Errorf("credentials: unknown credential %q", k)
		}
	}
	if r.rawAPIKey && !r.acceptAPIKey {
		return nil, errors.New("raw_api_key requires api_key in credentials")
	}
	switch c.Groups {
	case config.GroupsProxy:
	case config.GroupsEmpty:
		r.groupsEmpty = true
	default:
		return nil, fmt.Errorf("groups: unknown mode %q", c.Groups)
	}
	if r.timeout < 0 || r.maxBody < 0 {
		return nil, errors.New("timeout and max_body must be positive")
	}
	for _, name := range slices.Sorted(maps.Keys(c.Headers)) {
		canonical := http.CanonicalHeaderKey(name)
		if g.headers.owned(canonical) || canonical == "Authorization" && r.forwardAuthorization {
			return nil, fmt.Errorf("headers: %s is set by the gateway", canonical)
		}
		r.headers = append(r.headers, fixedHeader{name: canonical, value: []string{c.Headers[name].Reveal()}})
	}
	return r, nil
}

// checkPrefix accepts /seg/seg… with at most one whole-segment {tenant}.
// config validation says more about why; this guards programmatic use.
func checkPrefix(p string) error {
	if p == "" || p[0] != '/' || p == "/" || strings.HasSuffix(p, "/") {
		return errors.New("must start with / and not end with /")
	}
	tenants := 0
	for seg := range strings.SplitSeq(p[1:], "/") {
		switch {
		case seg == "" || seg == "." || seg == "..":
			return errors.New("must not contain empty, . or .. segments")
		case seg == "{"+tenantVar+"}":
			tenants++
		case strings.ContainsAny(seg, "{}%?#\\"):
			return errors.New("only {tenant} may appear as a placeholder, as a whole segment")
		}
	}
	if tenants > 1 {
		return errors.New("{tenant} may appear only once")
	}
	return nil
}

// orderRoutes sorts routes so that gorilla/mux, which tries routes in the
// order they were added, finds the most specific one: more segments first,
// then fewer placeholders (/t/acme/scim/v2 before /t/{tenant}/scim/v2), then
// the longer prefix; configuration order breaks remaining ties.
func orderRoutes(rs []*route) {
	slices.SortStableFunc(rs, func(a, b *route) int {
		if c := cmp.Compare(strings.Count(b.prefix, "/"), strings.Count(a.prefix, "/")); c != 0 {
			return c
		}
		if a.perTenant != b.perTenant {
			if a.perTenant {
				return 1
			}
			return -1
		}
		return cmp.Compare(len(b.prefix), len(a.prefix))
	})
}

// mayMatch is a gorilla/mux matcher run before the route's path regexp:
// most requests are ruled out by a string comparison instead.
func (rt *route) mayMatch(r *http.Request, _ *mux.RouteMatch) bool {
	return strings.HasPrefix(r.URL.Path, rt.literal)
}

// match matches path against the route's template as gorilla/mux does
// (its regular expression ^literal([^/]+)afterTenant((?:/.*)?)$, whose
// "." matches anything but a newline), without running it:
// TestMatchAsMux and FuzzMatch compare the two.
func (rt *route) match(path string) (tenant, rest string, ok bool) {
	rest, ok = strings.CutPrefix(path, rt.literal)
	if !ok {
		return "", "", false
	}
	if rt.perTenant {
		end := strings.IndexByte(rest, '/')
		if end < 0 {
			end = len(rest)
		}
		if tenant, rest = rest[:end], rest[end:]; tenant == "" {
			return "", "", false
		}
		if rest, ok = strings.CutPrefix(rest, rt.afterTenant); !ok {
			return "", "", false
		}
	}
	if rest != "" && rest[0] != '/' || strings.IndexByte(rest, '\n') >= 0 {
		return "", "", false
	}
	return tenant, rest, true
}

// publicBase is the public URL of the route for one request.
func (rt *route) publicBase(tenant string) string {
	if !rt.perTenant {
		return rt.publicPrefix
	}
	return strings.Replace(rt.publicPrefix, "{"+tenantVar+"}", tenant, 1)
}

// errBadPath is the answer for dot segments, encoded separators, control
// characters and bytes that are not UTF-8 in the path.
var errBadPath = &scim.Error{Status: http.StatusBadRequest, Detail: "the request path contains dot segments, encoded separators or control characters"}

// cleanRest checks and normalises the path after the route prefix, as
// decoded by net/http (rawPath is the client's encoding when it differs
// from the canonical one). Empty segments collapse (Entra's Tenant URLs
// often end with "/", giving "//Users"); dot segments, separators that were
// percent-encoded (even twice) and control characters are refused, so
// nothing ever escapes the prefix or is decoded a second time upstream.
func cleanRest(rest, rawPath string) (string, *scim.Error) {
	if rest != "" && rest[0] != '/' {
		return "", errBadPath // the mux template never yields this
	}
	if rawPath != "" && (containsFold(rawPath, "%2f") || containsFold(rawPath, "%5c")) {
		return "", errBadPath
	}
	if strings.Contains(rest, "%") && (containsFold(rest, "%2f") || containsFold(rest, "%5c") || containsFold(rest, "%2e")) {
		return "", errBadPath
	}
	ascii := true
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return "", errBadPath
		} else if c >= 0x80 {
			ascii = false
		}
	}
	// Bytes that are not UTF-8 name no SCIM resource; overlong forms
	// (%C0%AE for ".", %C0%AF for "/") are dots and separators to decoders
	// that accept them.
	if !ascii && !utf8.ValidString(rest) {
		return "", errBadPath
	}
	if strings.Contains(rest, "/.") {
		for seg := range strings.SplitSeq(rest, "/") {
			if seg == "." || seg == ".." {
				return "", errBadPath
			}
		}
	}
	return cleanSlashes(rest), nil
}

// rawRest is the client's own encoding of rest, the path after the route
// prefix as cleanRest left it, taken from the end of rawPath, the client's
// escaped path. The upstream then reads what the client wrote: an id sent
// as "a%3Bb" must not arrive as "a;b", which many servers cut at the ";".
// Separators are never encoded (cleanRest refuses %2F), so the raw path
// has rest's segments, plus the empty ones cleanRest dropped.
func rawRest(rest, rawPath string) string {
	segments := strings.Count(rest, "/")
	end := len(rawPath)
	for i := len(rawPath) - 1; i >= 0 && segments > 0; i-- {
		if rawPath[i] != '/' {
			continue
		}
		if i+1 < end {
			segments--
			if segments == 0 {
				return cleanSlashes(rawPath[i:])
			}
		}
		end = i
	}
	return rest
}

// cleanSlashes drops empty segments from p, which starts with "/".
func cleanSlashes(p string) string {
	if !strings.Contains(p, "//") && !strings.HasSuffix(p, "/") {
		return p
	}
	var b strings.Builder
	b.Grow(len(p))
	for seg := range strings.SplitSeq(p, "/") {
		if seg != "" {
			b.WriteByte('/')
			b.WriteString(seg)
		}
	}
	return b.String()
}

// containsFold reports whether s contains sub, ignoring ASCII case.
func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}

// target is the SCIM endpoint a cleaned path addresses.
type target struct {
	resource scim.Resource
	id       string // "" for a collection or a singleton
	allow    string // the methods it supports, for 405's Allow header
}

const (
	allowCollection = "GET, HEAD, POST"
	allowResource   = "GET, HEAD, PUT, PATCH, DELETE"
	allowRead       = "GET, HEAD"
)

var (
	errNotFound       = &scim.Error{Status: http.StatusNotFound, Detail: "not found"}
	errNotImplemented = &scim.Error{Status: http.StatusNotImplemented, Detail: "this endpoint is not supported: /Bulk, /Me and /.search are not implemented"}
)

// classify maps a cleaned path ("/Users/2819c223") to its endpoint. Only
// /<endpoint> and /<endpoint>/<id> exist, so whatever an upstream does with
// odd ids, a forwarded path has at most two segments under the base.
func classify(rest string) (target, *scim.Error) {
	if rest == "" {
		return target{}, errNotFound
	}
	first, id, _ := strings.Cut(rest[1:], "/")
	if strings.Contains(id, "/") {
		if first == "Me" {
			return target{}, errNotImplemented
		}
		return target{}, errNotFound
	}
	switch res := scim.Resource(first); res {
	case scim.Users, scim.Groups:
		switch {
		case id == "":
			return target{resource: res, allow: allowCollection}, nil
		case id == ".search":
			return target{}, errNotImplemented
		case id[0] == '.':
			return target{}, errNotFound
		}
		return target{resource: res, id: id, allow: allowResource}, nil
	case scim.ServiceProviderConfig:
		if id != "" {
			return target{}, errNotFound
		}
		return target{resource: res, allow: allowRead}, nil
	case scim.ResourceTypes, scim.SchemasEndpoint:
		if id != "" && id[0] == '.' {
			return target{}, errNotFound
		}
		return target{resource: res, id: id, allow: allowRead}, nil
	case "Bulk", "Me", ".search":
		return target{}, errNotImplemented
	}
	return target{}, errNotFound
}

// allows reports whether method is among t's methods.
func (t target) allows(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead:
		return true
	case http.MethodPost:
		return t.allow == allowCollection
	case http.MethodPut, http.MethodPatch, http.MethodDelete:
		return t.allow == allowResource
	}
	return false
}
