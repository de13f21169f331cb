package gateway

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gorilla/mux"

	"github.com/scimgate/scimgate/config"
	"github.com/scimgate/scimgate/internal/scim"
)

const testIssuer = "https://scim.example.com"

func testRoutes(t testing.TB, prefixes ...string) []*route {
	t.Helper()
	g := &Gateway{headers: newHeaderRules("X-Scim-Tenant", "X-Scim-Client")}
	var rs []*route
	for _, p := range prefixes {
		c := config.DefaultRoute()
		c.Prefix, c.Upstream = p, "http://upstream.internal:9000/base/"
		rt, err := compileRoute(g, c, testIssuer, testIssuer)
		if err != nil {
			t.Fatalf("compile %s: %v", p, err)
		}
		rs = append(rs, rt)
	}
	orderRoutes(rs)
	return rs
}

// TestRouting mounts routes on gorilla/mux the way Register does and checks
// which one each path reaches, and what the route sees as tenant and rest.
func TestRouting(t *testing.T) {
	routes := testRoutes(t, "/scim/v2", "/advisors/scim", "/rooms/scim", "/t/{tenant}/scim/v2", "/t/acme/scim/v2", "/scim/v2/special", "/scim/v2x")
	r := mux.NewRouter()
	r.SkipClean(true)
	for _, rt := range routes {
		r.NewRoute().MatcherFunc(rt.mayMatch).Path(rt.template).HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			v := mux.Vars(req)
			w.Header().Set("Route", rt.prefix)
			w.Header().Set("Tenant", v[tenantVar])
			w.Header().Set("Rest", v[restVar])
		})
	}
	for _, tc := range []struct {
		path, route, tenant, rest string
	}{
		{"/scim/v2/Users", "/scim/v2", "", "/Users"},
		{"/scim/v2", "/scim/v2", "", ""},
		{"/scim/v2/", "/scim/v2", "", "/"},
		{"/scim/v2//Users", "/scim/v2", "", "//Users"},
		{"/scim/v2x/Users", "/scim/v2x", "", "/Users"},
		{"/scim/v2special/Users", "", "", ""},
		{"/scim/v2/special/Users", "/scim/v2/special", "", "/Users"},
		{"/scim/v2/specialist", "/scim/v2", "", "/specialist"},
		{"/advisors/scim/Users/1", "/advisors/scim", "", "/Users/1"},
		{"/rooms/scim/Groups", "/rooms/scim", "", "/Groups"},
		{"/roomsx/scim/Groups", "", "", ""},
		{"/t/globex/scim/v2/Users", "/t/{tenant}/scim/v2", "globex", "/Users"},
		{"/t/acme/scim/v2/Users", "/t/acme/scim/v2", "", "/Users"},
		{"/t//scim/v2/Users", "", "", ""},
		{"/t/a/b/scim/v2/Users", "", "", ""},
		{"/other", "", "", ""},
	} {
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, tc.path, nil))
		if got := w.Header().Get("Route"); got != tc.route || w.Header().Get("Tenant") != tc.tenant || w.Header().Get("Rest") != tc.rest {
			t.Errorf("%s: route %q tenant %q rest %q, want %q %q %q", tc.path, got, w.Header().Get("Tenant"), w.Header().Get("Rest"), tc.route, tc.tenant, tc.rest)
		}
	}
}

func TestOrderRoutes(t *testing.T) {
	var got []string
	for _, rt := range testRoutes(t, "/a", "/t/{tenant}/scim", "/scim/v2", "/t/acme/scim", "/scim/v2/deeper", "/ab") {
		got = append(got, rt.prefix)
	}
	want := "/scim/v2/deeper /t/acme/scim /t/{tenant}/scim /scim/v2 /ab /a"
	if strings.Join(got, " ") != want {
		t.Fatalf("order %v, want %s", got, want)
	}
}

