package gateway

import (
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/obhub/obhub/catalog"
	"github.com/obhub/obhub/config"
	"github.com/obhub/obhub/internal/httpx"
	"github.com/obhub/obhub/partners"
	"github.com/obhub/obhub/policies"
)

// maxURILength bounds the request target (path and query). Longer ones are
// answered 414; ones longer than the whole header buffer (readBufferSize)
// cannot be read at all and are answered 431.
const maxURILength = 8 << 10

// Default CORS request headers a browser may send.
var defaultCORSHeaders = "Authorization, Content-Type, DPoP, Idempotency-Key, X-Request-Id"

// Response headers a script may always read on CORS-enabled APIs.
const corsExposed = "X-Request-Id, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Retry-After, DPoP-Nonce, WWW-Authenticate"

// gatewayPolicies is the node's policy state, shared by all requests.
type gatewayPolicies struct {
	limits   *policies.Limiter
	inflight policies.InFlight
	breakers policies.Breakers
}

func newGatewayPolicies(cfg Config) gatewayPolicies {
	l := cfg.Limits
	if l == nil {
		l = policies.NewLimiter(policies.Options{Logger: cfg.Logger})
	}
	return gatewayPolicies{limits: l}
}

// requestPolicies is what the policy steps learnt about one request, for
// the headers decorate adds to the final response.
type requestPolicies struct {
	limit  policies.Decision
	cors   *catalog.CORS
	origin string
	bank   *catalog.BankLimits
	client netip.Addr
}

// uriTooLong answers 414 for a request target over maxURILength.
func (g *Gateway) uriTooLong(c *fiber.Ctx, rq *request) bool {
	if len(c.Context().Request.Header.RequestURI()) <= maxURILength {
		return false
	}
	_ = g.refuse(c, rq, DecisionReject, "uri_too_long", httpx.URITooLong,
		"the request URI is over the limit of "+strconv.Itoa(maxURILength)+" bytes")
	return true
}

// preflight answers a CORS preflight (OPTIONS with Origin and
// Access-Control-Request-Method) before authentication: browsers send no
// credentials with it. It reports whether it answered.
func (g *Gateway) preflight(c *fiber.Ctx, rq *request, snap *config.Snapshot, t target) bool {
	h := &c.Context().Request.Header
	if rq.out.Method != fiber.MethodOptions || len(h.Peek(fiber.HeaderOrigin)) == 0 {
		return false
	}
	want := string(h.Peek(fiber.HeaderAccessControlRequestMethod))
	if want == "" {
		return false
	}
	m, err := snap.Catalog.Route(t.bank, t.rest, want)
	if err != nil || !m.API.Status.Routed() {
		return false // answered as an ordinary OPTIONS request: 404 or 405
	}
	rq.out.API, rq.out.Operation = m.API.ID, m.Operation.ID
	origin := string(h.Peek(fiber.HeaderOrigin))
	allow, ok := m.API.CORS.AllowsOrigin(origin)
	if !ok {
		_ = g.refuse(c, rq, DecisionReject, "cors_origin_refused", httpx.Forbidden, "this origin may not call this API")
		c.Context().Response.Header.Set(fiber.HeaderVary, "Origin")
		return true
	}
	cors := m.API.CORS
	resp := &c.Context().Response
	resp.SetStatusCode(fiber.StatusNoContent)
	resp.Header.Set(fiber.HeaderAccessControlAllowOrigin, allow)
	resp.Header.Set(fiber.HeaderAccessControlAllowMethods, m.Operation.Method)
	hdrs := defaultCORSHeaders
	if len(cors.AllowHeaders) > 0 {
		hdrs = strings.Join(cors.AllowHeaders, ", ")
	}
	resp.Header.Set(fiber.HeaderAccessControlAllowHeaders, hdrs)
	if cors.AllowCredentials {
		resp.Header.Set(fiber.HeaderAccessControlAllowCredentials, "true")
	}
	if cors.MaxAge > 0 {
		resp.Header.Set(fiber.HeaderAccessControlMaxAge, strconv.FormatInt(int64(cors.MaxAge.D()/time.Second), 10))
	}
	resp.Header.Set(fiber.HeaderVary, "Origin")
	rq.decide(DecisionLocal, "cors_preflight")
	return true
}

// admitAPI applies the API's policies that come before authentication:
// it notes the CORS settings for the answer, and refuses a client address
// the API's IP rules exclude (403). It reports whether the request goes on.
func (g *Gateway) admitAPI(c *fiber.Ctx, rq *request, api *catalog.API) bool {
	if api.CORS != nil {
		rq.pol.cors = api.CORS
		rq.pol.origin = string(c.Context().Request.Header.Peek(fiber.HeaderOrigin))
	}
	if api.IPRules.Empty() {
		return true
	}
	rq.pol.client = g.clientIP(c)
	if api.IPRules.Admits(rq.pol.client) {
		return true
	}
	_ = g.refuse(c, rq, DecisionDeny, "ip_refused", httpx.Forbidden, "calls from this address are not allowed for this API")
	return false
}

