package scimtest

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/scimgate/scimgate/internal/scim"
)

// store holds one tenant's resources. The Server's mutex guards it.
type store struct {
	seq       int
	resources map[scim.Resource]map[string]*entry
}

type entry struct {
	seq int
	res map[string]any
}

func newStore() *store {
	return &store{resources: map[scim.Resource]map[string]*entry{scim.Users: {}, scim.Groups: {}}}
}

// list returns the entries of one kind in creation order, which keeps paging
// stable (R23).
func (st *store) list(res scim.Resource) []*entry {
	out := make([]*entry, 0, len(st.resources[res]))
	for _, e := range st.resources[res] {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}

func notFound(res scim.Resource, id string) *scim.Error {
	return &scim.Error{Status: http.StatusNotFound, Detail: strings.TrimSuffix(string(res), "s") + " " + id + " not found"}
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (st *store) query(res scim.Resource, q url.Values, proj projection) (int, any, error) {
	var filter scim.Expr
	if f := q.Get("filter"); f != "" {
		var err error
		if filter, err = scim.ParseFilter(f); err != nil {
			return 0, nil, err
		}
		if err := checkFilter(res, nil, filter); err != nil {
			return 0, nil, err
		}
	}
	start, count := 1, 100
	if v := q.Get("startIndex"); v != "" {
		if i, err := strconv.Atoi(v); err == nil && i > 1 {
			start = i
		}
	}
	if v := q.Get("count"); v != "" {
		if i, err := strconv.Atoi(v); err == nil && i >= 0 {
			count = min(i, 1000)
		}
	}
	var matched []map[string]any
	for _, e := range st.list(res) {
		if filter == nil || matches(res, filter, e.res) {
			matched = append(matched, e.res)
		}
	}
	page := []any{}
	for i := start - 1; i < len(matched) && len(page) < count; i++ {
		page = append(page, proj.apply(matched[i]))
	}
	return http.StatusOK, map[string]any{
		"schemas":      []string{scim.URNListResponse},
		"totalResults": len(matched),
		"startIndex":   start,
		"itemsPerPage": len(page),
		"Resources":    page,
	}, nil
}

func (st *store) get(res scim.Resource, id string, proj projection) (int, any, error) {
	e := st.resources[res][id]
	if e == nil {
		return 0, nil, notFound(res, id)
	}
	return http.StatusOK, proj.apply(e.res), nil
}

// create stores a new resource; collection is the absolute URL of its
// collection, in front of its id in meta.location.
func (st *store) create(res scim.Resource, body map[string]any, proj projection, collection string) (int, any, error) {
	if err := validateResource(res, body); err != nil {
		return 0, nil, err
	}
	id := newID()
	r := deepCopy(body).(map[string]any)
	r["id"] = id
	if err := st.check(res, id, r); err != nil {
		return 0, nil, err
	}
	now := time.Now().UTC().Format(time.RFC3339)
	r["meta"] = map[string]any{"resourceType": strings.TrimSuffix(string(res), "s"), "created": now, "lastModified": now,
		"location": collection + "/" + id, "version": `W/"1"`}
	st.seq++
	st.resources[res][id] = &entry{seq: st.seq, res: r}
	return http.StatusCreated, proj.apply(r), nil
}

func (st *store) replace(res scim.Resource, id string, body map[string]any, proj projection) (int, any, error) {
	e := st.resources[res][id]
	if e == nil {
		return 0, nil, notFound(res, id)
	}
	if err := validateResource(res, body); err != nil {
		return 0, nil, err
	}
	r := deepCopy(body).(map[string]any)
	r["id"], r["meta"] = id, e.res["meta"]
	if err := st.check(res, id, r); err != nil {
		return 0, nil, err
	}
	touch(r)
	e.res = r
	return http.StatusOK, proj.apply(r), nil
}

func (st *store) patch(res scim.Resource, id string, body map[string]any, proj projection) (int, any, error) {
	e := st.resources[res][id]
	if e == nil {
		return 0, nil, notFound(res, id)
	}
	ops, err := validatePatch(res, body)
	if err != nil {
		return 0, nil, err
	}
	r := deepCopy(e.res).(map[string]any)
	for _, op := range ops {
		if err := applyOp(res, r, op); err != nil {
			return 0, nil, err
		}
	}
	tidy(r)
	if err := st.check(res, id, r); err != nil {
		return 0, nil, err
	}
	touch(r)
	e.res = r
	if res == scim.Groups {
		return http.StatusNoContent, nil, nil // Entra prefers 204 for group PATCH
	}
	return http.StatusOK, proj.apply(r), nil
}

func (st *store) delete(res scim.Resource, id string) (int, any, error) {
	if st.resources[res][id] == nil {
		return 0, nil, notFound(res, id)
	}
	delete(st.resources[res], id)
	for _, g := range st.resources[scim.Groups] { // no dangling members
		if members, ok := g.res["members"].([]any); ok {
			kept := members[:0]
			for _, m := range members {
				if v, _ := m.(map[string]any)["value"].(string); v != id {
					kept = append(kept, m)
				}
			}
			g.res["members"] = kept
			tidy(g.res)
		}
	}
	return http.StatusNoContent, nil, nil
}

// check enforces what a store knows beyond one body: required attributes,
// uniqueness of userName and group displayName (case-insensitive, RFC 7643
// caseExact false) and that members exist. Decision (Okta G8): a member id
// that is not a user or group here is 400 invalidValue, not silently kept.
func (st *store) check(res scim.Resource, id string, r map[string]any) error {
	key := "userName"
	if res == scim.Groups {
		key = "displayName"
	}
	name, _ := r[key].(string)
	if name == "" {
		return badRequest(scim.InvalidValue, key+" is required")
	}
	for otherID, e := range st.resources[res] {
		if other, _ := e.res[key].(string); otherID != id && strings.EqualFold(other, name) {
			return &scim.Error{Status: http.StatusConflict, ScimType: scim.Uniqueness, Detail: key + " " + quote(name) + " is already taken"}
		}
	}
	members, _ := r["members"].([]any)
	seen := map[string]bool{}
	kept := members[:0]
	for _, m := range members {
		v, _ := m.(map[string]any)["value"].(string)
		if st.resources[scim.Users][v] == nil && st.resources[scim.Groups][v] == nil {
			return badRequest(scim.InvalidValue, "member "+quote(v)+" does not exist")
		}
		if !seen[v] { // a repeated add is a no-op (R26)
			seen[v] = true
			kept = append(kept, m)
		}
	}
	if members != nil {
		r["members"] = kept
		tidy(r)
	}
	return nil
}

func touch(r map[string]any) {
	meta, _ := r["meta"].(map[string]any)
	if meta == nil {
		return
	}
	meta["lastModified"] = time.Now().UTC().Format(time.RFC3339)
	n, _ := strconv.Atoi(strings.Trim(strings.TrimPrefix(meta["version"].(string), "W/"), `"`))
	meta["version"] = `W/"` + strconv.Itoa(n+1) + `"`
}

// tidy drops empty lists and an empty enterprise extension, and keeps
// schemas in step with the extension.
func tidy(r map[string]any) {
	for k, v := range r {
		if l, ok := v.([]any); ok && len(l) == 0 {
			delete(r, k)
		}
	}
	ext, hasExt := r[scim.URNEnterpriseUser].(map[string]any)
	if hasExt && len(ext) == 0 {
		delete(r, scim.URNEnterpriseUser)
		hasExt = false
	}
	schemas, _ := r["schemas"].([]any)
	listed := false
	kept := schemas[:0]
	for _, s := range schemas {
		if s == scim.URNEnterpriseUser {
			listed = true
			if !hasExt {
				continue
			}
		}
		kept = append(kept, s)
	}
	if hasExt && !listed {
		kept = append(kept, scim.URNEnterpriseUser)
	}
	r["schemas"] = kept
}

func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = deepCopy(e)
		}
		return out
	case []string:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = e
		}
		return out
	}
	return v
}