func TestCompileRoute(t *testing.T) {
	g := &Gateway{headers: newHeaderRules("X-Scim-Tenant", "X-Scim-Client")}
	ok := func(c *config.Route) {}
	for _, tc := range []struct {
		name   string
		change func(*config.Route)
		want   string
	}{
		{"valid", ok, ""},
		{"no prefix", func(c *config.Route) { c.Prefix = "" }, "prefix"},
		{"trailing slash", func(c *config.Route) { c.Prefix = "/scim/" }, "prefix"},
		{"two tenants", func(c *config.Route) { c.Prefix = "/{tenant}/{tenant}" }, "only once"},
		{"other placeholder", func(c *config.Route) { c.Prefix = "/{org}/scim" }, "placeholder"},
		{"dot segment", func(c *config.Route) { c.Prefix = "/scim/../x" }, "prefix"},
		{"relative upstream", func(c *config.Route) { c.Upstream = "/scim" }, "upstream"},
		{"upstream credentials", func(c *config.Route) { c.Upstream = "http://u:p@h/scim" }, "upstream"},
		{"bad dialect", func(c *config.Route) { c.Dialect = "azure" }, "dialect"},
		{"bad groups", func(c *config.Route) { c.Groups = "none" }, "groups"},
		{"raw key without api_key", func(c *config.Route) { c.RawAPIKey, c.Credentials = true, []config.Credential{config.CredentialJWT} }, "raw_api_key"},
		{"identity header", func(c *config.Route) { c.Headers = map[string]config.Secret{"x-scim-tenant": "x"} }, "set by the gateway"},
		{"forwarded header", func(c *config.Route) { c.Headers = map[string]config.Secret{"X-Forwarded-For": "x"} }, "set by the gateway"},
		{"authorization while forwarding", func(c *config.Route) {
			c.ForwardAuthorization, c.Headers = true, map[string]config.Secret{"Authorization": "x"}
		}, "set by the gateway"},
		{"upstream credential header", func(c *config.Route) { c.Headers = map[string]config.Secret{"Authorization": "Bearer up"} }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := config.DefaultRoute()
			c.Prefix, c.Upstream = "/scim/v2", "http://upstream:9000/scim/v2"
			tc.change(&c)
			_, err := compileRoute(g, c, testIssuer, testIssuer)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	rt := testRoutes(t, "/t/{tenant}/scim/v2")[0]
	if rt.audience != testIssuer+"/t/{tenant}/scim/v2" || rt.upstreamPath != "/base" || rt.upstreamBase != "http://upstream.internal:9000/base" {
		t.Fatalf("defaults: audience %q upstream path %q base %q", rt.audience, rt.upstreamPath, rt.upstreamBase)
	}
	if got := rt.publicBase("acme"); got != testIssuer+"/t/acme/scim/v2" {
		t.Fatalf("public base %q", got)
	}
}

func TestCleanRest(t *testing.T) {
	for _, tc := range []struct {
		rest, raw, want string
		bad             bool
	}{
		{rest: "/Users", want: "/Users"},
		{rest: "", want: ""},
		{rest: "/", want: ""},
		{rest: "//Users", want: "/Users"},
		{rest: "/Users/", want: "/Users"},
		{rest: "/Users//2819c223/", want: "/Users/2819c223"},
		{rest: "/Users/a b", want: "/Users/a b"},
		{rest: "/Users/.search", want: "/Users/.search"},
		{rest: "/Users/a.b", want: "/Users/a.b"},
		{rest: "/Users/../admin", bad: true},
		{rest: "/../../admin", bad: true},
		{rest: "/./Users", bad: true},
		{rest: "/Users/..", bad: true},
		{rest: "/../admin", raw: "/scim/v2/..%2f..%2fadmin", bad: true},
		{rest: "/Users/a/b", raw: "/scim/v2/Users/a%2Fb", bad: true},
		{rest: `/Users/a\b`, bad: true},
		{rest: "/Users/a", raw: "/scim/v2/Users%5ca", bad: true},
		{rest: "/Users/%2e%2e", bad: true},
		{rest: "/Users/a%2fb", bad: true},
		{rest: "/Users/a\nb", bad: true},
		{rest: "/Users/a\x00", bad: true},
		{rest: "/Users/50%", want: "/Users/50%"},
		{rest: "/Users/J\u00f6rg", want: "/Users/J\u00f6rg"},
		{rest: "/Users/\xc0\xae\xc0\xae", raw: "/scim/v2/Users/%C0%AE%C0%AE", bad: true},
		{rest: "/Users/a\xc0\xafb", raw: "/scim/v2/Users/a%c0%afb", bad: true},
		{rest: "/Users/\xff", raw: "/scim/v2/Users/%FF", bad: true},
	} {
		got, err := cleanRest(tc.rest, tc.raw)
		if tc.bad != (err != nil) || !tc.bad && got != tc.want {
			t.Errorf("cleanRest(%q, %q) = %q, %v; want %q bad=%v", tc.rest, tc.raw, got, err, tc.want, tc.bad)
		}
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		rest     string
		resource scim.Resource
		id       string
		status   int
		allow    string
	}{
		{rest: "/Users", resource: scim.Users, allow: allowCollection},
		{rest: "/Users/2819c223", resource: scim.Users, id: "2819c223", allow: allowResource},
		{rest: "/Groups", resource: scim.Groups, allow: allowCollection},
		{rest: "/Groups/g1", resource: scim.Groups, id: "g1", allow: allowResource},
		{rest: "/ServiceProviderConfig", resource: scim.ServiceProviderConfig, allow: allowRead},
		{rest: "/Schemas", resource: scim.SchemasEndpoint, allow: allowRead},
		{rest: "/Schemas/" + scim.URNUser, resource: scim.SchemasEndpoint, id: scim.URNUser, allow: allowRead},
		{rest: "/ResourceTypes/User", resource: scim.ResourceTypes, id: "User", allow: allowRead},
		{rest: "", status: 404},
		{rest: "/users", status: 404},
		{rest: "/Users/a/b", status: 404},
		{rest: "/Users/..;", status: 404},
		{rest: "/ServiceProviderConfig/x", status: 404},
		{rest: "/admin", status: 404},
		{rest: "/Bulk", status: 501},
		{rest: "/Me", status: 501},
		{rest: "/Me/x/y", status: 501},
		{rest: "/.search", status: 501},
		{rest: "/Users/.search", status: 501},
		{rest: "/Groups/.search", status: 501},
	} {
		got, err := classify(tc.rest)
		switch {
		case tc.status != 0 && (err == nil || err.Status != tc.status):
			t.Errorf("classify(%q) = %+v, %v; want %d", tc.rest, got, err, tc.status)
		case tc.status == 0 && (err != nil || got.resource != tc.resource || got.id != tc.id || got.allow != tc.allow):
			t.Errorf("classify(%q) = %+v, %v", tc.rest, got, err)
		}
	}
	for _, tc := range []struct {
		allow, method string
		ok            bool
	}{
		{allowCollection, http.MethodPost, true},
		{allowCollection, http.MethodPatch, false},
		{allowResource, http.MethodPost, false},
		{allowResource, http.MethodDelete, true},
		{allowRead, http.MethodPost, false},
		{allowRead, http.MethodHead, true},
		{allowRead, http.MethodOptions, false},
	} {
		if got := (target{allow: tc.allow}).allows(tc.method); got != tc.ok {
			t.Errorf("%s allows %s = %v", tc.allow, tc.method, got)
		}
	}
}

func BenchmarkRouting(b *testing.B) {
	routes := testRoutes(b, "/scim/v2", "/advisors/scim", "/rooms/scim", "/t/{tenant}/scim/v2")
	r := mux.NewRouter()
	r.SkipClean(true)
	for _, rt := range routes {
		r.NewRoute().MatcherFunc(rt.mayMatch).Path(rt.template).HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if rest, err := cleanRest(mux.Vars(req)[restVar], req.URL.RawPath); err == nil {
				_, _ = classify(rest)
			}
		})
	}
	req := httptest.NewRequest(http.MethodGet, "/t/acme/scim/v2/Users/2819c223-7f76-453a-919d-413861904646", nil)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		r.ServeHTTP(w, req)
	}
}

