package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sync/singleflight"

	"github.com/scimgate/scimgate/internal/accesstoken"
	"github.com/scimgate/scimgate/internal/credentials"
)

// scopeSet is what a credential may do.
type scopeSet uint8

const (
	scopeRead  scopeSet = 1 << iota // GET, HEAD
	scopeWrite                      // POST, PUT, PATCH, DELETE
)

func parseScopes(scopes []string) scopeSet {
	var s scopeSet
	for _, sc := range scopes {
		switch sc {
		case credentials.ScopeRead:
			s |= scopeRead
		case credentials.ScopeWrite:
			s |= scopeWrite
		case credentials.ScopeFull:
			s |= scopeRead | scopeWrite
		}
	}
	return s
}

// authMethod is how a principal authenticated. Its header value is shared
// by every request and never modified.
type authMethod struct {
	header      []string // X-Auth-Method
	limitPrefix string   // rate-limit key of the credential
}

var (
	methodJWT    = authMethod{header: []string{"jwt"}, limitPrefix: "gw:client:"}
	methodAPIKey = authMethod{header: []string{"api_key"}, limitPrefix: "gw:apikey:"}
)

// principal is an authenticated caller. It is built once per verified token
// or API key and shared by every request that presents the same credential,
// with everything the hot path needs precomputed.
type principal struct {
	tenant     string
	credential string // client_id, or the API key id
	method     authMethod
	scopes     scopeSet
	audiences  []string
	jti, kid   string // access tokens only

	tenantHeader, credentialHeader []string // upstream header values
	tenantLimitKey, credLimitKey   string   // rate-limit keys
}

func newPrincipal(tenant, credential string, method authMethod, scopes, audiences []string) *principal {
	return &principal{
		tenant: tenant, credential: credential, method: method,
		scopes: parseScopes(scopes), audiences: audiences,
		tenantHeader: []string{tenant}, credentialHeader: []string{credential},
		tenantLimitKey: "gw:tenant:" + tenant, credLimitKey: method.limitPrefix + credential,
	}
}

// invalidToken is a 401 with error="invalid_token".
func invalidToken(reason, detail string) *authProblem {
	return &authProblem{status: http.StatusUnauthorized, errorCode: "invalid_token", reason: reason, detail: detail}
}

var (
	problemRevoked        = invalidToken("revoked", "access token revoked")
	problemKeyRetired     = invalidToken("key_retired", "access token signed with a key that is no longer valid")
	problemAudience       = invalidToken("audience", "invalid access token: not issued for this audience")
	problemAPIKeyAudience = invalidToken("audience", "API key not valid for this endpoint")
	problemUnknownAPIKey  = invalidToken(credentials.ReasonUnknown, "unknown API key")
	problemAPIKeyExpired  = invalidToken(credentials.ReasonExpired, "API key expired")
	problemAPIKeyRevoked  = invalidToken(credentials.ReasonRevoked, "API key revoked")
	problemTenantDisabled = invalidToken(credentials.ReasonTenantDisabled, "tenant disabled")
	problemClientDisabled = invalidToken(credentials.ReasonDisabled, "client disabled")
	problemClientUnknown  = invalidToken(credentials.ReasonUnknown, "client unknown")
	problemNoJWT          = invalidToken("credential_not_accepted", "this endpoint does not accept access tokens")
	problemNoAPIKey       = invalidToken("credential_not_accepted", "this endpoint does not accept API keys")
	problemEntraToken     = invalidToken("entra_token", "access token issued by Microsoft Entra ID, not by scimgate (was the Secret Token left blank?): "+
		"use OAuth2 client credentials, or paste a scimgate API key as the Secret Token")
)

// entraIssuers begin the iss of the tokens Entra issues itself and sends
// when an admin leaves the Secret Token blank (entra.md §2.6). scimgate
// does not trust them (README, "Secret Token"); naming them in the refusal
// tells the admin what to change, where "typ is not at+jwt" would not.
var entraIssuers = [...]string{"https://sts.windows.net/", "https://login.microsoftonline.com/"}

// issuedByEntra reads the unverified iss of a token that failed
// verification, only to word the refusal.
func issuedByEntra(token string) bool {
	var c struct {
		Issuer string `json:"iss"`
	}
	if !decodeUnverified(token, 1, &c) {
		return false
	}
	for _, p := range entraIssuers {
		if strings.HasPrefix(c.Issuer, p) {
			return true
		}
	}
	return false
}

