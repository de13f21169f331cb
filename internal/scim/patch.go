package scim

import (
	"net/http"
	"strings"
)

// patch rewrites a PatchOp body in place and reports whether it changed.
// Canonical form: "schemas" and "Operations" present; each operation is
// {"op":"add|remove|replace","path":…[,"value":…]} with a parseable path in
// canonical case; add only targets multi-valued attributes or value filters;
// remove never carries a value.
func (n *normalizer) patch(root *node) (bool, error) {
	changed := false
	var ops *node
	hasSchemas := false
	for i, m := range root.members {
		switch {
		case strings.EqualFold(m.key, "schemas"):
			hasSchemas = true
			changed = n.renamed(root, i, "schemas", RewriteOpCase) || changed
		case strings.EqualFold(m.key, "Operations"):
			ops = m.val
			changed = n.renamed(root, i, "Operations", RewriteOpCase) || changed
		}
	}
	if ops == nil || ops.kind != kindArray {
		return false, badRequest(InvalidSyntax, `a PATCH body needs an "Operations" array`)
	}
	if !hasSchemas {
		schemas := &node{kind: kindArray, elems: []*node{newString(URNPatchOp)}}
		root.members = append([]member{{key: "schemas", val: schemas}}, root.members...)
		n.rw.add(RewriteSchemasAdded)
		changed = true
	}
	out := make([]*node, 0, len(ops.elems))
	for _, op := range ops.elems {
		res, c, err := n.operation(op)
		if err != nil {
			return false, err
		}
		out = append(out, res...)
		changed = changed || c
	}
	if len(out) == 0 && len(ops.elems) > 0 {
		// Decision: an Operations list that normalizes to nothing (Okta's
		// group rename carrying only the read-only id, say) is forwarded
		// empty; upstreams treat it as a no-op (DIALECTS.md, upstream
		// contract). The gateway does not answer it itself: only the
		// upstream knows whether the resource still exists.
		n.rw.add(RewritePatchEmpty)
	}
	ops.elems = out
	return changed, nil
}

func (n *normalizer) renamed(obj *node, i int, key string, why Rewrite) bool {
	if obj.members[i].key != key && !n.collides(obj.members, i, key) && obj.rename(i, key) {
		n.rw.add(why)
		return true
	}
	return false
}

// collides reports whether a member of members other than i is named key
// in any case, and records the collision. Attribute names are
// case-insensitive (RFC 7643 §2.1): renaming member i to key, or merging it
// into an object holding key, would write one attribute twice, and keeping
// either value would lose the other silently. Decision: a request naming an
// attribute twice is refused with invalidSyntax (NormalizeRequest); an
// answer keeps the names it had. members may be filtered in place by the
// caller: every other entry is still another member, or a copy of one.
func (n *normalizer) collides(members []member, i int, key string) bool {
	for j := range members {
		if j != i && strings.EqualFold(members[j].key, key) {
			if n.collision == "" {
				n.collision = key
			}
			return true
		}
	}
	return false
}

// merge appends members to the object obj unless one collides.
func (n *normalizer) merge(obj *node, members ...member) {
	for _, m := range members {
		if !n.collides(obj.members, -1, m.key) {
			obj.members = append(obj.members, m)
		}
	}
}

// operation returns the canonical operations one input operation stands for.
func (n *normalizer) operation(op *node) ([]*node, bool, error) {
	if op.kind != kindObject {
		return nil, false, badRequest(InvalidSyntax, "each PATCH operation must be a JSON object")
	}
	changed := false
	var opv, pathv, val *node
	for i, m := range op.members {
		for _, k := range [...]string{"op", "path", "value"} {
			if strings.EqualFold(m.key, k) {
				changed = n.renamed(op, i, k, RewriteOpCase) || changed
				switch k {
				case "op":
					opv = m.val
				case "path":
					pathv = m.val
				default:
					val = m.val
				}
			}
		}
	}
	if opv == nil || opv.kind != kindString {
		return nil, false, badRequest(InvalidSyntax, `each PATCH operation needs an "op"`)
	}
	name := strings.ToLower(opv.str)
	if name != "add" && name != "remove" && name != "replace" {
		return nil, false, badRequest(InvalidSyntax, "unsupported PATCH op "+quoteToken([]byte(opv.str)))
	}
	if name != opv.str {
		n.rw.add(RewriteOpCase)
		changed = true
	}
	if pathv != nil && pathv.kind != kindString {
		return nil, false, badRequest(InvalidPath, "a PATCH path must be a string")
	}
	if pathv != nil && strings.TrimSpace(pathv.str) != "" {
		return n.pathOp(name, op, pathv.str, val, changed)
	}
	if name == "remove" {
		return nil, false, &Error{Status: http.StatusBadRequest, ScimType: NoTarget, Detail: "a remove operation needs a path"}
	}
	if val == nil || val.kind != kindObject {
		return nil, false, badRequest(InvalidValue, "an add or replace without a path needs an object value")
	}
	n.rw.add(RewritePathless)
	return n.expand(name, "", val)
}

