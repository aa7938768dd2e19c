package catalog

import (
	"cmp"
	"iter"
	"net/http"
	"slices"
	"strings"

	"github.com/obhub/obhub"
)

// Catalog is an immutable snapshot of banks, APIs and products with a
// route table. Build one with New and swap it whole when anything changes;
// it is safe for concurrent use. The pointers it hands out point into the
// snapshot: callers read them and never modify them.
type Catalog struct {
	banks    map[string]*Bank
	apis     map[string]*API
	products map[string]*Product

	bankList    []*Bank
	apiList     []*API
	productList []*Product
	byAPI       map[string][]*Product // API id → products holding it, by id

	routes map[string]*bankRoutes // bank id → its routed APIs
}

// New builds a catalog. Entries are copied; of several with the same id
// the first wins. Only published and deprecated APIs of banks in the
// catalog are routed, and of their operations only those whose template
// the router can use (see Route).
func New(banks []Bank, apis []API, products []Product) *Catalog {
	c := &Catalog{
		banks:    make(map[string]*Bank, len(banks)),
		apis:     make(map[string]*API, len(apis)),
		products: make(map[string]*Product, len(products)),
		byAPI:    map[string][]*Product{},
		routes:   map[string]*bankRoutes{},
	}
	for _, b := range banks {
		if _, dup := c.banks[b.ID]; !dup {
			c.banks[b.ID] = &b
			c.bankList = append(c.bankList, &b)
		}
	}
	for _, a := range apis {
		if _, dup := c.apis[a.ID]; !dup {
			a := cloneAPI(a)
			c.apis[a.ID] = a
			c.apiList = append(c.apiList, a)
		}
	}
	for _, p := range products {
		if _, dup := c.products[p.ID]; !dup {
			p.APIs = slices.Clone(p.APIs)
			c.products[p.ID] = &p
			c.productList = append(c.productList, &p)
		}
	}
	slices.SortFunc(c.bankList, func(a, b *Bank) int { return cmp.Compare(a.ID, b.ID) })
	slices.SortFunc(c.apiList, func(a, b *API) int { return cmp.Compare(a.ID, b.ID) })
	slices.SortFunc(c.productList, func(a, b *Product) int { return cmp.Compare(a.ID, b.ID) })
	for _, p := range c.productList {
		for _, id := range p.APIs {
			if ps := c.byAPI[id]; len(ps) == 0 || ps[len(ps)-1] != p {
				c.byAPI[id] = append(ps, p)
			}
		}
	}
	for _, a := range c.apiList { // in id order, so that conflicts resolve the same way every time
		if !a.Status.Routed() || c.banks[a.Bank] == nil {
			continue
		}
		br := c.routes[a.Bank]
		if br == nil {
			br = &bankRoutes{mounts: map[string]*node{}}
			c.routes[a.Bank] = br
		}
		base := normalizeBasePath(a.BasePath)
		root := br.mounts[base]
		if root == nil {
			root = &node{}
			br.mounts[base] = root
		}
		for i := range a.Operations {
			root.add(a, &a.Operations[i])
		}
	}
	for _, br := range c.routes {
		for _, root := range br.mounts {
			root.finish()
		}
	}
	return c
}

func cloneAPI(a API) *API {
	a.Operations = slices.Clone(a.Operations)
	for i := range a.Operations {
		a.Operations[i].Scopes = slices.Clone(a.Operations[i].Scopes)
	}
	return &a
}

// normalizeBasePath returns "" or "/a/b": a leading slash, no trailing one.
func normalizeBasePath(p string) string {
	p = strings.TrimRight(p, "/")
	if p != "" && p[0] != '/' {
		p = "/" + p
	}
	return p
}

// Bank returns the bank with the id.
func (c *Catalog) Bank(id string) (*Bank, bool) { b, ok := c.banks[id]; return b, ok }

// API returns the API with the id.
func (c *Catalog) API(id string) (*API, bool) { a, ok := c.apis[id]; return a, ok }

