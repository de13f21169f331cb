package scimtest

import (
	"github.com/scimgate/scimgate/internal/scim"
)

// applyOp applies one validated operation to r (RFC 7644 §3.5.2), with the
// upstream contract documented in ../DIALECTS.md:
//   - add or replace through a value filter that matches nothing creates the
//     value from the filter's eq terms (Entra's U-19, V-02, V-03);
//   - remove through a value filter that matches nothing is a no-op (R26);
//   - replace on a single-valued complex attribute sets the given
//     sub-attributes and keeps the others.
func applyOp(res scim.Resource, r map[string]any, op patchOp) error {
	p := op.path
	container := r
	if p.URN == scim.URNEnterpriseUser {
		ext, _ := r[p.URN].(map[string]any)
		if ext == nil {
			if op.op == "remove" {
				return nil
			}
			ext = map[string]any{}
			r[p.URN] = ext
		}
		container = ext
	}
	s, _ := schemaFor(res, p.URN)
	a, known := s.Attribute(p.Name)
	value := deepCopy(op.value)
	switch {
	case p.Filter == nil && p.Sub == "":
		switch {
		case op.op == "remove":
			delete(container, p.Name)
		case known && a.MultiValued && op.op == "add":
			list, _ := container[p.Name].([]any)
			container[p.Name] = append(list, value.([]any)...) // validated as a list
		case known && a.Type == scim.TypeComplex && !a.MultiValued:
			obj, _ := container[p.Name].(map[string]any)
			if obj == nil {
				obj = map[string]any{}
			}
			for k, v := range value.(map[string]any) { // validated as an object
				obj[k] = v
			}
			container[p.Name] = obj
		default:
			container[p.Name] = value
		}
	case p.Filter == nil:
		setSub := func(obj map[string]any) {
			if op.op == "remove" {
				delete(obj, p.Sub)
			} else {
				obj[p.Sub] = value
			}
		}
		if list, ok := container[p.Name].([]any); ok {
			for _, e := range list {
				if obj, ok := e.(map[string]any); ok {
					setSub(obj)
				}
			}
			return nil
		}
		obj, _ := container[p.Name].(map[string]any)
		if obj == nil {
			if op.op == "remove" {
				return nil
			}
			obj = map[string]any{}
			container[p.Name] = obj
		}
		setSub(obj)
		if len(obj) == 0 {
			delete(container, p.Name)
		}
	default:
		patch, isObject := value.(map[string]any)
		if !isObject && p.Sub == "" && op.op != "remove" {
			return badRequest(scim.InvalidValue, "a value filter without a sub-attribute needs an object value")
		}
		list, _ := container[p.Name].([]any)
		var kept []any
		hit := false
		for _, e := range list {
			obj, ok := e.(map[string]any)
			if !ok || !evalIn(a, p.Filter, obj) {
				kept = append(kept, e)
				continue
			}
			hit = true
			switch {
			case op.op == "remove" && p.Sub == "":
				continue
			case op.op == "remove":
				delete(obj, p.Sub)
			case p.Sub != "":
				obj[p.Sub] = value
			case op.op == "replace":
				obj = patch
			default:
				for k, v := range patch {
					obj[k] = v
				}
			}
			kept = append(kept, obj)
		}
		if !hit && op.op != "remove" {
			obj := seed(p.Filter)
			if p.Sub != "" {
				obj[p.Sub] = value
			} else {
				for k, v := range patch {
					obj[k] = v
				}
			}
			kept = append(kept, obj)
		}
		container[p.Name] = kept
	}
	return nil
}

// seed builds a new value from the eq terms of a value filter, e.g.
// type eq "mobile" → {"type":"mobile"}.
func seed(f scim.Expr) map[string]any {
	obj := map[string]any{}
	var walk func(scim.Expr)
	walk = func(e scim.Expr) {
		switch e := e.(type) {
		case *scim.Logical:
			if e.Op == "and" {
				walk(e.Left)
				walk(e.Right)
			}
		case *scim.Compare:
			if e.Op == "eq" && e.Path.Sub == "" && e.Path.Filter == nil {
				obj[e.Path.Name] = e.Value.Value()
			}
		}
	}
	walk(f)
	return obj
}