// expand turns the members of a path-less value (or of a value addressed to a
// whole schema extension, prefix being its URN) into one operation each. Keys
// may be plain, dotted ("name.givenName") or URN-qualified: each is the path
// RFC 7644 means, never a literal attribute name. Read-only keys are dropped
// (Decision: Okta's group rename sends the group's own "id" next to
// "displayName"; RFC 7643 says clients' readOnly values are ignored).
func (n *normalizer) expand(name, prefix string, val *node) ([]*node, bool, error) {
	var out []*node
	for _, m := range val.members {
		key := m.key
		if prefix == "" {
			if d := lookupAttr("", key); d != nil && d.ReadOnly || strings.EqualFold(key, "schemas") {
				n.rw.add(RewriteReadOnly)
				continue
			}
			if u, class := canonicalURN(key, n.res); (class == urnKnown || class == urnLegacy) && m.val.kind == kindObject {
				if class == urnLegacy {
					n.rw.add(RewriteLegacyURN)
				}
				ops, _, err := n.expand(name, u, m.val)
				if err != nil {
					return nil, false, err
				}
				out = append(out, ops...)
				continue
			}
		} else {
			key = prefix + ":" + key
		}
		ops, _, err := n.pathOp(name, nil, key, m.val, true)
		if err != nil {
			return nil, false, err
		}
		out = append(out, ops...)
	}
	return out, true, nil
}

