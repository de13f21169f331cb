package adminapi

import (
	"fmt"
	"slices"
	"strings"

	"github.com/scimgate/scimgate/config"
	"github.com/scimgate/scimgate/internal/credentials"
)

// Endpoint paths relative to the issuer; authserver serves them.
const (
	tokenPath     = "/oauth2/token"
	authorizePath = "/oauth2/authorize"
)

// tenantPlaceholder is the segment of a route prefix that the tenant id
// replaces in a SCIM base URL.
const tenantPlaceholder = "{tenant}"

// Site is what the management operations know of the deployment: enough to
// pick a credential's audience and to build the URLs an IdP admin pastes.
type Site struct {
	// Issuer is the public base URL (config issuer).
	Issuer string
	// Routes are the gateway routes, in configuration order.
	Routes []config.Route
}

// SiteOf takes the Site from a loaded configuration.
func SiteOf(cfg *config.Config) Site {
	return Site{Issuer: cfg.Issuer, Routes: cfg.Gateway.Routes}
}

// TokenEndpoint is the OAuth token endpoint URL.
func (s Site) TokenEndpoint() string { return s.Issuer + tokenPath }

// AuthorizationEndpoint is the OAuth authorization endpoint URL.
func (s Site) AuthorizationEndpoint() string { return s.Issuer + authorizePath }

// audience is the aud a token must carry for route r. Load fills it in; a
// Config built in code may leave it empty, meaning issuer + prefix.
func (s Site) audience(r config.Route) string {
	if r.Audience != "" {
		return r.Audience
	}
	return s.Issuer + r.Prefix
}

// validAudiences lists every route's audience, without repeats.
func (s Site) validAudiences() []string {
	var out []string
	for _, r := range s.Routes {
		if a := s.audience(r); !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// Audiences returns the audiences for a new credential: requested ones must
// be route audiences (a typo would make a credential no route accepts);
// none requested means the audience of the only route. The audience is the
// route's literal audience, {tenant} included: a token for a per-tenant route
// is bound to the tenant by its tenant_id claim, not by its audience.
func (s Site) Audiences(requested []string) ([]string, error) {
	valid := s.validAudiences()
	switch {
	case len(requested) == 0 && len(valid) == 1:
		return valid, nil
	case len(requested) == 0 && len(valid) == 0:
		return nil, fmt.Errorf("%w: audiences: the gateway has no routes (gateway.routes), so no credential can be used yet; add a route or name the audience (--audience, or \"audiences\" in the admin API)", credentials.ErrInvalid)
	case len(requested) == 0:
		return nil, fmt.Errorf("%w: audiences: the gateway has %d routes; name one or more (--audience, or \"audiences\" in the admin API) of: %s", credentials.ErrInvalid, len(valid), strings.Join(valid, ", "))
	}
	for _, a := range requested {
		if len(valid) > 0 && !slices.Contains(valid, a) {
			return nil, fmt.Errorf("%w: audience %q is no gateway route's audience; use one of: %s", credentials.ErrInvalid, a, strings.Join(valid, ", "))
		}
	}
	return requested, nil
}

// SCIMBaseURL is the URL an IdP is given as its SCIM base (Entra's Tenant
// URL) for a credential of tenant with these audiences: the issuer plus the
// prefix of the first route that accepts one of them, {tenant} replaced by
// the tenant id. It is "" when no route accepts them.
func (s Site) SCIMBaseURL(tenant string, audiences []string) string {
	for _, r := range s.Routes {
		if slices.Contains(audiences, s.audience(r)) {
			return s.Issuer + strings.Replace(r.Prefix, tenantPlaceholder, tenant, 1)
		}
	}
	return ""
}
