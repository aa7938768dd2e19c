package openapi

import (
	"cmp"
	"maps"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// A structural diff of two documents' operations, for an operator who is
// about to replace an API's document: which operations a new version
// adds, removes or changes, and how (parameters, request body, response
// codes, scopes). It compares shapes, not schemas: a property added to a
// response body is not reported.

// Change kinds of an operation.
const (
	OperationAdded   = "added"
	OperationRemoved = "removed"
	OperationChanged = "changed"
)

// Kinds of a Difference within a changed operation.
const (
	ParamAdded       = "param-added"       // Name is "in name", e.g. "query limit"
	ParamRemoved     = "param-removed"     //
	ParamRequired    = "param-required"    // an optional parameter became required
	ParamOptional    = "param-optional"    // a required parameter became optional
	BodyAdded        = "body-added"        // Name is "required" or "optional"
	BodyRemoved      = "body-removed"      //
	BodyRequired     = "body-required"     // an optional body became required
	BodyOptional     = "body-optional"     // a required body became optional
	ResponseAdded    = "response-added"    // Name is the status code or range ("404", "4XX", "default")
	ResponseRemoved  = "response-removed"  //
	ScopesChanged    = "scopes-changed"    // Name is the new scopes, space-separated
	SecurityChanged  = "security-changed"  // Name is "public" or "protected": what the operation now is
	OperationRenamed = "operation-renamed" // Name is the new operationId
)

// Difference is one change within an operation.
type Difference struct {
	Kind string
	Name string
	// Breaking tells whether the change may break an existing client: a
	// removed response or operation, a new required parameter or body, a
	// parameter or body that became required, changed scopes.
	Breaking bool
}

// OperationDiff is what happened to one operation, named by method and
// path template (of the new document when it is in both).
type OperationDiff struct {
	Change      string // OperationAdded, OperationRemoved or OperationChanged
	Method      string
	Path        string
	Differences []Difference // for OperationChanged
}

// Breaking reports whether the operation's change may break a client.
func (o OperationDiff) Breaking() bool {
	if o.Change == OperationRemoved {
		return true
	}
	return slices.ContainsFunc(o.Differences, func(d Difference) bool { return d.Breaking })
}

// Diff lists how the operations of next differ from those of prev (nil:
// every operation is added), sorted by path then method. Operations are
// matched by method and path shape, so renaming a path parameter is not
// a change (clients send the same requests). Unchanged operations are
// left out.
func Diff(prev, next *Document) []OperationDiff {
	before, after := opIndex(prev), opIndex(next)
	var out []OperationDiff
	for k, n := range after {
		p, ok := before[k]
		if !ok {
			out = append(out, OperationDiff{Change: OperationAdded, Method: n.method, Path: n.path})
			continue
		}
		if ds := compareOps(p, n); len(ds) > 0 {
			out = append(out, OperationDiff{Change: OperationChanged, Method: n.method, Path: n.path, Differences: ds})
		}
	}
	for k, p := range before {
		if _, ok := after[k]; !ok {
			out = append(out, OperationDiff{Change: OperationRemoved, Method: p.method, Path: p.path})
		}
	}
	slices.SortFunc(out, func(a, b OperationDiff) int {
		return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.Method, b.Method))
	})
	return out
}

// opShape is what Diff compares of one operation.
type opShape struct {
	method, path string
	id           string
	params       map[string]bool // "in name" → required
	body         *bool           // nil: no body; else whether required
	responses    []string        // sorted codes
	scopes       []string        // sorted
	public       bool
}

func opIndex(d *Document) map[string]opShape {
	m := map[string]opShape{}
	if d == nil || d.t == nil || d.t.Paths == nil {
		return m
	}
	for _, o := range d.Operations {
		item := d.t.Paths.Value(o.Path)
		if item == nil {
			continue
		}
		op := item.GetOperation(o.Method)
		if op == nil {
			continue
		}
		s := opShape{method: o.Method, path: o.Path, id: op.OperationID, params: map[string]bool{},
			scopes: slices.Sorted(slices.Values(o.Scopes)), public: o.Public}
		for _, list := range []openapi3.Parameters{item.Parameters, op.Parameters} {
			for _, ref := range list {
				if ref == nil || ref.Value == nil {
					continue
				}
				p := ref.Value
				if p.In == openapi3.ParameterInPath {
					continue // matched by the path's shape; always required
				}
				s.params[p.In+" "+p.Name] = p.Required
			}
		}
		if op.RequestBody != nil && op.RequestBody.Value != nil {
			req := op.RequestBody.Value.Required
			s.body = &req
		}
		if op.Responses != nil {
			s.responses = slices.Sorted(maps.Keys(op.Responses.Map()))
		}
		m[o.Method+" "+templateShape(o.Path)] = s
	}
	return m
}

func compareOps(p, n opShape) []Difference {
	var ds []Difference
	if p.id != n.id && n.id != "" {
		ds = append(ds, Difference{Kind: OperationRenamed, Name: n.id})
	}
	for _, name := range slices.Sorted(maps.Keys(n.params)) {
		req, had := p.params[name]
		switch {
		case !had:
			ds = append(ds, Difference{Kind: ParamAdded, Name: name, Breaking: n.params[name]})
		case !req && n.params[name]:
			ds = append(ds, Difference{Kind: ParamRequired, Name: name, Breaking: true})
		case req && !n.params[name]:
			ds = append(ds, Difference{Kind: ParamOptional, Name: name})
		}
	}
	for _, name := range slices.Sorted(maps.Keys(p.params)) {
		if _, ok := n.params[name]; !ok {
			ds = append(ds, Difference{Kind: ParamRemoved, Name: name})
		}
	}
	switch {
	case p.body == nil && n.body != nil:
		ds = append(ds, Difference{Kind: BodyAdded, Name: requiredWord(*n.body), Breaking: *n.body})
	case p.body != nil && n.body == nil:
		ds = append(ds, Difference{Kind: BodyRemoved})
	case p.body != nil && !*p.body && *n.body:
		ds = append(ds, Difference{Kind: BodyRequired, Breaking: true})
	case p.body != nil && *p.body && !*n.body:
		ds = append(ds, Difference{Kind: BodyOptional})
	}
	for _, c := range n.responses {
		if !slices.Contains(p.responses, c) {
			ds = append(ds, Difference{Kind: ResponseAdded, Name: c})
		}
	}
	for _, c := range p.responses {
		if !slices.Contains(n.responses, c) {
			ds = append(ds, Difference{Kind: ResponseRemoved, Name: c, Breaking: true})
		}
	}
	if p.public != n.public {
		ds = append(ds, Difference{Kind: SecurityChanged, Name: publicWord(n.public), Breaking: !n.public})
	} else if !slices.Equal(p.scopes, n.scopes) {
		ds = append(ds, Difference{Kind: ScopesChanged, Name: strings.Join(n.scopes, " "), Breaking: true})
	}
	return ds
}

func requiredWord(req bool) string {
	if req {
		return "required"
	}
	return "optional"
}

func publicWord(public bool) string {
	if public {
		return "public"
	}
	return "protected"
}
