package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/openapi"
)

// The admin API's OpenAPI document describes every route the handler
// registers, and nothing else.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	h := New(nil, nil)
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(h.openapi, &doc); err != nil {
		t.Fatal(err)
	}
	methods := []string{"get", "put", "post", "delete", "patch", "head", "options", "trace"}
	var described []string
	for path, item := range doc.Paths {
		for m := range item {
			if slices.Contains(methods, m) {
				described = append(described, strings.ToUpper(m)+" "+path)
			}
		}
	}
	var registered []string
	for _, rt := range h.routes {
		pattern := rt.method + " " + rt.path
		registered = append(registered, pattern)
		// The route is in the mux under exactly this pattern.
		path := regexp.MustCompile(`\{[a-z_]+\}`).ReplaceAllString(rt.path, "x1")
		req := httptest.NewRequest(rt.method, path, nil)
		if _, got := h.mux.Handler(req); got != pattern {
			t.Errorf("%s %s is served by %q, want %q", rt.method, path, got, pattern)
		}
	}
	slices.Sort(described)
	slices.Sort(registered)
	for _, r := range registered {
		if !slices.Contains(described, r) {
			t.Errorf("route %s is not described in openapi.yaml", r)
		}
	}
	for _, d := range described {
		if !slices.Contains(registered, d) {
			t.Errorf("openapi.yaml describes %s, which no route serves", d)
		}
	}
	if len(registered) != len(slices.Compact(slices.Clone(registered))) {
		t.Error("a route is registered twice")
	}
}

// The document is a valid OpenAPI 3.1 document by the hub's own importer.
func TestOpenAPIDocumentValid(t *testing.T) {
	d, err := openapi.Import(context.Background(), openAPIYAML)
	if err != nil {
		t.Fatalf("%v: %+v", err, obhub.ErrorDetails(err))
	}
	if len(d.Operations) != len(New(nil, nil).routes) {
		t.Errorf("%d operations in the document, %d routes", len(d.Operations), len(New(nil, nil).routes))
	}
}

func TestMergePatch(t *testing.T) {
	// RFC 7396, appendix A.
	tests := []struct{ target, patch, want string }{
		{`{"a":"b"}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"b"}`, `{"b":"c"}`, `{"a":"b","b":"c"}`},
		{`{"a":"b"}`, `{"a":null}`, `{}`},
		{`{"a":"b","b":"c"}`, `{"a":null}`, `{"b":"c"}`},
		{`{"a":["b"]}`, `{"a":"c"}`, `{"a":"c"}`},
		{`{"a":"c"}`, `{"a":["b"]}`, `{"a":["b"]}`},
		{`{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`, `{"a":{"b":"d"}}`},
		{`{"a":[{"b":"c"}]}`, `{"a":[1]}`, `{"a":[1]}`},
		{`["a","b"]`, `["c","d"]`, `["c","d"]`},
		{`{"a":"b"}`, `["c"]`, `["c"]`},
		{`{"a":"foo"}`, `null`, `null`},
		{`{"a":"foo"}`, `"bar"`, `"bar"`},
		{`{"e":null}`, `{"a":1}`, `{"a":1,"e":null}`},
		{`[1,2]`, `{"a":"b","c":null}`, `{"a":"b"}`},
		{`{}`, `{"a":{"bb":{"ccc":null}}}`, `{"a":{"bb":{}}}`},
	}
	for _, tt := range tests {
		var target, patch, want any
		for i, s := range []string{tt.target, tt.patch, tt.want} {
			if err := unmarshalNumber([]byte(s), []*any{&target, &patch, &want}[i]); err != nil {
				t.Fatal(err)
			}
		}
		got := mustJSON(mergePatch(target, patch))
		if string(got) != string(mustJSON(want)) {
			t.Errorf("merge %s with %s = %s, want %s", tt.target, tt.patch, got, tt.want)
		}
	}
}

func TestHandlerTransport(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Test", r.URL.Path)
		w.WriteHeader(http.StatusTeapot)
		_, _ = w.Write([]byte("body"))
	})
	c := &http.Client{Transport: HandlerTransport{h}}
	resp, err := c.Get("http://in-process/admin/v1/x")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusTeapot || resp.Header.Get("X-Test") != "/admin/v1/x" {
		t.Errorf("answer %d %v", resp.StatusCode, resp.Header)
	}
}
