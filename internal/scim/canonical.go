package scim

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// canonicalSuccessBody reports whether successBody would return body as it
// is, with no rewrite, and body is valid JSON. It is successBody's fast path:
// one pass over the bytes, no tree, no allocation. It is conservative: false
// means "not known", and the full normalizer decides. What it checks mirrors
// successBody, returned, typeMembers and typeValue:
//
//   - anywhere in the document: no null; no key that is a known attribute
//     name (or schemas, Resources, a paging field) in other than its
//     canonical case; no password; no key in other than plain ASCII; no
//     array under a single-valued attribute name; no string that could fold
//     to "true" or "false"; a manager object names a value and is not a
//     string; a "urn:" key needs no renaming;
//   - on a ListResponse: Resources and the paging fields once each, the
//     paging fields integers already;
//   - on each resource: its schemas already canonical, without duplicates,
//     the endpoint's core URN among them.
//
// Those checks ignore where in the document a key sits, so they refuse more
// than the normalizer rewrites, never less; TestCanonicalSuccessBody and
// FuzzCanonicalSuccessBody hold it to successBody.
func canonicalSuccessBody(res Resource, rawQuery string, body []byte) bool {
	if res != Users && res != Groups || res == Groups && excludesMembers(rawQuery) {
		return false
	}
	s := canonicalScan{jsonCursor: jsonCursor{data: body}, res: res}
	s.space()
	if s.peek() != '{' {
		return false
	}
	var root objectFacts
	if !s.object(placeRoot, &root) {
		return false
	}
	s.space()
	if s.pos != len(s.data) {
		return false
	}
	if root.resources > 0 || root.listURN {
		// successBody's list branch: the root's own schemas are only read.
		return root.pagingOK
	}
	return root.schemasOK
}

// canonicalScan is one pass of canonicalSuccessBody over a document.
type canonicalScan struct {
	jsonCursor
	depth int
	res   Resource
}

// maxCanonicalDepth bounds the nesting the fast path follows; deeper
// documents go to the full normalizer.
const maxCanonicalDepth = 64

// place is where an object sits, as far as successBody treats it apart.
type place uint8

const (
	placeOther    place = iota
	placeRoot           // the document: a resource, or a ListResponse
	placeResource       // an element of the root's Resources
)

// objectFacts is what the scan of one object learned.
type objectFacts struct {
	schemas   int  // members named schemas in any case
	schemasOK bool // its schemas need no rewrite as a resource's
	listURN   bool // its schemas name the ListResponse
	// Only on the root:
	resources int // members named Resources in any case
	paging    [3]int
	pagingOK  bool // the paging fields are integers already
	// For managers:
	members    int
	values     int  // members named value
	valueEmpty bool // the first of them is ""
}

// keyInfo is what the fast path knows of a member name, by its lower case.
type keyInfo struct {
	canonical string // the only spelling that is not rewritten; "" if several
	single    bool   // a single-valued attribute somewhere: an array would be unwrapped
	role      keyRole
}

type keyRole uint8

const (
	roleAttribute keyRole = iota
	rolePassword
	roleManager
	roleSchemas
	roleResources
	roleValue
	rolePaging // rolePaging+0..2: totalResults, startIndex, itemsPerPage
)

var pagingFields = [...]string{"totalResults", "startIndex", "itemsPerPage"}

