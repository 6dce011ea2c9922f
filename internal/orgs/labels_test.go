package orgs

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestEveryEventHasALabel finds every constant of type EventKind in the
// package's source, so that an audited action added later without a
// label fails.
func TestEveryEventHasALabel(t *testing.T) {
	found := constantsOfType(t, "EventKind")
	if len(found) < 16 {
		t.Fatalf("found only %d EventKind constants in the source", len(found))
	}
	for _, k := range found {
		if label := EventLabel(k); label == k || label == "" {
			t.Errorf("audit action %q has no label", k)
		}
	}
	if got := EventLabel("retired.action"); got != "retired.action" {
		t.Errorf("an unknown action shows as %q, want it as stored", got)
	}
	for field, want := range map[string]string{"role": "Role", "reply_to": "Reply-To address", "some_new_field": "Some new field"} {
		if got := FieldLabel(field); got != want {
			t.Errorf("FieldLabel(%q) = %q, want %q", field, got, want)
		}
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
