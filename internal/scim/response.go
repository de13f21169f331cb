package scim

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Response is an upstream answer, or the answer for the provider.
type Response struct {
	Status      int
	ContentType string
	Body        []byte
}

// Response-side rewrites.
const (
	RewriteNotFoundList    Rewrite = "not-found-to-empty-list" // 404 on a collection GET became 200 with an empty ListResponse
	RewriteErrorBody       Rewrite = "error-body"              // error body wrapped into or completed as SCIM error JSON
	RewriteCreated         Rewrite = "created-201"             // 200 on a create became 201
	RewriteDeleted         Rewrite = "deleted-204"             // 200 on a DELETE became 204 without a body
	RewritePaging          Rewrite = "paging"                  // paging fields made integers, missing or null Resources made []
	RewritePassword        Rewrite = "password-dropped"        // password removed from a returned resource
	RewriteMembersExcluded Rewrite = "members-excluded"        // members removed because the request excluded them
)

// NormalizeResponse turns the upstream's answer to req into what provider d
// accepts. d is Result.Dialect of the request (Auto runs Detect again; Off
// returns resp unchanged). Status mappings, applied only where the upstream's
// answer means the same thing:
//
//	upstream                      request                      provider gets
//	404                           GET on /Users or /Groups     200 empty ListResponse (Entra quarantines on 404,
//	                              (the collection, filtered    entra.md §3/§7; Okta and OneLogin accept either;
//	                              or not)                      a user-only upstream's /Groups is also 404, R19)
//	200                           POST /Users, POST /Groups    201 (Okta's SPEC test and Entra expect 201)
//	200                           DELETE                       204 without a body (Entra's validator)
//	≥400 with a non-SCIM body     any                          same status, SCIM error JSON (R9, R10)
//
// Everything else keeps its status. JSON bodies get Content-Type
// ResponseContentType(d, Accept); success bodies of Users and Groups lose
// legacy URNs and password, get integer paging fields, typed booleans and
// the manager as an object, and lose members when the request said
// excludedAttributes=members; discovery answers (/Schemas, /ResourceTypes,
// /ServiceProviderConfig) lose null members.
func NormalizeResponse(d Dialect, req Request, resp Response) (Response, []Rewrite) {
	if d == Off {
		return resp, nil
	}
	if d == Auto || d == "" {
		d = Detect(req)
	}
	n := normalizer{}
	res, id := ParseResourcePath(req.Path)
	media := ResponseContentType(d, req.header("Accept"))
	collection := res == Users || res == Groups
	out := resp
	valid := false // out.Body is known to be valid JSON
	switch {
	case resp.Status == http.StatusNotFound && (req.Method == http.MethodGet || req.Method == http.MethodHead) && collection && id == "":
		n.rw.add(RewriteNotFoundList)
		return Response{Status: http.StatusOK, ContentType: media, Body: emptyList(req.RawQuery)}, n.rw
	case resp.Status >= 400:
		var changed bool
		out.Body, changed = errorBody(resp, defaultScimType(req.Method, resp.Status, collection))
		if changed {
			n.rw.add(RewriteErrorBody)
		}
	case resp.Status == http.StatusOK && req.Method == http.MethodDelete:
		n.rw.add(RewriteDeleted)
		return Response{Status: http.StatusNoContent}, n.rw
	case resp.Status == http.StatusOK && req.Method == http.MethodPost && collection && id == "":
		n.rw.add(RewriteCreated)
		out.Status = http.StatusCreated
		fallthrough
	case resp.Status >= 200 && resp.Status < 300 && collection && len(resp.Body) > 0:
		if canonicalSuccessBody(res, req.RawQuery, resp.Body) {
			valid = true
			break
		}
		out.Body = n.successBody(res, req.RawQuery, resp.Body)
	case resp.Status >= 200 && resp.Status < 300 && isDiscovery(res):
		out.Body = n.withoutNulls(resp.Body)
	}
	// The media type first: it is usually right already, and then the body
	// need not be validated a second time.
	if len(out.Body) > 0 && out.ContentType != media && (valid || json.Valid(out.Body)) {
		out.ContentType = media
		n.rw.add(RewriteContentType)
	}
	return out, n.rw
}

// ResponseContentType picks the media type for a JSON answer:
// application/scim+json, which R10 and Entra want, unless the client's
// Accept names application/json and not application/scim+json. Decision:
// OneLogin's docs require application/json on every response, and its
// connectors send Accept: application/json, so the Accept rule serves it;
// a OneLogin request without Accept also gets application/json.
func ResponseContentType(d Dialect, accept string) string {
	scim, plain := false, false
	for rest := accept; rest != ""; {
		var part string
		part, rest, _ = strings.Cut(rest, ",")
		mt, _, _ := strings.Cut(part, ";")
		mt = strings.TrimSpace(mt)
		scim = scim || strings.EqualFold(mt, MediaTypeSCIM)
		plain = plain || strings.EqualFold(mt, MediaTypeJSON)
	}
	switch {
	case scim:
		return MediaTypeSCIM
	case plain, accept == "" && d == OneLogin:
		return MediaTypeJSON
	}
	return MediaTypeSCIM
}

