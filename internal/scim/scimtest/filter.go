package scimtest

import (
	"encoding/json"
	"strings"

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
		s, _ := schemaFor(res, e.Path.URN)
		a, _ := s.Attribute(e.Path.Name)
		leaf := a
		if e.Path.Sub != "" {
			leaf, _ = a.SubAttribute(e.Path.Sub)
		}
		return compare(e, leaf, resolve(res, e.Path, r))
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
		sub, _ := parent.SubAttribute(e.Path.Name)
		var values []any
		if v, ok := obj[e.Path.Name]; ok {
			values = []any{v}
		}
		return compare(e, sub, values)
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
