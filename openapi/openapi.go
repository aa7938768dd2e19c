// Package openapi reads the OpenAPI documents that member banks publish:
// OpenAPI 3.0 and 3.1, and Swagger 2.0 (converted to OpenAPI 3.0), as JSON
// or YAML. It is the only package of the hub that imports kin-openapi;
// others see a Document and the catalog operations it yields, never a
// kin-openapi type.
//
// Import is exhaustive: an invalid document yields one
// obhub.EINVALID error listing every problem found, each with a location
// such as "paths./accounts.get.responses" (keys joined by dots, array
// indexes in brackets) and a message that names at most short identifiers
// of the document, never its values. Problems the hub can work around
// (examples that contradict their schema, patterns Go cannot compile,
// unroutable path keys…) are warnings instead: the import succeeds and
// Document.Warnings lists them. Rules beyond kin-openapi's:
//
//   - References to other documents are refused, never fetched: a
//     document is imported from its bytes alone.
//   - Every operation declares at least one response, in OpenAPI 3.1 too:
//     the sandbox answers from them.
//   - Path templates are well formed: they start with '/', have no empty,
//     '.' or '..' segments, and declare exactly the path parameters they
//     use. Path keys the router cannot use ('?' or '#', two parameters
//     side by side, the same requests as another path) are skipped with
//     a warning (warnings.go).
//   - The first server URL (or Swagger's basePath) gives a clean base
//     path; server variables need defaults.
//   - In YAML, duplicate keys are findings, and openapi, swagger and
//     info.version are read as written (version: 1.0 is "1.0").
//
// Versions kin-openapi does not know (3.0.5, 3.1.3, 3.2) are refused
// rather than validated by the wrong rules.
package openapi

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"sync"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/catalog"
)

// Document is an imported OpenAPI document.
type Document struct {
	Title   string // info.title
	Version string // info.version
	// BasePath is the path of the first server URL (with its variables
	// set to their defaults) or, for Swagger 2.0, basePath: "" for none or
	// "/", otherwise a leading slash and no trailing slash.
	BasePath string
	// Operations are sorted by path, then method.
	Operations []catalog.Operation
	// Tags are the document's tag names: its tags list in order, then
	// the operations' tags not listed there, in operation order.
	Tags []string
	// JSON is the document as compact OpenAPI 3.x JSON with sorted keys
	// (Swagger 2.0 converted, skipped paths left out), to store and to
	// Load again.
	JSON []byte
	// Warnings are the problems Import worked around (see warnings.go),
	// sorted by location; nil from Load.
	Warnings []obhub.Detail

	// t is the parsed document with its references resolved, kept for
	// request validation and sandbox responses. It never leaves the package.
	t *openapi3.T
}

