package portal

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// The API reference is rendered on the server from the stored canonical
// JSON document (OpenAPI 3.x; Swagger 2.0 is converted at import), read
// with encoding/json into the light view model below. Package openapi
// (kin-openapi) is not imported here: the portal only displays documents
// that import has already validated, and reads them defensively.

// reference is what an API page shows of a document.
type reference struct {
	Title       string
	Version     string
	Description string
	Operations  []refOperation
}

type refOperation struct {
	Anchor      string
	Method      string
	Path        string
	Summary     string
	Description string
	Deprecated  bool
	Scopes      []string
	// Consent: the operation's security requirement (its own, else the
	// document's) names an oauth2 scheme with an authorizationCode flow,
	// so it is made for a customer who consented; AppToken: one names a
	// scheme with a clientCredentials flow, so the app may call it as
	// itself (securityKinds).
	Consent, AppToken bool
	Parameters        []refParam
	Body              []refContent
	BodyNote          string // description of the request body
	Responses         []refResponse
	// BodyType and BodyExample prefill the try-it console: the first
	// JSON media type of the request body and an example of it (the
	// document's, or one built from the schema).
	BodyType, BodyExample string
}

type refParam struct {
	Name, In, Type, Description string
	Required                    bool
	// Example is the document's example or default value, as text ("" if
	// none): the try-it console's prefill.
	Example string
}

type refContent struct {
	MediaType string
	Fields    []refField
}

// refField is one row of a schema table: a property path such as
// "data[].amount.currency", its type and whether it is required.
type refField struct {
	Name, Type, Description string
	Required                bool
}

type refResponse struct {
	Status      string
	Description string
	Content     []refContent
}

// Bounds keep a hostile or huge document from producing a huge page.
const (
	maxSchemaDepth = 6
	maxFields      = 200
)

