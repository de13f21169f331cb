package scimtest_test

import (
	"encoding/json"
	"net/url"
	"reflect"
	"testing"

	"github.com/scimgate/scimgate/internal/scim"
	"github.com/scimgate/scimgate/internal/scim/scimtest"
)

// expand decodes want, a JSON object in which "{id}" and "{meta}" stand
// for the stored resource's id and meta, which the server chose.
func expand(t *testing.T, want string, full map[string]any) map[string]any {
	t.Helper()
	var out map[string]any
	if err := json.Unmarshal([]byte(want), &out); err != nil {
		t.Fatalf("want %s: %v", want, err)
	}
	for k, v := range out {
		switch v {
		case "{id}":
			out[k] = full["id"]
		case "{meta}":
			out[k] = full["meta"]
		}
	}
	return out
}

// RFC 7644 §3.4.2.5 and §3.9: attributes and excludedAttributes take names
// in standard attribute notation (§3.10), sub-attributes and URN-qualified
// names included, in any case; id and schemas are always returned.
func TestAttributesAndExcludedAttributes(t *testing.T) {
	s := scimtest.New()
	code, created := call(t, s, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","`+ent+`"],`+
		`"userName":"ann","externalId":"E1","name":{"givenName":"Ann","familyName":"Lee"},`+
		`"emails":[{"value":"ann@work","type":"work","primary":true},{"value":"ann@home","type":"home"}],`+
		`"`+ent+`":{"department":"R&D","manager":{"value":"m1"}}}`)
	if code != 201 {
		t.Fatalf("create: %d %v", code, created)
	}
	uid := "/Users/" + created["id"].(string)
	_, full := call(t, s, "GET", uid, "")
	const schemas = `"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","` + ent + `"]`
	const all = `"id":"{id}",` + schemas + `,"meta":"{meta}","userName":"ann","externalId":"E1","name":{"givenName":"Ann","familyName":"Lee"}`
	const emails = `"emails":[{"value":"ann@work","type":"work","primary":true},{"value":"ann@home","type":"home"}]`
	const extension = `"` + ent + `":{"department":"R&D","manager":{"value":"m1"}}`
	if want := expand(t, `{`+all+`,`+emails+`,`+extension+`}`, full); !reflect.DeepEqual(full, want) {
		t.Fatalf("stored user\n got %v\nwant %v", full, want)
	}

	for _, tc := range []struct {
		name, query, want string
	}{
		{"one attribute, meta left out", "attributes=userName",
			`{"id":"{id}",` + schemas + `,"userName":"ann"}`},
		{"id alone", "attributes=id",
			`{"id":"{id}",` + schemas + `}`},
		{"schemas alone", "attributes=schemas",
			`{"id":"{id}",` + schemas + `}`},
		{"meta when named", "attributes=userName,meta",
			`{"id":"{id}",` + schemas + `,"userName":"ann","meta":"{meta}"}`},
		{"a sub-attribute of meta", "attributes=meta.resourceType",
			`{"id":"{id}",` + schemas + `,"meta":{"resourceType":"User"}}`},
		{"a sub-attribute", "attributes=name.givenName",
			`{"id":"{id}",` + schemas + `,"name":{"givenName":"Ann"}}`},
		{"a sub-attribute of every value", "attributes=emails.value",
			`{"id":"{id}",` + schemas + `,"emails":[{"value":"ann@work"},{"value":"ann@home"}]}`},
		{"a sub-attribute only some values have", "attributes=emails.primary",
			`{"id":"{id}",` + schemas + `,"emails":[{"primary":true}]}`},
		{"a sub-attribute no value has", "attributes=userName,name.middleName",
			`{"id":"{id}",` + schemas + `,"userName":"ann"}`},
		{"the whole attribute and one of its sub-attributes", "attributes=name.givenName,name",
			`{"id":"{id}",` + schemas + `,"name":{"givenName":"Ann","familyName":"Lee"}}`},
		{"names in any case", "attributes=USERNAME,Name.GivenName,EMAILS.Value",
			`{"id":"{id}",` + schemas + `,"userName":"ann","name":{"givenName":"Ann"},"emails":[{"value":"ann@work"},{"value":"ann@home"}]}`},
		{"spaces around names", "attributes=" + url.QueryEscape(" userName , externalId"),
			`{"id":"{id}",` + schemas + `,"userName":"ann","externalId":"E1"}`},
		{"core URN", "attributes=urn:ietf:params:scim:schemas:core:2.0:User:userName",
			`{"id":"{id}",` + schemas + `,"userName":"ann"}`},
		{"core URN with a sub-attribute", "attributes=urn:ietf:params:scim:schemas:core:2.0:User:name.familyName",
			`{"id":"{id}",` + schemas + `,"name":{"familyName":"Lee"}}`},
		{"enterprise attribute", "attributes=" + ent + ":manager",
			`{"id":"{id}",` + schemas + `,"` + ent + `":{"manager":{"value":"m1"}}}`},
		{"enterprise sub-attribute, URN and name in another case", "attributes=URN:IETF:params:scim:schemas:extension:enterprise:2.0:user:Manager.VALUE",
			`{"id":"{id}",` + schemas + `,"` + ent + `":{"manager":{"value":"m1"}}}`},
		{"the enterprise extension by its URN", "attributes=" + ent,
			`{"id":"{id}",` + schemas + `,` + extension + `}`},

		{"exclude a top-level attribute", "excludedAttributes=emails",
			`{` + all + `,` + extension + `}`},
		{"exclude meta", "excludedAttributes=meta",
			`{"id":"{id}",` + schemas + `,"userName":"ann","externalId":"E1","name":{"givenName":"Ann","familyName":"Lee"},` + emails + `,` + extension + `}`},
		{"exclude a sub-attribute of every value", "excludedAttributes=emails.value",
			`{` + all + `,"emails":[{"type":"work","primary":true},{"type":"home"}],` + extension + `}`},
		{"exclude every sub-attribute present", "excludedAttributes=name.givenName,NAME.FAMILYNAME",
			`{"id":"{id}",` + schemas + `,"meta":"{meta}","userName":"ann","externalId":"E1",` + emails + `,` + extension + `}`},
		{"exclude an enterprise attribute", "excludedAttributes=" + ent + ":manager",
			`{` + all + `,` + emails + `,"` + ent + `":{"department":"R&D"}}`},
		{"exclude all of the extension's attributes", "excludedAttributes=" + ent + ":manager.value," + ent + ":department",
			`{` + all + `,` + emails + `}`},
		{"exclude the extension by its URN", "excludedAttributes=" + ent,
			`{` + all + `,` + emails + `}`},
		{"id and schemas cannot be excluded", "excludedAttributes=id,schemas,urn:ietf:params:scim:schemas:core:2.0:User:id",
			`{` + all + `,` + emails + `,` + extension + `}`},
		{"excluded from what attributes keep", "attributes=userName,emails&excludedAttributes=emails.primary,emails.type",
			`{"id":"{id}",` + schemas + `,"userName":"ann","emails":[{"value":"ann@work"},{"value":"ann@home"}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := expand(t, tc.want, full)
			if code, got := call(t, s, "GET", uid+"?"+tc.query, ""); code != 200 || !reflect.DeepEqual(got, want) {
				t.Errorf("GET ?%s: %d\n got %v\nwant %v", tc.query, code, got, want)
			}
			// A list answer projects each resource the same way.
			code, l := call(t, s, "GET", "/Users?filter=userName+eq+%22ann%22&"+tc.query, "")
			if res, _ := l["Resources"].([]any); code != 200 || len(res) != 1 || !reflect.DeepEqual(res[0], want) {
				t.Errorf("list ?%s: %d %v\nwant %v", tc.query, code, l, want)
			}
		})
	}

	// What a write answers with is projected too.
	code, got := call(t, s, "PATCH", uid+"?attributes=name.givenName", patchOp+`{"op":"replace","path":"name.givenName","value":"Anne"}]}`)
	if want := map[string]any{"id": full["id"], "schemas": full["schemas"], "name": map[string]any{"givenName": "Anne"}}; code != 200 || !reflect.DeepEqual(got, want) {
		t.Errorf("PATCH ?attributes=name.givenName: %d %v", code, got)
	}
	code, got = call(t, s, "POST", "/Users?attributes=userName", user("bob"))
	if _, hasMeta := got["meta"]; code != 201 || got["userName"] != "bob" || got["id"] == nil || hasMeta || len(got) != 3 {
		t.Errorf("POST ?attributes=userName: %d %v", code, got)
	}
	_, g := call(t, s, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"G","members":[{"value":"`+full["id"].(string)+`","display":"Ann"}]}`)
	gid := "/Groups/" + g["id"].(string)
	code, got = call(t, s, "GET", gid+"?attributes=members.value", "")
	if want := []any{map[string]any{"value": full["id"]}}; code != 200 || !reflect.DeepEqual(got["members"], want) || got["displayName"] != nil {
		t.Errorf("GET group ?attributes=members.value: %d %v", code, got)
	}
}

