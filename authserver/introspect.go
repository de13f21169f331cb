package authserver

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/scimgate/scimgate/internal/accesstoken"
	"github.com/scimgate/scimgate/internal/audit"
	"github.com/scimgate/scimgate/internal/credentials"
	"github.com/scimgate/scimgate/internal/grants"
)

// inspect verifies a presented access token for introspection on behalf of
// caller. It returns nil claims for anything that is not a live token of the
// caller's tenant: RFC 7662 answers those with active:false and nothing
// else, so another tenant's token looks exactly like garbage. Live is judged
// on this server's own clock: the verifier's leeway is for resource servers
// whose clocks differ from the issuer's, and a token past its exp here is
// not active (RFC 7662 §2.2). Nor is the token of a client that has since
// been disabled or deleted, which the gateway refuses.
func (s *Server) inspect(r *http.Request, caller *credentials.Client, token string) (*accesstoken.Claims, error) {
	claims, err := s.verifier.Verify(token, "")
	if err != nil || claims.TenantID != caller.TenantID {
		return nil, nil
	}
	if now := s.cfg.Now(); !now.Before(claims.Expiry()) || claims.NotBefore != 0 && now.Unix() < claims.NotBefore {
		return nil, nil
	}
	revoked, err := s.deps.Revocations.Revoked(r.Context(), claims.ID)
	if err != nil {
		return nil, err
	}
	if revoked {
		return nil, nil
	}
	if active, err := s.tokenClientActive(r, claims.ClientID, claims.TenantID); err != nil || !active {
		return nil, err
	}
	return claims, nil
}

// tokenClientActive reports whether the client a token was issued to still
// exists in tenant and is enabled. The gateway refuses the tokens of a
// disabled or deleted client; introspection must not call them active
// (RFC 7662 §2.2). Without a way to look clients up it reports true.
func (s *Server) tokenClientActive(r *http.Request, clientID, tenant string) (bool, error) {
	d := s.clientLookup()
	if d == nil {
		return true, nil
	}
	c, err := d.Client(r.Context(), clientID)
	switch {
	case errors.Is(err, credentials.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	return !c.Disabled && c.TenantID == tenant, nil
}

// clientFinder looks a client up by id, without its secret.
type clientFinder interface {
	Client(ctx context.Context, id string) (*credentials.Client, error)
}

// clientLookup is Deps.Directory, or Deps.Clients when it can look clients
// up too (credentials.Service can).
func (s *Server) clientLookup() clientFinder {
	if s.deps.Directory != nil {
		return s.deps.Directory
	}
	if f, ok := s.deps.Clients.(clientFinder); ok {
		return f
	}
	return nil
}

// handleIntrospect is POST /oauth2/introspect (RFC 7662). The caller must
// authenticate as a client; it sees only its own tenant's tokens.
func (s *Server) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	caller, token, e := s.tokenRequestOf(w, r)
	if e != nil {
		s.fail(w, r, e)
		return
	}
	if s.isRefreshToken(token) {
		s.introspectRefresh(w, r, caller, token)
		return
	}
	claims, err := s.inspect(r, caller, token)
	if err != nil {
		s.fail(w, r, errUnavailable(err))
		return
	}
	if claims == nil {
		writeJSON(w, http.StatusOK, map[string]bool{"active": false})
		return
	}
	resp := map[string]any{
		"active": true, "token_type": "Bearer", "scope": claims.Scope, "client_id": claims.ClientID,
		"sub": claims.Subject, "aud": claims.Audience, "iss": claims.Issuer, "exp": claims.ExpiresAt,
		"iat": claims.IssuedAt, "jti": claims.ID, "tenant_id": claims.TenantID,
	}
	if claims.NotBefore != 0 {
		resp["nbf"] = claims.NotBefore
	}
	writeJSON(w, http.StatusOK, resp)
}

// handleRevoke is POST /oauth2/revoke (RFC 7009). Unknown, malformed and
// already expired tokens are answered 200 like successful revocations
// (§2.2). A token issued to another client, of this tenant or another, is
// refused and stays valid (§2.1): one tenant's Okta app must not be able to
// disconnect its Entra app. Operators have no endpoint for one token: they
// disable or delete the client (README, "How long a revoked credential
// keeps working").
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	caller, token, e := s.tokenRequestOf(w, r)
	if e != nil {
		s.fail(w, r, e)
		return
	}
	if s.isRefreshToken(token) {
		s.revokeRefresh(w, r, caller, token)
		return
	}
	claims, err := s.verifier.Verify(token, "")
	if err != nil {
		writeJSON(w, http.StatusOK, struct{}{})
		return
	}
	if e := notIssuedTo(caller, claims.TenantID, claims.ClientID); e != nil {
		s.fail(w, r, e)
		return
	}
	until := s.denyUntil(claims.Expiry())
	if err := s.deps.Revocations.Revoke(r.Context(), claims.ID, until); err != nil {
		s.fail(w, r, errUnavailable(err))
		return
	}
	s.cfg.Audit.Record(r.Context(), audit.TokenRevoked, slog.String("tenant", caller.TenantID), slog.String("by_client_id", caller.ID),
		slog.String("client_id", claims.ClientID), slog.String("jti", claims.ID))
	writeJSON(w, http.StatusOK, struct{}{})
}