func TestPublicLocation(t *testing.T) {
	rt := testRoutes(t, "/t/{tenant}/scim/v2")[0] // upstream http://upstream.internal:9000/base
	public := rt.publicBase("acme")
	for loc, want := range map[string]string{
		"http://upstream.internal:9000/base/Users/1": public + "/Users/1",
		"http://upstream.internal:9000/base":         public,
		"http://upstream.internal:9000/base?x=1":     public + "?x=1",
		"/base/Users/1":                              public + "/Users/1",
		"http://upstream.internal:9000/basement/1":   "",
		"http://upstream.internal:90/base/Users/1":   "",
		"/basement":                         "",
		"//evil.example/base/Users/1":       "",
		"https://elsewhere.example/Users/1": "",
	} {
		got, ok := rt.publicLocation(loc, public)
		if want == "" && (ok || got != loc) || want != "" && (!ok || got != want) {
			t.Errorf("publicLocation(%q) = %q, %v; want %q", loc, got, ok, want)
		}
	}
	body := []byte(`{"meta":{"location":"http://upstream.internal:9000/base/Users/1"},"$ref":"http:\/\/upstream.internal:9000\/base\/Groups\/2","x":"http://upstream.internal:9000/basement"}`)
	want := `{"meta":{"location":"` + public + `/Users/1"},"$ref":"` + strings.ReplaceAll(public, "/", `\/`) + `\/Groups\/2","x":"http://upstream.internal:9000/basement"}`
	if got := string(rewriteBodyURLs(body, rt, "acme")); got != want {
		t.Errorf("rewriteBodyURLs:\n got %s\nwant %s", got, want)
	}
	if plain := []byte(`{"id":"1"}`); &rewriteBodyURLs(plain, rt, "acme")[0] != &plain[0] {
		t.Error("a body without upstream URLs was copied")
	}
}

