package authserver

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/go-oauth2/oauth2/v4"
	oerrors "github.com/go-oauth2/oauth2/v4/errors"
	"github.com/go-oauth2/oauth2/v4/models"

	"github.com/scimgate/scimgate/internal/accesstoken"
	"github.com/scimgate/scimgate/internal/audit"
	"github.com/scimgate/scimgate/internal/grants"
)

// prepareCodeGrant redeems the authorization code of a token request before
// go-oauth2 sees it. Redemption is one atomic Take in the shared store, so
// of concurrent requests on any replica exactly one gets the code (P4, P17);
// go-oauth2 then reads the redeemed code from the request state, checks
// client, redirect URI and PKCE verifier against it, and mints the tokens.
func (s *Server) prepareCodeGrant(ctx context.Context, st *tokenRequest, form url.Values) *oauthError {
	code, redirectURI := form.Get("code"), form.Get("redirect_uri")
	switch {
	case code == "":
		return errInvalidRequest("code is required")
	case redirectURI == "":
		return errInvalidRequest("redirect_uri is required: the one sent to the authorization endpoint")
	case !slices.Contains(st.client.RedirectURIs, redirectURI):
		// Checked before the code is spent, so a mistyped redirect URI does
		// not burn the code.
		return errInvalidGrant("redirect_mismatch", "redirect_uri is not the one the code was issued for")
	}
	if v := form.Get("code_verifier"); v != "" && !validVerifier(v) {
		return errInvalidGrant("bad_verifier", "code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636 section 4.1)")
	}
	c, err := s.deps.Grants.RedeemCode(ctx, code)
	var replay *grants.CodeReplayError
	switch {
	case errors.As(err, &replay):
		if e := s.revokeReplayedCode(ctx, st, replay); e != nil {
			return e
		}
		if replay.Expired {
			return errInvalidGrant("code_expired", "the authorization code has expired or was already used")
		}
		return errInvalidGrant("code_replayed", "the authorization code was already used; the tokens issued for it are revoked")
	case errors.Is(err, grants.ErrNotFound):
		return errInvalidGrant("unknown_code", "the authorization code is not valid")
	case err != nil:
		return errUnavailable(err)
	case c.ClientID != st.client.ID || c.TenantID != st.client.TenantID:
		return errInvalidGrant("other_client", "the authorization code was issued to another client")
	case c.RedirectURI != redirectURI:
		return errInvalidGrant("redirect_mismatch", "redirect_uri is not the one the code was issued for")
	case !pkceMatches(c.CodeChallenge, c.CodeChallengeMethod, form.Get("code_verifier")):
		// go-oauth2 repeats this check, but its failure reaches the client
		// as a bare invalid_grant, indistinguishable from a bad code.
		return errInvalidGrant("pkce_mismatch", "code_verifier does not match the code_challenge of the authorization request, or one of them is missing (RFC 7636 section 4.6)")
	}
	audiences, e := narrowAudiences(c.Audiences, st.resource, notGrantedAudience)
	if e != nil {
		return e
	}
	st.code, st.scope, st.audiences, st.redirectURI = c, c.Scope, audiences, redirectURI
	st.subject, st.authTime, st.presetJTI = c.Subject, c.AuthTime, c.AccessJTI
	return nil
}

// pkceMatches checks a code_verifier against the code's challenge (RFC 7636
// §4.6): no challenge wants no verifier (a verifier sent for a code
// without a challenge is a downgrade attempt, RFC 9700 §4.8.2), a
// challenge wants the verifier whose S256 it is.
func pkceMatches(challenge, method, verifier string) bool {
	switch {
	case challenge == "" || verifier == "":
		return challenge == "" && verifier == ""
	case method != string(oauth2.CodeChallengeS256):
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	return subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(challenge)) == 1
}

// validVerifier checks a PKCE code_verifier's syntax (RFC 7636 §4.1).
func validVerifier(v string) bool {
	return len(v) >= 43 && len(v) <= 128 && unreservedOnly(v)
}

