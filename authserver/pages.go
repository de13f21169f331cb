package authserver

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The sign-in, consent and error pages are server-rendered html/template
// pages: no JavaScript at all, so they work with scripting disabled and the
// Content-Security-Policy can forbid every script. The one stylesheet is
// inlined and allowed by its hash.
//
//go:embed templates/*.html templates/style.css
var templateFiles embed.FS

// pages holds the parsed templates. They are parsed once, at New.
type pages struct {
	signIn, consent, failure *template.Template
	css                      template.CSS
	styleHash                string
}

func newPages() (*pages, error) {
	css, err := templateFiles.ReadFile("templates/style.css")
	if err != nil {
		return nil, fmt.Errorf("authserver: pages: %w", err)
	}
	base, err := template.ParseFS(templateFiles, "templates/base.html")
	if err != nil {
		return nil, fmt.Errorf("authserver: pages: %w", err)
	}
	parse := func(name string) (*template.Template, error) {
		t, err := base.Clone()
		if err != nil {
			return nil, err
		}
		return t.ParseFS(templateFiles, "templates/"+name)
	}
	p := &pages{css: template.CSS(css)}
	sum := sha256.Sum256(css)
	p.styleHash = "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
	for name, dst := range map[string]**template.Template{"signin.html": &p.signIn, "consent.html": &p.consent, "error.html": &p.failure} {
		if *dst, err = parse(name); err != nil {
			return nil, fmt.Errorf("authserver: pages: %s: %w", name, err)
		}
	}
	return p, nil
}

// pageData is what every page template can use.
type pageData struct {
	Title      string
	CSS        template.CSS
	Heading    string
	Error      string
	Hint       string
	Action     string
	CSRF       string
	ClientName string
	TenantName string
	Username   string
	ReturnHost string
	Scopes     []scopeText
}

type scopeText struct{ Name, Description string }

