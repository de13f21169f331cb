package scim

import (
	"encoding/json"
	"strings"
)

// Expr is a node of a parsed filter (RFC 7644 §3.4.2.2): *Compare, *ValuePath,
// *Logical or *Not.
type Expr interface{ filterExpr() }

// AttrPath is an attribute path, in filters and in PATCH "path" values:
// [URN ":"] Name ["[" Filter "]"] ["." Sub]. Known names are in canonical case.
// A PATCH path may be a bare schema URN, with Name "".
type AttrPath struct {
	URN    string // schema qualifier; "" when unqualified
	Name   string
	Filter Expr // value filter; nil when absent
	Sub    string
}

// Compare is "Path Op Value", or "Path pr" (Value is then the zero Literal).
type Compare struct {
	Path  AttrPath
	Op    string // eq ne co sw ew gt lt ge le pr
	Value Literal
}

// ValuePath is a bare value filter such as emails[type eq "work"]: true when
// some value of Path.Name matches Path.Filter.
type ValuePath struct{ Path AttrPath }

// Logical joins two filters with "and" or "or".
type Logical struct {
	Op          string
	Left, Right Expr
}

// Not negates a filter.
type Not struct{ X Expr }

func (*Compare) filterExpr()   {}
func (*ValuePath) filterExpr() {}
func (*Logical) filterExpr()   {}
func (*Not) filterExpr()       {}

// Literal is a comparison value as JSON text: a string, number, true, false
// or null.
type Literal struct{ Raw string }

// Value decodes the literal into a string, float64, bool or nil.
func (l Literal) Value() any {
	var v any
	if json.Unmarshal([]byte(l.Raw), &v) != nil {
		return nil
	}
	return v
}

// ParseFilter parses a filter. Operators, keywords, literals and the names of
// known attributes are accepted in any case and returned in canonical case.
// Errors are *Error with scimType invalidFilter.
func ParseFilter(s string) (Expr, error) {
	p := filterParser{src: []byte(s), build: true}
	e := p.parse()
	if p.err != nil {
		return nil, p.err
	}
	return e, nil
}

// CanonicalFilter returns s with operators, keywords and literals in lower
// case, known attribute names and schema URNs in canonical case, and string
// values compared with boolean attributes typed ("True" → true). Everything
// else, including every other value and all spacing, is kept byte for byte.
func CanonicalFilter(s string) (string, error) {
	out, _, err := canonicalFilter([]byte(s), "", false)
	if err != nil || out == nil {
		return s, err
	}
	return string(out), nil
}

// filterChanges says which kinds of edit canonicalisation made.
type filterChanges struct{ legacyURN, typedValue, quoted, recased bool }

// canonicalFilter returns the canonical text, or nil when src already is.
func canonicalFilter(src []byte, res Resource, quoteBare bool) ([]byte, filterChanges, error) {
	p := filterParser{src: src, res: res, quoteBare: quoteBare}
	p.parse()
	if p.err != nil {
		return nil, filterChanges{}, p.err
	}
	if len(p.edits) == 0 {
		return nil, filterChanges{}, nil
	}
	return p.apply(), filterChanges{p.legacyURN, p.typedValue, p.quoted, p.recased}, nil
}

// ParsePath parses a PATCH operation path (RFC 7644 §3.5.2: attrPath, or
// valuePath with an optional sub-attribute) with the same canonicalisation as
// ParseFilter. Errors are *Error with scimType invalidPath.
func ParsePath(s string) (AttrPath, error) {
	pp, err := parsePath(s, "", false)
	return pp.AttrPath, err
}

// CanonicalPath returns a PATCH path with the canonicalisation of
// CanonicalFilter applied to it (see ParsePath).
func CanonicalPath(s string) (string, error) {
	pp, err := parsePath(s, "", false)
	if err != nil {
		return "", err
	}
	return pp.text, nil
}

