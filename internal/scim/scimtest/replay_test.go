package scimtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/scimgate/scimgate/authserver"
	"github.com/scimgate/scimgate/config"
	"github.com/scimgate/scimgate/internal/credentials"
	"github.com/scimgate/scimgate/internal/scim"
	"github.com/scimgate/scimgate/internal/scim/scimtest"
	"github.com/scimgate/scimgate/internal/stacktest"
)

// step is one provider request of a replayed sequence.
type step struct {
	id                  string // vector ID in ../shared/docs/idp
	method, path, query string
	// emptyQuery sends a "?" with nothing after it (OneLogin's PUT
	// /Users/{id}?, L9): the server sees the query as empty either way.
	emptyQuery bool
	body       string   // {name} is replaced by a saved id
	header     []string // name, value pairs over the provider's headers; "" removes one
	want       []int    // statuses the provider accepts
	save       string   // save the returned id (or Resources[0].id) under this name
	check      func(t *testing.T, body map[string]any)
}

// replayer plays a provider's requests into the strict upstream and back:
// either through the normalizer alone, or through the whole gateway over
// HTTP (authentication, routing, normalization both ways, the proxy).
type replayer struct {
	t       *testing.T
	srv     *scimtest.Server
	dialect scim.Dialect
	header  http.Header // the provider's own headers
	vars    map[string]string
	client  string       // the client id the upstream must see
	gateway *gatewayPath // nil: the normalizer alone
}

// gatewayPath is a running gateway in front of the replayer's upstream.
type gatewayPath struct {
	base          string // the SCIM base URL the provider was given
	authorization string // the provider's Authorization header
}

// credential is how a provider authenticates to the gateway.
type credential string

const (
	// bearerKey is Authorization: Bearer <API key>: OneLogin, Entra's
	// Secret Token, Okta's Bearer mode.
	bearerKey credential = "API key"
	// rawKey is Okta's Header mode (A2): the API key as the whole
	// Authorization value, on a raw_api_key route.
	rawKey credential = "raw API key"
	// oktaOAuth is the access token of the authorization-code flow Okta
	// runs (O1, O4, O11): an admin of the tenant signs in and consents.
	oktaOAuth credential = "authorization code"
	// clientCredentials is Entra's OAuth2 client credentials: a token from
	// the token endpoint, the secret in HTTP Basic.
	clientCredentials credential = "client credentials"
)

// forEachPath replays a sequence through the normalizer alone and through
// the real gateway with each credential (an API key by default), each into
// a fresh strict upstream.
func forEachPath(t *testing.T, d scim.Dialect, header http.Header, replay func(*testing.T, *replayer), creds ...credential) {
	if len(creds) == 0 {
		creds = []credential{bearerKey}
	}
	t.Run("normalizer", func(t *testing.T) { replay(t, newReplayer(t, d, header)) })
	for _, c := range creds {
		t.Run("gateway with "+string(c), func(t *testing.T) { replay(t, newGatewayReplayer(t, d, header, c)) })
	}
}

func newReplayer(t *testing.T, d scim.Dialect, header http.Header) *replayer {
	return &replayer{t: t, srv: scimtest.New(scimtest.PerTenant()), dialect: d, header: header, vars: map[string]string{}, client: "client-1"}
}

// newGatewayReplayer serves the strict upstream behind the real gateway, on
// a route whose dialect is d, and authenticates as tenant acme with cred.
func newGatewayReplayer(t *testing.T, d scim.Dialect, header http.Header, cred credential) *replayer {
	r := newReplayer(t, d, header)
	up := httptest.NewServer(r.srv)
	t.Cleanup(up.Close)
	dialect := config.DialectAuto
	if d != scim.Auto {
		dialect = config.Dialect(d)
	}
	route := config.DefaultRoute()
	route.Prefix, route.Upstream, route.Dialect, route.RawAPIKey = "/scim/v2", up.URL, dialect, cred == rawKey
	stack := stacktest.Start(t, stacktest.Options{Gateway: config.Gateway{Routes: []config.Route{route}}, AuthorizationCode: cred == oktaOAuth})
	ctx := context.Background()
	if _, err := stack.Credentials.CreateTenant(ctx, "acme", "Acme"); err != nil {
		t.Fatal(err)
	}
	audiences := []string{stack.URL + "/scim/v2"}
	r.gateway = &gatewayPath{base: stack.URL + "/scim/v2"}
	switch cred {
	case bearerKey, rawKey:
		key, plain, err := stack.Credentials.CreateAPIKey(ctx, credentials.APIKeySpec{TenantID: "acme", Name: "provider", Audiences: audiences})
		if err != nil {
			t.Fatal(err)
		}
		r.client, r.gateway.authorization = key.ID, plain
		if cred == bearerKey {
			r.gateway.authorization = "Bearer " + plain
		}
	case oktaOAuth:
		var token string
		r.client, token = oktaAccessToken(t, stack, audiences)
		r.gateway.authorization = "Bearer " + token
	case clientCredentials:
		c, secret, err := stack.Credentials.CreateClient(ctx, credentials.ClientSpec{TenantID: "acme", Name: "Entra", Kind: credentials.KindEntra, Audiences: audiences})
		if err != nil {
			t.Fatal(err)
		}
		cc := clientcredentials.Config{ClientID: c.ID, ClientSecret: secret, TokenURL: stack.URL + authserver.TokenPath, AuthStyle: oauth2.AuthStyleInHeader}
		tok, err := cc.Token(ctx)
		if err != nil {
			t.Fatalf("token endpoint: %v", err)
		}
		r.client, r.gateway.authorization = c.ID, "Bearer "+tok.AccessToken
	}
	return r
}

// oktaAccessToken connects an Okta client of tenant acme as Okta does: the
// authorize request with offline_access, an admin's sign-in and consent,
// the code redeemed with client_secret_basic and no PKCE (O1, O4). It
// returns the client's id and the access token.
func oktaAccessToken(t *testing.T, stack *stacktest.Stack, audiences []string) (string, string) {
	ctx := context.Background()
	const password = "correct horse battery staple"
	if _, _, err := stack.Credentials.CreateAdmin(ctx, "acme", "ada", password); err != nil {
		t.Fatal(err)
	}
	c, secret, err := stack.Credentials.CreateClient(ctx, credentials.ClientSpec{TenantID: "acme", Name: "Okta", Kind: credentials.KindOkta,
		OktaAppName: "acmescim", Audiences: audiences})
	if err != nil {
		t.Fatal(err)
	}
	callback := credentials.OktaRedirectURIs("acmescim")[0]
	code := stack.Authorize(t, url.Values{"response_type": {"code"}, "client_id": {c.ID}, "redirect_uri": {callback},
		"state": {"okta-state"}, "scope": {"scim.full offline_access"}}, "ada", password)
	cfg := oauth2.Config{ClientID: c.ID, ClientSecret: secret, RedirectURL: callback,
		Endpoint: oauth2.Endpoint{TokenURL: stack.URL + authserver.TokenPath, AuthStyle: oauth2.AuthStyleInHeader}}
	tok, err := cfg.Exchange(ctx, code)
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("code exchange: %+v %v", tok, err)
	}
	return c.ID, tok.AccessToken
}

func (r *replayer) expand(s string) string {
	for k, v := range r.vars {
		s = strings.ReplaceAll(s, "{"+k+"}", v)
	}
	return s
}

func (r *replayer) run(steps ...step) {
	r.t.Helper()
	for _, s := range steps {
		req := scim.Request{Method: s.method, Path: "/scim/v2" + s.path, RawQuery: r.expand(s.query), Header: r.header.Clone(), Body: []byte(r.expand(s.body))}
		req.Path = r.expand(req.Path)
		if s.body != "" && req.Header.Get("Content-Type") == "" {
			req.Header.Set("Content-Type", "application/scim+json; charset=utf-8")
		}
		for i := 0; i+1 < len(s.header); i += 2 {
			if s.header[i+1] == "" {
				req.Header.Del(s.header[i])
			} else {
				req.Header.Set(s.header[i], s.header[i+1])
			}
		}
		status, body := r.roundTrip(req, s.emptyQuery)
		if !slices.Contains(s.want, status) {
			r.t.Fatalf("%s %s %s: status %d, want %v: %s", s.id, s.method, req.Path, status, s.want, body)
		}
		var out map[string]any
		if len(body) > 0 {
			if err := json.Unmarshal(body, &out); err != nil {
				r.t.Fatalf("%s: invalid JSON %q", s.id, body)
			}
		}
		if status >= 400 {
			// R10, L14: every error is a SCIM error, its status a string.
			if schemas, _ := out["schemas"].([]any); len(schemas) != 1 || schemas[0] != scim.URNError || out["status"] != strconv.Itoa(status) || out["detail"] == "" {
				r.t.Fatalf("%s: %d is not a SCIM error: %s", s.id, status, body)
			}
		}
		if s.save != "" {
			id, _ := out["id"].(string)
			if l, ok := out["Resources"].([]any); ok && len(l) > 0 {
				id, _ = l[0].(map[string]any)["id"].(string)
			}
			if id == "" {
				r.t.Fatalf("%s: no id to save in %s", s.id, body)
			}
			r.vars[s.save] = id
		}
		if s.check != nil {
			s.check(r.t, out)
		}
	}
}