// isRefreshToken tells refresh tokens from access tokens by their prefix,
// whatever token_type_hint says.
func (s *Server) isRefreshToken(token string) bool {
	return s.deps.Grants != nil && strings.HasPrefix(token, grants.RefreshPrefix)
}

// introspectRefresh answers RFC 7662 for a refresh token: active while it is
// its family's head (or the previous head inside the grace window) and the
// family is neither revoked nor idle past its lifetime. Another tenant's
// token looks like garbage.
func (s *Server) introspectRefresh(w http.ResponseWriter, r *http.Request, caller *credentials.Client, token string) {
	f, status, err := s.deps.Grants.Inspect(r.Context(), token)
	switch {
	case errors.Is(err, grants.ErrNotFound):
		writeJSON(w, http.StatusOK, map[string]bool{"active": false})
		return
	case err != nil:
		s.fail(w, r, errUnavailable(err))
		return
	}
	if f.Revoked || status == grants.StatusRotated || f.TenantID != caller.TenantID {
		writeJSON(w, http.StatusOK, map[string]bool{"active": false})
		return
	}
	if active, err := s.tokenClientActive(r, f.ClientID, f.TenantID); err != nil {
		s.fail(w, r, errUnavailable(err))
		return
	} else if !active {
		writeJSON(w, http.StatusOK, map[string]bool{"active": false})
		return
	}
	issued := f.Created
	if !f.RotatedAt.IsZero() {
		issued = f.RotatedAt
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"active": true, "scope": f.Scope, "client_id": f.ClientID, "sub": f.Subject, "iss": s.cfg.Issuer,
		"exp": f.Expires.Unix(), "iat": issued.Unix(), "tenant_id": f.TenantID,
	})
}

// revokeRefresh revokes the whole family of a refresh token (RFC 7009 §2.1:
// revoking a refresh token SHOULD invalidate the access tokens of the same
// grant) and deny-lists the access tokens it issued. Any genuine token of
// the family counts, also a rotated-out one.
func (s *Server) revokeRefresh(w http.ResponseWriter, r *http.Request, caller *credentials.Client, token string) {
	ctx := r.Context()
	f, _, err := s.deps.Grants.Inspect(ctx, token)
	switch {
	case errors.Is(err, grants.ErrNotFound):
		writeJSON(w, http.StatusOK, struct{}{})
		return
	case err != nil:
		s.fail(w, r, errUnavailable(err))
		return
	}
	if e := notIssuedTo(caller, f.TenantID, f.ClientID); e != nil {
		s.fail(w, r, e)
		return
	}
	revoked, err := s.deps.Grants.RevokeFamily(ctx, f.ID, "revoked_by_client")
	if err != nil {
		s.fail(w, r, errUnavailable(err))
		return
	}
	if e := s.denyFamilyAccess(ctx, revoked); e != nil {
		s.fail(w, r, e)
		return
	}
	s.cfg.Audit.Record(ctx, audit.TokenRevoked, slog.String("tenant", caller.TenantID), slog.String("by_client_id", caller.ID),
		slog.String("client_id", f.ClientID), slog.String("family", f.ID))
	writeJSON(w, http.StatusOK, struct{}{})
}

// notIssuedTo refuses the revocation of a token of tenant and client that
// caller did not receive (RFC 7009 §2.1). The reason tells audit and
// metrics a probe across tenants from a mistake within one.
func notIssuedTo(caller *credentials.Client, tenant, client string) *oauthError {
	var reason string
	switch {
	case tenant != caller.TenantID:
		reason = "other_tenant"
	case client != caller.ID:
		reason = "other_client"
	default:
		return nil
	}
	return &oauthError{code: "unauthorized_client", description: "the token was not issued to this client",
		status: http.StatusBadRequest, reason: reason}
}

// tokenRequestOf parses an introspection or revocation request and
// authenticates its client.
func (s *Server) tokenRequestOf(w http.ResponseWriter, r *http.Request) (*credentials.Client, string, *oauthError) {
	form, e := parseForm(w, r)
	if e != nil {
		return nil, "", e
	}
	caller, e := s.authenticateClient(r, form, s.cfg.ClientIP(r))
	if e != nil {
		return nil, "", e
	}
	token := form.Get("token")
	if token == "" {
		return nil, "", errInvalidRequest("token is required")
	}
	// token_type_hint is only a hint (RFC 7009 §2.1): a wrong one changes nothing.
	return caller, token, nil
}

// fail renders e and logs its internal cause, once.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, e *oauthError) {
	if e.cause != nil && !errors.Is(e.cause, r.Context().Err()) {
		s.cfg.Logger.ErrorContext(r.Context(), "authorization server", "path", r.URL.Path, "err", e.cause)
	}
	writeError(w, e)
}
