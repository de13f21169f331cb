package adminapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/scimgate/scimgate/internal/requestid"
	"github.com/scimgate/scimgate/internal/store/storetest"
)

// apiServer serves the admin API over a fresh embedded store.
func apiServer(t *testing.T) (*httptest.Server, fixture) {
	t.Helper()
	local, auditBuf, logBuf := newLocal(t, storetest.OpenBolt(t), oneRouteSite, "admin_api")
	h, err := NewHandler(local, testToken, slog.New(slog.NewTextHandler(logBuf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(requestid.Middleware(h))
	t.Cleanup(srv.Close)
	return srv, fixture{local, auditBuf, logBuf}
}

type exchange struct {
	status int
	header http.Header
	body   string
}

func send(t *testing.T, srv *httptest.Server, method, path, auth, body string) exchange {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return exchange{resp.StatusCode, resp.Header, string(b)}
}

func TestHandlerHTTP(t *testing.T) {
	srv, _ := apiServer(t)
	bearer := "Bearer " + testToken
	// The cases run in order: later ones rely on what earlier ones created.
	for _, tc := range []struct {
		name, method, path, auth, body string
		status                         int
		errCode, contains              string
	}{
		{"no token", "GET", "/admin/v1/tenants", "", "", 401, "unauthorized", ""},
		{"wrong token", "GET", "/admin/v1/tenants", "Bearer " + strings.ToUpper(testToken), "", 401, "unauthorized", ""},
		{"basic scheme", "GET", "/admin/v1/tenants", "Basic " + testToken, "", 401, "unauthorized", ""},
		{"no token, unknown path", "GET", "/admin/v1/nothing", "", "", 401, "unauthorized", ""},
		{"empty list", "GET", "/admin/v1/tenants", bearer, "", 200, "", "[]"},
		{"scheme is case-insensitive", "GET", "/admin/v1/tenants", "bearer " + testToken, "", 200, "", "[]"},
		{"unknown path", "GET", "/admin/v1/nothing", bearer, "", 404, "not_found", ""},
		{"outside the prefix", "GET", "/admin/v2/tenants", bearer, "", 404, "not_found", ""},
		{"wrong method", "PUT", "/admin/v1/tenants", bearer, `{}`, 405, "method_not_allowed", ""},
		{"create", "POST", "/admin/v1/tenants", bearer, `{"id":"acme","display_name":"ACME"}`, 201, "", `"id": "acme"`},
		{"exists", "POST", "/admin/v1/tenants", bearer, `{"id":"acme"}`, 409, "conflict", `tenant \"acme\": already exists`},
		{"invalid id", "POST", "/admin/v1/tenants", bearer, `{"id":"ACME_1"}`, 400, "invalid_request", "tenant id"},
		{"unknown field", "POST", "/admin/v1/tenants", bearer, `{"id":"x","name":"y"}`, 400, "invalid_request", `unknown field \"name\"`},
		{"member named twice", "POST", "/admin/v1/tenants", bearer, `{"id":"acme2","id":"evil"}`, 400, "invalid_request", `member \"id\" appears twice`},
		{"member name in another case", "POST", "/admin/v1/tenants", bearer, `{"ID":"upper"}`, 400, "invalid_request", `did you mean \"id\"`},
		{"no body", "POST", "/admin/v1/tenants", bearer, ``, 400, "invalid_request", "a JSON object is required"},
		{"not JSON", "POST", "/admin/v1/tenants", bearer, `id=acme`, 400, "invalid_request", "request body"},
		{"trailing data", "POST", "/admin/v1/tenants", bearer, `{"id":"b"} {"id":"c"}`, 400, "invalid_request", "after the JSON object"},
		{"wrong type", "POST", "/admin/v1/tenants", bearer, `{"id":1}`, 400, "invalid_request", `request body: member \"id\" must be a string, got a number`},
		{"array for an object", "POST", "/admin/v1/tenants", bearer, `[]`, 400, "invalid_request", "request body: a JSON object is required, got an array"},
		{"string for a list", "POST", "/admin/v1/clients", bearer, `{"tenant_id":"acme","client_name":"x","kind":"entra","audiences":"https://a"}`, 400, "invalid_request", `member \"audiences\" must be an array of strings, got a string`},
		{"number for a duration", "POST", "/admin/v1/clients", bearer, `{"tenant_id":"acme","client_name":"x","kind":"entra","access_ttl":3600}`, 400, "invalid_request", `member \"access_ttl\" must be a string, got a number`},
		{"string for a boolean", "POST", "/admin/v1/clients", bearer, `{"tenant_id":"acme","client_name":"x","kind":"okta","require_pkce":"yes"}`, 400, "invalid_request", `member \"require_pkce\" must be true or false, got a string`},
		{"too large", "POST", "/admin/v1/tenants", bearer, `{"id":"` + strings.Repeat("a", MaxBodySize) + `"}`, 413, "request_too_large", ""},
		{"bad duration", "POST", "/admin/v1/clients", bearer, `{"tenant_id":"acme","client_name":"x","kind":"entra","access_ttl":"forever"}`, 400, "invalid_request", "Go syntax"},
		{"show", "GET", "/admin/v1/tenants/acme", bearer, "", 200, "", `"display_name": "ACME"`},
		{"show unknown", "GET", "/admin/v1/tenants/nope", bearer, "", 404, "not_found", `tenant \"nope\": not found`},
		{"disable", "POST", "/admin/v1/tenants/acme/disable", bearer, "", 200, "", `"disabled": true`},
		{"enable", "POST", "/admin/v1/tenants/acme/enable", bearer, "", 200, "", `"disabled": false`},
		{"client", "POST", "/admin/v1/clients", bearer, `{"tenant_id":"acme","client_name":"Entra","kind":"entra"}`, 201, "", `"client_secret": "`},
		{"list clients", "GET", "/admin/v1/clients?tenant=acme", bearer, "", 200, "", `"scim_base_url": "https://scim.example.com/scim/v2"`},
		{"list clients of unknown tenant", "GET", "/admin/v1/clients?tenant=nope", bearer, "", 404, "not_found", ""},
		{"admin with chosen password", "POST", "/admin/v1/tenants/acme/admins", bearer, `{"username":"ann","password":"a long enough passphrase"}`, 201, "", `"username": "ann"`},
		{"admin password, empty body", "POST", "/admin/v1/tenants/acme/admins/ann/password", bearer, "", 200, "", `"password": "`},
		{"delete admin", "DELETE", "/admin/v1/tenants/acme/admins/ann", bearer, "", 204, "", ""},
		{"delete admin again", "DELETE", "/admin/v1/tenants/acme/admins/ann", bearer, "", 404, "not_found", ""},
		{"tenant still owns a client", "DELETE", "/admin/v1/tenants/acme", bearer, "", 400, "invalid_request", `still owns 1 client; delete it first`},
		{"signing keys", "GET", "/admin/v1/keys", bearer, "", 200, "", "[]"},
		{"rotate signing key", "POST", "/admin/v1/keys/rotate", bearer, "", 200, "", `"state": "active"`},
		{"revoke unknown signing key", "POST", "/admin/v1/keys/nope/revoke", bearer, "", 404, "not_found", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := send(t, srv, tc.method, tc.path, tc.auth, tc.body)
			if got.status != tc.status {
				t.Fatalf("status %d, want %d: %s", got.status, tc.status, got.body)
			}
			if allow := got.header.Get("Allow"); tc.status == http.StatusMethodNotAllowed && allow != "GET, POST" {
				t.Errorf("405 with Allow %q, want \"GET, POST\"", allow)
			}
			if got.header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q", got.header.Get("Cache-Control"))
			}
			if !strings.Contains(got.body, tc.contains) {
				t.Errorf("body lacks %q:\n%s", tc.contains, got.body)
			}
			if got.status == http.StatusNoContent {
				return
			}
			if ct := got.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var e ErrorBody
			if err := json.Unmarshal([]byte(got.body), &e); tc.errCode != "" && (err != nil || e.Error != tc.errCode || e.Detail == "") {
				t.Errorf("error body %s, want error %q with a detail", got.body, tc.errCode)
			}
			switch {
			case tc.status == 401 && got.header.Get("WWW-Authenticate") == "":
				t.Error("401 without WWW-Authenticate")
			case tc.status == 401 && tc.auth != "" && strings.HasPrefix(tc.auth, "Bearer") && !strings.Contains(got.header.Get("WWW-Authenticate"), `error="invalid_token"`):
				t.Errorf("WWW-Authenticate %q", got.header.Get("WWW-Authenticate"))
			}
		})
	}
}

func TestNewHandlerNeedsToken(t *testing.T) {
	if _, err := NewHandler(nil, "", nil); err == nil {
		t.Fatal("NewHandler accepted an empty token")
	}
}

// A failing store is a 500 whose body says nothing about the cause; the
// cause goes to the log with the request id.
func TestHandlerInternalError(t *testing.T) {
	kv := storetest.OpenBolt(t)
	local, _, logBuf := newLocal(t, kv, oneRouteSite, "admin_api")
	h, err := NewHandler(local, testToken, slog.New(slog.NewTextHandler(logBuf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(requestid.Middleware(h))
	t.Cleanup(srv.Close)
	if err := kv.Close(); err != nil {
		t.Fatal(err)
	}
	got := send(t, srv, "GET", "/admin/v1/tenants", "Bearer "+testToken, "")
	if got.status != 500 || !strings.Contains(got.body, `"internal_error"`) || strings.Contains(got.body, "closed") {
		t.Fatalf("got %d %s", got.status, got.body)
	}
	id := got.header.Get(requestid.Header)
	if !strings.Contains(got.body, id) || !strings.Contains(logBuf.String(), "request_id="+id) {
		t.Fatalf("request id %s missing from body %s or log %s", id, got.body, logBuf)
	}
}

// secretFields finds every secret a response carries.
var secretFields = regexp.MustCompile(`"(client_secret|api_key|password)": "([^"]+)"`)

// Every secret appears in exactly one response, the one that made it, and
// in no log or audit line; no response carries a hash.
func TestSecretsShownOnce(t *testing.T) {
	srv, f := apiServer(t)
	bearer := "Bearer " + testToken
	var bodies []string
	call := func(method, path, body string) string {
		got := send(t, srv, method, path, bearer, body)
		if got.status >= 300 {
			t.Fatalf("%s %s: %d %s", method, path, got.status, got.body)
		}
		bodies = append(bodies, got.body)
		return got.body
	}
	var client ClientWithSecret
	var key APIKeyWithSecret
	call("POST", "/admin/v1/tenants", `{"id":"acme"}`)
	mustUnmarshal(t, call("POST", "/admin/v1/clients", `{"tenant_id":"acme","client_name":"Entra","kind":"entra"}`), &client)
	mustUnmarshal(t, call("POST", "/admin/v1/apikeys", `{"tenant_id":"acme","name":"OneLogin"}`), &key)
	call("POST", "/admin/v1/clients/"+client.ClientID+"/secrets", "")
	call("POST", "/admin/v1/apikeys/"+key.ID+"/rotate", "")
	call("POST", "/admin/v1/apikeys/"+key.ID+"/revoke", "")
	call("POST", "/admin/v1/tenants/acme/admins", `{"username":"ann"}`)
	call("POST", "/admin/v1/tenants/acme/admins", `{"username":"bob","password":"bob's own long passphrase"}`)
	call("POST", "/admin/v1/tenants/acme/admins/ann/password", `{}`)
	call("POST", "/admin/v1/keys/rotate", "")
	for _, p := range []string{"/admin/v1/tenants", "/admin/v1/tenants/acme", "/admin/v1/clients", "/admin/v1/clients/" + client.ClientID,
		"/admin/v1/apikeys", "/admin/v1/apikeys/" + key.ID, "/admin/v1/tenants/acme/admins", "/admin/v1/keys"} {
		call("GET", p, "")
	}

	all := strings.Join(bodies, "\n")
	secrets := secretFields.FindAllStringSubmatch(all, -1)
	if len(secrets) != 6 { // client, its second secret, key, its rotation, ann twice
		t.Fatalf("found %d secrets, want 6:\n%s", len(secrets), all)
	}
	for _, s := range secrets {
		if n := strings.Count(all, s[2]); n != 1 {
			t.Errorf("%s appears %d times in responses", s[1], n)
		}
		for name, out := range map[string]string{"audit": f.audit.String(), "log": f.log.String()} {
			if strings.Contains(out, s[2]) {
				t.Errorf("%s leaked to the %s", s[1], name)
			}
		}
	}
	if strings.Contains(all, "bob's own") {
		t.Error("a chosen password was echoed")
	}
	for _, banned := range []string{`"hash"`, `"password_hash"`, "$hmac", "$argon2"} {
		if strings.Contains(all, banned) {
			t.Errorf("a response contains %s", banned)
		}
	}
}

func mustUnmarshal(t *testing.T, body string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatal(err)
	}
}

func FuzzDecodeBody(f *testing.F) {
	for _, seed := range []string{
		``, `{}`, `null`, `{"tenant_id":"acme","client_name":"x","kind":"okta","okta_app":"a","redirect_uris":["https://x"]}`,
		`{"access_ttl":"1h","secret_ttl":"8760h","secret_never_expires":true}`, `{"access_ttl":5}`, `{"x":1}`,
		`{} {}`, `{"scope":"scim.full"}` + strings.Repeat(" ", 10), "\xff", `[`, `{"audiences":[null]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, allowEmpty := range []bool{false, true} {
			v, err := decodeBody[NewClient](bytes.NewReader(data), allowEmpty)
			var be *bodyError
			if err != nil {
				if !errors.As(err, &be) || be.detail == "" {
					t.Fatalf("error %v is not a bodyError with a detail", err)
				}
				continue
			}
			// What was accepted survives a round trip unchanged.
			again, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			back, err := decodeBody[NewClient](bytes.NewReader(again), false)
			if err != nil {
				t.Fatalf("re-decoding %s: %v", again, err)
			}
			if b, _ := json.Marshal(back); !bytes.Equal(b, again) {
				t.Fatalf("round trip changed %s into %s", again, b)
			}
		}
	})
}
