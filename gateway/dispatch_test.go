package gateway

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/gorilla/mux"

	"github.com/scimgate/scimgate/config"
)

var matchPrefixes = []string{"/scim/v2", "/t/{tenant}/scim/v2", "/a.b/{tenant}", "/x/{tenant}/y.z/w", "/scim/v2x"}

var matchPaths = []string{"/scim/v2", "/scim/v2/", "/scim/v2/Users", "/scim/v2x/Users", "/scim/v2special", "/scim/v2//Users",
	"/scim/v2/a\nb", "/scim/v2\n", "/scim/v2/\xff", "/t/acme/scim/v2/Users", "/t//scim/v2", "/t/a\nb/scim/v2/Users", "/t/a/b/scim/v2",
	"/t/acme/scim/v2x", "/a.b/acme", "/a.b/acme/", "/axb/acme", "/a.b/", "/x/t/y.z/w/Users", "/x/t/y.z/wUsers", "", "/"}

// muxRegexp is the regular expression gorilla/mux makes of rt's template.
func muxRegexp(t testing.TB, rt *route) *regexp.Regexp {
	t.Helper()
	expr, err := mux.NewRouter().NewRoute().Path(rt.template).GetPathRegexp()
	if err != nil {
		t.Fatal(err)
	}
	return regexp.MustCompile(expr)
}

// muxMatch is what gorilla/mux's re makes of path for rt.
func muxMatch(rt *route, re *regexp.Regexp, path string) (tenant, rest string, ok bool) {
	m := re.FindStringSubmatch(path)
	if m == nil {
		return "", "", false
	}
	if rt.perTenant {
		return m[1], m[2], true
	}
	return "", m[1], true
}

func TestMatchAsMux(t *testing.T) {
	for _, rt := range testRoutes(t, matchPrefixes...) {
		re := muxRegexp(t, rt)
		for _, path := range matchPaths {
			tenant, rest, ok := rt.match(path)
			wantTenant, wantRest, wantOK := muxMatch(rt, re, path)
			if tenant != wantTenant || rest != wantRest || ok != wantOK {
				t.Errorf("%s on %q: %q %q %v, mux %q %q %v", rt.prefix, path, tenant, rest, ok, wantTenant, wantRest, wantOK)
			}
		}
	}
}

func FuzzMatch(f *testing.F) {
	for _, p := range matchPaths {
		f.Add(p)
	}
	routes := testRoutes(f, matchPrefixes...)
	var res []*regexp.Regexp
	for _, rt := range routes {
		res = append(res, muxRegexp(f, rt))
	}
	f.Fuzz(func(t *testing.T, path string) {
		for i, rt := range routes {
			tenant, rest, ok := rt.match(path)
			wantTenant, wantRest, wantOK := muxMatch(rt, res[i], path)
			if tenant != wantTenant || rest != wantRest || ok != wantOK {
				t.Fatalf("%s on %q: %q %q %v, mux %q %q %v", rt.prefix, path, tenant, rest, ok, wantTenant, wantRest, wantOK)
			}
		}
	})
}

// TestDispatcher sends the same requests through a router and through its
// Dispatcher: every answer must come from the same handler.
func TestDispatcher(t *testing.T) {
	p := newPipeline(t, config.DialectAuto)
	g := p.g
	named := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Header().Set("Handler", name) })
	}
	r := mux.NewRouter()
	r.Handle("/healthz", named("healthz")).Methods(http.MethodGet)
	r.Handle("/oauth2/token", named("token"))
	r.Handle("/scim/v2/Users/special", named("special")) // shadows a path of the gateway's route
	// The authorization server's page for mistyped endpoints (a trailing
	// slash in Okta's fields), and a prefix inside the gateway's route.
	r.PathPrefix("/oauth2/authorize/").Handler(named("authorize-pages"))
	r.PathPrefix("/scim/v2/static/").Handler(named("static"))
	g.Register(r)
	// Wrap every handler, as the app's metrics do.
	_ = r.Walk(func(mr *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		h := mr.GetHandler()
		mr.Handler(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			w.Header().Set("Wrapped", "1")
			h.ServeHTTP(w, req)
		}))
		return nil
	})
	d := g.Dispatcher(r)
	if _, ok := d.(*dispatcher); !ok {
		t.Fatal("Dispatcher fell back to the router")
	}
	for _, tc := range []struct{ method, path string }{
		{"GET", "/healthz"}, {"POST", "/healthz"}, {"POST", "/oauth2/token"}, {"GET", "/scim/v2/Users/special"},
		{"GET", "/scim/v2/Users"}, {"GET", "/scim/v2"}, {"GET", "/scim/v2x"}, {"GET", "/nowhere"}, {"GET", "/scim/v2/a%0Ab"},
		{"GET", "/oauth2/authorize/"}, {"POST", "/oauth2/authorize/x"}, {"GET", "/oauth2/authorize"},
		{"GET", "/scim/v2/static/"}, {"GET", "/scim/v2/static/Users"}, {"GET", "/scim/v2/staticx"},
	} {
		via := func(h http.Handler) *httptest.ResponseRecorder {
			req := httptest.NewRequest(tc.method, tc.path, nil)
			req.Header.Set("Authorization", "Bearer "+p.token)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			return w
		}
		want, got := via(r), via(d)
		if got.Code != want.Code || got.Header().Get("Handler") != want.Header().Get("Handler") ||
			got.Header().Get("Wrapped") != want.Header().Get("Wrapped") || got.Body.String() != want.Body.String() {
			t.Errorf("%s %s: dispatcher %d %q %q, router %d %q %q", tc.method, tc.path, got.Code, got.Header().Get("Handler"),
				got.Body, want.Code, want.Header().Get("Handler"), want.Body)
		}
	}

	// Any route it cannot reason about leaves the router to do the work.
	r.Handle("/files/{name}", named("files"))
	if _, ok := g.Dispatcher(r).(*mux.Router); !ok {
		t.Fatal("Dispatcher bypassed a router with a route it cannot reason about")
	}
}