// emptyList is the ListResponse Entra's Test Connection expects; startIndex
// echoes the request's.
func emptyList(rawQuery string) []byte {
	start := 1
	for rest := rawQuery; rest != ""; {
		var part string
		part, rest, _ = strings.Cut(rest, "&")
		if k, v, ok := strings.Cut(part, "="); ok && k == "startIndex" {
			if i, err := strconv.Atoi(v); err == nil && i > 1 {
				start = i
			}
		}
	}
	b := append([]byte(nil), `{"schemas":["`+URNListResponse+`"],"totalResults":0,"startIndex":`...)
	b = strconv.AppendInt(b, int64(start), 10)
	return append(b, `,"itemsPerPage":0,"Resources":[]}`...)
}

// defaultScimType is the scimType an error answer must carry when the
// upstream gave none: RFC 7644 §3.3 requires "uniqueness" on a 409 to a
// create (the duplicate user of Okta's U3, whose own example error has no
// scimType), and §3.12 defines no other scimType for 409, to a PUT or a
// PATCH either. Entra reads it to tell a duplicate from a failure.
func defaultScimType(method string, status int, collection bool) string {
	if status == http.StatusConflict && collection &&
		(method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch) {
		return Uniqueness
	}
	return ""
}

// errorBody makes an error answer a SCIM error: a JSON error body gets the
// Error URN, a string status, a detail and scimType (when one is due)
// where missing; anything else (text, HTML, empty) is replaced, keeping a
// short text/plain message as detail.
func errorBody(resp Response, scimType string) ([]byte, bool) {
	if root, ok := parseJSON(resp.Body); ok && root.kind == kindObject {
		return completeError(root, resp, scimType)
	}
	e := &Error{Status: resp.Status, ScimType: scimType, Detail: plainDetail(resp)}
	return e.appendJSON(nil), true
}

func completeError(root *node, resp Response, scimType string) ([]byte, bool) {
	changed := false
	if s := root.get("schemas"); s == nil || s.kind != kindArray {
		if i := root.field("schemas"); i >= 0 {
			root.remove(i)
		}
		list := &node{kind: kindArray, elems: []*node{newString(URNError)}}
		root.members = append([]member{{key: "schemas", val: list}}, root.members...)
		changed = true
	}
	switch i := root.field("status"); {
	case i < 0:
		root.members = append(root.members, member{key: "status", val: newString(strconv.Itoa(resp.Status))})
		changed = true
	case root.members[i].val.kind == kindNumber:
		root.members[i].val = newString(string(root.members[i].val.raw))
		changed = true
	}
	if d := root.get("detail"); d == nil || d.kind != kindString || d.str == "" {
		if i := root.field("detail"); i >= 0 {
			root.remove(i)
		}
		root.members = append(root.members, member{key: "detail", val: newString(http.StatusText(resp.Status))})
		changed = true
	}
	if t := root.get("scimType"); scimType != "" && (t == nil || t.kind != kindString || t.str == "") {
		if i := root.field("scimType"); i >= 0 {
			root.remove(i)
		}
		root.members = append(root.members, member{key: "scimType", val: newString(scimType)})
		changed = true
	}
	if !changed {
		return resp.Body, false
	}
	return appendJSON(nil, root), true
}

// plainDetail keeps the first line of a short text/plain error message;
// HTML and binary bodies say nothing useful and may leak internals.
func plainDetail(resp Response) string {
	if mediaType(resp.ContentType) == "text/plain" && utf8.Valid(resp.Body) {
		line, _, _ := bytes.Cut(bytes.TrimSpace(resp.Body), []byte("\n"))
		if len(line) > 0 && len(line) <= 200 {
			return string(line)
		}
	}
	if t := http.StatusText(resp.Status); t != "" {
		return t
	}
	return "upstream error " + strconv.Itoa(resp.Status)
}

// successBody normalizes a returned resource or ListResponse, returning body
// itself when nothing changes.
func (n *normalizer) successBody(res Resource, rawQuery string, body []byte) []byte {
	root, ok := parseJSON(body)
	if !ok || root.kind != kindObject {
		return body
	}
	n.res = res
	excludeMembers := res == Groups && excludesMembers(rawQuery)
	changed := false
	if i := root.field("Resources"); i >= 0 || isListResponse(root) {
		if i < 0 {
			root.members = append(root.members, member{key: "Resources", val: &node{kind: kindArray}})
			i = len(root.members) - 1
		}
		changed = n.renamed(root, i, "Resources", RewritePaging)
		if root.members[i].val.kind == kindNull {
			// null is an absent list (RFC 7643 §2.5), which Entra's Test
			// Connection must get as [] like a missing one.
			root.members[i].val = &node{kind: kindArray}
			n.rw.add(RewritePaging)
			changed = true
		}
		for _, key := range [...]string{"totalResults", "startIndex", "itemsPerPage"} {
			changed = n.integer(root, key) || changed
		}
		if list := root.members[i].val; list.kind == kindArray {
			for _, r := range list.elems {
				changed = n.returned(r, excludeMembers) || changed
			}
		}
	} else {
		changed = n.returned(root, excludeMembers)
	}
	if !changed {
		return body
	}
	return appendJSON(make([]byte, 0, len(body)), root)
}

