package openapi

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
)

// generator builds one response body from its schema.
type generator struct {
	seed    uint64
	namer   FieldNamer
	dynamic bool
	nodes   int
	depth   int
	onStack map[*openapi3.Schema]int // schemas being generated: recursion guard
}

// sampleEpoch anchors generated dates, so that answers do not change with
// the day they are asked.
var sampleEpoch = time.Date(2026, 3, 15, 9, 30, 0, 0, time.FixedZone("CST", 8*60*60))

// value generates a value for ref; ok is false when none can be made (a
// false schema, the node budget spent).
func (g *generator) value(ref *openapi3.SchemaRef, name, path string) (any, bool) {
	if ref == nil || ref.Value == nil {
		return g.plainString(g.rngFor(path), 0, -1), true
	}
	g.nodes++
	if g.nodes > maxGenNodes {
		return nil, false
	}
	s := ref.Value
	if s.Always != nil {
		if !*s.Always {
			return nil, false
		}
		return "sandbox", true
	}
	if g.onStack[s] > 1 || g.depth > maxGenDepth {
		return g.minimal(s), true
	}
	g.onStack[s]++
	g.depth++
	defer func() { g.onStack[s]--; g.depth-- }()

	if len(s.AllOf) > 0 {
		s = mergeAllOf(s)
	}
	if len(s.OneOf) > 0 || len(s.AnyOf) > 0 {
		return g.choice(s, name, path)
	}
	if s.Const != nil {
		return s.Const, true
	}
	if len(s.Enum) > 0 {
		return s.Enum[g.rngFor(path).IntN(len(s.Enum))], true
	}
	switch typeOf(s) {
	case "null":
		return nil, true
	case "object":
		return g.object(s, path), true
	case "array":
		return g.array(s, name, path), true
	case "integer", "number", "string", "boolean":
		return g.scalar(s, typeOf(s), name, path), true
	}
	return g.plainString(g.rngFor(path), 0, -1), true
}

// typeOf returns the schema's type: the first that is not null of an
// OpenAPI 3.1 type array, or one inferred from its keywords.
func typeOf(s *openapi3.Schema) string {
	if s.Type != nil {
		ts := s.Type.Slice()
		for _, t := range ts {
			if t != "null" {
				return t
			}
		}
		if len(ts) > 0 {
			return ts[0]
		}
	}
	switch {
	case len(s.Properties) > 0 || s.AdditionalProperties.Schema != nil || len(s.Required) > 0:
		return "object"
	case s.Items != nil:
		return "array"
	case s.Min != nil || s.Max != nil || s.MultipleOf != nil:
		return "number"
	case s.Pattern != "" || s.Format != "" || s.MinLength > 0 || s.MaxLength != nil:
		return "string"
	}
	return "string"
}

// minimal is the smallest value that still has what the schema asks for:
// used past the depth limit and when a schema recurs. An object gets its
// required properties, with their own minimal values, and allOf is merged
// first: a recursive type cut short (ImageObject's thumbnail, an
// ImageObject, in a chain of allOf up to a base that requires _type)
// still validates.
func (g *generator) minimal(s *openapi3.Schema) any { return g.minimalAt(s, 0) }

// maxMinimalDepth bounds the required properties minimalAt follows.
const maxMinimalDepth = 8

func (g *generator) minimalAt(s *openapi3.Schema, depth int) any {
	if len(s.AllOf) > 0 {
		s = mergeAllOf(s)
	}
	if s.Const != nil {
		return s.Const
	}
	if len(s.Enum) > 0 {
		return s.Enum[0]
	}
	switch typeOf(s) {
	case "object":
		m := map[string]any{}
		if depth < maxMinimalDepth {
			for _, name := range s.Required {
				if p := s.Properties[name]; p != nil && p.Value != nil {
					m[name] = g.minimalAt(p.Value, depth+1)
				}
			}
		}
		return m
	case "array":
		return []any{}
	case "integer", "number":
		if s.Min != nil {
			return math.Ceil(*s.Min)
		}
		return 0
	case "boolean":
		return false
	case "null":
		return nil
	}
	return strings.Repeat("x", int(s.MinLength))
}

// mergeAllOf merges allOf into one schema: properties and required united,
// constraints intersected, the first type, format and pattern kept. A
// member's own allOf is merged too, however deep the chain, each schema
// once (an allOf cycle ends there). Whether a schema is being generated
// (onStack) does not matter here: a chain's base that requires _type must
// still be merged into a type that recurs.
func mergeAllOf(s *openapi3.Schema) *openapi3.Schema {
	return mergeAllOfSeen(s, map[*openapi3.Schema]bool{s: true})
}

