// Package scimtest is a strict in-memory SCIM 2.0 service provider for
// end-to-end tests and load runs. It accepts only the canonical form that
// scim.NormalizeRequest emits and answers 400 to anything else, so a test
// that drives it through the gateway proves every request was canonicalised.
package scimtest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scimgate/scimgate/internal/scim"
)

// Server is an http.Handler serving Users, Groups, ServiceProviderConfig,
// Schemas and ResourceTypes below any path prefix.
type Server struct {
	opts     options
	requests atomic.Int64

	mu      sync.Mutex
	tenants map[string]*store
	seen    []Seen
}

// Seen is the identity a request carried, as the gateway set it.
type Seen struct {
	Method, Path   string
	Tenant, Client string
}

type options struct {
	tenantHeader, clientHeader string
	perTenant                  bool
	latency                    time.Duration
}

// Option configures a Server.
type Option func(*options)

// WithTenantHeader names the header that carries the tenant (default X-Scim-Tenant).
func WithTenantHeader(name string) Option { return func(o *options) { o.tenantHeader = name } }

// WithClientHeader names the header that carries the client (default X-Scim-Client).
func WithClientHeader(name string) Option { return func(o *options) { o.clientHeader = name } }

// PerTenant keeps one set of resources per tenant header value; a request
// without the header is then refused with 400.
func PerTenant() Option { return func(o *options) { o.perTenant = true } }

// WithLatency delays every answer by d, or until the request is cancelled.
func WithLatency(d time.Duration) Option { return func(o *options) { o.latency = d } }

// maxSeen bounds the identity log so that load runs do not grow it forever.
const maxSeen = 4096

// New returns an empty server.
func New(opts ...Option) *Server {
	o := options{tenantHeader: "X-Scim-Tenant", clientHeader: "X-Scim-Client"}
	for _, opt := range opts {
		opt(&o)
	}
	return &Server{opts: o, tenants: map[string]*store{}}
}

// Requests reports how many requests the server has received.
func (s *Server) Requests() int64 { return s.requests.Load() }

// Seen returns the identities of the most recent requests (up to 4096), oldest first.
func (s *Server) Seen() []Seen {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Seen(nil), s.seen...)
}

// Resources returns copies of a tenant's Users or Groups in creation order
// (tenant "" unless PerTenant).
func (s *Server) Resources(tenant string, res scim.Resource) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.tenants[tenant]
	if st == nil {
		return nil
	}
	var out []map[string]any
	for _, e := range st.list(res) {
		out = append(out, deepCopy(e.res).(map[string]any))
	}
	return out
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	if s.opts.latency > 0 {
		if !sleep(r.Context(), s.opts.latency) {
			return
		}
	}
	tenant, client := r.Header.Get(s.opts.tenantHeader), r.Header.Get(s.opts.clientHeader)
	s.mu.Lock()
	if len(s.seen) == maxSeen {
		s.seen = append(s.seen[:0], s.seen[1:]...)
	}
	s.seen = append(s.seen, Seen{Method: r.Method, Path: r.URL.Path, Tenant: tenant, Client: client})
	s.mu.Unlock()
	if !s.opts.perTenant {
		tenant = ""
	} else if tenant == "" {
		scim.WriteError(w, badRequest(scim.InvalidValue, "missing "+s.opts.tenantHeader+" header"))
		return
	}
	res, id := scim.ParseResourcePath(r.URL.Path)
	status, body, err := s.handle(r, tenant, res, id)
	if err != nil {
		scim.WriteError(w, err)
		return
	}
	if body == nil {
		w.WriteHeader(status)
		return
	}
	out, err := json.Marshal(body)
	if err != nil {
		scim.WriteError(w, err)
		return
	}
	w.Header().Set("Content-Type", scim.MediaTypeSCIM)
	if status == http.StatusCreated {
		// RFC 7644 §3.3: the new resource's URI in Location, built as its
		// meta.location is, and not read from the answer: the request's
		// excludedAttributes may have left meta out of it.
		if m, ok := body.(map[string]any); ok {
			if id, _ := m["id"].(string); id != "" {
				w.Header().Set("Location", collectionURL(r, res)+"/"+id)
			}
		}
	}
	w.WriteHeader(status)
	_, _ = w.Write(out)
}

