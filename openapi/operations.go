package openapi

import (
	"net/http"
	"slices"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/obhub/obhub/catalog"
)

// routedMethods are the methods the gateway routes, in sorted order.
var routedMethods = []string{
	http.MethodDelete, http.MethodGet, http.MethodHead, http.MethodOptions,
	http.MethodPatch, http.MethodPost, http.MethodPut, http.MethodTrace,
}

// operations lists the operations of t sorted by path, then method.
func operations(t *openapi3.T) []catalog.Operation {
	if t.Paths == nil {
		return nil
	}
	paths := t.Paths.Keys()
	slices.Sort(paths)
	var ops []catalog.Operation
	for _, p := range paths {
		item := t.Paths.Value(p)
		if item == nil {
			continue
		}
		for _, m := range routedMethods {
			op := item.GetOperation(m)
			if op == nil {
				continue
			}
			o := catalog.Operation{
				ID:      op.OperationID,
				Method:  m,
				Path:    p,
				Summary: op.Summary,
			}
			if o.ID == "" {
				o.ID = m + " " + p
			}
			o.Scopes, o.Public = scopes(t, op)
			o.CustomerOnly = customerOnly(t, op)
			ops = append(ops, o)
		}
	}
	return ops
}

// scopes returns the union of the OAuth2 and OpenID Connect scopes of the
// operation's security requirements (its own, or else the document's), in
// the order they first appear, and whether it needs no security at all.
func scopes(t *openapi3.T, op *openapi3.Operation) (scopes []string, public bool) {
	reqs := t.Security
	if op.Security != nil {
		reqs = *op.Security
	}
	if len(reqs) == 0 {
		return nil, true
	}
	for _, req := range reqs {
		if len(req) == 0 {
			public = true // {} : anonymous access is one of the alternatives
		}
		names := make([]string, 0, len(req))
		for name := range req {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			if !scoped(t, name) {
				continue
			}
			for _, s := range req[name] {
				if !slices.Contains(scopes, s) {
					scopes = append(scopes, s)
				}
			}
		}
	}
	return scopes, public
}

// customerOnly reports whether every alternative of the operation's
// security requirements (its own, or else the document's) needs a
// customer's consent: it names an oauth2 scheme with an authorizationCode
// flow, and none of its oauth2 schemes has a clientCredentials flow. An
// alternative without such a scheme (none at all, an API key, …) lets the
// app call as itself, as before.
func customerOnly(t *openapi3.T, op *openapi3.Operation) bool {
	reqs := t.Security
	if op.Security != nil {
		reqs = *op.Security
	}
	if len(reqs) == 0 || t.Components == nil {
		return false
	}
	for _, req := range reqs {
		consent := false
		for name := range req {
			ref := t.Components.SecuritySchemes[name]
			if ref == nil || ref.Value == nil || ref.Value.Type != "oauth2" || ref.Value.Flows == nil {
				continue
			}
			if ref.Value.Flows.ClientCredentials != nil {
				return false
			}
			if ref.Value.Flows.AuthorizationCode != nil {
				consent = true
			}
		}
		if !consent {
			return false
		}
	}
	return true
}

// scoped reports whether the named security scheme grants scopes.
func scoped(t *openapi3.T, name string) bool {
	if t.Components == nil {
		return false
	}
	ref := t.Components.SecuritySchemes[name]
	if ref == nil || ref.Value == nil {
		return false
	}
	switch ref.Value.Type {
	case "oauth2", "openIdConnect":
		return true
	}
	return false
}

// serversBasePath returns the base path of the first server of t.
func serversBasePath(t *openapi3.T) string {
	if len(t.Servers) == 0 || t.Servers[0] == nil {
		return ""
	}
	s := t.Servers[0]
	u, problem := expandServerURL(s.URL, func(name string) (string, bool) {
		v, ok := s.Variables[name]
		if !ok || v == nil {
			return "", false
		}
		return v.Default, true
	})
	if problem != "" {
		return ""
	}
	bp, _ := basePathOf(u)
	return bp
}
