package openapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/catalog"
)

// TestImportWarnings covers each kind of warning: the document imports,
// the warning names the place, and what cannot be served is left out.
func TestImportWarnings(t *testing.T) {
	const head = `{"openapi":"3.0.3","info":{"title":"t","version":"1"},`
	const ok = `{"get":{"responses":{"200":{"description":"ok"}}}}`
	tests := []struct {
		name string
		doc  string
		// "location: message prefix", sorted. kin-openapi locates an
		// operation's examples at the operation.
		want []string
		ops  []string // "METHOD path" of the imported operations
	}{
		{
			name: "media type example contradicts its schema",
			doc: head + `"paths":{"/a":{"get":{"responses":{"200":{"description":"ok","content":{"application/json":{
				"schema":{"type":"integer"},"example":"x"}}}}}}}}`,
			want: []string{"paths./a.get: example does not match its schema: value must be an integer"},
			ops:  []string{"GET /a"},
		},
		{
			name: "named example without a value",
			doc: head + `"paths":{"/a":{"get":{"responses":{"200":{"description":"ok","content":{"application/json":{
				"schema":{"type":"integer"},"examples":{"one":{"summary":"s"}}}}}}}}}}`,
			want: []string{"paths./a.get.examples.one: no value or externalValue field"},
			ops:  []string{"GET /a"},
		},
		{
			name: "parameter example and schema default",
			doc: head + `"paths":{"/a":{"get":{"parameters":[{"name":"n","in":"query","example":"x","schema":{"type":"integer"}}],
				"responses":{"200":{"description":"ok"}}}}},
				"components":{"schemas":{"S":{"type":"string","enum":["a","b"],"default":"c"}}}}`,
			want: []string{
				"components.schemas.S: default does not match its schema: value is not one of the allowed values",
				"paths./a.get: example does not match its schema: value must be an integer",
			},
			ops: []string{"GET /a"},
		},
		{
			name: "pattern Go cannot compile",
			doc: head + `"paths":{"/a":{"get":{"parameters":[{"name":"q","in":"query","schema":{"type":"string","pattern":"^(?!\\s*$).+"}}],
				"responses":{"200":{"description":"ok"}}}}}}`,
			want: []string{"paths./a.get.parameters[q].schema: pattern cannot be compiled by Go's regular expressions (RE2) (invalid or unsupported Perl syntax): it is not enforced"},
			ops:  []string{"GET /a"},
		},
		{
			name: "referenced schema with a look-behind pattern, warned once",
			doc: head + `"paths":{
				"/a":{"get":{"responses":{"200":{"description":"x","content":{"application/json":{"schema":{"$ref":"#/components/schemas/Bad"}}}}}}},
				"/b":{"get":{"responses":{"200":{"description":"x","content":{"application/json":{"schema":{"type":"array","items":{"$ref":"#/components/schemas/Bad"}}}}}}}}},
				"components":{"schemas":{"Bad":{"type":"string","pattern":"(?<=x)y"}}}}`,
			want: []string{"components.schemas.Bad: pattern cannot be compiled"},
			ops:  []string{"GET /a", "GET /b"},
		},
		{
			name: "query string and fragment in path keys",
			doc:  head + `"paths":{"/a":` + ok + `,"/b?action=x":` + ok + `,"/#X-Amz-Target=Svc.Op":{"post":{"responses":{"200":{"description":"ok"}}}}}}`,
			want: []string{
				"paths./#X-Amz-Target=Svc.Op: contains '?' or '#' (a query string or fragment written into the path): its operations are skipped",
				"paths./b?action=x: contains '?' or '#' (a query string or fragment written into the path): its operations are skipped",
			},
			ops: []string{"GET /a"},
		},
		{
			name: "two parameters side by side",
			doc:  head + `"paths":{"/a":` + ok + `,"/p/{id}{.format}":{"get":{"parameters":[{"name":"id","in":"path","required":true,"schema":{"type":"string"}}],"responses":{"200":{"description":"ok"}}}}}}`,
			want: []string{"paths./p/{id}{.format}: has two parameters with nothing between them: its operations are skipped"},
			ops:  []string{"GET /a"},
		},
		{
			name: "templates that differ only by parameter names",
			doc: head + `"paths":{
				"/v1/{name}":{"get":{"parameters":[{"name":"name","in":"path","required":true,"schema":{"type":"string"}}],"responses":{"200":{"description":"ok"}}}},
				"/v1/{parent}":{"post":{"parameters":[{"name":"parent","in":"path","required":true,"schema":{"type":"string"}}],"responses":{"200":{"description":"ok"}}}}}}`,
			want: []string{"paths./v1/{parent}: matches the same requests as /v1/{name} (only parameter names differ): its operations are skipped"},
			ops:  []string{"GET /v1/{name}"},
		},
		{
			name: "no path left",
			doc:  head + `"paths":{"/?Action=A":` + ok + `,"/?Action=B":` + ok + `}}`,
			want: []string{
				"paths: has no path left that the router can use",
				"paths./?Action=A: contains '?' or '#'",
				"paths./?Action=B: contains '?' or '#'",
			},
		},
		{
			name: "empty operationId",
			doc:  head + `"paths":{"/a":{"get":{"operationId":"","responses":{"200":{"description":"ok"}}}}}}`,
			want: []string{"paths./a.get.operationId: is empty; the operation is identified as GET /a"},
			ops:  []string{"GET /a"},
		},
		{
			name: "a server other than the first",
			doc:  `{"openapi":"3.0.3","info":{"title":"t","version":"1"},"servers":[{"url":"/v1"},{"url":"http://[::1"}],"paths":{"/a":` + ok + `}}`,
			want: []string{"servers[1].url: is not a valid URL"},
			ops:  []string{"GET /a"},
		},
		{
			name: "fields beside a schema's keywords",
			doc: head + `"paths":{"/a":` + ok + `},
				"components":{"schemas":{"S":{"type":"object","definitions":{"x":{"type":"string"}}}}}}`,
			want: []string{"components.schemas.S: has fields that are not allowed here (definitions): they are ignored"},
			ops:  []string{"GET /a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := mustImport(t, []byte(tt.doc))
			var got []string
			for _, w := range d.Warnings {
				got = append(got, w.Location+": "+w.Message)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("warnings =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tt.want[i]) {
					t.Errorf("warning %d = %q; want prefix %q", i, got[i], tt.want[i])
				}
			}
			var ops []string
			for _, op := range d.Operations {
				ops = append(ops, op.Method+" "+op.Path)
			}
			if strings.Join(ops, ",") != strings.Join(tt.ops, ",") {
				t.Errorf("operations = %q; want %q", ops, tt.ops)
			}
			// The stored document holds only what is served, and loads.
			var stored struct {
				Paths map[string]json.RawMessage `json:"paths"`
			}
			if err := json.Unmarshal(d.JSON, &stored); err != nil {
				t.Fatal(err)
			}
			for p := range stored.Paths {
				if strings.ContainsAny(p, "?#") {
					t.Errorf("stored document keeps skipped path %q", p)
				}
			}
			if _, err := Load(context.Background(), d.JSON); err != nil {
				t.Errorf("Load: %v", err)
			}
		})
	}
}

