package gateway_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/scimgate/scimgate/internal/testkit"
)

// TestEntraRequestRate plays S-04 and S-05 of entra.md on the default
// limits: Entra's 25 requests per second per tenant (a mix of Test
// Connection probes, queries and updates) for a minute are never refused,
// and a tenant beyond its limit gets a SCIM 429 with an integer
// Retry-After. The stack's clock moves 40 ms per request, so the minute
// takes no minute.
func TestEntraRequestRate(t *testing.T) {
	clock := &testkit.Clock{}
	s := newStack(t, stackOptions{now: clock.Now})
	tok := bearer(s.token(s.acme))
	r := s.do(http.MethodPost, shared+"/Users", tok, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"Test_User_1","emails":[{"type":"work","value":"a@example.com"}],"name":{"familyName":"F"}}`,
		"Content-Type", "application/scim+json; charset=utf-8")
	var user struct{ ID string }
	if r.status != 201 || json.Unmarshal([]byte(r.body), &user) != nil || user.ID == "" {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	mix := []struct{ method, path, body string }{
		{http.MethodGet, shared + entraProbe, ""},                                    // C-01
		{http.MethodGet, shared + "/Users?filter=userName+eq+%22Test_User_1%22", ""}, // U-02
		{http.MethodPatch, shared + "/Users/" + user.ID, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` + // U-09
			`{"op":"Replace","path":"emails[type eq \"work\"].value","value":"updatedEmail@microsoft.com"},{"op":"Replace","path":"name.familyName","value":"updatedFamilyName"}]}`},
	}
	for i := range 25 * 60 {
		m := mix[i%len(mix)]
		var header []string // Entra's GETs carry no Content-Type
		if m.body != "" {
			header = []string{"Content-Type", "application/scim+json; charset=utf-8"}
		}
		if r := s.do(m.method, m.path, tok, m.body, header...); r.status != 200 && r.status != 204 {
			t.Fatalf("request %d (%s %s) at 25/s: %d %s", i, m.method, m.path, r.status, r.body)
		}
		clock.Advance(40 * time.Millisecond)
	}
	for i := 0; ; i++ {
		r := s.do(http.MethodGet, shared+entraProbe, tok, "")
		if r.status == 200 && i < 1000 {
			continue
		}
		wantError(t, r, 429)
		if n, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || n < 1 {
			t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
		}
		break
	}
}