// parsedPath is a PATCH path with the schema knowledge the normalizer needs.
type parsedPath struct {
	AttrPath
	text       string   // canonical text
	changed    bool     // text differs from the input
	legacyURN  bool     // a legacy URN was replaced
	typedValue bool     // a string compared with a boolean became a boolean
	quoted     bool     // an unquoted value was quoted
	recased    bool     // something changed case
	attr       *attrDef // definition of Name; nil when unknown
	leaf       *attrDef // definition of Sub, or attr when there is no Sub
}

func parsePath(s string, res Resource, quoteBare bool) (parsedPath, error) {
	p := filterParser{src: []byte(s), res: res, build: true, quoteBare: quoteBare, allowURN: true}
	p.advance()
	var pp parsedPath
	if p.tok.kind != tokWord {
		p.fail("path must start with an attribute name")
	} else {
		pp.AttrPath, pp.attr, pp.leaf, _ = p.attrPath(nil)
	}
	if p.err == nil && p.tok.kind != tokEOF {
		p.fail("unexpected text after the path")
	}
	if p.err != nil {
		return parsedPath{}, p.err
	}
	pp.text, pp.changed = s, len(p.edits) > 0
	if pp.changed {
		pp.text = string(p.apply())
	}
	pp.legacyURN, pp.typedValue, pp.quoted, pp.recased = p.legacyURN, p.typedValue, p.quoted, p.recased
	return pp, nil
}

// filterParser is a recursive-descent parser that records the canonical
// spelling of each token as an edit of the source. Without build it allocates
// nothing unless an edit is needed, which keeps the common "already canonical"
// query cheap.
type filterParser struct {
	src        []byte
	pos        int
	tok        token
	build      bool
	res        Resource // endpoint, for core URNs that lack the resource name
	quoteBare  bool     // an unquoted value is a string (Entra's legacy job) instead of an error
	allowURN   bool     // parsing a PATCH path: a bare schema URN is valid, errors are invalidPath
	depth      int
	edits      []edit
	err        *Error
	legacyURN  bool // a legacy schema URN was replaced
	typedValue bool // a string compared with a boolean attribute became a boolean
	quoted     bool // an unquoted value was quoted
	recased    bool // a keyword, operator, literal, attribute name or URN changed case
}

type edit struct {
	start, end int
	text       string
}

type tokKind uint8

const (
	tokEOF tokKind = iota
	tokWord
	tokString
	tokLParen
	tokRParen
	tokLBracket
	tokRBracket
)

type token struct {
	kind       tokKind
	start, end int
}

const maxFilterDepth = 32

func (p *filterParser) text(t token) []byte { return p.src[t.start:t.end] }

func (p *filterParser) fail(detail string) {
	if p.err == nil {
		scimType := InvalidFilter
		if p.allowURN {
			scimType = InvalidPath
		}
		p.err = badRequest(scimType, detail)
	}
}

// edit records text as the canonical spelling of t, reporting whether it
// differs.
func (p *filterParser) edit(t token, text string) bool {
	if string(p.text(t)) == text {
		return false
	}
	p.edits = append(p.edits, edit{t.start, t.end, text})
	return true
}

// recase records a change of case only.
func (p *filterParser) recase(t token, text string) {
	if p.edit(t, text) {
		p.recased = true
	}
}

func (p *filterParser) apply() []byte {
	out := make([]byte, 0, len(p.src)+8)
	last := 0
	for _, e := range p.edits {
		out = append(out, p.src[last:e.start]...)
		out = append(out, e.text...)
		last = e.end
	}
	return append(out, p.src[last:]...)
}

