package authserver

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-oauth2/oauth2/v4"
	oerrors "github.com/go-oauth2/oauth2/v4/errors"

	"github.com/scimgate/scimgate/internal/accesstoken"
	"github.com/scimgate/scimgate/internal/audit"
	"github.com/scimgate/scimgate/internal/credentials"
)

// tokenRequest is what handleToken learned about one request before handing
// it to go-oauth2, and what it needs to know afterwards. It travels in the
// request context.
type tokenRequest struct {
	ip        string
	grant     string
	client    *credentials.Client
	scope     string
	audiences []string
	// set while the response is produced
	status  int
	errCode string
	jti     string
	expires time.Time
}

type stateKey struct{}

func withState(ctx context.Context, st *tokenRequest) context.Context {
	return context.WithValue(ctx, stateKey{}, st)
}

func stateFrom(ctx context.Context) *tokenRequest {
	st, _ := ctx.Value(stateKey{}).(*tokenRequest)
	return st
}

// handleToken is POST /oauth2/token.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	st := &tokenRequest{ip: s.cfg.ClientIP(r)}
	if e := s.prepareToken(w, r, st); e != nil {
		s.auditRefusal(ctx, st, e.code, e.reason)
		s.fail(w, r, e)
		return
	}
	tw := &tokenWriter{ResponseWriter: w, st: st}
	_ = s.oauth.HandleTokenRequest(tw, r.WithContext(withState(ctx, st)))
	if st.status == http.StatusOK {
		s.cfg.Metrics.TokenIssued(st.grant)
		s.cfg.Audit.Record(ctx, audit.TokenIssued, slog.String("grant", st.grant), slog.String("tenant", st.client.TenantID),
			slog.String("client_id", st.client.ID), slog.String("scope", st.scope), slog.String("jti", st.jti))
		return
	}
	s.auditRefusal(ctx, st, st.errCode, st.errCode)
}

// prepareToken does everything go-oauth2 would do unsafely or not at all:
// strict parsing, client authentication with brute-force throttling, the
// client's grant allow-list and the client-credentials scope and audience.
func (s *Server) prepareToken(w http.ResponseWriter, r *http.Request, st *tokenRequest) *oauthError {
	form, e := parseForm(w, r)
	if e != nil {
		return e
	}
	st.grant = form.Get("grant_type")
	switch st.grant {
	case "":
		return errInvalidRequest("grant_type is required")
	case credentials.GrantClientCredentials, credentials.GrantAuthorizationCode, credentials.GrantRefreshToken:
	default:
		return &oauthError{code: "unsupported_grant_type", description: "supported grant types: client_credentials, authorization_code, refresh_token",
			status: http.StatusBadRequest, reason: "unsupported_grant_type"}
	}
	client, e := s.authenticateClient(r, form, st.ip)
	if e != nil {
		return e
	}
	st.client = client
	if !client.AllowsGrant(st.grant) {
		return &oauthError{code: "unauthorized_client", description: "this client may not use the " + st.grant + " grant",
			status: http.StatusBadRequest, reason: "grant_not_allowed"}
	}
	if st.grant == credentials.GrantClientCredentials {
		scope, e := requestedScope(r, form)
		if e != nil {
			return e
		}
		if st.scope, e = grantScope(client, scope); e != nil {
			return e
		}
		if st.audiences, e = grantAudiences(client, form.Get("resource")); e != nil {
			return e
		}
	}
	return nil
}

// requestedScope reads scope from the body or, as Okta's client-credentials
// variant does, from the URL; both at once must agree.
func requestedScope(r *http.Request, form map[string][]string) (string, *oauthError) {
	body, inBody := form["scope"]
	query := r.URL.Query()["scope"]
	switch {
	case len(query) > 1:
		return "", errInvalidRequest("parameter \"scope\" is repeated")
	case inBody && len(query) == 1 && query[0] != body[0]:
		return "", errInvalidRequest("different scope in the URL and the body")
	case inBody:
		return body[0], nil
	case len(query) == 1:
		return query[0], nil
	}
	return "", nil
}

