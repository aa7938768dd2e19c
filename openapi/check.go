package openapi

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/obhub/obhub"
)

// version is the kind of document being imported.
type version int

const (
	v20 version = iota + 1 // Swagger 2.0
	v30                    // OpenAPI 3.0.x
	v31                    // OpenAPI 3.1.x
)

// The versions kin-openapi knows; later patch releases are refused rather
// than validated by the wrong rules.
var openAPIVersions = map[string]version{
	"3.0": v30, "3.0.0": v30, "3.0.1": v30, "3.0.2": v30, "3.0.3": v30, "3.0.4": v30,
	"3.1": v31, "3.1.0": v31, "3.1.1": v31, "3.1.2": v31,
}

// methods are the operations of a path item, in the order they are checked.
var methods = []string{"delete", "get", "head", "options", "patch", "post", "put", "trace"}

// detectVersion reads the openapi or swagger field of the root.
func detectVersion(root any) (version, error) {
	m, ok := root.(map[string]any)
	if !ok {
		return 0, obhub.Invalid("invalid OpenAPI document",
			obhub.Detail{Message: "the document must be an OpenAPI object (a JSON object or YAML mapping)"})
	}
	oa, hasOA := m["openapi"]
	sw, hasSW := m["swagger"]
	switch {
	case hasOA && hasSW:
		return 0, obhub.Invalid("invalid OpenAPI document",
			obhub.Detail{Location: "swagger", Message: "must not be set together with openapi"})
	case hasOA:
		s, _ := oa.(string)
		if v, ok := openAPIVersions[s]; ok {
			return v, nil
		}
		return 0, obhub.Invalid("invalid OpenAPI document",
			obhub.Detail{Location: "openapi", Message: "unsupported version: want 3.0.x (up to 3.0.4) or 3.1.x (up to 3.1.2)"})
	case hasSW:
		if s, _ := sw.(string); s == "2.0" {
			return v20, nil
		}
		return 0, obhub.Invalid("invalid OpenAPI document",
			obhub.Detail{Location: "swagger", Message: `unsupported version: want "2.0"`})
	}
	return 0, obhub.Invalid("invalid OpenAPI document",
		obhub.Detail{Location: "openapi", Message: "is required: the document must be OpenAPI 3.0, 3.1 or Swagger 2.0"})
}

// checker runs the structural checks that kin-openapi either does not do,
// does with a vague location, or stops at: it reports every problem it
// finds, each with its location.
type checker struct {
	root    map[string]any
	version version
	ds      []obhub.Detail
	// ws are the warnings: problems that do not stop the import (see
	// warnings.go).
	ws []obhub.Detail
	// skip are the path keys the router cannot use: they are warned
	// about and left out of the imported document.
	skip map[string]bool
	// refsOK is false when a $ref is external or dangling: kin-openapi's
	// loader would stop at the first one.
	refsOK bool
}

func (c *checker) add(loc, format string, args ...any) {
	c.ds = append(c.ds, obhub.Detail{Location: loc, Message: clip(fmt.Sprintf(format, args...))})
}

func (c *checker) warn(loc, format string, args ...any) {
	c.ws = append(c.ws, obhub.Detail{Location: loc, Message: clip(fmt.Sprintf(format, args...))})
}

func check(root map[string]any, v version) *checker {
	c := &checker{root: root, version: v, refsOK: true, skip: map[string]bool{}}
	c.info()
	c.paths()
	if v == v20 {
		c.swaggerBase()
	} else {
		c.servers()
	}
	c.refs(root, "", ctxKeywords)
	return c
}

func (c *checker) info() {
	info, ok := c.root["info"]
	if !ok {
		c.add("info", "is required")
		return
	}
	m, ok := info.(map[string]any)
	if !ok {
		c.add("info", "must be an object")
		return
	}
	for _, f := range []string{"title", "version"} {
		switch s, isStr := m[f].(string); {
		case m[f] == nil:
			c.add("info."+f, "is required")
		case !isStr:
			c.add("info."+f, "must be a string")
		case strings.TrimSpace(s) == "":
			c.add("info."+f, "must not be empty")
		}
	}
}

