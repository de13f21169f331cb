package gateway

import (
	"net/http"
	"strings"
	"testing"

	"github.com/scimgate/scimgate/internal/secret"
)

func TestParseAuthorization(t *testing.T) {
	key, _ := secret.NewAPIKey()
	const jwt = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
	for _, tc := range []struct {
		name   string
		values []string
		query  string
		raw    bool
		kind   credentialKind
		cred   string
		status int
		reason string
	}{
		{name: "bearer JWT", values: []string{"Bearer " + jwt}, kind: kindJWT, cred: jwt},
		{name: "lower-case scheme", values: []string{"bearer " + jwt}, kind: kindJWT, cred: jwt},
		{name: "extra spaces", values: []string{"Bearer   " + jwt}, kind: kindJWT, cred: jwt},
		{name: "alg none shape", values: []string{"Bearer eyJhbGciOiJub25lIn0.e30."}, kind: kindJWT, cred: "eyJhbGciOiJub25lIn0.e30."},
		{name: "bearer API key", values: []string{"Bearer " + key}, kind: kindAPIKey, cred: key},
		{name: "raw API key allowed", values: []string{key}, raw: true, kind: kindAPIKey, cred: key},
		{name: "raw API key not allowed", values: []string{key}, status: 401, reason: "raw_credential"},
		{name: "raw JWT", values: []string{jwt}, raw: true, status: 401, reason: "raw_credential"},
		{name: "raw non-token (Okta A4)", values: []string{"non-token"}, raw: true, status: 401, reason: "raw_credential"},
		{name: "tab after the scheme", values: []string{"Bearer\t" + jwt}, status: 400, reason: "malformed"},
		{name: "tab after the scheme, raw keys allowed", values: []string{"Bearer\t" + key}, raw: true, status: 400, reason: "malformed"},
		{name: "raw value with a quote", values: []string{`x"y`}, raw: true, status: 400, reason: "malformed"},
		{name: "missing", status: 401, reason: "missing"},
		{name: "several headers", values: []string{"Bearer " + jwt, "Bearer " + jwt}, status: 400, reason: "several_authorization_headers"},
		{name: "token in query", values: []string{"Bearer " + jwt}, query: "filter=x&access_token=abc", status: 400, reason: "token_in_query"},
		{name: "encoded token in query", query: "access%5Ftoken=abc", status: 400, reason: "token_in_query"},
		{name: "token in query after a semicolon", values: []string{"Bearer " + jwt}, query: "filter=x;access_token=abc", status: 400, reason: "token_in_query"},
		{name: "token in query after a semicolon, no header", query: "a=1;ACCESS_TOKEN=abc", status: 400, reason: "token_in_query"},
		{name: "token in query between semicolons", values: []string{"Bearer " + jwt}, query: "a=1;access%5ftoken;b=2", status: 400, reason: "token_in_query"},
		{name: "query mentions access_token in a value", values: []string{"Bearer " + jwt}, query: "filter=access_token", kind: kindJWT, cred: jwt},
		{name: "basic", values: []string{"Basic dXNlcjpwYXNz"}, status: 401, reason: "basic_unsupported"},
		{name: "other scheme", values: []string{"Token abc"}, status: 401, reason: "unsupported_scheme"},
		{name: "bearer not a token (Okta A5)", values: []string{"Bearer not-a-token"}, status: 401, reason: "unrecognised_token"},
		{name: "bearer empty", values: []string{"Bearer "}, status: 400, reason: "malformed"},
		{name: "bearer empty, trimmed by the server", values: []string{"bearer"}, raw: true, status: 400, reason: "malformed"},
		{name: "bearer two tokens", values: []string{"Bearer a b"}, status: 400, reason: "malformed"},
		{name: "bearer bad characters", values: []string{"Bearer eyJ\x00.a.b"}, status: 400, reason: "malformed"},
		{name: "empty header", values: []string{""}, status: 400, reason: "malformed"},
		{name: "only a space", values: []string{" "}, status: 400, reason: "malformed"},
		{name: "oversized", values: []string{"Bearer eyJ" + strings.Repeat("a", maxCredentialLen) + ".a.b"}, status: 400, reason: "malformed"},
		{name: "API key with JWT dots is a key", values: []string{"Bearer sk_scim_x.y.z"}, kind: kindAPIKey, cred: "sk_scim_x.y.z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kind, cred, prob := parseAuthorization(tc.values, tc.query, tc.raw)
			if tc.status != 0 {
				if prob == nil || prob.status != tc.status || prob.reason != tc.reason {
					t.Fatalf("got kind %d cred %q problem %+v, want %d %s", kind, cred, prob, tc.status, tc.reason)
				}
				return
			}
			if prob != nil || kind != tc.kind || cred != tc.cred {
				t.Fatalf("got kind %d cred %q problem %+v, want kind %d cred %q", kind, cred, prob, tc.kind, tc.cred)
			}
		})
	}
}

