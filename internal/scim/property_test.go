package scim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// canonicalOp is one operation in the canonical form the upstream receives.
type canonicalOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

func randWord(r *rand.Rand) string {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@.- \"é"
	b := make([]rune, 1+r.IntN(12))
	for i := range b {
		b[i] = []rune(letters)[r.IntN(len([]rune(letters)))]
	}
	return string(b)
}

// randCanonicalPatch builds a random canonical PATCH for /Users or /Groups.
func randCanonicalPatch(r *rand.Rand, res Resource) []canonicalOp {
	var ops []canonicalOp
	for range 1 + r.IntN(6) {
		var op canonicalOp
		if res == Groups {
			switch r.IntN(4) {
			case 0:
				op = canonicalOp{"replace", "displayName", randWord(r)}
			case 1:
				op = canonicalOp{"add", "members", []any{map[string]any{"value": randWord(r)}}}
			case 2:
				op = canonicalOp{"remove", fmt.Sprintf("members[value eq %s]", mustJSON(randWord(r))), nil}
			default:
				op = canonicalOp{"replace", "members", []any{map[string]any{"value": randWord(r)}}}
			}
		} else {
			switch r.IntN(8) {
			case 0:
				op = canonicalOp{"replace", "active", r.IntN(2) == 0}
			case 1:
				op = canonicalOp{"replace", []string{"displayName", "nickName", "title", "userName", "externalId"}[r.IntN(5)], randWord(r)}
			case 2:
				op = canonicalOp{"replace", []string{"name.givenName", "name.familyName"}[r.IntN(2)], randWord(r)}
			case 3:
				op = canonicalOp{"replace", URNEnterpriseUser + ":" + []string{"employeeNumber", "department"}[r.IntN(2)], randWord(r)}
			case 4:
				op = canonicalOp{"replace", URNEnterpriseUser + ":manager", map[string]any{"value": randWord(r)}}
			case 5:
				op = canonicalOp{"add", "emails", []any{map[string]any{"type": "work", "value": randWord(r), "primary": r.IntN(2) == 0}}}
			case 6:
				op = canonicalOp{"replace", `emails[type eq "work"].value`, randWord(r)}
			default:
				op = canonicalOp{"remove", "title", nil}
			}
		}
		ops = append(ops, op)
	}
	return ops
}

func mustJSON(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func patchJSON(ops []any) []byte {
	return []byte(mustJSON(map[string]any{"schemas": []string{URNPatchOp}, "Operations": ops}))
}

// dialectNoise rewrites canonical operations the way the providers send them.
func dialectNoise(r *rand.Rand, ops []canonicalOp) []any {
	var out []any
	for i := 0; i < len(ops); i++ {
		op := ops[i]
		m := map[string]any{"op": op.Op, "path": op.Path}
		if op.Value != nil {
			m["value"] = op.Value
		}
		if r.IntN(2) == 0 { // Entra's default job
			m["op"] = strings.ToUpper(op.Op[:1]) + op.Op[1:]
		}
		switch v := op.Value.(type) {
		case bool:
			if r.IntN(2) == 0 {
				m["value"] = []string{"False", "True"}[boolInt(v)]
			}
			if r.IntN(2) == 0 {
				m["op"] = "Add" // RFC: add on a single-valued attribute replaces
			}
		case map[string]any:
			if strings.HasSuffix(op.Path, ":manager") && r.IntN(2) == 0 {
				m["value"] = v["value"]
			}
		case []any:
			if e, ok := v[0].(map[string]any); ok && e["primary"] != nil && r.IntN(2) == 0 {
				e2 := map[string]any{"type": e["type"], "value": e["value"], "Primary": []string{"false", "TRUE"}[boolInt(e["primary"].(bool))]}
				m["value"] = []any{e2}
			}
		}
		if op.Op == "remove" && strings.HasPrefix(op.Path, "members[") && r.IntN(2) == 0 {
			var id string
			_ = json.Unmarshal([]byte(strings.TrimSuffix(strings.TrimPrefix(op.Path, "members[value eq "), "]")), &id)
			m["path"], m["value"] = "members", []any{map[string]any{"$ref": nil, "value": id}}
		}
		// Entra's flag job and Okta: consecutive replaces of plain paths as one path-less op
		if op.Op == "replace" && mergeable(op) && r.IntN(2) == 0 {
			value := map[string]any{}
			keys := []string{}
			for ; i < len(ops) && ops[i].Op == "replace" && mergeable(ops[i]) && !contains(keys, ops[i].Path); i++ {
				value[ops[i].Path] = ops[i].Value
				keys = append(keys, ops[i].Path)
			}
			i--
			out = append(out, orderedPathless{op: m["op"].(string), keys: keys, value: value})
			continue
		}
		out = append(out, m)
	}
	return out
}

func mergeable(op canonicalOp) bool {
	_, isList := op.Value.([]any)
	return !strings.Contains(op.Path, "[") && !isList
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// orderedPathless marshals a path-less op whose value keeps key order.
type orderedPathless struct {
	op    string
	keys  []string
	value map[string]any
}

func (o orderedPathless) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	b.WriteString(`{"op":` + mustJSON(o.op) + `,"value":{`)
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(mustJSON(k) + ":" + mustJSON(o.value[k]))
	}
	b.WriteString("}}")
	return []byte(b.String()), nil
}

