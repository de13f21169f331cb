package scim

import (
	"net/http"
	"testing"
)

func benchmarkRequest(b *testing.B, d Dialect, req Request) {
	b.Helper()
	b.ReportAllocs()
	b.SetBytes(int64(len(req.Body) + len(req.RawQuery)))
	for b.Loop() {
		if _, err := NormalizeRequest(d, req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGETNoFilter(b *testing.B) {
	benchmarkRequest(b, Auto, Request{Method: "GET", Path: "/scim/v2/Users", RawQuery: "startIndex=1&count=100", Header: http.Header{}})
}

func BenchmarkGETCanonicalFilter(b *testing.B) {
	benchmarkRequest(b, Auto, Request{Method: "GET", Path: "/scim/v2/Users", RawQuery: "filter=userName+eq+%227d420df3-9995-4831-a406-ecf8166f5f6a%22", Header: http.Header{}})
}

func BenchmarkGETFilterRewrite(b *testing.B) {
	benchmarkRequest(b, Auto, Request{Method: "GET", Path: "/scim/v2/Users", RawQuery: `aadOptscim062020&filter=UserName+EQ+%22x%22+AND+emails%5BType+eq+%22work%22%5D.Value+eq+%22a%40b%22`, Header: http.Header{}})
}

const entraPatch = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` +
	`{"op":"Replace","path":"displayName","value":"Pvlo"},{"op":"Replace","path":"emails[type eq \"work\"].value","value":"TestBcwqnm@test.microsoft.com"},` +
	`{"op":"Replace","path":"name.givenName","value":"Gtfd"},{"op":"Replace","path":"name.familyName","value":"Pkqf"},` +
	`{"op":"Replace","path":"active","value":"False"},{"op":"Replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber","value":"Eqpj"}]}`

const canonicalPatch = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` +
	`{"op":"replace","path":"displayName","value":"Pvlo"},{"op":"replace","path":"emails[type eq \"work\"].value","value":"TestBcwqnm@test.microsoft.com"},` +
	`{"op":"replace","path":"name.givenName","value":"Gtfd"},{"op":"replace","path":"name.familyName","value":"Pkqf"},` +
	`{"op":"replace","path":"active","value":false},{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber","value":"Eqpj"}]}`

func BenchmarkEntraPATCH(b *testing.B) {
	h := http.Header{"Content-Type": {"application/scim+json; charset=utf-8"}}
	benchmarkRequest(b, Auto, Request{Method: "PATCH", Path: "/scim/v2/Users/1", Header: h, Body: []byte(entraPatch)})
}

func BenchmarkCanonicalPATCH(b *testing.B) {
	h := http.Header{"Content-Type": {MediaTypeSCIM}}
	benchmarkRequest(b, Auto, Request{Method: "PATCH", Path: "/scim/v2/Users/1", Header: h, Body: []byte(canonicalPatch)})
}

func BenchmarkResponseList(b *testing.B) {
	body := []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":1,"startIndex":1,"itemsPerPage":1,"Resources":[{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"1","userName":"u","active":true,"emails":[{"value":"a@b","primary":true}]}]}`)
	req := Request{Method: "GET", Path: "/Users", RawQuery: "filter=userName+eq+%22u%22", Header: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		NormalizeResponse(Entra, req, Response{Status: 200, ContentType: MediaTypeSCIM, Body: body})
	}
}

// responseUser is what a typical upstream answers for one user: meta with
// its own public location, a name and a work email.
const responseUser = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"2819c223-7f76-453a-919d-413861904646",` +
	`"externalId":"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef","userName":"ann@example.com","active":true,` +
	`"name":{"givenName":"Ann","familyName":"Example"},"emails":[{"value":"ann@example.com","type":"work","primary":true}],` +
	`"meta":{"resourceType":"User","created":"2026-01-02T03:04:05Z","lastModified":"2026-01-02T03:04:05Z",` +
	`"location":"https://users.example.com/scim/v2/Users/2819c223-7f76-453a-919d-413861904646"}}`

// BenchmarkResponseUserList is the answer to Entra's lookup of one user by
// userName, already canonical: the normalizer's common case, nothing to
// rewrite.
func BenchmarkResponseUserList(b *testing.B) {
	body := []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":1,"itemsPerPage":1,"startIndex":1,"Resources":[` + responseUser + `]}`)
	req := Request{Method: "GET", Path: "/Users", RawQuery: "filter=userName+eq+%22ann%40example.com%22", Header: http.Header{"Accept": {MediaTypeSCIM}}}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		NormalizeResponse(Auto, req, Response{Status: 200, ContentType: MediaTypeSCIM, Body: body})
	}
}