// mergeAllOfSeen is mergeAllOf, skipping the schemas already seen.
func mergeAllOfSeen(s *openapi3.Schema, seen map[*openapi3.Schema]bool) *openapi3.Schema {
	out := *s
	out.AllOf = nil
	out.Properties = openapi3.Schemas{}
	for k, v := range s.Properties {
		out.Properties[k] = v
	}
	out.Required = slices.Clone(s.Required)
	for _, sub := range s.AllOf {
		if sub == nil || sub.Value == nil || seen[sub.Value] {
			continue
		}
		v := sub.Value
		seen[v] = true
		if len(v.AllOf) > 0 {
			v = mergeAllOfSeen(v, seen)
		}
		mergeInto(&out, v)
	}
	return &out
}

func mergeInto(out, v *openapi3.Schema) {
	if out.Type == nil || len(out.Type.Slice()) == 0 {
		out.Type = v.Type
	}
	for k, p := range v.Properties {
		if _, ok := out.Properties[k]; !ok {
			out.Properties[k] = p
		}
	}
	for _, r := range v.Required {
		if !slices.Contains(out.Required, r) {
			out.Required = append(out.Required, r)
		}
	}
	if out.Format == "" {
		out.Format = v.Format
	}
	if out.Pattern == "" {
		out.Pattern = v.Pattern
	}
	if len(out.Enum) == 0 {
		out.Enum = v.Enum
	}
	if out.Items == nil {
		out.Items = v.Items
	}
	if out.AdditionalProperties.Schema == nil && out.AdditionalProperties.Has == nil {
		out.AdditionalProperties = v.AdditionalProperties
	}
	if out.Discriminator == nil {
		out.Discriminator = v.Discriminator
	}
	if len(out.OneOf) == 0 {
		out.OneOf = v.OneOf
	}
	if len(out.AnyOf) == 0 {
		out.AnyOf = v.AnyOf
	}
	if v.Min != nil && (out.Min == nil || *v.Min > *out.Min) {
		out.Min = v.Min
	}
	if v.Max != nil && (out.Max == nil || *v.Max < *out.Max) {
		out.Max = v.Max
	}
	if out.MultipleOf == nil {
		out.MultipleOf = v.MultipleOf
	}
	out.MinLength = max(out.MinLength, v.MinLength)
	if v.MaxLength != nil && (out.MaxLength == nil || *v.MaxLength < *out.MaxLength) {
		out.MaxLength = v.MaxLength
	}
	out.MinItems = max(out.MinItems, v.MinItems)
	if v.MaxItems != nil && (out.MaxItems == nil || *v.MaxItems < *out.MaxItems) {
		out.MaxItems = v.MaxItems
	}
	out.ReadOnly = out.ReadOnly || v.ReadOnly
	out.WriteOnly = out.WriteOnly || v.WriteOnly
	if out.Const == nil {
		out.Const = v.Const
	}
}

// choice generates one branch of oneOf/anyOf (with the schema's own
// properties merged in) and sets the discriminator to the branch's name.
func (g *generator) choice(s *openapi3.Schema, name, path string) (any, bool) {
	branches := s.OneOf
	if len(branches) == 0 {
		branches = s.AnyOf
	}
	var valid []*openapi3.SchemaRef
	for _, b := range branches {
		if b != nil && b.Value != nil && (b.Value.Always == nil || *b.Value.Always) {
			valid = append(valid, b)
		}
	}
	if len(valid) == 0 {
		return nil, false
	}
	pick := valid[g.rngFor(path+"#choice").IntN(len(valid))]
	base := *s
	base.OneOf, base.AnyOf = nil, nil
	merged := base
	merged.Properties = openapi3.Schemas{}
	for k, v := range s.Properties {
		merged.Properties[k] = v
	}
	merged.Required = slices.Clone(s.Required)
	bv := pick.Value
	if len(bv.AllOf) > 0 {
		bv = mergeAllOf(bv)
	}
	if len(bv.OneOf) > 0 || len(bv.AnyOf) > 0 || (len(s.Properties) == 0 && typeOf(bv) != "object") {
		return g.value(pick, name, path)
	}
	mergeInto(&merged, bv)
	if merged.Type == nil || len(merged.Type.Slice()) == 0 {
		merged.Type = bv.Type
	}
	v, ok := g.value(&openapi3.SchemaRef{Value: &merged}, name, path)
	d := s.Discriminator
	if d == nil {
		d = bv.Discriminator
	}
	if obj, isObj := v.(map[string]any); ok && isObj && d != nil && d.PropertyName != "" {
		if tag := discriminatorValue(d, pick); tag != "" {
			obj[d.PropertyName] = tag
		}
	}
	return v, ok
}

