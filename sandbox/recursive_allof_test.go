package sandbox

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/obhub/obhub/openapi"
)

// recursiveAllOf is the shape of Bing's schemas (APIs.guru's
// microsoft.com/cognitiveservices-VideoSearch.json): a chain of allOf
// down to a base that requires _type, and a type of the chain that holds
// itself (ImageObject's thumbnail) and is held by the chain's base (Thing's
// image). No examples: the sandbox generates every body.
const recursiveAllOf = `
openapi: 3.0.0
info: {title: Videos, version: "1"}
paths:
  /videos:
    get:
      responses:
        "200":
          description: videos
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Videos"}
components:
  schemas:
    ResponseBase:
      type: object
      required: [_type]
      properties: {_type: {type: string}}
    Identifiable:
      allOf: [{$ref: "#/components/schemas/ResponseBase"}]
      type: object
      properties: {id: {type: string}}
    Response:
      allOf: [{$ref: "#/components/schemas/Identifiable"}]
      type: object
      properties: {webSearchUrl: {type: string}}
    Thing:
      allOf: [{$ref: "#/components/schemas/Response"}]
      type: object
      properties:
        name: {type: string}
        image: {$ref: "#/components/schemas/ImageObject"}
    CreativeWork:
      allOf: [{$ref: "#/components/schemas/Thing"}]
      type: object
      properties:
        provider: {type: array, items: {$ref: "#/components/schemas/Thing"}}
    MediaObject:
      allOf: [{$ref: "#/components/schemas/CreativeWork"}]
      type: object
      properties: {contentUrl: {type: string}, width: {type: integer}}
    ImageObject:
      allOf: [{$ref: "#/components/schemas/MediaObject"}]
      type: object
      properties:
        thumbnail: {$ref: "#/components/schemas/ImageObject"}
    VideoObject:
      allOf: [{$ref: "#/components/schemas/MediaObject"}]
      type: object
      properties: {viewCount: {type: integer}}
    Videos:
      allOf: [{$ref: "#/components/schemas/Response"}]
      type: object
      properties:
        value: {type: array, items: {$ref: "#/components/schemas/VideoObject"}}
`

// TestRecursiveAllOfValidates: every generated body of a recursive type
// built by allOf validates, down to where the recursion is cut short:
// each object of the chain has the base's required _type. (The
// generator used to lose the base's required properties once a schema of
// the chain had been merged: merging the allOf marked it as being generated and
// never unmarked it.)
func TestRecursiveAllOfValidates(t *testing.T) {
	doc, err := openapi.Import(t.Context(), []byte(recursiveAllOf))
	if err != nil {
		t.Fatal(err)
	}
	val, err := newSchemaValidator(t, doc.JSON)
	if err != nil {
		t.Fatal(err)
	}
	deep := 0
	for seed := range uint64(20) {
		s, err := doc.Sample(openapi.SampleRequest{Method: http.MethodGet, Path: "/videos", Seed: seed, Namer: Namer{}})
		if err != nil {
			t.Fatal(err)
		}
		if err := val.validate("/videos", http.MethodGet, s.ResponseKey, s.ContentType, s.Body); err != nil {
			t.Fatalf("seed %d: %v\n%s", seed, err, s.Body)
		}
		var body any
		if err := json.Unmarshal(s.Body, &body); err != nil {
			t.Fatal(err)
		}
		if cutShort(body) {
			deep++
		}
	}
	if deep == 0 {
		t.Error("no body has a value cut short at the recursion (an object with _type alone): the test would not test it")
	}
}

// cutShort reports whether v holds an object whose only member is _type:
// what the generator makes where a recursive type is cut short.
func cutShort(v any) bool {
	switch v := v.(type) {
	case map[string]any:
		if _, ok := v["_type"]; ok && len(v) == 1 {
			return true
		}
		for _, e := range v {
			if cutShort(e) {
				return true
			}
		}
	case []any:
		for _, e := range v {
			if cutShort(e) {
				return true
			}
		}
	}
	return false
}
