package scimtest

import (
	"net/http"
	"strings"

	"github.com/scimgate/scimgate/internal/scim"
)

// known is the schema table shared with the normalizer; never modified.
var known = func() map[string]scim.Schema {
	m := map[string]scim.Schema{}
	for _, s := range scim.Schemas() {
		m[s.ID] = s
	}
	return m
}()

func coreURN(res scim.Resource) string {
	if res == scim.Groups {
		return scim.URNGroup
	}
	return scim.URNUser
}

// schemaFor returns the schema an attribute path qualified by urn belongs to.
func schemaFor(res scim.Resource, urn string) (scim.Schema, bool) {
	switch {
	case urn == "" || urn == coreURN(res):
		return known[coreURN(res)], true
	case urn == scim.URNEnterpriseUser && res == scim.Users:
		return known[urn], true
	}
	return scim.Schema{}, false
}

// validateResource accepts only the canonical body of a create or PUT:
// schemas listing exactly the core URN (and the enterprise URN when used),
// known attributes in canonical case with typed values, no nulls, no empty
// lists, no read-only attributes, no dotted or unknown URN keys. Unknown
// plain attributes are dropped, as RFC 7643 lets a service provider do.
func validateResource(res scim.Resource, body map[string]any) error {
	schemas, ok := body["schemas"].([]any)
	if !ok {
		return badRequest(scim.InvalidSyntax, `non-canonical: "schemas" missing`)
	}
	listed := map[string]bool{}
	for _, s := range schemas {
		u, _ := s.(string)
		if u != coreURN(res) && (u != scim.URNEnterpriseUser || res != scim.Users) || listed[u] {
			return badRequest(scim.InvalidValue, "non-canonical schema URN "+quote(u))
		}
		listed[u] = true
	}
	if !listed[coreURN(res)] {
		return badRequest(scim.InvalidValue, "non-canonical: schemas lacks "+coreURN(res))
	}
	core := known[coreURN(res)]
	for k, v := range body {
		switch {
		case k == "schemas":
			continue
		case k == scim.URNEnterpriseUser && res == scim.Users:
			if !listed[k] {
				return badRequest(scim.InvalidValue, "non-canonical: extension used but not listed in schemas")
			}
			ext, ok := v.(map[string]any)
			if !ok || len(ext) == 0 {
				return badRequest(scim.InvalidValue, "non-canonical: enterprise extension must be a non-empty object")
			}
			if err := validateMembers(known[k], ext, k+":"); err != nil {
				return err
			}
			continue
		case strings.HasPrefix(strings.ToLower(k), "urn:") || strings.HasPrefix(k, "http"):
			return badRequest(scim.InvalidValue, "non-canonical or unknown schema extension "+quote(k))
		}
	}
	return validateMembers(core, body, "")
}

// validateMembers checks the attributes of obj against schema s, dropping
// unknown ones.
func validateMembers(s scim.Schema, obj map[string]any, prefix string) error {
	for k, v := range obj {
		if k == "schemas" || strings.HasPrefix(strings.ToLower(k), "urn:") {
			continue
		}
		if strings.Contains(k, ".") {
			return badRequest(scim.InvalidPath, "non-canonical: dotted attribute name "+quote(prefix+k))
		}
		a, ok := s.Attribute(k)
		if !ok {
			delete(obj, k)
			continue
		}
		if a.Name != k {
			return badRequest(scim.InvalidValue, "non-canonical attribute case "+quote(prefix+k)+" (want "+a.Name+")")
		}
		if a.ReadOnly {
			return badRequest(scim.InvalidValue, "non-canonical: read-only attribute "+quote(prefix+k)+" in a request")
		}
		if err := validateValue(a, v, prefix+k, false); err != nil {
			return err
		}
	}
	return nil
}

// validateValue checks one value against its definition. allowEmpty lets a
// PATCH add an empty list (a valid no-op the normalizer forwards).
func validateValue(a scim.Attribute, v any, path string, allowEmpty bool) error {
	if v == nil {
		return badRequest(scim.InvalidValue, "non-canonical: null for "+quote(path))
	}
	if a.MultiValued {
		list, ok := v.([]any)
		if !ok {
			return badRequest(scim.InvalidValue, quote(path)+" is multi-valued: send a list")
		}
		if len(list) == 0 && !allowEmpty {
			return badRequest(scim.InvalidValue, "non-canonical: empty list for "+quote(path))
		}
		single := a
		single.MultiValued = false
		for _, e := range list {
			if err := validateValue(single, e, path, false); err != nil {
				return err
			}
		}
		return nil
	}
	switch a.Type {
	case scim.TypeBoolean:
		if _, ok := v.(bool); !ok {
			return badRequest(scim.InvalidValue, "non-canonical: "+quote(path)+" must be a JSON boolean")
		}
	case scim.TypeComplex:
		obj, ok := v.(map[string]any)
		if !ok {
			return badRequest(scim.InvalidValue, "non-canonical: "+quote(path)+" must be an object")
		}
		for k, sv := range obj {
			sub, ok := a.SubAttribute(k)
			if !ok {
				continue
			}
			if sub.Name != k {
				return badRequest(scim.InvalidValue, "non-canonical attribute case "+quote(path+"."+k))
			}
			if err := validateValue(sub, sv, path+"."+k, false); err != nil {
				return err
			}
		}
	default:
		if _, ok := v.(string); !ok {
			return badRequest(scim.InvalidValue, quote(path)+" must be a string")
		}
	}
	return nil
}