// canonicalKeys holds every attribute name of the schemas the normalizer
// types, at any depth, and the member names successBody reads. It is built
// once and never modified.
var canonicalKeys = func() map[string]keyInfo {
	m := map[string]keyInfo{}
	add := func(name string, single bool, role keyRole) {
		lower := strings.ToLower(name)
		k, seen := m[lower]
		if !seen {
			k.canonical = name
		} else if k.canonical != name {
			k.canonical = ""
		}
		k.single = k.single || single
		if role != roleAttribute {
			k.role = role
		}
		m[lower] = k
	}
	var walk func([]Attribute)
	walk = func(list []Attribute) {
		for _, a := range list {
			add(a.Name, !a.MultiValued, roleAttribute)
			walk(a.Sub)
		}
	}
	for _, s := range Schemas() {
		walk(s.Attributes)
	}
	add("password", false, rolePassword)
	add("manager", false, roleManager)
	add("value", false, roleValue)
	add("schemas", false, roleSchemas)
	add("Resources", false, roleResources)
	for i, f := range pagingFields {
		add(f, false, rolePaging+keyRole(i))
	}
	return m
}()

// object scans the object at s.pos, which sits at p.
func (s *canonicalScan) object(p place, facts *objectFacts) bool {
	if s.depth++; s.depth > maxCanonicalDepth {
		return false
	}
	defer func() { s.depth-- }()
	s.pos++ // {
	facts.schemasOK, facts.pagingOK = true, true
	s.space()
	if s.peek() == '}' {
		s.pos++
		return true
	}
	for {
		s.space()
		if s.peek() != '"' {
			return false
		}
		key, escaped, ok := s.string()
		if !ok || escaped {
			return false
		}
		info := lookupKey(key)
		if !s.keyCanonical(key, info) {
			return false
		}
		s.space()
		if s.peek() != ':' {
			return false
		}
		s.pos++
		s.space()
		facts.members++
		if !s.member(p, facts, info) {
			return false
		}
		if end, ok := s.separator('}'); !ok || end {
			return ok
		}
	}
}

// separator scans what follows a member or an element: a comma, with more
// to come, or close, the end (end true). ok is false on anything else.
func (s *canonicalScan) separator(close byte) (end, ok bool) {
	s.space()
	switch s.peek() {
	case ',':
		s.pos++
		return false, true
	case close:
		s.pos++
		return true, true
	}
	return false, false
}

