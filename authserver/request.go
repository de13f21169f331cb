package authserver

import (
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// maxFormBytes bounds a token, introspection or revocation request body.
const maxFormBytes = 16 << 10

// queryForbidden are parameters that must never travel in the URL: they are
// credentials or grant material and would end up in access logs
// (RFC 6749 §2.3.1, §3.2). Okta may put scope there, which stays allowed.
var queryForbidden = []string{"client_id", "client_secret", "grant_type", "code", "refresh_token", "code_verifier",
	"redirect_uri", "token", "username", "password", "assertion", "client_assertion"}

// parseForm reads an application/x-www-form-urlencoded POST body strictly:
// POST only, the right media type, a bounded size, no parameter twice, no
// credentials or grant parameters in the query string.
func parseForm(w http.ResponseWriter, r *http.Request) (url.Values, *oauthError) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		e := errInvalidRequest("use POST")
		e.status = http.StatusMethodNotAllowed
		return nil, e
	}
	q := r.URL.Query()
	for _, k := range queryForbidden {
		if q.Has(k) {
			return nil, errInvalidRequest("parameter %q must be sent in the request body, not the URL", k)
		}
	}
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "application/x-www-form-urlencoded" {
		return nil, errInvalidRequest("the request body must be application/x-www-form-urlencoded")
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errInvalidRequest("request body larger than %d bytes", maxFormBytes)
		}
		return nil, errInvalidRequest("the request body is not valid form encoding")
	}
	for k, v := range r.PostForm {
		if len(v) > 1 {
			return nil, errInvalidRequest("parameter %q is repeated", k)
		}
	}
	return r.PostForm, nil
}

// clientCredentials extracts the client id and secret from HTTP Basic
// (client_secret_basic: both halves form-URL-decoded, RFC 6749 §2.3.1) or the
// body (client_secret_post). Both at once is accepted when they agree, which
// is what Entra's "Both" setting sends; disagreeing pairs are refused.
func clientCredentials(r *http.Request, form url.Values) (id, secret string, e *oauthError) {
	pid, psec := form.Get("client_id"), form.Get("client_secret")
	auth := r.Header.Get("Authorization")
	if len(r.Header.Values("Authorization")) > 1 {
		return "", "", errInvalidRequest("more than one Authorization header")
	}
	if auth == "" {
		if pid == "" {
			return "", "", errInvalidClient("no_credentials")
		}
		return pid, psec, nil
	}
	scheme, _, _ := strings.Cut(auth, " ")
	if !strings.EqualFold(scheme, "Basic") {
		return "", "", errInvalidRequest("the Authorization header must use the Basic scheme")
	}
	bid, bsec, ok := r.BasicAuth()
	if !ok {
		return "", "", errInvalidRequest("the Basic credentials are not valid base64 of id:secret")
	}
	var err1, err2 error
	bid, err1 = url.QueryUnescape(bid)
	bsec, err2 = url.QueryUnescape(bsec)
	if err1 != nil || err2 != nil {
		return "", "", errInvalidRequest("the Basic credentials are not form-URL-encoded correctly")
	}
	if (pid != "" && pid != bid) || (psec != "" && psec != bsec) {
		return "", "", errInvalidRequest("the Basic and body credentials differ")
	}
	if bid == "" {
		return "", "", errInvalidClient("no_credentials")
	}
	return bid, bsec, nil
}
