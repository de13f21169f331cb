package jsontext

import (
	"encoding/json"
	"testing"
)

func TestAppendStringAsEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "scim.read scim.write", "eyJhbGciOiJFUzI1NiJ9.e30.sig-_x", `a"b`, `a\b`, "a<b>&", "é", "\x7f", "\x00\n\t", "\xff", "\u2028"} {
		want, _ := json.Marshal(s)
		if got := AppendString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Errorf("%q: %s, want x%s", s, got, want)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	f.Add("scim.full")
	f.Add("<\"é\xff")
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := AppendString(nil, s); string(got) != string(want) {
			t.Fatalf("%q: %s, want %s", s, got, want)
		}
	})
}
