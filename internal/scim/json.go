package scim

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// node is an order-preserving JSON tree. encoding/json's maps would lose the
// member order IdPs wrote, and re-encoding every scalar would change bytes the
// normalizer never meant to touch, so scalars keep their source text and are
// written back verbatim unless a rewrite replaced them.
type node struct {
	kind    kind
	raw     []byte // source text of a scalar; nil for synthesised scalars
	str     string // decoded value of a string
	boolean bool
	elems   []*node
	members []member
}

type member struct {
	key    string
	rawKey []byte // source text of the key; nil once renamed
	val    *node
}

type kind uint8

const (
	kindNull kind = iota
	kindBool
	kindNumber
	kindString
	kindArray
	kindObject
)

// parseJSON parses a JSON document; it refuses exactly what json.Valid
// refuses (FuzzParseJSON checks), nesting deeper than encoding/json's limit
// included, so callers need not validate first.
func parseJSON(data []byte) (*node, bool) {
	p := jsonParser{jsonCursor: jsonCursor{data: data}, slabSize: len(data)/24 + 8,
		memberStack: make([]member, 0, 32), elemStack: make([]*node, 0, 16)}
	n, ok := p.value()
	if !ok {
		return nil, false
	}
	p.space()
	return n, p.pos == len(p.data)
}

// jsonParser builds a tree with a handful of allocations whatever the size
// of the document: nodes, object members and array elements are carved
// from slabs sized after the document, and the members and elements of an
// object or array being parsed wait on a stack until its end, when their
// number is known.
type jsonParser struct {
	jsonCursor
	depth    int // of the objects and arrays being parsed
	slabSize int // nodes per slab: about one per 24 bytes of document
	nodes    []node
	members  []member // slab
	elems    []*node  // slab
	// Pending members and elements of the objects and arrays being parsed,
	// innermost last.
	memberStack []member
	elemStack   []*node
}

func (p *jsonParser) alloc(n node) *node {
	if len(p.nodes) == cap(p.nodes) {
		p.nodes = make([]node, 0, p.slabSize)
	}
	p.nodes = append(p.nodes, n)
	return &p.nodes[len(p.nodes)-1]
}

// carve returns a slice of exactly n free places of *slab, so that an
// append to it copies instead of overwriting a neighbour.
func carve[T any](slab *[]T, n, size int) []T {
	if cap(*slab)-len(*slab) < n {
		*slab = make([]T, 0, max(n, size))
	}
	start := len(*slab)
	*slab = (*slab)[:start+n]
	return (*slab)[start : start+n : start+n]
}

// popMembers moves the members pending above base into the slab.
func (p *jsonParser) popMembers(base int) []member {
	if len(p.memberStack) == base {
		return nil
	}
	out := carve(&p.members, len(p.memberStack)-base, p.slabSize)
	copy(out, p.memberStack[base:])
	p.memberStack = p.memberStack[:base]
	return out
}

// popElems moves the elements pending above base into the slab.
func (p *jsonParser) popElems(base int) []*node {
	if len(p.elemStack) == base {
		return nil
	}
	out := carve(&p.elems, len(p.elemStack)-base, p.slabSize/2)
	copy(out, p.elemStack[base:])
	p.elemStack = p.elemStack[:base]
	return out
}

func (p *jsonParser) value() (*node, bool) {
	p.space()
	if p.pos >= len(p.data) {
		return nil, false
	}
	switch c := p.data[p.pos]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		raw, s, ok := p.string()
		if !ok {
			return nil, false
		}
		return p.alloc(node{kind: kindString, raw: raw, str: s}), true
	case c == 't':
		return p.literal("true", kindBool)
	case c == 'f':
		return p.literal("false", kindBool)
	case c == 'n':
		return p.literal("null", kindNull)
	default:
		start := p.pos
		if !p.number() {
			return nil, false
		}
		return p.alloc(node{kind: kindNumber, raw: p.data[start:p.pos]}), true
	}
}

// maxDepth is encoding/json's nesting limit.
const maxDepth = 10000

func (p *jsonParser) enter() bool {
	p.depth++
	return p.depth <= maxDepth
}

func (p *jsonParser) literal(lit string, k kind) (*node, bool) {
	start := p.pos
	if !p.skipLiteral(lit) {
		return nil, false
	}
	return p.alloc(node{kind: k, raw: p.data[start:p.pos], boolean: lit == "true"}), true
}

