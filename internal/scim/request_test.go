package scim

import (
	"bytes"
	"errors"
	"net/http"
	"reflect"
	"testing"
)

const patchOp = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[`

func TestNormalizeRequestDecisions(t *testing.T) {
	for _, tc := range []struct {
		name, dialect, method, path, query, body string
		wantQuery, wantBody                      string // "" body: unchanged
		wantErr                                  string // scimType
	}{
		{name: "string boolean and op case", method: "PATCH", path: "/Users/1",
			body:     patchOp + `{"op":"Replace","path":"active","value":"False"}]}`,
			wantBody: patchOp + `{"op":"replace","path":"active","value":false}]}`},
		{name: "add on single-valued becomes replace", method: "PATCH", path: "/Users/1",
			body:     patchOp + `{"op":"Add","path":"active","value":"False"}]}`,
			wantBody: patchOp + `{"op":"replace","path":"active","value":false}]}`},
		{name: "add to a value filter stays add", method: "PATCH", path: "/Users/1",
			body:     patchOp + `{"op":"Add","path":"phoneNumbers[type eq \"mobile\"].value","value":"1"}]}`,
			wantBody: patchOp + `{"op":"add","path":"phoneNumbers[type eq \"mobile\"].value","value":"1"}]}`},
		{name: "boolean in value filter typed", method: "PATCH", path: "/Users/1",
			body:     patchOp + `{"op":"add","path":"roles[primary eq \"True\"].display","value":"x"}]}`,
			wantBody: patchOp + `{"op":"add","path":"roles[primary eq true].display","value":"x"}]}`},
		{name: "path-less split keeps key order, drops read-only id", method: "PATCH", path: "/Groups/g",
			body:     patchOp + `{"op":"replace","value":{"id":"g","displayName":"Test SCIMv2"}}]}`,
			wantBody: patchOp + `{"op":"replace","path":"displayName","value":"Test SCIMv2"}]}`},
		{name: "path-less value of only read-only keys leaves an empty PATCH", method: "PATCH", path: "/Groups/g",
			body:     patchOp + `{"op":"replace","value":{"id":"g"}}]}`,
			wantBody: patchOp + `]}`},
		{name: "path-less extension object expands to qualified paths", method: "PATCH", path: "/Users/1",
			body:     patchOp + `{"op":"replace","value":{"urn:scim:schemas:extension:enterprise:2.0":{"department":"D","manager":"m"}}}]}`,
			wantBody: patchOp + `{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"D"},{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":{"value":"m"}}]}`},
		{name: "Entra's legacy URN.attribute path gets the colon (entra.md §5)", method: "PATCH", path: "/Users/1",
			body:     patchOp + `{"op":"Replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User.department","value":"Retail"}]}`,
			wantBody: patchOp + `{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"Retail"}]}`},
		{name: "path-less remove", method: "PATCH", path: "/Users/1",
			body: patchOp + `{"op":"remove"}]}`, wantErr: NoTarget},
		{name: "path-less scalar", method: "PATCH", path: "/Users/1",
			body: patchOp + `{"op":"replace","value":false}]}`, wantErr: InvalidValue},
		{name: "unknown op", method: "PATCH", path: "/Users/1",
			body: patchOp + `{"op":"move","path":"x"}]}`, wantErr: InvalidSyntax},
		{name: "no Operations", method: "PATCH", path: "/Users/1",
			body: `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}`, wantErr: InvalidSyntax},
		{name: "bad path", method: "PATCH", path: "/Users/1",
			body: patchOp + `{"op":"replace","path":"a b","value":1}]}`, wantErr: InvalidPath},
		{name: "malformed JSON", method: "POST", path: "/Users", body: `{"userName":`, wantErr: InvalidSyntax},
		{name: "empty body", method: "PUT", path: "/Users/1", body: ` `, wantErr: InvalidSyntax},
		{name: "member removal by value, $ref null", method: "PATCH", path: "/Groups/g",
			body:     patchOp + `{"op":"Remove","path":"members","value":[{"$ref":null,"value":"u1"},{"value":"u\"2"}]}]}`,
			wantBody: patchOp + `{"op":"remove","path":"members[value eq \"u1\"]"},{"op":"remove","path":"members[value eq \"u\\\"2\"]"}]}`},
		{name: "removal by value keeps every sub-attribute in the filter", method: "PATCH", path: "/Users/1",
			body:     patchOp + `{"op":"remove","path":"emails","value":[{"value":"a@x","type":"work"},{"Primary":"True","value":"b@x","display":null}]}]}`,
			wantBody: patchOp + `{"op":"remove","path":"emails[value eq \"a@x\" and type eq \"work\"]"},{"op":"remove","path":"emails[value eq \"b@x\" and primary eq true]"}]}`},
		{name: "removal by value with an unknown sub-attribute", method: "PATCH", path: "/Users/1",
			body: patchOp + `{"op":"remove","path":"emails","value":[{"value":"a@x","label":"w"}]}]}`, wantErr: InvalidValue},
		{name: "member removal compares the id alone", method: "PATCH", path: "/Groups/g",
			body:     patchOp + `{"op":"remove","path":"members","value":[{"value":"u1","display":"U","$ref":"https://h/Users/u1"}]}]}`,
			wantBody: patchOp + `{"op":"remove","path":"members[value eq \"u1\"]"}]}`},
		{name: "member removal with an empty list", method: "PATCH", path: "/Groups/g",
			body: patchOp + `{"op":"remove","path":"members","value":[]}]}`, wantErr: InvalidValue},
		{name: "member removal without value", method: "PATCH", path: "/Groups/g",
			body: patchOp + `{"op":"remove","path":"members","value":[{"display":"x"}]}]}`, wantErr: InvalidValue},
		{name: "replace members [] becomes remove", method: "PATCH", path: "/Groups/g",
			body:     patchOp + `{"op":"replace","path":"members","value":[]}]}`,
			wantBody: patchOp + `{"op":"remove","path":"members"}]}`},
		{name: "replace null becomes remove", method: "PATCH", path: "/Users/1",
			body:     patchOp + `{"op":"replace","path":"title","value":null}]}`,
			wantBody: patchOp + `{"op":"remove","path":"title"}]}`},
		{name: "add null to members is refused, never a remove", method: "PATCH", path: "/Groups/g",
			body: patchOp + `{"op":"add","path":"members","value":null}]}`, wantErr: InvalidValue},
		{name: "add empty string to a complex attribute is refused", method: "PATCH", path: "/Users/1",
			body: patchOp + `{"op":"add","path":"emails","value":""}]}`, wantErr: InvalidValue},
		{name: "add null to a single-valued attribute is refused", dialect: "entra", method: "PATCH", path: "/Users/1",
			body: patchOp + `{"op":"Add","path":"title","value":null}]}`, wantErr: InvalidValue},
		{name: "add empty string for Entra is refused", dialect: "entra", method: "PATCH", path: "/Users/1",
			body: patchOp + `{"op":"Add","path":"title","value":""}]}`, wantErr: InvalidValue},
		{name: "add of an empty manager is refused", method: "PATCH", path: "/Users/1",
			body: patchOp + `{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":{"value":""}}]}`, wantErr: InvalidValue},
		{name: "path-less add of null is refused", method: "PATCH", path: "/Groups/g",
			body: patchOp + `{"op":"add","value":{"members":null}}]}`, wantErr: InvalidValue},
		{name: "path-less replace of null still removes", method: "PATCH", path: "/Groups/g",
			body:     patchOp + `{"op":"replace","value":{"members":null}}]}`,
			wantBody: patchOp + `{"op":"remove","path":"members"}]}`},
		{name: "empty string clears for Entra", dialect: "entra", method: "PATCH", path: "/Users/1",
			body:     patchOp + `{"op":"replace","path":"title","value":""}]}`,
			wantBody: patchOp + `{"op":"remove","path":"title"}]}`},
		{name: "empty string forwarded for an unknown client", method: "PATCH", path: "/Users/1",
			body: patchOp + `{"op":"replace","path":"title","value":""}]}`},
		{name: "empty manager clears for everyone", method: "PATCH", path: "/Users/1",
			body:     patchOp + `{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":""}]}`,
			wantBody: patchOp + `{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}]}`},
		{name: "manager string becomes object", method: "PATCH", path: "/Users/1",
			body:     patchOp + `{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"m"}]}`,
			wantBody: patchOp + `{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":{"value":"m"}}]}`},
		{name: "null sub-attribute of a replaced complex attribute is removed", dialect: "okta", method: "PATCH", path: "/Users/1",
			body:     patchOp + `{"op":"replace","path":"name","value":{"givenName":null,"familyName":"C"}}]}`,
			wantBody: patchOp + `{"op":"replace","path":"name","value":{"familyName":"C"}},{"op":"remove","path":"name.givenName"}]}`},
		{name: "replace of only null sub-attributes is only removes", method: "PATCH", path: "/Users/1",
			body:     patchOp + `{"op":"replace","path":"Name","value":{"GivenName":null,"middleName":null}}]}`,
			wantBody: patchOp + `{"op":"remove","path":"name.givenName"},{"op":"remove","path":"name.middleName"}]}`},
		{name: "path-less replace of a null sub-attribute", method: "PATCH", path: "/Users/1",
			body:     patchOp + `{"op":"replace","value":{"name":{"givenName":null}}}]}`,
			wantBody: patchOp + `{"op":"remove","path":"name.givenName"}]}`},
		{name: "empty-string sub-attribute clears for OneLogin", dialect: "onelogin", method: "PATCH", path: "/Users/1",
			body:     patchOp + `{"op":"replace","path":"name","value":{"givenName":"","familyName":"C"}}]}`,
			wantBody: patchOp + `{"op":"replace","path":"name","value":{"familyName":"C"}},{"op":"remove","path":"name.givenName"}]}`},
		{name: "OneLogin email without an address names no email", dialect: "onelogin", method: "POST", path: "/Users",
			body:     `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"u","emails":[{"value":"","type":"work","primary":true}],"phoneNumbers":[{"value":"1","type":"work"},{"value":"","type":"mobile"}]}`,
			wantBody: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"u","phoneNumbers":[{"value":"1","type":"work"}]}`},
		{name: "a null email value names no email", method: "PUT", path: "/Users/1",
			body:     `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"u","emails":[{"value":null,"type":"work","primary":true}]}`,
			wantBody: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"u"}`},
		{name: "replace with only an email without an address clears emails", dialect: "onelogin", method: "PATCH", path: "/Users/1",
			body:     patchOp + `{"op":"replace","path":"emails","value":[{"value":"","type":"work"}]}]}`,
			wantBody: patchOp + `{"op":"remove","path":"emails"}]}`},
		{name: "an email sent without a value is the client's own", method: "POST", path: "/Users",
			body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"u","emails":[{"type":"work","primary":true}]}`},
		{name: "an address has no value to lose", dialect: "onelogin", method: "POST", path: "/Users",
			body:     `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"u","addresses":[{"locality":"Zurich","region":"","country":"CH"}]}`,
			wantBody: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"u","addresses":[{"locality":"Zurich","country":"CH"}]}`},
		{name: "empty-string sub-attribute kept for an unknown client", method: "PATCH", path: "/Users/1",
			body: patchOp + `{"op":"replace","path":"name","value":{"givenName":"","familyName":"C"}}]}`},
		{name: "manager $ref null is removed", method: "PATCH", path: "/Users/1",
			body:     patchOp + `{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":{"value":"m2","$ref":null}}]}`,
			wantBody: patchOp + `{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":{"value":"m2"}},{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.$ref"}]}`},
		{name: "manager $ref null in a legacy one-element list is removed", dialect: "entra", method: "PATCH", path: "/Users/1",
			body:     patchOp + `{"op":"Replace","path":"manager","value":[{"$ref":null,"value":"m2"}]}]}`,
			wantBody: patchOp + `{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":{"value":"m2"}},{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.$ref"}]}`},
		{name: "add drops a null $ref, never removes", dialect: "entra", method: "PATCH", path: "/Users/1",
			body:     patchOp + `{"op":"Add","path":"manager","value":[{"$ref":null,"value":"m2"}]}]}`,
			wantBody: patchOp + `{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":{"value":"m2"}}]}`},
		{name: "OneLogin manager without an id clears the manager", dialect: "onelogin", method: "PATCH", path: "/Users/1",
			body:     patchOp + `{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":{"value":"","displayName":" "}}]}`,
			wantBody: patchOp + `{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}]}`},
		{name: "manager named by its $ref alone is kept", method: "PATCH", path: "/Users/1",
			body: patchOp + `{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":{"$ref":"https://h/scim/v2/Users/m2"}}]}`},
		{name: "manager named by its $ref, empty id cleared for Entra", dialect: "entra", method: "PATCH", path: "/Users/1",
			body:     patchOp + `{"op":"Replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":{"value":"","$ref":"https://h/scim/v2/Users/m2"}}]}`,
			wantBody: patchOp + `{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":{"$ref":"https://h/scim/v2/Users/m2"}},{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"}]}`},
		{name: "manager with neither id nor $ref is removed", method: "PATCH", path: "/Users/1",
			body:     patchOp + `{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":{"value":"","$ref":"","displayName":"x"}}]}`,
			wantBody: patchOp + `{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}]}`},
		{name: "POST manager named by its $ref alone is kept", method: "POST", path: "/Users",
			body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"userName":"u","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"$ref":"https://h/scim/v2/Users/m2"}}}`},
		{name: "Entra conditional manager removal", dialect: "entra", method: "PATCH", path: "/Users/1",
			body:     patchOp + `{"op":"remove","path":"manager[value eq \"m\"]"}]}`,
			wantBody: patchOp + `{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}]}`},
		{name: "unqualified manager left alone for an unknown client", method: "PATCH", path: "/Users/1",
			body: patchOp + `{"op":"remove","path":"manager[value eq \"m\"]"}]}`},
		{name: "already canonical", method: "PATCH", path: "/Users/1",
			body: patchOp + `{"op":"replace","path":"name.givenName","value":"A"},{"value":[{"value":"u"}],"op":"add","path":"emails"}]}`},
		{name: "POST nulls, meta, empty roles", method: "POST", path: "/Users",
			body:     `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"u","title":null,"meta":{"resourceType":"User"},"roles":[]}`,
			wantBody: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"u"}`},
		{name: "OneLogin empty strings and id null", dialect: "onelogin", method: "POST", path: "/Users",
			body:     `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x@y","active":"true","id":null,"title":"","addresses":[{"locality":"","region":""}]}`,
			wantBody: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x@y","active":true}`},
		{name: "empty strings kept for an unknown client", method: "POST", path: "/Users",
			body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x@y","title":""}`},
		{name: "key case and string booleans in lists", method: "PUT", path: "/Users/1",
			body:     `{"Schemas":["URN:ietf:params:scim:schemas:core:2.0:User"],"UserName":"u","Emails":[{"Primary":"True","value":"a@b"}],"id":"1","groups":[{"value":"g"}]}`,
			wantBody: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"u","emails":[{"primary":true,"value":"a@b"}]}`},
		{name: "Entra legacy top-level enterprise attributes", dialect: "entra", method: "POST", path: "/Users",
			body:     `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"u","department":"D","manager":"m"}`,
			wantBody: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"userName":"u","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"D","manager":{"value":"m"}}}`},
		{name: "OneLogin enterprise extension of empty strings is dropped", dialect: "onelogin", method: "POST", path: "/Users",
			body:     `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"u","urn:scim:schemas:extension:enterprise:2.0":{"organization":"","department":" ","manager":{"value":"","displayName":" "}}}`,
			wantBody: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"userName":"u","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":" "}}`},
		{name: "OneLogin enterprise extension left empty is dropped with no URN added", dialect: "onelogin", method: "POST", path: "/Users",
			body:     `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"u","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"organization":"","manager":{"value":"","displayName":" "}}}`,
			wantBody: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"u"}`},
		{name: "enterprise extension of nulls is dropped, listed URN kept", method: "PUT", path: "/Users/1",
			body:     `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"userName":"u","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":null}}`,
			wantBody: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"userName":"u"}`},
		{name: "empty enterprise extension is dropped", method: "POST", path: "/Users",
			body:     `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"u","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{}}`,
			wantBody: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"u"}`},
		{name: "legacy and RFC extension both naming an attribute", method: "POST", path: "/Users",
			body:    `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"u","urn:scim:schemas:extension:enterprise:2.0":{"employeeNumber":"2"},"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"1"}}`,
			wantErr: InvalidSyntax},
		{name: "legacy and RFC extension naming different attributes merge", method: "POST", path: "/Users",
			body:     `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"u","urn:scim:schemas:extension:enterprise:2.0":{"employeeNumber":"2"},"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"Department":"D"}}`,
			wantBody: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"userName":"u","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"2","department":"D"}}`},
		{name: "Entra top-level and extension department", dialect: "entra", method: "POST", path: "/Users",
			body:    `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"u","department":"A","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"B"}}`,
			wantErr: InvalidSyntax},
		{name: "Entra extension then top-level department", dialect: "entra", method: "POST", path: "/Users",
			body:    `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"u","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"Department":"B"},"department":"A"}`,
			wantErr: InvalidSyntax},
		{name: "userName in two cases", method: "PUT", path: "/Users/1",
			body:    `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"u","UserName":"v"}`,
			wantErr: InvalidSyntax},
		{name: "schemas in two cases", method: "POST", path: "/Groups",
			body:    `{"Schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"schemas":[],"displayName":"g"}`,
			wantErr: InvalidSyntax},
		{name: "sub-attribute in two cases", method: "POST", path: "/Users",
			body:    `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"u","name":{"GivenName":"a","givenName":"b"}}`,
			wantErr: InvalidSyntax},
		{name: "PATCH value sub-attribute in two cases", method: "PATCH", path: "/Users/1",
			body:    patchOp + `{"op":"replace","path":"emails","value":[{"Value":"a","value":"b"}]}]}`,
			wantErr: InvalidSyntax},
		{name: "PATCH op member in two cases", method: "PATCH", path: "/Users/1",
			body:    patchOp + `{"op":"add","Op":"remove","path":"title","value":"x"}]}`,
			wantErr: InvalidSyntax},
		{name: "PATCH Operations in two cases", method: "PATCH", path: "/Users/1",
			body:    `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"operations":[],"Operations":[{"op":"remove","path":"title"}]}`,
			wantErr: InvalidSyntax},
		{name: "group create drops ADSCIM URN", method: "POST", path: "/Groups",
			body:     `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],"displayName":"g"}`,
			wantBody: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"g"}`},
		{name: "missing schemas added", method: "POST", path: "/Groups", body: `{"displayName":"g"}`,
			wantBody: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"g"}`},
		{name: "custom extension untouched", method: "POST", path: "/Users",
			body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:acme:ext"],"userName":"u","urn:acme:ext":{"department":"x"}}`},
		{name: "query: other params byte for byte", method: "GET", path: "/Users",
			query: `count=5&filter=userName%20Eq%20%22a+b%40c%22&startIndex=1&`, wantQuery: `count=5&filter=userName%20eq%20%22a%20b%40c%22&startIndex=1&`},
		{name: "query: plus style kept", method: "GET", path: "/Users",
			query: `filter=UserName+EQ+"x y"&excludedAttributes=members`, wantQuery: `filter=userName+eq+%22x+y%22&excludedAttributes=members`},
		{name: "query: canonical filter untouched", method: "GET", path: "/Users",
			query: `filter=userName+eq+"dale.mohr%40romaguera.uk"`, wantQuery: `filter=userName+eq+"dale.mohr%40romaguera.uk"`},
		{name: "query: Entra flag dropped", method: "GET", path: "/Users",
			query: `aadOptscim062020&filter=userName+eq+%22g%22`, wantQuery: `filter=userName+eq+%22g%22`},
		{name: "query: unquoted value for Entra", dialect: "entra", method: "GET", path: "/Users",
			query: `filter=externalId+eq+jyoung`, wantQuery: `filter=externalId+eq+%22jyoung%22`},
		{name: "query: unquoted value for anyone else", method: "GET", path: "/Users",
			query: `filter=externalId+eq+jyoung`, wantErr: InvalidFilter},
		{name: "query: bare token", method: "GET", path: "/Users", query: `filter=TEST.USER@OKTA.LOCAL`, wantErr: InvalidFilter},
		{name: "query: bad escape", method: "GET", path: "/Users", query: `filter=userName%2`, wantErr: InvalidFilter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Auto
			if tc.dialect != "" {
				d = Dialect(tc.dialect)
			}
			h := http.Header{}
			if tc.body != "" {
				h.Set("Content-Type", "application/scim+json")
			}
			in := []byte(tc.body)
			got, err := NormalizeRequest(d, Request{Method: tc.method, Path: tc.path, RawQuery: tc.query, Header: h, Body: in})
			if tc.wantErr != "" {
				var se *Error
				if !errors.As(err, &se) || se.Status != 400 || se.ScimType != tc.wantErr {
					t.Fatalf("err = %v; want 400 %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.RawQuery != tc.wantQuery && !(tc.wantQuery == "" && got.RawQuery == tc.query) {
				t.Errorf("query = %q; want %q", got.RawQuery, tc.wantQuery)
			}
			want := tc.wantBody
			if want == "" && tc.wantQuery == "" {
				if len(in) > 0 && &got.Body[0] != &in[0] {
					t.Errorf("unchanged body was re-encoded")
				}
				if len(got.Rewrites) != 0 {
					t.Errorf("rewrites %v on an unchanged request", got.Rewrites)
				}
			}
			if want == "" {
				want = tc.body
			}
			if string(got.Body) != want {
				t.Errorf("body\n got %s\nwant %s", got.Body, want)
			}
		})
	}
}