func (p *filterParser) advance() {
	for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t') {
		p.pos++
	}
	start := p.pos
	if p.pos >= len(p.src) {
		p.tok = token{tokEOF, start, start}
		return
	}
	switch c := p.src[p.pos]; c {
	case '(', ')', '[', ']':
		p.pos++
		k := tokLParen
		switch c {
		case ')':
			k = tokRParen
		case '[':
			k = tokLBracket
		case ']':
			k = tokRBracket
		}
		p.tok = token{k, start, p.pos}
	case '"':
		p.pos++
		for p.pos < len(p.src) {
			switch p.src[p.pos] {
			case '\\':
				p.pos += 2
				continue
			case '"':
				p.pos++
				p.tok = token{tokString, start, p.pos}
				if !json.Valid(p.src[start:p.pos]) {
					p.fail("invalid string literal")
				}
				return
			}
			p.pos++
		}
		p.tok = token{tokEOF, start, start}
		p.fail("unterminated string literal")
	default:
		for p.pos < len(p.src) && strings.IndexByte(" \t()[]\"", p.src[p.pos]) < 0 {
			p.pos++
		}
		p.tok = token{tokWord, start, p.pos}
	}
}

// isWord reports whether the current token is the keyword kw in any case.
func (p *filterParser) isWord(kw string) bool {
	return p.tok.kind == tokWord && strings.EqualFold(string(p.text(p.tok)), kw)
}

func (p *filterParser) expect(k tokKind, what string) {
	if p.tok.kind != k {
		p.fail("expected " + what)
		return
	}
	p.advance()
}

func (p *filterParser) parse() Expr {
	p.advance()
	e := p.or(nil)
	if p.err == nil && p.tok.kind != tokEOF {
		p.fail("unexpected " + quoteToken(p.text(p.tok)))
	}
	return e
}

func quoteToken(b []byte) string {
	if len(b) > 40 {
		b = b[:40]
	}
	return `"` + string(b) + `"`
}

// or, and and unary implement the precedence not > and > or. parent is the
// multi-valued attribute whose brackets we are inside, or nil.
func (p *filterParser) or(parent *attrDef) Expr {
	left := p.and(parent)
	for p.err == nil && p.isWord("or") {
		p.recase(p.tok, "or")
		p.advance()
		right := p.and(parent)
		if p.build && p.err == nil {
			left = &Logical{Op: "or", Left: left, Right: right}
		}
	}
	return left
}

func (p *filterParser) and(parent *attrDef) Expr {
	left := p.unary(parent)
	for p.err == nil && p.isWord("and") {
		p.recase(p.tok, "and")
		p.advance()
		right := p.unary(parent)
		if p.build && p.err == nil {
			left = &Logical{Op: "and", Left: left, Right: right}
		}
	}
	return left
}

func (p *filterParser) unary(parent *attrDef) Expr {
	if p.err != nil {
		return nil
	}
	if p.depth++; p.depth > maxFilterDepth {
		p.fail("filter nests too deeply")
		return nil
	}
	defer func() { p.depth-- }()
	switch {
	case p.tok.kind == tokLParen:
		p.advance()
		e := p.or(parent)
		p.expect(tokRParen, `")"`)
		return e
	case p.isWord("not") && p.peekKind() == tokLParen:
		p.recase(p.tok, "not")
		p.advance()
		p.advance()
		e := p.or(parent)
		p.expect(tokRParen, `")"`)
		if p.build && p.err == nil {
			return &Not{X: e}
		}
		return nil
	case p.tok.kind == tokWord:
		return p.attrExpr(parent)
	}
	p.fail("expected an attribute name")
	return nil
}

func (p *filterParser) peekKind() tokKind {
	saved, savedTok := p.pos, p.tok
	p.advance()
	k := p.tok.kind
	p.pos, p.tok = saved, savedTok
	return k
}

var compareOps = [...]string{"eq", "ne", "co", "sw", "ew", "gt", "lt", "ge", "le", "pr"}

func (p *filterParser) attrExpr(parent *attrDef) Expr {
	path, _, leaf, valueFilter := p.attrPath(parent)
	if p.err != nil {
		return nil
	}
	op := ""
	if p.tok.kind == tokWord {
		for _, o := range compareOps {
			if p.isWord(o) {
				op = o
				break
			}
		}
	}
	if op == "" {
		if valueFilter {
			if p.build {
				return &ValuePath{Path: path}
			}
			return nil
		}
		p.fail("expected a comparison operator after " + quoteToken([]byte(path.Name)))
		return nil
	}
	p.recase(p.tok, op)
	p.advance()
	var lit Literal
	if op != "pr" {
		lit = p.literal(leaf)
	}
	if p.build && p.err == nil {
		return &Compare{Path: path, Op: op, Value: lit}
	}
	return nil
}

