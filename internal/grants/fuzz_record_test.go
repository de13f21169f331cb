package grants

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/scimgate/scimgate/internal/store/storetest"
)

// FuzzFamilyRecord reads any bytes stored as a family record through
// Inspect, Rotate and RevokeFamily (sel picks which). "HEAD" and "PREV" in
// the record stand for the hash of the presented token, so that records
// the fuzzer writes can name it. Whatever the record holds, nothing
// panics, what Inspect and Rotate return is the token's own family, and a
// rotated token belongs to that family and is its head.
func FuzzFamilyRecord(f *testing.F) {
	kv := storetest.OpenBolt(f)
	now := time.Date(2099, 12, 31, 23, 59, 50, 0, time.UTC)
	s, err := New(kv, Options{RefreshGrace: 30 * time.Second, Now: func() time.Time { return now }})
	if err != nil {
		f.Fatal(err)
	}
	id := strings.Repeat("A", familyIDLen)
	token := RefreshPrefix + id + strings.Repeat("b", tokenSecretLen)
	good := `{"id":"` + id + `","client_id":"c1","tenant_id":"acme","sub":"admin:acme/ada","scope":"scim.full","current":"HEAD",` +
		`"expires":"2100-01-01T00:00:00Z","access":[{"jti":"a0","exp":"2100-01-01T00:00:00Z"}]}`
	for _, seed := range []string{
		good,
		strings.Replace(good, `"current":"HEAD"`, `"current":"x","previous":"PREV","rotated_at":"2099-12-31T23:59:50Z","nonce":"AAAA"`, 1),
		strings.Replace(good, `"current":"HEAD"`, `"previous":"PREV"`, 1),
		strings.Replace(good, `"id":"`+id+`"`, `"id":"other"`, 1),
		strings.Replace(good, `"expires":"2100-01-01T00:00:00Z"`, `"revoked":true`, 1),
		`{}`, `null`, `[]`, `{"id":1}`, ``, `{"current":"HEAD","expires":"2100-01-01T00:00:00Z"}`,
	} {
		for sel := range uint8(3) {
			f.Add([]byte(seed), sel)
		}
	}
	hash := hashOf(token)
	f.Fuzz(func(t *testing.T, raw []byte, sel uint8) {
		rec := strings.NewReplacer("HEAD", hash, "PREV", hash).Replace(string(raw))
		if err := kv.Set(t.Context(), familyPrefix+id, []byte(rec), 0); err != nil {
			t.Fatal(err)
		}
		switch sel % 3 {
		case 0:
			fam, status, err := s.Inspect(t.Context(), token)
			if err == nil && (fam.ID != id || status < StatusHead || status > StatusRotated) {
				t.Fatalf("record %q: Inspect = family %q, status %d", rec, fam.ID, status)
			}
		case 1:
			out, err := s.Rotate(t.Context(), token, rotation("a1"))
			var reuse *ReuseError
			switch {
			case errors.As(err, &reuse):
				if reuse.Family.ID != id || !reuse.Family.Revoked {
					t.Fatalf("record %q: reuse of family %q (revoked %v)", rec, reuse.Family.ID, reuse.Family.Revoked)
				}
			case err != nil:
			default:
				if got, ok := ParseRefreshToken(out.Token); !ok || got != id || out.Family.ID != id {
					t.Fatalf("record %q: rotated to %q of family %q", rec, out.Token, out.Family.ID)
				}
				// Inside the grace window the successor is derived from
				// the record's nonce, which only a consistent record
				// makes the head.
				if fam, status, err := s.Inspect(t.Context(), out.Token); !out.InGrace && (err != nil || status != StatusHead || fam.ID != id) {
					t.Fatalf("record %q: the new token is %v, %v", rec, status, err)
				}
			}
		case 2:
			if fam, err := s.RevokeFamily(t.Context(), id, "test"); err == nil && (fam.ID != id || !fam.Revoked) {
				t.Fatalf("record %q: revoked family %q (revoked %v)", rec, fam.ID, fam.Revoked)
			}
		}
	})
}