func (r *replayer) roundTrip(req scim.Request, emptyQuery bool) (int, []byte) {
	if r.gateway != nil {
		return r.throughGateway(req, emptyQuery)
	}
	got, err := scim.NormalizeRequest(r.dialect, req)
	if err != nil {
		var se *scim.Error
		if !errors.As(err, &se) {
			r.t.Fatalf("non-SCIM error %v", err)
		}
		w := httptest.NewRecorder()
		scim.WriteError(w, err)
		return w.Code, w.Body.Bytes()
	}
	up := httptest.NewRequest(req.Method, req.Path, bytes.NewReader(got.Body))
	up.URL.RawQuery = got.RawQuery
	if got.ContentType != "" {
		up.Header.Set("Content-Type", got.ContentType)
	}
	up.Header.Set("X-Scim-Tenant", "acme") // the gateway's mutators
	up.Header.Set("X-Scim-Client", "client-1")
	w := httptest.NewRecorder()
	r.srv.ServeHTTP(w, up)
	resp, _ := scim.NormalizeResponse(got.Dialect, req, scim.Response{Status: w.Code, ContentType: w.Header().Get("Content-Type"), Body: w.Body.Bytes()})
	if len(resp.Body) > 0 {
		if want := scim.ResponseContentType(got.Dialect, req.Header.Get("Accept")); resp.ContentType != want {
			r.t.Fatalf("%s %s: Content-Type %q, want %q", req.Method, req.Path, resp.ContentType, want)
		}
	}
	return resp.Status, resp.Body
}

// throughGateway sends req to the gateway as the provider would over HTTP:
// a query with raw spaces or quotes (as the vectors write them) is escaped
// the way an HTTP client must.
func (r *replayer) throughGateway(req scim.Request, emptyQuery bool) (int, []byte) {
	query := strings.NewReplacer(" ", "%20", `"`, "%22").Replace(req.RawQuery)
	u, err := url.Parse(r.gateway.base + strings.TrimPrefix(req.Path, "/scim/v2"))
	if err != nil {
		r.t.Fatal(err)
	}
	u.RawQuery, u.ForceQuery = query, emptyQuery
	hr, err := http.NewRequest(req.Method, u.String(), bytes.NewReader(req.Body))
	if err != nil {
		r.t.Fatal(err)
	}
	hr.Header = req.Header.Clone()
	hr.Header.Set("Authorization", r.gateway.authorization)
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); len(body) > 0 && ct != scim.MediaTypeSCIM && ct != scim.MediaTypeJSON {
		r.t.Fatalf("%s %s: Content-Type %q", req.Method, req.Path, ct)
	}
	return resp.StatusCode, body
}

// seed creates a resource of tenant acme in the upstream directly, as the
// user service had it before the provider came (and as fast as wanted:
// the gateway's rate limits are not the provider's pace).
func (r *replayer) seed(res scim.Resource, body string) {
	r.t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/"+string(res), strings.NewReader(body))
	req.Header.Set("Content-Type", scim.MediaTypeSCIM)
	req.Header.Set("X-Scim-Tenant", "acme")
	req.Header.Set("X-Scim-Client", r.client)
	w := httptest.NewRecorder()
	r.srv.ServeHTTP(w, req)
	if w.Code != http.StatusCreated {
		r.t.Fatalf("seed %s: %d %s", body, w.Code, w.Body)
	}
}

// final returns the tenant's resources by id.
func (r *replayer) final(res scim.Resource) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, x := range r.srv.Resources("acme", res) {
		out[x["id"].(string)] = x
	}
	for _, seen := range r.srv.Seen() {
		if seen.Tenant != "acme" || seen.Client != r.client {
			r.t.Fatalf("upstream saw identity %+v", seen)
		}
	}
	return out
}

func total(n float64) func(*testing.T, map[string]any) {
	return func(t *testing.T, b map[string]any) {
		t.Helper()
		if b["totalResults"] != n {
			t.Fatalf("totalResults = %v, want %v", b["totalResults"], n)
		}
	}
}

func scimType(want string) func(*testing.T, map[string]any) {
	return func(t *testing.T, b map[string]any) {
		t.Helper()
		if b["scimType"] != want {
			t.Fatalf("scimType %v, want %s", b["scimType"], want)
		}
	}
}

// oktaFields checks what Okta's SPEC test reads of a user (§6.2 steps 7
// and 8, P4, U6).
func oktaFields(t *testing.T, u map[string]any) {
	t.Helper()
	name, _ := u["name"].(map[string]any)
	emails, _ := u["emails"].([]any)
	if u["id"] == nil || u["userName"] == nil || u["active"] == nil || name["givenName"] == nil || name["familyName"] == nil ||
		len(emails) == 0 || emails[0].(map[string]any)["value"] == nil {
		t.Fatalf("user lacks what Okta reads: %v", u)
	}
}

func members(r *replayer, gid string) []string {
	g := r.final(scim.Groups)[r.vars[gid]]
	var ids []string
	for _, m := range g["members"].([]any) {
		ids = append(ids, m.(map[string]any)["value"].(string))
	}
	slices.Sort(ids)
	return ids
}

func sorted(ids ...string) []string { slices.Sort(ids); return ids }

