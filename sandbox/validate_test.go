package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// This file checks generated bodies against their documented schema with
// an independent validator (santhosh-tekuri/jsonschema, not kin-openapi).
// An OpenAPI 3.0 document is read as JSON Schema draft 4 once its
// nullable keyword is rewritten (type: [T, "null"]); 3.1 documents are
// draft 2020-12 as they are.

// schemaValidator compiles the schemas of one document.
type schemaValidator struct {
	c   *jsonschema.Compiler
	url string
}

func newSchemaValidator(t testing.TB, canonical []byte) (*schemaValidator, error) {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(canonical))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	draft := jsonschema.Draft2020
	if m, ok := doc.(map[string]any); ok {
		if v, _ := m["openapi"].(string); strings.HasPrefix(v, "3.0") {
			draft = jsonschema.Draft4
			nullable(doc)
		}
		delete(m, "$schema")
		delete(m, "jsonSchemaDialect")
	}
	c.DefaultDraft(draft)
	const url = "https://obhub.test/openapi.json"
	if err := c.AddResource(url, doc); err != nil {
		return nil, err
	}
	return &schemaValidator{c: c, url: url}, nil
}

// nullable rewrites OpenAPI 3.0's nullable: true into JSON Schema, and
// drops writeOnly properties from required (they are required in requests
// only).
func nullable(v any) {
	switch x := v.(type) {
	case map[string]any:
		if props, ok := x["properties"].(map[string]any); ok {
			if req, ok := x["required"].([]any); ok {
				kept := req[:0:0]
				for _, r := range req {
					name, _ := r.(string)
					if p, _ := props[name].(map[string]any); p != nil && p["writeOnly"] == true {
						continue
					}
					kept = append(kept, r)
				}
				if len(kept) == 0 {
					delete(x, "required") // draft 4 wants at least one name
				} else {
					x["required"] = kept
				}
			}
		}
		if b, _ := x["nullable"].(bool); b {
			switch t := x["type"].(type) {
			case string:
				x["type"] = []any{t, "null"}
			}
			if e, ok := x["enum"].([]any); ok {
				x["enum"] = append(e, nil)
			}
		}
		for _, e := range x {
			nullable(e)
		}
	case []any:
		for _, e := range x {
			nullable(e)
		}
	}
}

// pointerEscape escapes one JSON Pointer token.
func pointerEscape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// errCompile marks a schema the validator itself cannot compile.
type errCompile struct{ err error }

func (e errCompile) Error() string { return "validator cannot compile the schema: " + e.err.Error() }

// validate checks body against the schema of the response (key) and media
// type ct of method on path.
func (v *schemaValidator) validate(path, method, key, ct string, body []byte) error {
	ptr := fmt.Sprintf("#/paths/%s/%s/responses/%s/content/%s/schema",
		pointerEscape(path), strings.ToLower(method), pointerEscape(key), pointerEscape(ct))
	sch, err := v.c.Compile(v.url + ptr)
	if err != nil {
		return errCompile{err}
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("the body is not JSON: %w", err)
	}
	return sch.Validate(inst)
}

// schemas lists, per path and method, the responses' media types that
// declare a schema.
func schemas(canonical []byte) map[string]bool {
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]struct {
				Content map[string]struct {
					Schema json.RawMessage `json:"schema"`
				} `json:"content"`
			} `json:"responses"`
		} `json:"paths"`
	}
	out := map[string]bool{}
	if json.Unmarshal(canonical, &doc) != nil {
		return out
	}
	for p, ops := range doc.Paths {
		for m, op := range ops {
			for k, r := range op.Responses {
				for ct, mt := range r.Content {
					if len(mt.Schema) > 0 {
						out[strings.ToUpper(m)+" "+p+" "+k+" "+ct] = true
					}
				}
			}
		}
	}
	return out
}
