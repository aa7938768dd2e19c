package openapi

import (
	"bytes"
	"encoding/json"
	"hash/fnv"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/obhub/obhub"
)

// SampleRequest asks Document.Sample for the response of one operation,
// as the sandbox answers it.
type SampleRequest struct {
	Method string // upper case
	Path   string // the operation's path template, as catalog.Operation.Path
	// Seed makes the answer deterministic: the same seed gives the same
	// bytes. The sandbox derives it from the app, operation and parameters.
	Seed uint64
	// Code selects another documented response (Prefer: code=404): the
	// exact status, else its range (4XX), else default. 0 means the
	// documented success response.
	Code int
	// Example selects a named example of the response (Prefer:
	// example=NAME).
	Example string
	// Dynamic generates data from the schema even where the document has
	// examples (Prefer: dynamic=true).
	Dynamic bool
	// Namer proposes realistic values for fields it recognises; nil for
	// none. A proposal that does not fit the field's schema is dropped.
	Namer FieldNamer
}

// Sample is a generated response.
type Sample struct {
	Status      int
	ContentType string      // "" when the response has no body
	Header      http.Header // the headers the response declares
	Body        []byte
	// ResponseKey is the key of the documented response used ("200",
	// "4XX", "default"), and ContentType its media type: with the
	// document's JSON they locate the body's schema.
	ResponseKey string
}

// Field describes a scalar value the generator is about to produce, for a
// FieldNamer.
type Field struct {
	Name   string // property name; for array items, the array's name; "" at the top
	Path   string // dotted property path from the body's root, [] for array items
	Type   string // "string", "integer", "number" or "boolean"
	Format string
	// Pattern, MinLength and MaxLength (-1: none) constrain strings;
	// Minimum and Maximum (nil: none) numbers.
	Pattern            string
	MinLength          int
	MaxLength          int
	Minimum, Maximum   *float64
	Description, Title string
}

// FieldNamer proposes a realistic value for a field recognised by its name
// and format: a string, a json.Number, a float64, an int64 or a bool. It
// draws randomness only from r, so that answers stay deterministic.
type FieldNamer interface {
	Value(f Field, r *rand.Rand) (any, bool)
}

// Bounds of generated data.
const (
	maxGenDepth     = 10   // nesting of objects and arrays
	optionalDepth   = 5    // below it, optional properties are left out
	maxGenNodes     = 4000 // values in one body
	maxArrayDefault = 2    // items of an array without minItems
)

// Sample generates the response of the operation at method and path.
// Errors: ENOTFOUND for an unknown operation, a code the operation does
// not document, or an example it does not have (the message lists what
// there is).
func (d *Document) Sample(req SampleRequest) (s *Sample, err error) {
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, obhub.Errorf(obhub.EINTERNAL, "the sandbox could not generate this response")
		}
	}()
	op := d.operation(req.Method, req.Path)
	if op == nil || op.Responses == nil {
		return nil, obhub.Errorf(obhub.ENOTFOUND, "no operation %s %s in the document", req.Method, req.Path)
	}
	status, key, resp, err := pickResponse(op.Responses, req.Code)
	if err != nil {
		return nil, err
	}
	g := &generator{seed: req.Seed, namer: req.Namer, dynamic: req.Dynamic, onStack: map[*openapi3.Schema]int{}}
	s = &Sample{Status: status, ResponseKey: key, Header: http.Header{}}
	g.headers(resp, s.Header)
	if len(resp.Content) == 0 {
		if req.Example != "" {
			return nil, obhub.Errorf(obhub.ENOTFOUND, "response %d has no body, so no example %q", status, req.Example)
		}
		return s, nil
	}
	ct, mt := pickMediaType(resp.Content)
	s.ContentType = ct
	var value any
	switch ex, found, err := pickExample(mt, req.Example, req.Dynamic); {
	case err != nil:
		return nil, err
	case found:
		value = ex
	default:
		value, _ = g.value(mt.Schema, "", "")
	}
	if str, ok := value.(string); ok && !jsonMedia(ct) {
		s.Body = []byte(str)
		return s, nil
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(value); err != nil {
		return nil, obhub.Errorf(obhub.EINTERNAL, "encode sample: %v", err)
	}
	s.Body = b.Bytes()
	return s, nil
}