const (
	pop  = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[`
	ent  = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	guid = "7d420df3-9995-4831-a406-ecf8166f5f6a"
)

var (
	okOrNoContent = []int{200, 204}
	created       = []int{201}
	ok            = []int{200}
)

func entraUser(name, external string) string {
	return `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","` + ent + `"],"externalId":"` + external + `","userName":"` + name + `","active":true,` +
		`"emails":[{"primary":true,"type":"work","value":"` + name + `@testuser.com"}],"meta":{"resourceType":"User"},` +
		`"name":{"formatted":"givenName familyName","familyName":"familyName","givenName":"givenName"},"roles":[]}`
}

// TestReplayEntraDefaultJob plays SC-01 to SC-05 of entra.md with the
// default (non-flag) job, route dialect entra, connected with OAuth2 client
// credentials (SC-01 starts with A-01).
func TestReplayEntraDefaultJob(t *testing.T) {
	forEachPath(t, scim.Entra, http.Header{}, replayEntraDefaultJob, clientCredentials)
}

func replayEntraDefaultJob(t *testing.T, r *replayer) {
	r.run(
		step{id: "C-01", method: "GET", path: "/Users", query: "filter=userName+eq+%22" + guid + "%22", want: ok, check: total(0)},
		step{id: "C-03", method: "GET", path: "/Groups", query: "excludedAttributes=members&filter=displayName+eq+%22" + guid + "%22", want: ok, check: total(0)},
		step{id: "U-02", method: "GET", path: "/Users", query: "filter=userName+eq+%22Test_User_1%22", want: ok, check: total(0)},
		step{id: "U-01", method: "POST", path: "/Users", body: entraUser("Test_User_1", "0a21f0f2"), want: created, save: "uid"},
		step{id: "U-26", method: "POST", path: "/Users", body: entraUser("Test_User_1", "0a21f0f2"), want: []int{409}},
		step{id: "U-03", method: "GET", path: "/Users", query: "filter=userName+eq+%22TEST_USER_1%22", want: ok, check: total(1)},
		step{id: "U-05", method: "GET", path: "/Users", query: "filter=emails%5Btype+eq+%22work%22%5D.value+eq+%22Test_User_1%40testuser.com%22", want: ok, check: total(1)},
		step{id: "U-01 manager", method: "POST", path: "/Users", body: entraUser("Manager_1", "m1"), want: created, save: "mid"},
		step{id: "U-01 second", method: "POST", path: "/Users", body: entraUser("Test_User_2", "u2"), want: created, save: "uid2"},
		step{id: "U-01 third", method: "POST", path: "/Users", body: entraUser("Test_User_3", "u3"), want: created, save: "uid3"},
		step{id: "G-03", method: "GET", path: "/Groups", query: "excludedAttributes=members&filter=displayName+eq+%22displayName%22", want: ok, check: total(0)},
		step{id: "G-01", method: "POST", path: "/Groups", body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],"externalId":"8aa1a0c0","displayName":"displayName","meta":{"resourceType":"Group"}}`, want: created, save: "gid"},
		step{id: "G-06", method: "PATCH", path: "/Groups/{gid}", body: pop + `{"op":"Add","path":"members","value":[{"$ref":null,"value":"{uid}"}]}]}`, want: okOrNoContent},
		step{id: "G-07", method: "PATCH", path: "/Groups/{gid}", body: pop + `{"op":"Add","path":"members","value":[{"$ref":null,"value":"{uid2}"},{"$ref":null,"value":"{uid3}"}]}]}`, want: okOrNoContent},
		step{id: "G-09", method: "PATCH", path: "/Groups/{gid}", body: pop + `{"op":"Add","path":"members","value":[{"$ref":null,"value":"{uid}"}]}]}`, want: okOrNoContent},
		step{id: "G-08", method: "PATCH", path: "/Groups/{gid}", body: pop + `{"op":"Remove","path":"members","value":[{"$ref":null,"value":"{uid}"}]}]}`, want: okOrNoContent},
		step{id: "G-08 again (retry)", method: "PATCH", path: "/Groups/{gid}", body: pop + `{"op":"Remove","path":"members","value":[{"$ref":null,"value":"{uid}"}]}]}`, want: okOrNoContent},
		step{id: "G-02", method: "GET", path: "/Groups/{gid}", query: "excludedAttributes=members", want: ok, check: func(t *testing.T, b map[string]any) {
			if _, has := b["members"]; has {
				t.Fatal("members returned")
			}
		}},
	)
	if got := members(r, "gid"); !slices.Equal(got, sorted(r.vars["uid2"], r.vars["uid3"])) {
		t.Fatalf("after G-08 members = %v", got)
	}
	r.run(
		step{id: "U-17", method: "PATCH", path: "/Users/{uid}", body: pop + `{"op":"Replace","path":"displayName","value":"Pvlo"},{"op":"Replace","path":"emails[type eq \"work\"].value","value":"TestBcwqnm@test.microsoft.com"},{"op":"Replace","path":"name.givenName","value":"Gtfd"},{"op":"Replace","path":"name.familyName","value":"Pkqf"},{"op":"Replace","path":"externalId","value":"Eqpj"},{"op":"Replace","path":"` + ent + `:employeeNumber","value":"Eqpj"}]}`, want: okOrNoContent},
		step{id: "U-29", method: "PATCH", path: "/Users/{uid}", body: pop + `{"op":"Replace","path":"displayName","value":"Pvlo"}]}`, want: okOrNoContent},
		step{id: "U-18", method: "PATCH", path: "/Users/{uid}", body: pop + `{"op":"Replace","path":"addresses[type eq \"work\"].formatted","value":"18/2111"},{"op":"Add","path":"` + ent + `:department","value":"Retail"}]}`, want: okOrNoContent},
		step{id: "U-19", method: "PATCH", path: "/Users/{uid}", body: pop + `{"op":"Add","path":"phoneNumbers[type eq \"mobile\"].value","value":"312-320-1707"}]}`, want: okOrNoContent},
		step{id: "U-20", method: "PATCH", path: "/Users/{uid}", body: pop + `{"op":"Add","path":"manager","value":[{"$ref":"http://x/scim/Users/{mid}","value":"{mid}"}]}]}`, want: okOrNoContent},
		step{id: "U-07", method: "GET", path: "/Users/{uid}", want: ok, check: func(t *testing.T, b map[string]any) {
			if m := b[ent].(map[string]any)["manager"].(map[string]any); m["value"] != r.vars["mid"] {
				t.Fatalf("manager = %v", m)
			}
		}},
		// Q18's legacy list with "$ref":null on a replace clears the $ref U-20 set
		step{id: "Q18", method: "PATCH", path: "/Users/{uid}", body: pop + `{"op":"Replace","path":"manager","value":[{"$ref":null,"value":"{mid}"}]}]}`, want: okOrNoContent},
		step{id: "Q18 get", method: "GET", path: "/Users/{uid}", want: ok, check: func(t *testing.T, b map[string]any) {
			if m := b[ent].(map[string]any)["manager"].(map[string]any); m["value"] != r.vars["mid"] || m["$ref"] != nil {
				t.Fatalf("manager = %v", m)
			}
		}},
		step{id: "U-23c", method: "PATCH", path: "/Users/{uid}", body: pop + `{"op":"remove","path":"manager[value eq \"{mid}\"]"}]}`, want: okOrNoContent},
		step{id: "U-21", method: "PATCH", path: "/Users/{uid}", body: pop + `{"op":"Add","path":"` + ent + `:manager","value":"{mid}"}]}`, want: okOrNoContent},
		step{id: "U-23b", method: "PATCH", path: "/Users/{uid}", body: pop + `{"op":"Replace","path":"` + ent + `:manager","value":""}]}`, want: okOrNoContent},
		step{id: "U-11", method: "PATCH", path: "/Users/{uid}", body: pop + `{"op":"Replace","path":"active","value":"False"}]}`, want: okOrNoContent},
		step{id: "U-02 disabled", method: "GET", path: "/Users", query: "filter=userName+eq+%22Test_User_1%22", want: ok, check: func(t *testing.T, b map[string]any) {
			if b["Resources"].([]any)[0].(map[string]any)["active"] != false {
				t.Fatalf("not disabled: %v", b)
			}
		}},
		step{id: "U-13", method: "PATCH", path: "/Users/{uid}", body: pop + `{"op":"Add","path":"active","value":"False"}]}`, want: okOrNoContent},
		step{id: "U-15", method: "PATCH", path: "/Users/{uid}", body: pop + `{"op":"Replace","path":"active","value":"True"}]}`, want: okOrNoContent},
		step{id: "U-24", method: "POST", path: "/Users", body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],"externalId":"jyoung","userName":"jyoung@testuser.com","active":true,"addresses":null,"displayName":"Joy Young","emails":[{"type":"work","value":"jyoung@Contoso.com","primary":true}],"meta":{"resourceType":"User"},"name":{"familyName":"Young","givenName":"Joy"},"phoneNumbers":null,"preferredLanguage":null,"title":null,"department":null,"manager":null}`, want: created},
		step{id: "U-25", method: "GET", path: "/Users", query: "filter=externalId+eq+jyoung", want: ok, check: total(1)},
		step{id: "U-28", method: "DELETE", path: "/Users/{uid3}", want: []int{204}},
		step{id: "U-28 get", method: "GET", path: "/Users/{uid3}", want: []int{404}},
		step{id: "U-28 again", method: "DELETE", path: "/Users/{uid3}", want: []int{404}},
		step{id: "G-05", method: "PATCH", path: "/Groups/{gid}", body: pop + `{"op":"Replace","path":"displayName","value":"renamed"}]}`, want: okOrNoContent},
	)
	if got := members(r, "gid"); !slices.Equal(got, []string{r.vars["uid2"]}) {
		t.Fatalf("after U-28 members = %v", got)
	}
	r.run(
		step{id: "G-10", method: "DELETE", path: "/Groups/{gid}", want: []int{204}},
		step{id: "G-10 get", method: "GET", path: "/Groups/{gid}", want: []int{404}},
	)
	users := r.final(scim.Users)
	u := users[r.vars["uid"]]
	if len(users) != 4 || len(r.final(scim.Groups)) != 0 {
		t.Fatalf("final: %d users, groups %v", len(users), r.final(scim.Groups))
	}
	want := map[string]any{"displayName": "Pvlo", "externalId": "Eqpj", "active": true}
	for k, v := range want {
		if u[k] != v {
			t.Errorf("%s = %v, want %v", k, u[k], v)
		}
	}
	e := u[ent].(map[string]any)
	if e["employeeNumber"] != "Eqpj" || e["department"] != "Retail" || e["manager"] != nil {
		t.Errorf("enterprise = %v", e)
	}
	if n := u["name"].(map[string]any); n["givenName"] != "Gtfd" || n["familyName"] != "Pkqf" {
		t.Errorf("name = %v", n)
	}
	if p := u["phoneNumbers"].([]any)[0].(map[string]any); p["type"] != "mobile" || p["value"] != "312-320-1707" {
		t.Errorf("phone = %v", p)
	}
	if em := u["emails"].([]any); len(em) != 1 || em[0].(map[string]any)["value"] != "TestBcwqnm@test.microsoft.com" {
		t.Errorf("emails = %v", em)
	}
}

// TestReplayEntraFlagJob plays the aadOptscim062020 job and the SCIM
// Validator's lower-case requests with dialect auto.
func TestReplayEntraFlagJob(t *testing.T) {
	forEachPath(t, scim.Auto, http.Header{}, replayEntraFlagJob)
}

