package scim

import "strings"

// typeValue brings a value into the shape its attribute definition says
// (def nil: an attribute we do not know). whole is true when v is the entire
// value of a multi-valued attribute rather than one of its elements. It
// returns the value to use and whether anything changed.
//
// Universal, because a strict server would reject the input and there is only
// one thing it can mean:
//   - "True"/"False"/"true"/"false" on a boolean attribute → JSON boolean;
//   - known (sub-)attribute names in other case → canonical case (RFC 7643
//     §2.1 makes them case-insensitive);
//   - null members of objects and null list elements → dropped (RFC 7643 §2.5:
//     null is unassigned);
//   - a one-element list on a single-valued attribute → the element (Entra's
//     legacy manager [{"$ref":…,"value":…}]; an older Microsoft library wrapped
//     scalars as [{"value":…}]);
//   - the enterprise manager as a bare string → {"value": string}.
func (n *normalizer) typeValue(def *attrDef, v *node, whole bool) (*node, bool) {
	switch {
	case def == nil:
		return v, n.dropNulls(v)
	case def.MultiValued && whole:
		if v.kind != kindArray {
			return v, false
		}
		changed := false
		kept := v.elems[:0]
		// Whether an element can lose its value depends on the attribute
		// only: look it up once, not once per member of a large group.
		defHasValue := def.lookupSub("value") != nil
		for _, e := range v.elems {
			if e.kind == kindNull {
				n.rw.add(RewriteNullDropped)
				changed = true
				continue
			}
			hadMembers := e.kind == kindObject && len(e.members) > 0
			hadValue := defHasValue && hadMembers && e.get("value") != nil
			e2, c := n.typeValue(def, e, false)
			changed = changed || c
			if hadMembers && e2.kind == kindObject && (len(e2.members) == 0 || hadValue && e2.get("value") == nil) {
				// Every sub-attribute was null or cleared, or the value
				// itself was: an email, phone number or member without its
				// value names none, whatever its type or primary flag say
				// (OneLogin's template for a user with no email mapped).
				// Kept, it would store an email without an address.
				n.rw.add(RewriteEmptyList)
				continue
			}
			kept = append(kept, e2)
		}
		v.elems = kept
		return v, changed
	}
	if v.kind == kindArray && len(v.elems) == 1 && !def.MultiValued {
		if inner, ok := unwrapSingle(def, v.elems[0]); ok {
			if def == enterpriseManager() {
				n.rw.add(RewriteManager)
			} else {
				n.rw.add(RewriteUnwrap)
			}
			v2, _ := n.typeValue(def, inner, false)
			return v2, true
		}
	}
	switch def.Type {
	case TypeBoolean:
		if v.kind == kindString && (strings.EqualFold(v.str, "true") || strings.EqualFold(v.str, "false")) {
			n.rw.add(RewriteTypedBoolean)
			return newBool(len(v.str) == 4), true
		}
	case TypeComplex:
		if v.kind == kindString && v.str != "" && def == enterpriseManager() {
			n.rw.add(RewriteManager)
			return newObject(member{key: "value", val: v}), true
		}
		if v.kind == kindObject {
			changed := n.typeMembers(def.sub, v)
			if def == enterpriseManager() && len(v.members) > 0 && !namesSomeone(v) {
				// a manager without an id or a $ref (OneLogin's template
				// with no manager mapped) names no one: it is unassigned
				n.rw.add(RewriteManager)
				v.members = nil
				changed = true
			}
			return v, changed
		}
	}
	return v, false
}

// typeMembers types each member of object v by the attribute table attrs,
// dropping nulls, and "" where the dialect says it clears.
func (n *normalizer) typeMembers(attrs map[string]*attrDef, v *node) bool {
	changed := false
	kept := v.members[:0]
	for i, m := range v.members {
		if m.val.kind == kindNull {
			n.rw.add(RewriteNullDropped)
			changed = true
			continue
		}
		if m.val.isEmptyString() && n.emptyClears {
			n.rw.add(RewriteEmptyString)
			changed = true
			continue
		}
		if d := lookupFold(attrs, m.key); d != nil {
			if m.key != d.Name && n.collides(v.members, i, d.Name) {
				kept = append(kept, m)
				continue
			}
			if m.key != d.Name {
				m.key, m.rawKey = d.Name, nil
				n.rw.add(RewriteAttrCase)
				changed = true
			}
			wasEmpty := isEmptyContainer(m.val)
			var c bool
			m.val, c = n.typeValue(d, m.val, true)
			changed = changed || c
			if !wasEmpty && isEmptyContainer(m.val) {
				n.rw.add(RewriteEmptyList)
				continue
			}
		} else if n.dropNulls(m.val) {
			changed = true
		}
		kept = append(kept, m)
	}
	v.members = kept
	return changed
}

// dropNulls removes null members and elements anywhere below v.
func (n *normalizer) dropNulls(v *node) bool {
	changed := false
	switch v.kind {
	case kindObject:
		kept := v.members[:0]
		for _, m := range v.members {
			if m.val.kind == kindNull {
				changed = true
				continue
			}
			changed = n.dropNulls(m.val) || changed
			kept = append(kept, m)
		}
		v.members = kept
	case kindArray:
		kept := v.elems[:0]
		for _, e := range v.elems {
			if e.kind == kindNull {
				changed = true
				continue
			}
			changed = n.dropNulls(e) || changed
			kept = append(kept, e)
		}
		v.elems = kept
	}
	if changed {
		n.rw.add(RewriteNullDropped)
	}
	return changed
}

// unwrapSingle returns what a one-element list on the single-valued attribute
// def stands for: the object itself for a complex attribute, the "value" of a
// {"value":…} wrapper for a simple one.
func unwrapSingle(def *attrDef, e *node) (*node, bool) {
	if def.Type == TypeComplex {
		return e, e.kind == kindObject
	}
	if e.kind != kindObject {
		return nil, false
	}
	var inner *node
	for _, m := range e.members {
		switch {
		case strings.EqualFold(m.key, "value"):
			inner = m.val
		case strings.EqualFold(m.key, "$ref"), strings.EqualFold(m.key, "display"):
		default:
			return nil, false
		}
	}
	return inner, inner != nil && inner.kind != kindObject && inner.kind != kindArray
}

// namesSomeone reports whether a typed manager object identifies a user:
// by its id, or by its $ref alone (RFC 7643 §4.3 makes both optional).
func namesSomeone(manager *node) bool {
	id, ref := manager.get("value"), manager.get("$ref")
	return id != nil && !id.isEmptyString() || ref != nil && !ref.isEmptyString()
}

func enterpriseManager() *attrDef { return index.enterprise["manager"] }
