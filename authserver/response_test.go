package authserver

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestAppendTokenResponse holds the hand-written token response to what
// json.Marshal makes of go-oauth2's map, escapes included, and to refusing
// the maps it does not know.
func TestAppendTokenResponse(t *testing.T) {
	const jwt = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJjMSJ9.sig-_x"
	for _, tc := range []struct {
		name string
		data map[string]any
		ok   bool
	}{
		{"client credentials", map[string]any{"access_token": jwt, "token_type": "Bearer", "expires_in": int64(3600), "scope": "scim.read scim.write"}, true},
		{"with a refresh token", map[string]any{"access_token": jwt, "token_type": "Bearer", "expires_in": int64(0), "scope": "offline_access", "refresh_token": "rt_abc"}, true},
		{"without scope", map[string]any{"access_token": jwt, "token_type": "Bearer", "expires_in": int64(-1)}, true},
		{"another member", map[string]any{"access_token": jwt, "token_type": "Bearer", "expires_in": int64(1), "id_token": "x"}, false},
		{"HTML-escaped scope", map[string]any{"access_token": jwt, "token_type": "Bearer", "expires_in": int64(1), "scope": "a<b"}, true},
		{"quote", map[string]any{"access_token": `a"b`, "token_type": "Bearer", "expires_in": int64(1)}, true},
		{"non-ASCII", map[string]any{"access_token": jwt, "token_type": "Bearer", "expires_in": int64(1), "scope": "é"}, true},
		{"other number type", map[string]any{"access_token": jwt, "token_type": "Bearer", "expires_in": 3600}, false},
		{"error", map[string]any{"error": "invalid_grant", "error_description": "x"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := appendTokenResponse(nil, tc.data)
			if ok != tc.ok {
				t.Fatalf("ok %v, want %v (%s)", ok, tc.ok, got)
			}
			want, err := json.Marshal(tc.data)
			if err != nil {
				t.Fatal(err)
			}
			if ok && !bytes.Equal(got, want) {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}
