// Package scim turns each identity provider's SCIM dialect (Microsoft Entra
// ID, Okta, OneLogin) into one canonical RFC 7643/7644 form for upstream user
// services, and their answers into what each provider accepts.
//
// It is pure request/response rewriting: NormalizeRequest and
// NormalizeResponse take bytes and headers and return bytes and headers, with
// no I/O. The Error type and WriteError render every SCIM error the gateway
// sends. ParseFilter, ParsePath and Schemas expose the filter grammar and the
// schema table to other packages (scimtest uses them). DIALECTS.md lists what
// each provider sends, what the upstream receives, and why.
package scim
