package web

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/mailschool/mailschool/internal/web/openapi"
)

// apiDescription serves the OpenAPI document, assembled at start-up.
func (s *Server) apiDescription(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Header().Set("ETag", s.openapi.ETag)
	http.ServeContent(w, r, "openapi.json", time.Time{}, bytes.NewReader(s.openapi.JSON))
}

// apiReferencePage is the API's reference for people, made from the same
// document.
func (s *Server) apiReferencePage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "api_reference.html", "API reference", s.apiRef)
}

// apiReference is the document as the reference page shows it.
type apiReference struct {
	Tags    []apiRefTag
	Schemas []apiRefSchema
}

type apiRefTag struct {
	Name, Description, Anchor string
	Operations                []apiRefOperation
}

type apiRefOperation struct {
	ID, Method, Path, Summary, Description string
	Public                                 bool // needs neither key nor session
	Parameters                             []apiRefField
	// The request body: its JSON fields, or what else it is.
	BodyFields []apiRefField
	BodyOther  string
	Responses  []apiRefResponse
	// The fields of the first success answer with a body; FieldsOf names
	// the schema, ListOf the item schema when it is a list.
	Fields        []apiRefField
	FieldsOf      string
	ListOf        string
	SuccessStatus string
}

type apiRefField struct {
	Name, In, Type, Ref, Description string
	Required                         bool
}

type apiRefResponse struct {
	Status, Description, Schema string
}

type apiRefSchema struct {
	Name, Description, Type string
	Fields                  []apiRefField
}

var methodOrder = []string{"get", "post", "put", "patch", "delete"}

// newAPIReference arranges the document by tag, in the order of its tags
// list, each tag's operations by path and then method.
func newAPIReference(doc *openapi.Document) (*apiReference, error) {
	spec := doc.Spec
	ref := &apiReference{}
	byTag := map[string]int{}
	for _, t := range asList(spec["tags"]) {
		tm := asObject(t)
		name := str(tm["name"])
		byTag[name] = len(ref.Tags)
		ref.Tags = append(ref.Tags, apiRefTag{Name: name, Description: str(tm["description"]), Anchor: anchor(name)})
	}
	paths := asObject(spec["paths"])
	for _, p := range sortedKeys(paths) {
		item := asObject(paths[p])
		for _, m := range methodOrder {
			op := asObject(item[m])
			if op == nil {
				continue
			}
			o, err := newAPIRefOperation(spec, p, m, op)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", strings.ToUpper(m), p, err)
			}
			tags := asList(op["tags"])
			if len(tags) == 0 {
				return nil, fmt.Errorf("%s %s has no tag", strings.ToUpper(m), p)
			}
			i, ok := byTag[str(tags[0])]
			if !ok {
				return nil, fmt.Errorf("%s %s: tag %q is not in the tags list", strings.ToUpper(m), p, str(tags[0]))
			}
			ref.Tags[i].Operations = append(ref.Tags[i].Operations, o)
		}
	}
	ref.Tags = slices.DeleteFunc(ref.Tags, func(t apiRefTag) bool { return len(t.Operations) == 0 })
	schemas := asObject(asObject(spec["components"])["schemas"])
	for _, name := range sortedKeys(schemas) {
		sc := asObject(schemas[name])
		ref.Schemas = append(ref.Schemas, apiRefSchema{Name: name, Description: str(sc["description"]),
			Type: typeOf(sc), Fields: fieldsOf(spec, sc)})
	}
	return ref, nil
}

