package authserver

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// parseFormByParseForm is parseForm as it was, on r.ParseForm: the
// definition parseForm is held to.
func parseFormByParseForm(w http.ResponseWriter, r *http.Request) (url.Values, *oauthError) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		e := errInvalidRequest("use POST")
		e.status = http.StatusMethodNotAllowed
		return nil, e
	}
	q := r.URL.Query()
	for _, k := range queryForbidden {
		if q.Has(k) {
			return nil, errInvalidRequest("parameter '%s' must be sent in the request body, not the URL", k)
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
	// Of several repeated parameters, the first in byte order is named.
	for _, k := range slices.Sorted(maps.Keys(r.PostForm)) {
		if len(r.PostForm[k]) > 1 {
			return nil, errInvalidRequest("parameter '%s' is repeated", truncate(k, 32))
		}
	}
	return r.PostForm, nil
}

// sameAsParseForm fails t when parseForm and parseFormByParseForm differ
// on the request.
func sameAsParseForm(t *testing.T, method, target, ctype, body string) {
	t.Helper()
	request := func() *http.Request {
		r := httptest.NewRequest(method, "/t", strings.NewReader(body))
		r.URL.RawQuery = target
		if ctype != "" {
			r.Header.Set("Content-Type", ctype)
		}
		return r
	}
	r1, r2 := request(), request()
	got, gotErr := parseForm(httptest.NewRecorder(), r1)
	want, wantErr := parseFormByParseForm(httptest.NewRecorder(), r2)
	if (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != wantErr.Error() ||
		!maps.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("%s ?%s %q %.40q: got %v %v, want %v %v", method, target, ctype, body, got, gotErr, want, wantErr)
	}
	if gotErr == nil && (!maps.EqualFunc(r1.Form, r2.Form, slices.Equal) || !maps.EqualFunc(r1.PostForm, r2.PostForm, slices.Equal)) {
		t.Fatalf("%s ?%s: Form %v PostForm %v, want %v %v", method, target, r1.Form, r1.PostForm, r2.Form, r2.PostForm)
	}
}

func FuzzParseForm(f *testing.F) {
	f.Add("", "grant_type=client_credentials")
	f.Add("scope=scim.read", "scope=a&scope=b")
	f.Add("client%5Fid=x", "a=%zz;b")
	f.Fuzz(func(t *testing.T, query, body string) {
		sameAsParseForm(t, http.MethodPost, query, "application/x-www-form-urlencoded", body)
	})
}

func TestParseFormAsParseForm(t *testing.T) {
	form := "application/x-www-form-urlencoded"
	for _, tc := range []struct{ method, target, ctype, body string }{
		{"POST", "/t", form, "grant_type=client_credentials"},
		{"POST", "/t", form, ""},
		{"POST", "/t", form + "; charset=utf-8", "grant_type=client_credentials&scope=a+b"},
		{"POST", "/t", "APPLICATION/X-WWW-FORM-URLENCODED", "a=1"},
		{"POST", "/t", "application/json", "{}"},
		{"POST", "/t", "", "a=1"},
		{"POST", "/t", "x;;", "a=1"},
		{"GET", "/t", form, "a=1"},
		{"POST", "/t?scope=scim.read", form, "grant_type=client_credentials"},
		{"POST", "/t?scope=scim.read&scope=x", form, "scope=y"},
		{"POST", "/t?scope=%zz", form, "a=1"},
		{"POST", "/t?client_secret=s", form, "a=1"},
		{"POST", "/t?client%5Fsecret=s", form, "a=1"},
		{"POST", "/t", form, "a=1&a=2"},
		{"POST", "/t", form, "a=%zz"},
		{"POST", "/t", form, "a=1;b=2"},
		{"POST", "/t", form, "&&a=1&&"},
		{"POST", "/t", form, "a=" + strings.Repeat("x", maxFormBytes-2)},
		{"POST", "/t", form, "a=" + strings.Repeat("x", maxFormBytes-1)},
		{"POST", "/t", form, "a=" + strings.Repeat("x", 3*maxFormBytes)},
	} {
		_, query, _ := strings.Cut(tc.target, "?")
		sameAsParseForm(t, tc.method, query, tc.ctype, tc.body)
	}
}

// A body over the limit ends the connection: said in the answer's
// Connection header, which h1server (unlike net/http's server) needs to
// hear it.
func TestOversizedFormClosesTheConnection(t *testing.T) {
	for _, size := range []int{maxFormBytes, maxFormBytes + 1, 3 * maxFormBytes} {
		r := httptest.NewRequest(http.MethodPost, "/t", strings.NewReader("a="+strings.Repeat("x", size-2)))
		w := httptest.NewRecorder()
		_, oerr := readForm(w, r)
		if tooBig := size > maxFormBytes; (oerr != nil) != tooBig || (w.Header().Get("Connection") == "close") != tooBig {
			t.Errorf("%d bytes: error %v, Connection %q", size, oerr, w.Header().Get("Connection"))
		}
	}
}

// bodyTooLarge, which the sign-in and consent pages share with readForm,
// closes the connection for http.MaxBytesReader's limit only.
func TestBodyTooLarge(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"limit", &http.MaxBytesError{Limit: maxPageForm}, true},
		{"wrapped limit", fmt.Errorf("form: %w", &http.MaxBytesError{Limit: maxPageForm}), true},
		{"other", io.ErrUnexpectedEOF, false},
	}
	for _, tt := range tests {
		w := httptest.NewRecorder()
		if got := bodyTooLarge(w, tt.err); got != tt.want || (w.Header().Get("Connection") == "close") != tt.want {
			t.Errorf("%s: %v, Connection %q", tt.name, got, w.Header().Get("Connection"))
		}
	}
}