// FuzzPath checks path hygiene on arbitrary decoded and raw paths: what
// survives is clean, stays below the prefix, and addresses at most one
// endpoint and one id.
func FuzzPath(f *testing.F) {
	for _, s := range []string{"/Users", "//Users/", "/Users/../admin", "/..%2f", "/Users/a%2fb", "/Me/x", "/Users/.search", "/Schemas/urn:x", "/\x00"} {
		f.Add(s, "")
		f.Add(s, "/scim/v2"+s)
		f.Add(s, "/scim/v2"+strings.ReplaceAll(s, "U", "%55"))
	}
	f.Fuzz(func(t *testing.T, rest, raw string) {
		clean, err := cleanRest(rest, raw)
		if err != nil {
			return
		}
		if clean != "" && clean[0] != '/' || strings.Contains(clean, "//") || strings.HasSuffix(clean, "/") || strings.ContainsAny(clean, "\\\x00\n\r") {
			t.Fatalf("cleanRest(%q) = %q", rest, clean)
		}
		for seg := range strings.SplitSeq(clean, "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("cleanRest(%q) = %q keeps a dot segment", rest, clean)
			}
		}
		// A raw path that decodes to a prefix and rest, separators not
		// encoded: rawRest gives the encoding of exactly the clean rest.
		if dec, err := url.PathUnescape(raw); err == nil && strings.HasSuffix(dec, rest) && strings.Count(dec, "/") == strings.Count(raw, "/") {
			if got, err := url.PathUnescape(rawRest(clean, raw)); err != nil || got != clean {
				t.Fatalf("rawRest(%q, %q) = %q, decodes to %q, want %q", clean, raw, rawRest(clean, raw), got, clean)
			}
		}
		tg, cerr := classify(clean)
		if cerr == nil && (strings.Contains(tg.id, "/") || tg.id != "" && tg.id[0] == '.' || tg.allow == "") {
			t.Fatalf("classify(%q) = %+v", clean, tg)
		}
	})
}

func TestRawRest(t *testing.T) {
	for _, tc := range []struct{ rest, rawPath, want string }{
		{"", "/scim/v2", ""},
		{"/Users/a;b", "/scim/v2/Users/a%3Bb", "/Users/a%3Bb"},
		{"/Users/a;b", "/scim/v2//Users/a%3Bb//", "/Users/a%3Bb"},
		{"/Users/a;b", "/t/ac%6De/scim/v2/Users/a%3Bb", "/Users/a%3Bb"},
		{"/Users", "/Users", "/Users"},
		{"/Users/x", "/x", "/Users/x"}, // fewer raw segments than rest: rest itself
	} {
		if got := rawRest(tc.rest, tc.rawPath); got != tc.want {
			t.Errorf("rawRest(%q, %q) = %q, want %q", tc.rest, tc.rawPath, got, tc.want)
		}
	}
}
