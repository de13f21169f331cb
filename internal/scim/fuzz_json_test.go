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
		`"\x"`, "\"a\x01\"", `"\"`, `"urn:ietf:params:scim:schemas:core:2.0:User\"x"`, "\"0123456789abcdef\x1fx\"", `[1,]`, `{"a":1,}`, `{"a" 1}`, `{1:2}`, `nul`, `[1 2]`, `"\ud800"`, "\"\xff\"",
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

// plainString stops at the first '"', '\\' or control byte whatever its
// place in an eight-byte word, and at nothing else: every byte value at
// every offset of a few words, past the end of the data too.
func TestPlainString(t *testing.T) {
	for b := range 256 {
		special := b < 0x20 || b == '"' || b == '\\'
		for at := range 24 {
			for _, size := range []int{at + 1, at + 3, 24} {
				data := bytes.Repeat([]byte{'a'}, size)
				data[at] = byte(b)
				for start := 0; start <= at; start += 5 {
					c := jsonCursor{data: data, pos: start}
					c.plainString()
					want := size
					if special {
						want = at
					}
					if c.pos != want {
						t.Fatalf("byte %#x at %d of %d, from %d: stopped at %d, want %d", b, at, size, start, c.pos, want)
					}
				}
			}
		}
	}
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
