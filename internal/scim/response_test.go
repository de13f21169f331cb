package scim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
)

func TestNormalizeResponse(t *testing.T) {
	for _, tc := range []struct {
		name, dialect, method, path, query, accept string
		in                                         Response
		want                                       Response
	}{
		{name: "404 on a filter query becomes an empty list", method: "GET", path: "/Groups", query: "excludedAttributes=members&filter=displayName+eq+%22x%22",
			in:   Response{404, "application/json", []byte(`{"detail":"no"}`)},
			want: Response{200, MediaTypeSCIM, []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"startIndex":1,"itemsPerPage":0,"Resources":[]}`)}},
		{name: "404 on a resource stays, gains SCIM shape", method: "GET", path: "/Users/x",
			in:   Response{404, "application/json", []byte(`{"status":404,"detail":"User not found"}`)},
			want: Response{404, MediaTypeSCIM, []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"404","detail":"User not found"}`)}},
		{name: "HTML error wrapped", method: "PATCH", path: "/Groups/g",
			in:   Response{502, "text/html", []byte(`<html>Bad Gateway</html>`)},
			want: Response{502, MediaTypeSCIM, []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"502","detail":"Bad Gateway"}`)}},
		{name: "text error keeps its line; a create's 409 is uniqueness (U-26)", method: "POST", path: "/Users",
			in:   Response{409, "text/plain; charset=utf-8", []byte("User already exists\n")},
			want: Response{409, MediaTypeSCIM, []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"409","scimType":"uniqueness","detail":"User already exists"}`)}},
		{name: "a create's JSON 409 without scimType gains uniqueness (G-11)", method: "POST", path: "/Groups",
			in:   Response{409, MediaTypeSCIM, []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"409","detail":"displayName taken"}`)},
			want: Response{409, MediaTypeSCIM, []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"409","detail":"displayName taken","scimType":"uniqueness"}`)}},
		{name: "a create's 409 with an empty scimType gains uniqueness", method: "POST", path: "/Users",
			in:   Response{409, MediaTypeSCIM, []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"409","scimType":"","detail":"dup"}`)},
			want: Response{409, MediaTypeSCIM, []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"409","detail":"dup","scimType":"uniqueness"}`)}},
		{name: "a create's 409 keeps the upstream's own scimType", method: "POST", path: "/Users",
			in:   Response{409, MediaTypeSCIM, []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"409","scimType":"invalidValue","detail":"x"}`)},
			want: Response{409, MediaTypeSCIM, []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"409","scimType":"invalidValue","detail":"x"}`)}},
		// RFC 7644 §3.3: a create that conflicts MUST say uniqueness (U3);
		// §3.12 gives 409 no other scimType, for PUT and PATCH too.
		{name: "409 to a create gains scimType uniqueness (Okta's own example body)", method: "POST", path: "/Users",
			in:   Response{409, MediaTypeSCIM, []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":409,"detail":"User already exists in the database."}`)},
			want: Response{409, MediaTypeSCIM, []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"409","detail":"User already exists in the database.","scimType":"uniqueness"}`)}},
		{name: "409 to a PATCH gains scimType uniqueness", method: "PATCH", path: "/Groups/g",
			in:   Response{409, MediaTypeSCIM, []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"409","detail":"taken"}`)},
			want: Response{409, MediaTypeSCIM, []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"409","detail":"taken","scimType":"uniqueness"}`)}},
		{name: "409 with a scimType keeps it", method: "PUT", path: "/Users/1",
			in:   Response{409, MediaTypeSCIM, []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"409","scimType":"mutability","detail":"x"}`)},
			want: Response{409, MediaTypeSCIM, []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"409","scimType":"mutability","detail":"x"}`)}},
		{name: "409 to a DELETE gains no scimType", method: "DELETE", path: "/Users/1",
			in:   Response{409, MediaTypeSCIM, []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"409","detail":"x"}`)},
			want: Response{409, MediaTypeSCIM, []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"409","detail":"x"}`)}},
		{name: "OneLogin gets application/json", dialect: "onelogin", method: "GET", path: "/Users/x",
			in:   Response{404, MediaTypeSCIM, []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"404","detail":"x"}`)},
			want: Response{404, MediaTypeJSON, []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"404","detail":"x"}`)}},
		{name: "create 200 becomes 201, password and legacy URN go", method: "POST", path: "/Users",
			in:   Response{200, "application/json", []byte(`{"schemas":["urn:scim:schemas:core:2.0"],"id":"1","userName":"u","password":"p","active":"true"}`)},
			want: Response{201, MediaTypeSCIM, []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"1","userName":"u","active":true}`)}},
		{name: "delete 200 becomes 204", method: "DELETE", path: "/Users/1",
			in: Response{200, "application/json", []byte(`{}`)}, want: Response{Status: 204}},
		{name: "paging integers and members excluded", method: "GET", path: "/Groups", query: "excludedAttributes=members",
			in:   Response{200, MediaTypeSCIM, []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":"1","startIndex":1.0,"itemsPerPage":1,"Resources":[{"id":"g","displayName":"G","members":[{"value":"u"}]}]}`)},
			want: Response{200, MediaTypeSCIM, []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":1,"startIndex":1,"itemsPerPage":1,"Resources":[{"id":"g","displayName":"G"}]}`)}},
		{name: "null Resources of an empty list becomes [] (C-01 answered by a serializer that writes null lists)", method: "GET", path: "/Users", query: "filter=userName+eq+%22x%22",
			in:   Response{200, MediaTypeSCIM, []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"startIndex":1,"itemsPerPage":0,"Resources":null}`)},
			want: Response{200, MediaTypeSCIM, []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"startIndex":1,"itemsPerPage":0,"Resources":[]}`)}},
		{name: "discovery answers lose null members (S-01)", method: "GET", path: "/Schemas",
			in:   Response{200, "application/json", []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":1,"Resources":[{"id":"urn:ietf:params:scim:schemas:core:2.0:Group","name":"Group","description":null,"attributes":[{"name":"displayName","type":"string","subAttributes":null,"canonicalValues":[],"referenceTypes":[null]}]}]}`)},
			want: Response{200, MediaTypeSCIM, []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":1,"Resources":[{"id":"urn:ietf:params:scim:schemas:core:2.0:Group","name":"Group","attributes":[{"name":"displayName","type":"string","canonicalValues":[],"referenceTypes":[]}]}]}`)}},
		{name: "ServiceProviderConfig loses null members", method: "GET", path: "/ServiceProviderConfig",
			in:   Response{200, MediaTypeSCIM, []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],"documentationUri":null,"patch":{"supported":true},"etag":null}`)},
			want: Response{200, MediaTypeSCIM, []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],"patch":{"supported":true}}`)}},
		{name: "discovery answer without null untouched", method: "GET", path: "/ResourceTypes",
			in:   Response{200, MediaTypeSCIM, []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"Resources":[],"x":"nullable"}`)},
			want: Response{200, MediaTypeSCIM, []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"Resources":[],"x":"nullable"}`)}},
		{name: "paging integers above 2^53 kept exactly", method: "GET", path: "/Users",
			in:   Response{200, MediaTypeSCIM, []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":9007199254740993,"startIndex":"9007199254740995","itemsPerPage":9007199254740993.0,"Resources":[]}`)},
			want: Response{200, MediaTypeSCIM, []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":9007199254740993,"startIndex":9007199254740995,"itemsPerPage":9007199254740993.0,"Resources":[]}`)}},
		{name: "paging integer beyond int64 kept as it came", method: "GET", path: "/Users",
			in:   Response{200, MediaTypeSCIM, []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":99999999999999999999,"startIndex":1e2,"itemsPerPage":-0,"Resources":[]}`)},
			want: Response{200, MediaTypeSCIM, []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":99999999999999999999,"startIndex":100,"itemsPerPage":0,"Resources":[]}`)}},
		{name: "manager string under the extension", method: "GET", path: "/Users/1",
			in:   Response{200, MediaTypeSCIM, []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"1","urn:scim:schemas:extension:enterprise:2.0":{"manager":"m"}}`)},
			want: Response{200, MediaTypeSCIM, []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"1","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"m"}}}`)}},
		{name: "manager named by its $ref alone is returned", method: "GET", path: "/Users/1",
			in:   Response{200, MediaTypeSCIM, []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"id":"1","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"$ref":"https://h/scim/v2/Users/m2"}}}`)},
			want: Response{200, MediaTypeSCIM, []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"id":"1","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"$ref":"https://h/scim/v2/Users/m2"}}}`)}},
		{name: "attribute in two cases keeps both names", method: "GET", path: "/Users/1",
			in:   Response{200, MediaTypeSCIM, []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"1","UserName":"v","userName":"u","Active":"true"}`)},
			want: Response{200, MediaTypeSCIM, []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"1","UserName":"v","userName":"u","active":true}`)}},
		{name: "legacy and RFC extension keep their names", method: "GET", path: "/Users/1",
			in:   Response{200, MediaTypeSCIM, []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"1","urn:scim:schemas:extension:enterprise:2.0":{"employeeNumber":"2"},"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"1"}}`)},
			want: Response{200, MediaTypeSCIM, []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"1","urn:scim:schemas:extension:enterprise:2.0":{"employeeNumber":"2"},"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"1"}}`)}},
		{name: "already canonical untouched", method: "GET", path: "/Users/1",
			in:   Response{200, MediaTypeSCIM, []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"1","active":false}`)},
			want: Response{200, MediaTypeSCIM, []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"1","active":false}`)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Auto
			if tc.dialect != "" {
				d = Dialect(tc.dialect)
			}
			h := http.Header{}
			if tc.accept != "" {
				h.Set("Accept", tc.accept)
			}
			got, rw := NormalizeResponse(d, Request{Method: tc.method, Path: tc.path, RawQuery: tc.query, Header: h}, tc.in)
			if got.Status != tc.want.Status || got.ContentType != tc.want.ContentType || string(got.Body) != string(tc.want.Body) {
				t.Errorf("got %d %q %s\nwant %d %q %s (%v)", got.Status, got.ContentType, got.Body, tc.want.Status, tc.want.ContentType, tc.want.Body, rw)
			}
			if len(got.Body) > 0 && !json.Valid(got.Body) {
				t.Errorf("invalid JSON %s", got.Body)
			}
		})
	}
}

func TestResponseContentType(t *testing.T) {
	for _, tc := range []struct {
		d      Dialect
		accept string
		want   string
	}{
		{Entra, "", MediaTypeSCIM},
		{Okta, "application/scim+json; charset=utf-8", MediaTypeSCIM},
		{Unknown, "application/json", MediaTypeJSON},
		{Unknown, "application/json, application/scim+json", MediaTypeSCIM},
		{OneLogin, "", MediaTypeJSON},
		{OneLogin, "*/*", MediaTypeSCIM},
	} {
		if got := ResponseContentType(tc.d, tc.accept); got != tc.want {
			t.Errorf("ResponseContentType(%s, %q) = %s; want %s", tc.d, tc.accept, got, tc.want)
		}
	}
}

func TestWriteError(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code int
		body string
	}{
		{&Error{Status: 400, ScimType: InvalidFilter, Detail: `bad "x"`}, 400, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"400","scimType":"invalidFilter","detail":"bad \"x\""}`},
		{&Error{Status: 429}, 429, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"429","detail":"Too Many Requests"}`},
		{http.ErrAbortHandler, 500, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"500","detail":"internal error"}`},
	} {
		w := httptest.NewRecorder()
		WriteError(w, tc.err)
		if w.Code != tc.code || w.Body.String() != tc.body || w.Header().Get("Content-Type") != MediaTypeSCIM {
			t.Errorf("WriteError(%v) = %d %s %v", tc.err, w.Code, w.Body.String(), w.Header())
		}
		if se, ok := tc.err.(*Error); ok {
			b, _ := json.Marshal(se)
			if string(b) != tc.body {
				t.Errorf("MarshalJSON = %s", b)
			}
		}
	}
	if !reflect.DeepEqual((&Error{Status: 400, ScimType: "x", Detail: "d"}).Error(), "scim 400 x: d") {
		t.Error("Error() text")
	}
}
