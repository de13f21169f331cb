package authserver

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-oauth2/oauth2/v4"
	oerrors "github.com/go-oauth2/oauth2/v4/errors"

	"github.com/scimgate/scimgate/internal/accesstoken"
	"github.com/scimgate/scimgate/internal/audit"
	"github.com/scimgate/scimgate/internal/credentials"
	"github.com/scimgate/scimgate/internal/grants"
	"github.com/scimgate/scimgate/internal/jsontext"
)

// tokenRequest is what handleToken (or, for authorization codes, the
// consent step) learned about one request before handing it to go-oauth2,
// and what it needs to know afterwards. It travels in the request context.
type tokenRequest struct {
	ip        string
	grant     string
	client    *credentials.Client
	scope     string
	audiences []string
	// resource is the token request's RFC 8707 resource parameter.
	resource string
	// redirectURI is the registered redirect URI this request was checked
	// against; go-oauth2 compares the presented one with it again (P5).
	redirectURI string
	// subject, authTime and presetJTI shape code-flow tokens: the admin who
	// consented, when they signed in, and the jti chosen in advance (so a
	// replayed code can revoke the token before it exists).
	subject   string
	authTime  time.Time
	presetJTI string
	// code is the authorization code handleToken redeemed or the consent
	// step issued; family the refresh-token family started or rotated.
	code   *grants.Code
	family *grants.Family
	// set while the response is produced
	status  int
	errCode string
	// refusal is the audit reason of an error raised inside go-oauth2's
	// call into our code, which the library's error path would drop.
	refusal string
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
		s.auditRefusal(ctx, st, e)
		s.fail(w, r, e)
		return
	}
	tw := &tokenWriter{ResponseWriter: w, st: st}
	_ = s.oauth.HandleTokenRequest(tw, r.WithContext(withState(ctx, st)))
	if st.status == http.StatusOK {
		s.cfg.Metrics.TokenIssued(st.grant)
		attrs := []slog.Attr{slog.String("grant", st.grant), slog.String("tenant", st.client.TenantID),
			slog.String("client_id", st.client.ID), slog.String("scope", st.scope), slog.String("jti", st.jti)}
		if st.subject != "" {
			attrs = append(attrs, slog.String("sub", st.subject))
		}
		if st.family != nil {
			attrs = append(attrs, slog.String("family", st.family.ID))
		}
		s.cfg.Audit.Record(ctx, audit.TokenIssued, attrs...)
		return
	}
	reason := st.errCode
	if st.refusal != "" {
		reason = st.refusal
	}
	s.auditRefusal(ctx, st, &oauthError{code: st.errCode, reason: reason})
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
	case credentials.GrantClientCredentials:
	case credentials.GrantAuthorizationCode, credentials.GrantRefreshToken:
		if s.deps.Grants == nil {
			return &oauthError{code: "unsupported_grant_type", description: "this server issues client_credentials tokens only",
				status: http.StatusBadRequest, reason: "unsupported_grant_type"}
		}
	default:
		return &oauthError{code: "unsupported_grant_type", description: "supported grant types: client_credentials, authorization_code, refresh_token",
			status: http.StatusBadRequest, reason: "unsupported_grant_type"}
	}
	client, e := s.authenticateClient(r, form, st.ip)
	if e != nil {
		return e
	}
	st.client, st.resource = client, form.Get("resource")
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
		if st.audiences, e = grantAudiences(client, st.resource); e != nil {
			return e
		}
	}
	switch st.grant {
	case credentials.GrantAuthorizationCode:
		return s.prepareCodeGrant(r.Context(), st, form)
	case credentials.GrantRefreshToken:
		if form.Get("refresh_token") == "" {
			return errInvalidRequest("refresh_token is required")
		}
		// go-oauth2 reads the narrowed scope with FormValue, body first,
		// then the URL: both must agree here, as for client credentials.
		if _, e := requestedScope(r, form); e != nil {
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
	granted, refused := narrowScope(defaults, requested)
	if refused != "" {
		return "", errInvalidScope("scope '%s' is not allowed for this client; allowed: %s (or leave scope empty)", truncate(refused, 64), strings.Join(defaults, " "))
	}
	return granted, nil
}

// narrowScope grants requested out of allowed: every requested scope must be
// allowed, or be scim.read or scim.write while scim.full is allowed.
// Duplicates collapse; an empty request gets all of allowed. It returns the
// first scope that is not allowed, if any.
func narrowScope(allowed []string, requested string) (granted, refused string) {
	if strings.TrimSpace(requested) == "" {
		return strings.Join(allowed, " "), ""
	}
	var out []string
	for _, sc := range strings.Fields(requested) {
		ok := slices.Contains(allowed, sc) ||
			(slices.Contains(allowed, credentials.ScopeFull) && (sc == credentials.ScopeRead || sc == credentials.ScopeWrite))
		if !ok {
			return "", sc
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return strings.Join(out, " "), ""
}

// grantAudiences picks the token audience: the one named by an RFC 8707
// resource parameter, or every audience of the client.
func grantAudiences(c *credentials.Client, resource string) ([]string, *oauthError) {
	return narrowAudiences(c.Audiences, resource, "resource is not one of this client's audiences")
}

// narrowAudiences restricts allowed to the audience named by an RFC 8707
// resource parameter, which must be one of them; no resource keeps them
// all. A code or refresh-token request may narrow what was granted at
// authorization, never widen it (RFC 8707 §2.2).
func narrowAudiences(allowed []string, resource, refusal string) ([]string, *oauthError) {
	if resource == "" {
		return allowed, nil
	}
	if !slices.Contains(allowed, resource) {
		return nil, &oauthError{code: "invalid_target", description: refusal, status: http.StatusBadRequest, reason: "invalid_target"}
	}
	return []string{resource}, nil
}

const notGrantedAudience = "resource is not one of the audiences granted at authorization"

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// auditRefusal records a refused token request, naming the client once it
// is known: authenticated, or found but failing authentication.
func (s *Server) auditRefusal(ctx context.Context, st *tokenRequest, e *oauthError) {
	attrs := []slog.Attr{slog.String("grant", st.grant), slog.String("error", e.code), slog.String("reason", e.reason), slog.String("ip", st.ip)}
	switch {
	case st.client != nil:
		attrs = append(attrs, slog.String("tenant", st.client.TenantID), slog.String("client_id", st.client.ID))
	case e.clientID != "":
		attrs = append(attrs, slog.String("tenant", e.tenant), slog.String("client_id", e.clientID))
	}
	s.cfg.Metrics.TokenRefused(st.grant, e.reason)
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
// client handleToken has already authenticated (or the consent step has
// looked up) in this request, so the library's own plaintext secret
// comparison (pitfall P1) never runs.
type authenticatedClients struct{}

func (authenticatedClients) GetByID(ctx context.Context, id string) (oauth2.ClientInfo, error) {
	st := stateFrom(ctx)
	if st == nil || st.client == nil || st.client.ID != id {
		return nil, oerrors.ErrInvalidClient
	}
	return clientInfo{c: st.client, redirectURI: st.redirectURI}, nil
}

type clientInfo struct {
	c           *credentials.Client
	redirectURI string
}

func (ci clientInfo) GetID() string     { return ci.c.ID }
func (ci clientInfo) GetSecret() string { return "" }
func (ci clientInfo) IsPublic() bool    { return false }
func (ci clientInfo) GetUserID() string { return "" }

// GetDomain is what go-oauth2 matches a presented redirect URI against: the
// one registered URI this request was already checked against, so the
// library's check repeats ours exactly (P5).
func (ci clientInfo) GetDomain() string { return ci.redirectURI }

// VerifyPassword reports true because the secret was verified against the
// stored hashes, in constant time, before the library was called; the
// library has no secret to compare with.
func (ci clientInfo) VerifyPassword(string) bool { return true }

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
	if st.grant != credentials.GrantRefreshToken {
		// go-oauth2 stamps client-credentials and code tokens with
		// time.Now; they are issued on the server's clock, which
		// introspection and the gateway verify them on (the refresh grant
		// set it already).
		created = g.s.cfg.Now()
		ti.SetAccessCreateAt(created)
	}
	sub := data.UserID
	if sub == "" {
		sub = st.client.ID
	}
	jti := st.presetJTI
	if jti == "" {
		jti = accesstoken.NewID()
	}
	claims := &accesstoken.Claims{
		Issuer: g.s.cfg.Issuer, Subject: sub, Audience: st.audiences, ClientID: st.client.ID,
		Scope: ti.GetScope(), ID: jti, IssuedAt: created.Unix(),
		ExpiresAt: created.Add(ti.GetAccessExpiresIn()).Unix(), TenantID: st.client.TenantID,
	}
	if !st.authTime.IsZero() {
		claims.AuthTime = st.authTime.Unix()
	}
	access, err := accesstoken.Sign(claims, key)
	if err != nil {
		return "", "", err
	}
	st.jti, st.expires = claims.ID, claims.Expiry()
	if !withRefresh || !grantsRefresh(st, ti.GetScope()) {
		return access, "", nil
	}
	return access, grants.NewRefreshToken(st.code.FamilyID), nil
}

// grantsRefresh reports whether redeeming a code yields a refresh token:
// only when offline_access was granted and the client may refresh.
func grantsRefresh(st *tokenRequest, scope string) bool {
	return st.code != nil && st.client.AllowsGrant(credentials.GrantRefreshToken) &&
		slices.Contains(strings.Fields(scope), credentials.ScopeOfflineAccess)
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
	access, _ := data["access_token"].(string)
	if body, ok := appendTokenResponse(make([]byte, 0, tokenResponseSize+len(access)), data); ok {
		writeJSONBytes(w, code, body)
		return nil
	}
	writeJSON(w, code, data)
	return nil
}

// tokenResponseSize is a token response's length without the access
// token, and room for a scope and a refresh token.
const tokenResponseSize = 256

// tokenFields are the members of go-oauth2's token response
// (Server.GetTokenData), in the order encoding/json writes a map's keys.
var tokenFields = [...]string{"access_token", "expires_in", "refresh_token", "scope", "token_type"}

// appendTokenResponse writes a token response as json.Marshal writes the
// map, without reflection. It reports false, having written nothing
// useful, for any other map: other members or other types.
func appendTokenResponse(dst []byte, data map[string]any) ([]byte, bool) {
	n := 0
	dst = append(dst, '{')
	for _, key := range tokenFields {
		v, ok := data[key]
		if !ok {
			continue
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		dst = append(dst, '"')
		dst = append(dst, key...)
		dst = append(dst, '"', ':')
		switch v := v.(type) {
		case string:
			dst = jsontext.AppendString(dst, v)
		case int64:
			dst = strconv.AppendInt(dst, v, 10)
		default:
			return dst, false
		}
	}
	return append(dst, '}'), n == len(data)
}

// libraryErrorToRFC corrects go-oauth2's error responses: RFC 6749 status
// codes (P7), the headers writeError sets (a challenge on invalid_client
// (P8), Retry-After), no non-standard error_code, and no non-RFC error
// strings.
func libraryErrorToRFC(re *oerrors.Response) {
	oe := fromLibrary(re.Error)
	re.Error = errors.New(oe.code)
	re.Description = descriptionText(oe.description)
	re.StatusCode = oe.status
	re.ErrorCode = 0
	re.URI = ""
	oe.setHeaders(re.SetHeader)
}

// libraryInternalError maps errors go-oauth2 does not know: those of our
// own code it called (the store, signing) and its own defects. They are
// logged here, once, and answered without their details.
func (s *Server) libraryInternalError(err error) *oerrors.Response {
	oe := fromLibrary(err)
	if oe.status >= http.StatusInternalServerError {
		s.cfg.Logger.Error("token endpoint", "err", err)
	}
	// libraryErrorToRFC, which go-oauth2 calls next, adds the headers and
	// replaces oe by its code; handing it oe itself keeps the description.
	return &oerrors.Response{Error: oe, Description: oe.description, StatusCode: oe.status}
}
