package scim

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// FuzzParseJSON holds parseJSON to json.Valid's verdict, so that the
// normalizers can skip validating first, and to writing back what it read.
func FuzzParseJSON(f *testing.F) {
	for _, seed := range []string{
		`{"a":[1,-0,2.5e+3,true,false,null,"x\u00e9\n"]}`, `[]`, `{}`, ` 0 `, `-`, `01`, `1.`, `1e`, `.5`, `+1`,
		`"\x"`, "\"a\x01\"", `"\"`, `[1,]`, `{"a":1,}`, `{"a" 1}`, `{1:2}`, `nul`, `[1 2]`, `"\ud800"`, "\"\xff\"",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		root, ok := parseJSON(data)
		if valid := json.Valid(data); ok != valid {
			t.Fatalf("parseJSON ok=%v, json.Valid=%v for %q", ok, valid, data)
		}
		if !ok {
			return
		}
		var want, got bytes.Buffer
		if err := json.Compact(&want, data); err != nil {
			t.Fatal(err)
		}
		if err := json.Compact(&got, appendJSON(nil, root)); err != nil || got.String() != want.String() {
			t.Fatalf("written back as %q (%v), want %q", got.String(), err, want.String())
		}
	})
}

// Nesting is limited as encoding/json limits it (deep seeds would make the
// fuzzer crawl).
func TestParseJSONDepth(t *testing.T) {
	for _, tt := range []struct {
		depth int
		ok    bool
	}{{1, true}, {maxDepth, true}, {maxDepth + 1, false}} {
		for _, open := range []string{"[", `{"a":`} {
			close := map[string]string{"[": "]", `{"a":`: "}"}[open]
			doc := []byte(strings.Repeat(open, tt.depth) + "1" + strings.Repeat(close, tt.depth))
			if _, ok := parseJSON(doc); ok != tt.ok || json.Valid(doc) != tt.ok {
				t.Errorf("depth %d of %s: parseJSON %v, json.Valid %v, want %v", tt.depth, open, ok, json.Valid(doc), tt.ok)
			}
		}
	}
}