// grantScope decides the scope of a client-credentials token. No scope asks
// for the client's scopes (Entra admins often leave the box empty). A
// requested scope must be a subset of the client's; scim.full also covers
// asking for just scim.read or scim.write.
func grantScope(c *credentials.Client, requested string) (string, *oauthError) {
	var defaults []string
	for _, sc := range c.Scopes {
		if sc != credentials.ScopeOfflineAccess {
			defaults = append(defaults, sc)
		}
	}
	if strings.TrimSpace(requested) == "" {
		return strings.Join(defaults, " "), nil
	}
	var granted []string
	for _, sc := range strings.Fields(requested) {
		ok := slices.Contains(defaults, sc) ||
			(slices.Contains(defaults, credentials.ScopeFull) && (sc == credentials.ScopeRead || sc == credentials.ScopeWrite))
		if !ok {
			return "", errInvalidScope("scope %q is not allowed for this client; allowed: %s (or leave scope empty)", truncate(sc, 64), strings.Join(defaults, " "))
		}
		if !slices.Contains(granted, sc) {
			granted = append(granted, sc)
		}
	}
	return strings.Join(granted, " "), nil
}

// grantAudiences picks the token audience: the one named by an RFC 8707
// resource parameter, or every audience of the client.
func grantAudiences(c *credentials.Client, resource string) ([]string, *oauthError) {
	if resource == "" {
		return c.Audiences, nil
	}
	if !slices.Contains(c.Audiences, resource) {
		return nil, &oauthError{code: "invalid_target", description: "resource is not one of this client's audiences",
			status: http.StatusBadRequest, reason: "invalid_target"}
	}
	return []string{resource}, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func (s *Server) auditRefusal(ctx context.Context, st *tokenRequest, code, reason string) {
	attrs := []slog.Attr{slog.String("grant", st.grant), slog.String("error", code), slog.String("reason", reason), slog.String("ip", st.ip)}
	if st.client != nil {
		attrs = append(attrs, slog.String("tenant", st.client.TenantID), slog.String("client_id", st.client.ID))
	}
	s.cfg.Metrics.TokenRefused(st.grant, reason)
	s.cfg.Audit.Record(ctx, audit.TokenRefused, attrs...)
}

// clientInfoFromState gives go-oauth2 the client handleToken authenticated.
func clientInfoFromState(r *http.Request) (string, string, error) {
	st := stateFrom(r.Context())
	if st == nil || st.client == nil {
		return "", "", oerrors.ErrInvalidClient
	}
	return st.client.ID, "", nil
}

// scopeFromState replaces the library's scope with the one prepareToken
// decided, and applies the client's token lifetime.
func scopeFromState(tgr *oauth2.TokenGenerateRequest) (bool, error) {
	st := stateFrom(tgr.Request.Context())
	if st == nil || st.client == nil {
		return false, oerrors.ErrInvalidClient
	}
	tgr.Scope = st.scope
	tgr.AccessTokenExp = st.client.AccessTTL
	return true, nil
}

// authenticatedClients is go-oauth2's client store. It only ever returns the
// client handleToken has already authenticated in this request, so the
// library's own plaintext secret comparison (pitfall P1) never runs.
type authenticatedClients struct{}

func (authenticatedClients) GetByID(ctx context.Context, id string) (oauth2.ClientInfo, error) {
	st := stateFrom(ctx)
	if st == nil || st.client == nil || st.client.ID != id {
		return nil, oerrors.ErrInvalidClient
	}
	return clientInfo{st.client}, nil
}

type clientInfo struct{ c *credentials.Client }

func (ci clientInfo) GetID() string     { return ci.c.ID }
func (ci clientInfo) GetSecret() string { return "" }
func (ci clientInfo) GetDomain() string { return "" }
func (ci clientInfo) IsPublic() bool    { return false }
func (ci clientInfo) GetUserID() string { return "" }

// VerifyPassword reports true because the secret was verified against the
// stored hashes, in constant time, before the library was called; the
// library has no secret to compare with.
func (ci clientInfo) VerifyPassword(string) bool { return true }

// statelessTokens is go-oauth2's token store for client-credentials tokens:
// self-contained JWTs are never stored one by one (pitfall P16).
type statelessTokens struct{}

var errNoGrantStore = errors.New("authorization codes and refresh tokens are not enabled")

func (statelessTokens) Create(_ context.Context, ti oauth2.TokenInfo) error {
	if ti.GetCode() != "" || ti.GetRefresh() != "" {
		return errNoGrantStore
	}
	return nil
}
func (statelessTokens) RemoveByCode(context.Context, string) error    { return nil }
func (statelessTokens) RemoveByAccess(context.Context, string) error  { return nil }
func (statelessTokens) RemoveByRefresh(context.Context, string) error { return nil }
func (statelessTokens) GetByCode(context.Context, string) (oauth2.TokenInfo, error) {
	return nil, oerrors.ErrInvalidAuthorizeCode
}
func (statelessTokens) GetByAccess(context.Context, string) (oauth2.TokenInfo, error) {
	return nil, oerrors.ErrInvalidAccessToken
}
func (statelessTokens) GetByRefresh(context.Context, string) (oauth2.TokenInfo, error) {
	return nil, oerrors.ErrInvalidRefreshToken
}

// tokenGenerator mints RFC 9068 access tokens (replacing go-oauth2's
// generator, pitfall P9: wrong typ, no iss/jti/scope/client_id, key re-parsed
// per token).
type tokenGenerator struct{ s *Server }

func (g *tokenGenerator) Token(ctx context.Context, data *oauth2.GenerateBasic, withRefresh bool) (string, string, error) {
	st := stateFrom(data.Request.Context())
	if st == nil || st.client == nil {
		return "", "", oerrors.ErrInvalidClient
	}
	key, err := g.s.deps.Keys.Signer()
	if err != nil {
		return "", "", err
	}
	ti := data.TokenInfo
	created := ti.GetAccessCreateAt()
	sub := data.UserID
	if sub == "" {
		sub = st.client.ID
	}
	claims := &accesstoken.Claims{
		Issuer: g.s.cfg.Issuer, Subject: sub, Audience: st.audiences, ClientID: st.client.ID,
		Scope: ti.GetScope(), ID: accesstoken.NewID(), IssuedAt: created.Unix(),
		ExpiresAt: created.Add(ti.GetAccessExpiresIn()).Unix(), TenantID: st.client.TenantID,
	}
	access, err := accesstoken.Sign(claims, key)
	if err != nil {
		return "", "", err
	}
	st.jti, st.expires = claims.ID, claims.Expiry()
	if withRefresh {
		return "", "", errNoGrantStore
	}
	return access, "", nil
}

// tokenWriter lets the library's response hook reach the request state.
type tokenWriter struct {
	http.ResponseWriter
	st *tokenRequest
}

func writeLibraryResponse(w http.ResponseWriter, data map[string]any, header http.Header, status ...int) error {
	code := http.StatusOK
	if len(status) > 0 && status[0] > 0 {
		code = status[0]
	}
	if tw, ok := w.(*tokenWriter); ok {
		tw.st.status = code
		tw.st.errCode, _ = data["error"].(string)
	}
	for k, v := range header {
		w.Header()[k] = v
	}
	writeJSON(w, code, data)
	return nil
}

// libraryErrorToRFC corrects go-oauth2's error responses: RFC 6749 status
// codes (P7), a challenge on invalid_client (P8), no non-standard
// error_code, and no non-RFC error strings.
func libraryErrorToRFC(re *oerrors.Response) {
	oe := fromLibrary(re.Error)
	re.Error = errors.New(oe.code)
	re.Description = oe.description
	re.StatusCode = oe.status
	re.ErrorCode = 0
	re.URI = ""
	if oe.status == http.StatusUnauthorized {
		re.SetHeader("WWW-Authenticate", `Basic realm="scimgate", charset="UTF-8"`)
	}
}

// libraryInternalError maps errors go-oauth2 does not know. Unexpected ones
// are logged here, once, and answered with a bare server_error.
func (s *Server) libraryInternalError(err error) *oerrors.Response {
	oe := fromLibrary(err)
	if oe.code == "server_error" {
		s.cfg.Logger.Error("token endpoint", "err", err)
	}
	return &oerrors.Response{Error: errors.New(oe.code), Description: oe.description, StatusCode: oe.status}
}
