package scimtest

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/scimgate/scimgate/internal/scim"
)

// matches evaluates a filter against a stored resource. String comparisons
// ignore case unless the attribute is caseExact (RFC 7643 §2.3.1): userName
// and displayName match case-insensitively, externalId and id exactly.
func matches(res scim.Resource, e scim.Expr, r map[string]any) bool {
	switch e := e.(type) {
	case *scim.Logical:
		if e.Op == "and" {
			return matches(res, e.Left, r) && matches(res, e.Right, r)
		}
		return matches(res, e.Left, r) || matches(res, e.Right, r)
	case *scim.Not:
		return !matches(res, e.X, r)
	case *scim.ValuePath:
		return len(resolve(res, e.Path, r)) > 0
	case *scim.Compare:
		return compare(e, leafOf(res, nil, e.Path), resolve(res, e.Path, r))
	}
	return false
}

// leafOf returns the definition of the attribute a filter's path compares:
// a sub-attribute of parent inside a value filter's brackets, else an
// attribute of res's schemas, or its sub-attribute. Unknown names give the
// zero Attribute, which compares as a case-insensitive string.
func leafOf(res scim.Resource, parent *scim.Attribute, p scim.AttrPath) scim.Attribute {
	if parent != nil {
		sub, _ := parent.SubAttribute(p.Name)
		return sub
	}
	s, _ := schemaFor(res, p.URN)
	a, _ := s.Attribute(p.Name)
	if p.Sub != "" {
		a, _ = a.SubAttribute(p.Sub)
	}
	return a
}

// checkFilter refuses, with 400 invalidFilter, an eq, ne, gt, ge, lt or le
// on a dateTime attribute whose value is not an RFC 3339 date-time: there is
// no instant to compare with (RFC 7644 §3.12: a comparison the attribute
// does not support), and comparing the text instead would answer with
// whatever string order happens to give. parent is the multi-valued
// attribute whose brackets e is in, nil at the top.
func checkFilter(res scim.Resource, parent *scim.Attribute, e scim.Expr) error {
	switch e := e.(type) {
	case *scim.Logical:
		if err := checkFilter(res, parent, e.Left); err != nil {
			return err
		}
		return checkFilter(res, parent, e.Right)
	case *scim.Not:
		return checkFilter(res, parent, e.X)
	case *scim.ValuePath:
		return checkPathFilter(res, e.Path)
	case *scim.Compare:
		if parent == nil {
			if err := checkPathFilter(res, e.Path); err != nil {
				return err
			}
		}
		if leafOf(res, parent, e.Path).Type != scim.TypeDateTime || !instantOp(e.Op) {
			return nil
		}
		if w, ok := e.Value.Value().(string); ok {
			if _, ok := parseDateTime(w); ok {
				return nil
			}
		}
		name := e.Path.Name
		if e.Path.Sub != "" {
			name += "." + e.Path.Sub
		}
		return badRequest(scim.InvalidFilter, name+" is a dateTime; "+e.Value.Raw+" is not an RFC 3339 date-time with a time zone")
	}
	return nil
}

// checkPathFilter checks the value filter in p's brackets, if any.
func checkPathFilter(res scim.Resource, p scim.AttrPath) error {
	if p.Filter == nil {
		return nil
	}
	s, _ := schemaFor(res, p.URN)
	a, _ := s.Attribute(p.Name)
	return checkFilter(res, &a, p.Filter)
}

// instantOp says whether op compares dateTime values as instants. eq and ne
// do too, so that ge is exactly gt or eq: "2026-01-01T01:00:00+01:00" and
// "2026-01-01T00:00:00Z" are one instant, equal for eq as for ge and le.
// co, sw and ew stay comparisons of the text.
func instantOp(op string) bool {
	switch op {
	case "eq", "ne", "gt", "ge", "lt", "le":
		return true
	}
	return false
}

// parseDateTime reads an RFC 3339 date-time, which RFC 7643 §2.3.5 asks
// dateTime values to be: any fraction of a second, any offset or Z, and
// "t" and "z" in either case (RFC 3339 §5.6). A value without a time zone
// (which xsd:dateTime allows) is refused: it is no one instant.
func parseDateTime(s string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339, strings.ToUpper(s))
	return t, err == nil
}