// Product returns the product with the id.
func (c *Catalog) Product(id string) (*Product, bool) { p, ok := c.products[id]; return p, ok }

// Banks returns every bank, sorted by id.
func (c *Catalog) Banks() []*Bank { return slices.Clone(c.bankList) }

// APIs returns every API, whatever its status, sorted by id.
func (c *Catalog) APIs() []*API { return slices.Clone(c.apiList) }

// Products returns every product, sorted by id.
func (c *Catalog) Products() []*Product { return slices.Clone(c.productList) }

// ProductsWithAPI returns the products that hold the API, sorted by id.
func (c *Catalog) ProductsWithAPI(apiID string) []*Product { return slices.Clone(c.byAPI[apiID]) }

// MethodNotAllowedError is returned by Route when the path matches an
// operation but not with the request's method. Its code is
// obhub.ENOTALLOWED: errors.As finds an *obhub.Error in it, so
// obhub.ErrorCode and obhub.ErrorMessage work on it as on any other.
type MethodNotAllowedError struct {
	// Allow lists the methods the path accepts, sorted, for the Allow
	// header. HEAD is included wherever GET is.
	Allow []string

	err obhub.Error
}

func (e *MethodNotAllowedError) Error() string { return e.err.Error() }

// As lets errors.As find the *obhub.Error inside.
func (e *MethodNotAllowedError) As(target any) bool {
	if t, ok := target.(**obhub.Error); ok {
		*t = &e.err
		return true
	}
	return false
}

// AllowedMethods returns Allow: an HTTP layer can set the Allow header
// through this method without importing the catalog.
func (e *MethodNotAllowedError) AllowedMethods() []string { return e.Allow }

// Match is what Route found: the API, the operation and the values of
// the template's path parameters.
type Match struct {
	API       *API
	Operation *Operation

	names  []string // of the operation's template, in order
	values [inlineParams]string
	more   []string // values past inlineParams
	n      int
}

// inlineParams is how many parameter values a Match holds without
// allocating.
const inlineParams = 8

// NumParams returns the number of path parameters.
func (m *Match) NumParams() int { return len(m.names) }

// Param returns the value of the named path parameter.
func (m *Match) Param(name string) (string, bool) {
	for i, n := range m.names {
		if n == name {
			return m.value(i), true
		}
	}
	return "", false
}

// Params yields each path parameter's name and value in template order.
func (m *Match) Params() iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for i, n := range m.names {
			if !yield(n, m.value(i)) {
				return
			}
		}
	}
}

func (m *Match) value(i int) string {
	if i < inlineParams {
		return m.values[i]
	}
	return m.more[i-inlineParams]
}

func (m *Match) push(v string) {
	if m.n < inlineParams {
		m.values[m.n] = v
	} else {
		m.more = append(m.more[:m.n-inlineParams], v)
	}
	m.n++
}

// Route finds the operation that serves a request to bank's API path.
//
// path is the request path after "/{bank}", already normalised (no "..",
// no "//"); it is matched case-sensitively on raw segments. Route picks
// the routed (published or deprecated) API of the bank whose base path is
// the longest segment-boundary prefix of path, then the operation whose
// template matches the rest: literal segments before parameters, and a
// parameter matches one non-empty segment or, inside a segment such as
// "{name}.{ext}", the shortest text that lets the rest match. When no
// template of that API matches, APIs with shorter base paths are tried.
//
// HEAD is served by GET when HEAD is not declared. A path that matches a
// template but not with the method yields a *MethodNotAllowedError
// (obhub.ENOTALLOWED); anything else that does not match is
// obhub.ENOTFOUND, as is any request to a nil catalog.
func (c *Catalog) Route(bank, path, method string) (Match, error) {
	var m Match
	if c == nil {
		return m, errNoRoute()
	}
	br := c.routes[bank]
	if br == nil {
		return m, errNoRoute()
	}
	if path == "" {
		path = "/"
	}
	if path[0] != '/' {
		return m, errNoRoute()
	}
	// Try the base paths that are prefixes of path, longest first.
	prefix := path
	for {
		if root := br.mounts[prefix]; root != nil {
			rest := path[len(prefix):]
			if rest == "" {
				rest = "/"
			}
			m.n = 0
			if n := root.match(rest[1:], &m); n != nil {
				r := n.route(method)
				if r == nil {
					return Match{}, &MethodNotAllowedError{
						Allow: slices.Clone(n.allow),
						err:   obhub.Error{Code: obhub.ENOTALLOWED, Message: "method not allowed on this path"},
					}
				}
				m.API, m.Operation, m.names = r.api, r.op, r.names
				return m, nil
			}
		}
		if prefix == "" {
			return Match{}, errNoRoute()
		}
		prefix = prefix[:strings.LastIndexByte(prefix, '/')]
	}
}

