package authserver

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/scimgate/scimgate/internal/audit"
	"github.com/scimgate/scimgate/internal/credentials"
	"github.com/scimgate/scimgate/internal/grants"
	"github.com/scimgate/scimgate/internal/ratelimit"
)

// showSignIn renders the sign-in page for a pending request.
func (s *Server) showSignIn(w http.ResponseWriter, r *http.Request, status int, client *credentials.Client, p *grants.Pending, username, message string) {
	s.render(w, status, s.pages.signIn, pageData{
		Title: "Sign in", Action: s.issuerPath + SignInPath, CSRF: p.CSRF,
		ClientName: client.Name, TenantName: s.tenantName(r.Context(), client.TenantID),
		Username: username, Error: message,
	})
}

func (s *Server) tenantName(ctx context.Context, id string) string {
	if t, err := s.deps.Directory.Tenant(ctx, id); err == nil {
		return t.DisplayName
	}
	return id
}

// wrongCredentials is the one message for every failed sign-in, so the
// page cannot be used to learn which usernames exist.
const wrongCredentials = "The username or password is not correct."

// handleSignIn is POST /oauth2/authorize/signin. Only admins of the
// client's own tenant can sign in for it: the tenant comes from the client,
// never from the form.
//
// A successful sign-in saves the pending request again under a new id (and
// with a new CSRF token) and drops the old one, so an id that existed
// before authentication is worthless after it (session fixation).
func (s *Server) handleSignIn(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	form, id, p, client, ok := s.acceptPagePost(w, r)
	if !ok {
		return
	}
	if p.SignedIn() {
		s.toConsent(w, r)
		return
	}
	username, password := strings.TrimSpace(form.Get("username")), form.Get("password")
	if username == "" || password == "" {
		s.showSignIn(w, r, http.StatusBadRequest, client, p, username, "Enter your username and password.")
		return
	}
	ip := s.cfg.ClientIP(r)
	throttle := s.signInThrottle(ip, client.TenantID, username)
	leave, err := s.signIns.enter(ctx, throttle.ipKey, throttle.userKey)
	if err != nil {
		w.Header().Set("Retry-After", "5")
		s.showSignIn(w, r, http.StatusServiceUnavailable, client, p, username, "Too many sign-ins are being checked right now. Try again in a moment.")
		return
	}
	defer leave()
	if retry, blocked := throttle.blocked(ctx); blocked {
		w.Header().Set("Retry-After", strconv.Itoa(retry))
		s.cfg.Audit.Record(ctx, audit.AdminSignInFailed, slog.String("tenant", client.TenantID), slog.String("username", username),
			slog.String("client_id", client.ID), slog.String("reason", "throttled"), slog.String("ip", ip))
		s.showSignIn(w, r, http.StatusTooManyRequests, client, p, username,
			"Too many failed sign-in attempts. Wait "+waitText(retry)+" and try again.")
		return
	}
	admin, err := s.deps.Admins.AuthenticateAdmin(ctx, client.TenantID, username, password)
	var ae *credentials.AuthError
	switch {
	case errors.As(err, &ae):
		throttle.failed(ctx)
		s.cfg.Audit.Record(ctx, audit.AdminSignInFailed, slog.String("tenant", client.TenantID), slog.String("username", username),
			slog.String("client_id", client.ID), slog.String("reason", ae.Reason), slog.String("ip", ip))
		s.showSignIn(w, r, http.StatusUnauthorized, client, p, username, wrongCredentials)
		return
	case err != nil:
		s.cfg.Logger.ErrorContext(ctx, "sign-in", "err", err)
		w.Header().Set("Retry-After", "1")
		s.showSignIn(w, r, http.StatusServiceUnavailable, client, p, username, "Signing in failed on our side. Try again in a moment.")
		return
	}
	taken, err := s.deps.Grants.TakePending(ctx, id)
	if err != nil {
		s.pendingGone(w, r, err)
		return
	}
	taken.TenantID, taken.Username, taken.AuthTime = client.TenantID, admin.Username, s.cfg.Now()
	newID, saved, err := s.deps.Grants.SavePending(ctx, *taken)
	if err != nil {
		s.pendingGone(w, r, err)
		return
	}
	s.setPendingCookie(w, newID, saved.Expires)
	s.cfg.Audit.Record(ctx, audit.AdminSignIn, slog.String("tenant", client.TenantID), slog.String("username", admin.Username),
		slog.String("client_id", client.ID), slog.String("ip", ip))
	s.toConsent(w, r)
}

// toConsent sends the browser on to the consent page. The answer carries
// the session's new cookie: no cache may keep it.
func (s *Server) toConsent(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, s.issuerPath+ConsentPath, http.StatusSeeOther)
}

// acceptPagePost accepts a form post from the sign-in or consent page
// (checkPagePost) with the pending request it continues, whose CSRF token
// the form must carry (pendingRequest); id is that request's. On refusal
// it has rendered the page and ok is false.
func (s *Server) acceptPagePost(w http.ResponseWriter, r *http.Request) (form url.Values, id string, p *grants.Pending, client *credentials.Client, ok bool) {
	form, ok = s.checkPagePost(w, r)
	if !ok {
		return nil, "", nil, nil, false
	}
	id = s.pendingID(r)
	p, client, ok = s.pendingRequest(w, r, id, form.Get("csrf"))
	if !ok {
		return nil, "", nil, nil, false
	}
	return form, id, p, client, true
}

