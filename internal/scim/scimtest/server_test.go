package scimtest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/scimgate/scimgate/internal/scim"
	"github.com/scimgate/scimgate/internal/scim/scimtest"
)

const patchOp = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[`

// call sends a request straight to h, with the canonical media type on bodies.
func call(t *testing.T, h http.Handler, method, target, body string, header ...string) (int, map[string]any) {
	t.Helper()
	var r *http.Request
	if body == "" {
		r = httptest.NewRequest(method, target, nil)
	} else {
		r = httptest.NewRequest(method, target, strings.NewReader(body))
		r.Header.Set("Content-Type", scim.MediaTypeSCIM)
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var out map[string]any
	if w.Body.Len() > 0 {
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s %s: invalid JSON %q", method, target, w.Body.String())
		}
		if ct := w.Header().Get("Content-Type"); ct != scim.MediaTypeSCIM {
			t.Fatalf("%s %s: Content-Type %q", method, target, ct)
		}
	}
	return w.Code, out
}

func user(name string, extra ...string) string {
	return `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"` + name + `"` + strings.Join(extra, "") + `}`
}

func TestUsersCRUDAndQueries(t *testing.T) {
	s := scimtest.New()
	code, u := call(t, s, "POST", "/scim/v2/Users", user("Alice@Example.com", `,"externalId":"X1","emails":[{"type":"work","value":"alice@example.com","primary":true}]`))
	if code != 201 || u["id"] == "" || u["meta"].(map[string]any)["resourceType"] != "User" {
		t.Fatalf("create: %d %v", code, u)
	}
	id := u["id"].(string)
	if code, e := call(t, s, "POST", "/Users", user("alice@example.COM")); code != 409 || e["scimType"] != "uniqueness" || e["status"] != "409" {
		t.Fatalf("duplicate: %d %v", code, e)
	}
	for _, tc := range []struct {
		filter string
		want   float64
	}{
		{`userName eq "ALICE@example.com"`, 1},
		{`externalId eq "X1"`, 1},
		{`externalId eq "x1"`, 0},
		{`emails[type eq "work"].value eq "Alice@Example.com"`, 1},
		{`userName eq "alice@example.com" and externalId eq "X1"`, 1},
		{`userName eq "nobody"`, 0},
	} {
		code, l := call(t, s, "GET", "/Users?filter="+urlQuery(tc.filter), "")
		if code != 200 || l["totalResults"] != tc.want || l["startIndex"] != 1.0 {
			t.Errorf("filter %s: %d %v", tc.filter, code, l)
		}
	}
	if code, got := call(t, s, "GET", "/Users/"+id, ""); code != 200 || got["id"] != id {
		t.Fatalf("get: %d %v", code, got)
	}
	if code, got := call(t, s, "PUT", "/Users/"+id, user("alice@example.com", `,"active":false`)); code != 200 || got["active"] != false || got["externalId"] != nil {
		t.Fatalf("put: %d %v", code, got)
	}
	if code, _ := call(t, s, "DELETE", "/Users/"+id, ""); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if code, e := call(t, s, "GET", "/Users/"+id, ""); code != 404 || e["status"] != "404" {
		t.Fatalf("get deleted: %d %v", code, e)
	}
	if code, _ := call(t, s, "DELETE", "/Users/"+id, ""); code != 404 {
		t.Fatalf("second delete: %d", code)
	}
}

func urlQuery(s string) string {
	return strings.NewReplacer(" ", "+", `"`, "%22", "[", "%5B", "]", "%5D", "@", "%40").Replace(s)
}

func TestPagingIsStable(t *testing.T) {
	s := scimtest.New()
	for i := range 11 {
		if code, _ := call(t, s, "POST", "/Users", user(fmt.Sprintf("u%02d", i))); code != 201 {
			t.Fatal(code)
		}
	}
	seen := map[string]bool{}
	for _, start := range []int{1, 6, 11} {
		code, l := call(t, s, "GET", fmt.Sprintf("/Users?startIndex=%d&count=5", start), "")
		res := l["Resources"].([]any)
		if code != 200 || l["startIndex"] != float64(start) || l["totalResults"] != 11.0 || l["itemsPerPage"] != float64(len(res)) || len(res) > 5 {
			t.Fatalf("page %d: %v", start, l)
		}
		for _, r := range res {
			id := r.(map[string]any)["id"].(string)
			if seen[id] {
				t.Fatalf("id %s repeated", id)
			}
			seen[id] = true
		}
	}
	if len(seen) != 11 {
		t.Fatalf("saw %d users", len(seen))
	}
}