// pathOp canonicalises one operation that has a path. orig is the input
// operation, returned as is when nothing changes (nil when synthesised).
func (n *normalizer) pathOp(name string, orig *node, path string, val *node, changed bool) ([]*node, bool, error) {
	pp, err := parsePath(path, n.res, n.quoteBareValues)
	if err != nil {
		return nil, false, err
	}
	changed = n.notePath(pp) || changed
	if pp.Name == "" {
		// a whole extension: {"op":"add","path":"urn:…:enterprise:2.0:User","value":{…}}
		if name != "remove" && val != nil && val.kind == kindObject {
			n.rw.add(RewritePathless)
			return n.expand(name, pp.URN, val)
		}
		return n.emit(orig, name, pp.text, val, changed), changed, nil
	}
	if n.qualifyEnterprise && n.res == Users && pp.URN == "" && pp.attr == nil && lookupFold(index.enterprise, pp.Name) != nil {
		if pp, err = parsePath(URNEnterpriseUser+":"+pp.text, n.res, n.quoteBareValues); err != nil {
			return nil, false, err
		}
		n.rw.add(RewriteEnterprise)
		changed = true
	}
	if pp.attr == enterpriseManager() && pp.Filter != nil && pp.Sub == "" && name == "remove" && n.qualifyEnterprise {
		// Entra removes a manager with manager[value eq "id"] (U-23c): the
		// manager is single-valued, and Entra sends this only once its own
		// reference is gone, so the condition adds nothing.
		pp.Filter, pp.text = nil, URNEnterpriseUser+":manager"
		n.rw.add(RewriteManager)
		changed = true
	}
	filtered := pp.Filter != nil || pp.Sub != ""
	multiTarget := pp.attr != nil && pp.attr.MultiValued && !filtered
	if name == "remove" {
		if val != nil && multiTarget {
			ops, err := n.removeByValue(pp, val)
			return ops, true, err
		}
		// Other removes with a value are forwarded as sent: no provider sends
		// them, and dropping the value could widen what gets removed.
		return n.emit(orig, name, pp.text, val, changed), changed, nil
	}
	if val == nil {
		return nil, false, badRequest(InvalidValue, name+" on "+quoteToken([]byte(pp.text))+" needs a value")
	}
	var clears []*node
	if name == "replace" && pp.Filter == nil && pp.Sub == "" && pp.leaf != nil && pp.leaf.Type == TypeComplex && !pp.leaf.MultiValued {
		obj := val
		if val.kind == kindArray && len(val.elems) == 1 {
			obj = val.elems[0] // a legacy one-element list, which typeValue unwraps
		}
		if obj.kind == kindObject {
			if clears = n.clearedSubs(pp, obj); len(clears) > 0 && len(obj.members) == 0 {
				return clears, true, nil
			}
		}
	}
	whole := !(pp.Filter != nil && pp.Sub == "")
	val, c := n.typeValue(pp.leaf, val, whole)
	changed = changed || c || len(clears) > 0
	if why, none := n.assignsNothing(pp.leaf, val); none {
		if name != "replace" {
			// Decision: an add of nothing is refused. RFC 7644 §3.5.2.1 wants
			// a value to add; rewriting it to remove, as for replace, would
			// delete what the client asked to add to (add members null
			// emptied the group), and dropping it would hide the mistake.
			return nil, false, badRequest(InvalidValue, "add on "+quoteToken([]byte(pp.text))+" has no value to add")
		}
		if why != "" {
			n.rw.add(why)
		}
		return n.emit(nil, "remove", pp.text, nil, true), true, nil
	}
	switch {
	case name == "replace" && multiTarget && val.kind == kindArray && len(val.elems) == 0:
		// Okta's "Push now" on an empty group; RFC-equivalent, and some
		// servers answer 400 to an empty replace (R6).
		n.rw.add(RewriteReplaceEmpty)
		return n.emit(nil, "remove", pp.text, nil, true), true, nil
	case name == "add" && pp.Filter == nil && pp.attr != nil && !pp.attr.MultiValued:
		// RFC 7644 §3.5.2.1: add on a single-valued attribute replaces it;
		// spelling it replace spares upstreams the corner case (R13).
		n.rw.add(RewriteAddSingle)
		return n.emit(nil, "replace", pp.text, val, true), true, nil
	}
	return append(n.emit(orig, name, pp.text, val, changed), clears...), changed, nil
}

// clearedSubs takes out of val, the value of a replace on the single-valued
// complex attribute at pp, the sub-attributes it clears (null, or "" where
// that clears) and returns a remove of each. RFC 7644 §3.5.2.3 leaves the
// sub-attributes a replace does not name unchanged, so dropping
// {"givenName":null} from the value would keep the old givenName. Read-only
// and unknown sub-attributes are left to typeValue, which drops them.
// Decision: an add keeps dropping them (Entra's legacy manager add carries
// "$ref":null, U-20): an add of nothing never removes.
func (n *normalizer) clearedSubs(pp parsedPath, val *node) []*node {
	var out []*node
	kept := val.members[:0]
	for _, m := range val.members {
		if d := pp.leaf.lookupSub(m.key); d != nil && !d.ReadOnly {
			if why, none := n.assignsNothing(d, m.val); none {
				n.rw.add(why)
				out = append(out, n.emit(nil, "remove", pp.text+"."+d.Name, nil, true)...)
				continue
			}
		}
		kept = append(kept, m)
	}
	val.members = kept
	return out
}

// assignsNothing reports whether the typed value val of the attribute leaf
// (nil: unknown) assigns nothing, so that a replace with it clears, and the
// rewrite that says why (none for a manager left without an id, which
// typeValue already reported).
func (n *normalizer) assignsNothing(leaf *attrDef, val *node) (Rewrite, bool) {
	switch {
	case val.kind == kindNull:
		// RFC 7643 §2.5: null is "unassigned".
		return RewriteNullRemove, true
	case val.isEmptyString() && (n.emptyClears || leaf != nil && leaf.Type == TypeComplex):
		// "" clears: universal on a complex attribute (Entra's manager ""),
		// dialect-gated on simple ones (see rules.emptyClears).
		return RewriteEmptyString, true
	case leaf == enterpriseManager() && val.kind == kindObject && len(val.members) == 0:
		return "", true
	}
	return "", false
}