func replayEntraFlagJob(t *testing.T, r *replayer) {
	r.run(
		step{id: "C-07", method: "GET", path: "/Users", query: "aadOptscim062020&filter=userName+eq+%22" + guid + "%22", want: ok, check: total(0)},
		step{id: "U-01", method: "POST", path: "/Users", query: "aadOptscim062020", body: entraUser("Flag_User", "f1"), want: created, save: "uid"},
		step{id: "U-01 second", method: "POST", path: "/Users", body: entraUser("Flag_User_2", "f2"), want: created, save: "uid2"},
		step{id: "G-01", method: "POST", path: "/Groups", body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],"displayName":"flag group"}`, want: created, save: "gid"},
		step{id: "G-06F", method: "PATCH", path: "/Groups/{gid}", query: "aadOptscim062020", body: pop + `{"op":"add","path":"members","value":[{"value":"{uid}"},{"value":"{uid2}"}]}]}`, want: okOrNoContent},
		step{id: "G-08F", method: "PATCH", path: "/Groups/{gid}", body: pop + `{"op":"remove","path":"members[value eq \"{uid}\"]"}]}`, want: okOrNoContent},
		step{id: "U-17F", method: "PATCH", path: "/Users/{uid}", query: "aadOptscim062020", body: pop + `{"op":"replace","path":"emails[type eq \"work\"].value","value":"TestMhvaes@test.microsoft.com"},{"op":"replace","value":{"displayName":"Bjfe","name.givenName":"Kkom","name.familyName":"Unua","` + ent + `:employeeNumber":"Aklq"}}]}`, want: okOrNoContent},
		step{id: "U-11F", method: "PATCH", path: "/Users/{uid}", body: pop + `{"op":"replace","path":"active","value":false}]}`, want: okOrNoContent},
		step{id: "V-03", method: "PATCH", path: "/Users/{uid2}", body: pop + `{"op":"add","path":"active","value":true},{"op":"add","path":"displayName","value":"RJEXKNFYZKXS"},{"op":"add","path":"roles[primary eq \"True\"].display","value":"TQBJFQYVJCAG"},{"op":"add","path":"roles[primary eq \"True\"].value","value":"UOYTUVLKIPND"}]}`, want: okOrNoContent},
		step{id: "V-07", method: "POST", path: "/Users", body: `{"userName":"emp1@example.com","active":"True","roles":[{"primary":"True","display":"M","value":"W","type":"X"}],"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"]}`, want: created, check: func(t *testing.T, b map[string]any) {
			if b["active"] != true || b["roles"].([]any)[0].(map[string]any)["primary"] != true {
				t.Fatalf("V-07 = %v", b)
			}
		}},
		step{id: "V-06", method: "PATCH", path: "/Groups/{gid}", body: pop + `{"op":"add","path":"members","value":[{"value":"{uid}"}]},{"op":"remove","path":"members[value eq \"{uid}\"]"}]}`, want: okOrNoContent},
		step{id: "V-09", method: "GET", path: "/Users", query: `filter=userName+eq+"emp1%40example.com"`, want: ok, check: total(1)},
	)
	if got := members(r, "gid"); !slices.Equal(got, []string{r.vars["uid2"]}) {
		t.Fatalf("members = %v", got)
	}
	users := r.final(scim.Users)
	u := users[r.vars["uid"]]
	if u["displayName"] != "Bjfe" || u["active"] != false || u["name.givenName"] != nil || u["name"].(map[string]any)["givenName"] != "Kkom" || u[ent].(map[string]any)["employeeNumber"] != "Aklq" {
		t.Errorf("U-17F/U-11F result %v", u)
	}
	roles := users[r.vars["uid2"]]["roles"].([]any)
	if len(roles) != 1 || roles[0].(map[string]any)["value"] != "UOYTUVLKIPND" || roles[0].(map[string]any)["display"] != "TQBJFQYVJCAG" {
		t.Errorf("V-03 roles %v", roles)
	}
}

// TestReplayOkta plays okta.md §7.3–§7.5: assignment, profile PUT,
// (de)activation, password, and group push; Okta never deletes users.
func TestReplayOkta(t *testing.T) {
	forEachPath(t, scim.Auto, http.Header{"User-Agent": {"Okta SCIM Client 1.0.0"}, "Accept": {"application/scim+json"}}, replayOkta,
		oktaOAuth, rawKey, bearerKey)
}

func replayOkta(t *testing.T, r *replayer) {
	u2 := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"test.user@okta.local","name":{"givenName":"Test","familyName":"User"},"emails":[{"primary":true,"value":"test.user@okta.local","type":"work"}],"displayName":"Test User","locale":"en-US","externalId":"00ujl29u0le5T6Aj10h7","groups":[],"password":"1mz050nq","active":true}`
	noPassword := func(t *testing.T, b map[string]any) {
		if _, has := b["password"]; has {
			t.Fatal("password returned")
		}
	}
	r.run(
		step{id: "A1", method: "GET", path: "/Users", query: "startIndex=1&count=2", want: ok, check: total(0)},
		step{id: "U1", method: "GET", path: "/Users", query: "filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100", want: ok, check: total(0)},
		step{id: "U2", method: "POST", path: "/Users", body: u2, want: created, save: "uid", check: noPassword},
		step{id: "U3", method: "POST", path: "/Users", body: u2, want: []int{409}},
		step{id: "U4", method: "GET", path: "/Users", query: `filter=userName eq "TEST.USER@OKTA.LOCAL"`, want: ok, check: total(1)},
		step{id: "U5", method: "GET", path: "/Users", query: "filter=TEST.USER@OKTA.LOCAL", want: []int{400}, check: scimType(scim.InvalidFilter)},
		step{id: "U6", method: "GET", path: "/Users/{uid}", want: ok, check: func(t *testing.T, b map[string]any) {
			if b["id"] != r.vars["uid"] {
				t.Fatalf("id %v", b["id"])
			}
			oktaFields(t, b)
		}},
		step{id: "P4", method: "GET", path: "/Users", query: "count=1&startIndex=1", want: ok, check: func(t *testing.T, b map[string]any) {
			oktaFields(t, b["Resources"].([]any)[0].(map[string]any))
		}},
		// Okta's SPEC test (§6.2, §6.3, §7.6)
		step{id: "S1", method: "GET", path: "/ServiceProviderConfig", want: ok, check: func(t *testing.T, b map[string]any) {
			for _, k := range []string{"patch", "bulk", "filter", "changePassword", "sort", "etag"} {
				if _, ok := b[k].(map[string]any)["supported"].(bool); !ok {
					t.Fatalf("%s.supported missing: %v", k, b)
				}
			}
			if b["patch"].(map[string]any)["supported"] != true || b["filter"].(map[string]any)["maxResults"] == nil ||
				b["bulk"].(map[string]any)["maxOperations"] == nil || b["bulk"].(map[string]any)["maxPayloadSize"] == nil {
				t.Fatalf("ServiceProviderConfig %v", b)
			}
			if a := b["authenticationSchemes"].([]any)[0].(map[string]any); a["type"] == nil || a["description"] == nil {
				t.Fatalf("authenticationSchemes %v", a)
			}
		}},
		step{id: "S2", method: "POST", path: "/ServiceProviderConfig", body: "test\r\n\r\n", header: []string{"Content-Type", "application/scim+json"}, want: []int{405}},
		step{id: "S3", method: "GET", path: "/ResourceTypes", want: ok, check: func(t *testing.T, b map[string]any) {
			if rt := b["Resources"].([]any)[0].(map[string]any); rt["name"] == nil || rt["endpoint"] == nil || rt["schema"] == nil {
				t.Fatalf("ResourceTypes %v", b)
			}
		}},
		step{id: "S3 POST", method: "POST", path: "/ResourceTypes", body: "test", want: []int{405}},
		step{id: "S4", method: "GET", path: "/Schemas", want: ok, check: func(t *testing.T, b map[string]any) {
			if sc := b["Resources"].([]any)[0].(map[string]any); sc["id"] == nil || sc["attributes"] == nil {
				t.Fatalf("Schemas %v", b)
			}
		}},
		step{id: "S4 POST", method: "POST", path: "/Schemas", body: "test", want: []int{405}},
		step{id: "S5", method: "POST", path: "/Users", header: []string{"Content-Type", "", "Accept", "application/scim+json; charset=utf-8"},
			body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"spec.user@okta.local","name":{"givenName":"Spec","familyName":"User"},"emails":[{"primary":true,"value":"spec.user@okta.local","type":"work"}],"displayName":"Spec User","active":true}`,
			want: created, save: "uid3", check: func(t *testing.T, b map[string]any) {
				if b["active"] != true || b["userName"] != "spec.user@okta.local" || b["name"].(map[string]any)["givenName"] != "Spec" {
					t.Fatalf("S5 %v", b)
				}
			}},
		step{id: "S6", method: "GET", path: "/Users/010101001010101011001010101011", want: []int{404}},
		step{id: "S6 R12", method: "GET", path: "/Users/00919288221112222", want: []int{404}},
		// robustness (§7.7)
		step{id: "R1 json", method: "POST", path: "/Users", header: []string{"Content-Type", "application/json"}, body: `{"userName":"r1.json@okta.local"}`, want: created},
		step{id: "R1 text/plain", method: "POST", path: "/Users", header: []string{"Content-Type", "text/plain"}, body: `{"userName":"r1.text@okta.local"}`, want: created},
		step{id: "R2", method: "GET", path: "/Users/{uid}", header: []string{"Accept", "application/json"}, want: ok},
		step{id: "R3 UserName EQ", method: "GET", path: "/Users", query: `filter=UserName EQ "test.user@okta.local"`, want: ok, check: total(1)},
		step{id: "R3 Eq and AND", method: "GET", path: "/Users", query: `filter=userName Eq "test.user@okta.local" AND active eq true`, want: ok, check: total(1)},
		step{id: "R4", method: "GET", path: "/Users/", query: "filter=DisplayName+eq+%22BobIsAmazing%22", want: ok, check: total(0)},
		step{id: "R5", method: "POST", path: "/Users", body: `{"UserName":"r5@okta.local","emails":[{"Primary":true,"value":"r5@okta.local"}]}`, want: created, check: func(t *testing.T, b map[string]any) {
			if b["userName"] != "r5@okta.local" || b["emails"].([]any)[0].(map[string]any)["primary"] != true {
				t.Fatalf("R5 %v", b)
			}
		}},
		step{id: "R7", method: "POST", path: "/Users", body: `{"displayName":"no user name"}`, want: []int{400}, check: scimType(scim.InvalidValue)},
		step{id: "R8", method: "POST", path: "/Users", body: `{"userName":`, want: []int{400}, check: scimType(scim.InvalidSyntax)},
		step{id: "R9", method: "POST", path: "/Users", body: `{"userName":"r9a@okta.local","externalId":"same"}`, want: created},
		step{id: "R9 second", method: "POST", path: "/Users", body: `{"userName":"r9b@okta.local","externalId":"same"}`, want: created},
		step{id: "U7", method: "PUT", path: "/Users/{uid}", body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"{uid}","userName":"test.user@okta.local","name":{"givenName":"Another","middleName":"Excited","familyName":"User"},"emails":[{"primary":true,"value":"test.user@okta.local","type":"work","display":"test.user@okta.local"}],"active":true,"groups":[],"meta":{"resourceType":"User"}}`, want: ok},
		step{id: "U8", method: "PATCH", path: "/Users/{uid}", body: pop + `{"op":"replace","value":{"active":false}}]}`, want: okOrNoContent},
		step{id: "U9", method: "GET", path: "/Users/{uid}", want: ok, check: func(t *testing.T, b map[string]any) {
			if b["active"] != false || b["name"].(map[string]any)["middleName"] != "Excited" {
				t.Fatalf("U9 %v", b)
			}
		}},
		// a null sub-attribute of a replaced complex attribute clears it (RFC 7644 §3.5.2.3)
		step{id: "U7 null", method: "PATCH", path: "/Users/{uid}", body: pop + `{"op":"replace","path":"name","value":{"middleName":null,"familyName":"User"}}]}`, want: okOrNoContent},
		step{id: "U9 null", method: "GET", path: "/Users/{uid}", want: ok, check: func(t *testing.T, b map[string]any) {
			if n := b["name"].(map[string]any); n["middleName"] != nil || n["givenName"] != "Another" || n["familyName"] != "User" {
				t.Fatalf("name %v", n)
			}
		}},
		// a removal by value names the work address, not the home one with the same value
		step{id: "U7 home email", method: "PATCH", path: "/Users/{uid}", body: pop + `{"op":"add","path":"emails","value":[{"value":"test.user@okta.local","type":"home"}]}]}`, want: okOrNoContent},
		step{id: "U7 remove work email", method: "PATCH", path: "/Users/{uid}", body: pop + `{"op":"remove","path":"emails","value":[{"value":"test.user@okta.local","type":"work"}]}]}`, want: okOrNoContent},
		step{id: "U9 emails", method: "GET", path: "/Users/{uid}", want: ok, check: func(t *testing.T, b map[string]any) {
			if e, _ := b["emails"].([]any); len(e) != 1 || e[0].(map[string]any)["type"] != "home" {
				t.Fatalf("emails %v", b["emails"])
			}
		}},
		step{id: "U10", method: "GET", path: "/Users", query: `filter=userName eq "test.user@okta.local"`, want: ok, check: total(1)},
		step{id: "U11", method: "PATCH", path: "/Users/{uid}", body: pop + `{"op":"replace","value":{"active":true}}]}`, want: okOrNoContent},
		step{id: "U12", method: "PUT", path: "/Users/{uid}", body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"{uid}","userName":"test.user@okta.local","name":{"givenName":"Another","middleName":"Excited","familyName":"User"},"emails":[{"primary":true,"value":"test.user@okta.local","type":"work"}],"active":false,"groups":[],"meta":{"resourceType":"User"}}`,
			want: ok, check: func(t *testing.T, b map[string]any) {
				if b["active"] != false {
					t.Fatalf("U12 %v", b)
				}
			}},
		step{id: "R6", method: "PUT", path: "/Users/{uid}", body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"test.user@okta.local","name":{"givenName":"Another","middleName":"Excited","familyName":"User"},"emails":[{"primary":true,"value":"test.user@okta.local","type":"work"}],"active":true,"adresses":[{"locality":"x"}]}`, want: ok},
		step{id: "U13", method: "PATCH", path: "/Users/{uid}", body: pop + `{"op":"replace","path":"active","value":false}]}`, want: okOrNoContent},
		step{id: "U13 get", method: "GET", path: "/Users/{uid}", want: ok, check: func(t *testing.T, b map[string]any) {
			if b["active"] != false {
				t.Fatalf("U13 %v", b)
			}
		}},
		step{id: "U15", method: "PATCH", path: "/Users/{uid}", body: pop + `{"op":"replace","path":"name.givenName","value":"Another"}]}`, want: okOrNoContent},
		step{id: "U14", method: "PATCH", path: "/Users/{uid}", body: pop + `{"op":"Replace","path":"active","value":"False"}]}`, want: okOrNoContent},
		step{id: "U16", method: "PATCH", path: "/Users/{uid}", body: pop + `{"op":"replace","value":{"name.givenName":"A","displayName":"A U","active":true}}]}`, want: okOrNoContent},
		step{id: "U17", method: "PATCH", path: "/Users/{uid}", body: pop + `{"op":"replace","value":{"password":"N3w-Pass!"}}]}`, want: okOrNoContent, check: noPassword},
		step{id: "U2 second", method: "POST", path: "/Users", body: strings.ReplaceAll(u2, "test.user@", "second@"), want: created, save: "uid2"},
		step{id: "G1", method: "POST", path: "/Groups", body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Test SCIMv2","members":[]}`, want: created, save: "gid"},
		step{id: "G2", method: "GET", path: "/Groups", query: `filter=displayName eq "Test SCIMv2"`, want: ok, check: total(1)},
		step{id: "S7", method: "GET", path: "/Groups", want: ok, check: total(1)},
		step{id: "P3", method: "GET", path: "/Groups", query: "startIndex=1&count=100", want: ok, check: total(1)},
		step{id: "G3", method: "PATCH", path: "/Groups/{gid}", body: pop + `{"op":"replace","value":{"id":"{gid}","displayName":"Test SCIMv2"}}]}`, want: okOrNoContent},
		step{id: "G4", method: "PATCH", path: "/Groups/{gid}", body: pop + `{"op":"add","path":"members","value":[{"value":"{uid}","display":"test.user@okta.local"}]}]}`, want: okOrNoContent},
		step{id: "G5", method: "PATCH", path: "/Groups/{gid}", body: pop + `{"op":"remove","path":"members[value eq \"{uid}\"]"},{"op":"add","path":"members","value":[{"value":"{uid2}","display":"u2"}]}]}`, want: okOrNoContent},
	)
	if got := members(r, "gid"); !slices.Equal(got, []string{r.vars["uid2"]}) {
		t.Fatalf("after G5 members = %v", got)
	}
	r.run(
		step{id: "G6", method: "PATCH", path: "/Groups/{gid}", body: pop + `{"op":"replace","path":"members","value":[{"value":"{uid}","display":"x"},{"value":"{uid2}","display":"y"}]}]}`, want: okOrNoContent},
	)
	if got := members(r, "gid"); !slices.Equal(got, sorted(r.vars["uid"], r.vars["uid2"])) {
		t.Fatalf("after G6 members = %v", got)
	}
	r.run(
		step{id: "G7", method: "PATCH", path: "/Groups/{gid}", body: pop + `{"op":"replace","path":"members","value":[]}]}`, want: okOrNoContent},
		step{id: "G9", method: "GET", path: "/Groups/{gid}", query: "excludedAttributes=members", want: ok},
		step{id: "G8", method: "PATCH", path: "/Groups/{gid}", body: pop + `{"op":"add","path":"members","value":[{"value":"does-not-exist"}]}]}`, want: []int{400}},
	)
	if g := r.final(scim.Groups)[r.vars["gid"]]; g["members"] != nil {
		t.Fatalf("after G7 members = %v", g["members"])
	}
	r.run(
		step{id: "G10", method: "PUT", path: "/Groups/{gid}", body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"{gid}","displayName":"Renamed","members":[{"value":"{uid}"}]}`, want: ok},
		step{id: "G11", method: "DELETE", path: "/Groups/{gid}", want: []int{204}},
		step{id: "G11 get", method: "GET", path: "/Groups/{gid}", want: []int{404}},
		step{id: "U18", method: "DELETE", path: "/Users/{uid3}", want: []int{204}},
		step{id: "U18 get", method: "GET", path: "/Users/{uid3}", want: []int{404}},
		// a rename that normalizes to nothing still reaches the upstream,
		// which knows the group is gone
		step{id: "G3 after G11", method: "PATCH", path: "/Groups/{gid}", body: pop + `{"op":"replace","value":{"id":"{gid}"}}]}`, want: []int{404}},
	)
	u := r.final(scim.Users)[r.vars["uid"]]
	if u["active"] != true || u["displayName"] != "A U" || u["name"].(map[string]any)["givenName"] != "A" || u["password"] != "N3w-Pass!" || len(r.final(scim.Groups)) != 0 {
		t.Fatalf("final user %v", u)
	}
	replayOktaImport(t, r)
}

// replayOktaImport is P1 and P2: 250 users imported 100 at a time, Okta
// moving startIndex by 100 while totalResults is larger; every id comes
// exactly once, and the paging fields are JSON integers.
func replayOktaImport(t *testing.T, r *replayer) {
	const users, count = 250, 100
	for i := len(r.final(scim.Users)); i < users; i++ {
		r.seed(scim.Users, `{"schemas":["`+scim.URNUser+`"],"userName":"import`+strconv.Itoa(i)+`@okta.local"}`)
	}
	seen := map[string]int{}
	for start := 1; start <= users; start += count {
		want := min(count, users-start+1)
		r.run(step{id: "P1/P2 page " + strconv.Itoa(start), method: "GET", path: "/Users", query: "startIndex=" + strconv.Itoa(start) + "&count=100", want: ok,
			check: func(t *testing.T, b map[string]any) {
				res, _ := b["Resources"].([]any)
				if b["totalResults"] != float64(users) || b["startIndex"] != float64(start) || b["itemsPerPage"] != float64(want) || len(res) != want {
					t.Fatalf("page at %d: totalResults %v startIndex %v itemsPerPage %v, %d resources", start, b["totalResults"], b["startIndex"], b["itemsPerPage"], len(res))
				}
				for _, x := range res {
					seen[x.(map[string]any)["id"].(string)]++
				}
			}})
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("user %s on %d pages", id, n)
		}
	}
	if len(seen) != users {
		t.Fatalf("%d users over the pages, want %d", len(seen), users)
	}
}

// TestReplayOneLogin plays onelogin.md §6 with route dialect onelogin.
func TestReplayOneLogin(t *testing.T) {
	forEachPath(t, scim.OneLogin, http.Header{"Accept": {"application/json"}, "Content-Type": {"application/json"}}, replayOneLogin)
}

func replayOneLogin(t *testing.T, r *replayer) {
	tpl := func(active string) string {
		return `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","` + ent + `"],"userName":"peter.meier@example.com","name":{"familyName":"Meier","givenName":"Peter"},"displayName":"Peter M. Meier","title":"","userType":"","active":` + active + `,"emails":[{"value":"pm@example.com","type":"work","primary":true}],"addresses":[{"locality":"Zurich","region":"","country":"CH"}],"` + ent + `":{"organization":"","department":"Sales","manager":{"value":"","displayName":" "}}}`
	}
	leave := func(v string) string {
		return pop + `{"value":[{"value":"{` + v + `}"}],"op":"remove","path":"members"}]}`
	}
	r.run(
		step{id: "L1", method: "GET", path: "/Users", query: "filter=userName+eq+%22never-existing-user%22&", want: ok, check: total(0)},
		step{id: "L2", method: "GET", path: "/Groups", query: "count=100&startIndex=1", want: ok, check: total(0)},
		step{id: "L3", method: "GET", path: "/Users", query: "filter=userName+eq+%22peter.meier%40example.com%22&", want: ok, check: total(0)},
		step{id: "L3 create", method: "POST", path: "/Users", body: `{"userName":"peter.meier@example.com","name":{"givenName":"Peter","familyName":"Meier"},"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"emails":[{"primary":true,"type":"work","value":"pm@example.com"}],"active":true}`, want: []int{200, 201}, save: "uid"},
		step{id: "L4", method: "POST", path: "/Users", body: `{"schemas":["urn:scim:schemas:core:2.0","urn:scim:schemas:extension:enterprise:2.0"],"userName":"onelogin-test-user01","name":{"familyName":" User 01","givenName":"AAA Test"}}`, want: []int{200, 201}, save: "uid4", check: func(t *testing.T, b map[string]any) {
			if s := b["schemas"].([]any); s[0] != scim.URNUser {
				t.Fatalf("schemas %v", s)
			}
		}},
		step{id: "L5", method: "POST", path: "/Users", body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x@y","active":"true","id":null,"title":"","meta":{"resourceType":"User"}}`, want: []int{200, 201}, check: func(t *testing.T, b map[string]any) {
			if b["active"] != true || b["title"] != nil || b["id"] == nil {
				t.Fatalf("L5 %v", b)
			}
		}},
		step{id: "L6", method: "POST", path: "/Users", body: `{"schemas":["urn:scim:schemas:core:1.0"],"userName":"jane@example.com","name":{"givenName":"Jane","familyName":"Doe","formatted":"Jane Doe"}}`, want: []int{200, 201}},
		step{id: "L7", method: "POST", path: "/Groups", body: `{"displayName":"Group C","schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"]}`, want: []int{200, 201}, save: "gid"},
		step{id: "L8", method: "PATCH", path: "/Groups/{gid}", body: pop + `{"value":[{"value":"{uid}"}],"op":"add","path":"members"}]}`, want: okOrNoContent},
		step{id: "L8 second", method: "PATCH", path: "/Groups/{gid}", body: pop + `{"value":[{"value":"{uid4}"}],"op":"add","path":"members"}]}`, want: okOrNoContent},
		step{id: "L9", method: "PUT", path: "/Users/{uid}", emptyQuery: true, body: tpl("true"), want: ok},
		step{id: "L10", method: "PATCH", path: "/Groups/{gid}", body: leave("uid"), want: okOrNoContent},
	)
	if got := members(r, "gid"); !slices.Equal(got, []string{r.vars["uid4"]}) {
		t.Fatalf("after L10 members = %v", got)
	}
	r.run(
		step{id: "L10 suspend", method: "PUT", path: "/Users/{uid}", body: tpl("false"), want: ok},
		step{id: "L11", method: "PATCH", path: "/Groups/{gid}", body: leave("uid4"), want: okOrNoContent},
		step{id: "L11 delete", method: "DELETE", path: "/Users/{uid4}", want: []int{204}},
		step{id: "L11 get", method: "GET", path: "/Users/{uid4}", want: []int{404}},
		step{id: "L15", method: "PATCH", path: "/Groups/{gid}", body: leave("uid"), want: okOrNoContent},
		step{id: "L12", method: "GET", path: "/Users", query: "count=100&startIndex=1", want: ok, check: total(3)},
		// the template with no enterprise attribute mapped: nothing of the
		// extension is left to forward
		// the template for a user without an email: no email without an address is stored
		step{id: "L5 no email mapped", method: "POST", path: "/Users", body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"noemail@example.com","emails":[{"value":"","type":"work","primary":true}]}`, want: []int{200, 201}, check: func(t *testing.T, b map[string]any) {
			if b["emails"] != nil {
				t.Fatalf("emails %v", b["emails"])
			}
		}},
		step{id: "L6 blank extension", method: "POST", path: "/Users", body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","` + ent + `"],"userName":"blank@example.com","` + ent + `":{"organization":"","department":"","manager":{"value":"","displayName":" "}}}`, want: []int{200, 201}, check: func(t *testing.T, b map[string]any) {
			if b[ent] != nil {
				t.Fatalf("extension %v", b[ent])
			}
		}},
	)
	g := r.final(scim.Groups)[r.vars["gid"]]
	if g == nil || g["members"] != nil {
		t.Fatalf("L15: group %v", g)
	}
	u := r.final(scim.Users)[r.vars["uid"]]
	if u["active"] != false || u["displayName"] != "Peter M. Meier" || u["title"] != nil || u[ent].(map[string]any)["department"] != "Sales" || u[ent].(map[string]any)["manager"] != nil {
		t.Fatalf("final user %v", u)
	}
}