// discriminatorValue is the mapping key that names the branch, else the
// name of the component schema it references.
func discriminatorValue(d *openapi3.Discriminator, pick *openapi3.SchemaRef) string {
	keys := make([]string, 0, len(d.Mapping))
	for k := range d.Mapping {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		m := d.Mapping[k]
		if m.Ref == pick.Ref || (m.Value != nil && m.Value == pick.Value) || (m.Ref != "" && strings.HasSuffix(pick.Ref, "/"+m.Ref)) {
			return k
		}
	}
	if i := strings.LastIndex(pick.Ref, "/"); i >= 0 {
		return pick.Ref[i+1:]
	}
	return ""
}

// object generates an object: required properties always, optional ones
// down to optionalDepth; writeOnly properties left out (this is a
// response).
func (g *generator) object(s *openapi3.Schema, path string) map[string]any {
	out := map[string]any{}
	names := make([]string, 0, len(s.Properties))
	for k := range s.Properties {
		names = append(names, k)
	}
	slices.Sort(names)
	maxProps := -1
	if s.MaxProps != nil {
		maxProps = int(*s.MaxProps)
	}
	required := func(k string) bool { return slices.Contains(s.Required, k) }
	// Required first, so that maxProperties keeps them.
	order := slices.Clone(names)
	slices.SortStableFunc(order, func(a, b string) int {
		ra, rb := required(a), required(b)
		switch {
		case ra && !rb:
			return -1
		case rb && !ra:
			return 1
		}
		return 0
	})
	for _, k := range order {
		p := s.Properties[k]
		req := required(k)
		if p != nil && p.Value != nil && p.Value.WriteOnly {
			continue // responses leave out writeOnly properties, required or not (OpenAPI 3.0 §4.7.25)
		}
		if !req {
			if g.depth > optionalDepth || (maxProps >= 0 && len(out) >= maxProps) {
				continue
			}
			if p != nil && p.Value != nil && g.onStack[p.Value] > 0 {
				continue
			}
		}
		if v, ok := g.value(p, k, joinPath(path, k)); ok {
			out[k] = v
		}
	}
	// Required names without a property schema.
	for _, k := range s.Required {
		if _, ok := s.Properties[k]; ok {
			continue
		}
		if _, ok := out[k]; !ok {
			if ap := s.AdditionalProperties.Schema; ap != nil {
				out[k], _ = g.value(ap, k, joinPath(path, k))
			} else {
				out[k] = g.plainString(g.rngFor(joinPath(path, k)), 1, -1)
			}
		}
	}
	// Maps: additionalProperties with a schema and no fixed properties.
	extra := s.AdditionalProperties.Schema
	allowExtra := s.AdditionalProperties.Has == nil || *s.AdditionalProperties.Has
	want := int(s.MinProps)
	if extra != nil && len(s.Properties) == 0 && g.depth <= optionalDepth {
		want = max(want, 1)
	}
	for i := 1; len(out) < want && i <= want+len(out)+1 && (extra != nil || allowExtra); i++ {
		k := "key" + strconv.Itoa(i)
		if _, taken := out[k]; taken {
			continue
		}
		if extra != nil {
			if v, ok := g.value(extra, k, joinPath(path, k)); ok {
				out[k] = v
			}
		} else {
			out[k] = g.plainString(g.rngFor(joinPath(path, k)), 1, -1)
		}
	}
	return out
}