// Import reads an OpenAPI 3.0.x, 3.1.x or Swagger 2.0 document, as JSON or
// YAML, and validates it. An invalid document yields an obhub.EINVALID
// error whose details list every problem found.
func Import(ctx context.Context, data []byte) (*Document, error) {
	root, err := parseTree(data)
	if err != nil {
		return nil, err
	}
	v, err := detectVersion(root)
	if err != nil {
		return nil, err
	}
	c := check(root.(map[string]any), v)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !c.refsOK {
		// kin-openapi would stop at the first bad reference.
		return nil, invalid(c.ds)
	}
	c.dropSkipped()
	src, err := encodeTree(root)
	if err != nil {
		return nil, err
	}
	root, c.root = nil, nil // let the collector have the tree

	// The validation copy and the model are two parses of the same JSON;
	// for OpenAPI 3 they run side by side.
	var (
		wg         sync.WaitGroup
		verr, vint error
	)
	if v != v20 {
		wg.Go(func() { verr, vint = validate(ctx, src) })
	}
	t, basePath, lerr := load(ctx, src, v)
	canonical := src
	if lerr == nil && v == v20 {
		canonical, err = marshal(t)
	}
	wg.Wait()
	if lerr != nil {
		if len(c.ds) == 0 {
			c.ds = append(c.ds, obhub.Detail{Message: clip("the document cannot be read: " + lerr.Error())})
		}
		return nil, invalid(c.ds)
	}
	if err != nil {
		return nil, err
	}
	if v == v20 {
		verr, vint = validate(ctx, canonical)
	}
	if vint != nil {
		return nil, vint
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	errs, warns := validationDetails(verr)
	if ds := append(c.ds, errs...); len(ds) > 0 {
		return nil, invalid(ds)
	}
	d := newDocument(t, basePath, canonical)
	d.Warnings = sortDetails(append(c.ws, warns...))
	return d, nil
}

// Load reads a document that Import produced (Document.JSON) without
// validating it again.
func Load(ctx context.Context, canonical []byte) (*Document, error) {
	t, err := loadV3(ctx, canonical)
	if err != nil {
		return nil, fmt.Errorf("load stored OpenAPI document: %w", err)
	}
	return newDocument(t, serversBasePath(t), canonical), nil
}

func newDocument(t *openapi3.T, basePath string, canonical []byte) *Document {
	d := &Document{BasePath: basePath, JSON: canonical, t: t}
	if t.Info != nil {
		d.Title, d.Version = t.Info.Title, t.Info.Version
	}
	dropUncompilablePatterns(t)
	d.Operations = operations(t)
	d.Tags = tagNames(t, d.Operations)
	return d
}

// tagNames lists the document's tag names without repeats (Document.Tags).
func tagNames(t *openapi3.T, ops []catalog.Operation) []string {
	var names []string
	seen := map[string]bool{}
	add := func(n string) {
		if n != "" && !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	for _, tag := range t.Tags {
		if tag != nil {
			add(tag.Name)
		}
	}
	for _, op := range ops {
		if item := t.Paths.Value(op.Path); item != nil {
			if x := item.GetOperation(op.Method); x != nil {
				for _, n := range x.Tags {
					add(n)
				}
			}
		}
	}
	return names
}

func invalid(ds []obhub.Detail) error {
	return obhub.Invalid("invalid OpenAPI document", compactDetails(ds)...)
}

func compactDetails(ds []obhub.Detail) []obhub.Detail {
	slices.SortFunc(ds, func(a, b obhub.Detail) int {
		return cmp.Or(cmp.Compare(a.Location, b.Location), cmp.Compare(a.Message, b.Message))
	})
	return slices.CompactFunc(ds, func(a, b obhub.Detail) bool { return a == b })
}

func newLoader(ctx context.Context) *openapi3.Loader {
	l := openapi3.NewLoader()
	l.Context = ctx
	l.IsExternalRefsAllowed = false
	return l
}

// load parses src (JSON) into a resolved OpenAPI 3 model, converting
// Swagger 2.0, and returns the document's base path.
func load(ctx context.Context, src []byte, v version) (t *openapi3.T, basePath string, err error) {
	defer recoverAs(&err)
	if v != v20 {
		t, err = loadV3(ctx, src)
		if err != nil {
			return nil, "", err
		}
		return t, serversBasePath(t), nil
	}
	var t2 openapi2.T
	if err := json.Unmarshal(src, &t2); err != nil {
		return nil, "", err
	}
	t, err = openapi2conv.ToV3WithLoader(&t2, newLoader(ctx), nil)
	if err != nil {
		return nil, "", err
	}
	if t2.BasePath != "" {
		basePath, _ = basePathOf(&url.URL{Path: t2.BasePath})
	}
	return t, basePath, nil
}

func loadV3(ctx context.Context, src []byte) (*openapi3.T, error) {
	t := &openapi3.T{}
	if err := json.Unmarshal(src, t); err != nil {
		return nil, err
	}
	if err := newLoader(ctx).ResolveRefsIn(t, nil); err != nil {
		return nil, err
	}
	return t, nil
}

func marshal(t *openapi3.T) (b []byte, err error) {
	defer recoverAs(&err)
	b, err = json.Marshal(t)
	if err != nil {
		return nil, fmt.Errorf("marshal OpenAPI document: %w", err)
	}
	return b, nil
}

// recoverAs turns a panic inside kin-openapi into a finding: a document
// that trips the library is still just an invalid document.
func recoverAs(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("the validator failed on this document")
	}
}

// stubPrefix names the real component schemas while references resolve to
// stubs (see validate). It cannot clash with a component name, which
// kin-openapi restricts to [a-zA-Z0-9._-].
const stubPrefix = "\x00real:"

// validate runs kin-openapi's validation on the OpenAPI 3 JSON src and
// returns its findings (verr), or an error if it could not run.
//
// kin-openapi validates a schema by walking every schema it references, and
// starts afresh at every place a schema is used, so a document whose
// schemas reference each other deeply costs quadratic time (seconds for a
// few megabytes). validate therefore checks a copy of the document in
// which every reference to a component schema resolves to an empty stub:
// each schema is validated once, where it is defined. What this gives up
// is checking examples and defaults against the parts of their schema that
// are references: import does not reject a document for an example that
// disagrees with a referenced schema.
//
// A document with schema references that do not name a component schema
// (into a property, say) is validated as it is, the slow way.
func validate(ctx context.Context, src []byte) (verr, err error) {
	defer recoverAs(&verr)
	opts := []openapi3.ValidationOption{openapi3.EnableMultiError()}
	vt := &openapi3.T{}
	if err := json.Unmarshal(src, vt); err != nil {
		return err, nil // load reports it
	}
	if vt.Components != nil && len(vt.Components.Schemas) > 0 {
		real := vt.Components.Schemas
		tmp := make(openapi3.Schemas, 2*len(real))
		for name, s := range real {
			tmp[name] = &openapi3.SchemaRef{Value: &openapi3.Schema{}}
			tmp[stubPrefix+name] = s
		}
		vt.Components.Schemas = tmp
		if err := newLoader(ctx).ResolveRefsIn(vt, nil); err == nil {
			vt.Components.Schemas = real
			return vt.Validate(ctx, opts...), nil
		}
		vt = &openapi3.T{}
		if err := json.Unmarshal(src, vt); err != nil {
			return err, nil
		}
	}
	if err := newLoader(ctx).ResolveRefsIn(vt, nil); err != nil {
		return err, nil // load reports it
	}
	return vt.Validate(ctx, opts...), nil
}
