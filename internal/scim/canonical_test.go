package scim

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"
)

// agreesWithSuccessBody fails t when the fast path claims a body needs no
// rewrite and successBody would rewrite it, or the body is not valid JSON.
// It reports the fast path's verdict.
func agreesWithSuccessBody(t testing.TB, res Resource, rawQuery string, body []byte) bool {
	t.Helper()
	if !canonicalSuccessBody(res, rawQuery, body) {
		return false
	}
	if !json.Valid(body) {
		t.Fatalf("fast path accepted invalid JSON %s", body)
	}
	n := normalizer{}
	if out := n.successBody(res, rawQuery, body); !bytes.Equal(out, body) || len(n.rw) > 0 {
		t.Fatalf("fast path says %s %q needs no rewrite; successBody rewrites it (%v):\n in %s\nout %s", res, rawQuery, n.rw, body, out)
	}
	return true
}

func TestCanonicalSuccessBody(t *testing.T) {
	user := []byte(responseUser)
	list := []byte(`{"schemas":["` + URNListResponse + `"],"totalResults":1,"itemsPerPage":1,"startIndex":1,"Resources":[` + responseUser + `]}`)
	group := []byte(`{"schemas":["` + URNGroup + `"],"id":"g","displayName":"G","members":[{"value":"1","display":"Ann","$ref":"https://x/Users/1"}]}`)
	for _, tc := range []struct {
		name  string
		res   Resource
		query string
		body  []byte
		fast  bool
	}{
		{"user list", Users, "filter=userName+eq+%22ann%40example.com%22", list, true},
		{"user", Users, "", user, true},
		{"group", Groups, "", group, true},
		{"group, members excluded", Groups, "excludedAttributes=members", group, false},
		{"user under /Groups lacks the core URN", Groups, "", user, false},
		{"empty list", Users, "", []byte(`{"schemas":["` + URNListResponse + `"],"totalResults":0,"Resources":[]}`), true},
		{"paging as a string", Users, "", bytes.Replace(list, []byte(`"totalResults":1`), []byte(`"totalResults":"1"`), 1), false},
		{"paging as a float", Users, "", bytes.Replace(list, []byte(`"startIndex":1`), []byte(`"startIndex":1.0`), 1), false},
		{"string boolean", Users, "", bytes.Replace(user, []byte(`"active":true`), []byte(`"active":"True"`), 1), false},
		{"password", Users, "", bytes.Replace(user, []byte(`"active"`), []byte(`"password":"x","active"`), 1), false},
		{"attribute case", Users, "", bytes.Replace(user, []byte(`"userName"`), []byte(`"username"`), 1), false},
		{"null", Users, "", bytes.Replace(user, []byte(`"active":true`), []byte(`"title":null`), 1), false},
		{"legacy URN", Users, "", bytes.Replace(user, []byte(URNUser), []byte("urn:scim:schemas:core:2.0:User"), 1), false},
		{"escaped slashes", Users, "", bytes.ReplaceAll(user, []byte("/"), []byte(`\/`)), true},
		{"escaped string boolean", Users, "", bytes.Replace(user, []byte(`"active":true`), []byte(`"active":"tru\u0065"`), 1), false},
		{"manager id", Users, "", []byte(`{"schemas":["` + URNUser + `"],"` + URNEnterpriseUser + `":{"manager":"m"}}`), false},
		{"manager without value", Users, "", []byte(`{"schemas":["` + URNUser + `"],"` + URNEnterpriseUser + `":{"manager":{"value":""}}}`), false},
		{"manager", Users, "", []byte(`{"schemas":["` + URNUser + `"],"` + URNEnterpriseUser + `":{"manager":{"value":"m"}}}`), true},
		{"list without Resources", Users, "", []byte(`{"schemas":["` + URNListResponse + `","` + URNUser + `"],"totalResults":"1"}`), false},
		{"second schemas names the list", Users, "", []byte(`{"schemas":[],"schemas":["` + URNListResponse + `"]}`), false},
		{"not JSON", Users, "", []byte(`{"schemas":`), false},
		{"control character", Users, "", []byte("{\"id\":\"\x01\"}"), false},
		{"deep", Users, "", []byte(`{"x":` + strings.Repeat(`[`, 100) + strings.Repeat(`]`, 100) + `}`), false},
		{"not an object", Users, "", []byte(`[]`), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := agreesWithSuccessBody(t, tc.res, tc.query, tc.body); got != tc.fast {
				t.Errorf("fast path %v, want %v", got, tc.fast)
			}
		})
	}
}

// TestCanonicalSuccessBodyRandom perturbs canonical answers in the ways the
// normalizer rewrites (and some it does not) and holds the fast path to
// successBody on each.
func TestCanonicalSuccessBodyRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	fast, total := 0, 0
	for range 4000 {
		doc := randomAnswer(r)
		for range r.IntN(3) {
			perturb(r, doc)
		}
		body := doc.appendTo(nil, r)
		for _, res := range []Resource{Users, Groups} {
			for _, q := range []string{"", "excludedAttributes=members"} {
				total++
				if agreesWithSuccessBody(t, res, q, body) {
					fast++
				}
			}
		}
	}
	// Most unperturbed answers are canonical for their endpoint.
	if fast < total/10 {
		t.Errorf("fast path taken for %d of %d answers", fast, total)
	}
}

func TestCanonicalSuccessBodyGolden(t *testing.T) {
	for _, file := range readGoldenFiles(t) {
		for _, c := range file.Cases {
			if c.Response == nil {
				continue
			}
			req := c.Request.request(t)
			res, _ := ParseResourcePath(req.Path)
			agreesWithSuccessBody(t, res, req.RawQuery, compactBytes(t, c.Response.Upstream.Body, c.Response.Upstream.BodyText))
		}
	}
}

func TestSchemaURN(t *testing.T) {
	for _, urn := range []string{URNUser, URNGroup, URNEnterpriseUser, URNListResponse, "urn:scim:schemas:core:2.0", "URN:x"} {
		for _, res := range []Resource{Users, Groups} {
			u, class := schemaURN([]byte(urn), res)
			if wantU, wantClass := canonicalURN(urn, res); u != wantU || class != wantClass {
				t.Errorf("schemaURN(%s, %s) = %s, %d; canonicalURN says %s, %d", urn, res, u, class, wantU, wantClass)
			}
		}
	}
}

// maybeBoolean looks at the first byte of a plain string only if t and f
// fold to nothing but T and F.
func TestFoldsOfTAndF(t *testing.T) {
	for _, c := range "tf" {
		for r := unicode.SimpleFold(c); r != c; r = unicode.SimpleFold(r) {
			if r != unicode.ToUpper(c) {
				t.Errorf("%c folds to %c", c, r)
			}
		}
	}
}

// lookupKey finds what canonicalKeys holds under a name's ASCII lower case,
// and nothing else: every name in three spellings, and every name with one
// byte changed, cut or added.
func TestLookupKey(t *testing.T) {
	check := func(name string) {
		t.Helper()
		got := lookupKey([]byte(name))
		want, ok := canonicalKeys[asciiLower(name)]
		if ok != (got != nil) || ok && *got != want {
			t.Fatalf("lookupKey(%q) = %v, want %v (%v)", name, got, want, ok)
		}
	}
	check("")
	for k := range canonicalKeys {
		check(k)
		check(strings.ToUpper(k))
		check(k[:1] + strings.ToUpper(k[1:]))
		check(k[:len(k)-1])
		check(k + "s")
		for i := range len(k) {
			for _, c := range []byte{'a', 'Z', '_', '0', 0xc3, k[i] ^ 0x20} {
				check(k[:i] + string(c) + k[i+1:])
			}
		}
	}
}

// asciiLower folds ASCII letters only, as SCIM's case-insensitive names do.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func FuzzCanonicalSuccessBody(f *testing.F) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 20 {
		doc := randomAnswer(r)
		perturb(r, doc)
		f.Add(uint8(r.IntN(4)), doc.appendTo(nil, r))
	}
	f.Fuzz(func(t *testing.T, sel uint8, body []byte) {
		res, q := Users, ""
		if sel&1 != 0 {
			res = Groups
		}
		if sel&2 != 0 {
			q = "excludedAttributes=members"
		}
		agreesWithSuccessBody(t, res, q, body)
	})
}

// jsonValue is an ordered JSON value for building test documents; scalars
// are raw JSON text.
type jsonValue struct {
	raw     string
	members []jsonMember // an object when not nil or when isObject
	elems   []*jsonValue
	object  bool
	array   bool
}

type jsonMember struct {
	key string // raw, without quotes
	val *jsonValue
}

func obj(members ...jsonMember) *jsonValue { return &jsonValue{object: true, members: members} }
func arr(elems ...*jsonValue) *jsonValue   { return &jsonValue{array: true, elems: elems} }
func lit(raw string) *jsonValue            { return &jsonValue{raw: raw} }
func str(s string) *jsonValue              { return &jsonValue{raw: mustJSON(s)} }
func m(key string, v *jsonValue) jsonMember {
	return jsonMember{key: key, val: v}
}

// appendTo writes v with random insignificant white space.
func (v *jsonValue) appendTo(dst []byte, r *rand.Rand) []byte {
	space := func() {
		if r.IntN(8) == 0 {
			dst = append(dst, " \n\t\r"[r.IntN(4)])
		}
	}
	switch {
	case v.object:
		dst = append(dst, '{')
		for i, mem := range v.members {
			if i > 0 {
				dst = append(dst, ',')
			}
			space()
			dst = append(dst, '"')
			dst = append(dst, mem.key...)
			dst = append(dst, '"')
			space()
			dst = append(dst, ':')
			space()
			dst = mem.val.appendTo(dst, r)
			space()
		}
		return append(dst, '}')
	case v.array:
		dst = append(dst, '[')
		for i, e := range v.elems {
			if i > 0 {
				dst = append(dst, ',')
			}
			space()
			dst = e.appendTo(dst, r)
			space()
		}
		return append(dst, ']')
	}
	return append(dst, v.raw...)
}

func randomUser(r *rand.Rand) *jsonValue {
	u := obj(m("schemas", arr(str(URNUser))), m("id", str("2819c223")), m("userName", str("ann@example.com")),
		m("name", obj(m("givenName", str("Ann")), m("familyName", str("Émile")))),
		m("active", lit([]string{"true", "false"}[r.IntN(2)])),
		m("emails", arr(obj(m("value", str("ann@example.com")), m("type", str("work")), m("primary", lit("true"))))),
		m("meta", obj(m("resourceType", str("User")), m("location", str("https://u.example.com/Users/2819c223")))))
	if r.IntN(2) == 0 {
		u.members[0].val.elems = append(u.members[0].val.elems, str(URNEnterpriseUser))
		u.members = append(u.members, m(URNEnterpriseUser, obj(m("employeeNumber", str("42")),
			m("manager", obj(m("value", str("m1")), m("displayName", str("Boss")))))))
	}
	if r.IntN(3) == 0 {
		u.members = append(u.members, m("x-custom", obj(m("flag", lit("1")), m("list", arr(str("a"), str("b"))))))
	}
	return u
}

func randomGroup(r *rand.Rand) *jsonValue {
	members := arr()
	for i := range r.IntN(3) {
		members.elems = append(members.elems, obj(m("value", str(string(rune('a'+i)))), m("display", str("n")), m("$ref", str("https://x/Users/a"))))
	}
	return obj(m("schemas", arr(str(URNGroup))), m("id", str("g")), m("displayName", str("G")), m("members", members))
}

// randomAnswer is a canonical user, group or ListResponse of either.
func randomAnswer(r *rand.Rand) *jsonValue {
	one := func() *jsonValue {
		if r.IntN(2) == 0 {
			return randomUser(r)
		}
		return randomGroup(r)
	}
	if r.IntN(3) == 0 {
		return one()
	}
	list := arr()
	for range r.IntN(3) {
		list.elems = append(list.elems, one())
	}
	n := lit(string(rune('0' + len(list.elems))))
	return obj(m("schemas", arr(str(URNListResponse))), m("totalResults", n), m("itemsPerPage", n),
		m("startIndex", lit("1")), m("Resources", list))
}