// deref follows an internal $ref of v, if any (one level at a time, a few
// levels at most). It returns nil when the target is missing.
func (c *checker) deref(v any) any {
	for range 8 {
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		ref, ok := m["$ref"].(string)
		if !ok {
			return v
		}
		target, ok := resolvePointer(c.root, ref)
		if !ok {
			return nil
		}
		v = target
	}
	return nil
}

func (c *checker) paths() {
	raw, ok := c.root["paths"]
	if !ok || raw == nil {
		c.add("paths", "must declare at least one path")
		return
	}
	paths, ok := raw.(map[string]any)
	if !ok {
		c.add("paths", "must be an object")
		return
	}
	if len(paths) == 0 {
		c.add("paths", "must declare at least one path")
		return
	}
	keys := sortedKeys(paths)
	shapes := map[string]string{} // template with parameter names erased → first path
	opIDs := map[string]string{}  // operationId → "GET /path"
	for _, p := range keys {
		loc := "paths." + p
		if strings.HasPrefix(p, "x-") {
			continue // an extension, not a path
		}
		if strings.ContainsAny(p, "?#") {
			c.skipPath(loc, p, "contains '?' or '#' (a query string or fragment written into the path)")
			continue
		}
		names, err := parseTemplate(p)
		if err == adjacentParams {
			c.skipPath(loc, p, err)
			continue
		}
		if err != "" {
			c.add(loc, "%s", err)
			continue
		}
		shape := templateShape(p)
		if first, dup := shapes[shape]; dup {
			c.skipPath(loc, p, "matches the same requests as "+first+" (only parameter names differ)")
			continue
		}
		shapes[shape] = p

		item, ok := c.deref(paths[p]).(map[string]any)
		if !ok {
			if paths[p] != nil && c.deref(paths[p]) != nil {
				c.add(loc, "must be an object")
			}
			continue
		}
		inTemplate := map[string]bool{}
		for _, n := range names {
			inTemplate[n] = true
		}
		common := c.pathParams(item["parameters"], loc+".parameters", inTemplate)
		for _, m := range methods {
			raw, ok := item[m]
			if !ok {
				continue
			}
			oloc := loc + "." + m
			op, ok := raw.(map[string]any)
			if !ok {
				c.add(oloc, "must be an object")
				continue
			}
			c.responses(op, oloc)
			if id, ok := op["operationId"]; ok {
				s, isStr := id.(string)
				switch {
				case isStr && s == "":
					c.warn(oloc+".operationId", "is empty; the operation is identified as %s %s", strings.ToUpper(m), p)
				case !isStr:
					c.add(oloc+".operationId", "must be a non-empty string")
				case opIDs[s] != "":
					c.add(oloc+".operationId", "is already the operationId of %s", opIDs[s])
				default:
					opIDs[s] = strings.ToUpper(m) + " " + p
				}
			}
			declared := c.pathParams(op["parameters"], oloc+".parameters", inTemplate)
			for _, n := range names {
				if !declared[n] && !common[n] {
					c.add(oloc+".parameters", "does not declare path parameter %q of the path template", n)
				}
			}
		}
	}
}

// pathParams returns the names of the path parameters in list, reporting
// those that are not in the template.
func (c *checker) pathParams(list any, loc string, inTemplate map[string]bool) map[string]bool {
	out := map[string]bool{}
	params, ok := list.([]any)
	if !ok {
		return out
	}
	for i, raw := range params {
		p, ok := c.deref(raw).(map[string]any)
		if !ok {
			continue
		}
		if in, _ := p["in"].(string); in != "path" {
			continue
		}
		name, _ := p["name"].(string)
		if !inTemplate[name] {
			c.add(fmt.Sprintf("%s[%d]", loc, i), "declares path parameter %q that is not in the path template", name)
			continue
		}
		out[name] = true
	}
	return out
}

func (c *checker) responses(op map[string]any, loc string) {
	raw := op["responses"]
	r := c.deref(raw)
	if raw != nil && r == nil {
		return // a dangling $ref, reported by the $ref scan
	}
	m, ok := r.(map[string]any)
	if raw != nil && !ok {
		c.add(loc+".responses", "must be an object")
		return
	}
	for k := range m {
		if !strings.HasPrefix(k, "x-") {
			return
		}
	}
	c.add(loc+".responses", "must declare at least one response")
}