// authenticator turns a presented credential into a principal.
//
// Freshness: a verified access token is cached until its exp (plus leeway),
// keyed by its SHA-256, so an Entra cycle that reuses one token for an hour
// pays for one signature check; every request still checks the jti
// deny-list, that the signing key is still published, and the client's and
// tenant's status. Those statuses and API-key verdicts are cached for
// statusTTL (≤ 1 s), so a disabled tenant or client, or a revoked or
// expired API key, stops working on every replica within statusTTL plus one
// store read, while the embedded store sees at most a couple of reads per
// credential per second rather than one per request.
type authenticator struct {
	verifier    *accesstoken.Verifier
	keys        KeyRing
	creds       Credentials
	revocations Revocations
	leeway      time.Duration
	statusTTL   time.Duration
	metrics     Metrics

	tokens  *ttlCache[[sha256.Size]byte, *principal]
	apiKeys *ttlCache[[sha256.Size]byte, *principal]
	tenants *ttlCache[string, *authProblem] // nil problem: active
	clients *ttlCache[string, clientStatus]
	loads   singleflight.Group
}

type clientStatus struct {
	tenant  string
	problem *authProblem
}

// statusCacheSize bounds the tenant and client status caches.
const statusCacheSize = 100_000

// statusLoadTimeout bounds one store read shared by the requests waiting
// for it, whichever of them goes away.
const statusLoadTimeout = 5 * time.Second

// authenticate checks cred of the given kind for route rt. A refusal is an
// *authProblem; an error means the verdict could not be reached (store down).
func (a *authenticator) authenticate(ctx context.Context, kind credentialKind, cred string, rt *route, now time.Time) (*principal, *authProblem, error) {
	switch kind {
	case kindJWT:
		if !rt.acceptJWT {
			return nil, problemNoJWT, nil
		}
		return a.accessToken(ctx, cred, rt, now)
	case kindAPIKey:
		if !rt.acceptAPIKey {
			return nil, problemNoAPIKey, nil
		}
		return a.apiKey(ctx, cred, rt, now)
	}
	return nil, problemMissing, nil
}

// digest hashes a credential for use as a cache key without copying it.
func digest(cred string) [sha256.Size]byte {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(cred), len(cred)))
}

func (a *authenticator) accessToken(ctx context.Context, token string, rt *route, now time.Time) (*principal, *authProblem, error) {
	key := digest(token)
	nowNano := now.UnixNano()
	p, cached := a.tokens.get(key, nowNano)
	a.metrics.CacheLookup("token", cached)
	var until int64
	if cached {
		if !slices.Contains(p.audiences, rt.audience) {
			return nil, problemAudience, nil
		}
		if _, _, err := a.keys.PublicKey(ctx, p.kid); err != nil {
			a.tokens.remove(key)
			return nil, problemKeyRetired, nil
		}
	} else {
		claims, err := a.verifier.Verify(token, rt.audience)
		switch {
		case err != nil && issuedByEntra(token):
			return nil, problemEntraToken, nil
		case err != nil:
			return nil, invalidToken("invalid_jwt", err.Error()), nil
		}
		p = newPrincipal(claims.TenantID, claims.ClientID, methodJWT, claims.Scopes(), claims.Audience)
		p.jti, p.kid = claims.ID, headerKID(token)
		until = claims.Expiry().Add(a.leeway).UnixNano()
	}
	revoked, err := a.revocations.Revoked(ctx, p.jti)
	switch {
	case err != nil:
		return nil, nil, fmt.Errorf("revocation check: %w", err)
	case revoked:
		a.tokens.remove(key)
		return nil, problemRevoked, nil
	}
	if prob, err := a.clientActive(ctx, p.credential, p.tenant, nowNano); prob != nil || err != nil {
		return nil, prob, err
	}
	if prob, err := a.tenantActive(ctx, p.tenant, nowNano); prob != nil || err != nil {
		return nil, prob, err
	}
	if !cached {
		a.tokens.put(key, p, until, nowNano)
	}
	return p, nil, nil
}

// headerKID reads the kid of a token the verifier has accepted, so that a
// cached token stops working when its key is retired or revoked.
func headerKID(token string) string {
	var h struct {
		KID string `json:"kid"`
	}
	decodeUnverified(token, 0, &h)
	return h.KID
}

// decodeUnverified decodes the JSON of part i (0 the header, 1 the claims)
// of a JWT whose signature is not checked, into v; it reports whether that
// worked. Nothing read this way may be trusted.
func decodeUnverified(token string, i int, v any) bool {
	part := token
	for range i {
		_, part, _ = strings.Cut(part, ".")
	}
	part, _, _ = strings.Cut(part, ".")
	raw, err := base64.RawURLEncoding.DecodeString(part)
	return err == nil && json.Unmarshal(raw, v) == nil
}

