package openapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"golang.org/x/sync/singleflight"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/catalog"
)

// Request validation.
//
// Requests are checked against their operation with kin-openapi's
// openapi3filter: path, query, header and cookie parameters, the content
// type, and the body. Three choices matter for security:
//
//   - Authentication is the gateway's job, and kin-openapi is not an
//     authentication layer. Its AuthenticationFunc here is fail-closed: it
//     reports success only for requests the caller marks as already
//     authenticated by the gateway (Input.Authenticated), and an error for
//     every other request, whatever the security scheme.
//   - Only kin-openapi's default body decoders are used; the zip decoder
//     (a zip bomb risk) is never registered.
//   - Problems name the parameter or body location and what was expected,
//     never the value sent: values may be personal data.

// maxProblems bounds the problems one answer lists.
const maxProblems = 20

// Input is one request to validate.
type Input struct {
	// Request holds the method, URL (its query is validated), headers and
	// body. The body, if any, must be fully buffered (bytes.Reader), and
	// is read.
	Request *http.Request
	// PathParams are the routed path parameters, by name, as sent.
	PathParams map[string]string
	// Authenticated says the gateway verified the caller's credentials and
	// scopes for this operation. Without it every operation that declares
	// security fails validation.
	Authenticated bool
}

// Validator checks requests against one document's operations.
type Validator struct {
	t      *openapi3.T
	routes map[string]*routers.Route // "METHOD path-template"
	// trivial holds the operations that declare no parameters and no
	// request body: there is nothing to check, so the gateway skips them.
	trivial map[string]bool
}

// NewValidator returns the document's request validator.
func (d *Document) NewValidator() *Validator {
	v := &Validator{t: d.t, routes: map[string]*routers.Route{}, trivial: map[string]bool{}}
	if d.t.Paths == nil {
		return v
	}
	for path, item := range d.t.Paths.Map() {
		for method, op := range item.Operations() {
			v.routes[method+" "+path] = &routers.Route{Spec: d.t, Path: path, PathItem: item, Method: method, Operation: op}
			if len(item.Parameters) == 0 && len(op.Parameters) == 0 && op.RequestBody == nil {
				v.trivial[method+" "+path] = true
			}
		}
	}
	return v
}

type authenticatedKey struct{}

// failClosed is the AuthenticationFunc: success only for requests the
// gateway already authenticated.
func failClosed(ctx context.Context, in *openapi3filter.AuthenticationInput) error {
	if in != nil && in.RequestValidationInput != nil && in.RequestValidationInput.Request != nil {
		if ok, _ := in.RequestValidationInput.Request.Context().Value(authenticatedKey{}).(bool); ok {
			return nil
		}
	}
	return errors.New("not authenticated by the gateway")
}

// Validate checks a request against the operation op (catalog.Operation
// of this document). It returns nil, an obhub.EINVALID error whose
// details list each problem, or an obhub.ENOTFOUND error when the
// document has no such operation.
func (v *Validator) Validate(ctx context.Context, op *catalog.Operation, in Input) (err error) {
	route := v.routes[op.Method+" "+op.Path]
	if route == nil {
		return obhub.Errorf(obhub.ENOTFOUND, "operation %s %s not in the document", op.Method, op.Path)
	}
	defer func() {
		if r := recover(); r != nil {
			err = obhub.Invalid("the request does not match the API's description",
				obhub.Detail{Message: "the request could not be validated"})
		}
	}()
	req := in.Request.WithContext(context.WithValue(ctx, authenticatedKey{}, in.Authenticated))
	opts := &openapi3filter.Options{
		MultiError:         true,
		AuthenticationFunc: failClosed,
		// The gateway forwards the request as sent; defaults are not
		// written into it.
		SkipSettingDefaults: true,
	}
	verr := openapi3filter.ValidateRequest(ctx, &openapi3filter.RequestValidationInput{
		Request:    req,
		PathParams: in.PathParams,
		Route:      route,
		Options:    opts,
	})
	if verr == nil {
		return nil
	}
	var ds []obhub.Detail
	ds = appendProblems(ds, route, verr)
	if len(ds) == 0 {
		ds = append(ds, obhub.Detail{Message: "the request does not match the operation"})
	}
	slices.SortStableFunc(ds, func(a, b obhub.Detail) int { return strings.Compare(a.Location, b.Location) })
	ds = slices.Compact(ds)
	if len(ds) > maxProblems {
		ds = append(ds[:maxProblems], obhub.Detail{Message: fmt.Sprintf("and %d more problems", len(ds)-maxProblems)})
	}
	return obhub.Invalid("the request does not match the API's description", ds...)
}

