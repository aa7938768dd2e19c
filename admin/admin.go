// Package admin is the admin API of the hub (CONTRACT section 4): an
// http.Handler for the admin listener that manages banks, APIs and their
// documents, products, partners, apps and subscriptions through a
// config.Store, and the declarative apply that drives it over HTTP.
//
// Every route needs the admin bearer token. Bodies are JSON, decoded
// strictly: unknown and read-only fields are refused, and a 422 answer
// lists every problem with its JSON pointer. Errors are problem+json
// (internal/httpx). Responses never hold secret hashes; a client secret
// appears only in the answers that create an app or rotate its secret.
package admin

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/config"
	"github.com/obhub/obhub/internal/httpx"
)

// Prefix is the path under which every admin route lives.
const Prefix = "/admin/v1"

// DefaultMaxBody is the default largest request body: room for big OpenAPI
// documents.
const DefaultMaxBody = 16 << 20

// Pagination limits.
const (
	defaultLimit = 50
	maxLimit     = 500
)

// Handler serves the admin API. Build it with New.
type Handler struct {
	store   *config.Store
	logger  *slog.Logger
	maxBody int64
	mux     *http.ServeMux
	routes  []route
	openapi []byte // the admin API's own OpenAPI document, as JSON
	// inProcess skips bearer authentication: set only by InProcess, for a
	// Handler that is never mounted on a listener.
	inProcess bool
	audit     *auditLog // the audit and report routes: audit_routes.go
	outbox    Outbox    // GET /outbox: outbox.go
	mailRetry MailRetry // POST /outbox/{seq}/retry: outbox.go
	// regTokens: initial access tokens for client registration
	// (registration_tokens.go).
	regTokens RegistrationTokens
	// kek seals the banks' OIDC client secrets (bank_oidc.go).
	kek []byte
	// bankClientCert: the node can authenticate at banks' providers with
	// a TLS client certificate (bank_oidc.go).
	bankClientCert bool
}

// InProcess makes a Handler that trusts every request, for callers inside
// the same process (the demo seeder applies its declaration through it).
// Never mount such a Handler on a listener.
func InProcess() Option {
	return func(h *Handler) { h.inProcess = true }
}

// Option changes a Handler's defaults.
type Option func(*Handler)

// WithMaxBody sets the largest request body accepted, in bytes.
func WithMaxBody(n int64) Option {
	return func(h *Handler) {
		if n > 0 {
			h.maxBody = n
		}
	}
}

// route is one admin call: a method, a path pattern (net/http syntax, the
// same as the OpenAPI document's paths) and its handler.
type route struct {
	method, path string
	serve        func(w http.ResponseWriter, r *http.Request) error
}

// New returns the admin API over store. It does no I/O.
func New(store *config.Store, logger *slog.Logger, opts ...Option) *Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{store: store, logger: logger, maxBody: DefaultMaxBody, mux: http.NewServeMux()}
	for _, o := range opts {
		o(h)
	}
	doc, err := openAPIJSON()
	if err != nil {
		panic("admin: embedded openapi.yaml: " + err.Error()) // a build defect, caught by the tests
	}
	h.openapi = doc
	h.routes = h.routeTable()
	for _, rt := range h.routes {
		serve := rt.serve
		h.mux.HandleFunc(rt.method+" "+rt.path, func(w http.ResponseWriter, r *http.Request) {
			if err := serve(w, r); err != nil {
				h.fail(w, r, err)
			}
		})
	}
	return h
}

