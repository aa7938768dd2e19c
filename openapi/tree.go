package openapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/obhub/obhub"
)

// A document is first read into a plain tree of map[string]any, []any,
// string, json.Number, bool and nil, whatever its format. The structural
// checks run on that tree, so they can report every problem even when the
// document is too broken for kin-openapi to load. The tree, written back
// as compact JSON, is what kin-openapi reads and what is stored: one path
// for both formats, and JSON without the whitespace that kin-openapi,
// which decodes every object twice, would pay for.

const (
	// maxDepth bounds the nesting of a document. Real documents stay far
	// below it; deeper ones only exhaust recursion in the validators.
	maxDepth = 256
	// maxNodes bounds the size of a YAML document once aliases are
	// expanded, so that a few aliases cannot blow up into gigabytes.
	maxNodes = 4 << 20
)

var utf8BOM = []byte("\xef\xbb\xbf")

// parseTree reads data as JSON or YAML into the plain tree.
func parseTree(data []byte) (any, error) {
	data = bytes.TrimPrefix(data, utf8BOM)
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, obhub.Invalid("invalid OpenAPI document", obhub.Detail{Message: "the document is empty"})
	}
	if trimmed[0] == '{' || trimmed[0] == '[' {
		root, jerr := parseJSON(data)
		if jerr == nil {
			return root, checkDepth(root)
		}
		// A YAML flow mapping also starts with '{'.
		if root, yerr := parseYAML(data); yerr == nil {
			return root, nil
		}
		return nil, jerr
	}
	return parseYAML(data)
}

// encodeTree writes the plain tree as compact JSON with sorted keys: the
// canonical form of an OpenAPI 3 document, whatever format it came in.
func encodeTree(root any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(root); err != nil {
		return nil, obhub.Invalid("invalid OpenAPI document", obhub.Detail{Message: "the document cannot be represented as JSON"})
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func parseJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var root any
	err := dec.Decode(&root)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = errors.New("unexpected data after the top-level value")
		}
	}
	if err == nil {
		return root, nil
	}
	var syn *json.SyntaxError
	var msg string
	switch {
	case errors.As(err, &syn):
		line, col := lineCol(data, syn.Offset)
		msg = fmt.Sprintf("not valid JSON: %s (line %d, column %d)", syn.Error(), line, col)
	case err == io.ErrUnexpectedEOF:
		msg = "not valid JSON: unexpected end of input"
	default:
		msg = "not valid JSON: " + err.Error()
	}
	return nil, obhub.Invalid("invalid OpenAPI document", obhub.Detail{Message: clip(msg)})
}

func lineCol(data []byte, offset int64) (line, col int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	before := data[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(offset) - bytes.LastIndexByte(before, '\n')
	return line, col
}

func checkDepth(root any) error {
	var depth func(v any, d int) bool
	depth = func(v any, d int) bool {
		if d > maxDepth {
			return false
		}
		switch v := v.(type) {
		case map[string]any:
			for _, e := range v {
				if !depth(e, d+1) {
					return false
				}
			}
		case []any:
			for _, e := range v {
				if !depth(e, d+1) {
					return false
				}
			}
		}
		return true
	}
	if !depth(root, 0) {
		return tooDeep()
	}
	return nil
}

func tooDeep() error {
	return obhub.Invalid("invalid OpenAPI document",
		obhub.Detail{Message: fmt.Sprintf("the document nests deeper than %d levels", maxDepth)})
}

func parseYAML(data []byte) (any, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		return nil, obhub.Invalid("invalid OpenAPI document", obhub.Detail{Message: clip("not valid JSON or YAML: " + msg)})
	}
	c := yamlConverter{active: map[*yaml.Node]bool{}}
	root, err := c.convert(&doc, 0)
	if err != nil {
		return nil, err
	}
	if len(c.dups) > 0 {
		return nil, obhub.Invalid("invalid OpenAPI document", c.dups...)
	}
	// Numbers that YAML reads as floats but OpenAPI wants as text.
	if m, ok := root.(map[string]any); ok {
		top := yamlRoot(&doc)
		for _, key := range []string{"openapi", "swagger"} {
			if n := yamlValue(top, key); n != nil && n.Kind == yaml.ScalarNode {
				m[key] = n.Value
			}
		}
		if info, ok := m["info"].(map[string]any); ok {
			if n := yamlValue(yamlValue(top, "info"), "version"); n != nil && n.Kind == yaml.ScalarNode {
				info["version"] = n.Value
			}
		}
	}
	return root, nil
}

func yamlRoot(doc *yaml.Node) *yaml.Node {
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		return doc.Content[0]
	}
	return doc
}

// yamlValue returns the value of key in mapping n, or nil.
func yamlValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Kind == yaml.ScalarNode && n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// yamlConverter turns a yaml.Node tree into the plain tree, expanding
// aliases within a budget and recording duplicate keys.
type yamlConverter struct {
	nodes  int
	active map[*yaml.Node]bool // aliased nodes being expanded, to refuse cycles
	dups   []obhub.Detail
	path   []string
}