// A name that is no attribute of the resource is refused with 400
// invalidValue, and a write that carries one changes nothing.
func TestAttributesRefusesUnknownNames(t *testing.T) {
	s := scimtest.New()
	_, u := call(t, s, "POST", "/Users", user("carl"))
	uid := "/Users/" + u["id"].(string)
	_, g := call(t, s, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"G"}`)
	gid := "/Groups/" + g["id"].(string)
	for _, tc := range []struct{ name, method, target, body string }{
		{"unknown attribute", "GET", uid + "?attributes=userNme", ""},
		{"unknown sub-attribute", "GET", uid + "?attributes=name.given", ""},
		{"sub-attribute of a simple attribute", "GET", uid + "?attributes=userName.value", ""},
		{"two levels of sub-attributes", "GET", uid + "?attributes=name.givenName.x", ""},
		{"empty name in the list", "GET", uid + "?attributes=userName,,name", ""},
		{"trailing dot", "GET", uid + "?attributes=name.", ""},
		{"a schema URN alone", "GET", uid + "?attributes=urn:ietf:params:scim:schemas:core:2.0:User", ""},
		{"URN with nothing after the colon", "GET", uid + "?attributes=urn:ietf:params:scim:schemas:core:2.0:User:", ""},
		{"unknown URN", "GET", uid + "?attributes=urn:example:params:scim:schemas:core:2.0:User:userName", ""},
		{"another resource's URN", "GET", uid + "?attributes=urn:ietf:params:scim:schemas:core:2.0:Group:displayName", ""},
		{"enterprise attribute unqualified", "GET", uid + "?attributes=employeeNumber", ""},
		{"unknown enterprise attribute", "GET", uid + "?attributes=" + ent + ":userName", ""},
		{"enterprise URN on a group", "GET", gid + "?attributes=" + ent + ":manager", ""},
		{"user attribute on a group", "GET", gid + "?attributes=userName", ""},
		{"unknown excluded attribute", "GET", uid + "?excludedAttributes=bogus", ""},
		{"unknown name on a list", "GET", "/Users?attributes=bogus", ""},
		{"unknown name on a create", "POST", "/Users?attributes=bogus", user("dora")},
		{"unknown name on a replace", "PUT", uid + "?excludedAttributes=bogus", user("carl", `,"title":"changed"`)},
		{"unknown name on a patch", "PATCH", uid + "?attributes=bogus", patchOp + `{"op":"replace","path":"title","value":"changed"}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, e := call(t, s, tc.method, tc.target, tc.body)
			if code != 400 || e["status"] != "400" || e["scimType"] != scim.InvalidValue || e["detail"] == "" {
				t.Errorf("%d %v", code, e)
			}
		})
	}
	if users := s.Resources("", scim.Users); len(users) != 1 || users[0]["title"] != nil {
		t.Errorf("a refused write changed the store: %v", users)
	}
}
