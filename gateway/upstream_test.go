package gateway_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// upstream is a small, strict SCIM user service: it serves /Users under any
// base path, answers /Groups with 404 (it keeps no groups), refuses what a
// strict RFC 7644 server refuses (capitalised PATCH ops, string booleans,
// a wrong media type), writes its own absolute URLs into Location and
// meta.location, and records every request it sees.
type upstream struct {
	t   testing.TB
	srv *httptest.Server

	mu       sync.Mutex
	users    map[string]map[string]any
	nextID   int
	seen     []seenRequest
	canceled chan string // paths whose request context ended before the answer
}

type seenRequest struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   string
}

func newUpstream(t testing.TB) *upstream {
	u := &upstream{t: t, users: map[string]map[string]any{}, canceled: make(chan string, 16)}
	u.srv = httptest.NewServer(http.HandlerFunc(u.serve))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) requests() []seenRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]seenRequest(nil), u.seen...)
}

func (u *upstream) last() seenRequest {
	u.t.Helper()
	seen := u.requests()
	if len(seen) == 0 {
		u.t.Fatal("the upstream saw no request")
	}
	return seen[len(seen)-1]
}

var (
	basePath   = regexp.MustCompile(`^/(?:scim/v2|advisors|rooms|slow)`)
	filterEq   = regexp.MustCompile(`^(userName|externalId) eq "([^"]*)"$`)
	typedFalse = regexp.MustCompile(`(?i)"(true|false)"`)
)

func (u *upstream) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	u.mu.Lock()
	u.seen = append(u.seen, seenRequest{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), string(body)})
	u.mu.Unlock()
	if d, err := time.ParseDuration(r.Header.Get("X-Test-Delay")); err == nil {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			u.canceled <- r.URL.Path
			return
		}
	}
	base := basePath.FindString(r.URL.Path)
	rest := strings.TrimPrefix(r.URL.Path, base)
	self := "http://" + r.Host + base
	seg := strings.Split(strings.Trim(rest, "/"), "/")
	switch {
	case rest == "/ServiceProviderConfig":
		u.json(w, 200, map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"}, "patch": map[string]bool{"supported": true}})
	case seg[0] != "Users":
		u.fail(w, 404, "no such endpoint")
	case r.Method != http.MethodGet && r.Method != http.MethodDelete && r.Header.Get("Content-Type") != "application/scim+json":
		u.fail(w, 415, "want application/scim+json, got "+r.Header.Get("Content-Type"))
	case len(seg) == 1 && r.Method == http.MethodGet:
		u.list(w, r)
	case len(seg) == 1 && r.Method == http.MethodPost:
		u.create(w, body, self)
	case len(seg) == 2:
		u.one(w, r, seg[1], body, self)
	default:
		u.fail(w, 405, "method not allowed")
	}
}

func (u *upstream) list(w http.ResponseWriter, r *http.Request) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		u.fail(w, 400, "bad query")
		return
	}
	var match []string
	if f := q.Get("filter"); f != "" {
		if match = filterEq.FindStringSubmatch(f); match == nil {
			u.fail(w, 400, "invalidFilter: "+f)
			return
		}
	}
	u.mu.Lock()
	found := []any{}
	for _, user := range u.users {
		if match == nil || user[match[1]] == match[2] {
			found = append(found, user)
		}
	}
	u.mu.Unlock()
	u.json(w, 200, map[string]any{
		"schemas":      []string{"urn:ietf:params:scim:api:messages:2.0:ListResponse"},
		"totalResults": len(found), "startIndex": 1, "itemsPerPage": len(found), "Resources": found,
	})
}

func (u *upstream) create(w http.ResponseWriter, body []byte, self string) {
	var user map[string]any
	if err := json.Unmarshal(body, &user); err != nil || user["userName"] == nil {
		u.fail(w, 400, "invalidSyntax")
		return
	}
	if typedFalse.Match(body) {
		u.fail(w, 400, "invalidValue: boolean sent as a string")
		return
	}
	u.mu.Lock()
	u.nextID++
	id := fmt.Sprintf("u%d", u.nextID)
	user["id"] = id
	user["meta"] = map[string]any{"resourceType": "User", "location": self + "/Users/" + id}
	user["password"] = "never returned"
	u.users[id] = user
	u.mu.Unlock()
	w.Header().Set("Location", self+"/Users/"+id)
	u.json(w, 201, user)
}

func (u *upstream) one(w http.ResponseWriter, r *http.Request, id string, body []byte, self string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	user, ok := u.users[id]
	if !ok {
		u.fail(w, 404, "user "+id+" not found")
		return
	}
	switch r.Method {
	case http.MethodGet:
		u.json(w, 200, user)
	case http.MethodDelete:
		delete(u.users, id)
		w.WriteHeader(204)
	case http.MethodPatch:
		var patch struct {
			Operations []struct {
				Op    string `json:"op"`
				Path  string `json:"path"`
				Value any    `json:"value"`
			}
		}
		if err := json.Unmarshal(body, &patch); err != nil {
			u.fail(w, 400, "invalidSyntax")
			return
		}
		for _, op := range patch.Operations {
			if op.Op != "replace" && op.Op != "add" && op.Op != "remove" || op.Path == "" {
				u.fail(w, 400, "invalidSyntax: op "+op.Op+" path "+op.Path)
				return
			}
			if op.Path == "active" {
				if _, isBool := op.Value.(bool); !isBool {
					u.fail(w, 400, "invalidValue: active must be a boolean")
					return
				}
			}
			user[op.Path] = op.Value
		}
		u.json(w, 200, user)
	default:
		u.fail(w, 405, "method not allowed")
	}
}

func (u *upstream) json(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/scim+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// fail answers like many real services do: plain text, which the
// response normalizer must turn into a SCIM error.
func (u *upstream) fail(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg)
}