// TestQuerySeparators holds the query rewrite to its rule around the first
// parameter that changes: everything else, empty parameters and stray "&"
// included, reaches the upstream as it came.
func TestQuerySeparators(t *testing.T) {
	for _, tc := range []struct{ query, want string }{
		{"aadOptscim062020", ""},
		{"count=1&aadOptscim062020", "count=1"},
		{"&&count=1&aadOptscim062020&startIndex=2", "&&count=1&startIndex=2"},
		{"aadOptscim062020&&x=1", "&x=1"},
		{"x=1&&filter=UserName+EQ+%22x%22&", "x=1&&filter=userName+eq+%22x%22&"},
		{"filter=userName+eq+%22x%22&aadOptscim062020", "filter=userName+eq+%22x%22"},
		{"FILTER=userName+eq+%22x%22&count=2", "filter=userName+eq+%22x%22&count=2"},
		{"count=2&filter=userName+eq+%22x%22&startIndex=1", "count=2&filter=userName+eq+%22x%22&startIndex=1"},
	} {
		got, err := NormalizeRequest(Auto, Request{Method: "GET", Path: "/Users", RawQuery: tc.query, Header: http.Header{}})
		if err != nil || got.RawQuery != tc.want {
			t.Errorf("query %q: got %q, %v; want %q", tc.query, got.RawQuery, err, tc.want)
		}
	}
}