// baseURL is the service's absolute base URL as r reached it: scheme,
// host and the path in front of the endpoint res. A service that knows its
// own address writes meta.location and Location from it (RFC 7643 §3.1:
// the URI of the resource). Behind the gateway these point at the
// upstream, and the gateway rewrites them to its public URL.
func baseURL(r *http.Request, res scim.Resource) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	path := r.URL.Path
	if i := strings.LastIndex(path, "/"+string(res)); i >= 0 {
		path = path[:i]
	}
	return scheme + "://" + r.Host + path
}

// collectionURL is the absolute URL of the endpoint res as r reached it,
// the prefix of its resources' locations.
func collectionURL(r *http.Request, res scim.Resource) string {
	return baseURL(r, res) + "/" + string(res)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// handle routes one request to the endpoint res and resource id its path
// names; it returns the status and a JSON body (nil for none).
func (s *Server) handle(r *http.Request, tenant string, res scim.Resource, id string) (int, any, error) {
	switch res {
	case scim.ServiceProviderConfig, scim.SchemasEndpoint, scim.ResourceTypes:
		if r.Method != http.MethodGet {
			return 0, nil, &scim.Error{Status: http.StatusMethodNotAllowed, Detail: "read-only endpoint"}
		}
		return http.StatusOK, discovery(res, baseURL(r, res)), nil
	case scim.Users, scim.Groups:
	default:
		return 0, nil, &scim.Error{Status: http.StatusNotFound, Detail: "unknown endpoint " + r.URL.Path}
	}
	if err := checkQuery(r.URL.RawQuery); err != nil {
		return 0, nil, err
	}
	q := r.URL.Query()
	proj, err := parseProjection(res, q)
	if err != nil {
		return 0, nil, err
	}
	var body map[string]any
	if r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch {
		if body, err = readBody(r); err != nil {
			return 0, nil, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.tenants[tenant]
	if st == nil {
		st = newStore()
		s.tenants[tenant] = st
	}
	switch {
	case id == "" && r.Method == http.MethodGet:
		return st.query(res, q, proj)
	case id == "" && r.Method == http.MethodPost:
		return st.create(res, body, proj, collectionURL(r, res))
	case id != "" && r.Method == http.MethodGet:
		return st.get(res, id, proj)
	case id != "" && r.Method == http.MethodPut:
		return st.replace(res, id, body, proj)
	case id != "" && r.Method == http.MethodPatch:
		return st.patch(res, id, body, proj)
	case id != "" && r.Method == http.MethodDelete:
		return st.delete(res, id)
	}
	return 0, nil, &scim.Error{Status: http.StatusMethodNotAllowed, Detail: r.Method + " not allowed here"}
}

// checkQuery refuses what the normalizer removes or rewrites.
func checkQuery(raw string) error {
	for _, part := range strings.Split(raw, "&") {
		key, value, _ := strings.Cut(part, "=")
		switch {
		case strings.EqualFold(key, "aadOptscim062020"), strings.HasPrefix(strings.ToLower(key), "azureadscimpatch"):
			return badRequest(scim.InvalidSyntax, "non-canonical: Entra job flag "+key+" in the query")
		case key == "filter":
			f, err := url.QueryUnescape(value)
			if err != nil {
				return badRequest(scim.InvalidFilter, "filter is not validly encoded")
			}
			canon, err := scim.CanonicalFilter(f)
			if err != nil {
				return err
			}
			if canon != f {
				return badRequest(scim.InvalidFilter, "non-canonical filter "+f+" (want "+canon+")")
			}
		case strings.EqualFold(key, "filter"):
			return badRequest(scim.InvalidFilter, "non-canonical: parameter "+key)
		}
	}
	return nil
}

func readBody(r *http.Request) (map[string]any, error) {
	if ct := r.Header.Get("Content-Type"); ct != scim.MediaTypeSCIM {
		return nil, badRequest(scim.InvalidSyntax, "non-canonical Content-Type "+quote(ct))
	}
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 8<<20))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, badRequest(scim.InvalidSyntax, "body is not valid JSON")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, badRequest(scim.InvalidSyntax, "body must be a JSON object")
	}
	return obj, nil
}

func badRequest(scimType, detail string) *scim.Error {
	return &scim.Error{Status: http.StatusBadRequest, ScimType: scimType, Detail: detail}
}

func quote(s string) string { return `"` + s + `"` }
