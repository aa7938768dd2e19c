package gateway

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/catalog"
	"github.com/obhub/obhub/internal/httpx"
)

// RequestValidator checks a request against the API's OpenAPI operation
// (openapi.Validators). It answers nil, an obhub.EINVALID error whose
// details name each problem without quoting values, or another error when
// it cannot validate (the document could not be loaded). authenticated
// tells it the gateway verified the caller for this operation; the
// validator must not treat security requirements as met otherwise.
type RequestValidator interface {
	// NeedsValidation reports whether the operation declares anything to
	// check (parameters or a request body); when it does not, the
	// gateway skips validation. An error means the document could not be
	// loaded.
	NeedsValidation(ctx context.Context, api *catalog.API, op *catalog.Operation) (bool, error)
	ValidateRequest(ctx context.Context, api *catalog.API, op *catalog.Operation, r *http.Request, pathParams map[string]string, authenticated bool) error
}

// validate checks an authorised request against its operation when the
// API validates requests (the default): a request body is read first,
// within the API's body limit (413 beyond it), and forwarded as read. A
// mismatch is answered 400 with every problem; a validator that cannot
// run is answered 503 (fail closed). It reports whether the request goes
// on.
func (g *Gateway) validate(c *fiber.Ctx, rq *request, t target, m *catalog.Match) bool {
	api := m.API
	if g.cfg.Validator == nil || !api.Validation.Enabled() {
		return true
	}
	needed, err := g.cfg.Validator.NeedsValidation(c.Context(), api, m.Operation)
	if err != nil {
		return g.validationUnavailable(c, rq, api, err)
	}
	if !needed {
		return true
	}
	in := &c.Context().Request
	limit := g.cfg.MaxBody
	if api.MaxBody > 0 {
		limit = api.MaxBody
	}
	if !g.bufferBody(c, rq, in, limit) {
		return false
	}
	body := in.Body()
	r := &http.Request{
		Method:        rq.out.Method,
		URL:           &url.URL{Path: t.rest, RawQuery: rq.out.Query},
		Header:        make(http.Header, in.Header.Len()),
		ContentLength: int64(len(body)),
		Body:          http.NoBody,
		Host:          string(in.Header.Host()),
	}
	if len(body) > 0 {
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	copyHeader(r.Header, &in.Header)
	params := make(map[string]string, m.NumParams())
	for name, v := range m.Params() {
		if u, err := url.PathUnescape(v); err == nil {
			v = u
		}
		params[name] = v
	}
	err = g.cfg.Validator.ValidateRequest(c.Context(), api, m.Operation, r, params, true)
	switch {
	case err == nil:
		return true
	case obhub.ErrorCode(err) == obhub.EINVALID:
		writeProblemDetails(c, rq.out.RequestID, httpx.InvalidRequest, "the request does not match the API's description", obhub.ErrorDetails(err))
		rq.decide(DecisionReject, "invalid_request")
		return false
	}
	return g.validationUnavailable(c, rq, api, err)
}

// copyHeader copies a request's header fields into h for the validator,
// with fewer allocations than Header.Add: the values are cut from one
// string holding them all and share one backing slice, and the names of
// common fields are not copied. fasthttp already gives the names in
// canonical form.
func copyHeader(h http.Header, in *fasthttp.RequestHeader) {
	n := 0
	for _, v := range in.All() {
		n += len(v)
	}
	var b strings.Builder
	b.Grow(n)
	for _, v := range in.All() {
		b.Write(v)
	}
	all := b.String()
	vals := make([]string, 0, in.Len())
	for k, v := range in.All() {
		name, ok := commonHeaders[string(k)] // no allocation for the lookup
		if !ok {
			name = http.CanonicalHeaderKey(string(k))
		}
		val := all[:len(v)]
		all = all[len(v):]
		if prev, ok := h[name]; ok {
			h[name] = append(prev[:len(prev):len(prev)], val)
			continue
		}
		vals = append(vals, val)
		h[name] = vals[len(vals)-1 : len(vals) : len(vals)]
	}
}

// commonHeaders interns the field names most requests carry.
var commonHeaders = func() map[string]string {
	m := map[string]string{}
	for _, n := range []string{"Accept", "Accept-Encoding", "Accept-Language", "Authorization", "Cache-Control",
		"Connection", "Content-Length", "Content-Type", "Cookie", "Dpop", "Host", "Idempotency-Key", "If-None-Match",
		"Origin", "Referer", "Traceparent", "Tracestate", "User-Agent", "X-Forwarded-For", "X-Request-Id"} {
		m[n] = n
	}
	return m
}()

// validationUnavailable answers 503 when the validator cannot run: the
// gateway fails closed rather than forwarding an unchecked request.
func (g *Gateway) validationUnavailable(c *fiber.Ctx, rq *request, api *catalog.API, err error) bool {
	g.log.Error("gateway: request validation failed to run", "request_id", rq.out.RequestID, "api", api.ID, "err", err)
	_ = g.refuse(c, rq, DecisionError, "validation_unavailable", httpx.Unavailable, "the request cannot be validated right now")
	return false
}

// writeProblemDetails writes a problem listing details.
func writeProblemDetails(c *fiber.Ctx, requestID string, k httpx.Kind, detail string, ds []obhub.Detail) {
	resp := &c.Context().Response
	writeProblem(resp, requestID, k, detail)
	p := k.New(detail)
	p.RequestID = requestID
	p.Errors = ds
	resp.SetBodyRaw(httpx.Marshal(p))
}