func TestParseAuthorizationAllocatesNothing(t *testing.T) {
	values := []string{"Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"}
	if n := testing.AllocsPerRun(100, func() { parseAuthorization(values, "filter=userName+eq+%22x%22", false) }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

// FuzzParseAuthorization checks the invariants of credential routing on
// arbitrary headers: a JWT never goes to the API-key lookup and an API key
// never to the JWT parser; the credential is the header's own text; raw
// keys pass only where allowed; every refusal is a 400 or a 401.
func FuzzParseAuthorization(f *testing.F) {
	key, _ := secret.NewAPIKey()
	for _, s := range []string{
		"Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", "Bearer " + key, key, "Basic dXNlcjpwYXNz",
		"Bearer ", "bearer  x", "Bearer eyJ..", "Token x", "", " ", "Bearer sk_scim_a.b.c", "Bearer a=b",
	} {
		f.Add(s, "", true)
		f.Add(s, "access_token=x", false)
	}
	f.Fuzz(func(t *testing.T, header, query string, raw bool) {
		kind, cred, prob := parseAuthorization([]string{header}, query, raw)
		if prob != nil {
			if kind != kindNone || cred != "" {
				t.Fatalf("refusal with a credential: %d %q", kind, cred)
			}
			if prob.status != http.StatusBadRequest && prob.status != http.StatusUnauthorized || prob.detail == "" {
				t.Fatalf("bad problem %+v", prob)
			}
			return
		}
		if !strings.HasSuffix(header, cred) || cred == "" || !isToken68(cred) {
			t.Fatalf("credential %q is not the end of header %q", cred, header)
		}
		switch kind {
		case kindJWT:
			if secret.LooksLikeAPIKey(cred) || !looksLikeJWT(cred) {
				t.Fatalf("%q routed to the JWT verifier", cred)
			}
		case kindAPIKey:
			if !secret.LooksLikeAPIKey(cred) {
				t.Fatalf("%q routed to the API-key lookup", cred)
			}
			if cred == header && !raw {
				t.Fatalf("raw key %q accepted where not allowed", header)
			}
		default:
			t.Fatalf("no kind and no problem for %q", header)
		}
		if hasQueryToken(query) {
			t.Fatalf("query token %q accepted", query)
		}
	})
}

func TestIsToken68(t *testing.T) {
	for c := range 256 {
		s := string([]byte{byte(c)})
		want := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-._~+/", rune(c))
		if got := isToken68(s); got != want {
			t.Errorf("isToken68(%q) = %v", s, got)
		}
		if got := isToken68("a" + s + "=="); got != (want || c == '=') {
			t.Errorf("isToken68(a%q==) = %v", s, got)
		}
	}
	for s, want := range map[string]bool{"": false, "=": false, "a=": true, "a=b": false, "abc==": true} {
		if isToken68(s) != want {
			t.Errorf("isToken68(%q) != %v", s, want)
		}
	}
}
