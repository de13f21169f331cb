package authserver

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/go-oauth2/oauth2/v4"
	oerrors "github.com/go-oauth2/oauth2/v4/errors"
	"github.com/go-oauth2/oauth2/v4/server"

	"github.com/scimgate/scimgate/internal/credentials"
	"github.com/scimgate/scimgate/internal/grants"
)

// maxStateLen bounds the state parameter. Okta's is far shorter; the bound
// keeps pending requests and redirect URLs small.
const maxStateLen = 2048

// handleAuthorize is GET /oauth2/authorize (RFC 6749 §4.1.1, RFC 7636).
//
// It works in two tiers. First client_id and redirect_uri are checked here,
// before go-oauth2 ever sees the request (P5, P6): an unknown or disabled
// client, or a redirect URI that is not one of the client's registered URIs
// by exact string comparison, gets an HTML error page with status 400 and
// no Location — never a redirect, so the endpoint is no open redirector.
// Every later problem goes back to the now trusted redirect URI as
// error=…&state=… (RFC 6749 §4.1.2.1).
//
// A valid request is kept server-side as a grants.Pending under a random id
// that only the browser's cookie holds, and the sign-in page is shown.
// go-oauth2's HandleAuthorizeRequest runs only after consent.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	if !s.authorizeAdmitted(w, r) {
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		s.renderError(w, http.StatusMethodNotAllowed, "Not available", "The authorization endpoint is opened with a link (GET).", startAgain)
		return
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		s.renderError(w, http.StatusBadRequest, "Invalid request", "The link is not a valid authorization request.", startAgain)
		return
	}
	client, redirectURI, problem, err := s.authorizeTarget(r, q)
	switch {
	case err != nil:
		s.renderUnavailable(w, r, err, "The application could not be looked up.")
		return
	case problem != "":
		s.renderError(w, http.StatusBadRequest, "This link cannot be used", problem,
			"Check the client ID and the redirect URI configured for this application, or ask your scimgate operator.")
		return
	}
	state := q.Get("state")
	p, e := s.authorizeRequest(client, redirectURI, q)
	if e != nil {
		s.redirectError(w, redirectURI, state, e, http.StatusFound)
		return
	}
	id, saved, err := s.deps.Grants.SavePending(r.Context(), *p)
	if err != nil {
		s.cfg.Logger.ErrorContext(r.Context(), "authorization endpoint", "err", err)
		s.redirectError(w, redirectURI, state, errUnavailable(err), http.StatusFound)
		return
	}
	s.setPendingCookie(w, id, saved.Expires)
	s.showSignIn(w, r, http.StatusOK, client, saved, "", "")
}

// authorizeAdmitted applies Config.AuthorizePerIP to every request to the
// authorization endpoint, malformed ones included: the limit is there as
// much against probing which client ids exist as against filling the store
// with pending requests. A refused request gets the error page with 429
// and Retry-After; it reports whether the request may go on. A limiter
// failure lets the request through, as the sign-in throttle does: the page
// is worth more than the limit.
func (s *Server) authorizeAdmitted(w http.ResponseWriter, r *http.Request) bool {
	ctx := r.Context()
	d, err := s.deps.Limiter.Allow(ctx, "authorize:ip:"+s.cfg.ClientIP(r), s.cfg.AuthorizePerIP)
	if err != nil {
		s.cfg.Logger.WarnContext(ctx, "authorization endpoint: rate limit unavailable", "err", err)
		return true
	}
	if d.Allowed {
		return true
	}
	retry := d.RetryAfterSeconds()
	w.Header().Set("Retry-After", strconv.Itoa(retry))
	s.renderError(w, http.StatusTooManyRequests, "Too many requests",
		"This sign-in page was opened too often from your network. Wait "+waitText(retry)+" and try again.", startAgain)
	return false
}

// handleAuthorizeNotFound answers any other path under the authorization
// endpoint, such as the endpoint with a trailing slash typed into Okta's
// "Authorize endpoint" field, with an HTML page an admin can act on
// instead of the gateway's SCIM JSON 404.
func (s *Server) handleAuthorizeNotFound(w http.ResponseWriter, _ *http.Request) {
	s.renderError(w, http.StatusNotFound, "Page not found", "There is no page at this address.",
		"The authorization endpoint is "+s.cfg.Issuer+AuthorizePath+" exactly, without a trailing slash: check the Authorize endpoint configured in Okta (or the application that sent you here).")
}

// authorizeTarget finds the client and checks the redirect URI. A non-empty
// problem, or an error (the lookup failed), means neither can be trusted
// and the caller must not redirect.
//
// redirect_uri is required even though RFC 6749 §4.1.1 lets a client with
// one registered URI omit it: Okta always sends it, and requiring it means
// the token request's redirect_uri always has something to be compared
// with.
func (s *Server) authorizeTarget(r *http.Request, q url.Values) (client *credentials.Client, redirectURI, problem string, err error) {
	if len(q["client_id"]) != 1 || len(q["redirect_uri"]) != 1 {
		return nil, "", "The request must carry exactly one client_id and one redirect_uri.", nil
	}
	client, err = s.deps.Directory.Client(r.Context(), q.Get("client_id"))
	switch {
	case errors.Is(err, credentials.ErrNotFound):
		return nil, "", "The application (client_id) is not known.", nil
	case err != nil:
		return nil, "", "", err
	case client.Disabled:
		return nil, "", "The application (client_id) is disabled.", nil
	}
	tenant, err := s.deps.Directory.Tenant(r.Context(), client.TenantID)
	switch {
	case err != nil && !errors.Is(err, credentials.ErrNotFound):
		return nil, "", "", err
	case err != nil || tenant.Disabled:
		return nil, "", "The organisation this application belongs to is not active.", nil
	}
	redirectURI = q.Get("redirect_uri")
	if !slices.Contains(client.RedirectURIs, redirectURI) {
		return nil, "", "The redirect URI is not registered for this application. It must match a registered URI exactly.", nil
	}
	return client, redirectURI, "", nil
}

// authorizeRequest checks everything after the redirect URI and builds the
// pending request.
//
// state: Okta always sends one and RFC 6749 only RECOMMENDS it, so a
// missing state is accepted and none is invented; a present one is echoed
// byte for byte. PKCE: optional for confidential clients (Okta's use is
// undocumented) unless the client record requires it; when present, only
// S256 with a well-formed challenge (RFC 7636 §4.2: 43 base64url
// characters), never plain (P14).
func (s *Server) authorizeRequest(client *credentials.Client, redirectURI string, q url.Values) (*grants.Pending, *oauthError) {
	if k, ok := repeatedParameter(q); ok {
		return nil, errInvalidRequest("parameter '%s' is repeated", truncate(k, 32))
	}
	switch rt := q.Get("response_type"); {
	case rt == "":
		return nil, errInvalidRequest("response_type is required")
	case rt != "code":
		return nil, &oauthError{code: "unsupported_response_type", description: "only response_type=code is supported",
			status: http.StatusBadRequest, reason: "unsupported_response_type"}
	}
	if rm := q.Get("response_mode"); rm != "" && rm != "query" {
		return nil, errInvalidRequest("only response_mode=query is supported")
	}
	if !client.AllowsGrant(credentials.GrantAuthorizationCode) {
		return nil, &oauthError{code: "unauthorized_client", description: "this client may not use the authorization code flow",
			status: http.StatusBadRequest, reason: "grant_not_allowed"}
	}
	state := q.Get("state")
	if len(state) > maxStateLen {
		return nil, errInvalidRequest("state is longer than %d bytes", maxStateLen)
	}
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	switch {
	case challenge == "" && method != "":
		return nil, errInvalidRequest("code_challenge_method without code_challenge")
	case challenge == "" && client.RequirePKCE:
		return nil, errInvalidRequest("this client must use PKCE: send code_challenge with code_challenge_method=S256")
	case challenge != "" && method != "S256":
		return nil, errInvalidRequest("code_challenge_method must be S256 (plain is not supported)")
	case challenge != "" && !validS256Challenge(challenge):
		return nil, errInvalidRequest("code_challenge must be the 43-character base64url SHA-256 of the code_verifier")
	}
	allowed := slices.Clone(client.Scopes)
	if !client.AllowsGrant(credentials.GrantRefreshToken) {
		allowed = slices.DeleteFunc(allowed, func(sc string) bool { return sc == credentials.ScopeOfflineAccess })
	}
	// No scope asks for every scope of the client, offline_access included
	// when the client may refresh: an Okta admin who forgets to append
	// offline_access still gets a connection that survives the first hour.
	// The consent page lists exactly what is granted.
	scope, refused := narrowScope(allowed, q.Get("scope"))
	if refused != "" {
		return nil, errInvalidScope("scope '%s' is not allowed for this client; allowed: %s", truncate(refused, 64), strings.Join(allowed, " "))
	}
	audiences, e := grantAudiences(client, q.Get("resource"))
	if e != nil {
		return nil, e
	}
	p := &grants.Pending{ClientID: client.ID, RedirectURI: redirectURI, State: state, Scope: scope, Audiences: audiences}
	if challenge != "" {
		p.CodeChallenge, p.CodeChallengeMethod = challenge, method
	}
	return p, nil
}

