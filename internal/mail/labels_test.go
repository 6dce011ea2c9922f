package mail

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestEveryKindHasALabel finds every constant of type Kind in the
// package's source, so that a kind added later without a label fails.
func TestEveryKindHasALabel(t *testing.T) {
	found := constantsOfType(t, "Kind")
	if len(found) < len(kinds) {
		t.Fatalf("found %d Kind constants in the source, fewer than the %d kinds", len(found), len(kinds))
	}
	for _, k := range found {
		if label := KindLabel(k); label == k || label == "" {
			t.Errorf("kind %q has no label", k)
		}
	}
	if got := KindLabel("retired_kind"); got != "retired_kind" {
		t.Errorf("an unknown kind shows as %q, want it as stored", got)
	}
}

// constantsOfType returns the values of the string constants declared
// with the type in the package's non-test files.
func constantsOfType(t *testing.T, typ string) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var values []string
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			spec, ok := n.(*ast.ValueSpec)
			if !ok {
				return true
			}
			if id, ok := spec.Type.(*ast.Ident); !ok || id.Name != typ {
				return true
			}
			for _, v := range spec.Values {
				if lit, ok := v.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					s, _ := strconv.Unquote(lit.Value)
					values = append(values, s)
				}
			}
			return true
		})
	}
	return values
}