// separated returns word as the replacement of the quoted token t with the
// spaces a bare word needs: a quote delimits itself (`eq"True"and`), a word
// does not (`eq true and`).
func (p *filterParser) separated(t token, word string) string {
	if t.start > 0 && !isFilterDelim(p.src[t.start-1]) {
		word = " " + word
	}
	if t.end < len(p.src) && !isFilterDelim(p.src[t.end]) {
		word += " "
	}
	return word
}

func isFilterDelim(c byte) bool {
	return c == ' ' || c == '\t' || c == '(' || c == ')' || c == '[' || c == ']'
}

// literal reads a comparison value. leaf is the compared attribute, used to
// type "True"/"False" strings when it is boolean.
func (p *filterParser) literal(leaf *attrDef) Literal {
	t := p.tok
	raw := p.text(t)
	// canon is the literal's canonical text, replacement the source edit
	// that writes it: canon with the spaces a bare word needs where a
	// quote had delimited itself (`eq"True"` → `eq true`).
	canon, replacement := "", ""
	switch t.kind {
	case tokString:
		if leaf != nil && leaf.Type == TypeBoolean {
			var s string
			if json.Unmarshal(raw, &s) == nil {
				for _, b := range [...]string{"true", "false"} {
					if strings.EqualFold(s, b) {
						canon, replacement = b, p.separated(t, b)
						p.typedValue = true
					}
				}
			}
		}
	case tokWord:
		for _, kw := range [...]string{"true", "false", "null"} {
			if strings.EqualFold(string(raw), kw) {
				canon = kw
				p.recased = p.recased || string(raw) != kw
			}
		}
		switch {
		case canon != "":
		case (raw[0] == '-' || '0' <= raw[0] && raw[0] <= '9') && json.Valid(raw):
			// a JSON number
		case p.quoteBare:
			canon = string(appendQuoted(nil, string(raw)))
			p.quoted = true
		default:
			p.fail("comparison value " + quoteToken(raw) + " must be a quoted string, a number, true, false or null")
			return Literal{}
		}
	default:
		p.fail("expected a comparison value")
		return Literal{}
	}
	if replacement == "" {
		replacement = canon
	}
	if replacement != "" {
		p.edit(t, replacement)
	}
	p.advance()
	if !p.build {
		return Literal{}
	}
	if canon != "" {
		return Literal{Raw: canon}
	}
	return Literal{Raw: string(raw)}
}

