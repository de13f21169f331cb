package authserver

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/scimgate/scimgate/internal/credentials"
)

// authenticateClient checks the request's client credentials with
// brute-force throttling (RFC 6749 §2.3.1):
//
//   - an address with too many recent failures is refused outright;
//   - a client id with too many recent failures is refused only from
//     addresses that have failed recently themselves, so an attacker who
//     hammers a known client id cannot lock the real IdP out — its address
//     has no failures and its secret is right.
//
// Only failures consume the budgets, and a denied attempt consumes nothing,
// so blocks lift on schedule.
func (s *Server) authenticateClient(r *http.Request, form url.Values, ip string) (*credentials.Client, *oauthError) {
	ctx := r.Context()
	id, secret, e := clientCredentials(r, form)
	if e != nil {
		return nil, e
	}
	ipKey, clientKey := "token-fail:ip:"+ip, "token-fail:client:"+id
	lim := s.deps.Limiter
	ipState, err := lim.Peek(ctx, ipKey, s.cfg.FailuresPerIP)
	if err != nil {
		s.cfg.Logger.WarnContext(ctx, "token endpoint throttle unavailable", "err", err)
	} else if !ipState.Allowed {
		return nil, errThrottled(ipState.RetryAfter)
	}
	if err == nil && ipState.Remaining < s.cfg.FailuresPerIP.Burst {
		if clientState, err := lim.Peek(ctx, clientKey, s.cfg.FailuresPerClient); err == nil && !clientState.Allowed {
			return nil, errThrottled(clientState.RetryAfter)
		}
	}
	client, err := s.deps.Clients.AuthenticateClient(ctx, id, secret)
	var ae *credentials.AuthError
	switch {
	case errors.As(err, &ae):
		_, _ = lim.Allow(ctx, ipKey, s.cfg.FailuresPerIP)
		_, _ = lim.Allow(ctx, clientKey, s.cfg.FailuresPerClient)
		e := errInvalidClient(ae.Reason)
		e.clientID, e.tenant = ae.ClientID, ae.TenantID
		return nil, e
	case err != nil:
		return nil, errUnavailable(err)
	}
	return client, nil
}