// Replacement keys and values of perturb: what the normalizer rewrites, what
// it leaves, and near misses of both.
var (
	perturbKeys = []string{"userName", "username", "USERNAME", "Resources", "resources", "schemas", "Schemas",
		"totalResults", "totalresults", "startIndex", "itemsPerPage", "password", "Password", "paſſword", "active", "Active",
		"manager", "Manager", "value", "Value", "primary", "members", "Members", "displayName", "displayname", "name",
		"emails", "meta", "id", "x", "groups", "employeeNumber", "employeenumber", "roles", `user\u004eame`, "K",
		URNEnterpriseUser, "urn:scim:schemas:extension:enterprise:2.0", "urn:ietf:params:scim:schemas:extension:enterprise:2.0",
		"URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER", "urn:ietf:params:scim:schemas:extension:custom:2.0:User",
		"urn:x"}
	perturbScalars = []string{`null`, `"True"`, `"true"`, `"FALSE"`, `"falſe"`, `"tru\u0065"`, `"\u0074rue"`, `"x"`, `""`, `"1"`,
		`"5.0"`, `" 2 "`, `1`, `1.0`, `1e0`, `-0`, `0`, `-1`, `12345678901234567890`, `true`, `false`, `"https:\/\/x\/Users\/1"`,
		`"\u00e9"`, `"` + URNUser + `"`, `"` + URNGroup + `"`, `"` + URNEnterpriseUser + `"`, `"` + URNListResponse + `"`,
		`"urn:scim:schemas:core:2.0"`, `"urn:ietf:params:scim:schemas:core:2.0:user"`,
		`"http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"`, `"urn:ietf:params:scim:schemas:extension:custom:2.0:User"`}
)

func randomScalar(r *rand.Rand) *jsonValue { return lit(perturbScalars[r.IntN(len(perturbScalars))]) }

func randomValue(r *rand.Rand) *jsonValue {
	switch r.IntN(8) {
	case 0:
		return arr()
	case 1:
		return arr(randomScalar(r))
	case 2:
		return arr(randomScalar(r), randomScalar(r))
	case 3:
		return obj()
	case 4:
		return obj(m(perturbKeys[r.IntN(len(perturbKeys))], randomScalar(r)))
	case 5:
		return arr(obj(m("value", randomScalar(r))))
	}
	return randomScalar(r)
}

// perturb changes one random place of doc.
func perturb(r *rand.Rand, doc *jsonValue) {
	var objects, arrays []*jsonValue
	var walk func(v *jsonValue)
	walk = func(v *jsonValue) {
		switch {
		case v.object:
			objects = append(objects, v)
			for _, mem := range v.members {
				walk(mem.val)
			}
		case v.array:
			arrays = append(arrays, v)
			for _, e := range v.elems {
				walk(e)
			}
		}
	}
	walk(doc)
	if len(arrays) > 0 && r.IntN(4) == 0 {
		a := arrays[r.IntN(len(arrays))]
		switch {
		case len(a.elems) > 0 && r.IntN(2) == 0:
			a.elems = append(a.elems[:0:0], a.elems[1:]...)
		case len(a.elems) > 0 && r.IntN(2) == 0:
			a.elems = append(a.elems, a.elems[0])
		default:
			a.elems = append(a.elems, randomScalar(r))
		}
		return
	}
	o := objects[r.IntN(len(objects))]
	i := r.IntN(len(o.members) + 1)
	switch r.IntN(5) {
	case 0:
		o.members = append(o.members, m(perturbKeys[r.IntN(len(perturbKeys))], randomValue(r)))
	case 1:
		if i < len(o.members) {
			o.members[i].val = randomValue(r)
		}
	case 2:
		if i < len(o.members) {
			o.members[i].key = perturbKeys[r.IntN(len(perturbKeys))]
		}
	case 3:
		if i < len(o.members) {
			o.members = append(o.members[:i:i], o.members[i+1:]...)
		}
	default:
		if i < len(o.members) {
			key := []byte(o.members[i].key)
			j := r.IntN(len(key))
			key[j] ^= 0x20 // flip the case of a letter (or garble a symbol)
			o.members[i].key = strings.ToValidUTF8(string(key), "")
		}
	}
}
