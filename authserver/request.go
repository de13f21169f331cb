package authserver

import (
	"errors"
	"io"
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
// credentials or grant parameters in the query string. It leaves r.PostForm
// and r.Form as r.ParseForm would (go-oauth2 reads r.FormValue), without
// ParseForm's detours for the usual request: no query to parse, the media
// type exactly, a body of a few dozen bytes.
func parseForm(w http.ResponseWriter, r *http.Request) (url.Values, *oauthError) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		e := errInvalidRequest("use POST")
		e.status = http.StatusMethodNotAllowed
		return nil, e
	}
	var query url.Values
	var queryErr error
	if r.URL.RawQuery != "" {
		query, queryErr = url.ParseQuery(r.URL.RawQuery)
		for _, k := range queryForbidden {
			if query.Has(k) {
				return nil, errInvalidRequest("parameter '%s' must be sent in the request body, not the URL", k)
			}
		}
	}
	if ct := r.Header.Get("Content-Type"); ct != formMediaType {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != formMediaType {
			return nil, errInvalidRequest("the request body must be application/x-www-form-urlencoded")
		}
	}
	form, e := readForm(w, r)
	switch {
	case e != nil:
		return nil, e
	case queryErr != nil:
		return nil, errInvalidRequest("the request body is not valid form encoding") // as ParseForm reports it
	}
	if k, ok := repeatedParameter(form); ok {
		return nil, errInvalidRequest("parameter '%s' is repeated", truncate(k, 32))
	}
	r.PostForm, r.Form = form, form
	if len(query) > 0 {
		// As ParseForm: the body's values first, then the query's.
		r.Form = make(url.Values, len(form)+len(query))
		for _, vs := range []url.Values{form, query} {
			for k, v := range vs {
				r.Form[k] = append(r.Form[k], v...)
			}
		}
	}
	return form, nil
}

const formMediaType = "application/x-www-form-urlencoded"

// readForm reads and decodes the body, at most maxFormBytes of it; a
// larger one closes the connection after the answer (bodyTooLarge).
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, *oauthError) {
	body := http.MaxBytesReader(w, r.Body, maxFormBytes)
	r.Body = body
	buf := make([]byte, 0, 512)
	for {
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		switch {
		case err == io.EOF:
			form, err := url.ParseQuery(string(buf))
			if err != nil {
				return nil, errInvalidRequest("the request body is not valid form encoding")
			}
			return form, nil
		case bodyTooLarge(w, err):
			return nil, errInvalidRequest("request body larger than %d bytes", maxFormBytes)
		case err != nil:
			return nil, errInvalidRequest("the request body is not valid form encoding")
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
	}
}

// bodyTooLarge reports whether err is http.MaxBytesReader's limit, and
// then has the connection closed after the answer, the rest of the body
// unread. net/http's server closes it on MaxBytesReader's word; h1server,
// which cannot hear that (the hook is unexported), on the Connection
// header.
func bodyTooLarge(w http.ResponseWriter, err error) bool {
	var mbe *http.MaxBytesError
	if !errors.As(err, &mbe) {
		return false
	}
	w.Header().Set("Connection", "close")
	return true
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

// repeatedParameter returns the first parameter, in byte order, that
// holds more than one value: the same request always names the same one,
// which a walk over the map would not.
func repeatedParameter(v url.Values) (string, bool) {
	first, found := "", false
	for k, vs := range v {
		if len(vs) > 1 && (!found || k < first) {
			first, found = k, true
		}
	}
	return first, found
}
