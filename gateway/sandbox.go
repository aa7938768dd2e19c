package gateway

import (
	"context"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/obhub/obhub"
	"github.com/obhub/obhub/catalog"
	"github.com/obhub/obhub/internal/httpx"
	"github.com/obhub/obhub/partners"
)

// SandboxResetPath resets the calling sandbox app's stateful data
// (POST, sandbox token). It is exactly this path: an API of a bank named
// "reset" is never at /sandbox/reset itself, only below it.
const SandboxResetPath = "/sandbox/reset"

// Sandbox answers authorised calls on /sandbox/… in place of the bank's
// upstream (package sandbox). Requests and responses are copies: the
// callee may keep them.
type Sandbox interface {
	Respond(ctx context.Context, req SandboxRequest) (SandboxResponse, error)
	// Reset restores the app's sandbox data to the seed.
	Reset(ctx context.Context, clientID string) error
}

// SandboxRequest is one authorised sandbox call.
type SandboxRequest struct {
	API       catalog.API
	Operation catalog.Operation
	// PathParams are the values of the template's path parameters.
	PathParams map[string]string
	Method     string
	// Path is the path below the bank: {basePath}/… as the upstream
	// would see it. Query is the raw query string.
	Path, Query string
	// Header holds the request headers, without Authorization and Cookie.
	Header    http.Header
	Body      []byte
	ClientID  string
	Partner   string
	RequestID string
	// Customer is the token's sub when the token was issued on a
	// customer's behalf (it names the customer's bank, obhub_bank), else
	// "" (client credentials: the app itself).
	Customer string
}

// SandboxResponse is the sandbox's answer.
type SandboxResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

// sandbox answers an authorised sandbox call through Config.Sandbox.
func (g *Gateway) sandbox(c *fiber.Ctx, rq *request, t target, m *catalog.Match, app *partners.App, customer string) error {
	if g.cfg.Sandbox == nil {
		_ = g.refuse(c, rq, DecisionAllow, "sandbox_not_implemented", httpx.NotImplemented, "the sandbox is not enabled on this node")
		deprecationHeaders(&c.Context().Response.Header, m.API)
		return nil
	}
	limit := g.cfg.MaxBody
	if m.API.MaxBody > 0 {
		limit = m.API.MaxBody
	}
	in := &c.Context().Request
	if !g.bufferBody(c, rq, in, limit) {
		return nil
	}
	req := SandboxRequest{
		API:        *m.API,
		Operation:  *m.Operation,
		PathParams: map[string]string{},
		Method:     rq.out.Method,
		Path:       t.rest,
		Query:      rq.out.Query,
		Header:     http.Header{},
		Body:       append([]byte(nil), in.Body()...),
		ClientID:   app.ClientID,
		Partner:    app.Partner,
		RequestID:  rq.out.RequestID,
		Customer:   customer,
	}
	for k, v := range m.Params() {
		req.PathParams[k] = v
	}
	in.Header.VisitAll(func(k, v []byte) {
		name := http.CanonicalHeaderKey(string(k))
		if name == "Authorization" || name == "Cookie" {
			return
		}
		req.Header.Add(name, string(v))
	})
	ctx, cancel := context.WithTimeout(c.Context(), g.cfg.UpstreamTimeout)
	defer cancel()
	resp, err := g.cfg.Sandbox.Respond(ctx, req)
	if err != nil {
		return g.sandboxError(c, rq, err)
	}
	writeSandbox(&c.Context().Response, resp)
	deprecationHeaders(&c.Context().Response.Header, m.API)
	rq.decide(DecisionAllow, "sandbox")
	return nil
}