type patchOp struct {
	op    string
	path  scim.AttrPath
	value any
}

// validatePatch accepts only canonical PATCH bodies: exactly the PatchOp
// schema, lower-case ops, every op with a canonical path, no value on
// remove, typed values, no add on a single-valued attribute, no replace with
// an empty list.
func validatePatch(res scim.Resource, body map[string]any) ([]patchOp, error) {
	for k := range body {
		if k != "schemas" && k != "Operations" {
			return nil, badRequest(scim.InvalidSyntax, "non-canonical PATCH member "+quote(k))
		}
	}
	if s, _ := body["schemas"].([]any); len(s) != 1 || s[0] != scim.URNPatchOp {
		return nil, badRequest(scim.InvalidSyntax, "non-canonical: schemas must be ["+scim.URNPatchOp+"]")
	}
	raw, ok := body["Operations"].([]any)
	if !ok {
		return nil, badRequest(scim.InvalidSyntax, "Operations must be a list")
	}
	ops := make([]patchOp, 0, len(raw))
	for _, r := range raw {
		m, ok := r.(map[string]any)
		if !ok {
			return nil, badRequest(scim.InvalidSyntax, "each operation must be an object")
		}
		op, err := validateOp(res, m)
		if err != nil {
			return nil, err
		}
		ops = append(ops, op)
	}
	return ops, nil
}

func validateOp(res scim.Resource, m map[string]any) (patchOp, error) {
	for k := range m {
		if k != "op" && k != "path" && k != "value" {
			return patchOp{}, badRequest(scim.InvalidSyntax, "non-canonical operation member "+quote(k))
		}
	}
	name, _ := m["op"].(string)
	if name != "add" && name != "remove" && name != "replace" {
		return patchOp{}, badRequest(scim.InvalidSyntax, "non-canonical op "+quote(name))
	}
	path, _ := m["path"].(string)
	if path == "" {
		return patchOp{}, badRequest(scim.InvalidPath, "non-canonical: "+name+" without a path")
	}
	canon, err := scim.CanonicalPath(path)
	if err != nil {
		return patchOp{}, err
	}
	if canon != path {
		return patchOp{}, badRequest(scim.InvalidPath, "non-canonical path "+quote(path)+" (want "+canon+")")
	}
	ap, _ := scim.ParsePath(path)
	if ap.Name == "" {
		return patchOp{}, badRequest(scim.InvalidPath, "path "+quote(path)+" names a schema, not an attribute")
	}
	s, ok := schemaFor(res, ap.URN)
	if !ok {
		return patchOp{}, badRequest(scim.InvalidPath, "unknown schema in path "+quote(path))
	}
	value, hasValue := m["value"]
	a, known := s.Attribute(ap.Name)
	if known && a.ReadOnly {
		return patchOp{}, &scim.Error{Status: http.StatusBadRequest, ScimType: scim.Mutability, Detail: quote(ap.Name) + " is read-only"}
	}
	switch {
	case name == "remove" && hasValue:
		return patchOp{}, badRequest(scim.InvalidValue, "non-canonical: remove with a value")
	case name == "remove":
	case !hasValue || value == nil:
		return patchOp{}, badRequest(scim.InvalidValue, "non-canonical: "+name+" without a value")
	case !known:
	case name == "add" && !a.MultiValued && ap.Filter == nil:
		return patchOp{}, badRequest(scim.InvalidValue, "non-canonical: add on single-valued "+quote(path)+" (send replace)")
	case ap.Sub != "":
		sub, ok := a.SubAttribute(ap.Sub)
		if ok {
			if err := validateValue(sub, value, path, false); err != nil {
				return patchOp{}, err
			}
		}
	case ap.Filter != nil:
		elem := a
		elem.MultiValued = false
		if err := validateValue(elem, value, path, false); err != nil {
			return patchOp{}, err
		}
	default:
		if l, ok := value.([]any); ok && len(l) == 0 && name == "replace" {
			return patchOp{}, badRequest(scim.InvalidValue, "non-canonical: replace with [] (send remove)")
		}
		if err := validateValue(a, value, path, name == "add"); err != nil {
			return patchOp{}, err
		}
	}
	return patchOp{op: name, path: ap, value: value}, nil
}
