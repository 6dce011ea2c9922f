// Package openapi assembles the OpenAPI 3.1 description of the JSON API
// from the YAML fragments beside this file: base.yaml (the document's
// head, security schemes and shared components) and one file per area of
// the API, each holding only paths and components.
package openapi

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

//go:embed *.yaml
var fragments embed.FS

// Document is the assembled description.
type Document struct {
	// Spec is the document as decoded data: maps, slices and scalars.
	Spec map[string]any
	// JSON is the document as served, and ETag its strong entity tag.
	JSON []byte
	ETag string
}

// Load assembles the document from the embedded fragments.
func Load() (*Document, error) {
	return Build(fragments)
}

// methods are the keys of a path item that are operations.
var methods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// Build assembles the document from base.yaml and every other *.yaml file
// of fsys. An operation (path and method) or a component defined twice is
// refused, as is an area file holding anything but paths and components,
// or a local $ref that leads nowhere.
func Build(fsys fs.FS) (*Document, error) {
	doc, err := decode(fsys, "base.yaml")
	if err != nil {
		return nil, err
	}
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
		return nil, fmt.Errorf("base.yaml: openapi is %q, want 3.1.x", v)
	}
	paths, err := section(doc, "paths", "base.yaml")
	if err != nil {
		return nil, err
	}
	components, err := section(doc, "components", "base.yaml")
	if err != nil {
		return nil, err
	}
	// Where each operation and component was defined, for the message
	// about a second definition.
	origin := map[string]string{}
	record(origin, "base.yaml", paths, components)

	names, err := fs.Glob(fsys, "*.yaml")
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	for _, name := range names {
		if name == "base.yaml" {
			continue
		}
		area, err := decode(fsys, name)
		if err != nil {
			return nil, err
		}
		for key := range area {
			if key != "paths" && key != "components" {
				return nil, fmt.Errorf("%s: an area file holds only paths and components, not %q", name, key)
			}
		}
		if err := mergePaths(paths, area["paths"], name, origin); err != nil {
			return nil, err
		}
		if err := mergeComponents(components, area["components"], name, origin); err != nil {
			return nil, err
		}
	}
	if err := checkRefs(doc, doc, "#"); err != nil {
		return nil, err
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encode the API description: %w", err)
	}
	sum := sha256.Sum256(b)
	return &Document{Spec: doc, JSON: b, ETag: `"` + hex.EncodeToString(sum[:12]) + `"`}, nil
}

// decode reads a YAML file into maps with string keys (YAML reads a
// status code such as 200 as a number, JSON needs a string).
func decode(fsys fs.FS, name string) (map[string]any, error) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	var v any
	if err := yaml.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("parse %s: %w", name, err)
	}
	m, ok := stringKeys(v).(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: not a mapping", name)
	}
	return m, nil
}

func stringKeys(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = stringKeys(e)
		}
		return v
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[fmt.Sprint(k)] = stringKeys(e)
		}
		return m
	case []any:
		for i, e := range v {
			v[i] = stringKeys(e)
		}
	}
	return v
}

// section is doc[key] as a mapping, created when absent.
func section(doc map[string]any, key, file string) (map[string]any, error) {
	switch v := doc[key].(type) {
	case nil:
		m := map[string]any{}
		doc[key] = m
		return m, nil
	case map[string]any:
		return v, nil
	}
	return nil, fmt.Errorf("%s: %s is not a mapping", file, key)
}

func record(origin map[string]string, file string, paths, components map[string]any) {
	for p, item := range paths {
		for key := range asMap(item) {
			origin["paths "+p+" "+key] = file
		}
	}
	for kind, entries := range components {
		for name := range asMap(entries) {
			origin["components "+kind+" "+name] = file
		}
	}
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func mergePaths(dst map[string]any, src any, file string, origin map[string]string) error {
	if src == nil {
		return nil
	}
	paths, ok := src.(map[string]any)
	if !ok {
		return fmt.Errorf("%s: paths is not a mapping", file)
	}
	for p, item := range paths {
		if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "/api/") {
			return fmt.Errorf("%s: path %q must start with / and leave out /api/v1", file, p)
		}
		ops, ok := item.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: path %s is not a mapping", file, p)
		}
		target := asMap(dst[p])
		if target == nil {
			target = map[string]any{}
			dst[p] = target
		}
		for key, op := range ops {
			if !slices.Contains(methods, key) {
				return fmt.Errorf("%s: path %s: %q is not an HTTP method (write parameters on each operation)", file, p, key)
			}
			id := "paths " + p + " " + key
			if first, dup := origin[id]; dup {
				return fmt.Errorf("%s: %s %s is already described in %s", file, strings.ToUpper(key), p, first)
			}
			origin[id] = file
			target[key] = op
		}
	}
	return nil
}

func mergeComponents(dst map[string]any, src any, file string, origin map[string]string) error {
	if src == nil {
		return nil
	}
	kinds, ok := src.(map[string]any)
	if !ok {
		return fmt.Errorf("%s: components is not a mapping", file)
	}
	for kind, entries := range kinds {
		named, ok := entries.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: components.%s is not a mapping", file, kind)
		}
		target := asMap(dst[kind])
		if target == nil {
			target = map[string]any{}
			dst[kind] = target
		}
		for name, v := range named {
			id := "components " + kind + " " + name
			if first, dup := origin[id]; dup {
				return fmt.Errorf("%s: components.%s.%s is already defined in %s", file, kind, name, first)
			}
			origin[id] = file
			target[name] = v
		}
	}
	return nil
}

// checkRefs fails on a local $ref, anywhere under v, that names nothing in
// doc.
func checkRefs(doc map[string]any, v any, at string) error {
	switch v := v.(type) {
	case map[string]any:
		if ref, ok := v["$ref"].(string); ok {
			if _, err := Resolve(doc, ref); err != nil {
				return fmt.Errorf("%s: %w", at, err)
			}
		}
		for _, k := range sortedKeys(v) {
			if err := checkRefs(doc, v[k], at+"/"+escape(k)); err != nil {
				return err
			}
		}
	case []any:
		for i, e := range v {
			if err := checkRefs(doc, e, at+"/"+strconv.Itoa(i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// Resolve follows a local reference such as "#/components/schemas/Error".
func Resolve(doc map[string]any, ref string) (any, error) {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, fmt.Errorf("reference %q is not local to the document", ref)
	}
	var v any = doc
	for _, part := range strings.Split(rest, "/") {
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("reference %q leads nowhere", ref)
		}
		if v, ok = m[part]; !ok {
			return nil, fmt.Errorf("reference %q leads nowhere", ref)
		}
	}
	return v, nil
}

func escape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