func (c *yamlConverter) fail(msg string) error {
	return obhub.Invalid("invalid OpenAPI document", obhub.Detail{Location: joinLoc(c.path), Message: msg})
}

func (c *yamlConverter) convert(n *yaml.Node, depth int) (any, error) {
	c.nodes++
	if c.nodes > maxNodes {
		return nil, c.fail("the document is too large once its YAML aliases are expanded")
	}
	if depth > maxDepth {
		return nil, tooDeep()
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return c.convert(n.Content[0], depth)
	case yaml.AliasNode:
		if n.Alias == nil || c.active[n.Alias] {
			return nil, c.fail("a YAML alias refers to itself")
		}
		c.active[n.Alias] = true
		v, err := c.convert(n.Alias, depth)
		delete(c.active, n.Alias)
		return v, err
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for i, e := range n.Content {
			c.path = append(c.path, fmt.Sprintf("[%d]", i))
			v, err := c.convert(e, depth+1)
			c.path = c.path[:len(c.path)-1]
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		return c.mapping(n, depth)
	case yaml.ScalarNode:
		return scalar(n), nil
	}
	return nil, c.fail("unsupported YAML node")
}

func (c *yamlConverter) mapping(n *yaml.Node, depth int) (any, error) {
	out := make(map[string]any, len(n.Content)/2)
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.AliasNode && k.Alias != nil {
			k = k.Alias
		}
		if k.Kind != yaml.ScalarNode {
			return nil, c.fail("mapping keys must be plain scalars")
		}
		if k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		c.path = append(c.path, k.Value)
		if _, dup := out[k.Value]; dup {
			c.dups = append(c.dups, obhub.Detail{Location: joinLoc(c.path), Message: "duplicate key"})
		}
		val, err := c.convert(v, depth+1)
		c.path = c.path[:len(c.path)-1]
		if err != nil {
			return nil, err
		}
		out[k.Value] = val
	}
	// Merge keys (<<) add the entries the mapping does not set itself.
	for _, m := range merges {
		srcs := []*yaml.Node{m}
		if m.Kind == yaml.SequenceNode {
			srcs = m.Content
		}
		for _, src := range srcs {
			v, err := c.convert(src, depth+1)
			if err != nil {
				return nil, err
			}
			mm, ok := v.(map[string]any)
			if !ok {
				return nil, c.fail("a YAML merge key must refer to a mapping")
			}
			for k, e := range mm {
				if _, set := out[k]; !set {
					out[k] = e
				}
			}
		}
	}
	return out, nil
}

// scalar converts a YAML scalar the way JSON would read the same value;
// timestamps and other tags stay text.
func scalar(n *yaml.Node) any {
	switch n.ShortTag() {
	case "!!str", "!!timestamp", "!!binary":
		return n.Value
	case "!!null":
		return nil
	case "!!bool", "!!int", "!!float":
		var v any
		if err := n.Decode(&v); err != nil {
			return n.Value
		}
		switch x := v.(type) {
		case bool:
			return x
		case int:
			return json.Number(fmt.Sprint(x))
		case int64, uint64, uint:
			return json.Number(fmt.Sprint(x))
		case float64:
			if math.IsInf(x, 0) || math.IsNaN(x) {
				return n.Value
			}
			b, err := json.Marshal(x)
			if err != nil {
				return n.Value
			}
			return json.Number(b)
		}
		return n.Value
	}
	return n.Value
}

// joinLoc renders a location such as "paths./accounts.get.responses":
// keys joined by dots, array indexes in brackets.
func joinLoc(parts []string) string {
	var b strings.Builder
	for _, p := range parts {
		if b.Len() > 0 && !strings.HasPrefix(p, "[") {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

// resolvePointer returns the value an internal $ref ("#/a/b") points to.
func resolvePointer(root any, ref string) (any, bool) {
	u, err := url.Parse(ref)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Path != "" || u.Opaque != "" {
		return nil, false
	}
	frag := u.Fragment
	if frag == "" {
		return root, true
	}
	if frag[0] != '/' {
		return nil, false
	}
	cur := root
	for _, tok := range strings.Split(frag[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch v := cur.(type) {
		case map[string]any:
			next, ok := v[tok]
			if !ok {
				return nil, false
			}
			cur = next
		case []any:
			i, ok := index(tok)
			if !ok || i >= len(v) {
				return nil, false
			}
			cur = v[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

func index(tok string) (int, bool) {
	if tok == "" || len(tok) > 9 || (len(tok) > 1 && tok[0] == '0') {
		return 0, false
	}
	n := 0
	for _, r := range tok {
		if r < '0' || r > '9' {
			return 0, false
		}
		n = n*10 + int(r-'0')
	}
	return n, true
}

// clip shortens a message so that no finding carries more than a short
// excerpt of the document.
func clip(s string) string {
	const max = 200
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }
