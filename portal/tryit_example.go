package portal

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
)

// Examples prefill the try-it console: the document's own example when
// it has one, else a value built from the schema (the first enum value, a
// default, a placeholder of the right type). They are suggestions the
// developer edits; nothing relies on them being valid.

// maxExample bounds an example shown in a text area.
const maxExample = 16 << 10

// rawExample is one entry of an OpenAPI "examples" map.
type rawExample struct {
	Value json.RawMessage `json:"value"`
}

// firstExample returns example, else the value of the first (by name) of
// examples.
func firstExample(example json.RawMessage, examples map[string]rawExample) json.RawMessage {
	if len(example) > 0 && string(example) != "null" {
		return example
	}
	names := make([]string, 0, len(examples))
	for n := range examples {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if v := examples[n].Value; len(v) > 0 {
			return v
		}
	}
	return nil
}

// exampleText renders a scalar example as a form field's text: strings
// unquoted, numbers and booleans as written; objects and arrays as
// compact JSON.
func exampleText(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return ""
	}
	return b.String()
}

// bodyExample returns the first JSON media type of a request body and an
// indented example of it.
func (d *rawDoc) bodyExample(raw json.RawMessage) (mediaType, example string) {
	var b rawBody
	for range 4 {
		if err := json.Unmarshal(raw, &b); err != nil {
			return "", ""
		}
		if b.Ref == "" {
			break
		}
		next, ok := d.component(b.Ref)
		if !ok {
			return "", ""
		}
		raw, b = next, rawBody{}
	}
	types := make([]string, 0, len(b.Content))
	for t := range b.Content {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, t := range types {
		if !isJSON(t) {
			continue
		}
		c := b.Content[t]
		ex := firstExample(c.Example, c.Examples)
		if len(ex) == 0 && len(c.Schema) > 0 {
			if v := d.sample(c.Schema, 0); v != nil {
				ex, _ = json.Marshal(v)
			}
		}
		var out bytes.Buffer
		if len(ex) == 0 || json.Indent(&out, ex, "", "  ") != nil || out.Len() > maxExample {
			return t, ""
		}
		return t, out.String()
	}
	if len(types) > 0 {
		return types[0], ""
	}
	return "", ""
}

// isJSON reports whether a media type is JSON (application/json,
// application/problem+json, …).
func isJSON(mediaType string) bool {
	mt, _, _ := strings.Cut(mediaType, ";")
	mt = strings.TrimSpace(strings.ToLower(mt))
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// sample builds a value of a schema: its example, default or first enum
// value, else a placeholder of its type, objects with every property.
func (d *rawDoc) sample(raw json.RawMessage, depth int) any {
	if depth > maxSchemaDepth {
		return nil
	}
	s := d.schema(raw, depth)
	for _, v := range []json.RawMessage{s.Example, s.Default} {
		if len(v) > 0 && string(v) != "null" {
			return v
		}
	}
	if len(s.Enum) > 0 {
		return s.Enum[0]
	}
	if len(s.OneOf) > 0 {
		return d.sample(s.OneOf[0], depth+1)
	}
	if len(s.AnyOf) > 0 {
		return d.sample(s.AnyOf[0], depth+1)
	}
	switch s.baseType() {
	case "object":
		m := map[string]any{}
		for name, p := range s.Properties {
			if v := d.sample(p, depth+1); v != nil {
				m[name] = v
			}
		}
		return m
	case "array":
		if len(s.Items) == 0 {
			return []any{}
		}
		if v := d.sample(s.Items, depth+1); v != nil {
			return []any{v}
		}
		return []any{}
	case "integer", "number":
		return 1
	case "boolean":
		return true
	case "string":
		switch s.Format {
		case "date":
			return "2026-01-01"
		case "date-time":
			return "2026-01-01T00:00:00+08:00"
		}
		return "string"
	}
	return nil
}