func (a *authenticator) apiKey(ctx context.Context, presented string, rt *route, now time.Time) (*principal, *authProblem, error) {
	key := digest(presented)
	nowNano := now.UnixNano()
	p, ok := a.apiKeys.get(key, nowNano)
	a.metrics.CacheLookup("api_key", ok)
	if !ok {
		k, err := a.creds.AuthenticateAPIKey(ctx, presented)
		var ae *credentials.AuthError
		switch {
		case errors.As(err, &ae):
			return nil, apiKeyProblem(ae.Reason), nil
		case err != nil:
			return nil, nil, fmt.Errorf("API key check: %w", err)
		}
		p = newPrincipal(k.TenantID, k.ID, methodAPIKey, k.Scopes, k.Audiences)
		until := now.Add(a.statusTTL)
		if !k.Expires.IsZero() && k.Expires.Before(until) {
			until = k.Expires
		}
		a.apiKeys.put(key, p, until.UnixNano(), nowNano)
	}
	if !slices.Contains(p.audiences, rt.audience) {
		return nil, problemAPIKeyAudience, nil
	}
	return p, nil, nil
}

// apiKeyProblem says why a key was refused. A wrong secret under a known
// key id reads like an unknown key, so that ids cannot be confirmed.
func apiKeyProblem(reason string) *authProblem {
	switch reason {
	case credentials.ReasonExpired:
		return problemAPIKeyExpired
	case credentials.ReasonRevoked:
		return problemAPIKeyRevoked
	case credentials.ReasonTenantDisabled, credentials.ReasonDisabled:
		return problemTenantDisabled
	}
	return problemUnknownAPIKey
}

// clientActive checks that the client exists, is enabled and belongs to
// tenant.
func (a *authenticator) clientActive(ctx context.Context, clientID, tenant string, nowNano int64) (*authProblem, error) {
	st, ok := a.clients.get(clientID, nowNano)
	a.metrics.CacheLookup("client", ok)
	if !ok {
		v, err := a.load(ctx, "client\x00"+clientID, func(ctx context.Context) (any, error) {
			c, err := a.creds.Client(ctx, clientID)
			switch {
			case errors.Is(err, credentials.ErrNotFound):
				return clientStatus{problem: problemClientUnknown}, nil
			case err != nil:
				return nil, err
			case c.Disabled:
				return clientStatus{tenant: c.TenantID, problem: problemClientDisabled}, nil
			}
			return clientStatus{tenant: c.TenantID}, nil
		})
		if err != nil {
			return nil, fmt.Errorf("client %s: %w", clientID, err)
		}
		st = v.(clientStatus)
		a.clients.put(clientID, st, nowNano+int64(a.statusTTL), nowNano)
	}
	switch {
	case st.problem != nil:
		return st.problem, nil
	case st.tenant != tenant:
		return problemClientUnknown, nil
	}
	return nil, nil
}

// tenantActive checks that the tenant exists and is enabled.
func (a *authenticator) tenantActive(ctx context.Context, tenant string, nowNano int64) (*authProblem, error) {
	prob, ok := a.tenants.get(tenant, nowNano)
	a.metrics.CacheLookup("tenant", ok)
	if !ok {
		v, err := a.load(ctx, "tenant\x00"+tenant, func(ctx context.Context) (any, error) {
			t, err := a.creds.Tenant(ctx, tenant)
			switch {
			case errors.Is(err, credentials.ErrNotFound):
				return problemTenantDisabled, nil
			case err != nil:
				return nil, err
			case t.Disabled:
				return problemTenantDisabled, nil
			}
			return (*authProblem)(nil), nil
		})
		if err != nil {
			return nil, fmt.Errorf("tenant %s: %w", tenant, err)
		}
		prob = v.(*authProblem)
		a.tenants.put(tenant, prob, nowNano+int64(a.statusTTL), nowNano)
	}
	return prob, nil
}

// load runs one store read for everyone asking for key at the same time.
// The read outlives a caller that goes away, bounded by statusLoadTimeout.
func (a *authenticator) load(ctx context.Context, key string, read func(context.Context) (any, error)) (any, error) {
	v, err, _ := a.loads.Do(key, func() (any, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), statusLoadTimeout)
		defer cancel()
		return read(ctx)
	})
	return v, err
}
