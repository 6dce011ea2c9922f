package openapi

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
)

// TestDocumentIsValidOpenAPI31 validates the assembled document against the
// OpenAPI 3.1 specification's schema.
func TestDocumentIsValidOpenAPI31(t *testing.T) {
	doc, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := libopenapi.NewDocument(doc.JSON)
	if err != nil {
		t.Fatalf("parse the document: %v", err)
	}
	v, errs := validator.NewValidator(parsed)
	if len(errs) > 0 {
		t.Fatalf("build a validator: %v", errs)
	}
	if ok, problems := v.ValidateDocument(); !ok {
		for _, p := range problems {
			t.Errorf("%s: %s (%s)", p.Message, p.Reason, p.SpecPath)
			for _, f := range p.SchemaValidationErrors {
				t.Errorf("  at %s: %s", f.FieldPath, f.Reason)
			}
		}
	}
	if _, err := parsed.BuildV3Model(); err != nil {
		t.Errorf("build the model: %v", err)
	}
}

const testBase = `openapi: 3.1.0
info: {title: t, version: "1"}
components:
  schemas:
    Error: {type: object}
`

// TestBuildRefuses checks that a fragment that would make the document
// wrong stops the assembly with a message naming the file and the thing.
func TestBuildRefuses(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"an operation twice", map[string]string{
			"a.yaml": "paths:\n  /x:\n    get: {responses: {\"200\": {description: ok}}}\n",
			"b.yaml": "paths:\n  /x:\n    get: {responses: {\"200\": {description: ok}}}\n",
		}, "b.yaml: GET /x is already described in a.yaml"},
		{"a schema twice", map[string]string{
			"a.yaml": "components:\n  schemas:\n    Error: {type: string}\n",
		}, "a.yaml: components.schemas.Error is already defined in base.yaml"},
		{"something else than paths and components", map[string]string{
			"a.yaml": "info: {title: x}\n",
		}, `a.yaml: an area file holds only paths and components, not "info"`},
		{"a path with the prefix", map[string]string{
			"a.yaml": "paths:\n  /api/v1/x:\n    get: {responses: {\"200\": {description: ok}}}\n",
		}, "must start with / and leave out /api/v1"},
		{"a reference to nothing", map[string]string{
			"a.yaml": "components:\n  schemas:\n    X: {$ref: \"#/components/schemas/Nothing\"}\n",
		}, `reference "#/components/schemas/Nothing" leads nowhere`},
		{"a broken file", map[string]string{
			"a.yaml": "paths: [\n",
		}, "parse a.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{"base.yaml": {Data: []byte(testBase)}}
			for name, text := range tt.files {
				fsys[name] = &fstest.MapFile{Data: []byte(text)}
			}
			_, err := Build(fsys)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestBuildMerges checks that operations of one path from two files and
// status codes written as numbers end up in the document.
func TestBuildMerges(t *testing.T) {
	fsys := fstest.MapFS{
		"base.yaml": {Data: []byte(testBase)},
		"a.yaml":    {Data: []byte("paths:\n  /x:\n    get: {responses: {200: {description: ok}}}\n")},
		"b.yaml":    {Data: []byte("paths:\n  /x:\n    post: {responses: {201: {description: ok}}}\n")},
	}
	doc, err := Build(fsys)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"get":{"responses":{"200"`, `"post":{"responses":{"201"`} {
		if !strings.Contains(string(doc.JSON), want) {
			t.Errorf("document lacks %s:\n%s", want, doc.JSON)
		}
	}
}
