package authserver

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/go-oauth2/oauth2/v4"
	oerrors "github.com/go-oauth2/oauth2/v4/errors"
	"github.com/go-oauth2/oauth2/v4/manage"
	"github.com/go-oauth2/oauth2/v4/models"

	"github.com/scimgate/scimgate/internal/accesstoken"
	"github.com/scimgate/scimgate/internal/audit"
	"github.com/scimgate/scimgate/internal/grants"
)

// strictManager is go-oauth2's manager with the refresh grant replaced.
// The library's RefreshAccessToken never checks which client presents the
// token (P2), reads and deletes the old token in two steps so two callers
// can both win (P4), checks scope only when one is sent (P10) and knows no
// reuse detection (P12). Here the whole grant runs against the family
// record in internal/grants, whose single atomic Update picks the winner.
type strictManager struct {
	*manage.Manager
	s *Server
}

// RefreshAccessToken runs the refresh grant for the client prepareToken
// authenticated.
func (m *strictManager) RefreshAccessToken(ctx context.Context, tgr *oauth2.TokenGenerateRequest) (oauth2.TokenInfo, error) {
	st := stateFrom(ctx)
	if st == nil || st.client == nil || st.client.ID != tgr.ClientID {
		return nil, oerrors.ErrInvalidClient
	}
	ti, err := m.s.refresh(ctx, st, tgr)
	var oe *oauthError
	if errors.As(err, &oe) {
		st.refusal = oe.reason
	}
	return ti, err
}

func (s *Server) refresh(ctx context.Context, st *tokenRequest, tgr *oauth2.TokenGenerateRequest) (oauth2.TokenInfo, error) {
	g := s.deps.Grants
	// The family's client and scope never change, so reading them before
	// the rotation is safe; refusing here leaves the family untouched.
	f, _, err := g.Inspect(ctx, tgr.Refresh)
	switch {
	case errors.Is(err, grants.ErrNotFound):
		return nil, errInvalidGrant("unknown_refresh_token", "the refresh token is invalid, expired or revoked")
	case err != nil:
		return nil, errUnavailable(err)
	case f.ClientID != st.client.ID:
		return nil, errInvalidGrant("other_client", "the refresh token was issued to another client")
	}
	scope, refused := narrowScope(strings.Fields(f.Scope), tgr.Scope)
	if refused != "" {
		return nil, errInvalidScope("scope '%s' was not granted; a refresh may only ask for the granted scope (%s) or less", truncate(refused, 64), f.Scope)
	}
	audiences, e := narrowAudiences(f.Audiences, st.resource, notGrantedAudience)
	if e != nil {
		return nil, e
	}
	now := s.cfg.Now()
	jti := accesstoken.NewID()
	res, err := g.Rotate(ctx, tgr.Refresh, grants.Rotation{ClientID: st.client.ID,
		Access: grants.IssuedAccess{JTI: jti, Expires: now.Add(st.client.AccessTTL)}})
	var reuse *grants.ReuseError
	switch {
	case errors.As(err, &reuse):
		return nil, s.refreshReused(ctx, st, reuse.Family)
	case errors.Is(err, grants.ErrWrongClient):
		return nil, errInvalidGrant("other_client", "the refresh token was issued to another client")
	case errors.Is(err, grants.ErrNotFound), errors.Is(err, grants.ErrRevoked):
		return nil, errInvalidGrant("unknown_refresh_token", "the refresh token is invalid, expired or revoked")
	case errors.Is(err, grants.ErrTooManyAccess):
		// Only a client refreshing in a loop gets here; the family stays
		// as it was, and a refresh works again once a token expires.
		return nil, errInvalidGrant("too_many_access_tokens", "this grant has too many unexpired access tokens; use one of them, or refresh when one has expired")
	case err != nil:
		return nil, errUnavailable(err)
	}
	st.family, st.scope, st.audiences = res.Family, scope, audiences
	st.subject, st.authTime, st.presetJTI = res.Family.Subject, res.Family.AuthTime, jti

	ti := models.NewToken()
	ti.SetClientID(st.client.ID)
	ti.SetUserID(res.Family.Subject)
	ti.SetScope(scope)
	ti.SetAccessCreateAt(now)
	ti.SetAccessExpiresIn(st.client.AccessTTL)
	access, _, err := (&tokenGenerator{s: s}).Token(ctx, &oauth2.GenerateBasic{
		Client: clientInfo{c: st.client}, UserID: res.Family.Subject, CreateAt: now, TokenInfo: ti, Request: tgr.Request,
	}, false)
	if err != nil {
		return nil, errUnavailable(err)
	}
	ti.SetAccess(access)
	// Every refresh response carries the family's head (RFC 6749 §6 lets
	// the client keep the old one otherwise, which rotation would punish).
	ti.SetRefresh(res.Token)
	ti.SetRefreshCreateAt(now)
	ti.SetRefreshExpiresIn(res.Family.Expires.Sub(now))
	return ti, nil
}

// refreshReused answers a rotated-out refresh token that came back after
// the grace window (RFC 9700 §4.14.2): the family is already revoked by
// grants; its access tokens go on the deny-list.
func (s *Server) refreshReused(ctx context.Context, st *tokenRequest, f *grants.Family) *oauthError {
	if e := s.denyFamilyAccess(ctx, f); e != nil {
		return e
	}
	s.cfg.Audit.Record(ctx, audit.RefreshReuse, slog.String("tenant", f.TenantID), slog.String("client_id", f.ClientID),
		slog.String("by_client_id", st.client.ID), slog.String("family", f.ID), slog.String("sub", f.Subject), slog.String("ip", st.ip))
	return errInvalidGrant("refresh_reuse", "the refresh token was already used; every token of this grant is revoked")
}