func TestContentType(t *testing.T) {
	body := []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"g"}`)
	for _, ct := range []string{"", "application/json", "text/plain", "application/scim+json; charset=utf-8"} {
		h := http.Header{}
		if ct != "" {
			h.Set("Content-Type", ct)
		}
		got, err := NormalizeRequest(Okta, Request{Method: "POST", Path: "/Groups", Header: h, Body: body})
		if err != nil || got.ContentType != MediaTypeSCIM || !bytes.Equal(got.Body, body) || !reflect.DeepEqual(got.Rewrites, []Rewrite{RewriteContentType}) {
			t.Errorf("%q: %+v, %v", ct, got, err)
		}
	}
	// Two Content-Types (a custom header beside the client's own) are not
	// the canonical one, even when the first is.
	two := http.Header{"Content-Type": {MediaTypeSCIM, "application/json"}}
	if got, err := NormalizeRequest(OneLogin, Request{Method: "POST", Path: "/Groups", Header: two, Body: body}); err != nil ||
		got.ContentType != MediaTypeSCIM || !reflect.DeepEqual(got.Rewrites, []Rewrite{RewriteContentType}) {
		t.Errorf("two Content-Types: %+v, %v", got, err)
	}
	got, _ := NormalizeRequest(Okta, Request{Method: "GET", Path: "/Groups", Header: http.Header{}})
	if got.ContentType != "" {
		t.Errorf("GET got content type %q", got.ContentType)
	}
}

func TestOffForwardsEverything(t *testing.T) {
	req := Request{Method: "PATCH", Path: "/Users/1", RawQuery: "aadOptscim062020&filter=bad", Body: []byte(`{not json`)}
	got, err := NormalizeRequest(Off, req)
	if err != nil || got.RawQuery != req.RawQuery || string(got.Body) != string(req.Body) || got.Rewrites != nil {
		t.Fatalf("%+v, %v", got, err)
	}
}

func TestDetect(t *testing.T) {
	for _, tc := range []struct {
		ua, query, body string
		want            Dialect
	}{
		{ua: "Okta SCIM Client 1.0.0", want: Okta},
		{ua: "OKTA SCIM Integration", body: patchOp + `{"op":"Replace"}]}`, want: Okta},
		{ua: "OneLogin SCIM", want: OneLogin},
		{query: "aadOptscim062020", want: Entra},
		{body: patchOp + `{"op" : "Replace","path":"active","value":"False"}]}`, want: Entra},
		{body: `{"schemas":["http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"]}`, want: Entra},
		{body: `{"schemas":["urn:scim:schemas:core:2.0"]}`, want: OneLogin},
		{body: patchOp + `{"op":"replace","path":"active","value":false}]}`, want: Unknown},
		{query: "filter=userName+eq+%22x%22", want: Unknown},
	} {
		h := http.Header{}
		h.Set("User-Agent", tc.ua)
		if got := Detect(Request{RawQuery: tc.query, Header: h, Body: []byte(tc.body)}); got != tc.want {
			t.Errorf("Detect(%q, %q, %q) = %s; want %s", tc.ua, tc.query, tc.body, got, tc.want)
		}
	}
}

func TestParseDialect(t *testing.T) {
	for in, want := range map[string]Dialect{"": Auto, "auto": Auto, " Entra ": Entra, "OKTA": Okta, "onelogin": OneLogin, "off": Off} {
		if got, err := ParseDialect(in); err != nil || got != want {
			t.Errorf("ParseDialect(%q) = %s, %v", in, got, err)
		}
	}
	for _, in := range []string{"unknown", "azure"} {
		if _, err := ParseDialect(in); err == nil {
			t.Errorf("ParseDialect(%q) accepted", in)
		}
	}
}

func TestParseResourcePath(t *testing.T) {
	for path, want := range map[string][2]string{
		"/Users":                 {"Users", ""},
		"/acme/scim/v2/Users/":   {"Users", ""},
		"/scim/v2//Users/abc":    {"Users", "abc"},
		"/Groups/g1":             {"Groups", "g1"},
		"/Users/.search":         {"Users", ".search"},
		"/ServiceProviderConfig": {"ServiceProviderConfig", ""},
		"/Schemas/urn:x":         {"", ""},
		"/Bulk":                  {"", ""},
		"":                       {"", ""},
	} {
		res, id := ParseResourcePath(path)
		if string(res) != want[0] || id != want[1] {
			t.Errorf("ParseResourcePath(%q) = %q, %q; want %q", path, res, id, want)
		}
	}
}
