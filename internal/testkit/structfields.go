package testkit

import (
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"strings"
	"testing"
)

// StructField is one field of a struct type as declared in Go source.
type StructField struct {
	Type string // the struct type's name
	Name string // the field's name; for an embedded field, its type
	Doc  string // the doc comment, folded onto one line; "" when there is none
	Tag  string // the tag as written, quotes included; "" when there is none
}

// StructFields lists the fields of every struct type declared in the Go
// file at path, in source order. Tests use it to hold documentation that
// is generated from doc comments, such as the configuration reference, to
// the source.
func StructFields(t testing.TB, path string) []StructField {
	t.Helper()
	file, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	var fields []StructField
	ast.Inspect(file, func(n ast.Node) bool {
		spec, ok := n.(*ast.TypeSpec)
		if !ok {
			return true
		}
		st, ok := spec.Type.(*ast.StructType)
		if !ok {
			return true
		}
		for _, f := range st.Fields.List {
			field := StructField{Type: spec.Name.Name}
			if f.Doc != nil {
				field.Doc = strings.Join(strings.Fields(f.Doc.Text()), " ")
			}
			if f.Tag != nil {
				field.Tag = f.Tag.Value
			}
			if len(f.Names) == 0 {
				field.Name = types.ExprString(f.Type)
				fields = append(fields, field)
			}
			for _, name := range f.Names {
				field.Name = name.Name
				fields = append(fields, field)
			}
		}
		return true
	})
	return fields
}