// TestStrictUpstreamRejectsRawProviderRequests proves the strict upstream
// would fail these sequences without the normalizer.
func TestStrictUpstreamRejectsRawProviderRequests(t *testing.T) {
	s := scimtest.New()
	_, u := call(t, s, "POST", "/Users", user("raw"))
	for _, body := range []string{
		pop + `{"op":"Replace","path":"active","value":"False"}]}`,
		pop + `{"op":"replace","value":{"active":false}}]}`,
	} {
		r := httptest.NewRequest("PATCH", "/Users/"+u["id"].(string), strings.NewReader(body))
		r.Header.Set("Content-Type", "application/scim+json; charset=utf-8")
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code != 400 {
			t.Errorf("raw %s: %d", body, w.Code)
		}
	}
}

// TestReplayEntraVectors plays the vectors of entra.md §11 that the cycles
// above leave out, each with its expected effect on the strict upstream:
// with dialect auto (the route default) and no Accept header, as Entra
// sends, and with the Accept values §11 also asks for (*/* on a route of
// dialect entra, application/scim+json).
func TestReplayEntraVectors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		dialect scim.Dialect
		header  http.Header
		cred    credential
	}{
		{"auto, client credentials", scim.Auto, http.Header{}, clientCredentials},
		{"entra, Secret Token, Accept */*", scim.Entra, http.Header{"Accept": {"*/*"}}, bearerKey},
		{"auto, Secret Token, Accept scim+json", scim.Auto, http.Header{"Accept": {"application/scim+json"}}, bearerKey},
	} {
		t.Run(tc.name, func(t *testing.T) { forEachPath(t, tc.dialect, tc.header, replayEntraVectors, tc.cred) })
	}
}