// validS256Challenge: BASE64URL(SHA256(verifier)) without padding is
// exactly 43 characters of the base64url alphabet.
func validS256Challenge(c string) bool {
	return len(c) == 43 && unreservedOnly(c) && !strings.ContainsAny(c, ".~")
}

// redirectError sends an authorization error back to the client's
// (validated) redirect URI. The registered URI's own query is kept as it
// is; error parameters are appended. After a form POST the status is 303,
// so the browser follows with a GET (RFC 9700 §4.12).
func (s *Server) redirectError(w http.ResponseWriter, redirectURI, state string, e *oauthError, status int) {
	v := url.Values{"error": {e.code}}
	if e.description != "" {
		v.Set("error_description", descriptionText(e.description))
	}
	if state != "" {
		v.Set("state", state)
	}
	sep := "?"
	if strings.Contains(redirectURI, "?") {
		sep = "&"
	}
	w.Header().Set("Location", redirectURI+sep+v.Encode())
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
}

// subjectFromState tells go-oauth2 who consented. The consent step puts the
// admin principal in the request state; without it there is no consent.
func subjectFromState(_ http.ResponseWriter, r *http.Request) (string, error) {
	st := stateFrom(r.Context())
	if st == nil || st.subject == "" {
		return "", oerrors.ErrAccessDenied
	}
	return st.subject, nil
}

// authorizeLibraryError replaces go-oauth2's redirect-on-error (P6). The
// request was fully checked before the library saw it, so anything the
// library still objects to is unexpected: it is logged and reported to
// the client as server_error, with the state.
func (s *Server) authorizeLibraryError(w http.ResponseWriter, req *server.AuthorizeRequest, err error) error {
	if req == nil {
		return err
	}
	ctx := context.Background()
	if req.Request != nil {
		ctx = req.Request.Context()
	}
	s.cfg.Logger.ErrorContext(ctx, "authorization endpoint: go-oauth2 refused a checked request", "err", err)
	s.redirectError(w, req.RedirectURI, req.State, errServer(err), http.StatusSeeOther)
	return nil
}

// adminSubject is the sub of code-flow tokens: the admin who consented.
func adminSubject(tenantID, username string) string {
	return "admin:" + tenantID + "/" + username
}

// codeRequestURL rebuilds the authorization request for go-oauth2 from the
// pending request, so the library sees exactly what was checked.
//
// code_challenge_method is always S256, also without a challenge: go-oauth2
// takes a missing method for "plain" even when no challenge is sent, so
// with S256 as the only allowed method it would refuse every request
// without PKCE. With an empty challenge the library stores none.
func codeRequestURL(path string, p *grants.Pending) *url.URL {
	q := url.Values{"response_type": {string(oauth2.Code)}, "client_id": {p.ClientID}, "redirect_uri": {p.RedirectURI},
		"scope": {p.Scope}, "code_challenge_method": {string(oauth2.CodeChallengeS256)}}
	if p.State != "" {
		q.Set("state", p.State)
	}
	if p.CodeChallenge != "" {
		q.Set("code_challenge", p.CodeChallenge)
	}
	return &url.URL{Path: path, RawQuery: q.Encode()}
}
