package portal

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/obhub/obhub/demo"
	"github.com/obhub/obhub/openapi"
)

func TestTryItExamples(t *testing.T) {
	raw, err := demo.Spec("qingshan-payments.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi.Import(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := parseReference(doc.JSON)
	if err != nil {
		t.Fatal(err)
	}
	var post *refOperation
	for i := range ref.Operations {
		if ref.Operations[i].Method == "POST" && ref.Operations[i].BodyType != "" {
			post = &ref.Operations[i]
			break
		}
	}
	if post == nil {
		t.Fatal("no POST operation with a body in the payments document")
	}
	if post.BodyType != "application/json" || !strings.Contains(post.BodyExample, `"instructionId": "AGF-20261127-0042"`) {
		t.Errorf("body example of %s %s (%s):\n%s", post.Method, post.Path, post.BodyType, post.BodyExample)
	}

	// Without examples, a value is built from the schema.
	schemaOnly := []byte(`{"openapi":"3.0.3","paths":{"/notes":{"post":{
	  "parameters":[{"name":"day","in":"query","schema":{"type":"string","format":"date","default":"2026-11-27"}},
	                {"name":"kind","in":"query","schema":{"type":"string","enum":["memo","alert"]}}],
	  "requestBody":{"content":{"application/json":{"schema":{"$ref":"#/components/schemas/Note"}}}},
	  "responses":{"201":{"description":"made"}}}}},
	  "components":{"schemas":{"Note":{"type":"object","required":["text"],"properties":{
	    "text":{"type":"string"},"count":{"type":"integer"},"at":{"type":"string","format":"date-time"},
	    "tags":{"type":"array","items":{"type":"string","enum":["farm","loan"]}},
	    "self":{"$ref":"#/components/schemas/Note"}}}}}}`)
	ref, err = parseReference(schemaOnly)
	if err != nil {
		t.Fatal(err)
	}
	op := ref.Operations[0]
	if op.Parameters[0].Example != "2026-11-27" || op.Parameters[1].Example != "" {
		t.Errorf("parameter prefill %q %q: want the default, and nothing for an enum without example", op.Parameters[0].Example, op.Parameters[1].Example)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(op.BodyExample), &body); err != nil {
		t.Fatalf("built example is not JSON: %v\n%s", err, op.BodyExample)
	}
	if body["text"] != "string" || body["count"] != float64(1) || body["at"] != "2026-01-01T00:00:00+08:00" ||
		len(body["tags"].([]any)) != 1 || body["tags"].([]any)[0] != "farm" {
		t.Errorf("built example %v", body)
	}
	if len(op.BodyExample) > maxExample {
		t.Errorf("a self-referencing schema built a %d-byte example", len(op.BodyExample))
	}
}