// bankRoutes holds a bank's routed APIs by base path.
type bankRoutes struct {
	mounts map[string]*node // normalised base path → root of its segment tree
}

// node is one segment position of the segment tree. A request path is
// split on '/' and walked down: literal children first, then parameter
// edges, backtracking when a branch fails further down.
type node struct {
	literal map[string]*node
	params  []*paramEdge // most specific first
	routes  []route      // operations whose template ends here
	allow   []string     // sorted methods for the Allow header
}

// route is one operation on a template.
type route struct {
	method string
	api    *API
	op     *Operation
	names  []string
}

// paramEdge leads to the next node through a segment holding parameters.
type paramEdge struct {
	shape string // the segment with parameter names erased: "{}", "{}.{}", "v{}"
	parts []part
	next  *node
}

// part is a literal run or a parameter of a segment template.
type part struct {
	lit   string
	param bool
}

// maxSteps bounds the backtracking within one segment: templates with
// several parameters in a segment could otherwise take exponential time
// on a crafted path.
const maxSteps = 256

func (n *node) add(a *API, op *Operation) {
	if !strings.HasPrefix(op.Path, "/") {
		return
	}
	var names []string
	cur := n
	for seg := range strings.SplitSeq(op.Path[1:], "/") {
		if !strings.ContainsAny(seg, "{}") {
			if cur.literal == nil {
				cur.literal = map[string]*node{}
			}
			next := cur.literal[seg]
			if next == nil {
				next = &node{}
				cur.literal[seg] = next
			}
			cur = next
			continue
		}
		parts, segNames, ok := parseSegment(seg)
		if !ok || slices.ContainsFunc(segNames, func(n string) bool { return slices.Contains(names, n) }) {
			return // a template the router cannot use: not routed
		}
		names = append(names, segNames...)
		shape := segmentShape(parts)
		var edge *paramEdge
		for _, e := range cur.params {
			if e.shape == shape {
				edge = e
				break
			}
		}
		if edge == nil {
			edge = &paramEdge{shape: shape, parts: parts, next: &node{}}
			cur.params = append(cur.params, edge)
		}
		cur = edge.next
	}
	for _, r := range cur.routes {
		if r.method == op.Method {
			return // the first API (by id) or operation wins
		}
	}
	cur.routes = append(cur.routes, route{method: op.Method, api: a, op: op, names: names})
}

// parseSegment splits a segment template into literal runs and
// parameters. Adjacent parameters, unbalanced braces and repeated names
// are refused.
func parseSegment(seg string) ([]part, []string, bool) {
	var parts []part
	var names []string
	rest := seg
	for rest != "" {
		open := strings.IndexByte(rest, '{')
		close := strings.IndexByte(rest, '}')
		switch {
		case open < 0 && close < 0:
			parts = append(parts, part{lit: rest})
			rest = ""
			continue
		case open < 0 || close < open:
			return nil, nil, false
		}
		if open > 0 {
			parts = append(parts, part{lit: rest[:open]})
		} else if len(parts) > 0 && parts[len(parts)-1].param {
			return nil, nil, false
		}
		name := rest[open+1 : close]
		if name == "" || strings.IndexByte(name, '{') >= 0 || slices.Contains(names, name) {
			return nil, nil, false
		}
		parts = append(parts, part{param: true})
		names = append(names, name)
		rest = rest[close+1:]
	}
	return parts, names, true
}