// routeTable lists every admin call. The OpenAPI document describes
// exactly these (TestOpenAPIDescribesEveryRoute).
func (h *Handler) routeTable() []route {
	const p = Prefix
	return []route{
		{"GET", p + "/openapi.json", h.getOpenAPI},

		{"GET", p + "/banks", h.listBanks},
		{"POST", p + "/banks", h.createBank},
		{"GET", p + "/banks/{id}", h.getBank},
		{"PUT", p + "/banks/{id}", h.updateBank},
		{"PATCH", p + "/banks/{id}", h.updateBank},
		{"DELETE", p + "/banks/{id}", h.deleteBank},

		{"GET", p + "/apis", h.listAPIs},
		{"POST", p + "/apis", h.createAPI},
		{"GET", p + "/apis/{id}", h.getAPI},
		{"PUT", p + "/apis/{id}", h.updateAPI},
		{"PATCH", p + "/apis/{id}", h.updateAPI},
		{"DELETE", p + "/apis/{id}", h.deleteAPI},
		{"GET", p + "/apis/{id}/spec", h.getSpec},
		{"POST", p + "/apis/{id}/publish", h.publishAPI},
		{"POST", p + "/apis/{id}/deprecate", h.deprecateAPI},
		{"POST", p + "/apis/{id}/retire", h.retireAPI},

		{"GET", p + "/products", h.listProducts},
		{"POST", p + "/products", h.createProduct},
		{"GET", p + "/products/{id}", h.getProduct},
		{"PUT", p + "/products/{id}", h.updateProduct},
		{"PATCH", p + "/products/{id}", h.updateProduct},
		{"DELETE", p + "/products/{id}", h.deleteProduct},

		{"GET", p + "/partners", h.listPartners},
		{"POST", p + "/partners", h.createPartner},
		{"GET", p + "/partners/{id}", h.getPartner},
		{"PUT", p + "/partners/{id}", h.updatePartner},
		{"PATCH", p + "/partners/{id}", h.updatePartner},
		{"DELETE", p + "/partners/{id}", h.deletePartner},
		{"POST", p + "/partners/{id}/approve", h.approvePartner},
		{"GET", p + "/partners/{id}/apps", h.listPartnerApps},
		{"POST", p + "/partners/{id}/apps", h.createApp},
		{"GET", p + "/partners/{id}/registration-tokens", h.listRegistrationTokens},
		{"POST", p + "/partners/{id}/registration-tokens", h.createRegistrationToken},
		{"GET", p + "/partners/{id}/registration-tokens/{token}", h.getRegistrationToken},
		{"DELETE", p + "/partners/{id}/registration-tokens/{token}", h.deleteRegistrationToken},

		{"GET", p + "/apps", h.listApps},
		{"GET", p + "/apps/{client_id}", h.getApp},
		{"PUT", p + "/apps/{client_id}", h.updateApp},
		{"PATCH", p + "/apps/{client_id}", h.updateApp},
		{"DELETE", p + "/apps/{client_id}", h.deleteApp},
		{"POST", p + "/apps/{client_id}/secret", h.rotateSecret},

		{"GET", p + "/apps/{client_id}/subscriptions", h.listSubscriptions},
		{"POST", p + "/apps/{client_id}/subscriptions", h.subscribe},
		{"GET", p + "/apps/{client_id}/subscriptions/{product}", h.getSubscription},
		{"DELETE", p + "/apps/{client_id}/subscriptions/{product}", h.deleteSubscription},
		{"POST", p + "/apps/{client_id}/subscriptions/{product}/approve", h.approveSubscription},
		{"POST", p + "/apps/{client_id}/subscriptions/{product}/reject", h.rejectSubscription},

		{"GET", p + "/audit", h.listAudit},
		{"GET", p + "/audit/verify", h.verifyAudit},
		{"GET", p + "/reports/usage", h.usageReport},
		{"GET", p + "/reports/partners/{id}/statement", h.partnerStatement},

		{"GET", p + "/outbox", h.listOutbox},
		{"POST", p + "/outbox/{seq}/retry", h.retryMail},
	}
}

