package testkit

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestStructFields(t *testing.T) {
	path := filepath.Join(t.TempDir(), "src.go")
	src := `package p

type Config struct {
	// Listen is the
	// address.
	Listen string ` + "`yaml:\"listen\"`" + `
	A, B   int
	Inner
}

type Inner struct {
	// Flag is documented.
	Flag bool
}

type notAStruct int
`
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	want := []StructField{
		{Type: "Config", Name: "Listen", Doc: "Listen is the address.", Tag: "`yaml:\"listen\"`"},
		{Type: "Config", Name: "A"},
		{Type: "Config", Name: "B"},
		{Type: "Config", Name: "Inner"},
		{Type: "Inner", Name: "Flag", Doc: "Flag is documented."},
	}
	if got := StructFields(t, path); !reflect.DeepEqual(got, want) {
		t.Fatalf("StructFields:\n got %+v\nwant %+v", got, want)
	}
}