// operation finds the operation of method on the path template.
func (d *Document) operation(method, path string) *openapi3.Operation {
	if d == nil || d.t == nil || d.t.Paths == nil {
		return nil
	}
	item := d.t.Paths.Value(path)
	if item == nil {
		return nil
	}
	return item.GetOperation(method)
}

// pickResponse chooses the documented response: code's exact status, its
// range, or default; with code 0 the lowest 2xx (exact, then 2XX, then
// default as 200), else the lowest documented status.
func pickResponse(rs *openapi3.Responses, code int) (int, string, *openapi3.Response, error) {
	m := rs.Map()
	get := func(k string) *openapi3.Response {
		if r := m[k]; r != nil && r.Value != nil {
			return r.Value
		}
		return nil
	}
	if code != 0 {
		for _, k := range []string{strconv.Itoa(code), strconv.Itoa(code/100) + "XX", "default"} {
			if r := get(k); r != nil {
				return code, k, r, nil
			}
		}
		return 0, "", nil, obhub.Errorf(obhub.ENOTFOUND, "the operation documents no %d response; it documents %s", code, strings.Join(documented(m), ", "))
	}
	codes := documented(m)
	for _, k := range codes {
		if n, err := strconv.Atoi(k); err == nil && n >= 200 && n < 300 {
			return n, k, get(k), nil
		}
	}
	for _, k := range []string{"2XX", "default"} {
		if r := get(k); r != nil {
			return 200, k, r, nil
		}
	}
	for _, k := range codes {
		if n, err := strconv.Atoi(k); err == nil {
			return n, k, get(k), nil
		}
		if len(k) == 3 && strings.HasSuffix(k, "XX") {
			return int(k[0]-'0') * 100, k, get(k), nil
		}
	}
	return 0, "", nil, obhub.Errorf(obhub.ENOTFOUND, "the operation documents no response")
}

// documented lists the response keys with a value, sorted.
func documented(m map[string]*openapi3.ResponseRef) []string {
	var ks []string
	for k, r := range m {
		if r != nil && r.Value != nil {
			ks = append(ks, k)
		}
	}
	slices.Sort(ks)
	return ks
}

