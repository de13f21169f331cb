package scim

import (
	"slices"
	"strings"
)

// resource rewrites a POST or PUT body of a User or Group in place and
// reports whether it changed. Canonical form: "schemas" lists the endpoint's
// core URN and, when used, the enterprise URN, in RFC spelling and nothing
// provider-private; known attributes in canonical case and typed; no nulls,
// no empty lists, no read-only id/meta/groups (RFC 7643 §2.5 and §7: both mean
// "unassigned" or "ignored", whether the request is a create or a PUT).
func (n *normalizer) resource(root *node) bool {
	changed := false
	var schemas, ext *node
	kept := make([]member, 0, len(root.members))
	for i, m := range root.members {
		if strings.EqualFold(m.key, "schemas") {
			if m.key != "schemas" && !n.collides(root.members, i, "schemas") {
				m.key, m.rawKey = "schemas", nil
				n.rw.add(RewriteAttrCase)
				changed = true
			}
			schemas = m.val
			kept = append(kept, m)
			continue
		}
		if m.val.kind == kindNull {
			n.rw.add(RewriteNullDropped)
			changed = true
			continue
		}
		if len(m.key) > 4 && strings.EqualFold(m.key[:4], "urn:") {
			u, class := canonicalURN(m.key, n.res)
			if u != URNEnterpriseUser || m.val.kind != kindObject {
				kept = append(kept, m) // someone's own extension
				continue
			}
			if class == urnLegacy {
				n.rw.add(RewriteLegacyURN)
			}
			if m.key != u {
				changed = true
			}
			if ext != nil {
				// both the legacy and the RFC key: one extension object
				n.merge(ext, m.val.members...)
				changed = true
				continue
			}
			m.key, m.rawKey, ext = u, nil, m.val
			kept = append(kept, m)
			continue
		}
		def := lookupAttr("", m.key)
		switch {
		case def != nil && def.ReadOnly:
			n.rw.add(RewriteReadOnly)
			changed = true
			continue
		case m.val.isEmptyString() && (n.emptyClears || def != nil && def.Type == TypeComplex):
			// Decision: on a create "" means "not set" (OneLogin renders
			// unmapped template parameters as ""); on a PUT, which replaces
			// the resource, leaving it out clears it, as OneLogin means.
			n.rw.add(RewriteEmptyString)
			changed = true
			continue
		case m.val.kind == kindArray && len(m.val.elems) == 0:
			n.rw.add(RewriteEmptyList)
			changed = true
			continue
		case def == nil && n.qualifyEnterprise && n.res == Users && lookupFold(index.enterprise, m.key) != nil:
			if ext == nil {
				ext = newObject()
				kept = append(kept, member{key: URNEnterpriseUser, val: ext})
			}
			n.merge(ext, m)
			n.rw.add(RewriteEnterprise)
			changed = true
			continue
		case def == nil:
			changed = n.dropNulls(m.val) || changed
			kept = append(kept, m)
			continue
		}
		if m.key != def.Name && !n.collides(root.members, i, def.Name) {
			m.key, m.rawKey = def.Name, nil
			n.rw.add(RewriteAttrCase)
			changed = true
		}
		var c bool
		m.val, c = n.typeValue(def, m.val, true)
		changed = changed || c
		if isEmptyContainer(m.val) {
			n.rw.add(RewriteEmptyList)
			continue
		}
		kept = append(kept, m)
	}
	root.members = kept
	if ext != nil {
		changed = n.typeMembers(index.enterprise, ext) || changed
		if len(ext.members) == 0 {
			// Every value was null or cleared (OneLogin's unmapped template
			// fields): RFC 7643 §2.5 makes the extension unassigned, and a
			// strict upstream refuses it empty. Decision: a URN the client
			// listed in schemas stays (as in L4); none is added.
			root.members = slices.DeleteFunc(root.members, func(m member) bool { return m.val == ext })
			n.rw.add(RewriteEmptyList)
			ext, changed = nil, true
		}
	}
	return n.schemas(root, schemas, ext != nil) || changed
}

func isEmptyContainer(v *node) bool {
	return v.kind == kindArray && len(v.elems) == 0 || v.kind == kindObject && len(v.members) == 0
}

// schemas canonicalises the "schemas" list: RFC spellings, no ADSCIM group
// URN, no duplicates, the endpoint's core URN first when missing, the
// enterprise URN when the body uses the extension.
func (n *normalizer) schemas(root, list *node, hasExt bool) bool {
	changed := false
	if list == nil {
		list = &node{kind: kindArray}
		root.members = append([]member{{key: "schemas", val: list}}, root.members...)
		changed = true
	}
	if list.kind != kindArray {
		return changed // left for the upstream to reject
	}
	var seen []string
	has := func(u string) bool {
		for _, s := range seen {
			if s == u {
				return true
			}
		}
		return false
	}
	kept := list.elems[:0]
	for _, e := range list.elems {
		if e.kind != kindString {
			kept = append(kept, e)
			continue
		}
		u, class := canonicalURN(e.str, n.res)
		switch class {
		case urnJunk:
			n.rw.add(RewriteDroppedURN)
			changed = true
			continue
		case urnLegacy:
			n.rw.add(RewriteLegacyURN)
		}
		if has(u) {
			changed = true
			continue
		}
		seen = append(seen, u)
		if u != e.str {
			e = newString(u)
			changed = true
		}
		kept = append(kept, e)
	}
	list.elems = kept
	core := URNUser
	if n.res == Groups {
		core = URNGroup
	}
	if !has(core) {
		list.elems = append([]*node{newString(core)}, list.elems...)
		n.rw.add(RewriteSchemasAdded)
		changed = true
	}
	if hasExt && !has(URNEnterpriseUser) {
		list.elems = append(list.elems, newString(URNEnterpriseUser))
		n.rw.add(RewriteSchemasAdded)
		changed = true
	}
	return changed
}
