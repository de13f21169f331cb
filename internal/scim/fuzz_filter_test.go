package scim

import (
	"reflect"
	"testing"
)

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		`userName eq "x"`, `UserName EQ "x" AND externalId Eq "y"`, `emails[type eq "work"].value eq "a@b"`,
		`not (a pr) or (b gt 1)`, `roles[primary eq "True"]`, `externalId eq jyoung`, `x eq "\u00e9"`,
		`urn:scim:schemas:extension:enterprise:2.0:department eq "x"`, `((((a pr))))`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, parseErr := ParseFilter(s)
		canon, err := CanonicalFilter(s)
		if (parseErr == nil) != (err == nil) {
			t.Fatalf("ParseFilter and CanonicalFilter disagree on %q: %v / %v", s, parseErr, err)
		}
		if err != nil {
			return
		}
		again, err := CanonicalFilter(canon)
		if err != nil || again != canon {
			t.Fatalf("not idempotent: %q → %q → %q, %v", s, canon, again, err)
		}
		tree, _ := ParseFilter(s)
		canonTree, err := ParseFilter(canon)
		if err != nil {
			t.Fatalf("canonical %q does not parse: %v", canon, err)
		}
		if !reflect.DeepEqual(tree, canonTree) {
			t.Fatalf("%q parses as %s, its canonical %q as %s", s, dumpExpr(tree), canon, dumpExpr(canonTree))
		}
	})
}