// TestImportWarningsDoNotHideErrors checks that a document with warnings
// and an error is refused, and lists the error only.
func TestImportWarningsDoNotHideErrors(t *testing.T) {
	doc := `{"openapi":"3.0.3","info":{"title":"t","version":"1"},"paths":{
		"/a":{"get":{"operationId":"x","responses":{"200":{"description":"ok","content":{"application/json":{"schema":{"type":"integer"},"example":"s"}}}}}},
		"/b":{"get":{"operationId":"x","responses":{"200":{"description":"ok"}}}},
		"/c?x":{"get":{"responses":{"200":{"description":"ok"}}}}}}`
	_, err := Import(context.Background(), []byte(doc))
	ds := obhub.ErrorDetails(err)
	if obhub.ErrorCode(err) != obhub.EINVALID || len(ds) != 1 || ds[0].Location != "paths./b.get.operationId" {
		t.Fatalf("Import error = %v %+v; want one finding on the duplicate operationId", err, ds)
	}
}

// TestUncompilablePattern checks that a pattern Go cannot compile is not
// enforced by request validation, neither after Import nor after Load,
// and that the generator still answers.
func TestUncompilablePattern(t *testing.T) {
	doc := `{"openapi":"3.0.3","info":{"title":"t","version":"1"},"paths":{"/a":{"get":{
		"parameters":[{"name":"q","in":"query","required":true,"schema":{"type":"string","maxLength":5,"pattern":"^(?!x).+$"}}],
		"responses":{"200":{"description":"ok","content":{"application/json":{"schema":{"type":"object","required":["code"],
			"properties":{"code":{"type":"string","pattern":"^(?=[A-Z]{3})\\w+$","minLength":3}}}}}}}}}}}`
	imported := mustImport(t, []byte(doc))
	loaded, err := Load(context.Background(), imported.JSON)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(imported.JSON), `(?!x)`) {
		t.Error("the stored document lost the pattern")
	}
	op := &catalog.Operation{Method: http.MethodGet, Path: "/a"}
	for name, d := range map[string]*Document{"Import": imported, "Load": loaded} {
		t.Run(name, func(t *testing.T) {
			v := d.NewValidator()
			check := func(query string) error {
				r, _ := http.NewRequest(http.MethodGet, "http://x.example/a?"+query, nil)
				return v.Validate(context.Background(), op, Input{Request: r, Authenticated: true})
			}
			if err := check("q=" + url.QueryEscape("abc")); err != nil {
				t.Errorf("Validate(q=abc) = %v %+v; want nil", err, obhub.ErrorDetails(err))
			}
			// The other constraints still hold.
			if err := check("q=toolong"); obhub.ErrorCode(err) != obhub.EINVALID {
				t.Errorf("Validate(q=toolong) = %v; want %s", err, obhub.EINVALID)
			}
			s, err := d.Sample(SampleRequest{Method: http.MethodGet, Path: "/a", Seed: 1})
			if err != nil {
				t.Fatalf("Sample: %v", err)
			}
			var body struct {
				Code string `json:"code"`
			}
			if err := json.Unmarshal(s.Body, &body); err != nil || len(body.Code) < 3 {
				t.Errorf("Sample body = %s (%v); want a code of at least 3 characters", s.Body, err)
			}
		})
	}
}