// keyCanonical checks that no context would rewrite or drop a member name:
// plain ASCII, not password, not a known name in other case, not a URN key
// that would be renamed.
func (s *canonicalScan) keyCanonical(key []byte, info *keyInfo) bool {
	for _, c := range key {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	if len(key) > 4 && key[0]|0x20 == 'u' && strings.EqualFold(view(key[:4]), "urn:") {
		u, _ := canonicalURN(view(key), s.res)
		return u != URNEnterpriseUser || view(key) == u
	}
	switch {
	case info == nil:
		return true
	case info.role == rolePassword:
		return false
	}
	return view(key) == info.canonical
}

// lookupKey finds a member name in canonicalKeys ignoring ASCII case.
func lookupKey(key []byte) *keyInfo {
	if len(key) == 0 {
		return nil
	}
	for i := keySlot(key); ; i = (i + 1) % keySlots {
		e := &canonicalKeyIndex[i]
		if e.lower == "" {
			return nil
		}
		if len(e.lower) == len(key) && equalLower(key, e.lower) {
			return &e.info
		}
	}
}

// canonicalKeyIndex is canonicalKeys as an open-addressed table, a few
// times larger than the names it holds: a member name is found from its
// length and three of its bytes instead of a map's hash of a lower-case
// copy, on every member of every answer.
var canonicalKeyIndex = func() (t [keySlots]struct {
	lower string // "": an empty slot
	info  keyInfo
}) {
	for lower, info := range canonicalKeys {
		i := keySlot([]byte(lower))
		for t[i].lower != "" {
			i = (i + 1) % keySlots
		}
		t[i].lower, t[i].info = lower, info
	}
	return t
}()

// keySlot is where a name's search in canonicalKeyIndex begins. Setting
// bit 0x20 makes ASCII letters of either case hash alike; other bytes may
// then collide, which only lengthens a search.
func keySlot(key []byte) uint {
	n := len(key)
	h := uint32(n)*0x9e3779b1 ^ uint32(key[0]|0x20)*0x85ebca6b ^ uint32(key[n/2]|0x20)*0xc2b2ae35 ^ uint32(key[n-1]|0x20)*0x27d4eb2f
	return uint(h^h>>15) % keySlots
}

// keySlots is the size of canonicalKeyIndex, a power of two several times
// the number of names (TestLookupKey finds every one).
const keySlots = 1024

// equalLower reports whether key, in ASCII lower case, is lower.
func equalLower(key []byte, lower string) bool {
	for i, c := range key {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// member scans the value of a member named info (nil: unknown) of an
// object at p.
func (s *canonicalScan) member(p place, facts *objectFacts, info *keyInfo) bool {
	if info == nil {
		return s.value(placeOther)
	}
	if info.single && s.peek() == '[' {
		return false // a one-element list would be unwrapped
	}
	switch role := info.role; {
	case role == roleSchemas:
		if facts.schemas++; facts.schemas > 1 {
			return false
		}
		if s.peek() == '[' {
			return s.schemas(facts)
		}
	case role == roleResources && p == placeRoot:
		facts.resources++
		if s.peek() == '[' {
			return s.array(placeResource)
		}
	case role >= rolePaging && p == placeRoot:
		i := role - rolePaging
		if facts.paging[i]++; facts.paging[i] > 1 {
			return false
		}
		switch c := s.peek(); {
		case c == '"':
			facts.pagingOK = false // a number as a string: made an integer
		case c == '-' || '0' <= c && c <= '9':
			start := s.pos
			if !s.number() {
				return false
			}
			facts.pagingOK = facts.pagingOK && integerCanonical(s.data[start:s.pos])
			return true
		}
	case role == roleManager:
		switch s.peek() {
		case '{':
			var m objectFacts
			if !s.object(placeOther, &m) {
				return false
			}
			// typeValue clears a manager that names no value.
			return m.members == 0 || m.values > 0 && !m.valueEmpty
		case '"':
			return false // a bare manager id becomes {"value": id}
		}
	case role == roleValue:
		if facts.values++; facts.values == 1 {
			facts.valueEmpty = bytes.HasPrefix(s.data[s.pos:], []byte(`""`))
		}
	}
	return s.value(placeOther)
}

// schemas scans an object's schemas list: whether it names the
// ListResponse, and whether the normalizer's schemas would leave it as it
// is on a resource of the endpoint.
func (s *canonicalScan) schemas(facts *objectFacts) bool {
	if s.depth++; s.depth > maxCanonicalDepth {
		return false
	}
	defer func() { s.depth-- }()
	core := URNUser
	if s.res == Groups {
		core = URNGroup
	}
	var seen [8]string // the URNs so far, all canonical
	n, hasCore := 0, false
	s.pos++ // [
	s.space()
	if s.peek() == ']' {
		s.pos++
		facts.schemasOK = false // the core URN would be added
		return true
	}
	for {
		s.space()
		if s.peek() == '"' {
			str, escaped, ok := s.string()
			if !ok || escaped || maybeBoolean(str, false) {
				return false
			}
			if bytes.EqualFold(str, []byte(URNListResponse)) {
				facts.listURN = true
			}
			switch u, class := schemaURN(str, s.res); {
			case class == urnJunk || u != view(str) || n == len(seen) || slices.Contains(seen[:n], u):
				facts.schemasOK = false // dropped, renamed or a duplicate
			default:
				seen[n] = u
				n++
				hasCore = hasCore || u == core
			}
		} else if !s.value(placeOther) {
			return false
		}
		if end, ok := s.separator(']'); !ok || end {
			facts.schemasOK = facts.schemasOK && hasCore
			return ok
		}
	}
}

// schemaURN is canonicalURN, without its search for the URNs answers
// usually hold.
func schemaURN(urn []byte, res Resource) (string, urnClass) {
	switch string(urn) {
	case URNUser, URNGroup, URNEnterpriseUser:
		return view(urn), urnKnown
	case URNListResponse:
		return view(urn), urnUnknown
	}
	return canonicalURN(view(urn), res)
}

// value scans any JSON value at s.pos; objects sit at p.
func (s *canonicalScan) value(p place) bool {
	switch c := s.peek(); {
	case c == '{':
		var facts objectFacts
		return s.object(p, &facts) && (p != placeResource || facts.schemasOK)
	case c == '[':
		return s.array(placeOther)
	case c == '"':
		str, escaped, ok := s.string()
		return ok && !maybeBoolean(str, escaped)
	case c == 't':
		return s.skipLiteral("true")
	case c == 'f':
		return s.skipLiteral("false")
	case c == 'n':
		return false // null: dropped
	}
	return s.number()
}

// array scans an array whose elements sit at p.
func (s *canonicalScan) array(p place) bool {
	if s.depth++; s.depth > maxCanonicalDepth {
		return false
	}
	defer func() { s.depth-- }()
	s.pos++ // [
	s.space()
	if s.peek() == ']' {
		s.pos++
		return true
	}
	for {
		s.space()
		if !s.value(p) {
			return false
		}
		if end, ok := s.separator(']'); !ok || end {
			return ok
		}
	}
}

// string scans a string at s.pos as parseJSON accepts it, and returns what
// is between its quotes, and whether that holds escapes.
func (s *canonicalScan) string() (inner []byte, escaped, ok bool) {
	s.pos++ // opening quote
	start := s.pos
	for s.pos < len(s.data) {
		s.plainString()
		if s.pos == len(s.data) {
			break
		}
		switch c := s.data[s.pos]; {
		case c == '"':
			s.pos++
			return s.data[start : s.pos-1], escaped, true
		case c == '\\':
			escaped = true
			if !s.escape() {
				return nil, false, false
			}
			continue
		case c < 0x20:
			return nil, false, false // control characters must be escaped
		}
		s.pos++
	}
	return nil, false, false
}

// escape scans one escape sequence of a JSON string (RFC 8259 §7).
func (s *canonicalScan) escape() bool {
	if s.pos+1 >= len(s.data) {
		return false
	}
	switch s.data[s.pos+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		s.pos += 2
		return true
	case 'u':
		if s.pos+6 > len(s.data) {
			return false
		}
		for _, c := range s.data[s.pos+2 : s.pos+6] {
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
		s.pos += 6
		return true
	}
	return false
}

// maybeBoolean reports whether a string's content could fold to "true" or
// "false", which typeValue turns into a boolean on boolean attributes:
// exactly for plain strings, by a bound on the number of characters for
// escaped ones (each \uXXXX is at least half a character, so ten units
// make at least five).
func maybeBoolean(inner []byte, escaped bool) bool {
	if !escaped {
		// EqualFold compares runes of up to 4 bytes: 5 of them at most; t
		// and f fold only to T and F.
		return len(inner) >= len("true") && len(inner) <= 4*len("false") && (inner[0]|0x20 == 't' || inner[0]|0x20 == 'f') &&
			(bytes.EqualFold(inner, []byte("true")) || bytes.EqualFold(inner, []byte("false")))
	}
	units := 0
	for i := 0; i < len(inner); units++ {
		if inner[i] == '\\' {
			if inner[i+1] == 'u' {
				i += 6
			} else {
				i += 2
			}
			continue
		}
		_, size := utf8.DecodeRune(inner[i:])
		i += size
	}
	return units <= 2*len("false")
}

// integerCanonical reports whether integer would leave a paging number as
// it is.
func integerCanonical(raw []byte) bool {
	i, ok := integral(view(raw))
	if !ok {
		return true
	}
	var buf [24]byte
	return string(strconv.AppendInt(buf[:0], i, 10)) == view(raw)
}

// view is b as a string without copying, for comparisons and look-ups
// during a scan; b is not modified while the string is in use.
func view(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