// pendingRequest loads the browser's pending request, checks the CSRF token
// when the request is a form post, and re-reads what may have changed since
// the authorization request began: the client (disabled, deleted, no longer
// allowed the code flow), its tenant (disabled or deleted) and, once an
// admin has signed in, that admin (deleted or disabled). Any of them gone
// ends the request here, before a code can be issued for it.
func (s *Server) pendingRequest(w http.ResponseWriter, r *http.Request, id, csrf string) (*grants.Pending, *credentials.Client, bool) {
	ctx := r.Context()
	p, err := s.deps.Grants.Pending(ctx, id)
	if err != nil {
		s.pendingGone(w, r, err)
		return nil, nil, false
	}
	if r.Method == http.MethodPost && !csrfMatches(p.CSRF, csrf) {
		s.renderError(w, http.StatusForbidden, "Request refused", "The form has expired or was not sent from this page.", startAgain)
		return nil, nil, false
	}
	client, err := s.deps.Directory.Client(ctx, p.ClientID)
	if !s.stillActive(w, r, err, err != nil || client.Disabled || !client.AllowsGrant(credentials.GrantAuthorizationCode),
		"The application is no longer available.") {
		return nil, nil, false
	}
	tenant, err := s.deps.Directory.Tenant(ctx, client.TenantID)
	if !s.stillActive(w, r, err, err != nil || tenant.Disabled, "The organisation this application belongs to is not active.") {
		return nil, nil, false
	}
	if p.SignedIn() {
		admin, err := s.deps.Directory.Admin(ctx, p.TenantID, p.Username)
		if !s.stillActive(w, r, err, err != nil || admin.Disabled, "The administrator account that signed in is no longer active.") {
			return nil, nil, false
		}
	}
	return p, client, true
}

// stillActive ends the request with a page when looking up one of its
// parties failed (err other than not found) or found it gone or inactive
// (why says which); it reports whether the request may go on.
func (s *Server) stillActive(w http.ResponseWriter, r *http.Request, err error, inactive bool, why string) bool {
	if err != nil && !errors.Is(err, credentials.ErrNotFound) {
		s.pendingGone(w, r, err)
		return false
	}
	if inactive {
		s.renderError(w, http.StatusBadRequest, "This connection cannot continue", why, startAgain)
		return false
	}
	return true
}

// pendingGone explains that the sign-in must start again: the cookie is
// missing or the request expired or was already completed; or, when err
// is a failure to read the store, that it may go on in a moment.
func (s *Server) pendingGone(w http.ResponseWriter, r *http.Request, err error) {
	if !errors.Is(err, grants.ErrNotFound) {
		s.renderUnavailable(w, r, err, "The sign-in could not be continued.")
		return
	}
	s.clearPendingCookie(w)
	s.renderError(w, http.StatusBadRequest, "This sign-in has expired",
		"The page was open too long, was already used, or cookies are blocked for this site.", startAgain)
}

func waitText(seconds int) string {
	if seconds < 90 {
		return strconv.Itoa(seconds) + " seconds"
	}
	return strconv.Itoa((seconds+59)/60) + " minutes"
}

// signInThrottle applies brute-force limits to one sign-in attempt, in the
// same shape as client authentication: failures from an address block that
// address; failures for a username block that username only from addresses
// that have failed themselves, so an attacker who hammers a known username
// cannot lock the real admin out. Only failures count.
type signInThrottle struct {
	s               *Server
	ipKey, userKey  string
	ipRule, usrRule ratelimit.Rule
}

func (s *Server) signInThrottle(ip, tenantID, username string) signInThrottle {
	return signInThrottle{s: s, ipKey: "signin-fail:ip:" + ip, userKey: "signin-fail:user:" + tenantID + "/" + strings.ToLower(credentials.NormalizeUsername(username)),
		ipRule: s.cfg.SignInFailuresPerIP, usrRule: s.cfg.SignInFailuresPerUser}
}

// blocked reports whether the attempt must be refused without checking the
// password, and the Retry-After seconds. A limiter failure lets the attempt
// through: argon2id still bounds the attempt rate.
func (t signInThrottle) blocked(ctx context.Context) (int, bool) {
	lim := t.s.deps.Limiter
	ipState, err := lim.Peek(ctx, t.ipKey, t.ipRule)
	if err != nil {
		t.s.cfg.Logger.WarnContext(ctx, "sign-in throttle unavailable", "err", err)
		return 0, false
	}
	if !ipState.Allowed {
		return ipState.RetryAfterSeconds(), true
	}
	if ipState.Remaining < t.ipRule.Burst {
		if userState, err := lim.Peek(ctx, t.userKey, t.usrRule); err == nil && !userState.Allowed {
			return userState.RetryAfterSeconds(), true
		}
	}
	return 0, false
}

func (t signInThrottle) failed(ctx context.Context) {
	_, _ = t.s.deps.Limiter.Allow(ctx, t.ipKey, t.ipRule)
	_, _ = t.s.deps.Limiter.Allow(ctx, t.userKey, t.usrRule)
}