// enforce applies the policies that need the caller: the app's IP rules,
// the plan of the product that grants the API (rate or operation
// override, then quota), and the bank's rate ceiling. It reports whether
// the request goes on.
func (g *Gateway) enforce(c *fiber.Ctx, rq *request, snap *config.Snapshot, t target, m *catalog.Match, app *partners.App) bool {
	if !app.IPRules.Empty() {
		if !rq.pol.client.IsValid() {
			rq.pol.client = g.clientIP(c)
		}
		if !app.IPRules.Admits(rq.pol.client) {
			_ = g.refuse(c, rq, DecisionDeny, "ip_refused", httpx.Forbidden, "calls from this address are not allowed for this app")
			return false
		}
	}
	ctx := c.Context()
	call := policies.Call{
		ClientID: app.ClientID, Environment: string(t.env), API: m.API.ID,
		Operation: m.Operation.ID, Bank: m.API.Bank,
	}
	if product, ok := snap.Directory.Grant(app.ClientID, m.API.ID); ok {
		call.Product = product
		if p, ok := snap.Catalog.Product(product); ok {
			d := g.pol.limits.Plan(ctx, call, &p.Plan)
			rq.pol.limit = d
			if !d.Allowed {
				detail := "the app's rate limit for this API is exceeded"
				if d.Reason == "quota_exceeded" {
					detail = "the app's quota for this API is used up"
				}
				_ = g.refuse(c, rq, DecisionDeny, d.Reason, httpx.RateLimited, detail)
				retryAfter(&c.Context().Response.Header, d.RetryAfter())
				return false
			}
		}
	}
	if t.env == partners.Production {
		if b, ok := snap.Catalog.Bank(m.API.Bank); ok && b.Limits != nil {
			rq.pol.bank = b.Limits
			if d := g.pol.limits.Bank(ctx, b.ID, b.Limits); !d.Allowed {
				_ = g.refuse(c, rq, DecisionDeny, d.Reason, httpx.Unavailable, "the bank's system is at capacity; try again later")
				retryAfter(&c.Context().Response.Header, d.RetryAfter())
				return false
			}
		}
	}
	return true
}

// gateUpstream admits a call to api's upstream: the bank's ceiling of
// calls in flight and the upstream's circuit breaker, both answered 503
// with Retry-After. When it admits, the call's done must be called with
// the outcome.
func (g *Gateway) gateUpstream(c *fiber.Ctx, rq *request, api *catalog.API) (call upstreamCall, ok bool) {
	call = upstreamCall{breakers: &g.pol.breakers, upstream: api.Upstream}
	if rq.pol.bank != nil {
		call.slot, ok = g.pol.inflight.Acquire(api.Bank, rq.pol.bank.MaxInFlight)
		if !ok {
			_ = g.refuse(c, rq, DecisionAllow, "bank_busy", httpx.Unavailable, "too many calls in progress to the bank's system; try again later")
			retryAfter(&c.Context().Response.Header, 1)
			return upstreamCall{}, false
		}
	}
	if ok, wait := g.pol.breakers.Allow(api.Upstream); !ok {
		call.slot.Release()
		_ = g.refuse(c, rq, DecisionAllow, "circuit_open", httpx.Unavailable, "the bank's system is failing; calls are paused")
		retryAfter(&c.Context().Response.Header, int64(math.Ceil(wait.Seconds())))
		return upstreamCall{}, false
	}
	return call, true
}

// upstreamCall is a call gateUpstream admitted. It is a value, not a
// closure: one is made for every proxied call.
type upstreamCall struct {
	breakers *policies.Breakers
	upstream string
	slot     policies.Slot // the bank's in-flight slot, if it has a ceiling
}

// done gives the bank's slot back and tells the circuit breaker how the
// exchange went.
func (u upstreamCall) done(err error, status int) {
	u.slot.Release()
	failed := err != nil || status == fiber.StatusBadGateway || status == fiber.StatusServiceUnavailable || status == fiber.StatusGatewayTimeout
	u.breakers.Done(u.upstream, failed)
}

func retryAfter(h *fasthttp.ResponseHeader, s int64) {
	h.Set(fiber.HeaderRetryAfter, strconv.FormatInt(max(s, 1), 10))
}

// decorate adds the policy headers to the final response, whatever wrote
// it: the RateLimit fields on limited routes and the CORS fields.
func (g *Gateway) decorate(c *fiber.Ctx, rq *request) {
	h := &c.Context().Response.Header
	if d := rq.pol.limit; d.Limited {
		var buf [20]byte // the header copies the value: no allocation per call
		h.SetBytesV("RateLimit-Limit", strconv.AppendInt(buf[:0], d.Limit, 10))
		h.SetBytesV("RateLimit-Remaining", strconv.AppendInt(buf[:0], d.Remaining, 10))
		h.SetBytesV("RateLimit-Reset", strconv.AppendInt(buf[:0], int64(math.Ceil(d.Reset.Seconds())), 10))
	}
	if cors := rq.pol.cors; cors != nil {
		h.Add(fiber.HeaderVary, "Origin")
		if allow, ok := cors.AllowsOrigin(rq.pol.origin); ok {
			h.Set(fiber.HeaderAccessControlAllowOrigin, allow)
			exposed := corsExposed
			if len(cors.ExposeHeaders) > 0 {
				exposed += ", " + strings.Join(cors.ExposeHeaders, ", ")
			}
			h.Set(fiber.HeaderAccessControlExposeHeaders, exposed)
			if cors.AllowCredentials {
				h.Set(fiber.HeaderAccessControlAllowCredentials, "true")
			}
		}
	}
}
