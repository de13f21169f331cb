package scim

import (
	"bytes"
	"mime"
	"net/http"
)

// Request is what the normalizer reads of an inbound SCIM request.
type Request struct {
	Method   string
	Path     string      // the request path; see ParseResourcePath
	RawQuery string      // as received, without "?"
	Header   http.Header // Content-Type, Accept, User-Agent, ADSCIMVersion are read, never changed
	Body     []byte
}

func (r Request) header(name string) string {
	if r.Header == nil {
		return ""
	}
	return r.Header.Get(name)
}

// Result is the canonical request to send upstream.
type Result struct {
	Dialect     Dialect // the dialect whose rules ran: Auto is resolved by Detect
	RawQuery    string  // the input string itself when nothing changed
	ContentType string  // the input header value when nothing changed
	Body        []byte  // the input slice itself when nothing changed
	Rewrites    []Rewrite
}

// Rewrite names one kind of change, for logs, metrics and tests.
type Rewrite string

// Request-side rewrites (DIALECTS.md explains each).
const (
	RewriteContentType   Rewrite = "content-type"         // media type set to application/scim+json
	RewriteEntraFlag     Rewrite = "entra-flag"           // aadOptscim062020 and its siblings dropped from the query
	RewriteFilterCase    Rewrite = "filter-case"          // filter operators, keywords, attribute names lower/canonical case
	RewriteFilterQuoted  Rewrite = "filter-quoted"        // an unquoted filter value quoted (Entra only)
	RewriteTypedBoolean  Rewrite = "typed-boolean"        // "True"/"false" strings on boolean attributes, in values and filters
	RewriteLegacyURN     Rewrite = "legacy-urn"           // pre-RFC or misspelled schema URN replaced
	RewriteDroppedURN    Rewrite = "dropped-urn"          // provider-private schema URN removed from schemas
	RewriteSchemasAdded  Rewrite = "schemas-added"        // missing schemas or extension URN added
	RewriteAttrCase      Rewrite = "attribute-case"       // known attribute names in canonical case
	RewriteOpCase        Rewrite = "op-case"              // PATCH op values and op member names in lower case
	RewritePathless      Rewrite = "pathless-split"       // path-less add/replace split into one op per attribute
	RewriteAddSingle     Rewrite = "add-to-replace"       // add on a single-valued attribute became replace
	RewriteRemoveByValue Rewrite = "remove-by-value"      // remove with a value list became filtered removes
	RewriteReplaceEmpty  Rewrite = "replace-empty-list"   // replace with [] became remove
	RewriteNullRemove    Rewrite = "null-to-remove"       // replace with null became remove
	RewriteEmptyString   Rewrite = "empty-string"         // "" became remove (PATCH) or was dropped (body)
	RewriteManager       Rewrite = "manager-object"       // manager string or one-element list became {"value":…}
	RewriteUnwrap        Rewrite = "unwrap-single-value"  // one-element list on a single-valued attribute unwrapped
	RewriteReadOnly      Rewrite = "read-only-dropped"    // id, meta, groups (and schemas inside a PATCH value) dropped
	RewriteNullDropped   Rewrite = "null-dropped"         // null members dropped from a body or value
	RewriteEmptyList     Rewrite = "empty-list-dropped"   // [] members dropped from a create or replace body
	RewriteEnterprise    Rewrite = "enterprise-qualified" // unqualified enterprise attribute moved to its extension (Entra only)
	RewritePatchEmpty    Rewrite = "patch-empty"          // every operation normalized away: the PATCH changes nothing
)

type rewrites []Rewrite

func (r *rewrites) add(x Rewrite) {
	for _, y := range *r {
		if y == x {
			return
		}
	}
	*r = append(*r, x)
}

// NormalizeRequest rewrites a request in dialect d into the canonical form
// the upstream receives (see DIALECTS.md). With Off it returns the input
// unchanged; with Auto it calls Detect and applies the rules of the provider
// found, or only the universal rewrites. Bodies of POST/PUT/PATCH on Users
// and Groups are parsed whatever their Content-Type (Okta's suites send none,
// OneLogin sends application/json, R1 allows text/plain). Bad input returns
// an *Error: 400 invalidSyntax, invalidFilter, invalidPath, invalidValue or
// noTarget.
func NormalizeRequest(d Dialect, req Request) (Result, error) {
	contentType := req.header("Content-Type")
	res := Result{Dialect: d, RawQuery: req.RawQuery, ContentType: contentType, Body: req.Body}
	if d == Off {
		return res, nil
	}
	if d == Auto || d == "" {
		res.Dialect = Detect(req)
	}
	resource, id := ParseResourcePath(req.Path)
	n := normalizer{rules: rulesFor(res.Dialect), res: resource}
	var err error
	if res.RawQuery, err = n.query(req.RawQuery); err != nil {
		return Result{}, err
	}
	if resource == Users || resource == Groups {
		var kind bodyKind
		switch {
		case req.Method == http.MethodPatch && id != "":
			kind = patchBody
		case req.Method == http.MethodPost && id == "",
			req.Method == http.MethodPut && id != "" && id[0] != '.':
			kind = resourceBody
		}
		if kind != noBody {
			if res.Body, err = n.body(kind, req.Body); err != nil {
				return Result{}, err
			}
			// Two Content-Types (a custom header an admin added beside the
			// client's own, as OneLogin's setup guides suggest) are not the
			// canonical one even when the first is: the upstream gets one.
			if !isSCIMMediaType(contentType) || len(req.Header.Values("Content-Type")) > 1 {
				res.ContentType = MediaTypeSCIM
				n.rw.add(RewriteContentType)
			}
		}
	}
	res.Rewrites = n.rw
	return res, nil
}

// isSCIMMediaType reports whether ct is exactly the canonical media type.
func isSCIMMediaType(ct string) bool { return ct == MediaTypeSCIM }

type bodyKind uint8

const (
	noBody bodyKind = iota
	patchBody
	resourceBody
)

// normalizer carries one request's settings and the rewrites it applied.
type normalizer struct {
	rules
	res Resource
	rw  rewrites
	// collision is the first attribute name a rename or merge would have
	// written twice into one object (see collides); requests refuse it.
	collision string
}

func (n *normalizer) body(kind bodyKind, body []byte) ([]byte, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, badRequest(InvalidSyntax, "the request body is empty")
	}
	root, ok := parseJSON(body)
	if !ok {
		return nil, badRequest(InvalidSyntax, "the request body is not valid JSON")
	}
	if root.kind != kindObject {
		return nil, badRequest(InvalidSyntax, "the request body must be a JSON object")
	}
	var changed bool
	var err error
	if kind == patchBody {
		changed, err = n.patch(root)
	} else {
		changed = n.resource(root)
	}
	if err == nil && n.collision != "" {
		return nil, badRequest(InvalidSyntax, "the body names "+quoteToken([]byte(n.collision))+
			" more than once (attribute names are case-insensitive)")
	}
	if err != nil || !changed {
		return body, err
	}
	return appendJSON(make([]byte, 0, len(body)+len(body)/4), root), nil
}

// mediaType returns the lower-case type/subtype of a Content-Type or Accept
// element, or "" when it does not parse.
func mediaType(v string) string {
	t, _, err := mime.ParseMediaType(v)
	if err != nil {
		return ""
	}
	return t
}