func replayEntraVectors(t *testing.T, r *replayer) {
	const (
		userName = "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee"
		external = "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"
		u01      = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","` + ent + `"],"externalId":"` + external + `","userName":"` + userName + `","active":true,` +
			`"emails":[{"primary":true,"type":"work","value":"Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com"}],"meta":{"resourceType":"User"},` +
			`"name":{"formatted":"givenName familyName","familyName":"familyName","givenName":"givenName"},"roles":[]}`
	)
	// get reads the user back after the vector id changed it.
	get := func(id string, check func(t *testing.T, u map[string]any)) step {
		return step{id: id + " get", method: "GET", path: "/Users/{uid}", want: ok, check: check}
	}
	emptyList := func(t *testing.T, b map[string]any) {
		t.Helper()
		if l, isList := b["Resources"].([]any); b["totalResults"] != 0.0 || !isList || len(l) != 0 ||
			!slices.Equal(b["schemas"].([]any), []any{scim.URNListResponse}) {
			t.Fatalf("not an empty ListResponse: %v", b)
		}
	}
	scimError := func(status string) func(t *testing.T, b map[string]any) {
		return func(t *testing.T, b map[string]any) {
			t.Helper()
			if b["status"] != status || b["detail"] == "" || !slices.Equal(b["schemas"].([]any), []any{scim.URNError}) {
				t.Fatalf("not a SCIM error %s: %v", status, b)
			}
		}
	}
	r.run(
		step{id: "C-02", method: "GET", path: "/Users", query: `filter=userName+eq+"` + guid + `"`, want: ok, check: emptyList},
		step{id: "C-04", method: "GET", path: "/Groups", query: "filter=displayName+eq+%22" + guid + "%22", want: ok, check: emptyList},
		step{id: "C-05", method: "GET", path: "/Users", query: "filter=externalId+eq+%22" + guid + "%22", want: ok, check: emptyList},
		step{id: "U-01", method: "POST", path: "/Users", body: u01, want: created, save: "uid", check: func(t *testing.T, b map[string]any) {
			if b["externalId"] != external || b["userName"] != userName || b["active"] != true || b["meta"].(map[string]any)["resourceType"] != "User" {
				t.Fatalf("U-01 answer %v", b)
			}
		}},
		step{id: "U-02", method: "GET", path: "/Users", query: "filter=userName+eq+%22" + userName + "%22", want: ok, check: func(t *testing.T, b map[string]any) {
			if b["totalResults"] != 1.0 || b["startIndex"] != 1.0 || b["Resources"].([]any)[0].(map[string]any)["id"] != r.vars["uid"] {
				t.Fatalf("U-02 %v", b)
			}
		}},
		step{id: "U-03", method: "GET", path: "/Users", query: "filter=userName+eq+%22" + strings.ToUpper(userName) + "%22", want: ok, check: total(1)},
		step{id: "U-04", method: "GET", path: "/Users", query: "filter=externalId+eq+%22" + external + "%22", want: ok, check: total(1)},
		step{id: "U-04 externalId is caseExact", method: "GET", path: "/Users", query: "filter=externalId+eq+%22" + strings.ToUpper(external) + "%22", want: ok, check: total(0)},
		step{id: "U-05", method: "GET", path: "/Users", query: "filter=emails%5Btype+eq+%22work%22%5D.value+eq+%22Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff%40testuser.com%22", want: ok, check: total(1)},
		step{id: "U-06", method: "GET", path: "/Users", query: "filter=userName+eq+%22non-existent+user%22", want: ok, check: emptyList},
		step{id: "U-07", method: "GET", path: "/Users/{uid}", want: ok, check: func(t *testing.T, b map[string]any) {
			if b["id"] != r.vars["uid"] || !slices.Contains(b["schemas"].([]any), any(scim.URNUser)) {
				t.Fatalf("U-07 %v", b)
			}
		}},
		step{id: "U-08", method: "GET", path: "/Users/5171a35d82074e068ce2", want: []int{404}, check: scimError("404")},
		step{id: "U-09", method: "PATCH", path: "/Users/{uid}", body: pop + `{"op":"Replace","path":"emails[type eq \"work\"].value","value":"updatedEmail@microsoft.com"},{"op":"Replace","path":"name.familyName","value":"updatedFamilyName"}]}`, want: okOrNoContent},
		get("U-09", func(t *testing.T, u map[string]any) {
			n := u["name"].(map[string]any)
			if e := u["emails"].([]any); len(e) != 1 || e[0].(map[string]any)["value"] != "updatedEmail@microsoft.com" || n["familyName"] != "updatedFamilyName" || n["givenName"] != "givenName" {
				t.Fatalf("after U-09 %v", u)
			}
		}),
		step{id: "U-09F", method: "PATCH", path: "/Users/{uid}", query: "aadOptscim062020", body: pop + `{"op":"replace","path":"emails[type eq \"work\"].value","value":"updatedEmail2@microsoft.com"},{"op":"replace","path":"name.familyName","value":"updatedFamilyName2"}]}`, want: okOrNoContent},
		step{id: "U-10", method: "PATCH", path: "/Users/{uid}", body: pop + `{"op":"Replace","path":"userName","value":"5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"}]}`, want: okOrNoContent},
		step{id: "U-10 filter", method: "GET", path: "/Users", query: "filter=userName+eq+%225b50642d-79fc-4410-9e90-4c077cdd1a59%40testuser.com%22", want: ok, check: total(1)},
		step{id: "U-12", method: "PATCH", path: "/Users/{uid}", body: `{"Operations":[{"op":"Replace","path":"active","value":false}],"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}`, want: okOrNoContent},
		get("U-12", func(t *testing.T, u map[string]any) {
			if u["active"] != false {
				t.Fatalf("after U-12 %v", u)
			}
		}),
		step{id: "U-15F", method: "PATCH", path: "/Users/{uid}", body: pop + `{"op":"replace","path":"active","value":true}]}`, want: okOrNoContent},
		step{id: "U-14", method: "PATCH", path: "/Users/{uid}", body: pop + `{"op":"Replace","path":"active","value":"false"}]}`, want: okOrNoContent},
		step{id: "U-14 filter still finds the disabled user", method: "GET", path: "/Users", query: "filter=externalId+eq+%22" + external + "%22", want: ok, check: func(t *testing.T, b map[string]any) {
			if b["totalResults"] != 1.0 || b["Resources"].([]any)[0].(map[string]any)["active"] != false {
				t.Fatalf("after U-14 %v", b)
			}
		}},
		step{id: "U-16", method: "PATCH", path: "/Users/{uid}", body: pop + `{"op":"Add","path":"nickName","value":"Babs"}]}`, want: okOrNoContent},
		step{id: "U-16F", method: "PATCH", path: "/Users/{uid}", body: pop + `{"op":"add","path":"nickName","value":"Babs"}]}`, want: okOrNoContent},
		step{id: "U-18", method: "PATCH", path: "/Users/{uid}", body: pop + `{"op":"Replace","path":"emails[type eq \"work\"].value","value":"AdeleV2@REDACTED.onmicrosoft.com"},{"op":"Replace","path":"addresses[type eq \"work\"].formatted","value":"18/2111"},{"op":"Add","path":"` + ent + `:department","value":"Retail"}]}`, want: okOrNoContent},
		get("U-18", func(t *testing.T, u map[string]any) {
			a, _ := u["addresses"].([]any)
			if u["nickName"] != "Babs" || u["active"] != false || len(a) != 1 || a[0].(map[string]any)["formatted"] != "18/2111" || a[0].(map[string]any)["type"] != "work" ||
				u[ent].(map[string]any)["department"] != "Retail" || u["emails"].([]any)[0].(map[string]any)["value"] != "AdeleV2@REDACTED.onmicrosoft.com" {
				t.Fatalf("after U-16, U-18 %v", u)
			}
		}),
		step{id: "U-01 manager", method: "POST", path: "/Users", body: entraUser("Manager_1", "m1"), want: created, save: "mid"},
		step{id: "U-01 manager 2", method: "POST", path: "/Users", body: entraUser("Manager_2", "m2"), want: created, save: "mid2"},
		step{id: "U-21", method: "PATCH", path: "/Users/{uid}", body: pop + `{"op":"Add","path":"` + ent + `:manager","value":"{mid}"}]}`, want: okOrNoContent},
		step{id: "U-22", method: "PATCH", path: "/Users/{uid}", body: pop + `{"op":"Replace","path":"` + ent + `:manager","value":{"value":"{mid2}"}}]}`, want: okOrNoContent},
		get("U-22", func(t *testing.T, u map[string]any) {
			if m, _ := u[ent].(map[string]any)["manager"].(map[string]any); m["value"] != r.vars["mid2"] {
				t.Fatalf("after U-22 %v", u)
			}
		}),
		step{id: "U-23a", method: "PATCH", path: "/Users/{uid}", body: pop + `{"op":"Remove","path":"` + ent + `:manager"}]}`, want: okOrNoContent},
		get("U-23a", func(t *testing.T, u map[string]any) {
			if _, has := u[ent].(map[string]any)["manager"]; has {
				t.Fatalf("after U-23a %v", u)
			}
		}),
		step{id: "V-01", method: "PATCH", path: "/Users/{uid}", body: pop + `{"op":"replace","value":{"userName":"emilio@hermann.uk"}}]}`, want: okOrNoContent},
		step{id: "V-01 filter", method: "GET", path: "/Users", query: `filter=userName+eq+"emilio@hermann.uk"`, want: ok, check: total(1)},
		step{id: "V-02", method: "PATCH", path: "/Users/{uid}", body: pop + `{"op":"replace","path":"emails[type eq \"work\"].value","value":"lilian.graham@millszboncak.ca"},{"op":"replace","path":"phoneNumbers[type eq \"work\"].value","value":"07-272-0828"},{"op":"replace","path":"addresses[type eq \"work\"].streetAddress","value":"2809 Johns Walk"},{"op":"replace","path":"addresses[type eq \"work\"].locality","value":"KMYVNUJVVZWC"}]}`, want: okOrNoContent},
		get("V-02", func(t *testing.T, u map[string]any) {
			a := u["addresses"].([]any)
			p := u["phoneNumbers"].([]any)
			if len(a) != 1 || a[0].(map[string]any)["streetAddress"] != "2809 Johns Walk" || a[0].(map[string]any)["locality"] != "KMYVNUJVVZWC" || a[0].(map[string]any)["formatted"] != "18/2111" ||
				len(p) != 1 || p[0].(map[string]any)["value"] != "07-272-0828" || len(u["emails"].([]any)) != 1 {
				t.Fatalf("after V-02 %v", u)
			}
			for k := range u {
				if strings.ContainsAny(k, "[.") && !strings.HasPrefix(k, "urn:") {
					t.Fatalf("literal key %q in %v", k, u)
				}
			}
		}),
		step{id: "V-08", method: "DELETE", path: "/Users/00000000-0000-0000-0000-000000000000", want: []int{404}, check: scimError("404")},
		step{id: "U-26", method: "POST", path: "/Users", body: strings.ReplaceAll(u01, userName, "emilio@hermann.uk"), want: []int{409}, check: func(t *testing.T, b map[string]any) {
			if b["scimType"] != "uniqueness" || b["detail"] == "" || b["status"] != "409" {
				t.Fatalf("U-26 %v", b)
			}
		}},
		step{id: "G-01", method: "POST", path: "/Groups", body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],"externalId":"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159","displayName":"displayName","meta":{"resourceType":"Group"}}`, want: created, save: "gid", check: func(t *testing.T, b map[string]any) {
			if b["externalId"] != "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159" || b["displayName"] != "displayName" {
				t.Fatalf("G-01 %v", b)
			}
		}},
		step{id: "G-04", method: "GET", path: "/Groups", query: "excludedAttributes=members&filter=displayName+eq+%22DISPLAYNAME%22", want: ok, check: total(1)},
		step{id: "V-04", method: "PATCH", path: "/Groups/{gid}", body: pop + `{"op":"replace","value":{"externalId":"663fa3a8-e2b6-4ac0-96c8-363432cdc01d"}}]}`, want: okOrNoContent},
		step{id: "G-06", method: "PATCH", path: "/Groups/{gid}", body: pop + `{"op":"Add","path":"members","value":[{"$ref":null,"value":"{mid}"}]}]}`, want: okOrNoContent},
		step{id: "V-05", method: "PATCH", path: "/Groups/{gid}", body: pop + `{"op":"replace","path":"members","value":[{"value":"{uid}"}]}]}`, want: okOrNoContent},
		step{id: "G-11", method: "POST", path: "/Groups", body: `{"displayName":"ZGHZBQHCAPZU","externalId":"087af0b9-d1e1-480d-acb8-03ceaa8ea85b","schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"]}`, want: created},
		step{id: "G-11 again", method: "POST", path: "/Groups", body: `{"displayName":"ZGHZBQHCAPZU","externalId":"087af0b9-d1e1-480d-acb8-03ceaa8ea85b","schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"]}`, want: []int{409}, check: scimError("409")},
		step{id: "S-01", method: "GET", path: "/Schemas", want: ok, check: func(t *testing.T, b map[string]any) {
			var ids []any
			for _, s := range b["Resources"].([]any) {
				ids = append(ids, s.(map[string]any)["id"])
			}
			for _, want := range []string{scim.URNUser, scim.URNGroup, scim.URNEnterpriseUser} {
				if !slices.Contains(ids, any(want)) {
					t.Fatalf("S-01: %s missing from %v", want, ids)
				}
			}
			if raw, _ := json.Marshal(b); strings.Contains(string(raw), ":null") {
				t.Fatalf("S-01: null-valued property in %s", raw)
			}
		}},
		step{id: "S-02", method: "GET", path: "/ServiceProviderConfig", want: ok, check: func(t *testing.T, b map[string]any) {
			if b["patch"].(map[string]any)["supported"] != true {
				t.Fatalf("S-02 %v", b)
			}
		}},
		step{id: "S-03", method: "GET", path: "/ResourceTypes", want: ok, check: func(t *testing.T, b map[string]any) {
			if !slices.Equal(b["schemas"].([]any), []any{scim.URNListResponse}) {
				t.Fatalf("S-03 %v", b)
			}
		}},
	)
	if got := members(r, "gid"); !slices.Equal(got, []string{r.vars["uid"]}) {
		t.Fatalf("after V-05 members = %v", got)
	}
	if g := r.final(scim.Groups)[r.vars["gid"]]; g["externalId"] != "663fa3a8-e2b6-4ac0-96c8-363432cdc01d" {
		t.Fatalf("after V-04 group %v", g)
	}
	// U-27: at least 11 users, paged by 5.
	for i := range 8 {
		r.run(step{id: "U-27 user", method: "POST", path: "/Users", body: entraUser(fmt.Sprintf("Page_User_%d", i), fmt.Sprintf("p%d", i)), want: created})
	}
	seen := map[any]bool{}
	for _, start := range []int{1, 6, 11} {
		r.run(step{id: "U-27", method: "GET", path: "/Users", query: fmt.Sprintf("startIndex=%d&count=5", start), want: ok, check: func(t *testing.T, b map[string]any) {
			l := b["Resources"].([]any)
			if b["startIndex"] != float64(start) || b["itemsPerPage"] != float64(len(l)) || len(l) > 5 || b["totalResults"].(float64) < 11 {
				t.Fatalf("U-27 page %d: %v", start, b)
			}
			for _, u := range l {
				id := u.(map[string]any)["id"]
				if seen[id] {
					t.Fatalf("U-27: %v on two pages", id)
				}
				seen[id] = true
			}
		}})
	}
	if len(seen) != 11 {
		t.Fatalf("U-27: %d users over three pages, want 11", len(seen))
	}
}
