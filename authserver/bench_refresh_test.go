package authserver

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkRefreshGrant measures one refresh through the whole handler:
// parsing, client authentication, family lookup and rotation on the
// embedded store, ES256 signing and JSON.
func BenchmarkRefreshGrant(b *testing.B) {
	ce := newCodeEnv(b)
	rt := ce.tokens(b)["refresh_token"].(string)
	auth := basic(ce.okta, ce.oktaSecret)
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, TokenPath, strings.NewReader(refreshForm(rt).Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", auth)
		rec := httptest.NewRecorder()
		ce.handler.ServeHTTP(rec, req)
		var body map[string]any
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &body) != nil {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		rt = body["refresh_token"].(string)
	}
}