// attrPath reads [URN ":"] name ["." sub], and outside brackets an optional
// "[" valFilter "]" ["." sub]. It returns the path, the definitions of its
// attribute and of the attribute its value compares with, and whether it is
// a bare value filter (brackets without a sub-attribute after them).
func (p *filterParser) attrPath(parent *attrDef) (path AttrPath, attr, leaf *attrDef, valueFilter bool) {
	word := p.tok
	raw := p.text(word)
	urnText, rest := []byte(nil), raw
	canonURN, dotted := "", false
	if len(raw) > 4 && strings.EqualFold(string(raw[:4]), "urn:") {
		if u, class := canonicalURN(string(raw), p.res); class == urnKnown || class == urnLegacy {
			// the whole word is a schema URN
			if !p.allowURN || parent != nil {
				p.fail("a filter compares attributes, not a schema")
				return
			}
			p.noteURN(class)
			if p.edit(word, u) && class == urnKnown {
				p.recased = true
			}
			p.advance()
			if p.build {
				path.URN = u
			}
			return path, nil, nil, false
		}
		i := strings.LastIndexByte(string(raw), ':')
		if j := dottedURN(raw); j > 0 {
			// Entra's customappsso job before 2018, and one downgraded to
			// it, writes "URN.attribute" (entra.md §5): split at the dot,
			// not inside the URN, and spell it with a colon.
			i, dotted = j, true
			p.legacyURN = true
		}
		urnText, rest = raw[:i], raw[i+1:]
		u, class := canonicalURN(string(urnText), p.res)
		p.noteURN(class)
		canonURN = u
		p.recased = p.recased || class == urnKnown && u != string(urnText)
	}
	name, sub := rest, []byte(nil)
	if i := strings.IndexByte(string(rest), '.'); i >= 0 {
		name, sub = rest[:i], rest[i+1:]
	}
	if !validAttrName(name) || sub != nil && !validAttrName(sub) {
		p.fail("invalid attribute path " + quoteToken(raw))
		return
	}
	if parent != nil && urnText == nil {
		attr = parent.lookupSub(string(name))
	} else {
		attr = lookupAttr(canonURN, string(name))
	}
	subAttr := attr.lookupSub(string(sub))
	var canonName, canonSub string
	if attr != nil {
		canonName = attr.Name
	} else {
		canonName = string(name)
	}
	if subAttr != nil {
		canonSub = subAttr.Name
	} else if sub != nil {
		canonSub = string(sub)
	}
	if string(name) != canonName || string(sub) != canonSub {
		p.recased = true
	}
	if dotted || string(urnText) != canonURN || string(name) != canonName || string(sub) != canonSub {
		text := canonName
		if urnText != nil {
			text = canonURN + ":" + text
		}
		if sub != nil {
			text += "." + canonSub
		}
		p.edit(word, text)
	}
	if p.build {
		path = AttrPath{URN: canonURN, Name: canonName, Sub: canonSub}
	}
	leaf = attr
	if sub != nil {
		leaf = subAttr
	}
	p.advance()
	if p.tok.kind != tokLBracket || parent != nil || sub != nil || p.tok.start != word.end {
		return path, attr, leaf, false
	}
	p.advance()
	f := p.or(attrOrPlaceholder(attr))
	if p.err != nil {
		return
	}
	if p.tok.kind != tokRBracket {
		p.fail(`expected "]"`)
		return
	}
	closeEnd := p.tok.end
	p.advance()
	if p.build {
		path.Filter = f
	}
	leaf = attr
	if p.tok.kind == tokWord && p.tok.start == closeEnd && p.src[p.tok.start] == '.' {
		subTok := p.tok
		sub = p.text(subTok)[1:]
		if !validAttrName(sub) {
			p.fail("invalid sub-attribute " + quoteToken(sub))
			return
		}
		leaf = attr.lookupSub(string(sub))
		canonSub = string(sub)
		if leaf != nil {
			canonSub = leaf.Name
		}
		p.recase(token{tokWord, subTok.start + 1, subTok.end}, canonSub)
		if p.build {
			path.Sub = canonSub
		}
		p.advance()
		return path, attr, leaf, false
	}
	return path, attr, leaf, true
}

// dottedURN returns the length of the schema URN that raw starts with when
// a "." follows it instead of ":", or 0.
func dottedURN(raw []byte) int {
	for _, u := range [...]string{URNUser, URNGroup, URNEnterpriseUser} {
		if len(raw) > len(u) && raw[len(u)] == '.' && strings.EqualFold(string(raw[:len(u)]), u) {
			return len(u)
		}
	}
	return 0
}

// attrOrPlaceholder keeps the bracket context non-nil for unknown attributes,
// so that names inside the brackets are read as sub-attributes either way.
func attrOrPlaceholder(d *attrDef) *attrDef {
	if d != nil {
		return d
	}
	return &attrDef{}
}

func (p *filterParser) noteURN(class urnClass) {
	if class == urnLegacy {
		p.legacyURN = true
	}
}

// validAttrName checks ATTRNAME = ALPHA *(nameChar) of RFC 7644, plus "$ref".
func validAttrName(b []byte) bool {
	if string(b) == "$ref" {
		return true
	}
	if len(b) == 0 || !isAlpha(b[0]) {
		return false
	}
	for _, c := range b[1:] {
		if !isAlpha(c) && (c < '0' || c > '9') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }
