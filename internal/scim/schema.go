package scim

import "strings"

// Schema and message URNs of RFC 7643 and RFC 7644.
const (
	URNUser                  = "urn:ietf:params:scim:schemas:core:2.0:User"
	URNGroup                 = "urn:ietf:params:scim:schemas:core:2.0:Group"
	URNEnterpriseUser        = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	URNPatchOp               = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	URNListResponse          = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	URNError                 = "urn:ietf:params:scim:api:messages:2.0:Error"
	URNServiceProviderConfig = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
	URNResourceType          = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
	URNSchema                = "urn:ietf:params:scim:schemas:core:2.0:Schema"
)

// Media types.
const (
	MediaTypeSCIM = "application/scim+json"
	MediaTypeJSON = "application/json"
)

// AttrType is an RFC 7643 §2.3 attribute data type.
type AttrType string

// Attribute data types used by the core and enterprise schemas.
const (
	TypeString    AttrType = "string"
	TypeBoolean   AttrType = "boolean"
	TypeComplex   AttrType = "complex"
	TypeReference AttrType = "reference"
	TypeDateTime  AttrType = "dateTime"
	TypeBinary    AttrType = "binary"
)

// Attribute describes one attribute of a schema (RFC 7643 §7), reduced to what
// canonicalisation and strict validation need.
type Attribute struct {
	Name        string // canonical case
	Type        AttrType
	MultiValued bool
	ReadOnly    bool // mutability readOnly: ignored when a client sends it
	CaseExact   bool
	Required    bool
	Sub         []Attribute // sub-attributes of a complex attribute
}

// Schema is one resource schema.
type Schema struct {
	ID         string
	Name       string
	Attributes []Attribute
}

// SubAttribute returns the sub-attribute named name, ignoring case.
func (a Attribute) SubAttribute(name string) (Attribute, bool) {
	return findAttr(a.Sub, name)
}

// Attribute returns the attribute named name, ignoring case.
func (s Schema) Attribute(name string) (Attribute, bool) {
	return findAttr(s.Attributes, name)
}

func findAttr(list []Attribute, name string) (Attribute, bool) {
	for _, a := range list {
		if strings.EqualFold(a.Name, name) {
			return a, true
		}
	}
	return Attribute{}, false
}

// Schemas returns fresh copies of the core User, core Group and enterprise
// User schemas that the normalizer knows (RFC 7643 §4 and §8.7.1).
func Schemas() []Schema {
	str := func(name string) Attribute { return Attribute{Name: name, Type: TypeString} }
	boolean := func(name string) Attribute { return Attribute{Name: name, Type: TypeBoolean} }
	multi := func(name string, value AttrType, extra ...Attribute) Attribute {
		sub := append([]Attribute{
			{Name: "value", Type: value},
			str("display"),
			str("type"),
			boolean("primary"),
		}, extra...)
		return Attribute{Name: name, Type: TypeComplex, MultiValued: true, Sub: sub}
	}
	ref := func(name string, readOnly bool) Attribute {
		return Attribute{Name: name, Type: TypeComplex, MultiValued: true, ReadOnly: readOnly, Sub: []Attribute{
			{Name: "value", Type: TypeString, CaseExact: true},
			{Name: "$ref", Type: TypeReference, CaseExact: true},
			str("display"),
			str("type"),
		}}
	}
	common := []Attribute{
		{Name: "id", Type: TypeString, ReadOnly: true, CaseExact: true},
		{Name: "externalId", Type: TypeString, CaseExact: true},
		{Name: "meta", Type: TypeComplex, ReadOnly: true, Sub: []Attribute{
			str("resourceType"),
			{Name: "created", Type: TypeDateTime},
			{Name: "lastModified", Type: TypeDateTime},
			{Name: "location", Type: TypeReference, CaseExact: true},
			{Name: "version", Type: TypeString, CaseExact: true},
		}},
	}
	user := append(append([]Attribute(nil), common...),
		Attribute{Name: "userName", Type: TypeString, Required: true},
		Attribute{Name: "name", Type: TypeComplex, Sub: []Attribute{
			str("formatted"), str("familyName"), str("givenName"), str("middleName"),
			str("honorificPrefix"), str("honorificSuffix"),
		}},
		str("displayName"),
		str("nickName"),
		Attribute{Name: "profileUrl", Type: TypeReference},
		str("title"),
		str("userType"),
		str("preferredLanguage"),
		str("locale"),
		str("timezone"),
		boolean("active"),
		Attribute{Name: "password", Type: TypeString, CaseExact: true},
		multi("emails", TypeString),
		multi("phoneNumbers", TypeString),
		multi("ims", TypeString),
		multi("photos", TypeReference),
		Attribute{Name: "addresses", Type: TypeComplex, MultiValued: true, Sub: []Attribute{
			str("formatted"), str("streetAddress"), str("locality"), str("region"),
			str("postalCode"), str("country"), str("type"), boolean("primary"),
		}},
		ref("groups", true),
		multi("entitlements", TypeString),
		multi("roles", TypeString),
		multi("x509Certificates", TypeBinary),
	)
	group := append(append([]Attribute(nil), common...),
		Attribute{Name: "displayName", Type: TypeString, Required: true},
		ref("members", false),
	)
	enterprise := []Attribute{
		str("employeeNumber"),
		str("costCenter"),
		str("organization"),
		str("division"),
		str("department"),
		{Name: "manager", Type: TypeComplex, Sub: []Attribute{
			{Name: "value", Type: TypeString, CaseExact: true},
			{Name: "$ref", Type: TypeReference, CaseExact: true},
			{Name: "displayName", Type: TypeString, ReadOnly: true},
		}},
	}
	return []Schema{
		{ID: URNUser, Name: "User", Attributes: user},
		{ID: URNGroup, Name: "Group", Attributes: group},
		{ID: URNEnterpriseUser, Name: "EnterpriseUser", Attributes: enterprise},
	}
}

// schemaIndex answers the normalizer's case-insensitive look-ups without
// allocating. It is built once and never modified.
type schemaIndex struct {
	user, group, enterprise map[string]*attrDef
}

type attrDef struct {
	Attribute
	sub map[string]*attrDef
}

var index = newSchemaIndex(Schemas())

func newSchemaIndex(schemas []Schema) schemaIndex {
	byID := map[string]map[string]*attrDef{}
	for _, s := range schemas {
		byID[s.ID] = indexAttrs(s.Attributes)
	}
	return schemaIndex{user: byID[URNUser], group: byID[URNGroup], enterprise: byID[URNEnterpriseUser]}
}

func indexAttrs(list []Attribute) map[string]*attrDef {
	m := make(map[string]*attrDef, len(list))
	for _, a := range list {
		m[strings.ToLower(a.Name)] = &attrDef{Attribute: a, sub: indexAttrs(a.Sub)}
	}
	return m
}

// lookupFold finds name in m ignoring ASCII case, without allocating for
// names of up to 64 bytes.
func lookupFold(m map[string]*attrDef, name string) *attrDef {
	if m == nil || len(name) > 64 {
		return nil
	}
	var buf [64]byte
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return m[string(buf[:len(name)])]
}

// lookupAttr finds a top-level attribute by its schema qualifier (urn, ""
// when unqualified) and name. Core User and Group names never clash in case or
// type, so unqualified names are looked up in both without knowing the endpoint.
func lookupAttr(urn, name string) *attrDef {
	switch urn {
	case "", URNUser, URNGroup:
		if d := lookupFold(index.user, name); d != nil {
			return d
		}
		return lookupFold(index.group, name)
	case URNEnterpriseUser:
		return lookupFold(index.enterprise, name)
	}
	return nil
}

// sub looks up a sub-attribute of d, which may be nil.
func (d *attrDef) lookupSub(name string) *attrDef {
	if d == nil {
		return nil
	}
	return lookupFold(d.sub, name)
}

// urnClass says what the normalizer does with a schema URN.
type urnClass uint8

const (
	urnUnknown urnClass = iota // someone's own extension: left alone
	urnKnown                   // an RFC URN, possibly in other case
	urnLegacy                  // a pre-RFC or misspelled URN with an RFC equivalent
	urnJunk                    // a provider-private URN no upstream implements: dropped
)

// canonicalURN maps a schema URN to its RFC form. Core URNs without a resource
// suffix depend on the endpoint (res). URNs are compared case-insensitively
// (RFC 8141 namespace identifiers are, and the IdPs' own spellings vary).
func canonicalURN(urn string, res Resource) (string, urnClass) {
	for _, u := range [...]string{URNUser, URNGroup, URNEnterpriseUser} {
		if strings.EqualFold(urn, u) {
			return u, urnKnown
		}
	}
	for _, l := range legacyURNs {
		if strings.EqualFold(urn, l.from) {
			to := l.to
			if to == "" {
				switch res {
				case Users:
					to = URNUser
				case Groups:
					to = URNGroup
				default:
					return urn, urnUnknown
				}
			}
			return to, urnLegacy
		}
	}
	for _, j := range junkURNs {
		if strings.EqualFold(urn, j) {
			return "", urnJunk
		}
	}
	return urn, urnUnknown
}

// legacyURNs: OneLogin templates (SCIM 1.x and "urn:scim" 2.0 spellings) and
// Entra's legacy documentation typo. An empty "to" means the core schema of
// the endpoint.
var legacyURNs = [...]struct{ from, to string }{
	{"urn:scim:schemas:core:1.0", ""},
	{"urn:scim:schemas:core:2.0", ""},
	{"urn:ietf:params:scim:schemas:core:2.0", ""},
	{"urn:scim:schemas:core:2.0:User", URNUser},
	{"urn:scim:schemas:core:2.0:Group", URNGroup},
	{"urn:scim:schemas:extension:enterprise:1.0", URNEnterpriseUser},
	{"urn:scim:schemas:extension:enterprise:2.0", URNEnterpriseUser},
	{"urn:scim:schemas:extension:enterprise:2.0:User", URNEnterpriseUser},
	{"urn:ietf:params:scim:schemas:extension:enterprise:2.0", URNEnterpriseUser},
	{"urn:ietf:params:scim:schemas:extension:enterprise:2.0User", URNEnterpriseUser},
}

// junkURNs: Entra adds its directory's group schema to every group create.
var junkURNs = [...]string{
	"http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group",
}