func isDiscovery(res Resource) bool {
	return res == SchemasEndpoint || res == ResourceTypes || res == ServiceProviderConfig
}

// withoutNulls drops null members and list elements at any depth of a
// discovery answer: Entra reads /Schemas when an admin edits the mappings
// and expects no null-valued properties (S-01), which serializers of
// optional fields (description, subAttributes …) often write; null is
// "unassigned" anyway (RFC 7643 §2.5).
func (n *normalizer) withoutNulls(body []byte) []byte {
	if !bytes.Contains(body, []byte("null")) {
		return body
	}
	root, ok := parseJSON(body)
	if !ok || !n.dropNulls(root) { // records RewriteNullDropped
		return body
	}
	return appendJSON(make([]byte, 0, len(body)), root)
}

func isListResponse(root *node) bool {
	s := root.get("schemas")
	if s == nil || s.kind != kindArray {
		return false
	}
	for _, e := range s.elems {
		if e.kind == kindString && strings.EqualFold(e.str, URNListResponse) {
			return true
		}
	}
	return false
}

func excludesMembers(rawQuery string) bool {
	for rest := rawQuery; rest != ""; {
		var part string
		part, rest, _ = strings.Cut(rest, "&")
		if k, v, ok := strings.Cut(part, "="); ok && k == "excludedAttributes" {
			var buf [64]byte
			if dec, ok := unescapeQuery(buf[:0], v); ok {
				for _, a := range strings.Split(string(dec), ",") {
					if strings.EqualFold(strings.TrimSpace(a), "members") {
						return true
					}
				}
			}
		}
	}
	return false
}

// integer turns a paging field sent as "5" or 5.0 into 5.
func (n *normalizer) integer(root *node, key string) bool {
	i := root.field(key)
	if i < 0 {
		return false
	}
	changed := n.renamed(root, i, key, RewritePaging)
	v := root.members[i].val
	var text string
	switch v.kind {
	case kindString:
		text = v.str
	case kindNumber:
		text = string(v.raw)
	default:
		return changed
	}
	whole, ok := integral(text)
	if !ok {
		return changed
	}
	canon := strconv.FormatInt(whole, 10)
	if v.kind == kindNumber && string(v.raw) == canon {
		return changed
	}
	root.members[i].val = &node{kind: kindNumber, raw: []byte(canon)}
	n.rw.add(RewritePaging)
	return true
}

// integral reads a paging value as integer reads it: a number, perhaps
// with a fraction of zero or surrounding space. An integer is read exactly
// (a float64 would turn 9007199254740993 into …992); any other form is
// read only while a float64 holds it exactly, below 2^53, and is otherwise
// left as it came.
func integral(text string) (int64, bool) {
	text = strings.TrimSpace(text)
	if i, err := strconv.ParseInt(text, 10, 64); err == nil {
		return i, true
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || math.Abs(f) >= 1<<53 || f != math.Trunc(f) {
		return 0, false
	}
	return int64(f), true
}

// returned normalizes one resource on its way back to the provider.
func (n *normalizer) returned(r *node, excludeMembers bool) bool {
	if r.kind != kindObject {
		return false
	}
	changed := false
	var ext *node
	kept := r.members[:0]
	for i, m := range r.members {
		switch {
		case strings.EqualFold(m.key, "password") && n.res == Users:
			n.rw.add(RewritePassword)
			changed = true
			continue
		case strings.EqualFold(m.key, "members") && excludeMembers:
			n.rw.add(RewriteMembersExcluded)
			changed = true
			continue
		case len(m.key) > 4 && strings.EqualFold(m.key[:4], "urn:"):
			if u, class := canonicalURN(m.key, n.res); u == URNEnterpriseUser && m.val.kind == kindObject {
				if ext != nil || m.key != u && n.collides(r.members, i, u) {
					break // a second extension key: both keep their names
				}
				if class == urnLegacy {
					n.rw.add(RewriteLegacyURN)
				}
				if m.key != u {
					m.key, m.rawKey = u, nil
					changed = true
				}
				ext = m.val
			}
		}
		kept = append(kept, m)
	}
	r.members = kept
	table := index.user
	if n.res == Groups {
		table = index.group
	}
	changed = n.typeMembers(table, r) || changed
	if ext != nil {
		changed = n.typeMembers(index.enterprise, ext) || changed
	}
	if s := r.get("schemas"); s != nil && s.kind == kindArray {
		changed = n.schemas(r, s, false) || changed
	}
	return changed
}