func unreservedOnly(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

func errInvalidGrant(reason, description string) *oauthError {
	return &oauthError{code: "invalid_grant", description: description, status: http.StatusBadRequest, reason: reason}
}

// revokeReplayedCode revokes what the first redemption of a code issued, or
// will issue (RFC 6749 §4.1.2): the access token by its jti, chosen when the
// code was made, and the refresh-token family, also named in advance. A
// family that does not exist yet is revoked ahead of its creation, so a
// replay that overtakes the first redemption still wins. A store failure is
// a server error: the client retries, the retry replays again, and the
// revocation is done then.
func (s *Server) revokeReplayedCode(ctx context.Context, st *tokenRequest, replay *grants.CodeReplayError) *oauthError {
	if err := s.deps.Revocations.Revoke(ctx, replay.AccessJTI, s.denyUntil(replay.AccessExpiresBy)); err != nil {
		return errUnavailable(err)
	}
	f, err := s.deps.Grants.RevokeFamily(ctx, replay.FamilyID, "code_replayed")
	if err != nil {
		return errUnavailable(err)
	}
	if e := s.denyFamilyAccess(ctx, f); e != nil {
		return e
	}
	reason := "code_replayed"
	if replay.Expired {
		reason = "code_expired"
	}
	s.cfg.Audit.Record(ctx, audit.TokenRevoked, slog.String("reason", reason), slog.String("tenant", replay.TenantID),
		slog.String("client_id", replay.ClientID), slog.String("by_client_id", st.client.ID),
		slog.String("family", replay.FamilyID), slog.String("jti", replay.AccessJTI))
	return nil
}

// denyUntil is how long a token that expires at exp stays on the
// deny-list: as long as any verifier may accept it. A verifier allows the
// leeway past exp on its own clock, which may lag this replica's, which
// times the entry, by up to the leeway again; the second covers exp's
// whole seconds.
func (s *Server) denyUntil(exp time.Time) time.Time { return exp.Add(2*s.cfg.Leeway + time.Second) }

// denyFamilyAccess puts every live access token a family issued on the
// deny-list until no verifier accepts it.
func (s *Server) denyFamilyAccess(ctx context.Context, f *grants.Family) *oauthError {
	for _, a := range f.LiveAccess(s.cfg.Now()) {
		if err := s.deps.Revocations.Revoke(ctx, a.JTI, s.denyUntil(a.Expires)); err != nil {
			return errUnavailable(err)
		}
	}
	return nil
}

// codeGenerator is go-oauth2's authorization-code generator: 256-bit
// opaque codes with a prefix secret scanners recognise.
type codeGenerator struct{}

func (codeGenerator) Token(context.Context, *oauth2.GenerateBasic) (string, error) {
	return grants.NewCode(), nil
}

// grantTokens is go-oauth2's token store. Access tokens are self-contained
// JWTs and are never stored one by one (P16); authorization codes and
// refresh-token families live in internal/grants, keyed by hash.
type grantTokens struct{ s *Server }

var errNoGrantStore = errors.New("authorization codes and refresh tokens are not enabled")

// Create stores what go-oauth2 produced: a code at the consent step, or the
// first refresh token of a family when a code is redeemed.
func (g grantTokens) Create(ctx context.Context, ti oauth2.TokenInfo) error {
	if ti.GetCode() == "" && ti.GetRefresh() == "" {
		return nil
	}
	st := stateFrom(ctx)
	if g.s.deps.Grants == nil || st == nil || st.client == nil {
		return errNoGrantStore
	}
	if ti.GetAccess() == "" {
		return g.s.saveCode(ctx, st, ti)
	}
	return g.s.startFamily(ctx, st, ti)
}

func (s *Server) saveCode(ctx context.Context, st *tokenRequest, ti oauth2.TokenInfo) error {
	c, err := s.deps.Grants.SaveCode(ctx, ti.GetCode(), grants.Code{
		ClientID: st.client.ID, RedirectURI: ti.GetRedirectURI(), Scope: ti.GetScope(), Audiences: st.audiences,
		CodeChallenge: ti.GetCodeChallenge(), CodeChallengeMethod: ti.GetCodeChallengeMethod().String(),
		Subject: ti.GetUserID(), TenantID: st.client.TenantID, AuthTime: st.authTime,
		AccessTTL: st.client.AccessTTL, AccessJTI: accesstoken.NewID(),
	})
	if err != nil {
		return err
	}
	st.code = c
	return nil
}

func (s *Server) startFamily(ctx context.Context, st *tokenRequest, ti oauth2.TokenInfo) error {
	f, err := s.deps.Grants.StartFamily(ctx, ti.GetRefresh(), grants.Family{
		ClientID: st.client.ID, TenantID: st.client.TenantID, Subject: ti.GetUserID(), Scope: ti.GetScope(),
		// What the code granted, not the access token's audience, which a
		// resource parameter may have narrowed.
		Audiences: st.code.Audiences, AuthTime: st.authTime,
	}, grants.IssuedAccess{JTI: st.jti, Expires: st.expires})
	if errors.Is(err, grants.ErrRevoked) {
		// A replay of the code revoked the family before it existed.
		st.refusal = "code_replayed"
		return errInvalidGrant("code_replayed", "the authorization code was already used; the tokens issued for it are revoked")
	}
	if err != nil {
		return err
	}
	st.family = f
	return nil
}

// GetByCode hands go-oauth2 the code prepareCodeGrant redeemed, for the
// library's client, redirect URI, expiry and PKCE checks.
func (grantTokens) GetByCode(ctx context.Context, code string) (oauth2.TokenInfo, error) {
	st := stateFrom(ctx)
	if st == nil || st.code == nil {
		return nil, oerrors.ErrInvalidAuthorizeCode
	}
	c := st.code
	ti := models.NewToken()
	ti.SetCode(code)
	ti.SetClientID(c.ClientID)
	ti.SetUserID(c.Subject)
	ti.SetRedirectURI(c.RedirectURI)
	ti.SetScope(c.Scope)
	ti.SetCodeCreateAt(c.Created)
	ti.SetCodeExpiresIn(c.Expires.Sub(c.Created))
	ti.SetAccessExpiresIn(st.client.AccessTTL)
	if c.CodeChallenge != "" {
		ti.SetCodeChallenge(c.CodeChallenge)
		ti.SetCodeChallengeMethod(oauth2.CodeChallengeMethod(c.CodeChallengeMethod))
	}
	return ti, nil
}

// RemoveByCode has nothing to do: redeeming already removed the code.
func (grantTokens) RemoveByCode(context.Context, string) error    { return nil }
func (grantTokens) RemoveByAccess(context.Context, string) error  { return nil }
func (grantTokens) RemoveByRefresh(context.Context, string) error { return nil }
func (grantTokens) GetByAccess(context.Context, string) (oauth2.TokenInfo, error) {
	return nil, oerrors.ErrInvalidAccessToken
}

// GetByRefresh is never the path to a refresh: strictManager does the whole
// grant against the atomic family record (P4).
func (grantTokens) GetByRefresh(context.Context, string) (oauth2.TokenInfo, error) {
	return nil, oerrors.ErrInvalidRefreshToken
}