func TestRejectsNonCanonicalRequests(t *testing.T) {
	s := scimtest.New()
	_, u := call(t, s, "POST", "/Users", user("bob"))
	_, g := call(t, s, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"G","members":[{"value":"`+u["id"].(string)+`"}]}`)
	uid, gid := "/Users/"+u["id"].(string), "/Groups/"+g["id"].(string)
	for _, tc := range []struct{ name, method, target, body, contentType string }{
		{"capitalised op", "PATCH", uid, patchOp + `{"op":"Replace","path":"active","value":false}]}`, ""},
		{"op without path", "PATCH", uid, patchOp + `{"op":"replace","value":{"active":false}}]}`, ""},
		{"string boolean", "PATCH", uid, patchOp + `{"op":"replace","path":"active","value":"False"}]}`, ""},
		{"add on single-valued", "PATCH", uid, patchOp + `{"op":"add","path":"active","value":false}]}`, ""},
		{"path case", "PATCH", uid, patchOp + `{"op":"replace","path":"Name.givenName","value":"x"}]}`, ""},
		{"string boolean in a value filter", "PATCH", uid, patchOp + `{"op":"add","path":"roles[primary eq \"True\"].value","value":"x"}]}`, ""},
		{"members remove with a value list", "PATCH", gid, patchOp + `{"op":"remove","path":"members","value":[{"value":"x"}]}]}`, ""},
		{"replace members []", "PATCH", gid, patchOp + `{"op":"replace","path":"members","value":[]}]}`, ""},
		{"null value", "PATCH", uid, patchOp + `{"op":"replace","path":"title","value":null}]}`, ""},
		{"manager as a string", "PATCH", uid, patchOp + `{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"m"}]}`, ""},
		{"legacy URN", "POST", "/Users", `{"schemas":["urn:scim:schemas:core:2.0"],"userName":"c"}`, ""},
		{"ADSCIM URN", "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],"displayName":"x"}`, ""},
		{"dotted key", "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"c","name.givenName":"x"}`, ""},
		{"attribute case", "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"UserName":"c"}`, ""},
		{"read-only id", "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"c","id":"x"}`, ""},
		{"null in a body", "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"c","title":null}`, ""},
		{"empty list in a body", "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"c","roles":[]}`, ""},
		{"application/json", "POST", "/Users", user("c"), "application/json"},
		{"charset parameter", "POST", "/Users", user("c"), "application/scim+json; charset=utf-8"},
		{"Entra flag", "GET", "/Users?aadOptscim062020&filter=userName+eq+%22x%22", "", ""},
		{"filter case", "GET", "/Users?filter=UserName+EQ+%22x%22", "", ""},
		{"malformed filter", "GET", "/Users?filter=bob", "", ""},
		{"missing userName", "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"displayName":"c"}`, ""},
		{"unknown member", "PATCH", gid, patchOp + `{"op":"add","path":"members","value":[{"value":"ghost"}]}]}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
			ct := tc.contentType
			if ct == "" {
				ct = scim.MediaTypeSCIM
			}
			if tc.body != "" {
				r.Header.Set("Content-Type", ct)
			}
			w := httptest.NewRecorder()
			s.ServeHTTP(w, r)
			var e map[string]any
			_ = json.Unmarshal(w.Body.Bytes(), &e)
			if w.Code != 400 || e["status"] != "400" || e["detail"] == "" {
				t.Fatalf("%d %s", w.Code, w.Body.String())
			}
		})
	}
	// nothing changed
	if code, got := call(t, s, "GET", gid, ""); code != 200 || len(got["members"].([]any)) != 1 {
		t.Fatalf("group changed: %v", got)
	}
}

func TestPatchSemantics(t *testing.T) {
	s := scimtest.New()
	_, u := call(t, s, "POST", "/Users", user("carol", `,"emails":[{"type":"work","value":"c@w"}],"name":{"givenName":"C","familyName":"L"}`))
	_, m := call(t, s, "POST", "/Users", user("manager"))
	uid, mid := "/Users/"+u["id"].(string), m["id"].(string)
	ent := scim.URNEnterpriseUser
	code, got := call(t, s, "PATCH", uid, patchOp+
		`{"op":"add","path":"phoneNumbers[type eq \"mobile\"].value","value":"123"},`+
		`{"op":"replace","path":"emails[type eq \"work\"].value","value":"new@w"},`+
		`{"op":"replace","path":"name.givenName","value":"Cee"},`+
		`{"op":"replace","path":"`+ent+`:manager","value":{"value":"`+mid+`"}},`+
		`{"op":"add","path":"roles[primary eq true].value","value":"admin"},`+
		`{"op":"remove","path":"addresses[type eq \"work\"]"}]}`)
	if code != 200 {
		t.Fatalf("%d %v", code, got)
	}
	if ph := got["phoneNumbers"].([]any)[0].(map[string]any); ph["type"] != "mobile" || ph["value"] != "123" {
		t.Errorf("phone %v", ph)
	}
	if em := got["emails"].([]any); len(em) != 1 || em[0].(map[string]any)["value"] != "new@w" {
		t.Errorf("emails %v", em)
	}
	if n := got["name"].(map[string]any); n["givenName"] != "Cee" || n["familyName"] != "L" {
		t.Errorf("name %v", n)
	}
	if r := got["roles"].([]any)[0].(map[string]any); r["primary"] != true || r["value"] != "admin" {
		t.Errorf("roles %v", r)
	}
	if mg := got[ent].(map[string]any)["manager"].(map[string]any); mg["value"] != mid {
		t.Errorf("manager %v", mg)
	}
	if !strings.Contains(fmt.Sprint(got["schemas"]), ent) {
		t.Errorf("schemas %v", got["schemas"])
	}
	_, got = call(t, s, "PATCH", uid, patchOp+`{"op":"remove","path":"`+ent+`:manager"}]}`)
	if _, ok := got[ent]; ok || strings.Contains(fmt.Sprint(got["schemas"]), ent) {
		t.Errorf("manager removal left %v", got)
	}

	_, g := call(t, s, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Team"}`)
	gid := "/Groups/" + g["id"].(string)
	add := patchOp + `{"op":"add","path":"members","value":[{"value":"` + u["id"].(string) + `"},{"value":"` + mid + `"}]}]}`
	for range 2 { // a repeated add is a no-op (R26)
		if code, _ := call(t, s, "PATCH", gid, add); code != 204 {
			t.Fatal(code)
		}
	}
	_, got = call(t, s, "GET", gid, "")
	if len(got["members"].([]any)) != 2 {
		t.Fatalf("members %v", got["members"])
	}
	for range 2 { // removing a non-member is a no-op
		if code, _ := call(t, s, "PATCH", gid, patchOp+`{"op":"remove","path":"members[value eq \"`+mid+`\"]"}]}`); code != 204 {
			t.Fatal(code)
		}
	}
	_, got = call(t, s, "GET", gid+"?excludedAttributes=members", "")
	if _, ok := got["members"]; ok {
		t.Errorf("members not excluded: %v", got)
	}
	_, got = call(t, s, "GET", gid, "")
	if len(got["members"].([]any)) != 1 {
		t.Fatalf("members %v", got["members"])
	}
	if code, _ := call(t, s, "PATCH", gid, patchOp+`]}`); code != 204 {
		t.Fatalf("empty PATCH: %d", code)
	}
	if code, e := call(t, s, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"TEAM"}`); code != 409 || e["scimType"] != "uniqueness" {
		t.Fatalf("duplicate group: %d %v", code, e)
	}
	if code, _ := call(t, s, "PATCH", uid, patchOp+`{"op":"replace","path":"id","value":"x"}]}`); code != 400 {
		t.Fatalf("id replace: %d", code)
	}
}

func TestDiscovery(t *testing.T) {
	s := scimtest.New()
	_, spc := call(t, s, "GET", "/scim/v2/ServiceProviderConfig", "")
	if spc["patch"].(map[string]any)["supported"] != true {
		t.Errorf("spc %v", spc)
	}
	_, l := call(t, s, "GET", "/Schemas", "")
	ids := fmt.Sprint(l["Resources"])
	for _, id := range []string{scim.URNUser, scim.URNGroup, scim.URNEnterpriseUser} {
		if !strings.Contains(ids, id) {
			t.Errorf("schemas lack %s", id)
		}
	}
	if strings.Contains(ids, "<nil>") {
		t.Errorf("null in schemas")
	}
	_, rt := call(t, s, "GET", "/ResourceTypes", "")
	if rt["totalResults"] != 2.0 {
		t.Errorf("resource types %v", rt)
	}
	// meta.location is absolute (httptest's requests reach example.com).
	if loc := spc["meta"].(map[string]any)["location"]; loc != "http://example.com/scim/v2/ServiceProviderConfig" {
		t.Errorf("ServiceProviderConfig location %v", loc)
	}
	if loc := rt["Resources"].([]any)[0].(map[string]any)["meta"].(map[string]any)["location"]; loc != "http://example.com/ResourceTypes/User" {
		t.Errorf("ResourceType location %v", loc)
	}
	if code, _ := call(t, s, "POST", "/Schemas", "{}"); code != 405 {
		t.Errorf("POST /Schemas: %d", code)
	}
}

func TestTenantsHeadersAndCounting(t *testing.T) {
	s := scimtest.New(scimtest.PerTenant(), scimtest.WithClientHeader("X-Client"))
	call(t, s, "POST", "/Users", user("dave"), "X-Scim-Tenant", "a", "X-Client", "c1")
	call(t, s, "POST", "/Users", user("dave"), "X-Scim-Tenant", "b", "X-Client", "c2")
	if code, _ := call(t, s, "GET", "/Users", ""); code != 400 {
		t.Fatalf("missing tenant: %d", code)
	}
	if len(s.Resources("a", scim.Users)) != 1 || len(s.Resources("b", scim.Users)) != 1 || s.Resources("c", scim.Users) != nil {
		t.Fatal("tenants not isolated")
	}
	seen := s.Seen()
	if s.Requests() != 3 || len(seen) != 3 || seen[0] != (scimtest.Seen{Method: "POST", Path: "/Users", Tenant: "a", Client: "c1"}) {
		t.Fatalf("%d %v", s.Requests(), seen)
	}
}

func TestLatencyHonoursCancellation(t *testing.T) {
	s := scimtest.New(scimtest.WithLatency(time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest("GET", "/Users", nil).WithContext(ctx))
	if w.Body.Len() != 0 || s.Requests() != 1 {
		t.Fatalf("answered a cancelled request: %q", w.Body.String())
	}
}

// A created resource's URI is absolute, the same in Location and in
// meta.location, and survives a read (RFC 7643 §3.1, RFC 7644 §3.3).
func TestLocationsAreAbsolute(t *testing.T) {
	s := scimtest.New()
	for _, tc := range []struct{ target, want string }{
		{"http://users.internal:9000/scim/v2/Users", "http://users.internal:9000/scim/v2/Users/"},
		{"http://users.internal/Groups/", "http://users.internal/Groups/"},
	} {
		body := user("loc@example.com")
		if strings.Contains(tc.target, "Groups") {
			body = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Loc"}`
		}
		r := httptest.NewRequest("POST", tc.target, strings.NewReader(body))
		r.Header.Set("Content-Type", scim.MediaTypeSCIM)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		var created struct {
			ID   string
			Meta struct{ Location string }
		}
		_ = json.Unmarshal(w.Body.Bytes(), &created)
		want := tc.want + created.ID
		if w.Code != 201 || created.ID == "" || w.Header().Get("Location") != want || created.Meta.Location != want {
			t.Fatalf("POST %s: %d Location %q body %s; want %s", tc.target, w.Code, w.Header().Get("Location"), w.Body, want)
		}
		if _, got := call(t, s, "GET", want, ""); got["meta"].(map[string]any)["location"] != want {
			t.Errorf("GET %s: meta %v", want, got["meta"])
		}
	}

	// An answer without meta still says where the new resource is.
	r := httptest.NewRequest("POST", "http://users.internal/scim/v2/Users?excludedAttributes=meta", strings.NewReader(user("nometa@example.com")))
	r.Header.Set("Content-Type", scim.MediaTypeSCIM)
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	var created map[string]any
	_ = json.Unmarshal(w.Body.Bytes(), &created)
	id, _ := created["id"].(string)
	if _, hasMeta := created["meta"]; w.Code != 201 || id == "" || hasMeta ||
		w.Header().Get("Location") != "http://users.internal/scim/v2/Users/"+id {
		t.Fatalf("POST excluding meta: %d Location %q body %s", w.Code, w.Header().Get("Location"), w.Body)
	}
}

