package scimtest

import "github.com/scimgate/scimgate/internal/scim"

// discovery answers the read-only endpoints of RFC 7644 §4; base is the
// service's absolute base URL, in front of each meta.location.
func discovery(res scim.Resource, base string) any {
	switch res {
	case scim.ServiceProviderConfig:
		return map[string]any{
			"schemas":          []string{scim.URNServiceProviderConfig},
			"documentationUri": "https://github.com/scimgate/scimgate",
			"patch":            map[string]any{"supported": true},
			"bulk":             map[string]any{"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
			"filter":           map[string]any{"supported": true, "maxResults": 1000},
			"changePassword":   map[string]any{"supported": false},
			"sort":             map[string]any{"supported": false},
			"etag":             map[string]any{"supported": false},
			"authenticationSchemes": []any{map[string]any{
				"type": "oauthbearertoken", "name": "OAuth Bearer Token",
				"description": "Authentication with a bearer token", "primary": true,
			}},
			"meta": map[string]any{"resourceType": "ServiceProviderConfig", "location": base + "/ServiceProviderConfig"},
		}
	case scim.ResourceTypes:
		return list([]any{
			map[string]any{"schemas": []string{scim.URNResourceType}, "id": "User", "name": "User", "endpoint": "/Users",
				"schema": scim.URNUser, "schemaExtensions": []any{map[string]any{"schema": scim.URNEnterpriseUser, "required": false}},
				"meta": map[string]any{"resourceType": "ResourceType", "location": base + "/ResourceTypes/User"}},
			map[string]any{"schemas": []string{scim.URNResourceType}, "id": "Group", "name": "Group", "endpoint": "/Groups",
				"schema": scim.URNGroup, "meta": map[string]any{"resourceType": "ResourceType", "location": base + "/ResourceTypes/Group"}},
		})
	}
	var schemas []any
	for _, s := range scim.Schemas() {
		schemas = append(schemas, map[string]any{
			"schemas": []string{scim.URNSchema}, "id": s.ID, "name": s.Name, "attributes": attributes(s.Attributes),
			"meta": map[string]any{"resourceType": "Schema", "location": base + "/Schemas/" + s.ID},
		})
	}
	return list(schemas)
}

func list(resources []any) map[string]any {
	return map[string]any{"schemas": []string{scim.URNListResponse}, "totalResults": len(resources),
		"startIndex": 1, "itemsPerPage": len(resources), "Resources": resources}
}

// attributes renders RFC 7643 §7 attribute definitions, without nulls.
func attributes(list []scim.Attribute) []any {
	out := make([]any, 0, len(list))
	for _, a := range list {
		mutability, returned := "readWrite", "default"
		if a.ReadOnly {
			mutability = "readOnly"
		}
		if a.Name == "password" {
			mutability, returned = "writeOnly", "never"
		}
		uniqueness := "none"
		if a.Name == "userName" || a.Name == "id" {
			uniqueness = "server"
		}
		def := map[string]any{"name": a.Name, "type": string(a.Type), "multiValued": a.MultiValued, "required": a.Required,
			"caseExact": a.CaseExact, "mutability": mutability, "returned": returned, "uniqueness": uniqueness}
		if len(a.Sub) > 0 {
			def["subAttributes"] = attributes(a.Sub)
		}
		out = append(out, def)
	}
	return out
}
