package web

import (
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"

	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
	"github.com/mailschool/mailschool/internal/web/openapi"
)

const apiPrefix = "/api/v1"

// apiRoutePatterns are the routes table's /api/v1 routes, such as
// "GET /api/v1/organizations/{id}".
func apiRoutePatterns() []string {
	var out []string
	var s Server
	for _, rt := range s.routes() {
		if _, p, _ := strings.Cut(rt.pattern, " "); strings.HasPrefix(p, apiPrefix+"/") {
			out = append(out, rt.pattern)
		}
	}
	return out
}

// apiContract checks answers of the API against the OpenAPI document.
type apiContract struct {
	model  *v3.Document
	mux    *http.ServeMux // the API routes, to find the route of a request
	schema schema_validation.SchemaValidator
}

var loadAPIContract = sync.OnceValues(func() (*apiContract, error) {
	doc, err := openapi.Load()
	if err != nil {
		return nil, err
	}
	parsed, err := libopenapi.NewDocument(doc.JSON)
	if err != nil {
		return nil, fmt.Errorf("parse the API description: %w", err)
	}
	model, err := parsed.BuildV3Model()
	if err != nil {
		return nil, fmt.Errorf("build the API description's model: %w", err)
	}
	c := &apiContract{model: &model.Model, mux: http.NewServeMux(),
		schema: schema_validation.NewSchemaValidatorWithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}
	for _, p := range apiRoutePatterns() {
		c.mux.HandleFunc(p, func(http.ResponseWriter, *http.Request) {})
	}
	return c, nil
})

// check validates one answer of the API. It returns the route's pattern
// ("" for a request that no API route takes, which it leaves alone).
func (c *apiContract) check(method, target string, res response) (string, error) {
	_, pattern := c.mux.Handler(httptest.NewRequest(method, target, nil))
	if pattern == "" {
		return "", nil
	}
	_, routePath, _ := strings.Cut(pattern, " ")
	docPath := strings.TrimPrefix(routePath, apiPrefix)
	where := fmt.Sprintf("%s %s (route %s) answered %d", method, target, pattern, res.status)
	item := c.model.Paths.PathItems.GetOrZero(docPath)
	if item == nil {
		return pattern, fmt.Errorf("%s: the document has no path %s", where, docPath)
	}
	op := item.GetOperations().GetOrZero(strings.ToLower(method))
	if op == nil {
		return pattern, fmt.Errorf("%s: the document has no operation %s %s", where, method, docPath)
	}
	described := op.Responses.Codes.GetOrZero(strconv.Itoa(res.status))
	if described == nil {
		described = op.Responses.Default
	}
	if described == nil && res.status == http.StatusInternalServerError {
		// Any operation may fail on the server's side.
		described = c.model.Components.Responses.GetOrZero("InternalError")
	}
	if described == nil {
		var codes []string
		for code := range op.Responses.Codes.KeysFromOldest() {
			codes = append(codes, code)
		}
		return pattern, fmt.Errorf("%s, a status that %s %s does not describe (it has %s)", where, method, docPath, strings.Join(codes, ", "))
	}
	if described.Content == nil || described.Content.Len() == 0 {
		if res.body != "" {
			return pattern, fmt.Errorf("%s with a body, where the document describes none: %s", where, excerpt(res.body, 200))
		}
		return pattern, nil
	}
	mediaType, _, _ := mime.ParseMediaType(res.header.Get("Content-Type"))
	mt := described.Content.GetOrZero(mediaType)
	if mt == nil {
		return pattern, fmt.Errorf("%s with Content-Type %q, which the document does not describe", where, mediaType)
	}
	if mediaType != "application/json" || mt.Schema == nil {
		return pattern, nil
	}
	ok, failures := c.schema.ValidateSchemaBytes(mt.Schema.Schema(), []byte(res.body))
	if ok {
		return pattern, nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s with a body that does not match paths.%s.%s.responses.%d:", where, docPath, strings.ToLower(method), res.status)
	for _, f := range failures {
		fmt.Fprintf(&b, "\n  %s", f.Reason)
		for _, sf := range f.SchemaValidationErrors {
			fmt.Fprintf(&b, "\n    at %s (schema %s): %s", sf.FieldPath, sf.KeywordLocation, sf.Reason)
		}
	}
	fmt.Fprintf(&b, "\n  body: %s", excerpt(res.body, 400))
	return pattern, fmt.Errorf("%s", b.String())
}

// apiCoverage records the statuses of the answers each API route gave
// and that matched the document.
type apiCoverage struct {
	mu     sync.Mutex
	status map[string][]int // by route pattern
}

func (c *apiCoverage) add(pattern string, status int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.status == nil {
		c.status = map[string][]int{}
	}
	if !slices.Contains(c.status[pattern], status) {
		c.status[pattern] = append(c.status[pattern], status)
	}
}

// checkAPIAnswer validates every answer of an /api/v1 route that a test
// client receives against the document; a mismatch fails the test.
func (c *client) checkAPIAnswer(req *http.Request, res response) {
	c.t.Helper()
	if !strings.HasPrefix(req.URL.Path, apiPrefix+"/") {
		return
	}
	contract, err := loadAPIContract()
	if err != nil {
		c.t.Fatalf("load the API description: %v", err)
	}
	pattern, err := contract.check(req.Method, req.URL.RequestURI(), res)
	if err != nil {
		c.t.Errorf("%v", err)
		return
	}
	if pattern != "" && c.coverage != nil {
		c.coverage.add(pattern, res.status)
	}
}

// requireAPICoverage fails for every API route that gave no validated
// success or no validated error.
func requireAPICoverage(t *testing.T, cov *apiCoverage) {
	t.Helper()
	cov.mu.Lock()
	defer cov.mu.Unlock()
	for _, p := range apiRoutePatterns() {
		statuses := cov.status[p]
		if !slices.ContainsFunc(statuses, func(s int) bool { return s < 300 }) {
			t.Errorf("%s: no success answer was checked against the document (statuses seen: %v)", p, statuses)
		}
		if !slices.ContainsFunc(statuses, func(s int) bool { return s >= 400 }) {
			t.Errorf("%s: no error answer was checked against the document (statuses seen: %v)", p, statuses)
		}
	}
}

// TestOpenAPIDescribesEveryRoute checks that the document and the routes
// table agree: every /api/v1 route is described, and every described
// operation is a route.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	doc, err := openapi.Load()
	if err != nil {
		t.Fatal(err)
	}
	routes := apiRoutePatterns()
	described := map[string]map[string]any{}
	paths := asObject(doc.Spec["paths"])
	for _, p := range sortedKeys(paths) {
		for _, m := range sortedKeys(asObject(paths[p])) {
			described[strings.ToUpper(m)+" "+apiPrefix+p] = asObject(asObject(paths[p])[m])
		}
	}
	for _, r := range routes {
		if _, ok := described[r]; !ok {
			method, path, _ := strings.Cut(r, " ")
			t.Errorf("route %s is not described: add %s to paths.%s in a file of internal/web/openapi", r, strings.ToLower(method), strings.TrimPrefix(path, apiPrefix))
		}
	}
	ids := map[string]string{}
	for _, key := range sortedKeys(asAny(described)) {
		op := described[key]
		if !slices.Contains(routes, key) {
			t.Errorf("the document describes %s, which is not a route", key)
		}
		id := str(op["operationId"])
		if other, dup := ids[id]; dup || id == "" {
			t.Errorf("%s: operationId %q is missing or also used by %s", key, id, other)
		}
		ids[id] = key
		for _, field := range []string{"summary", "description"} {
			if str(op[field]) == "" {
				t.Errorf("%s has no %s", key, field)
			}
		}
		if len(asList(op["tags"])) == 0 {
			t.Errorf("%s has no tag", key)
		}
		responses := asObject(op["responses"])
		if !slices.ContainsFunc(sortedKeys(responses), func(code string) bool { return strings.HasPrefix(code, "2") }) {
			t.Errorf("%s describes no success response", key)
		}
		if _, ok := responses["401"]; !ok {
			t.Errorf("%s does not describe 401, which a revoked or expired key gets on every route", key)
		}
	}
}