// ServeHTTP authenticates the request, then routes it. Unknown paths are
// 404 and known paths with another method 405, both as problems, and
// only after authentication, so that the route table stays private.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ok, err := h.authenticated(r)
	if err != nil { // the token could not be checked: not the caller's fault
		writeProblem(w, r, httpx.FromError(err))
		return
	}
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="obhub-admin"`)
		writeProblem(w, r, httpx.FromError(obhub.Errorf(obhub.EUNAUTHORIZED, "send the admin token as Authorization: Bearer <token>")))
		return
	}
	if _, pattern := h.mux.Handler(r); pattern == "" {
		h.noRoute(w, r)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// maxTokenLen bounds the Authorization header examined.
const maxTokenLen = 512

// authenticated reports whether the request carries the admin token; an
// error when it could not be checked (the store does not answer).
func (h *Handler) authenticated(r *http.Request) (bool, error) {
	if h.inProcess {
		return true, nil
	}
	auth := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || len(token) > maxTokenLen {
		return false, nil
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return false, nil
	}
	return h.store.VerifyAdminToken(r.Context(), token)
}

// noRoute answers a request no route matches: 405 with Allow when the
// path exists with other methods, else 404.
func (h *Handler) noRoute(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, rt := range h.routes {
		probe := r.Clone(r.Context())
		probe.Method = rt.method
		if _, pattern := h.mux.Handler(probe); pattern == rt.method+" "+rt.path {
			allow = append(allow, rt.method)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeProblem(w, r, httpx.FromError(obhub.Errorf(obhub.ENOTALLOWED, "%s is not allowed here; use %s", r.Method, strings.Join(allow, ", "))))
		return
	}
	writeProblem(w, r, httpx.FromError(obhub.Errorf(obhub.ENOTFOUND, "no such admin resource: %s", r.URL.Path)))
}

// fail renders err as a problem. Errors without an application code (bugs,
// unexpected store failures) are logged here, once, and reach the caller
// as a generic 500.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	if pe, ok := err.(*problemError); ok {
		writeProblem(w, r, pe.p)
		return
	}
	p := httpx.FromError(err)
	if p.Status >= 500 {
		h.logger.ErrorContext(r.Context(), "admin request failed", "method", r.Method, "path", r.URL.Path, "status", p.Status, "err", err)
	}
	writeProblem(w, r, p)
}

// writeProblem sends p with the request's id (requestid.Handler, on the
// admin listener), which the client also has in X-Request-Id.
func writeProblem(w http.ResponseWriter, r *http.Request, p *httpx.Problem) {
	if p.RequestID == "" {
		p.RequestID = obhub.RequestID(r.Context())
	}
	httpx.Write(w, p)
}

// writeJSON sends v as JSON with the status.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
	return nil
}

// created answers 201 with the object and its Location.
func created(w http.ResponseWriter, location string, v any) error {
	w.Header().Set("Location", location)
	return writeJSON(w, http.StatusCreated, v)
}

func noContent(w http.ResponseWriter) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// listPage is the answer of every listing.
type listPage[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// listOptions reads ?limit= (default 50, at most 500) and ?cursor= (an
// opaque value from a previous page's next_cursor).
func listOptions(r *http.Request) (config.ListOptions, error) {
	var ps problems
	opt := config.ListOptions{Limit: defaultLimit}
	q := r.URL.Query()
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxLimit {
			ps.add("limit", "must be a whole number from 1 to "+strconv.Itoa(maxLimit))
		}
		opt.Limit = n
	}
	if c := q.Get("cursor"); c != "" {
		after, err := base64.RawURLEncoding.DecodeString(c)
		if err != nil || !cursorID(after) {
			ps.add("cursor", "is not a cursor from a previous page")
		}
		opt.After = string(after)
	}
	return opt, ps.err("invalid query")
}

// cursorID reports whether a decoded cursor can be an object's id, as
// every cursor writePage makes is: printable ASCII without '/'. Anything
// else was not made here, and would list nothing rather than say so.
func cursorID(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c <= ' ' || c > '~' || c == '/' {
			return false
		}
	}
	return true
}

// writePage answers one page of a listing; the cursor names the last item.
func writePage[T any](w http.ResponseWriter, items []T, more bool, id func(*T) string) error {
	p := listPage[T]{Items: items}
	if more && len(items) > 0 {
		p.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(id(&items[len(items)-1])))
	}
	return writeJSON(w, http.StatusOK, p)
}

// list serves a GET of a collection.
func list[T any](w http.ResponseWriter, r *http.Request, fetch func(context.Context, config.ListOptions) ([]T, bool, error), id func(*T) string) error {
	opt, err := listOptions(r)
	if err != nil {
		return err
	}
	items, more, err := fetch(r.Context(), opt)
	if err != nil {
		return err
	}
	return writePage(w, items, more, id)
}

// emptyBody checks the optional body of an action call (publish, approve,
// …): none, or an empty JSON object.
func (h *Handler) emptyBody(w http.ResponseWriter, r *http.Request) error {
	return h.optionalBody(w, r, &struct{}{}, "invalid request body") // secret.go
}

func (h *Handler) getOpenAPI(w http.ResponseWriter, r *http.Request) error {
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(h.openapi)
	return nil
}