func newAPIRefOperation(spec map[string]any, path, method string, op map[string]any) (apiRefOperation, error) {
	o := apiRefOperation{ID: str(op["operationId"]), Method: strings.ToUpper(method), Path: "/api/v1" + path,
		Summary: str(op["summary"]), Description: str(op["description"])}
	if sec, ok := op["security"].([]any); ok && len(sec) == 0 {
		o.Public = true
	}
	for _, p := range asList(op["parameters"]) {
		pm, err := resolved(spec, p)
		if err != nil {
			return o, err
		}
		sc := asObject(pm["schema"])
		t, r := typeOf(sc), refName(sc)
		o.Parameters = append(o.Parameters, apiRefField{Name: str(pm["name"]), In: str(pm["in"]), Type: t, Ref: r,
			Required: pm["required"] == true, Description: str(pm["description"])})
	}
	if body := asObject(op["requestBody"]); body != nil {
		content := asObject(body["content"])
		if js := asObject(content["application/json"]); js != nil {
			o.BodyFields = fieldsOf(spec, asObject(js["schema"]))
		} else {
			o.BodyOther = strings.Join(sortedKeys(content), ", ")
		}
	}
	responses := asObject(op["responses"])
	for _, status := range sortedKeys(responses) {
		rm, err := resolved(spec, responses[status])
		if err != nil {
			return o, err
		}
		schema := asObject(asObject(asObject(rm["content"])["application/json"])["schema"])
		name := refName(schema)
		o.Responses = append(o.Responses, apiRefResponse{Status: status, Description: str(rm["description"]), Schema: name})
		if !strings.HasPrefix(status, "2") || o.SuccessStatus != "" {
			continue
		}
		if schema == nil {
			continue // no body, as 204: a later success may have one
		}
		o.SuccessStatus, o.FieldsOf = status, name
		target := schema
		if item := listItem(spec, schema); item != nil {
			o.ListOf = refName(item)
			target = item
		}
		o.Fields = fieldsOf(spec, target)
	}
	return o, nil
}

// listItem is the schema of a list's items ({"items": [...],
// "next_cursor"}), or nil for anything else.
func listItem(spec, schema map[string]any) map[string]any {
	sc, err := resolved(spec, schema)
	if err != nil {
		return nil
	}
	props := asObject(sc["properties"])
	if _, ok := props["next_cursor"]; !ok {
		return nil
	}
	return asObject(asObject(props["items"])["items"])
}

// fieldsOf lists an object schema's properties: the required ones in the
// order of its required list, then the others by name.
func fieldsOf(spec, schema map[string]any) []apiRefField {
	sc, err := resolved(spec, schema)
	if err != nil {
		return nil
	}
	props := asObject(sc["properties"])
	var out []apiRefField
	var required []string
	for _, r := range asList(sc["required"]) {
		required = append(required, str(r))
	}
	add := func(name string, req bool) {
		p := asObject(props[name])
		desc := str(p["description"])
		if desc == "" && p["$ref"] != nil {
			if target, err := resolved(spec, p); err == nil {
				desc = str(target["description"])
			}
		}
		ref := refName(p)
		if ref == "" {
			ref = refName(asObject(p["items"])) // an array of a schema links to it
		}
		out = append(out, apiRefField{Name: name, Type: typeOf(p), Ref: ref, Required: req, Description: desc})
	}
	for _, name := range required {
		if _, ok := props[name]; ok {
			add(name, true)
		}
	}
	for _, name := range sortedKeys(props) {
		if !slices.Contains(required, name) {
			add(name, false)
		}
	}
	return out
}

// typeOf says in words what a schema allows.
func typeOf(sc map[string]any) string {
	if name := refName(sc); name != "" {
		return name
	}
	if c, ok := sc["const"]; ok {
		return fmt.Sprintf("%q", fmt.Sprint(c))
	}
	var types []string
	switch t := sc["type"].(type) {
	case string:
		types = []string{t}
	case []any:
		for _, e := range t {
			types = append(types, str(e))
		}
	}
	for i, t := range types {
		switch {
		case t == "array":
			types[i] = "array of " + typeOf(asObject(sc["items"]))
		case t == "string" && sc["format"] != nil:
			types[i] = "string (" + str(sc["format"]) + ")"
		}
	}
	s := strings.Join(types, " or ")
	if enum := asList(sc["enum"]); len(enum) > 0 {
		var values []string
		for _, e := range enum {
			values = append(values, fmt.Sprint(e))
		}
		s += ": " + strings.Join(values, ", ")
	}
	return s
}

func refName(sc map[string]any) string {
	r := str(sc["$ref"])
	if !strings.HasPrefix(r, "#/components/schemas/") {
		return ""
	}
	return strings.TrimPrefix(r, "#/components/schemas/")
}

// resolved follows v's $ref, if any.
func resolved(spec map[string]any, v any) (map[string]any, error) {
	m := asObject(v)
	for m != nil && m["$ref"] != nil {
		target, err := openapi.Resolve(spec, str(m["$ref"]))
		if err != nil {
			return nil, err
		}
		m = asObject(target)
	}
	return m, nil
}

func anchor(name string) string {
	return strings.ToLower(strings.ReplaceAll(name, " ", "-"))
}

func asObject(v any) map[string]any { m, _ := v.(map[string]any); return m }
func asList(v any) []any            { l, _ := v.([]any); return l }
func str(v any) string              { s, _ := v.(string); return s }

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