func asAny[V any](m map[string]V) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// TestOpenAPIDocumentServed checks the document's address: the assembled
// JSON, with an ETag that answers 304 when it has not changed.
func TestOpenAPIDocumentServed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db)
		c := app.client()
		res := c.get(apiPrefix + "/openapi.json")
		doc, err := openapi.Load()
		if err != nil {
			t.Fatal(err)
		}
		if res.status != http.StatusOK || res.body != string(doc.JSON) {
			t.Fatalf("status %d, body %s", res.status, excerpt(res.body, 200))
		}
		if ct := res.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		etag := res.header.Get("ETag")
		if etag != doc.ETag || res.header.Get("Cache-Control") == "" {
			t.Errorf("ETag %q (want %q), Cache-Control %q", etag, doc.ETag, res.header.Get("Cache-Control"))
		}
		req, _ := http.NewRequest(http.MethodGet, c.base+apiPrefix+"/openapi.json", nil)
		req.Header.Set("If-None-Match", etag)
		if res := c.do(req); res.status != http.StatusNotModified || res.body != "" {
			t.Errorf("with If-None-Match: status %d, body %q", res.status, excerpt(res.body, 100))
		}
	})
}

// TestAPIReferencePage checks that the reference page shows every
// operation, with who may call it, and the introduction.
func TestAPIReferencePage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newTestApp(t, db)
		res := app.client().get("/api/")
		if res.status != http.StatusOK {
			t.Fatalf("status %d\n%s", res.status, res.body)
		}
		doc, err := openapi.Load()
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"Authorization: Bearer $KEY", "next_cursor", `href="/api/v1/openapi.json"`, "Who may call it", `id="schema-Organization"`}
		paths := asObject(doc.Spec["paths"])
		for _, p := range sortedKeys(paths) {
			for _, m := range sortedKeys(asObject(paths[p])) {
				op := asObject(asObject(paths[p])[m])
				want = append(want, fmt.Sprintf(`id="%s"`, str(op["operationId"])), strings.ToUpper(m)+`</span> <code class="api-path">`+apiPrefix+p+"</code>")
			}
		}
		for _, w := range want {
			if !strings.Contains(res.body, w) {
				t.Errorf("the reference page lacks %q", w)
			}
		}
	})
}
