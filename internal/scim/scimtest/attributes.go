package scimtest

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/scimgate/scimgate/internal/scim"
)

// projection is what a request's attributes and excludedAttributes
// parameters (RFC 7644 §3.4.2.5, §3.9) leave of each resource it answers
// with. Each path is a JSON member path in a stored resource: [name],
// [name, sub], and for the enterprise extension [URN], [URN, name] or
// [URN, name, sub]. Names are canonical, as stored.
type projection struct {
	include [][]string // nil: the default set
	exclude [][]string
}

// alwaysReturned are kept whatever the parameters say: id is "returned"
// always (RFC 7643 §3.1), and schemas is how a client reads the rest.
var alwaysReturned = [][]string{{"id"}, {"schemas"}}

// parseProjection reads attributes and excludedAttributes from q. It runs
// before a request changes anything, so that a bad name refuses the whole
// request rather than answer 400 after a create or an update.
func parseProjection(res scim.Resource, q url.Values) (projection, error) {
	var p projection
	var err error
	if v := q.Get("attributes"); v != "" {
		if p.include, err = parseAttrList(res, "attributes", v); err != nil {
			return projection{}, err
		}
		p.include = append(p.include, alwaysReturned...)
	}
	if v := q.Get("excludedAttributes"); v != "" {
		if p.exclude, err = parseAttrList(res, "excludedAttributes", v); err != nil {
			return projection{}, err
		}
	}
	return p, nil
}

// parseAttrList parses a comma-separated list of attribute names in
// standard attribute notation (RFC 7644 §3.10). A name that is not an
// attribute of res is refused with 400 invalidValue (RFC 7644 §3.12: not
// compatible with the resource schema): ignoring it would hide a client's
// typo behind an answer that looks complete.
func parseAttrList(res scim.Resource, param, v string) ([][]string, error) {
	var out [][]string
	for _, name := range strings.Split(v, ",") {
		path, err := parseAttrName(res, strings.TrimSpace(name))
		if err != nil {
			return nil, &scim.Error{Status: http.StatusBadRequest, ScimType: scim.InvalidValue, Detail: param + ": " + err.Error(), Err: err}
		}
		out = append(out, path)
	}
	return out, nil
}

// parseAttrName resolves one name, [URN ":"] attr ["." sub], ignoring case
// (RFC 7643 §2.1), to the path of its canonical member names. An
// unqualified name is a core attribute (RFC 7644 §3.10: extension
// attributes are qualified by their URN); the enterprise extension's URN
// alone names the whole extension object, which is one member of the
// resource as stored.
func parseAttrName(res scim.Resource, name string) ([]string, error) {
	if name == "" {
		return nil, errors.New("empty attribute name")
	}
	urn, rest := "", name
	if len(name) > 4 && strings.EqualFold(name[:4], "urn:") {
		for _, id := range []string{coreURN(res), scim.URNEnterpriseUser} {
			if _, ok := schemaFor(res, id); !ok || len(name) < len(id) || !strings.EqualFold(name[:len(id)], id) {
				continue
			}
			switch {
			case len(name) == len(id) && id == scim.URNEnterpriseUser:
				return []string{id}, nil
			case len(name) == len(id):
				return nil, fmt.Errorf("%s names a schema, not an attribute", quote(name))
			case len(name) > len(id)+1 && name[len(id)] == ':':
				urn, rest = id, name[len(id)+1:]
			}
		}
		if urn == "" {
			return nil, fmt.Errorf("%s is in no schema of %s", quote(name), res)
		}
	}
	if urn == "" && strings.EqualFold(rest, "schemas") {
		return []string{"schemas"}, nil
	}
	s, _ := schemaFor(res, urn)
	attrName, subName, hasSub := strings.Cut(rest, ".")
	a, ok := s.Attribute(attrName)
	if !ok {
		return nil, fmt.Errorf("unknown attribute %s", quote(name))
	}
	var path []string
	if urn == scim.URNEnterpriseUser {
		path = append(path, urn)
	}
	path = append(path, a.Name)
	if !hasSub {
		return path, nil
	}
	sub, ok := a.SubAttribute(subName)
	if !ok {
		return nil, fmt.Errorf("unknown sub-attribute %s", quote(name))
	}
	return append(path, sub.Name), nil
}

// apply returns a copy of r with only what p leaves of it.
func (p projection) apply(r map[string]any) map[string]any {
	out := deepCopy(r).(map[string]any)
	if p.include != nil {
		picked, _ := pick(out, p.include)
		out = picked.(map[string]any)
	}
	for _, path := range p.exclude {
		if path[0] == "id" || path[0] == "schemas" {
			continue // RFC 7644 §3.4.2.5: no effect on "returned" always
		}
		drop(out, path)
	}
	return out
}

// pick returns the parts of v that paths name, and whether anything is
// left. A path that ends at v keeps all of v; a list is a multi-valued
// attribute, whose values each keep the sub-attributes named. An object or
// list left with nothing is left out, as an absent attribute is (RFC 7643
// §2.5), rather than answered as {} or [].
func pick(v any, paths [][]string) (any, bool) {
	for _, p := range paths {
		if len(p) == 0 {
			return v, true
		}
	}
	switch v := v.(type) {
	case map[string]any:
		byName := map[string][][]string{}
		for _, p := range paths {
			byName[p[0]] = append(byName[p[0]], p[1:])
		}
		out := map[string]any{}
		for name, rest := range byName {
			if e, ok := v[name]; ok {
				if kept, ok := pick(e, rest); ok {
					out[name] = kept
				}
			}
		}
		return out, len(out) > 0
	case []any:
		var out []any
		for _, e := range v {
			if kept, ok := pick(e, paths); ok {
				out = append(out, kept)
			}
		}
		return out, len(out) > 0
	}
	return nil, false // a simple value has no sub-attributes
}

// drop removes what path names from v, in place, and reports whether
// anything is left; like pick, it leaves out an object or list it empties.
func drop(v any, path []string) (any, bool) {
	switch v := v.(type) {
	case map[string]any:
		if e, ok := v[path[0]]; ok {
			if len(path) == 1 {
				delete(v, path[0])
			} else if rest, ok := drop(e, path[1:]); ok {
				v[path[0]] = rest
			} else {
				delete(v, path[0])
			}
		}
		return v, len(v) > 0
	case []any:
		kept := v[:0]
		for _, e := range v {
			if rest, ok := drop(e, path); ok {
				kept = append(kept, rest)
			}
		}
		return kept, len(kept) > 0
	}
	return v, true // a simple value has no sub-attributes to drop
}