func (c *checker) servers() {
	raw, ok := c.root["servers"]
	if !ok || raw == nil {
		return
	}
	list, ok := raw.([]any)
	if !ok {
		c.add("servers", "must be an array")
		return
	}
	for i, s := range list {
		loc := fmt.Sprintf("servers[%d]", i)
		// Only the first server gives the base path; a problem in another
		// is a warning.
		add := c.add
		if i > 0 {
			add = c.warn
		}
		m, ok := s.(map[string]any)
		if !ok {
			add(loc, "must be an object")
			continue
		}
		raw, ok := m["url"].(string)
		if !ok || raw == "" {
			add(loc+".url", "is required")
			continue
		}
		vars, _ := m["variables"].(map[string]any)
		defaults := map[string]string{}
		for name, v := range vars {
			vm, _ := v.(map[string]any)
			d, ok := vm["default"].(string)
			if !ok {
				add(loc+".variables."+name+".default", "is required")
				continue
			}
			defaults[name] = d
		}
		u, problem := expandServerURL(raw, func(name string) (string, bool) {
			if _, declared := vars[name]; !declared {
				return "", false
			}
			return defaults[name], true
		})
		if problem != "" {
			add(loc+".url", "%s", problem)
			continue
		}
		if i == 0 {
			if _, problem := basePathOf(u); problem != "" {
				add(loc+".url", "%s", problem)
			}
		}
	}
}

func (c *checker) swaggerBase() {
	if bp, ok := c.root["basePath"]; ok {
		s, _ := bp.(string)
		if !strings.HasPrefix(s, "/") {
			c.add("basePath", "must start with '/'")
		} else if _, problem := basePathOf(&url.URL{Path: s}); problem != "" {
			c.add("basePath", "%s", problem)
		}
	}
	if h, ok := c.root["host"]; ok {
		s, _ := h.(string)
		if s == "" || strings.ContainsAny(s, "/?#@ ") {
			c.add("host", "must be a host name with an optional port, without scheme or path")
		}
	}
}

// expandServerURL substitutes the variables of a server URL template and
// parses the result. It returns a problem when the template or the URL is
// invalid.
func expandServerURL(tmpl string, lookup func(string) (string, bool)) (*url.URL, string) {
	var b strings.Builder
	rest := tmpl
	for {
		open := strings.IndexByte(rest, '{')
		close := strings.IndexByte(rest, '}')
		if open < 0 {
			if close >= 0 {
				return nil, "has an unbalanced '}'"
			}
			b.WriteString(rest)
			break
		}
		if close < 0 {
			return nil, "has an unbalanced '{'"
		}
		if close < open {
			return nil, "has an unbalanced '}'"
		}
		name := rest[open+1 : close]
		if name == "" || strings.ContainsAny(name, "{") {
			return nil, "has an unbalanced '{' or an empty variable name"
		}
		v, ok := lookup(name)
		if !ok {
			return nil, fmt.Sprintf("uses variable %q that is not declared in variables", name)
		}
		b.WriteString(rest[:open])
		b.WriteString(v)
		rest = rest[close+1:]
	}
	u, err := url.Parse(b.String())
	if err != nil {
		return nil, "is not a valid URL once its variables are replaced by their defaults"
	}
	if u.Scheme != "" && u.Scheme != "http" && u.Scheme != "https" {
		return nil, "must be an http or https URL, or a relative one"
	}
	if u.Scheme != "" && u.Host == "" {
		return nil, "has no host"
	}
	return u, ""
}

// basePathOf returns the base path of a server URL: its path with a
// leading slash and no trailing slash, "" for none or "/".
func basePathOf(u *url.URL) (string, string) {
	p := strings.TrimRight(u.Path, "/")
	if p == "" {
		return "", ""
	}
	if p[0] != '/' {
		p = "/" + p
	}
	for _, seg := range strings.Split(p[1:], "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", "has a path with an empty, '.' or '..' segment"
		}
	}
	if strings.ContainsAny(p, "{}") {
		return "", "has a path with '{' or '}'"
	}
	return p, ""
}

// adjacentParams is parseTemplate's problem for "/a/{x}{y}": a template
// that is well formed but that the router cannot split.
const adjacentParams = "has two parameters with nothing between them"

