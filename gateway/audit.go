package gateway

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"

	"github.com/scimgate/scimgate/internal/audit"
	"github.com/scimgate/scimgate/internal/scim"
)

// writeEvent names the audit event of a SCIM write, read from the
// normalized request.
func writeEvent(method string, t target, body []byte) string {
	switch method {
	case http.MethodPost:
		return audit.SCIMCreate
	case http.MethodDelete:
		return audit.SCIMDelete
	case http.MethodPut, http.MethodPatch:
		if t.resource == scim.Users && deactivates(method, body) {
			return audit.SCIMDeactivate
		}
		return audit.SCIMUpdate
	}
	return ""
}

// deactivates reports whether a PUT or PATCH of a user sets active to
// false. After normalization every IdP's deactivation has one of two forms
// — {"op":"replace","path":"active","value":false} or a PUT body with
// "active":false — but the raw forms (path-less values, "False" strings,
// capitalised ops) are recognised too, for routes whose dialect is off.
// Bodies that do not mention "active" cost one scan.
func deactivates(method string, body []byte) bool {
	if !bytes.Contains(bytes.ToLower(body), []byte(`"active"`)) {
		return false
	}
	if method == http.MethodPut {
		var u struct {
			Active json.RawMessage `json:"active"`
		}
		return json.Unmarshal(body, &u) == nil && isFalse(u.Active)
	}
	var patch struct {
		Operations []struct {
			Op    string          `json:"op"`
			Path  string          `json:"path"`
			Value json.RawMessage `json:"value"`
		} `json:"Operations"`
	}
	if json.Unmarshal(body, &patch) != nil {
		return false
	}
	for _, op := range patch.Operations {
		if !strings.EqualFold(op.Op, "replace") && !strings.EqualFold(op.Op, "add") {
			continue
		}
		if strings.EqualFold(op.Path, "active") && isFalse(op.Value) {
			return true
		}
		var values map[string]json.RawMessage
		if op.Path == "" && json.Unmarshal(op.Value, &values) == nil {
			for k, v := range values {
				if strings.EqualFold(k, "active") && isFalse(v) {
					return true
				}
			}
		}
	}
	return false
}

func isFalse(v json.RawMessage) bool {
	s := string(bytes.TrimSpace(v))
	return s == "false" || strings.EqualFold(s, `"false"`)
}

// recordWrite audits a SCIM write with the upstream's status (or the
// gateway's 502/504, or 499 when the client went away).
func (g *Gateway) recordWrite(ex *exchange, status int, h http.Header, body []byte) {
	if ex.event == "" || g.audit == nil {
		return
	}
	id := ex.target.id
	if id == "" && status >= 200 && status < 300 {
		id = createdID(h, body)
	}
	p := ex.principal
	g.audit.Record(ex.ctx, ex.event,
		slog.String("tenant", p.tenant), slog.String("client", p.credential), slog.String("auth_method", p.method.header[0]),
		slog.String("resource", string(ex.target.resource)), slog.String("id", id), slog.Int("status", status))
}

// createdID finds the id of a created resource: the last segment of
// Location, or the body's "id".
func createdID(h http.Header, body []byte) string {
	if loc := strings.TrimRight(h.Get("Location"), "/"); loc != "" {
		return loc[strings.LastIndexByte(loc, '/')+1:]
	}
	var r struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(body, &r)
	return r.ID
}
