package scim

import "strings"

// Resource names the SCIM endpoint a request path addresses.
type Resource string

// Endpoints the normalizer distinguishes; anything else is "".
const (
	Users                 Resource = "Users"
	Groups                Resource = "Groups"
	ServiceProviderConfig Resource = "ServiceProviderConfig"
	ResourceTypes         Resource = "ResourceTypes"
	SchemasEndpoint       Resource = "Schemas"
)

// ParseResourcePath finds the endpoint in a request path and the resource id
// after it ("" for the collection). It reads the path from the end, so any
// base such as "/acme/scim/v2" may precede the endpoint, and it ignores empty
// segments ("/Users/", "//Users"). "/Users/.search" yields id ".search".
func ParseResourcePath(path string) (res Resource, id string) {
	last, prev := "", ""
	for rest := path; rest != ""; {
		i := strings.LastIndexByte(rest, '/')
		seg := rest[i+1:]
		rest = rest[:max(i, 0)]
		if seg == "" {
			continue
		}
		if last == "" {
			last = seg
			continue
		}
		prev = seg
		break
	}
	if r := endpoint(last); r != "" {
		return r, ""
	}
	if r := endpoint(prev); r == Users || r == Groups {
		return r, last
	}
	return "", ""
}

func endpoint(seg string) Resource {
	for _, r := range [...]Resource{Users, Groups, ServiceProviderConfig, ResourceTypes, SchemasEndpoint} {
		if seg == string(r) {
			return r
		}
	}
	return ""
}