// render writes a page with the security headers every page carries:
//
//   - Content-Security-Policy: nothing but the inlined stylesheet may load;
//     forms may post only to this origin and, on the consent page, to the
//     client's redirect URI origin (Chrome applies form-action to the
//     redirect that follows a form submission);
//   - frame-ancestors 'none' and X-Frame-Options: DENY against clickjacking
//     of the Allow button;
//   - Referrer-Policy: no-referrer, because the next URL carries a code;
//   - Cache-Control: no-store, because pages carry CSRF tokens.
//
// The page is rendered into a buffer first, so a template error never
// leaves half a page behind.
func (s *Server) render(w http.ResponseWriter, status int, t *template.Template, d pageData, formTargets ...string) {
	d.CSS = s.pages.css
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "base", d); err != nil {
		s.cfg.Logger.Error("authorization page", "err", err)
		status, buf = http.StatusInternalServerError, *bytes.NewBufferString("internal error")
	}
	h := w.Header()
	formAction := "'self'"
	for _, target := range formTargets {
		formAction += " " + target
	}
	h.Set("Content-Security-Policy", "default-src 'none'; style-src '"+s.pages.styleHash+"'; img-src 'self'; form-action "+formAction+
		"; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// renderError shows an error page. It never redirects: it is used exactly
// when the redirect URI cannot be trusted, or the browser session is gone.
func (s *Server) renderError(w http.ResponseWriter, status int, heading, message, hint string) {
	s.render(w, status, s.pages.failure, pageData{Title: heading, Heading: heading, Error: message, Hint: hint})
}

// renderUnavailable is the page for a failure of what the pages depend on
// (the store): 503 with Retry-After, as the token endpoint and the gateway
// answer the same failure, so that neither the admin nor a monitor takes
// it for a bad link or a defect. message says what could not be done.
func (s *Server) renderUnavailable(w http.ResponseWriter, r *http.Request, err error, message string) {
	s.cfg.Logger.ErrorContext(r.Context(), "authorization pages", "err", err)
	w.Header().Set("Retry-After", "1")
	s.renderError(w, http.StatusServiceUnavailable, "Temporarily unavailable", message,
		"Try again in a moment. If this goes on, tell your scimgate operator.")
}

const startAgain = "Go back to Okta (or the application that sent you here) and start the connection again."

// The pending-request cookie. With an https issuer it is Secure and uses the
// __Host- prefix, which pins it to this exact host and forces Path=/; the
// prefix matters more than a narrower path, because it stops a sibling
// subdomain from planting a cookie. Over plain http (development) it is
// scoped to the authorization paths instead.
const cookieName = "scimgate-authorize"

func (s *Server) cookieName() string {
	if s.secureCookies {
		return "__Host-" + cookieName
	}
	return cookieName
}

func (s *Server) cookiePath() string {
	if s.secureCookies {
		return "/"
	}
	return s.issuerPath + AuthorizePath
}

// setPendingCookie hands the browser the id of its pending authorization
// request. SameSite=Lax, not Strict: the cookie is set on the top-level
// navigation from Okta, and Lax is the strictest setting that is still
// sent with that kind of navigation and with the same-site form posts
// that follow.
func (s *Server) setPendingCookie(w http.ResponseWriter, id string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{
		Name: s.cookieName(), Value: id, Path: s.cookiePath(),
		MaxAge:   max(1, int(time.Until(expires).Round(time.Second)/time.Second)),
		Secure:   s.secureCookies,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
}

func (s *Server) clearPendingCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(), Value: "", Path: s.cookiePath(), MaxAge: -1,
		Secure: s.secureCookies, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

func (s *Server) pendingID(r *http.Request) string {
	c, err := r.Cookie(s.cookieName())
	if err != nil {
		return ""
	}
	return c.Value
}

// maxPageForm bounds the sign-in and consent form bodies.
const maxPageForm = 8 << 10

// checkPagePost accepts a form POST from our own pages only: POST, sent
// from this origin (see fromOwnPage), a form body of bounded size with no
// repeated field. The CSRF token is checked against the pending request by
// the caller (synchronizer token). It returns the form or renders the
// refusal itself.
func (s *Server) checkPagePost(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		s.renderError(w, http.StatusMethodNotAllowed, "Not available", "This page only accepts its own form.", startAgain)
		return nil, false
	}
	if !s.fromOwnPage(r) {
		s.renderError(w, http.StatusForbidden, "Request refused", "The form was not sent from this site.", startAgain)
		return nil, false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxPageForm)
	if err := r.ParseForm(); err != nil {
		bodyTooLarge(w, err)
		s.renderError(w, http.StatusBadRequest, "Request refused", "The form could not be read.", startAgain)
		return nil, false
	}
	for _, v := range r.PostForm {
		if len(v) > 1 {
			s.renderError(w, http.StatusBadRequest, "Request refused", "The form could not be read.", startAgain)
			return nil, false
		}
	}
	return r.PostForm, true
}

// fromOwnPage is a second line of defence behind the CSRF token. Browsers
// that send Sec-Fetch-Site must say same-origin. Otherwise an Origin, if
// sent, must be the issuer's — except "null", which is what a browser sends
// for a same-origin form post from a page with Referrer-Policy:
// no-referrer, as ours are.
func (s *Server) fromOwnPage(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin"
	}
	o := r.Header.Get("Origin")
	return o == "" || o == "null" || o == s.issuerOrigin
}

func csrfMatches(stored, presented string) bool {
	return stored != "" && subtle.ConstantTimeCompare([]byte(stored), []byte(presented)) == 1
}

// scopeTexts describes each granted scope for the consent page.
func (s *Server) scopeTexts(scope string) []scopeText {
	var out []scopeText
	for _, sc := range strings.Fields(scope) {
		t := scopeText{Name: sc}
		switch sc {
		case "scim.full":
			t.Name, t.Description = "Manage users and groups", "Read, create, update, deactivate and delete users and groups (scim.full)."
		case "scim.read":
			t.Name, t.Description = "Read users and groups", "Look up users and groups, without changing them (scim.read)."
		case "scim.write":
			t.Name, t.Description = "Change users and groups", "Create, update, deactivate and delete users and groups (scim.write)."
		case "offline_access":
			days := int(s.deps.Grants.RefreshTTL() / (24 * time.Hour))
			t.Name = "Stay connected"
			t.Description = "Keep this access without asking you again. It ends when unused for " + strconv.Itoa(days) +
				" days or when an administrator revokes it (offline_access)."
		}
		out = append(out, t)
	}
	return out
}