func joinPath(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

// array generates minItems items, else one or two (none past the depth
// limit for optional nesting).
func (g *generator) array(s *openapi3.Schema, name, path string) []any {
	r := g.rngFor(path + "#len")
	n := int(s.MinItems)
	hi := n + maxArrayDefault
	if s.MaxItems != nil {
		hi = min(hi, int(*s.MaxItems))
	}
	if hi > n && g.depth <= optionalDepth {
		n = max(n, 1) + r.IntN(hi-max(n, 1)+1)
	}
	if s.Items != nil && s.Items.Value != nil && g.onStack[s.Items.Value] > 0 && s.MinItems == 0 {
		n = 0 // a recursive list: stop here
	}
	out := make([]any, 0, n)
	seen := map[string]bool{}
	for i := 0; len(out) < n && i < n+8; i++ {
		v, ok := g.value(s.Items, name, path+"["+strconv.Itoa(i)+"]")
		if !ok {
			break
		}
		if s.UniqueItems {
			b, _ := json.Marshal(v)
			if seen[string(b)] {
				continue
			}
			seen[string(b)] = true
		}
		out = append(out, v)
	}
	return out
}

// scalar generates a string, number, integer or boolean: the namer's
// proposal or the schema's example when they fit, else one made from the
// constraints.
func (g *generator) scalar(s *openapi3.Schema, typ, name, path string) any {
	r := g.rngFor(path)
	if g.namer != nil {
		f := Field{Name: name, Path: path, Type: typ, Format: s.Format, Pattern: s.Pattern,
			MinLength: int(s.MinLength), MaxLength: -1, Minimum: s.Min, Maximum: s.Max,
			Description: s.Description, Title: s.Title}
		if s.MaxLength != nil {
			f.MaxLength = int(*s.MaxLength)
		}
		if v, ok := g.namer.Value(f, g.rngFor(path+"#namer")); ok && fits(s, typ, v) {
			return v
		}
	}
	if !g.dynamic {
		for _, ex := range append([]any{s.Example}, s.Examples...) {
			if ex != nil && fits(s, typ, ex) {
				return ex
			}
		}
	}
	switch typ {
	case "boolean":
		return r.IntN(2) == 1
	case "integer", "number":
		return g.number(s, typ, r)
	}
	return g.str(s, r)
}

// fits reports whether v satisfies the scalar schema s of type typ.
func fits(s *openapi3.Schema, typ string, v any) bool {
	var check any
	switch x := v.(type) {
	case string:
		if typ != "string" {
			return false
		}
		check = x
	case bool:
		if typ != "boolean" {
			return false
		}
		check = x
	case json.Number:
		f, err := x.Float64()
		if err != nil || typ == "string" || typ == "boolean" || (typ == "integer" && f != math.Trunc(f)) {
			return false
		}
		check = f
	case float64:
		if typ == "string" || typ == "boolean" || (typ == "integer" && x != math.Trunc(x)) {
			return false
		}
		check = x
	case int64:
		if typ == "string" || typ == "boolean" {
			return false
		}
		check = float64(x)
	case int:
		if typ == "string" || typ == "boolean" {
			return false
		}
		check = float64(x)
	default:
		return false
	}
	leaf := *s
	leaf.OneOf, leaf.AnyOf, leaf.AllOf, leaf.Not = nil, nil, nil, nil
	return leaf.VisitJSON(check, openapi3.DisableReadOnlyValidation(), openapi3.DisableWriteOnlyValidation()) == nil
}

// number generates a number within the bounds, a multiple of multipleOf.
func (g *generator) number(s *openapi3.Schema, typ string, r *rand.Rand) any {
	lo, hi := math.Inf(-1), math.Inf(1)
	exLo, exHi := false, false
	if s.Min != nil {
		lo = *s.Min
		exLo = s.ExclusiveMin.Bool != nil && *s.ExclusiveMin.Bool
	}
	if s.ExclusiveMin.Value != nil && (math.IsInf(lo, -1) || *s.ExclusiveMin.Value >= lo) {
		lo, exLo = *s.ExclusiveMin.Value, true
	}
	if s.Max != nil {
		hi = *s.Max
		exHi = s.ExclusiveMax.Bool != nil && *s.ExclusiveMax.Bool
	}
	if s.ExclusiveMax.Value != nil && (math.IsInf(hi, 1) || *s.ExclusiveMax.Value <= hi) {
		hi, exHi = *s.ExclusiveMax.Value, true
	}
	switch f := s.Format; {
	case f == "int32" && math.IsInf(hi, 1):
		hi = math.MaxInt32
	case f == "int32" && math.IsInf(lo, -1):
		lo = math.MinInt32
	}
	switch {
	case math.IsInf(lo, -1) && math.IsInf(hi, 1):
		lo, hi = 1, 1000
	case math.IsInf(lo, -1):
		lo = hi - 1000
		if hi > 0 {
			lo = 0
		}
	case math.IsInf(hi, 1):
		hi = lo + 1000
	}
	// A realistic size rather than one near the extremes of int32.
	if hi-lo > 1e6 {
		if lo <= 0 && hi >= 1000 {
			lo, hi = math.Max(lo, 1), math.Min(hi, 1000)
		} else {
			hi = lo + 1000
		}
	}
	if m := s.MultipleOf; m != nil && *m > 0 {
		k0 := math.Ceil(lo / *m)
		k1 := math.Floor(hi / *m)
		if exLo && k0**m <= lo {
			k0++
		}
		if exHi && k1**m >= hi {
			k1--
		}
		k := k0
		if k1 > k0 {
			k += float64(r.Int64N(int64(math.Min(k1-k0, 1e9)) + 1))
		}
		return formatMultiple(k, *m)
	}
	if typ == "integer" {
		a, b := math.Ceil(lo), math.Floor(hi)
		if exLo && a <= lo {
			a++
		}
		if exHi && b >= hi {
			b--
		}
		if b < a {
			return int64(a)
		}
		return int64(a) + r.Int64N(int64(b-a)+1)
	}
	// Two decimals, like an amount.
	a, b := math.Ceil(lo*100), math.Floor(hi*100)
	if exLo && a <= lo*100 {
		a++
	}
	if exHi && b >= hi*100 {
		b--
	}
	if b < a {
		return json.Number(strconv.FormatFloat(lo, 'f', -1, 64))
	}
	c := a + float64(r.Int64N(int64(b-a)+1))
	return json.Number(strconv.FormatFloat(c/100, 'f', 2, 64))
}

// formatMultiple writes k·m with no more decimals than m has.
func formatMultiple(k, m float64) json.Number {
	ms := strconv.FormatFloat(m, 'f', -1, 64)
	dec := 0
	if i := strings.IndexByte(ms, '.'); i >= 0 {
		dec = len(ms) - i - 1
	}
	return json.Number(strconv.FormatFloat(k*m, 'f', dec, 64))
}

// str generates a string for its format, else its pattern, else plain
// text, within its length bounds.
func (g *generator) str(s *openapi3.Schema, r *rand.Rand) string {
	minLen, maxLen := int(s.MinLength), -1
	if s.MaxLength != nil {
		maxLen = int(*s.MaxLength)
	}
	within := func(v string) bool {
		n := utf8.RuneCountInString(v)
		return n >= minLen && (maxLen < 0 || n <= maxLen)
	}
	if s.Pattern != "" {
		if v, ok := patternString(r, s.Pattern, minLen, maxLen); ok {
			return v
		}
	}
	if v, ok := formatString(s.Format, r); ok && within(v) {
		return v
	}
	return g.plainString(r, minLen, maxLen)
}

// formatString returns a value of a well-known string format.
func formatString(format string, r *rand.Rand) (string, bool) {
	day := sampleEpoch.AddDate(0, 0, -r.IntN(365))
	switch strings.ToLower(format) {
	case "date":
		return day.Format(time.DateOnly), true
	case "date-time", "datetime":
		return day.Add(time.Duration(r.IntN(8*3600)) * time.Second).Format(time.RFC3339), true
	case "time":
		return fmt.Sprintf("%02d:%02d:%02d+08:00", 8+r.IntN(10), r.IntN(60), r.IntN(60)), true
	case "duration":
		return fmt.Sprintf("P%dD", 1+r.IntN(30)), true
	case "uuid":
		var b [16]byte
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		b[6] = b[6]&0x0f | 0x40
		b[8] = b[8]&0x3f | 0x80
		return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:]), true
	case "email", "idn-email":
		return fmt.Sprintf("%s%d@example.com", sampleWords[r.IntN(len(sampleWords))], r.IntN(1000)), true
	case "uri", "url", "iri", "uri-reference", "iri-reference":
		return fmt.Sprintf("https://example.com/%s/%d", sampleWords[r.IntN(len(sampleWords))], r.IntN(10000)), true
	case "uri-template":
		return "https://example.com/{id}", true
	case "hostname", "idn-hostname":
		return sampleWords[r.IntN(len(sampleWords))] + ".example.com", true
	case "ipv4":
		return fmt.Sprintf("10.%d.%d.%d", r.IntN(256), r.IntN(256), 1+r.IntN(254)), true
	case "ipv6":
		return fmt.Sprintf("2001:db8::%x:%x", r.IntN(0x10000), 1+r.IntN(0xfffe)), true
	case "byte":
		b := make([]byte, 6+r.IntN(10))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		return base64.StdEncoding.EncodeToString(b), true
	case "binary":
		return "sandbox", true
	case "password":
		return "********", true
	case "json-pointer":
		return "/data/0", true
	case "regex":
		return "^[a-z]+$", true
	}
	return "", false
}

var sampleWords = []string{"alpha", "harvest", "field", "river", "orchard", "market", "village", "meadow", "granary", "tractor"}

// plainString returns words within the length bounds (maxLen < 0: none).
func (g *generator) plainString(r *rand.Rand, minLen, maxLen int) string {
	s := sampleWords[r.IntN(len(sampleWords))]
	for len(s) < minLen {
		s += "-" + sampleWords[r.IntN(len(sampleWords))]
	}
	if maxLen >= 0 && len(s) > maxLen {
		s = s[:maxLen]
	}
	return s
}
