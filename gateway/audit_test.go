package gateway

import (
	"net/http"
	"testing"

	"github.com/scimgate/scimgate/internal/audit"
	"github.com/scimgate/scimgate/internal/scim"
)

func TestWriteEvent(t *testing.T) {
	user := target{resource: scim.Users, id: "u1"}
	group := target{resource: scim.Groups, id: "g1"}
	for _, tc := range []struct {
		name, method string
		t            target
		body         string
		want         string
	}{
		{"create", http.MethodPost, target{resource: scim.Users}, `{"userName":"x","active":false}`, audit.SCIMCreate},
		{"delete", http.MethodDelete, user, "", audit.SCIMDelete},
		{"normalized deactivate", http.MethodPatch, user, `{"Operations":[{"op":"replace","path":"active","value":false}]}`, audit.SCIMDeactivate},
		{"Entra default job", http.MethodPatch, user, `{"Operations":[{"op":"Replace","path":"active","value":"False"}]}`, audit.SCIMDeactivate},
		{"path-less", http.MethodPatch, user, `{"Operations":[{"op":"replace","value":{"Active":false,"displayName":"x"}}]}`, audit.SCIMDeactivate},
		{"add active false", http.MethodPatch, user, `{"Operations":[{"op":"add","path":"active","value":false}]}`, audit.SCIMDeactivate},
		{"reactivate", http.MethodPatch, user, `{"Operations":[{"op":"replace","path":"active","value":true}]}`, audit.SCIMUpdate},
		{"remove active", http.MethodPatch, user, `{"Operations":[{"op":"remove","path":"active"}]}`, audit.SCIMUpdate},
		{"other attribute", http.MethodPatch, user, `{"Operations":[{"op":"replace","path":"displayName","value":"active"}]}`, audit.SCIMUpdate},
		{"PUT inactive", http.MethodPut, user, `{"userName":"x","active":false}`, audit.SCIMDeactivate},
		{"PUT active", http.MethodPut, user, `{"userName":"x","active":true}`, audit.SCIMUpdate},
		{"group PATCH", http.MethodPatch, group, `{"Operations":[{"op":"replace","path":"active","value":false}]}`, audit.SCIMUpdate},
		{"garbage", http.MethodPatch, user, `{"active"`, audit.SCIMUpdate},
	} {
		if got := writeEvent(tc.method, tc.t, []byte(tc.body)); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestCreatedID(t *testing.T) {
	if id := createdID(http.Header{"Location": {"https://x/scim/v2/Users/abc/"}}, nil); id != "abc" {
		t.Errorf("from Location: %q", id)
	}
	if id := createdID(nil, []byte(`{"id":"xyz","userName":"a"}`)); id != "xyz" {
		t.Errorf("from body: %q", id)
	}
}

func TestRemoteAddress(t *testing.T) {
	for _, tc := range []struct{ remote, want string }{
		{"127.0.0.1:50636", "127.0.0.1"},     // the connection's peer
		{"[2001:db8::1]:443", "2001:db8::1"}, // IPv6 peer
		{"203.0.113.7", "203.0.113.7"},       // resolved from a trusted proxy
		{"2001:db8::7", "2001:db8::7"},
	} {
		if got := remoteAddress(tc.remote); got != tc.want {
			t.Errorf("remoteAddress(%q) = %q, want %q", tc.remote, got, tc.want)
		}
	}
}
