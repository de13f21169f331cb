package adminapi

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/gorilla/mux"

	"github.com/scimgate/scimgate/internal/credentials"
	"github.com/scimgate/scimgate/internal/requestid"
)

// PathPrefix starts every admin API path.
const PathPrefix = "/admin/v1"

// MaxBodySize bounds a request body; the largest real one, a client with
// redirect URIs, is a few KiB.
const MaxBodySize = 64 << 10

// wwwAuthenticate is sent with every 401 (RFC 6750 §3).
const wwwAuthenticate = `Bearer realm="scimgate-admin"`

// ErrorBody is the JSON body of every error response.
type ErrorBody struct {
	// Error is a stable code: unauthorized, invalid_request, not_found,
	// conflict, method_not_allowed, request_too_large, internal_error.
	Error string `json:"error"`
	// Detail says what was wrong, for people.
	Detail string `json:"detail,omitempty"`
}

// handler serves the admin API over an Operations.
type handler struct {
	ops         Operations
	tokenDigest [sha256.Size]byte
	log         *slog.Logger
}

// NewHandler returns the admin API, every path under PathPrefix, serving ops.
// Every request must carry "Authorization: Bearer <token>". log receives
// internal errors (never request bodies); nil discards them. Wrap the
// handler in requestid.Middleware so audit events and errors carry the id.
func NewHandler(ops Operations, token string, log *slog.Logger) (http.Handler, error) {
	if token == "" {
		return nil, errors.New("adminapi: empty admin token")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &handler{ops: ops, tokenDigest: sha256.Sum256([]byte(token)), log: log}
	// SkipClean: an id such as ".." is looked up (and not found), not
	// redirected to another path.
	r := mux.NewRouter().SkipClean(true)
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusNotFound, ErrorBody{Error: "not_found", Detail: "no such admin API path"})
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Allow", strings.Join(allowedMethods(r, req.URL.Path), ", ")) // RFC 9110 §15.5.6
		writeJSON(w, http.StatusMethodNotAllowed, ErrorBody{Error: "method_not_allowed", Detail: "method not allowed on this path"})
	})
	h.routes(r)
	return h.authenticate(r), nil
}

// allowedMethods lists the methods router serves on path. It walks every
// route, which only a 405 pays for.
func allowedMethods(router *mux.Router, path string) []string {
	var methods []string
	_ = router.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		expr, err := route.GetPathRegexp()
		if err != nil {
			return nil
		}
		if re, err := regexp.Compile(expr); err == nil && re.MatchString(path) {
			m, _ := route.GetMethods()
			methods = append(methods, m...)
		}
		return nil
	})
	slices.Sort(methods)
	return slices.Compact(methods)
}

// endpoint handles one route: it returns the status and body of a success,
// or an error that writeError renders.
type endpoint func(r *http.Request) (status int, body any, err error)

func (h *handler) routes(r *mux.Router) {
	handle := func(method, path string, e endpoint) {
		r.Handle(PathPrefix+path, h.serve(e)).Methods(method)
	}
	ops := h.ops
	handle(http.MethodGet, "/tenants", func(r *http.Request) (int, any, error) {
		return ok(ops.Tenants(r.Context()))
	})
	handle(http.MethodPost, "/tenants", func(r *http.Request) (int, any, error) {
		return created(withBody(r, func(req NewTenant) (*Tenant, error) { return ops.CreateTenant(r.Context(), req) }))
	})
	handle(http.MethodGet, "/tenants/{tenant}", func(r *http.Request) (int, any, error) {
		return ok(ops.Tenant(r.Context(), vars(r, "tenant")))
	})
	handle(http.MethodDelete, "/tenants/{tenant}", func(r *http.Request) (int, any, error) {
		return deleted(ops.DeleteTenant(r.Context(), vars(r, "tenant")))
	})
	handle(http.MethodPost, "/tenants/{tenant}/disable", func(r *http.Request) (int, any, error) {
		return ok(ops.SetTenantDisabled(r.Context(), vars(r, "tenant"), true))
	})
	handle(http.MethodPost, "/tenants/{tenant}/enable", func(r *http.Request) (int, any, error) {
		return ok(ops.SetTenantDisabled(r.Context(), vars(r, "tenant"), false))
	})

	handle(http.MethodGet, "/tenants/{tenant}/admins", func(r *http.Request) (int, any, error) {
		return ok(ops.Admins(r.Context(), vars(r, "tenant")))
	})
	handle(http.MethodPost, "/tenants/{tenant}/admins", func(r *http.Request) (int, any, error) {
		return created(withBody(r, func(req NewAdmin) (*AdminWithPassword, error) {
			return ops.CreateAdmin(r.Context(), vars(r, "tenant"), req)
		}))
	})
	handle(http.MethodPost, "/tenants/{tenant}/admins/{username}/password", func(r *http.Request) (int, any, error) {
		return ok(withOptionalBody(r, func(req NewPassword) (*AdminWithPassword, error) {
			return ops.SetAdminPassword(r.Context(), vars(r, "tenant"), vars(r, "username"), req)
		}))
	})
	handle(http.MethodDelete, "/tenants/{tenant}/admins/{username}", func(r *http.Request) (int, any, error) {
		return deleted(ops.DeleteAdmin(r.Context(), vars(r, "tenant"), vars(r, "username")))
	})

	handle(http.MethodGet, "/clients", func(r *http.Request) (int, any, error) {
		return ok(ops.Clients(r.Context(), r.URL.Query().Get("tenant")))
	})
	handle(http.MethodPost, "/clients", func(r *http.Request) (int, any, error) {
		return created(withBody(r, func(req NewClient) (*ClientWithSecret, error) { return ops.CreateClient(r.Context(), req) }))
	})
	handle(http.MethodGet, "/clients/{client}", func(r *http.Request) (int, any, error) {
		return ok(ops.Client(r.Context(), vars(r, "client")))
	})
	handle(http.MethodDelete, "/clients/{client}", func(r *http.Request) (int, any, error) {
		return deleted(ops.DeleteClient(r.Context(), vars(r, "client")))
	})
	handle(http.MethodPost, "/clients/{client}/disable", func(r *http.Request) (int, any, error) {
		return ok(ops.SetClientDisabled(r.Context(), vars(r, "client"), true))
	})
	handle(http.MethodPost, "/clients/{client}/enable", func(r *http.Request) (int, any, error) {
		return ok(ops.SetClientDisabled(r.Context(), vars(r, "client"), false))
	})
	handle(http.MethodPost, "/clients/{client}/secrets", func(r *http.Request) (int, any, error) {
		return created(withOptionalBody(r, func(req SecretLifetime) (*ClientWithSecret, error) {
			return ops.AddClientSecret(r.Context(), vars(r, "client"), req)
		}))
	})
	handle(http.MethodDelete, "/clients/{client}/secrets/{secret}", func(r *http.Request) (int, any, error) {
		return ok(ops.DeleteClientSecret(r.Context(), vars(r, "client"), vars(r, "secret")))
	})

	handle(http.MethodGet, "/apikeys", func(r *http.Request) (int, any, error) {
		return ok(ops.APIKeys(r.Context(), r.URL.Query().Get("tenant")))
	})
	handle(http.MethodPost, "/apikeys", func(r *http.Request) (int, any, error) {
		return created(withBody(r, func(req NewAPIKey) (*APIKeyWithSecret, error) { return ops.CreateAPIKey(r.Context(), req) }))
	})
	handle(http.MethodGet, "/apikeys/{key}", func(r *http.Request) (int, any, error) {
		return ok(ops.APIKey(r.Context(), vars(r, "key")))
	})
	handle(http.MethodDelete, "/apikeys/{key}", func(r *http.Request) (int, any, error) {
		return deleted(ops.DeleteAPIKey(r.Context(), vars(r, "key")))
	})
	handle(http.MethodPost, "/apikeys/{key}/rotate", func(r *http.Request) (int, any, error) {
		return created(ops.RotateAPIKey(r.Context(), vars(r, "key")))
	})
	handle(http.MethodPost, "/apikeys/{key}/revoke", func(r *http.Request) (int, any, error) {
		return ok(ops.RevokeAPIKey(r.Context(), vars(r, "key")))
	})

	handle(http.MethodGet, "/keys", func(r *http.Request) (int, any, error) {
		return ok(ops.SigningKeys(r.Context()))
	})
	handle(http.MethodPost, "/keys/rotate", func(r *http.Request) (int, any, error) {
		return ok(ops.RotateSigningKey(r.Context()))
	})
	handle(http.MethodPost, "/keys/{kid}/revoke", func(r *http.Request) (int, any, error) {
		return ok(ops.RevokeSigningKey(r.Context(), vars(r, "kid")))
	})
}

func vars(r *http.Request, name string) string { return mux.Vars(r)[name] }

func ok[T any](v T, err error) (int, any, error)      { return http.StatusOK, v, err }
func created[T any](v T, err error) (int, any, error) { return http.StatusCreated, v, err }
func deleted(err error) (int, any, error)             { return http.StatusNoContent, nil, err }

// withBody decodes the request body into Req and calls op with it.
func withBody[Req, Resp any](r *http.Request, op func(Req) (Resp, error)) (Resp, error) {
	req, err := decodeBody[Req](r.Body, false)
	if err != nil {
		var zero Resp
		return zero, err
	}
	return op(req)
}

// withOptionalBody is withBody where an empty body means every field's
// default.
func withOptionalBody[Req, Resp any](r *http.Request, op func(Req) (Resp, error)) (Resp, error) {
	req, err := decodeBody[Req](r.Body, true)
	if err != nil {
		var zero Resp
		return zero, err
	}
	return op(req)
}

// bodyError is a request body that could not be decoded.
type bodyError struct {
	status int
	detail string
}

func (e *bodyError) Error() string { return e.detail }

// decodeBody reads one JSON object of type T from body: at most MaxBodySize
// bytes, no unknown fields, nothing after it. An empty body gives the zero T
// when allowEmpty is set.
func decodeBody[T any](body io.Reader, allowEmpty bool) (T, error) {
	var v T
	raw, err := io.ReadAll(http.MaxBytesReader(nil, io.NopCloser(body), MaxBodySize))
	if err == nil {
		err = checkMemberNames(raw, reflect.TypeFor[T]())
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err == nil {
		err = dec.Decode(&v)
	}
	if err == nil {
		if _, err = dec.Token(); errors.Is(err, io.EOF) {
			return v, nil
		}
		if err == nil {
			err = errors.New("unexpected data after the JSON object")
		}
	}
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return v, &bodyError{http.StatusRequestEntityTooLarge, fmt.Sprintf("request body: larger than %d bytes", MaxBodySize)}
	case errors.Is(err, io.EOF) && allowEmpty && dec.InputOffset() == 0:
		return v, nil
	case errors.Is(err, io.EOF) && dec.InputOffset() == 0:
		return v, &bodyError{http.StatusBadRequest, "request body: a JSON object is required"}
	}
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return v, &bodyError{http.StatusBadRequest, "request body: " + describeTypeError(typeErr)}
	}
	return v, &bodyError{http.StatusBadRequest, "request body: " + strings.TrimPrefix(err.Error(), "json: ")}
}

// describeTypeError says which member has the wrong JSON type in the API's
// own terms: encoding/json's message names Go types ("Go struct field
// NewTenant.id of type string"), which mean nothing to a caller of the API.
func describeTypeError(e *json.UnmarshalTypeError) string {
	got, _, _ := strings.Cut(e.Value, " ") // "number 1.5" for a fraction
	switch got {
	case "bool":
		got = "true or false"
	case "array", "object":
		got = "an " + got
	default:
		got = "a " + got
	}
	if e.Field == "" {
		return "a JSON object is required, got " + got
	}
	return fmt.Sprintf("member %q must be %s, got %s", e.Field, jsonKind(e.Type), got)
}

// jsonKind names the JSON value a Go type is decoded from.
func jsonKind(t reflect.Type) string {
	if reflect.PointerTo(t).Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) {
		return "a string" // a duration such as "90m"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.String {
			return "an array of strings"
		}
		return "an array"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return "an object"
}