// appendProblems turns kin-openapi's errors into details that never quote
// the request's values.
func appendProblems(ds []obhub.Detail, route *routers.Route, err error) []obhub.Detail {
	if me, ok := err.(openapi3.MultiError); ok {
		for _, e := range me {
			ds = appendProblems(ds, route, e)
		}
		return ds
	}
	var sre *openapi3filter.SecurityRequirementsError
	if errors.As(err, &sre) {
		return append(ds, obhub.Detail{Location: "security", Message: "the operation's security requirements are not met"})
	}
	re, ok := err.(*openapi3filter.RequestError)
	if !ok {
		return append(ds, obhub.Detail{Message: "the request does not match the operation"})
	}
	switch {
	case re.Parameter != nil:
		p := re.Parameter
		return appendValueProblems(ds, p.In+"."+p.Name, schemaOf(p.Schema), re.Err, re.Reason)
	case re.RequestBody != nil:
		if strings.HasPrefix(re.Reason, "header Content-Type has unexpected value") {
			return append(ds, obhub.Detail{Location: "header.Content-Type", Message: "must be one of " + quoteList(contentTypes(re.RequestBody))})
		}
		var sch *openapi3.Schema
		if mt := firstMedia(re.RequestBody); mt != nil {
			sch = schemaOf(mt.Schema)
		}
		return appendValueProblems(ds, "body", sch, re.Err, re.Reason)
	}
	return append(ds, obhub.Detail{Message: "the request does not match the operation"})
}

func appendValueProblems(ds []obhub.Detail, loc string, sch *openapi3.Schema, err error, reason string) []obhub.Detail {
	if me, ok := err.(openapi3.MultiError); ok {
		for _, e := range me {
			ds = appendValueProblems(ds, loc, sch, e, "")
		}
		return ds
	}
	var se *openapi3.SchemaError
	var pe *openapi3filter.ParseError
	switch {
	case errors.Is(err, openapi3filter.ErrInvalidRequired):
		return append(ds, obhub.Detail{Location: loc, Message: "is required"})
	case errors.Is(err, openapi3filter.ErrInvalidEmptyValue):
		return append(ds, obhub.Detail{Location: loc, Message: "must not be empty"})
	case errors.As(err, &se):
		// A value that fails a subschema of allOf (how documents attach a
		// description to a $ref) is reported by the subschema's own
		// errors, whose pointers kin-openapi already made whole.
		var inner openapi3.MultiError
		if se.SchemaField == "allOf" && errors.As(se.Origin, &inner) && len(inner) > 0 {
			for _, e := range inner {
				ds = appendValueProblems(ds, loc, sch, e, "")
			}
			return ds
		}
		l := loc
		if ptr := se.JSONPointer(); len(ptr) > 0 {
			l += "/" + strings.Join(ptr, "/")
		}
		msg := se.Reason
		if msg == "" {
			msg = "does not match the schema"
		}
		return append(ds, obhub.Detail{Location: l, Message: clip(msg)})
	case errors.As(err, &pe):
		if loc == "body" {
			return append(ds, obhub.Detail{Location: loc, Message: "cannot be read as the declared content type (malformed, too deeply nested, or not the declared media type)"})
		}
		want := "a value of the declared type"
		if sch != nil && sch.Type != nil && len(*sch.Type) > 0 {
			want = "of type " + strings.Join(*sch.Type, " or ")
		}
		return append(ds, obhub.Detail{Location: loc, Message: "must be " + want})
	}
	if reason == "" || strings.ContainsAny(reason, `"'`) {
		reason = "is invalid"
	}
	return append(ds, obhub.Detail{Location: loc, Message: clip(reason)})
}

