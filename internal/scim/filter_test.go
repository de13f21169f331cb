package scim

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// dumpExpr shows a parsed filter, literals and all, for test failures.
func dumpExpr(e Expr) string {
	b, _ := json.Marshal(e)
	return string(b)
}

func TestCanonicalFilter(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`userName eq "x"`, `userName eq "x"`},
		{`UserName EQ "x"`, `userName eq "x"`},
		{`userName Eq "Test_User"`, `userName eq "Test_User"`},
		{`userName eq "a" AND externalId eq "b"`, `userName eq "a" and externalId eq "b"`},
		{`DisplayName eq "BobIsAmazing"`, `displayName eq "BobIsAmazing"`},
		// A quoted boolean becomes a bare word, which needs spaces a quote did not (found by FuzzParseFilter).
		{`roles.primArY eq"True"`, `roles.primary eq true`},
		{`roles[primary eq"True"and value eq "x"]`, `roles[primary eq true and value eq "x"]`},
		{`ExternalId eq "X"`, `externalId eq "X"`},
		{`emails[Type eq "work"].Value eq "a@b"`, `emails[type eq "work"].value eq "a@b"`},
		{`emails[type eq "work"]`, `emails[type eq "work"]`},
		{`roles[primary eq "True"]`, `roles[primary eq true]`},
		{`active eq "False"`, `active eq false`},
		{`active EQ True`, `active eq true`},
		{`title eq "True"`, `title eq "True"`},
		{`NOT (userName pr) OR (title sw "A" and active eq true)`, `not (userName pr) or (title sw "A" and active eq true)`},
		{`urn:IETF:params:scim:schemas:extension:enterprise:2.0:User:EmployeeNumber eq "1"`, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "1"`},
		{`urn:scim:schemas:extension:enterprise:2.0:department eq "x"`, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "x"`},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User.employeeNumber eq "1"`, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "1"`},
		{`customAttr eq "x" and meta.LastModified gt "2011-05-13T04:42:34Z"`, `customAttr eq "x" and meta.lastModified gt "2011-05-13T04:42:34Z"`},
		{`userName  eq   "two  spaces"`, `userName  eq   "two  spaces"`},
		{`members[value eq "a\"b"]`, `members[value eq "a\"b"]`},
		{`x eq 12.5e3`, `x eq 12.5e3`},
		{`x eq NULL`, `x eq null`},
	} {
		got, err := CanonicalFilter(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("CanonicalFilter(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
		// the parsed tree agrees with the canonical text (a typed boolean
		// that needed spaces kept them in its literal, found by FuzzParsePath)
		got1, err1 := ParseFilter(tc.in)
		want1, err2 := ParseFilter(tc.want)
		if err1 != nil || err2 != nil || !reflect.DeepEqual(got1, want1) {
			t.Errorf("ParseFilter(%q) = %s, %v; ParseFilter(%q) = %s, %v", tc.in, dumpExpr(got1), err1, tc.want, dumpExpr(want1), err2)
		}
	}
}

func TestCanonicalFilterRejects(t *testing.T) {
	for _, in := range []string{
		``, `TEST.USER@OKTA.LOCAL`, `externalId eq jyoung`, `userName eq`, `userName xx "a"`,
		`userName eq "a" and`, `(userName eq "a"`, `emails[type eq "work"`, `emails[x[y eq 1]]`,
		`userName eq "unterminated`, `userName eq "a" "b"`, `1abc eq "x"`, `a.b.c eq "x"`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User eq "x"`, `userName eq {}`,
	} {
		_, err := CanonicalFilter(in)
		var se *Error
		if !errors.As(err, &se) || se.Status != 400 || se.ScimType != InvalidFilter {
			t.Errorf("CanonicalFilter(%q) error = %v; want 400 invalidFilter", in, err)
		}
	}
}

func TestQuoteBareValues(t *testing.T) {
	out, p, err := canonicalFilter([]byte(`externalId eq jyoung`), Users, true)
	if err != nil || string(out) != `externalId eq "jyoung"` || !p.quoted {
		t.Fatalf("got %q, %v", out, err)
	}
}

func TestParseFilterTree(t *testing.T) {
	e, err := ParseFilter(`emails[Type eq "work"].value eq "a@b" AND NOT (active eq "false")`)
	if err != nil {
		t.Fatal(err)
	}
	l, ok := e.(*Logical)
	if !ok || l.Op != "and" {
		t.Fatalf("root = %#v", e)
	}
	c := l.Left.(*Compare)
	if c.Path.Name != "emails" || c.Path.Sub != "value" || c.Op != "eq" || c.Value.Value() != "a@b" {
		t.Fatalf("left = %#v", c)
	}
	inner := c.Path.Filter.(*Compare)
	if inner.Path.Name != "type" || inner.Value.Value() != "work" {
		t.Fatalf("value filter = %#v", inner)
	}
	n := l.Right.(*Not).X.(*Compare)
	if n.Path.Name != "active" || n.Value.Value() != false {
		t.Fatalf("not = %#v", n)
	}
}

func TestParsePath(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want AttrPath
	}{
		{`Name.GivenName`, AttrPath{Name: "name", Sub: "givenName"}},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager`, AttrPath{URN: URNEnterpriseUser, Name: "manager"}},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0User:department`, AttrPath{URN: URNEnterpriseUser, Name: "department"}},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`, AttrPath{URN: URNEnterpriseUser}},
		// Entra's customappsso job before 2018 (and after a downgrade) wrote "." for ":" after the URN (entra.md §5).
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User.department`, AttrPath{URN: URNEnterpriseUser, Name: "department"}},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User.manager.value`, AttrPath{URN: URNEnterpriseUser, Name: "manager", Sub: "value"}},
		{`urn:ietf:params:scim:schemas:core:2.0:User.name.givenName`, AttrPath{URN: URNUser, Name: "name", Sub: "givenName"}},
		{`emails[type eq "work"].Value`, AttrPath{Name: "emails", Sub: "value"}},
	} {
		got, err := ParsePath(tc.in)
		if err != nil {
			t.Fatalf("ParsePath(%q): %v", tc.in, err)
		}
		got.Filter = nil
		if got != tc.want {
			t.Errorf("ParsePath(%q) = %+v; want %+v", tc.in, got, tc.want)
		}
	}
	for _, in := range []string{``, `emails[type eq "work"] x`, `a b`, `emails[type eq work]`} {
		_, err := ParsePath(in)
		var se *Error
		if !errors.As(err, &se) || se.ScimType != InvalidPath {
			t.Errorf("ParsePath(%q) error = %v; want invalidPath", in, err)
		}
	}
}