// pickMediaType prefers application/json, then any JSON type, then the
// first by name.
func pickMediaType(c openapi3.Content) (string, *openapi3.MediaType) {
	names := make([]string, 0, len(c))
	for k, v := range c {
		if v != nil {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	best := ""
	for _, n := range names {
		mt := strings.ToLower(strings.TrimSpace(strings.Split(n, ";")[0]))
		switch {
		case mt == "application/json":
			return n, c[n]
		case best == "" && jsonMedia(mt):
			best = n
		}
	}
	if best == "" && len(names) > 0 {
		best = names[0]
	}
	if best == "" {
		return "", &openapi3.MediaType{}
	}
	return best, c[best]
}

// jsonMedia reports whether a media type carries JSON.
func jsonMedia(ct string) bool {
	mt := strings.ToLower(strings.TrimSpace(strings.Split(ct, ";")[0]))
	return mt == "application/json" || strings.HasSuffix(mt, "+json") || mt == "*/*" || mt == "application/*" || mt == "text/json"
}

// pickExample returns the named example, or (unless dynamic) the media
// type's example or its first named one.
func pickExample(mt *openapi3.MediaType, name string, dynamic bool) (any, bool, error) {
	if name != "" {
		if ex := mt.Examples[name]; ex != nil && ex.Value != nil && ex.Value.Value != nil {
			return ex.Value.Value, true, nil
		}
		var names []string
		for k, ex := range mt.Examples {
			if ex != nil && ex.Value != nil && ex.Value.Value != nil {
				names = append(names, k)
			}
		}
		slices.Sort(names)
		if len(names) == 0 {
			return nil, false, obhub.Errorf(obhub.ENOTFOUND, "the response has no named examples, so no example %q", name)
		}
		return nil, false, obhub.Errorf(obhub.ENOTFOUND, "the response has no example %q; it has %s", name, strings.Join(names, ", "))
	}
	if dynamic {
		return nil, false, nil
	}
	if mt.Example != nil {
		return mt.Example, true, nil
	}
	names := make([]string, 0, len(mt.Examples))
	for k, ex := range mt.Examples {
		if ex != nil && ex.Value != nil && ex.Value.Value != nil {
			names = append(names, k)
		}
	}
	if len(names) == 0 {
		return nil, false, nil
	}
	slices.Sort(names)
	return mt.Examples[names[0]].Value.Value, true, nil
}

// headers fills h with a value for every header the response declares.
func (g *generator) headers(resp *openapi3.Response, h http.Header) {
	names := make([]string, 0, len(resp.Headers))
	for k := range resp.Headers {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, name := range names {
		switch strings.ToLower(name) {
		case "content-type", "content-length", "transfer-encoding", "connection", "set-cookie":
			continue
		}
		ref := resp.Headers[name]
		if ref == nil || ref.Value == nil {
			continue
		}
		hd := ref.Value
		var v any
		switch {
		case !g.dynamic && hd.Example != nil:
			v = hd.Example
		default:
			if hd.Schema == nil {
				v = "sandbox"
			} else {
				v, _ = g.value(hd.Schema, name, "header."+name)
			}
		}
		if s := headerString(v); s != "" {
			h.Set(name, s)
		}
	}
}

// headerString writes a value in the simple style of headers.
func headerString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return strings.Map(func(r rune) rune {
			if r < 0x20 || r == 0x7f {
				return -1
			}
			return r
		}, x)
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			parts = append(parts, headerString(e))
		}
		return strings.Join(parts, ",")
	case map[string]any:
		keys := slices.Sorted(mapsKeys(x))
		parts := make([]string, 0, 2*len(x))
		for _, k := range keys {
			parts = append(parts, k, headerString(x[k]))
		}
		return strings.Join(parts, ",")
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

func mapsKeys(m map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// rngFor returns the random source of the value at path: each value has
// its own stream, so adding a field does not change the others.
func (g *generator) rngFor(path string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(path))
	return rand.New(rand.NewPCG(g.seed, h.Sum64()))
}

// SampleParameters returns a value for every required parameter of the
// operation (by "in:name", e.g. "path:accountId"), generated from its
// schema or example, and false when one cannot be made (a parameter
// without a schema, say).
func (d *Document) SampleParameters(method, path string, seed uint64) (map[string]string, bool) {
	op := d.operation(method, path)
	if op == nil {
		return nil, false
	}
	var params openapi3.Parameters
	if item := d.t.Paths.Value(path); item != nil {
		params = append(params, item.Parameters...)
	}
	params = append(params, op.Parameters...)
	g := &generator{seed: seed, onStack: map[*openapi3.Schema]int{}}
	out := map[string]string{}
	for _, ref := range params {
		if ref == nil || ref.Value == nil {
			return nil, false
		}
		p := ref.Value
		if !p.Required && p.In != openapi3.ParameterInPath {
			continue
		}
		key := p.In + ":" + p.Name
		switch {
		case p.Example != nil:
			out[key] = headerString(p.Example)
		case p.Schema != nil:
			v, ok := g.value(p.Schema, p.Name, "param."+key)
			if !ok {
				return nil, false
			}
			out[key] = headerString(v)
		default:
			return nil, false
		}
	}
	return out, true
}
