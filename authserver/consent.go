package authserver

import (
	"log/slog"
	"net/http"
	"net/url"
	"slices"

	"github.com/scimgate/scimgate/internal/audit"
	"github.com/scimgate/scimgate/internal/credentials"
	"github.com/scimgate/scimgate/internal/grants"
)

// handleConsent is GET (show) and POST (decide)
// /oauth2/authorize/consent. The page names the client, the tenant, the
// admin and every scope with a plain description; Allow issues the code,
// Deny returns error=access_denied to the client.
func (s *Server) handleConsent(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		s.showConsent(w, r)
	case http.MethodPost:
		s.decideConsent(w, r)
	default:
		w.Header().Set("Allow", "GET, POST")
		s.renderError(w, http.StatusMethodNotAllowed, "Not available", "This page only accepts its own form.", startAgain)
	}
}

func (s *Server) showConsent(w http.ResponseWriter, r *http.Request) {
	p, client, ok := s.pendingRequest(w, r, s.pendingID(r), "")
	if !ok {
		return
	}
	if !p.SignedIn() {
		s.showSignIn(w, r, http.StatusOK, client, p, "", "")
		return
	}
	u, err := url.Parse(p.RedirectURI)
	if err != nil {
		s.renderError(w, http.StatusBadRequest, "This connection cannot continue", "The application's redirect URI is not valid.", startAgain)
		return
	}
	s.render(w, http.StatusOK, s.pages.consent, pageData{
		Title: "Allow access", Action: s.issuerPath + ConsentPath, CSRF: p.CSRF,
		ClientName: client.Name, TenantName: s.tenantName(r.Context(), client.TenantID), Username: p.Username,
		ReturnHost: u.Host, Scopes: s.scopeTexts(p.Scope),
	}, u.Scheme+"://"+u.Host)
}

// decideConsent takes the pending request, so one consent yields at most
// one code however often the form is submitted.
func (s *Server) decideConsent(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	form, id, p, client, ok := s.acceptPagePost(w, r)
	if !ok {
		return
	}
	decision := form.Get("decision")
	if !p.SignedIn() || (decision != "allow" && decision != "deny") {
		s.renderError(w, http.StatusBadRequest, "Request refused", "Sign in first, then choose Allow or Deny.", startAgain)
		return
	}
	taken, err := s.deps.Grants.TakePending(ctx, id)
	if err != nil {
		s.pendingGone(w, r, err)
		return
	}
	s.clearPendingCookie(w)
	// The client record may have changed while the admin was reading: the
	// redirect URI must still be registered before anything is sent to it.
	if !slices.Contains(client.RedirectURIs, taken.RedirectURI) || client.TenantID != taken.TenantID {
		s.renderError(w, http.StatusBadRequest, "This connection cannot continue", "The application's settings changed during sign-in.", startAgain)
		return
	}
	if decision == "deny" {
		s.cfg.Audit.Record(ctx, audit.TokenRefused, slog.String("grant", credentials.GrantAuthorizationCode), slog.String("error", "access_denied"),
			slog.String("reason", "consent_denied"), slog.String("tenant", client.TenantID), slog.String("client_id", client.ID),
			slog.String("username", taken.Username))
		s.redirectError(w, taken.RedirectURI, taken.State, &oauthError{code: "access_denied", description: "the administrator denied access"}, http.StatusSeeOther)
		return
	}
	s.issueCode(w, r, client, taken)
}

// issueCode runs go-oauth2's HandleAuthorizeRequest on the checked pending
// request. The library validates it once more, asks subjectFromState for
// the admin, scopeFromState for the scope, generates the code with
// codeGenerator and stores it through grantTokens, then redirects with
// code and state — as 303, because this answers a form POST.
func (s *Server) issueCode(w http.ResponseWriter, r *http.Request, client *credentials.Client, p *grants.Pending) {
	ctx := r.Context()
	st := &tokenRequest{ip: s.cfg.ClientIP(r), grant: credentials.GrantAuthorizationCode, client: client,
		scope: p.Scope, audiences: p.Audiences, redirectURI: p.RedirectURI,
		subject: adminSubject(p.TenantID, p.Username), authTime: p.AuthTime}
	lr := r.Clone(withState(ctx, st))
	lr.Method, lr.URL, lr.Body, lr.ContentLength = http.MethodGet, codeRequestURL(r.URL.Path, p), http.NoBody, 0
	lr.Form, lr.PostForm = nil, nil
	if err := s.oauth.HandleAuthorizeRequest(seeOther{w}, lr); err != nil {
		s.cfg.Logger.ErrorContext(ctx, "authorization endpoint", "err", err)
		s.renderError(w, http.StatusInternalServerError, "Something went wrong", "The connection could not be completed.", startAgain)
		return
	}
	if st.code != nil {
		s.cfg.Audit.Record(ctx, audit.ConsentGranted, slog.String("tenant", client.TenantID), slog.String("username", p.Username),
			slog.String("client_id", client.ID), slog.String("scope", p.Scope), slog.String("family", st.code.FamilyID))
	}
}

// seeOther turns go-oauth2's 302 into 303 (RFC 9700 §4.12).
type seeOther struct{ http.ResponseWriter }

func (w seeOther) WriteHeader(code int) {
	if code == http.StatusFound {
		code = http.StatusSeeOther
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer")
	}
	w.ResponseWriter.WriteHeader(code)
}
