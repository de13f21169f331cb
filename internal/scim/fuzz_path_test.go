package scim

import (
	"encoding/json"
	"errors"
	"mime"
	"reflect"
	"strings"
	"testing"
)

// FuzzParsePath holds PATCH path parsing, with each resource and with
// Entra's bare values, to the properties the filter has: an error is a 400
// invalidPath, the canonical text parses to the same path, and
// canonicalising it again changes nothing.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{
		`Name.GivenName`, `name.givenName`, `emails[type eq "work"].value`, `Emails[Type EQ "Work"].Value`,
		`members[value eq "2819c223-7f76-453a-919d-413861904646"]`, `roles[primary eq "True"].value`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0User:department`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User.department`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User.manager.value`,
		`urn:ietf:params:scim:schemas:core:2.0:User.name.givenName`, `urn:ietf:params:scim:schemas:core:2.0:Group.displayName`,
		`urn:scim:schemas:extension:enterprise:1.0:department`, `addresses[type eq work].formatted`,
		`emails[type eq "work" and primary eq true]`, `externalId`, `active`, ``, `a b`, `x[`, `.`,
	} {
		f.Add(s, uint8(0))
		f.Add(s, uint8(5))
	}
	f.Fuzz(func(t *testing.T, s string, sel uint8) {
		res := [...]Resource{"", Users, Groups}[int(sel)%3]
		quoteBare := sel&4 != 0
		pp, err := parsePath(s, res, quoteBare)
		if err != nil {
			var se *Error
			if !errors.As(err, &se) || se.Status != 400 || se.ScimType != InvalidPath || se.Detail == "" {
				t.Fatalf("parsePath(%q) error %#v is not a 400 invalidPath", s, err)
			}
			return
		}
		if !pp.changed && pp.text != s {
			t.Fatalf("parsePath(%q) says unchanged but gives %q", s, pp.text)
		}
		again, err := parsePath(pp.text, res, quoteBare)
		if err != nil {
			t.Fatalf("canonical %q of %q does not parse: %v", pp.text, s, err)
		}
		if again.text != pp.text {
			t.Fatalf("not idempotent: %q → %q → %q", s, pp.text, again.text)
		}
		if !reflect.DeepEqual(again.AttrPath, pp.AttrPath) {
			t.Fatalf("%q parses as %s, its canonical %q as %s", s, dumpPath(pp.AttrPath), pp.text, dumpPath(again.AttrPath))
		}
		if res == "" && !quoteBare {
			if canon, err := CanonicalPath(s); err != nil || canon != pp.text {
				t.Fatalf("CanonicalPath(%q) = %q, %v; want %q", s, canon, err, pp.text)
			}
		}
	})
}

// dumpPath shows a parsed path, its value filter's literals and all.
func dumpPath(p AttrPath) string {
	b, _ := json.Marshal(p)
	return string(b)
}

// FuzzCanonicalFilterEntra is FuzzParseFilter for what the query
// normalizer runs: per resource, and with Entra's bare values quoted.
func FuzzCanonicalFilterEntra(f *testing.F) {
	for _, s := range []string{
		`userName eq "x"`, `externalId eq jyoung`, `displayName eq Sales Team`, `UserName EQ "x" AND externalId Eq "y"`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User.employeeNumber eq "42"`,
		`urn:ietf:params:scim:schemas:core:2.0:User.userName eq "a"`, `emails[type eq work].value eq "a@b"`,
		`members[value eq "1"]`, `active eq "True"`, `not (a pr) or (b gt 1)`, `x eq`,
	} {
		f.Add(s, uint8(1)|4)
		f.Add(s, uint8(2))
	}
	f.Fuzz(func(t *testing.T, s string, sel uint8) {
		res := [...]Resource{"", Users, Groups}[int(sel)%3]
		quoteBare := sel&4 != 0
		out, _, err := canonicalFilter([]byte(s), res, quoteBare)
		if err != nil {
			var se *Error
			if !errors.As(err, &se) || se.Status != 400 || se.ScimType != InvalidFilter {
				t.Fatalf("canonicalFilter(%q) error %#v is not a 400 invalidFilter", s, err)
			}
			return
		}
		canon := s
		if out != nil {
			canon = string(out)
		}
		again, _, err := canonicalFilter([]byte(canon), res, quoteBare)
		if err != nil || again != nil {
			t.Fatalf("not idempotent: %q → %q → %q, %v", s, canon, again, err)
		}
		if _, err := ParseFilter(canon); err != nil && !quoteBare {
			t.Fatalf("canonical %q does not parse: %v", canon, err)
		}
	})
}

