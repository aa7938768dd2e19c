package admin

import (
	_ "embed"
	"encoding/json"
	"fmt"

	"gopkg.in/yaml.v3"
)

// openAPIYAML is the admin API's own OpenAPI 3.1 document, written by hand
// next to the routes it describes; a test keeps the two in step.
//
//go:embed openapi.yaml
var openAPIYAML []byte

// openAPIJSON returns the embedded document as JSON.
func openAPIJSON() ([]byte, error) {
	var doc any
	if err := yaml.Unmarshal(openAPIYAML, &doc); err != nil {
		return nil, err
	}
	return json.MarshalIndent(jsonValue(doc), "", "  ")
}

// jsonValue turns a value decoded from YAML into one encoding/json can
// write: mapping keys become strings.
func jsonValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = jsonValue(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[fmt.Sprint(k)] = jsonValue(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = jsonValue(e)
		}
		return out
	}
	return v
}