// notePath records the rewrites parsing a path implied.
func (n *normalizer) notePath(pp parsedPath) bool {
	if !pp.changed {
		return false
	}
	if pp.legacyURN {
		n.rw.add(RewriteLegacyURN)
	}
	if pp.typedValue {
		n.rw.add(RewriteTypedBoolean)
	}
	if pp.quoted {
		n.rw.add(RewriteFilterQuoted)
	}
	if pp.recased {
		n.rw.add(RewriteAttrCase)
	}
	return true
}

// removeByValue turns {"op":"remove","path":"members","value":[{"value":"u1"},…]}
// into one {"op":"remove","path":"members[value eq \"u1\"]"} per element. A
// strict server would otherwise remove every member (RFC 7644 §3.5.2.2), so
// this runs for every client. Decision: the filtered remove is sent even
// when "u1" is not a member; upstreams treat a remove whose filter matches
// nothing as a no-op (DIALECTS.md, upstream contract), which keeps Entra's
// retries idempotent (R26).
func (n *normalizer) removeByValue(pp parsedPath, val *node) ([]*node, error) {
	elems := []*node{val}
	if val.kind == kindArray {
		elems = val.elems
	}
	if len(elems) == 0 {
		// Decision: there is no operation that removes nothing, and
		// forwarding a bare remove would empty the attribute.
		return nil, badRequest(InvalidValue, "remove on "+quoteToken([]byte(pp.text))+" with an empty value list")
	}
	out := make([]*node, 0, len(elems))
	for _, e := range elems {
		filter, ok := n.elementFilter(pp.attr, e)
		if !ok {
			return nil, badRequest(InvalidValue, "each value to remove from "+quoteToken([]byte(pp.text))+
				` needs a "value" and only simple, known sub-attributes`)
		}
		out = append(out, n.emit(nil, "remove", pp.text+"["+string(filter)+"]", nil, true)...)
	}
	n.rw.add(RewriteRemoveByValue)
	return out, nil
}

// elementFilter returns the value filter that matches the element e of the
// multi-valued attribute def: "value eq …", and every other sub-attribute e
// names, so that {"value":"a@x","type":"work"} does not also remove a home
// email with that address. Decision: on a list of references (members),
// the value is the referenced id and names the element alone; Entra's
// "$ref" and Okta's "display" are not compared. ok is false when e has no
// non-empty string value, or a sub-attribute that cannot be compared.
func (n *normalizer) elementFilter(def *attrDef, e *node) (filter []byte, ok bool) {
	refs := def.lookupSub("$ref") != nil
	if e.kind == kindObject && !refs {
		e, _ = n.typeValue(def, e, false)
	}
	v := e.get("value")
	if v == nil || v.kind != kindString || v.str == "" {
		return nil, false
	}
	filter = appendLiteral(append(filter, "value eq "...), v)
	if refs {
		return filter, true
	}
	for _, m := range e.members {
		if m.key == "value" {
			continue
		}
		if def.lookupSub(m.key) == nil || m.val.kind == kindObject || m.val.kind == kindArray {
			return nil, false
		}
		filter = appendLiteral(append(append(append(filter, " and "...), m.key...), " eq "...), m.val)
	}
	return filter, true
}

// appendLiteral appends a scalar as a filter literal: its own JSON text,
// which RFC 7644 §3.4.2.2 filters share.
func appendLiteral(dst []byte, v *node) []byte {
	switch {
	case v.raw != nil:
		return append(dst, v.raw...)
	case v.kind == kindString:
		return appendQuoted(dst, v.str)
	case v.kind == kindBool && v.boolean:
		return append(dst, "true"...)
	}
	return append(dst, "false"...)
}

// emit returns orig when unchanged, or a new {"op","path","value"} object.
func (n *normalizer) emit(orig *node, name, path string, val *node, changed bool) []*node {
	if !changed && orig != nil {
		return []*node{orig}
	}
	op := newObject(member{key: "op", val: newString(name)}, member{key: "path", val: newString(path)})
	if val != nil {
		op.members = append(op.members, member{key: "value", val: val})
	}
	return []*node{op}
}