// sandboxReset answers POST /sandbox/reset: a valid sandbox token of a
// sandbox app resets that app's data.
func (g *Gateway) sandboxReset(c *fiber.Ctx, rq *request) error {
	rq.out.Environment = string(partners.Sandbox)
	if rq.out.Method != fiber.MethodPost {
		_ = g.refuse(c, rq, DecisionReject, "method_not_allowed", httpx.MethodNotAllowed, "use POST")
		c.Context().Response.Header.Set(fiber.HeaderAllow, fiber.MethodPost)
		return nil
	}
	snap := g.snaps.Current()
	if snap == nil || snap.Directory == nil {
		return g.refuse(c, rq, DecisionError, "no_configuration", httpx.Unavailable, "the gateway has not loaded its configuration yet")
	}
	raw, d := bearer(&c.Request().Header, c.Request().URI().QueryString())
	var tok *token
	if d == nil {
		var reason string
		if tok, reason = g.tokens.verify(raw); tok == nil {
			d = refusedToken(reason)
		}
	}
	if d != nil {
		return g.deny(c, rq, d)
	}
	rq.out.ClientID, rq.out.Partner = tok.clientID, tok.partner
	app, ok := snap.Directory.App(tok.clientID)
	switch {
	case !ok || (tok.partner != "" && tok.partner != app.Partner):
		return g.deny(c, rq, invalidToken("unknown_client", detailInvalidToken))
	case tok.env != partners.Sandbox || app.Environment != partners.Sandbox:
		return g.deny(c, rq, &denial{kind: httpx.WrongEnvironment, reason: "wrong_environment",
			detail: "only a sandbox app's token can reset sandbox data"})
	}
	if g.cfg.Sandbox == nil {
		return g.refuse(c, rq, DecisionLocal, "sandbox_not_configured", httpx.NotImplemented, "the sandbox is not enabled on this node")
	}
	ctx, cancel := context.WithTimeout(c.Context(), g.cfg.UpstreamTimeout)
	defer cancel()
	if err := g.cfg.Sandbox.Reset(ctx, app.ClientID); err != nil {
		return g.sandboxError(c, rq, err)
	}
	resp := &c.Context().Response
	resp.SetStatusCode(http.StatusOK)
	resp.Header.SetContentType(fiber.MIMEApplicationJSON)
	resp.Header.Set(fiber.HeaderCacheControl, "no-store")
	resp.SetBodyString(`{"status":"reset","clientId":"` + app.ClientID + `"}`)
	rq.decide(DecisionLocal, "sandbox_reset")
	return nil
}

// sandboxError answers a failed sandbox call. Errors with a client code
// carry their message to the developer.
func (g *Gateway) sandboxError(c *fiber.Ctx, rq *request, err error) error {
	k := httpx.Internal
	switch obhub.ErrorCode(err) {
	case obhub.EINVALID:
		k = httpx.InvalidRequest
	case obhub.ENOTFOUND:
		k = httpx.NotFound
	case obhub.ECONFLICT:
		k = httpx.Conflict
	case obhub.ETIMEOUT:
		k = httpx.UpstreamTimeout
	case obhub.EUNAVAILABLE:
		k = httpx.Unavailable
	}
	if k == httpx.Internal || k == httpx.UpstreamTimeout || k == httpx.Unavailable {
		g.log.Error("gateway: sandbox failed", "request_id", rq.out.RequestID, "api", rq.out.API, "err", err)
		return g.refuse(c, rq, DecisionError, "sandbox_failed", k, "the sandbox could not answer")
	}
	return g.refuse(c, rq, DecisionAllow, "sandbox_refused", k, obhub.ErrorMessage(err))
}

// writeSandbox copies the sandbox's answer into the response.
func writeSandbox(resp *fasthttp.Response, r SandboxResponse) {
	status := r.Status
	if status < 100 || status > 999 {
		status = http.StatusOK
	}
	resp.SetStatusCode(status)
	for k, vs := range r.Header {
		switch strings.ToLower(k) {
		case "content-length", "transfer-encoding", "connection", "x-request-id":
			continue
		}
		for _, v := range vs {
			resp.Header.Add(k, v)
		}
	}
	resp.SetBodyRaw(r.Body)
}
