package openapi

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/catalog"
)

func readTestdata(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func mustImport(tb testing.TB, data []byte) *Document {
	tb.Helper()
	d, err := Import(context.Background(), data)
	if err != nil {
		tb.Fatalf("Import: %v %+v", err, obhub.ErrorDetails(err))
	}
	return d
}

func TestImportValid(t *testing.T) {
	tests := []struct {
		file           string
		title, version string
		basePath       string
		ops            []catalog.Operation
	}{
		{
			file: "accounts-3.0.yaml", title: "Accounts", version: "1.0", basePath: "/v1",
			ops: []catalog.Operation{
				{ID: "listAccounts", Method: "GET", Path: "/accounts", Scopes: []string{"accounts:read"}, Summary: "List accounts"},
				{ID: "POST /accounts", Method: "POST", Path: "/accounts", Scopes: []string{"accounts:write", "accounts:read", "openid"}, Summary: "Open an account"},
				{ID: "accountsSummary", Method: "GET", Path: "/accounts/summary", Public: true},
				{ID: "getAccount", Method: "GET", Path: "/accounts/{accountId}", Scopes: []string{"accounts:read"}},
				{ID: "getFile", Method: "GET", Path: "/files/{name}.{ext}", Scopes: []string{"accounts:read"}},
			},
		},
		{
			file: "cards-3.1.json", title: "Cards", version: "2024-05", basePath: "/cards/v2",
			ops: []catalog.Operation{
				{ID: "DELETE /cards/{cardId}", Method: "DELETE", Path: "/cards/{cardId}", Public: true},
				{ID: "getCard", Method: "GET", Path: "/cards/{cardId}", Scopes: []string{"cards:read"}, Summary: "Get a card"},
			},
		},
		{
			file: "payments-2.0.yaml", title: "Payments", version: "3", basePath: "/payments/v3",
			ops: []catalog.Operation{
				{ID: "createPayment", Method: "POST", Path: "/payments", Scopes: []string{"payments:write"}},
				{ID: "getPayment", Method: "GET", Path: "/payments/{paymentId}", Scopes: []string{"payments:read"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			d := mustImport(t, readTestdata(t, tt.file))
			if d.Title != tt.title || d.Version != tt.version || d.BasePath != tt.basePath {
				t.Errorf("title, version, base path = %q, %q, %q; want %q, %q, %q",
					d.Title, d.Version, d.BasePath, tt.title, tt.version, tt.basePath)
			}
			if !slices.EqualFunc(d.Operations, tt.ops, opEqual) {
				t.Errorf("operations =\n%+v\nwant\n%+v", d.Operations, tt.ops)
			}

			// What is stored loads back to the same document.
			l, err := Load(context.Background(), d.JSON)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if l.Title != d.Title || l.Version != d.Version || l.BasePath != d.BasePath ||
				!slices.EqualFunc(l.Operations, d.Operations, opEqual) {
				t.Errorf("Load(JSON) = %+v; want %+v", l, d)
			}
			if !strings.HasPrefix(string(d.JSON), `{`) || !strings.Contains(string(d.JSON), `"openapi":"3.`) {
				t.Errorf("JSON is not OpenAPI 3 JSON: %.80s", d.JSON)
			}
		})
	}
}

func opEqual(a, b catalog.Operation) bool {
	return a.ID == b.ID && a.Method == b.Method && a.Path == b.Path && a.Summary == b.Summary &&
		a.Public == b.Public && slices.Equal(a.Scopes, b.Scopes)
}

func TestImportInvalid(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want []string // "location: message prefix"
	}{
		{
			name: "structure",
			data: readTestdata(t, "invalid-structure.yaml"),
			want: []string{
				"info.title: must not be empty",
				"info.version: is required",
				`paths./accounts/{accountId}.get.parameters: does not declare path parameter "accountId"`,
				`paths./cards/{cardId}/limits.parameters[0]: declares path parameter "card"`,
				`paths./cards/{cardId}/limits.put.parameters: does not declare path parameter "cardId"`,
				"paths./loans.post.responses: must declare at least one response",
				`paths./owners/{id}.delete.parameters[1]: declares path parameter "other"`,
				"paths./owners/{id}.get.operationId: is already the operationId of DELETE /owners/{id}",
				`paths./owners/{id}.get.parameters: does not declare path parameter "id"`,
				"paths./owners/{id}.get.responses: must declare at least one response",
				"paths.accounts: must start with '/'",
				`servers[0].url: uses variable "stage"`,
			},
		},
		{
			name: "refs",
			data: readTestdata(t, "invalid-refs.json"),
			want: []string{
				"paths./a.get.responses.200.$ref: refers to another document",
				"paths./a.get.responses.404.$ref: points to nothing",
				"paths./a.post.requestBody.$ref: refers to another document",
				"paths./a.post.responses.200.content.application/json.schema.$ref: points to nothing",
			},
		},
		{
			name: "kin-openapi findings",
			data: readTestdata(t, "invalid-kin.yaml"),
			want: []string{
				"components.schemas.Bad: an array of types is for OpenAPI >=3.1",
				`components.securitySchemes.oauth: security scheme of type "oauth2" should have 'flows'`,
				`paths./a.get: parameter can't have 'in' value`,
			},
		},
		{
			// A reference into a schema's properties is not to a component
			// schema: the document is validated without stubs.
			name: "reference into a schema",
			data: []byte(`{"openapi":"3.0.3","info":{"title":"t","version":"1"},"paths":{
				"/a":{"get":{"responses":{"200":{"description":"x","content":{"application/json":{"schema":{"$ref":"#/components/schemas/A/properties/b"}}}}}}}},
				"components":{"schemas":{"A":{"type":"object","properties":{"b":{"type":["string","null"]}}}}}}`),
			want: []string{"components.schemas.A: an array of types is for OpenAPI >=3.1", "paths./a.get: an array of types is for OpenAPI >=3.1"},
		},
		{
			name: "no paths",
			data: []byte(`{"openapi":"3.0.3","info":{"title":"t","version":"1"},"paths":{}}`),
			want: []string{"paths: must declare at least one path"},
		},
		{
			name: "swagger",
			data: []byte("swagger: '2.0'\ninfo: {title: t, version: '1'}\nhost: https://x.example/a\nbasePath: v1\npaths:\n  /a:\n    get: {}\n"),
			want: []string{
				"basePath: must start with '/'",
				"host: must be a host name",
				"paths./a.get.responses: must declare at least one response",
			},
		},
		{
			name: "bad templates",
			data: []byte(`{"openapi":"3.1.0","info":{"title":"t","version":"1"},"paths":{
				"/a/{x":{}, "/b/{x}{y}":{}, "/c//d":{}, "/e/{x}/{x}":{}, "/f/../g":{}, "/h?q":{}}}`),
			want: []string{
				"paths./a/{x: has an unbalanced '{'",
				"paths./c//d: must not contain empty segments",
				`paths./e/{x}/{x}: uses parameter "x" twice`,
				"paths./f/../g: must not contain '.' or '..' segments",
			},
		},
		{
			name: "duplicate YAML keys",
			data: []byte("openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get: {responses: {'200': {description: x}}}\n  /a:\n    put: {}\n"),
			want: []string{"paths./a: duplicate key"},
		},
		{name: "empty", data: []byte(" \n"), want: []string{": the document is empty"}},
		{name: "not JSON", data: []byte(`{"openapi": `), want: []string{": not valid JSON"}},
		{name: "not YAML", data: []byte("openapi: [3.0\n  - x: :"), want: []string{": not valid JSON or YAML"}},
		{name: "not an object", data: []byte(`["openapi"]`), want: []string{": the document must be an OpenAPI object"}},
		{name: "not OpenAPI", data: []byte(`{"asyncapi":"2.6.0"}`), want: []string{"openapi: is required"}},
		{name: "OpenAPI 4", data: []byte("openapi: 4.0.0\n"), want: []string{"openapi: unsupported version"}},
		{name: "OpenAPI 3.2", data: []byte("openapi: 3.2.0\n"), want: []string{"openapi: unsupported version"}},
		{name: "Swagger 1.2", data: []byte(`{"swagger":"1.2"}`), want: []string{"swagger: unsupported version"}},
		{name: "too deep", data: []byte(strings.Repeat("[", 300) + strings.Repeat("]", 300)), want: []string{": the document nests deeper"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Import(context.Background(), tt.data)
			var e *obhub.Error
			if !errors.As(err, &e) || e.Code != obhub.EINVALID {
				t.Fatalf("Import error = %v; want an %s *obhub.Error", err, obhub.EINVALID)
			}
			var got []string
			for _, d := range e.Details {
				got = append(got, d.Location+": "+d.Message)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("findings =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tt.want[i]) {
					t.Errorf("finding %d = %q; want prefix %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// TestImportBasePath covers the ways a document states its base path.
func TestImportBasePath(t *testing.T) {
	const rest = `"info":{"title":"t","version":"1"},"paths":{"/a":{"get":{"responses":{"200":{"description":"ok"}}}}}`
	tests := []struct {
		name, doc, want string
	}{
		{"no servers", `{"openapi":"3.0.3",` + rest + `}`, ""},
		{"root", `{"openapi":"3.0.3","servers":[{"url":"https://x.example/"}],` + rest + `}`, ""},
		{"host only", `{"openapi":"3.0.3","servers":[{"url":"https://x.example"}],` + rest + `}`, ""},
		{"relative", `{"openapi":"3.0.3","servers":[{"url":"/v1/"}],` + rest + `}`, "/v1"},
		{"relative without slash", `{"openapi":"3.1.0","servers":[{"url":"v1"}],` + rest + `}`, "/v1"},
		{"first server wins", `{"openapi":"3.0.3","servers":[{"url":"https://x.example/a/b"},{"url":"/c"}],` + rest + `}`, "/a/b"},
		{"variables", `{"openapi":"3.0.3","servers":[{"url":"{scheme}://x.example/{base}/v{major}","variables":{"scheme":{"default":"https"},"base":{"default":"open-banking"},"major":{"default":"2","enum":["1","2"]}}}],` + rest + `}`, "/open-banking/v2"},
		{"swagger", `{"swagger":"2.0","basePath":"/pay/",` + rest + `}`, "/pay"},
		{"swagger root", `{"swagger":"2.0","host":"x.example","basePath":"/",` + rest + `}`, ""},
		{"swagger none", `{"swagger":"2.0",` + rest + `}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustImport(t, []byte(tt.doc)).BasePath; got != tt.want {
				t.Errorf("BasePath = %q; want %q", got, tt.want)
			}
		})
	}
}

func TestImportScopes(t *testing.T) {
	doc := `
openapi: 3.0.3
info: {title: t, version: "1"}
security: [{oauth: [a]}, {oidc: [b, a]}]
paths:
  /inherit: {get: {responses: {"200": {description: ok}}}}
  /override: {get: {security: [{oauth: [c]}], responses: {"200": {description: ok}}}}
  /none: {get: {security: [], responses: {"200": {description: ok}}}}
  /optional: {get: {security: [{}, {oauth: [d]}], responses: {"200": {description: ok}}}}
  /apikey: {get: {security: [{key: []}], responses: {"200": {description: ok}}}}
components:
  securitySchemes:
    oauth: {type: oauth2, flows: {clientCredentials: {tokenUrl: "https://t.example/token", scopes: {a: A, c: C, d: D}}}}
    oidc: {type: openIdConnect, openIdConnectUrl: "https://t.example/.well-known/openid-configuration"}
    key: {type: apiKey, in: header, name: X-Key}
`
	want := map[string]struct {
		scopes []string
		public bool
	}{
		"/inherit":  {[]string{"a", "b"}, false},
		"/override": {[]string{"c"}, false},
		"/none":     {nil, true},
		"/optional": {[]string{"d"}, true},
		"/apikey":   {nil, false},
	}
	for _, op := range mustImport(t, []byte(doc)).Operations {
		w := want[op.Path]
		if !slices.Equal(op.Scopes, w.scopes) || op.Public != w.public {
			t.Errorf("%s: scopes %q public %v; want %q %v", op.Path, op.Scopes, op.Public, w.scopes, w.public)
		}
	}
}

// An operation whose every security alternative needs a customer's
// consent (an oauth2 authorizationCode flow, no clientCredentials) is
// marked CustomerOnly; one an app may call as itself is not.
func TestImportCustomerOnly(t *testing.T) {
	doc := `
openapi: 3.0.3
info: {title: t, version: "1"}
security: [{both: [accounts]}]
paths:
  /both: {get: {responses: {"200": {description: ok}}}}
  /consent: {get: {security: [{code: [accounts]}], responses: {"200": {description: ok}}}}
  /consent-or-app: {get: {security: [{code: [accounts]}, {app: [accounts]}], responses: {"200": {description: ok}}}}
  /consent-and-key: {get: {security: [{code: [accounts], key: []}], responses: {"200": {description: ok}}}}
  /consent-or-key: {get: {security: [{code: [accounts]}, {key: []}], responses: {"200": {description: ok}}}}
  /none: {get: {security: [], responses: {"200": {description: ok}}}}
components:
  securitySchemes:
    both:
      type: oauth2
      flows:
        authorizationCode: {authorizationUrl: "https://t.example/authorize", tokenUrl: "https://t.example/token", scopes: {accounts: A}}
        clientCredentials: {tokenUrl: "https://t.example/token", scopes: {accounts: A}}
    code: {type: oauth2, flows: {authorizationCode: {authorizationUrl: "https://t.example/authorize", tokenUrl: "https://t.example/token", scopes: {accounts: A}}}}
    app: {type: oauth2, flows: {clientCredentials: {tokenUrl: "https://t.example/token", scopes: {accounts: A}}}}
    key: {type: apiKey, in: header, name: X-Key}
`
	want := map[string]bool{"/both": false, "/consent": true, "/consent-or-app": false, "/consent-and-key": true, "/consent-or-key": false, "/none": false}
	for _, op := range mustImport(t, []byte(doc)).Operations {
		if op.CustomerOnly != want[op.Path] {
			t.Errorf("%s: CustomerOnly %v, want %v", op.Path, op.CustomerOnly, want[op.Path])
		}
	}
}

// TestImportNoFetch makes sure an external reference is a finding, not a
// request: the loader would otherwise read a local file.
func TestImportNoFetch(t *testing.T) {
	abs, err := filepath.Abs(filepath.Join("testdata", "cards-3.1.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{abs, "file://" + abs, "cards-3.1.json#/components/schemas/Card", "http://127.0.0.1:1/x.json"} {
		doc := `{"openapi":"3.0.3","info":{"title":"t","version":"1"},"paths":{"/a":{"get":{"responses":{"200":{"description":"ok","content":{"application/json":{"schema":{"$ref":"` + ref + `"}}}}}}}}}`
		_, err := Import(context.Background(), []byte(doc))
		ds := obhub.ErrorDetails(err)
		if len(ds) != 1 || !strings.Contains(ds[0].Message, "external references are not allowed") {
			t.Errorf("$ref %q: findings %+v", ref, ds)
		}
	}
}

// TestImportKeepsDocumentOut checks that findings do not quote the
// document's values.
func TestImportKeepsDocumentOut(t *testing.T) {
	doc := `
openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /a:
    get:
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {type: integer}
              example: "s3cret-customer-110101199003077777"
components:
  schemas:
    Card:
      type: object
      properties:
        pan: {type: integer, example: "6222020200112233445"}
`
	// Examples that contradict their schema are warnings: the document
	// imports, and the warnings keep the values out too.
	d, err := Import(context.Background(), []byte(doc))
	if err != nil {
		t.Fatalf("Import: %v %+v", err, obhub.ErrorDetails(err))
	}
	ds := d.Warnings
	if len(ds) == 0 {
		t.Fatal("no warnings; want the examples reported")
	}
	// And an error finding (a duplicate operationId beside a bad example).
	_, err = Import(context.Background(), []byte(strings.Replace(doc, "    get:\n", "    get:\n      operationId: x\n    put:\n      operationId: x\n      responses: {\"200\": {description: ok}}\n    post:\n", 1)))
	if errs := obhub.ErrorDetails(err); len(errs) == 0 {
		t.Fatalf("Import error = %v; want findings", err)
	} else {
		ds = append(ds, errs...)
	}
	for _, d := range ds {
		if strings.Contains(d.Message, "s3cret") || strings.Contains(d.Message, "6222020200112233445") {
			t.Errorf("finding quotes the document: %+v", d)
		}
	}
}

func TestImportYAMLAliases(t *testing.T) {
	t.Run("merge keys and anchors", func(t *testing.T) {
		doc := `
openapi: 3.0.3
info: {title: t, version: "1"}
x-ok: &ok {"200": {description: ok}}
paths:
  /a: {get: {responses: *ok}}
  /b: {get: {responses: {<<: *ok, "404": {description: missing}}}}
`
		if ops := mustImport(t, []byte(doc)).Operations; len(ops) != 2 {
			t.Errorf("operations = %+v", ops)
		}
	})
	t.Run("billion laughs", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("openapi: 3.0.3\nx-0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
		for i := 1; i < 12; i++ {
			b.WriteString("x-" + string(rune('a'+i)) + ": &a" + itoa(i) + " [")
			for j := range 10 {
				if j > 0 {
					b.WriteString(", ")
				}
				b.WriteString("*a" + itoa(i-1))
			}
			b.WriteString("]\n")
		}
		_, err := Import(context.Background(), []byte(b.String()))
		if obhub.ErrorCode(err) != obhub.EINVALID {
			t.Fatalf("Import error = %v; want %s", err, obhub.EINVALID)
		}
	})
}

func itoa(i int) string { return string(rune('0'+i/10)) + string(rune('0'+i%10)) }

func TestImportCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Import(ctx, readTestdata(t, "accounts-3.0.yaml")); !errors.Is(err, context.Canceled) {
		t.Errorf("Import error = %v; want context.Canceled", err)
	}
}

func FuzzImport(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.*"))
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"openapi":"3.1.0","info":{"title":"t","version":"1"},"paths":{"/{a}":{"get":{"parameters":[{"$ref":"#/paths/~1%7Ba%7D/get/parameters/0"}],"responses":{"200":{"$ref":"#"}}}}}}`))
	f.Add([]byte("swagger: '2.0'\ninfo: {title: t, version: '1'}\npaths: {/a: {get: {responses: {200: {description: x, schema: {$ref: '#/definitions/A'}}}}}}\ndefinitions: {A: {$ref: '#/definitions/A'}}\n"))
	f.Add([]byte("openapi: 3.0.3\nx: &a [*a]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Import(context.Background(), data)
		if err != nil {
			var e *obhub.Error
			if !errors.As(err, &e) || e.Code != obhub.EINVALID {
				t.Fatalf("Import error = %#v; want an %s *obhub.Error", err, obhub.EINVALID)
			}
			return
		}
		if !slices.IsSortedFunc(d.Operations, func(a, b catalog.Operation) int {
			return strings.Compare(a.Path+" "+a.Method, b.Path+" "+b.Method)
		}) {
			t.Errorf("operations not sorted: %+v", d.Operations)
		}
		if _, err := Load(context.Background(), d.JSON); err != nil {
			t.Errorf("Load(Import().JSON): %v", err)
		}
	})
}