// checkMemberNames refuses what encoding/json would quietly accept in a
// request object: a member named twice (it keeps the last) and a member
// whose name matches a field only when case is ignored ("ID" for "id").
// Members of nested objects are left to the decoder.
func checkMemberNames(raw []byte, t reflect.Type) error {
	if t.Kind() != reflect.Struct {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil // not an object: the decoder says what is wrong
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		name, _ := tok.(string)
		switch field, known := jsonFieldNamed(t, name); {
		case seen[name]:
			return fmt.Errorf("member %q appears twice", name)
		case !known && field != "":
			return fmt.Errorf("unknown field %q (did you mean %q?)", name, field)
		}
		seen[name] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil
		}
	}
	return nil
}

// jsonFieldNamed reports whether struct type t has a field encoded as
// name, and otherwise the name of the field it differs from only in case.
func jsonFieldNamed(t reflect.Type, name string) (caseOnly string, exact bool) {
	for f := range t.Fields() {
		n, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if n == "" {
			n = f.Name
		}
		switch {
		case n == name:
			return "", true
		case strings.EqualFold(n, name):
			caseOnly = n
		}
	}
	return caseOnly, false
}

// serve runs e and writes its result as JSON.
func (h *handler) serve(e endpoint) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, body, err := e(r)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		if status == http.StatusNoContent {
			noStore(w)
			w.WriteHeader(status)
			return
		}
		writeJSON(w, status, body)
	})
}

// writeError renders err; causes of internal errors go to the log only.
func (h *handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var be *bodyError
	switch {
	case errors.As(err, &be) && be.status == http.StatusRequestEntityTooLarge:
		writeJSON(w, be.status, ErrorBody{Error: "request_too_large", Detail: be.detail})
	case errors.As(err, &be):
		writeJSON(w, be.status, ErrorBody{Error: "invalid_request", Detail: be.detail})
	case errors.Is(err, credentials.ErrInvalid):
		writeJSON(w, http.StatusBadRequest, ErrorBody{Error: "invalid_request", Detail: err.Error()})
	case errors.Is(err, credentials.ErrNotFound):
		writeJSON(w, http.StatusNotFound, ErrorBody{Error: "not_found", Detail: err.Error()})
	case errors.Is(err, credentials.ErrExists):
		writeJSON(w, http.StatusConflict, ErrorBody{Error: "conflict", Detail: err.Error()})
	default:
		id := requestid.From(r.Context())
		h.log.ErrorContext(r.Context(), "admin API request failed", "method", r.Method, "path", r.URL.Path, "request_id", id, "err", err)
		detail := "internal error; see the server log"
		if id != "" {
			detail += " (request id " + id + ")"
		}
		writeJSON(w, http.StatusInternalServerError, ErrorBody{Error: "internal_error", Detail: detail})
	}
}

// authenticate lets through only requests with the admin token. Digests of
// equal length are compared, so the time taken says nothing about the token.
func (h *handler) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, token, found := strings.Cut(r.Header.Get("Authorization"), " ")
		if !found || !strings.EqualFold(scheme, "Bearer") {
			w.Header().Set("WWW-Authenticate", wwwAuthenticate)
			writeJSON(w, http.StatusUnauthorized, ErrorBody{Error: "unauthorized", Detail: "send the admin token as Authorization: Bearer <token>"})
			return
		}
		digest := sha256.Sum256([]byte(token))
		if subtle.ConstantTimeCompare(digest[:], h.tokenDigest[:]) != 1 {
			w.Header().Set("WWW-Authenticate", wwwAuthenticate+`, error="invalid_token"`)
			writeJSON(w, http.StatusUnauthorized, ErrorBody{Error: "unauthorized", Detail: "the admin token is not valid"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// noStore keeps responses, which may carry a secret, out of every cache.
func noStore(w http.ResponseWriter) { w.Header().Set("Cache-Control", "no-store") }

func writeJSON(w http.ResponseWriter, status int, v any) {
	noStore(w)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the client went away; nothing left to tell it
}