// FuzzParseResourcePath holds ParseResourcePath to its definition: the
// last non-empty segment is the endpoint, or the one before it is Users or
// Groups and the last is the id.
func FuzzParseResourcePath(f *testing.F) {
	for _, s := range []string{"/scim/v2/Users", "/acme/scim/v2/Users/2819c223", "//Users/", "/Users/.search", "/Groups/x/",
		"/Schemas/urn:ietf:params:scim:schemas:core:2.0:User", "/ServiceProviderConfig", "/ResourceTypes/User", "Users", "", "/", "/Users//x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		var segs []string
		for _, s := range strings.Split(path, "/") {
			if s != "" {
				segs = append(segs, s)
			}
		}
		var wantRes Resource
		var wantID string
		if n := len(segs); n > 0 {
			switch {
			case endpoint(segs[n-1]) != "":
				wantRes = endpoint(segs[n-1])
			case n > 1 && (segs[n-2] == "Users" || segs[n-2] == "Groups"):
				wantRes, wantID = Resource(segs[n-2]), segs[n-1]
			}
		}
		if res, id := ParseResourcePath(path); res != wantRes || id != wantID {
			t.Fatalf("ParseResourcePath(%q) = %q, %q; want %q, %q", path, res, id, wantRes, wantID)
		}
	})
}

// FuzzResponseContentType compares the Accept negotiation with a reading
// of each element's type through mime.ParseMediaType: SCIM's type whenever
// an element names it, plain JSON when one names that and none SCIM's.
func FuzzResponseContentType(f *testing.F) {
	for _, s := range []string{"", "application/json", "application/scim+json", "application/json, application/scim+json",
		"application/json;charset=utf-8", "Application/JSON; q=0.9", "*/*", "text/html,application/xhtml+xml,*/*;q=0.8",
		"application/scim+json;q=0, application/json", " application/json ,", "application/json\t"} {
		f.Add(s, uint8(0))
		f.Add(s, uint8(3))
	}
	f.Fuzz(func(t *testing.T, accept string, sel uint8) {
		d := fuzzDialects[int(sel)%len(fuzzDialects)]
		got := ResponseContentType(d, accept)
		scimNamed, jsonNamed := false, false
		for part := range strings.SplitSeq(accept, ",") {
			// An element's parameters (q among them, which the
			// negotiation ignores by decision) do not change the type it
			// names, even when mime would refuse them.
			typ, _, _ := strings.Cut(part, ";")
			mt, _, err := mime.ParseMediaType(typ)
			if err != nil {
				continue
			}
			scimNamed = scimNamed || mt == MediaTypeSCIM
			jsonNamed = jsonNamed || mt == MediaTypeJSON
		}
		switch {
		case got != MediaTypeSCIM && got != MediaTypeJSON:
			t.Fatalf("ResponseContentType(%q) = %q", accept, got)
		case scimNamed && got != MediaTypeSCIM:
			t.Fatalf("Accept %q names %s, answered %s", accept, MediaTypeSCIM, got)
		case jsonNamed && !scimNamed && got != MediaTypeJSON:
			t.Fatalf("Accept %q names %s only, answered %s", accept, MediaTypeJSON, got)
		}
	})
}