type rawDoc struct {
	Info struct {
		Title       string `json:"title"`
		Version     string `json:"version"`
		Description string `json:"description"`
	} `json:"info"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Security   []map[string][]string                 `json:"security"`
	Components struct {
		SecuritySchemes map[string]struct {
			Type  string                     `json:"type"`
			Flows map[string]json.RawMessage `json:"flows"`
		} `json:"securitySchemes"`
		Schemas       map[string]json.RawMessage `json:"schemas"`
		Parameters    map[string]json.RawMessage `json:"parameters"`
		RequestBodies map[string]json.RawMessage `json:"requestBodies"`
		Responses     map[string]json.RawMessage `json:"responses"`
	} `json:"components"`
}

type rawOp struct {
	Summary     string            `json:"summary"`
	Description string            `json:"description"`
	OperationID string            `json:"operationId"`
	Deprecated  bool              `json:"deprecated"`
	Parameters  []json.RawMessage `json:"parameters"`
	RequestBody json.RawMessage   `json:"requestBody"`
	Responses   map[string]json.RawMessage
	Security    []map[string][]string `json:"security"`
}

type rawParam struct {
	Ref         string                `json:"$ref"`
	Name        string                `json:"name"`
	In          string                `json:"in"`
	Required    bool                  `json:"required"`
	Description string                `json:"description"`
	Schema      json.RawMessage       `json:"schema"`
	Example     json.RawMessage       `json:"example"`
	Examples    map[string]rawExample `json:"examples"`
}

type rawBody struct {
	Ref         string `json:"$ref"`
	Description string `json:"description"`
	Content     map[string]struct {
		Schema   json.RawMessage       `json:"schema"`
		Example  json.RawMessage       `json:"example"`
		Examples map[string]rawExample `json:"examples"`
	} `json:"content"`
}

type rawSchema struct {
	Ref         string                     `json:"$ref"`
	Type        json.RawMessage            `json:"type"` // a string, or a list in 3.1
	Format      string                     `json:"format"`
	Description string                     `json:"description"`
	Enum        []json.RawMessage          `json:"enum"`
	Required    []string                   `json:"required"`
	Properties  map[string]json.RawMessage `json:"properties"`
	Items       json.RawMessage            `json:"items"`
	AllOf       []json.RawMessage          `json:"allOf"`
	OneOf       []json.RawMessage          `json:"oneOf"`
	AnyOf       []json.RawMessage          `json:"anyOf"`
	Example     json.RawMessage            `json:"example"`
	Default     json.RawMessage            `json:"default"`
}

var methodOrder = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// securityKinds tells what tokens an operation's security requirement
// (the operation's own, else the document's) accepts: consent when one of
// its oauth2 schemes has an authorizationCode flow (a customer's
// consent), app when one has a clientCredentials flow (the app itself).
// An operation with neither kind — no requirement, or only other flows —
// is tried with the app's own token, as before.
func (d *rawDoc) securityKinds(own []map[string][]string) (consent, app bool) {
	reqs := own
	if reqs == nil {
		reqs = d.Security
	}
	for _, req := range reqs {
		for name := range req {
			sc, ok := d.Components.SecuritySchemes[name]
			if !ok || sc.Type != "oauth2" {
				continue
			}
			if _, ok := sc.Flows["authorizationCode"]; ok {
				consent = true
			}
			if _, ok := sc.Flows["clientCredentials"]; ok {
				app = true
			}
		}
	}
	return consent, app
}

// parseReference builds the view model of a canonical JSON document.
func parseReference(doc []byte) (*reference, error) {
	var d rawDoc
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("read API document: %w", err)
	}
	ref := &reference{Title: d.Info.Title, Version: d.Info.Version, Description: d.Info.Description}
	paths := make([]string, 0, len(d.Paths))
	for p := range d.Paths {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		item := d.Paths[p]
		var shared []json.RawMessage
		if raw, ok := item["parameters"]; ok {
			_ = json.Unmarshal(raw, &shared)
		}
		for _, m := range methodOrder {
			raw, ok := item[m]
			if !ok {
				continue
			}
			var o rawOp
			if err := json.Unmarshal(raw, &o); err != nil {
				continue
			}
			op := refOperation{
				Method: strings.ToUpper(m), Path: p, Summary: o.Summary,
				Description: o.Description, Deprecated: o.Deprecated,
			}
			op.Anchor = anchor(op.Method + " " + p)
			op.Consent, op.AppToken = d.securityKinds(o.Security)
			for _, req := range o.Security {
				for _, scopes := range req {
					for _, s := range scopes {
						if !slices.Contains(op.Scopes, s) {
							op.Scopes = append(op.Scopes, s)
						}
					}
				}
			}
			for _, rp := range append(slices.Clone(shared), o.Parameters...) {
				if prm, ok := d.param(rp); ok {
					op.Parameters = append(op.Parameters, prm)
				}
			}
			if len(o.RequestBody) > 0 {
				op.BodyNote, op.Body = d.body(o.RequestBody)
				op.BodyType, op.BodyExample = d.bodyExample(o.RequestBody)
			}
			codes := make([]string, 0, len(o.Responses))
			for c := range o.Responses {
				codes = append(codes, c)
			}
			sort.Strings(codes)
			for _, c := range codes {
				note, content := d.body(o.Responses[c])
				op.Responses = append(op.Responses, refResponse{Status: c, Description: note, Content: content})
			}
			ref.Operations = append(ref.Operations, op)
		}
	}
	return ref, nil
}

func anchor(s string) string {
	var b strings.Builder
	b.WriteString("op-")
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}

// component returns the local component a "#/components/<kind>/<name>"
// reference points at.
func (d *rawDoc) component(ref string) (json.RawMessage, bool) {
	rest, ok := strings.CutPrefix(ref, "#/components/")
	if !ok {
		return nil, false
	}
	kind, name, _ := strings.Cut(rest, "/")
	name = strings.ReplaceAll(strings.ReplaceAll(name, "~1", "/"), "~0", "~")
	var m map[string]json.RawMessage
	switch kind {
	case "schemas":
		m = d.Components.Schemas
	case "parameters":
		m = d.Components.Parameters
	case "requestBodies":
		m = d.Components.RequestBodies
	case "responses":
		m = d.Components.Responses
	}
	v, ok := m[name]
	return v, ok
}

func (d *rawDoc) param(raw json.RawMessage) (refParam, bool) {
	var p rawParam
	for range 4 { // follow a few levels of $ref
		if err := json.Unmarshal(raw, &p); err != nil {
			return refParam{}, false
		}
		if p.Ref == "" {
			break
		}
		next, ok := d.component(p.Ref)
		if !ok {
			return refParam{}, false
		}
		raw, p = next, rawParam{}
	}
	typ := ""
	ex := firstExample(p.Example, p.Examples)
	if len(p.Schema) > 0 {
		s := d.schema(p.Schema, 0)
		typ = s.typeName(d)
		if len(ex) == 0 {
			ex = s.Example
		}
		if len(ex) == 0 {
			ex = s.Default
		}
	}
	return refParam{Name: p.Name, In: p.In, Type: typ, Description: p.Description,
		Required: p.Required || p.In == "path", Example: exampleText(ex)}, true
}

func (d *rawDoc) body(raw json.RawMessage) (string, []refContent) {
	var b rawBody
	for range 4 {
		if err := json.Unmarshal(raw, &b); err != nil {
			return "", nil
		}
		if b.Ref == "" {
			break
		}
		next, ok := d.component(b.Ref)
		if !ok {
			return "", nil
		}
		raw, b = next, rawBody{}
	}
	types := make([]string, 0, len(b.Content))
	for t := range b.Content {
		types = append(types, t)
	}
	sort.Strings(types)
	var out []refContent
	for _, t := range types {
		c := refContent{MediaType: t}
		if s := b.Content[t].Schema; len(s) > 0 {
			d.fields(&c.Fields, "", s, false, 0)
		}
		out = append(out, c)
	}
	return b.Description, out
}

// schema decodes a schema, following $ref (a few levels) and merging
// allOf.
func (d *rawDoc) schema(raw json.RawMessage, depth int) rawSchema {
	var s rawSchema
	for range 8 {
		s = rawSchema{}
		if json.Unmarshal(raw, &s) != nil {
			return rawSchema{}
		}
		if s.Ref == "" {
			break
		}
		next, ok := d.component(s.Ref)
		if !ok {
			return s
		}
		raw = next
	}
	if len(s.AllOf) > 0 && depth < maxSchemaDepth {
		for _, part := range s.AllOf {
			ps := d.schema(part, depth+1)
			if s.Properties == nil {
				s.Properties = map[string]json.RawMessage{}
			}
			for k, v := range ps.Properties {
				s.Properties[k] = v
			}
			s.Required = append(s.Required, ps.Required...)
			if len(s.Type) == 0 {
				s.Type = ps.Type
			}
			if s.Description == "" {
				s.Description = ps.Description
			}
		}
	}
	return s
}

func (s *rawSchema) baseType() string {
	var one string
	if json.Unmarshal(s.Type, &one) == nil {
		return one
	}
	var many []string
	if json.Unmarshal(s.Type, &many) == nil {
		return strings.Join(many, " | ")
	}
	if len(s.Properties) > 0 {
		return "object"
	}
	return ""
}

// typeName is a short human type: "string (date)", "array of object",
// "string: one of A, B".
func (s *rawSchema) typeName(d *rawDoc) string {
	t := s.baseType()
	switch {
	case t == "array" && len(s.Items) > 0:
		it := d.schema(s.Items, maxSchemaDepth)
		t = "array of " + it.typeName(d)
	case len(s.OneOf) > 0 || len(s.AnyOf) > 0:
		if t == "" {
			t = "one of several shapes"
		}
	case t == "":
		t = "any"
	}
	if s.Format != "" {
		t += " (" + s.Format + ")"
	}
	if len(s.Enum) > 0 && len(s.Enum) <= 12 {
		vals := make([]string, 0, len(s.Enum))
		for _, e := range s.Enum {
			vals = append(vals, strings.Trim(string(e), `"`))
		}
		t += ": " + strings.Join(vals, ", ")
	}
	return t
}

// fields flattens a schema into table rows: nested objects as dotted
// names, arrays of objects as "name[]".
func (d *rawDoc) fields(out *[]refField, prefix string, raw json.RawMessage, required bool, depth int) {
	if depth > maxSchemaDepth || len(*out) >= maxFields {
		return
	}
	s := d.schema(raw, depth)
	if prefix != "" || len(s.Properties) == 0 {
		name := prefix
		if name == "" {
			name = "(body)"
		}
		*out = append(*out, refField{Name: name, Type: s.typeName(d), Description: s.Description, Required: required})
	}
	props, itemPrefix := s.Properties, prefix
	if s.baseType() == "array" && len(s.Items) > 0 {
		it := d.schema(s.Items, depth+1)
		props, itemPrefix = it.Properties, prefix+"[]"
		s.Required = it.Required
	}
	names := make([]string, 0, len(props))
	for n := range props {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := n
		if itemPrefix != "" {
			p = itemPrefix + "." + n
		}
		d.fields(out, p, props[n], slices.Contains(s.Required, n), depth+1)
	}
}