func schemaOf(r *openapi3.SchemaRef) *openapi3.Schema {
	if r == nil {
		return nil
	}
	return r.Value
}

func firstMedia(rb *openapi3.RequestBody) *openapi3.MediaType {
	for _, ct := range contentTypes(rb) {
		return rb.Content[ct]
	}
	return nil
}

func contentTypes(rb *openapi3.RequestBody) []string {
	var cts []string
	for ct := range rb.Content {
		cts = append(cts, ct)
	}
	slices.Sort(cts)
	return cts
}

func quoteList(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = `"` + v + `"`
	}
	return strings.Join(q, ", ")
}

// SpecSource gives the stored canonical document of an API
// (config.Store.APISpec).
type SpecSource interface {
	APISpec(ctx context.Context, apiID string) ([]byte, error)
}

// maxCachedValidators bounds Validators' cache; past it, the cache is
// emptied and rebuilt on demand (documents change rarely).
const maxCachedValidators = 512

// Validators builds each API document's Validator once per digest and
// keeps it: concurrent first requests load the document once.
type Validators struct {
	src   SpecSource
	group singleflight.Group

	mu sync.RWMutex
	m  map[string]*Validator // by catalog.API.SpecDigest
}

// NewValidators returns an empty cache over src. It does no I/O.
func NewValidators(src SpecSource) *Validators {
	return &Validators{src: src, m: map[string]*Validator{}}
}

// Validate checks a request to api's operation op. It answers
// obhub.EINVALID with the problems, or another code when the document
// could not be loaded (the caller decides; it is not the client's fault).
func (vs *Validators) Validate(ctx context.Context, api *catalog.API, op *catalog.Operation, in Input) error {
	v, err := vs.Get(ctx, api)
	if err != nil {
		return err
	}
	return v.Validate(ctx, op, in)
}

// Get returns the validator of api's current document.
func (vs *Validators) Get(ctx context.Context, api *catalog.API) (*Validator, error) {
	key := api.SpecDigest
	vs.mu.RLock()
	v := vs.m[key]
	vs.mu.RUnlock()
	if v != nil {
		return v, nil
	}
	res, err, _ := vs.group.Do(key, func() (any, error) {
		raw, err := vs.src.APISpec(context.WithoutCancel(ctx), api.ID)
		if err != nil {
			return nil, fmt.Errorf("document of API %s: %w", api.ID, err)
		}
		d, err := Load(context.WithoutCancel(ctx), raw)
		if err != nil {
			return nil, err
		}
		v := d.NewValidator()
		vs.mu.Lock()
		if len(vs.m) >= maxCachedValidators {
			vs.m = map[string]*Validator{}
		}
		vs.m[key] = v
		vs.mu.Unlock()
		return v, nil
	})
	if err != nil {
		return nil, obhub.Errorf(obhub.EUNAVAILABLE, "request validation unavailable: %v", err)
	}
	return res.(*Validator), nil
}

// NeedsValidation reports whether requests to api's operation op have
// anything to check: false when the operation declares no parameters and
// no request body (kin-openapi would accept any such request), so the
// caller may skip building the request for Validate.
func (vs *Validators) NeedsValidation(ctx context.Context, api *catalog.API, op *catalog.Operation) (bool, error) {
	v, err := vs.Get(ctx, api)
	if err != nil {
		return false, err
	}
	return !v.trivial[op.Method+" "+op.Path], nil
}

// ValidateRequest is Validate with the input spelled out (the gateway's
// RequestValidator).
func (vs *Validators) ValidateRequest(ctx context.Context, api *catalog.API, op *catalog.Operation, r *http.Request, pathParams map[string]string, authenticated bool) error {
	return vs.Validate(ctx, api, op, Input{Request: r, PathParams: pathParams, Authenticated: authenticated})
}