func segmentShape(parts []part) string {
	var b strings.Builder
	for _, p := range parts {
		if p.param {
			b.WriteString("{}")
		} else {
			b.WriteString(p.lit)
		}
	}
	return b.String()
}

// finish orders parameter edges (most literal text first, then by shape)
// and computes the Allow lists, for the whole subtree.
func (n *node) finish() {
	slices.SortFunc(n.params, func(a, b *paramEdge) int {
		return cmp.Or(cmp.Compare(litLen(b.parts), litLen(a.parts)), cmp.Compare(a.shape, b.shape))
	})
	if len(n.routes) > 0 {
		for _, r := range n.routes {
			n.allow = append(n.allow, r.method)
			if r.method == http.MethodGet && !slices.ContainsFunc(n.routes, func(r route) bool { return r.method == http.MethodHead }) {
				n.allow = append(n.allow, http.MethodHead)
			}
		}
		slices.Sort(n.allow)
	}
	for _, child := range n.literal {
		child.finish()
	}
	for _, e := range n.params {
		e.next.finish()
	}
}

func litLen(parts []part) int {
	n := 0
	for _, p := range parts {
		n += len(p.lit)
	}
	return n
}

// route returns the route for method, HEAD falling back to GET.
func (n *node) route(method string) *route {
	for i := range n.routes {
		if n.routes[i].method == method {
			return &n.routes[i]
		}
	}
	if method == http.MethodHead {
		return n.route(http.MethodGet)
	}
	return nil
}

// match walks rest (a path relative to n, without its leading '/') and
// returns the node of the template it matches, collecting parameter
// values in m. Only nodes where a template ends count as matches.
func (n *node) match(rest string, m *Match) *node {
	seg, tail, last := rest, "", true
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		seg, tail, last = rest[:i], rest[i+1:], false
	}
	if child := n.literal[seg]; child != nil {
		if last {
			if len(child.routes) > 0 {
				return child
			}
		} else if found := child.match(tail, m); found != nil {
			return found
		}
	}
	if seg == "" {
		return nil // parameters match non-empty segments only
	}
	mark := m.n
	for _, e := range n.params {
		steps := 0
		if !matchParts(e.parts, seg, m, &steps) {
			m.n = mark
			continue
		}
		if last {
			if len(e.next.routes) > 0 {
				return e.next
			}
		} else if found := e.next.match(tail, m); found != nil {
			return found
		}
		m.n = mark
	}
	return nil
}

// matchParts matches one segment against its template parts. A parameter
// takes the shortest non-empty text after which the remaining parts match.
func matchParts(parts []part, s string, m *Match, steps *int) bool {
	*steps++
	if *steps > maxSteps {
		return false
	}
	if len(parts) == 0 {
		return s == ""
	}
	p := parts[0]
	if !p.param {
		return strings.HasPrefix(s, p.lit) && matchParts(parts[1:], s[len(p.lit):], m, steps)
	}
	if s == "" {
		return false
	}
	if len(parts) == 1 {
		m.push(s)
		return true
	}
	// The next part is a literal (parseSegment refuses adjacent parameters).
	lit := parts[1].lit
	mark := m.n
	for i := 1; i < len(s); {
		j := strings.Index(s[i:], lit)
		if j < 0 {
			return false
		}
		i += j
		m.push(s[:i])
		if matchParts(parts[1:], s[i:], m, steps) {
			return true
		}
		m.n = mark
		i++
	}
	return false
}

func errNoRoute() error {
	return &obhub.Error{Code: obhub.ENOTFOUND, Message: "no API at this path"}
}