// compareInstants compares two dateTime values chronologically (RFC 7644
// §3.4.2.2); a stored value that is not a date-time matches nothing.
func compareInstants(op, v, want string) bool {
	got, ok := parseDateTime(v)
	if !ok {
		return false
	}
	w, ok := parseDateTime(want)
	if !ok {
		return false
	}
	switch c := got.Compare(w); op {
	case "eq":
		return c == 0
	case "gt":
		return c > 0
	case "ge":
		return c >= 0
	case "lt":
		return c < 0
	case "le":
		return c <= 0
	}
	return false
}

// resolve returns the values a path reaches in r, flattened.
func resolve(res scim.Resource, p scim.AttrPath, r map[string]any) []any {
	container := r
	if p.URN == scim.URNEnterpriseUser {
		container, _ = r[p.URN].(map[string]any)
	}
	v, ok := container[p.Name]
	if !ok {
		return nil
	}
	s, _ := schemaFor(res, p.URN)
	a, _ := s.Attribute(p.Name)
	values, isList := v.([]any)
	if !isList {
		values = []any{v}
	}
	if p.Filter != nil {
		var kept []any
		for _, e := range values {
			if obj, ok := e.(map[string]any); ok && evalIn(a, p.Filter, obj) {
				kept = append(kept, e)
			}
		}
		values = kept
	}
	if p.Sub == "" {
		return values
	}
	var out []any
	for _, e := range values {
		if obj, ok := e.(map[string]any); ok {
			if sv, ok := obj[p.Sub]; ok {
				out = append(out, sv)
			}
		}
	}
	return out
}

// evalIn evaluates a value filter against one value of multi-valued
// attribute parent; names inside the brackets are its sub-attributes.
func evalIn(parent scim.Attribute, e scim.Expr, obj map[string]any) bool {
	switch e := e.(type) {
	case *scim.Logical:
		if e.Op == "and" {
			return evalIn(parent, e.Left, obj) && evalIn(parent, e.Right, obj)
		}
		return evalIn(parent, e.Left, obj) || evalIn(parent, e.Right, obj)
	case *scim.Not:
		return !evalIn(parent, e.X, obj)
	case *scim.Compare:
		var values []any
		if v, ok := obj[e.Path.Name]; ok {
			values = []any{v}
		}
		return compare(e, leafOf("", &parent, e.Path), values)
	}
	return false
}

func compare(c *scim.Compare, a scim.Attribute, values []any) bool {
	if c.Op == "pr" {
		for _, v := range values {
			if s, ok := v.(string); !ok || s != "" {
				return true
			}
		}
		return false
	}
	want := c.Value.Value()
	if c.Op == "ne" {
		for _, v := range values {
			if compareOne("eq", a, v, want) {
				return false
			}
		}
		return true
	}
	for _, v := range values {
		if compareOne(c.Op, a, v, want) {
			return true
		}
	}
	return false
}

func compareOne(op string, a scim.Attribute, v, want any) bool {
	switch w := want.(type) {
	case string:
		s, ok := v.(string)
		if !ok {
			return false
		}
		if a.Type == scim.TypeDateTime && instantOp(op) {
			return compareInstants(op, s, w)
		}
		if !a.CaseExact {
			s, w = strings.ToLower(s), strings.ToLower(w)
		}
		switch op {
		case "eq":
			return s == w
		case "co":
			return strings.Contains(s, w)
		case "sw":
			return strings.HasPrefix(s, w)
		case "ew":
			return strings.HasSuffix(s, w)
		case "gt":
			return s > w
		case "ge":
			return s >= w
		case "lt":
			return s < w
		case "le":
			return s <= w
		}
	case bool:
		b, ok := v.(bool)
		return ok && op == "eq" && b == w
	case float64:
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		f, err := n.Float64()
		if err != nil {
			return false
		}
		switch op {
		case "eq":
			return f == w
		case "gt":
			return f > w
		case "ge":
			return f >= w
		case "lt":
			return f < w
		case "le":
			return f <= w
		}
	}
	return false
}