func decode(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("invalid JSON %s: %v", b, err)
	}
	return v
}

// TestPropertyCanonicalAndNoise: a canonical PATCH passes unchanged (same
// bytes, no rewrites), and the same PATCH in any provider's dialect
// normalizes to it.
func TestPropertyCanonicalAndNoise(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	h := http.Header{"Content-Type": {MediaTypeSCIM}}
	for i := range 2000 {
		res := []Resource{Users, Groups}[i%2]
		ops := randCanonicalPatch(r, res)
		var anyOps []any
		for _, op := range ops {
			anyOps = append(anyOps, op)
		}
		canonical := patchJSON(anyOps)
		path := "/" + string(res) + "/id"
		for _, d := range []Dialect{Auto, Entra, Okta, OneLogin} {
			got, err := NormalizeRequest(d, Request{Method: "PATCH", Path: path, Header: h, Body: canonical})
			if err != nil || !bytes.Equal(got.Body, canonical) || len(got.Rewrites) != 0 {
				t.Fatalf("%s: canonical input changed:\n in %s\nout %s %v %v", d, canonical, got.Body, got.Rewrites, err)
			}
		}
		noisy := patchJSON(dialectNoise(r, ops))
		got, err := NormalizeRequest(Entra, Request{Method: "PATCH", Path: path, Header: h, Body: noisy})
		if err != nil {
			t.Fatalf("noisy %s: %v", noisy, err)
		}
		if !reflect.DeepEqual(decode(t, got.Body), decode(t, canonical)) {
			t.Fatalf("noise not undone:\nnoisy %s\n  got %s\n want %s", noisy, got.Body, canonical)
		}
	}
}

// TestPropertyCorpus runs every golden input through every dialect: no
// panics, JSON in gives JSON out, errors are 400 SCIM errors, and the output
// is a fixpoint.
func TestPropertyCorpus(t *testing.T) {
	for _, req := range goldenRequests(t) {
		for _, d := range []Dialect{Auto, Entra, Okta, OneLogin, Unknown} {
			got, err := NormalizeRequest(d, req)
			if err != nil {
				var se *Error
				if !errors.As(err, &se) || se.Status != 400 {
					t.Fatalf("%s %s: %v", req.Method, req.Path, err)
				}
				continue
			}
			if json.Valid(req.Body) && !json.Valid(got.Body) {
				t.Fatalf("invalid JSON out: %s", got.Body)
			}
			checkFixpoint(t, req.Method+" "+req.Path, got, req)
		}
	}
}

func goldenRequests(t *testing.T) []Request {
	var out []Request
	for _, f := range readGoldenFiles(t) {
		for _, c := range f.Cases {
			out = append(out, c.Request.request(t))
		}
	}
	return out
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