func (p *jsonParser) string() (raw []byte, s string, ok bool) {
	start := p.pos
	p.pos++ // opening quote
	escaped := false
	for p.pos < len(p.data) {
		p.plainString()
		if p.pos == len(p.data) {
			break
		}
		switch p.data[p.pos] {
		case '\\':
			escaped = true
			p.pos += 2
			continue
		case '"':
			p.pos++
			raw = p.data[start:p.pos]
			if !escaped {
				inner := raw[1 : len(raw)-1]
				if s, ok := interned[string(inner)]; ok {
					return raw, s, true
				}
				return raw, string(inner), true
			}
			// A variable of its own: taking the result's address would
			// move it to the heap on every call, escaped or not.
			var unescaped string
			if err := json.Unmarshal(raw, &unescaped); err != nil {
				return nil, "", false
			}
			return raw, unescaped, true
		default:
			if p.data[p.pos] < 0x20 {
				return nil, "", false // control characters must be escaped
			}
		}
		p.pos++
	}
	return nil, "", false
}

func (p *jsonParser) array() (*node, bool) {
	if !p.enter() {
		return nil, false
	}
	defer func() { p.depth-- }()
	p.pos++
	n := p.alloc(node{kind: kindArray})
	p.space()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		return n, true
	}
	base := len(p.elemStack)
	for {
		v, ok := p.value()
		if !ok {
			return nil, false
		}
		p.elemStack = append(p.elemStack, v)
		p.space()
		if p.pos >= len(p.data) {
			return nil, false
		}
		c := p.data[p.pos]
		p.pos++
		if c == ']' {
			n.elems = p.popElems(base)
			return n, true
		}
		if c != ',' {
			return nil, false
		}
	}
}

func (p *jsonParser) object() (*node, bool) {
	if !p.enter() {
		return nil, false
	}
	defer func() { p.depth-- }()
	p.pos++
	n := p.alloc(node{kind: kindObject})
	p.space()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		return n, true
	}
	base := len(p.memberStack)
	for {
		p.space()
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return nil, false
		}
		raw, key, ok := p.string()
		if !ok {
			return nil, false
		}
		p.space()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return nil, false
		}
		p.pos++
		v, ok := p.value()
		if !ok {
			return nil, false
		}
		p.memberStack = append(p.memberStack, member{key: key, rawKey: raw, val: v})
		p.space()
		if p.pos >= len(p.data) {
			return nil, false
		}
		c := p.data[p.pos]
		p.pos++
		if c == '}' {
			n.members = p.popMembers(base)
			return n, true
		}
		if c != ',' {
			return nil, false
		}
	}
}

// interned holds the keys and values that fill most SCIM bodies, so that
// decoding them allocates nothing. It is built once and never modified.
var interned = func() map[string]string {
	m := map[string]string{}
	add := func(s string) { m[s] = s }
	for _, s := range []string{"op", "path", "value", "add", "remove", "replace", "Add", "Remove", "Replace",
		"schemas", "Operations", "Resources", "totalResults", "startIndex", "itemsPerPage", "work", "home", "mobile", "other",
		URNPatchOp, URNListResponse, URNError, "true", "false", "True", "False"} {
		add(s)
	}
	var walk func([]Attribute)
	walk = func(list []Attribute) {
		for _, a := range list {
			add(a.Name)
			walk(a.Sub)
		}
	}
	for _, s := range Schemas() {
		add(s.ID)
		walk(s.Attributes)
	}
	return m
}()

func newString(s string) *node { return &node{kind: kindString, str: s} }
func newBool(b bool) *node     { return &node{kind: kindBool, boolean: b} }
func newObject(members ...member) *node {
	return &node{kind: kindObject, members: members}
}

// field returns the index of the member whose key equals name ignoring case
// (SCIM attribute names are case-insensitive, RFC 7643 §2.1), or -1.
func (n *node) field(name string) int {
	for i := range n.members {
		if strings.EqualFold(n.members[i].key, name) {
			return i
		}
	}
	return -1
}

func (n *node) get(name string) *node {
	if n == nil || n.kind != kindObject {
		return nil
	}
	if i := n.field(name); i >= 0 {
		return n.members[i].val
	}
	return nil
}

// rename sets member i's key, reporting whether it differed.
func (n *node) rename(i int, key string) bool {
	if n.members[i].key == key {
		return false
	}
	n.members[i].key, n.members[i].rawKey = key, nil
	return true
}

func (n *node) remove(i int) {
	n.members = append(n.members[:i], n.members[i+1:]...)
}

