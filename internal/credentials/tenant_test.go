package credentials

import (
	"regexp"
	"strings"
	"testing"
)

// tenantIDPattern is ValidTenantID's definition.
var tenantIDPattern = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`)

func TestValidTenantID(t *testing.T) {
	for _, id := range []string{"", "a", "acme", "a-b", "-a", "a-", "A", "a_b", "a.b", "é", "a b", "0", "a--b",
		strings.Repeat("a", 63), strings.Repeat("a", 64), "a" + strings.Repeat("-", 61) + "a", "acme\n"} {
		if got, want := ValidTenantID(id), tenantIDPattern.MatchString(id); got != want {
			t.Errorf("ValidTenantID(%q) = %v, want %v", id, got, want)
		}
	}
}

func FuzzValidTenantID(f *testing.F) {
	f.Add("acme")
	f.Add("a-")
	f.Fuzz(func(t *testing.T, id string) {
		if got, want := ValidTenantID(id), tenantIDPattern.MatchString(id); got != want {
			t.Fatalf("ValidTenantID(%q) = %v, want %v", id, got, want)
		}
	})
}
