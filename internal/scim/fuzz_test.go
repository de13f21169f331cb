package scim

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
)

var fuzzDialects = [...]Dialect{Auto, Entra, Okta, OneLogin, Unknown, Off}
var fuzzMethods = [...]string{"GET", "POST", "PUT", "PATCH", "DELETE"}

func FuzzNormalizeRequest(f *testing.F) {
	for _, file := range readGoldenFiles(f) {
		for i, c := range file.Cases {
			req := c.Request.request(f)
			f.Add(uint8(i), req.Method, req.Path, req.RawQuery, req.Header.Get("Content-Type"), req.Body)
		}
	}
	f.Fuzz(func(t *testing.T, sel uint8, method, path, query, contentType string, body []byte) {
		d := fuzzDialects[int(sel)%len(fuzzDialects)]
		h := http.Header{}
		h.Set("Content-Type", contentType)
		req := Request{Method: method, Path: path, RawQuery: query, Header: h, Body: body}
		got, err := NormalizeRequest(d, req)
		if err != nil {
			var se *Error
			if !errors.As(err, &se) || se.Status != http.StatusBadRequest || se.ScimType == "" {
				t.Fatalf("error %v is not a 400 SCIM error", err)
			}
			return
		}
		if json.Valid(body) && !json.Valid(got.Body) {
			t.Fatalf("valid JSON in, invalid out: %q", got.Body)
		}
		if d == Off {
			return
		}
		if !mentionsRemoval(body) && hasRemove(got.Body) {
			t.Fatalf("an add became a remove: %q", got.Body)
		}
		if method != "PATCH" && !bytes.Equal(got.Body, body) && hasEmptyExtension(got.Body) {
			t.Fatalf("rewritten body keeps an empty enterprise extension: %q", got.Body)
		}
		if !bytes.Equal(got.Body, body) && repeatsKey(got.Body) && !repeatsKey(body) {
			t.Fatalf("a member name written twice into one object: %q", got.Body)
		}
		h2 := h.Clone()
		h2.Set("Content-Type", got.ContentType)
		again, err := NormalizeRequest(got.Dialect, Request{Method: method, Path: path, RawQuery: got.RawQuery, Header: h2, Body: got.Body})
		if err != nil || again.RawQuery != got.RawQuery || !bytes.Equal(again.Body, got.Body) || again.ContentType != got.ContentType {
			t.Fatalf("not idempotent:\n once %q %q\ntwice %q %q %v", got.RawQuery, got.Body, again.RawQuery, again.Body, err)
		}
	})
}

func FuzzNormalizeResponse(f *testing.F) {
	for _, file := range readGoldenFiles(f) {
		for i, c := range file.Cases {
			if r := c.Response; r != nil {
				req := c.Request.request(f)
				f.Add(uint8(i), req.Method, req.Path, req.RawQuery, r.Upstream.Status, r.Upstream.ContentType, compactBytes(f, r.Upstream.Body, r.Upstream.BodyText))
			}
		}
	}
	f.Fuzz(func(t *testing.T, sel uint8, method, path, query string, status int, contentType string, body []byte) {
		if status < 100 || status > 599 {
			return
		}
		d := fuzzDialects[int(sel)%len(fuzzDialects)]
		h := http.Header{}
		if sel&0x80 != 0 {
			h.Set("Accept", "application/json")
		}
		req := Request{Method: fuzzMethods[int(sel)%len(fuzzMethods)], Path: path, RawQuery: query, Header: h}
		if method != "" {
			req.Method = method
		}
		got, _ := NormalizeResponse(d, req, Response{Status: status, ContentType: contentType, Body: body})
		if d == Off {
			return
		}
		if (json.Valid(body) || status >= 400) && len(got.Body) > 0 && !json.Valid(got.Body) {
			t.Fatalf("invalid JSON out: %q", got.Body)
		}
		again, _ := NormalizeResponse(d, req, got)
		if again.Status != got.Status || again.ContentType != got.ContentType || !bytes.Equal(again.Body, got.Body) {
			t.Fatalf("not idempotent: %d %q then %d %q", got.Status, got.Body, again.Status, again.Body)
		}
	})
}

// mentionsRemoval reports whether a JSON body holds, anywhere, a string that
// is "remove" or "replace" in any case: only those ops may become removes.
func mentionsRemoval(body []byte) bool {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return true
	}
	var walk func(any) bool
	walk = func(v any) bool {
		switch v := v.(type) {
		case string:
			return strings.EqualFold(v, "remove") || strings.EqualFold(v, "replace")
		case []any:
			return slices.ContainsFunc(v, walk)
		case map[string]any:
			for _, e := range v {
				if walk(e) {
					return true
				}
			}
		}
		return false
	}
	return walk(v)
}

// hasRemove reports whether a canonical PATCH body has a remove operation.
func hasRemove(body []byte) bool {
	var p struct {
		Operations []struct{ Op string }
	}
	_ = json.Unmarshal(body, &p)
	return slices.ContainsFunc(p.Operations, func(o struct{ Op string }) bool { return o.Op == "remove" })
}

// hasEmptyExtension reports whether a body's enterprise extension is {}.
func hasEmptyExtension(body []byte) bool {
	var r map[string]any
	_ = json.Unmarshal(body, &r)
	ext, ok := r[URNEnterpriseUser].(map[string]any)
	return ok && len(ext) == 0
}

// repeatsKey reports whether an object of a JSON document has two members
// of the same name.
func repeatsKey(body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	type frame struct {
		object bool
		keys   map[string]bool
		key    bool // the next token is a member name
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.key {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				continue
			}
			k := tok.(string)
			if top.keys[k] {
				return true
			}
			top.keys[k] = true
			top.key = false
			continue
		}
		if top != nil && top.object {
			top.key = true // this token is a member's value
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, keys: map[string]bool{}, key: true})
		case json.Delim('['):
			stack = append(stack, &frame{})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
	}
}