func (n *node) isEmptyString() bool { return n.kind == kindString && n.str == "" }

// appendJSON writes n compactly; untouched scalars and keys are copied from the
// source.
func appendJSON(dst []byte, n *node) []byte {
	switch n.kind {
	case kindObject:
		dst = append(dst, '{')
		for i, m := range n.members {
			if i > 0 {
				dst = append(dst, ',')
			}
			if m.rawKey != nil {
				dst = append(dst, m.rawKey...)
			} else {
				dst = appendQuoted(dst, m.key)
			}
			dst = append(dst, ':')
			dst = appendJSON(dst, m.val)
		}
		return append(dst, '}')
	case kindArray:
		dst = append(dst, '[')
		for i, e := range n.elems {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSON(dst, e)
		}
		return append(dst, ']')
	}
	if n.raw != nil {
		return append(dst, n.raw...)
	}
	switch n.kind {
	case kindString:
		return appendQuoted(dst, n.str)
	case kindBool:
		if n.boolean {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	}
	return append(dst, "null"...)
}

// appendQuoted writes s as a JSON string. Unlike encoding/json it does not
// escape <, > and &, which keeps filter paths readable in logs.
func appendQuoted(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		case c < utf8.RuneSelf:
			dst = append(dst, c)
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, `\ufffd`...)
			} else {
				dst = append(dst, s[i:i+size]...)
			}
			i += size
			continue
		}
		i++
	}
	return append(dst, '"')
}

// jsonCursor is a position in a JSON document, with the scanning that
// parseJSON and the canonical scan share.
type jsonCursor struct {
	data []byte
	pos  int
}

func (c *jsonCursor) space() {
	for c.pos < len(c.data) {
		switch c.data[c.pos] {
		case ' ', '\t', '\n', '\r':
			c.pos++
		default:
			return
		}
	}
}

// plainString advances over string content that needs no attention:
// bytes other than '"', '\\' and control characters. It looks at eight
// bytes at a time while none of them is one of those, then byte by byte:
// the strings of a SCIM answer (URNs, ids, URLs) are most of its bytes.
func (c *jsonCursor) plainString() {
	data, i := c.data, c.pos
	for ; i+8 <= len(data); i += 8 {
		if stringSpecialIn(binary.LittleEndian.Uint64(data[i:])) {
			break
		}
	}
	for i < len(data) && !stringSpecial[data[i]] {
		i++
	}
	c.pos = i
}

// stringSpecialIn reports whether any of the eight bytes of x is '"', '\\'
// or below 0x20, with the exact word tests of "Bit Twiddling Hacks": for a
// word v, (v - 0x01…01) &^ v has a byte's high bit set for some byte only if
// v has a zero byte (haszero), and (v - 0x20…20) &^ v only if v has a byte
// below 0x20 (hasless). A byte of 0x80 or more never passes either.
func stringSpecialIn(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	quote, backslash := x^(ones*'"'), x^(ones*'\\')
	return ((x-ones*0x20)&^x|(quote-ones)&^quote|(backslash-ones)&^backslash)&highs != 0
}

// stringSpecial marks the bytes that end a run of plain string content.
var stringSpecial = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// peek is the next byte, or 0 at the end.
func (c *jsonCursor) peek() byte {
	if c.pos < len(c.data) {
		return c.data[c.pos]
	}
	return 0
}

// number reads -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? (RFC 8259 §6).
func (c *jsonCursor) number() bool {
	if c.peek() == '-' {
		c.pos++
	}
	switch b := c.peek(); {
	case b == '0':
		c.pos++
	case '1' <= b && b <= '9':
		c.digits()
	default:
		return false
	}
	if c.peek() == '.' {
		c.pos++
		if !c.digits() {
			return false
		}
	}
	if b := c.peek(); b == 'e' || b == 'E' {
		c.pos++
		if b := c.peek(); b == '+' || b == '-' {
			c.pos++
		}
		if !c.digits() {
			return false
		}
	}
	return true
}

// digits reads one or more decimal digits.
func (c *jsonCursor) digits() bool {
	start := c.pos
	for c.pos < len(c.data) && '0' <= c.data[c.pos] && c.data[c.pos] <= '9' {
		c.pos++
	}
	return c.pos > start
}

// skipLiteral reads lit (true, false, null) if it comes next.
func (c *jsonCursor) skipLiteral(lit string) bool {
	if !bytes.HasPrefix(c.data[c.pos:], []byte(lit)) {
		return false
	}
	c.pos += len(lit)
	return true
}