// Filters on meta's timestamps compare instants, whatever offset the
// client writes them with (RFC 7644 §3.4.2.2).
func TestFilterOnMetaTimestamps(t *testing.T) {
	s := scimtest.New()
	before := time.Now().Add(-time.Hour)
	for _, name := range []string{"u1", "u2"} {
		if code, _ := call(t, s, "POST", "/Users", user(name)); code != 201 {
			t.Fatal(code)
		}
	}
	// An hour ago written at +14:00 reads later than now at Z as text;
	// written at -12:00 with nanoseconds, earlier.
	east := before.In(time.FixedZone("", 14*3600)).Format(time.RFC3339)
	west := before.Add(2 * time.Hour).In(time.FixedZone("", -12*3600)).Format(time.RFC3339Nano)
	for _, tc := range []struct {
		filter string
		want   float64
	}{
		{`meta.lastModified gt "` + east + `"`, 2},
		{`meta.created ge "` + east + `"`, 2},
		{`meta.lastModified lt "` + east + `"`, 0},
		{`meta.lastModified lt "` + west + `"`, 2},
		{`meta.lastModified gt "` + east + `" and meta.created le "` + west + `"`, 2},
		{`meta.lastModified gt "` + west + `"`, 0},
	} {
		code, l := call(t, s, "GET", "/Users?filter="+url.QueryEscape(tc.filter), "")
		if code != 200 || l["totalResults"] != tc.want {
			t.Errorf("filter %s: %d %v", tc.filter, code, l)
		}
	}
	code, e := call(t, s, "GET", "/Users?filter="+url.QueryEscape(`meta.lastModified gt "last week"`), "")
	if code != 400 || e["scimType"] != scim.InvalidFilter {
		t.Errorf("a dateTime compared with text: %d %v", code, e)
	}
}