// parseTemplate returns the parameter names of a path template, or what
// is wrong with it.
func parseTemplate(p string) ([]string, string) {
	if !strings.HasPrefix(p, "/") {
		return nil, "must start with '/'"
	}
	var names []string
	segs := strings.Split(p[1:], "/")
	for i, seg := range segs {
		if seg == "" && i < len(segs)-1 {
			return nil, "must not contain empty segments ('//')"
		}
		if seg == "." || seg == ".." {
			return nil, "must not contain '.' or '..' segments"
		}
		rest := seg
		for rest != "" {
			open := strings.IndexByte(rest, '{')
			close := strings.IndexByte(rest, '}')
			if open < 0 {
				if close >= 0 {
					return nil, "has an unbalanced '}'"
				}
				break
			}
			if close < 0 {
				return nil, "has an unbalanced '{'"
			}
			if close < open {
				return nil, "has an unbalanced '}'"
			}
			name := rest[open+1 : close]
			if name == "" || strings.ContainsAny(name, "{") {
				return nil, "has an unbalanced '{' or an empty parameter name"
			}
			if slices.Contains(names, name) {
				return nil, fmt.Sprintf("uses parameter %q twice", name)
			}
			names = append(names, name)
			rest = rest[close+1:]
			if strings.HasPrefix(rest, "{") {
				return nil, adjacentParams
			}
		}
	}
	return names, ""
}

// templateShape erases parameter names: "/a/{x}" and "/a/{y}" have the
// same shape.
func templateShape(p string) string {
	var b strings.Builder
	in := false
	for _, r := range p {
		switch {
		case r == '{':
			in = true
			b.WriteString("{}")
		case r == '}':
			in = false
		case !in:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Contexts of the $ref scan: whether the keys of a map are OpenAPI or JSON
// Schema keywords, or names chosen by the author.
const (
	ctxKeywords = iota
	ctxNames
)

// nameMaps are keywords whose value maps names to objects.
var nameMaps = map[string]bool{
	"paths": true, "webhooks": true, "schemas": true, "parameters": true, "responses": true,
	"requestBodies": true, "headers": true, "securitySchemes": true, "links": true,
	"callbacks": true, "pathItems": true, "content": true, "encoding": true,
	"properties": true, "patternProperties": true, "$defs": true, "definitions": true,
	"dependentSchemas": true, "variables": true, "securityDefinitions": true,
}

// dataKeywords hold values, not OpenAPI objects: a "$ref" inside them is data.
var dataKeywords = map[string]bool{
	"example": true, "default": true, "enum": true, "const": true, "value": true,
}

// refs reports every $ref that is external or points to nothing.
func (c *checker) refs(v any, loc string, ctx int) {
	switch v := v.(type) {
	case []any:
		for i, e := range v {
			c.refs(e, fmt.Sprintf("%s[%d]", loc, i), ctxKeywords)
		}
	case map[string]any:
		for _, k := range sortedKeys(v) {
			e := v[k]
			eloc := k
			if loc != "" {
				eloc = loc + "." + k
			}
			if ctx == ctxNames {
				c.refs(e, eloc, ctxKeywords)
				continue
			}
			switch {
			case k == "$ref":
				c.ref(e, eloc)
			case strings.HasPrefix(k, "x-") || dataKeywords[k]:
			case k == "examples":
				// A map of Example Objects in OpenAPI 3; values elsewhere.
				if _, isMap := e.(map[string]any); isMap && c.version != v20 {
					c.refs(e, eloc, ctxNames)
				}
			case nameMaps[k]:
				c.refs(e, eloc, ctxNames)
			default:
				c.refs(e, eloc, ctxKeywords)
			}
		}
	}
}

func (c *checker) ref(v any, loc string) {
	s, ok := v.(string)
	switch {
	case !ok:
		c.add(loc, "must be a string")
	case !strings.HasPrefix(s, "#"):
		c.refsOK = false
		c.add(loc, "refers to another document; external references are not allowed, include the definition in this document")
	default:
		if _, found := resolvePointer(c.root, s); !found {
			c.refsOK = false
			c.add(loc, "points to nothing in this document")
		}
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
